/* Layers shared by the model graphs (CLIP text, UNet, VAE, TAESD): module
 * structs named as in the state dicts, their registration with the
 * parameter list, and their forward recording; plus activation slots, the
 * buffers a plan allocates once. Internal to runtime/models, not a general
 * layer library: only what the Stable Diffusion family uses.
 *
 * Every forward runs twice per plan: once with cmd == NULL (the sizing
 * pass, which only records how large each slot must be) and then for real.
 * So shapes are worked out in one place, the forward code. */
#ifndef RV_NN_H
#define RV_NN_H

#include <stdbool.h>
#include <stdint.h>

#include "rv_gpu.h"
#include "rv_ops.h"
#include "models/params.h"

/* ---- modules ---- */

typedef struct rv_linear {
    rv_tensor weight;        /* [out][in] */
    rv_tensor bias;          /* [out] (when has_bias) */
    uint32_t in, out;
    bool has_bias;
} rv_linear;

typedef struct rv_conv {
    rv_tensor weight;        /* [cout][cin][k][k] */
    rv_tensor bias;          /* [cout] (when has_bias) */
    uint32_t cin, cout, k, stride, pad;
    bool has_bias;
} rv_conv;

typedef struct rv_norm {     /* GroupNorm (groups > 0) or LayerNorm (groups == 0) */
    rv_tensor weight;        /* [C] */
    rv_tensor bias;          /* [C] */
    uint32_t C, groups;
    float eps;
} rv_norm;

/* diffusers Attention / CLIPAttention: the Q, K, V projections are stored
 * fused on the device (one GEMM): self-attention as qkv [3*inner][dim],
 * cross-attention as q [inner][dim] and kv [2*inner][kv_dim]. */
typedef struct rv_attn {
    rv_tensor w_qkv, b_qkv;  /* self: [3*inner][dim], [3*inner] */
    rv_tensor w_q, b_q;      /* cross: [inner][dim], [inner] */
    rv_tensor w_kv, b_kv;    /* cross: [2*inner][kv_dim], [2*inner] */
    rv_linear out;           /* to_out.0 / out_proj: [dim][inner] */
    uint32_t dim, kv_dim, heads, head_dim, inner;
    bool cross, qkv_bias;
} rv_attn;

/* diffusers ResnetBlock2D (time_embedding_norm "default"). */
typedef struct rv_resnet {
    rv_norm norm1;           /* GroupNorm(cin) */
    rv_conv conv1;           /* 3x3 cin -> cout */
    rv_linear time_emb_proj; /* temb -> cout (when has_temb) */
    rv_norm norm2;           /* GroupNorm(cout) */
    rv_conv conv2;           /* 3x3 cout -> cout */
    rv_conv conv_shortcut;   /* 1x1 cin -> cout (when cin != cout) */
    uint32_t cin, cout;
    bool has_temb, has_shortcut;
    float out_scale;         /* output_scale_factor */
} rv_resnet;

/* Names of an attention module's four projections (diffusers or CLIP). */
typedef struct rv_attn_names {
    const char *q, *k, *v, *out;
} rv_attn_names;
extern const rv_attn_names rv_attn_names_diffusers; /* to_q, to_k, to_v, to_out.0 */
extern const rv_attn_names rv_attn_names_clip;      /* q_proj, k_proj, v_proj, out_proj */

void nn_linear_init(rv_params *p, rv_linear *l, uint32_t in, uint32_t out, bool bias, const char *prefix);
void nn_conv_init(rv_params *p, rv_conv *c, uint32_t cin, uint32_t cout, uint32_t k, uint32_t stride, uint32_t pad,
                  bool bias, const char *prefix);
void nn_norm_init(rv_params *p, rv_norm *n, uint32_t C, uint32_t groups, float eps, const char *prefix);
/* kv_dim 0 = self-attention. */
void nn_attn_init(rv_params *p, rv_attn *a, uint32_t dim, uint32_t kv_dim, uint32_t heads, uint32_t head_dim,
                  bool qkv_bias, const rv_attn_names *names, const char *prefix);
/* temb 0 = no time embedding (the VAE form). */
void nn_resnet_init(rv_params *p, rv_resnet *r, uint32_t cin, uint32_t cout, uint32_t temb, uint32_t groups,
                    float eps, float out_scale, const char *prefix);

/* ---- activation slots ---- */

#define RV_MAX_SLOTS 128

typedef struct rv_slots {
    int n;
    uint64_t need[RV_MAX_SLOTS];     /* elements, from the sizing pass */
    rv_tensor t[RV_MAX_SLOTS];
    bool allocated;
} rv_slots;

/* Allocates every slot the sizing pass asked for, in `dtype`. A slot over
 * the device's storage binding limit is RV_ERR_DEVICE_MEMORY naming `where`. */
