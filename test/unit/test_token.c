/* Unit tests for the token format: round trips, key rotation, and refusal of anything altered,
 * truncated, foreign or malformed. Decoding must never crash, whatever the input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oscred/crypto.h"
#include "oscred/keyring.h"
#include "oscred/token.h"

#define KEY_A "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define KEY_B "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="

#define RING_A "{\"primary\": \"k1\", \"keys\": {\"k1\": \"" KEY_A "\"}}"
/* Same kid, different key: a ring from another deployment. */
#define RING_OTHER "{\"primary\": \"k1\", \"keys\": {\"k1\": \"" KEY_B "\"}}"
/* RING_A after rotation: k1 kept for verification, k2 now primary. */
#define RING_ROTATED                                                                               \
    "{\"primary\": \"k2\", \"keys\": {\"k1\": \"" KEY_A "\", \"k2\": \"" KEY_B "\"}}"
#define RING_LONG_KID                                                                              \
    "{\"primary\": \"abcdefghijABCDEFGHIJ0123456789_-\", \"keys\": "                               \
    "{\"abcdefghijABCDEFGHIJ0123456789_-\": \"" KEY_A "\"}}"

static osc_keyring *ring(const char *json)
{
    osc_keyring *kr = NULL;
    char why[256];

    assert_int_equal(osc_keyring_parse(json, strlen(json), &kr, why, sizeof(why)), OSC_OK);
    return kr;
}

static struct osc_token sample(void)
{
    struct osc_token t;

    memset(&t, 0, sizeof(t));
    memcpy(t.kid, "ignored", 8);
    memcpy(t.id, "0123456789abcdef0123456789abcdef", OSC_ID_LEN + 1);
    memcpy(t.principal_id, "ffffffffffffffff0000000000000000", OSC_ID_LEN + 1);
    memcpy(t.domain_id, "a1b2c3d4e5f60718293a4b5c6d7e8f90", OSC_ID_LEN + 1);
    t.scope = OSC_SCOPE_DOMAIN;
    t.password_epoch = 0xdeadbeefu;
    t.issued_us = INT64_C(1700000000000000);
    t.expires_us = INT64_C(1700000000000000) + INT64_C(3600000000);
    return t;
}

static void assert_token_equal(const struct osc_token *a, const struct osc_token *b)
{
    assert_string_equal(a->id, b->id);
    assert_string_equal(a->principal_id, b->principal_id);
    assert_string_equal(a->domain_id, b->domain_id);
    assert_int_equal(a->scope, b->scope);
    assert_int_equal(a->password_epoch, b->password_epoch);
    assert_true(a->issued_us == b->issued_us);
    assert_true(a->expires_us == b->expires_us);
}

static void test_token_roundtrip(void **state)
{
    osc_keyring *kr = ring(RING_A);
    struct osc_token t = sample();
    struct osc_token back;
    char s[OSC_TOKEN_MAX];

    (void)state;
    assert_int_equal(osc_token_encode(kr, &t, s), OSC_OK);
    assert_memory_equal(s, "o1.", 3);
    assert_int_equal(strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-"),
                     strlen(s));
    memset(&back, 0x55, sizeof(back));
    assert_int_equal(osc_token_decode(kr, s, &back), OSC_OK);
    assert_string_equal(back.kid, "k1");
    assert_token_equal(&back, &t);
    osc_keyring_destroy(kr);
}

static void test_token_roundtrip_edge_values(void **state)
{
    osc_keyring *kr = ring(RING_LONG_KID);
    struct osc_token t = sample();
    struct osc_token back;
    char s[OSC_TOKEN_MAX];

    (void)state;
    t.scope = OSC_SCOPE_UNSCOPED;
    t.password_epoch = 0;
    t.issued_us = INT64_MIN;
    t.expires_us = -1;
    memcpy(t.id, "00000000000000000000000000000000", OSC_ID_LEN + 1);
    assert_int_equal(osc_token_encode(kr, &t, s), OSC_OK);
    /* The longest kid gives the longest token; it must fit with room to spare. */
    assert_true(strlen(s) < OSC_TOKEN_MAX);
    assert_int_equal(osc_token_decode(kr, s, &back), OSC_OK);
    assert_string_equal(back.kid, "abcdefghijABCDEFGHIJ0123456789_-");
    assert_token_equal(&back, &t);
    t.issued_us = INT64_MAX;
    t.expires_us = INT64_MIN + 1;
    t.password_epoch = UINT32_MAX;
    assert_int_equal(osc_token_encode(kr, &t, s), OSC_OK);
    assert_int_equal(osc_token_decode(kr, s, &back), OSC_OK);
    assert_token_equal(&back, &t);
    osc_keyring_destroy(kr);
}

