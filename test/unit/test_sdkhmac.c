/* Unit tests for SDK-HMAC-SHA256 verification: the vectors of huawei-keystone.md §4.5 (with their
 * intermediate hashes), the path and query encoding rules of §4.4, every refusal, and a fuzz
 * pass that must never crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "oscred/crypto.h"
#include "oscred/sdkhmac.h"
#include "oscred/sigreq.h"

#define SK "testsecretkey0123456789abcdefghijklmnopq"
#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define DOMAIN "0123456789abcdef0123456789abcdef"
#define MAX_HEADERS 16

struct treq {
    const char *name[MAX_HEADERS];
    const char *value[MAX_HEADERS];
    int n;
    struct osc_sigreq req;
};

static const char *lookup(void *arg, const char *name, int *count)
{
    const struct treq *t = arg;
    const char *v = NULL;
    int n = 0;

    for (int i = 0; i < t->n; i++) {
        if (strcasecmp(t->name[i], name) == 0) {
            if (!v)
                v = t->value[i];
            n++;
        }
    }
    *count = n;
    return v;
}

static void treq_init(struct treq *t, const char *method, const char *path, const char *query,
                      const char *body)
{
    memset(t, 0, sizeof(*t));
    t->req.method = method;
    t->req.path = path;
    t->req.query = query;
    t->req.header = lookup;
    t->req.header_arg = t;
    t->req.body = body;
    t->req.bodylen = body ? strlen(body) : 0;
}

static void hdr(struct treq *t, const char *name, const char *value)
{
    assert_true(t->n < MAX_HEADERS);
    t->name[t->n] = name;
    t->value[t->n] = value;
    t->n++;
}

static void set_hdr(struct treq *t, const char *name, const char *value)
{
    int j = 0;

    for (int i = 0; i < t->n; i++) {
        if (strcasecmp(t->name[i], name) != 0) {
            t->name[j] = t->name[i];
            t->value[j] = t->value[i];
            j++;
        }
    }
    t->n = j;
    if (value)
        hdr(t, name, value);
}

static void sha_hex(const char *s, char out[65])
{
    unsigned char d[OSC_SHA256_LEN];

    osc_crypto_sha256(s, strlen(s), d);
    osc_crypto_hex(d, sizeof(d), out);
}

static enum osc_sdkhmac_result parse(struct treq *t, struct osc_sdkhmac_auth *a, char *msg)
{
    return osc_sdkhmac_parse(&t->req, a, msg);
}

static enum osc_sdkhmac_result verify(struct treq *t, const char *secret)
{
    struct osc_sdkhmac_auth a;
    char msg[OSC_SIGREQ_MSG_MAX] = "";
    enum osc_sdkhmac_result r = parse(t, &a, msg);

    if (r != OSC_SDKHMAC_OK)
        fail_msg("parse: %s: %s", osc_sdkhmac_result_name(r), msg);
    return osc_sdkhmac_verify(&t->req, &a, secret, strlen(secret), msg);
}

/* ---- §4.8 captured DELETE (with X-Domain-Id), vector 1 of §4.5 ---- */

#define DEL_AUTH                                                                                   \
    "SDK-HMAC-SHA256 Access=TESTAK1234567890ABCD, SignedHeaders=content-type;host;x-domain-id;"    \
    "x-sdk-date, Signature=f61f9c2fdeb69d4c0bfca761e02d90e93b8d9e95c87aa6abaf03c17220823fa3"

static void captured_delete(struct treq *t)
{
    treq_init(t, "DELETE", "/v3.0/OS-CREDENTIAL/credentials/AKTODELETE0000000001", NULL, NULL);
    hdr(t, "Accept", "application/json");
    hdr(t, "Content-Type", "application/json");
    hdr(t, "User-Agent",
        "huaweicloud-usdk-nodejs/3.0; os/linux#6.18.44-fc-v669#x64 "
        "nodejs/v20.20.2 meta/C; app/293d40e3-f51e-4a77-90b9-544c8a9a8259");
    hdr(t, "X-Domain-Id", DOMAIN);
    hdr(t, "X-Sdk-Date", "20261123T064104Z");
    hdr(t, "host", "127.0.0.1:18080");
    hdr(t, "Authorization", DEL_AUTH);
    hdr(t, "Accept-Encoding", "gzip, compress, deflate, br");
    hdr(t, "Connection", "keep-alive");
}