rv_status rv_slots_alloc(rv_slots *s, rv_gpu *gpu, rv_dtype dtype, const char *where, rv_error *err);
void rv_slots_free(rv_slots *s, rv_gpu *gpu);
uint64_t rv_slots_bytes(const rv_slots *s, rv_dtype dtype);

/* ---- recording context ---- */

typedef struct rv_nn {
    rv_cmd *cmd;             /* NULL: sizing pass */
    rv_slots *slots;
    int score_slot;          /* scores of the explicit attention path */
    bool explicit_attention; /* force it (tests) */
} rv_nn;

/* Elements of slot `id` (a view of `count`); the sizing pass records the need. */
rv_tensor nn_slot(rv_nn *nn, int id, uint64_t count);
/* Elements [first, first + count) of slot `id`: parts of one slot that live
 * side by side (caches kept across forwards); the sizing pass records the
 * need. */
rv_tensor nn_slot_part(rv_nn *nn, int id, uint64_t first, uint64_t count);
/* A view of part of a tensor (a no-op on sizing-pass dummies). */
rv_tensor nn_view(const rv_tensor *t, uint64_t first, uint64_t count);
void nn_stage(rv_nn *nn, const char *name);

/* ---- forward pieces (outputs first, sizes last) ---- */

void nn_linear(rv_nn *nn, const rv_tensor *out, const rv_tensor *in, const rv_linear *l, const rv_tensor *residual,
               uint32_t rows);
/* Returns the output size through oh/ow (may be NULL). */
void nn_conv(rv_nn *nn, const rv_tensor *out, const rv_tensor *in, const rv_conv *c, const rv_tensor *residual,
             uint32_t batch, uint32_t h, uint32_t w, uint32_t *oh, uint32_t *ow);
/* the same, then max(0, .) in the conv's epilogue when relu (no separate pass) */
void nn_conv_relu(rv_nn *nn, const rv_tensor *out, const rv_tensor *in, const rv_conv *c, const rv_tensor *residual,
                  uint32_t batch, uint32_t h, uint32_t w, uint32_t *oh, uint32_t *ow, bool relu);
void nn_group_norm(rv_nn *nn, const rv_tensor *y, const rv_tensor *x, const rv_norm *n, uint32_t batch, uint32_t hw,
                   bool silu);
void nn_layer_norm(rv_nn *nn, const rv_tensor *y, const rv_tensor *x, const rv_norm *n, uint32_t rows);
void nn_unary(rv_nn *nn, const rv_tensor *y, const rv_tensor *x, int op, float alpha, float beta);

/* Multi-head attention over packed or strided token rows (rv_attn_desc);
 * head widths beyond the flash kernel take the explicit path (scores in
 * nn->score_slot, one head and packed rows only). */
void nn_attention(rv_nn *nn, const rv_tensor *out, const rv_tensor *q, const rv_tensor *k, const rv_tensor *v,
                  const rv_attn_desc *d);

/* Self-attention of token rows x [batch][L][dim] -> out = x + attn(x) when
 * residual is x (or no residual when NULL). Slots: qkv, att. */
void nn_self_attention(rv_nn *nn, const rv_tensor *out, const rv_tensor *x, const rv_attn *a,
                       const rv_tensor *residual, uint32_t batch, uint32_t L, bool causal, int slot_qkv, int slot_att);
/* Where a projection of inputs that repeat across forwards (the text's K
 * and V, the time embedding's) is kept: NULL `at`, a scratch slot each
 * time; otherwise `at`, and `ready` says it already holds this forward's. */
typedef struct nn_kept {
    const rv_tensor *at;
    bool ready;
} nn_kept;

/* Cross-attention of x [batch][L][dim] over ctx [batch][S][kv_dim]; K and
 * V ([batch][S][2*inner]) go to kv->at when given (kv may be NULL). */
void nn_cross_attention(rv_nn *nn, const rv_tensor *out, const rv_tensor *x, const rv_tensor *ctx, const rv_attn *a,
                        const rv_tensor *residual, uint32_t batch, uint32_t L, uint32_t S, int slot_q, int slot_kv,
                        int slot_att, const nn_kept *kv);

typedef struct rv_resnet_slots {
    int norm, h, shortcut, temb;
} rv_resnet_slots;
/* A resnet's time input: act = silu(time embedding) [batch][temb]; its
 * projection goes where `proj` says (with batch 1 it holds the projection
 * plus conv1's bias, and conv1 takes it as its bias: no separate add). */
typedef struct nn_time {
    const rv_tensor *act;
    nn_kept proj;
} nn_time;
/* out [batch][cout][h][w] = resnet(x); t NULL: no time embedding. out must
 * not alias x. */
void nn_resnet(rv_nn *nn, const rv_tensor *out, const rv_tensor *x, const rv_resnet *r, const nn_time *t,
               uint32_t batch, uint32_t h, uint32_t w, const rv_resnet_slots *s);

/* Builds "prefix.name" into buf. */
const char *nn_name(char *buf, size_t cap, const char *prefix, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
