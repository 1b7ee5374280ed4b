/* The per-request context handed from the HTTP edge to the services: request id, the authenticated
 * caller, and the client-facing message of the error being returned. No HTTP types in here. */
#ifndef OSC_CTX_H
#define OSC_CTX_H

#include <stdint.h>

#include "oscred/err.h"
#include "oscred/model.h"
#include "oscred/token.h"

#define OSC_REQUEST_ID_LEN 40 /* "req-" + uuid4 */

enum osc_auth_method {
    OSC_AUTH_NONE = 0,
    OSC_AUTH_TOKEN,
    OSC_AUTH_SDK_HMAC,
    OSC_AUTH_SIGV4,
};

struct osc_caller {
    char id[OSC_ID_LEN + 1];
    char name[OSC_NAME_MAX + 1];
    char domain_id[OSC_ID_LEN + 1];
    char domain_name[OSC_NAME_MAX + 1];
    enum osc_kind kind;
    unsigned roles; /* effective for this request: none for unscoped tokens */
    enum osc_auth_method method;
    struct osc_token token;          /* when method == OSC_AUTH_TOKEN */
    char access_key[OSC_AK_LEN + 1]; /* when signed */
};

struct osc_ctx {
    char request_id[OSC_REQUEST_ID_LEN + 1];
    struct osc_caller caller; /* valid when caller.method != OSC_AUTH_NONE */
    char msg[512];            /* client-facing message; empty: the error's default */
    char detail[256];         /* internal cause, logged, never sent */
};

/* Fresh context with a new request id. */
void osc_ctx_init(struct osc_ctx *ctx);
/* Records the client-facing message (printf format) and returns err, so callers can write
 * `return osc_ctx_fail(ctx, OSC_E_INVALID, "...")`. A later failure does not overwrite an earlier
 * message unless the earlier one is empty. */
osc_err osc_ctx_fail(struct osc_ctx *ctx, osc_err err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Records an internal cause for the log line. */
void osc_ctx_detail(struct osc_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Current Unix time in microseconds (CLOCK_REALTIME). */
int64_t osc_now_us(void);
/* Microseconds on CLOCK_MONOTONIC, for deadlines and intervals: a step of the wall clock (NTP,
 * an operator) must not cut a wait short or stretch it. */
int64_t osc_mono_us(void);
/* "2020-01-08T06:25:19.014028Z" into out (>= 28 bytes). */
void osc_format_time_us(int64_t us, char *out, size_t outlen);
/* "2020-01-08T06:25:19Z" into out (>= 21 bytes). */
void osc_format_time_s(int64_t us, char *out, size_t outlen);

#endif