static void test_sdkhmac_delete_with_domain_id(void **state)
{
    static const char want_cr[] = "DELETE\n"
                                  "/v3.0/OS-CREDENTIAL/credentials/AKTODELETE0000000001/\n"
                                  "\n"
                                  "content-type:application/json\n"
                                  "host:127.0.0.1:18080\n"
                                  "x-domain-id:" DOMAIN "\n"
                                  "x-sdk-date:20261123T064104Z\n"
                                  "\n"
                                  "content-type;host;x-domain-id;x-sdk-date\n" EMPTY_SHA;
    struct treq t;
    struct osc_sdkhmac_auth a;
    char msg[OSC_SIGREQ_MSG_MAX] = "";
    char *cr = NULL;
    char *sts = NULL;
    char hex[65];

    captured_delete(&t);
    assert_int_equal(parse(&t, &a, msg), OSC_SDKHMAC_OK);
    assert_string_equal(a.access_key, "TESTAK1234567890ABCD");
    assert_string_equal(a.signed_headers, "content-type;host;x-domain-id;x-sdk-date");
    assert_string_equal(a.sdk_date, "20261123T064104Z");
    osc_crypto_hex(a.signature, sizeof(a.signature), hex);
    assert_string_equal(hex, "f61f9c2fdeb69d4c0bfca761e02d90e93b8d9e95c87aa6abaf03c17220823fa3");

    assert_int_equal(osc_sdkhmac_canonical(&t.req, &a, &cr, &sts), OSC_SDKHMAC_OK);
    assert_string_equal(cr, want_cr);
    sha_hex(cr, hex);
    assert_string_equal(hex, "213c690fb6c508f4d91469daff7e703a83f7bd7b73862dd00a73f9f8293305c6");
    assert_string_equal(sts, "SDK-HMAC-SHA256\n20261123T064104Z\n"
                             "213c690fb6c508f4d91469daff7e703a83f7bd7b73862dd00a73f9f8293305c6");
    free(cr);
    free(sts);

    assert_int_equal(osc_sdkhmac_check_time(&a, a.sdk_time, msg), OSC_SDKHMAC_OK);
    assert_int_equal(osc_sdkhmac_verify(&t.req, &a, SK, strlen(SK), msg), OSC_SDKHMAC_OK);
}

#define PUT_BODY "{\"credential\":{\"status\":\"inactive\",\"description\":\"IAMDescription\"}}"

static void put_request(struct treq *t)
{
    treq_init(t, "PUT", "/v3.0/OS-CREDENTIAL/credentials/AKEXAMPLE", NULL, PUT_BODY);
    hdr(t, "Accept", "application/json");
    hdr(t, "Content-Type", "application/json");
    hdr(t, "X-Sdk-Date", "20261123T064039Z");
    hdr(t, "host", "127.0.0.1:18080");
    hdr(t, "Authorization",
        "SDK-HMAC-SHA256 Access=TESTAK1234567890ABCD, SignedHeaders=content-type;host;x-sdk-date, "
        "Signature=28243e699a23cebe3774d93150dc56b0b488f279feea3e750bbf45329cc36c97");
    hdr(t, "Content-Length", "67");
}

static void test_sdkhmac_put_with_body(void **state)
{
    struct treq t;
    struct osc_sdkhmac_auth a;
    char msg[OSC_SIGREQ_MSG_MAX] = "";
    char *cr = NULL;
    char *sts = NULL;
    char hex[65];

    put_request(&t);
    assert_int_equal(t.req.bodylen, 67);
    sha_hex(PUT_BODY, hex);
    assert_string_equal(hex, "49f0cd5b7512e98185dec88fe9903c00494bd0409ee7bae63e217409821687cf");
    assert_int_equal(parse(&t, &a, msg), OSC_SDKHMAC_OK);
    assert_int_equal(osc_sdkhmac_canonical(&t.req, &a, &cr, &sts), OSC_SDKHMAC_OK);
    assert_string_equal(cr, "PUT\n/v3.0/OS-CREDENTIAL/credentials/AKEXAMPLE/\n\n"
                            "content-type:application/json\nhost:127.0.0.1:18080\n"
                            "x-sdk-date:20261123T064039Z\n\ncontent-type;host;x-sdk-date\n"
                            "49f0cd5b7512e98185dec88fe9903c00494bd0409ee7bae63e217409821687cf");
    sha_hex(cr, hex);
    assert_string_equal(hex, "a35494f29428e4bb98b5414ce43356224f3439d11b1b9c60b808dbf6ce8a71fc");
    free(cr);
    free(sts);
    assert_int_equal(osc_sdkhmac_verify(&t.req, &a, SK, strlen(SK), msg), OSC_SDKHMAC_OK);

    /* The body is signed: change one byte. */
    t.req.body = "{\"credential\":{\"status\":\"active\",\"description\":\"IAMDescription\"}} ";
    t.req.bodylen = 67;
    assert_int_equal(osc_sdkhmac_verify(&t.req, &a, SK, strlen(SK), msg), OSC_SDKHMAC_MISMATCH);
    t.req.body = PUT_BODY;
    t.req.bodylen = 66;
    assert_int_equal(osc_sdkhmac_verify(&t.req, &a, SK, strlen(SK), msg), OSC_SDKHMAC_MISMATCH);
}

