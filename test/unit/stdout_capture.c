/* stdout to a temporary file and back, for the tests that read log lines. */
#include "stdout_capture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static int saved_stdout = -1;
static char capture_path[] = "/tmp/oscred-test-log-XXXXXX";

void capture_begin(void)
{
    int fd;

    fflush(stdout);
    memcpy(capture_path + strlen(capture_path) - 6, "XXXXXX", 6); /* mkstemp fills these in */
    fd = mkstemp(capture_path);
    assert_true(fd >= 0);
    saved_stdout = dup(STDOUT_FILENO);
    assert_true(saved_stdout >= 0);
    assert_true(dup2(fd, STDOUT_FILENO) >= 0);
    close(fd);
}

char *captured(void)
{
    FILE *f = fopen(capture_path, "rb");
    char *text = NULL;
    long n;

    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    text = malloc((size_t)n + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
    text[n] = '\0';
    fclose(f);
    return text;
}

char *capture_end(void)
{
    char *text = captured();

    assert_true(dup2(saved_stdout, STDOUT_FILENO) >= 0);
    close(saved_stdout);
    saved_stdout = -1;
    unlink(capture_path);
    return text;
}
