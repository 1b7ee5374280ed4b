/* Self-contained tokens: the fields below, MAC'd with HMAC-SHA256 under the token subkey of a ring
 * key. Verifying one needs the ring only, never the database. Roles, the enabled flag and
 * revocation are not inside: the caller checks them against the principal cache and the revocation
 * set. */
#ifndef OSC_TOKEN_H
#define OSC_TOKEN_H

#include <stdint.h>

#include "oscred/crypto.h"
#include "oscred/keyring.h"

#define OSC_TOKEN_MAX 512 /* longest encoded token, NUL included */

enum osc_token_scope {
    OSC_SCOPE_UNSCOPED = 0,
    OSC_SCOPE_DOMAIN = 1,
};

struct osc_token {
    char kid[OSC_KID_MAX + 1]; /* ring key that MACs it (set by encode) */
    char id[OSC_ID_LEN + 1];   /* token id, for revocation */
    char principal_id[OSC_ID_LEN + 1];
    char domain_id[OSC_ID_LEN + 1]; /* the principal's domain (also the scope when scoped) */
    enum osc_token_scope scope;
    uint32_t password_epoch; /* must equal the principal's current epoch */
    int64_t issued_us;       /* Unix time, microseconds */
    int64_t expires_us;
};

/* Encodes t under the ring's primary key (t->kid is ignored and the primary used). out must hold
 * OSC_TOKEN_MAX bytes. The token is URL- and header-safe ([A-Za-z0-9_.-]). */
osc_err osc_token_encode(const osc_keyring *kr, const struct osc_token *t, char *out);
/* Parses s and checks its MAC under the ring key it names. OSC_E_UNAUTHENTICATED for anything
 * malformed, an unknown kid, or a bad MAC. Expiry is NOT checked here (revocation must accept
 * expired tokens); compare out->expires_us with the clock. The calling thread remembers the last
 * tokens it verified: the same string under the same ring is answered without the decode and
 * HMAC. */
osc_err osc_token_decode(const osc_keyring *kr, const char *s, struct osc_token *out);

#endif
