/* The JSON writer: appends into a fixed buffer, escaping strings; never allocates. */
#include "oscred/jsonw.h"

#include <string.h>

void osc_jsonw_init(struct osc_jsonw *w, char *buf, size_t cap)
{
    w->p = buf;
    w->cap = cap;
    w->n = 0;
    w->overflow = 0;
    if (cap)
        buf[0] = '\0';
}

static void add(struct osc_jsonw *w, const char *s, size_t len)
{
    if (w->n + len + 1 > w->cap) {
        w->overflow = 1;
        return;
    }
    memcpy(w->p + w->n, s, len);
    w->n += len;
    w->p[w->n] = '\0';
}

void osc_jsonw_raw(struct osc_jsonw *w, const char *s)
{
    add(w, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at p (2..4), or 0 if it is not one. */
static size_t utf8_len(const unsigned char *p)
{
    size_t len = (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 ? 4 : 0;

    for (size_t k = 1; k < len; k++) {
        if ((p[k] & 0xc0) != 0x80)
            return 0;
    }
    return len;
}

void osc_jsonw_string(struct osc_jsonw *w, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;

    add(w, "\"", 1);
    while (*p) {
        size_t plain = 0;
        /* Copy runs of characters that need no escaping in one go. */
        while (p[plain] >= 0x20 && p[plain] < 0x7f && p[plain] != '"' && p[plain] != '\\')
            plain++;
        if (plain) {
            add(w, (const char *)p, plain);
            p += plain;
            continue;
        }
        if (*p == '"' || *p == '\\') {
            char two[2] = {'\\', (char)*p};
            add(w, two, 2);
            p++;
        } else if (*p < 0x20 || *p == 0x7f) {
            char esc[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};
            add(w, esc, 6);
            p++;
        } else {
            size_t len = utf8_len(p);
            if (len) {
                add(w, (const char *)p, len);
                p += len;
            } else {
                add(w, "\\ufffd", 6);
                p++;
            }
        }
    }
    add(w, "\"", 1);
}

void osc_jsonw_field(struct osc_jsonw *w, const char *key, const char *value, int first)
{
    if (!value)
        return;
    if (!first)
        add(w, ",", 1);
    osc_jsonw_string(w, key);
    add(w, ":", 1);
    osc_jsonw_string(w, value);
}
