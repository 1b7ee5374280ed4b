/* The command line: serve | migrate | bootstrap | keygen | version | healthcheck. The only file
 * that knows every module; it wires them and owns signals. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "oscred/config.h"
#include "oscred/http.h"
#include "oscred/keyring.h"
#include "oscred/log.h"
#include "oscred/service.h"
#include "oscred/store.h"
#include "oscred_build.h"

#define CACHE_LOAD_ATTEMPTS 60
#define ROTATE_BATCH 500

static const char USAGE[] =
    "usage: oscred COMMAND\n"
    "\n"
    "Access-key credential service: Keystone-style tokens and users, Huawei/OTC OS-CREDENTIAL\n"
    "access keys, on PostgreSQL.\n"
    "\n"
    "commands:\n"
    "  serve        run the HTTP service\n"
    "  migrate      apply pending database migrations (safe to run from several replicas)\n"
    "  bootstrap    create a domain and its first administrator (idempotent)\n"
    "  keygen       print a new key ring (JSON) for OSCRED_KEYS_FILE\n"
    "  rotate-secrets  re-encrypt stored secret keys under the key ring's primary key (online)\n"
    "  version      print the version\n"
    "  healthcheck  exit 0 if the local service answers /healthz (for container images)\n"
    "\n"
    "Configuration comes from OSCRED_* environment variables; `oscred COMMAND --help` lists the\n"
    "ones a command reads.\n";

struct command {
    const char *name;
    int (*run)(void);
    const char *help;
};

static int fail_config(const char *why)
{
    fprintf(stderr, "oscred: %s\n", why);
    return 2;
}

static osc_err open_store(const struct osc_config *cfg, osc_store **st)
{
    struct osc_store_options opt = {cfg->database_url, cfg->database_pool_size,
                                    cfg->database_timeout_ms, cfg->database_prepared};
    return osc_store_create(&opt, st);
}

static int cmd_version(void)
{
    printf("oscred %s (commit %s)\n", OSC_VERSION, OSC_COMMIT);
    return 0;
}

static int cmd_keygen(void)
{
    char *json = NULL;

    if (osc_keyring_generate(&json) != OSC_OK) {
        fprintf(stderr, "oscred: cannot generate keys (no randomness?)\n");
        return 1;
    }
    /* Checked: a key ring that never reached its file (a full disk) must not exit 0. */
    int written = fputs(json, stdout) >= 0 && fflush(stdout) == 0;
    osc_crypto_wipe(json, strlen(json));
    free(json);
    if (!written) {
        fprintf(stderr, "oscred: cannot write the key ring to standard output\n");
        return 1;
    }
    return 0;
}

static int cmd_migrate(void)
{
    struct osc_config cfg;
    char why[256];
    osc_store *st = NULL;
    int from = 0, to = 0, rc = 1;

    if (osc_config_load(OSC_NEED_DATABASE, &cfg, why, sizeof(why)))
        return fail_config(why);
    osc_log_set_level(cfg.log_level);
    /* Checking every statement after migrating turns schema drift into a failed migration
     * instead of a failed request later. */
    if (open_store(&cfg, &st) == OSC_OK && osc_store_migrate(st, &from, &to) == OSC_OK &&
        osc_store_check_statements(st) == OSC_OK) {
        printf("schema at version %d (was %d); every statement fits it\n", to, from);
        rc = 0;
    } else {
        fprintf(stderr, "oscred: migration failed (see the log line above)\n");
    }
    osc_store_destroy(st);
    osc_config_cleanup(&cfg);
    return rc;
}

static int cmd_bootstrap(void)
{
    struct osc_config cfg;
    char why[256];
    osc_store *st = NULL;
    struct osc_app app = {0};
    struct osc_principal p = {0};
    int created_domain = 0, created_user = 0, rc = 1;
    osc_err err;

    if (osc_config_load(OSC_NEED_DATABASE | OSC_NEED_BOOTSTRAP, &cfg, why, sizeof(why)))
        return fail_config(why);
    osc_log_set_level(cfg.log_level);
    err = open_store(&cfg, &st);
    app.cfg = &cfg;
    app.store = st;
    if (!err)
        err = osc_admin_bootstrap(&app, cfg.bootstrap_domain, cfg.bootstrap_user,
                                  cfg.bootstrap_password, &p, &created_domain, &created_user);
    if (err == OSC_E_INVALID) {
        fprintf(stderr, "oscred: OSCRED_BOOTSTRAP_DOMAIN and OSCRED_BOOTSTRAP_USER must match "
                        "[A-Za-z0-9_+=,.@-]{1,64}; the password must be 1-1024 bytes\n");
    } else if (err) {
        fprintf(stderr, "oscred: bootstrap failed: %s (is the database migrated?)\n",
                osc_err_name(err));
    } else {
        printf("domain %s (id %s): %s\n", p.domain_name, p.domain_id,
               created_domain ? "created" : "exists");
        printf("user %s (id %s): %s, roles admin and security_admin\n", p.name, p.id,
               created_user ? "created" : "exists, password unchanged");
        rc = 0;
    }
    osc_principal_cleanup(&p);
    osc_store_destroy(st);
    osc_config_cleanup(&cfg);
    return rc;
}

