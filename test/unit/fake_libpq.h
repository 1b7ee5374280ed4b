/* A scripted database for the store unit tests: the linker sends libpq's calls, poll(),
 * osc_mono_us() and the pool's hand-over to the canceller here (-Wl,--wrap), so each test queues
 * the answers the server will give and reads back what the pool sent. Single-threaded tests only.
 */
#ifndef OSC_TEST_FAKE_LIBPQ_H
#define OSC_TEST_FAKE_LIBPQ_H

#include <libpq-fe.h>
#include <stdint.h>

#define FAKE_MAX_CONNS 8
#define FAKE_MAX_ANSWERS 16

struct fake_answer {
    PGresult *res; /* NULL: the server never answers */
    const char *sqlstate;
    const char *constraint;
    const char *message;
    int conn_lost; /* the connection is gone once this arrives */
    int delivered; /* res now belongs to the caller of PQgetResult */
};

struct fake_conn {
    int started;
    int finished;
    int lost;
    int cancelled;               /* handed to the canceller with its statement still running */
    int busy;                    /* a command was sent and its answer is not read yet */
    struct fake_answer *pending; /* answer of the command in flight */
    int ended;                   /* the server ended the session while the connection was idle */
};

struct fake_libpq {
    int64_t now_us;     /* what osc_mono_us() says; only tests and waits that time out move it */
    int refuse_connect; /* PQconnectPoll fails */
    int connects;       /* PQconnectStart calls */
    int finishes;       /* PQfinish calls */
    int cancels;        /* connections handed to the canceller */
    int prepares;       /* PQsendPrepare calls */
    int execs;          /* PQsendQueryPrepared and PQsendQueryParams calls */
    char prepared_name[64];
    char exec_name[64]; /* statement name, or the SQL text when sent unprepared */
    char exec_first_value[64];
    struct fake_conn conns[FAKE_MAX_CONNS];
    struct fake_answer answers[FAKE_MAX_ANSWERS];
    int nanswers;
    int next_answer; /* answers[next_answer] goes to the next command sent */
    /* Called once, from inside the next wait on a silent server, before that wait times out: what
     * another request does meanwhile. */
    void (*during_silence)(void);
};

extern struct fake_libpq fake;

/* Forgets everything and sets the clock. */
void fake_reset(int64_t now_us);
/* Fails the test if a scripted answer was never asked for or a connection was never closed;
 * frees the results nobody took. */
void fake_check_and_clear(void);

/* The next command sent gets this answer. */
void fake_answer_ok(void);               /* PGRES_COMMAND_OK, as for a prepare */
void fake_answer_row(const char *value); /* one row, one text column */
void fake_answer_error(const char *sqlstate, const char *constraint, const char *message);
void fake_answer_connection_lost(void); /* libpq's own error: no SQLSTATE, CONNECTION_BAD */
void fake_answer_nothing(void);         /* the socket never becomes readable */

#endif
