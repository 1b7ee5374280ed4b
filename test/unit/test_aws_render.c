/* AWS Query rendering (src/http/aws_render.c): ARNs, the trust-policy check and its
 * percent-encoding, and the exact XML of users, roles and tags (role-keys.md §3.6, §5.1–5.3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/http/aws_render.h"

#define ACCOUNT "123456789012"
#define ROLE_ID "5f1c0e6a9b2d4c7e8f00112233445566"
#define USER_ID "0123456789abcdef0123456789abcdef"
#define CREATED_US (1795514400LL * 1000000) /* 2026-11-24T10:00:00Z */
#define USED_US (1795514700LL * 1000000)    /* 2026-11-24T10:05:00Z */

#define SPEC_POLICY "{\"Version\": \"2012-10-17\", \"Statement\": []}"
#define SPEC_POLICY_ENCODED                                                                        \
    "%7B%22Version%22%3A%20%222012-10-17%22%2C%20%22Statement%22%3A%20%5B%5D%7D"

/* The document written so far ("" while empty). */
static const char *doc(const struct osc_xml *x)
{
    assert_false(x->failed);
    return x->p ? x->p : "";
}

static void encodes_to(const char *in, const char *want)
{
    struct osc_xml x;
    osc_xml_init(&x);
    osc_aws_percent_encode(&x, in);
    assert_string_equal(doc(&x), want);
    osc_xml_cleanup(&x);
}

/* The spec's role: ci-deployer under /ci/, created 2026-11-24T10:00:00Z. */
static void spec_role(struct osc_service_account *sa, char *policy)
{
    memset(sa, 0, sizeof(*sa));
    snprintf(sa->p.id, sizeof(sa->p.id), "%s", ROLE_ID);
    snprintf(sa->p.name, sizeof(sa->p.name), "ci-deployer");
    snprintf(sa->p.path, sizeof(sa->p.path), "/ci/");
    snprintf(sa->p.account_id, sizeof(sa->p.account_id), ACCOUNT);
    sa->p.kind = OSC_KIND_SERVICE_ACCOUNT;
    sa->p.created_us = CREATED_US;
    sa->trust_policy = policy;
    snprintf(sa->description, sizeof(sa->description), "CI deployer");
    sa->max_session_duration = 7200;
    sa->last_used_us = USED_US;
    snprintf(sa->last_used_region, sizeof(sa->last_used_region), "eu-west-1");
}

static void spec_user(struct osc_principal *p)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->id, sizeof(p->id), "%s", USER_ID);
    snprintf(p->name, sizeof(p->name), "Bob");
    snprintf(p->path, sizeof(p->path), "/");
    snprintf(p->account_id, sizeof(p->account_id), ACCOUNT);
    p->kind = OSC_KIND_USER;
    p->created_us = CREATED_US;
}

static const struct osc_tag TEAM_A[] = {{"team", "a"}};

static void role_renders_to(const struct osc_service_account *sa, enum osc_aws_role_shape shape,
                            const struct osc_tag *tags, size_t ntags, const char *want)
{
    struct osc_xml x;
    osc_xml_init(&x);
    osc_aws_render_role(&x, sa, shape, tags, ntags);
    assert_string_equal(doc(&x), want);
    osc_xml_cleanup(&x);
}

static void user_renders_to(const struct osc_principal *p, const struct osc_tag *tags, size_t ntags,
                            const char *want)
{
    struct osc_xml x;
    osc_xml_init(&x);
    osc_aws_render_user(&x, p, tags, ntags);
    assert_string_equal(doc(&x), want);
    osc_xml_cleanup(&x);
}

/* A JSON object {"a":"<filler>"} of exactly nchars characters, each filler character being
 * unit (one character of UTF-8). malloc'd. */
static char *object_of_chars(long nchars, const char *unit)
{
    size_t ulen = strlen(unit), fill = (size_t)nchars - 8;
    char *s = malloc(8 + fill * ulen + 1);
    char *q = s;

    assert_non_null(s);
    memcpy(q, "{\"a\":\"", 6);
    q += 6;
    for (size_t i = 0; i < fill; i++, q += ulen)
        memcpy(q, unit, ulen);
    memcpy(q, "\"}", 3);
    return s;
}