/* Expiry belongs to the caller: revocation must still be able to read an expired token. */
static void test_token_expired_still_decodes(void **state)
{
    osc_keyring *kr = ring(RING_A);
    struct osc_token t = sample();
    struct osc_token back;
    char s[OSC_TOKEN_MAX];

    (void)state;
    t.issued_us = 1000;
    t.expires_us = 2000;
    assert_int_equal(osc_token_encode(kr, &t, s), OSC_OK);
    assert_int_equal(osc_token_decode(kr, s, &back), OSC_OK);
    assert_true(back.expires_us == 2000);
    osc_keyring_destroy(kr);
}

static void test_token_encode_rejects_bad_fields(void **state)
{
    osc_keyring *kr = ring(RING_A);
    struct osc_token t;
    char s[OSC_TOKEN_MAX] = "untouched";

    (void)state;
    t = sample();
    t.id[5] = 'G';
    assert_int_equal(osc_token_encode(kr, &t, s), OSC_E_INVALID);
    t = sample();
    t.principal_id[0] = 'A'; /* ids are lowercase */
    assert_int_equal(osc_token_encode(kr, &t, s), OSC_E_INVALID);
    t = sample();
    t.domain_id[31] = '\0';
    assert_int_equal(osc_token_encode(kr, &t, s), OSC_E_INVALID);
    t = sample();
    t.scope = (enum osc_token_scope)7;
    assert_int_equal(osc_token_encode(kr, &t, s), OSC_E_INVALID);
    assert_string_equal(s, "untouched");
    osc_keyring_destroy(kr);
}

/* Every copy of the token s with one character replaced by another of the token alphabet is
 * refused; s is left as it was. */
static void assert_every_altered_copy_refused(const osc_keyring *kr, char *s)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    struct osc_token back;
    size_t n = strlen(s);

    for (size_t i = 0; i < n; i++) {
        char orig = s[i];
        for (size_t a = 0; a < sizeof(alphabet) - 1; a++) {
            if (alphabet[a] == orig)
                continue;
            s[i] = alphabet[a];
            if (osc_token_decode(kr, s, &back) != OSC_E_UNAUTHENTICATED)
                fail_msg("accepted token with position %zu changed to '%c'", i, alphabet[a]);
        }
        s[i] = orig;
    }
}

/* Flipping any bit of any character either breaks the encoding or the MAC. */
static void test_token_rejects_any_altered_character(void **state)
{
    osc_keyring *kr = ring(RING_A);
    struct osc_token t = sample();
    struct osc_token back;
    char s[OSC_TOKEN_MAX];

    (void)state;
    assert_int_equal(osc_token_encode(kr, &t, s), OSC_OK);
    assert_every_altered_copy_refused(kr, s);
    assert_int_equal(osc_token_decode(kr, s, &back), OSC_OK);
    osc_keyring_destroy(kr);
}

static void test_token_rejects_truncated_and_extended(void **state)
{
    osc_keyring *kr = ring(RING_A);
    struct osc_token t = sample();
    struct osc_token back;
    char s[OSC_TOKEN_MAX];
    char copy[OSC_TOKEN_MAX + 8];
    size_t n = 0;

    (void)state;
    assert_int_equal(osc_token_encode(kr, &t, s), OSC_OK);
    n = strlen(s);
    for (size_t len = 0; len < n; len++) {
        memcpy(copy, s, len);
        copy[len] = '\0';
        if (osc_token_decode(kr, copy, &back) != OSC_E_UNAUTHENTICATED)
            fail_msg("accepted token truncated to %zu chars", len);
    }
    memcpy(copy, s, n);
    memcpy(copy + n, "AA", 3);
    assert_int_equal(osc_token_decode(kr, copy, &back), OSC_E_UNAUTHENTICATED);
    memcpy(copy + n, "=", 2);
    assert_int_equal(osc_token_decode(kr, copy, &back), OSC_E_UNAUTHENTICATED);
    osc_keyring_destroy(kr);
}

