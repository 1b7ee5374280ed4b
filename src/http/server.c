/* ulfius wiring. Not ulfius_start_framework: it runs a thread per connection with no idle timeout
 * and caps out near 1,000 connections. The workers are libmicrohttpd epoll daemons of one thread
 * each, with explicit timeouts and limits and one default endpoint: routing is ours (router.c).
 *
 * The listening socket is ours too (acceptor.c), and so is the choice of the worker that serves a
 * new connection. A connection stays with its worker for life, and a worker serves its
 * connections one request at a time, waiting on the database inside the handler. Under
 * libmicrohttpd's own thread pool, whichever worker woke first took a new connection: under 64
 * keep-alive clients one worker was seen holding 15 connections while three held none, and the
 * crowded worker's clients waited many times longer than the rest. Here a new connection goes to
 * a worker with the fewest connections, preferring one that is not serving a request at that
 * moment (a probe's fresh connection is not queued behind a statement). */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "acceptor.h"
#include "http.h"
#include "oscred/http.h"
#include "oscred/log.h"

#define CONNECTION_TIMEOUT_S 75 /* longer than common load balancer keep-alive idle timeouts */
#define CONNECTION_LIMIT 4096   /* over all workers; the acceptor refuses beyond it */
/* MHD keeps the request line and headers in the connection's memory pool, with a record per
 * header line, and builds the answer's header there after the handler ran. The router refuses
 * requests beyond OSC_HEADERS_MAX and OSC_HEADER_FIELDS_MAX before any handler runs; 24 KiB holds
 * the largest request it lets through with room for the answer (a sweep of heads up to both
 * limits, with bodies up to 64 KiB, was answered every time). A larger pool costs every request:
 * 64 KiB took token validation from about 16.5 to 18.5 us of CPU. What does not fit the pool at
 * all gets MHD's own 414 or 431. */
#define CONNECTION_MEMORY ((intptr_t)24 * 1024) /* an MHD_OptionItem value is an intptr_t */

struct worker {
    /* Requests between their request line and their completion: 0 or 1 as a rule, since a
     * worker runs one handler at a time. Written twice per request by this worker alone, so it
     * starts a cache line that holds nothing of another worker's (the array is aligned). */
    _Alignas(64) atomic_int requests;
    atomic_ulong answered; /* requests completed, for shutdown's quiet spell; same writer */
    int inited;
    struct _u_instance inst;
    int started;
    /* Counted up by the acceptor when it hands a connection over (the worker thread learns of it
     * later), down by MHD's close notification on the worker thread. */
    atomic_int connections;
};

struct osc_http {
    struct osc_app *app;
    struct worker *workers;
    int nworkers;
    unsigned next; /* where the search for the least loaded worker starts (acceptor thread) */
    osc_acceptor *acceptor;
};

static osc_err resolve(const char *host, int port, struct sockaddr_storage *out)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char portstr[8];

    snprintf(portstr, sizeof(portstr), "%d", port);
    if (getaddrinfo(host, portstr, &hints, &res) != 0 || !res)
        return OSC_E_INVALID;
    memset(out, 0, sizeof(*out));
    memcpy(out, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return OSC_OK;
}

/* ulfius requires its own URI logger and completion callback among the options; these wrap them
 * to count the worker's requests. */
static void *request_started(void *cls, const char *uri, struct MHD_Connection *connection)
{
    struct worker *w = cls;

    (void)connection;
    atomic_fetch_add_explicit(&w->requests, 1, memory_order_relaxed);
    return ulfius_uri_logger(NULL, uri);
}

static void request_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                              enum MHD_RequestTerminationCode toe)
{
    struct worker *w = cls;

    mhd_request_completed(NULL, connection, con_cls, toe);
    atomic_fetch_add_explicit(&w->answered, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&w->requests, 1, memory_order_relaxed);
}

static void connection_notified(void *cls, struct MHD_Connection *connection, void **socket_context,
                                enum MHD_ConnectionNotificationCode code)
{
    struct worker *w = cls;

    (void)connection;
    (void)socket_context;
    if (code == MHD_CONNECTION_NOTIFY_CLOSED)
        atomic_fetch_sub_explicit(&w->connections, 1, memory_order_relaxed);
}

/* The fewest connections first, then not serving a request; ties go round the workers. NULL when
 * all workers together hold CONNECTION_LIMIT connections. */
static struct worker *least_loaded(osc_http *h)
{
    struct worker *best = NULL;
    int best_conns = 0, best_busy = 0, total = 0;
    unsigned start = h->next++;

    for (int i = 0; i < h->nworkers; i++) {
        struct worker *w = &h->workers[(start + (unsigned)i) % (unsigned)h->nworkers];
        int conns = atomic_load_explicit(&w->connections, memory_order_relaxed);
        int busy = atomic_load_explicit(&w->requests, memory_order_relaxed) > 0;

        total += conns;
        if (!best || conns < best_conns || (conns == best_conns && busy < best_busy)) {
            best = w;
            best_conns = conns;
            best_busy = busy;
        }
    }
    return total < CONNECTION_LIMIT ? best : NULL;
}

static int hand_over(void *cls, int fd, const struct sockaddr *addr, socklen_t len)
{
    struct worker *w = least_loaded(cls);

    if (!w) {
        close(fd);
        return -1;
    }
    atomic_fetch_add_explicit(&w->connections, 1, memory_order_relaxed);
    /* MHD closes fd when it refuses it. Should the worker thread fail to set the connection up
     * (out of memory) it closes it without a notification, and the count stays one too high:
     * that worker is only chosen a little less. */
    if (MHD_add_connection(w->inst.mhd_daemon, fd, addr, len) != MHD_YES) {
        atomic_fetch_sub_explicit(&w->connections, 1, memory_order_relaxed);
        return -1;
    }
    return 0;
}

