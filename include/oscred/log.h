/* Structured logging: one JSON object per line on stdout, whole lines only so threads never
 * interleave. Secrets never reach these functions. */
#ifndef OSC_LOG_H
#define OSC_LOG_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "oscred/config.h"

/* Ends the key/value list of osc_log: a typed null pointer, as variadic functions need. */
#define OSC_LOG_END ((const char *)NULL)

void osc_log_set_level(enum osc_log_level level);
int osc_log_enabled(enum osc_log_level level);
/* One line {"ts":..,"level":..,"event":event, key: value, ...}; the variadic part is pairs of
 * const char * (key, value) ending with OSC_LOG_END. A NULL value is skipped. */
void osc_log(enum osc_log_level level, const char *event, ...);
/* At most one line per interval for a failure that can recur thousands of times a second: the
 * first occurrence gets its line, the ones within the interval after it are only counted, and the
 * next line says how many. Set interval_us, zero the rest. */
struct osc_log_limit {
    int64_t interval_us;
    _Atomic int64_t logged_us;    /* when the last line was written (0: never) */
    _Atomic long long suppressed; /* occurrences since then that got no line */
};
/* 1 when this occurrence gets a line; suppressed then receives how many went without one since
 * the previous line, as text to log under "suppressed", or "" when none did. Safe from any
 * thread. */
int osc_log_limit_due(struct osc_log_limit *l, char *suppressed, size_t len);
/* The system's text for errno value e, for a log line or an error message: in buf, or a static
 * string (strerror is not thread-safe). */
const char *osc_errno_text(int e, char *buf, size_t len);
/* Binds the request the calling thread is serving (NULL: none): until unbound, the thread's
 * osc_log lines carry its "request_id", so a database failure logged deep in the store can be
 * matched with the request's access line. A worker serves one request at a time, start to end.
 * request_id must stay valid until unbound. */
void osc_log_bind_request(const char *request_id);

struct osc_access_entry {
    const char *request_id;
    const char *method;
    const char *route;
    int status;
    int64_t duration_us;        /* >= 0; logged as duration_ms */
    const char *caller_id;      /* may be NULL */
    const char *principal_kind; /* may be NULL */
    const char *remote;
    const char *error;  /* error name, NULL on success */
    const char *detail; /* internal cause, may be NULL */
};
/* The per-request access line (level info; debug for probes when quiet is set). */
void osc_log_access(const struct osc_access_entry *e, int quiet);

/* From osc_log_start_writer until osc_log_stop_writer, lines are handed to a writer thread that
 * writes them in batches, a millisecond after the first line of a batch at most; stop writes out
 * every line logged before it. Start returns 0, or -1 (lines keep being written directly). Both
 * are for the server's main thread; logging stays safe from any thread throughout. */
int osc_log_start_writer(void);
void osc_log_stop_writer(void);

#endif
