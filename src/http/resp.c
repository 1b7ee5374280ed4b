/* Response rendering, and the one place where an osc_err becomes a status code and a body:
 * Keystone JSON on /v3, IAM-style JSON on /v3.0 (with the documented Keystone-style body for the
 * third key), plain JSON for probes. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "oscred/validate.h"
#include "xml.h"

static const char *status_title(int status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Request Entity Too Large";
    case 431:
        return "Request Header Fields Too Large";
    case 503:
        return "Service Unavailable";
    default:
        return "Internal Server Error";
    }
}

void osc_resp_common_headers(const struct osc_ctx *ctx, struct _u_response *resp)
{
    u_map_put(resp->map_header, "X-Request-Id", ctx->request_id);
    u_map_put(resp->map_header, "X-Openstack-Request-Id", ctx->request_id);
    u_map_put(resp->map_header, "x-amzn-RequestId", osc_aws_request_id(ctx));
}

void osc_resp_json_text(struct _u_response *resp, int status, const char *text, size_t len)
{
    ulfius_set_binary_body_response(resp, (unsigned)status, text, len);
    u_map_put(resp->map_header, "Content-Type", "application/json");
}

osc_err osc_resp_json(struct _u_response *resp, int status, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

    json_decref(j);
    if (!s)
        return OSC_E_INTERNAL;
    osc_resp_json_text(resp, status, s, strlen(s));
    free(s);
    return OSC_OK;
}

void osc_resp_empty(struct _u_response *resp, int status)
{
    ulfius_set_empty_body_response(resp, (unsigned)status);
}

const char *osc_aws_request_id(const struct osc_ctx *ctx)
{
    return ctx->request_id + 4; /* after "req-" */
}

osc_err osc_resp_xml(struct _u_response *resp, const struct osc_xml *x)
{
    if (x->failed || !x->p)
        return OSC_E_INTERNAL;
    ulfius_set_binary_body_response(resp, 200, x->p, x->len);
    u_map_put(resp->map_header, "Content-Type", "text/xml");
    return OSC_OK;
}

static void aws_error(const struct osc_ctx *ctx, osc_err err, const char *msg,
                      struct _u_response *resp)
{
    int status = osc_err_aws_status(err);
    struct osc_xml x;

    osc_xml_init(&x);
    osc_xml_raw(&x, "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error>");
    osc_xml_text(&x, "Type", status >= 500 ? "Receiver" : "Sender");
    osc_xml_text(&x, "Code", osc_err_aws_code(err));
    osc_xml_text(&x, "Message", msg);
    osc_xml_raw(&x, "</Error>");
    osc_xml_text(&x, "RequestId", osc_aws_request_id(ctx));
    osc_xml_raw(&x, "</ErrorResponse>");
    if (x.failed)
        ulfius_set_string_body_response(resp, 500, "");
    else
        ulfius_set_binary_body_response(resp, (unsigned)status, x.p, x.len);
    u_map_put(resp->map_header, "Content-Type", "text/xml");
    osc_xml_cleanup(&x);
}

void osc_resp_error(const struct osc_ctx *ctx, enum osc_surface surface, osc_err err,
                    const char *base_url, struct _u_response *resp)
{
    int status = osc_err_rest_status(err);
    const char *msg = ctx->msg[0] ? ctx->msg : osc_err_default_message(err);
    json_t *j = NULL;

    /* Every 503 is a moment's condition (the database, or all password slots taken). */
    if (err == OSC_E_UNAVAILABLE)
        u_map_put(resp->map_header, "Retry-After", "1");
    if (surface == OSC_SURFACE_AWS) {
        aws_error(ctx, err, msg, resp);
        return;
    }
    /* JSON cannot carry a message that is not UTF-8 (an echoed parameter, or one cut short by a
     * length limit); never echo it raw. */
    if (osc_utf8_length(msg) < 0)
        msg = osc_err_default_message(err);
    if (surface == OSC_SURFACE_IAM && err != OSC_E_KEY_LIMIT) {
        j = json_pack("{s:s, s:s, s:s}", "error_code", osc_err_rest_code(err), "error_msg", msg,
                      "request_id", ctx->request_id);
    } else {
        /* Keystone's shape; also the documented body of akSkNumExceed on /v3.0. */
        j = json_pack("{s:{s:i, s:s, s:s}}", "error", "code", status, "title", status_title(status),
                      "message", msg);
    }
    if (status == 401 && surface == OSC_SURFACE_KEYSTONE) {
        char h[600];
        snprintf(h, sizeof(h), "Keystone uri=\"%s/v3\"", base_url ? base_url : "");
        u_map_put(resp->map_header, "WWW-Authenticate", h);
    }
    if (osc_resp_json(resp, status, j) != OSC_OK)
        ulfius_set_string_body_response(resp, 500, "{}");
}

/* What a Host header may hold to be echoed in links: a name, an IPv4 or a bracketed IPv6 address,
 * and a port (anything else, a client's junk included, would spoil the JSON or the links). */
static int host_chars(const char *s)
{
    for (; *s; s++) {
        if (!isalnum((unsigned char)*s) && !strchr(".-_:[]", *s))
            return 0;
    }
    return 1;
}

char *osc_base_url(const struct osc_app *app, const struct osc_req *r)
{
    const char *host;
    size_t n;
    char *s;

    if (app->cfg->public_url) {
        s = strdup(app->cfg->public_url);
        n = s ? strlen(s) : 0;
        while (n > 0 && s[n - 1] == '/')
            s[--n] = '\0';
        return s;
    }
    host = osc_req_header(r, "Host", NULL);
    if (!host || !host[0] || !host_chars(host))
        host = "localhost";
    n = strlen(host) + 8;
    s = malloc(n);
    if (s)
        snprintf(s, n, "http://%s", host);
    return s;
}

json_t *osc_json_time_us(int64_t us)
{
    char buf[40];

    osc_format_time_us(us, buf, sizeof(buf));
    return json_string(buf);
}
