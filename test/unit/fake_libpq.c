/* The scripted database behind -Wl,--wrap (see fake_libpq.h). Connections are slots of
 * fake.conns handed out as opaque PGconn pointers; results are real PGresults, so the code under
 * test reads them with the real libpq accessors and frees them with the real PQclear. */
#include "fake_libpq.h"

#include "src/store/canceller.h"

#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define FD_BASE 100

struct fake_libpq fake;

static struct fake_conn *conn_of(const PGconn *conn)
{
    for (int i = 0; i < FAKE_MAX_CONNS; i++) {
        if ((const PGconn *)(const void *)&fake.conns[i] == conn) {
            /* a call on a finished connection would be a use after free with the real libpq */
            if (!fake.conns[i].started || fake.conns[i].finished)
                fail_msg("libpq call on closed connection %d", i);
            return &fake.conns[i];
        }
    }
    fail_msg("libpq call on a connection the fake never opened");
    return NULL;
}

void fake_reset(int64_t now_us)
{
    memset(&fake, 0, sizeof(fake));
    fake.now_us = now_us;
}

void fake_check_and_clear(void)
{
    int unasked = fake.nanswers - fake.next_answer;
    int open = 0;

    for (int i = 0; i < fake.nanswers; i++) {
        if (!fake.answers[i].delivered)
            PQclear(fake.answers[i].res);
    }
    for (int i = 0; i < fake.connects; i++)
        open += !fake.conns[i].finished;
    fake.nanswers = fake.next_answer = 0;
    assert_int_equal(unasked, 0);
    assert_int_equal(open, 0);
}

static void push(PGresult *res, const char *sqlstate, const char *constraint, const char *message,
                 int conn_lost)
{
    assert_true(fake.nanswers < FAKE_MAX_ANSWERS);
    fake.answers[fake.nanswers++] = (struct fake_answer){.res = res,
                                                         .sqlstate = sqlstate,
                                                         .constraint = constraint,
                                                         .message = message,
                                                         .conn_lost = conn_lost};
}

void fake_answer_ok(void)
{
    push(PQmakeEmptyPGresult(NULL, PGRES_COMMAND_OK), NULL, NULL, NULL, 0);
}

void fake_answer_row(const char *value)
{
    char name[] = "v";
    PGresAttDesc attr = {.name = name, .typid = 25 /* text */, .typlen = -1, .atttypmod = -1};
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);

    assert_non_null(res);
    assert_true(PQsetResultAttrs(res, 1, &attr));
    assert_true(PQsetvalue(res, 0, 0, (char *)value, (int)strlen(value)));
    push(res, NULL, NULL, NULL, 0);
}

void fake_answer_error(const char *sqlstate, const char *constraint, const char *message)
{
    push(PQmakeEmptyPGresult(NULL, PGRES_FATAL_ERROR), sqlstate, constraint, message, 0);
}

void fake_answer_connection_lost(void)
{
    push(PQmakeEmptyPGresult(NULL, PGRES_FATAL_ERROR), NULL, NULL, NULL, 1);
}

void fake_answer_nothing(void)
{
    push(NULL, NULL, NULL, NULL, 0);
}

int64_t __wrap_osc_mono_us(void)
{
    return fake.now_us;
}

int __wrap_poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
    assert_int_equal(nfds, 1);
    assert_in_range(fds[0].fd, FD_BASE, FD_BASE + FAKE_MAX_CONNS - 1);
    const struct fake_conn *c = &fake.conns[fds[0].fd - FD_BASE];

    if (timeout == 0 && !c->busy) {
        /* a look at an idle connection: readable only when the server ended the session */
        fds[0].revents = c->ended ? POLLIN : 0;
        return c->ended;
    }
    if (c->pending && !c->pending->res) {
        void (*meanwhile)(void) = fake.during_silence;

        fake.during_silence = NULL;
        if (meanwhile)
            meanwhile();
        /* a silent server: the whole wait passes */
        fake.now_us += (int64_t)timeout * 1000;
        return 0;
    }
    fds[0].revents = fds[0].events;
    return 1;
}

PGconn *__wrap_PQconnectStart(const char *conninfo)
{
    (void)conninfo;
    assert_true(fake.connects < FAKE_MAX_CONNS);
    fake.conns[fake.connects].started = 1;
    return (PGconn *)(void *)&fake.conns[fake.connects++];
}

PostgresPollingStatusType __wrap_PQconnectPoll(PGconn *conn)
{
    conn_of(conn);
    return fake.refuse_connect ? PGRES_POLLING_FAILED : PGRES_POLLING_OK;
}

