/* RFC 4648 base64 (padded) and base64url (unpadded) codecs. Decoders are strict: one canonical
 * encoding per byte string, so a value cannot be re-spelled to slip past a comparison. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "oscred/crypto.h"

static const char STD[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static osc_err encode(const char *alphabet, int pad, const unsigned char *in, size_t n, char **out)
{
    osc_err err = OSC_OK;
    char *s = NULL;
    size_t len = 0;
    size_t o = 0;
    size_t i = 0;

    if (!in && n > 0) {
        err = OSC_E_INVALID;
        goto out;
    }
    if (n > (SIZE_MAX - 1) / 4 * 3 - 3) {
        err = OSC_E_INVALID;
        goto out;
    }
    len = pad ? (n + 2) / 3 * 4 : n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
    s = malloc(len + 1);
    if (!s) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    for (i = 0; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        s[o++] = alphabet[v >> 18];
        s[o++] = alphabet[(v >> 12) & 63];
        s[o++] = alphabet[(v >> 6) & 63];
        s[o++] = alphabet[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        s[o++] = alphabet[v >> 18];
        s[o++] = alphabet[(v >> 12) & 63];
        if (pad) {
            s[o++] = '=';
            s[o++] = '=';
        }
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        s[o++] = alphabet[v >> 18];
        s[o++] = alphabet[(v >> 12) & 63];
        s[o++] = alphabet[(v >> 6) & 63];
        if (pad)
            s[o++] = '=';
    }
    s[o] = '\0';
out:
    if (!err)
        *out = s;
    return err;
}

static int sextet(const char *alphabet, char c)
{
    /* Both alphabets share their first 62 characters; only the last two differ. Ranges, not a
     * search of the alphabet: every token check decodes a token. */
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c && c == alphabet[62])
        return 62;
    if (c && c == alphabet[63])
        return 63;
    return -1;
}

/* Decodes in[0..n) with no padding characters. A trailing group of 2 or 3 characters must leave
 * its unused low bits zero (RFC 4648 §3.5), so each byte string has exactly one spelling. */
static osc_err decode(const char *alphabet, const char *in, size_t n, unsigned char **out,
                      size_t *outlen)
{
    osc_err err = OSC_OK;
    unsigned char *buf = NULL;
    size_t len = 0;
    size_t o = 0;
    size_t i = 0;
    uint32_t v = 0;
    int bits = 0;

    if (n % 4 == 1) {
        err = OSC_E_INVALID;
        goto out;
    }
    len = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    /* One spare byte so an empty result is still a real allocation the caller can free. */
    buf = malloc(len + 1);
    if (!buf) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    for (i = 0; i < n; i++) {
        int d = sextet(alphabet, in[i]);
        if (d < 0) {
            err = OSC_E_INVALID;
            goto out;
        }
        v = v << 6 | (uint32_t)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (unsigned char)(v >> bits);
            v &= (1u << bits) - 1;
        }
    }
    if (v != 0) {
        err = OSC_E_INVALID;
        goto out;
    }
out:
    if (err) {
        if (buf) {
            OPENSSL_cleanse(buf, len + 1);
            free(buf);
        }
    } else {
        *out = buf;
        *outlen = o;
    }
    return err;
}

osc_err osc_crypto_b64_encode(const unsigned char *in, size_t n, char **out)
{
    return encode(STD, 1, in, n, out);
}

osc_err osc_crypto_b64url_encode(const unsigned char *in, size_t n, char **out)
{
    return encode(URL, 0, in, n, out);
}

osc_err osc_crypto_b64_decode(const char *in, unsigned char **out, size_t *outlen)
{
    osc_err err = OSC_OK;
    size_t n = 0;
    size_t npad = 0;

    if (!in) {
        err = OSC_E_INVALID;
        goto out;
    }
    n = strlen(in);
    if (n % 4 != 0) {
        err = OSC_E_INVALID;
        goto out;
    }
    if (n > 0 && in[n - 1] == '=') {
        npad++;
        if (in[n - 2] == '=')
            npad++;
    }
    /* "x===" style input, and '=' anywhere but the end, fail below as non-alphabet chars. */
    err = decode(STD, in, n - npad, out, outlen);
out:
    return err;
}

osc_err osc_crypto_b64url_decode(const char *in, size_t inlen, unsigned char **out, size_t *outlen)
{
    osc_err err = OSC_OK;

    if (!in && inlen > 0) {
        err = OSC_E_INVALID;
        goto out;
    }
    err = decode(URL, in ? in : "", inlen, out, outlen);
out:
    return err;
}
