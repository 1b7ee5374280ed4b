/* The policy table of DESIGN.md, row by row. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "oscred/policy.h"

#define ALICE "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define BOB "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static struct osc_caller caller(const char *id, unsigned roles)
{
    struct osc_caller c;
    memset(&c, 0, sizeof(c));
    snprintf(c.id, sizeof(c.id), "%s", id);
    c.roles = roles;
    c.method = OSC_AUTH_TOKEN;
    return c;
}

static void test_policy_own_keys_always(void **state)
{
    struct osc_caller c = caller(ALICE, 0);
    (void)state;
    assert_int_equal(osc_policy_manage_keys(&c, ALICE), OSC_OK);
    assert_int_equal(osc_policy_manage_keys(&c, BOB), OSC_E_FORBIDDEN);
    assert_false(osc_policy_manages_all_keys(&c));
}

static void test_policy_security_admin_manages_every_key(void **state)
{
    struct osc_caller c = caller(ALICE, OSC_ROLE_SECURITY_ADMIN);
    (void)state;
    assert_int_equal(osc_policy_manage_keys(&c, BOB), OSC_OK);
    assert_true(osc_policy_manages_all_keys(&c));
    /* but does not administer users */
    assert_int_equal(osc_policy_admin_principals(&c), OSC_E_FORBIDDEN);
    assert_int_equal(osc_policy_read_principal(&c, BOB), OSC_OK);
}

static void test_policy_admin(void **state)
{
    struct osc_caller c = caller(ALICE, OSC_ROLE_ADMIN);
    (void)state;
    assert_int_equal(osc_policy_manage_keys(&c, BOB), OSC_OK);
    assert_int_equal(osc_policy_admin_principals(&c), OSC_OK);
    assert_int_equal(osc_policy_read_principal(&c, NULL), OSC_OK);
    assert_int_equal(osc_policy_manage_token(&c, BOB), OSC_OK);
}

static void test_policy_plain_user_reads_only_itself(void **state)
{
    struct osc_caller c = caller(ALICE, 0);
    (void)state;
    assert_int_equal(osc_policy_read_principal(&c, ALICE), OSC_OK);
    assert_int_equal(osc_policy_read_principal(&c, BOB), OSC_E_FORBIDDEN);
    assert_int_equal(osc_policy_read_principal(&c, NULL), OSC_E_FORBIDDEN);
    assert_int_equal(osc_policy_admin_principals(&c), OSC_E_FORBIDDEN);
}

static void test_policy_tokens(void **state)
{
    struct osc_caller c = caller(ALICE, 0);
    (void)state;
    assert_int_equal(osc_policy_manage_token(&c, ALICE), OSC_OK);
    assert_int_equal(osc_policy_manage_token(&c, BOB), OSC_E_FORBIDDEN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_own_keys_always),
        cmocka_unit_test(test_policy_security_admin_manages_every_key),
        cmocka_unit_test(test_policy_admin),
        cmocka_unit_test(test_policy_plain_user_reads_only_itself),
        cmocka_unit_test(test_policy_tokens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
