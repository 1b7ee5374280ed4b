/* Token wire format: "o1." + base64url(payload || HMAC-SHA256(token subkey, payload)). Encoding
 * and verifying need only the key ring; expiry, revocation and the principal's state are the
 * caller's to check. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oscred/crypto.h"
#include "oscred/keyring.h"
#include "oscred/token.h"

#define PREFIX "o1."
#define PREFIX_LEN 3
#define VERSION 1
#define RAW_ID_LEN (OSC_ID_LEN / 2)
/* version, kid length, three ids, scope, epoch, issued, expires; the kid itself comes on top */
#define FIXED_LEN (1 + 1 + 3 * RAW_ID_LEN + 1 + 4 + 8 + 8)
#define RAW_MAX (FIXED_LEN + OSC_KID_MAX + OSC_SHA256_LEN)
#define RAW_MIN (FIXED_LEN + 1 + OSC_SHA256_LEN)
/* Unpadded base64url of RAW_MAX bytes, plus the prefix and the NUL. */
#define ENCODED_MAX (PREFIX_LEN + (RAW_MAX * 4 + 2) / 3 + 1)

_Static_assert(ENCODED_MAX <= OSC_TOKEN_MAX, "longest token must fit OSC_TOKEN_MAX");

static int hexval(char c)
{
    /* Lowercase only: ids are issued lowercase, and accepting both would give one id two
     * spellings. */
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* OSC_ID_LEN lowercase hex chars (and nothing after them) into RAW_ID_LEN bytes. */
static osc_err unhex_id(const char *s, unsigned char *out)
{
    osc_err err = OSC_OK;

    for (size_t i = 0; i < RAW_ID_LEN && !err; i++) {
        int hi = hexval(s[2 * i]);
        int lo = hi < 0 ? -1 : hexval(s[2 * i + 1]);
        if (lo < 0)
            err = OSC_E_INVALID;
        else
            out[i] = (unsigned char)(hi << 4 | lo);
    }
    if (!err && s[OSC_ID_LEN] != '\0')
        err = OSC_E_INVALID;
    return err;
}

static void put_be(unsigned char *p, uint64_t v, int nbytes)
{
    for (int i = nbytes - 1; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

static uint64_t get_be(const unsigned char *p, int nbytes)
{
    uint64_t v = 0;

    for (int i = 0; i < nbytes; i++)
        v = v << 8 | p[i];
    return v;
}

/* Back from two's complement without the implementation-defined unsigned-to-signed conversion. */
static int64_t to_i64(uint64_t v)
{
    return v <= INT64_MAX ? (int64_t)v : -(int64_t)(~v) - 1;
}

static int kid_ok(const unsigned char *p, size_t n)
{
    int ok = n >= 1 && n <= OSC_KID_MAX;

    for (size_t i = 0; ok && i < n; i++) {
        unsigned char c = p[i];
        ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
             c == '_' || c == '-';
    }
    return ok;
}

osc_err osc_token_encode(const osc_keyring *kr, const struct osc_token *t, char *out)
{
    osc_err err = OSC_OK;
    unsigned char raw[RAW_MAX];
    const char *kid = NULL;
    const unsigned char *key = NULL;
    char *b64 = NULL;
    size_t kidlen = 0;
    size_t n = 0;
    size_t b64len = 0;

    if (!kr || !t || !out) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    if (t->scope != OSC_SCOPE_UNSCOPED && t->scope != OSC_SCOPE_DOMAIN) {
        err = OSC_E_INVALID;
        goto out;
    }
    kid = osc_keyring_primary(kr);
    key = osc_keyring_token_key(kr, kid);
    kidlen = kid ? strlen(kid) : 0;
    if (!key || kidlen == 0 || kidlen > OSC_KID_MAX) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    raw[n++] = VERSION;
    raw[n++] = (unsigned char)kidlen;
    memcpy(raw + n, kid, kidlen);
    n += kidlen;
    err = unhex_id(t->id, raw + n);
    if (err)
        goto out;
    n += RAW_ID_LEN;
    err = unhex_id(t->principal_id, raw + n);
    if (err)
        goto out;
    n += RAW_ID_LEN;
    err = unhex_id(t->domain_id, raw + n);
    if (err)
        goto out;
    n += RAW_ID_LEN;
    raw[n++] = (unsigned char)t->scope;
    put_be(raw + n, t->password_epoch, 4);
    n += 4;
    /* Two's complement through uint64_t: well defined, and get_be undoes it exactly. */
    put_be(raw + n, (uint64_t)t->issued_us, 8);
    n += 8;
    put_be(raw + n, (uint64_t)t->expires_us, 8);
    n += 8;
    osc_crypto_hmac_sha256(key, OSC_SHA256_LEN, raw, n, raw + n);
    n += OSC_SHA256_LEN;
    err = osc_crypto_b64url_encode(raw, n, &b64);
    if (err)
        goto out;
    b64len = strlen(b64);
    if (PREFIX_LEN + b64len + 1 > OSC_TOKEN_MAX) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): the next memcpy brings the NUL */
    memcpy(out, PREFIX, PREFIX_LEN);
    memcpy(out + PREFIX_LEN, b64, b64len + 1);
out:
    free(b64);
    return err;
}

static osc_err decode(const osc_keyring *kr, const char *s, struct osc_token *out)
{
    osc_err err = OSC_OK;
    unsigned char *raw = NULL;
    size_t rawlen = 0;
    size_t slen = 0;
    size_t kidlen = 0;
    size_t n = 0;
    size_t paylen = 0;
    const unsigned char *key = NULL;
    unsigned char mac[OSC_SHA256_LEN];
    struct osc_token t;

    memset(&t, 0, sizeof(t));
    if (!kr || !s || !out) {
        err = OSC_E_UNAUTHENTICATED;
        goto out;
    }
    /* Bounded first, so an attacker's megabyte header costs nothing beyond this scan. */
    slen = strnlen(s, OSC_TOKEN_MAX);
    if (slen >= OSC_TOKEN_MAX || slen < PREFIX_LEN || memcmp(s, PREFIX, PREFIX_LEN) != 0) {
        err = OSC_E_UNAUTHENTICATED;
        goto out;
    }
    err = osc_crypto_b64url_decode(s + PREFIX_LEN, slen - PREFIX_LEN, &raw, &rawlen);
    if (err) {
        err = OSC_E_UNAUTHENTICATED;
        goto out;
    }
    if (rawlen < RAW_MIN || rawlen > RAW_MAX || raw[0] != VERSION) {
        err = OSC_E_UNAUTHENTICATED;
        goto out;
    }
    kidlen = raw[1];
    if (!kid_ok(raw + 2, kidlen) || rawlen != FIXED_LEN + kidlen + OSC_SHA256_LEN) {
        err = OSC_E_UNAUTHENTICATED;
        goto out;
    }
    memcpy(t.kid, raw + 2, kidlen);
    t.kid[kidlen] = '\0';
    key = osc_keyring_token_key(kr, t.kid);
    if (!key) {
        err = OSC_E_UNAUTHENTICATED;
        goto out;
    }
    paylen = rawlen - OSC_SHA256_LEN;
    osc_crypto_hmac_sha256(key, OSC_SHA256_LEN, raw, paylen, mac);
    if (!osc_crypto_equal(mac, raw + paylen, OSC_SHA256_LEN)) {
        err = OSC_E_UNAUTHENTICATED;
        goto out;
    }
    n = 2 + kidlen;
    osc_crypto_hex(raw + n, RAW_ID_LEN, t.id);
    n += RAW_ID_LEN;
    osc_crypto_hex(raw + n, RAW_ID_LEN, t.principal_id);
    n += RAW_ID_LEN;
    osc_crypto_hex(raw + n, RAW_ID_LEN, t.domain_id);
    n += RAW_ID_LEN;
    /* MAC'd, so only a token minted by a newer version could carry another scope; refuse it
     * rather than guess what it means. */
    if (raw[n] != OSC_SCOPE_UNSCOPED && raw[n] != OSC_SCOPE_DOMAIN) {
        err = OSC_E_UNAUTHENTICATED;
        goto out;
    }
    t.scope = (enum osc_token_scope)raw[n++];
    t.password_epoch = (uint32_t)get_be(raw + n, 4);
    n += 4;
    t.issued_us = to_i64(get_be(raw + n, 8));
    n += 8;
    t.expires_us = to_i64(get_be(raw + n, 8));
out:
    free(raw);
    if (!err)
        *out = t;
    return err;
}

/* Clients send the same token again and again (it lives a day), and a token check decodes two:
 * each worker thread remembers the tokens it verified last, so a repeated one costs a comparison
 * instead of a base64 decode and an HMAC. An entry stands only for the exact same string, compared
 * in constant time (how long a comparison takes must not tell how much of a valid token a guess
 * has right), and only under the ring it was verified with: after a reload every token is
 * verified again. Per thread, so no lock; entries are overwritten, never freed. */
#define VERIFIED_SLOTS 32

struct verified {
    uint64_t ring; /* osc_keyring_serial of the ring that verified it; 0: empty slot */
    size_t len;
    char s[ENCODED_MAX];
    struct osc_token t;
};

static _Thread_local struct verified verified[VERIFIED_SLOTS];

static struct verified *slot_of(const char *s, size_t len)
{
    /* The end of a token is its MAC: bytes no one can choose for a token that verifies. */
    uint32_t h = 2166136261u;
    for (size_t i = len > 16 ? len - 16 : 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return &verified[h % VERIFIED_SLOTS];
}

osc_err osc_token_decode(const osc_keyring *kr, const char *s, struct osc_token *out)
{
    osc_err err = OSC_OK;
    uint64_t ring = osc_keyring_serial(kr);
    size_t len = s ? strnlen(s, ENCODED_MAX) : 0;
    struct verified *v = slot_of(s ? s : "", len);

    if (ring && len < ENCODED_MAX && v->ring == ring && v->len == len &&
        osc_crypto_equal(v->s, s, len)) {
        *out = v->t;
        goto out;
    }
    err = decode(kr, s, out);
    if (err || len >= ENCODED_MAX)
        goto out;
    v->ring = ring;
    v->len = len;
    memcpy(v->s, s, len);
    v->t = *out;
out:
    return err;
}
