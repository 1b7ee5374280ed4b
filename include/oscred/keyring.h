/* The key ring: named 32-byte master keys, one of them primary, from OSCRED_KEYS_FILE.
 * From each master key two subkeys are derived with HKDF (info "oscred token v1" and
 * "oscred secret v1"), so no key serves two purposes. A ring is immutable once built; the process
 * swaps in a new ring on SIGHUP (osc_keyring_install) while requests keep the one they hold. */
#ifndef OSC_KEYRING_H
#define OSC_KEYRING_H

#include <stddef.h>
#include <stdint.h>

#include "oscred/crypto.h"
#include "oscred/err.h"

#define OSC_KID_MAX 32 /* kid: [A-Za-z0-9_-]{1,32} */

typedef struct osc_keyring osc_keyring;

/* Parses a ring from JSON {"primary": "<kid>", "keys": {"<kid>": "<base64 of 32 bytes>", ...}}.
 * On failure returns OSC_E_INVALID and writes a one-line reason (never key material) into why.
 * The new ring has one reference, owned by the caller. */
osc_err osc_keyring_parse(const char *json, size_t n, osc_keyring **out, char *why, size_t whylen);
/* Reads and parses the file at path (as osc_keyring_parse; a read error is OSC_E_INVALID too). */
osc_err osc_keyring_load(const char *path, osc_keyring **out, char *why, size_t whylen);
/* Makes a new ring with one fresh random key and returns its JSON (malloc'd, caller frees; it
 * holds the key, so wipe it first). */
osc_err osc_keyring_generate(char **json_out);

/* Reference counting: osc_keyring_ref adds a reference and returns kr; osc_keyring_destroy drops
 * one and frees (wiping key material) at zero. NULL is a no-op for both. Thread-safe. */
osc_keyring *osc_keyring_ref(osc_keyring *kr);
void osc_keyring_destroy(osc_keyring *kr);

/* The process-wide current ring. osc_keyring_install takes over the caller's reference to kr and
 * drops the previous ring's; osc_keyring_current returns a new reference (NULL before the first
 * install). Both thread-safe. */
void osc_keyring_install(osc_keyring *kr);
osc_keyring *osc_keyring_current(void);

/* The primary kid (borrowed, valid while kr is held). */
const char *osc_keyring_primary(const osc_keyring *kr);
/* Number of keys in the ring. */
size_t osc_keyring_size(const osc_keyring *kr);
/* A number no other ring of this process has (0 for NULL): tells whether something computed under
 * a ring was computed under this very one. */
uint64_t osc_keyring_serial(const osc_keyring *kr);
/* The 32-byte token MAC subkey / secret sealing subkey of kid, or NULL if kid is not in the ring.
 * Borrowed, valid while kr is held. */
const unsigned char *osc_keyring_token_key(const osc_keyring *kr, const char *kid);
const unsigned char *osc_keyring_seal_key(const osc_keyring *kr, const char *kid);

/* Seals a secret access key under the primary's sealing subkey with AAD = access_key "|" kid.
 * kid_out receives the primary kid (size >= OSC_KID_MAX + 1); *sealed is malloc'd. */
osc_err osc_keyring_seal_secret(const osc_keyring *kr, const char *access_key,
                                const struct osc_secret *sk, char *kid_out, unsigned char **sealed,
                                size_t *sealedlen);
/* Opens a sealed secret recorded under kid. OSC_E_NOT_FOUND if kid is not in the ring,
 * OSC_E_INTERNAL if authentication fails. *out is a new secret (caller destroys). */
osc_err osc_keyring_open_secret(const osc_keyring *kr, const char *access_key, const char *kid,
                                const unsigned char *sealed, size_t sealedlen,
                                struct osc_secret **out);

#endif
