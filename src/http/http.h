/* Private to src/http: the parsed request, the route table and the response helpers. */
#ifndef OSC_HTTP_PRIVATE_H
#define OSC_HTTP_PRIVATE_H

#include <jansson.h>
#include <stddef.h>
#include <ulfius.h>

#include "oscred/ctx.h"
#include "oscred/service.h"

#define OSC_MAX_SEGMENTS 10
#define OSC_JSON_BODY_MAX ((size_t)64 * 1024)
#define OSC_QUERY_BODY_MAX ((size_t)512 * 1024)
/* The request line and header fields of a request, each line counted with its line end, and how
 * many fields there may be (each also costs libmicrohttpd a record in the connection's memory). */
#define OSC_HEADERS_MAX ((size_t)16 * 1024)
#define OSC_HEADER_FIELDS_MAX 100

/* Which dialect a path speaks: it decides the error format. */
enum osc_surface {
    OSC_SURFACE_KEYSTONE, /* /, /v3/... : Keystone JSON errors */
    OSC_SURFACE_IAM,      /* /v3.0/... : IAM-style JSON errors */
    OSC_SURFACE_PLAIN,    /* probes and metrics */
    OSC_SURFACE_AWS,      /* POST /, GET /?Action= : AWS XML errors */
};

struct osc_req {
    const struct _u_request *u;
    const char *method;
    const char *raw_path;         /* as received, without the query string (owned by the request) */
    const char *raw_query;        /* after '?', or NULL */
    char *segs[OSC_MAX_SEGMENTS]; /* percent-decoded path segments (owned) */
    int nsegs;
    const char *params[4]; /* the route's :parameters, in order (borrowed from segs) */
    const unsigned char *body;
    size_t body_len;
    enum osc_surface surface;
    const char *route; /* template for logs and metrics */
};

typedef osc_err (*osc_handler)(struct osc_app *app, struct osc_ctx *ctx, struct osc_req *r,
                               struct _u_response *resp);

/* --- req.c --- */

/* Case-insensitive header lookup. *count receives how many headers have that name (a client
 * sending an identity header twice is refused by the caller). Borrowed value or NULL. */
const char *osc_req_header(const struct osc_req *r, const char *name, int *count);
/* Value of a query parameter (percent-decoded, '+' kept literally), malloc'd into *out (NULL when
 * absent). OSC_E_INVALID if the parameter appears twice or is badly encoded. */
osc_err osc_req_query(const struct osc_req *r, const char *name, char **out);
/* OSC_E_INVALID unless every query parameter's name is in the NULL-terminated list allowed. */
osc_err osc_req_query_only(struct osc_ctx *ctx, const struct osc_req *r,
                           const char *const *allowed);
struct osc_sigreq;
/* The request as the signature verifiers see it (borrows from r). */
void osc_req_sigreq(struct osc_req *r, struct osc_sigreq *out);
/* Parses the body as one JSON object (duplicate keys refused). New reference into *out.
 * OSC_E_TOO_LARGE over 64 KiB, OSC_E_BAD_BODY if not a JSON object. */
osc_err osc_req_json(struct osc_ctx *ctx, const struct osc_req *r, json_t **out);
/* Percent-decodes src[0..n) into a new string; OSC_E_INVALID on a bad escape or an embedded NUL.
 * plus_is_space decodes '+' as a space (form bodies). */
osc_err osc_req_decode(const char *src, size_t n, int plus_is_space, char **out);

/* JSON field helpers for request bodies: each sets ctx->msg naming the field on error.
 * osc_json_string: *out borrowed from obj (NULL if absent and optional). */
osc_err osc_json_string(struct osc_ctx *ctx, json_t *obj, const char *field, int required,
                        const char **out);
/* *out: -1 absent, 0 false, 1 true. */
osc_err osc_json_bool(struct osc_ctx *ctx, json_t *obj, const char *field, int *out);
/* Child object; required. */
osc_err osc_json_object(struct osc_ctx *ctx, json_t *obj, const char *field, json_t **out);
/* OSC_E_INVALID naming the first key of obj not in the NULL-terminated list allowed. */
osc_err osc_json_only(struct osc_ctx *ctx, json_t *obj, const char *what,
                      const char *const *allowed);

/* --- resp.c (the only place an osc_err becomes a status and a body) --- */

/* Sends len bytes of already-serialised JSON text as the body with status. */
void osc_resp_json_text(struct _u_response *resp, int status, const char *text, size_t len);
/* Sends j (stolen reference) as the JSON body with status. */
osc_err osc_resp_json(struct _u_response *resp, int status, json_t *j);
/* Status without a body (204, or HEAD answers). */
void osc_resp_empty(struct _u_response *resp, int status);
/* Renders err in the surface's format, with ctx->msg (or the default message) and request id.
 * base_url (may be NULL) goes into Keystone's WWW-Authenticate on 401. */
void osc_resp_error(const struct osc_ctx *ctx, enum osc_surface surface, osc_err err,
                    const char *base_url, struct _u_response *resp);
/* The headers every response carries (request ids). */
void osc_resp_common_headers(const struct osc_ctx *ctx, struct _u_response *resp);

