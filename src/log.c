/* JSON log lines on stdout, one write(2) each so concurrent threads never interleave. Callers pass
 * no secrets; this module does not try to guess which values are. */
#include "oscred/log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
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

static void emit(json_t *j_line)
{
    char *s = json_dumps(j_line, JSON_COMPACT);
    size_t n;

    if (!s)
        return;
    n = strlen(s);
    s[n] = '\n'; /* replaces the NUL: the buffer is written by length */
    ssize_t w = write(STDOUT_FILENO, s, n + 1);
    (void)w; /* a full or closed stdout must not take the service down */
    free(s);
}

static json_t *line(enum osc_log_level level, const char *event)
{
    char ts[32];

    osc_format_time_us(osc_now_us(), ts, sizeof(ts));
    return json_pack("{s:s, s:s, s:s}", "ts", ts, "level", LEVELS[level], "event", event);
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
    snprintf(num, sizeof(num), ",\"status\":%d,\"duration_ms\":%.3f", e->status, e->duration_ms);
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
    ssize_t written = write(STDOUT_FILENO, buf, w.n);
    (void)written; /* a full or closed stdout must not take the service down */
}
