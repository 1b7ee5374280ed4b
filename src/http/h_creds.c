/* /v3.0/OS-CREDENTIAL/credentials: permanent access keys in the Huawei/OTC shapes. The secret is
 * rendered only by create, and wiped as soon as the response body holds it. */
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "oscred/jsonw.h"
#include "oscred/validate.h"

static const char *const NO_QUERY[] = {NULL};
static const char *const LIST_QUERY[] = {"user_id", NULL};
static const char *const CRED_TOP[] = {"credential", NULL};
static const char *const CREATE_FIELDS[] = {"user_id", "description", NULL};
static const char *const UPDATE_FIELDS[] = {"status", "description", NULL};

static osc_err access_key_param(struct osc_ctx *ctx, const struct osc_req *r)
{
    if (!osc_valid_access_key(r->params[0]))
        return osc_ctx_fail(ctx, OSC_E_INVALID,
                            "Invalid access key: expected 20 characters of [A-Z0-9].");
    return OSC_OK;
}

static osc_err description_field(struct osc_ctx *ctx, json_t *j_cred, const char **out)
{
    osc_err err = osc_json_string(ctx, j_cred, "description", 0, out);

    if (!err && *out && !osc_valid_text(*out, OSC_CRED_DESC_MAX))
        err = osc_ctx_fail(ctx, OSC_E_INVALID,
                           "Invalid input for field 'description': at most 255 characters, no "
                           "control characters.");
    return err;
}

static osc_err owner_field(struct osc_ctx *ctx, const char *user_id)
{
    if (user_id && !osc_valid_id(user_id))
        return osc_ctx_fail(ctx, OSC_E_INVALID,
                            "Invalid input for field 'user_id': expected 32 hexadecimal digits.");
    return OSC_OK;
}

static const char *status_name(int active)
{
    return active ? "active" : "inactive";
}

/* Writes one key object: without its secret unless secret is given (create only); with_last_use
 * adds last_use_time (show only). Formatted directly: key reads are on the hot path. */
static void write_cred(struct osc_jsonw *w, const struct osc_credential *c, int with_last_use,
                       const char *secret)
{
    char created[40], used[40];

    osc_format_time_us(c->created_us, created, sizeof(created));
    osc_jsonw_raw(w, "{");
    osc_jsonw_field(w, "user_id", c->owner_id, 1);
    osc_jsonw_field(w, "access", c->access_key, 0);
    osc_jsonw_field(w, "status", status_name(c->active), 0);
    osc_jsonw_field(w, "create_time", created, 0);
    osc_jsonw_field(w, "description", c->description, 0);
    if (with_last_use) {
        /* Never used: the documented answer is the creation time. */
        osc_format_time_us(c->last_used_us ? c->last_used_us : c->created_us, used, sizeof(used));
        osc_jsonw_field(w, "last_use_time", used, 0);
    }
    osc_jsonw_field(w, "secret", secret, 0);
    osc_jsonw_raw(w, "}");
}

/* Sends {"<wrapper>": <key>} or, for a list, {"credentials": [<key>, ...]}. */
static osc_err send_creds(struct _u_response *resp, int status, const char *wrapper,
                          const struct osc_credential *c, size_t n, int is_list, int with_last_use,
                          const char *secret)
{
    char buf[8192];
    struct osc_jsonw w;

    osc_jsonw_init(&w, buf, sizeof(buf));
    osc_jsonw_raw(&w, "{");
    osc_jsonw_string(&w, wrapper);
    osc_jsonw_raw(&w, is_list ? ":[" : ":");
    for (size_t i = 0; i < n; i++) {
        if (i)
            osc_jsonw_raw(&w, ",");
        write_cred(&w, &c[i], with_last_use, secret);
    }
    osc_jsonw_raw(&w, is_list ? "]}" : "}");
    if (!w.overflow)
        osc_resp_json_text(resp, status, buf, w.n);
    /* The buffer may hold a secret key: wipe it before the stack frame is reused. */
    osc_crypto_wipe(buf, sizeof(buf));
    return w.overflow ? OSC_E_INTERNAL : OSC_OK;
}

osc_err osc_h_creds_create(struct osc_app *app, struct osc_ctx *ctx, struct osc_req *r,
                           struct _u_response *resp)
{
    osc_err err = OSC_OK;
    json_t *j_body = NULL, *j_cred = NULL;
    const char *user_id = NULL, *description = NULL;
    struct osc_credential c;
    struct osc_secret *sk = NULL;

