/* The tensor op library: each function records one op (one or a few
 * dispatches) into a command buffer. Sizes are checked against the tensors;
 * a bad call sets the gpu's sticky error (rv_gpu_error) and records nothing.
 * Layouts are PyTorch's: NCHW images, [rows][features] matrices. The
 * storage type (fp16 or fp32) is the output tensor's; inputs must match. */
#ifndef RV_OPS_H
#define RV_OPS_H

#include "rv_gpu.h"
#include "rv_pc.h"

typedef enum rv_op {
    RV_OP_GEMM,
    RV_OP_CONV2D,
    RV_OP_ATTENTION,
    RV_OP_GROUP_NORM,
    RV_OP_LAYER_NORM,
    RV_OP_UNARY,
    RV_OP_BINARY,
    RV_OP_GEGLU,
    RV_OP_UPSAMPLE2X,
    RV_OP_CONCAT,
    RV_OP_TIMESTEP_EMBED,
    RV_OP_TO_RGBA8,
    RV_OP_EMBEDDING,
    RV_OP_RESIZE_NEAREST,
    RV_OP_PAD2D,
    RV_OP_SOFTMAX,
    RV_OP_WARP,
    RV_OP_CHECK_FINITE,
    RV_OP_COUNT
} rv_op;

extern const char *const rv_op_names[RV_OP_COUNT];

typedef struct rv_gemm_desc {
    uint32_t M, N, K;
    uint32_t batch;          /* 0 = 1 */
    bool trans_a;            /* A stored [K][M] instead of [M][K] */
    bool trans_b;            /* B stored [N][K] (a linear layer's weight) instead of [K][N] */
    bool bias_per_m;         /* bias indexed by row instead of column */
    bool shared_b;           /* one B for every batch entry */
    bool shared_a;           /* one A for every batch entry (a weight applied to a batch of images) */
    float alpha;             /* 0 = 1 */
} rv_gemm_desc;

/* c[b] = alpha * a[b] @ b[b] (+ bias) (+ residual); c is [batch][M][N].
 * bias and residual may be NULL; residual has c's layout. */
void rv_op_gemm(rv_cmd *cmd, const rv_tensor *c, const rv_tensor *a, const rv_tensor *b,
                const rv_tensor *bias, const rv_tensor *residual, const rv_gemm_desc *d);
/* out [rows][n_out] = in [rows][n_in] @ weight[n_out][n_in]^T + bias (+ residual). */
void rv_op_linear(rv_cmd *cmd, const rv_tensor *out, const rv_tensor *in, const rv_tensor *weight,
                  const rv_tensor *bias, const rv_tensor *residual, uint32_t rows, uint32_t n_in, uint32_t n_out);

typedef struct rv_conv_desc {
    uint32_t batch, cin, h, w, cout;
    uint32_t kh, kw;         /* 0 = 1 */
    uint32_t stride;         /* 0 = 1 */
    uint32_t pad;
    bool relu;               /* max(0, .) of the result (after bias and residual) */
} rv_conv_desc;
void rv_conv_out_size(const rv_conv_desc *d, uint32_t *oh, uint32_t *ow);
/* out [batch][cout][oh][ow] = conv(in [batch][cin][h][w], weight [cout][cin][kh][kw]) + bias (+ residual),
 * then max(0, .) with relu. */
void rv_op_conv2d(rv_cmd *cmd, const rv_tensor *out, const rv_tensor *in, const rv_tensor *weight,
                  const rv_tensor *bias, const rv_tensor *residual, const rv_conv_desc *d);

/* The conv above applied to x upsampled 2x (nearest) without writing the
 * upsampled tensor: in is [batch][cin][h][w] before upsampling, out
 * [batch][cout][2h][2w]; 3x3 kernels, stride 1, padding 1, no residual.
 * Only where a kernel for it exists (CPU devices, w a multiple of 4, cin of
 * 4): returns false, dispatching nothing, otherwise, and the caller
 * upsamples and convolves. */
bool rv_op_conv2d_up2(rv_cmd *cmd, const rv_tensor *out, const rv_tensor *in, const rv_tensor *weight,
                      const rv_tensor *bias, const rv_conv_desc *d);

/* y [rows][F] = GEGLU(x W^T + bias) with W [2F][n_in]: the first F outputs
 * times GELU(the last F), as diffusers' FeedForward, without writing the 2F
 * projection. Only where a kernel for it exists (CPU devices, n_in and F
 * multiples of 4): returns false, dispatching nothing, otherwise, and the
 * caller runs the linear layer and rv_op_geglu. */
bool rv_op_linear_geglu(rv_cmd *cmd, const rv_tensor *y, const rv_tensor *x, const rv_tensor *weight,
                        const rv_tensor *bias, uint32_t rows, uint32_t n_in, uint32_t F);

typedef struct rv_attn_desc {
    uint32_t batch, heads, lq, lk, dim;   /* dim = per-head size */
    /* elements between consecutive tokens; 0 = heads*dim (packed [b][L][heads*dim]) */
    uint32_t q_stride, k_stride, v_stride, o_stride;
    bool causal;
    float scale;             /* 0 = 1/sqrt(dim) */
} rv_attn_desc;
/* Whether the attention op reads d's Q, K and V rows (strided or packed) on
 * the texel kernel of CPU devices; where it does not, a small attention runs
 * faster on packed rows. */