/* Decodes s, alters the payload with edit, re-MACs it under the right key when remac is set, and
 * checks the result is refused: the field checks must hold even behind a valid MAC. */
static void check_forged(osc_keyring *kr, const char *s, void (*edit)(unsigned char *, size_t *),
                         const char *what)
{
    unsigned char *raw = NULL;
    size_t rawlen = 0;
    char *b64 = NULL;
    char forged[OSC_TOKEN_MAX + 64];
    struct osc_token back;
    const unsigned char *key = osc_keyring_token_key(kr, "k1");
    unsigned char buf[512];
    size_t n = 0;

    assert_int_equal(osc_crypto_b64url_decode(s + 3, strlen(s + 3), &raw, &rawlen), OSC_OK);
    assert_true(rawlen <= sizeof(buf));
    n = rawlen - 32;
    memcpy(buf, raw, n);
    edit(buf, &n);
    osc_crypto_hmac_sha256(key, 32, buf, n, buf + n);
    assert_int_equal(osc_crypto_b64url_encode(buf, n + 32, &b64), OSC_OK);
    assert_true(strlen(b64) + 4 <= sizeof(forged));
    memcpy(forged, "o1.", 3);
    memcpy(forged + 3, b64, strlen(b64) + 1);
    if (osc_token_decode(kr, forged, &back) != OSC_E_UNAUTHENTICATED)
        fail_msg("accepted correctly MAC'd token with %s", what);
    free(raw);
    free(b64);
}

static void edit_version(unsigned char *p, size_t *n)
{
    (void)n;
    p[0] = 2;
}

static void edit_kidlen_long(unsigned char *p, size_t *n)
{
    (void)n;
    p[1] = 3;
}

static void edit_kidlen_zero(unsigned char *p, size_t *n)
{
    (void)n;
    p[1] = 0;
}

static void edit_scope(unsigned char *p, size_t *n)
{
    (void)n;
    p[2 + 2 + 48] = 2;
}

static void edit_append(unsigned char *p, size_t *n)
{
    p[(*n)++] = 0;
}

static void edit_drop(unsigned char *p, size_t *n)
{
    (void)p;
    (*n)--;
}

static void test_token_rejects_bad_fields_behind_valid_mac(void **state)
{
    osc_keyring *kr = ring(RING_A);
    struct osc_token t = sample();
    struct osc_token back;
    char s[OSC_TOKEN_MAX];

    (void)state;
    assert_int_equal(osc_token_encode(kr, &t, s), OSC_OK);
    /* The helper itself must produce an acceptable token when nothing is changed. */
    assert_int_equal(osc_token_decode(kr, s, &back), OSC_OK);
    check_forged(kr, s, edit_version, "version 2");
    check_forged(kr, s, edit_kidlen_long, "a kid length past the kid");
    check_forged(kr, s, edit_kidlen_zero, "an empty kid");
    check_forged(kr, s, edit_scope, "an unknown scope");
    check_forged(kr, s, edit_append, "a trailing byte");
    check_forged(kr, s, edit_drop, "a missing byte");
    osc_keyring_destroy(kr);
}

static void test_token_rejects_other_ring(void **state)
{
    osc_keyring *kr = ring(RING_A);
    osc_keyring *other = ring(RING_OTHER);
    osc_keyring *long_kid = ring(RING_LONG_KID);
    struct osc_token t = sample();
    struct osc_token back;
    char s[OSC_TOKEN_MAX];

    (void)state;
    assert_int_equal(osc_token_encode(kr, &t, s), OSC_OK);
    /* Same kid, different key: the MAC fails. */
    assert_int_equal(osc_token_decode(other, s, &back), OSC_E_UNAUTHENTICATED);
    /* Kid unknown to the ring. */
    assert_int_equal(osc_token_decode(long_kid, s, &back), OSC_E_UNAUTHENTICATED);
    osc_keyring_destroy(kr);
    osc_keyring_destroy(other);
    osc_keyring_destroy(long_kid);
}

