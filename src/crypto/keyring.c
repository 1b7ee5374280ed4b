/* The key ring: parsing and generating OSCRED_KEYS_FILE, deriving per-purpose subkeys, the
 * process-wide current ring, and sealing secret access keys under it. Master keys are dropped
 * as soon as their subkeys exist; nothing here ever prints key material. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "oscred/crypto.h"
#include "oscred/keyring.h"
#include "oscred/log.h"

#define MASTER_LEN 32
#define SUBKEY_LEN 32
#define FILE_MAX                                                                                   \
    ((size_t)64 * 1024) /* a ring of hundreds of keys fits; anything bigger is not a ring */

static const char INFO_TOKEN[] = "oscred token v1";
static const char INFO_SECRET[] = "oscred secret v1";

struct ring_key {
    char kid[OSC_KID_MAX + 1];
    unsigned char token[SUBKEY_LEN];
    unsigned char seal[SUBKEY_LEN];
};

struct osc_keyring {
    atomic_size_t refs;
    uint64_t serial;
    size_t size; /* bytes allocated, for the wipe */
    size_t primary;
    size_t n;
    struct ring_key keys[];
};

static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static osc_keyring *current_ring;
static atomic_uint_fast64_t next_serial = 1;

/* The one place a parse failure is explained. Callers pass only kids that passed kid_valid and
 * fixed text, never a key value or jansson's error text (which quotes the input). */
__attribute__((format(printf, 3, 4))) static void say(char *why, size_t whylen, const char *fmt,
                                                      ...)
{
    if (why && whylen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
}

static int kid_valid(const char *s)
{
    size_t n = 0;
    int ok = s != NULL;

    /* Spelled out instead of isalnum: the ctype functions follow the locale. */
    for (; ok && s[n] != '\0'; n++) {
        char c = s[n];
        ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
             c == '_' || c == '-';
    }
    return ok && n >= 1 && n <= OSC_KID_MAX;
}

static void ring_free(osc_keyring *kr)
{
    if (kr) {
        OPENSSL_cleanse(kr, kr->size);
        free(kr);
    }
}

static const struct ring_key *find(const osc_keyring *kr, const char *kid)
{
    const struct ring_key *k = NULL;

    for (size_t i = 0; kr && kid && !k && i < kr->n; i++) {
        if (strcmp(kr->keys[i].kid, kid) == 0)
            k = &kr->keys[i];
    }
    return k;
}

/* jansson frees strings without wiping them, so every string value in the parsed document is
 * cleared in place first; a key may sit anywhere in a malformed ring. The memory is jansson's
 * own malloc'd copy, about to be freed, so writing it is safe. */
/* NOLINTNEXTLINE(misc-no-recursion): bounded by jansson's nesting limit (2048 levels) */
static void wipe_strings(json_t *j)
{
    const char *name = NULL;
    json_t *j_val = NULL;
    size_t i = 0;

    if (json_is_string(j)) {
        OPENSSL_cleanse((char *)json_string_value(j), json_string_length(j));
    } else if (json_is_object(j)) {
        json_object_foreach(j, name, j_val)
        {
            wipe_strings(j_val);
        }
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, j_val)
        {
            wipe_strings(j_val);
        }
    }
}

/* Decodes one key value and derives both subkeys into k. kid is already validated. */
static osc_err load_key(const char *kid, json_t *j_val, struct ring_key *k, char *why,
                        size_t whylen)
{
    osc_err err = OSC_OK;
    unsigned char *master = NULL;
    size_t masterlen = 0;

    if (!json_is_string(j_val)) {
        say(why, whylen, "keyring key \"%s\" is not a string", kid);
        err = OSC_E_INVALID;
        goto out;
    }
    err = osc_crypto_b64_decode(json_string_value(j_val), &master, &masterlen);
    if (err == OSC_E_INVALID || (!err && masterlen != MASTER_LEN)) {
        say(why, whylen, "keyring key \"%s\" is not base64 of %d bytes", kid, MASTER_LEN);
        err = OSC_E_INVALID;
        goto out;
    }
    if (err) {
        say(why, whylen, "out of memory");
        goto out;
    }
    memcpy(k->kid, kid, strlen(kid) + 1);
    err = osc_crypto_hkdf(master, masterlen, NULL, 0, INFO_TOKEN, k->token, SUBKEY_LEN);
    if (!err)
        err = osc_crypto_hkdf(master, masterlen, NULL, 0, INFO_SECRET, k->seal, SUBKEY_LEN);
    if (err)
        say(why, whylen, "keyring key \"%s\": subkey derivation failed", kid);
out:
    if (master) {
        OPENSSL_cleanse(master, masterlen);
        free(master);
    }
    return err;
}

