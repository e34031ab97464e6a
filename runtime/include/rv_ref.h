/* Plain-C reference implementations of every GPU op, in float32 storage with
 * double accumulation. They define what the shaders must compute; they are
 * for tests and benchmarks, not a fast CPU backend. Outputs first, sizes last. */
#ifndef RV_REF_H
#define RV_REF_H

#include <stdbool.h>
#include <stdint.h>

/* c[b][M][N] = alpha * a[b] @ b[b] + bias + residual (see rv_gemm_desc for the flags). */
void rv_ref_gemm(float *c, const float *a, const float *b, const float *bias, const float *residual,
                 uint32_t M, uint32_t N, uint32_t K, uint32_t batch, bool trans_a, bool trans_b,
                 bool bias_per_m, bool shared_b, float alpha);
void rv_ref_conv2d(float *out, const float *in, const float *weight, const float *bias, const float *residual,
                   uint32_t batch, uint32_t cin, uint32_t h, uint32_t w, uint32_t cout, uint32_t kh, uint32_t kw,
                   uint32_t stride, uint32_t pad);
/* Packed [b][L][heads*dim] unless strides are given (elements per token). */
void rv_ref_attention(float *out, const float *q, const float *k, const float *v, uint32_t batch, uint32_t heads,
                      uint32_t lq, uint32_t lk, uint32_t dim, uint32_t q_stride, uint32_t k_stride,
                      uint32_t v_stride, uint32_t o_stride, bool causal, float scale);
void rv_ref_group_norm(float *y, const float *x, const float *gamma, const float *beta, uint32_t batch, uint32_t C,
                       uint32_t HW, uint32_t groups, float eps, bool silu);
void rv_ref_layer_norm(float *y, const float *x, const float *gamma, const float *beta, uint32_t rows, uint32_t C,
                       float eps);
float rv_ref_unary1(int op, float x, float alpha, float beta);
void rv_ref_unary(float *y, const float *x, uint64_t n, int op, float alpha, float beta);
void rv_ref_binary(float *out, const float *a, const float *b, int op, const uint32_t ne[4], const uint32_t sa[4],
                   const uint32_t sb[4], float alpha);
void rv_ref_geglu(float *y, const float *x, uint32_t rows, uint32_t F);
void rv_ref_upsample2x(float *y, const float *x, uint32_t planes, uint32_t h, uint32_t w);
void rv_ref_concat(float *out, const float *a, const float *b, uint32_t batch, uint32_t ca, uint32_t cb, uint32_t hw);
void rv_ref_timestep_embedding(float *out, const float *t, uint32_t batch, uint32_t dim, bool flip, float shift,
                               float scale, float max_period);
void rv_ref_to_rgba8(uint32_t *out, const float *x, uint32_t batch, uint32_t h, uint32_t w, float scale, float bias);
/* ids are float32 holding integers; rows with ids outside [first, first+table_rows) are left as they are. */
void rv_ref_embedding(float *out, const float *ids, const float *table, uint32_t rows, uint32_t dim, uint32_t first,
                      uint32_t table_rows);
void rv_ref_resize_nearest(float *y, const float *x, uint32_t planes, uint32_t h, uint32_t w, uint32_t oh,
                           uint32_t ow);
void rv_ref_pad2d(float *y, const float *x, uint32_t planes, uint32_t h, uint32_t w, uint32_t oh, uint32_t ow,
                  uint32_t top, uint32_t left);
void rv_ref_softmax(float *y, const float *x, uint32_t rows, uint32_t n, float scale);
/* rv_op_warp's arithmetic (bilinear at q = minv p + off, edges replicated). */
void rv_ref_warp(float *y, const float *x, uint32_t planes, uint32_t h, uint32_t w, const float minv[4],
                 const float off[2]);
/* flags[slot] = 1 when any of x[0..n) is NaN or Inf (else unchanged). */
void rv_ref_check_finite(float *flags, const float *x, uint64_t n, uint32_t slot);

#endif
