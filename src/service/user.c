/* Users and role grants, always inside the caller's domain: a principal of another domain is
 * reported exactly like a missing one. Changes that affect authentication update the principal
 * cache right after they commit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common.h"
#include "oscred/policy.h"
#include "oscred/service.h"

static osc_err user_not_found(struct osc_ctx *ctx, const char *id)
{
    return osc_ctx_fail(ctx, OSC_E_NOT_FOUND, "Could not find user: %s.", id);
}

static osc_err hash_password(struct osc_app *app, struct osc_ctx *ctx, const char *password,
                             char **out)
{
    osc_err err = osc_password_slot_take(app, ctx);

    if (err)
        return err;
    err = osc_crypto_password_hash(password, app->cfg->password_iterations, out);
    osc_password_slot_give(app);
    return err;
}

static void free_hash(char *h)
{
    if (h) {
        osc_crypto_wipe(h, strlen(h));
        free(h);
    }
}

osc_err osc_user_create(struct osc_app *app, struct osc_ctx *ctx, const struct osc_user_spec *spec,
                        struct osc_principal *out)
{
    osc_err err = OSC_OK;
    char *hash = NULL;
    enum osc_kind holder = OSC_KIND_USER;
    struct osc_audit a = audit_of(ctx);

    err = osc_policy_admin_principals(&ctx->caller);
    if (err) {
        osc_ctx_fail(ctx, err, MSG_FORBIDDEN);
        goto out;
    }
    if (spec->password) {
        err = hash_password(app, ctx, spec->password, &hash);
        if (err)
            goto out;
    }
    struct osc_new_user u = {spec->name, hash, spec->enabled, spec->path, spec->tags, spec->ntags};
    uint64_t ticket = osc_pcache_ticket(app->pcache);
    err = osc_store_create_user(app->store, &a, ctx->caller.domain_id, &u, out, &holder);
    if (err == OSC_E_CONFLICT) {
        osc_ctx_fail(ctx, err, "a %s named %s already exists in this domain",
                     holder == OSC_KIND_SERVICE_ACCOUNT ? "service account" : "user", spec->name);
        goto out;
    }
    if (err == OSC_E_INVALID_INPUT) {
        osc_ctx_fail(ctx, err, OSC_MSG_DUPLICATE_TAG_KEYS);
        goto out;
    }
    if (!err)
        err = osc_pcache_put(app->pcache, out, ticket);
out:
    free_hash(hash);
    return err;
}

osc_err osc_user_list(struct osc_app *app, struct osc_ctx *ctx, const char *name_filter,
                      struct osc_principal **out, size_t *n)
{
    osc_err err = osc_policy_read_principal(&ctx->caller, NULL);

    if (err)
        return osc_ctx_fail(ctx, err, MSG_FORBIDDEN);
    return osc_store_list_users(app->store, ctx->caller.domain_id, name_filter, out, n);
}

osc_err osc_user_get(struct osc_app *app, struct osc_ctx *ctx, const char *id,
                     struct osc_principal *out)
{
    osc_err err = osc_policy_read_principal(&ctx->caller, id);

    if (err)
        return osc_ctx_fail(ctx, err, MSG_FORBIDDEN);
    err = osc_store_get_principal(app->store, id, ctx->caller.domain_id, 0, out);
    if (!err && out->kind != OSC_KIND_USER) {
        osc_principal_cleanup(out);
        err = OSC_E_NOT_FOUND;
    }
    if (err == OSC_E_NOT_FOUND)
        return user_not_found(ctx, id);
    return err;
}

osc_err osc_user_update(struct osc_app *app, struct osc_ctx *ctx, const char *id, int enabled,
                        const char *password, struct osc_principal *out)
{
    osc_err err = OSC_OK;
    char *hash = NULL;
    struct osc_audit a = audit_of(ctx);

    err = osc_policy_admin_principals(&ctx->caller);
    if (err) {
        osc_ctx_fail(ctx, err, MSG_FORBIDDEN);
        goto out;
    }
    if (password) {
        err = hash_password(app, ctx, password, &hash);
        if (err)
            goto out;
    }
    uint64_t ticket = osc_pcache_ticket(app->pcache);
    err = osc_store_update_user(app->store, &a, ctx->caller.domain_id, id, enabled, hash, out);
    if (err == OSC_E_NOT_FOUND) {
        user_not_found(ctx, id);
        goto out;
    }
    if (!err)
        err = osc_pcache_put(app->pcache, out, ticket);
out:
    free_hash(hash);
    return err;
}

osc_err osc_user_delete(struct osc_app *app, struct osc_ctx *ctx, const char *id)
{
    osc_err err = osc_policy_admin_principals(&ctx->caller);
    struct osc_audit a = audit_of(ctx);

    if (err)
        return osc_ctx_fail(ctx, err, MSG_FORBIDDEN);
    err = osc_store_delete_principal(app->store, &a, ctx->caller.domain_id, id, OSC_KIND_USER);
    if (err == OSC_E_NOT_FOUND)
        return user_not_found(ctx, id);
    if (!err)
        err = osc_pcache_remove(app->pcache, id);
    return err;
}

/* Shared checks of the grant routes: the path's domain is the caller's, the role exists. */
static osc_err grant_target(struct osc_ctx *ctx, const char *domain_id, const char *role,
                            unsigned *bit)
{
    if (strcmp(domain_id, ctx->caller.domain_id) != 0)
        return osc_ctx_fail(ctx, OSC_E_NOT_FOUND, "Could not find domain: %s.", domain_id);
    if (role) {
        *bit = osc_role_parse(role);
        if (!*bit)
            return osc_ctx_fail(ctx, OSC_E_NOT_FOUND, "Could not find role: %s.", role);
    }
    return OSC_OK;
}

