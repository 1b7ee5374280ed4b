/* The listening socket and the one thread that accepts on it, handing each connection to the
 * caller's choice of worker (server.c). */
#include "acceptor.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "oscred/log.h"

/* Pause after the process or the system ran out of descriptors or memory: accepting again at
 * once would spin on the same error while nothing has been freed. */
#define STARVED_PAUSE_US (100 * 1000)
/* Such failures can recur on every connection while they last: one line a second at most. */
#define FAILURE_LOG_INTERVAL_US 1000000

struct osc_acceptor {
    int fd;
    osc_hand_over_fn hand_over;
    void *hand_over_cls;
    struct osc_log_limit accept_failed_log, refused_log;
    pthread_t thread;
    int running;
};

osc_err osc_acceptor_open(const struct sockaddr_storage *addr, osc_acceptor **out, char *why,
                          size_t whylen)
{
    socklen_t len =
        addr->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    const int on = 1;
    char text[128];
    osc_acceptor *a = calloc(1, sizeof(*a));

    if (!a) {
        snprintf(why, whylen, "out of memory");
        return OSC_E_INTERNAL;
    }
    a->accept_failed_log.interval_us = FAILURE_LOG_INTERVAL_US;
    a->refused_log.interval_us = FAILURE_LOG_INTERVAL_US;
    a->fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (a->fd < 0)
        goto fail;
    /* As libmicrohttpd set them: a restart can bind while old connections sit in TIME_WAIT, and
     * an IPv6 address listens on IPv6 only. */
    if (setsockopt(a->fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0)
        goto fail;
    if (addr->ss_family == AF_INET6 &&
        setsockopt(a->fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) != 0)
        goto fail;
    if (bind(a->fd, (const struct sockaddr *)addr, len) != 0 || listen(a->fd, SOMAXCONN) != 0)
        goto fail;
    *out = a;
    return OSC_OK;
fail:
    snprintf(why, whylen, "%s", osc_errno_text(errno, text, sizeof(text)));
    if (a->fd >= 0)
        close(a->fd);
    free(a);
    return OSC_E_INTERNAL;
}

static int starved(int err)
{
    return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

/* A warning for a failure that may recur on every connection while it lasts (rate-limited). */
static void warn(struct osc_log_limit *limit, const char *event, const char *detail)
{
    char also[24];

    if (!osc_log_limit_due(limit, also, sizeof(also)))
        return;
    osc_log(OSC_LOG_WARN, event, "detail", detail, "suppressed", also[0] ? also : NULL,
            OSC_LOG_END);
}

static void *accept_loop(void *arg)
{
    osc_acceptor *a = arg;
    char text[128];

    for (;;) {
        struct sockaddr_storage peer;
        socklen_t len = sizeof(peer);
        int fd = accept4(a->fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            int err = errno;
            if (err == EINTR || err == ECONNABORTED || err == EAGAIN || err == EPROTO)
                continue;
            if (!starved(err))
                break; /* EINVAL: osc_acceptor_close shut the socket down */
            warn(&a->accept_failed_log, "http.accept_failed",
                 osc_errno_text(err, text, sizeof(text)));
            usleep(STARVED_PAUSE_US);
            continue;
        }
        if (a->hand_over(a->hand_over_cls, fd, (const struct sockaddr *)&peer, len) != 0)
            warn(&a->refused_log, "http.connection_refused",
                 "connection limit reached, or out of memory");
    }
    return NULL;
}

osc_err osc_acceptor_start(osc_acceptor *a, osc_hand_over_fn hand_over, void *cls)
{
    a->hand_over = hand_over;
    a->hand_over_cls = cls;
    if (pthread_create(&a->thread, NULL, accept_loop, a) != 0)
        return OSC_E_INTERNAL;
    a->running = 1;
    return OSC_OK;
}

void osc_acceptor_close(osc_acceptor *a)
{
    if (!a)
        return;
    /* shutdown() wakes the blocked accept4 (EINVAL) and makes new clients get a refusal at once;
     * left open, the kernel would keep completing handshakes nobody serves. */
    shutdown(a->fd, SHUT_RDWR);
    if (a->running)
        pthread_join(a->thread, NULL);
    close(a->fd);
    free(a);
}
