/* The op library: argument checks, push constants and grid sizes for each
 * op; the arithmetic is in shaders/. Describing work only: nothing here
 * waits on the GPU. */
#include <math.h>
#include <string.h>

#include "rv_ops.h"
#include "vk_internal.h"

const char *const rv_op_names[RV_OP_COUNT] = {
    [RV_OP_GEMM] = "gemm",
    [RV_OP_CONV2D] = "conv2d",
    [RV_OP_ATTENTION] = "attention",
    [RV_OP_GROUP_NORM] = "group_norm",
    [RV_OP_LAYER_NORM] = "layer_norm",
    [RV_OP_UNARY] = "unary",
    [RV_OP_BINARY] = "binary",
    [RV_OP_GEGLU] = "geglu",
    [RV_OP_UPSAMPLE2X] = "upsample2x",
    [RV_OP_CONCAT] = "concat",
    [RV_OP_TIMESTEP_EMBED] = "timestep_embedding",
    [RV_OP_TO_RGBA8] = "to_rgba8",
    [RV_OP_EMBEDDING] = "embedding",
    [RV_OP_RESIZE_NEAREST] = "resize_nearest",
    [RV_OP_PAD2D] = "pad2d",
    [RV_OP_SOFTMAX] = "softmax",
    [RV_OP_WARP] = "warp",
    [RV_OP_CHECK_FINITE] = "check_finite",
};

#define MAX_GROUPS 65535u

static bool failed(rv_cmd *cmd) { return cmd->gpu->err.code != RV_OK; }

/* Checks that t is allocated, has the expected dtype and holds `count`. */
static bool need(rv_cmd *cmd, rv_op op, const rv_tensor *t, rv_dtype dtype, uint64_t count, const char *what)
{
    rv_error *e = &cmd->gpu->err;
    if (failed(cmd))
        return false;
    if (!t || t->block == UINT32_MAX) {
        rv_error_set(e, RV_ERR_INVALID, "OPS: %s: %s is not allocated", rv_op_names[op], what);
        return false;
    }
    if (t->dtype != dtype) {
        rv_error_set(e, RV_ERR_INVALID, "OPS: %s: %s is %s, expected %s", rv_op_names[op], what,
                     rv_dtype_name(t->dtype), rv_dtype_name(dtype));
        return false;
    }
    if (t->count < count) {
        rv_error_set(e, RV_ERR_INVALID, "OPS: %s: %s holds %llu elements, needs %llu", rv_op_names[op], what,
                     (unsigned long long)t->count, (unsigned long long)count);
        return false;
    }
    if (count > UINT32_MAX) {
        rv_error_set(e, RV_ERR_UNSUPPORTED, "OPS: %s: %s has more than 2^32 elements", rv_op_names[op], what);
        return false;
    }
    return true;
}

static bool check(rv_cmd *cmd, rv_op op, bool ok, const char *what)
{
    if (!ok && !failed(cmd))
        rv_error_set(&cmd->gpu->err, RV_ERR_INVALID, "OPS: %s: %s", rv_op_names[op], what);
    return ok && !failed(cmd);
}

static int pick(rv_dtype t, int f32, int f16) { return t == RV_F16 ? f16 : f32; }

/* The element offset inside the shader's binding is a multiple of 4 (the
 * binding base is aligned to at least 16 bytes, i.e. 4 or 8 elements). */
static bool aligned4(const rv_tensor *t) { return (t->offset / rv_dtype_size(t->dtype)) % 4 == 0; }

static uint32_t div_up(uint64_t a, uint64_t b) { return (uint32_t)((a + b - 1) / b); }

/* The GEMM/conv size class for an output height M: the first whose tile
 * height covers M, else the wide one. */
static int gemm_class(const rv_tiles *t, uint64_t M)
{
    for (int c = 0; c < RV_GEMM_WIDE; c++)
        if (M <= t->gemm[c].bm)
            return c;
    return RV_GEMM_WIDE;
}

/* A 1D range of n items in groups of wg, folded into 2D past 65535 groups
 * (shaders recover the flat index with flat_group()). */
static void grid1d(uint64_t n, uint32_t wg, uint32_t *gx, uint32_t *gy)
{
    uint64_t groups = (n + wg - 1) / wg;
    if (groups <= MAX_GROUPS) {
        *gx = (uint32_t)groups;
        *gy = 1;
    } else {
        *gx = MAX_GROUPS;
        *gy = (uint32_t)((groups + MAX_GROUPS - 1) / MAX_GROUPS);
    }
}

/* Whether t can be a direct kernel's uniform-buffer window: it fits, and its
 * first element sits on a 4-element boundary of the window (whole vec4 loads). */
static bool fits_uniform(rv_cmd *cmd, const rv_tensor *t)
{
    const uint64_t lead = t->offset % cmd->gpu->uniform_align;
    return lead + t->bytes <= cmd->gpu->tiles.dconv_window && (lead / rv_dtype_size(t->dtype)) % 4 == 0;
}

/* A sub-view `first` elements into t, to its end (direct convs split M). */
static rv_tensor tail_view(const rv_tensor *t, uint64_t first)
{
    rv_tensor v = *t;
    uint64_t skip = first * rv_dtype_size(t->dtype);
    v.offset += skip;
    v.bytes -= skip;
    v.count -= first;
    return v;
}

/* Direct convolution (dconv.comp): the weights are read through a uniform
 * buffer window (tiles.dconv_window bytes), so M is split into dispatches of
 * as many rows as fit it (a multiple of the rows per workgroup). Returns
 * false, dispatching nothing, when not even that many rows fit or the grid
 * is too large; the caller takes the GEMM then. */
static bool direct_conv(rv_cmd *cmd, const rv_tensor *out, const rv_tensor *in, const rv_tensor *weight,
                        const rv_tensor *bias, const rv_tensor *residual, const struct rv_pc_gemm *pc0,
                        uint32_t batch)
{
    const rv_tiles *tl = &cmd->gpu->tiles;
    const rv_dtype t = out->dtype;
    const uint32_t M = pc0->M, N = pc0->N;
    const bool four = M <= 4;
    const uint32_t cot = four ? 4 : tl->dconv_cot;
    const uint64_t row = (uint64_t)pc0->K * rv_dtype_size(t), align = cmd->gpu->uniform_align;
    if (div_up(N, tl->dconv_wg) > MAX_GROUPS || batch > MAX_GROUPS || tl->dconv_window <= align)
        return false;
    /* rows per dispatch: all of them if they fit from where the weights start, else what fits any start */
    uint64_t chunk = weight->offset % align + weight->bytes <= tl->dconv_window ? M
                                                                                : (tl->dconv_window - align) / row / cot * cot;
    if (chunk == 0)
        return false;
    const int pipe = four ? pick(t, RV_PIPE_DCONV4_F32, RV_PIPE_DCONV4_F16) : pick(t, RV_PIPE_DCONV_F32, RV_PIPE_DCONV_F16);
    for (uint32_t r0 = 0; r0 < M; r0 += (uint32_t)chunk) {
        struct rv_pc_gemm pc = *pc0;
        pc.M = (uint32_t)(M - r0 < chunk ? M - r0 : chunk);
        /* output row r0 starts scm elements per row in: N for NCHW images, 1 for token-major rows */
        rv_tensor w = tail_view(weight, (uint64_t)r0 * pc0->K), o = tail_view(out, (uint64_t)r0 * pc0->scm);
        rv_tensor bv = bias ? tail_view(bias, r0) : w, rv = residual ? tail_view(residual, (uint64_t)r0 * pc0->scm) : w;
        w.bytes = (uint64_t)pc.M * row; /* the uniform window covers this dispatch's rows only */
        if (batch == 1 && pc0->scm == N) { /* one image: this dispatch writes a block of rows (no false hazard) */
            o.bytes = (uint64_t)pc.M * N * rv_dtype_size(t);
            if (residual)
                rv.bytes = o.bytes;
        }
        rv_binding bind[5] = {{&w, false}, {in, false}, {&bv, false}, {&rv, false}, {&o, true}};
        rv_cmd_dispatch(cmd, pipe, bind, 5, &pc, sizeof(pc), div_up(N, tl->dconv_wg), div_up(pc.M, cot), batch);
    }
    return true;
}

