/* /v3/users and the role grant routes (Keystone shapes), always in the caller's domain. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "oscred/validate.h"

static const char *const NO_QUERY[] = {NULL};
static const char *const USER_TOP[] = {"user", NULL};
static const char *const NAME_QUERY[] = {"name", NULL};
static const char *const CREATE_FIELDS[] = {"name", "password", "enabled", "domain_id", NULL};
static const char *const UPDATE_FIELDS[] = {"enabled", "password", NULL};

/* New reference: the Keystone user object. */
static json_t *user_json(struct osc_app *app, struct osc_req *r, const struct osc_principal *p)
{
    char *base = osc_base_url(app, r);
    char self[700];
    json_t *j;

    snprintf(self, sizeof(self), "%s/v3/users/%s", base ? base : "", p->id);
    free(base);
    j = json_pack("{s:s, s:s, s:s, s:b, s:n, s:{s:s}}", "id", p->id, "name", p->name, "domain_id",
                  p->domain_id, "enabled", p->enabled, "password_expires_at", "links", "self",
                  self);
    return j;
}

static osc_err valid_user_id(struct osc_ctx *ctx, const char *id)
{
    /* An id that cannot exist is reported like one that does not. */
    if (!osc_valid_id(id))
        return osc_ctx_fail(ctx, OSC_E_NOT_FOUND, "Could not find user: %.64s.", id);
    return OSC_OK;
}

static osc_err password_field(struct osc_ctx *ctx, json_t *j_user, const char **out)
{
    osc_err err = osc_json_string(ctx, j_user, "password", 0, out);

    if (!err && *out && !osc_valid_password(*out, strlen(*out)))
        err = osc_ctx_fail(ctx, OSC_E_INVALID,
                           "Invalid input for field 'password': 1 to 1024 bytes of UTF-8.");
    return err;
}

osc_err osc_h_users_create(struct osc_app *app, struct osc_ctx *ctx, struct osc_req *r,
                           struct _u_response *resp)
{
    osc_err err = OSC_OK;
    json_t *j_body = NULL, *j_user = NULL;
    const char *name = NULL, *password = NULL, *domain_id = NULL;
    int enabled = -1;
    struct osc_principal p = {0};

    err = osc_req_query_only(ctx, r, NO_QUERY);
    if (!err)
        err = osc_req_json(ctx, r, &j_body);
    if (!err)
        err = osc_json_only(ctx, j_body, "the request body", USER_TOP);
    if (!err)
        err = osc_json_object(ctx, j_body, "user", &j_user);
    if (!err)
        err = osc_json_only(ctx, j_user, "user", CREATE_FIELDS);
    if (!err)
        err = osc_json_string(ctx, j_user, "name", 1, &name);
    if (!err)
        err = password_field(ctx, j_user, &password);
    if (!err)
        err = osc_json_bool(ctx, j_user, "enabled", &enabled);
    if (!err)
        err = osc_json_string(ctx, j_user, "domain_id", 0, &domain_id);
    if (err)
        goto out;
    if (!osc_valid_name(name)) {
        err = osc_ctx_fail(ctx, OSC_E_INVALID,
                           "Invalid input for field 'name': 1 to 64 characters of "
                           "[A-Za-z0-9_+=,.@-].");
        goto out;
    }
    if (domain_id && strcmp(domain_id, ctx->caller.domain_id) != 0) {
        err = osc_ctx_fail(ctx, OSC_E_FORBIDDEN, "Users can only be created in your own domain.");
        goto out;
    }
    struct osc_user_spec spec = {name, password, enabled != 0, NULL, NULL, 0};
    err = osc_user_create(app, ctx, &spec, &p);
    if (!err)
        err = osc_resp_json(resp, 201, json_pack("{s:o}", "user", user_json(app, r, &p)));
out:
    osc_principal_cleanup(&p);
    json_decref(j_body);
    return err;
}

osc_err osc_h_users_list(struct osc_app *app, struct osc_ctx *ctx, struct osc_req *r,
                         struct _u_response *resp)
{
    osc_err err = OSC_OK;
    char *name = NULL, *base = NULL;
    struct osc_principal *list = NULL;
    size_t n = 0;
    json_t *j_users = NULL;
    char self[700];

    err = osc_req_query_only(ctx, r, NAME_QUERY);
    if (err)
        goto out;
    if (osc_req_query(r, "name", &name)) {
        err = osc_ctx_fail(ctx, OSC_E_INVALID, "Invalid query parameter 'name'.");
        goto out;
    }
    err = osc_user_list(app, ctx, name, &list, &n);
    if (err)
        goto out;
    j_users = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(j_users, user_json(app, r, &list[i]));
    base = osc_base_url(app, r);
    snprintf(self, sizeof(self), "%s/v3/users", base ? base : "");
    err = osc_resp_json(resp, 200,
                        json_pack("{s:o, s:{s:s, s:n, s:n}}", "users", j_users, "links", "self",
                                  self, "previous", "next"));
out:
    for (size_t i = 0; i < n; i++)
        osc_principal_cleanup(&list[i]);
    free(list);
    free(name);
    free(base);
    return err;
}

osc_err osc_h_user_get(struct osc_app *app, struct osc_ctx *ctx, struct osc_req *r,
                       struct _u_response *resp)
{
    osc_err err = OSC_OK;
    struct osc_principal p = {0};

    err = osc_req_query_only(ctx, r, NO_QUERY);
    if (!err)
        err = valid_user_id(ctx, r->params[0]);
    if (!err)
        err = osc_user_get(app, ctx, r->params[0], &p);
    if (err)
        goto out;
    err = osc_resp_json(resp, 200, json_pack("{s:o}", "user", user_json(app, r, &p)));
out:
    osc_principal_cleanup(&p);
    return err;
}

osc_err osc_h_user_update(struct osc_app *app, struct osc_ctx *ctx, struct osc_req *r,
                          struct _u_response *resp)
{
    osc_err err = OSC_OK;
    json_t *j_body = NULL, *j_user = NULL;
    const char *password = NULL;
    int enabled = -1;
    struct osc_principal p = {0};

    err = osc_req_query_only(ctx, r, NO_QUERY);
    if (!err)
        err = valid_user_id(ctx, r->params[0]);
    if (!err)
        err = osc_req_json(ctx, r, &j_body);
    if (!err)
        err = osc_json_only(ctx, j_body, "the request body", USER_TOP);
    if (!err)
        err = osc_json_object(ctx, j_body, "user", &j_user);
    if (!err)
        err = osc_json_only(ctx, j_user, "user", UPDATE_FIELDS);
    if (!err)
        err = password_field(ctx, j_user, &password);
    if (!err)
        err = osc_json_bool(ctx, j_user, "enabled", &enabled);
    if (err)
        goto out;
    err = osc_user_update(app, ctx, r->params[0], enabled, password, &p);
    if (!err)
        err = osc_resp_json(resp, 200, json_pack("{s:o}", "user", user_json(app, r, &p)));
out:
    osc_principal_cleanup(&p);
    json_decref(j_body);
    return err;
}

osc_err osc_h_user_delete(struct osc_app *app, struct osc_ctx *ctx, struct osc_req *r,
                          struct _u_response *resp)
{
    osc_err err = OSC_OK;

    err = osc_req_query_only(ctx, r, NO_QUERY);
    if (!err)
        err = valid_user_id(ctx, r->params[0]);
    if (!err)
        err = osc_user_delete(app, ctx, r->params[0]);
    if (err)
        return err;
    osc_resp_empty(resp, 204);
    return OSC_OK;
}
