/* Unit tests for the key ring: parsing and its error messages, HKDF subkeys against values
 * computed independently (python3 hmac/hashlib), secret sealing, reference counting and the
 * process-wide current ring. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "oscred/crypto.h"
#include "oscred/keyring.h"

/* bytes 0..31 and 32..63 */
#define KEY_A "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define KEY_B "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="
/* HKDF-SHA256(ikm = KEY_A, no salt, info = "oscred token v1" / "oscred secret v1", L = 32) */
#define KEY_A_TOKEN "8cb53e7be46ccbe1195a2d02ce112ea067bb13eb8eee37bb8b3b79ece3d89f34"
#define KEY_A_SECRET "662c239c1c7685ef95fd1d7c560e52fb7e40af785e0adc1a33b9fd84ea340f17"

#define RING_AB                                                                                    \
    "{\"primary\": \"k-2_B\", \"keys\": {\"k1\": \"" KEY_A "\", \"k-2_B\": \"" KEY_B "\"}}"

static osc_keyring *parse_ok(const char *json)
{
    osc_keyring *kr = NULL;
    char why[256] = "untouched";

    assert_int_equal(osc_keyring_parse(json, strlen(json), &kr, why, sizeof(why)), OSC_OK);
    assert_non_null(kr);
    return kr;
}

static void test_keyring_parse_valid(void **state)
{
    osc_keyring *kr = parse_ok(RING_AB);
    char hex[2 * 32 + 1];

    (void)state;
    assert_string_equal(osc_keyring_primary(kr), "k-2_B");
    assert_int_equal(osc_keyring_size(kr), 2);
    assert_non_null(osc_keyring_token_key(kr, "k1"));
    assert_non_null(osc_keyring_seal_key(kr, "k-2_B"));
    assert_null(osc_keyring_token_key(kr, "k2"));
    assert_null(osc_keyring_seal_key(kr, "K1"));
    assert_null(osc_keyring_token_key(kr, NULL));
    osc_crypto_hex(osc_keyring_token_key(kr, "k1"), 32, hex);
    assert_string_equal(hex, KEY_A_TOKEN);
    osc_crypto_hex(osc_keyring_seal_key(kr, "k1"), 32, hex);
    assert_string_equal(hex, KEY_A_SECRET);
    /* One master key, two purposes, two unrelated subkeys. */
    assert_memory_not_equal(osc_keyring_token_key(kr, "k-2_B"), osc_keyring_seal_key(kr, "k-2_B"),
                            32);
    osc_keyring_destroy(kr);
}

static void test_keyring_parse_longest_kid(void **state)
{
    static const char json[] = "{\"primary\": \"abcdefghijABCDEFGHIJ0123456789_-\", \"keys\": "
                               "{\"abcdefghijABCDEFGHIJ0123456789_-\": \"" KEY_A "\"}}";
    osc_keyring *kr = parse_ok(json);

    (void)state;
    assert_int_equal(strlen(osc_keyring_primary(kr)), OSC_KID_MAX);
    osc_keyring_destroy(kr);
}

