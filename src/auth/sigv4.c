/* SigV4 verification (aws-iam.md §5-8) and the canonicalisation helpers it shares with
 * SDK-HMAC-SHA256 (sigreq.h). Works on the wire request only: no HTTP library, no database,
 * no OpenSSL (digests come from crypto.h). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oscred/crypto.h"
#include "oscred/sigreq.h"
#include "oscred/sigv4.h"

#define MAX_TIME INT64_C(253402300799) /* 9999-12-31T23:59:59Z */
#define CREDENTIAL_MAX 512             /* decoded X-Amz-Credential, NUL included */

static const char SIG_MISMATCH[] =
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details.";

/* ---------------------------------------------------------------------------------------------
 * Shared helpers (sigreq.h)
 * ------------------------------------------------------------------------------------------- */

void osc_sigreq_buf_init(struct osc_sigreq_buf *b)
{
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    b->err = OSC_OK;
}

void osc_sigreq_buf_cleanup(struct osc_sigreq_buf *b)
{
    free(b->p);
    osc_sigreq_buf_init(b);
}

static osc_err buf_reserve(struct osc_sigreq_buf *b, size_t n)
{
    osc_err err = b->err;
    size_t cap = b->cap ? b->cap : 64;
    char *p = NULL;

    if (err)
        goto out;
    if (n > SIZE_MAX / 2 - b->len - 1) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    if (b->len + n + 1 <= b->cap)
        goto out;
    while (cap < b->len + n + 1)
        cap *= 2;
    p = realloc(b->p, cap);
    if (!p) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    b->p = p;
    b->cap = cap;
out:
    b->err = err;
    return err;
}

osc_err osc_sigreq_buf_add(struct osc_sigreq_buf *b, const void *p, size_t n)
{
    osc_err err = buf_reserve(b, n);

    if (err)
        goto out;
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
out:
    return err;
}

osc_err osc_sigreq_buf_adds(struct osc_sigreq_buf *b, const char *s)
{
    return osc_sigreq_buf_add(b, s, strlen(s));
}

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

osc_err osc_sigreq_buf_add_encoded(struct osc_sigreq_buf *b, const void *p, size_t n,
                                   int keep_slash)
{
    static const char HEX[] = "0123456789ABCDEF";
    const unsigned char *s = p;
    osc_err err = OSC_OK;
    size_t need = 0;
    char *d = NULL;

    for (size_t i = 0; i < n; i++)
        need += (unreserved(s[i]) || (keep_slash && s[i] == '/')) ? 1 : 3;
    err = buf_reserve(b, need);
    if (err)
        goto out;
    d = b->p + b->len;
    for (size_t i = 0; i < n; i++) {
        if (unreserved(s[i]) || (keep_slash && s[i] == '/')) {
            *d++ = (char)s[i];
        } else {
            *d++ = '%';
            *d++ = HEX[s[i] >> 4];
            *d++ = HEX[s[i] & 15];
        }
    }
    b->len += need;
    b->p[b->len] = '\0';
out:
    return err;
}

char *osc_sigreq_buf_take(struct osc_sigreq_buf *b)
{
    char *s = NULL;

    if (b->err == OSC_OK && !b->p)
        osc_sigreq_buf_add(b, "", 0);
    if (b->err == OSC_OK) {
        s = b->p;
        b->p = NULL;
    }
    osc_sigreq_buf_cleanup(b);
    return s;
}

int osc_sigreq_buf_take_pair(struct osc_sigreq_buf *a, struct osc_sigreq_buf *b, char **out_a,
                             char **out_b)
{
    char *sa = osc_sigreq_buf_take(a);
    char *sb = osc_sigreq_buf_take(b);

    if (!sa || !sb) {
        free(sa);
        free(sb);
        return -1;
    }
    *out_a = sa;
    *out_b = sb;
    return 0;
}

int osc_sigreq_header(const struct osc_sigreq *req, const char *name, const char **value)
{
    int count = -1;
    const char *v = NULL;

    if (req->header)
        v = req->header(req->header_arg, name, &count);
    if (!v)
        return 0;
    *value = v;
    return count < 1 ? 1 : count;
}

/* Percent-decodes n bytes of s into out (room for n bytes). '+' stays '+': the spec treats a raw
 * '+' in a signed query as literal. Returns 0 and the length in *outlen, or -1 for a '%' without
 * two hex digits. */
static int pct_decode(const char *s, size_t n, char *out, size_t *outlen)
{
    size_t j = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            out[j++] = s[i];
            continue;
        }
        if (n - i < 3 || osc_crypto_hex_digit(s[i + 1]) < 0 || osc_crypto_hex_digit(s[i + 2]) < 0)
            return -1;
        out[j++] = (char)(osc_crypto_hex_digit(s[i + 1]) << 4 | osc_crypto_hex_digit(s[i + 2]));
        i += 2;
    }
    *outlen = j;
    return 0;
}

struct qpair {
    const char *k; /* encoded, NUL-terminated (an encoded string never holds a NUL) */
    const char *v;
};

static int qpair_cmp(const void *a, const void *b)
{
    const struct qpair *x = a;
    const struct qpair *y = b;
    int c = strcmp(x->k, y->k);

    return c ? c : strcmp(x->v, y->v);
}