/* §4.4 step 5: "A B" goes out as A%20B and is signed as A%2520B. The signature is the Huawei
 * SDK's: AKSKSigner.sign of @huaweicloud/huaweicloud-sdk-core 3.1.211 (the version the
 * integration tests pin), given this request with its X-Sdk-Date. */
static void test_sdkhmac_path_segments_encoded_raw(void **state)
{
    struct treq t;
    struct osc_sdkhmac_auth a;
    char msg[OSC_SIGREQ_MSG_MAX] = "";
    char *cr = NULL;
    char *sts = NULL;
    char hex[65];

    treq_init(&t, "DELETE", "/v3.0/OS-CREDENTIAL/credentials/A%20B", NULL, NULL);
    hdr(&t, "Content-Type", "application/json");
    hdr(&t, "X-Sdk-Date", "20261123T064104Z");
    hdr(&t, "Host", "127.0.0.1:18080");
    hdr(&t, "Authorization",
        "SDK-HMAC-SHA256 Access=TESTAK1234567890ABCD, SignedHeaders=content-type;host;x-sdk-date, "
        "Signature=487b5df92a10db9b78e9374744f26f891a538c7fb214afa6b45f73daa7ade9ea");
    assert_int_equal(parse(&t, &a, msg), OSC_SDKHMAC_OK);
    assert_int_equal(osc_sdkhmac_canonical(&t.req, &a, &cr, &sts), OSC_SDKHMAC_OK);
    assert_non_null(strstr(cr, "\n/v3.0/OS-CREDENTIAL/credentials/A%2520B/\n"));
    sha_hex(cr, hex);
    assert_string_equal(hex, "70d08aabeff6bf62de595e2e7017e76c1e44c2fd611657f4ac821e689336c5ef");
    free(cr);
    free(sts);
    assert_int_equal(osc_sdkhmac_verify(&t.req, &a, SK, strlen(SK), msg), OSC_SDKHMAC_OK);

    /* The decoded spelling is a different path. */
    t.req.path = "/v3.0/OS-CREDENTIAL/credentials/A B";
    assert_int_equal(osc_sdkhmac_verify(&t.req, &a, SK, strlen(SK), msg), OSC_SDKHMAC_MISMATCH);
    /* No dot-segment normalisation either (unlike SigV4). */
    t.req.path = "/v3.0/OS-CREDENTIAL/credentials/x/../A%20B";
    assert_int_equal(osc_sdkhmac_verify(&t.req, &a, SK, strlen(SK), msg), OSC_SDKHMAC_MISMATCH);
    /* A trailing slash on the wire is not doubled. */
    t.req.path = "/v3.0/OS-CREDENTIAL/credentials/A%20B/";
    assert_int_equal(osc_sdkhmac_verify(&t.req, &a, SK, strlen(SK), msg), OSC_SDKHMAC_OK);
    /* Empty and root paths both canonicalise to "/". */
    t.req.path = "";
    assert_int_equal(osc_sdkhmac_canonical(&t.req, &a, &cr, &sts), OSC_SDKHMAC_OK);
    assert_non_null(strstr(cr, "DELETE\n/\n"));
    free(cr);
    free(sts);
    t.req.path = NULL;
    assert_int_equal(osc_sdkhmac_canonical(&t.req, &a, &cr, &sts), OSC_SDKHMAC_OK);
    assert_non_null(strstr(cr, "DELETE\n/\n"));
    free(cr);
    free(sts);
}

/* §4.4 step 6: Node's querystring leaves *()!' unescaped; the server decodes and re-encodes. The
 * signature is AKSKSigner.sign's (huaweicloud-sdk-core 3.1.211) for queryParams
 * {user_id: "a b*c(d)!~'/"} with this X-Sdk-Date. */
