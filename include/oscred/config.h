/* Configuration from OSCRED_* environment variables, read and validated once at start-up. */
#ifndef OSC_CONFIG_H
#define OSC_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "oscred/err.h"

enum osc_log_level { OSC_LOG_DEBUG = 0, OSC_LOG_INFO, OSC_LOG_WARN, OSC_LOG_ERROR };

struct osc_config {
    const char *database_url;
    const char *database_listen_url;
    const char *listen_host; /* owned by the config */
    int listen_port;
    const char *keys_file;
    const char *public_url; /* NULL: from the request's Host */
    int64_t token_ttl_s;
    int database_timeout_ms;
    int database_pool_size;
    int database_prepared;
    int worker_threads;
    unsigned password_iterations;
    enum osc_log_level log_level;
    int shutdown_grace_s;
    const char *bootstrap_domain;
    const char *bootstrap_user;
    const char *bootstrap_password;
};

/* What a command needs, so each command only demands its own variables. */
#define OSC_NEED_DATABASE 0x1u
#define OSC_NEED_KEYS 0x2u
#define OSC_NEED_BOOTSTRAP 0x4u
#define OSC_NEED_LISTENER 0x8u /* serve: OSCRED_DATABASE_LISTEN_URL */

/* Reads the environment into *out. On a missing or invalid variable returns OSC_E_INVALID and
 * writes one line naming it into why. Strings point into the environment or static storage. */
osc_err osc_config_load(unsigned needs, struct osc_config *out, char *why, size_t whylen);
/* Frees what osc_config_load allocated. */
void osc_config_cleanup(struct osc_config *cfg);

#endif
