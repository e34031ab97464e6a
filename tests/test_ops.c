/* Op tests in the manner of ggml's test-backend-ops: a table of cases (odd,
 * non-multiple-of-tile and large shapes), seeded inputs, GPU against the CPU
 * reference by NMSE with a threshold per op, NaN/Inf checks, and guard
 * regions around every output to catch out-of-bounds writes. Each case runs
 * in fp32 and, where the device has 16-bit storage, fp16.
 * Usage: test_ops [filter-substring] */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rv_gpu.h"
#include "rv_ops.h"
#include "rv_ref.h"
#include "rv_test.h"
#include "util/half.h"

/* Guard elements before and after each output: odd for even cases, so
 * outputs sit at unaligned offsets; a multiple of 8 for odd ones, so the
 * aligned (vec4) paths run too. */
static uint32_t GUARD = 37u;
#define SENTINEL (-1000.0f)

typedef struct op_case {
    rv_op op;
    uint32_t p[10];
    float f[3];
} op_case;

static rv_gpu *gpu;
static rv_cmd *cmd;
static op_case cases[512];
static int ncases;
static int run_total, run_pass;

static void add(rv_op op, const uint32_t *p, int np, float f0, float f1, float f2)
{
    op_case c = {.op = op, .f = {f0, f1, f2}};
    for (int i = 0; i < np; i++)
        c.p[i] = p[i];
    cases[ncases++] = c;
}
#define ADD(op, f0, f1, f2, ...) do { uint32_t p_[] = {__VA_ARGS__}; add(op, p_, (int)(sizeof(p_) / 4), f0, f1, f2); } while (0)

/* ---- random inputs, rounded to the storage type so the CPU sees the same values ---- */

static uint64_t rng;
static float frand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

static float *rand_vec(size_t n, float scale, rv_dtype t)
{
    float *v = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        v[i] = frand() * scale;
        if (t == RV_F16)
            v[i] = rv_f16_to_f32(rv_f32_to_f16(v[i]));
    }
    return v;
}

/* ---- device tensors ---- */

typedef struct dev {
    rv_tensor all, view;
    size_t n;
} dev;

static dev upload(const float *v, size_t n, rv_dtype t)
{
    dev d = {.n = n};
    rv_error err = {0};
    if (rv_tensor_alloc(gpu, &d.all, t, n, &err) || rv_tensor_upload(gpu, &d.all, v, &err))
        fprintf(stderr, "upload: %s\n", err.msg);
    d.view = d.all;
    return d;
}

/* An output with GUARD sentinel elements on both sides. */
static dev output(size_t n, rv_dtype t)
{
    dev d = {.n = n};
    rv_error err = {0};
    size_t total = n + 2 * GUARD;
    float *fill = malloc(total * sizeof(float));
    for (size_t i = 0; i < total; i++)
        fill[i] = SENTINEL;
    if (rv_tensor_alloc(gpu, &d.all, t, total, &err))
        fprintf(stderr, "alloc: %s\n", err.msg);
    if (t == RV_U8X4)
        memset(fill, 0xAB, total * sizeof(float));
    rv_tensor_upload(gpu, &d.all, fill, &err);
    free(fill);
    d.view = rv_tensor_view(&d.all, GUARD, n);
    return d;
}

/* Downloads an output; returns false if a guard element changed. */
static bool fetch(dev *d, float *out)
{
    rv_error err = {0};
    size_t total = d->n + 2 * GUARD;
    float *all = malloc(total * sizeof(float));
    if (rv_tensor_download(gpu, &d->all, all, &err))
        fprintf(stderr, "download: %s\n", err.msg);
    bool ok = true;
    for (size_t i = 0; i < GUARD; i++) {
        float lo = all[i], hi = all[GUARD + d->n + i];
        if (d->all.dtype == RV_U8X4) {
            uint32_t wl, wh;
            memcpy(&wl, &lo, 4);
            memcpy(&wh, &hi, 4);
            ok = ok && wl == 0xABABABABu && wh == 0xABABABABu;
        } else {
            ok = ok && lo == SENTINEL && hi == SENTINEL;
        }
    }
    memcpy(out, all + GUARD, d->n * sizeof(float));
    free(all);
    return ok;
}

static void release(dev *d) { rv_tensor_free(gpu, &d->all); }

/* ---- one case ---- */

static double thresholds[RV_OP_COUNT][2] = {
    /* {fp32, fp16} NMSE limits; fp16 outputs carry ~2^-11 relative rounding */
    [RV_OP_GEMM] = {1e-6, 1e-5},
    [RV_OP_CONV2D] = {1e-6, 1e-5},
    [RV_OP_ATTENTION] = {1e-6, 1e-5},
    [RV_OP_GROUP_NORM] = {1e-7, 1e-5},
    [RV_OP_LAYER_NORM] = {1e-7, 1e-5},
    [RV_OP_UNARY] = {1e-7, 1e-5},
    [RV_OP_BINARY] = {1e-7, 1e-5},
    [RV_OP_GEGLU] = {1e-7, 1e-5},
    [RV_OP_UPSAMPLE2X] = {0, 0},
    [RV_OP_CONCAT] = {0, 0},
    [RV_OP_TIMESTEP_EMBED] = {1e-7, 1e-5},
    [RV_OP_TO_RGBA8] = {0, 0},
    [RV_OP_EMBEDDING] = {0, 0},
    [RV_OP_RESIZE_NEAREST] = {0, 0},
    [RV_OP_PAD2D] = {0, 0},
    [RV_OP_SOFTMAX] = {1e-7, 1e-5},
    [RV_OP_CHECK_FINITE] = {0, 0},
};

static const char *unary_names[] = {"copy", "scale", "relu", "silu", "gelu", "gelu_quick", "tanh", "softclamp"};
static const char *binary_names[] = {"add", "sub", "mul"};
_Static_assert(sizeof(unary_names) / sizeof(unary_names[0]) == RV_UNARY_COUNT, "a name per unary op");
_Static_assert(sizeof(binary_names) / sizeof(binary_names[0]) == RV_BINARY_COUNT, "a name per binary op");

