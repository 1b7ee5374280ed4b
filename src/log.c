/* JSON log lines on stdout, whole lines only so concurrent threads never interleave. Callers pass
 * no secrets; this module does not try to guess which values are. */
#include "oscred/log.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "oscred/ctx.h"
#include "oscred/jsonw.h"

static _Atomic int current_level = OSC_LOG_INFO;

static const char *LEVELS[] = {"debug", "info", "warn", "error"};

void osc_log_set_level(enum osc_log_level level)
{
    atomic_store(&current_level, (int)level);
}

int osc_log_enabled(enum osc_log_level level)
{
    return (int)level >= atomic_load(&current_level);
}

/* While the server runs, lines go through a buffer that one writer thread empties with one write(2)
 * per batch: a write per request cost the request path a system call (and under load a wake-up of
 * whoever reads stdout) for every access line. The writer sleeps while the buffer is empty; the
 * first line into an empty buffer wakes it, and it lets BATCH_DELAY_NS of lines gather before it
 * writes. A full buffer makes the logging thread wait for the writer rather than drop or reorder
 * lines. Outside the server (CLI commands) lines are written directly. */
#define SINK_CAPACITY ((size_t)256 * 1024)
#define BATCH_DELAY_NS 1000000L

static struct {
    pthread_mutex_t mu;
    pthread_cond_t has_lines; /* the writer waits for a line */
    pthread_cond_t has_room;  /* a logging thread waits for the writer to take the buffer */
    pthread_t thread;
    char *buf;   /* filled by the logging threads */
    char *spare; /* written out by the writer */
    size_t len;
    int started; /* the writer runs: lines go to buf */
    int stopping;
} sink = {.mu = PTHREAD_MUTEX_INITIALIZER,
          .has_lines = PTHREAD_COND_INITIALIZER,
          .has_room = PTHREAD_COND_INITIALIZER};

static void write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDOUT_FILENO, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* a full or closed stdout must not take the service down */
        p += w;
        n -= (size_t)w;
    }
}

static void *sink_writer(void *arg)
{
    const struct timespec delay = {.tv_sec = 0, .tv_nsec = BATCH_DELAY_NS};

    (void)arg;
    pthread_mutex_lock(&sink.mu);
    for (;;) {
        while (sink.len == 0 && !sink.stopping)
            pthread_cond_wait(&sink.has_lines, &sink.mu);
        if (sink.len == 0)
            break; /* stopping, and everything is written */
        if (!sink.stopping) {
            pthread_mutex_unlock(&sink.mu);
            nanosleep(&delay, NULL);
            pthread_mutex_lock(&sink.mu);
        }
        char *batch = sink.buf;
        size_t n = sink.len;
        sink.buf = sink.spare;
        sink.spare = batch;
        sink.len = 0;
        pthread_cond_broadcast(&sink.has_room);
        pthread_mutex_unlock(&sink.mu);
        write_all(batch, n);
        pthread_mutex_lock(&sink.mu);
    }
    pthread_mutex_unlock(&sink.mu);
    return NULL;
}

/* Writes one whole line (ending in '\n'). */
static void sink_put(const char *line, size_t n)
{
    pthread_mutex_lock(&sink.mu);
    while (sink.started && n <= SINK_CAPACITY && sink.len + n > SINK_CAPACITY)
        pthread_cond_wait(&sink.has_room, &sink.mu);
    if (!sink.started || n > SINK_CAPACITY) { /* no writer (or it stopped meanwhile) */
        pthread_mutex_unlock(&sink.mu);
        write_all(line, n);
        return;
    }
    if (sink.len == 0)
        pthread_cond_signal(&sink.has_lines);
    memcpy(sink.buf + sink.len, line, n);
    sink.len += n;
    pthread_mutex_unlock(&sink.mu);
}

int osc_log_start_writer(void)
{
    int rc = -1;

    pthread_mutex_lock(&sink.mu);
    if (sink.started) {
        rc = 0;
        goto out;
    }
    sink.buf = malloc(SINK_CAPACITY);
    sink.spare = malloc(SINK_CAPACITY);
    if (!sink.buf || !sink.spare)
        goto out;
    sink.len = 0;
    sink.stopping = 0;
    if (pthread_create(&sink.thread, NULL, sink_writer, NULL) != 0)
        goto out;
    sink.started = 1;
    rc = 0;
out:
    if (rc) {
        free(sink.buf);
        free(sink.spare);
        sink.buf = sink.spare = NULL;
    }
    pthread_mutex_unlock(&sink.mu);
    return rc;
}

