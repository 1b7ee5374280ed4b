/* Requests signed with an access key: the key is read from the database on every request (so a
 * deleted or deactivated key stops at once, on every replica), its secret opened under the key
 * ring, and after verification the request acts as the key's owner. */
#include <stdio.h>
#include <string.h>

#include "oscred/keyring.h"
#include "oscred/log.h"
#include "oscred/service.h"

#define MSG_BAD_KEY "The access key is not valid."

osc_err osc_signing_key_get(struct osc_app *app, struct osc_ctx *ctx, const char *access_key,
                            struct osc_signing_key *key, struct osc_secret **secret)
{
    osc_err err = OSC_OK;
    osc_keyring *kr = NULL;

    err = osc_store_get_signing_key(app->store, access_key, key);
    if (err == OSC_E_NOT_FOUND || (!err && !key->usable)) {
        err = osc_ctx_fail(ctx, OSC_E_UNAUTHENTICATED, MSG_BAD_KEY);
        goto out;
    }
    if (err)
        goto out;
    kr = osc_keyring_current();
    if (!kr) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    err = osc_keyring_open_secret(kr, key->access_key, key->kid, key->sealed, key->sealed_len,
                                  secret);
    if (err) {
        /* A ring that lost the key's kid, or a tampered row: an operator problem, not the
         * client's, but the client must not learn which. */
        osc_log(OSC_LOG_ERROR, "signing.secret_unavailable", "access_key", key->access_key, "kid",
                key->kid, "error", osc_err_name(err), OSC_LOG_END);
        err = OSC_E_INTERNAL;
    }
out:
    osc_keyring_destroy(kr);
    return err;
}

osc_err osc_signing_accept(struct osc_app *app, struct osc_ctx *ctx,
                           const struct osc_signing_key *key, enum osc_auth_method method,
                           const char *service, const char *region)
{
    struct osc_pcache_entry e;
    struct osc_caller *c = &ctx->caller;
    enum osc_pcache_state st = osc_pcache_get(app->pcache, key->owner_id, &e);

    if (st == OSC_PCACHE_MISSING) {
        osc_err err = osc_app_cache_principal(app, key->owner_id);
        if (err && err != OSC_E_NOT_FOUND)
            return err;
        st = osc_pcache_get(app->pcache, key->owner_id, &e);
    }
    /* Whether the owner and its domain are enabled was read with the key (key->usable), from the
     * database: current on every replica the moment a change commits, where this replica's cache
     * may not have heard of it yet. The cache gives the owner's names and roles. */
    if (st != OSC_PCACHE_FOUND)
        return osc_ctx_fail(ctx, OSC_E_UNAUTHENTICATED, MSG_BAD_KEY);
    memset(c, 0, sizeof(*c));
    snprintf(c->id, sizeof(c->id), "%s", e.id);
    snprintf(c->name, sizeof(c->name), "%s", e.name);
    snprintf(c->domain_id, sizeof(c->domain_id), "%s", e.domain_id);
    snprintf(c->domain_name, sizeof(c->domain_name), "%s", e.domain_name);
    c->kind = e.kind;
    c->roles = e.roles;
    c->method = method;
    snprintf(c->access_key, sizeof(c->access_key), "%s", key->access_key);
    osc_lastuse_record(app->lastuse, key->access_key, osc_now_us(), service, region);
    return OSC_OK;
}
