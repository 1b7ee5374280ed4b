/* The single route table and the dispatcher every request goes through: our own path matching on
 * the raw URI (ulfius would merge the query into path parameters and decode %2F before matching),
 * then authentication, the handler, error rendering, and the access log line. */
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "oscred/log.h"
#include "oscred/metrics.h"
#include "oscred/sdkhmac.h"
#include "oscred/validate.h"

enum auth_need { AUTH_NONE, AUTH_TOKEN };

struct route {
    const char *method;
    const char *path; /* segments; "{name}" captures one */
    enum auth_need auth;
    osc_handler handler;
};

/* POST / and GET /?Action= are the AWS Query API (dispatched before this table). */
static const struct route AWS_ROUTE = {"POST", "/", AUTH_NONE, osc_h_aws};

static const struct route ROUTES[] = {
    {"GET", "/", AUTH_NONE, osc_h_versions},
    {"GET", "/v3", AUTH_NONE, osc_h_version_v3},
    {"POST", "/v3/auth/tokens", AUTH_NONE, osc_h_token_issue},
    {"GET", "/v3/auth/tokens", AUTH_TOKEN, osc_h_token_check},
    {"HEAD", "/v3/auth/tokens", AUTH_TOKEN, osc_h_token_check},
    {"DELETE", "/v3/auth/tokens", AUTH_TOKEN, osc_h_token_revoke},
    {"POST", "/v3/users", AUTH_TOKEN, osc_h_users_create},
    {"GET", "/v3/users", AUTH_TOKEN, osc_h_users_list},
    {"GET", "/v3/users/{user_id}", AUTH_TOKEN, osc_h_user_get},
    {"PATCH", "/v3/users/{user_id}", AUTH_TOKEN, osc_h_user_update},
    {"DELETE", "/v3/users/{user_id}", AUTH_TOKEN, osc_h_user_delete},
    {"GET", "/v3/domains/{domain_id}/users/{user_id}/roles", AUTH_TOKEN, osc_h_roles_list},
    {"PUT", "/v3/domains/{domain_id}/users/{user_id}/roles/{role}", AUTH_TOKEN, osc_h_role_grant},
    {"HEAD", "/v3/domains/{domain_id}/users/{user_id}/roles/{role}", AUTH_TOKEN, osc_h_role_check},
    {"GET", "/v3/domains/{domain_id}/users/{user_id}/roles/{role}", AUTH_TOKEN, osc_h_role_check},
    {"DELETE", "/v3/domains/{domain_id}/users/{user_id}/roles/{role}", AUTH_TOKEN,
     osc_h_role_revoke},
    {"POST", "/v3/service_accounts", AUTH_TOKEN, osc_h_sa_create},
    {"GET", "/v3/service_accounts", AUTH_TOKEN, osc_h_sa_list},
    {"GET", "/v3/service_accounts/{id}", AUTH_TOKEN, osc_h_sa_get},
    {"PATCH", "/v3/service_accounts/{id}", AUTH_TOKEN, osc_h_sa_update},
    {"DELETE", "/v3/service_accounts/{id}", AUTH_TOKEN, osc_h_sa_delete},
    {"GET", "/v3/domains/{domain_id}/service_accounts/{id}/roles", AUTH_TOKEN, osc_h_sa_roles_list},
    {"PUT", "/v3/domains/{domain_id}/service_accounts/{id}/roles/{role}", AUTH_TOKEN,
     osc_h_sa_role_grant},
    {"HEAD", "/v3/domains/{domain_id}/service_accounts/{id}/roles/{role}", AUTH_TOKEN,
     osc_h_sa_role_check},
    {"GET", "/v3/domains/{domain_id}/service_accounts/{id}/roles/{role}", AUTH_TOKEN,
     osc_h_sa_role_check},
    {"DELETE", "/v3/domains/{domain_id}/service_accounts/{id}/roles/{role}", AUTH_TOKEN,
     osc_h_sa_role_revoke},
    {"POST", "/v3.0/OS-CREDENTIAL/credentials", AUTH_TOKEN, osc_h_creds_create},
    {"GET", "/v3.0/OS-CREDENTIAL/credentials", AUTH_TOKEN, osc_h_creds_list},
    {"GET", "/v3.0/OS-CREDENTIAL/credentials/{access_key}", AUTH_TOKEN, osc_h_cred_get},
    {"PUT", "/v3.0/OS-CREDENTIAL/credentials/{access_key}", AUTH_TOKEN, osc_h_cred_update},
    {"DELETE", "/v3.0/OS-CREDENTIAL/credentials/{access_key}", AUTH_TOKEN, osc_h_cred_delete},
    {"GET", "/healthz", AUTH_NONE, osc_h_healthz},
    {"GET", "/readyz", AUTH_NONE, osc_h_readyz},
    {"GET", "/metrics", AUTH_NONE, osc_h_metrics},
};
#define NROUTES (sizeof(ROUTES) / sizeof(ROUTES[0]))

