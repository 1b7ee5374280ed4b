/* AWS Signature Version 4 verification for the IAM Query API (spec aws-iam.md §5-8): parse the
 * auth material of a request (Authorization header or presigned query), check its time, rebuild
 * the canonical request and compare signatures. Pure: no HTTP library, no database; the caller
 * looks the secret up by auth.access_key and maps the result to the AWS error it names.
 *
 * Order of calls: osc_sigv4_parse, then osc_sigv4_check_time, then (with the key's secret)
 * osc_sigv4_verify. Every function is thread-safe. */
#ifndef OSC_SIGV4_H
#define OSC_SIGV4_H

#include <stddef.h>
#include <stdint.h>

#include "oscred/sigreq.h"

#define OSC_SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define OSC_SIGV4_SERVICE "iam"      /* the only service osc_sigv4_parse accepts */
#define OSC_SIGV4_AKID_MAX 128       /* access key id length, NUL excluded */
#define OSC_SIGV4_REGION_MAX 63      /* region length, NUL excluded */
#define OSC_SIGV4_SERVICE_MAX 63     /* service length, NUL excluded */
#define OSC_SIGV4_EXPIRES_MAX 604800 /* X-Amz-Expires cap: 7 days */
#define OSC_SIGV4_SECRET_MAX 1024    /* longest secret key accepted, bytes */

/* Outcome of each step. The comment names the AWS error the caller should send. This is not an
 * osc_err because the AWS surface distinguishes more auth failures than the error table has rows
 * for; the HTTP layer maps each value to its row and passes the message along. */
enum osc_sigv4_result {
    OSC_SIGV4_OK = 0,
    OSC_SIGV4_MISSING,         /* 403 MissingAuthenticationToken: no auth material at all */
    OSC_SIGV4_INCOMPLETE,      /* 400 IncompleteSignature: malformed or missing parts, other
                                * algorithm, bad or unsigned date, host not signed, bad Expires */
    OSC_SIGV4_SESSION_TOKEN,   /* 403 InvalidClientTokenId: X-Amz-Security-Token present */
    OSC_SIGV4_BAD_SCOPE,       /* 403 SignatureDoesNotMatch: scope service/terminator/date/region */
    OSC_SIGV4_EXPIRED,         /* 403 SignatureDoesNotMatch: "Signature expired: ..." */
    OSC_SIGV4_NOT_YET,         /* 403 SignatureDoesNotMatch: "Signature not yet current: ..." */
    OSC_SIGV4_PRESIGN_EXPIRED, /* 403 AccessDenied: "Request has expired" */
    OSC_SIGV4_MISMATCH,        /* 403 SignatureDoesNotMatch */
    OSC_SIGV4_INTERNAL,        /* 500 ServiceFailure: out of memory, or a NULL argument */
};

/* Auth material of one request, filled by osc_sigv4_parse. Plain data; no pointers into req. */
struct osc_sigv4_auth {
    char access_key[OSC_SIGV4_AKID_MAX + 1]; /* printable ASCII, no '/'; not checked to exist */
    char date[9];                            /* credential scope date, YYYYMMDD */
    char region[OSC_SIGV4_REGION_MAX + 1];   /* [a-z0-9-]; any region is accepted here */
    char service[OSC_SIGV4_SERVICE_MAX + 1];
    char amz_date[OSC_SIGREQ_TIME_LEN + 1]; /* request time, YYYYMMDDTHHMMSSZ (converted when
                                             * it came from the Date header) */
    int64_t amz_time;                       /* amz_date as Unix seconds */
    char signed_headers[OSC_SIGREQ_SIGNED_HEADERS_MAX];
    unsigned char signature[OSC_SIGREQ_SIG_LEN];
    int presigned;   /* 1 if the material came from the query */
    int64_t expires; /* X-Amz-Expires (presigned), 0 otherwise */
};

