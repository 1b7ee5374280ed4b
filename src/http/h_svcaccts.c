/* /v3/service_accounts and their role grant routes (role-keys.md §6), in Keystone's shapes. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "oscred/validate.h"

static const char *const NO_QUERY[] = {NULL};
static const char *const SA_TOP[] = {"service_account", NULL};
static const char *const NAME_QUERY[] = {"name", NULL};
static const char *const CREATE_FIELDS[] = {"name", "description", "enabled", "domain_id", NULL};
static const char *const UPDATE_FIELDS[] = {"description", "enabled", NULL};
static const char *const IMMUTABLE_FIELDS[] = {"name", "path", "id", "domain_id", NULL};

/* New reference. */
static json_t *sa_json(const struct osc_service_account *sa)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:b, s:s, s:o}", "id", sa->p.id, "name", sa->p.name,
                     "domain_id", sa->p.domain_id, "description", sa->description, "enabled",
                     sa->p.enabled, "path", sa->p.path, "created_at",
                     osc_json_time_us(sa->p.created_us));
}

static osc_err valid_sa_id(struct osc_ctx *ctx, const char *id)
{
    if (!osc_valid_id(id))
        return osc_ctx_fail(ctx, OSC_E_NOT_FOUND, "Could not find service account: %.64s.", id);
    return OSC_OK;
}

static osc_err description_field(struct osc_ctx *ctx, json_t *j, const char **out)
{
    osc_err err = osc_json_string(ctx, j, "description", 0, out);

    if (!err && *out && !osc_valid_text(*out, OSC_SA_DESC_MAX))
        err = osc_ctx_fail(ctx, OSC_E_INVALID,
                           "Invalid input for field 'description': at most 1000 characters, no "
                           "control characters.");
    return err;
}

osc_err osc_h_sa_create(struct osc_app *app, struct osc_ctx *ctx, struct osc_req *r,
                        struct _u_response *resp)
{
    osc_err err = OSC_OK;
    json_t *j_body = NULL, *j_sa = NULL;
    const char *name = NULL, *description = NULL, *domain_id = NULL;
    int enabled = -1;
    struct osc_service_account sa = {0};

    err = osc_req_query_only(ctx, r, NO_QUERY);
    if (!err)
        err = osc_req_json(ctx, r, &j_body);
    if (!err)
        err = osc_json_only(ctx, j_body, "the request body", SA_TOP);
    if (!err)
        err = osc_json_object(ctx, j_body, "service_account", &j_sa);
    if (!err)
        err = osc_json_only(ctx, j_sa, "service_account", CREATE_FIELDS);
    if (!err)
        err = osc_json_string(ctx, j_sa, "name", 1, &name);
    if (!err && !osc_valid_name(name))
        err = osc_ctx_fail(ctx, OSC_E_INVALID,
                           "Invalid input for field 'name': 1 to 64 characters of "
                           "[A-Za-z0-9_+=,.@-].");
    if (!err)
        err = description_field(ctx, j_sa, &description);
    if (!err)
        err = osc_json_bool(ctx, j_sa, "enabled", &enabled);
    if (!err)
        err = osc_json_string(ctx, j_sa, "domain_id", 0, &domain_id);
    if (!err && domain_id && strcmp(domain_id, ctx->caller.domain_id) != 0)
        err = osc_ctx_fail(ctx, OSC_E_FORBIDDEN,
                           "Service accounts can only be created in your own domain.");
    if (!err) {
        struct osc_sa_spec spec = {name, description, enabled != 0, NULL, NULL, 3600, NULL, 0};
        err = osc_svcacct_create(app, ctx, &spec, &sa);
    }
    if (!err)
        err = osc_resp_json(resp, 201, json_pack("{s:o}", "service_account", sa_json(&sa)));
    osc_service_account_cleanup(&sa);
    json_decref(j_body);
    return err;
}

osc_err osc_h_sa_list(struct osc_app *app, struct osc_ctx *ctx, struct osc_req *r,
                      struct _u_response *resp)
{
    osc_err err = OSC_OK;
    char *name = NULL;
    struct osc_service_account *list = NULL, one = {0};
    size_t n = 0;
    json_t *j_list = json_array();

