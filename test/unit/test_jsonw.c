/* The JSON writer: escaping, UTF-8 handling and overflow, checked against jansson's parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "oscred/jsonw.h"

/* Writes s as a JSON string and returns what a JSON parser reads back (static buffer). */
static const char *roundtrip(const char *s)
{
    static char back[512];
    char buf[512];
    struct osc_jsonw w;
    json_t *j;

    osc_jsonw_init(&w, buf, sizeof(buf));
    osc_jsonw_string(&w, s);
    assert_false(w.overflow);
    j = json_loads(buf, JSON_DECODE_ANY, NULL);
    assert_non_null(j);
    assert_true(json_is_string(j));
    snprintf(back, sizeof(back), "%s", json_string_value(j));
    json_decref(j);
    return back;
}

static void test_jsonw_plain_and_escaped(void **state)
{
    (void)state;
    assert_string_equal(roundtrip("req-1234"), "req-1234");
    assert_string_equal(roundtrip("a\"b\\c"), "a\"b\\c");
    assert_string_equal(roundtrip("line\nbreak\ttab\x01\x7f"), "line\nbreak\ttab\x01\x7f");
    assert_string_equal(roundtrip(""), "");
}

static void test_jsonw_utf8(void **state)
{
    (void)state;
    assert_string_equal(roundtrip("caf\xc3\xa9 \xf0\x9f\x94\x91"), "caf\xc3\xa9 \xf0\x9f\x94\x91");
    /* invalid bytes become U+FFFD, so the output stays valid JSON */
    assert_string_equal(roundtrip("a\xff" "b\xc3"), "a\xef\xbf\xbd" "b\xef\xbf\xbd");
}

static void test_jsonw_fields(void **state)
{
    char buf[128];
    struct osc_jsonw w;
    (void)state;
    osc_jsonw_init(&w, buf, sizeof(buf));
    osc_jsonw_raw(&w, "{");
    osc_jsonw_field(&w, "a", "1", 1);
    osc_jsonw_field(&w, "skipped", NULL, 0);
    osc_jsonw_field(&w, "b", "x\"y", 0);
    osc_jsonw_raw(&w, "}");
    assert_false(w.overflow);
    assert_string_equal(buf, "{\"a\":\"1\",\"b\":\"x\\\"y\"}");
}

static void test_jsonw_overflow_is_reported(void **state)
{
    char buf[8];
    struct osc_jsonw w;
    (void)state;
    osc_jsonw_init(&w, buf, sizeof(buf));
    osc_jsonw_string(&w, "much too long for eight bytes");
    assert_true(w.overflow);
    assert_true(strlen(buf) < sizeof(buf));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jsonw_plain_and_escaped),
        cmocka_unit_test(test_jsonw_utf8),
        cmocka_unit_test(test_jsonw_fields),
        cmocka_unit_test(test_jsonw_overflow_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
