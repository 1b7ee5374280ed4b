/* The AWS IAM Query API (Version 2010-05-08) on POST / and GET /?Action=: parameters from the form
 * body and the query string, AWS Signature V4 with keys oscred issued, then the same services and
 * policy as the REST surfaces, answered in AWS's XML. Order per request: authenticate, authorise,
 * validate, execute (spec aws-iam.md §5). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws_render.h"
#include "http.h"
#include "oscred/metrics.h"
#include "oscred/policy.h"
#include "oscred/sigv4.h"
#include "oscred/validate.h"
#include "xml.h"

#define XMLNS "https://iam.amazonaws.com/doc/2010-05-08/"
#define MAX_PARAMS 256
#define MAX_TAGS 50
#define DEFAULT_MAX_ITEMS 100

struct aws_params {
    char *name[MAX_PARAMS];
    char *value[MAX_PARAMS];
    size_t n;
};

/* Model constraint violations, collected so one answer lists them all, in AWS's wording. */
struct violations {
    int n;
    char text[1024];
};

struct call {
    struct osc_app *app;
    struct osc_ctx *ctx;
    struct aws_params p;
    struct violations v;
    struct osc_xml x;
    const char *action;
};

/* ---------------------------------------------------------------- parameters */

static void params_cleanup(struct aws_params *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->name[i]);
        free(p->value[i]);
    }
    p->n = 0;
}

/* Adds name=value pairs of a urlencoded string. Signature parameters of presigned URLs are not
 * action parameters and are dropped. */
static osc_err params_add_encoded(struct osc_ctx *ctx, struct aws_params *p, const char *s,
                                  size_t len, int plus_is_space)
{
    size_t i = 0;

    while (i < len) {
        const char *piece = s + i;
        const char *amp = memchr(piece, '&', len - i);
        size_t plen = amp ? (size_t)(amp - piece) : len - i;
        const char *eq = memchr(piece, '=', plen);
        size_t nlen = eq ? (size_t)(eq - piece) : plen;
        char *name = NULL, *value = NULL;

        i += plen + 1;
        if (plen == 0)
            continue;
        if (osc_req_decode(piece, nlen, plus_is_space, &name) ||
            osc_req_decode(eq ? eq + 1 : "", eq ? plen - nlen - 1 : 0, plus_is_space, &value)) {
            free(name);
            return osc_ctx_fail(ctx, OSC_E_INVALID,
                                "The request parameters are not properly "
                                "URL-encoded.");
        }
        if (strncmp(name, "X-Amz-", 6) == 0) {
            free(name);
            free(value);
            continue;
        }
        for (size_t k = 0; k < p->n; k++) {
            if (strcmp(p->name[k], name) == 0) {
                osc_ctx_fail(ctx, OSC_E_INVALID, "The parameter %.64s is given more than once.",
                             name);
                free(name);
                free(value);
                return OSC_E_INVALID;
            }
        }
        if (p->n == MAX_PARAMS) {
            free(name);
            free(value);
            return osc_ctx_fail(ctx, OSC_E_INVALID, "Too many parameters.");
        }
        p->name[p->n] = name;
        p->value[p->n] = value;
        p->n++;
    }
    return OSC_OK;
}

static const char *param(const struct call *c, const char *name)
{
    for (size_t i = 0; i < c->p.n; i++) {
        if (strcmp(c->p.name[i], name) == 0)
            return c->p.value[i];
    }
    return NULL;
}

/* ---------------------------------------------------------------- validation */

static void violation(struct violations *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void violation(struct violations *v, const char *fmt, ...)
{
    size_t used = strlen(v->text);
    va_list ap;

    if (v->n > 0 && used + 2 < sizeof(v->text)) {
        memcpy(v->text + used, "; ", 3);
        used += 2;
    }
    va_start(ap, fmt);
    vsnprintf(v->text + used, sizeof(v->text) - used, fmt, ap);
    va_end(ap);
    v->n++;
}

static osc_err violations_done(struct call *c)
{
    if (c->v.n == 0)
        return OSC_OK;
    return osc_ctx_fail(c->ctx, OSC_E_INVALID, "%d validation error%s detected: %s", c->v.n,
                        c->v.n > 1 ? "s" : "", c->v.text);
}

static int is_word(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '_';
}

/* Length in characters; the value quoted in messages is cut to keep them bounded. */
static long chars(const char *s)
{
    long n = osc_utf8_length(s);
    return n < 0 ? (long)strlen(s) : n;
}

static int length_ok(struct violations *v, const char *member, const char *value, long min,
                     long max)
{
    long n = chars(value);

    if (n < min) {
        violation(v,
                  "Value '%.128s' at '%s' failed to satisfy constraint: Member must have length "
                  "greater than or equal to %ld",
                  value, member, min);
        return 0;
    }
    if (n > max) {
        violation(v,
                  "Value '%.128s' at '%s' failed to satisfy constraint: Member must have length "
                  "less than or equal to %ld",
                  value, member, max);
        return 0;
    }
    return 1;
}

static int required(struct violations *v, const char *member, const char *value)
{
    if (value)
        return 1;
    violation(v, "Value null at '%s' failed to satisfy constraint: Member must not be null",
              member);
    return 0;
}

/* userNameType / existingUserNameType: [\w+=,.@-]+ of at most max characters. */
static void check_user_name(struct violations *v, const char *member, const char *value, long max)
{
    if (!value || !length_ok(v, member, value, 1, max))
        return;
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if (!is_word(*p) && !strchr("+=,.@-", *p)) {
            violation(v,
                      "Value '%.128s' at '%s' failed to satisfy constraint: Member must satisfy "
                      "regular expression pattern: [\\w+=,.@-]+",
                      value, member);
            return;
        }
    }
}

static void check_access_key_id(struct violations *v, const char *value)
{
    if (!required(v, "accessKeyId", value) || !length_ok(v, "accessKeyId", value, 16, 128))
        return;
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if (!is_word(*p)) {
            violation(v,
                      "Value '%.128s' at 'accessKeyId' failed to satisfy constraint: Member must "
                      "satisfy regular expression pattern: [\\w]+",
                      value);
            return;
        }
    }
}

