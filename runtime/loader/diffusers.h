/* Hugging Face diffusers folders: model_index.json, each component's
 * config.json parsed into a plain config struct (every key the architectures
 * need, diffusers' defaults for absent ones, clear errors naming file and key,
 * and refusal of options that would change the maths), and the location of
 * a component's safetensors weights. Not the modules: runtime/models builds
 * those from these structs. */
#ifndef RV_DIFFUSERS_H
#define RV_DIFFUSERS_H

#include <stdbool.h>
#include <stdint.h>

#include "rv_status.h"

#define RV_MAX_BLOCKS 8
#define RV_MAX_COMPONENTS 16
/* Sizes a config may give, checked at parse time so that nothing later
 * wraps around in 32-bit arithmetic (a message about the wrong key) and
 * every refusal names the file and the key. Far above any real model:
 * SD's widest layer has 1,280 channels, its latent 128 pixels a side. */
#define RV_CFG_MAX_CHANNELS 65536u      /* any channel, hidden or embedding width */
#define RV_CFG_MAX_LAYERS_PER_BLOCK 7u  /* RV_UNET_MAX_LAYERS / RV_VAE_MAX_LAYERS - 1 */
#define RV_CFG_MAX_TRANSFORMER_LAYERS 64u
#define RV_CFG_MAX_CLIP_LAYERS 256u
#define RV_CFG_MAX_POSITIONS 65536u
#define RV_CFG_MAX_KERNEL 15u
#define RV_CFG_MAX_UNET_SAMPLE 2048u    /* latent pixels a side (16,384 image pixels at scale 8) */
#define RV_CFG_MAX_VAE_SAMPLE 16384u    /* image pixels a side */

typedef enum rv_act {
    RV_ACT_SILU = 0,
    RV_ACT_GELU,        /* erf form */
    RV_ACT_QUICK_GELU,  /* x * sigmoid(1.702 x), CLIP ViT-L */
    RV_ACT_RELU,
} rv_act;

const char *rv_act_name(rv_act a);

/* ---- model_index.json ---- */

typedef struct rv_component {
    char name[64];        /* folder name: "unet", "vae", "vae_tiny" */
    char library[64];     /* "diffusers", "transformers" */
    char class_name[96];  /* "UNet2DConditionModel" */
} rv_component;

typedef struct rv_model_index {
    char class_name[96];  /* the pipeline: "StableDiffusionPipeline" */
    int count;
    rv_component comp[RV_MAX_COMPONENTS];
} rv_model_index;

/* Reads `dir`/model_index.json; components whose class is null are left out. */
rv_status rv_model_index_load(rv_model_index *idx, const char *dir, rv_error *err);
/* The same from JSON text; `name` stands for the file in messages. */
rv_status rv_model_index_parse(rv_model_index *idx, const char *json, const char *name, rv_error *err);
/* The first component of that class, or NULL. */
const rv_component *rv_model_index_find(const rv_model_index *idx, const char *class_name);

/* ---- CLIPTextModel (transformers CLIPTextConfig) ---- */

typedef struct rv_clip_text_config {
    uint32_t vocab_size;
    uint32_t hidden_size;
    uint32_t intermediate_size;
    uint32_t num_hidden_layers;
    uint32_t num_attention_heads;
    uint32_t max_position_embeddings;
    rv_act hidden_act;                /* quick_gelu or gelu */
    float layer_norm_eps;
    int64_t eos_token_id;             /* 2 in old configs: the pooled token is the largest id */
} rv_clip_text_config;

/* ---- UNet2DConditionModel (SD 1.x / 2.x family) ---- */

typedef struct rv_unet_config {
    uint32_t in_channels, out_channels;
    bool center_input_sample;
    bool flip_sin_to_cos;
    float freq_shift;
    int nblocks;
    bool down_attn[RV_MAX_BLOCKS];        /* CrossAttnDownBlock2D (else DownBlock2D) */
    bool up_attn[RV_MAX_BLOCKS];          /* CrossAttnUpBlock2D (else UpBlock2D), up-path order */
    uint32_t block_out_channels[RV_MAX_BLOCKS];
    uint32_t layers_per_block[RV_MAX_BLOCKS];
    uint32_t transformer_layers[RV_MAX_BLOCKS];
    /* diffusers' attention_head_dim: for this family it is the number of
     * heads per down block (head width = channels / heads); the mid block
     * takes the last entry and up block i the reversed list's entry i. */
    uint32_t heads[RV_MAX_BLOCKS];
    uint32_t cross_attention_dim[RV_MAX_BLOCKS];
    uint32_t downsample_padding;
    float mid_block_scale_factor;
    float resnet_out_scale_factor;
    uint32_t norm_num_groups;
    float norm_eps;
    bool use_linear_projection;
    bool upcast_attention;                /* fp16 softmax concern only: attention runs in fp32 here */
    uint32_t time_embedding_dim;          /* block_out_channels[0] * 4 unless given */
    uint32_t time_cond_proj_dim;          /* 0 = none (LCM-distilled UNets have 256) */
    bool time_embedding_act;              /* time_embedding_act_fn "silu" */
    bool timestep_post_act;               /* timestep_post_act "silu" */
    uint32_t conv_in_kernel, conv_out_kernel;
    uint32_t sample_size;
} rv_unet_config;