static void test_sdkhmac_query_reencoded(void **state)
{
    struct treq t;
    struct osc_sdkhmac_auth a;
    char msg[OSC_SIGREQ_MSG_MAX] = "";
    char *cr = NULL;
    char *sts = NULL;
    char hex[65];

    treq_init(&t, "GET", "/v3.0/OS-CREDENTIAL/credentials", "user_id=a%20b*c(d)!~'%2F", NULL);
    hdr(&t, "Content-Type", "application/json");
    hdr(&t, "X-Sdk-Date", "20261123T064104Z");
    hdr(&t, "Host", "127.0.0.1:18080");
    hdr(&t, "Authorization",
        "SDK-HMAC-SHA256 Access=TESTAK1234567890ABCD, SignedHeaders=content-type;host;x-sdk-date, "
        "Signature=d8c5f102b99c4823492994bc5b5719f253e1cd5e7befe7c330d6b5458607527d");
    assert_int_equal(parse(&t, &a, msg), OSC_SDKHMAC_OK);
    assert_int_equal(osc_sdkhmac_canonical(&t.req, &a, &cr, &sts), OSC_SDKHMAC_OK);
    assert_non_null(strstr(cr, "GET\n/v3.0/OS-CREDENTIAL/credentials/\n"
                               "user_id=a%20b%2Ac%28d%29%21~%27%2F\n"));
    sha_hex(cr, hex);
    assert_string_equal(hex, "a18c4a27a2cb2df601aa17a8abe074e844b87c53918ea0b49c7995764436fb98");
    free(cr);
    free(sts);
    assert_int_equal(osc_sdkhmac_verify(&t.req, &a, SK, strlen(SK), msg), OSC_SDKHMAC_OK);

    /* Other wire spellings of the same value verify too... */
    t.req.query = "user_id=a%20b%2Ac%28d%29%21%7E%27%2f";
    assert_int_equal(osc_sdkhmac_verify(&t.req, &a, SK, strlen(SK), msg), OSC_SDKHMAC_OK);
    /* ...a different value does not ('+' is a literal plus, not a space)... */
    t.req.query = "user_id=a+b*c(d)!~'%2F";
    assert_int_equal(osc_sdkhmac_verify(&t.req, &a, SK, strlen(SK), msg), OSC_SDKHMAC_MISMATCH);
    /* ...and a broken escape is refused. */
    t.req.query = "user_id=a%2";
    assert_int_equal(osc_sdkhmac_verify(&t.req, &a, SK, strlen(SK), msg), OSC_SDKHMAC_MISMATCH);
    /* Several parameters are sorted by name, then value. */
    t.req.query = "b=2&a=2&a=1";
    assert_int_equal(osc_sdkhmac_canonical(&t.req, &a, &cr, &sts), OSC_SDKHMAC_OK);
    assert_non_null(strstr(cr, "\na=1&a=2&b=2\n"));
    free(cr);
    free(sts);
}

static void test_sdkhmac_content_sha256_header(void **state)
{
    struct treq t;
    struct osc_sdkhmac_auth a;
    char msg[OSC_SIGREQ_MSG_MAX] = "";
    char *cr = NULL;
    char *sts = NULL;

    put_request(&t);
    assert_int_equal(parse(&t, &a, msg), OSC_SDKHMAC_OK);
    /* The body's own hash: the literal value is the same string, the signature still holds. */
    hdr(&t, "X-Sdk-Content-Sha256",
        "49f0cd5b7512e98185dec88fe9903c00494bd0409ee7bae63e217409821687cf");
    assert_int_equal(osc_sdkhmac_verify(&t.req, &a, SK, strlen(SK), msg), OSC_SDKHMAC_OK);
    /* The attack the check stops: keep the header the client signed with, swap the body. The
     * literal value alone would still reproduce the signature. */
    t.req.body = "{\"credential\":{\"status\":\"active\"}}";
    t.req.bodylen = strlen(t.req.body);
    assert_int_equal(osc_sdkhmac_verify(&t.req, &a, SK, strlen(SK), msg), OSC_SDKHMAC_MISMATCH);
    assert_string_equal(msg, "X-Sdk-Content-Sha256 does not match the body");
    t.req.body = PUT_BODY;
    t.req.bodylen = strlen(PUT_BODY);
    /* A hash of something else would leave the body unauthenticated. */
    set_hdr(&t, "X-Sdk-Content-Sha256", EMPTY_SHA);
    assert_int_equal(osc_sdkhmac_verify(&t.req, &a, SK, strlen(SK), msg), OSC_SDKHMAC_MISMATCH);
    set_hdr(&t, "X-Sdk-Content-Sha256", "UNSIGNED-PAYLOAD");
    assert_int_equal(osc_sdkhmac_verify(&t.req, &a, SK, strlen(SK), msg), OSC_SDKHMAC_MISMATCH);
    /* UNSIGNED-PAYLOAD with no body is signed literally. */
    t.req.body = NULL;
    t.req.bodylen = 0;
    assert_int_equal(osc_sdkhmac_canonical(&t.req, &a, &cr, &sts), OSC_SDKHMAC_OK);
    assert_string_equal(cr + strlen(cr) - strlen("\nUNSIGNED-PAYLOAD"), "\nUNSIGNED-PAYLOAD");
    free(cr);
    free(sts);
    /* Twice. */
    hdr(&t, "x-sdk-content-sha256", "UNSIGNED-PAYLOAD");
    assert_int_equal(osc_sdkhmac_canonical(&t.req, &a, &cr, &sts), OSC_SDKHMAC_MISMATCH);
}

/* ---- refusals ---- */