static enum osc_surface surface_of(const struct osc_req *r)
{
    const char *first = r->nsegs > 0 ? r->segs[0] : "";

    if (strcmp(first, "v3.0") == 0)
        return OSC_SURFACE_IAM;
    if (r->nsegs == 1 && (strcmp(first, "healthz") == 0 || strcmp(first, "readyz") == 0 ||
                          strcmp(first, "metrics") == 0))
        return OSC_SURFACE_PLAIN;
    return OSC_SURFACE_KEYSTONE;
}

/* Splits the raw path into percent-decoded segments; one trailing '/' is ignored. */
static osc_err split_path(struct osc_req *r)
{
    const char *p = r->raw_path;
    size_t len = strlen(p);

    if (len == 0 || p[0] != '/')
        return OSC_E_NOT_FOUND;
    if (len > 1 && p[len - 1] == '/')
        len--;
    p++;
    len--;
    while (len > 0) {
        const char *slash = memchr(p, '/', len);
        size_t n = slash ? (size_t)(slash - p) : len;

        if (r->nsegs == OSC_MAX_SEGMENTS)
            return OSC_E_NOT_FOUND;
        if (osc_req_decode(p, n, 0, &r->segs[r->nsegs]))
            return OSC_E_NOT_FOUND;
        r->nsegs++;
        if (!slash)
            break;
        len -= n + 1;
        p = slash + 1;
        if (len == 0)
            return OSC_E_NOT_FOUND; /* "//" or a second trailing slash */
    }
    return OSC_OK;
}

/* 1 if the route's path matches r's segments; fills r->params. */
static int match(const struct route *rt, struct osc_req *r)
{
    const char *p = rt->path + 1;
    int i = 0, np = 0;

    while (*p) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);

        if (i >= r->nsegs)
            return 0;
        if (p[0] == '{') {
            if (r->segs[i][0] == '\0')
                return 0;
            r->params[np++] = r->segs[i];
        } else if (strlen(r->segs[i]) != n || strncmp(r->segs[i], p, n) != 0) {
            return 0;
        }
        i++;
        p += n;
        if (*p == '/')
            p++;
    }
    return i == r->nsegs;
}

/* The AWS Query API shares "/" with version discovery: POST is always AWS, GET only with an
 * Action parameter. */
static int is_aws_query(const struct osc_req *r)
{
    const char *q = r->raw_query;

    if (strcmp(r->method, "POST") == 0)
        return 1;
    if (strcmp(r->method, "GET") != 0 || !q)
        return 0;
    return strncmp(q, "Action=", 7) == 0 || strstr(q, "&Action=") != NULL;
}

#define MSG_BAD_AKSK "Incorrect IAM authentication information: verify aksk signature fail."

/* Authorization: SDK-HMAC-SHA256 (the Huawei SDK). Every failure is the same 401 APIGW.0301,
 * with no hint of which part failed; the log line says which. */
