/* The request as the signature schemes see it (SigV4 in sigv4.h, SDK-HMAC-SHA256 in sdkhmac.h),
 * plus the canonicalisation helpers both schemes share. No HTTP library types: the caller adapts
 * its request to struct osc_sigreq. The helpers are implemented in src/auth/sigv4.c. */
#ifndef OSC_SIGREQ_H
#define OSC_SIGREQ_H

#include <stddef.h>
#include <stdint.h>

#include "oscred/err.h"

#define OSC_SIGREQ_MSG_MAX 512             /* message buffers, NUL included */
#define OSC_SIGREQ_SIGNED_HEADERS_MAX 1024 /* longest SignedHeaders list, NUL included */
#define OSC_SIGREQ_HEADER_NAME_MAX 128     /* longest signed header name, NUL included */
#define OSC_SIGREQ_TIME_LEN 16             /* "YYYYMMDDTHHMMSSZ" */
#define OSC_SIGREQ_SIG_LEN 32              /* HMAC-SHA256 signatures, in bytes */
#define OSC_SIGREQ_SKEW 900                /* accepted clock difference, seconds (15 min) */

/* Looks up a request header by name, case-insensitively. Returns its value (borrowed, valid for
 * the whole verification) or NULL if absent, and sets *count to the number of times the header
 * occurs in the request (so a header sent twice, even with different case, gives 2). A callback
 * that returns a value without setting *count is taken to mean "once". */
typedef const char *(*osc_sigreq_header_fn)(void *arg, const char *name, int *count);

/* A received request. Every pointer is borrowed for the duration of the call it is passed to. */
struct osc_sigreq {
    const char *method;          /* as received, e.g. "POST" */
    const char *path;            /* raw path as on the wire, before '?', not percent-decoded */
    const char *query;           /* raw query after '?', not decoded; NULL or "" if none */
    osc_sigreq_header_fn header; /* NULL means a request without headers */
    void *header_arg;            /* passed to header() */
    const void *body;            /* raw body bytes; may be NULL only when bodylen is 0 */
    size_t bodylen;
};

/* ---- Shared helpers (for src/auth/ only; every function is thread-safe) ---- */

/* Growable NUL-terminated string. Errors are sticky: after an allocation failure every append
 * is a no-op returning OSC_E_INTERNAL, so a builder may append freely and check err once. */
struct osc_sigreq_buf {
    char *p; /* NUL-terminated while err is OSC_OK (NULL before the first append) */
    size_t len;
    size_t cap;
    osc_err err;
};

void osc_sigreq_buf_init(struct osc_sigreq_buf *b);
/* Frees the storage; the buffer is then empty and reusable. */
void osc_sigreq_buf_cleanup(struct osc_sigreq_buf *b);
/* Appends n bytes / a C string. OSC_E_INTERNAL on allocation failure (sticky). */
osc_err osc_sigreq_buf_add(struct osc_sigreq_buf *b, const void *p, size_t n);
osc_err osc_sigreq_buf_adds(struct osc_sigreq_buf *b, const char *s);
/* Appends n bytes percent-encoded with the RFC 3986 unreserved set (A-Z a-z 0-9 - _ . ~ kept,
 * everything else %XX, uppercase hex). If keep_slash, '/' is kept too. */
osc_err osc_sigreq_buf_add_encoded(struct osc_sigreq_buf *b, const void *p, size_t n,
                                   int keep_slash);
/* Hands over the string (malloc'd, caller frees) and leaves the buffer empty. Returns NULL if an
 * append failed; the buffer is emptied either way. An empty buffer gives "". */
char *osc_sigreq_buf_take(struct osc_sigreq_buf *b);
/* Takes both buffers (a canonical request and its string to sign): 0 with both strings handed
 * over, or -1 with neither (both buffers emptied either way). */
int osc_sigreq_buf_take_pair(struct osc_sigreq_buf *a, struct osc_sigreq_buf *b, char **out_a,
                             char **out_b);

