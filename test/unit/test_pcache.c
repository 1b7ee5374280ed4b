/* The principal cache and the revoked-token set: what a token check reads, tombstones (final,
 * forgotten once no token of theirs can be valid), full reloads, domain renames and growth. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "oscred/ctx.h"
#include "oscred/pcache.h"

#define HOUR_US (3600LL * 1000000)
#define DOMAIN_A "dddddddddddddddddddddddddddddddd"

static struct osc_principal principal(unsigned n, const char *name)
{
    struct osc_principal p;
    memset(&p, 0, sizeof(p));
    snprintf(p.id, sizeof(p.id), "%032x", n);
    snprintf(p.domain_id, sizeof(p.domain_id), "%s", DOMAIN_A);
    snprintf(p.domain_name, sizeof(p.domain_name), "Default");
    snprintf(p.name, sizeof(p.name), "%s", name);
    p.kind = OSC_KIND_USER;
    p.enabled = 1;
    p.domain_enabled = 1;
    p.roles = OSC_ROLE_SECURITY_ADMIN;
    p.password_epoch = 7;
    return p;
}

static void put(osc_pcache *pc, unsigned n)
{
    char name[32];
    snprintf(name, sizeof(name), "user-%u", n);
    struct osc_principal p = principal(n, name);
    assert_int_equal(osc_pcache_put(pc, &p, osc_pcache_ticket(pc)), OSC_OK);
}

static enum osc_pcache_state state_of(osc_pcache *pc, unsigned n, struct osc_pcache_entry *e)
{
    char id[OSC_ID_LEN + 1];
    snprintf(id, sizeof(id), "%032x", n);
    return osc_pcache_get(pc, id, e);
}

static void test_put_then_get_copies_every_field(void **state)
{
    osc_pcache *pc;
    struct osc_pcache_entry e;
    char longest[OSC_NAME_MAX + 1];
    (void)state;

    memset(longest, 'n', OSC_NAME_MAX);
    longest[OSC_NAME_MAX] = '\0';
    struct osc_principal p = principal(1, longest);
    p.kind = OSC_KIND_SERVICE_ACCOUNT;
    assert_int_equal(osc_pcache_create(HOUR_US, &pc), OSC_OK);
    assert_int_equal(osc_pcache_put(pc, &p, osc_pcache_ticket(pc)), OSC_OK);
    assert_int_equal(osc_pcache_get(pc, p.id, &e), OSC_PCACHE_FOUND);
    assert_string_equal(e.id, p.id);
    assert_string_equal(e.name, longest);
    assert_string_equal(e.domain_id, DOMAIN_A);
    assert_string_equal(e.domain_name, "Default");
    assert_int_equal(e.kind, OSC_KIND_SERVICE_ACCOUNT);
    assert_int_equal(e.enabled, 1);
    assert_int_equal(e.roles, OSC_ROLE_SECURITY_ADMIN);
    assert_int_equal(e.password_epoch, 7);
    assert_int_equal(state_of(pc, 2, &e), OSC_PCACHE_MISSING);
    osc_pcache_destroy(pc);
}

static void test_disabled_domain_disables_its_principals(void **state)
{
    osc_pcache *pc;
    struct osc_pcache_entry e;
    struct osc_principal p = principal(1, "alice");
    (void)state;

    p.domain_enabled = 0;
    assert_int_equal(osc_pcache_create(HOUR_US, &pc), OSC_OK);
    assert_int_equal(osc_pcache_put(pc, &p, osc_pcache_ticket(pc)), OSC_OK);
    assert_int_equal(osc_pcache_get(pc, p.id, &e), OSC_PCACHE_FOUND);
    assert_int_equal(e.enabled, 0);
    /* an update replaces the entry */
    p.domain_enabled = 1;
    p.password_epoch = 8;
    assert_int_equal(osc_pcache_put(pc, &p, osc_pcache_ticket(pc)), OSC_OK);
    assert_int_equal(osc_pcache_get(pc, p.id, &e), OSC_PCACHE_FOUND);
    assert_int_equal(e.enabled, 1);
    assert_int_equal(e.password_epoch, 8);
    osc_pcache_destroy(pc);
}

static void test_tombstone_is_final(void **state)
{
    osc_pcache *pc;
    struct osc_pcache_entry e;
    struct osc_principal p = principal(1, "alice");
    (void)state;

    assert_int_equal(osc_pcache_create(HOUR_US, &pc), OSC_OK);
    assert_int_equal(osc_pcache_put(pc, &p, osc_pcache_ticket(pc)), OSC_OK);
    assert_int_equal(osc_pcache_remove(pc, p.id), OSC_OK);
    assert_int_equal(osc_pcache_get(pc, p.id, &e), OSC_PCACHE_DELETED);
    /* a database read that raced the delete must not bring it back */
    assert_int_equal(osc_pcache_put(pc, &p, osc_pcache_ticket(pc)), OSC_OK);
    assert_int_equal(osc_pcache_get(pc, p.id, &e), OSC_PCACHE_DELETED);
    /* a principal never seen can be recorded as deleted too */
    assert_int_equal(state_of(pc, 2, &e), OSC_PCACHE_MISSING);
    assert_int_equal(osc_pcache_remove(pc, "00000000000000000000000000000002"), OSC_OK);
    assert_int_equal(state_of(pc, 2, &e), OSC_PCACHE_DELETED);
    osc_pcache_destroy(pc);
}

