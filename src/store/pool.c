/* The libpq connection pool: a fixed set of connections shared by the worker threads, opened
 * lazily, re-opened after a failure (at most twice a second each), and every wait bounded by a
 * client-side deadline, because statement_timeout in the connection options does not pass
 * pgbouncer and a dead server must give a prompt 503, not a hung worker. */
#include "pool.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "canceller.h"
#include "oscred/ctx.h"
#include "oscred/log.h"
#include "oscred/metrics.h"

#define RECONNECT_INTERVAL_US 500000
/* Once the database is taken for not answering (deadline_passed), requests fail at once for this
 * long instead of each waiting out its own deadline: workers block while they wait, so a request
 * queued behind a stuck one would otherwise take two deadlines to get its 503. */
#define TRIP_US 1000000

struct pool;

/* A request waiting for a connection. Waiters are served in arrival order: pool_release hands its
 * connection to the oldest one, so a request that just arrived (or a worker that just released)
 * cannot take it first, and no request waits out more than its share of the queue. */
struct pool_waiter {
    struct pool_waiter *next;
    struct pool_conn *given; /* set by pool_release under the pool's mutex */
    pthread_cond_t cv;
};

struct pool_conn {
    struct pool *pool;
    PGconn *conn;
    unsigned char *prepared; /* per statement: prepared on this connection */
    int64_t next_connect_us; /* backoff after a failed connect */
    int fresh;
    int in_use;
    int use_prepared;
};

struct pool {
    char *conninfo;
    int size;
    int timeout_ms;
    const struct pool_stmt *stmts;
    int nstmts;
    struct pool_conn *conns;
    struct canceller *canceller; /* takes the connections whose statement ran into its deadline */
    int in_use;
    pthread_mutex_t mu;
    pthread_condattr_t cv_attr;       /* CLOCK_MONOTONIC, for the waiters' condition variables */
    struct pool_waiter *first, *last; /* requests waiting for a connection, oldest first */
    int nwaiting;
    _Atomic int64_t tripped_until_us;
    _Atomic int64_t
        last_answer_us; /* when the database last answered anything, on any connection */
    _Atomic int64_t last_timeout_us; /* when a statement or connect last ran into its deadline */
    _Atomic int waiting;             /* statements and connects waiting on the server right now */
};

static void notice_sink(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* notices (e.g. "relation already exists, skipping") are not errors */
}

osc_err pool_create(const char *conninfo, int size, int timeout_ms, int prepared,
                    const struct pool_stmt *stmts, int nstmts, struct pool **out)
{
    osc_err err = OSC_OK;
    struct pool *p = calloc(1, sizeof(*p));

    if (!p || size < 1) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    p->conninfo = strdup(conninfo);
    p->conns = calloc((size_t)size, sizeof(*p->conns));
    if (!p->conninfo || !p->conns) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    err = canceller_create(size, &p->canceller);
    if (err)
        goto out;
    for (int i = 0; i < size; i++) {
        p->conns[i].prepared = calloc((size_t)(nstmts > 0 ? nstmts : 1), 1);
        if (!p->conns[i].prepared) {
            err = OSC_E_INTERNAL;
            goto out;
        }
        p->conns[i].use_prepared = prepared;
        p->conns[i].pool = p;
    }
    p->size = size;
    p->timeout_ms = timeout_ms;
    p->stmts = stmts;
    p->nstmts = nstmts;
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_init(&p->cv_attr);
    pthread_condattr_setclock(&p->cv_attr, CLOCK_MONOTONIC); /* deadlines are osc_mono_us */
out:
    if (err) {
        if (p && p->conns) {
            for (int i = 0; i < size; i++)
                free(p->conns[i].prepared);
        }
        if (p) {
            canceller_destroy(p->canceller);
            free(p->conns);
            free(p->conninfo);
        }
        free(p);
    } else {
        *out = p;
    }
    return err;
}

void pool_destroy(struct pool *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->size; i++) {
        if (p->conns[i].conn)
            PQfinish(p->conns[i].conn);
        free(p->conns[i].prepared);
    }
    canceller_destroy(p->canceller);
    pthread_condattr_destroy(&p->cv_attr);
    pthread_mutex_destroy(&p->mu);
    free(p->conns);
    free(p->conninfo);
    free(p);
}

