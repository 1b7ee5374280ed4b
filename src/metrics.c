/* In-memory metrics. Series are created on first use in a small fixed table under a mutex and
 * updated with atomics afterwards; the set of label values is bounded by the route table. */
#include "oscred/metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oscred_build.h"

#define MAX_SERIES 512
#define MAX_REASONS 32

static const double BUCKETS[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                 0.05,   0.1,   0.25,   0.5,   1,    2.5};
#define NBUCKETS (sizeof(BUCKETS) / sizeof(BUCKETS[0]))

struct series {
    const char *surface;
    const char *route;
    const char *method; /* one of METHODS */
    int status;
    _Atomic uint64_t count;
    _Atomic uint64_t buckets[NBUCKETS]; /* cumulative counts are computed when rendering */
    _Atomic uint64_t sum_us;
};

struct reason {
    const char *name;
    _Atomic uint64_t count;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct series table[MAX_SERIES];
static _Atomic size_t nseries;
static struct reason reasons[MAX_REASONS];
static _Atomic uint64_t db_unavailable, db_failed, db_cancelled;

void osc_metrics_db_error(int unavailable)
{
    atomic_fetch_add(unavailable ? &db_unavailable : &db_failed, 1);
}

void osc_metrics_db_cancel(void)
{
    atomic_fetch_add(&db_cancelled, 1);
}
static _Atomic size_t nreasons;

/* The method's label: the methods HTTP defines, and OTHER for whatever verb a client makes up,
 * so clients cannot grow the table. */
static const char *const METHODS[] = {"GET",    "HEAD",    "POST",  "PUT",    "PATCH",
                                      "DELETE", "OPTIONS", "TRACE", "CONNECT"};

static const char OTHER_METHOD[] = "OTHER";

static const char *method_label(const char *method)
{
    for (size_t i = 0; i < sizeof(METHODS) / sizeof(METHODS[0]); i++) {
        if (strcmp(method, METHODS[i]) == 0)
            return METHODS[i];
    }
    return OTHER_METHOD;
}

/* Labels are static strings, compared by address. */
static int is_series(const struct series *s, const char *surface, const char *route,
                     const char *method, int status)
{
    return s->route == route && s->status == status && s->method == method && s->surface == surface;
}

static struct series *series_for(const char *surface, const char *route, const char *method,
                                 int status)
{
    size_t n = atomic_load(&nseries);
    struct series *s = NULL;

    method = method_label(method);
    for (size_t i = 0; i < n; i++) {
        if (is_series(&table[i], surface, route, method, status))
            return &table[i];
    }
    pthread_mutex_lock(&mu);
    n = atomic_load(&nseries);
    for (size_t i = 0; i < n && !s; i++) {
        if (is_series(&table[i], surface, route, method, status))
            s = &table[i];
    }
    if (!s && n < MAX_SERIES) {
        s = &table[n];
        s->surface = surface;
        s->route = route;
        s->method = method;
        s->status = status;
        atomic_store(&nseries, n + 1);
    }
    pthread_mutex_unlock(&mu);
    return s;
}

void osc_metrics_request(const char *surface, const char *route, const char *method, int status,
                         int64_t duration_us)
{
    struct series *s = series_for(surface, route, method, status);

    if (!s)
        return;
    atomic_fetch_add(&s->count, 1);
    atomic_fetch_add(&s->sum_us, (uint64_t)(duration_us > 0 ? duration_us : 0));
    for (size_t b = 0; b < NBUCKETS; b++) {
        if ((double)duration_us / 1e6 <= BUCKETS[b]) {
            atomic_fetch_add(&s->buckets[b], 1);
            break;
        }
    }
}

void osc_metrics_auth_failure(const char *reason)
{
    size_t n = atomic_load(&nreasons);

    for (size_t i = 0; i < n; i++) {
        if (reasons[i].name == reason) {
            atomic_fetch_add(&reasons[i].count, 1);
            return;
        }
    }
    pthread_mutex_lock(&mu);
    n = atomic_load(&nreasons);
    size_t i = 0;
    while (i < n && reasons[i].name != reason)
        i++;
    if (i == n && n < MAX_REASONS) {
        reasons[n].name = reason;
        atomic_store(&nreasons, n + 1);
    }
    if (i < MAX_REASONS)
        atomic_fetch_add(&reasons[i].count, 1);
    pthread_mutex_unlock(&mu);
}

struct buf {
    char *p;
    size_t len, cap;
    int failed;
};

static void put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->failed)
        return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len)
            break;
        char *p = realloc(b->p, b->cap * 2 + (size_t)n);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->p = p;
        b->cap = b->cap * 2 + (size_t)n;
    }
    b->len += (size_t)n;
}

