/* `reverie demo`: a small compute graph (conv, group norm + SiLU, pixel
 * self-attention, projection with residual, conv, tanh, RGBA8) recorded into
 * one command buffer, timed per stage, checked against the CPU reference and
 * written as a PNG. It shows the runtime working end to end on any device;
 * it is not a model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "rv_ops.h"
#include "rv_media.h"
#include "rv_ref.h"

#define CH 32
#define HEADS 2
#define GROUPS 8

static void help(void)
{
    printf("usage: reverie demo [-o out.png] [--size N] [GPU options]\n\n"
           "Runs a small image-to-image compute graph on the GPU in one command buffer\n"
           "(conv 3x3, group norm + SiLU, %d-head self-attention over all pixels, linear\n"
           "projection with residual, conv 3x3, tanh, RGBA8), prints GPU time per stage,\n"
           "compares the result with the plain-C reference and writes a PNG.\n"
           "  -o FILE     output PNG (default reverie-demo.png)\n"
           "  --size N    image side in pixels, 4 to 256 (default 64)\n\n%s",
           HEADS, rv_cli_gpu_help);
}

static float *seeded(size_t n, float scale, uint64_t seed, rv_dtype t)
{
    float *v = malloc(n * sizeof(float));
    if (!v)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        v[i] = ((float)(seed >> 40) / (float)(1 << 24) * 2.0f - 1.0f) * scale;
        v[i] = rv_dtype_round(t, v[i]);
    }
    return v;
}

enum { W1, B1, GG, GB, WQ, BQ, WK, BK, WV, BV, WO, BO, W2, B2, NW };

int rv_cmd_demo_main(int argc, char **argv)
{
    const char *out_path = "reverie-demo.png";
    long size = 64;
    rv_gpu_desc desc = {0};
    enum { OPT_OUT = 256, OPT_SIZE };
    static const rv_cli_opt opts[] = {{NULL, 'o', true, OPT_OUT}, {"size", 0, true, OPT_SIZE}, {0}};
    rv_cli_parser p;
    rv_cli_parser_init(&p, "demo", opts, &desc, argc, argv);
    for (int c; (c = rv_cli_next(&p)) != RV_CLI_END;) {
        if (c == RV_CLI_HELP) {
            help();
            return 0;
        }
        if (c == RV_CLI_ERROR)
            return 1;
        if (c == OPT_OUT)
            out_path = p.value;
        /* attention over every pixel: the work grows with size^4 */
        else if (c == OPT_SIZE && !rv_cli_long(&p, 4, 256, &size))
            return 1;
    }
    if (p.operand < argc) {
        fprintf(stderr, "reverie demo: unexpected argument \"%s\" (see --help)\n", argv[p.operand]);
        return 1;
    }
    rv_gpu *gpu = NULL;
    int rc = rv_cli_gpu_create(&gpu, &desc);
    if (rc)
        return rc;
    const rv_dtype t = rv_gpu_dtype(gpu);
    const uint32_t S = (uint32_t)size, HW = S * S, D = CH / HEADS;
    rv_error err = {0};
    rv_cmd *cmd = NULL;
    rv_tensor w[NW], x, h1, h2, q, k, v, a, h3, h4, img;
    rv_tensor *acts[] = {&x, &h1, &h2, &q, &k, &v, &a, &h3, &h4, &img};
    float *hw[NW] = {0}, *hx = NULL;
    float *r1 = NULL, *r2 = NULL, *rq = NULL, *rk = NULL, *rv = NULL, *ra = NULL, *r3 = NULL, *r4 = NULL;
    float *got = NULL;
    uint32_t *rgba = NULL, *rrgba = NULL;
    for (int i = 0; i < NW; i++)
        w[i].block = UINT32_MAX;
    for (size_t i = 0; i < sizeof(acts) / sizeof(acts[0]); i++)
        acts[i]->block = UINT32_MAX;

    const size_t wcount[NW] = {
        [W1] = CH * 3 * 9, [B1] = CH, [GG] = CH, [GB] = CH, [WQ] = CH * CH, [BQ] = CH, [WK] = CH * CH, [BK] = CH,
        [WV] = CH * CH, [BV] = CH, [WO] = CH * CH, [BO] = CH, [W2] = 3 * CH * 9, [B2] = 3,
    };
    const float wscale[NW] = {
        [W1] = 0.6f, [B1] = 0.2f, [GG] = 1.0f, [GB] = 0.3f, [WQ] = 0.5f, [BQ] = 0.1f, [WK] = 0.5f, [BK] = 0.1f,
        [WV] = 0.4f, [BV] = 0.1f, [WO] = 0.3f, [BO] = 0.1f, [W2] = 0.25f, [B2] = 0.05f,
    };
    for (int i = 0; i < NW; i++) {
        hw[i] = seeded(wcount[i], wscale[i], 1000 + (uint64_t)i * 7919, t);
        if (!hw[i]) {
            rv_error_set(&err, RV_ERR_HOST_MEMORY, "demo: out of host memory");
            goto fail;
        }
        if (i == GG) /* norm scales near 1, as trained models have (exact in fp16 too) */
            for (int j = 0; j < CH; j++)
                hw[i][j] = 1.0f + 0.5f * hw[i][j];
        if (rv_tensor_alloc(gpu, &w[i], t, wcount[i], &err) || rv_tensor_upload(gpu, &w[i], hw[i], &err))
            goto fail;
    }
    if (rv_tensor_alloc(gpu, &x, t, (uint64_t)3 * HW, &err) ||
        rv_tensor_alloc(gpu, &h1, t, (uint64_t)CH * HW, &err) || rv_tensor_alloc(gpu, &h2, t, (uint64_t)CH * HW, &err) ||
        rv_tensor_alloc(gpu, &q, t, (uint64_t)CH * HW, &err) || rv_tensor_alloc(gpu, &k, t, (uint64_t)CH * HW, &err) ||
        rv_tensor_alloc(gpu, &v, t, (uint64_t)CH * HW, &err) || rv_tensor_alloc(gpu, &a, t, (uint64_t)CH * HW, &err) ||
        rv_tensor_alloc(gpu, &h3, t, (uint64_t)CH * HW, &err) || rv_tensor_alloc(gpu, &h4, t, (uint64_t)3 * HW, &err) ||
        rv_tensor_alloc(gpu, &img, RV_U8X4, HW, &err) || rv_cmd_create(gpu, &cmd, &err))
        goto fail;
    hx = malloc((size_t)3 * HW * sizeof(float));
    if (!hx) {
        rv_error_set(&err, RV_ERR_HOST_MEMORY, "demo: out of host memory for a %ux%u image", S, S);
        goto fail;
    }
    for (uint32_t c = 0; c < 3; c++) /* a procedural picture: rings and stripes */
        for (uint32_t y = 0; y < S; y++)
            for (uint32_t xx = 0; xx < S; xx++) {
                float u = (float)xx / S - 0.5f, vv = (float)y / S - 0.5f;
                float val = sinf(18.0f * sqrtf(u * u + vv * vv) + 2.1f * c) * 0.7f + 0.3f * cosf(9.0f * u - 3.0f * c);
                hx[((size_t)c * S + y) * S + xx] = rv_dtype_round(t, val);
            }
    if (rv_tensor_upload(gpu, &x, hx, &err) || rv_cmd_begin(cmd, &err))
        goto fail;

    rv_conv_desc c1 = {.cin = 3, .h = S, .w = S, .cout = CH, .kh = 3, .kw = 3, .pad = 1};
    rv_conv_desc c2 = {.cin = CH, .h = S, .w = S, .cout = 3, .kh = 3, .kw = 3, .pad = 1};
    /* q/k/v [HW][CH] = h2^T @ W^T + b: A is h2 stored [CH][HW], i.e. transposed */
    rv_gemm_desc proj = {.M = HW, .N = CH, .K = CH, .trans_a = true, .trans_b = true, .shared_b = true};
    /* back to channels-first: h3 [CH][HW] = Wo @ a^T + bo + h1 */
    rv_gemm_desc back = {.M = CH, .N = HW, .K = CH, .trans_b = true, .bias_per_m = true};
    rv_attn_desc ad = {.heads = HEADS, .lq = HW, .lk = HW, .dim = D};
    rv_cmd_stage(cmd, "conv_in");
    rv_op_conv2d(cmd, &h1, &x, &w[W1], &w[B1], NULL, &c1);
    rv_cmd_stage(cmd, "group_norm_silu");
    rv_op_group_norm(cmd, &h2, &h1, &w[GG], &w[GB], 1, CH, HW, GROUPS, 1e-5f, true);
    rv_cmd_stage(cmd, "qkv");
    rv_op_gemm(cmd, &q, &h2, &w[WQ], &w[BQ], NULL, &proj);
    rv_op_gemm(cmd, &k, &h2, &w[WK], &w[BK], NULL, &proj);
    rv_op_gemm(cmd, &v, &h2, &w[WV], &w[BV], NULL, &proj);
    rv_cmd_stage(cmd, "attention");
    rv_op_attention(cmd, &a, &q, &k, &v, &ad);
    rv_cmd_stage(cmd, "proj_residual");
    rv_op_gemm(cmd, &h3, &w[WO], &a, &w[BO], &h1, &back);
    rv_cmd_stage(cmd, "conv_out");
    rv_op_conv2d(cmd, &h4, &h3, &w[W2], &w[B2], NULL, &c2);
    rv_op_unary(cmd, &h4, &h4, RV_UNARY_TANH, 0, 0);
    rv_op_to_rgba8(cmd, &img, &h4, 1, S, S, 0.5f, 0.5f);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (rv_cmd_run(cmd, &err))
        goto fail;
    clock_gettime(CLOCK_MONOTONIC, &t1);

    got = malloc((size_t)3 * HW * sizeof(float));
    rgba = malloc((size_t)HW * 4);
    if (!got || !rgba || rv_tensor_download(gpu, &h4, got, &err) || rv_tensor_read(gpu, &img, 0, rgba, (uint64_t)HW * 4, &err))
        goto fail;

    const rv_device_info *info = rv_gpu_info(gpu);
    printf("device: %s (%s), precision %s, image %ux%u, %d dispatches, %d barriers\n", info->name, info->type,
           rv_dtype_name(t), S, S, rv_cmd_dispatch_count(cmd), rv_cmd_barrier_count(cmd));
    rv_stage_time st[16];
    int ns = rv_cmd_timings(cmd, st, 16);
    double total = 0;
    for (int i = 0; i < ns; i++) {
        printf("  %-18s %9.3f ms\n", st[i].name, st[i].ms);
        total += st[i].ms;
    }
    printf("  %-18s %9.3f ms GPU, %.3f ms wall\n", "total", total,
           (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) * 1e-6);

    /* the same graph on the CPU reference */
    size_t n = (size_t)CH * HW;
    r1 = malloc(n * 4); r2 = malloc(n * 4); rq = malloc(n * 4); rk = malloc(n * 4); rv = malloc(n * 4);
    ra = malloc(n * 4); r3 = malloc(n * 4); r4 = malloc((size_t)3 * HW * 4); rrgba = malloc((size_t)HW * 4);
    if (!r1 || !r2 || !rq || !rk || !rv || !ra || !r3 || !r4 || !rrgba) {
        rv_error_set(&err, RV_ERR_HOST_MEMORY, "demo: out of host memory for the CPU reference");
        goto fail;
    }
    rv_ref_conv2d(r1, hx, hw[W1], hw[B1], NULL, 1, 3, S, S, CH, 3, 3, 1, 1);
    rv_ref_group_norm(r2, r1, hw[GG], hw[GB], 1, CH, HW, GROUPS, 1e-5f, true);
    rv_ref_gemm(rq, r2, hw[WQ], hw[BQ], NULL, HW, CH, CH, 1, true, true, false, true, 1);
    rv_ref_gemm(rk, r2, hw[WK], hw[BK], NULL, HW, CH, CH, 1, true, true, false, true, 1);
    rv_ref_gemm(rv, r2, hw[WV], hw[BV], NULL, HW, CH, CH, 1, true, true, false, true, 1);
    rv_ref_attention(ra, rq, rk, rv, 1, HEADS, HW, HW, D, 0, 0, 0, 0, false, 0);
    rv_ref_gemm(r3, hw[WO], ra, hw[BO], r1, CH, HW, CH, 1, false, true, true, false, 1);
    rv_ref_conv2d(r4, r3, hw[W2], hw[B2], NULL, 1, CH, S, S, 3, 3, 3, 1, 1);
    rv_ref_unary(r4, r4, (uint64_t)3 * HW, RV_UNARY_TANH, 0, 0);
    rv_ref_to_rgba8(rrgba, r4, 1, S, S, 0.5f, 0.5f);
    double num = 0, den = 0;
    for (size_t i = 0; i < (size_t)3 * HW; i++) {
        num += ((double)got[i] - r4[i]) * ((double)got[i] - r4[i]);
        den += (double)r4[i] * r4[i];
    }
    int far = 0;
    for (size_t i = 0; i < HW; i++)
        for (int c = 0; c < 3; c++)
            if (abs((int)((rgba[i] >> (8 * c)) & 255) - (int)((rrgba[i] >> (8 * c)) & 255)) > 2)
                far++;
    double nmse = den > 0 ? num / den : num;
    /* fp16 storage rounds every intermediate: a looser bound than fp32 */
    double limit = t == RV_F16 ? 1e-4 : 1e-6;
    printf("check against the CPU reference: NMSE %.3e (limit %.0e), %d channel values off by more than 2/255: %s\n",
           nmse, limit, far, nmse <= limit ? "OK" : "NOT OK");
    if (nmse > limit)
        rc = 3;
    char size_text[32];
    snprintf(size_text, sizeof(size_text), "%ux%u", S, S);
    rv_media_text text[3] = {{"Software", "Reverie 0.1.0 (reverie demo)"}, {"Device", info->name}, {"Size", size_text}};
    if (rv_png_write_media(out_path, rgba, S, S, NULL, text, 3, &err))
        goto fail;
    printf("wrote %s\n", out_path);
    if (rv_gpu_validation_count(gpu) > 0) {
        fprintf(stderr, "reverie demo: %d validation message(s)\n", rv_gpu_validation_count(gpu));
        rc = 3;
    }
    goto done;
fail:
    fprintf(stderr, "reverie demo: %s: %s\n", rv_status_name(err.code), err.msg);
    rc = 2;
done:
    free(r1); free(r2); free(rq); free(rk); free(rv); free(ra); free(r3); free(r4); free(rrgba);
    free(got);
    free(rgba);
    free(hx);
    for (int i = 0; i < NW; i++) {
        free(hw[i]);
        rv_tensor_free(gpu, &w[i]);
    }
    for (size_t i = 0; i < sizeof(acts) / sizeof(acts[0]); i++)
        rv_tensor_free(gpu, acts[i]);
    rv_cmd_destroy(cmd);
    rv_gpu_destroy(gpu);
    return rc;
}
