/* Tests that read what was logged: stdout goes to a temporary file between capture_begin and
 * capture_end (cmocka prints its results to stdout in between tests). */
#ifndef OSC_TEST_STDOUT_CAPTURE_H
#define OSC_TEST_STDOUT_CAPTURE_H

void capture_begin(void);
/* The captured text so far (caller frees). */
char *captured(void);
/* Restores stdout; returns everything captured (caller frees). */
char *capture_end(void);

#endif
