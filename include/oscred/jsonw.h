/* A minimal JSON writer into a fixed caller-owned buffer, for the lines and bodies written on
 * every request, where building a jansson tree and serialising it costs more than the request.
 * Output is always valid JSON text: strings are escaped (invalid UTF-8 becomes U+FFFD). If the
 * buffer is too small the text is cut and overflow is set; callers check it. */
#ifndef OSC_JSONW_H
#define OSC_JSONW_H

#include <stddef.h>

struct osc_jsonw {
    char *p;
    size_t cap;
    size_t n;
    int overflow;
};

/* Starts writing into buf[cap]. */
void osc_jsonw_init(struct osc_jsonw *w, char *buf, size_t cap);
/* Appends s as is (punctuation, numbers, keys the caller knows to be plain). */
void osc_jsonw_raw(struct osc_jsonw *w, const char *s);
/* Appends s as a quoted, escaped JSON string. */
void osc_jsonw_string(struct osc_jsonw *w, const char *s);
/* Appends ,"key":"value" (or "key":"value" when first); a NULL value appends nothing. */
void osc_jsonw_field(struct osc_jsonw *w, const char *key, const char *value, int first);

#endif
