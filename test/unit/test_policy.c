/* The policy table of DESIGN.md and role-keys.md §4, row by row for both principal kinds, and the
 * name-resolution decision of key actions (role-keys.md §3). */
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
#define CI "cccccccccccccccccccccccccccccccc"
#define OTHER_SA "dddddddddddddddddddddddddddddddd"

static struct osc_caller caller(const char *id, unsigned roles)
{
    struct osc_caller c;
    memset(&c, 0, sizeof(c));
    snprintf(c.id, sizeof(c.id), "%s", id);
    c.roles = roles;
    c.method = OSC_AUTH_TOKEN;
    return c;
}

/* A caller as a signed request sets it: id, stored name, kind and its own grants. */
static struct osc_caller signer(const char *id, const char *name, enum osc_kind kind,
                                unsigned roles)
{
    struct osc_caller c = caller(id, roles);
    snprintf(c.name, sizeof(c.name), "%s", name);
    c.kind = kind;
    c.method = OSC_AUTH_SIGV4;
    return c;
}

static const enum osc_kind KINDS[] = {OSC_KIND_USER, OSC_KIND_SERVICE_ACCOUNT};
#define NKINDS (sizeof(KINDS) / sizeof(KINDS[0]))

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

/* ---- role-keys.md §4, one row per assertion group. The targets are a service account (CI,
 * OTHER_SA) and a user (BOB); the caller is a user or a service account with the same grants. */

/* Row 1: create, update, delete a service account; grant or revoke its roles: admin only. */
static void check_row_admin_actions(const struct osc_caller *c, osc_err want)
{
    assert_int_equal(osc_policy_admin_principals(c), want);
}

/* Row 2: read service accounts (GetRole, ListRoles, GET /v3/service_accounts…): admin or
 * security_admin; anyone reads itself. NULL target: a list (ListRoles) or another name. */
static void check_row_read(const struct osc_caller *c, osc_err want_others)
{
    assert_int_equal(osc_policy_read_principal(c, c->id), OSC_OK);
    assert_int_equal(osc_policy_read_principal(c, OTHER_SA), want_others);
    assert_int_equal(osc_policy_read_principal(c, NULL), want_others);
}

/* Row 3: a service account's keys (AWS and OS-CREDENTIAL): itself, security_admin, admin. */
static void check_row_keys(const struct osc_caller *c, osc_err want_others)
{
    assert_int_equal(osc_policy_manage_keys(c, c->id), OSC_OK);
    assert_int_equal(osc_policy_manage_keys(c, OTHER_SA), want_others);
    assert_int_equal(osc_policy_manage_keys(c, BOB), want_others);
    assert_int_equal(osc_policy_manages_all_keys(c), want_others == OSC_OK);
}

/* Row 4: anything else (ListUsers, another user's tokens): what the grants allow, as for a user. */
static void check_row_anything_else(const struct osc_caller *c, osc_err want_read,
                                    osc_err want_tokens)
{
    assert_int_equal(osc_policy_read_principal(c, BOB), want_read);
    assert_int_equal(osc_policy_manage_token(c, c->id), OSC_OK);
    assert_int_equal(osc_policy_manage_token(c, BOB), want_tokens);
}

static void test_policy_service_account_without_grant(void **state)
{
    struct osc_caller c = signer(CI, "ci-deployer", OSC_KIND_SERVICE_ACCOUNT, 0);
    (void)state;
    check_row_admin_actions(&c, OSC_E_FORBIDDEN);
    check_row_read(&c, OSC_E_FORBIDDEN);
    check_row_keys(&c, OSC_E_FORBIDDEN);
    check_row_anything_else(&c, OSC_E_FORBIDDEN, OSC_E_FORBIDDEN);
}

static void test_policy_service_account_security_admin(void **state)
{
    struct osc_caller c =
        signer(CI, "ci-deployer", OSC_KIND_SERVICE_ACCOUNT, OSC_ROLE_SECURITY_ADMIN);
    (void)state;
    check_row_admin_actions(&c, OSC_E_FORBIDDEN);
    check_row_read(&c, OSC_OK);
    check_row_keys(&c, OSC_OK);
    check_row_anything_else(&c, OSC_OK, OSC_OK);
}

static void test_policy_service_account_admin(void **state)
{
    struct osc_caller c = signer(CI, "ci-deployer", OSC_KIND_SERVICE_ACCOUNT, OSC_ROLE_ADMIN);
    (void)state;
    check_row_admin_actions(&c, OSC_OK);
    check_row_read(&c, OSC_OK);
    check_row_keys(&c, OSC_OK);
    check_row_anything_else(&c, OSC_OK, OSC_OK);
}

static void test_policy_service_account_both_roles(void **state)
{
    struct osc_caller c = signer(CI, "ci-deployer", OSC_KIND_SERVICE_ACCOUNT, OSC_ROLE_ALL);
    (void)state;
    check_row_admin_actions(&c, OSC_OK);
    check_row_read(&c, OSC_OK);
    check_row_keys(&c, OSC_OK);
    check_row_anything_else(&c, OSC_OK, OSC_OK);
}

static void test_policy_plain_user_table(void **state)
{
    struct osc_caller c = signer(ALICE, "alice", OSC_KIND_USER, 0);
    (void)state;
    check_row_admin_actions(&c, OSC_E_FORBIDDEN);
    check_row_read(&c, OSC_E_FORBIDDEN);
    check_row_keys(&c, OSC_E_FORBIDDEN);
    check_row_anything_else(&c, OSC_E_FORBIDDEN, OSC_E_FORBIDDEN);
}

