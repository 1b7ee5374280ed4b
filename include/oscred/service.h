/* Use cases: tokens, users and roles, access keys. Business rules live here; no SQL, no HTTP.
 * Every function takes the request context, whose caller is already authenticated (except
 * osc_tokens_issue), sets ctx->msg on failure, and is thread-safe. */
#ifndef OSC_SERVICE_H
#define OSC_SERVICE_H

#include <stddef.h>

#include "oscred/config.h"
#include "oscred/ctx.h"
#include "oscred/model.h"
#include "oscred/pcache.h"
#include "oscred/store.h"
#include "oscred/token.h"

/* What the services share: borrowed pointers, owned by main. */
struct osc_app {
    const struct osc_config *cfg;
    osc_store *store;
    osc_pcache *pcache;
};

/* --- tokens --- */

struct osc_password_auth {
    const char *user_id;     /* by id, or: */
    const char *user_name;   /* by name, within the domain given by id or name */
    const char *domain_id;
    const char *domain_name;
    const char *password;
    size_t password_len;
    int scoped;              /* domain scope requested */
    const char *scope_domain_id;
    const char *scope_domain_name;
};

/* The principal a token speaks for, for rendering token bodies. */
struct osc_token_info {
    struct osc_token token;
    struct osc_pcache_entry principal;
    char encoded[OSC_TOKEN_MAX];
};

/* Password authentication. OSC_E_UNAUTHENTICATED for an unknown user, a wrong password, a
 * service account, a disabled user or domain (one answer for all of them); OSC_E_INVALID for a
 * scope on another domain. */
osc_err osc_tokens_issue(struct osc_app *app, struct osc_ctx *ctx,
                         const struct osc_password_auth *pa, struct osc_token_info *out);
/* Authenticates the caller's X-Auth-Token into ctx->caller. OSC_E_UNAUTHENTICATED if invalid,
 * expired, revoked, or its principal is disabled, deleted or changed its password. */
osc_err osc_tokens_authenticate(struct osc_app *app, struct osc_ctx *ctx, const char *token);
/* Checks a subject token for the caller (validation). OSC_E_NOT_FOUND if it is not valid;
 * OSC_E_FORBIDDEN if the caller may not see it. */
osc_err osc_tokens_check(struct osc_app *app, struct osc_ctx *ctx, const char *subject,
                         struct osc_token_info *out);
/* Revokes a subject token (valid or expired). OSC_E_NOT_FOUND if it is not a token of ours or
 * not of the caller's domain; OSC_E_FORBIDDEN if the caller may not revoke it. */
osc_err osc_tokens_revoke(struct osc_app *app, struct osc_ctx *ctx, const char *subject);

/* --- users and roles (caller's domain only) --- */

osc_err osc_user_create(struct osc_app *app, struct osc_ctx *ctx, const char *name,
                        const char *password, int enabled, struct osc_principal *out);
/* *out is malloc'd; free each with osc_principal_cleanup and the array with free. */
osc_err osc_user_list(struct osc_app *app, struct osc_ctx *ctx, const char *name_filter,
                      struct osc_principal **out, size_t *n);
osc_err osc_user_get(struct osc_app *app, struct osc_ctx *ctx, const char *id,
                     struct osc_principal *out);
/* enabled < 0 keeps it; password NULL keeps it. */
osc_err osc_user_update(struct osc_app *app, struct osc_ctx *ctx, const char *id, int enabled,
                        const char *password, struct osc_principal *out);
osc_err osc_user_delete(struct osc_app *app, struct osc_ctx *ctx, const char *id);
/* Role grants on a principal of the caller's domain. domain_id must be the caller's (else
 * OSC_E_NOT_FOUND); role is a name or id (unknown: OSC_E_NOT_FOUND). */
osc_err osc_role_grant(struct osc_app *app, struct osc_ctx *ctx, const char *domain_id,
                       const char *principal_id, const char *role);
osc_err osc_role_revoke(struct osc_app *app, struct osc_ctx *ctx, const char *domain_id,
                        const char *principal_id, const char *role);
osc_err osc_role_list(struct osc_app *app, struct osc_ctx *ctx, const char *domain_id,
                      const char *principal_id, unsigned *roles);

/* --- access keys --- */

/* Creates a key for owner_id (NULL: the caller). *secret_out is the plaintext secret key, to be
 * shown once and destroyed by the caller. */
osc_err osc_cred_create(struct osc_app *app, struct osc_ctx *ctx, const char *owner_id,
                        const char *description, struct osc_credential *out,
                        struct osc_secret **secret_out);
/* Keys of owner_id (NULL: the caller). *out malloc'd (may be NULL when *n == 0). */
osc_err osc_cred_list(struct osc_app *app, struct osc_ctx *ctx, const char *owner_id,
                      struct osc_credential **out, size_t *n);
osc_err osc_cred_get(struct osc_app *app, struct osc_ctx *ctx, const char *access_key,
                     struct osc_credential *out);
/* active < 0 keeps the status; description NULL keeps it. */
osc_err osc_cred_update(struct osc_app *app, struct osc_ctx *ctx, const char *access_key,
                        int active, const char *description, struct osc_credential *out);
osc_err osc_cred_delete(struct osc_app *app, struct osc_ctx *ctx, const char *access_key);

/* --- command line --- */

/* Loads every principal and revoked token into the cache (start-up, and after the listener
 * reconnects); principals the load does not see are marked deleted. */
osc_err osc_app_load_cache(struct osc_app *app);
/* Applies one change notification of another replica ("p:<id>", "t:<id>:<expiry>"). */
void osc_app_apply_notification(struct osc_app *app, const char *payload);
/* Creates the bootstrap domain and admin (idempotent). */
osc_err osc_admin_bootstrap(struct osc_app *app, const char *domain, const char *user,
                            const char *password, struct osc_principal *out, int *created_domain,
                            int *created_user);

#endif
