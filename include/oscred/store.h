/* PostgreSQL store: a fixed pool of libpq connections shared by the worker threads, and one
 * function per statement of the statement table. src/store/ is the only code that sees libpq.
 * Every function is thread-safe, bounded by the configured database timeout, and returns:
 *   OSC_E_UNAVAILABLE  no connection or no answer within the timeout, or the database is down;
 *   OSC_E_INTERNAL     an unexpected database error (logged with its SQLSTATE);
 * plus the errors listed on each function. Domain scoping is part of every statement: a row of
 * another domain is reported exactly like a missing one. */
#ifndef OSC_STORE_H
#define OSC_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "oscred/err.h"
#include "oscred/model.h"

typedef struct osc_store osc_store;

struct osc_store_options {
    const char *conninfo;
    int pool_size;
    int timeout_ms;
    int prepared; /* named prepared statements (off for pgbouncer < 1.21 in transaction mode) */
};

/* Creates the pool. Connections open lazily, so this succeeds while the database is down. */
osc_err osc_store_create(const struct osc_store_options *opt, osc_store **out);
/* Closes every connection. NULL is a no-op. No call may be in flight. */
void osc_store_destroy(osc_store *st);

/* Who changes something, recorded in the audit row written by the same statement. */
struct osc_audit {
    const char *request_id;
    const char *actor_id;   /* NULL for the command line */
    const char *actor_kind; /* "user", "service_account", or NULL */
};

/* Readiness: the schema version the database is at (0 if never migrated). */
osc_err osc_store_schema_version(osc_store *st, int *version);
/* Pool gauges for metrics: connections in use and idle, requests waiting for one. */
void osc_store_pool_stats(osc_store *st, int *in_use, int *idle, int *waiting);

/* --- principals --- */

/* Looks a principal up by id in domain_id (domain_id NULL: any domain; used by token issue by
 * user id and by the principal cache). Loads roles, domain name and, if with_password, the
 * password hash. OSC_E_NOT_FOUND if absent. */
osc_err osc_store_get_principal(osc_store *st, const char *id, const char *domain_id,
                                int with_password, struct osc_principal *out);
/* Looks a principal up by name (ignoring case) in the domain given by id or by name (exactly one
 * of domain_id and domain_name non-NULL). OSC_E_NOT_FOUND if absent. */
osc_err osc_store_find_principal(osc_store *st, const char *domain_id, const char *domain_name,
                                 const char *name, int with_password, struct osc_principal *out);
/* Lists users (kind user) of a domain ordered by lower(name), optionally only the one named
 * name_filter (ignoring case). *out is a malloc'd array the caller frees (no password hashes). */
osc_err osc_store_list_users(osc_store *st, const char *domain_id, const char *name_filter,
                             struct osc_principal **out, size_t *n);
/* Calls fn for every principal (no password hashes), for the principal cache's full load. */
osc_err osc_store_each_principal(osc_store *st,
                                 void (*fn)(const struct osc_principal *p, void *arg), void *arg);

struct osc_new_user {
    const char *name;
    const char *password_hash; /* NULL: none (cannot log in until one is set) */
    int enabled;
    const char *path; /* NULL: "/" */
    const struct osc_tag *tags;
    size_t ntags;
};

/* Creates a user with its tags. OSC_E_CONFLICT if the name is taken in the domain (any case, any
 * kind); *holder_kind then says which kind holds it. OSC_E_INVALID_INPUT if two tag keys are the
 * same to PostgreSQL's lower() (which folds letters beyond ASCII too). */
osc_err osc_store_create_user(osc_store *st, const struct osc_audit *a, const char *domain_id,
                              const struct osc_new_user *u, struct osc_principal *out,
                              enum osc_kind *holder_kind);
/* The tags of a principal in the order given. *out malloc'd (NULL when *n == 0). */
osc_err osc_store_list_tags(osc_store *st, const char *principal_id, struct osc_tag **out,
                            size_t *n);
/* A page of a domain's users whose path starts with path_prefix, in (lower(name), id) order,
 * after the given position (both NULL: from the start), at most limit. */
osc_err osc_store_list_users_page(osc_store *st, const char *domain_id, const char *path_prefix,
                                  const char *after_lower_name, const char *after_id, int limit,
                                  struct osc_principal **out, size_t *n);
/* Deletes a principal of the given kind that holds no key (AWS DeleteUser, DeleteRole); its role
 * assignments and tags go with it. OSC_E_DELETE_CONFLICT while it has keys, OSC_E_NOT_FOUND if
 * there is no such principal of that kind in the domain. */
