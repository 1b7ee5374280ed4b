/* Keeping the principal cache and the revoked set in step with the database: the full load, and
 * the notifications other replicas (and this one) trigger by changing principals, role grants and
 * revoked tokens. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oscred/log.h"
#include "oscred/service.h"
#include "oscred/validate.h"

struct reload {
    osc_pcache *pc;
    uint64_t ticket;
};

static void cache_principal(const struct osc_principal *p, void *arg)
{
    const struct reload *r = arg;
    (void)osc_pcache_put(r->pc, p, r->ticket);
}

static void cache_revoked(const char *token_id, int64_t expires_us, void *arg)
{
    (void)osc_pcache_revoke(arg, token_id, expires_us);
}

osc_err osc_app_load_cache(struct osc_app *app)
{
    unsigned gen = osc_pcache_begin_reload(app->pcache);
    struct reload r = {app->pcache, osc_pcache_ticket(app->pcache)};
    osc_err err = osc_store_each_principal(app->store, cache_principal, &r);

    /* Only a complete load may conclude that unseen principals are gone. */
    if (!err)
        osc_pcache_end_reload(app->pcache, gen);
    if (!err)
        err = osc_store_each_revoked(app->store, cache_revoked, app->pcache);
    return err;
}

osc_err osc_app_cache_principal(struct osc_app *app, const char *id)
{
    struct osc_principal p = {0};
    uint64_t ticket = osc_pcache_ticket(app->pcache);
    osc_err err = osc_store_get_principal(app->store, id, NULL, 0, &p);

    if (err == OSC_E_NOT_FOUND)
        (void)osc_pcache_remove(app->pcache, id);
    else if (!err)
        err = osc_pcache_put(app->pcache, &p, ticket);
    osc_principal_cleanup(&p);
    return err;
}

static osc_err refresh_principal(struct osc_app *app, const char *id)
{
    osc_err err = osc_app_cache_principal(app, id);

    if (err == OSC_E_NOT_FOUND)
        return OSC_OK; /* recorded as deleted */
    if (err)
        osc_log(OSC_LOG_WARN, "cache.refresh_failed", "principal_id", id, "error",
                osc_err_name(err), OSC_LOG_END);
    return err;
}

osc_err osc_app_apply_notification(struct osc_app *app, const char *payload)
{
    char id[OSC_ID_LEN + 1];

    if (strncmp(payload, "p:", 2) == 0 && osc_valid_id(payload + 2))
        return refresh_principal(app, payload + 2);
    if (strncmp(payload, "t:", 2) == 0 && strlen(payload) > 2 + OSC_ID_LEN + 1 &&
        payload[2 + OSC_ID_LEN] == ':') {
        char *end = NULL;
        long long exp = strtoll(payload + 3 + OSC_ID_LEN, &end, 10);
        memcpy(id, payload + 2, OSC_ID_LEN);
        id[OSC_ID_LEN] = '\0';
        if (osc_valid_id(id) && end && *end == '\0')
            return osc_pcache_revoke(app->pcache, id, (int64_t)exp);
    }
    osc_log(OSC_LOG_WARN, "cache.unknown_notification", OSC_LOG_END);
    return OSC_OK; /* nothing to apply, nothing a resync would fix */
}
