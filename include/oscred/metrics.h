/* Prometheus metrics: counters and a histogram kept in memory, rendered in the text exposition
 * format. Recording is thread-safe and cheap; labels are route templates, never raw paths. */
#ifndef OSC_METRICS_H
#define OSC_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Counts one request. route must be a string with static storage (a route template). */
void osc_metrics_request(const char *surface, const char *route, const char *method, int status,
                         int64_t duration_us);
/* Counts an authentication failure by reason (static string). */
void osc_metrics_auth_failure(const char *reason);
/* Counts a failed database statement: unavailable (no connection or no answer in time) or not
 * (the statement failed). Expected outcomes such as the key limit are not errors. */
void osc_metrics_db_error(int unavailable);
/* Counts a statement given up at its deadline and cancelled on the server. */
void osc_metrics_db_cancel(void);
/* Renders every metric plus the given pool gauges; *out is malloc'd (caller frees). */
int osc_metrics_render(int pool_in_use, int pool_idle, int pool_waiting, char **out, size_t *len);

#endif
