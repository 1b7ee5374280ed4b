/* Helpers of the shared records: built-in role names and ids, principal cleanup. */
#include "oscred/model.h"

#include "oscred/crypto.h"

#include <stdlib.h>
#include <string.h>

static const struct {
    unsigned bit;
    const char *name;
    const char *id;
} ROLES[] = {
    {OSC_ROLE_ADMIN, "admin", "6f0c4b1d2a3e4f5081928374a5b6c7d8"},
    {OSC_ROLE_SECURITY_ADMIN, "security_admin", "7e1d5c2b3a4f4e6091a2b3c4d5e6f708"},
};

const char *osc_role_name(unsigned role_bit)
{
    for (size_t i = 0; i < sizeof(ROLES) / sizeof(ROLES[0]); i++) {
        if (ROLES[i].bit == role_bit)
            return ROLES[i].name;
    }
    return NULL;
}

const char *osc_role_id(unsigned role_bit)
{
    for (size_t i = 0; i < sizeof(ROLES) / sizeof(ROLES[0]); i++) {
        if (ROLES[i].bit == role_bit)
            return ROLES[i].id;
    }
    return NULL;
}

unsigned osc_role_parse(const char *s)
{
    for (size_t i = 0; s && i < sizeof(ROLES) / sizeof(ROLES[0]); i++) {
        if (strcmp(s, ROLES[i].name) == 0 || strcmp(s, ROLES[i].id) == 0)
            return ROLES[i].bit;
    }
    return 0;
}

void osc_principal_cleanup(struct osc_principal *p)
{
    if (p->password_hash) {
        osc_crypto_wipe(p->password_hash, strlen(p->password_hash));
        free(p->password_hash);
    }
    memset(p, 0, sizeof(*p));
}

void osc_service_account_cleanup(struct osc_service_account *sa)
{
    osc_principal_cleanup(&sa->p);
    free(sa->trust_policy);
    memset(sa, 0, sizeof(*sa));
}
