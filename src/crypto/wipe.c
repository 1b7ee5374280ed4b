/* Wiping secrets from memory; kept apart so callers outside src/crypto need no OpenSSL header. */
#include <openssl/crypto.h>

#include "oscred/crypto.h"

void osc_crypto_wipe(void *p, size_t n)
{
    OPENSSL_cleanse(p, n);
}
