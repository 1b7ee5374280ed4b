/* The statement table and the store functions built on it. Every change is one SQL statement that
 * also writes its audit row (and, for keys, moves the owner's key_count, whose CHECK is the 2-key
 * limit), so nothing here reads, decides in C, then writes. PGresult never leaves this folder. */
#include "oscred/store.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oscred/ctx.h"
#include "oscred/log.h"
#include "oscred/metrics.h"
#include "pool.h"

/* How often "the database is unavailable" is logged at most: during an outage every request that
 * needs the database fails, thousands a second at full load, and a line for each would bury the
 * rest of the log (the metric counts each one). */
#define UNAVAILABLE_LOG_INTERVAL_US 1000000

struct osc_store {
    struct pool *pool;
    struct osc_log_limit unavailable_log;
};

enum q {
    Q_GET_PRINCIPAL,
    Q_FIND_PRINCIPAL,
    Q_LIST_USERS,
    Q_EACH_PRINCIPAL,
    Q_CREATE_USER,
    Q_UPDATE_USER,
    Q_DELETE_PRINCIPAL,
    Q_GRANT_ROLE,
    Q_REVOKE_ROLE,
    Q_INSERT_CRED,
    Q_GET_CRED,
    Q_LIST_CREDS,
    Q_UPDATE_CRED,
    Q_DELETE_CRED,
    Q_REVOKE_TOKEN,
    Q_EACH_REVOKED,
    Q_SCHEMA_VERSION,
    Q_BOOT_FIND_DOMAIN,
    Q_BOOT_CREATE_DOMAIN,
    Q_BOOT_CREATE_USER,
    Q_BOOT_GRANT_ALL,
    Q_RECORD_MIGRATION,
    Q_GET_SIGNING_KEY,
    Q_LIST_TAGS,
    Q_LIST_USERS_PAGE,
    Q_DELETE_WITHOUT_KEYS,
    Q_KEYS_TO_RESEAL,
    Q_RESEAL,
    Q_CREATE_SA,
    Q_GET_SA,
    Q_FIND_SA,
    Q_LIST_SA_PAGE,
    Q_UPDATE_SA,
    Q_RECORD_LAST_USE,
    Q__COUNT
};

#define US(col) "(extract(epoch from " col ") * 1000000)::bigint"

/* Principal columns: id, domain_id, domain name, name, path, kind, enabled, domain enabled,
 * password epoch, created, role bits, password hash (only when $with_pw). */
#define PRINCIPAL_COLS(p, d, withpw)                                                               \
    p ".id, " p ".domain_id, " d ".name, " p ".name, " p ".path, " p ".kind, " p ".enabled, " d    \
      ".enabled, " p ".password_epoch, " US(                                                       \
          p ".created_at") ", "                                                                    \
                           "COALESCE((SELECT bit_or(CASE r.role WHEN 'admin' THEN 1 ELSE 2 END) "  \
                           "FROM role_assignments r WHERE r.principal_id = " p ".id), 0), "        \
                           "CASE WHEN " withpw " THEN " p ".password_hash END, " d ".account_id"

/* Credential columns: access key, owner id, owner name, status, description, created, last used,
 * last used service, last used region. */
#define CRED_COLS(k, ownername)                                                                    \
    k ".access_key, " k ".owner_id, " ownername ", " k ".status, " k ".description, " US(          \
        k ".created_at") ", COALESCE(" US(k ".last_used_at") ", 0), " k ".last_used_service, " k   \
                                                             ".last_used_region"

/* Service account columns after the principal's: description, trust policy, max session, and the
 * most recent use of its current keys (time, region). Needs "s" and a LATERAL "lu". */
#define SA_COLS(p, s)                                                                              \
    PRINCIPAL_COLS(p, "d", "false")                                                                \
    ", " s ".description, " s ".trust_policy, " s                                                  \
    ".max_session_duration, COALESCE(" US("lu.last_used_at") ", 0), lu.last_used_region"
#define SA_LAST_USE(p)                                                                             \
    " LEFT JOIN LATERAL (SELECT last_used_at, last_used_region FROM access_keys "                  \
    "WHERE owner_id = " p ".id AND last_used_at IS NOT NULL ORDER BY last_used_at DESC LIMIT 1) "  \
    "lu ON true "

#define AUDIT_INSERT                                                                               \
    "INSERT INTO audit_events (domain_id, actor_id, actor_kind, action, target_kind, target_id, "  \
    "request_id) "

