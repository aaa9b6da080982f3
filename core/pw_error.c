#include "core/pw_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *pw_strerror(int code)
{
    if (code == 0)
        return "success";
    switch (code) {
#define PW_ERROR_CASE(name, num, text) case name: return text;
        PW_ERROR_TABLE(PW_ERROR_CASE)
#undef PW_ERROR_CASE
    default:
        break;
    }
    if (code < 0 && code > -PW_E_BASE)
        return strerror(-code);
    return "unknown error";
}

int pw_err_set(pw_err_t *err, int code, const char *fmt, ...)
{
    if (err == NULL)
        return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

int pw_err_prefix(pw_err_t *err, int code, const char *fmt, ...)
{
    if (err == NULL)
        return code;
    char prefix[PW_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char old[PW_ERR_MSG_MAX];
    memcpy(old, err->msg, sizeof old);
    if (err->code == 0)
        err->code = code;
    const char *rest = old[0] ? old : pw_strerror(err->code);
    /* Truncation is acceptable here: the message is for people. */
    size_t plen = strlen(prefix);
    if (plen >= sizeof err->msg)
        plen = sizeof err->msg - 1;
    memcpy(err->msg, prefix, plen);
    size_t rlen = strlen(rest);
    if (rlen > sizeof err->msg - 1 - plen)
        rlen = sizeof err->msg - 1 - plen;
    memcpy(err->msg + plen, rest, rlen);
    err->msg[plen + rlen] = '\0';
    return err->code;
}

void pw_err_clear(pw_err_t *err)
{
    if (err == NULL)
        return;
    err->code = 0;
    err->msg[0] = '\0';
}