osc_err osc_sigreq_canonical_query(const char *raw, const char *exclude, struct osc_sigreq_buf *out)
{
    osc_err err = OSC_OK;
    size_t len = raw ? strlen(raw) : 0;
    size_t npieces = 1;
    size_t np = 0;
    struct qpair *pairs = NULL;
    char *scratch = NULL;
    struct osc_sigreq_buf arena;
    size_t *offs = NULL;

    osc_sigreq_buf_init(&arena);
    if (len == 0)
        goto out;
    for (size_t i = 0; i < len; i++)
        npieces += raw[i] == '&';
    pairs = calloc(npieces, sizeof(*pairs));
    offs = calloc(npieces * 2, sizeof(*offs));
    scratch = malloc(len);
    if (!pairs || !offs || !scratch) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    /* Encoded names and values go into one arena, NUL-separated; pointers into it are only
     * taken once it has stopped growing. */
    for (size_t start = 0; start <= len && !err;) {
        const char *piece = raw + start;
        const char *amp = memchr(piece, '&', len - start);
        size_t plen = amp ? (size_t)(amp - piece) : len - start;
        const char *eq = memchr(piece, '=', plen);
        size_t klen = eq ? (size_t)(eq - piece) : plen;
        size_t dk = 0;
        size_t dv = 0;

        start += plen + 1;
        if (plen == 0)
            continue;
        if (pct_decode(piece, klen, scratch, &dk) != 0) {
            err = OSC_E_INVALID;
            break;
        }
        if (exclude && dk == strlen(exclude) && memcmp(scratch, exclude, dk) == 0)
            continue;
        offs[2 * np] = arena.len;
        osc_sigreq_buf_add_encoded(&arena, scratch, dk, 0);
        osc_sigreq_buf_add(&arena, "", 1);
        if (eq && pct_decode(eq + 1, plen - klen - 1, scratch, &dv) != 0) {
            err = OSC_E_INVALID;
            break;
        }
        offs[2 * np + 1] = arena.len;
        osc_sigreq_buf_add_encoded(&arena, scratch, dv, 0);
        err = osc_sigreq_buf_add(&arena, "", 1);
        np++;
    }
    if (err)
        goto out;
    for (size_t i = 0; i < np; i++) {
        pairs[i].k = arena.p + offs[2 * i];
        pairs[i].v = arena.p + offs[2 * i + 1];
    }
    if (np > 1)
        qsort(pairs, np, sizeof(*pairs), qpair_cmp);
    for (size_t i = 0; i < np; i++) {
        if (i)
            osc_sigreq_buf_add(out, "&", 1);
        osc_sigreq_buf_adds(out, pairs[i].k);
        osc_sigreq_buf_add(out, "=", 1);
        osc_sigreq_buf_adds(out, pairs[i].v);
    }
    err = out->err;
out:
    osc_sigreq_buf_cleanup(&arena);
    free(pairs);
    free(offs);
    free(scratch);
    return err;
}

int osc_sigreq_query_param(const char *raw, const char *name, char *out, size_t outsz, int *ok)
{
    size_t len = raw ? strlen(raw) : 0;
    size_t nlen = strlen(name);
    int count = 0;
    char kbuf[64];

    *ok = 0;
    for (size_t start = 0; start < len;) {
        const char *piece = raw + start;
        const char *amp = memchr(piece, '&', len - start);
        size_t plen = amp ? (size_t)(amp - piece) : len - start;
        const char *eq = memchr(piece, '=', plen);
        size_t klen = eq ? (size_t)(eq - piece) : plen;
        size_t dk = 0;
        size_t dv = 0;

        start += plen + 1;
        /* The names looked up here are short; a longer raw name cannot decode to one. */
        if (klen > sizeof(kbuf) || pct_decode(piece, klen, kbuf, &dk) != 0)
            continue;
        if (dk != nlen || memcmp(kbuf, name, nlen) != 0)
            continue;
        count++;
        if (count > 1)
            continue;
        if (!eq) {
            if (outsz > 0) {
                out[0] = '\0';
                *ok = 1;
            }
            continue;
        }
        /* Decoding never lengthens, so a raw value that fits decodes into out. */
        if (plen - klen - 1 >= outsz)
            continue;
        if (pct_decode(eq + 1, plen - klen - 1, out, &dv) != 0 || memchr(out, '\0', dv))
            continue;
        out[dv] = '\0';
        *ok = 1;
    }
    return count;
}

/* RFC 7230 tchar. A NUL is not one (strchr would find the terminator). */
static int tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

int osc_sigreq_valid_method(const char *m)
{
    if (!m || !*m)
        return 0;
    for (; *m; m++) {
        if (!tchar((unsigned char)*m))
            return 0;
    }
    return 1;
}

int osc_sigreq_valid_signed_headers(const char *list)
{
    size_t len = strlen(list);
    const char *prev = NULL;
    size_t prevlen = 0;

    if (len == 0 || len >= OSC_SIGREQ_SIGNED_HEADERS_MAX)
        return 0;
    for (const char *p = list; p <= list + len;) {
        const char *semi = strchr(p, ';');
        size_t n = semi ? (size_t)(semi - p) : strlen(p);
        size_t common = prevlen < n ? prevlen : n;

        if (n == 0 || n >= OSC_SIGREQ_HEADER_NAME_MAX)
            return 0;
        for (size_t i = 0; i < n; i++) {
            if (!tchar((unsigned char)p[i]) || (p[i] >= 'A' && p[i] <= 'Z'))
                return 0;
        }
        if (prev) {
            int c = memcmp(prev, p, common);

            if (c > 0 || (c == 0 && prevlen >= n))
                return 0;
        }
        prev = p;
        prevlen = n;
        p += n + 1;
    }
    return 1;
}

int osc_sigreq_has_signed_header(const char *list, const char *name)
{
    size_t nlen = strlen(name);

    for (const char *p = list; *p;) {
        const char *semi = strchr(p, ';');
        size_t n = semi ? (size_t)(semi - p) : strlen(p);

        if (n == nlen && memcmp(p, name, n) == 0)
            return 1;
        if (!semi)
            break;
        p = semi + 1;
    }
    return 0;
}