/* Enough puts to make the table rebuild at least once (it starts with 1024 slots). */
#define MANY 5000

static void test_tombstones_are_forgotten_after_their_ttl(void **state)
{
    osc_pcache *pc, *kept;
    struct osc_pcache_entry e;
    (void)state;

    assert_int_equal(osc_pcache_create(0, &pc), OSC_OK); /* forgotten at the next rebuild */
    assert_int_equal(osc_pcache_create(HOUR_US, &kept), OSC_OK);
    put(pc, 1);
    put(kept, 1);
    assert_int_equal(osc_pcache_remove(pc, "00000000000000000000000000000001"), OSC_OK);
    assert_int_equal(osc_pcache_remove(kept, "00000000000000000000000000000001"), OSC_OK);
    for (unsigned n = 2; n < MANY; n++) {
        put(pc, n);
        put(kept, n);
    }
    assert_int_equal(state_of(pc, 1, &e), OSC_PCACHE_MISSING);
    assert_int_equal(state_of(kept, 1, &e), OSC_PCACHE_DELETED);
    for (unsigned n = 2; n < MANY; n++) {
        assert_int_equal(state_of(pc, n, &e), OSC_PCACHE_FOUND);
        assert_int_equal(state_of(kept, n, &e), OSC_PCACHE_FOUND);
    }
    osc_pcache_destroy(pc);
    osc_pcache_destroy(kept);
}

static void test_reload_marks_unseen_principals_deleted(void **state)
{
    osc_pcache *pc;
    struct osc_pcache_entry e;
    unsigned gen;
    (void)state;

    assert_int_equal(osc_pcache_create(HOUR_US, &pc), OSC_OK);
    for (unsigned n = 1; n <= 4; n++)
        put(pc, n);
    gen = osc_pcache_begin_reload(pc);
    put(pc, 1); /* seen by the load */
    put(pc, 3);
    put(pc, 5); /* new, seen by the load */
    osc_pcache_end_reload(pc, gen);
    assert_int_equal(state_of(pc, 1, &e), OSC_PCACHE_FOUND);
    assert_string_equal(e.name, "user-1");
    assert_int_equal(state_of(pc, 2, &e), OSC_PCACHE_DELETED);
    assert_int_equal(state_of(pc, 3, &e), OSC_PCACHE_FOUND);
    assert_int_equal(state_of(pc, 4, &e), OSC_PCACHE_DELETED);
    assert_int_equal(state_of(pc, 5, &e), OSC_PCACHE_FOUND);
    osc_pcache_destroy(pc);
}

/* A login reads the principal, spends its hash, then puts what it read: a password change that
 * committed and was put meanwhile must stay. */
static void test_a_put_of_an_older_read_is_dropped(void **state)
{
    osc_pcache *pc;
    struct osc_pcache_entry e;
    struct osc_principal before = principal(1, "alice"), after = principal(1, "alice");
    (void)state;

    after.password_epoch = 8;
    after.roles = 0;
    assert_int_equal(osc_pcache_create(HOUR_US, &pc), OSC_OK);
    uint64_t login = osc_pcache_ticket(pc);
    uint64_t change = osc_pcache_ticket(pc);
    assert_true(change > login);
    assert_int_equal(osc_pcache_put(pc, &after, change), OSC_OK);
    assert_int_equal(osc_pcache_put(pc, &before, login), OSC_OK);
    assert_int_equal(osc_pcache_get(pc, before.id, &e), OSC_PCACHE_FOUND);
    assert_int_equal(e.password_epoch, 8);
    assert_int_equal(e.roles, 0);
    /* a read that began later replaces it */
    after.password_epoch = 9;
    assert_int_equal(osc_pcache_put(pc, &after, osc_pcache_ticket(pc)), OSC_OK);
    assert_int_equal(osc_pcache_get(pc, before.id, &e), OSC_PCACHE_FOUND);
    assert_int_equal(e.password_epoch, 9);
    osc_pcache_destroy(pc);
}

/* A full reload reads every principal under one ticket; an entry put from a later read while it
 * ran keeps its state and is not taken for unseen. */