static int cmd_healthcheck(void)
{
    struct osc_config cfg;
    char why[256], req[256], buf[64];
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    char port[8];
    int fd = -1, rc = 1;
    const char *host;
    struct timeval tv = {.tv_sec = 3};

    if (osc_config_load(0, &cfg, why, sizeof(why)))
        return fail_config(why);
    /* A wildcard bind address is reached over loopback. */
    host = strcmp(cfg.listen_host, "0.0.0.0") == 0 ? "127.0.0.1"
           : strcmp(cfg.listen_host, "::") == 0    ? "::1"
                                                   : cfg.listen_host;
    snprintf(port, sizeof(port), "%d", cfg.listen_port);
    if (getaddrinfo(host, port, &hints, &res) != 0 || !res)
        goto out;
    fd = socket(res->ai_family, SOCK_STREAM, 0);
    if (fd < 0)
        goto out;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, res->ai_addr, res->ai_addrlen) != 0)
        goto out;
    snprintf(req, sizeof(req), "GET /healthz HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
             host);
    if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
        goto out;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    if (n > 12) {
        buf[n] = '\0';
        rc = strncmp(buf + 9, "200", 3) == 0 ? 0 : 1;
    }
out:
    if (fd >= 0)
        close(fd);
    if (res)
        freeaddrinfo(res);
    osc_config_cleanup(&cfg);
    return rc;
}

static osc_err load_keys(const char *path);

static int cmd_rotate_secrets(void)
{
    struct osc_config cfg;
    char why[256];
    osc_store *st = NULL;
    struct osc_app app = {0};
    size_t resealed = 0;
    int rc = 1;
    osc_err err;

    if (osc_config_load(OSC_NEED_DATABASE | OSC_NEED_KEYS, &cfg, why, sizeof(why)))
        return fail_config(why);
    osc_log_set_level(cfg.log_level);
    if (load_keys(cfg.keys_file)) {
        fprintf(stderr, "oscred: OSCRED_KEYS_FILE: cannot use %s (see the log line above)\n",
                cfg.keys_file);
        osc_config_cleanup(&cfg);
        return 2;
    }
    err = open_store(&cfg, &st);
    app.cfg = &cfg;
    app.store = st;
    if (!err)
        err = osc_admin_rotate_secrets(&app, ROTATE_BATCH, &resealed);
    printf("re-sealed %zu secret key(s) under the primary key\n", resealed);
    if (err == OSC_E_NOT_FOUND)
        fprintf(stderr, "oscred: some keys are sealed under a key the ring no longer holds (see "
                        "the log lines above); add that key back to the ring and run again\n");
    else if (err)
        fprintf(stderr, "oscred: rotation stopped: %s; it is safe to run again\n",
                osc_err_name(err));
    else
        rc = 0;
    osc_store_destroy(st);
    osc_keyring_install(NULL);
    osc_config_cleanup(&cfg);
    return rc;
}

static osc_err load_keys(const char *path)
{
    char why[256];
    osc_keyring *kr = NULL;
    osc_err err = osc_keyring_load(path, &kr, why, sizeof(why));

    if (err) {
        osc_log(OSC_LOG_ERROR, "keyring.invalid", "file", path, "detail", why, OSC_LOG_END);
        return err;
    }
    osc_log(OSC_LOG_INFO, "keyring.loaded", "file", path, "primary", osc_keyring_primary(kr),
            OSC_LOG_END);
    osc_keyring_install(kr);
    return OSC_OK;
}

/* Without the revoked set and the principal states, revoked tokens would pass: keep trying while
 * the database comes up, then give up so the orchestrator restarts us. The pause between attempts
 * waits for the signals serve handles (blocked, so they stay pending): a SIGTERM or SIGINT, an
 * orchestrator that gave up on this start, ends the wait (*stop_sig) instead of being ignored for
 * minutes. */
