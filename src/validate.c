/* Validators for names, ids and free text, shared by the REST and AWS surfaces. */
#include "oscred/validate.h"

#include <string.h>

static int is_name_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '+' || c == '=' || c == ',' || c == '.' || c == '@' || c == '-';
}

int osc_valid_name(const char *s)
{
    size_t n = 0;

    if (!s)
        return 0;
    for (; s[n]; n++) {
        if (n >= 64 || !is_name_char((unsigned char)s[n]))
            return 0;
    }
    return n >= 1;
}

int osc_valid_access_key(const char *s)
{
    size_t n = 0;

    if (!s)
        return 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (n >= 20 || !((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
            return 0;
    }
    return n == 20;
}

int osc_valid_id(const char *s)
{
    size_t n = 0;

    if (!s)
        return 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (n >= 32 || !((c >= 'a' && c <= 'f') || (c >= '0' && c <= '9')))
            return 0;
    }
    return n == 32;
}

size_t osc_utf8_next(const char *str, unsigned long *cp)
{
    const unsigned char *s = (const unsigned char *)str;
    unsigned long c;
    size_t len, i;

    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2;
        c = s[0] & 0x1f;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3;
        c = s[0] & 0x0f;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4;
        c = s[0] & 0x07;
    } else {
        return 0;
    }
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if ((len == 2 && c < 0x80) || (len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
        c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

long osc_utf8_length(const char *s)
{
    const char *p = s;
    long n = 0;

    while (*p) {
        unsigned long cp;
        size_t len = osc_utf8_next(p, &cp);
        if (!len)
            return -1;
        p += len;
        n++;
    }
    return n;
}

int osc_noncharacter(unsigned long cp)
{
    return (cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) == 0xfffe;
}

int osc_valid_text(const char *s, size_t max_chars)
{
    const char *p = s;
    size_t n = 0;

    if (!s)
        return 0;
    while (*p) {
        unsigned long cp;
        size_t len = osc_utf8_next(p, &cp);
        if (!len || cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) || osc_noncharacter(cp))
            return 0;
        p += len;
        if (++n > max_chars)
            return 0;
    }
    return 1;
}

int osc_valid_password(const char *s, size_t bytes)
{
    if (!s || bytes < 1 || bytes > 1024 || strlen(s) != bytes)
        return 0;
    return osc_utf8_length(s) >= 0;
}
