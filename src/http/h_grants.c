/* Role grant routes, the same for users and service accounts:
 * /v3/domains/{domain_id}/{users|service_accounts}/{id}/roles[/{role}]. */
#include "http.h"
#include "oscred/validate.h"

static const char *const NO_QUERY[] = {NULL};

/* Ids that cannot exist are 404 without a lookup. */
static osc_err grant_path(struct osc_ctx *ctx, enum osc_kind kind, struct osc_req *r)
{
    osc_err err = osc_req_query_only(ctx, r, NO_QUERY);

    if (!err && !osc_valid_id(r->params[0]))
        err = osc_ctx_fail(ctx, OSC_E_NOT_FOUND, "Could not find domain: %.64s.", r->params[0]);
    if (!err && !osc_valid_id(r->params[1]))
        err = osc_ctx_fail(ctx, OSC_E_NOT_FOUND, "Could not find %s: %.64s.",
                           kind == OSC_KIND_USER ? "user" : "service account", r->params[1]);
    return err;
}

static osc_err roles_list(enum osc_kind kind, struct osc_app *app, struct osc_ctx *ctx,
                          struct osc_req *r, struct _u_response *resp)
{
    unsigned roles = 0;
    json_t *j_roles;
    osc_err err = grant_path(ctx, kind, r);

    if (!err)
        err = osc_role_list(app, ctx, kind, r->params[0], r->params[1], &roles);
    if (err)
        return err;
    j_roles = json_array();
    for (unsigned bit = OSC_ROLE_ADMIN; bit <= OSC_ROLE_SECURITY_ADMIN; bit <<= 1) {
        if (roles & bit)
            json_array_append_new(j_roles, json_pack("{s:s, s:s}", "id", osc_role_id(bit), "name",
                                                     osc_role_name(bit)));
    }
    return osc_resp_json(resp, 200, json_pack("{s:o}", "roles", j_roles));
}

static osc_err role_grant(enum osc_kind kind, struct osc_app *app, struct osc_ctx *ctx,
                          struct osc_req *r, struct _u_response *resp)
{
    osc_err err = grant_path(ctx, kind, r);

    if (!err)
        err = osc_role_grant(app, ctx, kind, r->params[0], r->params[1], r->params[2]);
    if (!err)
        osc_resp_empty(resp, 204);
    return err;
}

static osc_err role_check(enum osc_kind kind, struct osc_app *app, struct osc_ctx *ctx,
                          struct osc_req *r, struct _u_response *resp)
{
    unsigned roles = 0, bit = osc_role_parse(r->params[2]);
    osc_err err = grant_path(ctx, kind, r);

    if (!err)
        err = osc_role_list(app, ctx, kind, r->params[0], r->params[1], &roles);
    if (!err && (!bit || !(roles & bit)))
        err = osc_ctx_fail(ctx, OSC_E_NOT_FOUND, "Could not find role assignment: %.64s.",
                           r->params[2]);
    if (!err)
        osc_resp_empty(resp, 204);
    return err;
}

static osc_err role_revoke(enum osc_kind kind, struct osc_app *app, struct osc_ctx *ctx,
                           struct osc_req *r, struct _u_response *resp)
{
    osc_err err = grant_path(ctx, kind, r);

    if (!err)
        err = osc_role_revoke(app, ctx, kind, r->params[0], r->params[1], r->params[2]);
    if (!err)
        osc_resp_empty(resp, 204);
    return err;
}

#define GRANT_ROUTES(prefix, kind)                                                                 \
    osc_err osc_h_##prefix##roles_list(struct osc_app *app, struct osc_ctx *ctx,                  \
                                       struct osc_req *r, struct _u_response *resp)               \
    {                                                                                              \
        return roles_list(kind, app, ctx, r, resp);                                                \
    }                                                                                              \
    osc_err osc_h_##prefix##role_grant(struct osc_app *app, struct osc_ctx *ctx,                  \
                                       struct osc_req *r, struct _u_response *resp)               \
    {                                                                                              \
        return role_grant(kind, app, ctx, r, resp);                                                \
    }                                                                                              \
    osc_err osc_h_##prefix##role_check(struct osc_app *app, struct osc_ctx *ctx,                  \
                                       struct osc_req *r, struct _u_response *resp)               \
    {                                                                                              \
        return role_check(kind, app, ctx, r, resp);                                                \
    }                                                                                              \
    osc_err osc_h_##prefix##role_revoke(struct osc_app *app, struct osc_ctx *ctx,                 \
                                        struct osc_req *r, struct _u_response *resp)              \
    {                                                                                              \
        return role_revoke(kind, app, ctx, r, resp);                                               \
    }

GRANT_ROUTES(, OSC_KIND_USER)
GRANT_ROUTES(sa_, OSC_KIND_SERVICE_ACCOUNT)
