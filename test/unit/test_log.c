/* Log lines on stdout: written directly outside the server, and through the batching writer
 * thread while it runs: every line whole, once, in each thread's order, soon after it was
 * logged, and all of them out when the writer stops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <pthread.h>

#include "oscred/log.h"
#include "stdout_capture.h"

#define THREADS 4
#define LINES_PER_THREAD 5000 /* ~5 MB in all: many times the writer's buffer */

static void log_request(const char *request_id)
{
    struct osc_access_entry e = {.request_id = request_id,
                                 .method = "GET",
                                 .route = "/v3/auth/tokens",
                                 .status = 200,
                                 .duration_us = 250,
                                 .remote = "127.0.0.1"};

    osc_log_access(&e, 0);
}

static void *log_many(void *arg)
{
    int t = (int)(intptr_t)arg;
    char id[32];

    for (int i = 0; i < LINES_PER_THREAD; i++) {
        snprintf(id, sizeof(id), "t%d-%d", t, i);
        log_request(id);
    }
    return NULL;
}

static void test_log_lines_are_written_directly_without_the_writer(void **state)
{
    (void)state;
    capture_begin();
    osc_log(OSC_LOG_INFO, "test.direct", "key", "value", OSC_LOG_END);
    /* Nothing runs in the background: the line is there the moment osc_log returns. */
    char *text = captured();
    free(capture_end());
    assert_non_null(strstr(text, "\"event\":\"test.direct\""));
    assert_non_null(strstr(text, "\"key\":\"value\""));
    assert_int_equal(text[strlen(text) - 1], '\n');
    free(text);
}

static void *log_unbound(void *arg)
{
    (void)arg;
    osc_log(OSC_LOG_WARN, "test.other_thread", OSC_LOG_END);
    return NULL;
}

/* The request id of the line for event in text, or NULL when the line has none (caller frees). */
static char *request_id_of(const char *text, const char *event)
{
    char *copy = strdup(text), *save = NULL, *id = NULL;
    int found = 0;

    assert_non_null(copy);
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_t *rec = json_loads(line, 0, NULL);

        assert_non_null(rec);
        if (strcmp(json_string_value(json_object_get(rec, "event")), event) == 0) {
            const char *v = json_string_value(json_object_get(rec, "request_id"));
            id = v ? strdup(v) : NULL;
            found = 1;
        }
        json_decref(rec);
    }
    assert_true(found);
    free(copy);
    return id;
}

static void test_log_access_line_has_the_duration_in_milliseconds(void **state)
{
    static const struct {
        int64_t us;
        const char *text;
    } cases[] = {
        {0, "0.000"}, {5, "0.005"}, {250, "0.250"}, {1000, "1.000"}, {1234567, "1234.567"}};
    char want[64];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct osc_access_entry e = {.request_id = "req-d",
                                     .method = "GET",
                                     .route = "/",
                                     .status = 200,
                                     .duration_us = cases[i].us,
                                     .remote = "127.0.0.1"}; /* a field after the duration */

        capture_begin();
        osc_log_access(&e, 0);
        char *text = capture_end();
        snprintf(want, sizeof(want), "\"duration_ms\":%s,", cases[i].text);
        assert_non_null(strstr(text, want));
        free(text);
    }
}

static void test_log_lines_carry_the_request_bound_to_their_thread(void **state)
{
    pthread_t other;
    char *id;

    (void)state;
    capture_begin();
    osc_log_bind_request("req-bound");
    osc_log(OSC_LOG_WARN, "test.bound", "key", "value", OSC_LOG_END);
    /* another thread serves no request: its lines carry no id */
    assert_int_equal(pthread_create(&other, NULL, log_unbound, NULL), 0);
    pthread_join(other, NULL);
    osc_log_bind_request(NULL);
    osc_log(OSC_LOG_WARN, "test.unbound", OSC_LOG_END);
    char *text = capture_end();

    id = request_id_of(text, "test.bound");
    assert_string_equal(id, "req-bound");
    free(id);
    assert_null(request_id_of(text, "test.other_thread"));
    assert_null(request_id_of(text, "test.unbound"));
    free(text);
}

