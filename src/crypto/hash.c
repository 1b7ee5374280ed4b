/* Digests and MACs: SHA-256, HMAC-SHA256, HKDF-SHA256, hex and constant-time comparison through
 * OpenSSL 3.0. The SHA-256 implementation is fetched once: an implicit fetch on every call (what
 * EVP_sha256() and EVP_Q_mac do) costs more than hashing a token. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "oscred/crypto.h"

/* OpenSSL treats a NULL key as "reuse the previous key", which a fresh context does not have, and
 * an empty HMAC key is legitimate; a real pointer to zero bytes avoids both traps. */
static const unsigned char EMPTY[1];

/* The digest and MAC prototypes return void because callers cannot do anything useful with a
 * failure of a 32-byte computation, which OpenSSL reports only when it cannot allocate its
 * context. Returning with out unset could let two unset MACs compare equal, so stop instead. */
static void die(const char *what)
{
    fprintf(stderr, "oscred: fatal: %s failed (out of memory?)\n", what);
    abort();
}

#define SHA256_BLOCK 64

static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md;

static void fetch_sha256(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA2-256", NULL);
}

static const EVP_MD *sha256(void)
{
    pthread_once(&sha256_once, fetch_sha256);
    if (!sha256_md)
        die("SHA-256 fetch");
    return sha256_md;
}

void osc_crypto_sha256(const void *data, size_t n, unsigned char out[OSC_SHA256_LEN])
{
    unsigned int len = 0;

    if (!data)
        data = EMPTY;
    if (!EVP_Digest(data, n, out, &len, sha256(), NULL) || len != OSC_SHA256_LEN)
        die("SHA-256");
}

/* One hash of pad (a key block XORed with x) followed by data. */
static void padded_hash(EVP_MD_CTX *c, const unsigned char k0[SHA256_BLOCK], unsigned char x,
                        const void *data, size_t n, unsigned char out[OSC_SHA256_LEN])
{
    unsigned char pad[SHA256_BLOCK];
    unsigned int len = 0;

    for (size_t i = 0; i < SHA256_BLOCK; i++)
        pad[i] = (unsigned char)(k0[i] ^ x);
    if (!EVP_DigestInit_ex2(c, sha256(), NULL) || !EVP_DigestUpdate(c, pad, SHA256_BLOCK) ||
        !EVP_DigestUpdate(c, data, n) || !EVP_DigestFinal_ex(c, out, &len) || len != OSC_SHA256_LEN)
        die("HMAC-SHA256");
    OPENSSL_cleanse(pad, sizeof(pad));
}

/* HMAC (RFC 2104) over the pre-fetched SHA-256: H((K0 ^ opad) || H((K0 ^ ipad) || data)). */
void osc_crypto_hmac_sha256(const void *key, size_t keylen, const void *data, size_t n,
                            unsigned char out[OSC_SHA256_LEN])
{
    unsigned char k0[SHA256_BLOCK] = {0}, inner[OSC_SHA256_LEN];
    EVP_MD_CTX *c = EVP_MD_CTX_new();

    if (!c)
        die("HMAC-SHA256");
    if (!data)
        data = EMPTY;
    if (keylen > SHA256_BLOCK)
        osc_crypto_sha256(key, keylen, k0);
    else if (keylen > 0)
        memcpy(k0, key, keylen);
    padded_hash(c, k0, 0x36, data, n, inner);
    padded_hash(c, k0, 0x5c, inner, sizeof(inner), out);
    EVP_MD_CTX_free(c);
    OPENSSL_cleanse(k0, sizeof(k0));
    OPENSSL_cleanse(inner, sizeof(inner));
}

void osc_crypto_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0f];
    }
    out[2 * n] = '\0';
}

int osc_crypto_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int osc_crypto_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

osc_err osc_crypto_hkdf(const unsigned char *ikm, size_t ikmlen, const unsigned char *salt,
                        size_t saltlen, const char *info, unsigned char *okm, size_t outlen)
{
    osc_err err = OSC_OK;
    EVP_KDF *kdf = NULL;
    EVP_KDF_CTX *kctx = NULL;
    OSSL_PARAM params[5];
    size_t np = 0;
    unsigned char *buf = NULL;

    if (!ikm || !okm || outlen == 0 || outlen > (size_t)255 * OSC_SHA256_LEN) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL);
    if (!kdf) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    kctx = EVP_KDF_CTX_new(kdf);
    if (!kctx) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    params[np++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    params[np++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikmlen);
    /* Left out rather than passed empty: RFC 5869 defines an absent salt as HashLen zero bytes,
     * which is what OpenSSL does when it is not set. */
    if (salt && saltlen > 0)
        params[np++] =
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, saltlen);
    if (info && info[0] != '\0')
        params[np++] =
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, strlen(info));
    params[np] = OSSL_PARAM_construct_end();
    /* Derived into a private buffer so okm is written only on success. */
    buf = malloc(outlen);
    if (!buf) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    if (EVP_KDF_derive(kctx, buf, outlen, params) != 1) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    memcpy(okm, buf, outlen);
out:
    if (buf) {
        OPENSSL_cleanse(buf, outlen);
        free(buf);
    }
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    return err;
}
