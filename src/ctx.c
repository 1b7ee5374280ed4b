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
    unsigned char u[16];
    uint64_t r0 = next_random(), r1 = next_random();

    memset(ctx, 0, sizeof(*ctx));
    memcpy(u, &r0, 8);
    memcpy(u + 8, &r1, 8);
    u[6] = (unsigned char)((u[6] & 0x0f) | 0x40);
    u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
    snprintf(ctx->request_id, sizeof(ctx->request_id),
             "req-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
             u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
             u[15]);
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

void osc_format_time_us(int64_t us, char *out, size_t outlen)
{
    struct tm tm;
    long frac;

    split(us, &tm, &frac);
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

void osc_format_time_s(int64_t us, char *out, size_t outlen)
{
    struct tm tm;
    long frac;

    split(us, &tm, &frac);
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}