static osc_err start_worker(struct osc_app *app, struct worker *w)
{
    if (ulfius_init_instance(&w->inst, (unsigned)app->cfg->listen_port, NULL, NULL) != U_OK)
        return OSC_E_INTERNAL;
    w->inited = 1;
    /* One byte over the largest body we accept: ulfius truncates silently at its limit, so a
     * body of limit+1 bytes tells the handler it was too large. */
    w->inst.max_post_body_size = OSC_QUERY_BODY_MAX + 1;
    w->inst.max_post_param_size = 0;
    w->inst.check_utf8 = 0;
    w->inst.allowed_post_processor = U_POST_PROCESS_NONE;
    ulfius_set_default_endpoint(&w->inst, osc_router_callback, app);

    struct MHD_OptionItem ops[] = {
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)request_completed, w},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)request_started, w},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)connection_notified, w},
        {MHD_OPTION_CONNECTION_TIMEOUT, CONNECTION_TIMEOUT_S, NULL},
        /* The limit is the acceptor's, over all workers; one worker never refuses first. */
        {MHD_OPTION_CONNECTION_LIMIT, CONNECTION_LIMIT, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONNECTION_MEMORY, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    /* MHD_USE_ITC: the worker learns of a connection handed to it through its wake-up channel. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
                     MHD_USE_ITC | MHD_USE_TURBO | MHD_USE_NO_LISTEN_SOCKET;
    if (ulfius_start_framework_with_mhd_options(&w->inst, flags, ops) != U_OK)
        return OSC_E_INTERNAL;
    w->started = 1;
    return OSC_OK;
}

static void free_http(osc_http *h)
{
    osc_acceptor_close(h->acceptor);
    for (int i = 0; h->workers && i < h->nworkers; i++) {
        if (h->workers[i].started)
            ulfius_stop_framework(&h->workers[i].inst);
        if (h->workers[i].inited)
            ulfius_clean_instance(&h->workers[i].inst);
    }
    free(h->workers);
    free(h);
}

osc_err osc_http_start(struct osc_app *app, osc_http **out)
{
    osc_err err = OSC_E_INTERNAL;
    osc_http *h = calloc(1, sizeof(*h));
    struct sockaddr_storage addr;
    char why[128];

    if (!h)
        return OSC_E_INTERNAL;
    h->app = app;
    h->nworkers = app->cfg->worker_threads;
    /* aligned: each worker's request counter starts a cache line */
    h->workers = aligned_alloc(_Alignof(struct worker), (size_t)h->nworkers * sizeof(*h->workers));
    if (!h->workers)
        goto out;
    memset(h->workers, 0, (size_t)h->nworkers * sizeof(*h->workers));
    err = resolve(app->cfg->listen_host, app->cfg->listen_port, &addr);
    if (err) {
        osc_log(OSC_LOG_ERROR, "http.bad_listen_address", "host", app->cfg->listen_host,
                OSC_LOG_END);
        goto out;
    }
    err = osc_acceptor_open(&addr, &h->acceptor, why, sizeof(why));
    if (err) {
        osc_log(OSC_LOG_ERROR, "http.start_failed", "detail",
                "cannot listen on the configured address", "reason", why, OSC_LOG_END);
        goto out;
    }
    for (int i = 0; i < h->nworkers && !err; i++)
        err = start_worker(app, &h->workers[i]);
    if (err) {
        osc_log(OSC_LOG_ERROR, "http.start_failed", "detail", "cannot start the HTTP workers",
                OSC_LOG_END);
        goto out;
    }
    err = osc_acceptor_start(h->acceptor, hand_over, h);
    if (err)
        osc_log(OSC_LOG_ERROR, "http.start_failed", "detail", "cannot start the accepting thread",
                OSC_LOG_END);
out:
    if (err)
        free_http(h);
    else
        *out = h;
    return err;
}

void osc_http_set_draining(osc_http *h)
{
    atomic_store(&h->app->draining, 1);
}

/* How long no request may have started before the connections are closed. */
#define QUIET_MS 300

/* Requests past their request line and not yet answered on all workers (a body being uploaded
 * included, which the router does not see yet), and requests answered since the start. */
static int requests_open(const osc_http *h, unsigned long *answered)
{
    int n = 0;

    *answered = 0;
    for (int i = 0; i < h->nworkers; i++) {
        n += atomic_load_explicit(&h->workers[i].requests, memory_order_relaxed);
        *answered += atomic_load_explicit(&h->workers[i].answered, memory_order_relaxed);
    }
    return n;
}

void osc_http_stop(osc_http *h, int grace_s)
{
    unsigned long seen;
    int quiet_ms = 0;

    if (!h)
        return;
    /* Stop accepting, then let requests in flight finish. Every answer now closes its connection
     * (router), so a keep-alive client still sending gets its answer and goes elsewhere; the
     * connections are closed once none is handling a request and none has started one for a
     * while, so idle keep-alive connections do not hold shutdown for the grace period, and a
     * request sent just before the last answer is not cut off. */
    osc_acceptor_close(h->acceptor);
    h->acceptor = NULL;
    (void)requests_open(h, &seen);
    for (int waited_ms = 0; waited_ms < grace_s * 1000 && quiet_ms < QUIET_MS; waited_ms += 20) {
        unsigned long now;

        usleep(20 * 1000);
        quiet_ms = requests_open(h, &now) == 0 && now == seen ? quiet_ms + 20 : 0;
        seen = now;
    }
    free_http(h);
}
