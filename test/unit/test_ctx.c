/* Request ids (a "req-" prefixed UUID version 4, unique) and the two timestamp formats of the
 * APIs (RFC 3339 UTC with and without microseconds), including truncation into short buffers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oscred/ctx.h"

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static void test_request_id_is_a_uuid4(void **state)
{
    struct osc_ctx ctx;
    (void)state;

    for (int n = 0; n < 1000; n++) {
        osc_ctx_init(&ctx);
        const char *id = ctx.request_id;
        assert_int_equal(strlen(id), OSC_REQUEST_ID_LEN);
        assert_memory_equal(id, "req-", 4);
        for (int i = 4; i < OSC_REQUEST_ID_LEN; i++) {
            if (i == 12 || i == 17 || i == 22 || i == 27)
                assert_int_equal(id[i], '-');
            else
                assert_true(is_hex(id[i]));
        }
        assert_int_equal(id[18], '4');           /* version */
        assert_non_null(strchr("89ab", id[23])); /* RFC 4122 variant */
        assert_int_equal(ctx.msg[0], '\0');
        assert_int_equal(ctx.caller.method, OSC_AUTH_NONE);
    }
}

static int cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_request_ids_differ(void **state)
{
    enum { N = 4096 };
    char(*ids)[OSC_REQUEST_ID_LEN + 1] = calloc(N, sizeof(*ids));
    struct osc_ctx ctx;
    (void)state;

    assert_non_null(ids);
    for (int i = 0; i < N; i++) {
        osc_ctx_init(&ctx);
        memcpy(ids[i], ctx.request_id, sizeof(ids[i]));
    }
    qsort(ids, N, sizeof(*ids), cmp);
    for (int i = 1; i < N; i++)
        assert_string_not_equal(ids[i - 1], ids[i]);
    free(ids);
}

static void test_format_time(void **state)
{
    char buf[64];
    (void)state;

    osc_format_time_us(0, buf, sizeof(buf));
    assert_string_equal(buf, "1970-01-01T00:00:00.000000Z");
    /* the example of ctx.h, checked against Python's datetime */
    osc_format_time_us(1578464719014028LL, buf, sizeof(buf));
    assert_string_equal(buf, "2020-01-08T06:25:19.014028Z");
    osc_format_time_s(1578464719014028LL, buf, sizeof(buf));
    assert_string_equal(buf, "2020-01-08T06:25:19Z");
    osc_format_time_us(-1, buf, sizeof(buf));
    assert_string_equal(buf, "1969-12-31T23:59:59.999999Z");
    /* 2024-02-29T23:59:59.5Z: a leap day */
    osc_format_time_us(1709251199500000LL, buf, sizeof(buf));
    assert_string_equal(buf, "2024-02-29T23:59:59.500000Z");
    osc_format_time_s(4102444800LL * 1000000, buf, sizeof(buf));
    assert_string_equal(buf, "2100-01-01T00:00:00Z");
}

static void test_format_time_truncates_like_snprintf(void **state)
{
    char buf[11];
    (void)state;

    memset(buf, 'x', sizeof(buf));
    osc_format_time_us(0, buf, sizeof(buf));
    assert_string_equal(buf, "1970-01-01");
    osc_format_time_s(0, buf, 1);
    assert_string_equal(buf, "");
    osc_format_time_s(0, buf, 0); /* writes nothing */
    assert_string_equal(buf, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_id_is_a_uuid4),
        cmocka_unit_test(test_request_ids_differ),
        cmocka_unit_test(test_format_time),
        cmocka_unit_test(test_format_time_truncates_like_snprintf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