static int blank(char c)
{
    return c == ' ' || c == '\t';
}

osc_err osc_sigreq_canonical_headers(const struct osc_sigreq *req, const char *list, int trim,
                                     struct osc_sigreq_buf *out)
{
    osc_err err = OSC_OK;
    char name[OSC_SIGREQ_HEADER_NAME_MAX];

    for (const char *p = list; *p && !err;) {
        const char *semi = strchr(p, ';');
        size_t n = semi ? (size_t)(semi - p) : strlen(p);
        const char *v = NULL;
        size_t vlen = 0;

        if (n >= sizeof(name)) {
            err = OSC_E_INVALID;
            break;
        }
        memcpy(name, p, n);
        name[n] = '\0';
        if (osc_sigreq_header(req, name, &v) != 1 || strpbrk(v, "\r\n")) {
            err = OSC_E_INVALID;
            break;
        }
        osc_sigreq_buf_add(out, name, n);
        osc_sigreq_buf_add(out, ":", 1);
        vlen = strlen(v);
        if (!trim) {
            osc_sigreq_buf_add(out, v, vlen);
        } else {
            size_t i = 0;
            int pending_space = 0;

            while (i < vlen && blank(v[i]))
                i++;
            for (; i < vlen; i++) {
                if (blank(v[i])) {
                    pending_space = 1;
                    continue;
                }
                if (pending_space)
                    osc_sigreq_buf_add(out, " ", 1);
                pending_space = 0;
                osc_sigreq_buf_add(out, v + i, 1);
            }
        }
        err = osc_sigreq_buf_add(out, "\n", 1);
        p = semi ? semi + 1 : p + n;
    }
    return err;
}

/* Howard Hinnant's days_from_civil / civil_from_days: proleptic Gregorian, no time zone, no
 * libc state. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era = 0;
    int64_t yoe = 0;
    int64_t doy = 0;
    int64_t doe = 0;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    int64_t era = 0;
    int64_t doe = 0;
    int64_t yoe = 0;
    int64_t doy = 0;
    int64_t mp = 0;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int64_t y, int m)
{
    static const int DAYS[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 ? 28 + leap : DAYS[m - 1];
}

/* n decimal digits at s, or -1. */
static int64_t digits(const char *s, size_t n)
{
    int64_t v = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static osc_err civil_to_unix(int64_t y, int64_t mo, int64_t d, int64_t h, int64_t mi, int64_t s,
                             int64_t *out)
{
    osc_err err = OSC_OK;

    if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, (int)mo) || h < 0 || h > 23 ||
        mi < 0 || mi > 59 || s < 0 || s > 59)
        err = OSC_E_INVALID;
    else
        *out = days_from_civil(y, (int)mo, (int)d) * 86400 + h * 3600 + mi * 60 + s;
    return err;
}

osc_err osc_sigreq_parse_time(const char *s, int64_t *out)
{
    osc_err err = OSC_OK;

    if (!s || strlen(s) != OSC_SIGREQ_TIME_LEN || s[8] != 'T' || s[15] != 'Z')
        err = OSC_E_INVALID;
    else
        err = civil_to_unix(digits(s, 4), digits(s + 4, 2), digits(s + 6, 2), digits(s + 9, 2),
                            digits(s + 11, 2), digits(s + 13, 2), out);
    return err;
}

osc_err osc_sigreq_parse_http_date(const char *s, int64_t *out)
{
    static const char DAYS[] = "Mon,Tue,Wed,Thu,Fri,Sat,Sun,";
    static const char MONTHS[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    osc_err err = OSC_OK;
    int64_t mo = 0;
    int64_t t = 0;
    int known_day = 0;

    /* "Sun, 06 Nov 1994 08:49:37 GMT" */
    if (!s || strlen(s) != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
        s[16] != ' ' || s[19] != ':' || s[22] != ':' || strcmp(s + 25, " GMT") != 0) {
        err = OSC_E_INVALID;
        goto out;
    }
    for (size_t i = 0; i < 12; i++) {
        if (memcmp(s + 8, MONTHS + 3 * i, 3) == 0)
            mo = (int64_t)i + 1;
    }
    /* A day name, not necessarily the date's: the date is what counts, and AWS's own published
     * test suite signs "Mon, 09 Sep 2011", a Friday. */
    for (size_t i = 0; i < 7; i++)
        known_day |= memcmp(s, DAYS + 4 * i, 3) == 0;
    if (!known_day) {
        err = OSC_E_INVALID;
        goto out;
    }
    err = civil_to_unix(digits(s + 12, 4), mo, digits(s + 5, 2), digits(s + 17, 2),
                        digits(s + 20, 2), digits(s + 23, 2), &t);
out:
    if (!err)
        *out = t;
    return err;
}

void osc_sigreq_format_time(int64_t t, char out[OSC_SIGREQ_TIME_LEN + 1])
{
    int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    int64_t secs = t - days * 86400;
    int64_t y = 0;
    int m = 0;
    int d = 0;
    int64_t field[6] = {0};
    static const int WIDTH[6] = {4, 2, 2, 2, 2, 2};
    char *p = out;

    civil_from_days(days, &y, &m, &d);
    /* Digits by hand: the year is reduced mod 10000, so the output always fits. */
    field[0] = ((y % 10000) + 10000) % 10000;
    field[1] = m;
    field[2] = d;
    field[3] = secs / 3600;
    field[4] = secs / 60 % 60;
    field[5] = secs % 60;
    for (int i = 0; i < 6; i++) {
        if (i == 3)
            *p++ = 'T';
        for (int j = WIDTH[i] - 1; j >= 0; j--) {
            p[j] = (char)('0' + field[i] % 10);
            field[i] /= 10;
        }
        p += WIDTH[i];
    }
    *p++ = 'Z';
    *p = '\0';
}

osc_err osc_sigreq_unhex_sig(const char *s, size_t n, unsigned char out[OSC_SIGREQ_SIG_LEN])
{
    osc_err err = n == 2 * (size_t)OSC_SIGREQ_SIG_LEN ? OSC_OK : OSC_E_INVALID;

    /* Lowercase only: the schemes emit lowercase, and one spelling per signature keeps the
     * comparison what the client computed. */
    for (size_t i = 0; !err && i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            err = OSC_E_INVALID;
    }
    for (size_t i = 0; !err && i < OSC_SIGREQ_SIG_LEN; i++)
        out[i] = (unsigned char)(osc_crypto_hex_digit(s[2 * i]) << 4 |
                                 osc_crypto_hex_digit(s[2 * i + 1]));
    return err;
}

/* ---------------------------------------------------------------------------------------------
 * SigV4
 * ------------------------------------------------------------------------------------------- */

__attribute__((format(printf, 2, 3))) static void say(char *msg, const char *fmt, ...)
{
    va_list ap;

    if (!msg)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, OSC_SIGREQ_MSG_MAX, fmt, ap);
    va_end(ap);
}

