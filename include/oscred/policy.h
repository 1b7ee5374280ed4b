/* Who may do what: pure functions of the caller and the target, used by every surface. Callers
 * resolve targets inside the caller's domain first, so a target of another domain never reaches
 * these functions (it is reported as missing). Each returns OSC_OK or OSC_E_FORBIDDEN. */
#ifndef OSC_POLICY_H
#define OSC_POLICY_H

#include "oscred/ctx.h"

/* Keys owned by owner_id: the owner itself, or an admin/security_admin of the domain. */
osc_err osc_policy_manage_keys(const struct osc_caller *c, const char *owner_id);
/* 1 if the caller may manage the keys of every principal of its domain. */
int osc_policy_manages_all_keys(const struct osc_caller *c);
/* Create, change, delete users and grant roles: admin of the domain. */
osc_err osc_policy_admin_principals(const struct osc_caller *c);
/* Read principals of the domain: admin or security_admin; anyone may read itself. */
osc_err osc_policy_read_principal(const struct osc_caller *c, const char *target_id);
/* Validate or revoke a token belonging to subject_id: the subject itself, or an admin /
 * security_admin of the domain. */
osc_err osc_policy_manage_token(const struct osc_caller *c, const char *subject_id);

#endif
