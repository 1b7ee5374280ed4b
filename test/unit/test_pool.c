/* The connection pool against a scripted database (fake_libpq.c): results and prepared statements,
 * deadlines, the fail-fast breaker, which errors cost the connection, and reconnect back-off. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "fake_libpq.h"
#include "oscred/log.h"
#include "src/store/pool.h"

#define T0 1700000000000000LL
#define TIMEOUT_MS 50
#define TIMEOUT_US (TIMEOUT_MS * 1000LL)
/* pool.c's constants, which these tests pin down */
#define RECONNECT_INTERVAL_US 500000
#define TRIP_US 1000000

enum { GET_KEY, COUNT_KEYS };

static const struct pool_stmt STMTS[] = {
    {GET_KEY, "get_key", "SELECT secret FROM access_keys WHERE access_key = $1", 1, 1, NULL},
    {COUNT_KEYS, "count_keys", "SELECT count(*) FROM access_keys", 0, 1, NULL},
};

static struct pool *pool; /* the pool under test; teardown destroys it */

static int setup(void **state)
{
    (void)state;
    fake_reset(T0);
    pool = NULL;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pool_destroy(pool);
    pool = NULL;
    fake_check_and_clear();
    return 0;
}

static void open_pool(int size, int prepared)
{
    assert_int_equal(pool_create("host=fake", size, TIMEOUT_MS, prepared, STMTS, 2, &pool), OSC_OK);
}

static osc_err acquire(struct pool_conn **c)
{
    return pool_acquire(pool, pool_deadline(pool), c, NULL);
}

/* An acquisition that fails, and the reason it gives for the log. */
static void acquire_fails_saying(const char *why)
{
    struct pool_conn *c = NULL;
    struct pool_error perr;

    assert_int_equal(pool_acquire(pool, pool_deadline(pool), &c, &perr), OSC_E_UNAVAILABLE);
    assert_string_equal(perr.message, why);
}

static const char *const VALUES[] = {"AKIDEXAMPLE000000001"};

static osc_err exec(struct pool_conn *c, int id, PGresult **res, struct pool_error *perr)
{
    return pool_exec(c, pool_deadline(pool), &STMTS[id], VALUES, NULL, NULL, res, perr);
}

/* Runs id on a connection of its own and expects the given error; the connection goes back. */
static void exec_expect(int id, osc_err want)
{
    struct pool_conn *c = NULL;
    struct pool_error perr;
    PGresult *res = NULL;

    assert_int_equal(acquire(&c), OSC_OK);
    assert_int_equal(exec(c, id, &res, &perr), want);
    PQclear(res);
    pool_release(pool, c);
}

/* One statement gets no answer and runs into its deadline after a spell in which the database was
 * asked nothing (quiet) or right away. */
static void statement_runs_into_deadline(int quiet)
{
    if (quiet)
        fake.now_us += 10 * TIMEOUT_US;
    fake_answer_nothing();
    exec_expect(GET_KEY, OSC_E_UNAVAILABLE);
}

/* Opens both connections of a two-slot pool, so later acquisitions need not connect. */
static void connect_both(void)
{
    struct pool_conn *a = NULL, *b = NULL;

    assert_int_equal(acquire(&a), OSC_OK);
    assert_int_equal(acquire(&b), OSC_OK);
    pool_release(pool, a);
    pool_release(pool, b);
    assert_int_equal(fake.connects, 2);
}

