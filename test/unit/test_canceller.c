/* The canceller: every connection handed over is cancelled on the server before it is closed, by a
 * thread of its own; when the queue is full a connection is closed at once, with a log line and
 * no cancel; a refused cancel is logged and the connection still closed; destroy does not wait for
 * a server that does not answer, and the connections already queued are still cancelled.
 *
 * libpq's cancel calls and PQfinish are sent here by the linker (-Wl,--wrap): the fake cancel
 * blocks until the test opens its gate, as PQcancel blocks until the server reads the request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <time.h>

#include "oscred/log.h"
#include "src/store/canceller.h"
#include "stdout_capture.h"

#define NCONNS 8
#define WAIT_S                                                                                     \
    10 /* a condition that does not come within this fails the test instead of hanging it */

/* Stand-ins for connections: only their addresses are used, never their contents. */
static char conns[NCONNS];

static struct {
    pthread_mutex_t mu;
    pthread_cond_t changed;
    int gate_open;      /* PQcancel returns; while closed it blocks */
    int refuse;         /* PQcancel reports failure */
    int seq;            /* orders the events below */
    int cancel[NCONNS]; /* when PQcancel began for conns[i]; 0: never */
    int finish[NCONNS]; /* when PQfinish closed conns[i]; 0: never */
    int handles_freed;  /* PQfreeCancel calls with a handle */
} fk = {.mu = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER};

static PGconn *conn(int i)
{
    return (PGconn *)(void *)&conns[i];
}

static int index_of(const void *p)
{
    for (int i = 0; i < NCONNS; i++)
        if (p == &conns[i])
            return i;
    fail_msg("a connection the test never handed over");
    return -1;
}

/* The cancel handle of a fake connection is the connection's own address. */
PGcancel *__wrap_PQgetCancel(PGconn *c);
PGcancel *__wrap_PQgetCancel(PGconn *c)
{
    return (PGcancel *)(void *)c;
}

void __wrap_PQfreeCancel(PGcancel *cancel);
void __wrap_PQfreeCancel(PGcancel *cancel)
{
    pthread_mutex_lock(&fk.mu);
    fk.handles_freed += cancel != NULL;
    pthread_mutex_unlock(&fk.mu);
}

int __wrap_PQcancel(PGcancel *cancel, char *errbuf, int errbufsize);
int __wrap_PQcancel(PGcancel *cancel, char *errbuf, int errbufsize)
{
    int i = index_of(cancel), refuse;

    pthread_mutex_lock(&fk.mu);
    fk.cancel[i] = ++fk.seq;
    pthread_cond_broadcast(&fk.changed);
    while (!fk.gate_open)
        pthread_cond_wait(&fk.changed, &fk.mu);
    refuse = fk.refuse;
    pthread_mutex_unlock(&fk.mu);
    if (refuse)
        snprintf(errbuf, (size_t)errbufsize, "server closed the connection unexpectedly");
    return !refuse;
}

void __wrap_PQfinish(PGconn *c);
void __wrap_PQfinish(PGconn *c)
{
    int i = index_of(c);

    pthread_mutex_lock(&fk.mu);
    assert_int_equal(fk.finish[i], 0); /* closed once */
    fk.finish[i] = ++fk.seq;
    pthread_cond_broadcast(&fk.changed);
    pthread_mutex_unlock(&fk.mu);
}

static int reset(void **state)
{
    (void)state;
    pthread_mutex_lock(&fk.mu);
    fk.gate_open = 1;
    fk.refuse = 0;
    fk.seq = 0;
    fk.handles_freed = 0;
    memset(fk.cancel, 0, sizeof(fk.cancel));
    memset(fk.finish, 0, sizeof(fk.finish));
    pthread_cond_broadcast(&fk.changed);
    pthread_mutex_unlock(&fk.mu);
    return 0;
}

static void set_gate(int open)
{
    pthread_mutex_lock(&fk.mu);
    fk.gate_open = open;
    pthread_cond_broadcast(&fk.changed);
    pthread_mutex_unlock(&fk.mu);
}

/* Waits until events[i] has happened (fk.cancel or fk.finish). */
static void wait_for(const int *events, int i, const char *what)
{
    struct timespec until;
    int rc = 0;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += WAIT_S;
    pthread_mutex_lock(&fk.mu);
    while (!events[i] && rc == 0)
        rc = pthread_cond_timedwait(&fk.changed, &fk.mu, &until);
    int happened = events[i] != 0;
    pthread_mutex_unlock(&fk.mu);
    if (!happened)
        fail_msg("connection %d: never %s", i, what);
}