static void describe(const op_case *c, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s", rv_op_names[c->op]);
    if (c->op == RV_OP_UNARY)
        n += snprintf(buf + n, cap - (size_t)n, ":%s", unary_names[c->p[0]]);
    if (c->op == RV_OP_BINARY)
        n += snprintf(buf + n, cap - (size_t)n, ":%s", binary_names[c->p[0]]);
    if (c->op == RV_OP_CONV2D && c->f[0] != 0.0f)
        n += snprintf(buf + n, cap - (size_t)n, ":relu");
    if (c->op == RV_OP_GEGLU && c->f[0] != 0.0f)
        n += snprintf(buf + n, cap - (size_t)n, ":linear");
    if (c->op == RV_OP_CONV2D && c->f[1] != 0.0f)
        n += snprintf(buf + n, cap - (size_t)n, ":up2");
    n += snprintf(buf + n, cap - (size_t)n, "(");
    for (int i = 0; i < 10; i++)
        n += snprintf(buf + n, cap - (size_t)n, i ? ",%u" : "%u", c->p[i]);
    snprintf(buf + n, cap - (size_t)n, ")");
}

/* Records and runs the op on the GPU, computes the reference, compares. */
static void run_case(const op_case *c, rv_dtype t)
{
    const uint32_t *p = c->p;
    float *ref = NULL, *got = NULL;
    dev in[4], out;
    memset(in, 0, sizeof(in));
    memset(&out, 0, sizeof(out));
    for (int i = 0; i < 4; i++)
        in[i].all.block = in[i].view.block = UINT32_MAX;
    out.all.block = UINT32_MAX;
    float *h[4] = {0};
    size_t nout = 0;
    rv_error err = {0};
    rng = 0x9E3779B97F4A7C15ull ^ ((uint64_t)(c - cases) * 0x100000001B3ull);
    GUARD = (c - cases) % 2 ? 40u : 37u;

    rv_cmd_begin(cmd, &err);
    switch (c->op) {
    case RV_OP_GEMM: { /* M N K batch ta tb bias(0 none,1 m,2 n) residual shared_b alpha*100 */
        uint32_t M = p[0], N = p[1], K = p[2], B = p[3];
        bool sh_b = p[8] & 1, sh_a = p[8] & 2; /* p[8]: bit 0 shared B, bit 1 shared A */
        size_t na = (size_t)(sh_a ? 1 : B) * M * K, nb = (size_t)(sh_b ? 1 : B) * K * N;
        nout = (size_t)B * M * N;
        h[0] = rand_vec(na, 1.0f, t);
        h[1] = rand_vec(nb, 1.0f, t);
        h[2] = rand_vec(p[6] == 1 ? M : N, 1.0f, t);
        h[3] = rand_vec(nout, 1.0f, t);
        for (int i = 0; i < 4; i++)
            in[i] = upload(h[i], i == 0 ? na : i == 1 ? nb : i == 2 ? (p[6] == 1 ? M : N) : nout, t);
        out = output(nout, t);
        rv_gemm_desc d = {.M = M, .N = N, .K = K, .batch = B, .trans_a = p[4], .trans_b = p[5],
                          .bias_per_m = p[6] == 1, .shared_b = sh_b, .shared_a = sh_a, .alpha = p[9] / 100.0f};
        rv_op_gemm(cmd, &out.view, &in[0].view, &in[1].view, p[6] ? &in[2].view : NULL, p[7] ? &in[3].view : NULL, &d);
        ref = malloc(nout * sizeof(float));
        float *a_all = h[0];
        if (sh_a) { /* the reference takes one A per batch entry */
            a_all = malloc((size_t)B * M * K * sizeof(float));
            for (uint32_t z = 0; z < B; z++)
                memcpy(a_all + (size_t)z * M * K, h[0], (size_t)M * K * sizeof(float));
        }
        rv_ref_gemm(ref, a_all, h[1], p[6] ? h[2] : NULL, p[7] ? h[3] : NULL, M, N, K, B, p[4], p[5], p[6] == 1, sh_b,
                    p[9] / 100.0f);
        if (a_all != h[0])
            free(a_all);
        break;
    }
    case RV_OP_CONV2D: { /* batch cin h w cout k stride pad bias residual; f0: relu; f1: input upsampled 2x first */
        rv_conv_desc d = {.batch = p[0], .cin = p[1], .h = p[2], .w = p[3], .cout = p[4], .kh = p[5], .kw = p[5],
                          .stride = p[6], .pad = p[7], .relu = c->f[0] != 0.0f};
        const bool up = c->f[1] != 0.0f; /* rv_op_conv2d_up2: d.h, d.w are the size before upsampling */
        rv_conv_desc dc = d;            /* the conv as it sees its input */
        if (up) {
            dc.h *= 2;
            dc.w *= 2;
        }
        uint32_t oh, ow;
        rv_conv_out_size(&dc, &oh, &ow);
        size_t ni = (size_t)p[0] * p[1] * p[2] * p[3], nw = (size_t)p[4] * p[1] * p[5] * p[5];
        nout = (size_t)p[0] * p[4] * oh * ow;
        h[0] = rand_vec(ni, 1.0f, t);
        h[1] = rand_vec(nw, 1.0f / sqrtf((float)(p[1] * p[5] * p[5])), t);
        h[2] = rand_vec(p[4], 1.0f, t);
        h[3] = rand_vec(nout, 1.0f, t);
        in[0] = upload(h[0], ni, t);
        in[1] = upload(h[1], nw, t);
        in[2] = upload(h[2], p[4], t);
        out = output(nout, t);
        const rv_tensor *bias = p[8] ? &in[2].view : NULL;
        float *x = h[0];
        if (up) {
            size_t nu = ni * 4;
            x = malloc(nu * sizeof(float));
            rv_ref_upsample2x(x, h[0], p[0] * p[1], p[2], p[3]);
            /* where the device has no kernel for it: upsampled on the host, then the plain conv */
            if (!rv_op_conv2d_up2(cmd, &out.view, &in[0].view, &in[1].view, bias, &d)) {
                in[3] = upload(x, nu, t);
                rv_op_conv2d(cmd, &out.view, &in[3].view, &in[1].view, bias, NULL, &dc);
            }
        } else {
            in[3] = upload(h[3], nout, t);
            rv_op_conv2d(cmd, &out.view, &in[0].view, &in[1].view, bias, p[9] ? &in[3].view : NULL, &d);
        }
        ref = malloc(nout * sizeof(float));
        rv_ref_conv2d(ref, x, h[1], p[8] ? h[2] : NULL, p[9] && !up ? h[3] : NULL, p[0], p[1], dc.h, dc.w, p[4], p[5],
                      p[5], p[6], p[7]);
        if (x != h[0])
            free(x);
        if (d.relu)
            for (size_t i = 0; i < nout; i++)
                ref[i] = ref[i] > 0.0f ? ref[i] : 0.0f;
        break;
    }
    case RV_OP_ATTENTION: { /* batch heads lq lk dim causal extra_stride(q,k,v: tokens padded by this) */
        uint32_t B = p[0], H = p[1], lq = p[2], lk = p[3], D = p[4], pad = p[6];
        uint32_t row = H * D, s = row + pad;
        size_t nq = (size_t)B * lq * s, nk = (size_t)B * lk * s;
        nout = (size_t)B * lq * row;
        h[0] = rand_vec(nq, 1.0f, t);
        h[1] = rand_vec(nk, 1.0f, t);
        h[2] = rand_vec(nk, 1.0f, t);
        for (int i = 0; i < 3; i++)
            in[i] = upload(h[i], i ? nk : nq, t);
        out = output(nout, t);
        rv_attn_desc d = {.batch = B, .heads = H, .lq = lq, .lk = lk, .dim = D, .q_stride = s, .k_stride = s,
                          .v_stride = s, .causal = p[5], .scale = c->f[0]};
        rv_op_attention(cmd, &out.view, &in[0].view, &in[1].view, &in[2].view, &d);
        ref = malloc(nout * sizeof(float));
        rv_ref_attention(ref, h[0], h[1], h[2], B, H, lq, lk, D, s, s, s, 0, p[5], c->f[0]);
        break;
    }
    case RV_OP_GROUP_NORM:
    case RV_OP_LAYER_NORM: { /* group: batch C HW G silu; layer: rows C */
        bool group = c->op == RV_OP_GROUP_NORM;
        uint32_t C = p[1];
        nout = group ? (size_t)p[0] * C * p[2] : (size_t)p[0] * C;
        h[0] = rand_vec(nout, 2.0f, t);
        for (size_t i = 0; i < nout; i++) /* an offset mean, as real activations have */
            h[0][i] += c->f[1];
        h[1] = rand_vec(C, 1.0f, t);
        h[2] = rand_vec(C, 1.0f, t);
        if (t == RV_F16)
            for (size_t i = 0; i < nout; i++)
                h[0][i] = rv_f16_to_f32(rv_f32_to_f16(h[0][i]));
        in[0] = upload(h[0], nout, t);
        in[1] = upload(h[1], C, t);
        in[2] = upload(h[2], C, t);
        out = output(nout, t);
        ref = malloc(nout * sizeof(float));
        float eps = c->f[0];
        if (group) {
            rv_op_group_norm(cmd, &out.view, &in[0].view, &in[1].view, &in[2].view, p[0], C, p[2], p[3], eps, p[4]);
            rv_ref_group_norm(ref, h[0], h[1], h[2], p[0], C, p[2], p[3], eps, p[4]);
        } else {
            rv_op_layer_norm(cmd, &out.view, &in[0].view, &in[1].view, &in[2].view, p[0], C, eps);
            rv_ref_layer_norm(ref, h[0], h[1], h[2], p[0], C, eps);
        }
        break;
    }
    case RV_OP_UNARY: { /* op n; f: range alpha beta */
        nout = p[1];
        h[0] = rand_vec(nout, c->f[0], t);
        in[0] = upload(h[0], nout, t);
        out = output(nout, t);
        rv_op_unary(cmd, &out.view, &in[0].view, (int)p[0], c->f[1], c->f[2]);
        ref = malloc(nout * sizeof(float));
        rv_ref_unary(ref, h[0], nout, (int)p[0], c->f[1], c->f[2]);
        break;
    }
    case RV_OP_BINARY: { /* op ne0..3, bcast mask for b (bit i: dim i broadcast) */
        uint32_t ne[4] = {p[1], p[2], p[3], p[4]}, sa[4], sb[4];
        uint32_t acc = 1, accb = 1;
        for (int i = 3; i >= 0; i--) {
            sa[i] = acc;
            acc *= ne[i];
            bool bc = (p[5] >> i) & 1;
            sb[i] = bc ? 0 : accb;
            accb *= bc ? 1 : ne[i];
        }
        nout = acc;
        h[0] = rand_vec(acc, 1.0f, t);
        h[1] = rand_vec(accb, 1.0f, t);
        in[0] = upload(h[0], acc, t);
        in[1] = upload(h[1], accb, t);
        out = output(nout, t);
        rv_op_binary(cmd, &out.view, &in[0].view, &in[1].view, (int)p[0], ne, sa, sb, c->f[0]);
        ref = malloc(nout * sizeof(float));
        rv_ref_binary(ref, h[0], h[1], (int)p[0], ne, sa, sb, c->f[0]);
        break;
    }
    case RV_OP_GEGLU: { /* rows F; f0: the linear layer before it fused (rv_op_linear_geglu), p[2] its inputs */
        nout = (size_t)p[0] * p[1];
        ref = malloc(nout * sizeof(float));
        if (c->f[0] != 0.0f) {
            const uint32_t rows = p[0], F = p[1], K = p[2];
            h[0] = rand_vec((size_t)rows * K, 1.0f, t);
            h[1] = rand_vec(2ull * F * K, 1.0f / sqrtf((float)K), t);
            h[2] = rand_vec(2ull * F, 1.0f, t);
            in[0] = upload(h[0], (size_t)rows * K, t);
            in[1] = upload(h[1], 2ull * F * K, t);
            in[2] = upload(h[2], 2ull * F, t);
            out = output(nout, t);
            if (!rv_op_linear_geglu(cmd, &out.view, &in[0].view, &in[1].view, &in[2].view, rows, K, F)) {
                in[3] = output(2 * nout, t); /* no fused kernel here: the linear layer, then GEGLU */
                rv_op_linear(cmd, &in[3].view, &in[0].view, &in[1].view, &in[2].view, NULL, rows, K, 2 * F);
                rv_op_geglu(cmd, &out.view, &in[3].view, rows, F);
            }
            float *ff = malloc(2 * nout * sizeof(float));
            rv_ref_gemm(ff, h[0], h[1], h[2], NULL, rows, 2 * F, K, 1, false, true, false, true, 1.0f);
            rv_ref_geglu(ref, ff, rows, F);
            free(ff);
            break;
        }
        h[0] = rand_vec(2 * nout, 3.0f, t);
        in[0] = upload(h[0], 2 * nout, t);
        out = output(nout, t);
        rv_op_geglu(cmd, &out.view, &in[0].view, p[0], p[1]);
        rv_ref_geglu(ref, h[0], p[0], p[1]);
        break;
    }
    case RV_OP_UPSAMPLE2X: {
        size_t n = (size_t)p[0] * p[1] * p[2];
        nout = 4 * n;
        h[0] = rand_vec(n, 1.0f, t);
        in[0] = upload(h[0], n, t);
        out = output(nout, t);
        rv_op_upsample2x(cmd, &out.view, &in[0].view, p[0], p[1], p[2]);
        ref = malloc(nout * sizeof(float));
        rv_ref_upsample2x(ref, h[0], p[0], p[1], p[2]);
        break;
    }
    case RV_OP_CONCAT: {
        size_t na = (size_t)p[0] * p[1] * p[3], nb = (size_t)p[0] * p[2] * p[3];
        nout = na + nb;
        h[0] = rand_vec(na, 1.0f, t);
        h[1] = rand_vec(nb, 1.0f, t);
        in[0] = upload(h[0], na, t);
        in[1] = upload(h[1], nb, t);
        out = output(nout, t);
        rv_op_concat(cmd, &out.view, &in[0].view, &in[1].view, p[0], p[1], p[2], p[3]);
        ref = malloc(nout * sizeof(float));
        rv_ref_concat(ref, h[0], h[1], p[0], p[1], p[2], p[3]);
        break;
    }
    case RV_OP_TIMESTEP_EMBED: { /* batch dim flip shift*10; f: t0 */
        nout = (size_t)p[0] * p[1];
        h[0] = malloc(p[0] * sizeof(float));
        for (uint32_t i = 0; i < p[0]; i++)
            h[0][i] = c->f[0] - 250.5f * (float)i;
        in[0] = upload(h[0], p[0], RV_F32);
        out = output(nout, t);
        rv_op_timestep_embedding(cmd, &out.view, &in[0].view, p[0], p[1], p[2], (float)p[3] / 10.0f, 1.0f, 10000.0f);
        ref = malloc(nout * sizeof(float));
        rv_ref_timestep_embedding(ref, h[0], p[0], p[1], p[2], (float)p[3] / 10.0f, 1.0f, 10000.0f);
        break;
    }
    case RV_OP_TO_RGBA8: { /* batch h w */
        size_t px = (size_t)p[0] * p[1] * p[2];
        nout = px;
        h[0] = rand_vec(3 * px, 1.3f, t);
        in[0] = upload(h[0], 3 * px, t);
        out = output(px, RV_U8X4);
        rv_op_to_rgba8(cmd, &out.view, &in[0].view, p[0], p[1], p[2], 0.5f, 0.5f);
        ref = malloc(px * sizeof(float));
        rv_ref_to_rgba8((uint32_t *)ref, h[0], p[0], p[1], p[2], 0.5f, 0.5f);
        break;
    }
    case RV_OP_EMBEDDING: { /* rows dim vocab first table_rows: ids drawn from [0, vocab) */
        uint32_t rows = p[0], D = p[1], V = p[2], first = p[3], tr = p[4];
        nout = (size_t)rows * D;
        h[0] = malloc(rows * sizeof(float));
        for (uint32_t r = 0; r < rows; r++)
            h[0][r] = (float)((uint32_t)((frand() + 1.0f) * 0.5f * (float)V) % V);
        h[1] = rand_vec((size_t)tr * D, 1.0f, t);
        in[0] = upload(h[0], rows, RV_F32);
        in[1] = upload(h[1], (size_t)tr * D, t);
        out = output(nout, t);
        ref = malloc(nout * sizeof(float));
        for (size_t i = 0; i < nout; i++) /* rows outside the chunk keep the sentinel */
            ref[i] = SENTINEL;
        rv_op_embedding(cmd, &out.view, &in[0].view, &in[1].view, rows, D, first, tr);
        rv_ref_embedding(ref, h[0], h[1], rows, D, first, tr);
        break;
    }
    case RV_OP_RESIZE_NEAREST: { /* planes h w oh ow */
        size_t n = (size_t)p[0] * p[1] * p[2];
        nout = (size_t)p[0] * p[3] * p[4];
        h[0] = rand_vec(n, 1.0f, t);
        in[0] = upload(h[0], n, t);
        out = output(nout, t);
        rv_op_resize_nearest(cmd, &out.view, &in[0].view, p[0], p[1], p[2], p[3], p[4]);
        ref = malloc(nout * sizeof(float));
        rv_ref_resize_nearest(ref, h[0], p[0], p[1], p[2], p[3], p[4]);
        break;
    }
    case RV_OP_PAD2D: { /* planes h w oh ow top left */
        size_t n = (size_t)p[0] * p[1] * p[2];
        nout = (size_t)p[0] * p[3] * p[4];
        h[0] = rand_vec(n, 1.0f, t);
        in[0] = upload(h[0], n, t);
        out = output(nout, t);
        rv_op_pad2d(cmd, &out.view, &in[0].view, p[0], p[1], p[2], p[3], p[4], p[5], p[6]);
        ref = malloc(nout * sizeof(float));
        rv_ref_pad2d(ref, h[0], p[0], p[1], p[2], p[3], p[4], p[5], p[6]);
        break;
    }
    case RV_OP_SOFTMAX: { /* rows n; f0 scale, f1 input range */
        nout = (size_t)p[0] * p[1];
        h[0] = rand_vec(nout, c->f[1], t);
        in[0] = upload(h[0], nout, t);
        out = output(nout, t);
        rv_op_softmax(cmd, &out.view, &in[0].view, p[0], p[1], c->f[0]);
        ref = malloc(nout * sizeof(float));
        rv_ref_softmax(ref, h[0], p[0], p[1], c->f[0]);
        break;
    }
    case RV_OP_CHECK_FINITE: { /* n, bad index, kind (0 none, 1 NaN, 2 +Inf, 3 -Inf, 4 1e5: Inf in fp16), slot, slots */
        const float bad[5] = {0, NAN, INFINITY, -INFINITY, 1e5f};
        h[0] = rand_vec(p[0], 4.0f, t);
        if (p[2]) {
            h[0][p[1]] = bad[p[2]];
            if (t == RV_F16)   /* the value the device holds */
                h[0][p[1]] = rv_f16_to_f32(rv_f32_to_f16(h[0][p[1]]));
        }
        in[0] = upload(h[0], p[0], t);
        nout = p[4];
        out = output(nout, RV_F32);   /* the flags are f32 words whatever x's storage */
        float *zero = calloc(nout, sizeof(float));
        rv_tensor_upload(gpu, &out.view, zero, &err);
        free(zero);
        rv_op_check_finite(cmd, &out.view, &in[0].view, p[3]);
        /* a second check into another slot, of a clean tensor, sets nothing */
        if (p[4] > 1)
            rv_op_check_finite(cmd, &out.view, &in[0].view, p[2] ? (p[3] + 1) % p[4] : p[3]);
        ref = calloc(nout, sizeof(float));
        rv_ref_check_finite(ref, h[0], p[0], p[3]);
        if (p[4] > 1)
            rv_ref_check_finite(ref, h[0], p[0], p[2] ? (p[3] + 1) % p[4] : p[3]);
        break;
    }
    default:
        break;
    }
    rv_status st = rv_cmd_run(cmd, &err);

    char name[160];
    describe(c, name, sizeof(name));
    const char *tn = t == RV_F16 ? "f16" : "f32";
    run_total++;
    got = malloc((nout ? nout : 1) * sizeof(float));
    bool guards = st == RV_OK && fetch(&out, got);
    double num = 0, den = 0, maxdiff = 0;
    bool finite = true;
    int bytes_off = 0;
    if (c->op == RV_OP_TO_RGBA8) {
        for (size_t i = 0; i < nout; i++) {
            uint32_t a, b;
            memcpy(&a, &got[i], 4);
            memcpy(&b, &ref[i], 4);
            for (int k = 0; k < 4; k++) {
                int d = abs((int)((a >> (8 * k)) & 255) - (int)((b >> (8 * k)) & 255));
                if (d > 1)
                    bytes_off++;
                if (d > maxdiff)
                    maxdiff = d;
            }
        }
    } else {
        for (size_t i = 0; i < nout; i++) {
            if (!isfinite(got[i]))
                finite = false;
            double d = (double)got[i] - ref[i];
            num += d * d;
            den += (double)ref[i] * ref[i];
            if (fabs(d) > maxdiff)
                maxdiff = fabs(d);
        }
    }
    double nmse = den > 0 ? num / den : num;
    double limit = thresholds[c->op][t == RV_F16];
    bool ok = st == RV_OK && guards && finite && nmse <= limit && bytes_off == 0;
    if (ok)
        run_pass++;
    printf("  %-4s %-60s nmse=%.2e max|d|=%.2e %s%s%s\n", tn, name, nmse, maxdiff, ok ? "OK" : "NOT OK",
           guards ? "" : " (guard overwritten)", st ? err.msg : "");
    CHECK(ok, "%s %s: nmse %.3e (limit %.1e), finite %d, guards %d, status %s", tn, name, nmse, limit, finite, guards,
          st ? err.msg : "ok");
    for (int i = 0; i < 4; i++) {
        free(h[i]);
        release(&in[i]);
    }
    release(&out);
    free(ref);
    free(got);
    if (rv_gpu_error(gpu)->code) {
        fprintf(stderr, "  sticky error: %s\n", rv_gpu_error(gpu)->msg);
        rv_gpu_clear_error(gpu);
    }
}