static void check_status(struct violations *v, const char *value, int *active)
{
    if (!required(v, "status", value))
        return;
    if (strcmp(value, "Active") == 0) {
        *active = 1;
    } else if (strcmp(value, "Inactive") == 0) {
        *active = 0;
    } else {
        violation(v,
                  "Value '%.128s' at 'status' failed to satisfy constraint: Member must satisfy "
                  "enum value set: [Active, Inactive]",
                  value);
    }
}

/* An integer parameter in [min, max], with AWS's wording for what is not an integer and for what
 * is out of range. *out is set only when the value is good. */
static void check_int_range(struct violations *v, const char *member, const char *value, long min,
                            long max, long *out)
{
    char *end = NULL;
    long n = strtol(value, &end, 10);

    if (!value[0] || *end)
        violation(v,
                  "Value '%.32s' at '%s' failed to satisfy constraint: Member must be an integer "
                  "between %ld and %ld",
                  value, member, min, max);
    else if (n < min || n > max)
        violation(v,
                  "Value '%.32s' at '%s' failed to satisfy constraint: Member must have value %s "
                  "than or equal to %ld",
                  value, member, n < min ? "greater" : "less", n < min ? min : max);
    else
        *out = n;
}

static void check_max_items(struct violations *v, const char *value, int *out)
{
    long n = DEFAULT_MAX_ITEMS;

    if (value)
        check_int_range(v, "maxItems", value, 1, 1000, &n);
    *out = (int)n;
}

static void check_marker(struct violations *v, const char *value)
{
    if (value)
        length_ok(v, "marker", value, 1, 320);
}

/* pathType: "/" or "/" [\x21-\x7f]+ "/"; pathPrefixType: "/" [\x21-\x7f]*. */
static void check_path(struct violations *v, const char *member, const char *value, int prefix)
{
    size_t n;

    if (!value || !length_ok(v, member, value, 1, 512))
        return;
    n = strlen(value);
    /* "//" has nothing between its slashes: the second form needs one character at least. */
    int ok = value[0] == '/' && (prefix || n == 1 || (n > 2 && value[n - 1] == '/'));
    for (size_t i = 1; ok && i < n; i++)
        ok = (unsigned char)value[i] >= 0x21 && (unsigned char)value[i] <= 0x7f;
    if (!ok)
        violation(v,
                  "Value '%.128s' at '%s' failed to satisfy constraint: Member must satisfy "
                  "regular expression pattern: %s",
                  value, member,
                  prefix ? "\\u002F[\\u0021-\\u007F]*"
                         : "(\\u002F)|(\\u002F[\\u0021-\\u007F]+\\u002F)");
}

/* Tag keys and values: letters, spaces, numbers and _.:/=+-@. Exact for ASCII; beyond it, without
 * Unicode's category tables, every character but the C1 controls and the noncharacters passes. */
static int tag_text_ok(const char *s)
{
    for (const char *p = s; *p;) {
        unsigned long cp;
        size_t len = osc_utf8_next(p, &cp);

        if (!len)
            return 0;
        if (cp < 0x80 ? !is_word((unsigned char)cp) && !strchr(" _.:/=+-@", (int)cp)
                      : cp < 0xa0 || osc_noncharacter(cp))
            return 0;
        p += len;
    }
    return 1;
}

/* Tags.member.N.Key / .Value, N = 1, 2, ... without gaps. */
static osc_err parse_tags(struct call *c, struct osc_tag *tags, size_t *ntags)
{
    size_t n = 0;
    char kname[48], vname[48];

    for (;;) {
        snprintf(kname, sizeof(kname), "Tags.member.%zu.Key", n + 1);
        snprintf(vname, sizeof(vname), "Tags.member.%zu.Value", n + 1);
        const char *k = param(c, kname), *val = param(c, vname);
        char member[48];
        if (!k && !val)
            break;
        if (n == MAX_TAGS) {
            violation(&c->v, "Value at 'tags' failed to satisfy constraint: Member must have "
                             "length less than or equal to 50");
            return violations_done(c);
        }
        snprintf(member, sizeof(member), "tags.%zu.member.key", n + 1);
        if (!k)
            violation(&c->v,
                      "Value null at '%s' failed to satisfy constraint: Member must not be "
                      "null",
                      member);
        else if (chars(k) < 1 || chars(k) > 128)
            violation(&c->v,
                      "Value at '%s' failed to satisfy constraint: Member must have length "
                      "%s",
                      member,
                      chars(k) < 1 ? "greater than or equal to 1" : "less than or equal to 128");
        else if (!tag_text_ok(k))
            violation(&c->v,
                      "Value at '%s' failed to satisfy constraint: Member must satisfy "
                      "regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+",
                      member);
        snprintf(member, sizeof(member), "tags.%zu.member.value", n + 1);
        if (!val)
            violation(&c->v,
                      "Value null at '%s' failed to satisfy constraint: Member must not be "
                      "null",
                      member);
        else if (chars(val) > 256)
            violation(&c->v,
                      "Value at '%s' failed to satisfy constraint: Member must have length "
                      "less than or equal to 256",
                      member);
        else if (!tag_text_ok(val))
            violation(&c->v,
                      "Value at '%s' failed to satisfy constraint: Member must satisfy "
                      "regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*",
                      member);
        if (k && val && c->v.n == 0) {
            snprintf(tags[n].key, sizeof(tags[n].key), "%s", k);
            snprintf(tags[n].value, sizeof(tags[n].value), "%s", val);
        }
        n++;
    }
    if (violations_done(c))
        return OSC_E_INVALID;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            if (strcasecmp(tags[i].key, tags[j].key) == 0)
                return osc_ctx_fail(c->ctx, OSC_E_INVALID_INPUT, OSC_MSG_DUPLICATE_TAG_KEYS);
        }
    }
    *ntags = n;
    return OSC_OK;
}

/* ---------------------------------------------------------------- messages and rendering */