const char *osc_sigv4_result_name(enum osc_sigv4_result r)
{
    switch (r) {
    case OSC_SIGV4_OK:
        return "OK";
    case OSC_SIGV4_MISSING:
        return "MISSING";
    case OSC_SIGV4_INCOMPLETE:
        return "INCOMPLETE";
    case OSC_SIGV4_SESSION_TOKEN:
        return "SESSION_TOKEN";
    case OSC_SIGV4_BAD_SCOPE:
        return "BAD_SCOPE";
    case OSC_SIGV4_EXPIRED:
        return "EXPIRED";
    case OSC_SIGV4_NOT_YET:
        return "NOT_YET";
    case OSC_SIGV4_PRESIGN_EXPIRED:
        return "PRESIGN_EXPIRED";
    case OSC_SIGV4_MISMATCH:
        return "MISMATCH";
    case OSC_SIGV4_INTERNAL:
        return "INTERNAL";
    }
    return "UNKNOWN";
}

/* Client text for a message: at most n - 1 bytes, anything but printable ASCII shown as '?'. */
static const char *printable(const char *s, char *dst, size_t n)
{
    size_t i = 0;

    for (; s[i] && i + 1 < n; i++) {
        dst[i] = s[i];
        if (s[i] < 0x20 || s[i] > 0x7e)
            dst[i] = '?';
    }
    dst[i] = '\0';
    return dst;
}

static int region_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > OSC_SIGV4_REGION_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return 0;
    }
    return 1;
}

/* Splits "AKID/YYYYMMDD/region/service/aws4_request" into a. INCOMPLETE if it does not have five
 * non-empty elements that fit; scope checks come later, once the request time is known. */
static enum osc_sigv4_result split_credential(const char *cred, struct osc_sigv4_auth *a,
                                              char *term, size_t termsz, char *msg)
{
    enum osc_sigv4_result r = OSC_SIGV4_OK;
    struct {
        char *dst;
        size_t size;
    } part[5] = {
        {a->access_key, sizeof(a->access_key)},
        {a->date, sizeof(a->date)},
        {a->region, sizeof(a->region)},
        {a->service, sizeof(a->service)},
        {term, termsz},
    };
    const char *p = cred;

    for (int i = 0; i < 5 && !r; i++) {
        const char *slash = i < 4 ? strchr(p, '/') : NULL;
        size_t n = slash ? (size_t)(slash - p) : strlen(p);

        if ((i < 4 && !slash) || n == 0 || n >= part[i].size) {
            r = OSC_SIGV4_INCOMPLETE;
            break;
        }
        memcpy(part[i].dst, p, n);
        part[i].dst[n] = '\0';
        p += n + 1;
    }
    for (const char *k = a->access_key; !r && *k; k++) {
        if (*k < 0x21 || *k > 0x7e)
            r = OSC_SIGV4_INCOMPLETE;
    }
    if (r)
        say(msg, "Credential must have exactly 5 slash-delimited elements, e.g. "
                 "keyid/date/region/service/term.");
    return r;
}

/* Parses the Authorization header value (already known to start with the algorithm) into
 * credential / signed headers / signature text. */