/* Finds and parses the auth material of req: the Authorization header ("AWS4-HMAC-SHA256
 * Credential=AKID/YYYYMMDD/region/service/aws4_request, SignedHeaders=a;b, Signature=<64 hex>",
 * parts in any order, separated by ',' and optional blanks), or, when there is no Authorization
 * header, the X-Amz-* query parameters of a presigned URL. The request time is X-Amz-Date (header,
 * or query when presigned), or the Date header (IMF-fixdate) when X-Amz-Date is absent; the header
 * it comes from, and host, must be signed. Requires service "iam" (OSC_SIGV4_SERVICE).
 * Returns OK, MISSING, INCOMPLETE, SESSION_TOKEN, BAD_SCOPE, MISMATCH (a signature that is not 64
 * lowercase hex digits, which AWS also answers with SignatureDoesNotMatch) or INTERNAL.
 * *out is written only on OK. On failure msg (OSC_SIGREQ_MSG_MAX bytes, may be NULL) receives the
 * message for the AWS error body; it is left untouched on OK. */
enum osc_sigv4_result osc_sigv4_parse(const struct osc_sigreq *req, struct osc_sigv4_auth *out,
                                      char *msg);
/* osc_sigv4_parse requiring service instead of "iam" (the AWS test suite signs for "service"). */
enum osc_sigv4_result osc_sigv4_parse_service(const struct osc_sigreq *req, const char *service,
                                              struct osc_sigv4_auth *out, char *msg);

/* Checks the request time against now (Unix seconds, 0 .. year 9999). Header auth: OK within
 * +-15 minutes, EXPIRED if older, NOT_YET if newer. Presigned: NOT_YET if more than 15 minutes in
 * the future, PRESIGN_EXPIRED if now > amz_time + expires, INCOMPLETE if expires is not
 * 1..604800. INTERNAL for a NULL auth or a now out of range. msg as for osc_sigv4_parse, e.g.
 * "Signature expired: 20160609T184512Z is now earlier than 20160610T013008Z (20160610T014508Z -
 * 15 min.)". */
enum osc_sigv4_result osc_sigv4_check_time(const struct osc_sigv4_auth *auth, int64_t now,
                                           char *msg);

/* Rebuilds the canonical request and string to sign from req and auth (as parsed from req), derives
 * the signing key from secret (secretlen bytes, borrowed, never copied beyond this call's wiped
 * temporaries) and compares signatures in constant time. The payload hash is SHA-256 of the raw
 * body; an x-amz-content-sha256 header must equal it, except that a presigned request with an
 * empty body may send UNSIGNED-PAYLOAD (which is then signed literally). Returns OK, MISMATCH
 * (also for a signed header that is absent or repeated, or an undecodable query) or INTERNAL
 * (also for a secret longer than OSC_SIGV4_SECRET_MAX). */
enum osc_sigv4_result osc_sigv4_verify(const struct osc_sigreq *req,
                                       const struct osc_sigv4_auth *auth, const void *secret,
                                       size_t secretlen, char *msg);

/* The canonical request and string to sign osc_sigv4_verify would use, for tests and for
 * debugging a client. On OK, *canonical and *string_to_sign are malloc'd (caller frees); on
 * failure (MISMATCH or INTERNAL, as for osc_sigv4_verify) they are untouched. */
enum osc_sigv4_result osc_sigv4_canonical(const struct osc_sigreq *req,
                                          const struct osc_sigv4_auth *auth, char **canonical,
                                          char **string_to_sign);

/* kSigning = HMAC chain over "AWS4" + secret, date (YYYYMMDD), region, service, "aws4_request",
 * into out. Intermediate keys are wiped. OSC_E_INVALID (out untouched) if secret is NULL with a
 * non-zero secretlen, or longer than OSC_SIGV4_SECRET_MAX. */
osc_err osc_sigv4_signing_key(const void *secret, size_t secretlen, const char *date,
                              const char *region, const char *service,
                              unsigned char out[OSC_SIGREQ_SIG_LEN]);

/* Stable name of a result ("MISMATCH"), for logs and metrics. Never NULL. */
const char *osc_sigv4_result_name(enum osc_sigv4_result r);

#endif
