/* Command-line use cases: the bootstrap administrator. */
#include <stdlib.h>
#include <string.h>

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