static void test_reload_keeps_what_changed_while_it_read(void **state)
{
    osc_pcache *pc;
    struct osc_pcache_entry e;
    struct osc_principal one = principal(1, "alice"), two = principal(2, "bob");
    (void)state;

    assert_int_equal(osc_pcache_create(HOUR_US, &pc), OSC_OK);
    assert_int_equal(osc_pcache_put(pc, &one, osc_pcache_ticket(pc)), OSC_OK);
    assert_int_equal(osc_pcache_put(pc, &two, osc_pcache_ticket(pc)), OSC_OK);
    unsigned gen = osc_pcache_begin_reload(pc);
    uint64_t reload = osc_pcache_ticket(pc);
    struct osc_principal changed = two;
    changed.enabled = 0;
    assert_int_equal(osc_pcache_put(pc, &changed, osc_pcache_ticket(pc)), OSC_OK);
    assert_int_equal(osc_pcache_put(pc, &one, reload), OSC_OK);
    assert_int_equal(osc_pcache_put(pc, &two, reload), OSC_OK); /* read before the change */
    osc_pcache_end_reload(pc, gen);
    assert_int_equal(osc_pcache_get(pc, one.id, &e), OSC_PCACHE_FOUND);
    assert_int_equal(e.enabled, 1);
    assert_int_equal(osc_pcache_get(pc, two.id, &e), OSC_PCACHE_FOUND);
    assert_int_equal(e.enabled, 0);
    osc_pcache_destroy(pc);
}

static void test_renamed_domain(void **state)
{
    osc_pcache *pc;
    struct osc_pcache_entry e;
    struct osc_principal a = principal(1, "alice"), b = principal(2, "bob");
    (void)state;

    assert_int_equal(osc_pcache_create(HOUR_US, &pc), OSC_OK);
    assert_int_equal(osc_pcache_put(pc, &a, osc_pcache_ticket(pc)), OSC_OK);
    snprintf(b.domain_name, sizeof(b.domain_name), "Renamed");
    assert_int_equal(osc_pcache_put(pc, &b, osc_pcache_ticket(pc)), OSC_OK);
    assert_int_equal(osc_pcache_get(pc, b.id, &e), OSC_PCACHE_FOUND);
    assert_string_equal(e.domain_name, "Renamed");
    /* alice keeps the name she was loaded with until her own update arrives */
    assert_int_equal(osc_pcache_get(pc, a.id, &e), OSC_PCACHE_FOUND);
    assert_string_equal(e.domain_name, "Default");
    snprintf(a.domain_name, sizeof(a.domain_name), "Renamed");
    assert_int_equal(osc_pcache_put(pc, &a, osc_pcache_ticket(pc)), OSC_OK);
    assert_int_equal(osc_pcache_get(pc, a.id, &e), OSC_PCACHE_FOUND);
    assert_string_equal(e.domain_name, "Renamed");
    osc_pcache_destroy(pc); /* frees the retired name too (leak-checked under ASan/valgrind) */
}

static void test_many_principals(void **state)
{
    osc_pcache *pc;
    struct osc_pcache_entry e;
    char want[32];
    (void)state;

    assert_int_equal(osc_pcache_create(HOUR_US, &pc), OSC_OK);
    for (unsigned n = 1; n <= 100000; n++)
        put(pc, n);
    for (unsigned n = 1; n <= 100000; n++) {
        assert_int_equal(state_of(pc, n, &e), OSC_PCACHE_FOUND);
        snprintf(want, sizeof(want), "user-%u", n);
        assert_string_equal(e.name, want);
    }
    assert_int_equal(state_of(pc, 100001, &e), OSC_PCACHE_MISSING);
    osc_pcache_destroy(pc);
}

static void test_revoked_tokens_until_they_expire(void **state)
{
    osc_pcache *pc;
    char id[OSC_ID_LEN + 1];
    int64_t now = osc_now_us();
    (void)state;

    assert_int_equal(osc_pcache_create(HOUR_US, &pc), OSC_OK);
    assert_int_equal(osc_pcache_revoke(pc, "ffffffffffffffffffffffffffffffff", now + HOUR_US),
                     OSC_OK);
    assert_true(osc_pcache_is_revoked(pc, "ffffffffffffffffffffffffffffffff"));
    assert_false(osc_pcache_is_revoked(pc, "fffffffffffffffffffffffffffffffe"));
    /* tokens that expired anyway are dropped when the set makes room */
    for (unsigned n = 0; n < MANY; n++) {
        snprintf(id, sizeof(id), "%032x", n);
        assert_int_equal(osc_pcache_revoke(pc, id, now - 1), OSC_OK);
    }
    assert_false(osc_pcache_is_revoked(pc, "00000000000000000000000000000000"));
    assert_true(osc_pcache_is_revoked(pc, "ffffffffffffffffffffffffffffffff"));
    /* revoking twice is harmless */
    assert_int_equal(osc_pcache_revoke(pc, "ffffffffffffffffffffffffffffffff", now + HOUR_US),
                     OSC_OK);
    assert_true(osc_pcache_is_revoked(pc, "ffffffffffffffffffffffffffffffff"));
    osc_pcache_destroy(pc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_then_get_copies_every_field),
        cmocka_unit_test(test_disabled_domain_disables_its_principals),
        cmocka_unit_test(test_tombstone_is_final),
        cmocka_unit_test(test_tombstones_are_forgotten_after_their_ttl),
        cmocka_unit_test(test_reload_marks_unseen_principals_deleted),
        cmocka_unit_test(test_a_put_of_an_older_read_is_dropped),
        cmocka_unit_test(test_reload_keeps_what_changed_while_it_read),
        cmocka_unit_test(test_renamed_domain),
        cmocka_unit_test(test_many_principals),
        cmocka_unit_test(test_revoked_tokens_until_they_expire),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
