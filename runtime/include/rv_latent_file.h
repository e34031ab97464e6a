/* Raw latent files (`reverie gen --noise-file` / `--latent-out`): exactly n
 * little-endian float32 values, no header. The reader refuses anything but
 * a regular file of exactly 4n bytes of finite values; the parse form takes
 * bytes in memory (fuzzing, tests). Not an image or tensor format. */
#ifndef RV_LATENT_FILE_PUBLIC_H
#define RV_LATENT_FILE_PUBLIC_H

#include <stddef.h>
#include <stdint.h>

#include "rv_status.h"

/* Largest latent a file may hold: 2^28 values (1 GiB), far above a 16,384²
 * image's 4 x 2048 x 2048 latent. */
#define RV_LATENT_FILE_MAX_VALUES (1ull << 28)

/* `shape` ("1, 4, 64, 64") is only used in messages. Errors name the path:
 * RV_ERR_IO for a missing or unreadable file, RV_ERR_INVALID for a
 * directory or other non-regular file, a wrong size or a NaN/Inf value. */
rv_status rv_latent_file_read(const char *path, float *out, uint64_t n, const char *shape, rv_error *err);
rv_status rv_latent_parse(const void *data, size_t size, const char *name, float *out, uint64_t n,
                          const char *shape, rv_error *err);
rv_status rv_latent_file_write(const char *path, const float *v, uint64_t n, rv_error *err);

#endif