static osc_err load_cache(struct osc_app *app, const sigset_t *signals, int *stop_sig)
{
    osc_err err = OSC_E_UNAVAILABLE;

    for (int i = 0; i < CACHE_LOAD_ATTEMPTS && err; i++) {
        err = osc_app_load_cache(app);
        if (!err)
            break;
        osc_log(OSC_LOG_WARN, "cache.load_failed", "error", osc_err_name(err), OSC_LOG_END);
        int sig = sigtimedwait(signals, NULL, &(struct timespec){.tv_sec = 1});
        if (sig == SIGHUP) {
            (void)load_keys(app->cfg->keys_file);
        } else if (sig == SIGTERM || sig == SIGINT) {
            *stop_sig = sig;
            break;
        }
    }
    return err;
}

static int listener_resync(void *arg)
{
    osc_err err = osc_app_load_cache(arg);
    if (err)
        osc_log(OSC_LOG_WARN, "cache.resync_failed", "error", osc_err_name(err), OSC_LOG_END);
    return err != OSC_OK;
}

static int listener_notify(const char *payload, void *arg)
{
    return osc_app_apply_notification(arg, payload) != OSC_OK;
}

/* Every connection holds a descriptor. The soft limit is often 1024 (kept low for select(), which
 * we do not use), below the server's own connection limit; the hard limit is the operator's
 * ceiling, so serve raises the soft one to it. */
static void raise_descriptor_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max)
        return;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        char text[128];
        osc_log(OSC_LOG_WARN, "server.descriptor_limit", "detail",
                osc_errno_text(errno, text, sizeof(text)), OSC_LOG_END);
    }
}

static int cmd_serve(void)
{
    struct osc_config cfg;
    char why[256];
    osc_store *st = NULL;
    osc_pcache *pc = NULL;
    osc_http *http = NULL;
    osc_listener *listener = NULL;
    osc_lastuse *lastuse = NULL;
    struct osc_app app = {0};
    struct osc_listener_ops listen_ops = {listener_resync, listener_notify};
    sigset_t set;
    int sig = 0, rc = 1;

    if (osc_config_load(OSC_NEED_DATABASE | OSC_NEED_KEYS | OSC_NEED_LISTENER, &cfg, why,
                        sizeof(why)))
        return fail_config(why);
    osc_log_set_level(cfg.log_level);
    /* Block the signals we handle before any thread starts, so they all inherit the mask and
     * the main thread alone receives them in sigwait. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    raise_descriptor_limit();
    if (osc_log_start_writer())
        osc_log(OSC_LOG_WARN, "log.writer_unavailable", "detail",
                "lines are written by the threads that log them", OSC_LOG_END);

    if (load_keys(cfg.keys_file)) {
        fprintf(stderr, "oscred: OSCRED_KEYS_FILE: cannot use %s (see the log line above)\n",
                cfg.keys_file);
        rc = 2;
        goto out;
    }
    if (open_store(&cfg, &st) || osc_pcache_create(cfg.token_ttl_s * 1000000, &pc) ||
        osc_lastuse_create(st, &lastuse))
        goto out;
    app.cfg = &cfg;
    app.store = st;
    app.pcache = pc;
    app.lastuse = lastuse;
    if (load_cache(&app, &set, &sig)) {
        if (sig) {
            osc_log(OSC_LOG_INFO, "server.stopped", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM",
                    "detail", "before the cache was loaded", OSC_LOG_END);
            rc = 0;
        }
        goto out;
    }
    if (osc_store_listen_start(cfg.database_listen_url, &listen_ops, &app, &listener))
        goto out;
    if (osc_http_start(&app, &http))
        goto out;
    snprintf(why, sizeof(why), "%s:%d", cfg.listen_host, cfg.listen_port);
    char workers[16], slots[16];
    snprintf(workers, sizeof(workers), "%d", cfg.worker_threads);
    snprintf(slots, sizeof(slots), "%d", osc_password_slots(&app));
    osc_log(OSC_LOG_INFO, "server.started", "version", OSC_VERSION, "listen", why, "worker_threads",
            workers, "password_slots", slots, OSC_LOG_END);
    for (;;) {
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            /* A bad file keeps the old ring: load_keys installs only what parsed. */
            (void)load_keys(cfg.keys_file);
            continue;
        }
        break;
    }
    osc_log(OSC_LOG_INFO, "server.stopping", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM",
            OSC_LOG_END);
    osc_http_set_draining(http);
    osc_http_stop(http, cfg.shutdown_grace_s);
    http = NULL;
    rc = 0;
    osc_log(OSC_LOG_INFO, "server.stopped", OSC_LOG_END);