static void build_cases(void)
{
    /* GEMM: M N K batch trans_a trans_b bias residual shared_b alpha*100 */
    static const uint32_t gshapes[][3] = {{1, 1, 1}, {7, 13, 5}, {64, 64, 64}, {65, 63, 17}, {128, 96, 80},
                                          {1, 320, 1280}, {77, 768, 64}, {300, 77, 64}, {33, 1, 129}, {16, 130, 200},
                                          {200, 48, 31}, {3, 1000, 7}};
    for (unsigned s = 0; s < sizeof(gshapes) / sizeof(gshapes[0]); s++)
        for (int tr = 0; tr < 4; tr++)
            ADD(RV_OP_GEMM, 0, 0, 0, gshapes[s][0], gshapes[s][1], gshapes[s][2], 1, tr & 1, tr >> 1, (s + tr) % 3,
                (s + tr) % 2, 1, 0);
    ADD(RV_OP_GEMM, 0, 0, 0, 37, 45, 53, 3, 0, 0, 2, 1, 0, 0);
    ADD(RV_OP_GEMM, 0, 0, 0, 37, 45, 53, 3, 1, 1, 1, 0, 0, 50);
    ADD(RV_OP_GEMM, 0, 0, 0, 64, 77, 40, 8, 0, 1, 0, 0, 0, 0);   /* per-head scores shape */
    ADD(RV_OP_GEMM, 0, 0, 0, 4096, 40, 77, 2, 0, 0, 0, 0, 0, 0);
    ADD(RV_OP_GEMM, 0, 0, 0, 512, 512, 512, 1, 0, 0, 2, 0, 1, 0); /* large */
    ADD(RV_OP_GEMM, 0, 0, 0, 1024, 320, 320, 1, 0, 1, 2, 1, 1, 0);
    ADD(RV_OP_GEMM, 0, 0, 0, 2, 1280, 320, 1, 0, 1, 2, 0, 1, 0);  /* time embedding MLP */
    ADD(RV_OP_GEMM, 0, 0, 0, 5, 3, 1000, 1, 0, 0, 0, 0, 1, 250);

    /* conv2d: batch cin h w cout k stride pad bias residual */
    static const uint32_t cv[][8] = {
        {1, 3, 8, 8, 4, 3, 1, 1},     {1, 4, 17, 13, 8, 3, 1, 1},  {1, 8, 16, 16, 8, 1, 1, 0},
        {1, 16, 15, 15, 32, 3, 2, 1}, {1, 32, 32, 32, 32, 3, 1, 1}, {1, 5, 9, 11, 7, 3, 2, 1},
        {2, 4, 12, 20, 16, 3, 1, 1},  {1, 320, 8, 8, 4, 3, 1, 1},  {1, 4, 32, 32, 64, 3, 1, 1},
        {3, 6, 7, 5, 10, 1, 1, 0},    {1, 1, 1, 1, 1, 1, 1, 0},    {1, 2, 3, 3, 3, 3, 1, 0},
        {1, 64, 16, 16, 128, 3, 2, 1}, {2, 96, 9, 9, 48, 1, 1, 0},  {1, 12, 31, 29, 12, 3, 1, 1},
        {1, 8, 64, 48, 8, 3, 2, 1},
    };
    for (unsigned s = 0; s < sizeof(cv) / sizeof(cv[0]); s++)
        for (int v = 0; v < 2; v++) /* f0: a fused ReLU on every third case */
            ADD(RV_OP_CONV2D, (float)((2 * s + v) % 3 == 0), 0, 0, cv[s][0], cv[s][1], cv[s][2], cv[s][3], cv[s][4], cv[s][5], cv[s][6], cv[s][7],
                (s + v) % 2 == 0, v);
    ADD(RV_OP_CONV2D, 0, 0, 0, 1, 64, 64, 64, 64, 3, 1, 1, 1, 0); /* large: the benchmark shape */
    ADD(RV_OP_CONV2D, 0, 0, 0, 1, 32, 40, 24, 4, 3, 1, 1, 1, 1);

    /* attention: batch heads lq lk dim causal token-padding; f0 = scale (0 = 1/sqrt(d)) */
    static const uint32_t at[][7] = {
        {1, 1, 1, 1, 32, 0, 0},     {1, 2, 77, 77, 64, 1, 0},    {2, 8, 100, 77, 40, 0, 0},
        {1, 5, 257, 33, 64, 0, 0},  {1, 2, 37, 129, 160, 0, 0},  {2, 3, 64, 64, 128, 0, 0},
        {1, 4, 50, 50, 80, 0, 0},   {1, 2, 33, 17, 96, 0, 0},    {1, 1, 16, 16, 32, 1, 0},
        {1, 12, 77, 77, 64, 1, 0},  {1, 2, 65, 65, 64, 0, 192},  {2, 5, 31, 31, 64, 0, 0},
        {1, 1, 100, 1, 64, 0, 0},   {1, 2, 1, 100, 160, 0, 0},   {1, 8, 256, 256, 40, 0, 0},
        {1, 4, 1024, 1024, 32, 0, 0}, {1, 1, 18, 18, 160, 1, 0}, {1, 3, 20, 45, 48, 0, 5},
        {1, 2, 64, 77, 100, 0, 0},  {1, 10, 64, 64, 64, 0, 0},   {2, 2, 40, 9, 8, 0, 0},
        {1, 20, 16, 77, 64, 0, 0},  {1, 1, 33, 33, 160, 0, 320}, {1, 16, 77, 77, 64, 1, 0},
        /* reverie-tiny's shapes (direct on CPU devices: K and V fit a uniform window) */
        {1, 2, 256, 256, 32, 0, 0}, {2, 2, 256, 77, 32, 0, 0},   {1, 4, 77, 77, 32, 1, 0},
        {1, 4, 64, 64, 32, 0, 64},  {1, 2, 100, 100, 32, 1, 0},
    };
    for (unsigned s = 0; s < sizeof(at) / sizeof(at[0]); s++)
        ADD(RV_OP_ATTENTION, 0, 0, 0, at[s][0], at[s][1], at[s][2], at[s][3], at[s][4], at[s][5], at[s][6]);
    ADD(RV_OP_ATTENTION, 0.3f, 0, 0, 1, 2, 45, 45, 64, 0, 0);

    /* group norm: batch C HW G silu; f0 eps, f1 mean offset */
    static const uint32_t gn[][5] = {{1, 32, 64, 8, 0},     {2, 64, 221, 32, 1}, {1, 320, 4096, 32, 1},
                                     {1, 4, 1, 2, 0},       {3, 12, 7, 3, 1},    {1, 128, 33, 32, 0},
                                     {2, 640, 64, 32, 1},   {1, 96, 1000, 32, 1}, {1, 6, 5, 6, 0},
                                     {1, 1280, 16, 32, 1},  {4, 8, 9, 1, 0},     {1, 64, 9000, 32, 1}};
    for (unsigned s = 0; s < sizeof(gn) / sizeof(gn[0]); s++)
        ADD(RV_OP_GROUP_NORM, s % 2 ? 1e-6f : 1e-5f, s % 3 == 0 ? 3.0f : 0.0f, 0, gn[s][0], gn[s][1], gn[s][2],
            gn[s][3], gn[s][4]);
    /* layer norm: rows C */
    static const uint32_t ln[][2] = {{1, 1}, {77, 768}, {5, 320}, {2, 1024}, {4096, 320}, {3, 7}, {154, 1280},
                                     {1, 3000}, {64, 40}};
    for (unsigned s = 0; s < sizeof(ln) / sizeof(ln[0]); s++)
        ADD(RV_OP_LAYER_NORM, 1e-5f, s % 2 ? 5.0f : 0.0f, 0, ln[s][0], ln[s][1]);

    /* unary: op n; f0 input range, f1 alpha, f2 beta */
    static const uint32_t un[] = {1, 1000, 65537, 300001};
    for (int op = 0; op < RV_UNARY_COUNT; op++)
        for (unsigned s = 0; s < 4; s++)
            ADD(RV_OP_UNARY, s == 3 ? 30.0f : 6.0f, 0.18215f, 0.5f, (uint32_t)op, un[s]);
    ADD(RV_OP_UNARY, 4.0f, 1.0f, 0, RV_UNARY_SILU, 9000001); /* past 65535 workgroups */

    /* binary: op ne0..3 broadcast-mask(b); f0 alpha */
    static const uint32_t bn[][5] = {{1, 1, 1, 1000, 0}, {2, 320, 64, 1, 2 | 1}, {2, 4, 17, 13, 1 | 4 | 8},
                                     {1, 77, 768, 1, 1 | 2}, {3, 5, 7, 9, 0}, {1, 1, 1, 1, 0},
                                     {2, 8, 16, 16, 1 | 4 | 8}, {1, 1, 4096, 320, 4},
                                     /* b one value per row (a resnet's time embedding): texel path on CPUs */
                                     {1, 2, 32, 1024, 1 | 8}, {2, 3, 5, 12, 8}, {1, 2, 3, 6, 1 | 8}};
    for (int op = 0; op < RV_BINARY_COUNT; op++)
        for (unsigned s = 0; s < sizeof(bn) / sizeof(bn[0]); s++)
            ADD(RV_OP_BINARY, s == 3 ? 0.5f : 0.0f, 0, 0, (uint32_t)op, bn[s][0], bn[s][1], bn[s][2], bn[s][3],
                bn[s][4]);

    static const uint32_t gg[][2] = {{1, 1}, {77, 640}, {4096, 1280}, {33, 17}, {2, 5120}};
    for (unsigned s = 0; s < 5; s++)
        ADD(RV_OP_GEGLU, 0, 0, 0, gg[s][0], gg[s][1]);
    static const uint32_t up[][3] = {{1, 1, 1}, {320, 8, 8}, {7, 13, 5}, {1280, 4, 6}, {2, 64, 64}};
    for (unsigned s = 0; s < 5; s++)
        ADD(RV_OP_UPSAMPLE2X, 0, 0, 0, up[s][0], up[s][1], up[s][2]);
    static const uint32_t cc[][4] = {{1, 1, 1, 1}, {2, 320, 640, 64}, {1, 7, 3, 13}, {3, 4, 4, 9}, {1, 1280, 1280, 16}};
    for (unsigned s = 0; s < 5; s++)
        ADD(RV_OP_CONCAT, 0, 0, 0, cc[s][0], cc[s][1], cc[s][2], cc[s][3]);
    /* timestep embedding: batch dim flip shift*10; f0 = first timestep */
    ADD(RV_OP_TIMESTEP_EMBED, 999.0f, 0, 0, 1, 320, 1, 0);
    ADD(RV_OP_TIMESTEP_EMBED, 999.0f, 0, 0, 2, 1280, 0, 10);
    ADD(RV_OP_TIMESTEP_EMBED, 500.5f, 0, 0, 3, 33, 1, 0);
    ADD(RV_OP_TIMESTEP_EMBED, 1.0f, 0, 0, 2, 64, 0, 0);
    ADD(RV_OP_TIMESTEP_EMBED, 980.0f, 0, 0, 4, 256, 1, 10);
    ADD(RV_OP_TIMESTEP_EMBED, 0.0f, 0, 0, 1, 2, 1, 0);
    /* to_rgba8: batch h w */
    ADD(RV_OP_TO_RGBA8, 0, 0, 0, 1, 1, 1);
    ADD(RV_OP_TO_RGBA8, 0, 0, 0, 1, 64, 64);
    ADD(RV_OP_TO_RGBA8, 0, 0, 0, 2, 17, 29);
    ADD(RV_OP_TO_RGBA8, 0, 0, 0, 1, 256, 256);
    /* gemm with one A for the whole batch (proj_out of a transformer over a batch of images) */
    ADD(RV_OP_GEMM, 0, 0, 0, 16, 35, 24, 3, 0, 1, 1, 1, 2, 0);
    ADD(RV_OP_GEMM, 0, 0, 0, 7, 64, 9, 2, 0, 0, 2, 0, 3, 0);
    /* embedding: rows dim vocab first table_rows (a chunk of the table, or all of it) */
    ADD(RV_OP_EMBEDDING, 0, 0, 0, 77, 16, 1000, 0, 1000);
    ADD(RV_OP_EMBEDDING, 0, 0, 0, 154, 33, 500, 0, 250);
    ADD(RV_OP_EMBEDDING, 0, 0, 0, 154, 33, 500, 250, 250);
    ADD(RV_OP_EMBEDDING, 0, 0, 0, 1, 1, 1, 0, 1);
    ADD(RV_OP_EMBEDDING, 0, 0, 0, 300, 768, 8192, 0, 8192);
    /* resize nearest: planes h w oh ow (the UNet's up path to an odd skip size) */
    static const uint32_t rz[][5] = {{1, 1, 1, 3, 2}, {8, 2, 2, 4, 3}, {5, 4, 3, 7, 5}, {3, 7, 5, 14, 10},
                                     {2, 9, 13, 5, 6}, {64, 24, 40, 48, 80}, {2, 3, 3, 7, 11}};
    for (unsigned s = 0; s < sizeof(rz) / sizeof(rz[0]); s++)
        ADD(RV_OP_RESIZE_NEAREST, 0, 0, 0, rz[s][0], rz[s][1], rz[s][2], rz[s][3], rz[s][4]);
    /* pad2d: planes h w oh ow top left */
    ADD(RV_OP_PAD2D, 0, 0, 0, 3, 8, 8, 9, 9, 0, 0);
    ADD(RV_OP_PAD2D, 0, 0, 0, 7, 5, 11, 8, 14, 2, 1);
    ADD(RV_OP_PAD2D, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0);
    ADD(RV_OP_PAD2D, 0, 0, 0, 128, 64, 64, 65, 65, 0, 0);
    /* softmax: rows n; f0 scale, f1 input range */
    ADD(RV_OP_SOFTMAX, 1.0f, 1.0f, 0, 1, 1);
    ADD(RV_OP_SOFTMAX, 0.125f, 20.0f, 0, 64, 64);
    ADD(RV_OP_SOFTMAX, 1.0f, 8.0f, 0, 3, 1000);
    ADD(RV_OP_SOFTMAX, 0.0441941738f, 30.0f, 0, 256, 4096);
    ADD(RV_OP_SOFTMAX, 2.0f, 5.0f, 0, 5, 37);
    /* check_finite: n, bad index, kind (0 none, 1 NaN, 2 +Inf, 3 -Inf, 4 1e5), slot, slots */
    ADD(RV_OP_CHECK_FINITE, 0, 0, 0, 1, 0, 0, 0, 1);
    ADD(RV_OP_CHECK_FINITE, 0, 0, 0, 1, 0, 1, 0, 1);
    ADD(RV_OP_CHECK_FINITE, 0, 0, 0, 16384, 0, 0, 2, 4);
    ADD(RV_OP_CHECK_FINITE, 0, 0, 0, 16384, 16383, 1, 2, 4);
    ADD(RV_OP_CHECK_FINITE, 0, 0, 0, 4097, 1234, 2, 0, 3);
    ADD(RV_OP_CHECK_FINITE, 0, 0, 0, 333, 100, 3, 7, 8);
    ADD(RV_OP_CHECK_FINITE, 0, 0, 0, 1000, 999, 4, 1, 2);   /* finite in fp32, Inf in fp16 storage */
    ADD(RV_OP_CHECK_FINITE, 0, 0, 0, 70000, 65536, 1, 3, 5); /* past one row of 65535 groups with small groups */

    /* (new cases go last: each case's inputs are seeded by its index)
     * texel-conv shapes (CPU devices): 4-pixel rows, output channels off the
     * per-invocation count, 1x1 with a batch, odd texels per row;
     * conv2d: batch cin h w cout k stride pad bias residual */
    static const uint32_t tcv[][10] = {
        {1, 16, 12, 4, 3, 3, 1, 1, 1, 0}, {2, 12, 6, 8, 10, 1, 1, 0, 0, 1}, {1, 8, 5, 16, 19, 3, 1, 1, 1, 1},
        {1, 4, 3, 12, 9, 3, 1, 1, 0, 0},
    };
    for (unsigned s = 0; s < sizeof(tcv) / sizeof(tcv[0]); s++)
        add(RV_OP_CONV2D, tcv[s], 10, (float)(s % 2), 0, 0);
    /* a UNet transformer's proj_in (channel-major input, trans_a, times a
     * shared weight: a 1x1 texel conv on CPU devices) and proj_out (a shared
     * weight times token rows, channel-major output: a texel linear layer);
     * GEMM: M N K batch trans_a trans_b bias residual shared(1 B, 2 A) alpha*100 */
    ADD(RV_OP_GEMM, 0, 0, 0, 64, 32, 48, 2, 1, 1, 2, 0, 1, 0);
    ADD(RV_OP_GEMM, 0, 0, 0, 256, 12, 20, 1, 1, 1, 0, 1, 1, 50);
    ADD(RV_OP_GEMM, 0, 0, 0, 48, 64, 32, 2, 0, 1, 1, 1, 2, 0);
    ADD(RV_OP_GEMM, 0, 0, 0, 13, 100, 24, 1, 0, 1, 0, 0, 2, 0);
    /* a 3x3 conv of a 2x-upsampled input, read before upsampling (a TAESD
     * decoder's conv after each upsample): batch cin h w (before upsampling)
     * cout 3 1 1 bias 0; f0 relu */
    static const uint32_t ucv[][10] = {
        {1, 16, 8, 8, 16, 3, 1, 1, 0, 0}, {2, 8, 5, 12, 6, 3, 1, 1, 1, 0}, {1, 4, 3, 4, 9, 3, 1, 1, 1, 0},
        {1, 16, 32, 32, 16, 3, 1, 1, 0, 0}, {1, 12, 7, 6, 5, 3, 1, 1, 1, 0},
    };
    for (unsigned s = 0; s < sizeof(ucv) / sizeof(ucv[0]); s++)
        add(RV_OP_CONV2D, ucv[s], 10, (float)(s % 2), 1.0f, 0);
    /* stride-2 3x3 convs (a UNet's downsampling: texel conv on CPU devices,
     * 4 outputs per invocation); odd heights, a residual and a batch */
    static const uint32_t scv[][10] = {
        {1, 32, 32, 32, 32, 3, 2, 1, 1, 0}, {2, 8, 9, 16, 10, 3, 2, 1, 0, 1}, {1, 4, 8, 8, 3, 3, 2, 1, 1, 0},
        {1, 64, 16, 16, 64, 3, 2, 1, 1, 0}, {1, 12, 5, 24, 20, 3, 2, 1, 1, 1},
    };
    for (unsigned s = 0; s < sizeof(scv) / sizeof(scv[0]); s++)
        add(RV_OP_CONV2D, scv[s], 10, (float)(s % 2), 0, 0);
    /* 3x3 convs to exactly 3 channels (an RGB output: 3 outputs per invocation on CPU devices),
     * 8-pixel strips with a bias, a residual and a batch, and 4-pixel strips */
    ADD(RV_OP_CONV2D, 1.0f, 0, 0, 2, 16, 6, 16, 3, 3, 1, 1, 1, 1);
    ADD(RV_OP_CONV2D, 0, 0, 0, 1, 8, 5, 12, 3, 3, 1, 1, 0, 0);
    /* a FeedForward's projection and GEGLU fused (CPU devices): rows F n_in */
    ADD(RV_OP_GEGLU, 1.0f, 0, 0, 256, 256, 64);
    ADD(RV_OP_GEGLU, 1.0f, 0, 0, 64, 512, 128);
    ADD(RV_OP_GEGLU, 1.0f, 0, 0, 77, 12, 20);
    ADD(RV_OP_GEGLU, 1.0f, 0, 0, 5, 3, 8);
}

