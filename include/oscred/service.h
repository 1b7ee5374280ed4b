/* Use cases: tokens, users and roles, access keys. Business rules live here; no SQL, no HTTP.
 * Every function takes the request context, whose caller is already authenticated (except
 * osc_tokens_issue), sets ctx->msg on failure, and is thread-safe. */
#ifndef OSC_SERVICE_H
#define OSC_SERVICE_H

#include <stdatomic.h>
#include <stddef.h>

#include "oscred/config.h"
#include "oscred/ctx.h"
#include "oscred/model.h"
#include "oscred/pcache.h"
#include "oscred/store.h"
#include "oscred/token.h"

typedef struct osc_lastuse osc_lastuse;

/* What the services share: borrowed pointers, owned by main. */
struct osc_app {
    const struct osc_config *cfg;
    osc_store *store;
    osc_pcache *pcache;
    osc_lastuse *lastuse;
    _Atomic int password_slots_used; /* see osc_password_slot_take */
    /* Shutdown has begun: /readyz answers 503 and every answer closes its connection, so
     * keep-alive clients stop sending on connections about to be closed. */
    _Atomic int draining;
};

/* --- password hashing --- */

/* How many password hashes may run at once: half the HTTP workers, at least one. */
int osc_password_slots(const struct osc_app *app);
/* Takes a slot for one hash, or fails ctx with OSC_E_UNAVAILABLE when all are taken. A taken slot
 * goes back with osc_password_slot_give. */
osc_err osc_password_slot_take(struct osc_app *app, struct osc_ctx *ctx);
void osc_password_slot_give(struct osc_app *app);

/* --- last use of access keys (coalesced) --- */

/* Starts the flusher thread (one write a second for every key used in that second). */
osc_err osc_lastuse_create(osc_store *st, osc_lastuse **out);
/* Records a use in memory; thread-safe and never waits on the database. */
void osc_lastuse_record(osc_lastuse *lu, const char *access_key, int64_t at_us, const char *service,
                        const char *region);
/* Flushes what is pending, stops the thread, frees. NULL is a no-op. */
void osc_lastuse_destroy(osc_lastuse *lu);

/* --- signed requests --- */

/* Loads the key that signs a request and opens its secret. OSC_E_UNAUTHENTICATED if the key is
 * unknown, inactive, or its owner or domain is disabled. *secret is the caller's to destroy. */
osc_err osc_signing_key_get(struct osc_app *app, struct osc_ctx *ctx, const char *access_key,
                            struct osc_signing_key *key, struct osc_secret **secret);
/* After the signature verified: the request acts as the key's owner (roles from the principal
 * cache), and the use is recorded for last-use reporting. */
osc_err osc_signing_accept(struct osc_app *app, struct osc_ctx *ctx,
                           const struct osc_signing_key *key, enum osc_auth_method method,
                           const char *service, const char *region);

/* --- tokens --- */