static const struct pool_stmt STMTS[Q__COUNT] = {
    [Q_GET_PRINCIPAL] =
        {Q_GET_PRINCIPAL, "get_principal",
         "SELECT " PRINCIPAL_COLS(
             "p", "d", "$3::bool") " FROM principals p "
                                   "JOIN domains d ON d.id = p.domain_id "
                                   "WHERE p.id = $1 AND ($2::text IS NULL OR p.domain_id = $2)",
         3, 1, NULL},
    [Q_FIND_PRINCIPAL] = {Q_FIND_PRINCIPAL, "find_principal",
                          "SELECT " PRINCIPAL_COLS(
                              "p", "d", "$4::bool") " FROM principals p "
                                                    "JOIN domains d ON d.id = p.domain_id "
                                                    "WHERE lower(p.name) = lower($3) AND "
                                                    "CASE WHEN $1::text IS NOT NULL THEN d.id = $1 "
                                                    "ELSE lower(d.name) = lower($2) END",
                          4, 1, NULL},
    [Q_LIST_USERS] = {Q_LIST_USERS, "list_users",
                      "SELECT " PRINCIPAL_COLS(
                          "p", "d", "false") " FROM principals p "
                                             "JOIN domains d ON d.id = p.domain_id "
                                             "WHERE p.domain_id = $1 AND p.kind = 'user' AND "
                                             "($2::text IS NULL OR lower(p.name) = lower($2)) "
                                             "ORDER BY lower(p.name), p.id",
                      2, 1, NULL},
    [Q_EACH_PRINCIPAL] = {Q_EACH_PRINCIPAL, "each_principal",
                          "SELECT " PRINCIPAL_COLS("p", "d",
                                                   "false") " FROM principals p "
                                                            "JOIN domains d ON d.id = p.domain_id",
                          0, 1, NULL},
    [Q_CREATE_USER] =
        {Q_CREATE_USER, "create_user",
         "WITH ins AS (INSERT INTO principals (id, domain_id, kind, name, enabled, password_hash, "
         "path) "
         "  SELECT $1, d.id, 'user', $3, $4, $5, $9 FROM domains d WHERE d.id = $2 RETURNING *), "
         "t AS (INSERT INTO principal_tags (principal_id, position, key, value) "
         "  SELECT ins.id, o.n, o.k, o.v FROM ins, "
         "  unnest($10::text[], $11::text[]) WITH ORDINALITY AS o(k, v, n)), "
         "a AS (" AUDIT_INSERT "SELECT domain_id, $6, $7, 'user.create', 'user', id, $8 FROM ins) "
         "SELECT " PRINCIPAL_COLS("ins", "d",
                                  "false") " FROM ins JOIN domains d ON d.id = ins.domain_id",
         11, 0, NULL},
    [Q_UPDATE_USER] =
        {Q_UPDATE_USER, "update_user",
         "WITH u AS (UPDATE principals SET enabled = COALESCE($3::bool, enabled), "
         "  password_hash = COALESCE($4::text, password_hash), "
         "  password_epoch = password_epoch + CASE WHEN $4::text IS NULL THEN 0 ELSE 1 END "
         "  WHERE id = $2 AND domain_id = $1 AND kind = 'user' RETURNING *), "
         "a AS (" AUDIT_INSERT "SELECT domain_id, $5, $6, 'user.update', 'user', id, $7 FROM u) "
         "SELECT " PRINCIPAL_COLS("u", "d", "false") " FROM u JOIN domains d ON d.id = u.domain_id",
         7, 0, NULL},
    /* The keys go with their owner, each with its audit row. A key created for the owner while
     * this statement waits for the owner's row lock is not in its snapshot: the foreign key (no
     * cascade) then fails the statement, and run() runs it again, now seeing the key. */
    [Q_DELETE_PRINCIPAL] =
        {Q_DELETE_PRINCIPAL, "delete_principal",
         "WITH del AS (DELETE FROM principals WHERE id = $2 AND domain_id = $1 AND kind = $3 "
         "  RETURNING id, domain_id, kind), "
         "k AS (DELETE FROM access_keys WHERE owner_id IN (SELECT id FROM del) "
         "  RETURNING access_key), "
         "a AS (" AUDIT_INSERT
         "SELECT del.domain_id, $4, $5, 'credential.delete', 'access_key', k.access_key, $6 "
         "  FROM k, del "
         "UNION ALL SELECT domain_id, $4, $5, kind || '.delete', kind, id, $6 FROM del) "
         "SELECT id FROM del",
         6, 0, "access_keys_owner_id_fkey"},
    [Q_GRANT_ROLE] =
        {Q_GRANT_ROLE, "grant_role",
         "WITH p AS (SELECT id, domain_id, kind FROM principals WHERE id = $2 AND domain_id = $1 "
         "  FOR KEY SHARE), "
         "g AS (INSERT INTO role_assignments (principal_id, role) SELECT id, $3 FROM p "
         "  ON CONFLICT DO NOTHING RETURNING principal_id), "
         "a AS (" AUDIT_INSERT "SELECT p.domain_id, $4, $5, 'role.grant.' || $3, p.kind, p.id, $6 "
         "  FROM p JOIN g ON g.principal_id = p.id) "
         "SELECT id FROM p",
         6, 0, NULL},
    [Q_REVOKE_ROLE] = {Q_REVOKE_ROLE, "revoke_role",
                       "WITH r AS (DELETE FROM role_assignments ra USING principals p "
                       "  WHERE ra.principal_id = $2 AND ra.role = $3 AND p.id = ra.principal_id "
                       "AND p.domain_id = $1 "
                       "  RETURNING p.id, p.domain_id, p.kind), "
                       "a AS (" AUDIT_INSERT
                       "SELECT domain_id, $4, $5, 'role.revoke.' || $3, kind, id, $6 FROM r) "
                       "SELECT id FROM r",
                       6, 0, NULL},
    [Q_INSERT_CRED] =
        {Q_INSERT_CRED, "insert_cred",
         "WITH p AS (UPDATE principals SET key_count = key_count + 1 "
         "  WHERE id = $3 AND domain_id = $2 RETURNING id, name), "
         "k AS (INSERT INTO access_keys (access_key, owner_id, description, kid, sealed) "
         "  SELECT $1, p.id, $4, $5, $6 FROM p RETURNING *), "
         "a AS (" AUDIT_INSERT
         "SELECT $2, $7, $8, 'credential.create', 'access_key', access_key, $9 "
         "  FROM k) "
         "SELECT " CRED_COLS("k", "p.name") " FROM k, p",
         9, 0, NULL},
    [Q_GET_CRED] = {Q_GET_CRED, "get_cred",
                    "SELECT " CRED_COLS("k",
                                        "p.name") " FROM access_keys k "
                                                  "JOIN principals p ON p.id = k.owner_id WHERE "
                                                  "k.access_key = $1 AND p.domain_id = $2",
                    2, 1, NULL},
    [Q_LIST_CREDS] = {Q_LIST_CREDS, "list_creds",
                      "SELECT p.id, " CRED_COLS(
                          "k", "p.name") " FROM principals p "
                                         "LEFT JOIN access_keys k ON k.owner_id = p.id WHERE p.id "
                                         "= $2 AND p.domain_id = $1 "
                                         "ORDER BY k.created_at, k.access_key",
                      2, 1, NULL},
    [Q_UPDATE_CRED] = {Q_UPDATE_CRED, "update_cred",
                       "WITH k AS (UPDATE access_keys k SET status = COALESCE($5::text, k.status), "
                       "  description = COALESCE($6::text, k.description) FROM principals p "
                       "  WHERE k.access_key = $1 AND p.id = k.owner_id AND p.domain_id = $2 "
                       "  AND ($3::bool OR k.owner_id = $4) RETURNING k.*, p.name AS owner_name), "
                       "a AS (" AUDIT_INSERT
                       "SELECT $2, $9, $7, 'credential.update', 'access_key', access_key, $8 "
                       "  FROM k) "
                       "SELECT " CRED_COLS("k", "k.owner_name") " FROM k",
                       9, 1, NULL},
    [Q_DELETE_CRED] = {Q_DELETE_CRED, "delete_cred",
                       "WITH k AS (DELETE FROM access_keys k USING principals p "
                       "  WHERE k.access_key = $1 AND p.id = k.owner_id AND p.domain_id = $2 "
                       "  AND ($3::bool OR k.owner_id = $4) RETURNING k.access_key, k.owner_id), "
                       "c AS (UPDATE principals SET key_count = key_count - 1 FROM k WHERE "
                       "principals.id = k.owner_id), "
                       "a AS (" AUDIT_INSERT
                       "SELECT $2, $7, $5, 'credential.delete', 'access_key', access_key, $6 "
                       "  FROM k) "
                       "SELECT access_key FROM k",
                       7, 1, NULL},
    [Q_REVOKE_TOKEN] = {Q_REVOKE_TOKEN, "revoke_token",
                        "WITH t AS (INSERT INTO revoked_tokens (token_id, expires_at) "
                        "  VALUES ($1, to_timestamp($2::bigint / 1000000.0)) ON CONFLICT DO "
                        "NOTHING RETURNING token_id), "
                        "a AS (" AUDIT_INSERT
                        "SELECT $3, $4, $5, 'token.revoke', 'token', token_id, $6 FROM t) "
                        "SELECT 1",
                        6, 1, NULL},
    [Q_EACH_REVOKED] = {Q_EACH_REVOKED, "each_revoked",
                        "SELECT token_id, " US(
                            "expires_at") " FROM revoked_tokens WHERE expires_at > now()",
                        0, 1, NULL},
    [Q_SCHEMA_VERSION] = {Q_SCHEMA_VERSION, "schema_version",
                          "SELECT COALESCE(max(version), 0) FROM schema_migrations", 0, 1, NULL},
    [Q_BOOT_FIND_DOMAIN] = {Q_BOOT_FIND_DOMAIN, "boot_find_domain",
                            "SELECT id FROM domains WHERE lower(name) = lower($1)", 1, 1, NULL},
    [Q_BOOT_CREATE_DOMAIN] = {Q_BOOT_CREATE_DOMAIN, "boot_create_domain",
                              "INSERT INTO domains (id, name, account_id) VALUES ($1, $2, $3) "
                              "ON CONFLICT (account_id) DO NOTHING RETURNING id",
                              3, 0, NULL},
    [Q_BOOT_CREATE_USER] =
        {Q_BOOT_CREATE_USER, "boot_create_user",
         "WITH ins AS (INSERT INTO principals (id, domain_id, kind, name, password_hash) "
         "  VALUES ($1, $2, 'user', $3, $4) ON CONFLICT DO NOTHING RETURNING id, domain_id), "
         "a AS (" AUDIT_INSERT
         "SELECT domain_id, NULL, NULL, 'user.create', 'user', id, 'bootstrap' "
         "  FROM ins) "
         "SELECT id FROM ins",
         4, 0, NULL},
    [Q_BOOT_GRANT_ALL] = {Q_BOOT_GRANT_ALL, "boot_grant_all",
                          "INSERT INTO role_assignments (principal_id, role) "
                          "VALUES ($1, 'admin'), ($1, 'security_admin') ON CONFLICT DO NOTHING",
                          1, 0, NULL},
    [Q_RECORD_MIGRATION] =
        {Q_RECORD_MIGRATION, "record_migration",
         "INSERT INTO schema_migrations (version, name) VALUES ($1::integer, $2)", 2, 0, NULL},
    /* The signed-request hot path: one indexed read, so a deleted or deactivated key is refused
     * on every replica the moment its change commits. */
    [Q_GET_SIGNING_KEY] =
        {Q_GET_SIGNING_KEY, "get_signing_key",
         "SELECT k.owner_id, p.domain_id, k.kid, k.sealed, k.status = 'active' AND p.enabled "
         "AND d.enabled FROM access_keys k JOIN principals p ON p.id = k.owner_id "
         "JOIN domains d ON d.id = p.domain_id WHERE k.access_key = $1",
         1, 1, NULL},
    [Q_LIST_TAGS] =
        {Q_LIST_TAGS, "list_tags",
         "SELECT key, value FROM principal_tags WHERE principal_id = $1 ORDER BY position", 1, 1,
         NULL},
    /* Keyset pagination in (lower(name), id) order, served by the (domain_id, lower(name))
     * index: a page costs the same on the first and the thousandth page. */
    [Q_LIST_USERS_PAGE] =
        {Q_LIST_USERS_PAGE, "list_users_page",
         "SELECT " PRINCIPAL_COLS(
             "p", "d",
             "false") " FROM principals p "
                      "JOIN domains d ON d.id = p.domain_id "
                      "WHERE p.domain_id = $1 AND p.kind = 'user' AND starts_with(p.path, $2) "
                      "AND ($3::text IS NULL OR (lower(p.name), p.id) > ($3, $4)) "
                      "ORDER BY lower(p.name), p.id LIMIT $5::integer",
         5, 1, NULL},
    /* Key rotation: secrets sealed under any kid but the primary, a batch at a time. */
    [Q_KEYS_TO_RESEAL] = {Q_KEYS_TO_RESEAL, "keys_to_reseal",
                          "SELECT access_key, kid, sealed FROM access_keys WHERE kid <> $1 "
                          "ORDER BY access_key LIMIT $2::integer",
                          2, 1, NULL},
    /* Only if nobody re-sealed or deleted it meanwhile: a concurrent rotation is harmless. */
    [Q_RESEAL] = {Q_RESEAL, "reseal",
                  "UPDATE access_keys SET kid = $3, sealed = $4 WHERE access_key = $1 AND kid = $2",
                  4, 1, NULL},
    [Q_CREATE_SA] =
        {Q_CREATE_SA, "create_sa",
         "WITH ins AS (INSERT INTO principals (id, domain_id, kind, name, enabled, path) "
         "  SELECT $1, d.id, 'service_account', $3, $4, $5 FROM domains d WHERE d.id = $2 "
         "  RETURNING *), "
         "s AS (INSERT INTO service_accounts (principal_id, description, trust_policy, "
         "  max_session_duration) SELECT id, $6, $7, $8::integer FROM ins RETURNING *), "
         "t AS (INSERT INTO principal_tags (principal_id, position, key, value) "
         "  SELECT ins.id, o.n, o.k, o.v FROM ins, "
         "  unnest($9::text[], $10::text[]) WITH ORDINALITY AS o(k, v, n)), "
         "a AS (" AUDIT_INSERT "SELECT domain_id, $11, $12, 'service_account.create', "
         "  'service_account', id, $13 FROM ins) "
         "SELECT " SA_COLS("ins", "s") " FROM ins JOIN s ON s.principal_id = ins.id "
                                       "JOIN domains d ON d.id = ins.domain_id" SA_LAST_USE("ins"),
         13, 0, NULL},
    [Q_GET_SA] =
        {Q_GET_SA, "get_sa",
         "SELECT " SA_COLS(
             "p", "s") " FROM principals p JOIN service_accounts s "
                       "ON s.principal_id = p.id JOIN domains d ON d.id = p.domain_id" SA_LAST_USE(
                           "p") "WHERE p.id = $1 AND p.domain_id = $2",
         2, 1, NULL},
    [Q_FIND_SA] =
        {Q_FIND_SA, "find_sa",
         "SELECT " SA_COLS(
             "p", "s") " FROM principals p JOIN service_accounts s "
                       "ON s.principal_id = p.id JOIN domains d ON d.id = p.domain_id" SA_LAST_USE(
                           "p") "WHERE p.domain_id = $1 AND lower(p.name) = lower($2)",
         2, 1, NULL},
    [Q_LIST_SA_PAGE] =
        {Q_LIST_SA_PAGE, "list_sa_page",
         "SELECT " SA_COLS(
             "p", "s") " FROM principals p JOIN service_accounts s "
                       "ON s.principal_id = p.id JOIN domains d ON d.id = p.domain_id" SA_LAST_USE(
                           "p") "WHERE p.domain_id = $1 AND starts_with(p.path, $2) "
                                "AND ($3::text IS NULL OR (lower(p.name), p.id) > ($3, $4)) "
                                "ORDER BY lower(p.name), p.id LIMIT $5::integer",
         5, 1, NULL},
    [Q_UPDATE_SA] =
        {Q_UPDATE_SA, "update_sa",
         "WITH p AS (UPDATE principals SET enabled = COALESCE($3::bool, enabled) "
         "  WHERE id = $2 AND domain_id = $1 AND kind = 'service_account' RETURNING *), "
         "s AS (UPDATE service_accounts SET description = COALESCE($4::text, description) "
         "  WHERE principal_id = (SELECT id FROM p) RETURNING *), "
         "a AS (" AUDIT_INSERT "SELECT domain_id, $5, $6, 'service_account.update', "
         "  'service_account', id, $7 FROM p) "
         "SELECT " SA_COLS("p", "s") " FROM p JOIN s ON s.principal_id = p.id "
                                     "JOIN domains d ON d.id = p.domain_id" SA_LAST_USE("p"),
         7, 0, NULL},
    /* AWS DeleteUser: refuses while keys exist. The row lock it takes is the one key creation
     * takes to bump key_count, so a racing CreateAccessKey either wins or finds no user. */
    [Q_DELETE_WITHOUT_KEYS] =
        {Q_DELETE_WITHOUT_KEYS, "delete_without_keys",
         "WITH del AS (DELETE FROM principals WHERE id = $2 AND domain_id = $1 AND kind = $6 "
         "  AND key_count = 0 RETURNING id, domain_id, kind), "
         "a AS (" AUDIT_INSERT
         "SELECT domain_id, $3, $4, kind || '.delete', kind, id, $5 FROM del) "
         "SELECT id FROM del",
         6, 0, NULL},
    /* Coalesced last use: one statement for every key used since the last flush; a use never
     * moves last_used_at backwards (two replicas may flush in any order). */
    [Q_RECORD_LAST_USE] =
        {Q_RECORD_LAST_USE, "record_last_use",
         "UPDATE access_keys k SET last_used_at = to_timestamp(u.at / 1000000.0), "
         "last_used_service = u.service, last_used_region = u.region "
         /* char(20), the column's type: a text key would compare as text and scan the table. */
         "FROM unnest($1::char(20)[], $2::bigint[], $3::text[], $4::text[]) AS u(ak, at, service, "
         "region) "
         "WHERE k.access_key = u.ak "
         "AND (k.last_used_at IS NULL OR k.last_used_at < to_timestamp(u.at / 1000000.0))",
         4, 1, NULL},
};