static enum osc_sigv4_result parse_auth_header(const char *h, char *cred, size_t credsz, char *sh,
                                               size_t shsz, char *sig, size_t sigsz, char *msg)
{
    static const char *const NAMES[3] = {"Credential", "SignedHeaders", "Signature"};
    enum osc_sigv4_result r = OSC_SIGV4_OK;
    char *const dst[3] = {cred, sh, sig};
    const size_t dstsz[3] = {credsz, shsz, sigsz};
    int seen[3] = {0, 0, 0};
    const char *p = h + strlen(OSC_SIGV4_ALGORITHM);

    if (*p && !blank(*p)) {
        r = OSC_SIGV4_INCOMPLETE;
        say(msg, "Authorization header algorithm must be '" OSC_SIGV4_ALGORITHM "'.");
        goto out;
    }
    while (*p) {
        const char *comma = NULL;
        const char *eq = NULL;
        size_t n = 0;
        size_t vlen = 0;
        int which = -1;

        while (blank(*p))
            p++;
        comma = strchr(p, ',');
        n = comma ? (size_t)(comma - p) : strlen(p);
        while (n > 0 && blank(p[n - 1]))
            n--;
        if (n == 0 && !comma)
            break;
        eq = memchr(p, '=', n);
        if (!eq) {
            r = OSC_SIGV4_INCOMPLETE;
            say(msg, "A part of the Authorization header is not a valid key=value pair (missing "
                     "equal-sign).");
            goto out;
        }
        for (int i = 0; i < 3; i++) {
            if ((size_t)(eq - p) == strlen(NAMES[i]) && memcmp(p, NAMES[i], (size_t)(eq - p)) == 0)
                which = i;
        }
        if (which < 0 || seen[which]) {
            r = OSC_SIGV4_INCOMPLETE;
            say(msg, "Authorization header has an unknown or repeated part; it takes "
                     "'Credential', 'SignedHeaders' and 'Signature' once each.");
            goto out;
        }
        seen[which] = 1;
        vlen = (size_t)(p + n - eq - 1);
        if (vlen >= dstsz[which]) {
            r = OSC_SIGV4_INCOMPLETE;
            say(msg, "Authorization header '%s' parameter is too long.", NAMES[which]);
            goto out;
        }
        memcpy(dst[which], eq + 1, vlen);
        dst[which][vlen] = '\0';
        if (!comma)
            break;
        p = comma + 1;
    }
    if (!seen[0] || !seen[1] || !seen[2]) {
        r = OSC_SIGV4_INCOMPLETE;
        say(msg, "%s%s%s", seen[0] ? "" : "Authorization header requires 'Credential' parameter. ",
            seen[2] ? "" : "Authorization header requires 'Signature' parameter. ",
            seen[1] ? "" : "Authorization header requires 'SignedHeaders' parameter. ");
    }
out:
    return r;
}

/* Reads one presigned parameter into out. INCOMPLETE if it is missing, repeated or unusable. */
static enum osc_sigv4_result query_auth_param(const char *query, const char *name, char *out,
                                              size_t outsz, char *msg)
{
    enum osc_sigv4_result r = OSC_SIGV4_OK;
    int ok = 0;
    int n = osc_sigreq_query_param(query, name, out, outsz, &ok);

    if (n == 0) {
        r = OSC_SIGV4_INCOMPLETE;
        say(msg,
            "AWS query-string parameters must include '%s'. Re-examine the query-string "
            "parameters.",
            name);
    } else if (n > 1 || !ok || out[0] == '\0') {
        r = OSC_SIGV4_INCOMPLETE;
        say(msg, "AWS query-string parameter '%s' must be given once, with a valid value.", name);
    }
    return r;
}

static int presign_present(const char *query)
{
    static const char *const KEYS[] = {"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature"};
    char tmp[2];
    int ok = 0;

    for (size_t i = 0; i < sizeof(KEYS) / sizeof(KEYS[0]); i++) {
        if (osc_sigreq_query_param(query, KEYS[i], tmp, sizeof(tmp), &ok) > 0)
            return 1;
    }
    return 0;
}

/* Request time for header auth: X-Amz-Date, else Date, and the header it came from must be
 * signed. */
static enum osc_sigv4_result header_time(const struct osc_sigreq *req, struct osc_sigv4_auth *a,
                                         char *msg)
{
    enum osc_sigv4_result r = OSC_SIGV4_OK;
    const char *v = NULL;
    int n = osc_sigreq_header(req, "x-amz-date", &v);
    int from_date = n == 0; /* the Date header counts only when X-Amz-Date is absent */
    const char *signed_name = from_date ? "date" : "x-amz-date";
    char echo[24];

    if (from_date)
        n = osc_sigreq_header(req, "date", &v);
    if (n == 0) {
        r = OSC_SIGV4_INCOMPLETE;
        say(msg, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
                 "header.");
        goto out;
    }
    if (from_date) {
        if (n > 1 || osc_sigreq_parse_http_date(v, &a->amz_time) != OSC_OK) {
            r = OSC_SIGV4_INCOMPLETE;
            say(msg, "Date header must be a single RFC 7231 date, e.g. 'Sun, 06 Nov 1994 "
                     "08:49:37 GMT'.");
            goto out;
        }
        osc_sigreq_format_time(a->amz_time, a->amz_date);
    } else {
        if (n > 1 || osc_sigreq_parse_time(v, &a->amz_time) != OSC_OK) {
            r = OSC_SIGV4_INCOMPLETE;
            say(msg,
                "Date must be in ISO-8601 'basic format'. Got '%s'. See "
                "http://en.wikipedia.org/wiki/ISO_8601",
                n > 1 ? "" : printable(v, echo, sizeof(echo)));
            goto out;
        }
        memcpy(a->amz_date, v, OSC_SIGREQ_TIME_LEN + 1);
    }
    if (!osc_sigreq_has_signed_header(a->signed_headers, signed_name)) {
        r = OSC_SIGV4_INCOMPLETE;
        say(msg, "The '%s' header must be a 'SignedHeader' in the AWS Authorization.", signed_name);
    }
out:
    return r;
}

static enum osc_sigv4_result query_time(const struct osc_sigreq *req, struct osc_sigv4_auth *a,
                                        char *msg)
{
    char v[OSC_SIGREQ_TIME_LEN + 1];
    char exp[16];
    enum osc_sigv4_result r = query_auth_param(req->query, "X-Amz-Date", v, sizeof(v), msg);

    if (r)
        goto out;
    if (osc_sigreq_parse_time(v, &a->amz_time) != OSC_OK) {
        r = OSC_SIGV4_INCOMPLETE;
        say(msg, "X-Amz-Date must be in ISO-8601 'basic format' (YYYYMMDDTHHMMSSZ).");
        goto out;
    }
    memcpy(a->amz_date, v, sizeof(v));
    r = query_auth_param(req->query, "X-Amz-Expires", exp, sizeof(exp), msg);
    if (r)
        goto out;
    a->expires = strlen(exp) <= 7 ? digits(exp, strlen(exp)) : -1;
    if (a->expires < 1 || a->expires > OSC_SIGV4_EXPIRES_MAX) {
        r = OSC_SIGV4_INCOMPLETE;
        say(msg, "X-Amz-Expires must be a number of seconds from 1 to 604800.");
    }
out:
    return r;
}