static osc_err principal_not_found(struct osc_ctx *ctx, enum osc_kind kind, const char *id)
{
    return osc_ctx_fail(ctx, OSC_E_NOT_FOUND, "Could not find %s: %s.",
                        kind == OSC_KIND_SERVICE_ACCOUNT ? "service account" : "user", id);
}

/* The grant's principal, of the route's kind, in the domain (a principal of the other kind is
 * not found); refreshed into the cache so tokens and keys see the new roles at once. */
static osc_err principal_of_kind(struct osc_app *app, struct osc_ctx *ctx, enum osc_kind kind,
                                 const char *domain_id, const char *id, struct osc_principal *p)
{
    osc_err err = osc_store_get_principal(app->store, id, domain_id, 0, p);

    if (!err && p->kind != kind)
        err = OSC_E_NOT_FOUND;
    if (err == OSC_E_NOT_FOUND)
        return principal_not_found(ctx, kind, id);
    return err;
}

osc_err osc_role_grant(struct osc_app *app, struct osc_ctx *ctx, enum osc_kind kind,
                       const char *domain_id, const char *principal_id, const char *role)
{
    unsigned bit = 0;
    struct osc_audit a = audit_of(ctx);
    struct osc_principal p = {0};
    osc_err err = osc_policy_admin_principals(&ctx->caller);

    if (err)
        return osc_ctx_fail(ctx, err, MSG_FORBIDDEN);
    err = grant_target(ctx, domain_id, role, &bit);
    if (!err)
        err = principal_of_kind(app, ctx, kind, domain_id, principal_id, &p);
    osc_principal_cleanup(&p);
    if (err)
        return err;
    err = osc_store_grant_role(app->store, &a, domain_id, principal_id, bit);
    if (err == OSC_E_NOT_FOUND)
        return principal_not_found(ctx, kind, principal_id);
    if (!err)
        err = osc_app_cache_principal(app, principal_id);
    return err;
}

osc_err osc_role_revoke(struct osc_app *app, struct osc_ctx *ctx, enum osc_kind kind,
                        const char *domain_id, const char *principal_id, const char *role)
{
    unsigned bit = 0;
    struct osc_audit a = audit_of(ctx);
    struct osc_principal p = {0};
    osc_err err = osc_policy_admin_principals(&ctx->caller);

    if (err)
        return osc_ctx_fail(ctx, err, MSG_FORBIDDEN);
    err = grant_target(ctx, domain_id, role, &bit);
    if (!err)
        err = principal_of_kind(app, ctx, kind, domain_id, principal_id, &p);
    osc_principal_cleanup(&p);
    if (err)
        return err;
    err = osc_store_revoke_role(app->store, &a, domain_id, principal_id, bit);
    if (err == OSC_E_NOT_FOUND)
        return osc_ctx_fail(ctx, err, "Could not find role assignment: %s on %s.", role,
                            principal_id);
    if (!err)
        err = osc_app_cache_principal(app, principal_id);
    return err;
}

osc_err osc_role_list(struct osc_app *app, struct osc_ctx *ctx, enum osc_kind kind,
                      const char *domain_id, const char *principal_id, unsigned *roles)
{
    struct osc_principal p = {0};
    osc_err err = osc_policy_read_principal(&ctx->caller, principal_id);

    if (err)
        return osc_ctx_fail(ctx, err, MSG_FORBIDDEN);
    err = grant_target(ctx, domain_id, NULL, NULL);
    if (!err)
        err = principal_of_kind(app, ctx, kind, domain_id, principal_id, &p);
    if (!err)
        *roles = p.roles;
    osc_principal_cleanup(&p);
    return err;
}

