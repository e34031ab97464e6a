/* Fuzz target: a sharded set's *.safetensors.index.json. Two valid shards
 * sit beside it (a.safetensors: tensors "a" and "b"; b.safetensors: "c"),
 * so the weight map can name real shards and the merge checks run. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_util.h"
#include "loader/safetensors.h"

static void make_shards(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    char path[512];
    float v[2] = {1.0f, 2.0f};
    rv_st_write_tensor a[2] = {{"a", RV_ST_F32, 1, {1}, &v[0]}, {"b", RV_ST_F32, 1, {1}, &v[1]}};
    rv_st_write_tensor c[1] = {{"c", RV_ST_F32, 1, {2}, v}};
    rv_error err = {0};
    fuzz_write("a.safetensors", "", 0, path, sizeof(path));
    if (rv_safetensors_write(path, a, 2, NULL, 0, &err))
        abort();
    fuzz_write("b.safetensors", "", 0, path, sizeof(path));
    if (rv_safetensors_write(path, c, 1, NULL, 0, &err))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    make_shards();
    char path[512];
    fuzz_write("m.safetensors.index.json", data, size, path, sizeof(path));
    rv_safetensors *st = NULL;
    rv_error err = {0};
    if (rv_safetensors_open(&st, path, &err) != RV_OK) {
        if (!err.msg[0])
            abort();
        return 0;
    }
    for (size_t i = 0; i < rv_safetensors_count(st); i++)
        if (rv_safetensors_find(st, rv_safetensors_tensor(st, i)->name) != rv_safetensors_tensor(st, i))
            abort();
    for (size_t i = 0; i < rv_safetensors_metadata_count(st); i++) {
        const char *k, *v;
        rv_safetensors_metadata_at(st, i, &k, &v);
        if (!k || !v)
            abort();
    }
    rv_safetensors_close(st);
    return 0;
}