static enum osc_sigv4_result check_scope(const struct osc_sigv4_auth *a, const char *service,
                                         const char *term, char *msg)
{
    enum osc_sigv4_result r = OSC_SIGV4_BAD_SCOPE;
    char echo[sizeof(a->date)];

    if (strcmp(a->service, service) != 0) {
        say(msg, "Credential should be scoped to correct service: '%s'.", service);
    } else if (strcmp(term, "aws4_request") != 0) {
        say(msg, "Credential should be scoped with a valid terminator: 'aws4_request'.");
    } else if (strlen(a->date) != 8 || digits(a->date, 8) < 0 ||
               memcmp(a->date, a->amz_date, 8) != 0) {
        say(msg,
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            "from HTTP: '%.8s' != '%.8s', from '%s'.",
            printable(a->date, echo, sizeof(echo)), a->amz_date, a->amz_date);
    } else if (!region_ok(a->region)) {
        say(msg, "Credential should be scoped to a valid region.");
    } else {
        r = OSC_SIGV4_OK;
    }
    return r;
}

enum osc_sigv4_result osc_sigv4_parse_service(const struct osc_sigreq *req, const char *service,
                                              struct osc_sigv4_auth *out, char *msg)
{
    enum osc_sigv4_result r = OSC_SIGV4_OK;
    struct osc_sigv4_auth a;
    char cred[CREDENTIAL_MAX];
    char sig[2 * OSC_SIGREQ_SIG_LEN + 2];
    char alg[sizeof(OSC_SIGV4_ALGORITHM) + 1];
    char term[16];
    const char *authz = NULL;
    const char *tok = NULL;
    int nauth = 0;
    int presigned = 0;
    int ok = 0;

    memset(&a, 0, sizeof(a));
    if (!req || !service || !out) {
        r = OSC_SIGV4_INTERNAL;
        say(msg, "internal error");
        goto out;
    }
    nauth = osc_sigreq_header(req, "authorization", &authz);
    presigned = presign_present(req->query);
    if (nauth == 0 && !presigned) {
        r = OSC_SIGV4_MISSING;
        say(msg, "Request is missing Authentication Token");
        goto out;
    }
    if (osc_sigreq_header(req, "x-amz-security-token", &tok) > 0 ||
        osc_sigreq_query_param(req->query, "X-Amz-Security-Token", alg, sizeof(alg), &ok) > 0) {
        r = OSC_SIGV4_SESSION_TOKEN;
        say(msg, "The security token included in the request is invalid. Session tokens are not "
                 "supported.");
        goto out;
    }
    if (nauth > 0 && presigned) {
        r = OSC_SIGV4_INCOMPLETE;
        say(msg, "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or "
                 "the Authorization header should be specified.");
        goto out;
    }
    if (nauth > 1) {
        r = OSC_SIGV4_INCOMPLETE;
        say(msg, "The Authorization header must be sent once.");
        goto out;
    }
    if (nauth == 1) {
        if (strncmp(authz, OSC_SIGV4_ALGORITHM, strlen(OSC_SIGV4_ALGORITHM)) != 0) {
            r = OSC_SIGV4_INCOMPLETE;
            say(msg, "Authorization header algorithm must be '" OSC_SIGV4_ALGORITHM "'.");
            goto out;
        }
        r = parse_auth_header(authz, cred, sizeof(cred), a.signed_headers, sizeof(a.signed_headers),
                              sig, sizeof(sig), msg);
    } else {
        a.presigned = 1;
        r = query_auth_param(req->query, "X-Amz-Algorithm", alg, sizeof(alg), msg);
        if (!r && strcmp(alg, OSC_SIGV4_ALGORITHM) != 0) {
            r = OSC_SIGV4_INCOMPLETE;
            say(msg, "X-Amz-Algorithm only supports '" OSC_SIGV4_ALGORITHM "'.");
        }
        if (!r)
            r = query_auth_param(req->query, "X-Amz-Credential", cred, sizeof(cred), msg);
        if (!r)
            r = query_auth_param(req->query, "X-Amz-SignedHeaders", a.signed_headers,
                                 sizeof(a.signed_headers), msg);
        if (!r)
            r = query_auth_param(req->query, "X-Amz-Signature", sig, sizeof(sig), msg);
    }
    if (r)
        goto out;
    r = split_credential(cred, &a, term, sizeof(term), msg);
    if (r)
        goto out;
    if (!osc_sigreq_valid_signed_headers(a.signed_headers)) {
        r = OSC_SIGV4_INCOMPLETE;
        say(msg, "SignedHeaders must be lowercase header names, sorted and separated by ';'.");
        goto out;
    }
    if (!osc_sigreq_has_signed_header(a.signed_headers, "host")) {
        r = OSC_SIGV4_INCOMPLETE;
        say(msg, "'Host' must be a 'SignedHeader' in the AWS Authorization.");
        goto out;
    }
    r = a.presigned ? query_time(req, &a, msg) : header_time(req, &a, msg);
    if (r)
        goto out;
    r = check_scope(&a, service, term, msg);
    if (r)
        goto out;
    if (osc_sigreq_unhex_sig(sig, strlen(sig), a.signature) != OSC_OK) {
        r = OSC_SIGV4_MISMATCH;
        say(msg, "%s", SIG_MISMATCH);
        goto out;
    }
out:
    if (r == OSC_SIGV4_OK)
        *out = a;
    return r;
}