static void test_sdkhmac_rejects_wrong_secret_and_tampering(void **state)
{
    struct treq t;
    struct osc_sdkhmac_auth a;
    char msg[OSC_SIGREQ_MSG_MAX] = "";

    captured_delete(&t);
    assert_int_equal(verify(&t, "testsecretkey0123456789abcdefghijklmnopQ"), OSC_SDKHMAC_MISMATCH);
    assert_int_equal(verify(&t, ""), OSC_SDKHMAC_MISMATCH);
    assert_int_equal(verify(&t, SK), OSC_SDKHMAC_OK);

    /* Each signed header matters; unsigned ones do not. */
    set_hdr(&t, "X-Domain-Id", "ffffffffffffffffffffffffffffffff");
    assert_int_equal(verify(&t, SK), OSC_SDKHMAC_MISMATCH);
    captured_delete(&t);
    set_hdr(&t, "Host", "127.0.0.1:18081");
    assert_int_equal(verify(&t, SK), OSC_SDKHMAC_MISMATCH);
    captured_delete(&t);
    set_hdr(&t, "Accept", "text/plain");
    set_hdr(&t, "User-Agent", "curl");
    assert_int_equal(verify(&t, SK), OSC_SDKHMAC_OK);
    /* Values are not trimmed: a leading blank changes the signature. */
    captured_delete(&t);
    set_hdr(&t, "Content-Type", " application/json");
    assert_int_equal(verify(&t, SK), OSC_SDKHMAC_MISMATCH);
    /* Method, path, query. */
    captured_delete(&t);
    t.req.method = "GET";
    assert_int_equal(verify(&t, SK), OSC_SDKHMAC_MISMATCH);
    captured_delete(&t);
    t.req.path = "/v3.0/OS-CREDENTIAL/credentials/AKTODELETE0000000002";
    assert_int_equal(verify(&t, SK), OSC_SDKHMAC_MISMATCH);
    captured_delete(&t);
    t.req.query = "x=1";
    assert_int_equal(verify(&t, SK), OSC_SDKHMAC_MISMATCH);
    captured_delete(&t);
    t.req.method = "DELETE /x";
    assert_int_equal(verify(&t, SK), OSC_SDKHMAC_MISMATCH);
    /* A body where none was signed. */
    captured_delete(&t);
    t.req.body = "{}";
    t.req.bodylen = 2;
    assert_int_equal(verify(&t, SK), OSC_SDKHMAC_MISMATCH);
    /* A listed header that is absent, or sent twice. */
    captured_delete(&t);
    set_hdr(&t, "X-Domain-Id", NULL);
    assert_int_equal(verify(&t, SK), OSC_SDKHMAC_MISMATCH);
    captured_delete(&t);
    hdr(&t, "x-domain-id", DOMAIN);
    assert_int_equal(verify(&t, SK), OSC_SDKHMAC_MISMATCH);
    captured_delete(&t);
    set_hdr(&t, "Content-Type", "application/json\r\nx: y");
    assert_int_equal(parse(&t, &a, msg), OSC_SDKHMAC_OK);
    assert_int_equal(osc_sdkhmac_verify(&t.req, &a, SK, strlen(SK), msg), OSC_SDKHMAC_MISMATCH);
}

static void expect(const char *authz, enum osc_sdkhmac_result want)
{
    struct treq t;
    struct osc_sdkhmac_auth a;
    char msg[OSC_SIGREQ_MSG_MAX] = "";
    enum osc_sdkhmac_result r;

    captured_delete(&t);
    set_hdr(&t, "Authorization", authz);
    r = parse(&t, &a, msg);
    if (r != want)
        fail_msg("'%s': got %s (%s), want %s", authz ? authz : "(none)", osc_sdkhmac_result_name(r),
                 msg, osc_sdkhmac_result_name(want));
}

#define ACC "Access=TESTAK1234567890ABCD"
#define SH ", SignedHeaders=content-type;host;x-domain-id;x-sdk-date"
#define SIG ", Signature=f61f9c2fdeb69d4c0bfca761e02d90e93b8d9e95c87aa6abaf03c17220823fa3"