ConnStatusType __wrap_PQstatus(const PGconn *conn)
{
    return conn_of(conn)->lost ? CONNECTION_BAD : CONNECTION_OK;
}

int __wrap_PQsocket(const PGconn *conn)
{
    return FD_BASE + (int)(conn_of(conn) - fake.conns);
}

int __wrap_PQsetnonblocking(PGconn *conn, int arg)
{
    conn_of(conn);
    assert_int_equal(arg, 1);
    return 0;
}

PQnoticeProcessor __wrap_PQsetNoticeProcessor(PGconn *conn, PQnoticeProcessor proc, void *arg)
{
    (void)proc;
    (void)arg;
    conn_of(conn);
    return NULL;
}

void __wrap_PQfinish(PGconn *conn)
{
    conn_of(conn)->finished = 1;
    fake.finishes++;
}

/* The canceller's thread would send a real cancel request; the fake records the hand-over and
 * closes the connection, as the canceller does once the request is sent. */
void __wrap_canceller_submit(struct canceller *k, PGconn *conn)
{
    (void)k;
    conn_of(conn)->cancelled = 1;
    fake.cancels++;
    __wrap_PQfinish(conn);
}

char *__wrap_PQerrorMessage(const PGconn *conn)
{
    static char msg[] = "fake libpq: no answer\n";
    (void)conn;
    return msg;
}

static int send_command(PGconn *conn)
{
    struct fake_conn *c = conn_of(conn);

    if (c->pending)
        fail_msg("a command was sent while another was in flight");
    if (fake.next_answer == fake.nanswers)
        fail_msg("command %d was sent but the test scripted no answer for it", fake.next_answer);
    c->pending = &fake.answers[fake.next_answer++];
    c->busy = 1;
    return 1;
}

int __wrap_PQsendPrepare(PGconn *conn, const char *stmtName, const char *query, int nParams,
                         const Oid *paramTypes)
{
    (void)query;
    (void)nParams;
    (void)paramTypes;
    fake.prepares++;
    snprintf(fake.prepared_name, sizeof(fake.prepared_name), "%s", stmtName);
    return send_command(conn);
}

static void record_exec(const char *name, int nparams, const char *const *values)
{
    fake.execs++;
    snprintf(fake.exec_name, sizeof(fake.exec_name), "%s", name);
    snprintf(fake.exec_first_value, sizeof(fake.exec_first_value), "%s",
             nparams > 0 && values[0] ? values[0] : "");
}

int __wrap_PQsendQueryPrepared(PGconn *conn, const char *stmtName, int nParams,
                               const char *const *paramValues, const int *paramLengths,
                               const int *paramFormats, int resultFormat)
{
    (void)paramLengths;
    (void)paramFormats;
    (void)resultFormat;
    record_exec(stmtName, nParams, paramValues);
    return send_command(conn);
}

int __wrap_PQsendQueryParams(PGconn *conn, const char *command, int nParams, const Oid *paramTypes,
                             const char *const *paramValues, const int *paramLengths,
                             const int *paramFormats, int resultFormat)
{
    (void)paramTypes;
    (void)paramLengths;
    (void)paramFormats;
    (void)resultFormat;
    record_exec(command, nParams, paramValues);
    return send_command(conn);
}

int __wrap_PQflush(PGconn *conn)
{
    conn_of(conn);
    return 0;
}

int __wrap_PQisBusy(PGconn *conn)
{
    return conn_of(conn)->busy;
}

int __wrap_PQconsumeInput(PGconn *conn)
{
    struct fake_conn *c = conn_of(conn);

    c->busy = 0;
    if (c->pending && c->pending->conn_lost)
        c->lost = 1;
    return 1;
}

PGresult *__wrap_PQgetResult(PGconn *conn)
{
    struct fake_conn *c = conn_of(conn);
    struct fake_answer *a = c->pending;

    if (c->busy)
        fail_msg("PQgetResult while the answer has not arrived: it would block");
    if (a && !a->delivered) {
        a->delivered = 1;
        return a->res;
    }
    c->pending = NULL;
    return NULL;
}

char *__wrap_PQresultErrorField(const PGresult *res, int fieldcode)
{
    /* newest first: an older, cleared result may have had the same address */
    for (int i = fake.next_answer - 1; i >= 0; i--) {
        const struct fake_answer *a = &fake.answers[i];
        if (a->res != res)
            continue;
        switch (fieldcode) {
        case PG_DIAG_SQLSTATE:
            return (char *)a->sqlstate;
        case PG_DIAG_CONSTRAINT_NAME:
            return (char *)a->constraint;
        case PG_DIAG_MESSAGE_PRIMARY:
            return (char *)a->message;
        default:
            return NULL;
        }
    }
    return NULL;
}