enum osc_sigv4_result osc_sigv4_parse(const struct osc_sigreq *req, struct osc_sigv4_auth *out,
                                      char *msg)
{
    return osc_sigv4_parse_service(req, OSC_SIGV4_SERVICE, out, msg);
}

enum osc_sigv4_result osc_sigv4_check_time(const struct osc_sigv4_auth *auth, int64_t now,
                                           char *msg)
{
    enum osc_sigv4_result r = OSC_SIGV4_OK;
    char a[OSC_SIGREQ_TIME_LEN + 1];
    char b[OSC_SIGREQ_TIME_LEN + 1];

    if (!auth || now < 0 || now > MAX_TIME) {
        r = OSC_SIGV4_INTERNAL;
        say(msg, "internal error");
        goto out;
    }
    osc_sigreq_format_time(now, b);
    if (auth->amz_time > now + OSC_SIGREQ_SKEW) {
        r = OSC_SIGV4_NOT_YET;
        osc_sigreq_format_time(now + OSC_SIGREQ_SKEW, a);
        say(msg, "Signature not yet current: %s is still later than %s (%s + 15 min.)",
            auth->amz_date, a, b);
        goto out;
    }
    if (auth->presigned) {
        if (auth->expires < 1 || auth->expires > OSC_SIGV4_EXPIRES_MAX) {
            r = OSC_SIGV4_INCOMPLETE;
            say(msg, "X-Amz-Expires must be a number of seconds from 1 to 604800.");
        } else if (now > auth->amz_time + auth->expires) {
            r = OSC_SIGV4_PRESIGN_EXPIRED;
            say(msg, "Request has expired");
        }
        goto out;
    }
    if (auth->amz_time < now - OSC_SIGREQ_SKEW) {
        r = OSC_SIGV4_EXPIRED;
        osc_sigreq_format_time(now - OSC_SIGREQ_SKEW, a);
        say(msg, "Signature expired: %s is now earlier than %s (%s - 15 min.)", auth->amz_date, a,
            b);
    }
out:
    return r;
}

/* Non-S3 canonical URI: the raw wire path with empty and "." segments dropped and ".." applied
 * (botocore's remove_dot_segments), then each segment encoded once more, so an "%20" on the wire
 * is signed as "%2520" — which is what "encode twice" means for a client that starts from the
 * decoded path. */
static osc_err canonical_uri(const char *path, struct osc_sigreq_buf *out)
{
    osc_err err = OSC_OK;
    size_t len = path ? strlen(path) : 0;
    size_t nseg = 1;
    size_t top = 0;
    struct {
        const char *p;
        size_t n;
    } *seg = NULL;

    if (len == 0) {
        err = osc_sigreq_buf_add(out, "/", 1);
        goto out;
    }
    for (size_t i = 0; i < len; i++)
        nseg += path[i] == '/';
    seg = calloc(nseg, sizeof(*seg));
    if (!seg) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    for (const char *p = path; p <= path + len;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);

        if (n == 2 && p[0] == '.' && p[1] == '.') {
            if (top > 0)
                top--;
        } else if (n > 0 && !(n == 1 && p[0] == '.')) {
            seg[top].p = p;
            seg[top].n = n;
            top++;
        }
        p += n + 1;
    }
    if (path[0] == '/')
        osc_sigreq_buf_add(out, "/", 1);
    for (size_t i = 0; i < top; i++) {
        if (i)
            osc_sigreq_buf_add(out, "/", 1);
        osc_sigreq_buf_add_encoded(out, seg[i].p, seg[i].n, 0);
    }
    if (path[len - 1] == '/' && top > 0)
        osc_sigreq_buf_add(out, "/", 1);
    err = out->err;
out:
    free(seg);
    return err;
}

/* Builds the canonical request into cr and the string to sign into sts. */
static enum osc_sigv4_result build(const struct osc_sigreq *req, const struct osc_sigv4_auth *a,
                                   struct osc_sigreq_buf *cr, struct osc_sigreq_buf *sts, char *msg)
{
    enum osc_sigv4_result r = OSC_SIGV4_OK;
    unsigned char digest[OSC_SHA256_LEN];
    char hex[2 * OSC_SHA256_LEN + 1];
    const char *claimed = NULL;
    int nclaimed = 0;
    osc_err err = OSC_OK;

    if (!req || !a || (!req->body && req->bodylen)) {
        r = OSC_SIGV4_INTERNAL;
        say(msg, "internal error");
        goto out;
    }
    if (!osc_sigreq_valid_method(req->method)) {
        r = OSC_SIGV4_MISMATCH;
        say(msg, "%s", SIG_MISMATCH);
        goto out;
    }
    osc_sigreq_buf_adds(cr, req->method);
    osc_sigreq_buf_add(cr, "\n", 1);
    err = canonical_uri(req->path, cr);
    osc_sigreq_buf_add(cr, "\n", 1);
    if (!err)
        err = osc_sigreq_canonical_query(req->query, a->presigned ? "X-Amz-Signature" : NULL, cr);
    osc_sigreq_buf_add(cr, "\n", 1);
    if (!err)
        err = osc_sigreq_canonical_headers(req, a->signed_headers, 1, cr);
    osc_sigreq_buf_add(cr, "\n", 1);
    osc_sigreq_buf_adds(cr, a->signed_headers);
    osc_sigreq_buf_add(cr, "\n", 1);
    if (err) {
        r = err == OSC_E_INVALID ? OSC_SIGV4_MISMATCH : OSC_SIGV4_INTERNAL;
        say(msg, "%s", r == OSC_SIGV4_MISMATCH ? SIG_MISMATCH : "internal error");
        goto out;
    }