static int event(const int *events, int i)
{
    pthread_mutex_lock(&fk.mu);
    int v = events[i];
    pthread_mutex_unlock(&fk.mu);
    return v;
}

static void test_each_connection_is_cancelled_then_closed(void **state)
{
    struct canceller *k = NULL;

    (void)state;
    assert_int_equal(canceller_create(4, &k), OSC_OK);
    for (int i = 0; i < 3; i++)
        canceller_submit(k, conn(i));
    for (int i = 0; i < 3; i++) {
        wait_for(fk.finish, i, "closed");
        assert_true(event(fk.cancel, i) > 0);
        assert_true(event(fk.cancel, i) < event(fk.finish, i));
    }
    canceller_destroy(k);
    pthread_mutex_lock(&fk.mu);
    assert_int_equal(fk.handles_freed, 3);
    pthread_mutex_unlock(&fk.mu);
}

static void test_a_full_queue_closes_the_connection_at_once_without_a_cancel(void **state)
{
    struct canceller *k = NULL;

    (void)state;
    set_gate(0); /* the server does not read cancel requests */
    assert_int_equal(canceller_create(2, &k), OSC_OK);
    canceller_submit(k, conn(0));
    wait_for(fk.cancel, 0, "cancelled"); /* the thread holds conn 0: the queue is empty again */
    canceller_submit(k, conn(1));
    canceller_submit(k, conn(2)); /* the queue is full */
    capture_begin();
    canceller_submit(k, conn(3));
    char *text = capture_end();
    assert_true(event(fk.finish, 3) > 0); /* closed before submit returned */
    assert_int_equal(event(fk.cancel, 3), 0);
    assert_non_null(strstr(text, "\"event\":\"db.cancel_skipped\""));
    assert_non_null(strstr(text, "\"level\":\"warn\""));
    free(text);
    assert_int_equal(event(fk.finish, 0), 0);

    set_gate(1);
    for (int i = 0; i < 3; i++) {
        wait_for(fk.finish, i, "closed");
        assert_true(event(fk.cancel, i) > 0);
        assert_true(event(fk.cancel, i) < event(fk.finish, i));
    }
    assert_int_equal(event(fk.cancel, 3), 0);
    canceller_destroy(k);
}

static void test_a_refused_cancel_is_logged_and_the_connection_still_closed(void **state)
{
    struct canceller *k = NULL;

    (void)state;
    fk.refuse = 1;
    capture_begin();
    assert_int_equal(canceller_create(2, &k), OSC_OK);
    canceller_submit(k, conn(0));
    wait_for(fk.finish, 0, "closed"); /* the line is logged before the close */
    char *text = capture_end();
    canceller_destroy(k);
    assert_non_null(strstr(text, "\"event\":\"db.cancel_failed\""));
    assert_non_null(strstr(text, "server closed the connection unexpectedly"));
    free(text);
}

static void test_destroy_does_not_wait_and_queued_connections_are_still_cancelled(void **state)
{
    struct canceller *k = NULL;

    (void)state;
    set_gate(0);
    assert_int_equal(canceller_create(4, &k), OSC_OK);
    canceller_submit(k, conn(0));
    wait_for(fk.cancel, 0, "cancelled");
    canceller_submit(k, conn(1));
    /* Returns although the thread is stuck in a cancel the server does not read (were it to
     * wait, this test would hang until meson's timeout fails it). */
    canceller_destroy(k);
    assert_int_equal(event(fk.finish, 0), 0);
    assert_int_equal(event(fk.cancel, 1), 0);

    set_gate(1);
    wait_for(fk.finish, 1, "closed");
    assert_true(event(fk.finish, 0) > 0);
    assert_true(event(fk.cancel, 1) > 0);
    assert_true(event(fk.cancel, 1) < event(fk.finish, 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_each_connection_is_cancelled_then_closed, reset),
        cmocka_unit_test_setup(test_a_full_queue_closes_the_connection_at_once_without_a_cancel,
                               reset),
        cmocka_unit_test_setup(test_a_refused_cancel_is_logged_and_the_connection_still_closed,
                               reset),
        cmocka_unit_test_setup(
            test_destroy_does_not_wait_and_queued_connections_are_still_cancelled, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