/* Texel-fetch direct convolution (tconv.comp, CPU devices): stride 1, 3x3
 * with padding 1 or 1x1 without, or 3x3 with stride 2 and padding 1; input
 * channels a multiple of 4, rows (in and out) a multiple of 4 pixels, input
 * and weights readable as RGBA texels. Returns
 * false, dispatching nothing, for any other shape; the caller goes on to the
 * other kernels then. */
static bool texel_conv(rv_cmd *cmd, const rv_tensor *out, const rv_tensor *in, const rv_tensor *weight,
                       const rv_tensor *bias, const rv_tensor *residual, const struct rv_pc_gemm *pc, uint32_t batch)
{
    const rv_tiles *tl = &cmd->gpu->tiles;
    const bool k3 = pc->kh == 3 && pc->kw == 3 && pc->pad == 1, k1 = pc->kh == 1 && pc->kw == 1 && pc->pad == 0;
    const bool s2 = k3 && pc->stride == 2; /* a UNet's downsampling: 4 outputs per invocation */
    if (!tl->tconv || !(pc->stride == 1 || s2) || !(k3 || k1) || pc->w % 4 != 0 || pc->cin % 4 != 0 ||
        pc->ow % 4 != 0 || (pc->stride == 1 && pc->ow != pc->w) || !rv_texel_readable(cmd->gpu, in) ||
        !rv_texel_readable(cmd->gpu, weight) || (bias && !rv_texel_readable(cmd->gpu, bias)) ||
        (residual && (pc->scn != 1 || pc->scm % 4 != 0 || pc->scb % 4 != 0 || !rv_texel_readable(cmd->gpu, residual))))
        return false;
    if (s2) {
        const uint64_t strips = (uint64_t)pc->oh * (pc->ow / 4);
        if (div_up(strips, tl->tconv_wg) > MAX_GROUPS || div_up(pc->M, tl->tconv_cot) > MAX_GROUPS || batch > MAX_GROUPS)
            return false;
        rv_binding bind[5] = {{weight, false}, {in, false}, {bias ? bias : weight, false},
                              {residual ? residual : in, false}, {out, true}};
        rv_cmd_dispatch(cmd, out->dtype == RV_F16 ? RV_PIPE_TCONV3S2_F16 : RV_PIPE_TCONV3S2_F32, bind, 5, pc,
                        sizeof(*pc), div_up(strips, tl->tconv_wg), div_up(pc->M, tl->tconv_cot), batch);
        return true;
    }
    const bool wide = (pc->w / 4) % tl->tconv_xt == 0; /* tconv_xt texels per invocation */
    const bool four = k3 && pc->M <= 4;     /* an RGB output: 4 channels per invocation, not 8 */
    const bool three = four && pc->M == 3; /* exactly 3 outputs per invocation: no idle fourth */
    const unsigned cot = three ? 3 : four ? 4 : tl->tconv_cot;
    const uint64_t strips = (uint64_t)pc->oh * (pc->w / 4 / (wide ? tl->tconv_xt : 1));
    if (div_up(strips, tl->tconv_wg) > MAX_GROUPS || div_up(pc->M, cot) > MAX_GROUPS || batch > MAX_GROUPS)
        return false;
    /* by kernel (1x1, 3x3, 3x3 with 4 outputs, 3x3 with 3), width, dtype */
    static const int pipes[4][2][2] = {
        {{RV_PIPE_TCONV1N_F32, RV_PIPE_TCONV1N_F16}, {RV_PIPE_TCONV1_F32, RV_PIPE_TCONV1_F16}},
        {{RV_PIPE_TCONV3N_F32, RV_PIPE_TCONV3N_F16}, {RV_PIPE_TCONV3_F32, RV_PIPE_TCONV3_F16}},
        {{RV_PIPE_TCONV3QN_F32, RV_PIPE_TCONV3QN_F16}, {RV_PIPE_TCONV3Q_F32, RV_PIPE_TCONV3Q_F16}},
        {{RV_PIPE_TCONV3TN_F32, RV_PIPE_TCONV3TN_F16}, {RV_PIPE_TCONV3T_F32, RV_PIPE_TCONV3T_F16}}};
    /* an unused residual binding aliases the input (a texel binding too) */
    rv_binding bind[5] = {{weight, false}, {in, false}, {bias ? bias : weight, false}, {residual ? residual : in, false},
                          {out, true}};
    rv_cmd_dispatch(cmd, pipes[three ? 3 : four ? 2 : k3][wide][out->dtype == RV_F16], bind, 5, pc, sizeof(*pc),
                    div_up(strips, tl->tconv_wg), div_up(pc->M, cot), batch);
    return true;
}

/* A linear layer on tlinear.comp (CPU devices): pc as direct_conv's linear
 * layers (M outputs, N tokens); K a multiple of 4, rows and weights readable
 * as RGBA texels. Returns false, dispatching nothing, otherwise. */
static bool texel_linear(rv_cmd *cmd, const rv_tensor *out, const rv_tensor *in, const rv_tensor *weight,
                         const rv_tensor *bias, const rv_tensor *residual, const struct rv_pc_gemm *pc, uint32_t batch)
{
    const rv_tiles *tl = &cmd->gpu->tiles;
    const uint64_t invocations = div_up(pc->N, tl->tlinear_tok);
    /* the residual is read as texels along the outputs (token-major) or the tokens (channel-major) */
    const bool res_ok = !residual || (rv_texel_readable(cmd->gpu, residual) && pc->scb % 4 == 0 &&
                                      ((pc->scm == 1 && pc->scn % 4 == 0 && pc->M % 4 == 0 && tl->tlinear_cot % 4 == 0) ||
                                       (pc->scn == 1 && pc->scm % 4 == 0 && pc->N % 4 == 0 && tl->tlinear_tok % 4 == 0)));
    if (!tl->tconv || !res_ok || pc->K % 4 != 0 || !rv_texel_readable(cmd->gpu, in) || !rv_texel_readable(cmd->gpu, weight) ||
        (bias && !rv_texel_readable(cmd->gpu, bias)) || div_up(invocations, tl->tconv_wg) > MAX_GROUPS ||
        div_up(pc->M, tl->tlinear_cot) > MAX_GROUPS || batch > MAX_GROUPS)
        return false;
    rv_binding bind[5] = {{weight, false}, {in, false}, {bias ? bias : weight, false}, {residual ? residual : in, false},
                          {out, true}};
    rv_cmd_dispatch(cmd, pick(out->dtype, RV_PIPE_TLINEAR_F32, RV_PIPE_TLINEAR_F16), bind, 5, pc, sizeof(*pc),
                    div_up(invocations, tl->tconv_wg), div_up(pc->M, tl->tlinear_cot), batch);
    return true;
}