void pool_stats(struct pool *p, int *in_use, int *idle, int *waiting)
{
    pthread_mutex_lock(&p->mu);
    *in_use = p->in_use;
    *idle = p->size - p->in_use;
    *waiting = p->nwaiting;
    pthread_mutex_unlock(&p->mu);
}

int64_t pool_deadline(struct pool *p)
{
    return osc_mono_us() + (int64_t)p->timeout_ms * 1000;
}

static int remaining_ms(int64_t deadline_us)
{
    int64_t left = deadline_us - osc_mono_us();
    if (left <= 0)
        return 0;
    return (int)((left + 999) / 1000);
}

/* A statement or connect ran into its deadline. The database is taken for not answering, and
 * requests fail fast for a while instead of each waiting out its own deadline, only when it
 * answered nothing during that time and something else says it is not just this statement:
 * another one waits on it right now too, or another one ran into its deadline before with no
 * answer in between. One statement alone proves nothing: it may be stuck on a row lock held
 * elsewhere while a quiet server simply had nothing else to ask; when other statements were
 * answered meanwhile, only this one was stuck and nobody else is failed for it. */
static void deadline_passed(struct pool *p)
{
    int64_t now = osc_mono_us();
    int64_t last_answer = atomic_load(&p->last_answer_us);
    int64_t previous_timeout = atomic_exchange(&p->last_timeout_us, now);
    int others_waiting = atomic_load(&p->waiting) > 1; /* the caller is one of them */

    if (last_answer < now - (int64_t)p->timeout_ms * 1000 &&
        (others_waiting || previous_timeout > last_answer))
        atomic_store(&p->tripped_until_us, now + TRIP_US);
}

enum wait_result { WAIT_READY, WAIT_FAILED, WAIT_DEADLINE };

/* Waits for the socket to be ready for events; deadline_passed is told when the deadline passes. */
static enum wait_result wait_socket(struct pool_conn *c, PGconn *conn, short events,
                                    int64_t deadline_us)
{
    struct pollfd pfd = {.fd = PQsocket(conn), .events = events};
    enum wait_result rc = WAIT_FAILED;

    if (pfd.fd < 0)
        return WAIT_FAILED;
    atomic_fetch_add(&c->pool->waiting, 1);
    for (;;) {
        int ms = remaining_ms(deadline_us);
        int r;

        if (ms == 0) {
            deadline_passed(c->pool);
            rc = WAIT_DEADLINE;
            break;
        }
        r = poll(&pfd, 1, ms);
        if (r > 0) {
            rc = WAIT_READY;
            break;
        }
        if (r == 0) {
            deadline_passed(c->pool);
            rc = WAIT_DEADLINE;
            break;
        }
        if (errno != EINTR)
            break;
    }
    atomic_fetch_sub(&c->pool->waiting, 1);
    return rc;
}

static void drop_connection(struct pool_conn *c)
{
    if (c->conn)
        PQfinish(c->conn);
    c->conn = NULL;
}

static void mark_broken(struct pool_conn *c)
{
    drop_connection(c);
    /* The next acquisition reconnects at once: a restarted server is usually back already. */
    c->next_connect_us = 0;
}

/* The statement sent on c ran into its deadline and may still be running: the canceller stops it
 * on the server and closes the connection; c reconnects on a later acquisition. */
static void abandon_statement(struct pool_conn *c)
{
    osc_metrics_db_cancel();
    canceller_submit(c->pool->canceller, c->conn);
    c->conn = NULL;
    c->next_connect_us = 0;
}

/* Says why in perr (which may be NULL). */
static void explain(struct pool_error *perr, const char *why, const char *detail)
{
    if (!perr)
        return;
    memset(perr, 0, sizeof(*perr));
    snprintf(perr->message, sizeof(perr->message), "%s%s%.*s", why, detail ? ": " : "",
             /* libpq's messages end in a newline */
             detail ? (int)strcspn(detail, "\n") : 0, detail ? detail : "");
}

static osc_err connect_conn(struct pool *p, struct pool_conn *c, int64_t deadline_us,
                            struct pool_error *perr)
{
    osc_err err = OSC_OK;
    PGconn *conn = NULL;
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    enum wait_result waited = WAIT_READY;

