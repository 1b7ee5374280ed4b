/* SDK-HMAC-SHA256 verification (huawei-keystone.md §4.4). Uses the canonicalisation helpers of
 * sigreq.h and the digests of crypto.h; knows nothing of HTTP libraries or the database. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oscred/crypto.h"
#include "oscred/sdkhmac.h"
#include "oscred/sigreq.h"

#define MAX_TIME INT64_C(253402300799) /* 9999-12-31T23:59:59Z */

__attribute__((format(printf, 2, 3))) static void say(char *msg, const char *fmt, ...)
{
    va_list ap;

    if (!msg)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, OSC_SIGREQ_MSG_MAX, fmt, ap);
    va_end(ap);
}

const char *osc_sdkhmac_result_name(enum osc_sdkhmac_result r)
{
    switch (r) {
    case OSC_SDKHMAC_OK:
        return "OK";
    case OSC_SDKHMAC_MISSING:
        return "MISSING";
    case OSC_SDKHMAC_MALFORMED:
        return "MALFORMED";
    case OSC_SDKHMAC_EXPIRED:
        return "EXPIRED";
    case OSC_SDKHMAC_MISMATCH:
        return "MISMATCH";
    case OSC_SDKHMAC_INTERNAL:
        return "INTERNAL";
    }
    return "UNKNOWN";
}

static int blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Matches "<key>" at *p and advances past it. */
static int take(const char **p, const char *key)
{
    size_t n = strlen(key);

    if (strncmp(*p, key, n) != 0)
        return 0;
    *p += n;
    return 1;
}

/* The value of "Key=" up to the next ',' into dst (dstsz bytes, NUL included); *p then points at
 * the ','. 0 if there is no ',', the value is empty, too long, or not printable ASCII. */
static int value_to_comma(const char **p, char *dst, size_t dstsz)
{
    const char *comma = strchr(*p, ',');
    size_t n = comma ? (size_t)(comma - *p) : 0;

    if (!comma || n == 0 || n >= dstsz)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if ((*p)[i] < 0x21 || (*p)[i] > 0x7e)
            return 0;
    }
    memcpy(dst, *p, n);
    dst[n] = '\0';
    *p = comma;
    return 1;
}

enum osc_sdkhmac_result osc_sdkhmac_parse(const struct osc_sigreq *req,
                                          struct osc_sdkhmac_auth *out, char *msg)
{
    enum osc_sdkhmac_result r = OSC_SDKHMAC_OK;
    struct osc_sdkhmac_auth a;
    const char *h = NULL;
    const char *p = NULL;
    const char *date = NULL;
    const char *host = NULL;
    size_t alen = strlen(OSC_SDKHMAC_ALGORITHM);
    int n = 0;

