/* The HTTP server: ulfius on libmicrohttpd's epoll thread pool, one dispatcher for every route. */
#ifndef OSC_HTTP_H
#define OSC_HTTP_H

#include "oscred/err.h"
#include "oscred/service.h"

typedef struct osc_http osc_http;

/* Binds and starts serving app's routes with app->cfg's listen address and worker threads.
 * OSC_E_INTERNAL (logged) if the address cannot be bound. */
osc_err osc_http_start(struct osc_app *app, osc_http **out);
/* Stops accepting connections, lets requests finish until none has been open for a moment (at most
 * grace_s seconds), closes the connections and stops. */
void osc_http_stop(osc_http *h, int grace_s);
/* Marks the service as shutting down: /readyz answers 503 from now on, and every answer closes
 * its connection. */
void osc_http_set_draining(osc_http *h);

#endif
