/* The authorization table of DESIGN.md: own keys always; every key of the domain for admin and
 * security_admin; principals are administered by admin and readable by both roles. Roles come
 * only from domain-scoped tokens and signed requests (ctx->caller.roles is already 0 otherwise). */
#include "oscred/policy.h"

#include <string.h>
#include <strings.h>

int osc_policy_manages_all_keys(const struct osc_caller *c)
{
    return (c->roles & (OSC_ROLE_ADMIN | OSC_ROLE_SECURITY_ADMIN)) != 0;
}

enum osc_key_target osc_policy_key_target(const struct osc_caller *c, const char *name)
{
    if (!name || strcasecmp(name, c->name) == 0)
        return OSC_KEY_TARGET_SELF;
    return osc_policy_manages_all_keys(c) ? OSC_KEY_TARGET_LOOKUP : OSC_KEY_TARGET_FORBIDDEN;
}

osc_err osc_policy_manage_keys(const struct osc_caller *c, const char *owner_id)
{
    if (strcmp(c->id, owner_id) == 0 || osc_policy_manages_all_keys(c))
        return OSC_OK;
    return OSC_E_FORBIDDEN;
}

osc_err osc_policy_admin_principals(const struct osc_caller *c)
{
    return (c->roles & OSC_ROLE_ADMIN) ? OSC_OK : OSC_E_FORBIDDEN;
}

osc_err osc_policy_read_principal(const struct osc_caller *c, const char *target_id)
{
    if ((target_id && strcmp(c->id, target_id) == 0) ||
        (c->roles & (OSC_ROLE_ADMIN | OSC_ROLE_SECURITY_ADMIN)))
        return OSC_OK;
    return OSC_E_FORBIDDEN;
}

osc_err osc_policy_manage_token(const struct osc_caller *c, const char *subject_id)
{
    if (strcmp(c->id, subject_id) == 0 || (c->roles & (OSC_ROLE_ADMIN | OSC_ROLE_SECURITY_ADMIN)))
        return OSC_OK;
    return OSC_E_FORBIDDEN;
}
