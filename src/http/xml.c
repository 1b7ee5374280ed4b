/* A small XML writer for the AWS Query responses: elements and escaped text, no comments (the AWS
 * SDK for JavaScript silently returns an empty result when a document holds one). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oscred/validate.h"
#include "xml.h"

void osc_xml_init(struct osc_xml *x)
{
    memset(x, 0, sizeof(*x));
}

void osc_xml_cleanup(struct osc_xml *x)
{
    free(x->p);
    memset(x, 0, sizeof(*x));
}

static void add(struct osc_xml *x, const char *s, size_t n)
{
    if (x->failed)
        return;
    if (x->len + n + 1 > x->cap) {
        size_t cap = (x->cap + n + 1) * 2;
        char *p = realloc(x->p, cap);
        if (!p) {
            x->failed = 1;
            return;
        }
        x->p = p;
        x->cap = cap;
    }
    memcpy(x->p + x->len, s, n);
    x->len += n;
    x->p[x->len] = '\0';
}

void osc_xml_raw(struct osc_xml *x, const char *s)
{
    add(x, s, strlen(s));
}

void osc_xml_open(struct osc_xml *x, const char *tag)
{
    add(x, "<", 1);
    osc_xml_raw(x, tag);
    add(x, ">", 1);
}

void osc_xml_close(struct osc_xml *x, const char *tag)
{
    add(x, "</", 2);
    osc_xml_raw(x, tag);
    add(x, ">", 1);
}

void osc_xml_empty(struct osc_xml *x, const char *tag)
{
    add(x, "<", 1);
    osc_xml_raw(x, tag);
    add(x, "/>", 2);
}

/* Characters XML 1.0 does not allow, even as references: C0 controls but tab, LF and CR, and
 * U+FFFE, U+FFFF. */
static int xml_char(unsigned long cp)
{
    return cp >= 0x20 ? cp != 0xfffe && cp != 0xffff : cp == '\t' || cp == '\n' || cp == '\r';
}

void osc_xml_escaped(struct osc_xml *x, const char *s)
{
    static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */

    for (const char *p = s; *p;) {
        unsigned long cp;
        size_t len = osc_utf8_next(p, &cp);

        if (!len) { /* a stray byte, or a character cut by a length limit */
            osc_xml_raw(x, replacement);
            p++;
            continue;
        }
        switch (cp) {
        case '<':
            osc_xml_raw(x, "&lt;");
            break;
        case '>':
            osc_xml_raw(x, "&gt;");
            break;
        case '&':
            osc_xml_raw(x, "&amp;");
            break;
        case '"':
            osc_xml_raw(x, "&quot;");
            break;
        case '\'':
            osc_xml_raw(x, "&apos;");
            break;
        case '\r':
            osc_xml_raw(x, "&#13;");
            break;
        default:
            if (xml_char(cp))
                add(x, p, len);
            else
                osc_xml_raw(x, replacement);
            break;
        }
        p += len;
    }
}

void osc_xml_text(struct osc_xml *x, const char *tag, const char *value)
{
    osc_xml_open(x, tag);
    osc_xml_escaped(x, value);
    osc_xml_close(x, tag);
}

void osc_xml_textf(struct osc_xml *x, const char *tag, const char *fmt, ...)
{
    char buf[64];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    osc_xml_text(x, tag, buf);
}
