/* OSCRED_* environment -> struct osc_config, validated once. A bad value stops start-up with one
 * line naming the variable; nothing here falls back silently on invalid input. */
#include "oscred/config.h"

#include <errno.h>
#include <libpq-fe.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return (v && v[0]) ? v : NULL;
}

static int parse_long(const char *s, long min, long max, long *out)
{
    char *end = NULL;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Reads an integer variable with a default; -1 and a message if it is set but invalid. */
static int int_var(const char *name, long def, long min, long max, long *out, char *why,
                   size_t whylen)
{
    const char *v = env(name);

    if (!v) {
        *out = def;
        return 0;
    }
    if (parse_long(v, min, max, out)) {
        snprintf(why, whylen, "%s: expected an integer between %ld and %ld, got \"%s\"", name, min,
                 max, v);
        return -1;
    }
    return 0;
}

/* 1 (and why) if libpq cannot read the connection string in variable name. Checked here because
 * libpq's own complaint, logged on every connection attempt, quotes the part it could not read:
 * with a raw '%' in a URI's password, the password. */
static int bad_conninfo(const char *name, const char *url, char *why, size_t whylen)
{
    char *complaint = NULL;
    PQconninfoOption *opts = url ? PQconninfoParse(url, &complaint) : NULL;

    PQfreemem(complaint);
    if (!url || opts) {
        PQconninfoFree(opts);
        return 0;
    }
    snprintf(why, whylen,
             "%s: not a libpq connection string or URI (not shown: it may hold the password; "
             "percent-encode special characters in a URI)",
             name);
    return 1;
}

static int parse_listen(const char *v, char **host, int *port)
{
    const char *colon = strrchr(v, ':');
    long p;
    size_t hl;

    if (!colon || colon == v)
        return -1;
    if (parse_long(colon + 1, 1, 65535, &p))
        return -1;
    hl = (size_t)(colon - v);
    if (v[0] == '[' && hl >= 2 && v[hl - 1] == ']') {
        v++;
        hl -= 2;
    }
    *host = strndup(v, hl);
    if (!*host)
        return -1;
    *port = (int)p;
    return 0;
}

osc_err osc_config_load(unsigned needs, struct osc_config *out, char *why, size_t whylen)
{
    osc_err err = OSC_E_INVALID;
    struct osc_config c;
    long v;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    const char *s;

    memset(&c, 0, sizeof(c));
    if (cpus < 1)
        cpus = 1;
    c.database_url = env("OSCRED_DATABASE_URL");
    if ((needs & OSC_NEED_DATABASE) && !c.database_url) {
        snprintf(why, whylen, "OSCRED_DATABASE_URL: required (a libpq connection string or URI)");
        goto out;
    }
    c.database_listen_url = env("OSCRED_DATABASE_LISTEN_URL");
    if (((needs & OSC_NEED_DATABASE) &&
         bad_conninfo("OSCRED_DATABASE_URL", c.database_url, why, whylen)) ||
        ((needs & OSC_NEED_LISTENER) &&
         bad_conninfo("OSCRED_DATABASE_LISTEN_URL", c.database_listen_url, why, whylen)))
        goto out;
    if (!c.database_listen_url)
        c.database_listen_url = c.database_url;
    c.keys_file = env("OSCRED_KEYS_FILE");
    if ((needs & OSC_NEED_KEYS) && !c.keys_file) {
        snprintf(why, whylen, "OSCRED_KEYS_FILE: required (create one with `oscred keygen`)");
        goto out;
    }
    s = env("OSCRED_LISTEN");
    if (parse_listen(s ? s : "127.0.0.1:8080", (char **)&c.listen_host, &c.listen_port)) {
        snprintf(why, whylen, "OSCRED_LISTEN: expected host:port, got \"%s\"", s);
        goto out;
    }
    c.public_url = env("OSCRED_PUBLIC_URL");
    if (c.public_url && strncmp(c.public_url, "http://", 7) != 0 &&
        strncmp(c.public_url, "https://", 8) != 0) {
        snprintf(why, whylen, "OSCRED_PUBLIC_URL: expected an http:// or https:// URL, got \"%s\"",
                 c.public_url);
        goto out;
    }
    if (int_var("OSCRED_TOKEN_TTL", 86400, 1, 31L * 86400, &v, why, whylen))
        goto out;
    c.token_ttl_s = v;
    if (int_var("OSCRED_DATABASE_TIMEOUT", 2, 1, 300, &v, why, whylen))
        goto out;
    c.database_timeout_ms = (int)v * 1000;
    if (int_var("OSCRED_DATABASE_POOL_SIZE", 8, 1, 1000, &v, why, whylen))
        goto out;
    c.database_pool_size = (int)v;
    s = env("OSCRED_DATABASE_PREPARED");
    if (!s || strcmp(s, "on") == 0) {
        c.database_prepared = 1;
    } else if (strcmp(s, "off") == 0) {
        c.database_prepared = 0;
    } else {
        snprintf(why, whylen, "OSCRED_DATABASE_PREPARED: expected on or off, got \"%s\"", s);
        goto out;
    }
    /* Workers block on the database: with fewer workers than pooled connections the pool could
     * never be fully used. More than that cost the requests that never wait (token validation):
     * each worker's wake-up then finds fewer of them ready, and bench/ measured 16 workers behind
     * 8 on the same 8 connections. */
    if (int_var("OSCRED_WORKER_THREADS", c.database_pool_size > cpus ? c.database_pool_size : cpus,
                1, 1024, &v, why, whylen))
        goto out;
    c.worker_threads = (int)v;
    if (int_var("OSCRED_PASSWORD_ITERATIONS", 600000, 1000, 10000000, &v, why, whylen))
        goto out;
    c.password_iterations = (unsigned)v;
    if (int_var("OSCRED_SHUTDOWN_GRACE", 20, 0, 3600, &v, why, whylen))
        goto out;
    c.shutdown_grace_s = (int)v;
    s = env("OSCRED_LOG_LEVEL");
    if (!s || strcmp(s, "info") == 0) {
        c.log_level = OSC_LOG_INFO;
    } else if (strcmp(s, "debug") == 0) {
        c.log_level = OSC_LOG_DEBUG;
    } else if (strcmp(s, "warn") == 0) {
        c.log_level = OSC_LOG_WARN;
    } else if (strcmp(s, "error") == 0) {
        c.log_level = OSC_LOG_ERROR;
    } else {
        snprintf(why, whylen, "OSCRED_LOG_LEVEL: expected debug, info, warn or error, got \"%s\"",
                 s);
        goto out;
    }
    c.bootstrap_domain = env("OSCRED_BOOTSTRAP_DOMAIN");
    if (!c.bootstrap_domain)
        c.bootstrap_domain = "default";
    c.bootstrap_user = env("OSCRED_BOOTSTRAP_USER");
    if (!c.bootstrap_user)
        c.bootstrap_user = "admin";
    c.bootstrap_password = env("OSCRED_BOOTSTRAP_PASSWORD");
    if ((needs & OSC_NEED_BOOTSTRAP) && !c.bootstrap_password) {
        snprintf(why, whylen, "OSCRED_BOOTSTRAP_PASSWORD: required by bootstrap");
        goto out;
    }
    err = OSC_OK;
out:
    if (err)
        free((char *)c.listen_host);
    else
        *out = c;
    return err;
}

void osc_config_cleanup(struct osc_config *cfg)
{
    free((char *)cfg->listen_host);
    memset(cfg, 0, sizeof(*cfg));
}