bool rv_op_linear_geglu(rv_cmd *cmd, const rv_tensor *y, const rv_tensor *x, const rv_tensor *weight,
                        const rv_tensor *bias, uint32_t rows, uint32_t n_in, uint32_t F)
{
    const rv_op op = RV_OP_GEMM;
    if (failed(cmd) || !y || !x || !weight)
        return false;
    const rv_tiles *tl = &cmd->gpu->tiles;
    const uint32_t half = tl->tlinear_cot / 2; /* features per invocation */
    const uint64_t invocations = div_up(rows, tl->tlinear_tok);
    if (!tl->tlinear_geglu || half == 0 || tl->tlinear_cot % 2 != 0 || !rows || !F || n_in % 4 != 0 || F > 0x7fffffffu ||
        !rv_texel_readable(cmd->gpu, x) || !rv_texel_readable(cmd->gpu, weight) ||
        (bias && !rv_texel_readable(cmd->gpu, bias)) || div_up(invocations, tl->tconv_wg) > MAX_GROUPS ||
        div_up(F, half) > MAX_GROUPS)
        return false;
    rv_dtype t = y->dtype;
    if (!need(cmd, op, y, t, (uint64_t)rows * F, "y") || !need(cmd, op, x, t, (uint64_t)rows * n_in, "x") ||
        !need(cmd, op, weight, t, 2ull * F * n_in, "weight") || (bias && !need(cmd, op, bias, t, 2ull * F, "bias")))
        return true; /* the error is recorded */
    struct rv_pc_gemm pc = {
        .M = F, .N = rows, .K = n_in, .batch = 1,
        .sbk = 1, .sbn = n_in, .sbb = 0,
        .scm = 1, .scn = F, .scb = 0,
        .flags = bias ? RV_GEMM_BIAS_M : 0, .alpha = 1.0f,
    };
    rv_binding bind[5] = {{weight, false}, {x, false}, {bias ? bias : weight, false}, {x, false}, {y, true}};
    rv_cmd_dispatch(cmd, pick(t, RV_PIPE_TLINEARGG_F32, RV_PIPE_TLINEARGG_F16), bind, 5, &pc, sizeof(pc),
                    div_up(invocations, tl->tconv_wg), div_up(F, half), 1);
    return true;
}

void rv_op_gemm(rv_cmd *cmd, const rv_tensor *c, const rv_tensor *a, const rv_tensor *b, const rv_tensor *bias,
                const rv_tensor *residual, const rv_gemm_desc *d)
{
    const rv_op op = RV_OP_GEMM;
    if (failed(cmd) || !check(cmd, op, c && d, "missing output or descriptor"))
        return;
    rv_dtype t = c->dtype;
    uint64_t batch = d->batch ? d->batch : 1;
    uint64_t M = d->M, N = d->N, K = d->K;
    if (!check(cmd, op, M && N && K, "zero dimension") ||
        !need(cmd, op, c, t, batch * M * N, "C") || !need(cmd, op, a, t, (d->shared_a ? 1 : batch) * M * K, "A") ||
        !need(cmd, op, b, t, (d->shared_b ? 1 : batch) * K * N, "B") ||
        (bias && !need(cmd, op, bias, t, d->bias_per_m ? M : N, "bias")) ||
        (residual && !need(cmd, op, residual, t, batch * M * N, "residual")))
        return;
    struct rv_pc_gemm pc = {
        .M = (uint32_t)M, .N = (uint32_t)N, .K = (uint32_t)K, .batch = (uint32_t)batch,
        .sam = d->trans_a ? 1 : (uint32_t)K, .sak = d->trans_a ? (uint32_t)M : 1, .sab = d->shared_a ? 0 : (uint32_t)(M * K),
        .sbk = d->trans_b ? 1 : (uint32_t)N, .sbn = d->trans_b ? (uint32_t)K : 1,
        .sbb = d->shared_b ? 0 : (uint32_t)(K * N),
        .scm = (uint32_t)N, .scn = 1, .scb = (uint32_t)(M * N),
        .flags = (bias ? (d->bias_per_m ? RV_GEMM_BIAS_M : RV_GEMM_BIAS_N) : 0) | (residual ? RV_GEMM_RESIDUAL : 0),
        .alpha = d->alpha != 0.0f ? d->alpha : 1.0f,
    };
    /* A weight times token rows (a linear layer) on devices where direct
     * convolution pays: a 1x1 conv over the tokens, B's rows the filters
     * (its bias, if any, per filter) */
    if ((cmd->gpu->tiles.dconv_linear || cmd->gpu->tiles.tconv) && d->trans_b && d->shared_b && !d->trans_a &&
        !(bias && d->bias_per_m)) {
        struct rv_pc_gemm dc = {
            .M = (uint32_t)N, .N = (uint32_t)M, .K = (uint32_t)K, .batch = (uint32_t)batch,
            .sbk = 1, .sbn = (uint32_t)K, .sbb = d->shared_a ? 0 : (uint32_t)(M * K),
            .scm = 1, .scn = (uint32_t)N, .scb = (uint32_t)(M * N),
            .flags = (bias ? RV_GEMM_BIAS_M : 0) | (residual ? RV_GEMM_RESIDUAL : 0),
            .alpha = pc.alpha,
            .cin = (uint32_t)K, .h = 1, .w = (uint32_t)M, .oh = 1, .ow = (uint32_t)M, .kh = 1, .kw = 1, .stride = 1,
        };
        if (texel_linear(cmd, c, a, b, bias, residual, &dc, (uint32_t)batch))
            return;
        if (cmd->gpu->tiles.dconv_linear && direct_conv(cmd, c, a, b, bias, residual, &dc, (uint32_t)batch))
            return;
    }
    if (cmd->gpu->tiles.tconv && d->trans_a && d->trans_b && d->shared_b && !d->shared_a && !(bias && d->bias_per_m)) {
        /* channel-major input times a weight (a UNet transformer's proj_in):
         * a 1x1 conv of the [K][M] planes as one row of M pixels, written
         * token-major */
        struct rv_pc_gemm tc = {
            .M = (uint32_t)N, .N = (uint32_t)M, .K = (uint32_t)K, .batch = (uint32_t)batch,
            .sbb = (uint32_t)(M * K), .scm = 1, .scn = (uint32_t)N, .scb = (uint32_t)(M * N),
            .flags = (bias ? RV_GEMM_BIAS_M : 0) | (residual ? RV_GEMM_RESIDUAL : 0), .alpha = pc.alpha,
            .cin = (uint32_t)K, .h = 1, .w = (uint32_t)M, .oh = 1, .ow = (uint32_t)M, .kh = 1, .kw = 1, .stride = 1,
        };
        if (texel_conv(cmd, c, a, b, bias, residual, &tc, (uint32_t)batch))
            return;
    }
    if (cmd->gpu->tiles.tconv && d->shared_a && d->trans_b && !d->trans_a && !d->shared_b && !(bias && !d->bias_per_m)) {
        /* a weight times token rows, written channel-major (proj_out): a
         * linear layer over the rows of B with A's rows the filters */
        struct rv_pc_gemm tl = {
            .M = (uint32_t)M, .N = (uint32_t)N, .K = (uint32_t)K, .batch = (uint32_t)batch,
            .sbk = 1, .sbn = (uint32_t)K, .sbb = (uint32_t)(N * K),
            .scm = (uint32_t)N, .scn = 1, .scb = (uint32_t)(M * N),
            .flags = (bias ? RV_GEMM_BIAS_M : 0) | (residual ? RV_GEMM_RESIDUAL : 0), .alpha = pc.alpha,
        };
        if (texel_linear(cmd, c, b, a, bias, residual, &tl, (uint32_t)batch))
            return;
    }
    /* unused bindings alias C: the shader never reads them without the flag */
    rv_binding bind[5] = {{a, false}, {b, false}, {bias ? bias : a, false}, {residual ? residual : a, false}, {c, true}};
    static const int pipes[RV_GEMM_CLASSES][2] = {
        {RV_PIPE_GEMMN_F32, RV_PIPE_GEMMN_F16}, {RV_PIPE_GEMMM_F32, RV_PIPE_GEMMM_F16}, {RV_PIPE_GEMM_F32, RV_PIPE_GEMM_F16}};
    const int cls = gemm_class(&cmd->gpu->tiles, M);
    const rv_gemm_tiles *g = &cmd->gpu->tiles.gemm[cls];
    if (!check(cmd, op, batch <= MAX_GROUPS && div_up(M, g->bm) <= MAX_GROUPS, "batch or M too large"))
        return;
    rv_cmd_dispatch(cmd, pick(t, pipes[cls][0], pipes[cls][1]), bind, 5, &pc, sizeof(pc), div_up(N, g->bn),
                    div_up(M, g->bm), (uint32_t)batch);
}

