/* Private to src/service: helpers every use case shares. */
#ifndef OSC_SERVICE_COMMON_H
#define OSC_SERVICE_COMMON_H

#include "oscred/ctx.h"
#include "oscred/store.h"

#define MSG_FORBIDDEN "You are not authorized to perform the requested action."

static inline const char *kind_label(enum osc_kind k)
{
    return k == OSC_KIND_SERVICE_ACCOUNT ? "service_account" : "user";
}

/* The audit identity of the request's caller. Borrows from ctx. */
static inline struct osc_audit audit_of(const struct osc_ctx *ctx)
{
    struct osc_audit a = {ctx->request_id, ctx->caller.id, kind_label(ctx->caller.kind)};
    return a;
}

#endif
