/* /v3/auth/tokens: issue with the password method, validate, revoke (Keystone v3 shapes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "oscred/metrics.h"
#include "oscred/validate.h"

static const char *const NO_QUERY[] = {NULL};
static const char *const NOCATALOG[] = {"nocatalog", NULL};

/* New reference: the {"token": {...}} body of a token. */
static json_t *token_body(struct osc_app *app, struct osc_req *r, const struct osc_token_info *ti,
                          int catalog)
{
    const struct osc_pcache_entry *p = &ti->principal;
    const struct osc_token *t = &ti->token;
    char *base = NULL;
    json_t *j_tok = json_pack("{s:[s], s:o, s:o, s:[s], s:{s:s, s:s, s:n, s:{s:s, s:s}}}",
                              "methods", "password", "expires_at", osc_json_time_us(t->expires_us),
                              "issued_at", osc_json_time_us(t->issued_us), "audit_ids", t->id,
                              "user", "id", p->id, "name", p->name, "password_expires_at", "domain",
                              "id", p->domain_id, "name", p->domain_name);

    if (!j_tok)
        goto out;
    if (t->scope == OSC_SCOPE_DOMAIN) {
        json_t *j_roles = json_array();
        for (unsigned bit = OSC_ROLE_ADMIN; bit <= OSC_ROLE_SECURITY_ADMIN; bit <<= 1) {
            if (p->roles & bit)
                json_array_append_new(j_roles, json_pack("{s:s, s:s}", "id", osc_role_id(bit),
                                                         "name", osc_role_name(bit)));
        }
        json_object_set_new(j_tok, "domain",
                            json_pack("{s:s, s:s}", "id", p->domain_id, "name", p->domain_name));
        json_object_set_new(j_tok, "roles", j_roles);
    }
    if (catalog) {
        char url[600];
        base = osc_base_url(app, r);
        snprintf(url, sizeof(url), "%s/v3", base ? base : "");
        json_object_set_new(j_tok, "catalog",
                            json_pack("[{s:s, s:s, s:s, s:[{s:s, s:s, s:s, s:s, s:s}]}]", "type",
                                      "identity", "id", "3b7ac5d1a0a64a5fb2a3a5c0b3f3c1d9", "name",
                                      "iam", "endpoints", "url", url, "region", "*", "region_id",
                                      "*", "interface", "public", "id",
                                      "0c8e0e4b51a44c3c9f0e6a1f2b3c4d5e"));
    }
out:
    free(base);
    return j_tok ? json_pack("{s:o}", "token", j_tok) : NULL;
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
    err = osc_resp_json(resp, 201, token_body(app, r, &ti, catalog));
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
    return osc_resp_json(resp, 200, token_body(app, r, &ti, catalog));
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
