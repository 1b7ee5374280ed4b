/* Unit tests for src/crypto/ primitives: published vectors (FIPS 180, RFC 4231, RFC 5869,
 * RFC 7914, the GCM spec and NIST CAVP, RFC 4648) plus behaviour of the random generators and
 * the seal/open and password contracts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oscred/crypto.h"
#include "src/crypto/aead_internal.h"
#include "src/crypto/password_internal.h"

/* Hex string to a malloc'd buffer; vectors are written as the RFCs print them. */
static unsigned char *unhex(const char *s, size_t *n)
{
    size_t len = strlen(s) / 2;
    unsigned char *p = malloc(len + 1);

    assert_non_null(p);
    for (size_t i = 0; i < len; i++) {
        unsigned v = 0;
        for (int j = 0; j < 2; j++) {
            char c = s[2 * i + (size_t)j];
            v = v * 16 + (unsigned)(c <= '9' ? c - '0' : c - 'a' + 10);
        }
        p[i] = (unsigned char)v;
    }
    *n = len;
    return p;
}

static void assert_hex_equal(const unsigned char *got, size_t n, const char *want)
{
    char *hex = malloc(2 * n + 1);

    assert_non_null(hex);
    osc_crypto_hex(got, n, hex);
    assert_string_equal(hex, want);
    free(hex);
}

/* ---- SHA-256, FIPS 180-2 appendix B ---- */

static void test_crypto_sha256_fips180_vectors(void **state)
{
    static const struct {
        const char *msg;
        const char *digest;
    } v[] = {
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    unsigned char out[OSC_SHA256_LEN];

    (void)state;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        osc_crypto_sha256(v[i].msg, strlen(v[i].msg), out);
        assert_hex_equal(out, sizeof(out), v[i].digest);
    }
    osc_crypto_sha256(NULL, 0, out);
    assert_hex_equal(out, sizeof(out), v[1].digest);
}

/* ---- HMAC-SHA256, RFC 4231 §4 (case 5 is truncated output, which we never produce) ---- */