    if (osc_mono_us() < c->next_connect_us) {
        explain(perr, "cannot connect to the database (the last attempt failed moments ago)", NULL);
        return OSC_E_UNAVAILABLE;
    }
    conn = PQconnectStart(p->conninfo);
    if (!conn || PQstatus(conn) == CONNECTION_BAD) {
        err = OSC_E_UNAVAILABLE;
        goto out;
    }
    while (st != PGRES_POLLING_OK) {
        if (st == PGRES_POLLING_FAILED) {
            err = OSC_E_UNAVAILABLE;
            goto out;
        }
        waited = wait_socket(c, conn, st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline_us);
        if (waited != WAIT_READY) {
            err = OSC_E_UNAVAILABLE;
            goto out;
        }
        st = PQconnectPoll(conn);
    }
    if (PQsetnonblocking(conn, 1) != 0) {
        err = OSC_E_UNAVAILABLE;
        goto out;
    }
    PQsetNoticeProcessor(conn, notice_sink, NULL);
out:
    if (err) {
        if (waited == WAIT_DEADLINE)
            explain(perr, "cannot connect to the database: no answer before the deadline", NULL);
        else
            explain(perr, "cannot connect to the database", conn ? PQerrorMessage(conn) : NULL);
        if (conn) {
            osc_log(OSC_LOG_WARN, "db.connect_failed", "detail", PQerrorMessage(conn), OSC_LOG_END);
            PQfinish(conn);
        }
        c->next_connect_us = osc_mono_us() + RECONNECT_INTERVAL_US;
    } else {
        c->conn = conn;
        atomic_store(&p->last_answer_us, osc_mono_us());
        c->fresh = 1;
        memset(c->prepared, 0, (size_t)(p->nstmts > 0 ? p->nstmts : 1));
    }
    return err;
}

/* An idle pooled connection has nothing to read: it listens to no channel and sets nothing that
 * reports back. When it has, the server spoke unasked, as a rule to end the session (a restart,
 * pg_terminate_backend) before closing the socket; libpq would hand that FATAL to the notice
 * processor and keep the connection for the next statement, which would fail. So it is replaced
 * before a statement goes out on it, and a restarted server costs no request a 503. */
static int idle_conn_quiet(PGconn *conn)
{
    struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};

    return poll(&pfd, 1, 0) == 0;
}

/* A free slot, with p->mu held and p->in_use < p->size (NULL only if p->in_use stopped counting
 * the slots in use). Prefers a live connection, then one that may try to connect now, so one slot
 * in its reconnect back-off does not fail requests another slot could serve. */
static struct pool_conn *take_free_slot(struct pool *p)
{
    struct pool_conn *c = NULL;
    int64_t now = osc_mono_us();

    for (int i = 0; i < p->size && !c; i++) {
        if (!p->conns[i].in_use && p->conns[i].conn)
            c = &p->conns[i];
    }
    for (int i = 0; i < p->size && !c; i++) {
        if (!p->conns[i].in_use && p->conns[i].next_connect_us <= now)
            c = &p->conns[i];
    }
    for (int i = 0; i < p->size && !c; i++) {
        if (!p->conns[i].in_use)
            c = &p->conns[i];
    }
    if (c) {
        c->in_use = 1;
        p->in_use++;
    }
    return c;
}

/* Queues the caller behind the requests already waiting, with p->mu held, until pool_release
 * hands it a slot or DEADLINE passes (NULL). */
static struct pool_conn *wait_for_handoff(struct pool *p, const struct timespec *deadline)
{
    struct pool_waiter w = {.next = NULL, .given = NULL};

    pthread_cond_init(&w.cv, &p->cv_attr);
    /* The queue holds the address of this frame's waiter only while we wait here: every way out
     * of the loop below has taken it off the queue (pool_release or the timeout). */
    if (p->last)
        p->last->next = &w; // cppcheck-suppress autoVariables
    else
        p->first = &w; // cppcheck-suppress autoVariables
    p->last = &w;      // cppcheck-suppress autoVariables
    p->nwaiting++;
    while (!w.given) {
        if (pthread_cond_timedwait(&w.cv, &p->mu, deadline) == ETIMEDOUT && !w.given) {
            struct pool_waiter **link = &p->first, *prev = NULL;
            while (*link != &w) {
                prev = *link;
                link = &(*link)->next;
            }
            *link = w.next;
            if (p->last == &w)
                p->last = prev;
            break;
        }
    }
    p->nwaiting--;
    pthread_cond_destroy(&w.cv);
    return w.given;
}