static void test_keyring_parse_errors(void **state)
{
    static const struct {
        const char *json;
        const char *why_has; /* a fragment the reason must contain */
    } bad[] = {
        {"", "not valid JSON"},
        {"{", "not valid JSON"},
        {"{\"primary\": \"k1\", \"keys\": {\"k1\": \"" KEY_A "\"}", "not valid JSON"},
        {"[]", "not a JSON object"},
        {"{\"keys\": {\"k1\": \"" KEY_A "\"}}", "\"primary\" is missing"},
        {"{\"primary\": 1, \"keys\": {\"k1\": \"" KEY_A "\"}}", "\"primary\" is missing"},
        {"{\"primary\": \"k2\", \"keys\": {\"k1\": \"" KEY_A "\"}}", "primary \"k2\" is not one"},
        {"{\"primary\": \"k1\"}", "\"keys\" is missing"},
        {"{\"primary\": \"k1\", \"keys\": [\"" KEY_A "\"]}", "\"keys\" is missing"},
        {"{\"primary\": \"k1\", \"keys\": {}}", "\"keys\" is empty"},
        {"{\"primary\": \"k1\", \"keys\": {\"k1\": "
         "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\"}}",
         "key \"k1\" is not base64 of 32 bytes"},
        {"{\"primary\": \"k1\", \"keys\": {\"k1\": "
         "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}}",
         "key \"k1\" is not base64 of 32 bytes"},
        {"{\"primary\": \"k1\", \"keys\": {\"k1\": \"not base64!\"}}", "not base64 of 32 bytes"},
        {"{\"primary\": \"k1\", \"keys\": {\"k1\": 32}}", "key \"k1\" is not a string"},
        {"{\"primary\": \"k 1\", \"keys\": {\"k 1\": \"" KEY_A "\"}}", "\"primary\" is not a kid"},
        {"{\"primary\": \"k1\", \"keys\": {\"k1\": \"" KEY_A "\", \"k.2\": \"" KEY_B "\"}}",
         "kid that is not"},
        {"{\"primary\": \"k1\", \"keys\": {\"k1\": \"" KEY_A "\", \"\": \"" KEY_B "\"}}",
         "kid that is not"},
        {"{\"primary\": \"abcdefghijABCDEFGHIJ0123456789_-x\", \"keys\": "
         "{\"abcdefghijABCDEFGHIJ0123456789_-x\": \"" KEY_A "\"}}",
         "\"primary\" is not a kid"},
        {"{\"primary\": \"k1\", \"keys\": {\"k1\": \"" KEY_A "\", \"k1\": \"" KEY_B "\"}}",
         "duplicate"},
        {"{\"primary\": \"k1\", \"primary\": \"k1\", \"keys\": {\"k1\": \"" KEY_A "\"}}",
         "duplicate"},
        {"{\"primary\": \"k1\", \"keys\": {\"k1\": \"" KEY_A "\"}, \"comment\": \"x\"}",
         "other than"},
    };
    osc_keyring *kr = NULL;
    char why[256];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why[0] = '\0';
        if (osc_keyring_parse(bad[i].json, strlen(bad[i].json), &kr, why, sizeof(why)) !=
            OSC_E_INVALID)
            fail_msg("bad[%zu] accepted: %s", i, bad[i].json);
        if (!strstr(why, bad[i].why_has))
            fail_msg("bad[%zu]: reason \"%s\" lacks \"%s\"", i, why, bad[i].why_has);
        if (strstr(why, KEY_A) || strstr(why, KEY_B) || strstr(why, "AAAAAAAAAA"))
            fail_msg("bad[%zu]: reason leaks key material: %s", i, why);
        assert_null(kr);
    }
    assert_int_equal(osc_keyring_parse(NULL, 0, &kr, why, sizeof(why)), OSC_E_INVALID);
    /* Without a reason buffer the error is still reported. */
    assert_int_equal(osc_keyring_parse("{", 1, &kr, NULL, 0), OSC_E_INVALID);
    assert_null(kr);
}