static osc_err authenticate_signed(struct osc_app *app, struct osc_ctx *ctx, struct osc_req *r)
{
    osc_err err = OSC_OK;
    struct osc_sigreq sr;
    struct osc_sdkhmac_auth a;
    struct osc_signing_key key;
    struct osc_secret *secret = NULL;
    char msg[OSC_SIGREQ_MSG_MAX] = "";
    const char *domain;
    int ndomain = 0;
    enum osc_sdkhmac_result res;

    osc_req_sigreq(r, &sr);
    res = osc_sdkhmac_parse(&sr, &a, msg);
    if (res == OSC_SDKHMAC_OK)
        res = osc_sdkhmac_check_time(&a, osc_now_us() / 1000000, msg);
    if (res != OSC_SDKHMAC_OK) {
        osc_ctx_detail(ctx, "sdk-hmac: %s: %s", osc_sdkhmac_result_name(res), msg);
        err = res == OSC_SDKHMAC_INTERNAL ? OSC_E_INTERNAL : OSC_E_BAD_SIGNATURE;
        goto out;
    }
    err = osc_valid_access_key(a.access_key)
              ? osc_signing_key_get(app, ctx, a.access_key, &key, &secret)
              : OSC_E_UNAUTHENTICATED;
    if (err) {
        osc_ctx_detail(ctx, "sdk-hmac: key unusable: %s", osc_err_name(err));
        if (err == OSC_E_UNAUTHENTICATED)
            err = OSC_E_BAD_SIGNATURE;
        goto out;
    }
    res = osc_sdkhmac_verify(&sr, &a, secret->p, secret->n, msg);
    domain = osc_req_header(r, "X-Domain-Id", &ndomain);
    if (res == OSC_SDKHMAC_OK && ndomain > 0 &&
        (ndomain != 1 || strcmp(domain, key.domain_id) != 0)) {
        res = OSC_SDKHMAC_MISMATCH;
        snprintf(msg, sizeof(msg), "X-Domain-Id is not the key's domain");
    }
    if (res != OSC_SDKHMAC_OK) {
        osc_ctx_detail(ctx, "sdk-hmac: %s: %s", osc_sdkhmac_result_name(res), msg);
        err = res == OSC_SDKHMAC_INTERNAL ? OSC_E_INTERNAL : OSC_E_BAD_SIGNATURE;
        goto out;
    }
    err = osc_signing_accept(app, ctx, &key, OSC_AUTH_SDK_HMAC, "iam", "");
    if (err == OSC_E_UNAUTHENTICATED)
        err = OSC_E_BAD_SIGNATURE;
out:
    if (err == OSC_E_BAD_SIGNATURE) {
        osc_metrics_auth_failure("sdk_hmac_refused");
        ctx->msg[0] = '\0';
        osc_ctx_fail(ctx, err, MSG_BAD_AKSK);
    }
    osc_secret_destroy(secret);
    return err;
}

/* X-Auth-Token (exactly one), or an SDK-HMAC-SHA256 signature. */
static osc_err authenticate(struct osc_app *app, struct osc_ctx *ctx, struct osc_req *r)
{
    int count = 0, nauth = 0;
    const char *token = osc_req_header(r, "X-Auth-Token", &count);
    const char *authz = osc_req_header(r, "Authorization", &nauth);

    if (count == 0 && nauth > 0 && strncmp(authz, OSC_SDKHMAC_ALGORITHM " ", 16) == 0)
        return authenticate_signed(app, ctx, r);

    osc_err err;

    if (count != 1 || !token[0] || strchr(token, ',')) {
        osc_metrics_auth_failure(count == 0 ? "token_missing" : "token_malformed");
        return osc_ctx_fail(ctx, OSC_E_UNAUTHENTICATED,
                            "The request you have made requires authentication.");
    }
    err = osc_tokens_authenticate(app, ctx, token);
    if (err == OSC_E_UNAUTHENTICATED)
        osc_metrics_auth_failure("token_invalid");
    return err;
}

/* The methods of the routes whose path matches r ("GET, PUT"), for a 405's Allow header. */
static void allowed_methods(struct osc_req *r, char *out, size_t n)
{
    out[0] = '\0';
    for (size_t i = 0; i < NROUTES; i++) {
        if (!match(&ROUTES[i], r))
            continue;
        size_t used = strlen(out);
        snprintf(out + used, n - used, "%s%s", used ? ", " : "", ROUTES[i].method);
    }
}