osc_err osc_store_delete_without_keys(osc_store *st, const struct osc_audit *a,
                                      const char *domain_id, const char *id, enum osc_kind kind);

/* --- service accounts --- */

struct osc_new_sa {
    const char *name;
    const char *description; /* NULL: "" */
    int enabled;
    const char *path;         /* NULL: "/" */
    const char *trust_policy; /* NULL: none (REST) */
    int max_session_duration;
    const struct osc_tag *tags;
    size_t ntags;
};

/* Creates a service account. OSC_E_CONFLICT (with *holder_kind) if the name is taken,
 * OSC_E_INVALID_INPUT for tag keys alike as for users. *out is the caller's to clean up
 * (osc_service_account_cleanup). */
osc_err osc_store_create_service_account(osc_store *st, const struct osc_audit *a,
                                         const char *domain_id, const struct osc_new_sa *n,
                                         struct osc_service_account *out,
                                         enum osc_kind *holder_kind);
/* One service account of the domain by id / by name (ignoring case). OSC_E_NOT_FOUND if none. */
osc_err osc_store_get_service_account(osc_store *st, const char *domain_id, const char *id,
                                      struct osc_service_account *out);
osc_err osc_store_find_service_account(osc_store *st, const char *domain_id, const char *name,
                                       struct osc_service_account *out);
/* A page of the domain's service accounts (as osc_store_list_users_page). */
osc_err osc_store_list_service_accounts(osc_store *st, const char *domain_id,
                                        const char *path_prefix, const char *after_lower_name,
                                        const char *after_id, int limit,
                                        struct osc_service_account **out, size_t *n);
/* Changes enabled (< 0: keep) and/or description (NULL: keep). OSC_E_NOT_FOUND if absent. */
osc_err osc_store_update_service_account(osc_store *st, const struct osc_audit *a,
                                         const char *domain_id, const char *id, int enabled,
                                         const char *description, struct osc_service_account *out);
/* Changes a user's enabled flag (enabled < 0: keep) and/or password (NULL: keep; a change bumps
 * the password epoch). OSC_E_NOT_FOUND if no such user in the domain. */
osc_err osc_store_update_user(osc_store *st, const struct osc_audit *a, const char *domain_id,
                              const char *id, int enabled, const char *password_hash,
                              struct osc_principal *out);
/* Deletes a principal of the given kind with its keys and role assignments.
 * OSC_E_NOT_FOUND if absent. */
osc_err osc_store_delete_principal(osc_store *st, const struct osc_audit *a, const char *domain_id,
                                   const char *id, enum osc_kind kind);
/* Grants / revokes a role (one role bit). Grant is idempotent; revoke of a role not held is
 * OSC_E_NOT_FOUND, as is an unknown principal. */
osc_err osc_store_grant_role(osc_store *st, const struct osc_audit *a, const char *domain_id,
                             const char *principal_id, unsigned role);
osc_err osc_store_revoke_role(osc_store *st, const struct osc_audit *a, const char *domain_id,
                              const char *principal_id, unsigned role);

/* --- access keys --- */

/* Inserts a key for owner_id (in domain_id), bumping the owner's key count in the same statement.
 * OSC_E_NOT_FOUND: no such owner in the domain; OSC_E_KEY_LIMIT: the owner has 2 keys;
 * OSC_E_CONFLICT: the access key id exists (the caller retries with a new one). */
osc_err osc_store_insert_credential(osc_store *st, const struct osc_audit *a, const char *domain_id,
                                    const char *owner_id, const char *access_key,
                                    const char *description, const char *kid,
                                    const unsigned char *sealed, size_t sealedlen,
                                    struct osc_credential *out);
/* One key of the domain. OSC_E_NOT_FOUND if absent or of another domain. */
osc_err osc_store_get_credential(osc_store *st, const char *domain_id, const char *access_key,
                                 struct osc_credential *out);
/* The keys of owner_id in creation order. OSC_E_NOT_FOUND if the owner is not in the domain.
 * *out is malloc'd (caller frees; may be NULL when *n == 0). */
osc_err osc_store_list_credentials(osc_store *st, const char *domain_id, const char *owner_id,
                                   struct osc_credential **out, size_t *n);
/* Updates status (active < 0: keep) and/or description (NULL: keep) of a key of the domain: any
 * key when may_any, else only keys owned by owner_id (the caller itself, or the principal an AWS
 * action names); the audit row names a's actor. OSC_E_NOT_FOUND when no such key is changeable
 * (the service tells 403 from 404). */
