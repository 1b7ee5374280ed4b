/* The HTTP ceiling for bench/run: ulfius on libmicrohttpd with the settings of src/http/server.c
 * (EPOLL, TURBO, ITC, the same timeouts and limits, one default endpoint), answering every request
 * with an empty 204, in libmicrohttpd's own thread pool of one worker per CPU. oscred's token
 * validation is compared with this: whatever oscred does beyond it (routing, token MAC, JSON) is
 * the difference. oscred places connections on its workers itself (server.c says why); for a
 * server that never waits that placement only costs, so this is the stricter ceiling.
 *
 *   baseline204 HOST PORT [THREADS]     serve until SIGINT/SIGTERM (THREADS: default = CPUs)
 *
 * Built by bench/run: cc -O2 bench/baseline204.c $(pkg-config --cflags --libs libulfius) */
#include <arpa/inet.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <ulfius.h>

/* Same values as src/http/server.c and src/http/http.h. */
#define CONNECTION_TIMEOUT_S 75
#define CONNECTION_LIMIT 4096
#define CONNECTION_MEMORY 24 * 1024
#define QUERY_BODY_MAX (512 * 1024)

static int answer_204(const struct _u_request *req, struct _u_response *resp, void *data)
{
    (void)req;
    (void)data;
    ulfius_set_empty_body_response(resp, 204);
    return U_CALLBACK_COMPLETE;
}

int main(int argc, char **argv)
{
    struct _u_instance inst;
    struct sockaddr_storage addr;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    sigset_t set;
    int sig = 0;
    long threads = sysconf(_SC_NPROCESSORS_ONLN);

    if (argc < 3) {
        fprintf(stderr, "usage: %s HOST PORT [THREADS]\n", argv[0]);
        return 2;
    }
    if (argc > 3)
        threads = strtol(argv[3], NULL, 10);
    if (threads < 1)
        threads = 1;
    if (getaddrinfo(argv[1], argv[2], &hints, &res) != 0 || !res) {
        fprintf(stderr, "baseline204: cannot resolve %s:%s\n", argv[1], argv[2]);
        return 1;
    }
    memset(&addr, 0, sizeof(addr));
    memcpy(&addr, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);

    /* Block the stop signals before MHD starts its threads, then wait for one here. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    if (ulfius_init_instance(&inst, (unsigned)atoi(argv[2]), NULL, NULL) != U_OK)
        return 1;
    inst.max_post_body_size = QUERY_BODY_MAX + 1;
    inst.max_post_param_size = 0;
    inst.check_utf8 = 0;
    inst.allowed_post_processor = U_POST_PROCESS_NONE;
    ulfius_set_default_endpoint(&inst, answer_204, NULL);

    struct MHD_OptionItem ops[] = {
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)mhd_request_completed, NULL},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)ulfius_uri_logger, NULL},
        {MHD_OPTION_SOCK_ADDR, 0, &addr},
        {MHD_OPTION_CONNECTION_TIMEOUT, CONNECTION_TIMEOUT_S, NULL},
        {MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)threads, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, CONNECTION_LIMIT, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONNECTION_MEMORY, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
                     MHD_USE_ITC | MHD_USE_TURBO;
    if (addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (ulfius_start_framework_with_mhd_options(&inst, flags, ops) != U_OK) {
        fprintf(stderr, "baseline204: cannot listen on %s:%s\n", argv[1], argv[2]);
        ulfius_clean_instance(&inst);
        return 1;
    }
    fprintf(stderr, "baseline204: listening on %s:%s with %ld worker threads\n", argv[1], argv[2],
            threads);
    sigwait(&set, &sig);
    ulfius_stop_framework(&inst);
    ulfius_clean_instance(&inst);
    return 0;
}