static void test_pool_exec_returns_result_and_prepares_once(void **state)
{
    struct pool_conn *c = NULL;
    struct pool_error perr;
    PGresult *res = NULL;
    (void)state;

    open_pool(1, 1);
    assert_int_equal(acquire(&c), OSC_OK);
    assert_true(pool_conn_fresh(c));

    fake_answer_ok();
    fake_answer_row("secret-1");
    assert_int_equal(exec(c, GET_KEY, &res, &perr), OSC_OK);
    assert_string_equal(PQgetvalue(res, 0, 0), "secret-1");
    PQclear(res);
    assert_int_equal(fake.prepares, 1);
    assert_string_equal(fake.prepared_name, "get_key");
    assert_int_equal(fake.execs, 1);
    assert_string_equal(fake.exec_name, "get_key");
    assert_string_equal(fake.exec_first_value, "AKIDEXAMPLE000000001");

    fake_answer_row("secret-2");
    assert_int_equal(exec(c, GET_KEY, &res, &perr), OSC_OK);
    assert_string_equal(PQgetvalue(res, 0, 0), "secret-2");
    PQclear(res);
    assert_int_equal(fake.prepares, 1);

    /* preparedness is per statement */
    fake_answer_ok();
    fake_answer_row("2");
    assert_int_equal(exec(c, COUNT_KEYS, &res, &perr), OSC_OK);
    assert_string_equal(PQgetvalue(res, 0, 0), "2");
    PQclear(res);
    assert_int_equal(fake.prepares, 2);
    assert_string_equal(fake.prepared_name, "count_keys");
    pool_release(pool, c);

    /* and it outlives the acquisition: the connection stays open in the pool */
    assert_int_equal(acquire(&c), OSC_OK);
    assert_false(pool_conn_fresh(c));
    fake_answer_row("secret-3");
    assert_int_equal(exec(c, GET_KEY, &res, &perr), OSC_OK);
    assert_string_equal(PQgetvalue(res, 0, 0), "secret-3");
    PQclear(res);
    pool_release(pool, c);
    assert_int_equal(fake.prepares, 2);
    assert_int_equal(fake.execs, 4);
    assert_int_equal(fake.connects, 1);
}

static void test_pool_exec_unprepared_sends_the_sql(void **state)
{
    struct pool_conn *c = NULL;
    struct pool_error perr;
    PGresult *res = NULL;
    (void)state;

    open_pool(1, 0);
    assert_int_equal(acquire(&c), OSC_OK);
    for (int i = 0; i < 2; i++) {
        fake_answer_row("secret");
        assert_int_equal(exec(c, GET_KEY, &res, &perr), OSC_OK);
        assert_string_equal(PQgetvalue(res, 0, 0), "secret");
        PQclear(res);
    }
    pool_release(pool, c);
    assert_int_equal(fake.prepares, 0);
    assert_int_equal(fake.execs, 2);
    assert_string_equal(fake.exec_name, STMTS[GET_KEY].sql);
}

static void test_pool_deadline_cancels_statement_and_drops_connection(void **state)
{
    struct pool_conn *c = NULL;
    struct pool_error perr;
    PGresult *res = NULL;
    (void)state;

    open_pool(1, 1);
    assert_int_equal(acquire(&c), OSC_OK);
    fake_answer_ok();
    fake_answer_nothing();
    int64_t deadline = pool_deadline(pool);
    assert_int_equal(pool_exec(c, deadline, &STMTS[GET_KEY], VALUES, NULL, NULL, &res, &perr),
                     OSC_E_UNAVAILABLE);
    assert_null(res);
    assert_true(fake.now_us >= deadline);
    assert_string_equal(perr.message, "no answer before the deadline (cancel requested)");
    /* The statement may still be running: the server is asked to cancel it, and the connection is
     * closed so that its answer, if it comes, is not read as the answer to a later statement. */
    assert_int_equal(fake.cancels, 1);
    assert_true(fake.conns[0].cancelled);
    assert_int_equal(fake.finishes, 1);
    pool_release(pool, c);

    assert_int_equal(acquire(&c), OSC_OK);
    assert_true(pool_conn_fresh(c));
    assert_int_equal(fake.connects, 2);
    pool_release(pool, c);
}

static void test_pool_one_deadline_does_not_trip(void **state)
{
    struct pool_conn *c = NULL;
    (void)state;

    open_pool(2, 0);
    connect_both();
    /* a quiet spell: the database is asked nothing, so it answers nothing */
    statement_runs_into_deadline(1);

    /* one statement stuck on a row lock says nothing about the server */
    assert_int_equal(acquire(&c), OSC_OK);
    pool_release(pool, c);
    fake_answer_row("1");
    exec_expect(COUNT_KEYS, OSC_OK);
}

