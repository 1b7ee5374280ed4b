/* The records that cross module boundaries: principals and access keys. Plain structs with fixed
 * buffers, so they can be copied and freed without ceremony (only osc_principal.password_hash is
 * heap memory: see osc_principal_cleanup). */
#ifndef OSC_MODEL_H
#define OSC_MODEL_H

#include <stdint.h>

#include "oscred/crypto.h"

#define OSC_NAME_MAX 64
#define OSC_PATH_MAX 512
#define OSC_CRED_DESC_MAX 255 /* characters */
#define OSC_DESC_BUF 1024     /* bytes: 255 UTF-8 characters fit */

enum osc_kind {
    OSC_KIND_USER = 0,
    OSC_KIND_SERVICE_ACCOUNT = 1,
};

/* Built-in authorization roles, as bits. */
#define OSC_ROLE_ADMIN 0x1u
#define OSC_ROLE_SECURITY_ADMIN 0x2u
#define OSC_ROLE_ALL (OSC_ROLE_ADMIN | OSC_ROLE_SECURITY_ADMIN)

struct osc_principal {
    char id[OSC_ID_LEN + 1];
    char domain_id[OSC_ID_LEN + 1];
    char domain_name[OSC_NAME_MAX + 1];
    char name[OSC_NAME_MAX + 1];
    char path[OSC_PATH_MAX + 1];
    char account_id[OSC_ACCOUNT_ID_LEN + 1]; /* the domain's AWS account id */
    enum osc_kind kind;
    int enabled;
    int domain_enabled;
    unsigned roles;
    uint32_t password_epoch;
    int64_t created_us;
    char *password_hash; /* heap, NULL when none or not loaded */
};

/* Frees password_hash (wiping it) and zeroes the record. */
void osc_principal_cleanup(struct osc_principal *p);

struct osc_credential {
    char access_key[OSC_AK_LEN + 1];
    char owner_id[OSC_ID_LEN + 1];
    char owner_name[OSC_NAME_MAX + 1];
    int active;
    char description[OSC_DESC_BUF];
    int64_t created_us;
    int64_t last_used_us; /* 0: never used */
    char last_used_service[16];
    char last_used_region[64];
};

/* A key/value tag of a principal (AWS Tags). */
struct osc_tag {
    char key[129 * 4];   /* 128 characters of UTF-8 */
    char value[257 * 4]; /* 256 characters of UTF-8 */
};
/* AWS's wording; tag keys are compared ignoring case. */
#define OSC_MSG_DUPLICATE_TAG_KEYS                                                                 \
    "Duplicate tag keys found. Please note that Tag keys are case insensitive."

#define OSC_SA_DESC_MAX 1000        /* characters */
#define OSC_TRUST_POLICY_MAX 131072 /* characters */

/* A service account: a principal with keys only (AWS: a role). */
struct osc_service_account {
    struct osc_principal p;
    char description[OSC_SA_DESC_MAX * 4 + 1];
    char *trust_policy; /* heap, verbatim; NULL when none */
    int max_session_duration;
    int64_t last_used_us; /* most recent use of any current key; 0: none */
    char last_used_region[64];
};

/* Frees what a service account record owns and zeroes it. */
void osc_service_account_cleanup(struct osc_service_account *sa);

/* Role names and fixed ids. */
const char *osc_role_name(unsigned role_bit);
const char *osc_role_id(unsigned role_bit);
/* Resolves "admin"/"security_admin" or their ids to a role bit; 0 if unknown. */
unsigned osc_role_parse(const char *s);

#endif
