/* The store's statement runner against a scripted database (fake_libpq.c): which failed statements
 * run once more on a fresh connection, and which must not; what a broken unique index on a
 * principal create means. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_libpq.h"
#include "oscred/log.h"
#include "oscred/store.h"
#include "stdout_capture.h"

#define T0 1700000000000000LL

static osc_store *st; /* the store under test; teardown destroys it */

static int setup(void **state)
{
    /* unprepared statements: one scripted answer per statement run */
    const struct osc_store_options opt = {
        .conninfo = "host=fake", .pool_size = 1, .timeout_ms = 50, .prepared = 0};
    (void)state;
    fake_reset(T0);
    return osc_store_create(&opt, &st) == OSC_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    osc_store_destroy(st);
    st = NULL;
    fake_check_and_clear();
    return 0;
}

/* One good statement, so the pool's connection was open before the next request. */
static void warm_up(void)
{
    int version = -1;

    fake_answer_row("7");
    assert_int_equal(osc_store_schema_version(st, &version), OSC_OK);
    assert_int_equal(version, 7);
    assert_int_equal(fake.connects, 1);
}

static void test_store_idempotent_statement_retried_after_dead_connection(void **state)
{
    int version = -1;
    (void)state;

    warm_up();
    /* the server restarted while the connection sat in the pool */
    fake_answer_connection_lost();
    fake_answer_row("8");
    assert_int_equal(osc_store_schema_version(st, &version), OSC_OK);
    assert_int_equal(version, 8);
    assert_int_equal(fake.connects, 2);
    assert_int_equal(fake.execs, 3);
}

static void test_store_statement_on_fresh_connection_not_retried(void **state)
{
    int version = -1;
    (void)state;

    /* a connection opened for this very request that dies says the server is in trouble, not
     * that a stale connection was picked */
    fake_answer_connection_lost();
    assert_int_equal(osc_store_schema_version(st, &version), OSC_E_UNAVAILABLE);
    assert_int_equal(version, -1);
    assert_int_equal(fake.connects, 1);
    assert_int_equal(fake.execs, 1);
}

static void test_store_non_idempotent_statement_not_retried(void **state)
{
    const struct osc_audit a = {.request_id = "req-1", .actor_id = "actor", .actor_kind = "user"};
    (void)state;

    warm_up();
    /* the delete may have committed before the connection died */
    fake_answer_connection_lost();
    assert_int_equal(osc_store_delete_principal(st, &a, "domain", "principal", OSC_KIND_USER),
                     OSC_E_UNAVAILABLE);
    assert_int_equal(fake.connects, 1);
    assert_int_equal(fake.execs, 2);
}

static void test_store_statement_past_deadline_not_retried(void **state)
{
    int version = -1;
    (void)state;

    warm_up();
    fake_answer_nothing();
    assert_int_equal(osc_store_schema_version(st, &version), OSC_E_UNAVAILABLE);
    assert_int_equal(fake.connects, 1);
    assert_int_equal(fake.execs, 2);
}

static const struct osc_audit AUDIT = {
    .request_id = "req-1", .actor_id = "actor", .actor_kind = "user"};

static void test_store_create_with_tag_keys_alike_to_postgres_is_invalid_input(void **state)
{
    const struct osc_new_user u = {.name = "alice", .enabled = 1};
    struct osc_principal out = {0};
    enum osc_kind holder = OSC_KIND_SERVICE_ACCOUNT;
    (void)state;

    warm_up();
    fake_answer_error("23505", "principal_tags_key",
                      "duplicate key value violates unique constraint \"principal_tags_key\"");
    assert_int_equal(osc_store_create_user(st, &AUDIT, "domain", &u, &out, &holder),
                     OSC_E_INVALID_INPUT);
    assert_int_equal(fake.execs, 2); /* nobody is looked up as the name's holder */
    osc_principal_cleanup(&out);
}

static void test_store_create_of_a_name_whose_holder_cannot_be_read_is_a_conflict(void **state)
{
    const struct osc_new_user u = {.name = "alice", .enabled = 1};
    struct osc_principal out = {0};
    enum osc_kind holder = OSC_KIND_SERVICE_ACCOUNT;
    (void)state;

    warm_up();
    fake_answer_error("23505", "principals_domain_name_key",
                      "duplicate key value violates unique constraint");
    /* the lookup of the holder fails: still a conflict, said to be a user's (a holder left
     * uninitialised here crashed the process; test_roles_aws.py's tag test shows that one) */
    fake_answer_error("57014", NULL, "canceling statement due to statement timeout");
    capture_begin();
    osc_err err = osc_store_create_user(st, &AUDIT, "domain", &u, &out, &holder);
    char *log = capture_end();
    assert_int_equal(err, OSC_E_CONFLICT);
    assert_int_equal(holder, OSC_KIND_USER);
    assert_int_equal(fake.execs, 3);
    assert_non_null(strstr(log, "\"statement\":\"find_principal\""));
    free(log);
    osc_principal_cleanup(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_store_idempotent_statement_retried_after_dead_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_statement_on_fresh_connection_not_retried, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store_non_idempotent_statement_not_retried, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_store_create_with_tag_keys_alike_to_postgres_is_invalid_input, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_store_create_of_a_name_whose_holder_cannot_be_read_is_a_conflict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_statement_past_deadline_not_retried, setup,
                                        teardown),
    };

    /* failed statements log warnings on stdout, which carries the TAP stream */
    osc_log_set_level(OSC_LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
