/* The error table: every error renders with the status and code the spec documents. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "oscred/err.h"

static void test_err_rest_mapping(void **state)
{
    (void)state;
    assert_int_equal(osc_err_rest_status(OSC_E_INVALID), 400);
    assert_string_equal(osc_err_rest_code(OSC_E_INVALID), "IAM.0007");
    assert_int_equal(osc_err_rest_status(OSC_E_BAD_BODY), 400);
    assert_string_equal(osc_err_rest_code(OSC_E_BAD_BODY), "IAM.0011");
    assert_int_equal(osc_err_rest_status(OSC_E_UNAUTHENTICATED), 401);
    assert_string_equal(osc_err_rest_code(OSC_E_UNAUTHENTICATED), "IAM.0001");
    assert_int_equal(osc_err_rest_status(OSC_E_BAD_SIGNATURE), 401);
    assert_string_equal(osc_err_rest_code(OSC_E_BAD_SIGNATURE), "APIGW.0301");
    assert_int_equal(osc_err_rest_status(OSC_E_FORBIDDEN), 403);
    assert_string_equal(osc_err_rest_code(OSC_E_FORBIDDEN), "IAM.0002");
    assert_int_equal(osc_err_rest_status(OSC_E_NOT_FOUND), 404);
    assert_string_equal(osc_err_rest_code(OSC_E_NOT_FOUND), "IAM.0004");
    assert_int_equal(osc_err_rest_status(OSC_E_METHOD), 405);
    assert_int_equal(osc_err_rest_status(OSC_E_KEY_LIMIT), 400);
    assert_string_equal(osc_err_rest_code(OSC_E_KEY_LIMIT), "akSkNumExceed");
    assert_int_equal(osc_err_rest_status(OSC_E_TOO_LARGE), 413);
    assert_string_equal(osc_err_rest_code(OSC_E_TOO_LARGE), "IAM.0011");
    assert_int_equal(osc_err_rest_status(OSC_E_UNAVAILABLE), 503);
    assert_string_equal(osc_err_rest_code(OSC_E_UNAVAILABLE), "IAM.0006");
    assert_int_equal(osc_err_rest_status(OSC_E_INTERNAL), 500);
    assert_string_equal(osc_err_rest_code(OSC_E_INTERNAL), "IAM.0006");
}

static void test_err_aws_mapping(void **state)
{
    (void)state;
    assert_int_equal(osc_err_aws_status(OSC_E_NOT_FOUND), 404);
    assert_string_equal(osc_err_aws_code(OSC_E_NOT_FOUND), "NoSuchEntity");
    assert_int_equal(osc_err_aws_status(OSC_E_KEY_LIMIT), 409);
    assert_string_equal(osc_err_aws_code(OSC_E_KEY_LIMIT), "LimitExceeded");
    assert_int_equal(osc_err_aws_status(OSC_E_CONFLICT), 409);
    assert_string_equal(osc_err_aws_code(OSC_E_CONFLICT), "EntityAlreadyExists");
    assert_string_equal(osc_err_aws_code(OSC_E_DELETE_CONFLICT), "DeleteConflict");
    assert_int_equal(osc_err_aws_status(OSC_E_UNAUTHENTICATED), 403);
    assert_string_equal(osc_err_aws_code(OSC_E_UNAUTHENTICATED), "InvalidClientTokenId");
    assert_string_equal(osc_err_aws_code(OSC_E_BAD_SIGNATURE), "SignatureDoesNotMatch");
    assert_string_equal(osc_err_aws_code(OSC_E_FORBIDDEN), "AccessDenied");
    assert_int_equal(osc_err_aws_status(OSC_E_INTERNAL), 500);
    assert_string_equal(osc_err_aws_code(OSC_E_INTERNAL), "ServiceFailure");
}

static void test_err_every_row_is_complete(void **state)
{
    (void)state;
    for (int e = 1; e < OSC_E__COUNT; e++) {
        assert_true(osc_err_rest_status(e) >= 400);
        assert_true(osc_err_aws_status(e) >= 400);
        assert_true(strlen(osc_err_rest_code(e)) > 0);
        assert_true(strlen(osc_err_aws_code(e)) > 0);
        assert_true(strlen(osc_err_default_message(e)) > 0);
        assert_true(strlen(osc_err_name(e)) > 0);
    }
}

static void test_err_out_of_range_is_internal(void **state)
{
    (void)state;
    assert_int_equal(osc_err_rest_status((osc_err)999), 500);
    assert_string_equal(osc_err_name((osc_err)-1), "INTERNAL");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_rest_mapping),
        cmocka_unit_test(test_err_aws_mapping),
        cmocka_unit_test(test_err_every_row_is_complete),
        cmocka_unit_test(test_err_out_of_range_is_internal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
