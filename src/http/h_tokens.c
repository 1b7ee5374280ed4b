/* /v3/auth/tokens: issue with the password method, validate, revoke (Keystone v3 shapes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "oscred/jsonw.h"
#include "oscred/metrics.h"
#include "oscred/validate.h"

static const char *const NO_QUERY[] = {NULL};
static const char *const NOCATALOG[] = {"nocatalog", NULL};

/* Sends the {"token": {...}} body of a token. Formatted directly: it answers every token
 * validation, where a jansson tree would cost more than the rest of the request. */
static osc_err send_token_body(struct osc_app *app, struct osc_req *r,
                               const struct osc_token_info *ti, int catalog, int status,
                               struct _u_response *resp)
{
    const struct osc_pcache_entry *p = &ti->principal;
    const struct osc_token *t = &ti->token;
    char buf[4096], expires[40], issued[40];
    struct osc_jsonw w;
    int first_role = 1;

    osc_format_time_us(t->expires_us, expires, sizeof(expires));
    osc_format_time_us(t->issued_us, issued, sizeof(issued));
    osc_jsonw_init(&w, buf, sizeof(buf));
    osc_jsonw_raw(&w, "{\"token\":{\"methods\":[\"password\"],");
    osc_jsonw_field(&w, "expires_at", expires, 1);
    osc_jsonw_field(&w, "issued_at", issued, 0);
    osc_jsonw_raw(&w, ",\"audit_ids\":[");
    osc_jsonw_string(&w, t->id);
    osc_jsonw_raw(&w, "],\"user\":{");
    osc_jsonw_field(&w, "id", p->id, 1);
    osc_jsonw_field(&w, "name", p->name, 0);
    osc_jsonw_raw(&w, ",\"password_expires_at\":null,\"domain\":{");
    osc_jsonw_field(&w, "id", p->domain_id, 1);
    osc_jsonw_field(&w, "name", p->domain_name, 0);
    osc_jsonw_raw(&w, "}}");
    if (t->scope == OSC_SCOPE_DOMAIN) {
        osc_jsonw_raw(&w, ",\"domain\":{");
        osc_jsonw_field(&w, "id", p->domain_id, 1);
        osc_jsonw_field(&w, "name", p->domain_name, 0);
        osc_jsonw_raw(&w, "},\"roles\":[");
        for (unsigned bit = OSC_ROLE_ADMIN; bit <= OSC_ROLE_SECURITY_ADMIN; bit <<= 1) {
            if (!(p->roles & bit))
                continue;
            osc_jsonw_raw(&w, first_role ? "{" : ",{");
            osc_jsonw_field(&w, "id", osc_role_id(bit), 1);
            osc_jsonw_field(&w, "name", osc_role_name(bit), 0);
            osc_jsonw_raw(&w, "}");
            first_role = 0;
        }
        osc_jsonw_raw(&w, "]");
    }
    if (catalog) {
        char url[600];
        char *base = osc_base_url(app, r);
        snprintf(url, sizeof(url), "%s/v3", base ? base : "");
        free(base);
        osc_jsonw_raw(&w, ",\"catalog\":[{\"type\":\"identity\",\"id\":"
                          "\"3b7ac5d1a0a64a5fb2a3a5c0b3f3c1d9\",\"name\":\"iam\",\"endpoints\":[{");
        osc_jsonw_field(&w, "url", url, 1);
        osc_jsonw_raw(&w, ",\"region\":\"*\",\"region_id\":\"*\",\"interface\":\"public\","
                          "\"id\":\"0c8e0e4b51a44c3c9f0e6a1f2b3c4d5e\"}]}]");
    }
    osc_jsonw_raw(&w, "}}");
    if (w.overflow)
        return OSC_E_INTERNAL;
    osc_resp_json_text(resp, status, buf, w.n);
    return OSC_OK;
}

static osc_err want_catalog(struct osc_ctx *ctx, struct osc_req *r, int *catalog)
{
    char *v = NULL;
    osc_err err = osc_req_query_only(ctx, r, NOCATALOG);

    if (!err)
        err = osc_req_query(r, "nocatalog", &v);
    if (err)
        return osc_ctx_fail(ctx, OSC_E_INVALID, "Invalid query string.");
    *catalog = v == NULL;
    free(v);
    return OSC_OK;
}

