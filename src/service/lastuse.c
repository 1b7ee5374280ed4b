/* Coalesced last use of access keys: signed requests record into memory, and a flusher thread
 * writes everything recorded since its last run in one statement, so a key used a thousand times
 * a second costs one write a second, not a thousand. Pending uses are flushed at shutdown. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oscred/log.h"
#include "oscred/service.h"

#define FLUSH_INTERVAL_MS 1000
/* Distinct keys between two flushes. A replica serves some 10,000 signed requests a second, so
 * this is not reached in practice; if it is, the use that fills the table wakes the flusher, and
 * uses of further keys until it has taken the batch are not recorded (signing never waits for
 * the database). Only that one use wakes it: a flush that fails puts its batch back and fills the
 * table again, and must then wait its second, not be woken by every request. */
#define MAX_PENDING 65536
#define FLUSH_CHUNK 2048 /* keys per statement: tens of milliseconds with the primary key index */
#define INDEX_SIZE ((size_t)2 * MAX_PENDING) /* open addressing, load factor <= 1/2 */

struct osc_lastuse {
    osc_store *store;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct osc_last_use *pending;
    size_t n;
    uint32_t *index; /* access key hash -> pending slot + 1; 0 = empty */
    int stop;
    pthread_t thread;
};

static size_t slot_of(const char *access_key)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a; access key ids are random */
    while (*access_key)
        h = (h ^ (unsigned char)*access_key++) * 1099511628211ULL;
    return (size_t)h & (INDEX_SIZE - 1);
}

void osc_lastuse_record(osc_lastuse *lu, const char *access_key, int64_t at_us, const char *service,
                        const char *region)
{
    size_t h = slot_of(access_key), i;

    pthread_mutex_lock(&lu->mu);
    while (lu->index[h] && strcmp(lu->pending[lu->index[h] - 1].access_key, access_key) != 0)
        h = (h + 1) & (INDEX_SIZE - 1);
    if (lu->index[h]) {
        i = lu->index[h] - 1;
    } else if (lu->n < MAX_PENDING) {
        i = lu->n++;
        lu->index[h] = (uint32_t)(i + 1);
        lu->pending[i].at_us = 0;
        if (lu->n == MAX_PENDING)
            pthread_cond_signal(&lu->cv);
    } else {
        i = MAX_PENDING;
    }
    if (i < MAX_PENDING && lu->pending[i].at_us <= at_us) {
        struct osc_last_use *u = &lu->pending[i];
        snprintf(u->access_key, sizeof(u->access_key), "%s", access_key);
        u->at_us = at_us;
        snprintf(u->service, sizeof(u->service), "%s", service);
        snprintf(u->region, sizeof(u->region), "%s", region);
    }
    pthread_mutex_unlock(&lu->mu);
}

/* Takes the pending uses out under the lock and writes them without it. On failure they go back,
 * unless newer uses of the same keys arrived meanwhile. */
static void flush(osc_lastuse *lu)
{
    struct osc_last_use *batch;
    size_t n;

    pthread_mutex_lock(&lu->mu);
    n = lu->n;
    batch = n ? malloc(n * sizeof(*batch)) : NULL;
    if (batch) {
        memcpy(batch, lu->pending, n * sizeof(*batch));
        lu->n = 0;
        memset(lu->index, 0, INDEX_SIZE * sizeof(*lu->index));
    }
    pthread_mutex_unlock(&lu->mu);
    if (!batch)
        return;
    /* In bounded statements, so that a burst of distinct keys never becomes one write too long
     * for its deadline (whose failure would put it back, larger, for the next flush). */
    for (size_t done = 0; done < n; done += FLUSH_CHUNK) {
        size_t m = n - done < FLUSH_CHUNK ? n - done : FLUSH_CHUNK;
        osc_err err = osc_store_record_last_use(lu->store, batch + done, m);
        if (!err)
            continue;
        osc_log(OSC_LOG_WARN, "lastuse.flush_failed", "error", osc_err_name(err), OSC_LOG_END);
        for (size_t i = done; i < n; i++)
            osc_lastuse_record(lu, batch[i].access_key, batch[i].at_us, batch[i].service,
                               batch[i].region);
        break;
    }
    free(batch);
}

static void *run(void *arg)
{
    osc_lastuse *lu = arg;

    pthread_mutex_lock(&lu->mu);
    while (!lu->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts); /* the condition variable's clock: steps of the
                                                wall clock do not stretch the interval */
        ts.tv_sec += FLUSH_INTERVAL_MS / 1000;
        pthread_cond_timedwait(&lu->cv, &lu->mu, &ts);
        pthread_mutex_unlock(&lu->mu);
        flush(lu);
        pthread_mutex_lock(&lu->mu);
    }
    pthread_mutex_unlock(&lu->mu);
    flush(lu);
    return NULL;
}

osc_err osc_lastuse_create(osc_store *st, osc_lastuse **out)
{
    osc_err err = OSC_OK;
    osc_lastuse *lu = calloc(1, sizeof(*lu));

    if (!lu) {
        err = OSC_E_INTERNAL;
        goto out;
    }
    lu->store = st;
    lu->pending = calloc(MAX_PENDING, sizeof(*lu->pending));
    lu->index = calloc(INDEX_SIZE, sizeof(*lu->index));
    pthread_mutex_init(&lu->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&lu->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (!lu->pending || !lu->index || pthread_create(&lu->thread, NULL, run, lu) != 0) {
        err = OSC_E_INTERNAL;
        goto out;
    }
out:
    if (err && lu) {
        free(lu->pending);
        free(lu->index);
        free(lu);
    } else if (!err) {
        *out = lu;
    }
    return err;
}

void osc_lastuse_destroy(osc_lastuse *lu)
{
    if (!lu)
        return;
    pthread_mutex_lock(&lu->mu);
    lu->stop = 1;
    pthread_cond_signal(&lu->cv);
    pthread_mutex_unlock(&lu->mu);
    pthread_join(lu->thread, NULL);
    pthread_cond_destroy(&lu->cv);
    pthread_mutex_destroy(&lu->mu);
    free(lu->pending);
    free(lu->index);
    free(lu);
}
