/* ulfius wiring. Not ulfius_start_framework: it runs a thread per connection with no idle timeout
 * and caps out near 1,000 connections. We run libmicrohttpd's epoll thread pool with explicit
 * timeouts and limits, and one default endpoint: routing is ours (router.c). */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <string.h>
#include <unistd.h>

#include "http.h"
#include "oscred/http.h"
#include "oscred/log.h"

#define CONNECTION_TIMEOUT_S 75 /* longer than common load balancer keep-alive idle timeouts */
#define CONNECTION_LIMIT 4096
/* MHD keeps request headers in the connection's memory pool: bounding the pool bounds them
 * (16 KiB of headers plus MHD's bookkeeping); larger header blocks get 431 from MHD. */
#define CONNECTION_MEMORY ((intptr_t)24 * 1024) /* an MHD_OptionItem value is an intptr_t */

struct osc_http {
    struct _u_instance inst;
    struct sockaddr_storage addr;
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

osc_err osc_http_start(struct osc_app *app, osc_http **out)
{
    osc_err err = OSC_OK;
    osc_http *h = calloc(1, sizeof(*h));
    int inited = 0;

    if (!h) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    err = resolve(app->cfg->listen_host, app->cfg->listen_port, &h->addr);
    if (err) {
        osc_log(OSC_LOG_ERROR, "http.bad_listen_address", "host", app->cfg->listen_host, OSC_LOG_END);
        goto out;
    }
    if (ulfius_init_instance(&h->inst, (unsigned)app->cfg->listen_port, NULL, NULL) != U_OK) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    inited = 1;
    /* One byte over the largest body we accept: ulfius truncates silently at its limit, so a
     * body of limit+1 bytes tells the handler it was too large. */
    h->inst.max_post_body_size = OSC_QUERY_BODY_MAX + 1;
    h->inst.max_post_param_size = 0;
    h->inst.check_utf8 = 0;
    h->inst.allowed_post_processor = U_POST_PROCESS_NONE;
    ulfius_set_default_endpoint(&h->inst, osc_router_callback, app);

    struct MHD_OptionItem ops[] = {
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)mhd_request_completed, NULL},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)ulfius_uri_logger, NULL},
        {MHD_OPTION_SOCK_ADDR, 0, &h->addr},
        {MHD_OPTION_CONNECTION_TIMEOUT, CONNECTION_TIMEOUT_S, NULL},
        {MHD_OPTION_THREAD_POOL_SIZE, app->cfg->worker_threads, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, CONNECTION_LIMIT, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONNECTION_MEMORY, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
                     MHD_USE_ITC | MHD_USE_TURBO;
    if (h->addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (ulfius_start_framework_with_mhd_options(&h->inst, flags, ops) != U_OK) {
        osc_log(OSC_LOG_ERROR, "http.start_failed", "detail",
                "cannot listen on the configured address (in use, or not local?)", OSC_LOG_END);
        err = OSC_E_INTERNAL;
        goto out;
    }
out:
    if (err) {
        if (inited)
            ulfius_clean_instance(&h->inst);
        free(h);
    } else {
        *out = h;
    }
    return err;
}

void osc_http_set_draining(osc_http *h)
{
    (void)h;
    osc_h_set_draining();
}

void osc_http_stop(osc_http *h, int grace_s)
{
    if (!h)
        return;
    /* Stop accepting, then let requests in flight finish (idle keep-alive connections are not
     * waited for: MHD_stop_daemon closes them). A request whose body is still arriving is not
     * counted yet; a short settle covers the one that just completed its upload. */
    MHD_socket listener = MHD_quiesce_daemon(h->inst.mhd_daemon);
    /* MHD hands the listening socket back: left alone, the kernel keeps completing handshakes
     * nobody will serve. shutdown() makes new clients get a refusal at once; the descriptor is
     * closed only after MHD_stop_daemon, as MHD's threads may still hold it. */
    if (listener != MHD_INVALID_SOCKET)
        shutdown(listener, SHUT_RDWR);
    usleep(100 * 1000);
    for (int waited_ms = 0; waited_ms < grace_s * 1000 && osc_router_in_flight() > 0;
         waited_ms += 20)
        usleep(20 * 1000);
    ulfius_stop_framework(&h->inst);
    if (listener != MHD_INVALID_SOCKET)
        close(listener);
    ulfius_clean_instance(&h->inst);
    free(h);
}