osc_err pool_acquire(struct pool *p, int64_t deadline_us, struct pool_conn **out,
                     struct pool_error *perr)
{
    osc_err err = OSC_OK;
    struct pool_conn *c = NULL;
    struct timespec ts = {.tv_sec = (time_t)(deadline_us / 1000000),
                          .tv_nsec = (long)(deadline_us % 1000000) * 1000};

    if (osc_mono_us() < atomic_load(&p->tripped_until_us)) {
        explain(perr, "failing fast: the database answered nothing for a whole deadline", NULL);
        err = OSC_E_UNAVAILABLE;
        goto out;
    }
    pthread_mutex_lock(&p->mu);
    if (p->in_use < p->size) {
        c = take_free_slot(p);
        if (!c) {
            /* Cannot happen while p->in_use counts the slots in use; fail the request, not the
             * process, if that ever breaks. */
            pthread_mutex_unlock(&p->mu);
            explain(perr, "no free slot although the pool counts one", NULL);
            err = OSC_E_INTERNAL;
            goto out;
        }
    } else {
        c = wait_for_handoff(p, &ts);
        if (!c) {
            pthread_mutex_unlock(&p->mu);
            explain(perr, "no pooled connection came free before the deadline", NULL);
            err = OSC_E_UNAVAILABLE;
            goto out;
        }
    }
    pthread_mutex_unlock(&p->mu);

    c->fresh = 0;
    if (c->conn && !idle_conn_quiet(c->conn))
        mark_broken(c);
    if (!c->conn) {
        err = connect_conn(p, c, deadline_us, perr);
        if (err) {
            pool_release(p, c);
            goto out;
        }
    }
    *out = c;
out:
    return err;
}

void pool_release(struct pool *p, struct pool_conn *c)
{
    pthread_mutex_lock(&p->mu);
    struct pool_waiter *w = p->first;
    if (w) {
        /* The slot stays in use: it passes straight to the oldest waiter. */
        p->first = w->next;
        if (!p->first)
            p->last = NULL;
        w->given = c;
        pthread_cond_signal(&w->cv);
    } else {
        c->in_use = 0;
        p->in_use--;
    }
    pthread_mutex_unlock(&p->mu);
}

int pool_conn_fresh(const struct pool_conn *c)
{
    return c->fresh;
}

static int connection_lost(PGconn *conn, const char *sqlstate)
{
    if (PQstatus(conn) == CONNECTION_BAD)
        return 1;
    if (!sqlstate)
        return 0;
    /* Class 08 (connection exception), admin shutdown/crash/cannot connect now, a read-only
     * server after failover, and prepared statements lost behind a pooler. */
    return strncmp(sqlstate, "08", 2) == 0 || strncmp(sqlstate, "57P", 3) == 0 ||
           strcmp(sqlstate, "25006") == 0 || strcmp(sqlstate, "26000") == 0;
}

static void fill_error(const PGresult *r, PGconn *conn, struct pool_error *perr)
{
    const char *s;

    memset(perr, 0, sizeof(*perr));
    s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (s)
        snprintf(perr->sqlstate, sizeof(perr->sqlstate), "%s", s);
    s = r ? PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME) : NULL;
    if (s)
        snprintf(perr->constraint, sizeof(perr->constraint), "%s", s);
    s = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!s)
        s = PQerrorMessage(conn);
    /* libpq's own messages end in a newline; a log line keeps the first line */
    snprintf(perr->message, sizeof(perr->message), "%.*s", (int)strcspn(s, "\n"), s);
}

/* Sends what is queued and collects every result of the current command; keeps the last good
 * result or the first error. */
static osc_err collect(struct pool_conn *c, int64_t deadline_us, PGresult **res,
                       struct pool_error *perr)
{
    osc_err err = OSC_OK;
    PGresult *keep = NULL, *r = NULL;
    enum wait_result waited = WAIT_READY;
    int flushed;

