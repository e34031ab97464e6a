/* Status names and error-message helpers. */
#include <stdio.h>
#include <string.h>

#include "rv_status.h"

static const char *const status_names[] = {
    [RV_OK] = "ok",
    [RV_ERR_INVALID] = "invalid input",
    [RV_ERR_IO] = "i/o error",
    [RV_ERR_FORMAT] = "format error",
    [RV_ERR_NO_DEVICE] = "no device",
    [RV_ERR_DEVICE_MEMORY] = "out of device memory",
    [RV_ERR_HOST_MEMORY] = "out of host memory",
    [RV_ERR_DEVICE_LOST] = "device lost",
    [RV_ERR_PIPELINE] = "pipeline error",
    [RV_ERR_VULKAN] = "vulkan error",
    [RV_ERR_UNSUPPORTED] = "unsupported",
};
_Static_assert(sizeof(status_names) / sizeof(status_names[0]) == RV_STATUS_COUNT,
               "status_names must cover every rv_status");

const char *rv_status_name(rv_status s)
{
    if ((unsigned)s >= RV_STATUS_COUNT)
        return "unknown status";
    return status_names[s];
}

rv_status rv_error_set(rv_error *err, rv_status code, const char *fmt, ...)
{
    if (err && err->code == RV_OK) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}

void rv_error_clear(rv_error *err)
{
    if (err) {
        err->code = RV_OK;
        err->msg[0] = 0;
    }
}
