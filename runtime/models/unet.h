/* UNet2DConditionModel of the Stable Diffusion 1.x/2.x family on the GPU:
 * timestep embedding, ResnetBlock2D with time embedding, Transformer2DModel
 * (conv or linear projections) of BasicTransformerBlocks (self-attention,
 * cross-attention, GEGLU feed-forward), down/mid/up blocks, any batch and
 * latent size (odd sizes upsample to the skip's size). The module tree
 * mirrors the diffusers state-dict names and is built from config only.
 * Not SDXL's added conditioning, not ControlNet. */
#ifndef RV_UNET_H
#define RV_UNET_H

#include <stdbool.h>
#include <stdint.h>

#include "rv_gpu.h"
#include "loader/diffusers.h"
#include "models/nn.h"
#include "models/params.h"

#define RV_UNET_MAX_LAYERS 8     /* resnets per block (up blocks have layers_per_block + 1) */

typedef struct rv_transformer_block {   /* BasicTransformerBlock */
    rv_norm norm1, norm2, norm3;        /* LayerNorm(inner) */
    rv_attn attn1;                      /* self */
    rv_attn attn2;                      /* cross, over the text embeddings */
    rv_linear ff_proj;                  /* ff.net.0.proj [8*inner][inner] (GEGLU: value, gate) */
    rv_linear ff_out;                   /* ff.net.2 [inner][4*inner] */
} rv_transformer_block;

typedef struct rv_transformer2d {       /* Transformer2DModel */
    rv_norm norm;                       /* GroupNorm(C), eps 1e-6 */
    rv_linear proj_in;                  /* [inner][C] (conv form: [inner][C][1][1]) */
    rv_transformer_block *blocks;       /* transformer_blocks.N */
    uint32_t nblocks;
    rv_linear proj_out;                 /* [C][inner] (conv form: [C][inner][1][1]) */
    uint32_t C, inner, heads;
} rv_transformer2d;

typedef struct rv_unet_block {          /* Cross/Down/Up block */
    rv_resnet resnets[RV_UNET_MAX_LAYERS];
    rv_transformer2d attentions[RV_UNET_MAX_LAYERS];
    rv_conv sampler;                    /* downsamplers.0.conv / upsamplers.0.conv */
    uint32_t nlayers;
    bool has_attn, has_sampler;
} rv_unet_block;

typedef struct rv_unet {
    rv_unet_config cfg;
    rv_params params;
    rv_gpu *gpu;                        /* NULL until weights are bound */
    rv_conv conv_in;
    rv_linear cond_proj;                /* time_embedding.cond_proj (time_cond_proj_dim) */
    rv_linear time_linear_1;            /* time_embedding.linear_1 [T][C0] */
    rv_linear time_linear_2;            /* time_embedding.linear_2 [T][T] */
    rv_unet_block down[RV_MAX_BLOCKS];
    rv_unet_block mid;                  /* resnets.0, attentions.0, resnets.1 */
    rv_unet_block up[RV_MAX_BLOCKS];
    rv_norm conv_norm_out;
    rv_conv conv_out;
    int nskips;                         /* skip tensors the down path keeps */
} rv_unet;

rv_status rv_unet_create(rv_unet **out, const rv_unet_config *cfg, rv_error *err);
rv_status rv_unet_load(rv_unet **out, rv_gpu *gpu, const char *dir, const char *variant, rv_bind_report *report,
                       rv_error *err);
/* Checkpoint weights, or seeded random weights when st is NULL. */
rv_status rv_unet_bind(rv_unet *u, rv_gpu *gpu, const rv_safetensors *st, uint64_t seed, const char *where,
                       rv_bind_report *report, rv_error *err);
void rv_unet_destroy(rv_unet *u);

/* Activations for one (batch, latent height, width, text tokens). */
#define RV_UNET_TIME_KEPT 4        /* time projections kept (a few-step schedule's timesteps) */
typedef struct rv_unet_plan {
    uint32_t batch, h, w, seq;
    rv_slots slots;
    rv_gpu *gpu;
    /* projections kept across forwards, by rv_unet_args' keys (0: none) */
    uint64_t kv_key;                      /* the context whose cross-attention K/V are kept */
    uint64_t t_key[RV_UNET_TIME_KEPT];    /* the timesteps whose time projections are kept */
    uint64_t t_used[RV_UNET_TIME_KEPT], t_clock;
    uint64_t t_entry;                     /* elements of one kept time entry */
} rv_unet_plan;

/* gpu NULL: sizing only. */
rv_status rv_unet_plan_create(const rv_unet *u, rv_gpu *gpu, uint32_t batch, uint32_t h, uint32_t w, uint32_t seq,
                              rv_unet_plan **out, rv_error *err);
void rv_unet_plan_destroy(rv_unet_plan *plan);

typedef struct rv_unet_args {
    const rv_tensor *sample;            /* [B][in_channels][h][w] */
    const rv_tensor *timesteps;         /* float32 [B] (per-sample timesteps) */
    const rv_tensor *context;           /* encoder_hidden_states [B][seq][cross_attention_dim] */
    const rv_tensor *timestep_cond;     /* [B][time_cond_proj_dim], when the config has one */
    /* Inputs that repeat across forwards (a frame loop's prompt and
     * schedule): nonzero keys name their contents, and the plan keeps what
     * the forward projects from them (the cross-attention K/V; every
     * resnet's time projection). A forward whose key matches the kept one
     * records none of that work. Equal keys must mean equal contents
     * (time_key covers timesteps and timestep_cond); 0: nothing kept. */
    uint64_t context_key, time_key;
} rv_unet_args;

/* Records the forward: out [B][out_channels][h][w]. Work on one plan runs
 * in recording order (one queue), so a forward recorded after the one that
 * keeps a projection reads it. */
void rv_unet_forward(rv_cmd *cmd, const rv_unet *u, rv_unet_plan *plan, const rv_tensor *out, const rv_unet_args *a);
/* Drops what the plan keeps (after a recorded forward that never ran, or failed). */
void rv_unet_plan_forget(rv_unet_plan *plan);

#endif