osc_err osc_keyring_parse(const char *json, size_t n, osc_keyring **out, char *why, size_t whylen)
{
    osc_err err = OSC_OK;
    json_t *j_root = NULL;
    json_t *j_primary = NULL;
    json_t *j_keys = NULL;
    json_t *j_val = NULL;
    json_error_t jerr;
    const char *name = NULL;
    const char *primary = NULL;
    osc_keyring *kr = NULL;
    const struct ring_key *pk = NULL;
    size_t nkeys = 0;
    size_t i = 0;

    if (why && whylen > 0)
        why[0] = '\0';
    if (!json) {
        say(why, whylen, "keyring is empty");
        err = OSC_E_INVALID;
        goto out;
    }
    j_root = json_loadb(json, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!j_root) {
        /* jerr.text quotes the text near the error, which may be part of a key: only the
         * position is reported. */
        if (json_error_code(&jerr) == json_error_duplicate_key)
            say(why, whylen, "keyring has a duplicate member (line %d)", jerr.line);
        else
            say(why, whylen, "keyring is not valid JSON (line %d, column %d)", jerr.line,
                jerr.column);
        err = OSC_E_INVALID;
        goto out;
    }
    if (!json_is_object(j_root)) {
        say(why, whylen, "keyring is not a JSON object");
        err = OSC_E_INVALID;
        goto out;
    }
    json_object_foreach(j_root, name, j_val)
    {
        if (strcmp(name, "primary") != 0 && strcmp(name, "keys") != 0) {
            say(why, whylen, "keyring has a member other than \"primary\" and \"keys\"");
            err = OSC_E_INVALID;
            goto out;
        }
    }
    j_primary = json_object_get(j_root, "primary");
    j_keys = json_object_get(j_root, "keys");
    if (!json_is_string(j_primary)) {
        say(why, whylen, "keyring \"primary\" is missing or not a string");
        err = OSC_E_INVALID;
        goto out;
    }
    primary = json_string_value(j_primary);
    /* The check also keeps a misplaced key (base64 has '+', '/', '=') out of the messages. */
    if (!kid_valid(primary)) {
        say(why, whylen, "keyring \"primary\" is not a kid ([A-Za-z0-9_-]{1,%d})", OSC_KID_MAX);
        err = OSC_E_INVALID;
        goto out;
    }
    if (!json_is_object(j_keys)) {
        say(why, whylen, "keyring \"keys\" is missing or not an object");
        err = OSC_E_INVALID;
        goto out;
    }
    nkeys = json_object_size(j_keys);
    if (nkeys == 0) {
        say(why, whylen, "keyring \"keys\" is empty");
        err = OSC_E_INVALID;
        goto out;
    }
    kr = calloc(1, sizeof(*kr) + nkeys * sizeof(kr->keys[0]));
    if (!kr) {
        say(why, whylen, "out of memory");
        err = OSC_E_INTERNAL;
        goto out;
    }
    kr->size = sizeof(*kr) + nkeys * sizeof(kr->keys[0]);
    kr->serial = atomic_fetch_add(&next_serial, 1);
    json_object_foreach(j_keys, name, j_val)
    {
        if (!kid_valid(name)) {
            say(why, whylen, "keyring has a kid that is not [A-Za-z0-9_-]{1,%d}", OSC_KID_MAX);
            err = OSC_E_INVALID;
            goto out;
        }
        err = load_key(name, j_val, &kr->keys[i], why, whylen);
        if (err)
            goto out;
        kr->n = ++i;
    }
    pk = find(kr, primary);
    if (!pk) {
        say(why, whylen, "keyring primary \"%s\" is not one of the keys", primary);
        err = OSC_E_INVALID;
        goto out;
    }
    kr->primary = (size_t)(pk - kr->keys);
    atomic_init(&kr->refs, 1);
out:
    wipe_strings(j_root);
    json_decref(j_root);
    if (err)
        ring_free(kr);
    else
        *out = kr;
    return err;
}