    err = osc_req_query_only(ctx, r, NO_QUERY);
    if (!err)
        err = osc_req_json(ctx, r, &j_body);
    if (!err)
        err = osc_json_only(ctx, j_body, "the request body", CRED_TOP);
    if (!err)
        err = osc_json_object(ctx, j_body, "credential", &j_cred);
    if (!err)
        err = osc_json_only(ctx, j_cred, "credential", CREATE_FIELDS);
    if (!err)
        err = osc_json_string(ctx, j_cred, "user_id", 1, &user_id);
    if (!err)
        err = owner_field(ctx, user_id);
    if (!err)
        err = description_field(ctx, j_cred, &description);
    if (!err)
        err = osc_cred_create(app, ctx, user_id, description, &c, &sk);
    if (err)
        goto out;
    err = send_creds(resp, 201, "credential", &c, 1, 0, 0, (const char *)sk->p);
out:
    osc_secret_destroy(sk);
    json_decref(j_body);
    return err;
}

osc_err osc_h_creds_list(struct osc_app *app, struct osc_ctx *ctx, struct osc_req *r,
                         struct _u_response *resp)
{
    osc_err err = OSC_OK;
    char *user_id = NULL;
    struct osc_credential *list = NULL;
    size_t n = 0;

    err = osc_req_query_only(ctx, r, LIST_QUERY);
    if (!err && osc_req_query(r, "user_id", &user_id))
        err = osc_ctx_fail(ctx, OSC_E_INVALID, "Invalid query parameter 'user_id'.");
    if (!err)
        err = owner_field(ctx, user_id);
    if (!err)
        err = osc_cred_list(app, ctx, user_id, &list, &n);
    if (err)
        goto out;
    err = send_creds(resp, 200, "credentials", list, n, 1, 0, NULL);
out:
    free(list);
    free(user_id);
    return err;
}

osc_err osc_h_cred_get(struct osc_app *app, struct osc_ctx *ctx, struct osc_req *r,
                       struct _u_response *resp)
{
    osc_err err = OSC_OK;
    struct osc_credential c;

    err = osc_req_query_only(ctx, r, NO_QUERY);
    if (!err)
        err = access_key_param(ctx, r);
    if (!err)
        err = osc_cred_get(app, ctx, r->params[0], &c);
    if (!err)
        err = send_creds(resp, 200, "credential", &c, 1, 0, 1, NULL);
    return err;
}

osc_err osc_h_cred_update(struct osc_app *app, struct osc_ctx *ctx, struct osc_req *r,
                          struct _u_response *resp)
{
    osc_err err = OSC_OK;
    json_t *j_body = NULL, *j_cred = NULL;
    const char *status = NULL, *description = NULL;
    int active = -1;
    struct osc_credential c;

    err = osc_req_query_only(ctx, r, NO_QUERY);
    if (!err)
        err = access_key_param(ctx, r);
    if (!err)
        err = osc_req_json(ctx, r, &j_body);
    if (!err)
        err = osc_json_only(ctx, j_body, "the request body", CRED_TOP);
    if (!err)
        err = osc_json_object(ctx, j_body, "credential", &j_cred);
    if (!err)
        err = osc_json_only(ctx, j_cred, "credential", UPDATE_FIELDS);
    if (!err)
        err = osc_json_string(ctx, j_cred, "status", 0, &status);
    if (!err)
        err = description_field(ctx, j_cred, &description);
    if (err)
        goto out;
    if (status) {
        if (strcmp(status, "active") == 0) {
            active = 1;
        } else if (strcmp(status, "inactive") == 0) {
            active = 0;
        } else {
            err = osc_ctx_fail(ctx, OSC_E_INVALID,
                               "Invalid input for field 'status': expected active or inactive.");
            goto out;
        }
    }
    if (!status && !description) {
        err = osc_ctx_fail(ctx, OSC_E_INVALID,
                           "'credential' needs at least one of 'status' and 'description'.");
        goto out;
    }
    err = osc_cred_update(app, ctx, r->params[0], active, description, &c);
    if (!err)
        err = send_creds(resp, 200, "credential", &c, 1, 0, 0, NULL);
out:
    json_decref(j_body);
    return err;
}

osc_err osc_h_cred_delete(struct osc_app *app, struct osc_ctx *ctx, struct osc_req *r,
                          struct _u_response *resp)
{
    osc_err err = OSC_OK;

    err = osc_req_query_only(ctx, r, NO_QUERY);
    if (!err)
        err = access_key_param(ctx, r);
    if (!err)
        err = osc_cred_delete(app, ctx, r->params[0]);
    if (!err)
        osc_resp_empty(resp, 204);
    return err;
}