int osc_metrics_render(int pool_in_use, int pool_idle, int pool_waiting, char **out, size_t *len)
{
    struct buf b = {malloc(16384), 0, 16384, 0};
    size_t n = atomic_load(&nseries), nr = atomic_load(&nreasons);

    if (!b.p)
        return -1;
    b.p[0] = '\0';
    put(&b, "# HELP oscred_build_info Build information.\n# TYPE oscred_build_info gauge\n");
    put(&b, "oscred_build_info{version=\"%s\",commit=\"%s\"} 1\n", OSC_VERSION, OSC_COMMIT);
    put(&b, "# HELP http_requests_total HTTP requests by surface, route template, method and "
            "status.\n# TYPE http_requests_total counter\n");
    for (size_t i = 0; i < n; i++)
        put(&b, "http_requests_total{surface=\"%s\",route=\"%s\",method=\"%s\",code=\"%d\"} %llu\n",
            table[i].surface, table[i].route, table[i].method, table[i].status,
            (unsigned long long)atomic_load(&table[i].count));
    put(&b, "# HELP http_request_duration_seconds Time to answer a request.\n"
            "# TYPE http_request_duration_seconds histogram\n");
    for (size_t i = 0; i < n; i++) {
        uint64_t cum = 0;
        for (size_t k = 0; k < NBUCKETS; k++) {
            cum += atomic_load(&table[i].buckets[k]);
            put(&b,
                "http_request_duration_seconds_bucket{surface=\"%s\",route=\"%s\",method=\"%s\","
                "code=\"%d\",le=\"%g\"} %llu\n",
                table[i].surface, table[i].route, table[i].method, table[i].status, BUCKETS[k],
                (unsigned long long)cum);
        }
        uint64_t count = atomic_load(&table[i].count);
        put(&b,
            "http_request_duration_seconds_bucket{surface=\"%s\",route=\"%s\",method=\"%s\","
            "code=\"%d\",le=\"+Inf\"} %llu\n",
            table[i].surface, table[i].route, table[i].method, table[i].status,
            (unsigned long long)count);
        put(&b,
            "http_request_duration_seconds_sum{surface=\"%s\",route=\"%s\",method=\"%s\","
            "code=\"%d\"} %.6f\n",
            table[i].surface, table[i].route, table[i].method, table[i].status,
            (double)atomic_load(&table[i].sum_us) / 1e6);
        put(&b,
            "http_request_duration_seconds_count{surface=\"%s\",route=\"%s\",method=\"%s\","
            "code=\"%d\"} %llu\n",
            table[i].surface, table[i].route, table[i].method, table[i].status,
            (unsigned long long)count);
    }
    put(&b, "# HELP oscred_auth_failures_total Refused authentication attempts by reason.\n"
            "# TYPE oscred_auth_failures_total counter\n");
    for (size_t i = 0; i < nr; i++)
        put(&b, "oscred_auth_failures_total{reason=\"%s\"} %llu\n", reasons[i].name,
            (unsigned long long)atomic_load(&reasons[i].count));
    put(&b, "# HELP oscred_db_errors_total Failed database statements by kind.\n"
            "# TYPE oscred_db_errors_total counter\n");
    put(&b, "oscred_db_errors_total{kind=\"unavailable\"} %llu\n",
        (unsigned long long)atomic_load(&db_unavailable));
    put(&b, "oscred_db_errors_total{kind=\"failed\"} %llu\n",
        (unsigned long long)atomic_load(&db_failed));
    put(&b, "# HELP oscred_db_statements_cancelled_total Statements given up at their deadline and "
            "cancelled on the server.\n"
            "# TYPE oscred_db_statements_cancelled_total counter\n");
    put(&b, "oscred_db_statements_cancelled_total %llu\n",
        (unsigned long long)atomic_load(&db_cancelled));
    put(&b, "# HELP oscred_db_connections Database pool connections by state.\n"
            "# TYPE oscred_db_connections gauge\n");
    put(&b, "oscred_db_connections{state=\"in_use\"} %d\n", pool_in_use);
    put(&b, "oscred_db_connections{state=\"idle\"} %d\n", pool_idle);
    put(&b, "# HELP oscred_db_pool_waiting Requests waiting for a database connection.\n"
            "# TYPE oscred_db_pool_waiting gauge\n");
    put(&b, "oscred_db_pool_waiting %d\n", pool_waiting);
    if (b.failed) {
        free(b.p);
        return -1;
    }
    *out = b.p;
    *len = b.len;
    return 0;
}