/* Looks name up through req->header. Returns how often it occurs (0 if absent) and, if it occurs,
 * sets *value (borrowed). */
int osc_sigreq_header(const struct osc_sigreq *req, const char *name, const char **value);

/* Appends the canonical query of raw (NULL or "" gives nothing): split on '&' (empty pieces
 * skipped), split each piece at its first '=', percent-decode name and value ('+' stays a
 * literal '+'), re-encode both strictly (osc_sigreq_buf_add_encoded), sort by encoded name then
 * encoded value, join "name=value" with '&'. Pieces whose decoded name equals exclude (may be
 * NULL) are left out. OSC_E_INVALID if a '%' is not followed by two hex digits; OSC_E_INTERNAL
 * on allocation failure. */
osc_err osc_sigreq_canonical_query(const char *raw, const char *exclude,
                                   struct osc_sigreq_buf *out);

/* Finds the first query parameter whose percent-decoded name is name. Returns how many
 * parameters carry that name (0 if none). When the first one's decoded value fits in outsz - 1
 * bytes and contains no NUL, it is copied NUL-terminated into out and *ok is set to 1, otherwise
 * *ok is 0. Undecodable pieces are skipped. */
int osc_sigreq_query_param(const char *raw, const char *name, char *out, size_t outsz, int *ok);

/* 1 if m is a non-empty HTTP token (RFC 7230 tchar), as every method is; 0 otherwise. Keeps a
 * hostile method from injecting line breaks into the canonical request. */
int osc_sigreq_valid_method(const char *m);

/* 1 if list is a SignedHeaders value this service accepts: non-empty names of lowercase HTTP
 * token characters, each shorter than OSC_SIGREQ_HEADER_NAME_MAX, separated by single ';', in
 * strictly ascending byte order (so no duplicates), the whole shorter than
 * OSC_SIGREQ_SIGNED_HEADERS_MAX. 0 otherwise. */
int osc_sigreq_valid_signed_headers(const char *list);
/* 1 if name (lowercase) is one of the names in list, 0 otherwise. */
int osc_sigreq_has_signed_header(const char *list, const char *name);

/* Appends "name:value\n" for each name of list (a valid SignedHeaders value), looked up through
 * req->header. With trim, values lose leading and trailing blanks and inner runs of blanks
 * become one space (SigV4); without, they are copied verbatim (SDK-HMAC-SHA256).
 * OSC_E_INVALID if a listed header is absent, occurs more than once, or its value contains CR or
 * LF; OSC_E_INTERNAL on allocation failure. */
osc_err osc_sigreq_canonical_headers(const struct osc_sigreq *req, const char *list, int trim,
                                     struct osc_sigreq_buf *out);

/* Parses exactly "YYYYMMDDTHHMMSSZ" (a real UTC calendar time, no leap second) into Unix
 * seconds. OSC_E_INVALID otherwise; *out is written only on success. */
osc_err osc_sigreq_parse_time(const char *s, int64_t *out);
/* Parses an RFC 7231 IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") into Unix seconds.
 * OSC_E_INVALID otherwise (the obsolete RFC 850 and asctime forms are not accepted). */
osc_err osc_sigreq_parse_http_date(const char *s, int64_t *out);
/* Formats t as "YYYYMMDDTHHMMSSZ" into out (OSC_SIGREQ_TIME_LEN + 1 bytes). Years outside
 * 0000..9999 do not fit and come out reduced mod 10000. */
void osc_sigreq_format_time(int64_t t, char out[OSC_SIGREQ_TIME_LEN + 1]);
/* Decodes exactly 64 lowercase hex digits into out. OSC_E_INVALID otherwise (out untouched). */
osc_err osc_sigreq_unhex_sig(const char *s, size_t n, unsigned char out[OSC_SIGREQ_SIG_LEN]);

#endif