osc_err osc_store_create(const struct osc_store_options *opt, osc_store **out)
{
    osc_err err = OSC_OK;
    osc_store *st = calloc(1, sizeof(*st));

    if (!st) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    st->unavailable_log.interval_us = UNAVAILABLE_LOG_INTERVAL_US;
    err = pool_create(opt->conninfo, opt->pool_size, opt->timeout_ms, opt->prepared, STMTS,
                      Q__COUNT, &st->pool);
out:
    if (err)
        free(st);
    else
        *out = st;
    return err;
}

void osc_store_destroy(osc_store *st)
{
    if (!st)
        return;
    pool_destroy(st->pool);
    free(st);
}

void osc_store_pool_stats(osc_store *st, int *in_use, int *idle, int *waiting)
{
    pool_stats(st->pool, in_use, idle, waiting);
}

/* Counts a failed statement and logs it (unavailable ones once a second at most, the line saying
 * how many earlier failures it also stands for). */
static void note_failure(osc_store *st, enum q id, osc_err err, const struct pool_error *perr)
{
    char also[24] = "";

    osc_metrics_db_error(err == OSC_E_UNAVAILABLE);
    if (err == OSC_E_UNAVAILABLE && !osc_log_limit_due(&st->unavailable_log, also, sizeof(also)))
        return;
    osc_log(err == OSC_E_UNAVAILABLE ? OSC_LOG_WARN : OSC_LOG_ERROR, "db.statement_failed",
            "statement", STMTS[id].name, "error", osc_err_name(err), "sqlstate",
            perr->sqlstate[0] ? perr->sqlstate : NULL, "detail", perr->message, "suppressed",
            also[0] ? also : NULL, OSC_LOG_END);
}