/* ---- trust-policy check */

static void test_aws_render_trust_policy_objects_pass(void **state)
{
    static const char *const OK[] = {
        SPEC_POLICY,
        "{}",
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
        "\"Principal\":{\"Service\":\"ec2.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}",
        "\t{\r\n  \"a\": 1\n}\r\n", /* tab, LF and CR are allowed whitespace */
        "{\"a\": \"caf\xc3\xa9 100%\"}",
        "{\"a\": {\"b\": [null, true, 1.5]}}",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(OK) / sizeof(OK[0]); i++)
        assert_true(osc_aws_trust_policy_ok(OK[i]));
}

static void test_aws_render_trust_policy_non_objects_fail(void **state)
{
    static const char *const BAD[] = {
        "",     "[]",        "[{\"a\": 1}]", "\"policy\"",  "42",
        "-1.5", "null",      "true",         "policy.json", "file://policy.json",
        "{",    "{\"a\": 1", "{\"a\" 1}",    "{\"a\": 1,}", "{'a': 1}",
        " ",    "{} {}",     "{}x",          "\"{}\"",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++)
        assert_false(osc_aws_trust_policy_ok(BAD[i]));
}

static void test_aws_render_trust_policy_control_characters_fail(void **state)
{
    char s[] = "{\"a\": 1}?";
    char in_string[] = "{\"a\": \"?\"}";
    (void)state;
    for (int ch = 1; ch < 0x20; ch++) {
        int allowed = ch == '\t' || ch == '\n' || ch == '\r';
        s[sizeof(s) - 2] = (char)ch;
        in_string[7] = (char)ch;
        assert_int_equal(osc_aws_trust_policy_chars_ok(s), allowed);
        assert_int_equal(osc_aws_trust_policy_chars_ok(in_string), allowed);
        assert_int_equal(osc_aws_trust_policy_ok(s), allowed);
        assert_false(osc_aws_trust_policy_ok(in_string)); /* JSON strings hold none raw */
    }
    /* DEL and Latin-1 are inside \u0020-\u00FF; U+0100 and beyond, and bytes that are not
     * UTF-8, are not. */
    assert_true(osc_aws_trust_policy_chars_ok("\x7f"));
    assert_true(osc_aws_trust_policy_chars_ok("caf\xc3\xa9 \xc3\xbf"));
    assert_true(osc_aws_trust_policy_chars_ok(""));
    assert_false(osc_aws_trust_policy_chars_ok("\xc4\x80"));
    assert_false(osc_aws_trust_policy_chars_ok("{\"a\": \"\xe2\x82\xac\"}"));
    assert_false(osc_aws_trust_policy_chars_ok("{\"a\": \"\xe9\"}"));
}

static void test_aws_render_trust_policy_length_in_characters(void **state)
{
    char *at_max = object_of_chars(OSC_TRUST_POLICY_MAX, "x");
    char *over = object_of_chars(OSC_TRUST_POLICY_MAX + 1, "x");
    char *wide_at_max = object_of_chars(OSC_TRUST_POLICY_MAX, "\xc3\xa9"); /* > max bytes */
    char *wide_over = object_of_chars(OSC_TRUST_POLICY_MAX + 1, "\xc3\xa9");
    (void)state;
    assert_int_equal(strlen(at_max), OSC_TRUST_POLICY_MAX);
    assert_true(osc_aws_trust_policy_ok(at_max));
    assert_false(osc_aws_trust_policy_ok(over));
    assert_true(strlen(wide_at_max) > OSC_TRUST_POLICY_MAX);
    assert_true(osc_aws_trust_policy_ok(wide_at_max));
    assert_false(osc_aws_trust_policy_ok(wide_over));
    free(at_max);
    free(over);
    free(wide_at_max);
    free(wide_over);
}

/* ---- percent-encoding (RFC 3986, as AWS returns policy documents) */

