/* Private to src/http: the parts of the AWS Query answers that depend only on records — ARNs, the
 * trust-policy check and its encoding, the XML of users, roles and tags. Pure functions of their
 * arguments (no request, no I/O), thread-safe; the XML writer's errors stay sticky in x. */
#ifndef OSC_HTTP_AWS_RENDER_H
#define OSC_HTTP_AWS_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include "oscred/model.h"
#include "xml.h"

/* Which action a <Role> is rendered for (role-keys.md §5.1–5.3). */
enum osc_aws_role_shape {
    OSC_AWS_ROLE_CREATED, /* CreateRole: no Description, MaxSessionDuration or RoleLastUsed */
    OSC_AWS_ROLE_GOT,     /* GetRole: Description if non-empty, MaxSessionDuration, RoleLastUsed */
    OSC_AWS_ROLE_LISTED,  /* ListRoles member: as GetRole without RoleLastUsed and Tags */
};

/* arn:aws:iam::{account}:{user|role}{path}{name} of p into out (NUL-terminated, cut at n - 1
 * bytes; 700 bytes always suffice). */
void osc_aws_format_arn(const struct osc_principal *p, char *out, size_t n);

/* 1 if doc is UTF-8 whose every character policyDocumentType's pattern
 * [\u0009\u000A\u000D\u0020-\u00FF]+ allows: tab, LF, CR and U+0020 to U+00FF (Basic Latin and
 * Latin-1, as AWS documents it). Length is not checked here. */
int osc_aws_trust_policy_chars_ok(const char *doc);

/* 1 if doc is a trust policy CreateRole accepts: 1 to OSC_TRUST_POLICY_MAX characters,
 * characters as osc_aws_trust_policy_chars_ok, and a JSON object. */
int osc_aws_trust_policy_ok(const char *doc);

/* Appends s percent-encoded as RFC 3986 and AWS's policy documents: every byte except
 * A-Z a-z 0-9 - _ . ~ becomes %XX (uppercase hex), so a space is %20. The output needs no XML
 * escaping. */
void osc_aws_percent_encode(struct osc_xml *x, const char *s);

/* <tag>YYYY-MM-DDTHH:MM:SSZ</tag> of a Unix time in microseconds (UTC, seconds precision). */
void osc_aws_render_time(struct osc_xml *x, const char *tag, int64_t us);

/* <Tags><member><Key/><Value/></member>...</Tags>, nothing at all when n is 0. tags is borrowed. */
void osc_aws_render_tags(struct osc_xml *x, const struct osc_tag *tags, size_t n);

/* The members of a <User> (the caller writes the enclosing element): Path, UserName, UserId, Arn,
 * CreateDate, then Tags if ntags > 0. */
void osc_aws_render_user(struct osc_xml *x, const struct osc_principal *p,
                         const struct osc_tag *tags, size_t ntags);

/* The members of a <Role> for shape (the caller writes the enclosing element): Path, RoleName,
 * RoleId, Arn, CreateDate, AssumeRolePolicyDocument (percent-encoded, absent when the account has
 * none), then per shape Description, MaxSessionDuration, RoleLastUsed (empty when unused;
 * Region only when known), and Tags if ntags > 0 except for OSC_AWS_ROLE_LISTED. */
void osc_aws_render_role(struct osc_xml *x, const struct osc_service_account *sa,
                         enum osc_aws_role_shape shape, const struct osc_tag *tags, size_t ntags);

#endif