/* The kind never changes a decision: every row, every grant, user and service account alike. */
static void test_policy_kind_is_irrelevant(void **state)
{
    static const unsigned GRANTS[] = {0, OSC_ROLE_SECURITY_ADMIN, OSC_ROLE_ADMIN, OSC_ROLE_ALL};
    (void)state;
    for (size_t g = 0; g < sizeof(GRANTS) / sizeof(GRANTS[0]); g++) {
        struct osc_caller u = signer(ALICE, "alice", OSC_KIND_USER, GRANTS[g]);
        struct osc_caller s = signer(ALICE, "alice", OSC_KIND_SERVICE_ACCOUNT, GRANTS[g]);
        const char *targets[] = {ALICE, BOB, OTHER_SA};
        assert_int_equal(osc_policy_admin_principals(&u), osc_policy_admin_principals(&s));
        assert_int_equal(osc_policy_manages_all_keys(&u), osc_policy_manages_all_keys(&s));
        assert_int_equal(osc_policy_read_principal(&u, NULL), osc_policy_read_principal(&s, NULL));
        for (size_t t = 0; t < sizeof(targets) / sizeof(targets[0]); t++) {
            assert_int_equal(osc_policy_manage_keys(&u, targets[t]),
                             osc_policy_manage_keys(&s, targets[t]));
            assert_int_equal(osc_policy_read_principal(&u, targets[t]),
                             osc_policy_read_principal(&s, targets[t]));
            assert_int_equal(osc_policy_manage_token(&u, targets[t]),
                             osc_policy_manage_token(&s, targets[t]));
        }
    }
}

/* ---- role-keys.md §3: UserName of key actions. */

static void test_policy_key_target_omitted_name_is_self(void **state)
{
    (void)state;
    for (size_t k = 0; k < NKINDS; k++) {
        struct osc_caller plain = signer(CI, "ci-deployer", KINDS[k], 0);
        struct osc_caller admin = signer(CI, "ci-deployer", KINDS[k], OSC_ROLE_ADMIN);
        assert_int_equal(osc_policy_key_target(&plain, NULL), OSC_KEY_TARGET_SELF);
        assert_int_equal(osc_policy_key_target(&admin, NULL), OSC_KEY_TARGET_SELF);
    }
}

static void test_policy_key_target_own_name_ignores_case(void **state)
{
    (void)state;
    for (size_t k = 0; k < NKINDS; k++) {
        struct osc_caller c = signer(CI, "ci-deployer", KINDS[k], 0);
        struct osc_caller upper = signer(CI, "CI-Deployer", KINDS[k], 0);
        assert_int_equal(osc_policy_key_target(&c, "ci-deployer"), OSC_KEY_TARGET_SELF);
        assert_int_equal(osc_policy_key_target(&c, "CI-Deployer"), OSC_KEY_TARGET_SELF);
        assert_int_equal(osc_policy_key_target(&c, "CI-DEPLOYER"), OSC_KEY_TARGET_SELF);
        /* The stored spelling may itself be mixed case. */
        assert_int_equal(osc_policy_key_target(&upper, "ci-deployer"), OSC_KEY_TARGET_SELF);
    }
}

/* Another name, no rights over others: forbidden whether or not it exists, so nothing can be
 * probed (ListAccessKeys(UserName=nosuch) is AccessDenied). Near misses are other names. */
static void test_policy_key_target_other_name_forbidden_without_rights(void **state)
{
    static const char *const OTHERS[] = {"alice",      "nosuch",      "ci-deployer2",
                                         "ci-deploye", "ci_deployer", ""};
    (void)state;
    for (size_t k = 0; k < NKINDS; k++) {
        struct osc_caller c = signer(CI, "ci-deployer", KINDS[k], 0);
        for (size_t i = 0; i < sizeof(OTHERS) / sizeof(OTHERS[0]); i++)
            assert_int_equal(osc_policy_key_target(&c, OTHERS[i]), OSC_KEY_TARGET_FORBIDDEN);
    }
}

static void test_policy_key_target_other_name_looked_up_with_rights(void **state)
{
    static const unsigned GRANTS[] = {OSC_ROLE_SECURITY_ADMIN, OSC_ROLE_ADMIN, OSC_ROLE_ALL};
    (void)state;
    for (size_t k = 0; k < NKINDS; k++) {
        for (size_t g = 0; g < sizeof(GRANTS) / sizeof(GRANTS[0]); g++) {
            struct osc_caller c = signer(CI, "ci-deployer", KINDS[k], GRANTS[g]);
            assert_int_equal(osc_policy_key_target(&c, "alice"), OSC_KEY_TARGET_LOOKUP);
            assert_int_equal(osc_policy_key_target(&c, "nosuch"), OSC_KEY_TARGET_LOOKUP);
            assert_int_equal(osc_policy_key_target(&c, "Ci-Deployer"), OSC_KEY_TARGET_SELF);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_own_keys_always),
        cmocka_unit_test(test_policy_security_admin_manages_every_key),
        cmocka_unit_test(test_policy_admin),
        cmocka_unit_test(test_policy_plain_user_reads_only_itself),
        cmocka_unit_test(test_policy_tokens),
        cmocka_unit_test(test_policy_service_account_without_grant),
        cmocka_unit_test(test_policy_service_account_security_admin),
        cmocka_unit_test(test_policy_service_account_admin),
        cmocka_unit_test(test_policy_service_account_both_roles),
        cmocka_unit_test(test_policy_plain_user_table),
        cmocka_unit_test(test_policy_kind_is_irrelevant),
        cmocka_unit_test(test_policy_key_target_omitted_name_is_self),
        cmocka_unit_test(test_policy_key_target_own_name_ignores_case),
        cmocka_unit_test(test_policy_key_target_other_name_forbidden_without_rights),
        cmocka_unit_test(test_policy_key_target_other_name_looked_up_with_rights),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
