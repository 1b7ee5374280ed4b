/* Huawei Cloud SDK-HMAC-SHA256 request verification, exactly as huawei-keystone.md §4.4 (the
 * Node SDK's AKSKSigner): parse the Authorization header, check X-Sdk-Date, rebuild the
 * canonical request and compare signatures. Pure: no HTTP library, no database; the caller looks
 * the secret up by auth.access_key. Every failure is answered with one 401 APIGW.0301, so the
 * messages are for logs only. Order of calls: parse, check_time, verify. Thread-safe. */
#ifndef OSC_SDKHMAC_H
#define OSC_SDKHMAC_H

#include <stddef.h>
#include <stdint.h>

#include "oscred/sigreq.h"

#define OSC_SDKHMAC_ALGORITHM "SDK-HMAC-SHA256"
#define OSC_SDKHMAC_AK_MAX 128 /* access key length, NUL excluded */

enum osc_sdkhmac_result {
    OSC_SDKHMAC_OK = 0,
    OSC_SDKHMAC_MISSING,   /* no Authorization header, or one of another scheme */
    OSC_SDKHMAC_MALFORMED, /* bad Authorization syntax, host/x-sdk-date not signed or not sent
                            * once, X-Sdk-Date not YYYYMMDDTHHMMSSZ */
    OSC_SDKHMAC_EXPIRED,   /* X-Sdk-Date more than 15 minutes from now */
    OSC_SDKHMAC_MISMATCH,  /* signature, or a signed header absent/repeated, or a content hash
                            * header that does not describe the body */
    OSC_SDKHMAC_INTERNAL,  /* out of memory, or a NULL argument */
};

/* Filled by osc_sdkhmac_parse. Plain data; no pointers into the request. */
struct osc_sdkhmac_auth {
    char access_key[OSC_SDKHMAC_AK_MAX + 1]; /* printable ASCII, no ','; not checked to exist */
    char signed_headers[OSC_SIGREQ_SIGNED_HEADERS_MAX];
    unsigned char signature[OSC_SIGREQ_SIG_LEN];
    char sdk_date[OSC_SIGREQ_TIME_LEN + 1]; /* X-Sdk-Date, YYYYMMDDTHHMMSSZ */
    int64_t sdk_time;                       /* sdk_date as Unix seconds */
};

/* Parses "Authorization: SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=<list>, Signature=<64
 * lowercase hex>" (in that order, blanks allowed after the commas) and X-Sdk-Date. SignedHeaders
 * must be lowercase, sorted, and name host and x-sdk-date, both sent exactly once.
 * Returns OK, MISSING, MALFORMED or INTERNAL. *out is written only on OK; on failure msg
 * (OSC_SIGREQ_MSG_MAX bytes, may be NULL) says why, for the log. */
enum osc_sdkhmac_result osc_sdkhmac_parse(const struct osc_sigreq *req,
                                          struct osc_sdkhmac_auth *out, char *msg);

/* OK if |now - X-Sdk-Date| <= 15 minutes, EXPIRED otherwise; INTERNAL for a NULL auth or a now
 * outside 0 .. year 9999. now is Unix seconds. msg as for osc_sdkhmac_parse. */
enum osc_sdkhmac_result osc_sdkhmac_check_time(const struct osc_sdkhmac_auth *auth, int64_t now,
                                               char *msg);

/* Rebuilds the canonical request (§4.4 steps 4-8: raw wire path segments encoded without decoding
 * and '/' appended; query decoded and strictly re-encoded, sorted; header values untrimmed;
 * payload hash of the raw body, or the literal X-Sdk-Content-Sha256), signs it with HMAC-SHA256
 * keyed with the secret bytes as they are (secretlen bytes, borrowed) and compares in constant
 * time. An X-Sdk-Content-Sha256 must be the body's hash, or UNSIGNED-PAYLOAD with an empty body,
 * else the body would be unauthenticated. Returns OK, MISMATCH or INTERNAL. */
enum osc_sdkhmac_result osc_sdkhmac_verify(const struct osc_sigreq *req,
                                           const struct osc_sdkhmac_auth *auth, const void *secret,
                                           size_t secretlen, char *msg);

/* The canonical request and string to sign osc_sdkhmac_verify would use (tests, debugging). On
 * OK both are malloc'd (caller frees); on failure (MISMATCH, INTERNAL) they are untouched. */
enum osc_sdkhmac_result osc_sdkhmac_canonical(const struct osc_sigreq *req,
                                              const struct osc_sdkhmac_auth *auth, char **canonical,
                                              char **string_to_sign);

/* Stable name of a result ("MISMATCH"), for logs and metrics. Never NULL. */
const char *osc_sdkhmac_result_name(enum osc_sdkhmac_result r);

#endif