bool rv_op_attention_texel(const rv_cmd *cmd, const rv_attn_desc *d);
/* Multi-head attention, heads interleaved in rows as diffusers lays them out. */
void rv_op_attention(rv_cmd *cmd, const rv_tensor *out, const rv_tensor *q, const rv_tensor *k,
                     const rv_tensor *v, const rv_attn_desc *d);

void rv_op_group_norm(rv_cmd *cmd, const rv_tensor *y, const rv_tensor *x, const rv_tensor *gamma,
                      const rv_tensor *beta, uint32_t batch, uint32_t C, uint32_t HW, uint32_t groups,
                      float eps, bool silu);
void rv_op_layer_norm(rv_cmd *cmd, const rv_tensor *y, const rv_tensor *x, const rv_tensor *gamma,
                      const rv_tensor *beta, uint32_t rows, uint32_t C, float eps);

/* y = f(x) elementwise over x->count elements; op is RV_UNARY_*. */
void rv_op_unary(rv_cmd *cmd, const rv_tensor *y, const rv_tensor *x, int op, float alpha, float beta);

/* out (contiguous ne[0..3]) = (a op b) * alpha; sa/sb are element strides
 * per dimension, 0 to broadcast. op is RV_BINARY_*; alpha 0 = 1. */
void rv_op_binary(rv_cmd *cmd, const rv_tensor *out, const rv_tensor *a, const rv_tensor *b, int op,
                  const uint32_t ne[4], const uint32_t sa[4], const uint32_t sb[4], float alpha);
/* Same-shape convenience forms. */
void rv_op_add(rv_cmd *cmd, const rv_tensor *out, const rv_tensor *a, const rv_tensor *b);
void rv_op_mul(rv_cmd *cmd, const rv_tensor *out, const rv_tensor *a, const rv_tensor *b);

void rv_op_geglu(rv_cmd *cmd, const rv_tensor *y, const rv_tensor *x, uint32_t rows, uint32_t F);
void rv_op_upsample2x(rv_cmd *cmd, const rv_tensor *y, const rv_tensor *x, uint32_t planes, uint32_t h, uint32_t w);
void rv_op_concat(rv_cmd *cmd, const rv_tensor *out, const rv_tensor *a, const rv_tensor *b, uint32_t batch,
                  uint32_t ca, uint32_t cb, uint32_t hw);
/* timesteps: float32 [batch]; out [batch][dim]. */
void rv_op_timestep_embedding(rv_cmd *cmd, const rv_tensor *out, const rv_tensor *timesteps, uint32_t batch,
                              uint32_t dim, bool flip_sin_to_cos, float freq_shift, float scale, float max_period);
/* x [batch][3][h][w] -> out RGBA8 [batch][h][w]; value = clamp(x*scale + bias). */
void rv_op_to_rgba8(rv_cmd *cmd, const rv_tensor *out, const rv_tensor *x, uint32_t batch, uint32_t h, uint32_t w,
                    float scale, float bias);

/* out [rows][dim] = table[ids[r] - first] for rows whose id is in [first,
 * first + table_rows); other rows are untouched. ids is a float32 tensor of
 * integral values (exact below 2^24). A table larger than one storage binding
 * is gathered by one call per chunk. */
void rv_op_embedding(rv_cmd *cmd, const rv_tensor *out, const rv_tensor *ids, const rv_tensor *table,
                     uint32_t rows, uint32_t dim, uint32_t first, uint32_t table_rows);
/* Nearest resize [planes][h][w] -> [planes][oh][ow] with PyTorch's
 * F.interpolate(size=...) index rule. */
void rv_op_resize_nearest(rv_cmd *cmd, const rv_tensor *y, const rv_tensor *x, uint32_t planes, uint32_t h,
                          uint32_t w, uint32_t oh, uint32_t ow);
/* Zero pad [planes][h][w] into [planes][oh][ow], the input at (top, left). */
void rv_op_pad2d(rv_cmd *cmd, const rv_tensor *y, const rv_tensor *x, uint32_t planes, uint32_t h, uint32_t w,
                 uint32_t oh, uint32_t ow, uint32_t top, uint32_t left);
/* y [rows][n] = softmax(x * scale) along each row. */
void rv_op_softmax(rv_cmd *cmd, const rv_tensor *y, const rv_tensor *x, uint32_t rows, uint32_t n, float scale);
/* Affine warp of [planes][h][w] into a tensor of the same shape: output
 * pixel centre p = (j + 0.5, i + 0.5) takes the bilinear sample of x at
 * q = minv p + off (pixel units, edges replicated). minv is row-major 2x2. */
void rv_op_warp(rv_cmd *cmd, const rv_tensor *y, const rv_tensor *x, uint32_t planes, uint32_t h, uint32_t w,
                const float minv[4], const float off[2]);
/* flags[slot] becomes nonzero (the bits of 1.0f, OR-ed in) when any element
 * of x (fp32 or fp16) is NaN or Inf; it is left as it was otherwise, so the
 * caller zeroes the flags (once per frame, say) and several checks may
 * share a slot. flags is a small RV_F32 tensor read back as float or as
 * 32-bit words. The engine reports a latent that turned non-finite this way,
 * naming the stage whose slot is set. */
void rv_op_check_finite(rv_cmd *cmd, const rv_tensor *flags, const rv_tensor *x, uint32_t slot);

#endif