static void test_pool_second_deadline_without_answer_trips(void **state)
{
    struct pool_conn *c = NULL;
    (void)state;

    open_pool(2, 0);
    connect_both();
    statement_runs_into_deadline(1);
    statement_runs_into_deadline(0);
    int64_t tripped_at = fake.now_us;
    assert_int_equal(fake.connects, 2);

    /* both slots are free and closed: without the trip this would connect */
    acquire_fails_saying("failing fast: the database answered nothing for a whole deadline");
    fake.now_us = tripped_at + TRIP_US - 1;
    assert_int_equal(acquire(&c), OSC_E_UNAVAILABLE);
    assert_int_equal(fake.connects, 2);
    assert_true(fake.now_us == tripped_at + TRIP_US - 1); /* nothing waited */

    fake.now_us = tripped_at + TRIP_US;
    assert_int_equal(acquire(&c), OSC_OK);
    assert_int_equal(fake.connects, 3);
    pool_release(pool, c);
}

static struct pool_conn *other; /* the connection of the request run by during_silence */

/* While the first statement waits, a second one on the other connection runs into its deadline: it
 * alone, the first deadline in a quiet spell, trips the breaker, because another statement waits on
 * the silent server too. */
static void second_statement_runs_into_deadline_and_trips(void)
{
    struct pool_conn *c = NULL;
    struct pool_error perr;
    PGresult *res = NULL;

    assert_int_equal(
        pool_exec(other, pool_deadline(pool), &STMTS[GET_KEY], VALUES, NULL, NULL, &res, &perr),
        OSC_E_UNAVAILABLE);
    pool_release(pool, other);
    /* the slot just freed is closed: without the trip this would connect */
    assert_int_equal(acquire(&c), OSC_E_UNAVAILABLE);
    assert_int_equal(fake.connects, 2);
}

static void test_pool_deadline_while_another_statement_waits_trips(void **state)
{
    struct pool_conn *c = NULL;
    struct pool_error perr;
    PGresult *res = NULL;
    (void)state;

    open_pool(2, 0);
    assert_int_equal(acquire(&c), OSC_OK);
    assert_int_equal(acquire(&other), OSC_OK);
    fake.now_us += 10 * TIMEOUT_US; /* a quiet spell, without any deadline in it */
    fake_answer_nothing();
    fake_answer_nothing();
    fake.during_silence = second_statement_runs_into_deadline_and_trips;
    assert_int_equal(exec(c, GET_KEY, &res, &perr), OSC_E_UNAVAILABLE);
    assert_null(fake.during_silence); /* the second statement did run */
    pool_release(pool, c);
}

static void test_pool_answer_between_deadlines_prevents_trip(void **state)
{
    struct pool_conn *c = NULL;
    (void)state;

    open_pool(2, 0);
    connect_both();
    statement_runs_into_deadline(1);
    fake_answer_row("1");
    exec_expect(COUNT_KEYS, OSC_OK);
    /* quiet again for longer than a deadline, so only that answer can keep the breaker closed */
    statement_runs_into_deadline(1);

    assert_int_equal(acquire(&c), OSC_OK);
    assert_int_equal(fake.connects, 3);
    pool_release(pool, c);
}

static void test_pool_deadlines_soon_after_an_answer_do_not_trip(void **state)
{
    struct pool_conn *a = NULL, *b = NULL;
    struct pool_error perr;
    PGresult *res = NULL;
    (void)state;

    open_pool(2, 0);
    assert_int_equal(acquire(&a), OSC_OK);
    assert_int_equal(acquire(&b), OSC_OK);
    /* Two requests that started before the connections answered: their deadlines come less than
     * a timeout after that answer, so the database was not silent for a whole deadline. */
    int64_t answered = fake.now_us;
    fake_answer_nothing();
    assert_int_equal(
        pool_exec(a, answered + TIMEOUT_US / 4, &STMTS[GET_KEY], VALUES, NULL, NULL, &res, &perr),
        OSC_E_UNAVAILABLE);
    fake_answer_nothing();
    assert_int_equal(
        pool_exec(b, answered + TIMEOUT_US / 2, &STMTS[GET_KEY], VALUES, NULL, NULL, &res, &perr),
        OSC_E_UNAVAILABLE);
    pool_release(pool, a);
    pool_release(pool, b);

    assert_int_equal(acquire(&a), OSC_OK);
    assert_int_equal(fake.connects, 3);
    pool_release(pool, a);
}

