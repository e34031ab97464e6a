/* The VkPipelineCache file: a first device writes it when destroyed, a
 * second start reads it back (the driver takes it: no validation message),
 * a damaged or foreign file is ignored rather than handed to the driver, and
 * no folder means no cache. Timing is `reverie bench frames`'s business. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rv_gpu.h"
#include "rv_test.h"

static int start(const char *dir, bool warm, rv_pipeline_cache_info *info)
{
    rv_gpu_desc d = {.validation = true, .pipeline_cache_dir = dir};
    rv_gpu *gpu = NULL;
    rv_error err = {0};
    if (rv_gpu_create(&gpu, &d, &err)) {
        fprintf(stderr, "test_pipeline_cache: %s\n", err.msg);
        return -1;
    }
    rv_gpu_pipeline_cache(gpu, info);
    int rc = 0;
    if (warm && rv_gpu_warm_pipelines(gpu, &err)) {
        fprintf(stderr, "test_pipeline_cache: %s\n", err.msg);
        rc = -1;
    }
    rv_pipeline_cache_info after;
    rv_gpu_pipeline_cache(gpu, &after);
    info->created = after.created;
    rc = rc ? rc : rv_gpu_validation_count(gpu);
    rv_gpu_destroy(gpu);
    return rc;
}

static long file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

int main(void)
{
    char dir[] = "/tmp/rv-pcache-XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char sub[64];
    snprintf(sub, sizeof(sub), "%s/reverie", dir); /* made by the device, one level */
    rv_pipeline_cache_info a, b, c, n;
    CHECK(start(sub, true, &a) == 0, "first start");
    long size = file_size(a.path);
    printf("first start: %d pipelines created, cache %s: read %llu bytes, %ld bytes on disk after\n", a.created,
           a.path, (unsigned long long)a.loaded_bytes, size);
    CHECK(a.path[0] && a.loaded_bytes == 0 && a.created > 10, "first start: nothing to read, pipelines made");
    CHECK(size > 0, "the cache file was written (%ld bytes)", size);

    CHECK(start(sub, true, &b) == 0, "second start");
    printf("second start: read %llu bytes from %s\n", (unsigned long long)b.loaded_bytes, b.path);
    CHECK(strcmp(a.path, b.path) == 0 && (long)b.loaded_bytes == size, "the second start reads the file (%llu of %ld)",
          (unsigned long long)b.loaded_bytes, size);

    /* a damaged file: ignored, replaced */
    FILE *f = fopen(a.path, "wb");
    if (f) {
        fputs("not a pipeline cache, but long enough to have a header: 0123456789", f);
        fclose(f);
    }
    CHECK(start(sub, true, &c) == 0, "start with a damaged cache");
    printf("damaged file: read %llu bytes, %ld on disk after\n", (unsigned long long)c.loaded_bytes,
           file_size(a.path));
    CHECK(c.loaded_bytes == 0 && file_size(a.path) == size, "a damaged cache is ignored and rewritten");

    /* no folder: no cache, nothing written */
    CHECK(start(NULL, false, &n) == 0 && n.path[0] == 0, "no folder, no cache");
    unlink(a.path);
    rmdir(sub);
    rmdir(dir);
    return rv_test_finish("test_pipeline_cache");
}
