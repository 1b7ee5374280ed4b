/* Private to src/store: the connection pool and the deadline-bounded statement runner. */
#ifndef OSC_STORE_POOL_H
#define OSC_STORE_POOL_H

#include <libpq-fe.h>
#include <stdint.h>

#include "oscred/err.h"

struct pool_stmt {
    int id;           /* index in the statement table */
    const char *name; /* prepared statement name */
    const char *sql;
    int nparams;
    int idempotent; /* safe to run again on a fresh connection after a broken one */
    /* A constraint whose violation means a concurrent change won, so the statement is run again
     * (NULL for none). */
    const char *retry_constraint;
};

struct pool_error {
    char sqlstate[6];
    char constraint[64];
    char message[200];
};

struct pool;
struct pool_conn;

/* stmts must outlive the pool. */
osc_err pool_create(const char *conninfo, int size, int timeout_ms, int prepared,
                    const struct pool_stmt *stmts, int nstmts, struct pool **out);
void pool_destroy(struct pool *p);
void pool_stats(struct pool *p, int *in_use, int *idle, int *waiting);
/* osc_mono_us() + the configured timeout: every deadline_us below is on CLOCK_MONOTONIC. */
int64_t pool_deadline(struct pool *p);

/* Takes a connected connection, waiting until deadline_us. OSC_E_UNAVAILABLE when none can be had
 * (pool exhausted until the deadline, or the database cannot be reached); perr (NULL: not asked)
 * then says which. */
osc_err pool_acquire(struct pool *p, int64_t deadline_us, struct pool_conn **out,
                     struct pool_error *perr);
/* Returns c to the pool. */
void pool_release(struct pool *p, struct pool_conn *c);
/* 1 if c was connected by this acquisition (so a failure on it is not a stale-connection one). */
int pool_conn_fresh(const struct pool_conn *c);

/* Runs one statement of the table. On success *res holds the result (caller PQclears).
 * OSC_E_UNAVAILABLE: connection lost or deadline passed (c is dropped, after a cancel request for
 * a statement still running at the deadline, and reconnects on a later acquisition).
 * OSC_E_INTERNAL: the statement failed; *perr says why. */
osc_err pool_exec(struct pool_conn *c, int64_t deadline_us, const struct pool_stmt *st,
                  const char *const *values, const int *lengths, const int *formats, PGresult **res,
                  struct pool_error *perr);
/* Parses and plans st as an unnamed statement without running it: fails if it does not fit the
 * schema. */
osc_err pool_check_statement(struct pool_conn *c, int64_t deadline_us, const struct pool_stmt *st,
                             struct pool_error *perr);
/* Runs literal SQL without parameters (may hold several statements); for migrations and
 * transaction control. Results are discarded; errors as pool_exec. */
osc_err pool_exec_sql(struct pool_conn *c, int64_t deadline_us, const char *sql,
                      struct pool_error *perr);

#endif
