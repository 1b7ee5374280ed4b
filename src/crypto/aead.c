/* AES-256-GCM sealing of small secrets: nonce || ciphertext || tag, with associated data binding
 * each ciphertext to its owner. Keys come from the caller (the key ring); nothing is cached. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "aead_internal.h"
#include "oscred/crypto.h"

#if OSC_GCM_NONCE_LEN + OSC_GCM_TAG_LEN != OSC_SEAL_OVERHEAD
#error "sealed layout does not match OSC_SEAL_OVERHEAD"
#endif

osc_err osc_crypto_seal_with_nonce(const unsigned char key[32],
                                   const unsigned char nonce[OSC_GCM_NONCE_LEN], const void *aad,
                                   size_t aadlen, const void *pt, size_t ptlen, unsigned char **out,
                                   size_t *outlen)
{
    osc_err err = OSC_OK;
    EVP_CIPHER_CTX *ctx = NULL;
    unsigned char *buf = NULL;
    unsigned char *ct = NULL;
    int len = 0;

    /* EVP lengths are int; anything this large is a caller bug, not a secret. */
    if (!key || !nonce || ptlen > INT_MAX - OSC_SEAL_OVERHEAD || aadlen > INT_MAX ||
        (!pt && ptlen > 0) || (!aad && aadlen > 0)) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    buf = malloc(ptlen + OSC_SEAL_OVERHEAD);
    if (!buf) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    memcpy(buf, nonce, OSC_GCM_NONCE_LEN);
    ct = buf + OSC_GCM_NONCE_LEN;
    ctx = EVP_CIPHER_CTX_new();
    if (!ctx) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    /* 12 bytes is GCM's default IV length, so no EVP_CTRL_GCM_SET_IVLEN is needed. */
    if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) != 1) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    if (aadlen > 0 && EVP_EncryptUpdate(ctx, NULL, &len, aad, (int)aadlen) != 1) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    if (ptlen > 0 && EVP_EncryptUpdate(ctx, ct, &len, pt, (int)ptlen) != 1) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    if (EVP_EncryptFinal_ex(ctx, ct + ptlen, &len) != 1) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, OSC_GCM_TAG_LEN, ct + ptlen) != 1) {
        err = OSC_E_INTERNAL;
        goto out;
    }
out:
    EVP_CIPHER_CTX_free(ctx);
    if (err) {
        free(buf);
    } else {
        *out = buf;
        *outlen = ptlen + OSC_SEAL_OVERHEAD;
    }
    return err;
}

osc_err osc_crypto_seal(const unsigned char key[32], const void *aad, size_t aadlen, const void *pt,
                        size_t ptlen, unsigned char **out, size_t *outlen)
{
    osc_err err = OSC_OK;
    unsigned char nonce[OSC_GCM_NONCE_LEN];

    /* Random 96-bit nonces are safe up to 2^32 seals per key (NIST SP 800-38D §8.3); one seal
     * per access key keeps every ring key far below that. */
    err = osc_crypto_random(nonce, sizeof(nonce));
    if (err)
        goto out;
    err = osc_crypto_seal_with_nonce(key, nonce, aad, aadlen, pt, ptlen, out, outlen);
out:
    return err;
}

osc_err osc_crypto_open(const unsigned char key[32], const void *aad, size_t aadlen,
                        const unsigned char *sealed, size_t sealedlen, struct osc_secret **out)
{
    osc_err err = OSC_OK;
    EVP_CIPHER_CTX *ctx = NULL;
    struct osc_secret *s = NULL;
    unsigned char tag[OSC_GCM_TAG_LEN];
    size_t ctlen = 0;
    int len = 0;

    if (!key || !sealed || sealedlen < OSC_SEAL_OVERHEAD || sealedlen > INT_MAX ||
        aadlen > INT_MAX || (!aad && aadlen > 0)) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    ctlen = sealedlen - OSC_SEAL_OVERHEAD;
    /* The secret (with its trailing NUL) receives the plaintext directly, so an unauthenticated
     * plaintext is wiped by osc_secret_destroy rather than left in a plain buffer. */
    err = osc_secret_create(ctlen, &s);
    if (err)
        goto out;
    memcpy(tag, sealed + OSC_GCM_NONCE_LEN + ctlen, sizeof(tag));
    ctx = EVP_CIPHER_CTX_new();
    if (!ctx) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, sealed) != 1) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    if (aadlen > 0 && EVP_DecryptUpdate(ctx, NULL, &len, aad, (int)aadlen) != 1) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    if (ctlen > 0 &&
        EVP_DecryptUpdate(ctx, s->p, &len, sealed + OSC_GCM_NONCE_LEN, (int)ctlen) != 1) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, OSC_GCM_TAG_LEN, tag) != 1) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    /* Only here is the tag checked; until then s->p holds unauthenticated bytes. */
    if (EVP_DecryptFinal_ex(ctx, s->p + ctlen, &len) != 1) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    s->p[ctlen] = '\0';
out:
    EVP_CIPHER_CTX_free(ctx);
    if (err)
        osc_secret_destroy(s);
    else
        *out = s;
    return err;
}