out:
    osc_http_stop(http, 0);
    osc_store_listen_stop(listener);
    osc_lastuse_destroy(lastuse); /* flushes pending last uses */
    osc_pcache_destroy(pc);
    osc_store_destroy(st);
    osc_keyring_install(NULL);
    osc_log_stop_writer(); /* after the last line of the shutdown */
    osc_config_cleanup(&cfg);
    return rc;
}

static const struct command COMMANDS[] = {
    {"serve", cmd_serve,
     "usage: oscred serve\n\nRuns the HTTP service.\n\n"
     "  OSCRED_DATABASE_URL       libpq connection string or URI (required)\n"
     "  OSCRED_KEYS_FILE          key ring file from `oscred keygen` (required); SIGHUP reloads "
     "it\n"
     "  OSCRED_LISTEN             host:port to bind (127.0.0.1:8080)\n"
     "  OSCRED_PUBLIC_URL         base URL advertised in version discovery (from Host)\n"
     "  OSCRED_TOKEN_TTL          token lifetime in seconds (86400)\n"
     "  OSCRED_DATABASE_TIMEOUT   seconds before a request waiting on the database gets 503 (2)\n"
     "  OSCRED_DATABASE_POOL_SIZE database connections (8)\n"
     "  OSCRED_DATABASE_PREPARED  on|off: named prepared statements (on; off for pgbouncer < "
     "1.21)\n"
     "  OSCRED_WORKER_THREADS     HTTP worker threads (the pool size)\n"
     "  OSCRED_PASSWORD_ITERATIONS PBKDF2 iterations for new password hashes (600000)\n"
     "  OSCRED_SHUTDOWN_GRACE     seconds in-flight requests get after SIGTERM (20)\n"
     "  OSCRED_LOG_LEVEL          debug|info|warn|error (info)\n"},
    {"migrate", cmd_migrate,
     "usage: oscred migrate\n\nApplies pending migrations in one transaction under an advisory "
     "lock.\n\n  OSCRED_DATABASE_URL  libpq connection string or URI (required)\n"},
    {"bootstrap", cmd_bootstrap,
     "usage: oscred bootstrap\n\nCreates a domain and a user holding admin and security_admin, "
     "unless they exist.\n\n"
     "  OSCRED_DATABASE_URL         libpq connection string or URI (required)\n"
     "  OSCRED_BOOTSTRAP_DOMAIN     domain name (default)\n"
     "  OSCRED_BOOTSTRAP_USER       user name (admin)\n"
     "  OSCRED_BOOTSTRAP_PASSWORD   the user's password (required)\n"
     "  OSCRED_PASSWORD_ITERATIONS  PBKDF2 iterations (600000)\n"},
    {"keygen", cmd_keygen,
     "usage: oscred keygen\n\nPrints a new key ring with one random key to stdout:\n"
     "  {\"primary\": \"<kid>\", \"keys\": {\"<kid>\": \"<base64 of 32 bytes>\"}}\n"},
    {"rotate-secrets", cmd_rotate_secrets,
     "usage: oscred rotate-secrets\n\nRe-encrypts every stored secret key under the primary key of "
     "the key ring,\nin batches, while the service runs. Safe to interrupt and run again.\n\n"
     "  OSCRED_DATABASE_URL  libpq connection string or URI (required)\n"
     "  OSCRED_KEYS_FILE     the key ring, holding the new primary and the old keys (required)\n"},
    {"version", cmd_version, "usage: oscred version\n"},
    {"healthcheck", cmd_healthcheck,
     "usage: oscred healthcheck\n\nExits 0 if GET /healthz on OSCRED_LISTEN answers 200.\n"},
};

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof(COMMANDS) / sizeof(COMMANDS[0]); i++) {
        if (strcmp(argv[1], COMMANDS[i].name) != 0)
            continue;
        if (argc == 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
            fputs(COMMANDS[i].help, stdout);
            return 0;
        }
        if (argc > 2) {
            fprintf(stderr, "oscred %s: unexpected argument '%s'\n", argv[1], argv[2]);
            return 2;
        }
        return COMMANDS[i].run();
    }
    fprintf(stderr, "oscred: unknown command '%s'\n\n%s", argv[1], USAGE);
    return 2;
}
