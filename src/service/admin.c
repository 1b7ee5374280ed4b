/* Command-line use cases: the bootstrap administrator. */
#include <stdlib.h>
#include <string.h>

#include "oscred/keyring.h"
#include "oscred/log.h"
#include "oscred/service.h"
#include "oscred/validate.h"

osc_err osc_admin_bootstrap(struct osc_app *app, const char *domain, const char *user,
                            const char *password, struct osc_principal *out, int *created_domain,
                            int *created_user)
{
    osc_err err = OSC_OK;
    char *hash = NULL;

    if (!osc_valid_name(domain) || !osc_valid_name(user) ||
        !osc_valid_password(password, strlen(password))) {
        err = OSC_E_INVALID;
        goto out;
    }
    err = osc_crypto_password_hash(password, app->cfg->password_iterations, &hash);
    if (err)
        goto out;
    err = osc_store_bootstrap(app->store, domain, user, hash, out, created_domain, created_user);
out:
    if (hash) {
        osc_crypto_wipe(hash, strlen(hash));
        free(hash);
    }
    return err;
}

/* Re-seals one key: open under its old kid, seal under the primary. */
static osc_err reseal_one(struct osc_app *app, const osc_keyring *kr,
                          const struct osc_sealed_key *k)
{
    osc_err err = OSC_OK;
    struct osc_secret *sk = NULL;
    unsigned char *sealed = NULL;
    size_t len = 0;
    char kid[OSC_KID_MAX + 1];

    err = osc_keyring_open_secret(kr, k->access_key, k->kid, k->sealed, k->sealed_len, &sk);
    if (!err)
        err = osc_keyring_seal_secret(kr, k->access_key, sk, kid, &sealed, &len);
    if (!err)
        err = osc_store_reseal(app->store, k->access_key, k->kid, kid, sealed, len);
    free(sealed);
    osc_secret_destroy(sk);
    return err;
}

osc_err osc_admin_rotate_secrets(struct osc_app *app, int batch, size_t *resealed)
{
    osc_err err = OSC_OK;
    osc_keyring *kr = osc_keyring_current();
    struct osc_sealed_key *keys = NULL;
    size_t n = 0, done = 0, unreadable = 0, progress;

    if (!kr)
        return OSC_E_INTERNAL;
    /* Keys that cannot be opened stay sealed under their old kid and come back in every batch,
     * so each batch asks for that many more; a batch that re-seals nothing leaves only them. */
    do {
        free(keys);
        keys = NULL;
        err = osc_store_keys_to_reseal(app->store, osc_keyring_primary(kr), batch + (int)unreadable,
                                       &keys, &n);
        progress = 0;
        for (size_t i = 0; !err && i < n; i++) {
            osc_err one = reseal_one(app, kr, &keys[i]);
            if (one == OSC_OK)
                progress++;
            else if (one != OSC_E_NOT_FOUND && one != OSC_E_INTERNAL)
                err = one;
        }
        done += progress;
        unreadable = n - progress;
    } while (!err && progress > 0);
    for (size_t i = 0; !err && i < n; i++)
        osc_log(OSC_LOG_ERROR, "rotate.cannot_open", "access_key", keys[i].access_key, "kid",
                keys[i].kid, OSC_LOG_END);
    if (!err && n > 0)
        err = OSC_E_NOT_FOUND;
    free(keys);
    osc_keyring_destroy(kr);
    *resealed = done;
    return err;
}
