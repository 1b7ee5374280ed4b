/* Cancels statements abandoned at their deadline. Closing the connection alone does not stop a
 * statement: the backend runs it to the end (a write stuck on a row lock commits once the lock
 * goes) and notices the missing client only when it answers, so a request already answered 503
 * would still take effect. libpq 15's PQcancel blocks until the server has read the request,
 * hence one thread for it, detached so that a server that does not answer never holds a worker
 * or the shutdown. */
#include "canceller.h"

#include <pthread.h>
#include <stdlib.h>

#include "oscred/log.h"

struct canceller {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    PGconn **queue; /* ring of connections to cancel and close, oldest at head */
    int capacity, head, count;
    int stopping;
    int refs; /* the owner and the thread: the last one to let go frees */
};

static void unref(struct canceller *k)
{
    pthread_mutex_lock(&k->mu);
    int last = --k->refs == 0;
    pthread_mutex_unlock(&k->mu);
    if (!last)
        return;
    pthread_cond_destroy(&k->cv);
    pthread_mutex_destroy(&k->mu);
    free(k->queue);
    free(k);
}

static void cancel_and_close(PGconn *conn)
{
    char detail[256] = "";
    PGcancel *cancel = PQgetCancel(conn);

    if (!cancel || !PQcancel(cancel, detail, (int)sizeof(detail)))
        osc_log(OSC_LOG_WARN, "db.cancel_failed", "detail", detail, OSC_LOG_END);
    PQfreeCancel(cancel);
    PQfinish(conn);
}

static void *run(void *arg)
{
    struct canceller *k = arg;

    pthread_mutex_lock(&k->mu);
    for (;;) {
        while (!k->count && !k->stopping)
            pthread_cond_wait(&k->cv, &k->mu);
        if (!k->count)
            break;
        PGconn *conn = k->queue[k->head];
        k->head = (k->head + 1) % k->capacity;
        k->count--;
        pthread_mutex_unlock(&k->mu);
        cancel_and_close(conn);
        pthread_mutex_lock(&k->mu);
    }
    pthread_mutex_unlock(&k->mu);
    unref(k);
    return NULL;
}

osc_err canceller_create(int capacity, struct canceller **out)
{
    osc_err err = OSC_E_INTERNAL;
    pthread_t thread;
    struct canceller *k = calloc(1, sizeof(*k));

    if (!k || capacity < 1)
        goto out;
    k->queue = calloc((size_t)capacity, sizeof(PGconn *));
    if (!k->queue)
        goto out;
    k->capacity = capacity;
    k->refs = 2;
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->cv, NULL);
    if (pthread_create(&thread, NULL, run, k) != 0) {
        pthread_cond_destroy(&k->cv);
        pthread_mutex_destroy(&k->mu);
        goto out;
    }
    pthread_detach(thread);
    err = OSC_OK;
out:
    if (err) {
        if (k)
            free(k->queue);
        free(k);
    } else {
        *out = k;
    }
    return err;
}

void canceller_submit(struct canceller *k, PGconn *conn)
{
    int queued = 0;

    pthread_mutex_lock(&k->mu);
    if (k->count < k->capacity && !k->stopping) {
        k->queue[(k->head + k->count) % k->capacity] = conn;
        k->count++;
        queued = 1;
        pthread_cond_signal(&k->cv);
    }
    pthread_mutex_unlock(&k->mu);
    if (!queued) {
        osc_log(OSC_LOG_WARN, "db.cancel_skipped", "detail",
                "earlier cancel requests are still waiting for the server", OSC_LOG_END);
        PQfinish(conn);
    }
}

void canceller_destroy(struct canceller *k)
{
    if (!k)
        return;
    pthread_mutex_lock(&k->mu);
    k->stopping = 1;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
    unref(k);
}