static void test_sdkhmac_authorization_syntax(void **state)
{
    struct treq t;
    struct osc_sdkhmac_auth a;
    char msg[OSC_SIGREQ_MSG_MAX] = "";

    expect(NULL, OSC_SDKHMAC_MISSING);
    expect("", OSC_SDKHMAC_MISSING);
    expect("Bearer abc", OSC_SDKHMAC_MISSING);
    expect("AWS4-HMAC-SHA256 Credential=x", OSC_SDKHMAC_MISSING);
    expect("SDK-HMAC-SHA256X " ACC SH SIG, OSC_SDKHMAC_MISSING);
    expect("sdk-hmac-sha256 " ACC SH SIG, OSC_SDKHMAC_MISSING);

    expect("SDK-HMAC-SHA256 " ACC SH SIG, OSC_SDKHMAC_OK);
    expect("SDK-HMAC-SHA256  \t" ACC ",SignedHeaders=content-type;host;x-domain-id;x-sdk-date,"
           "\tSignature=f61f9c2fdeb69d4c0bfca761e02d90e93b8d9e95c87aa6abaf03c17220823fa3",
           OSC_SDKHMAC_OK);
    expect("SDK-HMAC-SHA256", OSC_SDKHMAC_MALFORMED);
    expect("SDK-HMAC-SHA256 ", OSC_SDKHMAC_MALFORMED);
    expect("SDK-HMAC-SHA256 " ACC, OSC_SDKHMAC_MALFORMED);
    expect("SDK-HMAC-SHA256 " ACC SH, OSC_SDKHMAC_MALFORMED);
    expect("SDK-HMAC-SHA256 " ACC SIG, OSC_SDKHMAC_MALFORMED);
    /* Fixed order. */
    expect("SDK-HMAC-SHA256 SignedHeaders=content-type;host;x-domain-id;x-sdk-date, " ACC SIG,
           OSC_SDKHMAC_MALFORMED);
    /* Empty, spaced or over-long Access. */
    expect("SDK-HMAC-SHA256 Access=" SH SIG, OSC_SDKHMAC_MALFORMED);
    expect("SDK-HMAC-SHA256 Access=TESTAK 1234" SH SIG, OSC_SDKHMAC_MALFORMED);
    expect("SDK-HMAC-SHA256 Access=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
           "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" SH
               SIG,
           OSC_SDKHMAC_MALFORMED);
    /* Signature: 64 lowercase hex digits, and nothing after. */
    expect("SDK-HMAC-SHA256 " ACC SH
           ", Signature=F61F9C2FDEB69D4C0BFCA761E02D90E93B8D9E95C87AA6ABAF03C17220823FA3",
           OSC_SDKHMAC_MALFORMED);
    expect("SDK-HMAC-SHA256 " ACC SH
           ", Signature=f61f9c2fdeb69d4c0bfca761e02d90e93b8d9e95c87aa6abaf03c17220823fa",
           OSC_SDKHMAC_MALFORMED);
    expect("SDK-HMAC-SHA256 " ACC SH SIG "0", OSC_SDKHMAC_MALFORMED);
    expect("SDK-HMAC-SHA256 " ACC SH SIG " ", OSC_SDKHMAC_MALFORMED);
    expect("SDK-HMAC-SHA256 " ACC SH SIG ", Extra=1", OSC_SDKHMAC_MALFORMED);
    /* SignedHeaders: x-sdk-date and host required, sorted, lowercase. */
    expect("SDK-HMAC-SHA256 " ACC ", SignedHeaders=content-type;host;x-domain-id" SIG,
           OSC_SDKHMAC_MALFORMED);
    expect("SDK-HMAC-SHA256 " ACC ", SignedHeaders=content-type;x-domain-id;x-sdk-date" SIG,
           OSC_SDKHMAC_MALFORMED);
    expect("SDK-HMAC-SHA256 " ACC ", SignedHeaders=host;content-type;x-domain-id;x-sdk-date" SIG,
           OSC_SDKHMAC_MALFORMED);
    expect("SDK-HMAC-SHA256 " ACC ", SignedHeaders=Content-Type;host;x-domain-id;x-sdk-date" SIG,
           OSC_SDKHMAC_MALFORMED);
    expect("SDK-HMAC-SHA256 " ACC ", SignedHeaders=" SIG, OSC_SDKHMAC_MALFORMED);

    /* Authorization twice; host twice; host missing. */
    captured_delete(&t);
    hdr(&t, "authorization", DEL_AUTH);
    assert_int_equal(parse(&t, &a, msg), OSC_SDKHMAC_MALFORMED);
    captured_delete(&t);
    hdr(&t, "Host", "127.0.0.1:18080");
    assert_int_equal(parse(&t, &a, msg), OSC_SDKHMAC_MALFORMED);
    captured_delete(&t);
    set_hdr(&t, "Host", NULL);
    assert_int_equal(parse(&t, &a, msg), OSC_SDKHMAC_MALFORMED);
}

static void test_sdkhmac_rejects_bad_date(void **state)
{
    static const char *const bad[] = {
        "20261123T064104",
        "2026-11-23T06:41:04Z",
        "20261123T246104Z",
        "20261131T064104Z",
        "20261123 064104Z",
        "",
        "Mon, 23 Nov 2026 06:41:04 GMT",
        "20261123T064104Z0",
        "2026112aT064104Z",
    };
    struct treq t;
    struct osc_sdkhmac_auth a;
    char msg[OSC_SIGREQ_MSG_MAX] = "";

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        captured_delete(&t);
        set_hdr(&t, "X-Sdk-Date", bad[i]);
        if (parse(&t, &a, msg) != OSC_SDKHMAC_MALFORMED)
            fail_msg("accepted X-Sdk-Date '%s'", bad[i]);
    }
    captured_delete(&t);
    set_hdr(&t, "X-Sdk-Date", NULL);
    assert_int_equal(parse(&t, &a, msg), OSC_SDKHMAC_MALFORMED);
    captured_delete(&t);
    hdr(&t, "x-sdk-date", "20261123T064104Z");
    assert_int_equal(parse(&t, &a, msg), OSC_SDKHMAC_MALFORMED);
    /* A well-formed but different date breaks the signature. */
    captured_delete(&t);
    set_hdr(&t, "X-Sdk-Date", "20261123T064105Z");
    assert_int_equal(verify(&t, SK), OSC_SDKHMAC_MISMATCH);
}

