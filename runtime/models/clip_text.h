/* CLIPTextModel (transformers) on the GPU: token + position embedding,
 * causal pre-norm transformer layers, final layer norm, clip skip, pooled
 * output. Built from a CLIPTextConfig; weights bound by their transformers
 * names (text_model.embeddings..., text_model.encoder.layers.N...,
 * text_model.final_layer_norm). Not the tokenizer (tokenizer.h), not the
 * projection heads. */
#ifndef RV_CLIP_TEXT_H
#define RV_CLIP_TEXT_H

#include <stdbool.h>
#include <stdint.h>

#include "rv_gpu.h"
#include "loader/diffusers.h"
#include "models/nn.h"
#include "models/params.h"

/* The token table is split into chunks of at most this many bytes in fp32,
 * so each is one storage binding on any Vulkan device (the guaranteed
 * maxStorageBufferRange is 128 MiB; SD 2.x's table is 202 MB in fp32). */
#define RV_EMBED_CHUNK_BYTES (64ull << 20)
#define RV_MAX_EMBED_CHUNKS 64

typedef struct rv_clip_layer {
    rv_norm layer_norm1;          /* [D] */
    rv_attn self_attn;            /* q/k/v_proj [D][D] + bias, out_proj */
    rv_norm layer_norm2;          /* [D] */
    rv_linear fc1;                /* mlp.fc1 [I][D] */
    rv_linear fc2;                /* mlp.fc2 [D][I] */
} rv_clip_layer;

typedef struct rv_clip_text {
    rv_clip_text_config cfg;
    rv_params params;
    rv_gpu *gpu;                  /* NULL until weights are bound */
    rv_tensor token_embedding[RV_MAX_EMBED_CHUNKS]; /* [vocab][D], in row chunks */
    uint32_t chunk_rows;
    int nchunks;
    rv_tensor position_embedding; /* [max_pos][D] */
    rv_clip_layer *layers;        /* [num_hidden_layers] */
    rv_norm final_layer_norm;     /* [D] */
} rv_clip_text;

/* Builds the module tree from a config (no device needed: parameter counts). */
rv_status rv_clip_text_create(rv_clip_text **out, const rv_clip_text_config *cfg, rv_error *err);
/* Reads `dir`/config.json, builds, binds `dir`'s safetensors weights on the
 * device. `report` (may be NULL) lists every bad tensor by name. */
rv_status rv_clip_text_load(rv_clip_text **out, rv_gpu *gpu, const char *dir, rv_bind_report *report, rv_error *err);
/* Binds weights from an open checkpoint, or seeded random weights when st is NULL. */
rv_status rv_clip_text_bind(rv_clip_text *te, rv_gpu *gpu, const rv_safetensors *st, uint64_t seed,
                            const char *where, rv_bind_report *report, rv_error *err);
void rv_clip_text_destroy(rv_clip_text *te);

/* The token each batch row pools (pooler_output), as transformers picks it:
 * the first EOS, or with the old eos_token_id 2 the first largest id. */
void rv_clip_text_pool_positions(const rv_clip_text *te, const int32_t *ids, uint32_t batch, uint32_t seq,
                                 uint32_t *pos);

/* Activations for one (batch, sequence length), allocated once. */
typedef struct rv_clip_text_plan {
    uint32_t batch, seq;
    rv_slots slots;
    rv_gpu *gpu;
} rv_clip_text_plan;

/* gpu NULL: sizing only (rv_slots_bytes gives the memory a plan needs). */
rv_status rv_clip_text_plan_create(const rv_clip_text *te, rv_gpu *gpu, uint32_t batch, uint32_t seq,
                                   rv_clip_text_plan **out, rv_error *err);
void rv_clip_text_plan_destroy(rv_clip_text_plan *plan);

typedef struct rv_clip_text_args {
    const rv_tensor *ids;         /* float32 [batch][seq] token ids (integral values) */
    uint32_t clip_skip;           /* diffusers' clip_skip: stop that many layers early (<= layers) */
    bool no_final_norm;           /* output the raw hidden state (hidden_states[N - clip_skip]) */
    const rv_tensor *pooled;      /* optional out [batch][D]: the output row at pool_pos */
    const uint32_t *pool_pos;     /* host [batch], from rv_clip_text_pool_positions */
} rv_clip_text_args;

/* Records the forward: out [batch][seq][D]. */
void rv_clip_text_forward(rv_cmd *cmd, const rv_clip_text *te, rv_clip_text_plan *plan, const rv_tensor *out,
                          const rv_clip_text_args *a);

#endif
