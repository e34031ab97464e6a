/* Result codes and error messages shared by every layer of the runtime.
 * Library code never exits or aborts on bad input: it returns one of these
 * codes and writes a message that names the place (call, file, tensor, path). */
#ifndef RV_STATUS_H
#define RV_STATUS_H

#include <stdarg.h>

typedef enum rv_status {
    RV_OK = 0,
    RV_ERR_INVALID,        /* bad argument or bad input data */
    RV_ERR_IO,             /* file missing, unreadable */
    RV_ERR_FORMAT,         /* malformed file: checkpoint, config, story */
    RV_ERR_NO_DEVICE,      /* no usable Vulkan device */
    RV_ERR_DEVICE_MEMORY,  /* device memory exhausted */
    RV_ERR_HOST_MEMORY,    /* host allocation failed */
    RV_ERR_DEVICE_LOST,
    RV_ERR_PIPELINE,       /* shader module or pipeline creation failed */
    RV_ERR_VULKAN,         /* any other Vulkan failure */
    RV_ERR_UNSUPPORTED,    /* feature the device or build lacks */
    RV_STATUS_COUNT
} rv_status;

typedef struct rv_error {
    rv_status code;
    char msg[1024];
} rv_error;

const char *rv_status_name(rv_status s);

/* Sets err (if non-NULL and not already holding an error) and returns code. */
rv_status rv_error_set(rv_error *err, rv_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void rv_error_clear(rv_error *err);

#endif