static int retryable_conflict(const struct pool_stmt *stmt, const struct pool_error *perr)
{
    /* deadlock_detected / serialization_failure, or the statement's own sign of a concurrent
     * change: the other statement won; running ours again is what a client retry would do, only
     * sooner. */
    return strcmp(perr->sqlstate, "40P01") == 0 || strcmp(perr->sqlstate, "40001") == 0 ||
           (stmt->retry_constraint && strcmp(perr->constraint, stmt->retry_constraint) == 0);
}

/* Runs one statement on a pooled connection. A statement marked idempotent runs once more when a
 * connection that had been open before this request turns out to be dead (server restart,
 * failover): the retry gets a fresh connection. A statement that ran into its deadline is not
 * run again: there is no time left for it (the pool has it cancelled on the server). Constraint
 * errors are returned with *perr for the caller to map; other failures are logged here. */
static osc_err run(osc_store *st, enum q id, const char *const *values, const int *lengths,
                   const int *formats, PGresult **res, struct pool_error *perr)
{
    osc_err err = OSC_OK;
    int64_t deadline = pool_deadline(st->pool);
    struct pool_conn *c = NULL;
    int conflict = 0;

    for (int attempt = 0; attempt < 2; attempt++) {
        memset(perr, 0, sizeof(*perr));
        conflict = 0;
        err = pool_acquire(st->pool, deadline, &c, perr);
        if (err)
            break;
        int fresh = pool_conn_fresh(c);
        err = pool_exec(c, deadline, &STMTS[id], values, lengths, formats, res, perr);
        pool_release(st->pool, c);
        if (err == OSC_E_UNAVAILABLE && !fresh && STMTS[id].idempotent && osc_mono_us() < deadline)
            continue;
        conflict = err == OSC_E_INTERNAL && retryable_conflict(&STMTS[id], perr);
        if (!conflict)
            break;
    }
    if (err == OSC_E_UNAVAILABLE || conflict ||
        (err && !perr->constraint[0] && strcmp(perr->sqlstate, "23505") != 0))
        note_failure(st, id, err, perr);
    return err;
}

/* Appends one double-quoted element to a PostgreSQL array literal (the literal travels as a
 * parameter; quoting and escaping keep it well-formed whatever the value holds). */
static int append_element(char **buf, size_t *len, size_t *cap, const char *value, int first)
{
    size_t need = 2 * strlen(value) + 4;

    if (*len + need + 2 > *cap) {
        size_t ncap = (*cap + need) * 2;
        char *n = realloc(*buf, ncap);
        if (!n)
            return -1;
        *buf = n;
        *cap = ncap;
    }
    if (!first)
        (*buf)[(*len)++] = ',';
    (*buf)[(*len)++] = '"';
    for (const char *p = value; *p; p++) {
        if (*p == '"' || *p == '\\')
            (*buf)[(*len)++] = '\\';
        (*buf)[(*len)++] = *p;
    }
    (*buf)[(*len)++] = '"';
    return 0;
}

/* Builds the two array literals of a tag list (keys, values) for unnest(). */
static osc_err tag_arrays(const struct osc_tag *tags, size_t n, char **keys, char **values)
{
    char *arr[2] = {NULL, NULL};
    size_t len[2] = {1, 1}, cap[2] = {64, 64};
    osc_err err = OSC_OK;

    for (int a = 0; a < 2; a++) {
        arr[a] = malloc(cap[a]);
        if (!arr[a]) {
            err = OSC_E_INTERNAL;
            goto out;
        }
        arr[a][0] = '{';
    }
    for (size_t i = 0; i < n; i++) {
        if (append_element(&arr[0], &len[0], &cap[0], tags[i].key, i == 0) ||
            append_element(&arr[1], &len[1], &cap[1], tags[i].value, i == 0)) {
            err = OSC_E_INTERNAL;
            goto out;
        }
    }
    for (int a = 0; a < 2; a++) {
        arr[a][len[a]++] = '}';
        arr[a][len[a]] = '\0';
    }
out:
    if (err) {
        free(arr[0]);
        free(arr[1]);
    } else {
        *keys = arr[0];
        *values = arr[1];
    }
    return err;
}

