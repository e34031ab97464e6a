/* Raw float32 latent files (see latent_file.h): read whole, checked, then
 * converted from little-endian; written the same way. Not a GPU uploader. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "loader/latent_file.h"

rv_status rv_latent_parse(const void *data, size_t size, const char *name, float *out, uint64_t n,
                          const char *shape, rv_error *err)
{
    if (n > RV_LATENT_FILE_MAX_VALUES || (uint64_t)size != n * 4)
        return rv_error_set(err, RV_ERR_INVALID, "%s has %llu bytes; the latent [%s] float32 needs %llu bytes", name,
                            (unsigned long long)size, shape, (unsigned long long)(n * 4));
    const unsigned char *b = data;
    for (uint64_t i = 0; i < n; i++, b += 4) {
        uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        memcpy(&out[i], &u, 4);
        if (!isfinite(out[i]))
            return rv_error_set(err, RV_ERR_INVALID, "%s: value %llu is not finite", name, (unsigned long long)i);
    }
    return RV_OK;
}

rv_status rv_latent_file_read(const char *path, float *out, uint64_t n, const char *shape, rv_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return rv_error_set(err, RV_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat sb;
    rv_status s = RV_OK;
    unsigned char *buf = NULL;
    if (fstat(fileno(f), &sb) != 0) {
        s = rv_error_set(err, RV_ERR_IO, "%s: %s", path, strerror(errno));
    } else if (!S_ISREG(sb.st_mode)) {
        s = rv_error_set(err, RV_ERR_INVALID, "%s is %s, not a file of float32 values", path,
                         S_ISDIR(sb.st_mode) ? "a directory" : "not a regular file");
    } else if (n > RV_LATENT_FILE_MAX_VALUES || (uint64_t)sb.st_size != n * 4) {
        s = rv_error_set(err, RV_ERR_INVALID, "%s has %llu bytes; the latent [%s] float32 needs %llu bytes", path,
                         (unsigned long long)sb.st_size, shape, (unsigned long long)(n * 4));
    } else if (!(buf = malloc(n > 0 ? n * 4 : 1))) {
        s = rv_error_set(err, RV_ERR_HOST_MEMORY, "%s: out of host memory", path);
    } else if (fread(buf, 1, n * 4, f) != n * 4) {
        s = rv_error_set(err, RV_ERR_IO, "%s: short read", path);
    } else {
        s = rv_latent_parse(buf, n * 4, path, out, n, shape, err);
    }
    free(buf);
    fclose(f);
    return s;
}

rv_status rv_latent_file_write(const char *path, const float *v, uint64_t n, rv_error *err)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return rv_error_set(err, RV_ERR_IO, "%s: %s", path, strerror(errno));
    int ok = 1;
    for (uint64_t i = 0; i < n && ok; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        unsigned char b[4] = {(unsigned char)u, (unsigned char)(u >> 8), (unsigned char)(u >> 16),
                              (unsigned char)(u >> 24)};
        ok = fwrite(b, 1, 4, f) == 4;
    }
    if (fclose(f) != 0 || !ok)
        return rv_error_set(err, RV_ERR_IO, "%s: write failed", path);
    return RV_OK;
}