/* Easy operator mistakes put the key where a name goes; the reason must not echo it. */
static void test_keyring_parse_error_never_echoes_key(void **state)
{
    static const char *bad[] = {
        "{\"primary\": \"" KEY_A "\", \"keys\": {\"k1\": \"" KEY_A "\"}}",
        "{\"primary\": \"k1\", \"keys\": {\"" KEY_A "\": \"k1\"}}",
        "{\"primary\": \"k1\", \"keys\": {\"k1\": \"" KEY_A "\"}, \"" KEY_B "\": 1}",
        "{\"primary\": \"k1\", \"keys\": {\"k1\": \"" KEY_A "\" \"" KEY_B "\"}}",
        "{\"primary\": \"k1\", \"keys\": {\"k1\": \"" KEY_A "\x01\"}}",
        "{\"primary\": \"k1\", \"keys\": {\"k1\": " KEY_A "}}",
    };
    osc_keyring *kr = NULL;
    char why[512];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why[0] = '\0';
        assert_int_equal(osc_keyring_parse(bad[i], strlen(bad[i]), &kr, why, sizeof(why)),
                         OSC_E_INVALID);
        assert_true(why[0] != '\0');
        /* Any 8-character run of either key is too much. */
        for (size_t k = 0; k + 8 <= strlen(KEY_A); k++) {
            char frag_a[9];
            char frag_b[9];
            memcpy(frag_a, KEY_A + k, 8);
            memcpy(frag_b, KEY_B + k, 8);
            frag_a[8] = frag_b[8] = '\0';
            if (strstr(why, frag_a) || strstr(why, frag_b))
                fail_msg("bad[%zu]: reason leaks key material: %s", i, why);
        }
    }
}

static void test_keyring_parse_truncates_reason(void **state)
{
    static const char json[] = "{\"primary\": \"k2\", \"keys\": {\"k1\": \"" KEY_A "\"}}";
    osc_keyring *kr = NULL;
    char why[8];

    (void)state;
    memset(why, 'x', sizeof(why));
    assert_int_equal(osc_keyring_parse(json, strlen(json), &kr, why, sizeof(why)), OSC_E_INVALID);
    assert_int_equal(strlen(why), sizeof(why) - 1);
}

static void test_keyring_generate_parses(void **state)
{
    char *json = NULL;
    osc_keyring *kr = NULL;
    char why[256];
    const char *kid = NULL;

    (void)state;
    assert_int_equal(osc_keyring_generate(&json), OSC_OK);
    assert_non_null(json);
    assert_true(json[strlen(json) - 1] == '\n');
    assert_int_equal(osc_keyring_parse(json, strlen(json), &kr, why, sizeof(why)), OSC_OK);
    kid = osc_keyring_primary(kr);
    /* "k" + YYYYMMDDHHMMSS */
    assert_int_equal(strlen(kid), 15);
    assert_int_equal(kid[0], 'k');
    assert_int_equal(strspn(kid + 1, "0123456789"), 14);
    assert_memory_equal(kid + 1, "20", 2);
    assert_int_equal(osc_keyring_size(kr), 1);
    assert_non_null(strstr(json, "\n  \"keys\": {\n"));
    osc_keyring_destroy(kr);
    free(json);
}

static void test_keyring_generate_fresh_keys(void **state)
{
    char *a = NULL;
    char *b = NULL;
    osc_keyring *ka = NULL;
    osc_keyring *kb = NULL;

    (void)state;
    assert_int_equal(osc_keyring_generate(&a), OSC_OK);
    assert_int_equal(osc_keyring_generate(&b), OSC_OK);
    assert_int_equal(osc_keyring_parse(a, strlen(a), &ka, NULL, 0), OSC_OK);
    assert_int_equal(osc_keyring_parse(b, strlen(b), &kb, NULL, 0), OSC_OK);
    assert_memory_not_equal(osc_keyring_token_key(ka, osc_keyring_primary(ka)),
                            osc_keyring_token_key(kb, osc_keyring_primary(kb)), 32);
    osc_keyring_destroy(ka);
    osc_keyring_destroy(kb);
    free(a);
    free(b);
}

static void test_keyring_load_file(void **state)
{
    char path[] = "/tmp/oscred-test-keyring-XXXXXX";
    int fd = mkstemp(path);
    osc_keyring *kr = NULL;
    char why[512];

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, RING_AB, strlen(RING_AB)), (ssize_t)strlen(RING_AB));
    close(fd);
    assert_int_equal(osc_keyring_load(path, &kr, why, sizeof(why)), OSC_OK);
    assert_string_equal(osc_keyring_primary(kr), "k-2_B");
    osc_keyring_destroy(kr);
    kr = NULL;
    unlink(path);
    assert_int_equal(osc_keyring_load(path, &kr, why, sizeof(why)), OSC_E_INVALID);
    assert_non_null(strstr(why, path));
    assert_null(kr);
}

