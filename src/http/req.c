/* Request parsing done by us rather than ulfius: headers looked up without regard to case and
 * counted (ulfius joins or splits duplicates silently), query strings read from the raw URI (ulfius
 * merges them into path parameters), and JSON bodies parsed strictly. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "oscred/crypto.h"
#include "oscred/sigreq.h"

const char *osc_req_header(const struct osc_req *r, const char *name, int *count)
{
    const struct _u_map *m = r->u->map_header;
    const char *value = NULL;
    int n = 0;

    for (int i = 0; m && i < m->nb_values; i++) {
        if (strcasecmp(m->keys[i], name) == 0) {
            if (!value)
                value = m->values[i];
            n++;
        }
    }
    if (count)
        *count = n;
    return value;
}

osc_err osc_req_decode(const char *src, size_t n, int plus_is_space, char **out)
{
    char *d = malloc(n + 1);
    size_t j = 0;

    if (!d)
        return OSC_E_INTERNAL;
    for (size_t i = 0; i < n; i++) {
        if (src[i] == '%') {
            if (i + 2 >= n) {
                free(d);
                return OSC_E_INVALID;
            }
            int h = osc_crypto_hex_digit(src[i + 1]), l = osc_crypto_hex_digit(src[i + 2]);
            if (h < 0 || l < 0 || (h == 0 && l == 0)) {
                free(d);
                return OSC_E_INVALID;
            }
            d[j++] = (char)(h * 16 + l);
            i += 2;
        } else if (src[i] == '+' && plus_is_space) {
            d[j++] = ' ';
        } else {
            d[j++] = src[i];
        }
    }
    d[j] = '\0';
    *out = d;
    return OSC_OK;
}

/* Calls fn(name, name_len, value, value_len) for each '&'-separated pair of the raw query. */
static osc_err
each_query(const char *q,
           osc_err (*fn)(const char *n, size_t nl, const char *v, size_t vl, void *arg), void *arg)
{
    osc_err err = OSC_OK;

    while (q && *q && !err) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', len);

        if (len > 0) {
            if (eq)
                err = fn(q, (size_t)(eq - q), eq + 1, len - (size_t)(eq - q) - 1, arg);
            else
                err = fn(q, len, "", 0, arg);
        }
        q = amp ? amp + 1 : NULL;
    }
    return err;
}

struct query_find {
    const char *name;
    char *value;
};

static osc_err find_param(const char *n, size_t nl, const char *v, size_t vl, void *arg)
{
    struct query_find *f = arg;
    char *name = NULL;
    osc_err err = osc_req_decode(n, nl, 0, &name);

    if (err)
        return err;
    if (strcmp(name, f->name) == 0) {
        if (f->value) {
            err = OSC_E_INVALID; /* twice: which one would we honour? */
        } else {
            err = osc_req_decode(v, vl, 0, &f->value);
        }
    }
    free(name);
    return err;
}

osc_err osc_req_query(const struct osc_req *r, const char *name, char **out)
{
    struct query_find f = {name, NULL};
    osc_err err = each_query(r->raw_query, find_param, &f);

    if (err) {
        free(f.value);
        return err;
    }
    *out = f.value;
    return OSC_OK;
}

struct query_only {
    struct osc_ctx *ctx;
    const char *const *allowed;
};

static osc_err check_param(const char *n, size_t nl, const char *v, size_t vl, void *arg)
{
    struct query_only *q = arg;
    char *name = NULL;
    osc_err err = osc_req_decode(n, nl, 0, &name);
    int ok = 0;

    (void)v;
    (void)vl;
    if (err)
        return osc_ctx_fail(q->ctx, OSC_E_INVALID, "Invalid query string.");
    for (const char *const *a = q->allowed; *a && !ok; a++)
        ok = strcmp(*a, name) == 0;
    if (!ok)
        err = osc_ctx_fail(q->ctx, OSC_E_INVALID, "Unknown query parameter: %.64s.", name);
    free(name);
    return err;
}