/* Replaces whatever message a service chose by AWS's wording for the same error. */
static osc_err aws_fail(struct osc_ctx *ctx, osc_err err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static osc_err aws_fail(struct osc_ctx *ctx, osc_err err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(ctx->msg, sizeof(ctx->msg), fmt, ap);
    va_end(ap);
    return err;
}

/* AccessDenied in AWS's words: who may not do what to which resource. */
static osc_err denied(struct call *c, const char *resource_kind, const char *resource)
{
    struct osc_principal self = {0};
    char who[700] = "";

    /* The caller's ARN needs its path and account: one read, on this failure path only. */
    if (osc_principal_resolve_for_keys(c->app, c->ctx, NULL, &self) == OSC_OK)
        osc_aws_format_arn(&self, who, sizeof(who));
    else
        snprintf(who, sizeof(who), "%s", c->ctx->caller.name);
    osc_principal_cleanup(&self);
    return aws_fail(c->ctx, OSC_E_FORBIDDEN,
                    "User: %s is not authorized to perform: iam:%s on resource: %s %s", who,
                    c->action, resource_kind, resource);
}

static void begin(struct call *c, int with_result)
{
    char open[160];

    snprintf(open, sizeof(open), "<%sResponse xmlns=\"" XMLNS "\">", c->action);
    osc_xml_raw(&c->x, open);
    if (with_result) {
        snprintf(open, sizeof(open), "%sResult", c->action);
        osc_xml_open(&c->x, open);
    }
}

static osc_err finish(struct call *c, struct _u_response *resp, int with_result)
{
    char tag[160];

    if (with_result) {
        snprintf(tag, sizeof(tag), "%sResult", c->action);
        osc_xml_close(&c->x, tag);
    }
    osc_xml_raw(&c->x, "<ResponseMetadata>");
    osc_xml_text(&c->x, "RequestId", osc_aws_request_id(c->ctx));
    osc_xml_raw(&c->x, "</ResponseMetadata>");
    snprintf(tag, sizeof(tag), "%sResponse", c->action);
    osc_xml_close(&c->x, tag);
    return osc_resp_xml(resp, &c->x);
}

static const char *status_name(int active)
{
    return active ? "Active" : "Inactive";
}

/* ---------------------------------------------------------------- key actions */

/* The principal a key action targets, with AWS's answers for a forbidden or unknown name. */
static osc_err target(struct call *c, const char *user_name, struct osc_principal *p)
{
    osc_err err = osc_principal_key_target(c->app, c->ctx, user_name, p);

    if (err == OSC_E_FORBIDDEN)
        return denied(c, "user", user_name);
    return err;
}

/* A key of the target principal. A key of the caller's domain that the caller may not
 * administer is AccessDenied; a missing one, another domain's, or another principal's is
 * NoSuchEntity. */
static osc_err target_key(struct call *c, const struct osc_principal *p, const char *ak,
                          struct osc_credential *cred)
{
    osc_err err = OSC_E_NOT_FOUND;

    memset(cred, 0, sizeof(*cred));
    if (osc_valid_access_key(ak))
        err = osc_cred_get(c->app, c->ctx, ak, cred);
    if (err == OSC_E_FORBIDDEN)
        return denied(c, "access key", ak);
    if (err == OSC_E_NOT_FOUND || (!err && strcmp(cred->owner_id, p->id) != 0))
        return aws_fail(c->ctx, OSC_E_NOT_FOUND, "The Access Key with id %s cannot be found.", ak);
    return err;
}

static osc_err create_access_key(struct call *c, struct _u_response *resp)
{
    osc_err err = OSC_OK;
    const char *user = param(c, "UserName");
    struct osc_principal p = {0};
    struct osc_credential cred;
    struct osc_secret *sk = NULL;

    check_user_name(&c->v, "userName", user, 128);
    err = violations_done(c);
    if (!err)
        err = target(c, user, &p);
    if (!err)
        err = osc_cred_create(c->app, c->ctx, p.id, NULL, &cred, &sk);
    if (err == OSC_E_KEY_LIMIT)
        aws_fail(c->ctx, err, "Cannot exceed quota for AccessKeysPerUser: 2");
    else if (err == OSC_E_NOT_FOUND && p.name[0]) /* deleted meanwhile */
        aws_fail(c->ctx, err, "The user with name %s cannot be found.", p.name);
    if (err)
        goto out;
    begin(c, 1);
    osc_xml_open(&c->x, "AccessKey");
    osc_xml_text(&c->x, "UserName", p.name);
    osc_xml_text(&c->x, "AccessKeyId", cred.access_key);
    osc_xml_text(&c->x, "Status", status_name(cred.active));
    osc_xml_text(&c->x, "SecretAccessKey", (const char *)sk->p);
    osc_aws_render_time(&c->x, "CreateDate", cred.created_us);
    osc_xml_close(&c->x, "AccessKey");
    err = finish(c, resp, 1);
    /* The document held the secret: wipe it before the buffer is freed. */
    if (c->x.p)
        osc_crypto_wipe(c->x.p, c->x.len);
out:
    osc_secret_destroy(sk);
    osc_principal_cleanup(&p);
    return err;
}

static osc_err change_access_key(struct call *c, struct _u_response *resp, int delete)
{
    osc_err err = OSC_OK;
    const char *user = param(c, "UserName"), *ak = param(c, "AccessKeyId");
    const char *status = param(c, "Status");
    struct osc_principal p = {0};
    struct osc_credential cred;
    int active = -1;

    check_user_name(&c->v, "userName", user, 128);
    check_access_key_id(&c->v, ak);
    if (!delete)
        check_status(&c->v, status, &active);
    err = violations_done(c);
    if (!err)
        err = target(c, user, &p);
    if (err)
        goto out;
    /* The caller may act for p (target decided), so the change is limited to p's keys and runs
     * in one statement; only a miss pays the reads that tell NoSuchEntity from AccessDenied. */
    if (delete)
        err = osc_cred_delete_of(c->app, c->ctx, p.id, ak);
    else
        err = osc_cred_update_of(c->app, c->ctx, p.id, ak, active, NULL, &cred);
    if (err == OSC_E_NOT_FOUND) {
        err = target_key(c, &p, ak, &cred);
        if (!err) /* p's key after all: gone and back between the two statements */
            err =
                aws_fail(c->ctx, OSC_E_NOT_FOUND, "The Access Key with id %s cannot be found.", ak);
    }
    if (!err) {
        begin(c, 0);
        err = finish(c, resp, 0);
    }
out:
    osc_principal_cleanup(&p);
    return err;
}

/* ListAccessKeys markers: base64url of "<created_us> <access key>" of the last key shown. The
 * next page starts after that position in the list's order (created, then id), so deleting keys
 * while paging through them (rotation) does not invalidate the marker. */
static osc_err encode_key_marker(const struct osc_credential *last, char **out)
{
    char pos[32 + OSC_AK_LEN];
    int len = snprintf(pos, sizeof(pos), "%lld %s", (long long)last->created_us, last->access_key);

    return osc_crypto_b64url_encode((const unsigned char *)pos, (size_t)len, out);
}

static int key_after(const struct osc_credential *k, long long at_us, const char *ak)
{
    return k->created_us > at_us || (k->created_us == at_us && strcmp(k->access_key, ak) > 0);
}

static osc_err decode_key_marker(struct call *c, const char *marker, long long *at_us, char *ak)
{
    unsigned char *raw = NULL;
    size_t n = 0;
    char pos[32 + OSC_AK_LEN], *end = NULL;
    int ok = osc_crypto_b64url_decode(marker, strlen(marker), &raw, &n) == OSC_OK &&
             n < sizeof(pos) && !memchr(raw, '\0', n);

    if (ok) {
        memcpy(pos, raw, n);
        pos[n] = '\0';
        errno = 0;
        *at_us = strtoll(pos, &end, 10);
        ok = errno == 0 && end != pos && *end == ' ' && osc_valid_access_key(end + 1);
    }
    if (ok)
        memcpy(ak, end + 1, OSC_AK_LEN + 1);
    free(raw);
    return ok ? OSC_OK : osc_ctx_fail(c->ctx, OSC_E_INVALID, "Invalid Marker.");
}

static osc_err list_access_keys(struct call *c, struct _u_response *resp)
{
    osc_err err = OSC_OK;
    const char *user = param(c, "UserName"), *marker = param(c, "Marker");
    struct osc_principal p = {0};
    struct osc_credential *keys = NULL;
    size_t n = 0, start = 0, end;
    int max_items = DEFAULT_MAX_ITEMS;
    char *next = NULL;

    check_user_name(&c->v, "userName", user, 128);
    check_marker(&c->v, marker);
    check_max_items(&c->v, param(c, "MaxItems"), &max_items);
    err = violations_done(c);
    if (!err)
        err = target(c, user, &p);
    if (!err)
        err = osc_cred_list(c->app, c->ctx, p.id, &keys, &n);
    if (err)
        goto out;
    if (marker) {
        long long at_us = 0;
        char after[OSC_AK_LEN + 1];

        err = decode_key_marker(c, marker, &at_us, after);
        if (err)
            goto out;
        while (start < n && !key_after(&keys[start], at_us, after))
            start++;
    }
    end = start + (size_t)max_items < n ? start + (size_t)max_items : n;
    if (end < n) {
        err = encode_key_marker(&keys[end - 1], &next);
        if (err)
            goto out;
    }
    begin(c, 1);
    osc_xml_text(&c->x, "UserName", p.name);
    if (start == end) {
        osc_xml_empty(&c->x, "AccessKeyMetadata");
    } else {
        osc_xml_open(&c->x, "AccessKeyMetadata");
        for (size_t i = start; i < end; i++) {
            osc_xml_open(&c->x, "member");
            osc_xml_text(&c->x, "UserName", p.name);
            osc_xml_text(&c->x, "AccessKeyId", keys[i].access_key);
            osc_xml_text(&c->x, "Status", status_name(keys[i].active));
            osc_aws_render_time(&c->x, "CreateDate", keys[i].created_us);
            osc_xml_close(&c->x, "member");
        }
        osc_xml_close(&c->x, "AccessKeyMetadata");
    }
    osc_xml_text(&c->x, "IsTruncated", end < n ? "true" : "false");
    if (next)
        osc_xml_text(&c->x, "Marker", next);
    err = finish(c, resp, 1);
out:
    free(next);
    free(keys);
    osc_principal_cleanup(&p);
    return err;
}

static osc_err get_access_key_last_used(struct call *c, struct _u_response *resp)
{
    osc_err err = OSC_OK;
    const char *ak = param(c, "AccessKeyId");
    struct osc_credential cred;

    memset(&cred, 0, sizeof(cred));
    check_access_key_id(&c->v, ak);
    err = violations_done(c);
    if (!err)
        err = osc_valid_access_key(ak) ? osc_cred_get(c->app, c->ctx, ak, &cred) : OSC_E_NOT_FOUND;
    if (err == OSC_E_NOT_FOUND)
        return aws_fail(c->ctx, err, "The Access Key with id %s cannot be found.", ak);
    if (err == OSC_E_FORBIDDEN)
        return denied(c, "access key", ak);
    if (err)
        return err;
    begin(c, 1);
    osc_xml_text(&c->x, "UserName", cred.owner_name);
    osc_xml_open(&c->x, "AccessKeyLastUsed");
    if (cred.last_used_us) {
        osc_aws_render_time(&c->x, "LastUsedDate", cred.last_used_us);
        osc_xml_text(&c->x, "ServiceName", cred.last_used_service);
        osc_xml_text(&c->x, "Region", cred.last_used_region);
    } else {
        /* Never used: AWS omits LastUsedDate and says N/A. */
        osc_xml_text(&c->x, "ServiceName", "N/A");
        osc_xml_text(&c->x, "Region", "N/A");
    }
    osc_xml_close(&c->x, "AccessKeyLastUsed");
    return finish(c, resp, 1);
}

/* ---------------------------------------------------------------- user actions */

static osc_err create_user(struct call *c, struct _u_response *resp)
{
    osc_err err = OSC_OK;
    const char *name = param(c, "UserName"), *path = param(c, "Path");
    struct osc_tag *tags = calloc(MAX_TAGS, sizeof(*tags));
    size_t ntags = 0;
    struct osc_principal p = {0}, holder = {0};

    if (!tags)
        return OSC_E_INTERNAL;
    if (required(&c->v, "userName", name))
        check_user_name(&c->v, "userName", name, 64);
    check_path(&c->v, "path", path, 0);
    err = violations_done(c);
    if (!err)
        err = parse_tags(c, tags, &ntags);
    if (!err && param(c, "PermissionsBoundary"))
        err = osc_ctx_fail(c->ctx, OSC_E_INVALID_INPUT, "PermissionsBoundary is not supported.");
    if (!err) {
        struct osc_user_spec spec = {name, NULL, 1, path, tags, ntags};
        err = osc_user_create(c->app, c->ctx, &spec, &p);
    }
    if (err == OSC_E_FORBIDDEN) {
        err = denied(c, "user", name);
    } else if (err == OSC_E_CONFLICT) {
        int role = osc_principal_resolve_for_keys(c->app, c->ctx, name, &holder) == OSC_OK &&
                   holder.kind == OSC_KIND_SERVICE_ACCOUNT;
        err = aws_fail(c->ctx, OSC_E_CONFLICT, "%s with name %s already exists.",
                       role ? "Role" : "User", name);
    }
    if (!err) {
        begin(c, 1);
        osc_xml_open(&c->x, "User");
        osc_aws_render_user(&c->x, &p, tags, ntags);
        osc_xml_close(&c->x, "User");
        err = finish(c, resp, 1);
    }
    osc_principal_cleanup(&holder);
    osc_principal_cleanup(&p);
    free(tags);
    return err;
}

/* GetUser / DeleteUser target: a user of the caller's domain, by name. */
static osc_err find_user(struct call *c, const char *name, struct osc_principal *p)
{
    osc_err err = osc_user_find(c->app, c->ctx, name, p);

    if (err == OSC_E_FORBIDDEN)
        return denied(c, "user", name);
    if (err == OSC_E_NOT_FOUND)
        return aws_fail(c->ctx, err, "The user with name %s cannot be found.", name);
    return err;
}

static osc_err get_user(struct call *c, struct _u_response *resp)
{
    osc_err err = OSC_OK;
    const char *name = param(c, "UserName");
    struct osc_principal p = {0};
    struct osc_tag *tags = NULL;
    size_t ntags = 0;

    check_user_name(&c->v, "userName", name, 128);
    err = violations_done(c);
    if (!err && !name && c->ctx->caller.kind != OSC_KIND_USER)
        err = osc_ctx_fail(c->ctx, OSC_E_INVALID,
                           "Must specify userName when calling with non-User credentials");
    if (!err)
        err = find_user(c, name ? name : c->ctx->caller.name, &p);
    if (!err)
        err = osc_principal_tags(c->app, c->ctx, p.id, &tags, &ntags);
    if (!err) {
        begin(c, 1);
        osc_xml_open(&c->x, "User");
        osc_aws_render_user(&c->x, &p, tags, ntags);
        osc_xml_close(&c->x, "User");
        err = finish(c, resp, 1);
    }
    free(tags);
    osc_principal_cleanup(&p);
    return err;
}

/* ListUsers markers: base64url of "<lower(name)>\n<id>", the position to continue after. */
static osc_err decode_marker(struct call *c, const char *marker, char *lower, size_t lowerlen,
                             char *id)
{
    unsigned char *raw = NULL;
    size_t n = 0;
    osc_err err = osc_crypto_b64url_decode(marker, strlen(marker), &raw, &n);
    const unsigned char *nl = err ? NULL : memchr(raw, '\n', n);

    if (!nl || (size_t)(nl - raw) >= lowerlen || n - (size_t)(nl - raw) - 1 != OSC_ID_LEN) {
        free(raw);
        return osc_ctx_fail(c->ctx, OSC_E_INVALID, "Invalid Marker.");
    }
    memcpy(lower, raw, (size_t)(nl - raw));
    lower[nl - raw] = '\0';
    memcpy(id, nl + 1, OSC_ID_LEN);
    id[OSC_ID_LEN] = '\0';
    size_t namelen = (size_t)(nl - raw);
    free(raw);
    /* The name goes to the database as text: it must be a name (no NUL, no bytes that are not
     * UTF-8), not whatever a client put in a marker. */
    if (strlen(lower) != namelen || !osc_valid_name(lower) || !osc_valid_id(id))
        return osc_ctx_fail(c->ctx, OSC_E_INVALID, "Invalid Marker.");
    return OSC_OK;
}

static osc_err encode_marker(const struct osc_principal *last, char **out)
{
    char pos[OSC_NAME_MAX + OSC_ID_LEN + 2];
    size_t len = (size_t)snprintf(pos, sizeof(pos), "%s\n%s", last->name, last->id);

    for (char *q = pos; *q != '\n'; q++)
        *q = (char)((*q >= 'A' && *q <= 'Z') ? *q - 'A' + 'a' : *q);
    return osc_crypto_b64url_encode((const unsigned char *)pos, len, out);
}

/* The request side of ListUsers and ListRoles: PathPrefix, Marker (decoded) and MaxItems. */
struct page {
    const char *prefix;
    int max_items;
    int has_marker;
    char after_lower[OSC_NAME_MAX + 1];
    char after_id[OSC_ID_LEN + 1];
};

static osc_err page_params(struct call *c, struct page *pg)
{
    const char *marker = param(c, "Marker");
    osc_err err;

    pg->prefix = param(c, "PathPrefix");
    check_path(&c->v, "pathPrefix", pg->prefix, 1);
    check_marker(&c->v, marker);
    check_max_items(&c->v, param(c, "MaxItems"), &pg->max_items);
    if (!pg->prefix)
        pg->prefix = "/";
    pg->has_marker = marker != NULL;
    err = violations_done(c);
    if (!err && marker)
        err = decode_marker(c, marker, pg->after_lower, sizeof(pg->after_lower), pg->after_id);
    return err;
}

/* The answer side: n items were fetched (one more than MaxItems tells the list is truncated);
 * principal_at(items, i) gives each item's principal, render_at writes its member. */
static osc_err page_render(struct call *c, struct _u_response *resp, const struct page *pg,
                           const char *list_tag, const void *items, size_t n,
                           const struct osc_principal *(*principal_at)(const void *items, size_t i),
                           void (*render_at)(struct osc_xml *x, const void *items, size_t i))
{
    size_t shown = n > (size_t)pg->max_items ? (size_t)pg->max_items : n;
    char *next = NULL;
    osc_err err = OSC_OK;

    begin(c, 1);
    if (shown == 0) {
        osc_xml_empty(&c->x, list_tag);
    } else {
        osc_xml_open(&c->x, list_tag);
        for (size_t i = 0; i < shown; i++) {
            osc_xml_open(&c->x, "member");
            render_at(&c->x, items, i);
            osc_xml_close(&c->x, "member");
        }
        osc_xml_close(&c->x, list_tag);
    }
    osc_xml_text(&c->x, "IsTruncated", n > shown ? "true" : "false");
    if (n > shown) {
        err = encode_marker(principal_at(items, shown - 1), &next);
        if (!err)
            osc_xml_text(&c->x, "Marker", next);
    }
    if (!err)
        err = finish(c, resp, 1);
    free(next);
    return err;
}

static const struct osc_principal *user_at(const void *items, size_t i)
{
    return &((const struct osc_principal *)items)[i];
}

static void render_user_at(struct osc_xml *x, const void *items, size_t i)
{
    osc_aws_render_user(x, user_at(items, i), NULL, 0);
}

static osc_err list_users(struct call *c, struct _u_response *resp)
{
    struct page pg;
    struct osc_principal *users = NULL;
    size_t n = 0;
    osc_err err = page_params(c, &pg);

    /* One more than asked tells whether the list is truncated. */
    if (!err)
        err = osc_user_list_page(c->app, c->ctx, pg.prefix, pg.has_marker ? pg.after_lower : NULL,
                                 pg.has_marker ? pg.after_id : NULL, pg.max_items + 1, &users, &n);
    if (err == OSC_E_FORBIDDEN)
        err = denied(c, "user", "*");
    if (!err)
        err = page_render(c, resp, &pg, "Users", users, n, user_at, render_user_at);
    for (size_t i = 0; i < n; i++)
        osc_principal_cleanup(&users[i]);
    free(users);
    return err;
}

static osc_err delete_user(struct call *c, struct _u_response *resp)
{
    osc_err err = OSC_OK;
    const char *name = param(c, "UserName");
    struct osc_principal p = {0};

    if (required(&c->v, "userName", name))
        check_user_name(&c->v, "userName", name, 128);
    err = violations_done(c);
    if (!err)
        err = find_user(c, name, &p);
    if (!err)
        err = osc_user_delete_without_keys(c->app, c->ctx, p.id);
    if (err == OSC_E_FORBIDDEN)
        err = denied(c, "user", name);
    else if (err == OSC_E_NOT_FOUND)
        err = aws_fail(c->ctx, err, "The user with name %s cannot be found.", name);
    if (!err) {
        begin(c, 0);
        err = finish(c, resp, 0);
    }
    osc_principal_cleanup(&p);
    return err;
}

/* ---------------------------------------------------------------- role actions (service accounts)
 */

static osc_err create_role(struct call *c, struct _u_response *resp)
{
    osc_err err = OSC_OK;
    const char *name = param(c, "RoleName"), *policy = param(c, "AssumeRolePolicyDocument");
    const char *path = param(c, "Path"), *desc = param(c, "Description");
    const char *msd = param(c, "MaxSessionDuration");
    struct osc_tag *tags = calloc(MAX_TAGS, sizeof(*tags));
    size_t ntags = 0;
    long duration = 3600;
    struct osc_service_account sa = {0};
    struct osc_principal holder = {0};

    if (!tags)
        return OSC_E_INTERNAL;
    if (required(&c->v, "roleName", name))
        check_user_name(&c->v, "roleName", name, 64);
    if (required(&c->v, "assumeRolePolicyDocument", policy) &&
        length_ok(&c->v, "assumeRolePolicyDocument", policy, 1, OSC_TRUST_POLICY_MAX) &&
        !osc_aws_trust_policy_chars_ok(policy))
        violation(&c->v, "Value at 'assumeRolePolicyDocument' failed to satisfy constraint: "
                         "Member must satisfy regular expression pattern: "
                         "[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+");
    check_path(&c->v, "path", path, 0);
    if (desc && length_ok(&c->v, "description", desc, 0, OSC_SA_DESC_MAX) &&
        !osc_valid_text(desc, OSC_SA_DESC_MAX))
        violation(&c->v, "Value at 'description' failed to satisfy constraint: Member must "
                         "satisfy regular expression pattern: [\\p{L}\\p{M}\\p{Z}\\p{S}"
                         "\\p{N}\\p{P}]*");
    if (msd)
        check_int_range(&c->v, "maxSessionDuration", msd, 3600, 43200, &duration);
    err = violations_done(c);
    if (!err)
        err = parse_tags(c, tags, &ntags);
    if (!err && param(c, "PermissionsBoundary"))
        err = osc_ctx_fail(c->ctx, OSC_E_INVALID_INPUT, "PermissionsBoundary is not supported.");
    if (!err && !osc_aws_trust_policy_ok(policy))
        err = osc_ctx_fail(c->ctx, OSC_E_MALFORMED_POLICY, "This policy contains invalid Json");
    if (!err) {
        struct osc_sa_spec spec = {name, desc, 1, path, policy, (int)duration, tags, ntags};
        err = osc_svcacct_create(c->app, c->ctx, &spec, &sa);
    }
    if (err == OSC_E_FORBIDDEN) {
        err = denied(c, "role", name);
    } else if (err == OSC_E_CONFLICT) {
        int user = osc_principal_resolve_for_keys(c->app, c->ctx, name, &holder) == OSC_OK &&
                   holder.kind == OSC_KIND_USER;
        err = aws_fail(c->ctx, OSC_E_CONFLICT, "%s with name %s already exists.",
                       user ? "User" : "Role", name);
    }
    if (!err) {
        begin(c, 1);
        osc_xml_open(&c->x, "Role");
        osc_aws_render_role(&c->x, &sa, OSC_AWS_ROLE_CREATED, tags, ntags);
        osc_xml_close(&c->x, "Role");
        err = finish(c, resp, 1);
    }
    osc_principal_cleanup(&holder);
    osc_service_account_cleanup(&sa);
    free(tags);
    return err;
}

/* GetRole / DeleteRole target, with AWS's answers. */
static osc_err find_role(struct call *c, const char *name, struct osc_service_account *sa)
{
    osc_err err = osc_svcacct_find(c->app, c->ctx, name, sa);

    if (err == OSC_E_FORBIDDEN)
        return denied(c, "role", name);
    if (err == OSC_E_NOT_FOUND)
        return aws_fail(c->ctx, err, "The role with name %s cannot be found.", name);
    return err;
}

static osc_err get_role(struct call *c, struct _u_response *resp)
{
    osc_err err = OSC_OK;
    const char *name = param(c, "RoleName");
    struct osc_service_account sa = {0};
    struct osc_tag *tags = NULL;
    size_t ntags = 0;

    if (required(&c->v, "roleName", name))
        check_user_name(&c->v, "roleName", name, 64);
    err = violations_done(c);
    if (!err)
        err = find_role(c, name, &sa);
    if (!err)
        err = osc_principal_tags(c->app, c->ctx, sa.p.id, &tags, &ntags);
    if (!err) {
        begin(c, 1);
        osc_xml_open(&c->x, "Role");
        osc_aws_render_role(&c->x, &sa, OSC_AWS_ROLE_GOT, tags, ntags);
        osc_xml_close(&c->x, "Role");
        err = finish(c, resp, 1);
    }
    free(tags);
    osc_service_account_cleanup(&sa);
    return err;
}

static const struct osc_principal *role_at(const void *items, size_t i)
{
    return &((const struct osc_service_account *)items)[i].p;
}

static void render_role_at(struct osc_xml *x, const void *items, size_t i)
{
    osc_aws_render_role(x, &((const struct osc_service_account *)items)[i], OSC_AWS_ROLE_LISTED,
                        NULL, 0);
}

static osc_err list_roles(struct call *c, struct _u_response *resp)
{
    struct page pg;
    struct osc_service_account *roles = NULL;
    size_t n = 0;
    osc_err err = page_params(c, &pg);

    if (!err)
        err = osc_svcacct_list(c->app, c->ctx, pg.prefix, pg.has_marker ? pg.after_lower : NULL,
                               pg.has_marker ? pg.after_id : NULL, pg.max_items + 1, &roles, &n);
    if (err == OSC_E_FORBIDDEN)
        err = denied(c, "role", "*");
    if (!err)
        err = page_render(c, resp, &pg, "Roles", roles, n, role_at, render_role_at);
    for (size_t i = 0; i < n; i++)
        osc_service_account_cleanup(&roles[i]);
    free(roles);
    return err;
}

static osc_err delete_role(struct call *c, struct _u_response *resp)
{
    osc_err err = OSC_OK;
    const char *name = param(c, "RoleName");
    struct osc_service_account sa = {0};

    if (required(&c->v, "roleName", name))
        check_user_name(&c->v, "roleName", name, 64);
    err = violations_done(c);
    if (!err)
        err = find_role(c, name, &sa);
    if (!err)
        err = osc_svcacct_delete_without_keys(c->app, c->ctx, sa.p.id);
    if (err == OSC_E_FORBIDDEN)
        err = denied(c, "role", name);
    else if (err == OSC_E_NOT_FOUND)
        err = aws_fail(c->ctx, err, "The role with name %s cannot be found.", name);
    if (!err) {
        begin(c, 0);
        err = finish(c, resp, 0);
    }
    osc_service_account_cleanup(&sa);
    return err;
}

/* ---------------------------------------------------------------- authentication and dispatch */

static osc_err sigv4_error(struct osc_ctx *ctx, enum osc_sigv4_result r, const char *msg)
{
    osc_err err;

    static const char *const REASONS[] = {
        [OSC_SIGV4_MISSING] = "sigv4_missing",
        [OSC_SIGV4_INCOMPLETE] = "sigv4_incomplete",
        [OSC_SIGV4_SESSION_TOKEN] = "sigv4_session_token",
        [OSC_SIGV4_BAD_SCOPE] = "sigv4_bad_scope",
        [OSC_SIGV4_EXPIRED] = "sigv4_expired",
        [OSC_SIGV4_NOT_YET] = "sigv4_not_yet_valid",
        [OSC_SIGV4_PRESIGN_EXPIRED] = "sigv4_presign_expired",
        [OSC_SIGV4_MISMATCH] = "sigv4_mismatch",
        [OSC_SIGV4_INTERNAL] = "sigv4_internal",
    };
    if ((size_t)r < sizeof(REASONS) / sizeof(REASONS[0]) && REASONS[r])
        osc_metrics_auth_failure(REASONS[r]);
    switch (r) {
    case OSC_SIGV4_MISSING:
        err = OSC_E_MISSING_AUTH;
        break;
    case OSC_SIGV4_INCOMPLETE:
        err = OSC_E_INCOMPLETE_SIGNATURE;
        break;
    case OSC_SIGV4_SESSION_TOKEN:
        err = OSC_E_UNAUTHENTICATED;
        break;
    case OSC_SIGV4_PRESIGN_EXPIRED:
        err = OSC_E_REQUEST_EXPIRED;
        break;
    case OSC_SIGV4_INTERNAL:
        err = OSC_E_INTERNAL;
        break;
    default:
        err = OSC_E_BAD_SIGNATURE;
        break;
    }
    if (r == OSC_SIGV4_MISMATCH)
        return aws_fail(ctx, err,
                        "The request signature we calculated does not match the signature you "
                        "provided. Check your AWS Secret Access Key and signing method. Consult "
                        "the service documentation for details.");
    return aws_fail(ctx, err, "%s", msg[0] ? msg : osc_err_default_message(err));
}

static osc_err authenticate(struct osc_app *app, struct osc_ctx *ctx, struct osc_req *r)
{
    osc_err err = OSC_OK;
    struct osc_sigreq sr;
    struct osc_sigv4_auth a;
    struct osc_signing_key key;
    struct osc_secret *secret = NULL;
    char msg[OSC_SIGREQ_MSG_MAX] = "";
    enum osc_sigv4_result res;

    osc_req_sigreq(r, &sr);
    res = osc_sigv4_parse(&sr, &a, msg);

    if (res == OSC_SIGV4_OK)
        res = osc_sigv4_check_time(&a, osc_now_us() / 1000000, msg);
    if (res != OSC_SIGV4_OK) {
        err = sigv4_error(ctx, res, msg);
        goto out;
    }
    err = osc_valid_access_key(a.access_key)
              ? osc_signing_key_get(app, ctx, a.access_key, &key, &secret)
              : OSC_E_UNAUTHENTICATED;
    if (err == OSC_E_UNAUTHENTICATED) {
        osc_metrics_auth_failure("sigv4_unknown_key");
        aws_fail(ctx, err, "The security token included in the request is invalid.");
        goto out;
    }
    if (err)
        goto out;
    res = osc_sigv4_verify(&sr, &a, secret->p, secret->n, msg);
    if (res != OSC_SIGV4_OK) {
        err = sigv4_error(ctx, res, msg);
        goto out;
    }
    err = osc_signing_accept(app, ctx, &key, OSC_AUTH_SIGV4, "iam", a.region);
    if (err == OSC_E_UNAUTHENTICATED)
        aws_fail(ctx, err, "The security token included in the request is invalid.");
out:
    osc_secret_destroy(secret);
    return err;
}

/* What an action needs before its parameters are even validated, so that a caller without the
 * right learns nothing from validation errors (authorise, then validate: aws-iam.md §5). */
enum need {
    NEED_KEYS_OF_NAMED, /* UserName other than the caller's: manage every key of the domain */
    NEED_ADMIN,         /* create or delete users and roles */
    NEED_READER,        /* list users or roles */
    NEED_READ_NAMED,    /* a user or role other than the caller: admin or security_admin */
    NEED_NOTHING_EARLY, /* decided after the lookup (GetAccessKeyLastUsed) */
};

struct action {
    const char *name;
    osc_err (*run)(struct call *c, struct _u_response *resp);
    enum need need;
    const char *resource_kind; /* "user" or "role" */
    const char *name_param;    /* the parameter naming the target */
};

static osc_err authorise(struct call *c, const struct action *a)
{
    const char *name = a->name_param ? param(c, a->name_param) : NULL;
    const struct osc_caller *caller = &c->ctx->caller;
    int other = name && strcasecmp(name, caller->name) != 0;
    osc_err err = OSC_OK;

    switch (a->need) {
    case NEED_KEYS_OF_NAMED:
        if (osc_policy_key_target(caller, name) == OSC_KEY_TARGET_FORBIDDEN)
            err = OSC_E_FORBIDDEN;
        break;
    case NEED_ADMIN:
        err = osc_policy_admin_principals(caller);
        break;
    case NEED_READER:
        err = osc_policy_read_principal(caller, NULL);
        break;
    case NEED_READ_NAMED:
        if (other)
            err = osc_policy_read_principal(caller, NULL);
        break;
    case NEED_NOTHING_EARLY:
        break;
    }
    if (err)
        return denied(c, a->resource_kind, name ? name : "*");
    return OSC_OK;
}

static osc_err delete_access_key(struct call *c, struct _u_response *resp)
{
    return change_access_key(c, resp, 1);
}

static osc_err update_access_key(struct call *c, struct _u_response *resp)
{
    return change_access_key(c, resp, 0);
}

static const struct action ACTIONS[] = {
    {"CreateAccessKey", create_access_key, NEED_KEYS_OF_NAMED, "user", "UserName"},
    {"DeleteAccessKey", delete_access_key, NEED_KEYS_OF_NAMED, "user", "UserName"},
    {"UpdateAccessKey", update_access_key, NEED_KEYS_OF_NAMED, "user", "UserName"},
    {"ListAccessKeys", list_access_keys, NEED_KEYS_OF_NAMED, "user", "UserName"},
    {"GetAccessKeyLastUsed", get_access_key_last_used, NEED_NOTHING_EARLY, "access key", NULL},
    {"CreateUser", create_user, NEED_ADMIN, "user", "UserName"},
    {"GetUser", get_user, NEED_READ_NAMED, "user", "UserName"},
    {"ListUsers", list_users, NEED_READER, "user", NULL},
    {"DeleteUser", delete_user, NEED_ADMIN, "user", "UserName"},
    {"CreateRole", create_role, NEED_ADMIN, "role", "RoleName"},
    {"GetRole", get_role, NEED_READ_NAMED, "role", "RoleName"},
    {"ListRoles", list_roles, NEED_READER, "role", NULL},
    {"DeleteRole", delete_role, NEED_ADMIN, "role", "RoleName"},
};

osc_err osc_h_aws(struct osc_app *app, struct osc_ctx *ctx, struct osc_req *r,
                  struct _u_response *resp)
{
    osc_err err = OSC_OK;
    struct call c;
    const char *version;
    const struct action *act = NULL;

    memset(&c, 0, sizeof(c));
    c.app = app;
    c.ctx = ctx;
    osc_xml_init(&c.x);
    if (r->body_len > OSC_QUERY_BODY_MAX) {
        err = osc_ctx_fail(ctx, OSC_E_TOO_LARGE, "The request body exceeds %zu bytes.",
                           OSC_QUERY_BODY_MAX);
        goto out;
    }
    err = authenticate(app, ctx, r);
    if (err)
        goto out;
    if (r->raw_query)
        err = params_add_encoded(ctx, &c.p, r->raw_query, strlen(r->raw_query), 0);
    if (!err && r->body_len)
        err = params_add_encoded(ctx, &c.p, (const char *)r->body, r->body_len, 1);
    if (err)
        goto out;
    c.action = param(&c, "Action");
    if (!c.action) {
        err = osc_ctx_fail(ctx, OSC_E_MISSING_ACTION, "Missing Action");
        goto out;
    }
    version = param(&c, "Version");
    for (size_t i = 0; i < sizeof(ACTIONS) / sizeof(ACTIONS[0]) && !act; i++) {
        if (strcmp(ACTIONS[i].name, c.action) == 0)
            act = &ACTIONS[i];
    }
    if (!act || (version && strcmp(version, "2010-05-08") != 0)) {
        err = osc_ctx_fail(ctx, OSC_E_INVALID_ACTION,
                           "Could not find operation %.64s for version "
                           "%.32s",
                           c.action, version ? version : "NO_VERSION_SPECIFIED");
        goto out;
    }
    err = authorise(&c, act);
    if (!err)
        err = act->run(&c, resp);
out:
    params_cleanup(&c.p);
    osc_xml_cleanup(&c.x);
    return err;
}