static void test_keyring_load_rejects_oversized_file(void **state)
{
    char path[] = "/tmp/oscred-test-keyring-XXXXXX";
    int fd = mkstemp(path);
    osc_keyring *kr = NULL;
    char why[512];
    char block[4096];

    (void)state;
    assert_true(fd >= 0);
    memset(block, ' ', sizeof(block));
    /* Valid JSON padded with whitespace past the size limit. */
    assert_int_equal(write(fd, RING_AB, strlen(RING_AB)), (ssize_t)strlen(RING_AB));
    for (int i = 0; i < 17; i++)
        assert_int_equal(write(fd, block, sizeof(block)), (ssize_t)sizeof(block));
    close(fd);
    assert_int_equal(osc_keyring_load(path, &kr, why, sizeof(why)), OSC_E_INVALID);
    assert_non_null(strstr(why, "larger than"));
    assert_null(kr);
    unlink(path);
}

static void test_keyring_seal_open_secret(void **state)
{
    osc_keyring *kr = parse_ok(RING_AB);
    osc_keyring *rotated = NULL;
    struct osc_secret *sk = NULL;
    struct osc_secret *back = NULL;
    unsigned char *sealed = NULL;
    size_t sealedlen = 0;
    char kid[OSC_KID_MAX + 1];
    static const char rotated_json[] =
        "{\"primary\": \"k1\", \"keys\": {\"k1\": \"" KEY_A "\", \"k-2_B\": \"" KEY_B "\"}}";

    (void)state;
    assert_int_equal(osc_crypto_new_secret_key(&sk), OSC_OK);
    assert_int_equal(
        osc_keyring_seal_secret(kr, "AKIAIOSFODNN7EXAMPLE", sk, kid, &sealed, &sealedlen), OSC_OK);
    assert_string_equal(kid, "k-2_B");
    assert_int_equal(sealedlen, OSC_SK_LEN + OSC_SEAL_OVERHEAD);
    assert_int_equal(
        osc_keyring_open_secret(kr, "AKIAIOSFODNN7EXAMPLE", kid, sealed, sealedlen, &back), OSC_OK);
    assert_int_equal(back->n, sk->n);
    assert_memory_equal(back->p, sk->p, sk->n);
    assert_string_equal((const char *)back->p, (const char *)sk->p);
    osc_secret_destroy(back);
    back = NULL;

    /* After rotation the old kid still opens what it sealed. */
    rotated = parse_ok(rotated_json);
    assert_int_equal(
        osc_keyring_open_secret(rotated, "AKIAIOSFODNN7EXAMPLE", kid, sealed, sealedlen, &back),
        OSC_OK);
    osc_secret_destroy(back);
    back = NULL;

    /* The AAD binds the access key and the kid. */
    assert_int_equal(
        osc_keyring_open_secret(kr, "AKIAIOSFODNN7EXAMPLF", kid, sealed, sealedlen, &back),
        OSC_E_INTERNAL);
    assert_int_equal(
        osc_keyring_open_secret(kr, "AKIAIOSFODNN7EXAMPLE", "k1", sealed, sealedlen, &back),
        OSC_E_INTERNAL);
    assert_int_equal(
        osc_keyring_open_secret(kr, "AKIAIOSFODNN7EXAMPLE", "k3", sealed, sealedlen, &back),
        OSC_E_NOT_FOUND);
    sealed[sealedlen - 1] ^= 1;
    assert_int_equal(
        osc_keyring_open_secret(kr, "AKIAIOSFODNN7EXAMPLE", kid, sealed, sealedlen, &back),
        OSC_E_INTERNAL);
    assert_null(back);

    free(sealed);
    osc_secret_destroy(sk);
    osc_keyring_destroy(rotated);
    osc_keyring_destroy(kr);
}