static void test_pool_connection_lost_sqlstates_drop_connection(void **state)
{
    /* connection exceptions, admin shutdown / crash / cannot connect now, a read-only server after
     * failover, a prepared statement lost behind a pooler */
    static const char *const lost[] = {"08006", "08P01", "57P01", "57P02",
                                       "57P03", "25006", "26000"};
    struct pool_conn *c = NULL;
    struct pool_error perr;
    PGresult *res = NULL;
    (void)state;

    open_pool(1, 0);
    for (int i = 0; i < (int)(sizeof(lost) / sizeof(lost[0])); i++) {
        assert_int_equal(acquire(&c), OSC_OK);
        assert_int_equal(fake.connects, i + 1);
        fake_answer_error(lost[i], NULL, "terminating connection");
        assert_int_equal(exec(c, GET_KEY, &res, &perr), OSC_E_UNAVAILABLE);
        assert_null(res);
        assert_string_equal(perr.sqlstate, lost[i]);
        assert_int_equal(fake.finishes, i + 1);
        assert_int_equal(fake.cancels, 0); /* the statement ended with the session */
        pool_release(pool, c);
    }
}

static void test_pool_connection_bad_drops_connection_and_its_statements(void **state)
{
    struct pool_conn *c = NULL;
    struct pool_error perr;
    PGresult *res = NULL;
    (void)state;

    open_pool(1, 1);
    assert_int_equal(acquire(&c), OSC_OK);
    fake_answer_ok();
    fake_answer_row("secret");
    assert_int_equal(exec(c, GET_KEY, &res, &perr), OSC_OK);
    PQclear(res);
    res = NULL;
    fake_answer_connection_lost();
    assert_int_equal(exec(c, GET_KEY, &res, &perr), OSC_E_UNAVAILABLE);
    assert_null(res);
    assert_string_equal(perr.sqlstate, "");
    assert_string_equal(perr.message, "fake libpq: no answer"); /* without libpq's newline */
    assert_int_equal(fake.finishes, 1);
    pool_release(pool, c);

    /* the new server session has none of the old one's prepared statements */
    assert_int_equal(acquire(&c), OSC_OK);
    assert_int_equal(fake.connects, 2);
    fake_answer_ok();
    fake_answer_row("secret");
    assert_int_equal(exec(c, GET_KEY, &res, &perr), OSC_OK);
    PQclear(res);
    pool_release(pool, c);
    assert_int_equal(fake.prepares, 2);
}

static void test_pool_replaces_an_idle_connection_the_server_ended(void **state)
{
    struct pool_conn *c = NULL;
    struct pool_error perr;
    PGresult *res = NULL;
    (void)state;

    open_pool(1, 1);
    fake_answer_ok();
    fake_answer_row("secret");
    exec_expect(GET_KEY, OSC_OK);
    /* a restart: the server says FATAL 57P01 and closes the idle connection */
    fake.conns[0].ended = 1;
    assert_int_equal(acquire(&c), OSC_OK);
    assert_int_equal(fake.finishes, 1);
    assert_int_equal(fake.connects, 2);
    assert_true(pool_conn_fresh(c));
    fake_answer_ok();
    fake_answer_row("secret");
    assert_int_equal(exec(c, GET_KEY, &res, &perr), OSC_OK);
    PQclear(res);
    pool_release(pool, c);
}

static void test_pool_statement_error_keeps_connection(void **state)
{
    /* 57014 (query_canceled) is class 57 but not 57P: the session survives a cancelled statement */
    static const char *const kept[] = {"23505", "40001", "42P01", "57014"};
    struct pool_conn *c = NULL;
    struct pool_error perr;
    PGresult *res = NULL;
    (void)state;

    open_pool(1, 1);
    assert_int_equal(acquire(&c), OSC_OK);
    fake_answer_ok();
    fake_answer_error("23505", "access_keys_pkey", "duplicate key value");
    assert_int_equal(exec(c, GET_KEY, &res, &perr), OSC_E_INTERNAL);
    assert_null(res);
    assert_string_equal(perr.sqlstate, "23505");
    assert_string_equal(perr.constraint, "access_keys_pkey");
    assert_string_equal(perr.message, "duplicate key value");

    for (int i = 0; i < (int)(sizeof(kept) / sizeof(kept[0])); i++) {
        fake_answer_error(kept[i], NULL, "statement failed");
        assert_int_equal(exec(c, GET_KEY, &res, &perr), OSC_E_INTERNAL);
        assert_string_equal(perr.sqlstate, kept[i]);
        assert_string_equal(perr.constraint, "");
    }
    fake_answer_row("secret");
    assert_int_equal(exec(c, GET_KEY, &res, &perr), OSC_OK);
    PQclear(res);
    pool_release(pool, c);
    assert_int_equal(fake.finishes, 0);
    assert_int_equal(fake.connects, 1);
    assert_int_equal(fake.prepares, 1);
}