static void test_crypto_hmac_sha256_rfc4231(void **state)
{
    static const struct {
        int tc; /* RFC 4231 test case number */
        const char *key_hex;
        const char *data_hex; /* NULL: use data_txt */
        const char *data_txt;
        const char *mac;
    } v[] = {
        {1, "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", NULL, "Hi There",
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
        {2, "4a656665", NULL, "what do ya want for nothing?",
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
        {3, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
         "dddddddddddddddddddddddd",
         NULL, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
        {4, "0102030405060708090a0b0c0d0e0f10111213141516171819",
         "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"
         "cdcdcdcdcdcdcdcdcdcdcdcd",
         NULL, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
        {6, NULL, NULL, "Test Using Larger Than Block-Size Key - Hash Key First",
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
        {7, NULL, NULL,
         "This is a test using a larger than block-size key and a larger than block-size "
         "data. The key needs to be hashed before being used by the HMAC algorithm.",
         "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
    };
    unsigned char big_key[131];
    unsigned char out[OSC_SHA256_LEN];
    char hex[2 * OSC_SHA256_LEN + 1];

    (void)state;
    /* Cases 6 and 7 use 131 bytes of 0xaa, longer than the SHA-256 block. */
    memset(big_key, 0xaa, sizeof(big_key));
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        size_t keylen = sizeof(big_key);
        size_t datalen = 0;
        unsigned char *key = v[i].key_hex ? unhex(v[i].key_hex, &keylen) : NULL;
        unsigned char *data = v[i].data_hex ? unhex(v[i].data_hex, &datalen) : NULL;
        const void *d = data ? (const void *)data : (const void *)v[i].data_txt;
        if (!data)
            datalen = strlen(v[i].data_txt);
        osc_crypto_hmac_sha256(key ? key : big_key, keylen, d, datalen, out);
        osc_crypto_hex(out, sizeof(out), hex);
        if (strcmp(hex, v[i].mac) != 0)
            fail_msg("RFC 4231 case %d: got %s", v[i].tc, hex);
        free(key);
        free(data);
    }
}

static void test_crypto_hmac_sha256_empty_key_and_data(void **state)
{
    unsigned char out[OSC_SHA256_LEN];

    (void)state;
    /* python3: hmac.new(b"", b"", hashlib.sha256).hexdigest() */
    osc_crypto_hmac_sha256(NULL, 0, NULL, 0, out);
    assert_hex_equal(out, sizeof(out),
                     "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
    osc_crypto_hmac_sha256("", 0, "", 0, out);
    assert_hex_equal(out, sizeof(out),
                     "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

/* ---- HKDF-SHA256, RFC 5869 appendix A ---- */

static void test_crypto_hkdf_rfc5869_case1(void **state)
{
    unsigned char ikm[22];
    size_t saltlen = 0;
    unsigned char *salt = unhex("000102030405060708090a0b0c", &saltlen);
    const char info[] = "\xf0\xf1\xf2\xf3\xf4\xf5\xf6\xf7\xf8\xf9";
    unsigned char okm[42];

    (void)state;
    memset(ikm, 0x0b, sizeof(ikm));
    assert_int_equal(osc_crypto_hkdf(ikm, sizeof(ikm), salt, saltlen, info, okm, sizeof(okm)),
                     OSC_OK);
    assert_hex_equal(okm, sizeof(okm),
                     "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b8"
                     "87185865");
    free(salt);
}

/* Case 3 is the shape the key ring uses: no salt. */
static void test_crypto_hkdf_rfc5869_case3_no_salt(void **state)
{
    unsigned char ikm[22];
    unsigned char okm[42];

    (void)state;
    memset(ikm, 0x0b, sizeof(ikm));
    assert_int_equal(osc_crypto_hkdf(ikm, sizeof(ikm), NULL, 0, "", okm, sizeof(okm)), OSC_OK);
    assert_hex_equal(okm, sizeof(okm),
                     "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4"
                     "b61a96c8");
    assert_int_equal(osc_crypto_hkdf(ikm, sizeof(ikm), NULL, 0, NULL, okm, sizeof(okm)), OSC_OK);
    assert_hex_equal(okm, sizeof(okm),
                     "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4"
                     "b61a96c8");
}

static void test_crypto_hkdf_rejects_bad_length(void **state)
{
    unsigned char ikm[32] = {0};
    unsigned char okm[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    unsigned char *big = malloc(255 * 32 + 1);

    (void)state;
    assert_non_null(big);
    assert_int_equal(osc_crypto_hkdf(ikm, sizeof(ikm), NULL, 0, "x", okm, 0), OSC_E_INTERNAL);
    assert_int_equal(osc_crypto_hkdf(ikm, sizeof(ikm), NULL, 0, "x", big, 255 * 32 + 1),
                     OSC_E_INTERNAL);
    assert_int_equal(osc_crypto_hkdf(ikm, sizeof(ikm), NULL, 0, "x", big, 255 * 32), OSC_OK);
    free(big);
}

/* ---- PBKDF2-HMAC-SHA256 ---- */

static void test_crypto_pbkdf2_known_vectors(void **state)
{
    static const struct {
        const char *pw;
        const char *salt;
        unsigned c;
        size_t dklen;
        const char *dk;
    } v[] = {
        {"password", "salt", 1, 32,
         "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b"},
        {"password", "salt", 4096, 32,
         "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a"},
        /* RFC 7914 §11 */
        {"passwd", "salt", 1, 64,
         "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b6459916"
         "64b39d77ef317c71b845b1e30bd509112041d3a19783"},
        {"Password", "NaCl", 80000, 64,
         "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56a1d425a1225833549adb"
         "841b51c9b3176a272bdebba1d078478f62b397f33c8d"},
    };
    unsigned char out[64];

    (void)state;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        assert_int_equal(osc_crypto_pbkdf2_sha256(v[i].pw, strlen(v[i].pw),
                                                  (const unsigned char *)v[i].salt,
                                                  strlen(v[i].salt), v[i].c, out, v[i].dklen),
                         OSC_OK);
        assert_hex_equal(out, v[i].dklen, v[i].dk);
    }
    assert_int_equal(osc_crypto_pbkdf2_sha256("p", 1, (const unsigned char *)"s", 1, 0, out, 32),
                     OSC_E_INVALID);
}

static void test_crypto_password_hash_verify_roundtrip(void **state)
{
    char *stored = NULL;
    char *again = NULL;

    (void)state;
    assert_int_equal(osc_crypto_password_hash("s3cret pässword", 1000, &stored), OSC_OK);
    assert_non_null(stored);
    assert_memory_equal(stored, "pbkdf2-sha256$1000$", strlen("pbkdf2-sha256$1000$"));
    assert_int_equal(strlen(stored), strlen("pbkdf2-sha256$1000$") + 24 + 1 + 44);
    assert_int_equal(osc_crypto_password_verify("s3cret pässword", stored), OSC_OK);
    assert_int_equal(osc_crypto_password_verify("s3cret passwörd", stored), OSC_E_UNAUTHENTICATED);
    assert_int_equal(osc_crypto_password_verify("", stored), OSC_E_UNAUTHENTICATED);
    /* A fresh salt every time: equal passwords do not give equal strings. */
    assert_int_equal(osc_crypto_password_hash("s3cret pässword", 1000, &again), OSC_OK);
    assert_string_not_equal(stored, again);
    free(stored);
    free(again);
}

/* Computed independently with python3 hashlib.pbkdf2_hmac and base64, to pin the format. */
static void test_crypto_password_verify_known_string(void **state)
{
    static const char stored[] = "pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0ODw==$"
                                 "ppsXnjrdPB4KryJ6DrOqKqhkWrhv7PbKAMF1Eml8cZ4=";

    (void)state;
    assert_int_equal(osc_crypto_password_verify("correct horse battery staple", stored), OSC_OK);
    assert_int_equal(osc_crypto_password_verify("correct horse battery stapl", stored),
                     OSC_E_UNAUTHENTICATED);
}

static void test_crypto_password_verify_rejects_malformed(void **state)
{
    static const char *bad[] = {
        "",
        "pbkdf2-sha256$",
        "pbkdf2-sha1$1000$AAECAwQFBgcICQoLDA0ODw==$ppsXnjrdPB4KryJ6DrOqKqhkWrhv7PbKAMF1Eml8cZ4=",
        "PBKDF2-SHA256$1000$AAECAwQFBgcICQoLDA0ODw==$ppsXnjrdPB4KryJ6DrOqKqhkWrhv7PbKAMF1Eml8cZ4=",
        "pbkdf2-sha256$0$AAECAwQFBgcICQoLDA0ODw==$ppsXnjrdPB4KryJ6DrOqKqhkWrhv7PbKAMF1Eml8cZ4=",
        "pbkdf2-sha256$01000$AAECAwQFBgcICQoLDA0ODw==$ppsXnjrdPB4KryJ6DrOqKqhkWrhv7PbKAMF1Eml8cZ4=",
        "pbkdf2-sha256$+1000$AAECAwQFBgcICQoLDA0ODw==$ppsXnjrdPB4KryJ6DrOqKqhkWrhv7PbKAMF1Eml8cZ4=",
        "pbkdf2-sha256$ 1000$AAECAwQFBgcICQoLDA0ODw==$ppsXnjrdPB4KryJ6DrOqKqhkWrhv7PbKAMF1Eml8cZ4=",
        "pbkdf2-sha256$-1000$AAECAwQFBgcICQoLDA0ODw==$ppsXnjrdPB4KryJ6DrOqKqhkWrhv7PbKAMF1Eml8cZ4=",
        "pbkdf2-sha256$1000x$AAECAwQFBgcICQoLDA0ODw==$ppsXnjrdPB4KryJ6DrOqKqhkWrhv7PbKAMF1Eml8cZ4=",
        "pbkdf2-sha256$10000001$AAECAwQFBgcICQoLDA0ODw==$ppsXnjrdPB4KryJ6DrOqKqhkWrhv7PbKAMF1Eml8cZ"
        "4=",
        "pbkdf2-sha256$99999999999999999999999$AAECAwQFBgcICQoLDA0ODw==$ppsXnjrdPB4KryJ6DrOqKqhkWr"
        "hv7PbKAMF1Eml8cZ4=",
        "pbkdf2-sha256$1000",
        "pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0ODw==",
        "pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0ODw==$",
        "pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0O$ppsXnjrdPB4KryJ6DrOqKqhkWrhv7PbKAMF1Eml8cZ4=",
        "pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0ODw==$ppsXnjrdPB4KryJ6DrOqKqhkWrhv7PbKAMF1Eml8cZ4",
        "pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0ODw==$ppsXnjrdPB4KryJ6DrOqKqhkWrhv7PbKAMF1Eml8cZ4=$",
        "pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0ODw==$ppsXnjrdPB4KryJ6DrOqKqhkWrhv7PbKAMF1Eml8cZ4= ",
        "pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0ODw=!$ppsXnjrdPB4KryJ6DrOqKqhkWrhv7PbKAMF1Eml8cZ4=",
        "pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0ODw==$ppsXnjrdPB4KryJ6DrOqKqhkWrhv7PbKAMF1Eml8c$4=",
        /* Right length in characters, wrong length in bytes: 18-byte salt, 33-byte hash. */
        "pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0ODwAB$ppsXnjrdPB4KryJ6DrOqKqhkWrhv7PbKAMF1Eml8cZ4=",
        "pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0ODw==$ppsXnjrdPB4KryJ6DrOqKqhkWrhv7PbKAMF1Eml8cZ4A",
        /* Non-canonical spellings (non-zero unused bits) of the right hash and salt. */
        "pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0ODw==$ppsXnjrdPB4KryJ6DrOqKqhkWrhv7PbKAMF1Eml8cZ5=",
        "pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0ODx==$ppsXnjrdPB4KryJ6DrOqKqhkWrhv7PbKAMF1Eml8cZ4=",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (osc_crypto_password_verify("correct horse battery staple", bad[i]) !=
            OSC_E_UNAUTHENTICATED)
            fail_msg("accepted malformed[%zu]: %s", i, bad[i]);
    }
    assert_int_equal(osc_crypto_password_verify(NULL, bad[0]), OSC_E_UNAUTHENTICATED);
    assert_int_equal(osc_crypto_password_verify("x", NULL), OSC_E_UNAUTHENTICATED);
}

static void test_crypto_password_hash_rejects_bad_iterations(void **state)
{
    char *stored = NULL;

    (void)state;
    assert_int_equal(osc_crypto_password_hash("pw", 0, &stored), OSC_E_INVALID);
    assert_int_equal(osc_crypto_password_hash("pw", 10000001, &stored), OSC_E_INVALID);
    assert_int_equal(osc_crypto_password_hash(NULL, 1000, &stored), OSC_E_INVALID);
    assert_null(stored);
}

/* ---- AES-256-GCM: GCM spec (McGrew & Viega) test cases 13, 14, 16; NIST CAVP ---- */

static void check_gcm_vector(const char *key_hex, const char *iv_hex, const char *aad_hex,
                             const char *pt_hex, const char *ct_hex, const char *tag_hex)
{
    size_t keylen = 0, ivlen = 0, aadlen = 0, ptlen = 0, ctlen = 0, taglen = 0;
    unsigned char *key = unhex(key_hex, &keylen);
    unsigned char *iv = unhex(iv_hex, &ivlen);
    unsigned char *aad = unhex(aad_hex, &aadlen);
    unsigned char *pt = unhex(pt_hex, &ptlen);
    unsigned char *ct = unhex(ct_hex, &ctlen);
    unsigned char *tag = unhex(tag_hex, &taglen);
    unsigned char *sealed = NULL;
    size_t sealedlen = 0;
    struct osc_secret *opened = NULL;

    assert_int_equal(keylen, 32);
    assert_int_equal(ivlen, OSC_GCM_NONCE_LEN);
    assert_int_equal(
        osc_crypto_seal_with_nonce(key, iv, aad, aadlen, pt, ptlen, &sealed, &sealedlen), OSC_OK);
    assert_int_equal(sealedlen, OSC_GCM_NONCE_LEN + ctlen + OSC_GCM_TAG_LEN);
    assert_memory_equal(sealed, iv, OSC_GCM_NONCE_LEN);
    if (ctlen > 0)
        assert_memory_equal(sealed + OSC_GCM_NONCE_LEN, ct, ctlen);
    assert_memory_equal(sealed + OSC_GCM_NONCE_LEN + ctlen, tag, taglen);
    assert_int_equal(osc_crypto_open(key, aad, aadlen, sealed, sealedlen, &opened), OSC_OK);
    assert_int_equal(opened->n, ptlen);
    if (ptlen > 0)
        assert_memory_equal(opened->p, pt, ptlen);
    assert_int_equal(opened->p[ptlen], 0);
    osc_secret_destroy(opened);
    free(sealed);
    free(key);
    free(iv);
    free(aad);
    free(pt);
    free(ct);
    free(tag);
}

static void test_crypto_aes_gcm_spec_case13_14(void **state)
{
    (void)state;
    check_gcm_vector("0000000000000000000000000000000000000000000000000000000000000000",
                     "000000000000000000000000", "", "", "", "530f8afbc74536b9a963b4f1c4cb738b");
    check_gcm_vector("0000000000000000000000000000000000000000000000000000000000000000",
                     "000000000000000000000000", "", "00000000000000000000000000000000",
                     "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919");
}

static void test_crypto_aes_gcm_spec_case16(void **state)
{
    (void)state;
    check_gcm_vector("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
                     "cafebabefacedbaddecaf888", "feedfacedeadbeeffeedfacedeadbeefabaddad2",
                     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c9595"
                     "6809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
                     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e4859"
                     "0dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
                     "76fc6ece0f4e1768cddf8853bb2d551b");
}

/* NIST CAVP gcmEncryptExtIV256.rsp, [Keylen = 256] [IVlen = 96] [PTlen = 128] [AADlen = 160]. */
static void test_crypto_aes_gcm_cavp_ext_iv256(void **state)
{
    (void)state;
    check_gcm_vector("83688deb4af8007f9b713b47cfa6c73e35ea7a3aa4ecdb414dded03bf7a0fd3a",
                     "0b459724904e010a46901cf3", "794a14ccd178c8ebfd1379dc704c5e208f9d8424",
                     "33d893a2114ce06fc15d55e454cf90c3", "cc66bee423e3fcd4c0865715e9586696",
                     "0fb291bd3dba94a1dfd8b286cfb97ac5");
}

static const unsigned char KEY[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                      12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                      23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static void test_crypto_seal_open_roundtrip(void **state)
{
    static const char pt[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    unsigned char *sealed = NULL;
    unsigned char *sealed2 = NULL;
    size_t sealedlen = 0;
    size_t sealed2len = 0;
    struct osc_secret *out = NULL;

    (void)state;
    assert_int_equal(osc_crypto_seal(KEY, "AK|k1", 5, pt, strlen(pt), &sealed, &sealedlen), OSC_OK);
    assert_int_equal(sealedlen, strlen(pt) + OSC_SEAL_OVERHEAD);
    assert_int_equal(osc_crypto_open(KEY, "AK|k1", 5, sealed, sealedlen, &out), OSC_OK);
    assert_int_equal(out->n, strlen(pt));
    assert_string_equal((const char *)out->p, pt);
    /* A random nonce each time, so sealing the same secret twice never repeats ciphertext. */
    assert_int_equal(osc_crypto_seal(KEY, "AK|k1", 5, pt, strlen(pt), &sealed2, &sealed2len),
                     OSC_OK);
    assert_int_equal(sealed2len, sealedlen);
    assert_memory_not_equal(sealed, sealed2, OSC_GCM_NONCE_LEN);
    assert_memory_not_equal(sealed + OSC_GCM_NONCE_LEN, sealed2 + OSC_GCM_NONCE_LEN,
                            sealedlen - OSC_GCM_NONCE_LEN);
    osc_secret_destroy(out);
    free(sealed);
    free(sealed2);
}

static void test_crypto_seal_open_empty(void **state)
{
    unsigned char *sealed = NULL;
    size_t sealedlen = 0;
    struct osc_secret *out = NULL;

    (void)state;
    assert_int_equal(osc_crypto_seal(KEY, NULL, 0, NULL, 0, &sealed, &sealedlen), OSC_OK);
    assert_int_equal(sealedlen, OSC_SEAL_OVERHEAD);
    assert_int_equal(osc_crypto_open(KEY, NULL, 0, sealed, sealedlen, &out), OSC_OK);
    assert_int_equal(out->n, 0);
    assert_int_equal(out->p[0], 0);
    osc_secret_destroy(out);
    free(sealed);
}

static void test_crypto_open_rejects_tampering(void **state)
{
    static const char pt[] = "0123456789abcdefghijABCDEFGHIJ0123456789";
    unsigned char *sealed = NULL;
    size_t sealedlen = 0;
    struct osc_secret *out = NULL;

    (void)state;
    assert_int_equal(osc_crypto_seal(KEY, "aad", 3, pt, strlen(pt), &sealed, &sealedlen), OSC_OK);
    /* Every byte matters: nonce, ciphertext and tag alike. */
    for (size_t i = 0; i < sealedlen; i++) {
        sealed[i] ^= 0x01;
        assert_int_equal(osc_crypto_open(KEY, "aad", 3, sealed, sealedlen, &out), OSC_E_INTERNAL);
        assert_null(out);
        sealed[i] ^= 0x01;
    }
    assert_int_equal(osc_crypto_open(KEY, "aad", 3, sealed, sealedlen - 1, &out), OSC_E_INTERNAL);
    assert_int_equal(osc_crypto_open(KEY, "aad", 3, sealed, OSC_SEAL_OVERHEAD - 1, &out),
                     OSC_E_INTERNAL);
    assert_int_equal(osc_crypto_open(KEY, "aad", 3, sealed, 0, &out), OSC_E_INTERNAL);
    assert_null(out);
    assert_int_equal(osc_crypto_open(KEY, "aad", 3, sealed, sealedlen, &out), OSC_OK);
    osc_secret_destroy(out);
    free(sealed);
}

static void test_crypto_open_rejects_wrong_aad_or_key(void **state)
{
    unsigned char *sealed = NULL;
    size_t sealedlen = 0;
    struct osc_secret *out = NULL;
    unsigned char other[32];

    (void)state;
    memcpy(other, KEY, sizeof(other));
    other[31] ^= 0x80;
    assert_int_equal(osc_crypto_seal(KEY, "AKIA|k1", 7, "secret", 6, &sealed, &sealedlen), OSC_OK);
    assert_int_equal(osc_crypto_open(KEY, "AKIB|k1", 7, sealed, sealedlen, &out), OSC_E_INTERNAL);
    assert_int_equal(osc_crypto_open(KEY, "AKIA|k", 6, sealed, sealedlen, &out), OSC_E_INTERNAL);
    assert_int_equal(osc_crypto_open(KEY, NULL, 0, sealed, sealedlen, &out), OSC_E_INTERNAL);
    assert_int_equal(osc_crypto_open(other, "AKIA|k1", 7, sealed, sealedlen, &out), OSC_E_INTERNAL);
    assert_null(out);
    free(sealed);
}

/* ---- base64, RFC 4648 §10 ---- */

static const struct {
    const char *raw;
    const char *b64;
    const char *b64url;
} B64[] = {
    {"", "", ""},
    {"f", "Zg==", "Zg"},
    {"fo", "Zm8=", "Zm8"},
    {"foo", "Zm9v", "Zm9v"},
    {"foob", "Zm9vYg==", "Zm9vYg"},
    {"fooba", "Zm9vYmE=", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};

static void test_crypto_b64_rfc4648_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(B64) / sizeof(B64[0]); i++) {
        char *enc = NULL;
        unsigned char *dec = NULL;
        size_t declen = 0;
        size_t n = strlen(B64[i].raw);

        assert_int_equal(osc_crypto_b64_encode((const unsigned char *)B64[i].raw, n, &enc), OSC_OK);
        assert_string_equal(enc, B64[i].b64);
        free(enc);
        assert_int_equal(osc_crypto_b64url_encode((const unsigned char *)B64[i].raw, n, &enc),
                         OSC_OK);
        assert_string_equal(enc, B64[i].b64url);
        free(enc);
        assert_int_equal(osc_crypto_b64_decode(B64[i].b64, &dec, &declen), OSC_OK);
        assert_int_equal(declen, n);
        assert_memory_equal(dec, B64[i].raw, n);
        free(dec);
        assert_int_equal(
            osc_crypto_b64url_decode(B64[i].b64url, strlen(B64[i].b64url), &dec, &declen), OSC_OK);
        assert_int_equal(declen, n);
        assert_memory_equal(dec, B64[i].raw, n);
        free(dec);
    }
}

/* The two alphabets differ only in the last two characters (RFC 4648 table 1 vs table 2). */
static void test_crypto_b64_alphabets(void **state)
{
    static const unsigned char raw[] = {0xfb, 0xff, 0xbf};
    char *enc = NULL;
    unsigned char *dec = NULL;
    size_t declen = 0;

    (void)state;
    assert_int_equal(osc_crypto_b64_encode(raw, sizeof(raw), &enc), OSC_OK);
    assert_string_equal(enc, "+/+/");
    free(enc);
    assert_int_equal(osc_crypto_b64url_encode(raw, sizeof(raw), &enc), OSC_OK);
    assert_string_equal(enc, "-_-_");
    free(enc);
    assert_int_equal(osc_crypto_b64url_decode("-_-_", 4, &dec, &declen), OSC_OK);
    assert_int_equal(declen, 3);
    assert_memory_equal(dec, raw, 3);
    free(dec);
    dec = NULL;
    assert_int_equal(osc_crypto_b64url_decode("+/+/", 4, &dec, &declen), OSC_E_INVALID);
    assert_int_equal(osc_crypto_b64_decode("-_-_", &dec, &declen), OSC_E_INVALID);
    assert_null(dec);
}

static void test_crypto_b64_rejects_invalid(void **state)
{
    static const char *bad_std[] = {
        "Zg",       /* padding required */
        "Zg=",      /* length not a multiple of 4 */
        "Z===",     /* three pads */
        "====",     /* nothing but pads */
        "Zg==Zg==", /* padding in the middle */
        "Zm=v",     /* pad inside a group */
        "Zh==",     /* non-zero unused bits: non-canonical spelling of "f" */
        "Zm9=",     /* same, two-byte group */
        "Zm9v\n",   /* whitespace */
        " Zm9v",    "Zm9v!A==",
    };
    static const char *bad_url[] = {"Zg==", "Z", "Zm9vY", "Zh", "Zm9", "Zm9v+", "Zm9v/", "Zm 9"};
    unsigned char *dec = NULL;
    size_t declen = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(bad_std) / sizeof(bad_std[0]); i++) {
        if (osc_crypto_b64_decode(bad_std[i], &dec, &declen) != OSC_E_INVALID)
            fail_msg("accepted \"%s\"", bad_std[i]);
    }
    for (size_t i = 0; i < sizeof(bad_url) / sizeof(bad_url[0]); i++) {
        if (osc_crypto_b64url_decode(bad_url[i], strlen(bad_url[i]), &dec, &declen) !=
            OSC_E_INVALID)
            fail_msg("accepted url \"%s\"", bad_url[i]);
    }
    /* An embedded NUL inside the stated length is not base64. */
    assert_int_equal(osc_crypto_b64url_decode("Zm\0v", 4, &dec, &declen), OSC_E_INVALID);
    assert_int_equal(osc_crypto_b64_decode(NULL, &dec, &declen), OSC_E_INVALID);
    assert_int_equal(osc_crypto_b64url_decode(NULL, 1, &dec, &declen), OSC_E_INVALID);
    assert_null(dec);
}

/* ---- random identifiers ---- */

#define SAMPLES 20000

/* Every symbol's count must sit within 6 standard deviations of a uniform draw. A modulo map
 * without rejection gives the first 256 % len symbols 1/7 (AK) or 1/4 (SK) more weight, which
 * is over 13 deviations at this sample size, so a biased generator cannot pass by luck. */
static void assert_uniform(const long seen[256], const char *alphabet, long draws)
{
    size_t len = strlen(alphabet);
    double expected = (double)draws / (double)len;

    for (size_t i = 0; i < len; i++) {
        double d = (double)seen[(unsigned char)alphabet[i]] - expected;
        /* |d| > 6 sigma, with sigma^2 ~ expected; squared to stay clear of libm. */
        if (d * d > 36.0 * expected)
            fail_msg("'%c' drawn %ld times, expected %.0f", alphabet[i],
                     seen[(unsigned char)alphabet[i]], expected);
    }
}

static void test_crypto_random_access_key_alphabet(void **state)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    long seen[256] = {0};
    char ak[OSC_AK_LEN + 1];
    char prev[OSC_AK_LEN + 1] = "";

    (void)state;
    for (int s = 0; s < SAMPLES; s++) {
        memset(ak, 'x', sizeof(ak));
        assert_int_equal(osc_crypto_new_access_key(ak), OSC_OK);
        assert_int_equal(strlen(ak), OSC_AK_LEN);
        for (size_t i = 0; i < OSC_AK_LEN; i++)
            seen[(unsigned char)ak[i]]++;
        assert_int_equal(strspn(ak, alphabet), OSC_AK_LEN);
        assert_string_not_equal(ak, prev);
        memcpy(prev, ak, sizeof(ak));
    }
    assert_uniform(seen, alphabet, (long)SAMPLES * OSC_AK_LEN);
}

static void test_crypto_random_secret_key_alphabet(void **state)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    long seen[256] = {0};

    (void)state;
    for (int s = 0; s < SAMPLES; s++) {
        struct osc_secret *sk = NULL;
        assert_int_equal(osc_crypto_new_secret_key(&sk), OSC_OK);
        assert_int_equal(sk->n, OSC_SK_LEN);
        assert_int_equal(sk->p[OSC_SK_LEN], 0);
        assert_int_equal(strspn((const char *)sk->p, alphabet), OSC_SK_LEN);
        for (size_t i = 0; i < OSC_SK_LEN; i++)
            seen[sk->p[i]]++;
        osc_secret_destroy(sk);
    }
    assert_uniform(seen, alphabet, (long)SAMPLES * OSC_SK_LEN);
}

static void test_crypto_random_account_id_digits(void **state)
{
    char id[OSC_ACCOUNT_ID_LEN + 1];
    long first[256] = {0};
    long rest[256] = {0};

    (void)state;
    for (int s = 0; s < SAMPLES; s++) {
        assert_int_equal(osc_crypto_new_account_id(id), OSC_OK);
        assert_int_equal(strlen(id), OSC_ACCOUNT_ID_LEN);
        assert_in_range(id[0], '1', '9');
        assert_int_equal(strspn(id, "0123456789"), OSC_ACCOUNT_ID_LEN);
        first[(unsigned char)id[0]]++;
        for (size_t i = 1; i < OSC_ACCOUNT_ID_LEN; i++)
            rest[(unsigned char)id[i]]++;
    }
    assert_uniform(first, "123456789", SAMPLES);
    assert_uniform(rest, "0123456789", (long)SAMPLES * (OSC_ACCOUNT_ID_LEN - 1));
}

static void test_crypto_random_id_hex(void **state)
{
    char a[OSC_ID_LEN + 1];
    char b[OSC_ID_LEN + 1];

    (void)state;
    assert_int_equal(osc_crypto_new_id(a), OSC_OK);
    assert_int_equal(osc_crypto_new_id(b), OSC_OK);
    assert_int_equal(strlen(a), OSC_ID_LEN);
    assert_int_equal(strspn(a, "0123456789abcdef"), OSC_ID_LEN);
    assert_string_not_equal(a, b);
}

static void test_crypto_random_fills_large_buffer(void **state)
{
    /* Over getrandom's 256-byte single-call guarantee, so the short-read loop is exercised. */
    unsigned char buf[4096];
    size_t zeros = 0;

    (void)state;
    memset(buf, 0, sizeof(buf));
    assert_int_equal(osc_crypto_random(buf, sizeof(buf)), OSC_OK);
    for (size_t i = 0; i < sizeof(buf); i++)
        zeros += buf[i] == 0;
    assert_true(zeros < 64);
    assert_int_equal(osc_crypto_random(buf, 0), OSC_OK);
}

/* ---- small helpers ---- */

static void test_crypto_equal_constant_time_compare(void **state)
{
    (void)state;
    assert_int_equal(osc_crypto_equal("abcdef", "abcdef", 6), 1);
    assert_int_equal(osc_crypto_equal("abcdef", "abcdeg", 6), 0);
    assert_int_equal(osc_crypto_equal("xbcdef", "abcdef", 6), 0);
    assert_int_equal(osc_crypto_equal("a", "b", 0), 1);
}

static void test_crypto_hex_lowercase(void **state)
{
    static const unsigned char in[] = {0x00, 0x01, 0xab, 0xff, 0x10};
    char out[2 * sizeof(in) + 1];

    (void)state;
    osc_crypto_hex(in, sizeof(in), out);
    assert_string_equal(out, "0001abff10");
    osc_crypto_hex(in, 0, out);
    assert_string_equal(out, "");
}

static void test_crypto_hex_digit_both_cases(void **state)
{
    static const char digits[] = "0123456789abcdef";
    static const char upper[] = "0123456789ABCDEF";

    (void)state;
    for (int v = 0; v < 16; v++) {
        assert_int_equal(osc_crypto_hex_digit(digits[v]), v);
        assert_int_equal(osc_crypto_hex_digit(upper[v]), v);
    }
    /* The neighbours of each range, and bytes a signed char makes negative. */
    static const char not_digits[] = {'/', ':', '@',  'G',        '`',
                                      'g', ' ', '\0', (char)0xc3, (char)0xff};
    for (size_t i = 0; i < sizeof(not_digits); i++)
        assert_int_equal(osc_crypto_hex_digit(not_digits[i]), -1);
}

static void test_crypto_secret_create_zeroed(void **state)
{
    struct osc_secret *s = NULL;

    (void)state;
    assert_int_equal(osc_secret_create(16, &s), OSC_OK);
    assert_int_equal(s->n, 16);
    for (size_t i = 0; i <= s->n; i++)
        assert_int_equal(s->p[i], 0);
    osc_secret_destroy(s);
    assert_int_equal(osc_secret_create(0, &s), OSC_OK);
    assert_int_equal(s->n, 0);
    osc_secret_destroy(s);
    osc_secret_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crypto_sha256_fips180_vectors),
        cmocka_unit_test(test_crypto_hmac_sha256_rfc4231),
        cmocka_unit_test(test_crypto_hmac_sha256_empty_key_and_data),
        cmocka_unit_test(test_crypto_hkdf_rfc5869_case1),
        cmocka_unit_test(test_crypto_hkdf_rfc5869_case3_no_salt),
        cmocka_unit_test(test_crypto_hkdf_rejects_bad_length),
        cmocka_unit_test(test_crypto_pbkdf2_known_vectors),
        cmocka_unit_test(test_crypto_password_hash_verify_roundtrip),
        cmocka_unit_test(test_crypto_password_verify_known_string),
        cmocka_unit_test(test_crypto_password_verify_rejects_malformed),
        cmocka_unit_test(test_crypto_password_hash_rejects_bad_iterations),
        cmocka_unit_test(test_crypto_aes_gcm_spec_case13_14),
        cmocka_unit_test(test_crypto_aes_gcm_spec_case16),
        cmocka_unit_test(test_crypto_aes_gcm_cavp_ext_iv256),
        cmocka_unit_test(test_crypto_seal_open_roundtrip),
        cmocka_unit_test(test_crypto_seal_open_empty),
        cmocka_unit_test(test_crypto_open_rejects_tampering),
        cmocka_unit_test(test_crypto_open_rejects_wrong_aad_or_key),
        cmocka_unit_test(test_crypto_b64_rfc4648_vectors),
        cmocka_unit_test(test_crypto_b64_alphabets),
        cmocka_unit_test(test_crypto_b64_rejects_invalid),
        cmocka_unit_test(test_crypto_random_access_key_alphabet),
        cmocka_unit_test(test_crypto_random_secret_key_alphabet),
        cmocka_unit_test(test_crypto_random_account_id_digits),
        cmocka_unit_test(test_crypto_random_id_hex),
        cmocka_unit_test(test_crypto_random_fills_large_buffer),
        cmocka_unit_test(test_crypto_equal_constant_time_compare),
        cmocka_unit_test(test_crypto_hex_lowercase),
        cmocka_unit_test(test_crypto_hex_digit_both_cases),
        cmocka_unit_test(test_crypto_secret_create_zeroed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