    while ((flushed = PQflush(c->conn)) == 1) {
        waited = wait_socket(c, c->conn, POLLIN | POLLOUT, deadline_us);
        if (waited != WAIT_READY || !PQconsumeInput(c->conn)) {
            err = OSC_E_UNAVAILABLE;
            goto out;
        }
    }
    if (flushed < 0) {
        err = OSC_E_UNAVAILABLE;
        goto out;
    }
    for (;;) {
        while (PQisBusy(c->conn)) {
            waited = wait_socket(c, c->conn, POLLIN, deadline_us);
            if (waited != WAIT_READY || !PQconsumeInput(c->conn)) {
                err = OSC_E_UNAVAILABLE;
                goto out;
            }
        }
        r = PQgetResult(c->conn);
        if (!r)
            break;
        atomic_store(&c->pool->last_answer_us, osc_mono_us());
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) {
            if (!err) {
                PQclear(keep);
                keep = r;
            } else {
                PQclear(r);
            }
        } else if (!err) {
            fill_error(r, c->conn, perr);
            err = connection_lost(c->conn, perr->sqlstate) ? OSC_E_UNAVAILABLE : OSC_E_INTERNAL;
            PQclear(r);
        } else {
            PQclear(r);
        }
        r = NULL;
    }
    if (!err && PQstatus(c->conn) == CONNECTION_BAD)
        err = OSC_E_UNAVAILABLE;
out:
    if (err == OSC_E_UNAVAILABLE) {
        if (waited == WAIT_DEADLINE) {
            explain(perr, "no answer before the deadline (cancel requested)", NULL);
            abandon_statement(c);
        } else {
            if (!perr->message[0])
                explain(perr, "connection lost", c->conn ? PQerrorMessage(c->conn) : NULL);
            mark_broken(c);
        }
    }
    if (!err && res)
        *res = keep;
    else
        PQclear(keep);
    return err;
}

/* Prepares st on c. The first use of a statement on a connection pays one extra round trip;
 * every later use saves the parse and plan. */
static osc_err prepare(struct pool_conn *c, int64_t deadline_us, const struct pool_stmt *st,
                       struct pool_error *perr)
{
    osc_err err = OSC_OK;

    if (!PQsendPrepare(c->conn, st->name, st->sql, st->nparams, NULL)) {
        err = OSC_E_UNAVAILABLE;
        mark_broken(c);
        goto out;
    }
    err = collect(c, deadline_us, NULL, perr);
    if (!err)
        c->prepared[st->id] = 1;
out:
    return err;
}

osc_err pool_exec(struct pool_conn *c, int64_t deadline_us, const struct pool_stmt *st,
                  const char *const *values, const int *lengths, const int *formats, PGresult **res,
                  struct pool_error *perr)
{
    osc_err err = OSC_OK;
    int sent;

    memset(perr, 0, sizeof(*perr));
    if (!c->conn) {
        err = OSC_E_UNAVAILABLE;
        goto out;
    }
    if (c->use_prepared && !c->prepared[st->id]) {
        err = prepare(c, deadline_us, st, perr);
        if (err)
            goto out;
    }
    if (c->use_prepared)
        sent = PQsendQueryPrepared(c->conn, st->name, st->nparams, values, lengths, formats, 0);
    else
        sent = PQsendQueryParams(c->conn, st->sql, st->nparams, NULL, values, lengths, formats, 0);
    if (!sent) {
        err = OSC_E_UNAVAILABLE;
        mark_broken(c);
        goto out;
    }
    err = collect(c, deadline_us, res, perr);
out:
    return err;
}

osc_err pool_check_statement(struct pool_conn *c, int64_t deadline_us, const struct pool_stmt *st,
                             struct pool_error *perr)
{
    osc_err err = OSC_OK;

    memset(perr, 0, sizeof(*perr));
    if (!c->conn || !PQsendPrepare(c->conn, "", st->sql, st->nparams, NULL)) {
        err = OSC_E_UNAVAILABLE;
        mark_broken(c);
        goto out;
    }
    err = collect(c, deadline_us, NULL, perr);
out:
    return err;
}

osc_err pool_exec_sql(struct pool_conn *c, int64_t deadline_us, const char *sql,
                      struct pool_error *perr)
{
    osc_err err = OSC_OK;

    memset(perr, 0, sizeof(*perr));
    if (!c->conn || !PQsendQuery(c->conn, sql)) {
        err = OSC_E_UNAVAILABLE;
        mark_broken(c);
        goto out;
    }
    err = collect(c, deadline_us, NULL, perr);
out:
    return err;
}
