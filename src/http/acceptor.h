/* Private to src/http: the listening socket and the thread that accepts its connections. */
#ifndef OSC_HTTP_ACCEPTOR_H
#define OSC_HTTP_ACCEPTOR_H

#include <stddef.h>
#include <sys/socket.h>

#include "oscred/err.h"

typedef struct osc_acceptor osc_acceptor;
/* Takes over fd, a connected non-blocking socket: returns 0 once it serves it, or -1 after
 * refusing it (fd closed). Called on the accepting thread, one connection at a time. */
typedef int (*osc_hand_over_fn)(void *cls, int fd, const struct sockaddr *addr, socklen_t len);

/* Binds and listens on addr. On failure why receives the system's reason (e.g. "Address already
 * in use"). The caller owns *out and frees it with osc_acceptor_close. */
osc_err osc_acceptor_open(const struct sockaddr_storage *addr, osc_acceptor **out, char *why,
                          size_t whylen);
/* Starts accepting, handing every connection to hand_over(cls, ...). */
osc_err osc_acceptor_start(osc_acceptor *a, osc_hand_over_fn hand_over, void *cls);
/* Stops accepting (new clients are refused from here on), waits for the thread, closes the
 * socket and frees a. Connections already handed over are left to hand_over's side. NULL is a
 * no-op. */
void osc_acceptor_close(osc_acceptor *a);

#endif
