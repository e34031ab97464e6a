/* Push-constant structs, declared once for C and GLSL. Every shader's push
 * block is { uint boff[RV_PC_BINDINGS]; <op struct> p; }: boff[i] is the
 * element offset of binding i inside its (alignment-rounded) descriptor range.
 * Only 32-bit scalars here, so C and std430 layouts agree. */
#ifndef RV_PC_H
#define RV_PC_H

#define RV_PC_BINDINGS 6

#ifndef VULKAN
#include <stdint.h>
typedef uint32_t uint;
#endif

/* unary op codes */
#define RV_UNARY_COPY 0
#define RV_UNARY_SCALE 1     /* x*alpha + beta */
#define RV_UNARY_RELU 2
#define RV_UNARY_SILU 3
#define RV_UNARY_GELU 4      /* erf form */
#define RV_UNARY_GELU_QUICK 5
#define RV_UNARY_TANH 6
#define RV_UNARY_SOFTCLAMP 7 /* 3 tanh(x*alpha + beta): TAESD's clamp of its latent input */
#define RV_UNARY_COUNT 8

/* binary op codes */
#define RV_BINARY_ADD 0
#define RV_BINARY_SUB 1
#define RV_BINARY_MUL 2
#define RV_BINARY_COUNT 3

/* gemm/conv flags */
#define RV_GEMM_BIAS_M 1u    /* bias indexed by row m (conv: output channel) */
#define RV_GEMM_BIAS_N 2u    /* bias indexed by column n (linear layers) */
#define RV_GEMM_RESIDUAL 4u  /* add binding 3 (same layout as C) */
#define RV_GEMM_RELU 8u      /* max(0, .) after bias and residual (conv only) */

/* C[b](m,n) = alpha * sum_k A[b](m,k) B[b](k,n) + bias + residual.
 * Bindings: 0 A, 1 B, 2 bias, 3 residual, 4 C. Element strides are free, so
 * transposes are strides. Conv variant: A is the weight [M][K], B is the
 * image [b][Cin][H][W] gathered by implicit im2col. */
struct rv_pc_gemm {
    uint M, N, K, batch;
    uint sam, sak, sab;
    uint sbk, sbn, sbb;
    uint scm, scn, scb;
    uint flags;
    float alpha;
    /* conv only */
    uint cin, h, w, oh, ow;
    uint kh, kw, stride, pad;
};

/* O = softmax(scale * Q K^T [+causal mask]) V per (batch, head).
 * Bindings: 0 Q, 1 K, 2 V, 3 O. Layout [b][token][...] with row strides,
 * head h starting at h*D within a row. */
struct rv_pc_attn {
    uint Lq, Lk, D, heads, batch;
    uint sq_tok, sq_b, sk_tok, sk_b, sv_tok, sv_b, so_tok, so_b;
    uint causal;
    float scale;
};

/* Group norm over [b][C][HW] (groups of C/G channels), or layer norm over
 * rows of C (G = 0). Bindings: 0 x, 1 gamma, 2 beta, 3 y. */
struct rv_pc_norm {
    uint rows, C, HW, G;
    uint silu;
    float eps;
};

/* Bindings: 0 x, 1 y. vec: n % 4 == 0 and both offsets 4-aligned, so an
 * invocation handles four elements with vec4 loads. */
struct rv_pc_unary {
    uint n, op;
    float alpha, beta;
    uint vec;
};

/* out[i0][i1][i2][i3] = a[...] op b[...]; broadcasting by zero strides.
 * Bindings: 0 a, 1 b, 2 out (contiguous). */
struct rv_pc_binary {
    uint ne0, ne1, ne2, ne3;
    uint sa0, sa1, sa2, sa3;
    uint sb0, sb1, sb2, sb3;
    uint op;
    float alpha;             /* out = (a op b) * alpha */
    uint vec;                /* all contiguous, 4-aligned, count % 4 == 0: vec4 path */
};

/* GEGLU: x [rows][2F] -> y [rows][F], y = x[:, :F] * gelu(x[:, F:]).
 * Bindings: 0 x, 1 y. */
struct rv_pc_geglu {
    uint rows, F;
};

/* Nearest 2x upsample of [planes][h][w]. Bindings: 0 x, 1 y. */
struct rv_pc_upsample {
    uint planes, h, w;
};

/* Channel concat: out [b][ca+cb][hw] from a [b][ca][hw], b [b][cb][hw].
 * Bindings: 0 a, 1 b, 2 out. */
struct rv_pc_concat {
    uint batch, ca, cb, hw;
};

/* Sinusoidal timestep embedding as diffusers' get_timestep_embedding.
 * Bindings: 0 timesteps (float32 [batch]), 1 out [batch][dim]. */
struct rv_pc_temb {
    uint batch, dim, flip;
    float shift, max_period, scale;
};

/* Float image [b][3][h][w] -> packed RGBA8 [b][h][w]: v = x*scale + bias,
 * clamped to [0,1], rounded. Bindings: 0 x, 1 out (uint). */
struct rv_pc_rgba {
    uint batch, h, w;
    float scale, bias;
};

/* Embedding rows: out[r] = table[ids[r] - first] where first <= ids[r] <
 * first + count. Bindings: 0 ids (float32 [rows], integral), 1 table chunk
 * [count][dim], 2 out [rows][dim]. */
struct rv_pc_embed {
    uint rows, dim, first, count;
};

/* Nearest resize [planes][h][w] -> [planes][oh][ow]; sh = h/oh, sw = w/ow
 * (float32, as PyTorch computes them). Bindings: 0 x, 1 y. */
struct rv_pc_resize {
    uint planes, h, w, oh, ow;
    float sh, sw;
};

/* Zero pad [planes][h][w] into [planes][oh][ow] at (top, left).
 * Bindings: 0 x, 1 y. */
struct rv_pc_pad {
    uint planes, h, w, oh, ow, top, left;
};

/* Row softmax of x*scale over rows of n. Bindings: 0 x, 1 y. */
struct rv_pc_softmax {
    uint rows, n;
    float scale;
};

/* Affine warp of [planes][h][w]: output pixel centre (px, py) samples the
 * input bilinearly at q = (m00 px + m01 py + ox, m10 px + m11 py + oy), edge
 * pixels replicated. Bindings: 0 x, 1 y. */
struct rv_pc_warp {
    uint planes, h, w, pad0;
    float m00, m01, m10, m11, ox, oy;
};

/* Non-finite check: flags[slot] |= 0x3f800000 (1.0f) when any of x's n
 * elements is NaN or Inf. Bindings: 0 x, 1 flags (32-bit words). */
struct rv_pc_finite {
    uint n, slot;
};

#endif
