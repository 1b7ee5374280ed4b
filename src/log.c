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

/* A small append-only buffer for the access line, which is written on every request: formatting
 * it directly costs a fraction of building and serialising a JSON object. */
struct line_buf {
    char p[2048];
    size_t n;
};

static void add_raw(struct line_buf *b, const char *s, size_t len)
{
    if (len > sizeof(b->p) - 2 - b->n)
        len = sizeof(b->p) - 2 - b->n; /* keep room for the closing brace and newline */
    memcpy(b->p + b->n, s, len);
    b->n += len;
}

/* Appends s as a JSON string, escaping quotes, backslashes and control characters; bytes that
 * are not valid UTF-8 become U+FFFD so the line stays valid JSON. */
static void add_string(struct line_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";

    add_raw(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[7] = "\\u0000";
        if (*p == '"' || *p == '\\') {
            char two[2] = {'\\', (char)*p};
            add_raw(b, two, 2);
        } else if (*p < 0x20 || *p == 0x7f) {
            esc[4] = hex[*p >> 4];
            esc[5] = hex[*p & 15];
            add_raw(b, esc, 6);
        } else if (*p < 0x80) {
            add_raw(b, (const char *)p, 1);
        } else {
            size_t len = (*p & 0xe0) == 0xc0   ? 2
                         : (*p & 0xf0) == 0xe0 ? 3
                         : (*p & 0xf8) == 0xf0 ? 4
                                               : 0;
            size_t k = 1;
            while (len && k < len && (p[k] & 0xc0) == 0x80)
                k++;
            if (len && k == len) {
                add_raw(b, (const char *)p, len);
                p += len - 1;
            } else {
                add_raw(b, "\\ufffd", 6);
            }
        }
    }
    add_raw(b, "\"", 1);
}

static void add_field(struct line_buf *b, const char *key, const char *value)
{
    if (!value)
        return;
    add_raw(b, ",\"", 2);
    add_raw(b, key, strlen(key));
    add_raw(b, "\":", 2);
    add_string(b, value);
}

void osc_log_access(const struct osc_access_entry *e, int quiet)
{
    enum osc_log_level level = quiet ? OSC_LOG_DEBUG : OSC_LOG_INFO;
    struct line_buf b;
    char ts[32], num[64];
    int len;

    if (!osc_log_enabled(level))
        return;
    b.n = 0;
    osc_format_time_us(osc_now_us(), ts, sizeof(ts));
    add_raw(&b, "{\"ts\":", 6);
    add_string(&b, ts);
    add_field(&b, "level", LEVELS[level]);
    add_field(&b, "event", "request");
    add_field(&b, "request_id", e->request_id);
    add_field(&b, "method", e->method);
    add_field(&b, "route", e->route);
    len = snprintf(num, sizeof(num), ",\"status\":%d,\"duration_ms\":%.3f", e->status,
                   e->duration_ms);
    add_raw(&b, num, (size_t)len);
    add_field(&b, "caller_id", e->caller_id);
    add_field(&b, "principal_kind", e->principal_kind);
    add_field(&b, "remote", e->remote);
    add_field(&b, "error", e->error);
    if (e->detail && e->detail[0])
        add_field(&b, "detail", e->detail);
    b.p[b.n++] = '}';
    b.p[b.n++] = '\n';
    ssize_t w = write(STDOUT_FILENO, b.p, b.n);
    (void)w; /* a full or closed stdout must not take the service down */
}