void rv_op_linear(rv_cmd *cmd, const rv_tensor *out, const rv_tensor *in, const rv_tensor *weight,
                  const rv_tensor *bias, const rv_tensor *residual, uint32_t rows, uint32_t n_in, uint32_t n_out)
{
    rv_gemm_desc d = {.M = rows, .N = n_out, .K = n_in, .trans_b = true, .shared_b = true};
    rv_op_gemm(cmd, out, in, weight, bias, residual, &d);
}

void rv_conv_out_size(const rv_conv_desc *d, uint32_t *oh, uint32_t *ow)
{
    uint32_t kh = d->kh ? d->kh : 1, kw = d->kw ? d->kw : 1, s = d->stride ? d->stride : 1;
    int64_t h = ((int64_t)d->h + 2 * (int64_t)d->pad - kh) / s + 1;
    int64_t w = ((int64_t)d->w + 2 * (int64_t)d->pad - kw) / s + 1;
    *oh = h > 0 ? (uint32_t)h : 0;
    *ow = w > 0 ? (uint32_t)w : 0;
}

void rv_op_conv2d(rv_cmd *cmd, const rv_tensor *out, const rv_tensor *in, const rv_tensor *weight,
                  const rv_tensor *bias, const rv_tensor *residual, const rv_conv_desc *d)
{
    const rv_op op = RV_OP_CONV2D;
    if (failed(cmd) || !check(cmd, op, out && d, "missing output or descriptor"))
        return;
    rv_dtype t = out->dtype;
    uint32_t kh = d->kh ? d->kh : 1, kw = d->kw ? d->kw : 1, s = d->stride ? d->stride : 1;
    uint32_t batch = d->batch ? d->batch : 1, oh, ow;
    rv_conv_out_size(d, &oh, &ow);
    uint64_t K = (uint64_t)d->cin * kh * kw, N = (uint64_t)oh * ow;
    if (!check(cmd, op, d->cin && d->cout && oh && ow, "empty input, output or kernel larger than padded input") ||
        !need(cmd, op, out, t, (uint64_t)batch * d->cout * N, "output") ||
        !need(cmd, op, in, t, (uint64_t)batch * d->cin * d->h * d->w, "input") ||
        !need(cmd, op, weight, t, (uint64_t)d->cout * K, "weight") ||
        (bias && !need(cmd, op, bias, t, d->cout, "bias")) ||
        (residual && !need(cmd, op, residual, t, (uint64_t)batch * d->cout * N, "residual")))
        return;
    struct rv_pc_gemm pc = {
        .M = d->cout, .N = (uint32_t)N, .K = (uint32_t)K, .batch = batch,
        .sam = (uint32_t)K, .sak = 1, .sab = 0,
        .scm = (uint32_t)N, .scn = 1, .scb = (uint32_t)(d->cout * N),
        .flags = (bias ? RV_GEMM_BIAS_M : 0) | (residual ? RV_GEMM_RESIDUAL : 0) | (d->relu ? RV_GEMM_RELU : 0),
        .alpha = 1.0f,
        .cin = d->cin, .h = d->h, .w = d->w, .oh = oh, .ow = ow,
        .kh = kh, .kw = kw, .stride = s, .pad = d->pad,
        .sbk = d->h * d->w, .sbn = 1, .sbb = d->cin * d->h * d->w, /* the input's strides (direct path) */
    };
    rv_binding bind[5] = {{weight, false}, {in, false}, {bias ? bias : weight, false},
                          {residual ? residual : weight, false}, {out, true}};
    if (texel_conv(cmd, out, in, weight, bias, residual, &pc, batch))
        return;
    if (d->cout <= cmd->gpu->tiles.dconv_max_cout && direct_conv(cmd, out, in, weight, bias, residual, &pc, batch))
        return;
    static const int pipes[RV_GEMM_CLASSES][2] = {
        {RV_PIPE_CONVN_F32, RV_PIPE_CONVN_F16}, {RV_PIPE_CONVM_F32, RV_PIPE_CONVM_F16}, {RV_PIPE_CONV_F32, RV_PIPE_CONV_F16}};
    const int cls = gemm_class(&cmd->gpu->tiles, d->cout);
    const rv_gemm_tiles *g = &cmd->gpu->tiles.gemm[cls];
    if (!check(cmd, op, batch <= MAX_GROUPS && div_up(N, g->bn) <= 0x7fffffffu, "batch too large"))
        return;
    rv_cmd_dispatch(cmd, pick(t, pipes[cls][0], pipes[cls][1]), bind, 5, &pc, sizeof(pc), div_up(N, g->bn),
                    div_up(d->cout, g->bm), batch);
}

bool rv_op_conv2d_up2(rv_cmd *cmd, const rv_tensor *out, const rv_tensor *in, const rv_tensor *weight,
                      const rv_tensor *bias, const rv_conv_desc *d)
{
    const rv_op op = RV_OP_CONV2D;
    if (failed(cmd) || !out || !in || !weight || !d)
        return false;
    const rv_tiles *tl = &cmd->gpu->tiles;
    const uint32_t batch = d->batch ? d->batch : 1, cot = tl->tconvup_cot, wg = tl->tconv_wg;
    if (!tl->tconvup || d->kh != 3 || d->kw != 3 || (d->stride && d->stride != 1) || d->pad != 1 || d->w % 4 != 0 ||
        d->cin % 4 != 0 || !d->cin || !d->cout || !d->h || d->h > 0x7fffffffu / 2 || d->w > 0x7fffffffu / 2 ||
        !rv_texel_readable(cmd->gpu, in) || !rv_texel_readable(cmd->gpu, weight) ||
        (bias && !rv_texel_readable(cmd->gpu, bias)))
        return false;
    const uint64_t N = 4ull * d->h * d->w, K = 9ull * d->cin, strips = (uint64_t)d->h * (d->w / 4);
    if (div_up(strips, wg) > MAX_GROUPS || div_up(d->cout, cot) > MAX_GROUPS || batch > MAX_GROUPS ||
        N * d->cout > 0xffffffffu || K > 0xffffffffu)
        return false;
    rv_dtype t = out->dtype;
    if (!need(cmd, op, out, t, (uint64_t)batch * d->cout * N, "output") ||
        !need(cmd, op, in, t, (uint64_t)batch * d->cin * d->h * d->w, "input") ||
        !need(cmd, op, weight, t, (uint64_t)d->cout * K, "weight") || (bias && !need(cmd, op, bias, t, d->cout, "bias")))
        return true; /* the error is recorded */
    struct rv_pc_gemm pc = {
        .M = d->cout, .N = (uint32_t)N, .K = (uint32_t)K, .batch = batch,
        .scm = (uint32_t)N, .scn = 1, .scb = (uint32_t)(d->cout * N),
        .flags = (bias ? RV_GEMM_BIAS_M : 0) | (d->relu ? RV_GEMM_RELU : 0),
        .alpha = 1.0f,
        .cin = d->cin, .h = d->h, .w = d->w, .oh = 2 * d->h, .ow = 2 * d->w,
        .kh = 3, .kw = 3, .stride = 1, .pad = 1,
        .sbk = d->h * d->w, .sbn = 1, .sbb = d->cin * d->h * d->w,
    };
    /* the unused residual binding aliases the input (a texel binding) */
    rv_binding bind[5] = {{weight, false}, {in, false}, {bias ? bias : weight, false}, {in, false}, {out, true}};
    rv_cmd_dispatch(cmd, pick(t, RV_PIPE_TCONVUP_F32, RV_PIPE_TCONVUP_F16), bind, 5, &pc, sizeof(pc),
                    div_up(strips, wg), div_up(d->cout, cot), batch);
    return true;
}

