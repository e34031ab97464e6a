/* AutoencoderTiny (TAESD) on the GPU: encoder (image in [-1,1] -> latents)
 * and decoder (latents -> image in [-1,1]), built from its diffusers config
 * with diffusers' names (encoder.layers.N / decoder.layers.N, a block's
 * convs conv.0/.2/.4). Latent scaling as the pipelines do it: encode
 * returns encoder(x) * scaling_factor, decode takes latents / scaling_factor.
 * Not tiling. */
#ifndef RV_TAESD_H
#define RV_TAESD_H

#include <stdbool.h>
#include <stdint.h>

#include "rv_gpu.h"
#include "loader/diffusers.h"
#include "models/nn.h"
#include "models/params.h"

typedef enum rv_ae_mode {
    RV_AE_ENCODE = 0,
    RV_AE_DECODE = 1,
} rv_ae_mode;

typedef enum rv_taesd_kind {
    RV_TAESD_CONV,        /* a Conv2d */
    RV_TAESD_BLOCK,       /* AutoencoderTinyBlock */
    RV_TAESD_ACT,         /* the activation after the decoder's first conv */
    RV_TAESD_UPSAMPLE,    /* nearest 2x */
} rv_taesd_kind;

typedef struct rv_taesd_layer {
    rv_taesd_kind kind;
    rv_conv conv;         /* CONV: layers.N */
    rv_conv conv0, conv2, conv4; /* BLOCK: layers.N.conv.0/.2/.4, 3x3 c -> c */
    rv_conv skip;         /* BLOCK: layers.N.skip, 1x1 without bias (when channels change) */
    bool has_skip;
} rv_taesd_layer;

typedef struct rv_taesd {
    rv_taesd_config cfg;
    rv_params params;
    rv_gpu *gpu;
    rv_taesd_layer *enc, *dec;   /* encoder.layers, decoder.layers (Sequential indices) */
    int nenc, ndec;
} rv_taesd;

rv_status rv_taesd_create(rv_taesd **out, const rv_taesd_config *cfg, rv_error *err);
rv_status rv_taesd_load(rv_taesd **out, rv_gpu *gpu, const char *dir, const char *variant, rv_bind_report *report,
                        rv_error *err);
rv_status rv_taesd_bind(rv_taesd *t, rv_gpu *gpu, const rv_safetensors *st, uint64_t seed, const char *where,
                        rv_bind_report *report, rv_error *err);
void rv_taesd_destroy(rv_taesd *t);
/* Latent pixels per side: 2^(encoder stages - 1). */
uint32_t rv_taesd_scale(const rv_taesd *t);

typedef struct rv_taesd_plan {
    rv_ae_mode mode;
    uint32_t batch, h, w;        /* the input's size: image (encode) or latent (decode) */
    uint32_t oh, ow;             /* the output's */
    rv_slots slots;
    rv_gpu *gpu;
} rv_taesd_plan;

rv_status rv_taesd_plan_create(const rv_taesd *t, rv_gpu *gpu, rv_ae_mode mode, uint32_t batch, uint32_t h,
                               uint32_t w, rv_taesd_plan **out, rv_error *err);
void rv_taesd_plan_destroy(rv_taesd_plan *plan);

/* Encode: in [B][3][h][w] image in [-1,1] -> out [B][latent][oh][ow] pipeline latents.
 * Decode: in [B][latent][h][w] pipeline latents -> out [B][3][oh][ow] image in about [-1,1]. */
void rv_taesd_forward(rv_cmd *cmd, const rv_taesd *t, rv_taesd_plan *plan, const rv_tensor *out,
                      const rv_tensor *in);

#endif