static void test_pool_failed_connect_backs_off(void **state)
{
    struct pool_conn *c = NULL;
    int in_use = -1, idle = -1, waiting = -1;
    (void)state;

    open_pool(1, 0);
    fake.refuse_connect = 1;
    /* libpq's message without its newline */
    acquire_fails_saying("cannot connect to the database: fake libpq: no answer");
    assert_int_equal(fake.connects, 1);
    assert_int_equal(fake.finishes, 1);
    pool_stats(pool, &in_use, &idle, &waiting);
    assert_int_equal(in_use, 0);
    assert_int_equal(idle, 1);
    assert_int_equal(waiting, 0);

    /* the server is back, but a slot that just failed answers at once rather than retrying */
    fake.refuse_connect = 0;
    acquire_fails_saying("cannot connect to the database (the last attempt failed moments ago)");
    fake.now_us += RECONNECT_INTERVAL_US - 1;
    assert_int_equal(acquire(&c), OSC_E_UNAVAILABLE);
    assert_int_equal(fake.connects, 1);

    fake.now_us += 1;
    assert_int_equal(acquire(&c), OSC_OK);
    assert_int_equal(fake.connects, 2);
    pool_release(pool, c);
}

static void test_pool_acquire_prefers_live_then_connectable_slot(void **state)
{
    struct pool_conn *c = NULL;
    (void)state;

    open_pool(2, 0);
    fake.refuse_connect = 1;
    assert_int_equal(acquire(&c), OSC_E_UNAVAILABLE);
    fake.refuse_connect = 0;

    /* the first slot backs off; the second may connect, so the request is served */
    assert_int_equal(acquire(&c), OSC_OK);
    assert_int_equal(fake.connects, 2);
    pool_release(pool, c);

    /* once the first slot may connect again, the open connection still comes first */
    fake.now_us += RECONNECT_INTERVAL_US;
    assert_int_equal(acquire(&c), OSC_OK);
    assert_false(pool_conn_fresh(c));
    assert_int_equal(fake.connects, 2);
    pool_release(pool, c);
}

/* Waiting for a connection happens on the real clock (a condition variable); these tests give
 * pool_acquire real CLOCK_MONOTONIC deadlines. The fake clock only feeds the breaker. */
static int64_t real_deadline(int64_t in_us)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 + in_us;
}

static int waiting_now(void)
{
    int in_use = 0, idle = 0, waiting = 0;
    pool_stats(pool, &in_use, &idle, &waiting);
    return waiting;
}

/* Polls (up to 10 s) until exactly N requests wait for a connection. */
static void wait_for_waiters(int n)
{
    const struct timespec tick = {0, 1000000};
    int64_t until = real_deadline(10 * 1000000LL);
    while (waiting_now() != n && real_deadline(0) < until)
        nanosleep(&tick, NULL);
    assert_int_equal(waiting_now(), n);
}

struct waiter {
    const char *name;
    int64_t wait_us;
    pthread_t thread;
    osc_err err;
    struct pool_conn *got;
    atomic_int release; /* set by the test: give the connection back */
};

static const char *served[4]; /* names in the order the waiters got their connection */
static atomic_int nserved;

static void *waiter_main(void *arg)
{
    struct waiter *w = arg;
    const struct timespec tick = {0, 1000000};

    w->err = pool_acquire(pool, real_deadline(w->wait_us), &w->got, NULL);
    if (w->err == OSC_OK) {
        served[atomic_fetch_add(&nserved, 1)] = w->name;
        while (!atomic_load(&w->release))
            nanosleep(&tick, NULL);
        pool_release(pool, w->got);
    }
    return NULL;
}

/* Lets a served waiter give its connection back and waits for its thread to end. */
static void let_go(struct waiter *w)
{
    atomic_store(&w->release, 1);
    pthread_join(w->thread, NULL);
}

