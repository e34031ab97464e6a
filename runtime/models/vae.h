/* AutoencoderKL (the Stable Diffusion VAE) on the GPU: encoder (image in
 * [-1,1] -> the posterior mean, scaled to pipeline latents) and decoder
 * (pipeline latents -> image), with the single-head mid-block attention.
 * Built from its diffusers config with diffusers' names (older
 * query/key/value/proj_attn checkpoints are renamed by the binder). Not
 * tiling, not sampling from the posterior. */
#ifndef RV_VAE_H
#define RV_VAE_H

#include <stdbool.h>
#include <stdint.h>

#include "rv_gpu.h"
#include "loader/diffusers.h"
#include "models/nn.h"
#include "models/params.h"
#include "models/taesd.h"   /* rv_ae_mode */

#define RV_VAE_MAX_LAYERS 8

typedef struct rv_vae_mid {      /* UNetMidBlock2D as the VAE uses it */
    rv_resnet resnets[2];
    rv_norm group_norm;          /* attentions.0.group_norm */
    rv_attn attn;                /* attentions.0: one head, width C, biased q/k/v */
    bool has_attn;
} rv_vae_mid;

typedef struct rv_vae_block {    /* DownEncoderBlock2D / UpDecoderBlock2D */
    rv_resnet resnets[RV_VAE_MAX_LAYERS];
    rv_conv sampler;             /* downsamplers.0.conv (stride 2 after a (0,1,0,1) pad) / upsamplers.0.conv */
    uint32_t nlayers;
    bool has_sampler;
} rv_vae_block;

typedef struct rv_vae {
    rv_vae_config cfg;
    rv_params params;
    rv_gpu *gpu;
    /* encoder.* */
    rv_conv enc_conv_in;
    rv_vae_block enc_down[RV_MAX_BLOCKS];
    rv_vae_mid enc_mid;
    rv_norm enc_norm_out;
    rv_conv enc_conv_out;        /* -> 2 * latent channels (mean, logvar) */
    rv_conv quant_conv;          /* 1x1, 2L -> 2L */
    rv_conv post_quant_conv;     /* 1x1, L -> L */
    /* decoder.* */
    rv_conv dec_conv_in;
    rv_vae_mid dec_mid;
    rv_vae_block dec_up[RV_MAX_BLOCKS];
    rv_norm dec_norm_out;
    rv_conv dec_conv_out;
} rv_vae;

rv_status rv_vae_create(rv_vae **out, const rv_vae_config *cfg, rv_error *err);
rv_status rv_vae_load(rv_vae **out, rv_gpu *gpu, const char *dir, const char *variant, rv_bind_report *report,
                      rv_error *err);
rv_status rv_vae_bind(rv_vae *v, rv_gpu *gpu, const rv_safetensors *st, uint64_t seed, const char *where,
                      rv_bind_report *report, rv_error *err);
void rv_vae_destroy(rv_vae *v);
/* Pixels per latent along each axis: 2^(blocks - 1). */
uint32_t rv_vae_scale(const rv_vae *v);

typedef struct rv_vae_plan {
    rv_ae_mode mode;
    uint32_t batch, h, w;        /* the input's size: image (encode) or latent (decode) */
    uint32_t oh, ow;             /* the output's */
    rv_slots slots;
    rv_gpu *gpu;
    bool explicit_attention;     /* the non-flash mid-block attention path even where flash would do */
} rv_vae_plan;

/* gpu NULL: sizing only. */
rv_status rv_vae_plan_create(const rv_vae *v, rv_gpu *gpu, rv_ae_mode mode, uint32_t batch, uint32_t h, uint32_t w,
                             rv_vae_plan **out, rv_error *err);
/* The same, optionally forcing the explicit attention path (tests it on small models). */
rv_status rv_vae_plan_create_opts(const rv_vae *v, rv_gpu *gpu, rv_ae_mode mode, uint32_t batch, uint32_t h,
                                  uint32_t w, bool explicit_attention, rv_vae_plan **out, rv_error *err);
void rv_vae_plan_destroy(rv_vae_plan *plan);

/* Decode: in [B][L][h][w] pipeline latents -> out [B][3][8h][8w] raw image (about [-1,1]).
 * Encode: in [B][3][h][w] image in [-1,1] -> out [B][L][h/8][w/8] pipeline latents
 * ((mean - shift_factor) * scaling_factor); mean and logvar (may be NULL)
 * receive the posterior's unscaled mean and its log-variance (not clamped). */
void rv_vae_forward(rv_cmd *cmd, const rv_vae *v, rv_vae_plan *plan, const rv_tensor *out, const rv_tensor *in,
                    const rv_tensor *mean, const rv_tensor *logvar);

#endif
