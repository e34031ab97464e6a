/* Fuzz target: a whole .safetensors file (8-byte length, JSON header, data)
 * through rv_safetensors_open, then every accessor on what it accepted:
 * tensor lookup, metadata, the non-finite scan and the float copies. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_util.h"
#include "loader/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    fuzz_write("x.safetensors", data, size, path, sizeof(path));
    rv_safetensors *st = NULL;
    rv_error err = {0};
    if (rv_safetensors_open(&st, path, &err) != RV_OK) {
        if (!err.msg[0])
            abort();   /* every failure says why */
        return 0;
    }
    for (size_t i = 0; i < rv_safetensors_count(st); i++) {
        const rv_st_tensor *t = rv_safetensors_tensor(st, i);
        if (rv_safetensors_find(st, t->name) != t)
            abort();   /* names are unique and sorted */
        uint64_t at;
        rv_safetensors_find_nonfinite(t, &at, NULL);
        if (t->numel <= (1u << 16)) {
            float *f = malloc((size_t)t->numel * sizeof(float) + 1);
            uint16_t *h = malloc((size_t)t->numel * sizeof(uint16_t) + 1);
            rv_error e2 = {0};
            rv_safetensors_copy_f32(t, f, t->numel, &e2);
            rv_safetensors_copy_f16(t, h, t->numel, &e2);
            free(f);
            free(h);
        }
    }
    for (size_t i = 0; i < rv_safetensors_metadata_count(st); i++) {
        const char *k, *v;
        rv_safetensors_metadata_at(st, i, &k, &v);
        if (rv_safetensors_metadata(st, k) == NULL)
            abort();
    }
    rv_safetensors_close(st);
    return 0;
}
