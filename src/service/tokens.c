/* Tokens: password authentication, token checks against the principal cache and the revoked set
 * (no database round trip unless a principal was never seen), and revocation. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common.h"
#include "oscred/keyring.h"
#include "oscred/log.h"
#include "oscred/policy.h"
#include "oscred/service.h"

#define MSG_UNAUTH "The request you have made requires authentication."

/* A hash of a random password with the configured cost, verified when the user does not exist so
 * that an unknown name takes as long as a wrong password. */
static pthread_once_t decoy_once = PTHREAD_ONCE_INIT;
static char *decoy_hash;
static _Atomic unsigned decoy_iterations;

static void make_decoy(void)
{
    unsigned char pw[16];
    char hex[33];

    if (osc_crypto_random(pw, sizeof(pw)) == OSC_OK) {
        osc_crypto_hex(pw, sizeof(pw), hex);
        if (osc_crypto_password_hash(hex, atomic_load(&decoy_iterations), &decoy_hash) != OSC_OK)
            decoy_hash = NULL;
    }
}

static void spend_decoy_time(const char *password)
{
    pthread_once(&decoy_once, make_decoy);
    if (decoy_hash)
        (void)osc_crypto_password_verify(password, decoy_hash);
}

/* Loads a principal the cache has never seen (created by another process), or confirms it gone. */
static osc_err load_principal(struct osc_app *app, const char *id, struct osc_pcache_entry *e)
{
    osc_err err = osc_app_cache_principal(app, id);

    if (err)
        return err == OSC_E_NOT_FOUND ? OSC_E_UNAUTHENTICATED : err;
    switch (osc_pcache_get(app->pcache, id, e)) {
    case OSC_PCACHE_FOUND:
        return OSC_OK;
    case OSC_PCACHE_DELETED: /* deleted since the read */
        return OSC_E_UNAUTHENTICATED;
    default:
        return OSC_E_INTERNAL;
    }
}

/* Decodes and checks a token: MAC, expiry (if asked), revocation, and the principal's current
 * state. OSC_E_UNAUTHENTICATED when any of them fails. */
static osc_err verify(struct osc_app *app, const char *s, int check_expiry, struct osc_token *tok,
                      struct osc_pcache_entry *e)
{
    osc_err err = OSC_OK;
    osc_keyring *kr = osc_keyring_current();

    if (!kr) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    err = osc_token_decode(kr, s, tok);
    if (err)
        goto out;
    if (check_expiry && tok->expires_us <= osc_now_us()) {
        err = OSC_E_UNAUTHENTICATED;
        goto out;
    }
    if (osc_pcache_is_revoked(app->pcache, tok->id)) {
        err = OSC_E_UNAUTHENTICATED;
        goto out;
    }
    switch (osc_pcache_get(app->pcache, tok->principal_id, e)) {
    case OSC_PCACHE_FOUND:
        break;
    case OSC_PCACHE_DELETED:
        err = OSC_E_UNAUTHENTICATED;
        goto out;
    case OSC_PCACHE_MISSING:
        err = load_principal(app, tok->principal_id, e);
        if (err)
            goto out;
        break;
    }
    if (!e->enabled || e->kind != OSC_KIND_USER || e->password_epoch != tok->password_epoch ||
        strcmp(e->domain_id, tok->domain_id) != 0)
        err = OSC_E_UNAUTHENTICATED;
out:
    osc_keyring_destroy(kr);
    return err;
}

static osc_err find_user(struct osc_app *app, const struct osc_password_auth *pa,
                         struct osc_principal *p)
{
    if (pa->user_id)
        return osc_store_get_principal(app->store, pa->user_id, NULL, 1, p);
    return osc_store_find_principal(app->store, pa->domain_id, pa->domain_name, pa->user_name, 1,
                                    p);
}