/* ---- AutoencoderKL ---- */

typedef struct rv_vae_config {
    uint32_t in_channels, out_channels, latent_channels;
    int nblocks;
    uint32_t block_out_channels[RV_MAX_BLOCKS];
    uint32_t layers_per_block;
    uint32_t norm_num_groups;
    float scaling_factor;                 /* 0.18215 when absent */
    float shift_factor;                   /* 0 when absent or null */
    bool use_quant_conv, use_post_quant_conv;
    bool mid_block_add_attention;
    bool force_upcast;
    uint32_t sample_size;
} rv_vae_config;

/* ---- AutoencoderTiny (TAESD) ---- */

typedef struct rv_taesd_config {
    uint32_t in_channels, out_channels, latent_channels;
    int n_enc, n_dec;
    uint32_t enc_channels[RV_MAX_BLOCKS], dec_channels[RV_MAX_BLOCKS];
    uint32_t enc_blocks[RV_MAX_BLOCKS], dec_blocks[RV_MAX_BLOCKS];
    rv_act act;                            /* relu (TAESD), silu or gelu */
    uint32_t upsampling_scaling_factor;    /* 2 */
    float scaling_factor, shift_factor;
    float latent_magnitude, latent_shift;  /* byte packing only, not the pipelines' maths */
} rv_taesd_config;

/* Each parser reads `dir`/config.json. The *_parse forms take JSON text and
 * the name to use in messages (tests of malformed configs). */
rv_status rv_clip_text_config_load(rv_clip_text_config *cfg, const char *dir, rv_error *err);
rv_status rv_clip_text_config_parse(rv_clip_text_config *cfg, const char *json, const char *name, rv_error *err);
rv_status rv_unet_config_load(rv_unet_config *cfg, const char *dir, rv_error *err);
rv_status rv_unet_config_parse(rv_unet_config *cfg, const char *json, const char *name, rv_error *err);
rv_status rv_vae_config_load(rv_vae_config *cfg, const char *dir, rv_error *err);
rv_status rv_vae_config_parse(rv_vae_config *cfg, const char *json, const char *name, rv_error *err);
rv_status rv_taesd_config_load(rv_taesd_config *cfg, const char *dir, rv_error *err);
rv_status rv_taesd_config_parse(rv_taesd_config *cfg, const char *json, const char *name, rv_error *err);

/* The class a component's config.json names (_class_name, or transformers'
 * architectures[0]) into `out`; RV_ERR_FORMAT when it names none. */
rv_status rv_config_class_name(const char *dir, char *out, size_t cap, rv_error *err);

/* Path of a component's weights: `dir`/diffusion_pytorch_model[.variant].safetensors,
 * model[.variant].safetensors, or the sharded `*.safetensors.index.json` of
 * either (variant NULL = none). RV_ERR_IO naming what was looked for. */
rv_status rv_diffusers_weights_path(const char *dir, const char *variant, char *out, size_t cap, rv_error *err);

typedef struct rv_safetensors rv_safetensors;

/* A component's checkpoint (rv_diffusers_weights_path, then opened), for its
 * loader to bind. With REVERIE_RANDOM_WEIGHTS=SEED in the environment no
 * checkpoint is read: *st is NULL and *seed is what to fill every weight
 * with (SEED a number, else 1; `salt` tells the components apart), for
 * timing real architectures whose weights are not at hand, such as an
 * SD-Turbo-shaped folder made by tools/make_random_model.sh (the pictures are
 * noise). Otherwise *seed is 0. */
rv_status rv_diffusers_open_weights(const char *dir, const char *variant, uint64_t salt, rv_safetensors **st,
                                    uint64_t *seed, rv_error *err);

#endif
