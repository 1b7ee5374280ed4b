/* Probes and metrics: /healthz never touches the database (a database outage must not restart
 * every pod); /readyz is ready when the database answers and its schema is at our level. */
#include <stdatomic.h>
#include <stdlib.h>

#include "http.h"
#include "oscred/metrics.h"

osc_err osc_h_healthz(struct osc_app *app, struct osc_ctx *ctx, struct osc_req *r,
                      struct _u_response *resp)
{
    (void)app;
    (void)ctx;
    (void)r;
    return osc_resp_json(resp, 200, json_pack("{s:s}", "status", "ok"));
}

osc_err osc_h_readyz(struct osc_app *app, struct osc_ctx *ctx, struct osc_req *r,
                     struct _u_response *resp)
{
    int version = 0, want = osc_store_binary_schema_version();
    osc_err db = osc_store_schema_version(app->store, &version);
    int ready = !atomic_load(&app->draining) && db == OSC_OK && version >= want;
    json_t *j_checks;

    (void)ctx;
    (void)r;
    j_checks =
        json_pack("{s:s, s:s, s:s}", "database", db == OSC_OK ? "ok" : "unreachable", "schema",
                  db != OSC_OK      ? "unknown"
                  : version >= want ? "ok"
                                    : "behind",
                  "shutdown", atomic_load(&app->draining) ? "draining" : "no");
    return osc_resp_json(
        resp, ready ? 200 : 503,
        json_pack("{s:s, s:o}", "status", ready ? "ready" : "not ready", "checks", j_checks));
}

osc_err osc_h_metrics(struct osc_app *app, struct osc_ctx *ctx, struct osc_req *r,
                      struct _u_response *resp)
{
    int in_use = 0, idle = 0, waiting = 0;
    char *text = NULL;
    size_t len = 0;

    (void)ctx;
    (void)r;
    osc_store_pool_stats(app->store, &in_use, &idle, &waiting);
    if (osc_metrics_render(in_use, idle, waiting, &text, &len))
        return OSC_E_INTERNAL;
    ulfius_set_binary_body_response(resp, 200, text, len);
    u_map_put(resp->map_header, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    free(text);
    return OSC_OK;
}