static void test_aws_render_percent_encode_spec_example(void **state)
{
    (void)state;
    encodes_to(SPEC_POLICY, SPEC_POLICY_ENCODED);
}

static void test_aws_render_percent_encode_keeps_unreserved(void **state)
{
    static const char UNRESERVED[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~";
    (void)state;
    encodes_to(UNRESERVED, UNRESERVED);
    encodes_to("", "");
}

static void test_aws_render_percent_encode_everything_else(void **state)
{
    (void)state;
    /* A space is %20, never '+'; '%' itself is encoded; hex is uppercase. */
    encodes_to(" +%", "%20%2B%25");
    encodes_to("!*'();:@&=$,/?#[]", "%21%2A%27%28%29%3B%3A%40%26%3D%24%2C%2F%3F%23%5B%5D");
    encodes_to("<>\"{}|\\^`", "%3C%3E%22%7B%7D%7C%5C%5E%60");
    encodes_to("\t\n\r\x7f", "%09%0A%0D%7F");
    /* UTF-8 is encoded byte by byte. */
    encodes_to("caf\xc3\xa9", "caf%C3%A9");
    encodes_to("\xe2\x82\xac\xf0\x9f\x94\x91", "%E2%82%AC%F0%9F%94%91");
    encodes_to("\xff", "%FF");
}

/* Long documents cross the encoder's internal buffer many times; nothing is lost or doubled. */
static void test_aws_render_percent_encode_long_document(void **state)
{
    size_t n = OSC_TRUST_POLICY_MAX;
    char *in = malloc(n + 1), *want = malloc(n * 3 + 1), *q = want;
    struct osc_xml x;
    (void)state;
    assert_non_null(in);
    assert_non_null(want);
    for (size_t i = 0; i < n; i++) {
        in[i] = (i % 3 == 0) ? ' ' : (char)('a' + i % 26);
        if (in[i] == ' ') {
            memcpy(q, "%20", 3);
            q += 3;
        } else {
            *q++ = in[i];
        }
    }
    in[n] = '\0';
    *q = '\0';
    osc_xml_init(&x);
    osc_aws_percent_encode(&x, in);
    assert_string_equal(doc(&x), want);
    osc_xml_cleanup(&x);
    free(in);
    free(want);
}

/* ---- ARNs */

static void test_aws_render_arn_of_both_kinds(void **state)
{
    struct osc_service_account sa;
    struct osc_principal u;
    char a[700];
    (void)state;
    spec_role(&sa, NULL);
    osc_aws_format_arn(&sa.p, a, sizeof(a));
    assert_string_equal(a, "arn:aws:iam::123456789012:role/ci/ci-deployer");
    snprintf(sa.p.path, sizeof(sa.p.path), "/");
    osc_aws_format_arn(&sa.p, a, sizeof(a));
    assert_string_equal(a, "arn:aws:iam::123456789012:role/ci-deployer");
    spec_user(&u);
    osc_aws_format_arn(&u, a, sizeof(a));
    assert_string_equal(a, "arn:aws:iam::123456789012:user/Bob");
    snprintf(u.path, sizeof(u.path), "/eng/team/");
    osc_aws_format_arn(&u, a, sizeof(a));
    assert_string_equal(a, "arn:aws:iam::123456789012:user/eng/team/Bob");
}

static void test_aws_render_arn_cut_to_buffer(void **state)
{
    struct osc_principal u;
    char a[16];
    (void)state;
    spec_user(&u);
    osc_aws_format_arn(&u, a, sizeof(a));
    assert_string_equal(a, "arn:aws:iam::12");
}

/* ---- roles */

static void test_aws_render_role_created(void **state)
{
    char policy[] = SPEC_POLICY;
    struct osc_service_account sa;
    (void)state;
    /* Description, MaxSessionDuration and a last use are set, and still not rendered. */
    spec_role(&sa, policy);
    role_renders_to(&sa, OSC_AWS_ROLE_CREATED, TEAM_A, 1,
                    "<Path>/ci/</Path>"
                    "<RoleName>ci-deployer</RoleName>"
                    "<RoleId>" ROLE_ID "</RoleId>"
                    "<Arn>arn:aws:iam::123456789012:role/ci/ci-deployer</Arn>"
                    "<CreateDate>2026-11-24T10:00:00Z</CreateDate>"
                    "<AssumeRolePolicyDocument>" SPEC_POLICY_ENCODED "</AssumeRolePolicyDocument>"
                    "<Tags><member><Key>team</Key><Value>a</Value></member></Tags>");
    role_renders_to(&sa, OSC_AWS_ROLE_CREATED, NULL, 0,
                    "<Path>/ci/</Path>"
                    "<RoleName>ci-deployer</RoleName>"
                    "<RoleId>" ROLE_ID "</RoleId>"
                    "<Arn>arn:aws:iam::123456789012:role/ci/ci-deployer</Arn>"
                    "<CreateDate>2026-11-24T10:00:00Z</CreateDate>"
                    "<AssumeRolePolicyDocument>" SPEC_POLICY_ENCODED "</AssumeRolePolicyDocument>");
}

static void test_aws_render_role_got_as_spec_example(void **state)
{
    char policy[] = SPEC_POLICY;
    struct osc_service_account sa;
    (void)state;
    spec_role(&sa, policy);
    role_renders_to(&sa, OSC_AWS_ROLE_GOT, TEAM_A, 1,
                    "<Path>/ci/</Path>"
                    "<RoleName>ci-deployer</RoleName>"
                    "<RoleId>" ROLE_ID "</RoleId>"
                    "<Arn>arn:aws:iam::123456789012:role/ci/ci-deployer</Arn>"
                    "<CreateDate>2026-11-24T10:00:00Z</CreateDate>"
                    "<AssumeRolePolicyDocument>" SPEC_POLICY_ENCODED "</AssumeRolePolicyDocument>"
                    "<Description>CI deployer</Description>"
                    "<MaxSessionDuration>7200</MaxSessionDuration>"
                    "<RoleLastUsed><LastUsedDate>2026-11-24T10:05:00Z</LastUsedDate>"
                    "<Region>eu-west-1</Region></RoleLastUsed>"
                    "<Tags><member><Key>team</Key><Value>a</Value></member></Tags>");
}

/* Fresh, created over REST without a trust policy or description, no tags. */
static void test_aws_render_role_got_unused_and_bare(void **state)
{
    struct osc_service_account sa;
    (void)state;
    spec_role(&sa, NULL);
    sa.description[0] = '\0';
    sa.max_session_duration = 3600;
    sa.last_used_us = 0;
    sa.last_used_region[0] = '\0';
    role_renders_to(&sa, OSC_AWS_ROLE_GOT, NULL, 0,
                    "<Path>/ci/</Path>"
                    "<RoleName>ci-deployer</RoleName>"
                    "<RoleId>" ROLE_ID "</RoleId>"
                    "<Arn>arn:aws:iam::123456789012:role/ci/ci-deployer</Arn>"
                    "<CreateDate>2026-11-24T10:00:00Z</CreateDate>"
                    "<MaxSessionDuration>3600</MaxSessionDuration>"
                    "<RoleLastUsed/>");
}

static void test_aws_render_role_got_last_use_without_region(void **state)
{
    struct osc_service_account sa;
    (void)state;
    spec_role(&sa, NULL);
    sa.last_used_region[0] = '\0';
    role_renders_to(&sa, OSC_AWS_ROLE_GOT, NULL, 0,
                    "<Path>/ci/</Path>"
                    "<RoleName>ci-deployer</RoleName>"
                    "<RoleId>" ROLE_ID "</RoleId>"
                    "<Arn>arn:aws:iam::123456789012:role/ci/ci-deployer</Arn>"
                    "<CreateDate>2026-11-24T10:00:00Z</CreateDate>"
                    "<Description>CI deployer</Description>"
                    "<MaxSessionDuration>7200</MaxSessionDuration>"
                    "<RoleLastUsed><LastUsedDate>2026-11-24T10:05:00Z</LastUsedDate>"
                    "</RoleLastUsed>");
}

/* ListRoles members: Description and MaxSessionDuration, never RoleLastUsed or Tags. */
static void test_aws_render_role_listed(void **state)
{
    char policy[] = SPEC_POLICY;
    struct osc_service_account sa;
    (void)state;
    spec_role(&sa, policy);
    role_renders_to(&sa, OSC_AWS_ROLE_LISTED, TEAM_A, 1,
                    "<Path>/ci/</Path>"
                    "<RoleName>ci-deployer</RoleName>"
                    "<RoleId>" ROLE_ID "</RoleId>"
                    "<Arn>arn:aws:iam::123456789012:role/ci/ci-deployer</Arn>"
                    "<CreateDate>2026-11-24T10:00:00Z</CreateDate>"
                    "<AssumeRolePolicyDocument>" SPEC_POLICY_ENCODED "</AssumeRolePolicyDocument>"
                    "<Description>CI deployer</Description>"
                    "<MaxSessionDuration>7200</MaxSessionDuration>");
}

/* Whatever reaches the renderer is escaped; the policy needs no escaping once encoded. */
static void test_aws_render_role_escapes_text(void **state)
{
    char policy[] = "{\"a\": \"<&>\"}";
    struct osc_service_account sa;
    static const struct osc_tag tags[] = {{"k<", "v&"}};
    (void)state;
    spec_role(&sa, policy);
    snprintf(sa.p.name, sizeof(sa.p.name), "a&b<c>");
    snprintf(sa.p.path, sizeof(sa.p.path), "/x&y/");
    snprintf(sa.description, sizeof(sa.description), "Tom's \"CI\" <deployer> & co\r");
    sa.last_used_us = 0;
    role_renders_to(&sa, OSC_AWS_ROLE_GOT, tags, 1,
                    "<Path>/x&amp;y/</Path>"
                    "<RoleName>a&amp;b&lt;c&gt;</RoleName>"
                    "<RoleId>" ROLE_ID "</RoleId>"
                    "<Arn>arn:aws:iam::123456789012:role/x&amp;y/a&amp;b&lt;c&gt;</Arn>"
                    "<CreateDate>2026-11-24T10:00:00Z</CreateDate>"
                    "<AssumeRolePolicyDocument>%7B%22a%22%3A%20%22%3C%26%3E%22%7D"
                    "</AssumeRolePolicyDocument>"
                    "<Description>Tom&apos;s &quot;CI&quot; &lt;deployer&gt; &amp; co&#13;"
                    "</Description>"
                    "<MaxSessionDuration>7200</MaxSessionDuration>"
                    "<RoleLastUsed/>"
                    "<Tags><member><Key>k&lt;</Key><Value>v&amp;</Value></member></Tags>");
}

/* Error messages echo request parameters, which may hold any byte but NUL: the document must stay
 * XML that botocore's parser accepts (XML 1.0 forbids C0 controls but tab, LF and CR, even as
 * references). */
static void escapes_to(const char *in, const char *want)
{
    struct osc_xml x;
    osc_xml_init(&x);
    osc_xml_escaped(&x, in);
    assert_string_equal(doc(&x), want);
    osc_xml_cleanup(&x);
}

static void test_aws_render_escape_keeps_utf8_tab_and_newline(void **state)
{
    (void)state;
    escapes_to("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91\ta\nb",
               "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91\ta\nb");
    escapes_to("", "");
}

static void test_aws_render_escape_replaces_what_xml_cannot_carry(void **state)
{
    (void)state;
    /* C0 controls, DEL is allowed; U+FFFE and U+FFFF are not characters in XML */
    escapes_to("a\x01"
               "b\x1f\x7f",
               "a\xef\xbf\xbd"
               "b\xef\xbf\xbd\x7f");
    escapes_to("\xef\xbf\xbe\xef\xbf\xbf", "\xef\xbf\xbd\xef\xbf\xbd");
    /* bytes that are not UTF-8: one replacement each */
    escapes_to("x\xff\xfe", "x\xef\xbf\xbd\xef\xbf\xbd");
    escapes_to("\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd");                 /* overlong '/' */
    escapes_to("\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* a surrogate */
    /* a character cut by a length limit (%.64s) */
    escapes_to("ab\xe2\x82", "ab\xef\xbf\xbd\xef\xbf\xbd");
    escapes_to("\xe2\x82<", "\xef\xbf\xbd\xef\xbf\xbd&lt;");
}

/* ---- users and tags */

static void test_aws_render_user_without_tags(void **state)
{
    struct osc_principal u;
    (void)state;
    spec_user(&u);
    user_renders_to(&u, NULL, 0,
                    "<Path>/</Path>"
                    "<UserName>Bob</UserName>"
                    "<UserId>" USER_ID "</UserId>"
                    "<Arn>arn:aws:iam::123456789012:user/Bob</Arn>"
                    "<CreateDate>2026-11-24T10:00:00Z</CreateDate>");
}

static void test_aws_render_user_with_tags(void **state)
{
    struct osc_principal u;
    static const struct osc_tag tags[] = {{"team", "a"}, {"cost-center", ""}};
    (void)state;
    spec_user(&u);
    snprintf(u.name, sizeof(u.name), "b&b");
    user_renders_to(&u, tags, 2,
                    "<Path>/</Path>"
                    "<UserName>b&amp;b</UserName>"
                    "<UserId>" USER_ID "</UserId>"
                    "<Arn>arn:aws:iam::123456789012:user/b&amp;b</Arn>"
                    "<CreateDate>2026-11-24T10:00:00Z</CreateDate>"
                    "<Tags><member><Key>team</Key><Value>a</Value></member>"
                    "<member><Key>cost-center</Key><Value></Value></member></Tags>");
}

static void test_aws_render_tags_none_is_nothing(void **state)
{
    struct osc_xml x;
    (void)state;
    osc_xml_init(&x);
    osc_aws_render_tags(&x, NULL, 0);
    osc_aws_render_tags(&x, TEAM_A, 0);
    assert_null(x.p);
    osc_xml_cleanup(&x);
}

static void test_aws_render_time_in_utc_seconds(void **state)
{
    struct osc_xml x;
    (void)state;
    osc_xml_init(&x);
    osc_aws_render_time(&x, "CreateDate", CREATED_US + 999999);
    assert_string_equal(doc(&x), "<CreateDate>2026-11-24T10:00:00Z</CreateDate>");
    osc_xml_cleanup(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aws_render_escape_keeps_utf8_tab_and_newline),
        cmocka_unit_test(test_aws_render_escape_replaces_what_xml_cannot_carry),
        cmocka_unit_test(test_aws_render_trust_policy_objects_pass),
        cmocka_unit_test(test_aws_render_trust_policy_non_objects_fail),
        cmocka_unit_test(test_aws_render_trust_policy_control_characters_fail),
        cmocka_unit_test(test_aws_render_trust_policy_length_in_characters),
        cmocka_unit_test(test_aws_render_percent_encode_spec_example),
        cmocka_unit_test(test_aws_render_percent_encode_keeps_unreserved),
        cmocka_unit_test(test_aws_render_percent_encode_everything_else),
        cmocka_unit_test(test_aws_render_percent_encode_long_document),
        cmocka_unit_test(test_aws_render_arn_of_both_kinds),
        cmocka_unit_test(test_aws_render_arn_cut_to_buffer),
        cmocka_unit_test(test_aws_render_role_created),
        cmocka_unit_test(test_aws_render_role_got_as_spec_example),
        cmocka_unit_test(test_aws_render_role_got_unused_and_bare),
        cmocka_unit_test(test_aws_render_role_got_last_use_without_region),
        cmocka_unit_test(test_aws_render_role_listed),
        cmocka_unit_test(test_aws_render_role_escapes_text),
        cmocka_unit_test(test_aws_render_user_without_tags),
        cmocka_unit_test(test_aws_render_user_with_tags),
        cmocka_unit_test(test_aws_render_tags_none_is_nothing),
        cmocka_unit_test(test_aws_render_time_in_utc_seconds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
