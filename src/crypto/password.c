/* Password hashes: PBKDF2-HMAC-SHA256 in the self-describing form
 * "pbkdf2-sha256$<iterations>$<base64 salt>$<base64 hash>". Parsing is strict and every failure
 * to match, malformed input included, looks the same to the caller. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "oscred/crypto.h"
#include "password_internal.h"

#define PREFIX "pbkdf2-sha256$"
#define SALT_LEN 16
#define HASH_LEN 32
#define SALT_B64_LEN 24 /* base64 of 16 bytes, padded */
#define HASH_B64_LEN 44 /* base64 of 32 bytes, padded */
#define ITER_MAX 10000000u
/* prefix + "10000000" + "$" + salt + "$" + hash + NUL, with room to spare */
#define STORED_MAX 128

osc_err osc_crypto_pbkdf2_sha256(const char *pw, size_t pwlen, const unsigned char *salt,
                                 size_t saltlen, unsigned iterations, unsigned char *out,
                                 size_t outlen)
{
    static const unsigned char empty[1];
    osc_err err = OSC_OK;
    unsigned char *buf = NULL;

    if (pwlen > INT_MAX || saltlen > INT_MAX || outlen == 0 || outlen > INT_MAX ||
        iterations == 0 || iterations > INT_MAX || (!pw && pwlen > 0) || (!salt && saltlen > 0)) {
        err = OSC_E_INVALID;
        goto out;
    }
    buf = malloc(outlen);
    if (!buf) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    if (PKCS5_PBKDF2_HMAC(pw ? pw : (const char *)empty, (int)pwlen, salt ? salt : empty,
                          (int)saltlen, (int)iterations, EVP_sha256(), (int)outlen, buf) != 1) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    memcpy(out, buf, outlen);
out:
    if (buf) {
        OPENSSL_cleanse(buf, outlen);
        free(buf);
    }
    return err;
}

osc_err osc_crypto_password_hash(const char *password, unsigned iterations, char **out)
{
    osc_err err = OSC_OK;
    unsigned char salt[SALT_LEN];
    unsigned char hash[HASH_LEN];
    char *salt_b64 = NULL;
    char *hash_b64 = NULL;
    char *s = NULL;
    int w = 0;

    if (!password || iterations == 0 || iterations > ITER_MAX) {
        err = OSC_E_INVALID;
        goto out;
    }
    err = osc_crypto_random(salt, sizeof(salt));
    if (err)
        goto out;
    err = osc_crypto_pbkdf2_sha256(password, strlen(password), salt, sizeof(salt), iterations, hash,
                                   sizeof(hash));
    if (err)
        goto out;
    err = osc_crypto_b64_encode(salt, sizeof(salt), &salt_b64);
    if (err)
        goto out;
    err = osc_crypto_b64_encode(hash, sizeof(hash), &hash_b64);
    if (err)
        goto out;
    s = malloc(STORED_MAX);
    if (!s) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    w = snprintf(s, STORED_MAX, PREFIX "%u$%s$%s", iterations, salt_b64, hash_b64);
    if (w < 0 || w >= STORED_MAX) {
        err = OSC_E_INTERNAL;
        goto out;
    }
out:
    OPENSSL_cleanse(hash, sizeof(hash));
    free(salt_b64);
    if (hash_b64) {
        OPENSSL_cleanse(hash_b64, HASH_B64_LEN);
        free(hash_b64);
    }
    if (err)
        free(s);
    else
        *out = s;
    return err;
}

/* Decodes exactly b64len characters of padded base64 at in into exactly want bytes. */
static osc_err decode_exact(const char *in, size_t b64len, unsigned char *dst, size_t want)
{
    osc_err err = OSC_OK;
    char tmp[HASH_B64_LEN + 1];
    unsigned char *raw = NULL;
    size_t rawlen = 0;

    if (b64len >= sizeof(tmp)) {
        err = OSC_E_INVALID;
        goto out;
    }
    memcpy(tmp, in, b64len);
    tmp[b64len] = '\0';
    err = osc_crypto_b64_decode(tmp, &raw, &rawlen);
    if (err)
        goto out;
    if (rawlen != want) {
        err = OSC_E_INVALID;
        goto out;
    }
    memcpy(dst, raw, want);
out:
    if (raw) {
        OPENSSL_cleanse(raw, rawlen);
        free(raw);
    }
    return err;
}

osc_err osc_crypto_password_verify(const char *password, const char *stored)
{
    osc_err err = OSC_OK;
    const char *p = NULL;
    const char *salt_s = NULL;
    const char *hash_s = NULL;
    char *end = NULL;
    unsigned long iterations = 0;
    unsigned char salt[SALT_LEN];
    unsigned char want[HASH_LEN];
    unsigned char got[HASH_LEN];

    if (!password || !stored || strncmp(stored, PREFIX, strlen(PREFIX)) != 0) {
        err = OSC_E_UNAUTHENTICATED;
        goto out;
    }
    p = stored + strlen(PREFIX);
    /* strtoul alone would accept leading blanks, a sign and zeros; the stored form has none. */
    if (*p < '1' || *p > '9') {
        err = OSC_E_UNAUTHENTICATED;
        goto out;
    }
    errno = 0;
    iterations = strtoul(p, &end, 10);
    if (errno != 0 || *end != '$' || iterations > ITER_MAX) {
        err = OSC_E_UNAUTHENTICATED;
        goto out;
    }
    salt_s = end + 1;
    hash_s = strchr(salt_s, '$');
    if (!hash_s || (size_t)(hash_s - salt_s) != SALT_B64_LEN) {
        err = OSC_E_UNAUTHENTICATED;
        goto out;
    }
    hash_s++;
    if (strlen(hash_s) != HASH_B64_LEN) {
        err = OSC_E_UNAUTHENTICATED;
        goto out;
    }
    err = decode_exact(salt_s, SALT_B64_LEN, salt, sizeof(salt));
    if (err)
        goto out;
    err = decode_exact(hash_s, HASH_B64_LEN, want, sizeof(want));
    if (err)
        goto out;
    err = osc_crypto_pbkdf2_sha256(password, strlen(password), salt, sizeof(salt),
                                   (unsigned)iterations, got, sizeof(got));
    if (err)
        goto out;
    if (CRYPTO_memcmp(got, want, sizeof(got)) != 0)
        err = OSC_E_UNAUTHENTICATED;
out:
    /* A malformed stored string or a password too long for OpenSSL is a failed login, not a
     * bad request: the caller must not learn which part did not match. */
    if (err == OSC_E_INVALID)
        err = OSC_E_UNAUTHENTICATED;
    OPENSSL_cleanse(got, sizeof(got));
    OPENSSL_cleanse(want, sizeof(want));
    return err;
}