    memset(&a, 0, sizeof(a));
    if (!req || !out) {
        r = OSC_SDKHMAC_INTERNAL;
        say(msg, "internal error");
        goto out;
    }
    n = osc_sigreq_header(req, "authorization", &h);
    if (n == 0 || strncmp(h, OSC_SDKHMAC_ALGORITHM, alen) != 0 || (h[alen] && !blank(h[alen]))) {
        r = OSC_SDKHMAC_MISSING;
        say(msg, "no SDK-HMAC-SHA256 Authorization header");
        goto out;
    }
    if (n > 1) {
        r = OSC_SDKHMAC_MALFORMED;
        say(msg, "Authorization header sent more than once");
        goto out;
    }
    /* ^SDK-HMAC-SHA256\s+Access=([^,]+),\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-f]{64})$ */
    p = h + alen;
    if (!blank(*p)) {
        r = OSC_SDKHMAC_MALFORMED;
        say(msg, "Authorization: nothing after the algorithm");
        goto out;
    }
    while (blank(*p))
        p++;
    if (!take(&p, "Access=") || !value_to_comma(&p, a.access_key, sizeof(a.access_key))) {
        r = OSC_SDKHMAC_MALFORMED;
        say(msg, "Authorization: bad or missing Access");
        goto out;
    }
    p++;
    while (blank(*p))
        p++;
    if (!take(&p, "SignedHeaders=") ||
        !value_to_comma(&p, a.signed_headers, sizeof(a.signed_headers))) {
        r = OSC_SDKHMAC_MALFORMED;
        say(msg, "Authorization: bad or missing SignedHeaders");
        goto out;
    }
    p++;
    while (blank(*p))
        p++;
    if (!take(&p, "Signature=") || osc_sigreq_unhex_sig(p, strlen(p), a.signature) != OSC_OK) {
        r = OSC_SDKHMAC_MALFORMED;
        say(msg, "Authorization: Signature must be the last part, 64 lowercase hex digits");
        goto out;
    }
    if (!osc_sigreq_valid_signed_headers(a.signed_headers) ||
        !osc_sigreq_has_signed_header(a.signed_headers, "host") ||
        !osc_sigreq_has_signed_header(a.signed_headers, "x-sdk-date")) {
        r = OSC_SDKHMAC_MALFORMED;
        say(msg, "SignedHeaders must be sorted lowercase names including host and x-sdk-date");
        goto out;
    }
    if (osc_sigreq_header(req, "host", &host) != 1) {
        r = OSC_SDKHMAC_MALFORMED;
        say(msg, "the host header must be sent exactly once");
        goto out;
    }
    if (osc_sigreq_header(req, "x-sdk-date", &date) != 1 ||
        osc_sigreq_parse_time(date, &a.sdk_time) != OSC_OK) {
        r = OSC_SDKHMAC_MALFORMED;
        say(msg, "X-Sdk-Date must be sent once, as YYYYMMDDTHHMMSSZ");
        goto out;
    }
    memcpy(a.sdk_date, date, OSC_SIGREQ_TIME_LEN + 1);
out:
    if (r == OSC_SDKHMAC_OK)
        *out = a;
    return r;
}

enum osc_sdkhmac_result osc_sdkhmac_check_time(const struct osc_sdkhmac_auth *auth, int64_t now,
                                               char *msg)
{
    enum osc_sdkhmac_result r = OSC_SDKHMAC_OK;
    char t[OSC_SIGREQ_TIME_LEN + 1];

    if (!auth || now < 0 || now > MAX_TIME) {
        r = OSC_SDKHMAC_INTERNAL;
        say(msg, "internal error");
        goto out;
    }
    if (auth->sdk_time < now - OSC_SIGREQ_SKEW || auth->sdk_time > now + OSC_SIGREQ_SKEW) {
        r = OSC_SDKHMAC_EXPIRED;
        osc_sigreq_format_time(now, t);
        say(msg, "X-Sdk-Date %s is more than 15 min. from the server time %s", auth->sdk_date, t);
    }
out:
    return r;
}