osc_err osc_keyring_load(const char *path, osc_keyring **out, char *why, size_t whylen)
{
    osc_err err = OSC_OK;
    char *buf = NULL;
    char ebuf[128];
    size_t len = 0;
    int fd = -1;

    if (!path) {
        say(why, whylen, "no keyring file given");
        err = OSC_E_INVALID;
        goto out;
    }
    /* open/read rather than stdio: a FILE keeps its own buffer of the contents, freed unwiped. */
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        say(why, whylen, "cannot open keyring file %s: %s", path,
            osc_errno_text(errno, ebuf, sizeof(ebuf)));
        err = OSC_E_INVALID;
        goto out;
    }
    buf = malloc(FILE_MAX + 1);
    if (!buf) {
        say(why, whylen, "out of memory");
        err = OSC_E_INTERNAL;
        goto out;
    }
    /* Reads one byte past the limit to tell a full-size file from an oversized one. */
    while (len <= FILE_MAX) {
        ssize_t r = read(fd, buf + len, FILE_MAX + 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            say(why, whylen, "cannot read keyring file %s: %s", path,
                osc_errno_text(errno, ebuf, sizeof(ebuf)));
            err = OSC_E_INVALID;
            goto out;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    if (len > FILE_MAX) {
        say(why, whylen, "keyring file %s is larger than %zu bytes", path, FILE_MAX);
        err = OSC_E_INVALID;
        goto out;
    }
    err = osc_keyring_parse(buf, len, out, why, whylen);
out:
    if (fd >= 0)
        close(fd);
    if (buf) {
        OPENSSL_cleanse(buf, FILE_MAX + 1);
        free(buf);
    }
    return err;
}

osc_err osc_keyring_generate(char **json_out)
{
    osc_err err = OSC_OK;
    unsigned char key[MASTER_LEN];
    char kid[OSC_KID_MAX + 1];
    char *b64 = NULL;
    char *s = NULL;
    size_t cap = 0;
    time_t now = 0;
    struct tm tm;
    int w = 0;

    err = osc_crypto_random(key, sizeof(key));
    if (err)
        goto out;
    err = osc_crypto_b64_encode(key, sizeof(key), &b64);
    if (err)
        goto out;
    now = time(NULL);
    if (now == (time_t)-1 || !gmtime_r(&now, &tm) ||
        strftime(kid, sizeof(kid), "k%Y%m%d%H%M%S", &tm) == 0) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    /* Formatted by hand rather than with json_dumps: jansson's buffers would keep copies of the
     * key that nothing wipes. kid and base64 need no JSON escaping. */
    cap = 64 + 2 * strlen(kid) + strlen(b64);
    s = malloc(cap);
    if (!s) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    w = snprintf(s, cap, "{\n  \"primary\": \"%s\",\n  \"keys\": {\n    \"%s\": \"%s\"\n  }\n}\n",
                 kid, kid, b64);
    if (w < 0 || (size_t)w >= cap) {
        err = OSC_E_INTERNAL;
        goto out;
    }
out:
    OPENSSL_cleanse(key, sizeof(key));
    if (b64) {
        OPENSSL_cleanse(b64, strlen(b64));
        free(b64);
    }
    if (err) {
        if (s) {
            OPENSSL_cleanse(s, cap);
            free(s);
        }
    } else {
        *json_out = s;
    }
    return err;
}

osc_keyring *osc_keyring_ref(osc_keyring *kr)
{
    /* Relaxed is enough: the caller already holds a reference, so the ring cannot vanish. */
    if (kr)
        atomic_fetch_add_explicit(&kr->refs, 1, memory_order_relaxed);
    return kr;
}

void osc_keyring_destroy(osc_keyring *kr)
{
    /* acq_rel so the last holder sees every other holder's reads finished before the wipe. */
    if (kr && atomic_fetch_sub_explicit(&kr->refs, 1, memory_order_acq_rel) == 1)
        ring_free(kr);
}

void osc_keyring_install(osc_keyring *kr)
{
    osc_keyring *old = NULL;

    pthread_mutex_lock(&current_lock);
    old = current_ring;
    current_ring = kr;
    pthread_mutex_unlock(&current_lock);
    /* Outside the lock: the wipe and free need not stall readers. Requests still holding the
     * old ring keep it alive until they drop it. */
    osc_keyring_destroy(old);
}

osc_keyring *osc_keyring_current(void)
{
    osc_keyring *kr = NULL;

    /* The reference must be taken under the lock: otherwise an install between the load and
     * the increment could free the ring first. */
    pthread_mutex_lock(&current_lock);
    kr = osc_keyring_ref(current_ring);
    pthread_mutex_unlock(&current_lock);
    return kr;
}

const char *osc_keyring_primary(const osc_keyring *kr)
{
    return kr ? kr->keys[kr->primary].kid : NULL;
}

size_t osc_keyring_size(const osc_keyring *kr)
{
    return kr ? kr->n : 0;
}

uint64_t osc_keyring_serial(const osc_keyring *kr)
{
    return kr ? kr->serial : 0;
}

const unsigned char *osc_keyring_token_key(const osc_keyring *kr, const char *kid)
{
    const struct ring_key *k = find(kr, kid);
    return k ? k->token : NULL;
}

const unsigned char *osc_keyring_seal_key(const osc_keyring *kr, const char *kid)
{
    const struct ring_key *k = find(kr, kid);
    return k ? k->seal : NULL;
}

/* access_key "|" kid. A kid never contains '|' and comes last, so the split is unambiguous. */
static osc_err make_aad(const char *access_key, const char *kid, char **aad, size_t *aadlen)
{
    osc_err err = OSC_OK;
    size_t aklen = strlen(access_key);
    size_t kidlen = strlen(kid);
    char *buf = NULL;

    if (aklen > SIZE_MAX - kidlen - 2) {
        err = OSC_E_INVALID;
        goto out;
    }
    buf = malloc(aklen + kidlen + 2);
    if (!buf) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    memcpy(buf, access_key, aklen);
    buf[aklen] = '|';
    memcpy(buf + aklen + 1, kid, kidlen + 1);
out:
    if (!err) {
        *aad = buf;
        *aadlen = aklen + 1 + kidlen;
    }
    return err;
}

osc_err osc_keyring_seal_secret(const osc_keyring *kr, const char *access_key,
                                const struct osc_secret *sk, char *kid_out, unsigned char **sealed,
                                size_t *sealedlen)
{
    osc_err err = OSC_OK;
    const struct ring_key *k = NULL;
    char *aad = NULL;
    size_t aadlen = 0;
    unsigned char *buf = NULL;
    size_t len = 0;

    if (!kr || !access_key || !sk || !kid_out) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    k = &kr->keys[kr->primary];
    err = make_aad(access_key, k->kid, &aad, &aadlen);
    if (err)
        goto out;
    err = osc_crypto_seal(k->seal, aad, aadlen, sk->p, sk->n, &buf, &len);
    if (err)
        goto out;
    memcpy(kid_out, k->kid, strlen(k->kid) + 1);
    *sealed = buf;
    *sealedlen = len;
out:
    free(aad);
    return err;
}

osc_err osc_keyring_open_secret(const osc_keyring *kr, const char *access_key, const char *kid,
                                const unsigned char *sealed, size_t sealedlen,
                                struct osc_secret **out)
{
    osc_err err = OSC_OK;
    const struct ring_key *k = NULL;
    char *aad = NULL;
    size_t aadlen = 0;

    if (!kr || !access_key || !kid) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    k = find(kr, kid);
    if (!k) {
        err = OSC_E_NOT_FOUND;
        goto out;
    }
    err = make_aad(access_key, k->kid, &aad, &aadlen);
    if (err)
        goto out;
    err = osc_crypto_open(k->seal, aad, aadlen, sealed, sealedlen, out);
out:
    free(aad);
    return err;
}
