/* Access keys: create (the secret is sealed before it reaches the store and returned once), list,
 * show, update, delete. The 2-key limit and domain scoping are the database's; the policy decides
 * who may act on whose keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "oscred/keyring.h"
#include "oscred/policy.h"
#include "oscred/service.h"

static osc_err cred_not_found(struct osc_ctx *ctx, const char *ak)
{
    return osc_ctx_fail(ctx, OSC_E_NOT_FOUND, "Could not find credential: %s.", ak);
}

osc_err osc_cred_create(struct osc_app *app, struct osc_ctx *ctx, const char *owner_id,
                        const char *description, struct osc_credential *out,
                        struct osc_secret **secret_out)
{
    osc_err err = OSC_OK;
    struct osc_secret *sk = NULL;
    osc_keyring *kr = NULL;
    unsigned char *sealed = NULL;
    size_t sealedlen = 0;
    char kid[OSC_KID_MAX + 1];
    char ak[OSC_AK_LEN + 1];
    struct osc_audit a = audit_of(ctx);

    if (!owner_id)
        owner_id = ctx->caller.id;
    err = osc_policy_manage_keys(&ctx->caller, owner_id);
    if (err) {
        osc_ctx_fail(ctx, err, MSG_FORBIDDEN);
        goto out;
    }
    kr = osc_keyring_current();
    if (!kr) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    err = osc_crypto_new_secret_key(&sk);
    if (err)
        goto out;
    /* A fresh 20-character id colliding is a 36^20 event; one retry covers it without a loop. */
    for (int attempt = 0; attempt < 2; attempt++) {
        free(sealed);
        sealed = NULL;
        err = osc_crypto_new_access_key(ak);
        if (!err)
            err = osc_keyring_seal_secret(kr, ak, sk, kid, &sealed, &sealedlen);
        if (!err)
            err = osc_store_insert_credential(app->store, &a, ctx->caller.domain_id, owner_id, ak,
                                              description ? description : "", kid, sealed,
                                              sealedlen, out);
        if (err != OSC_E_CONFLICT)
            break;
    }
    if (err == OSC_E_NOT_FOUND)
        osc_ctx_fail(ctx, err, "Could not find user: %s.", owner_id);
    else if (err == OSC_E_KEY_LIMIT)
        osc_ctx_fail(ctx, err, "akSkNumExceed");
out:
    free(sealed);
    osc_keyring_destroy(kr);
    if (err)
        osc_secret_destroy(sk);
    else
        *secret_out = sk;
    return err;
}

osc_err osc_cred_list(struct osc_app *app, struct osc_ctx *ctx, const char *owner_id,
                      struct osc_credential **out, size_t *n)
{
    osc_err err = OSC_OK;

    if (!owner_id)
        owner_id = ctx->caller.id;
    err = osc_policy_manage_keys(&ctx->caller, owner_id);
    if (err)
        return osc_ctx_fail(ctx, err, MSG_FORBIDDEN);
    err = osc_store_list_credentials(app->store, ctx->caller.domain_id, owner_id, out, n);
    if (err == OSC_E_NOT_FOUND)
        osc_ctx_fail(ctx, err, "Could not find user: %s.", owner_id);
    return err;
}

osc_err osc_cred_get(struct osc_app *app, struct osc_ctx *ctx, const char *access_key,
                     struct osc_credential *out)
{
    struct osc_credential c;
    osc_err err = osc_store_get_credential(app->store, ctx->caller.domain_id, access_key, &c);

    if (err == OSC_E_NOT_FOUND)
        return cred_not_found(ctx, access_key);
    if (err)
        return err;
    err = osc_policy_manage_keys(&ctx->caller, c.owner_id);
    if (err)
        return osc_ctx_fail(ctx, err, MSG_FORBIDDEN);
    *out = c;
    return OSC_OK;
}

/* After a change matched no row: 404 if the key is not in the caller's domain, 403 if it is but
 * belongs to someone the caller may not manage. Only failing requests pay this second read. */
static osc_err explain_miss(struct osc_app *app, struct osc_ctx *ctx, const char *access_key)
{
    struct osc_credential c;
    osc_err err = osc_store_get_credential(app->store, ctx->caller.domain_id, access_key, &c);

    if (err == OSC_E_NOT_FOUND)
        return cred_not_found(ctx, access_key);
    if (err)
        return err;
    return osc_ctx_fail(ctx, OSC_E_FORBIDDEN, MSG_FORBIDDEN);
}

osc_err osc_cred_update(struct osc_app *app, struct osc_ctx *ctx, const char *access_key,
                        int active, const char *description, struct osc_credential *out)
{
    struct osc_audit a = audit_of(ctx);
    osc_err err = osc_store_update_credential(app->store, &a, ctx->caller.domain_id, access_key,
                                              osc_policy_manages_all_keys(&ctx->caller),
                                              ctx->caller.id, active, description, out);
    if (err == OSC_E_NOT_FOUND)
        return explain_miss(app, ctx, access_key);
    return err;
}

osc_err osc_cred_delete(struct osc_app *app, struct osc_ctx *ctx, const char *access_key)
{
    struct osc_audit a = audit_of(ctx);
    osc_err err =
        osc_store_delete_credential(app->store, &a, ctx->caller.domain_id, access_key,
                                    osc_policy_manages_all_keys(&ctx->caller), ctx->caller.id);
    if (err == OSC_E_NOT_FOUND)
        return explain_miss(app, ctx, access_key);
    return err;
}

osc_err osc_cred_update_of(struct osc_app *app, struct osc_ctx *ctx, const char *owner_id,
                           const char *access_key, int active, const char *description,
                           struct osc_credential *out)
{
    struct osc_audit a = audit_of(ctx);

    return osc_store_update_credential(app->store, &a, ctx->caller.domain_id, access_key, 0,
                                       owner_id, active, description, out);
}

osc_err osc_cred_delete_of(struct osc_app *app, struct osc_ctx *ctx, const char *owner_id,
                           const char *access_key)
{
    struct osc_audit a = audit_of(ctx);

    return osc_store_delete_credential(app->store, &a, ctx->caller.domain_id, access_key, 0,
                                       owner_id);
}