static void test_log_limit_lets_one_line_through_per_interval_and_counts_the_rest(void **state)
{
    struct osc_log_limit limit = {.interval_us = 60 * 1000000LL};
    char also[24] = "x";

    (void)state;
    assert_true(osc_log_limit_due(&limit, also, sizeof(also)));
    assert_string_equal(also, ""); /* the first one suppressed nothing */
    for (int i = 0; i < 5; i++)
        assert_false(osc_log_limit_due(&limit, also, sizeof(also)));
    /* the interval has passed: the next one gets a line that counts the five */
    limit.logged_us -= limit.interval_us;
    assert_true(osc_log_limit_due(&limit, also, sizeof(also)));
    assert_string_equal(also, "5");
    assert_false(osc_log_limit_due(&limit, also, sizeof(also)));
    limit.logged_us -= limit.interval_us;
    assert_true(osc_log_limit_due(&limit, also, sizeof(also)));
    assert_string_equal(also, "1");
}

static void test_log_writer_keeps_every_line_whole_once_and_in_order(void **state)
{
    pthread_t threads[THREADS];
    int next[THREADS] = {0};
    int lines = 0;

    (void)state;
    capture_begin();
    assert_int_equal(osc_log_start_writer(), 0);
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(pthread_create(&threads[t], NULL, log_many, (void *)(intptr_t)t), 0);
    for (int t = 0; t < THREADS; t++)
        pthread_join(threads[t], NULL);
    osc_log_stop_writer();
    char *text = capture_end();

    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_error_t jerr;
        json_t *rec = json_loads(line, 0, &jerr);
        int t = -1, i = -1;

        assert_non_null(rec); /* a whole JSON object: no line cut or interleaved */
        const char *id = json_string_value(json_object_get(rec, "request_id"));
        assert_non_null(id);
        assert_int_equal(sscanf(id, "t%d-%d", &t, &i), 2);
        assert_true(t >= 0 && t < THREADS);
        assert_int_equal(i, next[t]); /* each thread's lines in its order, none twice */
        next[t]++;
        lines++;
        json_decref(rec);
    }
    assert_int_equal(lines, THREADS * LINES_PER_THREAD);
    free(text);
}

static void test_log_writer_writes_a_lone_line_soon(void **state)
{
    const struct timespec tick = {.tv_sec = 0, .tv_nsec = 2 * 1000 * 1000};
    char *text = NULL;

    (void)state;
    capture_begin();
    assert_int_equal(osc_log_start_writer(), 0);
    log_request("lone");
    /* No more lines follow and the writer is not stopped: the line still reaches stdout. */
    for (int waited = 0; waited < 500; waited++) {
        free(text);
        text = captured();
        if (strstr(text, "\"request_id\":\"lone\""))
            break;
        nanosleep(&tick, NULL);
    }
    assert_non_null(strstr(text, "\"request_id\":\"lone\""));
    free(text);
    osc_log_stop_writer();
    free(capture_end());
}

static void test_log_writer_stops_and_starts_again(void **state)
{
    (void)state;
    capture_begin();
    for (int round = 0; round < 3; round++) {
        assert_int_equal(osc_log_start_writer(), 0);
        log_request(round == 0 ? "r0" : round == 1 ? "r1" : "r2");
        osc_log_stop_writer();
        osc_log_stop_writer(); /* a second stop does nothing */
    }
    log_request("after"); /* written directly again */
    char *text = capture_end();
    const char *r0 = strstr(text, "\"r0\""), *r1 = strstr(text, "\"r1\"");
    const char *r2 = strstr(text, "\"r2\""), *after = strstr(text, "\"after\"");
    assert_true(r0 && r1 && r2 && after);
    assert_true(r0 < r1 && r1 < r2 && r2 < after);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_lines_are_written_directly_without_the_writer),
        cmocka_unit_test(test_log_lines_carry_the_request_bound_to_their_thread),
        cmocka_unit_test(test_log_access_line_has_the_duration_in_milliseconds),
        cmocka_unit_test(test_log_limit_lets_one_line_through_per_interval_and_counts_the_rest),
        cmocka_unit_test(test_log_writer_keeps_every_line_whole_once_and_in_order),
        cmocka_unit_test(test_log_writer_writes_a_lone_line_soon),
        cmocka_unit_test(test_log_writer_stops_and_starts_again),
    };

    osc_log_set_level(OSC_LOG_INFO);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
