/* Private to src/crypto/ and its unit tests: AES-256-GCM sealing with a caller-chosen nonce, so
 * published test vectors can be checked. Production code seals through osc_crypto_seal, which
 * draws a fresh random nonce; reusing a nonce under one key breaks GCM completely. */
#ifndef OSC_CRYPTO_AEAD_INTERNAL_H
#define OSC_CRYPTO_AEAD_INTERNAL_H

#include <stddef.h>

#include "oscred/err.h"

#define OSC_GCM_NONCE_LEN 12
#define OSC_GCM_TAG_LEN 16

/* As osc_crypto_seal, with nonce[12] given instead of random. *out (nonce || ct || tag) is
 * malloc'd and written, with *outlen, only on success; OSC_E_INTERNAL otherwise. */
osc_err osc_crypto_seal_with_nonce(const unsigned char key[32],
                                   const unsigned char nonce[OSC_GCM_NONCE_LEN], const void *aad,
                                   size_t aadlen, const void *pt, size_t ptlen, unsigned char **out,
                                   size_t *outlen);

#endif