struct osc_password_auth {
    const char *user_id;   /* by id, or: */
    const char *user_name; /* by name, within the domain given by id or name */
    const char *domain_id;
    const char *domain_name;
    const char *password;
    size_t password_len;
    int scoped; /* domain scope requested */
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

struct osc_user_spec {
    const char *name;
    const char *password; /* NULL: none */
    int enabled;
    const char *path; /* NULL: "/" */
    const struct osc_tag *tags;
    size_t ntags;
};

/* OSC_E_CONFLICT (message names the kind holding the name) if the name is taken. */
osc_err osc_user_create(struct osc_app *app, struct osc_ctx *ctx, const struct osc_user_spec *spec,
                        struct osc_principal *out);
/* A user of the caller's domain by name, ignoring case (GetUser): the caller itself, or anyone
 * for admin/security_admin. A caller without that right gets OSC_E_FORBIDDEN for every other
 * name, whether or not it exists. */
osc_err osc_user_find(struct osc_app *app, struct osc_ctx *ctx, const char *name,
                      struct osc_principal *out);
/* A page of users (ListUsers); *out malloc'd, clean each entry. */
osc_err osc_user_list_page(struct osc_app *app, struct osc_ctx *ctx, const char *path_prefix,
                           const char *after_lower_name, const char *after_id, int limit,
                           struct osc_principal **out, size_t *n);
/* AWS DeleteUser: OSC_E_DELETE_CONFLICT while the user has keys. */
osc_err osc_user_delete_without_keys(struct osc_app *app, struct osc_ctx *ctx, const char *id);
/* Tags of a principal the caller may read. */
osc_err osc_principal_tags(struct osc_app *app, struct osc_ctx *ctx, const char *id,
                           struct osc_tag **out, size_t *n);
/* Name resolution for key actions (role-keys.md §3): name NULL is the caller itself; otherwise a
 * principal of either kind in the caller's domain, ignoring case. A caller who may manage only
 * its own keys gets OSC_E_FORBIDDEN for any other name, whether or not it exists; others get
 * OSC_E_NOT_FOUND for an unknown name. */
osc_err osc_principal_resolve_for_keys(struct osc_app *app, struct osc_ctx *ctx, const char *name,
                                       struct osc_principal *out);
/* The same for the key actions themselves, which need only the target's id, name, domain and
 * kind: the caller itself comes from the authenticated caller, without a database read. */
osc_err osc_principal_key_target(struct osc_app *app, struct osc_ctx *ctx, const char *name,
                                 struct osc_principal *out);
/* *out is malloc'd; free each with osc_principal_cleanup and the array with free. */
osc_err osc_user_list(struct osc_app *app, struct osc_ctx *ctx, const char *name_filter,
                      struct osc_principal **out, size_t *n);
osc_err osc_user_get(struct osc_app *app, struct osc_ctx *ctx, const char *id,
                     struct osc_principal *out);
/* enabled < 0 keeps it; password NULL keeps it. */
osc_err osc_user_update(struct osc_app *app, struct osc_ctx *ctx, const char *id, int enabled,
                        const char *password, struct osc_principal *out);
osc_err osc_user_delete(struct osc_app *app, struct osc_ctx *ctx, const char *id);
/* Role grants on a principal of the given kind in the caller's domain (another kind's id is
 * not found). domain_id must be the caller's (else
 * OSC_E_NOT_FOUND); role is a name or id (unknown: OSC_E_NOT_FOUND). */
osc_err osc_role_grant(struct osc_app *app, struct osc_ctx *ctx, enum osc_kind kind,
                       const char *domain_id, const char *principal_id, const char *role);
osc_err osc_role_revoke(struct osc_app *app, struct osc_ctx *ctx, enum osc_kind kind,
                        const char *domain_id, const char *principal_id, const char *role);
osc_err osc_role_list(struct osc_app *app, struct osc_ctx *ctx, enum osc_kind kind,
                      const char *domain_id, const char *principal_id, unsigned *roles);

/* --- service accounts (AWS roles), caller's domain only --- */

struct osc_sa_spec {
    const char *name;
    const char *description; /* NULL: "" */
    int enabled;
    const char *path;         /* NULL: "/" */
    const char *trust_policy; /* NULL: none */
    int max_session_duration; /* 3600..43200 */
    const struct osc_tag *tags;
    size_t ntags;
};

/* Writes need admin; reads need admin or security_admin, or are the account reading itself.
 * Unknown and other-domain accounts are OSC_E_NOT_FOUND; a forbidden caller gets OSC_E_FORBIDDEN
 * before any lookup. Records are the caller's to clean up (osc_service_account_cleanup). */
osc_err osc_svcacct_create(struct osc_app *app, struct osc_ctx *ctx, const struct osc_sa_spec *spec,
                           struct osc_service_account *out);
osc_err osc_svcacct_get(struct osc_app *app, struct osc_ctx *ctx, const char *id,
                        struct osc_service_account *out);
osc_err osc_svcacct_find(struct osc_app *app, struct osc_ctx *ctx, const char *name,
                         struct osc_service_account *out);
osc_err osc_svcacct_list(struct osc_app *app, struct osc_ctx *ctx, const char *path_prefix,
                         const char *after_lower_name, const char *after_id, int limit,
                         struct osc_service_account **out, size_t *n);
/* enabled < 0 keeps it; description NULL keeps it. */
osc_err osc_svcacct_update(struct osc_app *app, struct osc_ctx *ctx, const char *id, int enabled,
                           const char *description, struct osc_service_account *out);
/* REST: deletes the account with its keys and grants. */
osc_err osc_svcacct_delete(struct osc_app *app, struct osc_ctx *ctx, const char *id);
/* AWS DeleteRole: OSC_E_DELETE_CONFLICT while the account has keys. */
osc_err osc_svcacct_delete_without_keys(struct osc_app *app, struct osc_ctx *ctx, const char *id);

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
/* The same changes limited to the keys of owner_id, a principal the caller was already allowed to
 * act for (the AWS actions name it): one statement, and OSC_E_NOT_FOUND, with no message, when
 * access_key is not one of its keys, for the caller to explain. */
osc_err osc_cred_update_of(struct osc_app *app, struct osc_ctx *ctx, const char *owner_id,
                           const char *access_key, int active, const char *description,
                           struct osc_credential *out);
osc_err osc_cred_delete_of(struct osc_app *app, struct osc_ctx *ctx, const char *owner_id,
                           const char *access_key);

/* --- command line --- */

/* Loads every principal and revoked token into the cache (start-up, and after the listener
 * reconnects); principals the load does not see are marked deleted. */
osc_err osc_app_load_cache(struct osc_app *app);
/* Reads a principal from the database into the cache; a principal that is gone is recorded as
 * deleted (OSC_E_NOT_FOUND). */
osc_err osc_app_cache_principal(struct osc_app *app, const char *id);
/* Applies one change notification of another replica ("p:<id>", "t:<id>:<expiry>"). An error
 * when the change could not be applied (the principal's read failed): a full reload is due. */
osc_err osc_app_apply_notification(struct osc_app *app, const char *payload);
/* Re-seals every stored secret key under the key ring's primary key, batch by batch, online.
 * *resealed counts them; a key sealed under a kid the ring no longer holds is reported and
 * skipped (OSC_E_NOT_FOUND at the end if there was any). */
osc_err osc_admin_rotate_secrets(struct osc_app *app, int batch, size_t *resealed);
/* Creates the bootstrap domain and admin (idempotent). */
osc_err osc_admin_bootstrap(struct osc_app *app, const char *domain, const char *user,
                            const char *password, struct osc_principal *out, int *created_domain,
                            int *created_user);

#endif
