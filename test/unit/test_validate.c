/* Validators: names, access keys, ids, UTF-8 text, passwords. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "oscred/validate.h"

static void test_validate_names(void **state)
{
    (void)state;
    assert_true(osc_valid_name("alice"));
    assert_true(osc_valid_name("alice.smith+ci@example.com"));
    assert_true(osc_valid_name("A_b=c,d-e"));
    assert_true(osc_valid_name(
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")); /* 64 */
    assert_false(osc_valid_name(
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")); /* 65 */
    assert_false(osc_valid_name(""));
    assert_false(osc_valid_name(NULL));
    assert_false(osc_valid_name("bad name"));
    assert_false(osc_valid_name("slash/name"));
    assert_false(osc_valid_name("caf\xc3\xa9"));
}

static void test_validate_access_keys(void **state)
{
    (void)state;
    assert_true(osc_valid_access_key("QTWAOYTTINDUT2QVKYUC"));
    assert_false(osc_valid_access_key("QTWAOYTTINDUT2QVKYU"));
    assert_false(osc_valid_access_key("QTWAOYTTINDUT2QVKYUCX"));
    assert_false(osc_valid_access_key("qtwaoyttindut2qvkyuc"));
    assert_false(osc_valid_access_key("QTWAOYTTINDUT2QVKY/C"));
    assert_false(osc_valid_access_key(""));
}

static void test_validate_ids(void **state)
{
    (void)state;
    assert_true(osc_valid_id("07609fb9358010e21f7bc003751c7c32"));
    assert_false(osc_valid_id("07609FB9358010E21F7BC003751C7C32"));
    assert_false(osc_valid_id("07609fb9358010e21f7bc003751c7c3"));
    assert_false(osc_valid_id("07609fb9358010e21f7bc003751c7c32a"));
    assert_false(osc_valid_id("07609fb9358010e21f7bc003751c7c3g"));
}

static void test_validate_utf8(void **state)
{
    (void)state;
    assert_int_equal(osc_utf8_length("abc"), 3);
    assert_int_equal(osc_utf8_length("caf\xc3\xa9"), 4);
    assert_int_equal(osc_utf8_length("\xf0\x9f\x94\x91"), 1);
    assert_int_equal(osc_utf8_length("\xc0\xaf"), -1);         /* overlong '/' */
    assert_int_equal(osc_utf8_length("\xed\xa0\x80"), -1);     /* surrogate */
    assert_int_equal(osc_utf8_length("\xf4\x90\x80\x80"), -1); /* > U+10FFFF */
    assert_int_equal(osc_utf8_length("\xe2\x82"), -1);         /* truncated */
}

static void test_validate_text(void **state)
{
    char s[300];
    (void)state;
    memset(s, 'x', 255);
    s[255] = '\0';
    assert_true(osc_valid_text(s, 255));
    s[255] = 'x';
    s[256] = '\0';
    assert_false(osc_valid_text(s, 255));
    assert_true(osc_valid_text("", 255));
    assert_true(osc_valid_text("d\xc3\xa9j\xc3\xa0 vu", 255));
    assert_false(osc_valid_text("line\nbreak", 255));
    assert_false(osc_valid_text("tab\there", 255));
    assert_false(osc_valid_text("\x7f", 255));
    assert_false(osc_valid_text("\xff", 255));
    /* Noncharacters (Unicode 15, section 23.7): U+FDD0..U+FDEF and U+xxFFFE/U+xxFFFF of every
     * plane. */
    assert_false(osc_valid_text("\xef\xbf\xbe", 255));     /* U+FFFE */
    assert_false(osc_valid_text("\xef\xbf\xbf", 255));     /* U+FFFF */
    assert_false(osc_valid_text("\xef\xb7\x90", 255));     /* U+FDD0 */
    assert_false(osc_valid_text("\xef\xb7\xaf", 255));     /* U+FDEF */
    assert_false(osc_valid_text("\xf0\x9f\xbf\xbe", 255)); /* U+1FFFE */
    assert_false(osc_valid_text("\xf4\x8f\xbf\xbf", 255)); /* U+10FFFF */
    assert_true(osc_valid_text("\xef\xb7\x8f", 255));      /* U+FDCF */
    assert_true(osc_valid_text("\xef\xb7\xb0", 255));      /* U+FDF0 */
    assert_true(osc_valid_text("\xef\xbf\xbd", 255));      /* U+FFFD */
    assert_true(osc_valid_text("\xf0\x9f\xbf\xbd", 255));  /* U+1FFFD */
    assert_true(osc_valid_text("\xe2\x80\xa8", 255));      /* U+2028 */
}

static void test_validate_passwords(void **state)
{
    const char with_nul[] = "ab\0cd";
    (void)state;
    assert_true(osc_valid_password("secret", 6));
    assert_false(osc_valid_password("", 0));
    assert_false(osc_valid_password(with_nul, 5)); /* JSON "ab\u0000cd" */
    assert_false(osc_valid_password("\xff\xfe", 2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate_names), cmocka_unit_test(test_validate_access_keys),
        cmocka_unit_test(test_validate_ids),   cmocka_unit_test(test_validate_utf8),
        cmocka_unit_test(test_validate_text),  cmocka_unit_test(test_validate_passwords),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
