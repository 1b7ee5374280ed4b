/* Service accounts: principals that hold keys and nothing else (no password, no token). The
 * domain's admin creates, changes and deletes them; admin and security_admin read them; an
 * account may read itself. Its keys go through cred.c like anyone's. */
#include <stdio.h>
#include <strings.h>

#include "common.h"
#include "oscred/policy.h"
#include "oscred/service.h"

static osc_err sa_not_found(struct osc_ctx *ctx, const char *what)
{
    return osc_ctx_fail(ctx, OSC_E_NOT_FOUND, "Could not find service account: %s.", what);
}

osc_err osc_svcacct_create(struct osc_app *app, struct osc_ctx *ctx, const struct osc_sa_spec *spec,
                           struct osc_service_account *out)
{
    struct osc_audit a = audit_of(ctx);
    enum osc_kind holder = OSC_KIND_USER;
    struct osc_new_sa n = {spec->name, spec->description,  spec->enabled,
                           spec->path, spec->trust_policy, spec->max_session_duration,
                           spec->tags, spec->ntags};
    osc_err err = osc_policy_admin_principals(&ctx->caller);

    if (err)
        return osc_ctx_fail(ctx, err, MSG_FORBIDDEN);
    uint64_t ticket = osc_pcache_ticket(app->pcache);
    err = osc_store_create_service_account(app->store, &a, ctx->caller.domain_id, &n, out, &holder);
    if (err == OSC_E_CONFLICT)
        return osc_ctx_fail(ctx, err, "a %s named %s already exists in this domain",
                            holder == OSC_KIND_SERVICE_ACCOUNT ? "service account" : "user",
                            spec->name);
    if (err == OSC_E_INVALID_INPUT)
        return osc_ctx_fail(ctx, err, OSC_MSG_DUPLICATE_TAG_KEYS);
    if (!err)
        err = osc_pcache_put(app->pcache, &out->p, ticket);
    return err;
}

osc_err osc_svcacct_get(struct osc_app *app, struct osc_ctx *ctx, const char *id,
                        struct osc_service_account *out)
{
    osc_err err = osc_policy_read_principal(&ctx->caller, id);

    if (err)
        return osc_ctx_fail(ctx, err, MSG_FORBIDDEN);
    err = osc_store_get_service_account(app->store, ctx->caller.domain_id, id, out);
    if (err == OSC_E_NOT_FOUND)
        return sa_not_found(ctx, id);
    return err;
}

osc_err osc_svcacct_find(struct osc_app *app, struct osc_ctx *ctx, const char *name,
                         struct osc_service_account *out)
{
    osc_err err = OSC_OK;

    /* Reading itself needs no grant; any other name needs one, whether or not it exists. */
    if (strcasecmp(name, ctx->caller.name) != 0) {
        err = osc_policy_read_principal(&ctx->caller, NULL);
        if (err)
            return osc_ctx_fail(ctx, err, MSG_FORBIDDEN);
    }
    err = osc_store_find_service_account(app->store, ctx->caller.domain_id, name, out);
    if (err == OSC_E_NOT_FOUND)
        return sa_not_found(ctx, name);
    return err;
}

osc_err osc_svcacct_list(struct osc_app *app, struct osc_ctx *ctx, const char *path_prefix,
                         const char *after_lower_name, const char *after_id, int limit,
                         struct osc_service_account **out, size_t *n)
{
    osc_err err = osc_policy_read_principal(&ctx->caller, NULL);

    if (err)
        return osc_ctx_fail(ctx, err, MSG_FORBIDDEN);
    return osc_store_list_service_accounts(app->store, ctx->caller.domain_id, path_prefix,
                                           after_lower_name, after_id, limit, out, n);
}

osc_err osc_svcacct_update(struct osc_app *app, struct osc_ctx *ctx, const char *id, int enabled,
                           const char *description, struct osc_service_account *out)
{
    struct osc_audit a = audit_of(ctx);
    osc_err err = osc_policy_admin_principals(&ctx->caller);

    if (err)
        return osc_ctx_fail(ctx, err, MSG_FORBIDDEN);
    uint64_t ticket = osc_pcache_ticket(app->pcache);
    err = osc_store_update_service_account(app->store, &a, ctx->caller.domain_id, id, enabled,
                                           description, out);
    if (err == OSC_E_NOT_FOUND)
        return sa_not_found(ctx, id);
    if (!err)
        err = osc_pcache_put(app->pcache, &out->p, ticket);
    return err;
}

osc_err osc_svcacct_delete(struct osc_app *app, struct osc_ctx *ctx, const char *id)
{
    struct osc_audit a = audit_of(ctx);
    osc_err err = osc_policy_admin_principals(&ctx->caller);

    if (err)
        return osc_ctx_fail(ctx, err, MSG_FORBIDDEN);
    err = osc_store_delete_principal(app->store, &a, ctx->caller.domain_id, id,
                                     OSC_KIND_SERVICE_ACCOUNT);
    if (err == OSC_E_NOT_FOUND)
        return sa_not_found(ctx, id);
    if (!err)
        err = osc_pcache_remove(app->pcache, id);
    return err;
}

osc_err osc_svcacct_delete_without_keys(struct osc_app *app, struct osc_ctx *ctx, const char *id)
{
    struct osc_audit a = audit_of(ctx);
    osc_err err = osc_policy_admin_principals(&ctx->caller);

    if (err)
        return osc_ctx_fail(ctx, err, MSG_FORBIDDEN);
    err = osc_store_delete_without_keys(app->store, &a, ctx->caller.domain_id, id,
                                        OSC_KIND_SERVICE_ACCOUNT);
    if (err == OSC_E_DELETE_CONFLICT)
        return osc_ctx_fail(ctx, err, "Cannot delete entity, must delete access keys first.");
    if (err == OSC_E_NOT_FOUND)
        return sa_not_found(ctx, id);
    if (!err)
        err = osc_pcache_remove(app->pcache, id);
    return err;
}
