/* Private to src/http: the XML writer of the AWS Query surface. Errors are sticky: after an
 * allocation failure every call is a no-op and failed is set. */
#ifndef OSC_HTTP_XML_H
#define OSC_HTTP_XML_H

#include <stddef.h>

struct osc_xml {
    char *p; /* NUL-terminated document so far (NULL while empty) */
    size_t len, cap;
    int failed;
};

void osc_xml_init(struct osc_xml *x);
void osc_xml_cleanup(struct osc_xml *x);
/* Appends s as is (markup the caller wrote). */
void osc_xml_raw(struct osc_xml *x, const char *s);
void osc_xml_open(struct osc_xml *x, const char *tag);
void osc_xml_close(struct osc_xml *x, const char *tag);
/* <tag/> */
void osc_xml_empty(struct osc_xml *x, const char *tag);
/* Appends s with &, <, >, quotes and CR escaped, and U+FFFD for each byte that is not UTF-8 and
 * each character XML cannot carry (C0 controls but tab and LF). */
void osc_xml_escaped(struct osc_xml *x, const char *s);
/* <tag>escaped value</tag> */
void osc_xml_text(struct osc_xml *x, const char *tag, const char *value);
/* <tag>printf-formatted short value</tag> (numbers, booleans) */
void osc_xml_textf(struct osc_xml *x, const char *tag, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