    osc_crypto_sha256(req->body, req->bodylen, digest);
    osc_crypto_hex(digest, sizeof(digest), hex);
    nclaimed = osc_sigreq_header(req, "x-amz-content-sha256", &claimed);
    if (nclaimed == 0 || (nclaimed == 1 && strcmp(claimed, hex) == 0)) {
        osc_sigreq_buf_adds(cr, hex);
    } else if (nclaimed == 1 && a->presigned && req->bodylen == 0 &&
               strcmp(claimed, "UNSIGNED-PAYLOAD") == 0) {
        /* Only with an empty body: IAM takes parameters from the body, so an unsigned one
         * would let whoever holds the URL add parameters. */
        osc_sigreq_buf_adds(cr, claimed);
    } else {
        r = OSC_SIGV4_MISMATCH;
        say(msg, "The provided 'x-amz-content-sha256' header does not match what was computed.");
        goto out;
    }
    if (cr->err) {
        r = OSC_SIGV4_INTERNAL;
        say(msg, "internal error");
        goto out;
    }

    osc_crypto_sha256(cr->p, cr->len, digest);
    osc_crypto_hex(digest, sizeof(digest), hex);
    osc_sigreq_buf_adds(sts, OSC_SIGV4_ALGORITHM "\n");
    osc_sigreq_buf_adds(sts, a->amz_date);
    osc_sigreq_buf_add(sts, "\n", 1);
    osc_sigreq_buf_adds(sts, a->date);
    osc_sigreq_buf_add(sts, "/", 1);
    osc_sigreq_buf_adds(sts, a->region);
    osc_sigreq_buf_add(sts, "/", 1);
    osc_sigreq_buf_adds(sts, a->service);
    osc_sigreq_buf_adds(sts, "/aws4_request\n");
    if (osc_sigreq_buf_adds(sts, hex) != OSC_OK) {
        r = OSC_SIGV4_INTERNAL;
        say(msg, "internal error");
    }
out:
    return r;
}

osc_err osc_sigv4_signing_key(const void *secret, size_t secretlen, const char *date,
                              const char *region, const char *service,
                              unsigned char out[OSC_SIGREQ_SIG_LEN])
{
    osc_err err = OSC_OK;
    unsigned char first[4 + OSC_SIGV4_SECRET_MAX];
    unsigned char k[OSC_SHA256_LEN];
    unsigned char k2[OSC_SHA256_LEN];

    if ((!secret && secretlen) || secretlen > OSC_SIGV4_SECRET_MAX) {
        err = OSC_E_INVALID;
        goto out;
    }
    /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): first is an HMAC key, not a string */
    memcpy(first, "AWS4", 4);
    if (secretlen)
        memcpy(first + 4, secret, secretlen);
    osc_crypto_hmac_sha256(first, 4 + secretlen, date, strlen(date), k);
    osc_crypto_hmac_sha256(k, sizeof(k), region, strlen(region), k2);
    osc_crypto_hmac_sha256(k2, sizeof(k2), service, strlen(service), k);
    osc_crypto_hmac_sha256(k, sizeof(k), "aws4_request", 12, out);
    osc_crypto_wipe(first, 4 + secretlen);
    osc_crypto_wipe(k, sizeof(k));
    osc_crypto_wipe(k2, sizeof(k2));
out:
    return err;
}

enum osc_sigv4_result osc_sigv4_canonical(const struct osc_sigreq *req,
                                          const struct osc_sigv4_auth *auth, char **canonical,
                                          char **string_to_sign)
{
    enum osc_sigv4_result r = OSC_SIGV4_OK;
    struct osc_sigreq_buf cr;
    struct osc_sigreq_buf sts;

    osc_sigreq_buf_init(&cr);
    osc_sigreq_buf_init(&sts);
    if (!canonical || !string_to_sign)
        r = OSC_SIGV4_INTERNAL;
    else
        r = build(req, auth, &cr, &sts, NULL);
    if (!r && osc_sigreq_buf_take_pair(&cr, &sts, canonical, string_to_sign))
        r = OSC_SIGV4_INTERNAL;
    osc_sigreq_buf_cleanup(&cr);
    osc_sigreq_buf_cleanup(&sts);
    return r;
}

enum osc_sigv4_result osc_sigv4_verify(const struct osc_sigreq *req,
                                       const struct osc_sigv4_auth *auth, const void *secret,
                                       size_t secretlen, char *msg)
{
    enum osc_sigv4_result r = OSC_SIGV4_OK;
    struct osc_sigreq_buf cr;
    struct osc_sigreq_buf sts;
    unsigned char key[OSC_SHA256_LEN];
    unsigned char mac[OSC_SHA256_LEN];

    osc_sigreq_buf_init(&cr);
    osc_sigreq_buf_init(&sts);
    r = build(req, auth, &cr, &sts, msg);
    if (r)
        goto out;
    if (osc_sigv4_signing_key(secret, secretlen, auth->date, auth->region, auth->service, key)) {
        r = OSC_SIGV4_INTERNAL;
        say(msg, "internal error");
        goto out;
    }
    osc_crypto_hmac_sha256(key, sizeof(key), sts.p, sts.len, mac);
    if (!osc_crypto_equal(mac, auth->signature, sizeof(mac))) {
        r = OSC_SIGV4_MISMATCH;
        say(msg, "%s", SIG_MISMATCH);
    }
out:
    osc_crypto_wipe(key, sizeof(key));
    osc_sigreq_buf_cleanup(&cr);
    osc_sigreq_buf_cleanup(&sts);
    return r;
}
