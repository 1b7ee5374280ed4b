/* The error table's accessors, generated from OSC_ERR_MAP; nothing else belongs here. */
#include "oscred/err.h"

struct err_row {
    const char *name;
    const char *rest_code;
    const char *aws_code;
    const char *message;
    int rest_status;
    int aws_status;
};

static const struct err_row ROWS[] = {
#define X(nm, rh, rc, ah, ac, msg) {#nm, rc, ac, msg, rh, ah},
    OSC_ERR_MAP(X)
#undef X
};

static const struct err_row *row(osc_err err)
{
    if ((unsigned)err >= (unsigned)OSC_E__COUNT)
        err = OSC_E_INTERNAL;
    return &ROWS[err];
}

const char *osc_err_name(osc_err err)
{
    return row(err)->name;
}

int osc_err_rest_status(osc_err err)
{
    return row(err)->rest_status;
}

const char *osc_err_rest_code(osc_err err)
{
    return row(err)->rest_code;
}

int osc_err_aws_status(osc_err err)
{
    return row(err)->aws_status;
}

const char *osc_err_aws_code(osc_err err)
{
    return row(err)->aws_code;
}

const char *osc_err_default_message(osc_err err)
{
    return row(err)->message;
}
