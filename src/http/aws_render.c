/* AWS Query rendering that depends only on records: ARNs, trust-policy checks and encoding, and
 * the XML members of users, roles and tags. No request, no service calls, no error messages:
 * aws.c decides what to answer, this file only spells it. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "aws_render.h"
#include "oscred/ctx.h"
#include "oscred/validate.h"

void osc_aws_format_arn(const struct osc_principal *p, char *out, size_t n)
{
    snprintf(out, n, "arn:aws:iam::%s:%s%s%s", p->account_id,
             p->kind == OSC_KIND_SERVICE_ACCOUNT ? "role" : "user", p->path, p->name);
}

int osc_aws_trust_policy_chars_ok(const char *doc)
{
    for (const char *p = doc; *p;) {
        unsigned long cp;
        size_t len = osc_utf8_next(p, &cp);
        if (!len || cp > 0xff || (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r'))
            return 0;
        p += len;
    }
    return 1;
}

int osc_aws_trust_policy_ok(const char *doc)
{
    long n = osc_utf8_length(doc);
    json_t *j_doc = NULL;
    int ok = 0;

    /* The model counts characters; bytes that are not UTF-8 count one each. */
    if (n < 0)
        n = (long)strlen(doc);
    if (n < 1 || n > OSC_TRUST_POLICY_MAX || !osc_aws_trust_policy_chars_ok(doc))
        goto out;
    j_doc = json_loads(doc, 0, NULL);
    ok = json_is_object(j_doc);
out:
    json_decref(j_doc);
    return ok;
}

static int unreserved(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '_' || ch == '.' || ch == '~';
}

void osc_aws_percent_encode(struct osc_xml *x, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char buf[256];
    size_t n = 0;

    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        /* Flush while a %XX and the NUL still fit: documents run to 131072 characters. */
        if (n + 4 > sizeof(buf)) {
            buf[n] = '\0';
            osc_xml_raw(x, buf);
            n = 0;
        }
        if (unreserved(*p)) {
            buf[n++] = (char)*p;
        } else {
            buf[n++] = '%';
            buf[n++] = hex[*p >> 4];
            buf[n++] = hex[*p & 15];
        }
    }
    buf[n] = '\0';
    osc_xml_raw(x, buf);
}

void osc_aws_render_time(struct osc_xml *x, const char *tag, int64_t us)
{
    char t[32];

    osc_format_time_s(us, t, sizeof(t));
    osc_xml_text(x, tag, t);
}

void osc_aws_render_tags(struct osc_xml *x, const struct osc_tag *tags, size_t n)
{
    if (n == 0)
        return;
    osc_xml_open(x, "Tags");
    for (size_t i = 0; i < n; i++) {
        osc_xml_open(x, "member");
        osc_xml_text(x, "Key", tags[i].key);
        osc_xml_text(x, "Value", tags[i].value);
        osc_xml_close(x, "member");
    }
    osc_xml_close(x, "Tags");
}

void osc_aws_render_user(struct osc_xml *x, const struct osc_principal *p,
                         const struct osc_tag *tags, size_t ntags)
{
    char a[700];

    osc_aws_format_arn(p, a, sizeof(a));
    osc_xml_text(x, "Path", p->path);
    osc_xml_text(x, "UserName", p->name);
    osc_xml_text(x, "UserId", p->id);
    osc_xml_text(x, "Arn", a);
    osc_aws_render_time(x, "CreateDate", p->created_us);
    osc_aws_render_tags(x, tags, ntags);
}

void osc_aws_render_role(struct osc_xml *x, const struct osc_service_account *sa,
                         enum osc_aws_role_shape shape, const struct osc_tag *tags, size_t ntags)
{
    char a[700];

    osc_aws_format_arn(&sa->p, a, sizeof(a));
    osc_xml_text(x, "Path", sa->p.path);
    osc_xml_text(x, "RoleName", sa->p.name);
    osc_xml_text(x, "RoleId", sa->p.id);
    osc_xml_text(x, "Arn", a);
    osc_aws_render_time(x, "CreateDate", sa->p.created_us);
    if (sa->trust_policy) {
        osc_xml_open(x, "AssumeRolePolicyDocument");
        osc_aws_percent_encode(x, sa->trust_policy);
        osc_xml_close(x, "AssumeRolePolicyDocument");
    }
    /* CreateRole's answer omits these even when they were given (AWS does; spec §5.1). */
    if (shape != OSC_AWS_ROLE_CREATED) {
        if (sa->description[0])
            osc_xml_text(x, "Description", sa->description);
        osc_xml_textf(x, "MaxSessionDuration", "%d", sa->max_session_duration);
    }
    if (shape == OSC_AWS_ROLE_GOT) {
        if (sa->last_used_us) {
            osc_xml_open(x, "RoleLastUsed");
            osc_aws_render_time(x, "LastUsedDate", sa->last_used_us);
            if (sa->last_used_region[0])
                osc_xml_text(x, "Region", sa->last_used_region);
            osc_xml_close(x, "RoleLastUsed");
        } else {
            osc_xml_empty(x, "RoleLastUsed");
        }
    }
    if (shape != OSC_AWS_ROLE_LISTED)
        osc_aws_render_tags(x, tags, ntags);
}