bool rv_op_attention_texel(const rv_cmd *cmd, const rv_attn_desc *d)
{
    const rv_tiles *tl = &cmd->gpu->tiles;
    uint32_t batch = d->batch ? d->batch : 1, H = d->heads, D = d->dim, row = H * D;
    uint32_t sq = d->q_stride ? d->q_stride : row, sk = d->k_stride ? d->k_stride : row;
    uint32_t sv = d->v_stride ? d->v_stride : row;
    return tl->tattn && !d->causal && (D == 32 || D == 64) && H <= MAX_GROUPS && batch <= MAX_GROUPS &&
           div_up(d->lq, tl->tattn_qb) <= MAX_GROUPS &&
           (sq | sk | sv | sq * d->lq | sk * d->lk | sv * d->lk) % 4 == 0;
}

void rv_op_attention(rv_cmd *cmd, const rv_tensor *out, const rv_tensor *q, const rv_tensor *k, const rv_tensor *v,
                     const rv_attn_desc *d)
{
    const rv_op op = RV_OP_ATTENTION;
    if (failed(cmd) || !check(cmd, op, out && d, "missing output or descriptor"))
        return;
    rv_dtype t = out->dtype;
    const rv_tiles *tl = &cmd->gpu->tiles;
    uint32_t batch = d->batch ? d->batch : 1, H = d->heads, D = d->dim;
    int variant = D <= tl->attn_dmax[0] ? 0 : 1;
    if (!check(cmd, op, H && D && d->lq && d->lk, "zero dimension") ||
        !check(cmd, op, D <= tl->attn_dmax[1], "head dimension above 160 is not supported"))
        return;
    uint32_t row = H * D;
    uint32_t sq = d->q_stride ? d->q_stride : row, sk = d->k_stride ? d->k_stride : row;
    uint32_t sv = d->v_stride ? d->v_stride : row, so = d->o_stride ? d->o_stride : row;
    if (!check(cmd, op, sq >= row && sk >= row && sv >= row && so >= row, "token stride smaller than heads*dim") ||
        !need(cmd, op, out, t, (uint64_t)batch * d->lq * so - (so - row), "output") ||
        !need(cmd, op, q, t, (uint64_t)batch * d->lq * sq - (sq - row), "Q") ||
        !need(cmd, op, k, t, (uint64_t)batch * d->lk * sk - (sk - row), "K") ||
        !need(cmd, op, v, t, (uint64_t)batch * d->lk * sv - (sv - row), "V"))
        return;
    struct rv_pc_attn pc = {
        .Lq = d->lq, .Lk = d->lk, .D = D, .heads = H, .batch = batch,
        .sq_tok = sq, .sq_b = sq * d->lq, .sk_tok = sk, .sk_b = sk * d->lk,
        .sv_tok = sv, .sv_b = sv * d->lk, .so_tok = so, .so_b = so * d->lq,
        .causal = d->causal, .scale = d->scale != 0.0f ? d->scale : 1.0f / sqrtf((float)D),
    };
    rv_binding bind[4] = {{q, false}, {k, false}, {v, false}, {out, true}};
    /* CPU devices: lanes split the keys, rows read as texels, any length
     * (2.3 vs 5.3 ms for 256 tokens on dattn.comp, which stays for causal
     * attention and devices without RGBA texel views) */
    if (rv_op_attention_texel(cmd, d) && rv_texel_readable(cmd->gpu, q) && rv_texel_readable(cmd->gpu, k) &&
        rv_texel_readable(cmd->gpu, v)) {
        int tp = D == 32 ? pick(t, RV_PIPE_TATTN32_F32, RV_PIPE_TATTN32_F16)
                         : pick(t, RV_PIPE_TATTN64_F32, RV_PIPE_TATTN64_F16);
        rv_cmd_dispatch(cmd, tp, bind, 4, &pc, sizeof(pc), div_up(d->lq, tl->tattn_qb), H, batch);
        return;
    }
    if (tl->dattn && (D == 32 || D == 64) && H <= MAX_GROUPS && batch <= MAX_GROUPS &&
        div_up(d->lq, tl->dattn_wg) <= MAX_GROUPS && fits_uniform(cmd, k) && fits_uniform(cmd, v) &&
        (sk | sv | pc.sk_b | pc.sv_b) % 4 == 0) {
        int dp = D == 32 ? pick(t, RV_PIPE_DATTN32_F32, RV_PIPE_DATTN32_F16)
                         : pick(t, RV_PIPE_DATTN64_F32, RV_PIPE_DATTN64_F16);
        rv_cmd_dispatch(cmd, dp, bind, 4, &pc, sizeof(pc), div_up(d->lq, tl->dattn_wg), H, batch);
        return;
    }
    int pipe = variant == 0 ? pick(t, RV_PIPE_ATTN64_F32, RV_PIPE_ATTN64_F16)
                            : pick(t, RV_PIPE_ATTN160_F32, RV_PIPE_ATTN160_F16);
    if (!check(cmd, op, H <= MAX_GROUPS && batch <= MAX_GROUPS, "too many heads or batch entries"))
        return;
    rv_cmd_dispatch(cmd, pipe, bind, 4, &pc, sizeof(pc), div_up(d->lq, tl->attn_br[variant]), H, batch);
}

static void norm(rv_cmd *cmd, rv_op op, const rv_tensor *y, const rv_tensor *x, const rv_tensor *gamma,
                 const rv_tensor *beta, uint32_t rows, uint32_t C, uint32_t HW, uint32_t G, float eps, bool silu)
{
    if (failed(cmd) || !check(cmd, op, y != NULL, "missing output"))
        return;
    rv_dtype t = y->dtype;
    uint64_t total = G ? (uint64_t)rows / G * C * HW : (uint64_t)rows * C;
    if (!check(cmd, op, C && HW && rows, "zero dimension") || !check(cmd, op, !G || C % G == 0, "C not divisible by groups") ||
        !need(cmd, op, y, t, total, "y") || !need(cmd, op, x, t, total, "x") ||
        !need(cmd, op, gamma, t, C, "gamma") || !need(cmd, op, beta, t, C, "beta"))
        return;
    struct rv_pc_norm pc = {.rows = rows, .C = C, .HW = HW, .G = G, .silu = silu, .eps = eps};
    rv_binding bind[4] = {{x, false}, {gamma, false}, {beta, false}, {y, true}};
    /* CPU devices: texel reads, one subgroup per segment (segments of 4k
     * elements: HW % 4 for a group norm, C % 4 for a layer norm) */
    if (cmd->gpu->tiles.tnorm && (G ? HW % 4 == 0 : C % 4 == 0) && rv_texel_readable(cmd->gpu, x) &&
        rv_texel_readable(cmd->gpu, gamma) && rv_texel_readable(cmd->gpu, beta)) {
        uint32_t gx, gy;
        grid1d(rows, 1, &gx, &gy);
        rv_cmd_dispatch(cmd, pick(t, RV_PIPE_TNORM_F32, RV_PIPE_TNORM_F16), bind, 4, &pc, sizeof(pc), gx, gy, 1);
        return;
    }
    /* group norm: a workgroup per group; layer norm: a subgroup per row, and
     * at least reduce_wg / subgroup_max subgroups in each workgroup */
    const rv_device_info *info = &cmd->gpu->info;
    uint32_t per_wg = 1;
    if (!G && info->subgroup_max)
        per_wg = cmd->gpu->tiles.reduce_wg / info->subgroup_max;
    per_wg = per_wg ? per_wg : 1;
    uint32_t gx, gy;
    grid1d(rows, per_wg, &gx, &gy);
    rv_cmd_dispatch(cmd, pick(t, RV_PIPE_NORM_F32, RV_PIPE_NORM_F16), bind, 4, &pc, sizeof(pc), gx, gy, 1);
}