osc_err osc_store_update_credential(osc_store *st, const struct osc_audit *a, const char *domain_id,
                                    const char *access_key, int may_any, const char *owner_id,
                                    int active, const char *description,
                                    struct osc_credential *out);
/* Deletes a key under the same rule, decrementing the owner's key count. */
osc_err osc_store_delete_credential(osc_store *st, const struct osc_audit *a, const char *domain_id,
                                    const char *access_key, int may_any, const char *owner_id);

/* --- signed requests --- */

struct osc_signing_key {
    char access_key[OSC_AK_LEN + 1];
    char owner_id[OSC_ID_LEN + 1];
    char domain_id[OSC_ID_LEN + 1];
    char kid[33];
    unsigned char sealed[128]; /* the sealed secret key */
    size_t sealed_len;
    int usable; /* key active, owner and domain enabled */
};

/* The key that signs a request, from any domain. OSC_E_NOT_FOUND if there is none. */
osc_err osc_store_get_signing_key(osc_store *st, const char *access_key,
                                  struct osc_signing_key *out);

struct osc_last_use {
    char access_key[OSC_AK_LEN + 1];
    int64_t at_us;
    char service[16]; /* [a-z0-9-] */
    char region[64];  /* [a-z0-9-] */
};

/* Records the last use of n keys in one statement (never moving a last use backwards). */
osc_err osc_store_record_last_use(osc_store *st, const struct osc_last_use *uses, size_t n);

/* --- key rotation --- */

struct osc_sealed_key {
    char access_key[OSC_AK_LEN + 1];
    char kid[33];
    unsigned char sealed[128];
    size_t sealed_len;
};

/* Up to limit keys whose secret is sealed under a kid other than primary_kid. *out malloc'd. */
osc_err osc_store_keys_to_reseal(osc_store *st, const char *primary_kid, int limit,
                                 struct osc_sealed_key **out, size_t *n);
/* Replaces a key's sealed secret, only if it is still sealed under old_kid (else a no-op). */
osc_err osc_store_reseal(osc_store *st, const char *access_key, const char *old_kid,
                         const char *new_kid, const unsigned char *sealed, size_t sealedlen);

/* --- tokens --- */

/* Records a revoked token id until it would have expired. Idempotent. */
osc_err osc_store_revoke_token(osc_store *st, const struct osc_audit *a, const char *domain_id,
                               const char *token_id, int64_t expires_us);
/* Calls fn for every revoked token that has not expired yet. */
osc_err osc_store_each_revoked(osc_store *st,
                               void (*fn)(const char *token_id, int64_t expires_us, void *arg),
                               void *arg);

/* --- administration --- */

/* Creates the domain and an enabled user holding every role, unless they exist (ignoring case);
 * an existing user keeps its password and gets any missing role. Reports what it did in
 * *created_domain / *created_user. */
osc_err osc_store_bootstrap(osc_store *st, const char *domain_name, const char *user_name,
                            const char *password_hash, struct osc_principal *out,
                            int *created_domain, int *created_user);

/* --- change notifications from other replicas (LISTEN on a dedicated direct connection) --- */

typedef struct osc_listener osc_listener;

struct osc_listener_ops {
    /* After every (re)connection, once LISTEN is active, and after a change notify could not
     * apply: everything must be reloaded. Nonzero when it failed: tried again a second later. */
    int (*resync)(void *arg);
    /* One notification payload ("p:<id>", "t:<id>:<expiry>"). Nonzero when the change could not
     * be applied (its read failed): a resync is then due. */
    int (*notify)(const char *payload, void *arg);
};

/* Starts a thread that listens on conninfo (not through a transaction-mode pooler: LISTEN is
 * session state) and calls ops from that thread. It reconnects by itself. */
osc_err osc_store_listen_start(const char *conninfo, const struct osc_listener_ops *ops, void *arg,
                               osc_listener **out);
/* Stops and joins the thread. NULL is a no-op. */
void osc_store_listen_stop(osc_listener *l);

/* Applies pending migrations in one transaction under an advisory lock. *applied counts them. */
osc_err osc_store_migrate(osc_store *st, int *from_version, int *to_version);
/* Prepares every statement of the statement table against the database's schema without running
 * any: OSC_E_INTERNAL (each misfit logged) when the schema and the binary disagree. */
osc_err osc_store_check_statements(osc_store *st);
/* The schema version this binary carries. */
int osc_store_binary_schema_version(void);

#endif