osc_err osc_user_find(struct osc_app *app, struct osc_ctx *ctx, const char *name,
                      struct osc_principal *out)
{
    osc_err err = OSC_OK;

    if (strcasecmp(name, ctx->caller.name) != 0) {
        err = osc_policy_read_principal(&ctx->caller, NULL);
        if (err)
            return osc_ctx_fail(ctx, err, MSG_FORBIDDEN);
    }
    err = osc_store_find_principal(app->store, ctx->caller.domain_id, NULL, name, 0, out);
    if (!err && out->kind != OSC_KIND_USER) {
        osc_principal_cleanup(out);
        err = OSC_E_NOT_FOUND;
    }
    if (err == OSC_E_NOT_FOUND)
        return osc_ctx_fail(ctx, err, "The user with name %s cannot be found.", name);
    return err;
}

osc_err osc_user_list_page(struct osc_app *app, struct osc_ctx *ctx, const char *path_prefix,
                           const char *after_lower_name, const char *after_id, int limit,
                           struct osc_principal **out, size_t *n)
{
    osc_err err = osc_policy_read_principal(&ctx->caller, NULL);

    if (err)
        return osc_ctx_fail(ctx, err, MSG_FORBIDDEN);
    return osc_store_list_users_page(app->store, ctx->caller.domain_id, path_prefix,
                                     after_lower_name, after_id, limit, out, n);
}

osc_err osc_user_delete_without_keys(struct osc_app *app, struct osc_ctx *ctx, const char *id)
{
    struct osc_audit a = audit_of(ctx);
    osc_err err = osc_policy_admin_principals(&ctx->caller);

    if (err)
        return osc_ctx_fail(ctx, err, MSG_FORBIDDEN);
    err = osc_store_delete_without_keys(app->store, &a, ctx->caller.domain_id, id, OSC_KIND_USER);
    if (err == OSC_E_DELETE_CONFLICT)
        return osc_ctx_fail(ctx, err, "Cannot delete entity, must delete access keys first.");
    if (err == OSC_E_NOT_FOUND)
        return user_not_found(ctx, id);
    if (!err)
        err = osc_pcache_remove(app->pcache, id);
    return err;
}

osc_err osc_principal_tags(struct osc_app *app, struct osc_ctx *ctx, const char *id,
                           struct osc_tag **out, size_t *n)
{
    osc_err err = osc_policy_read_principal(&ctx->caller, id);

    if (err)
        return osc_ctx_fail(ctx, err, MSG_FORBIDDEN);
    return osc_store_list_tags(app->store, id, out, n);
}

osc_err osc_principal_resolve_for_keys(struct osc_app *app, struct osc_ctx *ctx, const char *name,
                                       struct osc_principal *out)
{
    osc_err err = OSC_OK;

    /* Deciding before the lookup keeps names unprobeable for callers without rights over others. */
    if (osc_policy_key_target(&ctx->caller, name) == OSC_KEY_TARGET_FORBIDDEN)
        return osc_ctx_fail(ctx, OSC_E_FORBIDDEN, MSG_FORBIDDEN);
    if (!name)
        name = ctx->caller.name;
    err = osc_store_find_principal(app->store, ctx->caller.domain_id, NULL, name, 0, out);
    if (err == OSC_E_NOT_FOUND)
        return osc_ctx_fail(ctx, err, "The user with name %s cannot be found.", name);
    return err;
}

osc_err osc_principal_key_target(struct osc_app *app, struct osc_ctx *ctx, const char *name,
                                 struct osc_principal *out)
{
    if (osc_policy_key_target(&ctx->caller, name) != OSC_KEY_TARGET_SELF)
        return osc_principal_resolve_for_keys(app, ctx, name, out);
    /* The caller itself, authenticated against its stored principal a moment ago: no second
     * read on the path of every self-service key action. */
    memset(out, 0, sizeof(*out));
    snprintf(out->id, sizeof(out->id), "%s", ctx->caller.id);
    snprintf(out->name, sizeof(out->name), "%s", ctx->caller.name);
    snprintf(out->domain_id, sizeof(out->domain_id), "%s", ctx->caller.domain_id);
    snprintf(out->domain_name, sizeof(out->domain_name), "%s", ctx->caller.domain_name);
    out->kind = ctx->caller.kind;
    out->enabled = 1;
    out->domain_enabled = 1;
    return OSC_OK;
}