void rv_op_group_norm(rv_cmd *cmd, const rv_tensor *y, const rv_tensor *x, const rv_tensor *gamma,
                      const rv_tensor *beta, uint32_t batch, uint32_t C, uint32_t HW, uint32_t groups, float eps,
                      bool silu)
{
    if (!check(cmd, RV_OP_GROUP_NORM, groups > 0, "zero groups"))
        return;
    norm(cmd, RV_OP_GROUP_NORM, y, x, gamma, beta, (batch ? batch : 1) * groups, C, HW, groups, eps, silu);
}

void rv_op_layer_norm(rv_cmd *cmd, const rv_tensor *y, const rv_tensor *x, const rv_tensor *gamma,
                      const rv_tensor *beta, uint32_t rows, uint32_t C, float eps)
{
    norm(cmd, RV_OP_LAYER_NORM, y, x, gamma, beta, rows, C, 1, 0, eps, false);
}

void rv_op_unary(rv_cmd *cmd, const rv_tensor *y, const rv_tensor *x, int uop, float alpha, float beta)
{
    const rv_op op = RV_OP_UNARY;
    if (failed(cmd) || !check(cmd, op, x && y, "missing tensor") ||
        !check(cmd, op, uop >= 0 && uop < RV_UNARY_COUNT, "unknown unary op") ||
        !need(cmd, op, x, y->dtype, x->count, "x") || !need(cmd, op, y, y->dtype, x->count, "y"))
        return;
    bool vec = x->count % 4 == 0 && aligned4(x) && aligned4(y);
    struct rv_pc_unary pc = {.n = (uint32_t)x->count, .op = (uint32_t)uop, .alpha = alpha, .beta = beta, .vec = vec};
    rv_binding bind[2] = {{x, false}, {y, true}};
    uint32_t gx, gy;
    grid1d(vec ? x->count / 4 : x->count, cmd->gpu->tiles.elem_wg, &gx, &gy);
    const bool texel = vec && cmd->gpu->tiles.tconv && rv_texel_readable(cmd->gpu, x); /* CPU devices */
    rv_cmd_dispatch(cmd, texel ? pick(y->dtype, RV_PIPE_UNARYT_F32, RV_PIPE_UNARYT_F16)
                               : pick(y->dtype, RV_PIPE_UNARY_F32, RV_PIPE_UNARY_F16), bind, 2, &pc, sizeof(pc), gx, gy, 1);
}

void rv_op_binary(rv_cmd *cmd, const rv_tensor *out, const rv_tensor *a, const rv_tensor *b, int bop,
                  const uint32_t ne[4], const uint32_t sa[4], const uint32_t sb[4], float alpha)
{
    const rv_op op = RV_OP_BINARY;
    if (failed(cmd) || !check(cmd, op, out && a && b, "missing tensor") ||
        !check(cmd, op, bop >= 0 && bop < RV_BINARY_COUNT, "unknown binary op"))
        return;
    uint64_t n = (uint64_t)ne[0] * ne[1] * ne[2] * ne[3];
    uint64_t la = 1, lb = 1; /* one past the last element each operand reads */
    for (int i = 0; i < 4; i++) {
        la += (uint64_t)(ne[i] - 1) * sa[i];
        lb += (uint64_t)(ne[i] - 1) * sb[i];
    }
    rv_dtype t = out->dtype;
    if (!check(cmd, op, n > 0, "zero dimension") || !need(cmd, op, out, t, n, "out") ||
        !need(cmd, op, a, t, la, "a") || !need(cmd, op, b, t, lb, "b"))
        return;
    struct rv_pc_binary pc = {
        .ne0 = ne[0], .ne1 = ne[1], .ne2 = ne[2], .ne3 = ne[3],
        .sa0 = sa[0], .sa1 = sa[1], .sa2 = sa[2], .sa3 = sa[3],
        .sb0 = sb[0], .sb1 = sb[1], .sb2 = sb[2], .sb3 = sb[3],
        .op = (uint32_t)bop, .alpha = alpha != 0.0f ? alpha : 1.0f,
    };
    /* contiguous same-shape operands: the vec4 path */
    bool dense = n % 4 == 0 && aligned4(a) && aligned4(b) && aligned4(out);
    uint64_t expect = 1;
    for (int i = 3; i >= 0 && dense; i--) {
        dense = ne[i] == 1 || (sa[i] == expect && sb[i] == expect);
        expect *= ne[i];
    }
    pc.vec = dense;
    rv_binding bind[3] = {{a, false}, {b, false}, {out, true}};
    uint32_t gx, gy;
    if (dense && cmd->gpu->tiles.tconv && rv_texel_readable(cmd->gpu, a) && rv_texel_readable(cmd->gpu, b)) {
        grid1d(n / 4, cmd->gpu->tiles.elem_wg, &gx, &gy); /* CPU devices: operands read as texels */
        rv_cmd_dispatch(cmd, pick(t, RV_PIPE_BINARYT_F32, RV_PIPE_BINARYT_F16), bind, 3, &pc, sizeof(pc), gx, gy, 1);
        return;
    }
    /* a contiguous, b one value per row of ne[3] (a per-channel vector over
     * an image): CPU devices read a as texels */
    bool rows = !dense && ne[3] % 4 == 0 && aligned4(a) && aligned4(out) && sb[3] == 0;
    for (int i = 3, ea = 1, eb = 1; i >= 0 && rows; i--) { /* dimensions of extent 1 have any stride */
        rows = ne[i] == 1 || (sa[i] == (uint32_t)ea && (i == 3 || sb[i] == (uint32_t)eb));
        ea *= (int)ne[i];
        eb *= i == 3 ? 1 : (int)ne[i];
    }
    if (rows && cmd->gpu->tiles.tconv && rv_texel_readable(cmd->gpu, a)) {
        grid1d(n / 4, cmd->gpu->tiles.elem_wg, &gx, &gy);
        rv_cmd_dispatch(cmd, pick(t, RV_PIPE_BINARYTR_F32, RV_PIPE_BINARYTR_F16), bind, 3, &pc, sizeof(pc), gx, gy, 1);
        return;
    }
    grid1d(dense ? n / 4 : n, cmd->gpu->tiles.elem_wg, &gx, &gy);
    rv_cmd_dispatch(cmd, pick(t, RV_PIPE_BINARY_F32, RV_PIPE_BINARY_F16), bind, 3, &pc, sizeof(pc), gx, gy, 1);
}

static void same_shape(rv_cmd *cmd, const rv_tensor *out, const rv_tensor *a, const rv_tensor *b, int bop)
{
    if (failed(cmd) || !check(cmd, RV_OP_BINARY, out && a && b, "missing tensor"))
        return;
    uint32_t ne[4] = {1, 1, 1, (uint32_t)out->count}, s[4] = {0, 0, 0, 1};
    rv_op_binary(cmd, out, a, b, bop, ne, s, s, 1.0f);
}

void rv_op_add(rv_cmd *cmd, const rv_tensor *out, const rv_tensor *a, const rv_tensor *b)
{
    same_shape(cmd, out, a, b, RV_BINARY_ADD);
}

void rv_op_mul(rv_cmd *cmd, const rv_tensor *out, const rv_tensor *a, const rv_tensor *b)
{
    same_shape(cmd, out, a, b, RV_BINARY_MUL);
}

void rv_op_geglu(rv_cmd *cmd, const rv_tensor *y, const rv_tensor *x, uint32_t rows, uint32_t F)
{
    const rv_op op = RV_OP_GEGLU;
    if (failed(cmd) || !check(cmd, op, y != NULL, "missing output") || !check(cmd, op, rows && F, "zero dimension") ||
        !need(cmd, op, y, y->dtype, (uint64_t)rows * F, "y") || !need(cmd, op, x, y->dtype, 2ull * rows * F, "x"))
        return;
    struct rv_pc_geglu pc = {.rows = rows, .F = F};
    rv_binding bind[2] = {{x, false}, {y, true}};
    uint32_t gx, gy;
    if (cmd->gpu->tiles.tconv && F % 4 == 0 && rv_texel_readable(cmd->gpu, x)) {
        grid1d((uint64_t)rows * F / 4, cmd->gpu->tiles.elem_wg, &gx, &gy); /* CPU devices: x read as texels */
        rv_cmd_dispatch(cmd, pick(y->dtype, RV_PIPE_GEGLUT_F32, RV_PIPE_GEGLUT_F16), bind, 2, &pc, sizeof(pc), gx, gy, 1);
        return;
    }
    grid1d((uint64_t)rows * F, cmd->gpu->tiles.elem_wg, &gx, &gy);
    rv_cmd_dispatch(cmd, pick(y->dtype, RV_PIPE_GEGLU_F32, RV_PIPE_GEGLU_F16), bind, 2, &pc, sizeof(pc), gx, gy, 1);
}