osc_err osc_req_query_only(struct osc_ctx *ctx, const struct osc_req *r, const char *const *allowed)
{
    struct query_only q = {ctx, allowed};
    return each_query(r->raw_query, check_param, &q);
}

osc_err osc_req_json(struct osc_ctx *ctx, const struct osc_req *r, json_t **out)
{
    json_error_t jerr;
    json_t *j = NULL;

    if (r->body_len > OSC_JSON_BODY_MAX)
        return osc_ctx_fail(ctx, OSC_E_TOO_LARGE, "The request body exceeds %zu bytes.",
                            OSC_JSON_BODY_MAX);
    if (r->body_len == 0)
        return osc_ctx_fail(ctx, OSC_E_BAD_BODY, "The request body is empty.");
    j = json_loadb((const char *)r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j)
        return osc_ctx_fail(ctx, OSC_E_BAD_BODY, "The request body is not valid JSON: %s.",
                            jerr.text);
    if (!json_is_object(j)) {
        json_decref(j);
        return osc_ctx_fail(ctx, OSC_E_BAD_BODY, "The request body must be a JSON object.");
    }
    *out = j;
    return OSC_OK;
}

osc_err osc_json_string(struct osc_ctx *ctx, json_t *obj, const char *field, int required,
                        const char **out)
{
    json_t *v = json_object_get(obj, field);

    if (!v || json_is_null(v)) {
        if (required)
            return osc_ctx_fail(ctx, OSC_E_INVALID, "'%s' is a required property.", field);
        *out = NULL;
        return OSC_OK;
    }
    if (!json_is_string(v))
        return osc_ctx_fail(ctx, OSC_E_INVALID, "Invalid input for field '%s': expected a string.",
                            field);
    if (strlen(json_string_value(v)) != json_string_length(v))
        return osc_ctx_fail(ctx, OSC_E_INVALID, "Invalid input for field '%s'.", field);
    *out = json_string_value(v);
    return OSC_OK;
}

osc_err osc_json_bool(struct osc_ctx *ctx, json_t *obj, const char *field, int *out)
{
    json_t *v = json_object_get(obj, field);

    if (!v) {
        *out = -1;
        return OSC_OK;
    }
    if (!json_is_boolean(v))
        return osc_ctx_fail(ctx, OSC_E_INVALID, "Invalid input for field '%s': expected a boolean.",
                            field);
    *out = json_is_true(v);
    return OSC_OK;
}

osc_err osc_json_object(struct osc_ctx *ctx, json_t *obj, const char *field, json_t **out)
{
    json_t *v = json_object_get(obj, field);

    if (!v)
        return osc_ctx_fail(ctx, OSC_E_INVALID, "'%s' is a required property.", field);
    if (!json_is_object(v))
        return osc_ctx_fail(ctx, OSC_E_INVALID, "Invalid input for field '%s': expected an object.",
                            field);
    *out = v;
    return OSC_OK;
}

osc_err osc_json_only(struct osc_ctx *ctx, json_t *obj, const char *what,
                      const char *const *allowed)
{
    const char *key;
    json_t *v;

    json_object_foreach(obj, key, v)
    {
        int ok = 0;
        (void)v;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, key) == 0;
        if (!ok)
            return osc_ctx_fail(ctx, OSC_E_INVALID,
                                "Additional properties are not allowed in '%s' ('%.64s' was "
                                "unexpected).",
                                what, key);
    }
    return OSC_OK;
}

static const char *header_of(void *arg, const char *name, int *count)
{
    return osc_req_header(arg, name, count);
}

void osc_req_sigreq(struct osc_req *r, struct osc_sigreq *out)
{
    out->method = r->method;
    out->path = r->raw_path;
    out->query = r->raw_query;
    out->header = header_of;
    out->header_arg = r;
    out->body = r->body;
    out->bodylen = r->body_len;
}