static void test_sdkhmac_skew(void **state)
{
    struct treq t;
    struct osc_sdkhmac_auth a;
    char msg[OSC_SIGREQ_MSG_MAX] = "";
    int64_t when = 0;

    captured_delete(&t);
    assert_int_equal(parse(&t, &a, msg), OSC_SDKHMAC_OK);
    assert_int_equal(osc_sigreq_parse_time("20261123T064104Z", &when), OSC_OK);
    assert_int_equal(a.sdk_time, when);
    assert_int_equal(osc_sdkhmac_check_time(&a, when, msg), OSC_SDKHMAC_OK);
    assert_int_equal(osc_sdkhmac_check_time(&a, when + 15 * 60, msg), OSC_SDKHMAC_OK);
    assert_int_equal(osc_sdkhmac_check_time(&a, when - 15 * 60, msg), OSC_SDKHMAC_OK);
    assert_int_equal(osc_sdkhmac_check_time(&a, when + 16 * 60, msg), OSC_SDKHMAC_EXPIRED);
    assert_string_equal(msg, "X-Sdk-Date 20261123T064104Z is more than 15 min. from the server "
                             "time 20261123T065704Z");
    assert_int_equal(osc_sdkhmac_check_time(&a, when - 16 * 60, msg), OSC_SDKHMAC_EXPIRED);
    assert_int_equal(osc_sdkhmac_check_time(&a, when + 901, msg), OSC_SDKHMAC_EXPIRED);
    assert_int_equal(osc_sdkhmac_check_time(&a, when - 901, msg), OSC_SDKHMAC_EXPIRED);
    assert_int_equal(osc_sdkhmac_check_time(&a, -1, msg), OSC_SDKHMAC_INTERNAL);
    assert_int_equal(osc_sdkhmac_check_time(&a, INT64_MAX, msg), OSC_SDKHMAC_INTERNAL);
    assert_int_equal(osc_sdkhmac_check_time(NULL, when, msg), OSC_SDKHMAC_INTERNAL);
}

static void test_sdkhmac_null_arguments_and_names(void **state)
{
    struct treq t;
    struct osc_sdkhmac_auth a;
    char msg[OSC_SIGREQ_MSG_MAX] = "";
    char *cr = NULL;
    char *sts = NULL;

    captured_delete(&t);
    assert_int_equal(osc_sdkhmac_parse(NULL, &a, msg), OSC_SDKHMAC_INTERNAL);
    assert_int_equal(osc_sdkhmac_parse(&t.req, NULL, msg), OSC_SDKHMAC_INTERNAL);
    assert_int_equal(parse(&t, &a, NULL), OSC_SDKHMAC_OK);
    assert_int_equal(osc_sdkhmac_verify(&t.req, &a, NULL, 3, NULL), OSC_SDKHMAC_INTERNAL);
    assert_int_equal(osc_sdkhmac_verify(NULL, &a, SK, strlen(SK), NULL), OSC_SDKHMAC_INTERNAL);
    assert_int_equal(osc_sdkhmac_verify(&t.req, NULL, SK, strlen(SK), NULL), OSC_SDKHMAC_INTERNAL);
    assert_int_equal(osc_sdkhmac_canonical(&t.req, &a, NULL, &sts), OSC_SDKHMAC_INTERNAL);
    assert_int_equal(osc_sdkhmac_canonical(&t.req, &a, &cr, NULL), OSC_SDKHMAC_INTERNAL);
    t.req.bodylen = 5;
    assert_int_equal(osc_sdkhmac_verify(&t.req, &a, SK, strlen(SK), msg), OSC_SDKHMAC_INTERNAL);
    t.req.bodylen = 0;
    t.req.header = NULL;
    assert_int_equal(parse(&t, &a, msg), OSC_SDKHMAC_MISSING);

    assert_string_equal(osc_sdkhmac_result_name(OSC_SDKHMAC_OK), "OK");
    assert_string_equal(osc_sdkhmac_result_name(OSC_SDKHMAC_MISSING), "MISSING");
    assert_string_equal(osc_sdkhmac_result_name(OSC_SDKHMAC_MALFORMED), "MALFORMED");
    assert_string_equal(osc_sdkhmac_result_name(OSC_SDKHMAC_EXPIRED), "EXPIRED");
    assert_string_equal(osc_sdkhmac_result_name(OSC_SDKHMAC_MISMATCH), "MISMATCH");
    assert_string_equal(osc_sdkhmac_result_name(OSC_SDKHMAC_INTERNAL), "INTERNAL");
    assert_string_equal(osc_sdkhmac_result_name((enum osc_sdkhmac_result)42), "UNKNOWN");
}

