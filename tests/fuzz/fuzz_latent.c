/* Fuzz target: the raw float32 latent reader behind --noise-file. The first
 * byte chooses how many values are expected (the right count for the rest
 * of the input, or one off either way); the rest is the file. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_util.h"
#include "loader/latent_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t body = size - 1;
    uint64_t n = body / 4 + (uint64_t)(data[0] % 3) - (body / 4 > 0 ? 1 : 0);
    float *out = malloc((size_t)n * sizeof(float) + 1);
    rv_error err = {0};
    rv_status s = rv_latent_parse(data + 1, body, "noise.bin", out, n, "1, 4, 8, 8", &err);
    if (s && (s != RV_ERR_INVALID || !err.msg[0]))
        abort();
    if (!s)
        for (uint64_t i = 0; i < n; i++)
            if (!(out[i] == out[i]) || out[i] - out[i] != 0.0f)
                abort();   /* only finite values come through */
    free(out);
    return 0;
}