void rv_op_upsample2x(rv_cmd *cmd, const rv_tensor *y, const rv_tensor *x, uint32_t planes, uint32_t h, uint32_t w)
{
    const rv_op op = RV_OP_UPSAMPLE2X;
    uint64_t n = (uint64_t)planes * h * w;
    if (failed(cmd) || !check(cmd, op, y != NULL, "missing output") || !check(cmd, op, n > 0, "zero dimension") ||
        !need(cmd, op, y, y->dtype, 4 * n, "y") || !need(cmd, op, x, y->dtype, n, "x"))
        return;
    struct rv_pc_upsample pc = {.planes = planes, .h = h, .w = w};
    rv_binding bind[2] = {{x, false}, {y, true}};
    uint32_t gx, gy;
    if (cmd->gpu->tiles.tconv && w % 4 == 0 && rv_texel_readable(cmd->gpu, x)) {
        grid1d(n / 4, cmd->gpu->tiles.elem_wg, &gx, &gy); /* a source texel per invocation */
        rv_cmd_dispatch(cmd, pick(y->dtype, RV_PIPE_UPSAMPLET_F32, RV_PIPE_UPSAMPLET_F16), bind, 2, &pc, sizeof(pc), gx,
                        gy, 1);
        return;
    }
    grid1d(4 * n, cmd->gpu->tiles.elem_wg, &gx, &gy);
    rv_cmd_dispatch(cmd, pick(y->dtype, RV_PIPE_UPSAMPLE_F32, RV_PIPE_UPSAMPLE_F16), bind, 2, &pc, sizeof(pc), gx, gy,
                    1);
}

void rv_op_concat(rv_cmd *cmd, const rv_tensor *out, const rv_tensor *a, const rv_tensor *b, uint32_t batch,
                  uint32_t ca, uint32_t cb, uint32_t hw)
{
    const rv_op op = RV_OP_CONCAT;
    batch = batch ? batch : 1;
    uint64_t n = (uint64_t)batch * (ca + cb) * hw;
    if (failed(cmd) || !check(cmd, op, out != NULL, "missing output") || !check(cmd, op, ca && cb && hw, "zero dimension") ||
        !need(cmd, op, out, out->dtype, n, "out") || !need(cmd, op, a, out->dtype, (uint64_t)batch * ca * hw, "a") ||
        !need(cmd, op, b, out->dtype, (uint64_t)batch * cb * hw, "b"))
        return;
    struct rv_pc_concat pc = {.batch = batch, .ca = ca, .cb = cb, .hw = hw};
    rv_binding bind[3] = {{a, false}, {b, false}, {out, true}};
    uint32_t gx, gy;
    if (cmd->gpu->tiles.tconv && hw % 4 == 0 && rv_texel_readable(cmd->gpu, a) && rv_texel_readable(cmd->gpu, b)) {
        grid1d(n / 4, cmd->gpu->tiles.elem_wg, &gx, &gy); /* CPU devices: inputs read as texels */
        rv_cmd_dispatch(cmd, pick(out->dtype, RV_PIPE_CONCATT_F32, RV_PIPE_CONCATT_F16), bind, 3, &pc, sizeof(pc), gx,
                        gy, 1);
        return;
    }
    grid1d(n, cmd->gpu->tiles.elem_wg, &gx, &gy);
    rv_cmd_dispatch(cmd, pick(out->dtype, RV_PIPE_CONCAT_F32, RV_PIPE_CONCAT_F16), bind, 3, &pc, sizeof(pc), gx, gy, 1);
}

void rv_op_timestep_embedding(rv_cmd *cmd, const rv_tensor *out, const rv_tensor *timesteps, uint32_t batch,
                              uint32_t dim, bool flip_sin_to_cos, float freq_shift, float scale, float max_period)
{
    const rv_op op = RV_OP_TIMESTEP_EMBED;
    batch = batch ? batch : 1;
    if (failed(cmd) || !check(cmd, op, out != NULL, "missing output") || !check(cmd, op, dim > 0, "zero dimension") ||
        !check(cmd, op, (float)(dim / 2) != freq_shift, "freq_shift equals half the dimension") ||
        !need(cmd, op, out, out->dtype, (uint64_t)batch * dim, "out") ||
        !need(cmd, op, timesteps, RV_F32, batch, "timesteps"))
        return;
    struct rv_pc_temb pc = {
        .batch = batch, .dim = dim, .flip = flip_sin_to_cos, .shift = freq_shift,
        .max_period = max_period > 0.0f ? max_period : 10000.0f, .scale = scale != 0.0f ? scale : 1.0f,
    };
    rv_binding bind[2] = {{timesteps, false}, {out, true}};
    uint32_t gx, gy;
    grid1d((uint64_t)batch * dim, cmd->gpu->tiles.elem_wg, &gx, &gy);
    rv_cmd_dispatch(cmd, pick(out->dtype, RV_PIPE_TEMB_F32, RV_PIPE_TEMB_F16), bind, 2, &pc, sizeof(pc), gx, gy, 1);
}

void rv_op_to_rgba8(rv_cmd *cmd, const rv_tensor *out, const rv_tensor *x, uint32_t batch, uint32_t h, uint32_t w,
                    float scale, float bias)
{
    const rv_op op = RV_OP_TO_RGBA8;
    batch = batch ? batch : 1;
    uint64_t px = (uint64_t)batch * h * w;
    if (failed(cmd) || !check(cmd, op, out && x, "missing tensor") || !check(cmd, op, px > 0, "zero dimension") ||
        !need(cmd, op, out, RV_U8X4, px, "out") || !need(cmd, op, x, x->dtype, 3 * px, "x") ||
        !check(cmd, op, x->dtype != RV_U8X4, "input must be a float tensor"))
        return;
    struct rv_pc_rgba pc = {.batch = batch, .h = h, .w = w, .scale = scale, .bias = bias};
    rv_binding bind[2] = {{x, false}, {out, true}};
    uint32_t gx, gy;
    if (cmd->gpu->tiles.tconv && ((uint64_t)h * w) % 4 == 0 && rv_texel_readable(cmd->gpu, x)) {
        grid1d(px / 4, cmd->gpu->tiles.elem_wg, &gx, &gy); /* 4 pixels per invocation, planes read as texels */
        rv_cmd_dispatch(cmd, pick(x->dtype, RV_PIPE_RGBAT_F32, RV_PIPE_RGBAT_F16), bind, 2, &pc, sizeof(pc), gx, gy, 1);
        return;
    }
    grid1d(px, cmd->gpu->tiles.elem_wg, &gx, &gy);
    rv_cmd_dispatch(cmd, pick(x->dtype, RV_PIPE_RGBA_F32, RV_PIPE_RGBA_F16), bind, 2, &pc, sizeof(pc), gx, gy, 1);
}