/* The request id as AWS clients expect it: the bare UUID of ctx->request_id ("req-<uuid>"). */
const char *osc_aws_request_id(const struct osc_ctx *ctx);

struct osc_xml;
/* Sends the XML document x as a 200 AWS Query response. */
osc_err osc_resp_xml(struct _u_response *resp, const struct osc_xml *x);

/* The AWS IAM Query API (aws.c): every action behind POST / and GET /?Action=. */
osc_err osc_h_aws(struct osc_app *, struct osc_ctx *, struct osc_req *, struct _u_response *);

/* Base URL for links: OSCRED_PUBLIC_URL, else http://<Host>. malloc'd, no trailing slash. */
char *osc_base_url(const struct osc_app *app, const struct osc_req *r);
/* Timestamp JSON values. New references. */
json_t *osc_json_time_us(int64_t us);

/* The ulfius callback that serves every request (router.c). */
int osc_router_callback(const struct _u_request *u, struct _u_response *resp, void *user_data);

/* --- handlers, one file per noun --- */
osc_err osc_h_versions(struct osc_app *, struct osc_ctx *, struct osc_req *, struct _u_response *);
osc_err osc_h_version_v3(struct osc_app *, struct osc_ctx *, struct osc_req *,
                         struct _u_response *);
osc_err osc_h_token_issue(struct osc_app *, struct osc_ctx *, struct osc_req *,
                          struct _u_response *);
osc_err osc_h_token_check(struct osc_app *, struct osc_ctx *, struct osc_req *,
                          struct _u_response *);
osc_err osc_h_token_revoke(struct osc_app *, struct osc_ctx *, struct osc_req *,
                           struct _u_response *);
osc_err osc_h_users_create(struct osc_app *, struct osc_ctx *, struct osc_req *,
                           struct _u_response *);
osc_err osc_h_users_list(struct osc_app *, struct osc_ctx *, struct osc_req *,
                         struct _u_response *);
osc_err osc_h_user_get(struct osc_app *, struct osc_ctx *, struct osc_req *, struct _u_response *);
osc_err osc_h_user_update(struct osc_app *, struct osc_ctx *, struct osc_req *,
                          struct _u_response *);
osc_err osc_h_user_delete(struct osc_app *, struct osc_ctx *, struct osc_req *,
                          struct _u_response *);
osc_err osc_h_roles_list(struct osc_app *, struct osc_ctx *, struct osc_req *,
                         struct _u_response *);
osc_err osc_h_role_grant(struct osc_app *, struct osc_ctx *, struct osc_req *,
                         struct _u_response *);
osc_err osc_h_role_check(struct osc_app *, struct osc_ctx *, struct osc_req *,
                         struct _u_response *);
osc_err osc_h_role_revoke(struct osc_app *, struct osc_ctx *, struct osc_req *,
                          struct _u_response *);
osc_err osc_h_sa_create(struct osc_app *, struct osc_ctx *, struct osc_req *, struct _u_response *);
osc_err osc_h_sa_list(struct osc_app *, struct osc_ctx *, struct osc_req *, struct _u_response *);
osc_err osc_h_sa_get(struct osc_app *, struct osc_ctx *, struct osc_req *, struct _u_response *);
osc_err osc_h_sa_update(struct osc_app *, struct osc_ctx *, struct osc_req *, struct _u_response *);
osc_err osc_h_sa_delete(struct osc_app *, struct osc_ctx *, struct osc_req *, struct _u_response *);
osc_err osc_h_sa_roles_list(struct osc_app *, struct osc_ctx *, struct osc_req *,
                            struct _u_response *);
osc_err osc_h_sa_role_grant(struct osc_app *, struct osc_ctx *, struct osc_req *,
                            struct _u_response *);
osc_err osc_h_sa_role_check(struct osc_app *, struct osc_ctx *, struct osc_req *,
                            struct _u_response *);
osc_err osc_h_sa_role_revoke(struct osc_app *, struct osc_ctx *, struct osc_req *,
                             struct _u_response *);
osc_err osc_h_creds_create(struct osc_app *, struct osc_ctx *, struct osc_req *,
                           struct _u_response *);
osc_err osc_h_creds_list(struct osc_app *, struct osc_ctx *, struct osc_req *,
                         struct _u_response *);
osc_err osc_h_cred_get(struct osc_app *, struct osc_ctx *, struct osc_req *, struct _u_response *);
osc_err osc_h_cred_update(struct osc_app *, struct osc_ctx *, struct osc_req *,
                          struct _u_response *);
osc_err osc_h_cred_delete(struct osc_app *, struct osc_ctx *, struct osc_req *,
                          struct _u_response *);
osc_err osc_h_healthz(struct osc_app *, struct osc_ctx *, struct osc_req *, struct _u_response *);
osc_err osc_h_readyz(struct osc_app *, struct osc_ctx *, struct osc_req *, struct _u_response *);
osc_err osc_h_metrics(struct osc_app *, struct osc_ctx *, struct osc_req *, struct _u_response *);

#endif