int main(int argc, char **argv)
{
    const char *filter = argc > 1 ? argv[1] : NULL;
    rv_error err = {0};
    rv_gpu_desc desc = {.validation = true};
    if (rv_gpu_create(&gpu, &desc, &err)) {
        fprintf(stderr, "test_ops: %s\n", err.msg);
        return 1;
    }
    if (rv_cmd_create(gpu, &cmd, &err)) {
        fprintf(stderr, "test_ops: %s\n", err.msg);
        return 1;
    }
    printf("device: %s (fp16 storage: %s)\n", rv_gpu_info(gpu)->name, rv_gpu_info(gpu)->storage16 ? "yes" : "no");
    build_cases();
    int counted[2] = {0, 0};
    for (int prec = 0; prec < 2; prec++) {
        rv_dtype t = prec ? RV_F16 : RV_F32;
        if (t == RV_F16 && !rv_gpu_info(gpu)->storage16) {
            printf("fp16: skipped, no 16-bit storage on this device\n");
            continue;
        }
        int before = run_pass;
        for (int i = 0; i < ncases; i++) {
            char name[160];
            describe(&cases[i], name, sizeof(name));
            if (filter && !strstr(name, filter))
                continue;
            run_case(&cases[i], t);
        }
        counted[prec] = run_pass - before;
    }
    printf("op cases: %d defined; passed %d in fp32, %d in fp16 (%d of %d runs)\n", ncases, counted[0], counted[1],
           run_pass, run_total);
    CHECK(rv_gpu_validation_count(gpu) == 0, "validation layer reported %d message(s)", rv_gpu_validation_count(gpu));
    rv_cmd_destroy(cmd);
    rv_gpu_destroy(gpu);
    return rv_test_finish("test_ops");
}
