/* SHA-256 of a file (libavutil's), for the "Model hash" of the parameters
 * text: A1111 writes the first 10 hex digits of the weights file's SHA-256.
 * Not a general crypto API. */
#include <errno.h>
#include <libavutil/mem.h>
#include <libavutil/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rv_media.h"

rv_status rv_media_sha256_file(const char *path, char hex[65], rv_error *err)
{
    hex[0] = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return rv_error_set(err, RV_ERR_IO, "hash: cannot open %s: %s", path, strerror(errno));
    struct AVSHA *sha = av_sha_alloc();
    unsigned char *buf = malloc(1 << 20);
    if (!sha || !buf || av_sha_init(sha, 256) < 0) {
        fclose(f);
        av_free(sha);
        free(buf);
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "hash: out of memory");
    }
    size_t n;
    while ((n = fread(buf, 1, 1 << 20, f)) > 0)
        av_sha_update(sha, buf, n);
    int bad = ferror(f);
    fclose(f);
    free(buf);
    uint8_t d[32];
    av_sha_final(sha, d);
    av_free(sha);
    if (bad)
        return rv_error_set(err, RV_ERR_IO, "hash: error reading %s", path);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    return RV_OK;
}