static enum osc_sdkhmac_result build(const struct osc_sigreq *req, const struct osc_sdkhmac_auth *a,
                                     struct osc_sigreq_buf *cr, struct osc_sigreq_buf *sts,
                                     char *msg)
{
    enum osc_sdkhmac_result r = OSC_SDKHMAC_OK;
    unsigned char digest[OSC_SHA256_LEN];
    char hex[2 * OSC_SHA256_LEN + 1];
    const char *claimed = NULL;
    const char *path = NULL;
    int nclaimed = 0;
    osc_err err = OSC_OK;

    if (!req || !a || (!req->body && req->bodylen)) {
        r = OSC_SDKHMAC_INTERNAL;
        say(msg, "internal error");
        goto out;
    }
    if (!osc_sigreq_valid_method(req->method)) {
        r = OSC_SDKHMAC_MISMATCH;
        say(msg, "method is not an HTTP token");
        goto out;
    }
    osc_sigreq_buf_adds(cr, req->method);
    osc_sigreq_buf_add(cr, "\n", 1);
    /* The SDK encodes the path as it is already escaped on the wire ("A%20B" is signed as
     * "A%2520B"), so the raw segments are encoded without decoding first. */
    path = req->path ? req->path : "";
    osc_sigreq_buf_add_encoded(cr, path, strlen(path), 1);
    if (path[0] == '\0' || path[strlen(path) - 1] != '/')
        osc_sigreq_buf_add(cr, "/", 1);
    osc_sigreq_buf_add(cr, "\n", 1);
    err = osc_sigreq_canonical_query(req->query, NULL, cr);
    osc_sigreq_buf_add(cr, "\n", 1);
    if (!err)
        err = osc_sigreq_canonical_headers(req, a->signed_headers, 0, cr);
    osc_sigreq_buf_add(cr, "\n", 1);
    osc_sigreq_buf_adds(cr, a->signed_headers);
    osc_sigreq_buf_add(cr, "\n", 1);
    if (err) {
        r = err == OSC_E_INVALID ? OSC_SDKHMAC_MISMATCH : OSC_SDKHMAC_INTERNAL;
        say(msg, "%s",
            r == OSC_SDKHMAC_MISMATCH
                ? "undecodable query, or a signed header absent, repeated or multi-line"
                : "internal error");
        goto out;
    }

    osc_crypto_sha256(req->body, req->bodylen, digest);
    osc_crypto_hex(digest, sizeof(digest), hex);
    nclaimed = osc_sigreq_header(req, "x-sdk-content-sha256", &claimed);
    if (nclaimed > 1 || (nclaimed == 1 && strcmp(claimed, hex) != 0 &&
                         !(req->bodylen == 0 && strcmp(claimed, "UNSIGNED-PAYLOAD") == 0))) {
        /* The SDK signs this header's value literally; accepting one that does not describe the
         * body would leave the body unauthenticated. */
        r = OSC_SDKHMAC_MISMATCH;
        say(msg, "X-Sdk-Content-Sha256 does not match the body");
        goto out;
    }
    osc_sigreq_buf_adds(cr, nclaimed == 1 ? claimed : hex);
    if (cr->err) {
        r = OSC_SDKHMAC_INTERNAL;
        say(msg, "internal error");
        goto out;
    }

    osc_crypto_sha256(cr->p, cr->len, digest);
    osc_crypto_hex(digest, sizeof(digest), hex);
    osc_sigreq_buf_adds(sts, OSC_SDKHMAC_ALGORITHM "\n");
    osc_sigreq_buf_adds(sts, a->sdk_date);
    osc_sigreq_buf_add(sts, "\n", 1);
    if (osc_sigreq_buf_adds(sts, hex) != OSC_OK) {
        r = OSC_SDKHMAC_INTERNAL;
        say(msg, "internal error");
    }
out:
    return r;
}

enum osc_sdkhmac_result osc_sdkhmac_canonical(const struct osc_sigreq *req,
                                              const struct osc_sdkhmac_auth *auth, char **canonical,
                                              char **string_to_sign)
{
    enum osc_sdkhmac_result r = OSC_SDKHMAC_OK;
    struct osc_sigreq_buf cr;
    struct osc_sigreq_buf sts;

    osc_sigreq_buf_init(&cr);
    osc_sigreq_buf_init(&sts);
    if (!canonical || !string_to_sign)
        r = OSC_SDKHMAC_INTERNAL;
    else
        r = build(req, auth, &cr, &sts, NULL);
    if (!r && osc_sigreq_buf_take_pair(&cr, &sts, canonical, string_to_sign))
        r = OSC_SDKHMAC_INTERNAL;
    osc_sigreq_buf_cleanup(&cr);
    osc_sigreq_buf_cleanup(&sts);
    return r;
}

enum osc_sdkhmac_result osc_sdkhmac_verify(const struct osc_sigreq *req,
                                           const struct osc_sdkhmac_auth *auth, const void *secret,
                                           size_t secretlen, char *msg)
{
    enum osc_sdkhmac_result r = OSC_SDKHMAC_OK;
    struct osc_sigreq_buf cr;
    struct osc_sigreq_buf sts;
    unsigned char mac[OSC_SHA256_LEN];

    osc_sigreq_buf_init(&cr);
    osc_sigreq_buf_init(&sts);
    if (!secret && secretlen) {
        r = OSC_SDKHMAC_INTERNAL;
        say(msg, "internal error");
        goto out;
    }
    r = build(req, auth, &cr, &sts, msg);
    if (r)
        goto out;
    osc_crypto_hmac_sha256(secret, secretlen, sts.p, sts.len, mac);
    if (!osc_crypto_equal(mac, auth->signature, sizeof(mac))) {
        r = OSC_SDKHMAC_MISMATCH;
        say(msg, "signature does not match");
    }
out:
    osc_sigreq_buf_cleanup(&cr);
    osc_sigreq_buf_cleanup(&sts);
    return r;
}
