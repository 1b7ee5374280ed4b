/* Keystone version discovery: keystoneauth reads links[rel=self].href and posts its token request
 * there, so the href must be this server's reachable base URL. */
#include <stdio.h>
#include <stdlib.h>

#include "http.h"

/* New reference. */
static json_t *version_object(const char *base)
{
    char href[600];

    snprintf(href, sizeof(href), "%s/v3/", base);
    return json_pack("{s:s, s:s, s:s, s:[{s:s, s:s}], s:[{s:s, s:s}]}", "id", "v3.6", "status",
                     "stable", "updated", "2016-04-04T00:00:00Z", "links", "rel", "self", "href",
                     href, "media-types", "base", "application/json", "type",
                     "application/vnd.openstack.identity-v3+json");
}

osc_err osc_h_versions(struct osc_app *app, struct osc_ctx *ctx, struct osc_req *r,
                       struct _u_response *resp)
{
    char *base = osc_base_url(app, r);
    json_t *j_version = base ? version_object(base) : NULL;
    osc_err err = OSC_E_INTERNAL;

    (void)ctx;
    if (j_version)
        err = osc_resp_json(resp, 300, json_pack("{s:{s:[o]}}", "versions", "values", j_version));
    free(base);
    return err;
}

osc_err osc_h_version_v3(struct osc_app *app, struct osc_ctx *ctx, struct osc_req *r,
                         struct _u_response *resp)
{
    char *base = osc_base_url(app, r);
    json_t *j_version = base ? version_object(base) : NULL;
    osc_err err = OSC_E_INTERNAL;

    (void)ctx;
    if (j_version)
        err = osc_resp_json(resp, 200, json_pack("{s:o}", "version", j_version));
    free(base);
    return err;
}