/* Parses {"auth": {"identity": {"methods": ["password"], "password": {"user": ...}}, "scope"}}. */
static osc_err parse_auth(struct osc_ctx *ctx, json_t *j_body, struct osc_password_auth *pa)
{
    json_t *j_auth, *j_ident, *j_methods, *j_pw, *j_user, *j_dom, *j_scope;
    osc_err err;

    memset(pa, 0, sizeof(*pa));
    err = osc_json_object(ctx, j_body, "auth", &j_auth);
    if (!err)
        err = osc_json_object(ctx, j_auth, "identity", &j_ident);
    if (err)
        return err;
    j_methods = json_object_get(j_ident, "methods");
    if (!json_is_array(j_methods) || json_array_size(j_methods) != 1 ||
        !json_is_string(json_array_get(j_methods, 0)))
        return osc_ctx_fail(ctx, OSC_E_INVALID, "'methods' must be [\"password\"].");
    if (strcmp(json_string_value(json_array_get(j_methods, 0)), "password") != 0)
        return osc_ctx_fail(ctx, OSC_E_INVALID, "Unsupported authentication method: %.32s.",
                            json_string_value(json_array_get(j_methods, 0)));
    err = osc_json_object(ctx, j_ident, "password", &j_pw);
    if (!err)
        err = osc_json_object(ctx, j_pw, "user", &j_user);
    if (!err)
        err = osc_json_string(ctx, j_user, "id", 0, &pa->user_id);
    if (!err)
        err = osc_json_string(ctx, j_user, "name", 0, &pa->user_name);
    if (!err)
        err = osc_json_string(ctx, j_user, "password", 1, &pa->password);
    if (err)
        return err;
    pa->password_len = json_string_length(json_object_get(j_user, "password"));
    if (!pa->user_id && !pa->user_name)
        return osc_ctx_fail(ctx, OSC_E_INVALID, "'user' needs an 'id' or a 'name'.");
    if (!pa->user_id) {
        err = osc_json_object(ctx, j_user, "domain", &j_dom);
        if (!err)
            err = osc_json_string(ctx, j_dom, "id", 0, &pa->domain_id);
        if (!err)
            err = osc_json_string(ctx, j_dom, "name", 0, &pa->domain_name);
        if (err)
            return err;
        if (!pa->domain_id && !pa->domain_name)
            return osc_ctx_fail(ctx, OSC_E_INVALID, "'domain' needs an 'id' or a 'name'.");
        if (pa->domain_id)
            pa->domain_name = NULL;
    }
    j_scope = json_object_get(j_auth, "scope");
    if (j_scope && !json_is_null(j_scope) &&
        !(json_is_string(j_scope) && strcmp(json_string_value(j_scope), "unscoped") == 0)) {
        if (!json_is_object(j_scope))
            return osc_ctx_fail(ctx, OSC_E_INVALID, "Invalid input for field 'scope'.");
        if (json_object_get(j_scope, "project") || json_object_get(j_scope, "system"))
            return osc_ctx_fail(ctx, OSC_E_INVALID, "Only domain scope is supported.");
        err = osc_json_object(ctx, j_scope, "domain", &j_dom);
        if (!err)
            err = osc_json_string(ctx, j_dom, "id", 0, &pa->scope_domain_id);
        if (!err)
            err = osc_json_string(ctx, j_dom, "name", 0, &pa->scope_domain_name);
        if (err)
            return err;
        if (!pa->scope_domain_id && !pa->scope_domain_name)
            return osc_ctx_fail(ctx, OSC_E_INVALID, "'domain' needs an 'id' or a 'name'.");
        pa->scoped = 1;
    }
    return OSC_OK;
}

/* Names and ids that cannot exist get the same 401 as wrong credentials, without a lookup. */
static int plausible(const struct osc_password_auth *pa)
{
    return (!pa->user_id || osc_valid_id(pa->user_id)) &&
           (!pa->user_name || osc_valid_name(pa->user_name)) &&
           (!pa->domain_id || osc_valid_id(pa->domain_id)) &&
           (!pa->domain_name || osc_valid_name(pa->domain_name)) &&
           osc_valid_password(pa->password, pa->password_len);
}

osc_err osc_h_token_issue(struct osc_app *app, struct osc_ctx *ctx, struct osc_req *r,
                          struct _u_response *resp)
{
    osc_err err = OSC_OK;
    json_t *j_body = NULL;
    struct osc_password_auth pa;
    struct osc_token_info ti;
    int catalog = 1;

    err = want_catalog(ctx, r, &catalog);
    if (!err)
        err = osc_req_json(ctx, r, &j_body);
    if (!err)
        err = parse_auth(ctx, j_body, &pa);
    if (err)
        goto out;
    if (!plausible(&pa)) {
        osc_metrics_auth_failure("password_refused");
        err = osc_ctx_fail(ctx, OSC_E_UNAUTHENTICATED,
                           "The request you have made requires authentication.");
        goto out;
    }
    err = osc_tokens_issue(app, ctx, &pa, &ti);
    if (err == OSC_E_UNAUTHENTICATED)
        osc_metrics_auth_failure("password_refused");
    if (err)
        goto out;
    u_map_put(resp->map_header, "X-Subject-Token", ti.encoded);
    err = send_token_body(app, r, &ti, catalog, 201, resp);
out:
    json_decref(j_body);
    return err;
}

static osc_err subject_token(struct osc_ctx *ctx, struct osc_req *r, const char **out)
{
    int count = 0;
    const char *s = osc_req_header(r, "X-Subject-Token", &count);

    if (count != 1 || !s[0])
        return osc_ctx_fail(ctx, OSC_E_INVALID, "The request needs exactly one X-Subject-Token.");
    *out = s;
    return OSC_OK;
}

osc_err osc_h_token_check(struct osc_app *app, struct osc_ctx *ctx, struct osc_req *r,
                          struct _u_response *resp)
{
    osc_err err = OSC_OK;
    const char *subject = NULL;
    struct osc_token_info ti;
    int catalog = 1;

    err = want_catalog(ctx, r, &catalog);
    if (!err)
        err = subject_token(ctx, r, &subject);
    if (!err)
        err = osc_tokens_check(app, ctx, subject, &ti);
    if (err)
        return err;
    u_map_put(resp->map_header, "X-Subject-Token", ti.encoded);
    if (strcmp(r->method, "HEAD") == 0) {
        osc_resp_empty(resp, 200);
        return OSC_OK;
    }
    return send_token_body(app, r, &ti, catalog, 200, resp);
}

osc_err osc_h_token_revoke(struct osc_app *app, struct osc_ctx *ctx, struct osc_req *r,
                           struct _u_response *resp)
{
    osc_err err = OSC_OK;
    const char *subject = NULL;

    err = osc_req_query_only(ctx, r, NO_QUERY);
    if (!err)
        err = subject_token(ctx, r, &subject);
    if (!err)
        err = osc_tokens_revoke(app, ctx, subject);
    if (err)
        return err;
    osc_resp_empty(resp, 204);
    return OSC_OK;
}
