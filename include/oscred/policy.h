/* Who may do what: pure functions of the caller and the target, used by every surface. Callers
 * resolve targets inside the caller's domain first, so a target of another domain never reaches
 * these functions (it is reported as missing). The osc_err ones return OSC_OK or
 * OSC_E_FORBIDDEN. A principal's kind never matters: a service account holds what its own grants
 * give, exactly as a user with the same grants (role-keys.md §4). All are pure and thread-safe. */
#ifndef OSC_POLICY_H
#define OSC_POLICY_H

#include "oscred/ctx.h"

/* Whose keys a key action naming a principal targets (role-keys.md §3, §4). */
enum osc_key_target {
    OSC_KEY_TARGET_SELF,      /* the caller itself, never forbidden */
    OSC_KEY_TARGET_LOOKUP,    /* another name the caller may manage: resolve it, may be missing */
    OSC_KEY_TARGET_FORBIDDEN, /* another name, caller manages only its own keys */
};

/* The name-resolution decision of key actions, made before any lookup so that a caller without
 * rights over others cannot probe names: name NULL (UserName omitted) or equal to the caller's
 * name ignoring ASCII case is SELF, whatever the caller's kind; any other name is LOOKUP for a
 * caller managing every key of its domain and FORBIDDEN otherwise, whether or not it exists.
 * Pure; name is borrowed for the call. */
enum osc_key_target osc_policy_key_target(const struct osc_caller *c, const char *name);
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
