/* The notification listener: one thread, one direct connection, LISTEN oscred. Dropped
 * connections are re-opened every second, and each new one starts with a resync, because
 * notifications sent while nobody listened are lost. A notification that could not be applied
 * (the read of what changed failed) is lost the same way, so it also makes a resync due; a resync
 * that fails is tried again a second later, until one succeeds. */
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oscred/ctx.h"
#include "oscred/log.h"
#include "oscred/store.h"

#define POLL_MS 250
#define HEARTBEAT_POLLS 20   /* a silent peer is checked every 5 s: a dead network shows no EOF */
#define RESYNC_RETRY_POLLS 4 /* a failed resync is tried again after about a second */
/* How long LISTEN and the heartbeat may take. A blocking PQexec has no bound: a backend that
 * stopped answering (frozen, or behind a network that drops packets) would hold the listener for as
 * long as TCP keeps the connection, and this replica would miss every change meanwhile. */
#define QUERY_MS 3000

struct osc_listener {
    char *conninfo;
    struct osc_listener_ops ops;
    void *arg;
    pthread_t thread;
    _Atomic int stop;
};

/* Runs sql and waits at most QUERY_MS for it to succeed. Notifications that arrive meanwhile stay
 * queued for PQnotifies. */
static int exec_within(PGconn *c, const char *sql)
{
    int64_t deadline = osc_mono_us() + (int64_t)QUERY_MS * 1000;
    PGresult *r;
    int ok = 1;

    if (!PQsendQuery(c, sql))
        return 0;
    /* Each PQgetResult may wait for more input (the next result, or the end of the command), so
     * every one is preceded by a bounded wait until it would not block. */
    do {
        while (ok && PQisBusy(c)) {
            int64_t left_ms = (deadline - osc_mono_us()) / 1000;
            struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};

            ok = left_ms > 0 && poll(&pfd, 1, (int)left_ms) > 0 && PQconsumeInput(c);
        }
        r = ok ? PQgetResult(c) : NULL;
        if (r) {
            ExecStatusType st = PQresultStatus(r);
            ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
            PQclear(r);
        }
    } while (r);
    return ok;
}

static PGconn *open_listening(struct osc_listener *l)
{
    const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {l->conninfo, "3", "oscred-listener", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);

    if (PQstatus(c) == CONNECTION_OK && exec_within(c, "LISTEN oscred"))
        return c;
    osc_log(OSC_LOG_WARN, "db.listen_failed", "detail",
            PQerrorMessage(c)[0] ? PQerrorMessage(c) : "LISTEN got no answer in time", OSC_LOG_END);
    PQfinish(c);
    return NULL;
}

static void *run(void *arg)
{
    struct osc_listener *l = arg;
    PGconn *c = NULL;
    int quiet_polls = 0;
    int resync_due = 0, resync_wait = 0;

    while (!atomic_load(&l->stop)) {
        if (!c) {
            c = open_listening(l);
            if (!c) {
                for (int i = 0; i < 4 && !atomic_load(&l->stop); i++)
                    usleep(POLL_MS * 1000);
                continue;
            }
            osc_log(OSC_LOG_INFO, "db.listening", OSC_LOG_END);
            resync_due = 1;
            resync_wait = 0;
        }
        if (resync_due && --resync_wait < 0) {
            resync_due = l->ops.resync(l->arg) != 0;
            resync_wait = RESYNC_RETRY_POLLS;
        }
        struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};
        int ready = poll(&pfd, 1, POLL_MS);
        if (ready > 0) {
            quiet_polls = 0;
            if (!PQconsumeInput(c)) {
                PQfinish(c);
                c = NULL;
                continue;
            }
        } else if (++quiet_polls >= HEARTBEAT_POLLS) {
            quiet_polls = 0;
            if (!exec_within(c, "SELECT 1")) {
                osc_log(OSC_LOG_WARN, "db.listen_lost", "detail",
                        PQerrorMessage(c)[0] ? PQerrorMessage(c) : "no answer to the heartbeat",
                        OSC_LOG_END);
                PQfinish(c);
                c = NULL;
                continue;
            }
        }
        for (PGnotify *n = PQnotifies(c); n; n = PQnotifies(c)) {
            if (l->ops.notify(n->extra, l->arg))
                resync_due = 1;
            PQfreemem(n);
        }
    }
    PQfinish(c);
    return NULL;
}

osc_err osc_store_listen_start(const char *conninfo, const struct osc_listener_ops *ops, void *arg,
                               osc_listener **out)
{
    osc_err err = OSC_OK;
    struct osc_listener *l = calloc(1, sizeof(*l));

    if (!l) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    l->conninfo = strdup(conninfo);
    l->ops = *ops;
    l->arg = arg;
    if (!l->conninfo || pthread_create(&l->thread, NULL, run, l) != 0) {
        err = OSC_E_INTERNAL;
        goto out;
    }
out:
    if (err) {
        if (l)
            free(l->conninfo);
        free(l);
    } else {
        *out = l;
    }
    return err;
}

void osc_store_listen_stop(osc_listener *l)
{
    if (!l)
        return;
    atomic_store(&l->stop, 1);
    pthread_join(l->thread, NULL);
    free(l->conninfo);
    free(l);
}
