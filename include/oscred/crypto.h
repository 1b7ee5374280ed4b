/* Cryptographic primitives: random identifiers, SHA-256/HMAC, AES-256-GCM sealing, PBKDF2 password
 * hashes, HKDF and constant-time comparison. src/crypto/ is the only code that includes OpenSSL.
 * Every function here is thread-safe and allocates only where its contract says so. */
#ifndef OSC_CRYPTO_H
#define OSC_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "oscred/err.h"

#define OSC_ID_LEN 32         /* principal/domain/token ids: 32 lowercase hex chars */
#define OSC_AK_LEN 20         /* access key id: 20 x [A-Z0-9] */
#define OSC_SK_LEN 40         /* secret access key: 40 x [A-Za-z0-9] */
#define OSC_ACCOUNT_ID_LEN 12 /* AWS account id: 12 decimal digits */
#define OSC_SHA256_LEN 32

/* A secret in memory. osc_secret_destroy wipes it before freeing. */
struct osc_secret {
    unsigned char *p;
    size_t n;
};

/* Allocates a secret of n bytes (zeroed), plus one zero byte past n so text secrets are
 * NUL-terminated. Returns OSC_E_INTERNAL on allocation failure. */
osc_err osc_secret_create(size_t n, struct osc_secret **out);
/* Wipes (OPENSSL_cleanse) and frees. NULL is a no-op. */
void osc_secret_destroy(struct osc_secret *s);

/* Fills buf with n bytes from the OS CSPRNG (getrandom). OSC_E_INTERNAL if it cannot. */
osc_err osc_crypto_random(void *buf, size_t n);
/* Writes OSC_ID_LEN lowercase hex chars + NUL into out (size >= OSC_ID_LEN + 1). */
osc_err osc_crypto_new_id(char *out);
/* Writes OSC_AK_LEN chars of [A-Z0-9] + NUL into out (size >= OSC_AK_LEN + 1), uniform, no bias. */
osc_err osc_crypto_new_access_key(char *out);
/* New secret of OSC_SK_LEN chars of [A-Za-z0-9] (no NUL counted in n; p is NUL-terminated). Caller
 * destroys it. */
osc_err osc_crypto_new_secret_key(struct osc_secret **out);
/* Writes OSC_ACCOUNT_ID_LEN decimal digits + NUL, first digit non-zero. */
osc_err osc_crypto_new_account_id(char *out);

/* SHA-256 of data into out[32]. This and osc_crypto_hmac_sha256 abort the process if OpenSSL
 * fails (it can only fail to allocate), rather than return with out unset. */
void osc_crypto_sha256(const void *data, size_t n, unsigned char out[OSC_SHA256_LEN]);
/* HMAC-SHA256(key, data) into out[32]. */
void osc_crypto_hmac_sha256(const void *key, size_t keylen, const void *data, size_t n,
                            unsigned char out[OSC_SHA256_LEN]);
/* Lowercase hex of n bytes into out (size >= 2n+1). */
void osc_crypto_hex(const unsigned char *in, size_t n, char *out);
/* The value of one hex digit (either case), or -1 if c is not one. */
int osc_crypto_hex_digit(char c);
/* Wipes n bytes at p in a way the compiler cannot drop (OPENSSL_cleanse). */
void osc_crypto_wipe(void *p, size_t n);
/* Constant-time equality of two buffers of the same length n: 1 if equal, 0 otherwise. */
int osc_crypto_equal(const void *a, const void *b, size_t n);

/* HKDF-SHA256 (RFC 5869) extract+expand: okm[outlen] from ikm, salt (may be NULL/0) and info. */
osc_err osc_crypto_hkdf(const unsigned char *ikm, size_t ikmlen, const unsigned char *salt,
                        size_t saltlen, const char *info, unsigned char *okm, size_t outlen);

/* AES-256-GCM. Sealed layout: 12-byte random nonce || ciphertext || 16-byte tag.
 * osc_crypto_seal: *out is malloc'd (caller frees), *outlen = ptlen + 28.
 * osc_crypto_open: plaintext into a new osc_secret (NUL-terminated one byte past n);
 * OSC_E_INTERNAL if authentication fails (wrong key, wrong aad, tampered). */
#define OSC_SEAL_OVERHEAD 28
osc_err osc_crypto_seal(const unsigned char key[32], const void *aad, size_t aadlen, const void *pt,
                        size_t ptlen, unsigned char **out, size_t *outlen);
osc_err osc_crypto_open(const unsigned char key[32], const void *aad, size_t aadlen,
                        const unsigned char *sealed, size_t sealedlen, struct osc_secret **out);

/* Password hashes: PBKDF2-HMAC-SHA256, self-describing string
 * "pbkdf2-sha256$<iterations>$<base64 salt(16 bytes)>$<base64 hash(32 bytes)>".
 * osc_crypto_password_hash: *out is malloc'd (caller frees).
 * osc_crypto_password_verify: OSC_OK if the password matches, OSC_E_UNAUTHENTICATED if it does
 * not or the stored string is malformed. Comparison is constant-time. */
osc_err osc_crypto_password_hash(const char *password, unsigned iterations, char **out);
osc_err osc_crypto_password_verify(const char *password, const char *stored);

/* Standard base64 (with padding) and base64url (no padding) helpers. Encoders write a
 * NUL-terminated string into a malloc'd *out. Decoders reject invalid input with OSC_E_INVALID and
 * write a malloc'd buffer into *out with its length in *outlen. */
osc_err osc_crypto_b64_encode(const unsigned char *in, size_t n, char **out);
osc_err osc_crypto_b64_decode(const char *in, unsigned char **out, size_t *outlen);
osc_err osc_crypto_b64url_encode(const unsigned char *in, size_t n, char **out);
osc_err osc_crypto_b64url_decode(const char *in, size_t inlen, unsigned char **out, size_t *outlen);

#endif
