/* Private to src/store: cancels the statements the pool abandons at their deadline, off the
 * request path. */
#ifndef OSC_STORE_CANCELLER_H
#define OSC_STORE_CANCELLER_H

#include <libpq-fe.h>

#include "oscred/err.h"

struct canceller;

/* Starts the thread that sends the cancel requests; at most capacity connections wait for it. */
osc_err canceller_create(int capacity, struct canceller **out);
/* Takes conn, whose statement is still running on the server: asks the server to cancel it (a
 * cancel request on a new connection, which can block as long as the server does not answer, so
 * the thread does it, not the caller), then closes conn. When capacity connections already wait,
 * conn is closed without a cancel. */
void canceller_submit(struct canceller *k, PGconn *conn);
/* Lets the thread finish the connections already submitted and end; does not wait for it (a
 * server that does not answer would hold the caller). NULL is a no-op. */
void canceller_destroy(struct canceller *k);

#endif