void osc_log_stop_writer(void)
{
    pthread_mutex_lock(&sink.mu);
    if (!sink.started) {
        pthread_mutex_unlock(&sink.mu);
        return;
    }
    sink.stopping = 1;
    pthread_cond_signal(&sink.has_lines);
    pthread_mutex_unlock(&sink.mu);
    pthread_join(sink.thread, NULL);
    pthread_mutex_lock(&sink.mu);
    sink.started = 0;
    pthread_cond_broadcast(&sink.has_room);
    free(sink.buf);
    free(sink.spare);
    sink.buf = sink.spare = NULL;
    pthread_mutex_unlock(&sink.mu);
}

static void emit(json_t *j_line)
{
    char *s = json_dumps(j_line, JSON_COMPACT);
    size_t n;

    if (!s)
        return;
    n = strlen(s);
    s[n] = '\n'; /* replaces the NUL: the buffer is written by length */
    sink_put(s, n + 1);
    free(s);
}

int osc_log_limit_due(struct osc_log_limit *l, char *suppressed, size_t len)
{
    int64_t now = osc_mono_us();
    int64_t last = atomic_load(&l->logged_us);

    if ((last && now - last < l->interval_us) ||
        !atomic_compare_exchange_strong(&l->logged_us, &last, now)) {
        atomic_fetch_add(&l->suppressed, 1);
        return 0;
    }
    long long n = atomic_exchange(&l->suppressed, 0);
    if (n > 0)
        snprintf(suppressed, len, "%lld", n);
    else if (len > 0)
        suppressed[0] = '\0';
    return 1;
}

const char *osc_errno_text(int e, char *buf, size_t len)
{
#ifdef _GNU_SOURCE
    return strerror_r(e, buf, len);
#else
    return strerror_r(e, buf, len) == 0 ? buf : "unknown error";
#endif
}

/* Per-thread, like errno: the request this worker serves right now (osc_log_bind_request). */
static _Thread_local const char *bound_request_id;

void osc_log_bind_request(const char *request_id)
{
    bound_request_id = request_id;
}

static json_t *line(enum osc_log_level level, const char *event)
{
    char ts[32];
    json_t *j_line;

    osc_format_time_us(osc_now_us(), ts, sizeof(ts));
    j_line = json_pack("{s:s, s:s, s:s}", "ts", ts, "level", LEVELS[level], "event", event);
    if (j_line && bound_request_id)
        json_object_set_new(j_line, "request_id", json_string(bound_request_id));
    return j_line;
}

void osc_log(enum osc_log_level level, const char *event, ...)
{
    json_t *j_line;
    va_list ap;
    const char *k;

    if (!osc_log_enabled(level))
        return;
    j_line = line(level, event);
    if (!j_line)
        return;
    va_start(ap, event);
    while ((k = va_arg(ap, const char *)) != NULL) {
        const char *v = va_arg(ap, const char *);
        if (v)
            json_object_set_new(j_line, k, json_string(v));
    }
    va_end(ap);
    emit(j_line);
    json_decref(j_line);
}

void osc_log_access(const struct osc_access_entry *e, int quiet)
{
    enum osc_log_level level = quiet ? OSC_LOG_DEBUG : OSC_LOG_INFO;
    struct osc_jsonw w;
    char buf[2048], ts[32], num[64];

    if (!osc_log_enabled(level))
        return;
    /* Written on every request: formatted directly rather than through a jansson tree. */
    osc_format_time_us(osc_now_us(), ts, sizeof(ts));
    osc_jsonw_init(&w, buf, sizeof(buf) - 2);
    osc_jsonw_raw(&w, "{");
    osc_jsonw_field(&w, "ts", ts, 1);
    osc_jsonw_field(&w, "level", LEVELS[level], 0);
    osc_jsonw_field(&w, "event", "request", 0);
    osc_jsonw_field(&w, "request_id", e->request_id, 0);
    osc_jsonw_field(&w, "method", e->method, 0);
    osc_jsonw_field(&w, "route", e->route, 0);
    /* milliseconds with three decimals, from integers: cheaper than formatting a double */
    snprintf(num, sizeof(num), ",\"status\":%d,\"duration_ms\":%lld.%03lld", e->status,
             (long long)(e->duration_us / 1000), (long long)(e->duration_us % 1000));
    osc_jsonw_raw(&w, num);
    osc_jsonw_field(&w, "caller_id", e->caller_id, 0);
    osc_jsonw_field(&w, "principal_kind", e->principal_kind, 0);
    osc_jsonw_field(&w, "remote", e->remote, 0);
    osc_jsonw_field(&w, "error", e->error, 0);
    if (e->detail && e->detail[0] && w.n + strlen(e->detail) * 6 + 64 < sizeof(buf) - 2)
        osc_jsonw_field(&w, "detail", e->detail, 0);
    /* The buffer keeps two bytes beyond the writer's capacity for the closing brace and newline,
     * so even a cut line (overflow) stays one line; the fields that matter come first. */
    buf[w.n++] = '}';
    buf[w.n++] = '\n';
    sink_put(buf, w.n);
}