static void remote_address(const struct _u_request *u, char *out, size_t n)
{
    const struct sockaddr *sa = u->client_address;

    out[0] = '\0';
    /* ulfius copies only sizeof(struct sockaddr), which holds an IPv4 address but not IPv6. */
    if (sa && sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        const unsigned char *a = (const unsigned char *)&in->sin_addr;
        snprintf(out, n, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
    }
}

static size_t count_chars(const char *s, char c)
{
    size_t n = 0;

    for (s = s ? strchr(s, c) : NULL; s; s = strchr(s + 1, c))
        n++;
    return n;
}

/* What dispatch needs to know of a request's head, from one pass over ulfius's view of it. */
struct head {
    size_t size;         /* the request line and header lines, each with its line end */
    size_t records;      /* what libmicrohttpd keeps a record of, see read_head */
    int content_lengths; /* Content-Length values (ulfius joins same-case repeats with commas) */
    int chunked;         /* a Transfer-Encoding too */
};

/* libmicrohttpd keeps the head in the connection's memory (server.c), with a record per header
 * line, per cookie and per query argument; ulfius joins repeated names with commas, so every comma
 * counts as a line: an overestimate for lists, never an underestimate. Size and records are
 * bounded before a handler runs, because a request that leaves too little memory for the answer
 * is served but never answered. What ulfius cannot show (a value's leading blanks, folded lines,
 * bytes after a NUL, chunked trailers) escapes the count: a client sending that can still lose
 * its own answer, but not get in ahead of anyone else. */
static void read_head(const struct _u_request *u, struct head *hd)
{
    const char *url = u->http_url ? u->http_url : "";
    const struct _u_map *h = u->map_header;

    memset(hd, 0, sizeof(*hd));
    hd->size = strlen(u->http_verb ? u->http_verb : "") + strlen(url) + sizeof(" HTTP/1.1\r\n");
    hd->records = count_chars(url, '&') + (strchr(url, '?') != NULL);
    for (int i = 0; h && i < h->nb_values; i++) {
        const char *k = h->keys[i], *v = h->values[i];
        size_t commas = count_chars(v, ',');

        hd->size += strlen(k) + strlen(v) + 4; /* ": " and CRLF */
        hd->records += 1 + commas;
        if (strcasecmp(k, "Content-Length") == 0)
            hd->content_lengths += 1 + (int)commas;
        else if (strcasecmp(k, "Transfer-Encoding") == 0)
            hd->chunked = 1;
        else if (strcasecmp(k, "Cookie") == 0)
            hd->records += count_chars(v, ';');
    }
}

static int dispatch(const struct _u_request *u, struct _u_response *resp, void *user_data)
{
    struct osc_app *app = user_data;
    struct osc_ctx ctx;
    struct osc_req r;
    const struct route *rt = NULL;
    char allow[128] = "";
    osc_err err = OSC_OK;
    int64_t t0 = osc_mono_us();
    const char *q;
    struct head head;
    int close_after;

    osc_ctx_init(&ctx);
    osc_log_bind_request(ctx.request_id);
    memset(&r, 0, sizeof(r));
    r.u = u;
    r.method = u->http_verb ? u->http_verb : "";
    r.raw_path = u->url_path ? u->url_path : "";
    q = u->http_url ? strchr(u->http_url, '?') : NULL;
    r.raw_query = q ? q + 1 : NULL;
    r.body = u->binary_body;
    r.body_len = u->binary_body_length;
    r.route = "unmatched";

    read_head(u, &head);
    /* A body framed by both chunks and a length is read by the chunks; whoever sent it may have
     * meant the length, so the connection is not used again (RFC 9112 section 6.1). */
    close_after = head.content_lengths > 0 && head.chunked;
    err = split_path(&r);
    /* From the decoded segments, as routing reads them: "/v3%2E0/..." is routed as "/v3.0/..."
     * and answers in its format (a path that fails to decode keeps the segments before the bad
     * one). */
    r.surface = surface_of(&r);
    if (!err && r.nsegs == 0 && is_aws_query(&r)) {
        rt = &AWS_ROUTE;
        r.surface = OSC_SURFACE_AWS;
    }
    for (size_t i = 0; !err && !rt && i < NROUTES; i++) {
        if (strcmp(ROUTES[i].method, r.method) == 0 && match(&ROUTES[i], &r))
            rt = &ROUTES[i];
    }
    if (!err && !rt)
        allowed_methods(&r, allow, sizeof(allow));
    if (head.content_lengths > 1) {
        /* Two lengths: libmicrohttpd read the body by the first and would take the rest for the
         * next request (a request-smuggling pattern). Refused, and the connection closed. */
        close_after = 1;
        err = osc_ctx_fail(&ctx, OSC_E_INVALID, "The request has more than one Content-Length.");
    } else if (head.size > OSC_HEADERS_MAX) {
        err = osc_ctx_fail(&ctx, OSC_E_HEADERS_TOO_LARGE,
                           "The request line and headers exceed %zu bytes.", OSC_HEADERS_MAX);
    } else if (head.records > OSC_HEADER_FIELDS_MAX) {
        err = osc_ctx_fail(&ctx, OSC_E_HEADERS_TOO_LARGE,
                           "The request has more than %d header fields (a comma-separated "
                           "value counts as one field per element).",
                           OSC_HEADER_FIELDS_MAX);
    } else if (!err && !rt && allow[0]) {
        u_map_put(resp->map_header, "Allow", allow);
        err = osc_ctx_fail(&ctx, OSC_E_METHOD, "The method %.16s is not allowed for %.200s.",
                           r.method, r.raw_path);
    } else if (!rt) {
        err = osc_ctx_fail(&ctx, OSC_E_NOT_FOUND, "The resource could not be found.");
    } else {
        /* rt is set only when the path split cleanly, so err is OSC_OK here. */
        r.route = rt->path;
        memset(r.params, 0, sizeof(r.params));
        match(rt, &r);
        if (r.body_len > OSC_JSON_BODY_MAX && r.surface != OSC_SURFACE_AWS)
            err = osc_ctx_fail(&ctx, OSC_E_TOO_LARGE, "The request body exceeds %zu bytes.",
                               OSC_JSON_BODY_MAX);
        if (!err && rt->auth == AUTH_TOKEN)
            err = authenticate(app, &ctx, &r);
        if (!err)
            err = rt->handler(app, &ctx, &r, resp);
    }
    if (err) {
        char *base = ctx.caller.method == OSC_AUTH_NONE ? osc_base_url(app, &r) : NULL;
        osc_resp_error(&ctx, r.surface, err, base, resp);
        free(base);
    }
    osc_resp_common_headers(&ctx, resp);
    if (close_after)
        u_map_put(resp->map_header, "Connection", "close");

    {
        char remote[64];
        int quiet = r.surface == OSC_SURFACE_PLAIN && !err;
        int64_t duration_us = osc_mono_us() - t0;
        struct osc_access_entry e = {
            .request_id = ctx.request_id,
            .method = r.method,
            .route = r.route,
            .status = (int)resp->status,
            .duration_us = duration_us,
            .caller_id = ctx.caller.method != OSC_AUTH_NONE ? ctx.caller.id : NULL,
            .principal_kind = ctx.caller.method == OSC_AUTH_NONE ? NULL
                              : ctx.caller.kind == OSC_KIND_USER ? "user"
                                                                 : "service_account",
            .remote = remote,
            .error = err ? osc_err_name(err) : NULL,
            .detail = ctx.detail,
        };
        remote_address(u, remote, sizeof(remote));
        osc_log_access(&e, quiet);
        osc_metrics_request(r.surface == OSC_SURFACE_IAM     ? "iam"
                            : r.surface == OSC_SURFACE_PLAIN ? "plain"
                            : r.surface == OSC_SURFACE_AWS   ? "aws"
                                                             : "keystone",
                            r.route, r.method, (int)resp->status, duration_us);
    }
    for (int i = 0; i < r.nsegs; i++)
        free(r.segs[i]);
    osc_log_bind_request(NULL); /* ctx, which holds the id, ends here */
    return U_CALLBACK_COMPLETE;
}

int osc_router_callback(const struct _u_request *u, struct _u_response *resp, void *user_data)
{
    struct osc_app *app = user_data;
    int rc = dispatch(u, resp, app);

    if (atomic_load_explicit(&app->draining, memory_order_relaxed))
        u_map_put(resp->map_header, "Connection", "close");
    return rc;
}
