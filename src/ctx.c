/* Request context helpers: request ids, error messages chosen where errors arise, and time. */
#include "oscred/ctx.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Request ids need uniqueness, not secrecy: a per-thread xorshift128+ seeded once from the OS
 * CSPRNG saves a system call per request. */
static _Thread_local uint64_t rng[2];

static uint64_t next_random(void)
{
    uint64_t a = rng[0], b = rng[1];

    if (!a && !b) {
        (void)osc_crypto_random(rng, sizeof(rng));
        rng[0] |= 1; /* the all-zero state would stay zero */
        a = rng[0];
        b = rng[1];
    }
    rng[0] = b;
    a ^= a << 23;
    rng[1] = a ^ b ^ (a >> 17) ^ (b >> 26);
    return rng[1] + b;
}

void osc_ctx_init(struct osc_ctx *ctx)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char u[16];
    uint64_t r0 = next_random(), r1 = next_random();
    char *o;

    memset(ctx, 0, sizeof(*ctx));
    o = ctx->request_id;
    memcpy(u, &r0, 8);
    memcpy(u + 8, &r1, 8);
    u[6] = (unsigned char)((u[6] & 0x0f) | 0x40);
    u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
    /* "req-" + 8-4-4-4-12 hex digits, by hand: printf was a visible share of a token check. */
    memcpy(o, "req-", 4);
    o += 4;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hex[u[i] >> 4];
        *o++ = hex[u[i] & 15];
    }
    *o = '\0';
}

osc_err osc_ctx_fail(struct osc_ctx *ctx, osc_err err, const char *fmt, ...)
{
    va_list ap;

    if (ctx->msg[0])
        return err;
    va_start(ap, fmt);
    vsnprintf(ctx->msg, sizeof(ctx->msg), fmt, ap);
    va_end(ap);
    return err;
}

void osc_ctx_detail(struct osc_ctx *ctx, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(ctx->detail, sizeof(ctx->detail), fmt, ap);
    va_end(ap);
}

int64_t osc_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t osc_mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void split(int64_t us, struct tm *tm, long *frac)
{
    time_t s = (time_t)(us / 1000000);
    long f = (long)(us % 1000000);

    if (f < 0) {
        f += 1000000;
        s -= 1;
    }
    gmtime_r(&s, tm);
    *frac = f;
}

/* Copies the n characters of s into out as snprintf would: truncated to outlen - 1, terminated. */
static void copy_out(char *out, size_t outlen, const char *s, size_t n)
{
    if (!outlen)
        return;
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

/* Writes v as exactly width decimal digits (zero-padded) and returns the end. */
static char *digits(char *o, long v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        o[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return o + width;
}

/* "YYYY-MM-DDTHH:MM:SS" (19 characters, no terminator); years beyond 9999 are not dates we
 * issue or accept. */
static char *format_seconds(const struct tm *tm, char *o)
{
    o = digits(o, tm->tm_year + 1900L, 4);
    *o++ = '-';
    o = digits(o, tm->tm_mon + 1L, 2);
    *o++ = '-';
    o = digits(o, tm->tm_mday, 2);
    *o++ = 'T';
    o = digits(o, tm->tm_hour, 2);
    *o++ = ':';
    o = digits(o, tm->tm_min, 2);
    *o++ = ':';
    return digits(o, tm->tm_sec, 2);
}

void osc_format_time_us(int64_t us, char *out, size_t outlen)
{
    struct tm tm;
    long frac;
    char buf[32], *o;

    split(us, &tm, &frac);
    o = format_seconds(&tm, buf);
    *o++ = '.';
    o = digits(o, frac, 6);
    *o++ = 'Z';
    copy_out(out, outlen, buf, (size_t)(o - buf));
}

void osc_format_time_s(int64_t us, char *out, size_t outlen)
{
    struct tm tm;
    long frac;
    char buf[32], *o;

    split(us, &tm, &frac);
    o = format_seconds(&tm, buf);
    *o++ = 'Z';
    copy_out(out, outlen, buf, (size_t)(o - buf));
}
