/* Randomness and secret memory: getrandom(2)-backed identifiers and keys, and the osc_secret
 * holder. Nothing here seeds or keeps a generator of its own; the kernel's CSPRNG is the only
 * source. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>

#include "oscred/crypto.h"

static const char UPPER_DIGITS[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
static const char ALNUM[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
static const char DIGITS[] = "0123456789";

osc_err osc_secret_create(size_t n, struct osc_secret **out)
{
    osc_err err = OSC_OK;
    struct osc_secret *s = NULL;

    if (n == SIZE_MAX) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    s = calloc(1, sizeof(*s));
    if (!s) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    /* One zero byte past n, so a secret holding text (a secret key, an opened secret) can be
     * handed to string functions without a copy that would escape the wipe. */
    s->p = calloc(1, n + 1);
    if (!s->p) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    s->n = n;
out:
    if (err)
        osc_secret_destroy(s);
    else
        *out = s;
    return err;
}

void osc_secret_destroy(struct osc_secret *s)
{
    if (!s)
        return;
    if (s->p) {
        OPENSSL_cleanse(s->p, s->n + 1);
        free(s->p);
    }
    OPENSSL_cleanse(s, sizeof(*s));
    free(s);
}

osc_err osc_crypto_random(void *buf, size_t n)
{
    osc_err err = OSC_OK;
    unsigned char *p = buf;
    size_t got = 0;

    /* getrandom may return fewer bytes than asked (requests over 256 bytes, or a signal), so
     * loop until the buffer is full rather than trusting one call. */
    while (got < n) {
        ssize_t r = getrandom(p + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            err = OSC_E_INTERNAL;
            goto out;
        }
        if (r == 0) {
            err = OSC_E_INTERNAL;
            goto out;
        }
        got += (size_t)r;
    }
out:
    return err;
}

/* n characters drawn uniformly from alphabet[0..alen). Bytes at or above the largest multiple of
 * alen are rejected, so every character has exactly the same probability (a plain modulo would
 * favour the first 256 % alen characters). */
static osc_err random_chars(const char *alphabet, unsigned alen, char *out, size_t n)
{
    osc_err err = OSC_OK;
    unsigned char pool[64];
    size_t used = sizeof(pool);
    unsigned limit = 256u - 256u % alen;
    size_t i = 0;

    while (i < n) {
        if (used == sizeof(pool)) {
            err = osc_crypto_random(pool, sizeof(pool));
            if (err)
                goto out;
            used = 0;
        }
        unsigned b = pool[used++];
        if (b >= limit)
            continue;
        out[i++] = alphabet[b % alen];
    }
out:
    /* The pool is what the characters were made of; a secret key must not outlive its holder. */
    OPENSSL_cleanse(pool, sizeof(pool));
    return err;
}

osc_err osc_crypto_new_id(char *out)
{
    osc_err err = OSC_OK;
    unsigned char raw[OSC_ID_LEN / 2];

    err = osc_crypto_random(raw, sizeof(raw));
    if (err)
        goto out;
    osc_crypto_hex(raw, sizeof(raw), out);
out:
    return err;
}

osc_err osc_crypto_new_access_key(char *out)
{
    osc_err err = OSC_OK;
    char ak[OSC_AK_LEN + 1];

    err = random_chars(UPPER_DIGITS, sizeof(UPPER_DIGITS) - 1, ak, OSC_AK_LEN);
    if (err)
        goto out;
    ak[OSC_AK_LEN] = '\0';
    memcpy(out, ak, sizeof(ak));
out:
    return err;
}

osc_err osc_crypto_new_secret_key(struct osc_secret **out)
{
    osc_err err = OSC_OK;
    struct osc_secret *sk = NULL;

    err = osc_secret_create(OSC_SK_LEN, &sk);
    if (err)
        goto out;
    /* Written straight into the secret so no stack copy of the key is left behind. */
    err = random_chars(ALNUM, sizeof(ALNUM) - 1, (char *)sk->p, OSC_SK_LEN);
out:
    if (err)
        osc_secret_destroy(sk);
    else
        *out = sk;
    return err;
}

osc_err osc_crypto_new_account_id(char *out)
{
    osc_err err = OSC_OK;
    char id[OSC_ACCOUNT_ID_LEN + 1];

    /* A leading zero would be lost by anything that treats the id as a number. */
    err = random_chars(DIGITS + 1, sizeof(DIGITS) - 2, id, 1);
    if (err)
        goto out;
    err = random_chars(DIGITS, sizeof(DIGITS) - 1, id + 1, OSC_ACCOUNT_ID_LEN - 1);
    if (err)
        goto out;
    id[OSC_ACCOUNT_ID_LEN] = '\0';
    memcpy(out, id, sizeof(id));
out:
    return err;
}