/* A token verified once is remembered (osc_token_decode keeps the last ones per thread): that must
 * never let a different string, or the same string under another ring, through. */
static void test_token_remembered_only_as_the_exact_string_under_its_ring(void **state)
{
    osc_keyring *kr = ring(RING_A);
    osc_keyring *same_keys = ring(RING_A); /* a reload of the same file */
    osc_keyring *other = ring(RING_OTHER);
    struct osc_token t = sample();
    struct osc_token back;
    char s[OSC_TOKEN_MAX];
    char orig[OSC_TOKEN_MAX];
    size_t n = 0;

    (void)state;
    assert_int_equal(osc_token_encode(kr, &t, s), OSC_OK);
    memcpy(orig, s, sizeof(s));
    n = strlen(s);
    for (int again = 0; again < 2; again++) {
        memset(&back, 0x55, sizeof(back));
        assert_int_equal(osc_token_decode(kr, s, &back), OSC_OK);
        assert_token_equal(&back, &t);
    }
    assert_every_altered_copy_refused(kr, s);
    assert_int_equal(osc_token_decode(kr, s, &back), OSC_OK); /* still remembered */
    for (size_t len = 0; len < n; len++) {
        s[len] = '\0';
        if (osc_token_decode(kr, s, &back) != OSC_E_UNAUTHENTICATED)
            fail_msg("accepted remembered token truncated to %zu chars", len);
        s[len] = orig[len];
    }
    s[n] = 'A';
    s[n + 1] = '\0';
    assert_int_equal(osc_token_decode(kr, s, &back), OSC_E_UNAUTHENTICATED);
    s[n] = '\0';
    /* Another ring with the same kid but another key: verified again, and refused. */
    assert_int_equal(osc_token_decode(other, s, &back), OSC_E_UNAUTHENTICATED);
    /* The same keys in a newly loaded ring: verified again, and accepted. */
    assert_int_equal(osc_token_decode(same_keys, s, &back), OSC_OK);
    assert_token_equal(&back, &t);
    assert_int_equal(osc_token_decode(kr, s, &back), OSC_OK);
    osc_keyring_destroy(kr);
    osc_keyring_destroy(same_keys);
    osc_keyring_destroy(other);
}

/* Re-labelling a token with another kid of the same ring must not carry the MAC over. */
static void test_token_rejects_altered_kid(void **state)
{
    osc_keyring *old = ring(RING_A);
    osc_keyring *rotated = ring(RING_ROTATED);
    struct osc_token t = sample();
    struct osc_token back;
    char s[OSC_TOKEN_MAX];
    unsigned char *raw = NULL;
    size_t rawlen = 0;
    char *b64 = NULL;
    char forged[OSC_TOKEN_MAX];

    (void)state;
    assert_int_equal(osc_token_encode(old, &t, s), OSC_OK);
    assert_int_equal(osc_crypto_b64url_decode(s + 3, strlen(s + 3), &raw, &rawlen), OSC_OK);
    assert_memory_equal(raw + 1, "\x02k1", 3);
    raw[3] = '2';
    assert_int_equal(osc_crypto_b64url_encode(raw, rawlen, &b64), OSC_OK);
    memcpy(forged, "o1.", 3);
    memcpy(forged + 3, b64, strlen(b64) + 1);
    assert_int_equal(osc_token_decode(rotated, forged, &back), OSC_E_UNAUTHENTICATED);
    assert_int_equal(osc_token_decode(rotated, s, &back), OSC_OK);
    free(raw);
    free(b64);
    osc_keyring_destroy(old);
    osc_keyring_destroy(rotated);
}