osc_err osc_tokens_issue(struct osc_app *app, struct osc_ctx *ctx,
                         const struct osc_password_auth *pa, struct osc_token_info *out)
{
    osc_err err = OSC_OK;
    struct osc_principal p = {0};
    osc_keyring *kr = NULL;
    struct osc_token *t = &out->token;
    int slot = 0;

    err = osc_password_slot_take(app, ctx);
    if (err)
        goto out;
    slot = 1;
    atomic_store(&decoy_iterations, app->cfg->password_iterations);
    /* Taken before the read: the hash below takes long enough for the principal to change. */
    uint64_t ticket = osc_pcache_ticket(app->pcache);
    err = find_user(app, pa, &p);
    if (err == OSC_E_NOT_FOUND || (!err && (p.kind != OSC_KIND_USER || !p.password_hash))) {
        spend_decoy_time(pa->password);
        err = osc_ctx_fail(ctx, OSC_E_UNAUTHENTICATED, MSG_UNAUTH);
        goto out;
    }
    if (err)
        goto out;
    err = osc_crypto_password_verify(pa->password, p.password_hash);
    if (err || !p.enabled || !p.domain_enabled) {
        err = osc_ctx_fail(ctx, OSC_E_UNAUTHENTICATED, MSG_UNAUTH);
        goto out;
    }
    if (pa->scoped &&
        ((pa->scope_domain_id && strcmp(pa->scope_domain_id, p.domain_id) != 0) ||
         (pa->scope_domain_name && strcasecmp(pa->scope_domain_name, p.domain_name) != 0))) {
        /* A user belongs to one domain and may scope only to it. */
        err = osc_ctx_fail(ctx, OSC_E_UNAUTHENTICATED, MSG_UNAUTH);
        goto out;
    }
    err = osc_pcache_put(app->pcache, &p, ticket);
    if (err)
        goto out;
    /* The cache holds the principal as it is now: a change that committed while the password was
     * hashed (a new password, a disable, a deletion) wins over what this login read, so no token
     * is issued that every check would refuse. */
    if (osc_pcache_get(app->pcache, p.id, &out->principal) != OSC_PCACHE_FOUND ||
        !out->principal.enabled || out->principal.password_epoch != p.password_epoch) {
        err = osc_ctx_fail(ctx, OSC_E_UNAUTHENTICATED, MSG_UNAUTH);
        goto out;
    }
    memset(t, 0, sizeof(*t));
    err = osc_crypto_new_id(t->id);
    if (err)
        goto out;
    snprintf(t->principal_id, sizeof(t->principal_id), "%s", p.id);
    snprintf(t->domain_id, sizeof(t->domain_id), "%s", p.domain_id);
    t->scope = pa->scoped ? OSC_SCOPE_DOMAIN : OSC_SCOPE_UNSCOPED;
    t->password_epoch = p.password_epoch;
    t->issued_us = osc_now_us();
    t->expires_us = t->issued_us + app->cfg->token_ttl_s * 1000000;
    kr = osc_keyring_current();
    if (!kr) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    err = osc_token_encode(kr, t, out->encoded);
    if (err)
        goto out;
    snprintf(t->kid, sizeof(t->kid), "%s", osc_keyring_primary(kr));
out:
    if (slot)
        osc_password_slot_give(app);
    osc_keyring_destroy(kr);
    osc_principal_cleanup(&p);
    return err;
}

static void fill_caller(struct osc_caller *c, const struct osc_token *t,
                        const struct osc_pcache_entry *e)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->id, sizeof(c->id), "%s", e->id);
    snprintf(c->name, sizeof(c->name), "%s", e->name);
    snprintf(c->domain_id, sizeof(c->domain_id), "%s", e->domain_id);
    snprintf(c->domain_name, sizeof(c->domain_name), "%s", e->domain_name);
    c->kind = e->kind;
    /* Unscoped tokens act on the user's own keys only. */
    c->roles = t->scope == OSC_SCOPE_DOMAIN ? e->roles : 0;
    c->method = OSC_AUTH_TOKEN;
    c->token = *t;
}

osc_err osc_tokens_authenticate(struct osc_app *app, struct osc_ctx *ctx, const char *token)
{
    struct osc_token t;
    struct osc_pcache_entry e;
    osc_err err = verify(app, token, 1, &t, &e);

    if (err == OSC_E_UNAUTHENTICATED)
        return osc_ctx_fail(ctx, err, MSG_UNAUTH);
    if (err)
        return err;
    fill_caller(&ctx->caller, &t, &e);
    return OSC_OK;
}

osc_err osc_tokens_check(struct osc_app *app, struct osc_ctx *ctx, const char *subject,
                         struct osc_token_info *out)
{
    osc_err err = verify(app, subject, 1, &out->token, &out->principal);

    if (err == OSC_E_UNAUTHENTICATED ||
        (!err && strcmp(out->principal.domain_id, ctx->caller.domain_id) != 0))
        return osc_ctx_fail(ctx, OSC_E_NOT_FOUND, "Failed to validate token");
    if (err)
        return err;
    err = osc_policy_manage_token(&ctx->caller, out->principal.id);
    if (err)
        return osc_ctx_fail(ctx, err, "You are not authorized to perform the requested action.");
    snprintf(out->encoded, sizeof(out->encoded), "%s", subject);
    return OSC_OK;
}

osc_err osc_tokens_revoke(struct osc_app *app, struct osc_ctx *ctx, const char *subject)
{
    osc_err err = OSC_OK;
    osc_keyring *kr = osc_keyring_current();
    struct osc_token t;
    struct osc_audit a = audit_of(ctx);

    if (!kr || osc_token_decode(kr, subject, &t) != OSC_OK ||
        strcmp(t.domain_id, ctx->caller.domain_id) != 0) {
        err = osc_ctx_fail(ctx, OSC_E_NOT_FOUND, "Could not find token: the token is not valid.");
        goto out;
    }
    err = osc_policy_manage_token(&ctx->caller, t.principal_id);
    if (err) {
        osc_ctx_fail(ctx, err, "You are not authorized to perform the requested action.");
        goto out;
    }
    /* An expired token is dead already; recording it would only grow the set. */
    if (t.expires_us <= osc_now_us())
        goto out;
    err = osc_store_revoke_token(app->store, &a, t.domain_id, t.id, t.expires_us);
    if (!err)
        err = osc_pcache_revoke(app->pcache, t.id, t.expires_us);
out:
    osc_keyring_destroy(kr);
    return err;
}