static void start_waiter(struct waiter *w, const char *name, int64_t wait_us)
{
    w->name = name;
    w->wait_us = wait_us;
    w->got = NULL;
    atomic_store(&w->release, 0);
    assert_int_equal(pthread_create(&w->thread, NULL, waiter_main, w), 0);
}

#define LONG_WAIT_US 10000000LL

/* A pool of one whose connection the test holds. */
static struct pool_conn *hold_the_only_connection(void)
{
    struct pool_conn *held = NULL;

    atomic_store(&nserved, 0);
    open_pool(1, 0);
    assert_int_equal(acquire(&held), OSC_OK);
    return held;
}

/* Starts a waiter and returns once it is the queue's N-th. */
static void queue_waiter(struct waiter *w, const char *name, int64_t wait_us, int n)
{
    start_waiter(w, name, wait_us);
    wait_for_waiters(n);
}

static void test_pool_waiters_are_served_in_arrival_order(void **state)
{
    struct pool_conn *c = NULL;
    struct pool_error perr;
    struct waiter a, b, late;
    (void)state;

    struct pool_conn *held = hold_the_only_connection();
    queue_waiter(&a, "a", LONG_WAIT_US, 1);
    queue_waiter(&b, "b", LONG_WAIT_US, 2);

    /* The released connection goes to the oldest waiter, not to a request that comes in
     * meanwhile: that one queues behind the others. */
    pool_release(pool, held);
    assert_int_equal(pool_acquire(pool, real_deadline(0), &c, &perr), OSC_E_UNAVAILABLE);
    assert_string_equal(perr.message, "no pooled connection came free before the deadline");
    queue_waiter(&late, "late", LONG_WAIT_US, 2);

    let_go(&a);
    wait_for_waiters(1);
    let_go(&b);
    let_go(&late);

    assert_int_equal(atomic_load(&nserved), 3);
    assert_string_equal(served[0], "a");
    assert_string_equal(served[1], "b");
    assert_string_equal(served[2], "late");
    assert_ptr_equal(a.got, held);
    assert_ptr_equal(b.got, held);
    assert_int_equal(waiting_now(), 0);
    assert_int_equal(fake.connects, 1);
}

static void test_pool_waiter_past_its_deadline_leaves_the_queue(void **state)
{
    struct pool_conn *c = NULL;
    struct waiter a, b, d;
    (void)state;

    struct pool_conn *held = hold_the_only_connection();
    queue_waiter(&a, "a", LONG_WAIT_US, 1);
    queue_waiter(&b, "b", 20000, 2); /* gives up in the middle of the queue */
    queue_waiter(&d, "d", LONG_WAIT_US, 3);
    pthread_join(b.thread, NULL);
    assert_int_equal(b.err, OSC_E_UNAVAILABLE);
    wait_for_waiters(2);

    pool_release(pool, held);
    let_go(&a);
    let_go(&d);
    assert_int_equal(a.err, OSC_OK);
    assert_int_equal(d.err, OSC_OK);
    assert_int_equal(atomic_load(&nserved), 2);
    assert_string_equal(served[0], "a");
    assert_string_equal(served[1], "d");

    /* the last one out leaves the slot free */
    assert_int_equal(waiting_now(), 0);
    assert_int_equal(pool_acquire(pool, real_deadline(0), &c, NULL), OSC_OK);
    pool_release(pool, c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pool_exec_returns_result_and_prepares_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pool_exec_unprepared_sends_the_sql, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_deadline_cancels_statement_and_drops_connection,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_one_deadline_does_not_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_second_deadline_without_answer_trips, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pool_deadline_while_another_statement_waits_trips,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_answer_between_deadlines_prevents_trip, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pool_deadlines_soon_after_an_answer_do_not_trip, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pool_connection_lost_sqlstates_drop_connection, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_pool_connection_bad_drops_connection_and_its_statements, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_replaces_an_idle_connection_the_server_ended,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_statement_error_keeps_connection, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pool_failed_connect_backs_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_waiters_are_served_in_arrival_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pool_waiter_past_its_deadline_leaves_the_queue, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pool_acquire_prefers_live_then_connectable_slot, setup,
                                        teardown),
    };

    /* a failed connect logs a warning on stdout, which carries the TAP stream */
    osc_log_set_level(OSC_LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