/* ---- hostile input ---- */

static uint64_t rng_state = 0x2545f4914f6cdd1du;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void run_all(struct treq *t)
{
    struct osc_sdkhmac_auth a;
    char msg[OSC_SIGREQ_MSG_MAX];
    enum osc_sdkhmac_result r = osc_sdkhmac_parse(&t->req, &a, msg);

    assert_true(r >= OSC_SDKHMAC_OK && r <= OSC_SDKHMAC_INTERNAL);
    if (r != OSC_SDKHMAC_OK)
        return;
    r = osc_sdkhmac_check_time(&a, a.sdk_time, msg);
    assert_int_equal(r, OSC_SDKHMAC_OK);
    r = osc_sdkhmac_verify(&t->req, &a, SK, strlen(SK), msg);
    assert_true(r == OSC_SDKHMAC_OK || r == OSC_SDKHMAC_MISMATCH);
}

static void test_sdkhmac_fuzz_never_crashes(void **state)
{
    static const char ALPHABET[] = "SDK-HMAC-SHA256 Access=,;= SignedHeaders=host;x-sdk-date"
                                   "Signature=0123456789abcdef%\t\x01\xff";
    char authz[sizeof(DEL_AUTH) + 8];
    char date[24];
    char path[64];
    char query[64];
    struct treq t;
    int ok = 0;

    for (size_t n = 0; n <= strlen(DEL_AUTH); n++) {
        memcpy(authz, DEL_AUTH, n);
        authz[n] = '\0';
        captured_delete(&t);
        set_hdr(&t, "Authorization", authz);
        run_all(&t);
    }
    for (int i = 0; i < 20000; i++) {
        size_t len = strlen(DEL_AUTH);
        int k = (int)(rnd() % 3) + 1;

        memcpy(authz, DEL_AUTH, len + 1);
        for (int j = 0; j < k; j++)
            authz[rnd() % len] = ALPHABET[rnd() % (sizeof(ALPHABET) - 1)];
        if (rnd() % 4 == 0)
            authz[rnd() % len] = '\0';
        for (size_t j = 0; j < sizeof(date) - 1; j++)
            date[j] = (char)(rnd() % 2 ? "0123456789TZ"[rnd() % 12] : (char)(rnd() % 255 + 1));
        date[rnd() % sizeof(date)] = '\0';
        if (rnd() % 2)
            memcpy(date, "20261123T064104Z", 17);
        for (size_t j = 0; j < sizeof(path) - 1; j++)
            path[j] = "/%20A.~\xc3\xa9"[rnd() % 9];
        path[rnd() % sizeof(path)] = '\0';
        for (size_t j = 0; j < sizeof(query) - 1; j++)
            query[j] = "a=&%2F+*()!'~\x80"[rnd() % 15];
        query[rnd() % sizeof(query)] = '\0';

        captured_delete(&t);
        set_hdr(&t, "Authorization", authz);
        set_hdr(&t, "X-Sdk-Date", date);
        if (rnd() % 2)
            t.req.path = path;
        if (rnd() % 2)
            t.req.query = query;
        if (rnd() % 5 == 0)
            hdr(&t, "X-Sdk-Content-Sha256", rnd() % 2 ? "UNSIGNED-PAYLOAD" : date);
        run_all(&t);
        ok += osc_sdkhmac_parse(&t.req, &(struct osc_sdkhmac_auth){0}, NULL) == OSC_SDKHMAC_OK;
    }
    /* The mutations leave some requests parseable, so verify ran on hostile input too. */
    assert_true(ok > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sdkhmac_delete_with_domain_id),
        cmocka_unit_test(test_sdkhmac_put_with_body),
        cmocka_unit_test(test_sdkhmac_path_segments_encoded_raw),
        cmocka_unit_test(test_sdkhmac_query_reencoded),
        cmocka_unit_test(test_sdkhmac_content_sha256_header),
        cmocka_unit_test(test_sdkhmac_rejects_wrong_secret_and_tampering),
        cmocka_unit_test(test_sdkhmac_authorization_syntax),
        cmocka_unit_test(test_sdkhmac_rejects_bad_date),
        cmocka_unit_test(test_sdkhmac_skew),
        cmocka_unit_test(test_sdkhmac_null_arguments_and_names),
        cmocka_unit_test(test_sdkhmac_fuzz_never_crashes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