static void copy_text(const PGresult *r, int row, int col, char *dst, size_t n)
{
    snprintf(dst, n, "%s", PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

static int64_t get_i64(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return 0;
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static int get_bool(const PGresult *r, int row, int col)
{
    return !PQgetisnull(r, row, col) && PQgetvalue(r, row, col)[0] == 't';
}

static osc_err read_principal(const PGresult *r, int row, int base, struct osc_principal *p)
{
    memset(p, 0, sizeof(*p));
    copy_text(r, row, base + 0, p->id, sizeof(p->id));
    copy_text(r, row, base + 1, p->domain_id, sizeof(p->domain_id));
    copy_text(r, row, base + 2, p->domain_name, sizeof(p->domain_name));
    copy_text(r, row, base + 3, p->name, sizeof(p->name));
    copy_text(r, row, base + 4, p->path, sizeof(p->path));
    p->kind = strcmp(PQgetvalue(r, row, base + 5), "service_account") == 0
                  ? OSC_KIND_SERVICE_ACCOUNT
                  : OSC_KIND_USER;
    p->enabled = get_bool(r, row, base + 6);
    p->domain_enabled = get_bool(r, row, base + 7);
    p->password_epoch = (uint32_t)get_i64(r, row, base + 8);
    p->created_us = get_i64(r, row, base + 9);
    p->roles = (unsigned)get_i64(r, row, base + 10) & OSC_ROLE_ALL;
    copy_text(r, row, base + 12, p->account_id, sizeof(p->account_id));
    if (!PQgetisnull(r, row, base + 11)) {
        p->password_hash = strdup(PQgetvalue(r, row, base + 11));
        if (!p->password_hash)
            return OSC_E_INTERNAL;
    }
    return OSC_OK;
}

static void read_credential(const PGresult *r, int row, int base, struct osc_credential *c)
{
    memset(c, 0, sizeof(*c));
    copy_text(r, row, base + 0, c->access_key, sizeof(c->access_key));
    copy_text(r, row, base + 1, c->owner_id, sizeof(c->owner_id));
    copy_text(r, row, base + 2, c->owner_name, sizeof(c->owner_name));
    c->active = strcmp(PQgetvalue(r, row, base + 3), "active") == 0;
    copy_text(r, row, base + 4, c->description, sizeof(c->description));
    c->created_us = get_i64(r, row, base + 5);
    c->last_used_us = get_i64(r, row, base + 6);
    copy_text(r, row, base + 7, c->last_used_service, sizeof(c->last_used_service));
    copy_text(r, row, base + 8, c->last_used_region, sizeof(c->last_used_region));
}

static const char *kind_name(enum osc_kind k)
{
    return k == OSC_KIND_SERVICE_ACCOUNT ? "service_account" : "user";
}

osc_err osc_store_schema_version(osc_store *st, int *version)
{
    struct pool_error perr = {0};
    PGresult *r = NULL;
    osc_err err = run(st, Q_SCHEMA_VERSION, NULL, NULL, NULL, &r, &perr);

    if (err == OSC_E_INTERNAL && strcmp(perr.sqlstate, "42P01") == 0) {
        *version = 0; /* never migrated: schema_migrations does not exist yet */
        return OSC_OK;
    }
    if (!err)
        *version = (int)get_i64(r, 0, 0);
    PQclear(r);
    return err;
}

/* One principal from a single-row lookup. */
static osc_err one_principal(osc_store *st, enum q id, const char *const *v,
                             struct osc_principal *out)
{
    struct pool_error perr = {0};
    PGresult *r = NULL;
    osc_err err = run(st, id, v, NULL, NULL, &r, &perr);

    if (err)
        goto out;
    if (PQntuples(r) != 1) {
        err = OSC_E_NOT_FOUND;
        goto out;
    }
    err = read_principal(r, 0, 0, out);
out:
    PQclear(r);
    return err;
}

osc_err osc_store_get_principal(osc_store *st, const char *id, const char *domain_id,
                                int with_password, struct osc_principal *out)
{
    const char *v[] = {id, domain_id, with_password ? "t" : "f"};
    return one_principal(st, Q_GET_PRINCIPAL, v, out);
}

osc_err osc_store_find_principal(osc_store *st, const char *domain_id, const char *domain_name,
                                 const char *name, int with_password, struct osc_principal *out)
{
    const char *v[] = {domain_id, domain_name, name, with_password ? "t" : "f"};
    return one_principal(st, Q_FIND_PRINCIPAL, v, out);
}

/* Copies every row of r into a new array of records of size bytes: read fills one record from
 * row i, cleanup releases one (for the records already read when a later one fails). *out is NULL
 * when there are no rows. */
static osc_err read_all(const PGresult *r, size_t size,
                        osc_err (*read)(const PGresult *r, int row, void *rec),
                        void (*cleanup)(void *rec), void **out, size_t *n)
{
    osc_err err = OSC_OK;
    int rows = PQntuples(r), done = 0;
    char *list = NULL;

    if (rows > 0) {
        list = calloc((size_t)rows, size);
        if (!list)
            return OSC_E_INTERNAL;
    }
    for (; done < rows && !err; done++)
        err = read(r, done, list + (size_t)done * size);
    if (err) {
        for (int i = 0; i < done; i++)
            cleanup(list + (size_t)i * size);
        free(list);
        return err;
    }
    *out = list;
    *n = (size_t)rows;
    return OSC_OK;
}

static osc_err read_principal_row(const PGresult *r, int row, void *rec)
{
    return read_principal(r, row, 0, rec);
}

static void cleanup_principal(void *rec)
{
    osc_principal_cleanup(rec);
}

/* Runs a listing statement and copies its principals. */
static osc_err list_principals(osc_store *st, enum q id, const char *const *v,
                               struct osc_principal **out, size_t *n)
{
    struct pool_error perr = {0};
    PGresult *r = NULL;
    osc_err err = run(st, id, v, NULL, NULL, &r, &perr);

    if (!err)
        err = read_all(r, sizeof(**out), read_principal_row, cleanup_principal, (void **)out, n);
    PQclear(r);
    return err;
}

osc_err osc_store_list_users(osc_store *st, const char *domain_id, const char *name_filter,
                             struct osc_principal **out, size_t *n)
{
    const char *v[] = {domain_id, name_filter};
    return list_principals(st, Q_LIST_USERS, v, out, n);
}

osc_err osc_store_each_principal(osc_store *st,
                                 void (*fn)(const struct osc_principal *p, void *arg), void *arg)
{
    struct pool_error perr = {0};
    PGresult *r = NULL;
    osc_err err = run(st, Q_EACH_PRINCIPAL, NULL, NULL, NULL, &r, &perr);

    for (int i = 0; !err && i < PQntuples(r); i++) {
        struct osc_principal p;
        err = read_principal(r, i, 0, &p);
        if (!err)
            fn(&p, arg);
        osc_principal_cleanup(&p);
    }
    PQclear(r);
    return err;
}

/* A principal create that broke a unique index. Two tag keys alike to PostgreSQL's lower(), which
 * folds more than ASCII: OSC_E_INVALID_INPUT. Otherwise the name is taken: OSC_E_CONFLICT, with
 * the kind of the principal that holds it (a user when it is gone again by now). */
static osc_err create_refused(osc_store *st, const struct pool_error *perr, const char *domain_id,
                              const char *name, enum osc_kind *holder_kind)
{
    struct osc_principal holder = {0};

    if (strcmp(perr->constraint, "principal_tags_key") == 0)
        return OSC_E_INVALID_INPUT;
    *holder_kind = OSC_KIND_USER;
    if (osc_store_find_principal(st, domain_id, NULL, name, 0, &holder) == OSC_OK)
        *holder_kind = holder.kind;
    osc_principal_cleanup(&holder);
    return OSC_E_CONFLICT;
}

osc_err osc_store_create_user(osc_store *st, const struct osc_audit *a, const char *domain_id,
                              const struct osc_new_user *u, struct osc_principal *out,
                              enum osc_kind *holder_kind)
{
    osc_err err = OSC_OK;
    struct pool_error perr = {0};
    PGresult *r = NULL;
    char id[OSC_ID_LEN + 1];
    char *keys = NULL, *values = NULL;

    err = osc_crypto_new_id(id);
    if (!err)
        err = tag_arrays(u->tags, u->ntags, &keys, &values);
    if (err)
        goto out;
    const char *v[] = {
        id,          domain_id,     u->name,       u->enabled ? "t" : "f",  u->password_hash,
        a->actor_id, a->actor_kind, a->request_id, u->path ? u->path : "/", keys,
        values};
    err = run(st, Q_CREATE_USER, v, NULL, NULL, &r, &perr);
    if (err == OSC_E_INTERNAL && strcmp(perr.sqlstate, "23505") == 0) {
        err = create_refused(st, &perr, domain_id, u->name, holder_kind);
        goto out;
    }
    if (err)
        goto out;
    if (PQntuples(r) != 1) {
        err = OSC_E_NOT_FOUND; /* the domain is gone */
        goto out;
    }
    err = read_principal(r, 0, 0, out);
out:
    free(keys);
    free(values);
    PQclear(r);
    return err;
}

osc_err osc_store_update_user(osc_store *st, const struct osc_audit *a, const char *domain_id,
                              const char *id, int enabled, const char *password_hash,
                              struct osc_principal *out)
{
    const char *v[] = {domain_id,     id,          enabled < 0 ? NULL : (enabled ? "t" : "f"),
                       password_hash, a->actor_id, a->actor_kind,
                       a->request_id};
    return one_principal(st, Q_UPDATE_USER, v, out);
}

/* Runs a change statement whose result is "the rows it touched"; none is OSC_E_NOT_FOUND. */
static osc_err change(osc_store *st, enum q id, const char *const *v)
{
    struct pool_error perr = {0};
    PGresult *r = NULL;
    osc_err err = run(st, id, v, NULL, NULL, &r, &perr);

    if (!err && PQntuples(r) == 0)
        err = OSC_E_NOT_FOUND;
    PQclear(r);
    return err;
}

osc_err osc_store_delete_principal(osc_store *st, const struct osc_audit *a, const char *domain_id,
                                   const char *id, enum osc_kind kind)
{
    const char *v[] = {domain_id, id, kind_name(kind), a->actor_id, a->actor_kind, a->request_id};
    return change(st, Q_DELETE_PRINCIPAL, v);
}

osc_err osc_store_grant_role(osc_store *st, const struct osc_audit *a, const char *domain_id,
                             const char *principal_id, unsigned role)
{
    const char *v[] = {domain_id,   principal_id,  osc_role_name(role),
                       a->actor_id, a->actor_kind, a->request_id};
    return change(st, Q_GRANT_ROLE, v);
}

osc_err osc_store_revoke_role(osc_store *st, const struct osc_audit *a, const char *domain_id,
                              const char *principal_id, unsigned role)
{
    const char *v[] = {domain_id,   principal_id,  osc_role_name(role),
                       a->actor_id, a->actor_kind, a->request_id};
    return change(st, Q_REVOKE_ROLE, v);
}

osc_err osc_store_insert_credential(osc_store *st, const struct osc_audit *a, const char *domain_id,
                                    const char *owner_id, const char *access_key,
                                    const char *description, const char *kid,
                                    const unsigned char *sealed, size_t sealedlen,
                                    struct osc_credential *out)
{
    osc_err err = OSC_OK;
    struct pool_error perr = {0};
    PGresult *r = NULL;
    const char *v[] = {access_key,           domain_id,   owner_id,      description,  kid,
                       (const char *)sealed, a->actor_id, a->actor_kind, a->request_id};
    int len[] = {0, 0, 0, 0, 0, (int)sealedlen, 0, 0, 0};
    int fmt[] = {0, 0, 0, 0, 0, 1, 0, 0, 0};

    err = run(st, Q_INSERT_CRED, v, len, fmt, &r, &perr);
    if (err == OSC_E_INTERNAL && strcmp(perr.constraint, "principals_key_limit") == 0) {
        err = OSC_E_KEY_LIMIT;
        goto out;
    }
    if (err == OSC_E_INTERNAL && strcmp(perr.sqlstate, "23505") == 0) {
        err = OSC_E_CONFLICT;
        goto out;
    }
    if (err)
        goto out;
    if (PQntuples(r) != 1) {
        err = OSC_E_NOT_FOUND;
        goto out;
    }
    read_credential(r, 0, 0, out);
out:
    PQclear(r);
    return err;
}

osc_err osc_store_get_credential(osc_store *st, const char *domain_id, const char *access_key,
                                 struct osc_credential *out)
{
    struct pool_error perr = {0};
    PGresult *r = NULL;
    const char *v[] = {access_key, domain_id};
    osc_err err = run(st, Q_GET_CRED, v, NULL, NULL, &r, &perr);

    if (!err && PQntuples(r) != 1)
        err = OSC_E_NOT_FOUND;
    if (!err)
        read_credential(r, 0, 0, out);
    PQclear(r);
    return err;
}

osc_err osc_store_list_credentials(osc_store *st, const char *domain_id, const char *owner_id,
                                   struct osc_credential **out, size_t *n)
{
    struct pool_error perr = {0};
    PGresult *r = NULL;
    struct osc_credential *list = NULL;
    const char *v[] = {domain_id, owner_id};
    osc_err err = run(st, Q_LIST_CREDS, v, NULL, NULL, &r, &perr);
    size_t count = 0;
    int rows;

    if (err)
        goto out;
    rows = PQntuples(r);
    if (rows == 0) {
        err = OSC_E_NOT_FOUND;
        goto out;
    }
    /* The LEFT JOIN gives one row with a NULL key for an owner without keys. */
    list = calloc((size_t)rows, sizeof(*list));
    if (!list) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    for (int i = 0; i < rows; i++) {
        if (!PQgetisnull(r, i, 1))
            read_credential(r, i, 1, &list[count++]);
    }
out:
    PQclear(r);
    if (err) {
        free(list);
    } else {
        if (count == 0) {
            free(list);
            list = NULL;
        }
        *out = list;
        *n = count;
    }
    return err;
}

osc_err osc_store_update_credential(osc_store *st, const struct osc_audit *a, const char *domain_id,
                                    const char *access_key, int may_any, const char *owner_id,
                                    int active, const char *description, struct osc_credential *out)
{
    struct pool_error perr = {0};
    PGresult *r = NULL;
    const char *v[] = {access_key,
                       domain_id,
                       may_any ? "t" : "f",
                       owner_id,
                       active < 0 ? NULL : (active ? "active" : "inactive"),
                       description,
                       a->actor_kind,
                       a->request_id,
                       a->actor_id};
    osc_err err = run(st, Q_UPDATE_CRED, v, NULL, NULL, &r, &perr);

    if (!err && PQntuples(r) != 1)
        err = OSC_E_NOT_FOUND;
    if (!err)
        read_credential(r, 0, 0, out);
    PQclear(r);
    return err;
}

osc_err osc_store_delete_credential(osc_store *st, const struct osc_audit *a, const char *domain_id,
                                    const char *access_key, int may_any, const char *owner_id)
{
    const char *v[] = {access_key,    domain_id,     may_any ? "t" : "f", owner_id,
                       a->actor_kind, a->request_id, a->actor_id};
    return change(st, Q_DELETE_CRED, v);
}

osc_err osc_store_revoke_token(osc_store *st, const struct osc_audit *a, const char *domain_id,
                               const char *token_id, int64_t expires_us)
{
    struct pool_error perr = {0};
    PGresult *r = NULL;
    char exp[24];
    osc_err err;

    snprintf(exp, sizeof(exp), "%lld", (long long)expires_us);
    const char *v[] = {token_id, exp, domain_id, a->actor_id, a->actor_kind, a->request_id};
    err = run(st, Q_REVOKE_TOKEN, v, NULL, NULL, &r, &perr);
    PQclear(r);
    return err;
}

osc_err osc_store_each_revoked(osc_store *st,
                               void (*fn)(const char *token_id, int64_t expires_us, void *arg),
                               void *arg)
{
    struct pool_error perr = {0};
    PGresult *r = NULL;
    osc_err err = run(st, Q_EACH_REVOKED, NULL, NULL, NULL, &r, &perr);

    for (int i = 0; !err && i < PQntuples(r); i++)
        fn(PQgetvalue(r, i, 0), get_i64(r, i, 1), arg);
    PQclear(r);
    return err;
}

/* --- multi-statement transactions (bootstrap, migrate): one connection, long deadline --- */

#define ADMIN_DEADLINE_US (600LL * 1000000)
#define LOCK_BOOTSTRAP "SELECT pg_advisory_xact_lock(7310431540127469185)"
#define LOCK_MIGRATE "SELECT pg_advisory_xact_lock(7310431540127469184)"

static osc_err tx_stmt(osc_store *st, struct pool_conn *c, int64_t deadline, enum q id,
                       const char *const *v, PGresult **r)
{
    struct pool_error perr = {0};
    osc_err err = pool_exec(c, deadline, &STMTS[id], v, NULL, NULL, r, &perr);
    if (err)
        note_failure(st, id, err, &perr);
    return err;
}

static osc_err tx_sql(struct pool_conn *c, int64_t deadline, const char *what, const char *sql)
{
    struct pool_error perr = {0};
    osc_err err = pool_exec_sql(c, deadline, sql, &perr);
    if (err)
        osc_log(OSC_LOG_ERROR, "db.sql_failed", "step", what, "sqlstate",
                perr.sqlstate[0] ? perr.sqlstate : NULL, "detail", perr.message, OSC_LOG_END);
    return err;
}

osc_err osc_store_bootstrap(osc_store *st, const char *domain_name, const char *user_name,
                            const char *password_hash, struct osc_principal *out,
                            int *created_domain, int *created_user)
{
    osc_err err = OSC_OK;
    int64_t deadline = osc_mono_us() + ADMIN_DEADLINE_US;
    struct pool_conn *c = NULL;
    PGresult *r = NULL;
    char domain_id[OSC_ID_LEN + 1], user_id[OSC_ID_LEN + 1];
    int in_tx = 0;

    *created_domain = 0;
    *created_user = 0;
    err = pool_acquire(st->pool, deadline, &c, NULL);
    if (err)
        goto out;
    err = tx_sql(c, deadline, "begin", "BEGIN; " LOCK_BOOTSTRAP);
    if (err)
        goto out;
    in_tx = 1;
    {
        const char *v[] = {domain_name};
        err = tx_stmt(st, c, deadline, Q_BOOT_FIND_DOMAIN, v, &r);
    }
    if (err)
        goto out;
    if (PQntuples(r) == 1) {
        copy_text(r, 0, 0, domain_id, sizeof(domain_id));
    } else {
        /* Account ids are random: on the rare collision, draw again. */
        for (int tries = 0; tries < 8 && !*created_domain; tries++) {
            char account[OSC_ACCOUNT_ID_LEN + 1];
            PQclear(r);
            r = NULL;
            err = osc_crypto_new_id(domain_id);
            if (!err)
                err = osc_crypto_new_account_id(account);
            if (err)
                goto out;
            const char *v[] = {domain_id, domain_name, account};
            err = tx_stmt(st, c, deadline, Q_BOOT_CREATE_DOMAIN, v, &r);
            if (err)
                goto out;
            *created_domain = PQntuples(r) == 1;
        }
        if (!*created_domain) {
            err = OSC_E_INTERNAL;
            goto out;
        }
    }
    PQclear(r);
    r = NULL;
    err = osc_crypto_new_id(user_id);
    if (err)
        goto out;
    {
        const char *v[] = {user_id, domain_id, user_name, password_hash};
        err = tx_stmt(st, c, deadline, Q_BOOT_CREATE_USER, v, &r);
    }
    if (err)
        goto out;
    *created_user = PQntuples(r) == 1;
    PQclear(r);
    r = NULL;
    {
        const char *v[] = {domain_id, NULL, user_name, "f"};
        err = tx_stmt(st, c, deadline, Q_FIND_PRINCIPAL, v, &r);
    }
    if (err)
        goto out;
    if (PQntuples(r) != 1) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    err = read_principal(r, 0, 0, out);
    if (err)
        goto out;
    {
        const char *v[] = {out->id};
        PQclear(r);
        r = NULL;
        err = tx_stmt(st, c, deadline, Q_BOOT_GRANT_ALL, v, &r);
    }
    if (err)
        goto out;
    out->roles = OSC_ROLE_ALL;
    err = tx_sql(c, deadline, "commit", "COMMIT");
    in_tx = 0;
out:
    PQclear(r);
    if (c) {
        if (in_tx)
            tx_sql(c, deadline, "rollback", "ROLLBACK");
        pool_release(st->pool, c);
    }
    if (err)
        osc_principal_cleanup(out);
    return err;
}

#include "oscred/migrate.h"

int osc_store_binary_schema_version(void)
{
    return osc_migrations_count > 0 ? osc_migrations[osc_migrations_count - 1].version : 0;
}

osc_err osc_store_migrate(osc_store *st, int *from_version, int *to_version)
{
    osc_err err = OSC_OK;
    int64_t deadline = osc_mono_us() + ADMIN_DEADLINE_US;
    struct pool_conn *c = NULL;
    PGresult *r = NULL;
    int in_tx = 0, current = 0;

    err = pool_acquire(st->pool, deadline, &c, NULL);
    if (err)
        goto out;
    /* One transaction under a transaction-level advisory lock: concurrent runs (several replicas
     * starting at once) wait for each other and then find nothing to do; this works through
     * pgbouncer in transaction mode, where a session lock would not. */
    err = tx_sql(c, deadline, "begin",
                 "BEGIN; " LOCK_MIGRATE "; "
                 "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
                 "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
    if (err)
        goto out;
    in_tx = 1;
    err = tx_stmt(st, c, deadline, Q_SCHEMA_VERSION, NULL, &r);
    if (err)
        goto out;
    current = (int)get_i64(r, 0, 0);
    *from_version = current;
    for (int i = 0; i < osc_migrations_count; i++) {
        const struct osc_migration *m = &osc_migrations[i];
        char version[16];

        if (m->version <= current)
            continue;
        err = tx_sql(c, deadline, m->name, m->sql);
        if (err)
            goto out;
        snprintf(version, sizeof(version), "%d", m->version);
        const char *v[] = {version, m->name};
        PQclear(r);
        r = NULL;
        err = tx_stmt(st, c, deadline, Q_RECORD_MIGRATION, v, &r);
        if (err)
            goto out;
        current = m->version;
    }
    err = tx_sql(c, deadline, "commit", "COMMIT");
    in_tx = 0;
    if (!err)
        *to_version = current;
out:
    PQclear(r);
    if (c) {
        if (in_tx)
            tx_sql(c, deadline, "rollback", "ROLLBACK");
        pool_release(st->pool, c);
    }
    return err;
}

osc_err osc_store_check_statements(osc_store *st)
{
    osc_err err = OSC_OK;
    int64_t deadline = osc_mono_us() + ADMIN_DEADLINE_US;
    struct pool_conn *c = NULL;

    err = pool_acquire(st->pool, deadline, &c, NULL);
    if (err)
        goto out;
    for (int i = 0; i < Q__COUNT && !err; i++) {
        struct pool_error perr = {0};
        err = pool_check_statement(c, deadline, &STMTS[i], &perr);
        if (err)
            osc_log(OSC_LOG_ERROR, "db.statement_does_not_fit_schema", "statement", STMTS[i].name,
                    "sqlstate", perr.sqlstate[0] ? perr.sqlstate : NULL, "detail", perr.message,
                    OSC_LOG_END);
    }
out:
    if (c)
        pool_release(st->pool, c);
    return err;
}

osc_err osc_store_get_signing_key(osc_store *st, const char *access_key,
                                  struct osc_signing_key *out)
{
    struct pool_error perr = {0};
    PGresult *r = NULL;
    const char *v[] = {access_key};
    unsigned char *sealed = NULL;
    size_t len = 0;
    osc_err err = run(st, Q_GET_SIGNING_KEY, v, NULL, NULL, &r, &perr);

    if (err)
        goto out;
    if (PQntuples(r) != 1) {
        err = OSC_E_NOT_FOUND;
        goto out;
    }
    sealed = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 3), &len);
    if (!sealed || len > sizeof(out->sealed)) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    memset(out, 0, sizeof(*out));
    snprintf(out->access_key, sizeof(out->access_key), "%s", access_key);
    copy_text(r, 0, 0, out->owner_id, sizeof(out->owner_id));
    copy_text(r, 0, 1, out->domain_id, sizeof(out->domain_id));
    copy_text(r, 0, 2, out->kid, sizeof(out->kid));
    memcpy(out->sealed, sealed, len);
    out->sealed_len = len;
    out->usable = get_bool(r, 0, 4);
out:
    if (sealed)
        PQfreemem(sealed);
    PQclear(r);
    return err;
}

osc_err osc_store_record_last_use(osc_store *st, const struct osc_last_use *uses, size_t n)
{
    osc_err err = OSC_OK;
    struct pool_error perr = {0};
    PGresult *r = NULL;
    char *arr[4] = {NULL, NULL, NULL, NULL};
    size_t len[4] = {0, 0, 0, 0}, cap[4] = {0, 0, 0, 0};

    if (n == 0)
        return OSC_OK;
    for (int a = 0; a < 4; a++) {
        cap[a] = 64;
        arr[a] = malloc(cap[a]);
        if (!arr[a]) {
            err = OSC_E_INTERNAL;
            goto out;
        }
        arr[a][0] = '{';
        len[a] = 1;
    }
    for (size_t i = 0; i < n; i++) {
        char at[24];
        snprintf(at, sizeof(at), "%lld", (long long)uses[i].at_us);
        if (append_element(&arr[0], &len[0], &cap[0], uses[i].access_key, i == 0) ||
            append_element(&arr[1], &len[1], &cap[1], at, i == 0) ||
            append_element(&arr[2], &len[2], &cap[2], uses[i].service, i == 0) ||
            append_element(&arr[3], &len[3], &cap[3], uses[i].region, i == 0)) {
            err = OSC_E_INTERNAL;
            goto out;
        }
    }
    for (int a = 0; a < 4; a++) {
        arr[a][len[a]++] = '}';
        arr[a][len[a]] = '\0';
    }
    {
        const char *v[] = {arr[0], arr[1], arr[2], arr[3]};
        err = run(st, Q_RECORD_LAST_USE, v, NULL, NULL, &r, &perr);
    }
out:
    PQclear(r);
    for (int a = 0; a < 4; a++)
        free(arr[a]);
    return err;
}

osc_err osc_store_list_tags(osc_store *st, const char *principal_id, struct osc_tag **out,
                            size_t *n)
{
    struct pool_error perr = {0};
    PGresult *r = NULL;
    struct osc_tag *list = NULL;
    const char *v[] = {principal_id};
    osc_err err = run(st, Q_LIST_TAGS, v, NULL, NULL, &r, &perr);
    int rows = 0;

    if (err)
        goto out;
    rows = PQntuples(r);
    if (rows > 0) {
        list = calloc((size_t)rows, sizeof(*list));
        if (!list) {
            err = OSC_E_INTERNAL;
            goto out;
        }
    }
    for (int i = 0; i < rows; i++) {
        copy_text(r, i, 0, list[i].key, sizeof(list[i].key));
        copy_text(r, i, 1, list[i].value, sizeof(list[i].value));
    }
out:
    PQclear(r);
    if (err) {
        free(list);
    } else {
        *out = list;
        *n = (size_t)rows;
    }
    return err;
}

osc_err osc_store_list_users_page(osc_store *st, const char *domain_id, const char *path_prefix,
                                  const char *after_lower_name, const char *after_id, int limit,
                                  struct osc_principal **out, size_t *n)
{
    char lim[16];

    snprintf(lim, sizeof(lim), "%d", limit);
    const char *v[] = {domain_id, path_prefix, after_lower_name, after_id, lim};
    return list_principals(st, Q_LIST_USERS_PAGE, v, out, n);
}

osc_err osc_store_delete_without_keys(osc_store *st, const struct osc_audit *a,
                                      const char *domain_id, const char *id, enum osc_kind kind)
{
    osc_err err;
    const char *v[] = {domain_id, id, a->actor_id, a->actor_kind, a->request_id, kind_name(kind)};
    struct osc_principal p = {0};

    err = change(st, Q_DELETE_WITHOUT_KEYS, v);
    if (err != OSC_E_NOT_FOUND)
        return err;
    /* Nothing deleted: the principal is gone, or still holds keys. */
    err = osc_store_get_principal(st, id, domain_id, 0, &p);
    if (!err)
        err = p.kind == kind ? OSC_E_DELETE_CONFLICT : OSC_E_NOT_FOUND;
    osc_principal_cleanup(&p);
    return err;
}

static osc_err read_service_account(const PGresult *r, int row, struct osc_service_account *sa)
{
    osc_err err;

    memset(sa, 0, sizeof(*sa));
    err = read_principal(r, row, 0, &sa->p);
    if (err)
        return err;
    copy_text(r, row, 13, sa->description, sizeof(sa->description));
    if (!PQgetisnull(r, row, 14)) {
        sa->trust_policy = strdup(PQgetvalue(r, row, 14));
        if (!sa->trust_policy)
            return OSC_E_INTERNAL;
    }
    sa->max_session_duration = (int)get_i64(r, row, 15);
    sa->last_used_us = get_i64(r, row, 16);
    copy_text(r, row, 17, sa->last_used_region, sizeof(sa->last_used_region));
    return OSC_OK;
}

static osc_err one_service_account(osc_store *st, enum q id, const char *const *v,
                                   struct osc_service_account *out)
{
    struct pool_error perr = {0};
    PGresult *r = NULL;
    osc_err err = run(st, id, v, NULL, NULL, &r, &perr);

    if (!err && PQntuples(r) != 1)
        err = OSC_E_NOT_FOUND;
    if (!err)
        err = read_service_account(r, 0, out);
    if (err)
        osc_service_account_cleanup(out);
    PQclear(r);
    return err;
}

osc_err osc_store_create_service_account(osc_store *st, const struct osc_audit *a,
                                         const char *domain_id, const struct osc_new_sa *n,
                                         struct osc_service_account *out,
                                         enum osc_kind *holder_kind)
{
    osc_err err = OSC_OK;
    struct pool_error perr = {0};
    PGresult *r = NULL;
    char id[OSC_ID_LEN + 1], msd[16];
    char *keys = NULL, *values = NULL;

    memset(out, 0, sizeof(*out));
    err = osc_crypto_new_id(id);
    if (!err)
        err = tag_arrays(n->tags, n->ntags, &keys, &values);
    if (err)
        goto out;
    snprintf(msd, sizeof(msd), "%d", n->max_session_duration);
    const char *v[] = {id,
                       domain_id,
                       n->name,
                       n->enabled ? "t" : "f",
                       n->path ? n->path : "/",
                       n->description ? n->description : "",
                       n->trust_policy,
                       msd,
                       keys,
                       values,
                       a->actor_id,
                       a->actor_kind,
                       a->request_id};
    err = run(st, Q_CREATE_SA, v, NULL, NULL, &r, &perr);
    if (err == OSC_E_INTERNAL && strcmp(perr.sqlstate, "23505") == 0) {
        err = create_refused(st, &perr, domain_id, n->name, holder_kind);
        goto out;
    }
    if (!err && PQntuples(r) != 1)
        err = OSC_E_NOT_FOUND;
    if (!err)
        err = read_service_account(r, 0, out);
out:
    if (err)
        osc_service_account_cleanup(out);
    free(keys);
    free(values);
    PQclear(r);
    return err;
}

osc_err osc_store_get_service_account(osc_store *st, const char *domain_id, const char *id,
                                      struct osc_service_account *out)
{
    const char *v[] = {id, domain_id};
    return one_service_account(st, Q_GET_SA, v, out);
}

osc_err osc_store_find_service_account(osc_store *st, const char *domain_id, const char *name,
                                       struct osc_service_account *out)
{
    const char *v[] = {domain_id, name};
    return one_service_account(st, Q_FIND_SA, v, out);
}

static osc_err read_sa_row(const PGresult *r, int row, void *rec)
{
    return read_service_account(r, row, rec);
}

static void cleanup_sa(void *rec)
{
    osc_service_account_cleanup(rec);
}

osc_err osc_store_list_service_accounts(osc_store *st, const char *domain_id,
                                        const char *path_prefix, const char *after_lower_name,
                                        const char *after_id, int limit,
                                        struct osc_service_account **out, size_t *n)
{
    struct pool_error perr = {0};
    PGresult *r = NULL;
    char lim[16];
    osc_err err;

    snprintf(lim, sizeof(lim), "%d", limit);
    const char *v[] = {domain_id, path_prefix, after_lower_name, after_id, lim};
    err = run(st, Q_LIST_SA_PAGE, v, NULL, NULL, &r, &perr);
    if (!err)
        err = read_all(r, sizeof(**out), read_sa_row, cleanup_sa, (void **)out, n);
    PQclear(r);
    return err;
}

osc_err osc_store_update_service_account(osc_store *st, const struct osc_audit *a,
                                         const char *domain_id, const char *id, int enabled,
                                         const char *description, struct osc_service_account *out)
{
    const char *v[] = {domain_id,    id,          enabled < 0 ? NULL : (enabled ? "t" : "f"),
                       description,  a->actor_id, a->actor_kind,
                       a->request_id};
    return one_service_account(st, Q_UPDATE_SA, v, out);
}

osc_err osc_store_keys_to_reseal(osc_store *st, const char *primary_kid, int limit,
                                 struct osc_sealed_key **out, size_t *n)
{
    struct pool_error perr = {0};
    PGresult *r = NULL;
    struct osc_sealed_key *list = NULL;
    char lim[16];
    int rows = 0;
    osc_err err;

    snprintf(lim, sizeof(lim), "%d", limit);
    const char *v[] = {primary_kid, lim};
    err = run(st, Q_KEYS_TO_RESEAL, v, NULL, NULL, &r, &perr);
    if (err)
        goto out;
    rows = PQntuples(r);
    if (rows > 0) {
        list = calloc((size_t)rows, sizeof(*list));
        if (!list) {
            err = OSC_E_INTERNAL;
            goto out;
        }
    }
    for (int i = 0; i < rows && !err; i++) {
        size_t len = 0;
        unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(r, i, 2), &len);
        if (!raw || len > sizeof(list[i].sealed)) {
            err = OSC_E_INTERNAL;
        } else {
            copy_text(r, i, 0, list[i].access_key, sizeof(list[i].access_key));
            copy_text(r, i, 1, list[i].kid, sizeof(list[i].kid));
            memcpy(list[i].sealed, raw, len);
            list[i].sealed_len = len;
        }
        if (raw)
            PQfreemem(raw);
    }
out:
    PQclear(r);
    if (err) {
        free(list);
    } else {
        *out = list;
        *n = (size_t)rows;
    }
    return err;
}

osc_err osc_store_reseal(osc_store *st, const char *access_key, const char *old_kid,
                         const char *new_kid, const unsigned char *sealed, size_t sealedlen)
{
    struct pool_error perr = {0};
    PGresult *r = NULL;
    const char *v[] = {access_key, old_kid, new_kid, (const char *)sealed};
    int len[] = {0, 0, 0, (int)sealedlen};
    int fmt[] = {0, 0, 0, 1};
    osc_err err = run(st, Q_RESEAL, v, len, fmt, &r, &perr);

    PQclear(r);
    return err;
}