    err = osc_req_query_only(ctx, r, NAME_QUERY);
    if (!err && osc_req_query(r, "name", &name))
        err = osc_ctx_fail(ctx, OSC_E_INVALID, "Invalid query parameter 'name'.");
    if (!err && name) {
        err = osc_svcacct_find(app, ctx, name, &one);
        if (!err)
            json_array_append_new(j_list, sa_json(&one));
        else if (err == OSC_E_NOT_FOUND)
            err = OSC_OK; /* a filter that matches nothing is an empty list */
        ctx->msg[0] = '\0';
    } else if (!err) {
        /* The whole list, as /v3/users answers (role-keys.md §6.1 has no paging here). */
        err = osc_svcacct_list(app, ctx, "/", NULL, NULL, INT_MAX, &list, &n);
        for (size_t i = 0; !err && i < n; i++)
            json_array_append_new(j_list, sa_json(&list[i]));
    }
    if (!err)
        err = osc_resp_json(resp, 200, json_pack("{s:O}", "service_accounts", j_list));
    for (size_t i = 0; i < n; i++)
        osc_service_account_cleanup(&list[i]);
    free(list);
    osc_service_account_cleanup(&one);
    json_decref(j_list);
    free(name);
    return err;
}

osc_err osc_h_sa_get(struct osc_app *app, struct osc_ctx *ctx, struct osc_req *r,
                     struct _u_response *resp)
{
    osc_err err = OSC_OK;
    struct osc_service_account sa = {0};

    err = osc_req_query_only(ctx, r, NO_QUERY);
    if (!err)
        err = valid_sa_id(ctx, r->params[0]);
    if (!err)
        err = osc_svcacct_get(app, ctx, r->params[0], &sa);
    if (!err)
        err = osc_resp_json(resp, 200, json_pack("{s:o}", "service_account", sa_json(&sa)));
    osc_service_account_cleanup(&sa);
    return err;
}

osc_err osc_h_sa_update(struct osc_app *app, struct osc_ctx *ctx, struct osc_req *r,
                        struct _u_response *resp)
{
    osc_err err = OSC_OK;
    json_t *j_body = NULL, *j_sa = NULL;
    const char *description = NULL;
    int enabled = -1;
    struct osc_service_account sa = {0};

    err = osc_req_query_only(ctx, r, NO_QUERY);
    if (!err)
        err = valid_sa_id(ctx, r->params[0]);
    if (!err)
        err = osc_req_json(ctx, r, &j_body);
    if (!err)
        err = osc_json_only(ctx, j_body, "the request body", SA_TOP);
    if (!err)
        err = osc_json_object(ctx, j_body, "service_account", &j_sa);
    for (const char *const *f = IMMUTABLE_FIELDS; !err && *f; f++) {
        if (json_object_get(j_sa, *f))
            err = osc_ctx_fail(ctx, OSC_E_INVALID, "'%s' cannot be changed.", *f);
    }
    if (!err)
        err = osc_json_only(ctx, j_sa, "service_account", UPDATE_FIELDS);
    if (!err)
        err = description_field(ctx, j_sa, &description);
    if (!err)
        err = osc_json_bool(ctx, j_sa, "enabled", &enabled);
    if (!err)
        err = osc_svcacct_update(app, ctx, r->params[0], enabled, description, &sa);
    if (!err)
        err = osc_resp_json(resp, 200, json_pack("{s:o}", "service_account", sa_json(&sa)));
    osc_service_account_cleanup(&sa);
    json_decref(j_body);
    return err;
}

osc_err osc_h_sa_delete(struct osc_app *app, struct osc_ctx *ctx, struct osc_req *r,
                        struct _u_response *resp)
{
    osc_err err = OSC_OK;

    err = osc_req_query_only(ctx, r, NO_QUERY);
    if (!err)
        err = valid_sa_id(ctx, r->params[0]);
    if (!err)
        err = osc_svcacct_delete(app, ctx, r->params[0]);
    if (!err)
        osc_resp_empty(resp, 204);
    return err;
}
