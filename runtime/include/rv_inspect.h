/* `reverie inspect`'s report on a model folder, from the runtime that knows
 * the architectures: components, parameters, checkpoint dtypes (every
 * missing, unknown or wrong-shape tensor named) and the device memory of the
 * weights and of one forward's activations. No device is created. */
#ifndef RV_INSPECT_H
#define RV_INSPECT_H

#include <stdbool.h>
#include <stdint.h>

typedef struct rv_inspect_desc {
    bool f32;            /* memory figures in fp32 storage (default fp16) */
    uint32_t batch;      /* activations for this batch (0 = 1) */
    const char *variant; /* weight-file variant ("fp16": *.fp16.safetensors), or NULL */
} rv_inspect_desc;

/* Prints the report for a diffusers folder (model_index.json) or one
 * component folder (config.json) on stdout; problems on stderr. Returns 0 if
 * every component can be used, 1 otherwise. */
int rv_model_inspect(const char *dir, const rv_inspect_desc *d);

#endif