void rv_op_embedding(rv_cmd *cmd, const rv_tensor *out, const rv_tensor *ids, const rv_tensor *table,
                     uint32_t rows, uint32_t dim, uint32_t first, uint32_t table_rows)
{
    const rv_op op = RV_OP_EMBEDDING;
    uint64_t n = (uint64_t)rows * dim;
    if (failed(cmd) || !check(cmd, op, out != NULL, "missing output") ||
        !check(cmd, op, n > 0 && table_rows > 0, "zero dimension") ||
        !check(cmd, op, (uint64_t)first + table_rows <= (1u << 24), "ids beyond 2^24 are not exact in float32") ||
        !need(cmd, op, out, out->dtype, n, "out") || !need(cmd, op, ids, RV_F32, rows, "ids") ||
        !need(cmd, op, table, out->dtype, (uint64_t)table_rows * dim, "table"))
        return;
    struct rv_pc_embed pc = {.rows = rows, .dim = dim, .first = first, .count = table_rows};
    rv_binding bind[3] = {{ids, false}, {table, false}, {out, true}};
    uint32_t gx, gy;
    grid1d(n, cmd->gpu->tiles.elem_wg, &gx, &gy);
    rv_cmd_dispatch(cmd, pick(out->dtype, RV_PIPE_EMBED_F32, RV_PIPE_EMBED_F16), bind, 3, &pc, sizeof(pc), gx, gy, 1);
}

void rv_op_resize_nearest(rv_cmd *cmd, const rv_tensor *y, const rv_tensor *x, uint32_t planes, uint32_t h,
                          uint32_t w, uint32_t oh, uint32_t ow)
{
    const rv_op op = RV_OP_RESIZE_NEAREST;
    uint64_t n = (uint64_t)planes * oh * ow;
    if (failed(cmd) || !check(cmd, op, y != NULL, "missing output") ||
        !check(cmd, op, n > 0 && h > 0 && w > 0, "zero dimension") ||
        !need(cmd, op, y, y->dtype, n, "y") || !need(cmd, op, x, y->dtype, (uint64_t)planes * h * w, "x"))
        return;
    struct rv_pc_resize pc = {.planes = planes, .h = h, .w = w, .oh = oh, .ow = ow,
                              .sh = (float)h / (float)oh, .sw = (float)w / (float)ow};
    rv_binding bind[2] = {{x, false}, {y, true}};
    uint32_t gx, gy;
    grid1d(n, cmd->gpu->tiles.elem_wg, &gx, &gy);
    rv_cmd_dispatch(cmd, pick(y->dtype, RV_PIPE_RESIZE_F32, RV_PIPE_RESIZE_F16), bind, 2, &pc, sizeof(pc), gx, gy, 1);
}

void rv_op_pad2d(rv_cmd *cmd, const rv_tensor *y, const rv_tensor *x, uint32_t planes, uint32_t h, uint32_t w,
                 uint32_t oh, uint32_t ow, uint32_t top, uint32_t left)
{
    const rv_op op = RV_OP_PAD2D;
    uint64_t n = (uint64_t)planes * oh * ow;
    if (failed(cmd) || !check(cmd, op, y != NULL, "missing output") ||
        !check(cmd, op, n > 0 && h > 0 && w > 0, "zero dimension") ||
        !check(cmd, op, (uint64_t)top + h <= oh && (uint64_t)left + w <= ow, "input does not fit in the output") ||
        !need(cmd, op, y, y->dtype, n, "y") || !need(cmd, op, x, y->dtype, (uint64_t)planes * h * w, "x"))
        return;
    struct rv_pc_pad pc = {.planes = planes, .h = h, .w = w, .oh = oh, .ow = ow, .top = top, .left = left};
    rv_binding bind[2] = {{x, false}, {y, true}};
    uint32_t gx, gy;
    grid1d(n, cmd->gpu->tiles.elem_wg, &gx, &gy);
    rv_cmd_dispatch(cmd, pick(y->dtype, RV_PIPE_PAD_F32, RV_PIPE_PAD_F16), bind, 2, &pc, sizeof(pc), gx, gy, 1);
}

void rv_op_softmax(rv_cmd *cmd, const rv_tensor *y, const rv_tensor *x, uint32_t rows, uint32_t n, float scale)
{
    const rv_op op = RV_OP_SOFTMAX;
    uint64_t total = (uint64_t)rows * n;
    if (failed(cmd) || !check(cmd, op, y != NULL, "missing output") || !check(cmd, op, total > 0, "zero dimension") ||
        !need(cmd, op, y, y->dtype, total, "y") || !need(cmd, op, x, y->dtype, total, "x"))
        return;
    struct rv_pc_softmax pc = {.rows = rows, .n = n, .scale = scale != 0.0f ? scale : 1.0f};
    rv_binding bind[2] = {{x, false}, {y, true}};
    uint32_t gx, gy;
    grid1d(rows, 1, &gx, &gy);
    rv_cmd_dispatch(cmd, pick(y->dtype, RV_PIPE_SOFTMAX_F32, RV_PIPE_SOFTMAX_F16), bind, 2, &pc, sizeof(pc), gx, gy,
                    1);
}

void rv_op_warp(rv_cmd *cmd, const rv_tensor *y, const rv_tensor *x, uint32_t planes, uint32_t h, uint32_t w,
                const float minv[4], const float off[2])
{
    const rv_op op = RV_OP_WARP;
    uint64_t n = (uint64_t)planes * h * w;
    bool finite = true;
    for (int i = 0; i < 4; i++)
        finite = finite && isfinite(minv[i]) && (i >= 2 || isfinite(off[i]));
    if (failed(cmd) || !check(cmd, op, y != NULL, "missing output") || !check(cmd, op, n > 0, "zero dimension") ||
        !check(cmd, op, h < (1u << 24) && w < (1u << 24), "sides of 2^24 or more are not exact in float32") ||
        !check(cmd, op, finite, "non-finite transform") || !need(cmd, op, y, y->dtype, n, "y") ||
        !need(cmd, op, x, y->dtype, n, "x"))
        return;
    struct rv_pc_warp pc = {.planes = planes, .h = h, .w = w, .m00 = minv[0], .m01 = minv[1], .m10 = minv[2],
                            .m11 = minv[3], .ox = off[0], .oy = off[1]};
    rv_binding bind[2] = {{x, false}, {y, true}};
    uint32_t gx, gy;
    grid1d(n, cmd->gpu->tiles.elem_wg, &gx, &gy);
    rv_cmd_dispatch(cmd, pick(y->dtype, RV_PIPE_WARP_F32, RV_PIPE_WARP_F16), bind, 2, &pc, sizeof(pc), gx, gy, 1);
}

void rv_op_check_finite(rv_cmd *cmd, const rv_tensor *flags, const rv_tensor *x, uint32_t slot)
{
    const rv_op op = RV_OP_CHECK_FINITE;
    if (failed(cmd) || !check(cmd, op, x && flags, "missing tensor") ||
        !check(cmd, op, x->dtype == RV_F32 || x->dtype == RV_F16, "x must be f32 or f16") ||
        !need(cmd, op, x, x->dtype, x->count, "x") || !need(cmd, op, flags, RV_F32, (uint64_t)slot + 1, "flags") ||
        !check(cmd, op, x->count > 0, "x is empty"))
        return;
    struct rv_pc_finite pc = {.n = (uint32_t)x->count, .slot = slot};
    rv_binding bind[2] = {{x, false}, {flags, true}};
    uint32_t gx, gy;
    if (cmd->gpu->tiles.tconv && x->count % 4 == 0 && rv_texel_readable(cmd->gpu, x)) {
        grid1d(div_up(x->count, 16), cmd->gpu->tiles.elem_wg, &gx, &gy); /* CPU devices: 4 texels per invocation */
        rv_cmd_dispatch(cmd, pick(x->dtype, RV_PIPE_FINITET_F32, RV_PIPE_FINITET_F16), bind, 2, &pc, sizeof(pc), gx, gy,
                        1);
        return;
    }
    grid1d(x->count, cmd->gpu->tiles.elem_wg, &gx, &gy);
    rv_cmd_dispatch(cmd, pick(x->dtype, RV_PIPE_FINITE_F32, RV_PIPE_FINITE_F16), bind, 2, &pc, sizeof(pc), gx, gy, 1);
}