static void test_keyring_refcount(void **state)
{
    osc_keyring *kr = parse_ok(RING_AB);

    (void)state;
    assert_ptr_equal(osc_keyring_ref(kr), kr);
    assert_ptr_equal(osc_keyring_ref(kr), kr);
    osc_keyring_destroy(kr);
    osc_keyring_destroy(kr);
    /* Still alive on the last reference (ASan would flag a use after free). */
    assert_string_equal(osc_keyring_primary(kr), "k-2_B");
    osc_keyring_destroy(kr);
    assert_null(osc_keyring_ref(NULL));
    osc_keyring_destroy(NULL);
}

static void test_keyring_install_current(void **state)
{
    osc_keyring *a = parse_ok(RING_AB);
    osc_keyring *b = parse_ok("{\"primary\": \"k1\", \"keys\": {\"k1\": \"" KEY_A "\"}}");
    osc_keyring *held = NULL;
    osc_keyring *cur = NULL;

    (void)state;
    assert_null(osc_keyring_current());
    osc_keyring_install(a);
    held = osc_keyring_current();
    assert_ptr_equal(held, a);
    osc_keyring_install(b);
    cur = osc_keyring_current();
    assert_ptr_equal(cur, b);
    /* A request that took the old ring before the swap keeps a working ring. */
    assert_string_equal(osc_keyring_primary(held), "k-2_B");
    assert_non_null(osc_keyring_token_key(held, "k-2_B"));
    osc_keyring_destroy(held);
    osc_keyring_destroy(cur);
    osc_keyring_install(NULL);
    assert_null(osc_keyring_current());
}

struct reader_arg {
    int iterations;
    int seen;
};

static void *reader(void *p)
{
    struct reader_arg *arg = p;

    for (int i = 0; i < arg->iterations; i++) {
        osc_keyring *kr = osc_keyring_current();
        if (kr) {
            arg->seen += osc_keyring_token_key(kr, osc_keyring_primary(kr)) != NULL;
            osc_keyring_destroy(kr);
        }
    }
    return NULL;
}

static void test_keyring_install_concurrent_readers(void **state)
{
    pthread_t th[4];
    struct reader_arg args[4];
    osc_keyring *kr = NULL;

    (void)state;
    osc_keyring_install(parse_ok(RING_AB));
    for (int t = 0; t < 4; t++) {
        args[t].iterations = 20000;
        args[t].seen = 0;
        assert_int_equal(pthread_create(&th[t], NULL, reader, &args[t]), 0);
    }
    for (int i = 0; i < 200; i++)
        osc_keyring_install(
            parse_ok(i % 2 ? RING_AB : "{\"primary\": \"k1\", \"keys\": {\"k1\": \"" KEY_A "\"}}"));
    for (int t = 0; t < 4; t++) {
        assert_int_equal(pthread_join(th[t], NULL), 0);
        assert_int_equal(args[t].seen, args[t].iterations);
    }
    kr = osc_keyring_current();
    assert_non_null(kr);
    osc_keyring_destroy(kr);
    osc_keyring_install(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyring_parse_valid),
        cmocka_unit_test(test_keyring_parse_longest_kid),
        cmocka_unit_test(test_keyring_parse_errors),
        cmocka_unit_test(test_keyring_parse_error_never_echoes_key),
        cmocka_unit_test(test_keyring_parse_truncates_reason),
        cmocka_unit_test(test_keyring_generate_parses),
        cmocka_unit_test(test_keyring_generate_fresh_keys),
        cmocka_unit_test(test_keyring_load_file),
        cmocka_unit_test(test_keyring_load_rejects_oversized_file),
        cmocka_unit_test(test_keyring_seal_open_secret),
        cmocka_unit_test(test_keyring_refcount),
        cmocka_unit_test(test_keyring_install_current),
        cmocka_unit_test(test_keyring_install_concurrent_readers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
