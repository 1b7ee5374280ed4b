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
    json_t *j_line;

    if (!osc_log_enabled(level))
        return;
    j_line = line(level, "request");
    if (!j_line)
        return;
    json_object_set_new(j_line, "request_id", json_string(e->request_id));
    json_object_set_new(j_line, "method", json_string(e->method));
    json_object_set_new(j_line, "route", json_string(e->route));
    json_object_set_new(j_line, "status", json_integer(e->status));
    json_object_set_new(j_line, "duration_ms", json_real(e->duration_ms));
    if (e->caller_id)
        json_object_set_new(j_line, "caller_id", json_string(e->caller_id));
    if (e->principal_kind)
        json_object_set_new(j_line, "principal_kind", json_string(e->principal_kind));
    if (e->remote)
        json_object_set_new(j_line, "remote", json_string(e->remote));
    if (e->error)
        json_object_set_new(j_line, "error", json_string(e->error));
    if (e->detail && e->detail[0])
        json_object_set_new(j_line, "detail", json_string(e->detail));
    emit(j_line);
    json_decref(j_line);
}
