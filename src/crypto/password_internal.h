/* Private to src/crypto/ and its unit tests: raw PBKDF2-HMAC-SHA256, so the published vectors
 * (short salts, other output lengths) can be checked; the stored hash format allows neither. */
#ifndef OSC_CRYPTO_PASSWORD_INTERNAL_H
#define OSC_CRYPTO_PASSWORD_INTERNAL_H

#include <stddef.h>

#include "oscred/err.h"

/* PBKDF2-HMAC-SHA256(pw[0..pwlen), salt, iterations) into out[outlen]; out is written only on
 * success. OSC_E_INVALID if a length or the iteration count does not fit OpenSSL's int,
 * OSC_E_INTERNAL if OpenSSL fails. */
osc_err osc_crypto_pbkdf2_sha256(const char *pw, size_t pwlen, const unsigned char *salt,
                                 size_t saltlen, unsigned iterations, unsigned char *out,
                                 size_t outlen);

#endif
