/* Password hashing slots. A PBKDF2 hash costs a good part of a second of CPU and runs on the HTTP
 * worker that took the request, and a worker serves its connections one request at a time: left
 * unbounded, a burst of logins holds every worker and everything else waits behind it, token
 * validation and the liveness probe included. So at most half of the workers hash at once; a
 * request beyond that gets 503 (with Retry-After) at once instead of a place in a queue. */
#include "oscred/config.h"
#include "oscred/service.h"

int osc_password_slots(const struct osc_app *app)
{
    int n = app->cfg->worker_threads / 2;

    return n > 0 ? n : 1;
}

osc_err osc_password_slot_take(struct osc_app *app, struct osc_ctx *ctx)
{
    osc_err err = OSC_OK;

    if (atomic_fetch_add(&app->password_slots_used, 1) >= osc_password_slots(app)) {
        atomic_fetch_sub(&app->password_slots_used, 1);
        err = osc_ctx_fail(ctx, OSC_E_UNAVAILABLE,
                           "Too many passwords are being checked at once; try again in a moment.");
    }
    return err;
}

void osc_password_slot_give(struct osc_app *app)
{
    atomic_fetch_sub(&app->password_slots_used, 1);
}