/* Tokens issued before a rotation stay valid; new ones carry the new primary kid. */
static void test_token_survives_rotation(void **state)
{
    osc_keyring *old = ring(RING_A);
    osc_keyring *rotated = ring(RING_ROTATED);
    struct osc_token t = sample();
    struct osc_token back;
    char s[OSC_TOKEN_MAX];

    (void)state;
    assert_int_equal(osc_token_encode(old, &t, s), OSC_OK);
    assert_int_equal(osc_token_decode(rotated, s, &back), OSC_OK);
    assert_string_equal(back.kid, "k1");
    assert_token_equal(&back, &t);
    assert_int_equal(osc_token_encode(rotated, &t, s), OSC_OK);
    assert_int_equal(osc_token_decode(rotated, s, &back), OSC_OK);
    assert_string_equal(back.kid, "k2");
    /* The old ring does not know k2. */
    assert_int_equal(osc_token_decode(old, s, &back), OSC_E_UNAUTHENTICATED);
    osc_keyring_destroy(old);
    osc_keyring_destroy(rotated);
}

static void test_token_rejects_garbage(void **state)
{
    static const char *bad[] = {
        "",
        "o",
        "o1",
        "o1.",
        "o2.AAAA",
        "O1.AAAA",
        "o1.!!!!",
        "o1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "o1.AQJrMQ",
        "Bearer o1.AAAA",
        "o1.AAAA AAAA",
        "o1.AAAA\n",
        "\xff\xfe\xfd",
    };
    osc_keyring *kr = ring(RING_A);
    struct osc_token back;
    struct osc_token untouched;
    char *huge = NULL;
    unsigned char rnd[400];
    char *b64 = NULL;
    char s[OSC_TOKEN_MAX + 512];

    (void)state;
    memset(&back, 0x5a, sizeof(back));
    memcpy(&untouched, &back, sizeof(back));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (osc_token_decode(kr, bad[i], &back) != OSC_E_UNAUTHENTICATED)
            fail_msg("accepted garbage[%zu]", i);
    }
    /* Out-params are written only on success. */
    assert_memory_equal(&back, &untouched, sizeof(back));
    assert_int_equal(osc_token_decode(kr, NULL, &back), OSC_E_UNAUTHENTICATED);
    assert_int_equal(osc_token_decode(NULL, "o1.AAAA", &back), OSC_E_UNAUTHENTICATED);

    /* A megabyte header: refused without reading past the token limit. */
    huge = malloc(1 << 20);
    assert_non_null(huge);
    memset(huge, 'A', 1 << 20);
    memcpy(huge, "o1.", 3);
    huge[(1 << 20) - 1] = '\0';
    assert_int_equal(osc_token_decode(kr, huge, &back), OSC_E_UNAUTHENTICATED);
    free(huge);

    /* Random well-formed base64url bodies of every length up to and past the limit. */
    for (size_t len = 0; len < sizeof(rnd); len++) {
        assert_int_equal(osc_crypto_random(rnd, len), OSC_OK);
        if (len > 1) {
            rnd[0] = 1; /* right version, so the checks behind it run too */
            rnd[1] = (unsigned char)(len % 40);
        }
        assert_int_equal(osc_crypto_b64url_encode(rnd, len, &b64), OSC_OK);
        memcpy(s, "o1.", 3);
        memcpy(s + 3, b64, strlen(b64) + 1);
        if (osc_token_decode(kr, s, &back) != OSC_E_UNAUTHENTICATED)
            fail_msg("accepted random body of %zu bytes", len);
        free(b64);
    }
    osc_keyring_destroy(kr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_roundtrip),
        cmocka_unit_test(test_token_roundtrip_edge_values),
        cmocka_unit_test(test_token_expired_still_decodes),
        cmocka_unit_test(test_token_encode_rejects_bad_fields),
        cmocka_unit_test(test_token_rejects_any_altered_character),
        cmocka_unit_test(test_token_rejects_truncated_and_extended),
        cmocka_unit_test(test_token_rejects_bad_fields_behind_valid_mac),
        cmocka_unit_test(test_token_rejects_other_ring),
        cmocka_unit_test(test_token_remembered_only_as_the_exact_string_under_its_ring),
        cmocka_unit_test(test_token_rejects_altered_kid),
        cmocka_unit_test(test_token_survives_rotation),
        cmocka_unit_test(test_token_rejects_garbage),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
