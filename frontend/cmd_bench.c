/* `reverie bench ops`: GFLOP/s and GB/s per op and shape on the chosen
 * device, timed with GPU timestamps; with --compare-torch also each case in
 * PyTorch on the CPU in the same run, and % of this CPU's measured FMA peak.
 * JSON on stdout, a table on stderr. Measures; asserts nothing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_cpu.h"
#include "cli.h"
#include "rv_ops.h"

typedef struct bench_case {
    const char *name;
    rv_op op;
    uint32_t p[6];
} bench_case;

/* The shapes of the acceptance figures first, then the UNet's other hot ops. */
static const bench_case bench_cases[] = {
    {"conv2d 3x3 64->64 @64x64", RV_OP_CONV2D, {64, 64, 64, 64, 3, 1}},
    {"conv2d 3x3 320->320 @32x32", RV_OP_CONV2D, {320, 32, 32, 320, 3, 1}},
    {"conv2d 1x1 640->320 @32x32", RV_OP_CONV2D, {640, 32, 32, 320, 1, 1}},
    {"gemm 1024x1024x1024", RV_OP_GEMM, {1024, 1024, 1024}},
    {"linear 4096x320 -> 1280", RV_OP_GEMM, {4096, 1280, 320}},
    {"attention 4096 tok, 8 heads x 64", RV_OP_ATTENTION, {4096, 4096, 8, 64}},
    {"attention 4096x77 cross, 5 heads x 64", RV_OP_ATTENTION, {4096, 77, 5, 64}},
    {"group_norm+silu 320x64x64, 32 groups", RV_OP_GROUP_NORM, {320, 4096, 32}},
    {"layer_norm 4096x320", RV_OP_LAYER_NORM, {4096, 320}},
    {"geglu 4096x1280", RV_OP_GEGLU, {4096, 1280}},
    {"silu 320x64x64", RV_OP_UNARY, {320 * 4096}},
    {"add 320x64x64", RV_OP_BINARY, {320 * 4096}},
    {"upsample2x 320x32x32", RV_OP_UPSAMPLE2X, {320, 32, 32}},
    /* a dispatch with almost no work: what each one costs beyond its work */
    {"silu 256 (one small dispatch)", RV_OP_UNARY, {256}},
    /* the shipped model's hot spots: its UNet's widest conv, its decoder at full size */
    {"conv2d 3x3 128->128 @8x8 (reverie-tiny UNet)", RV_OP_CONV2D, {128, 8, 8, 128, 3, 1}},
    {"conv2d 3x3 32->32 @32x32 (reverie-tiny UNet)", RV_OP_CONV2D, {32, 32, 32, 32, 3, 1}},
    {"conv2d 3x3 16->16 @256x256 (reverie-tiny decoder)", RV_OP_CONV2D, {16, 256, 256, 16, 3, 1}},
    {"conv2d 3x3 16->3 @256x256 (reverie-tiny decoder)", RV_OP_CONV2D, {16, 256, 256, 3, 3, 1}},
    {"conv2d 3x3 64->64 @16x16 (reverie-tiny UNet)", RV_OP_CONV2D, {64, 16, 16, 64, 3, 1}},
    {"group_norm+silu 32x32x32, 8 groups (reverie-tiny UNet)", RV_OP_GROUP_NORM, {32, 1024, 8}},
    {"layer_norm 256x64 (reverie-tiny UNet)", RV_OP_LAYER_NORM, {256, 64}},
    {"linear 256x64 -> 512 (reverie-tiny UNet)", RV_OP_GEMM, {256, 512, 64}},
    {"linear 256x64 -> 64 (reverie-tiny UNet)", RV_OP_GEMM, {256, 64, 64}},
    {"linear 64x128 -> 128 (reverie-tiny UNet)", RV_OP_GEMM, {64, 128, 128}},
    {"attention 256 tok, 2 heads x 32 (reverie-tiny UNet)", RV_OP_ATTENTION, {256, 256, 2, 32}},
    {"attention 256x77 cross, 2 heads x 32 (reverie-tiny UNet)", RV_OP_ATTENTION, {256, 77, 2, 32}},
    {"attention 1024 tok, 2 heads x 32 (reverie-tiny UNet at 512x512)", RV_OP_ATTENTION, {1024, 1024, 2, 32}},
};
#define NCASES (int)(sizeof(bench_cases) / sizeof(bench_cases[0]))

static void help(void)
{
    printf("usage: reverie bench ops [--op SUBSTRING] [--time SECONDS] [GPU options]\n\n"
           "Times each op with GPU timestamps (after a warm-up run that creates the\n"
           "pipeline) and prints GFLOP/s and GB/s: a table on stderr, JSON on stdout.\n"
           "Runs every case in fp32, and in fp16 where the device has 16-bit storage.\n"
           "  --op S       only cases whose name contains S\n"
           "  --time T     target seconds of GPU time per case (default 1.0)\n"
           "  --precision f32|f16  only that precision\n"
           "  --compare-torch  also time each case in PyTorch (Debian's /usr/bin/python3\n"
           "               with torch, fp32, OMP_WAIT_POLICY=PASSIVE) right after it, and\n"
           "               print %% of this CPU's FMA peak (measured first: 256-bit FMA\n"
           "               chains on as many threads as online CPUs) and Reverie/PyTorch\n"
           "  --torch-threads N  PyTorch's threads (default 2)\n"
           "  --reps N     exactly N timed runs per case (after the warm-up) instead of\n"
           "               --time: for instruction counts under valgrind\n\n%s",
           rv_cli_gpu_help);
}

typedef struct bench_bufs {
    rv_tensor t[5];
    int n;
} bench_bufs;

static rv_status alloc_fill(rv_gpu *gpu, bench_bufs *b, rv_dtype dt, uint64_t count, float scale, rv_error *err)
{
    rv_tensor *t = &b->t[b->n++];
    rv_status st = rv_tensor_alloc(gpu, t, dt, count, err);
    if (st)
        return st;
    float *v = malloc(count * sizeof(float));
    if (!v)
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "bench: out of host memory");
    uint64_t s = 88172645463325252ull;
    for (uint64_t i = 0; i < count; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        v[i] = ((float)(s >> 40) / (float)(1 << 24) * 2.0f - 1.0f) * scale;
    }
    st = rv_tensor_upload(gpu, t, v, err);
    free(v);
    return st;
}

/* Records the op once; returns flops and bytes moved (ideal: each operand once). */
static void record(rv_cmd *cmd, const bench_case *c, bench_bufs *b, rv_dtype dt, double *flops, double *bytes)
{
    const uint32_t *p = c->p;
    double es = dt == RV_F16 ? 2.0 : 4.0;
    switch (c->op) {
    case RV_OP_CONV2D: {
        rv_conv_desc d = {.cin = p[0], .h = p[1], .w = p[2], .cout = p[3], .kh = p[4], .kw = p[4], .pad = p[4] / 2};
        rv_op_conv2d(cmd, &b->t[0], &b->t[1], &b->t[2], &b->t[3], NULL, &d);
        *flops = 2.0 * p[3] * p[1] * p[2] * p[0] * p[4] * p[4];
        *bytes = es * ((double)p[0] * p[1] * p[2] + (double)p[3] * p[1] * p[2] + (double)p[3] * p[0] * p[4] * p[4]);
        break;
    }
    case RV_OP_GEMM: {
        rv_op_linear(cmd, &b->t[0], &b->t[1], &b->t[2], NULL, NULL, p[0], p[2], p[1]);
        *flops = 2.0 * p[0] * p[1] * p[2];
        *bytes = es * ((double)p[0] * p[2] + (double)p[2] * p[1] + (double)p[0] * p[1]);
        break;
    }
    case RV_OP_ATTENTION: {
        rv_attn_desc d = {.heads = p[2], .lq = p[0], .lk = p[1], .dim = p[3]};
        rv_op_attention(cmd, &b->t[0], &b->t[1], &b->t[2], &b->t[3], &d);
        *flops = 4.0 * p[0] * p[1] * p[2] * p[3];
        *bytes = es * p[2] * p[3] * (2.0 * p[0] + 2.0 * p[1]);
        break;
    }
    case RV_OP_GROUP_NORM:
        rv_op_group_norm(cmd, &b->t[0], &b->t[1], &b->t[2], &b->t[3], 1, p[0], p[1], p[2], 1e-5f, true);
        *flops = 8.0 * p[0] * p[1];
        *bytes = es * 3.0 * p[0] * p[1]; /* two reading passes and the write */
        break;
    case RV_OP_LAYER_NORM:
        rv_op_layer_norm(cmd, &b->t[0], &b->t[1], &b->t[2], &b->t[3], p[0], p[1], 1e-5f);
        *flops = 7.0 * p[0] * p[1];
        *bytes = es * 3.0 * p[0] * p[1];
        break;
    case RV_OP_GEGLU:
        rv_op_geglu(cmd, &b->t[0], &b->t[1], p[0], p[1]);
        *flops = 20.0 * p[0] * p[1];
        *bytes = es * 3.0 * p[0] * p[1];
        break;
    case RV_OP_UNARY:
        rv_op_unary(cmd, &b->t[0], &b->t[1], RV_UNARY_SILU, 1, 0);
        *flops = 4.0 * p[0];
        *bytes = es * 2.0 * p[0];
        break;
    case RV_OP_BINARY:
        rv_op_add(cmd, &b->t[0], &b->t[1], &b->t[2]);
        *flops = p[0];
        *bytes = es * 3.0 * p[0];
        break;
    case RV_OP_UPSAMPLE2X:
        rv_op_upsample2x(cmd, &b->t[0], &b->t[1], p[0], p[1], p[2]);
        *flops = 0;
        *bytes = es * 5.0 * p[0] * p[1] * p[2];
        break;
    default:
        *flops = *bytes = 0;
    }
}

static rv_status setup(rv_gpu *gpu, const bench_case *c, bench_bufs *b, rv_dtype dt, rv_error *err)
{
    const uint32_t *p = c->p;
    rv_status st = RV_OK;
#define A(n, s) do { if ((st = alloc_fill(gpu, b, dt, (n), (s), err))) return st; } while (0)
    switch (c->op) {
    case RV_OP_CONV2D:
        A((uint64_t)p[3] * p[1] * p[2], 0); A((uint64_t)p[0] * p[1] * p[2], 1);
        A((uint64_t)p[3] * p[0] * p[4] * p[4], 0.05f); A(p[3], 0.1f);
        break;
    case RV_OP_GEMM:
        A((uint64_t)p[0] * p[1], 0); A((uint64_t)p[0] * p[2], 1); A((uint64_t)p[1] * p[2], 0.05f);
        break;
    case RV_OP_ATTENTION:
        A((uint64_t)p[0] * p[2] * p[3], 0); A((uint64_t)p[0] * p[2] * p[3], 1);
        A((uint64_t)p[1] * p[2] * p[3], 1); A((uint64_t)p[1] * p[2] * p[3], 1);
        break;
    case RV_OP_GROUP_NORM:
    case RV_OP_LAYER_NORM: {
        uint64_t n = (uint64_t)p[0] * p[1], C = c->op == RV_OP_GROUP_NORM ? p[0] : p[1];
        A(n, 0); A(n, 1); A(C, 1); A(C, 1);
        break;
    }
    case RV_OP_GEGLU:
        A((uint64_t)p[0] * p[1], 0); A(2ull * p[0] * p[1], 1);
        break;
    case RV_OP_UNARY:
        A(p[0], 0); A(p[0], 1);
        break;
    case RV_OP_BINARY:
        A(p[0], 0); A(p[0], 1); A(p[0], 1);
        break;
    case RV_OP_UPSAMPLE2X:
        A(4ull * p[0] * p[1] * p[2], 0); A((uint64_t)p[0] * p[1] * p[2], 1);
        break;
    default:
        break;
    }
#undef A
    return RV_OK;
}

/* Runs `reps` back-to-back copies of the op in one command buffer. */
static rv_status timed(rv_cmd *cmd, const bench_case *c, bench_bufs *b, rv_dtype dt, int reps, double *ms,
                       double *flops, double *bytes, rv_error *err)
{
    rv_status st = rv_cmd_begin(cmd, err);
    if (st)
        return st;
    rv_cmd_stage(cmd, c->name);
    for (int r = 0; r < reps; r++)
        record(cmd, c, b, dt, flops, bytes);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if ((st = rv_cmd_run(cmd, err)))
        return st;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    rv_stage_time tm[1];
    if (rv_cmd_timings(cmd, tm, 1) == 1)
        *ms = tm[0].ms / reps;
    else /* no timestamps on this queue: wall clock of the submission */
        *ms = ((t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) * 1e-6) / reps;
    return RV_OK;
}

int rv_cmd_bench_main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "frames") == 0)
        return rv_bench_frames_main(argc - 1, argv + 1);
    const char *filter = NULL;
    double target = 1.0;
    rv_gpu_desc desc = {0};
    double torch_threads = 2, fixed_reps = 0;
    bool compare = false;
    enum { OPT_OP = 256, OPT_TIME, OPT_TORCH, OPT_TT, OPT_REPS };
    static const rv_cli_opt opts[] = {{"op", 0, true, OPT_OP},
                                      {"time", 0, true, OPT_TIME},
                                      {"compare-torch", 0, false, OPT_TORCH},
                                      {"torch-threads", 0, true, OPT_TT},
                                      {"reps", 0, true, OPT_REPS},
                                      {0}};
    rv_cli_parser p;
    rv_cli_parser_init(&p, "bench", opts, &desc, argc, argv);
    for (int c; (c = rv_cli_next(&p)) != RV_CLI_END;) {
        if (c == RV_CLI_HELP) {
            help();
            return 0;
        }
        if (c == RV_CLI_ERROR)
            return 1;
        if (c == OPT_OP)
            filter = p.value;
        else if (c == OPT_TIME && !rv_cli_double(&p, 0.001, 3600, &target))
            return 1;
        else if (c == OPT_TORCH)
            compare = true;
        else if (c == OPT_TT && !rv_cli_double(&p, 1, 256, &torch_threads))
            return 1;
        else if (c == OPT_REPS && !rv_cli_double(&p, 1, 200, &fixed_reps))
            return 1;
    }
    if (p.operand >= argc) {
        help();
        return 1;
    }
    if (strcmp(argv[p.operand], "ops") != 0 || argc - p.operand > 1) {
        fprintf(stderr, "reverie bench: unknown benchmark \"%s\" (available: ops, frames)\n",
                argv[p.operand + (strcmp(argv[p.operand], "ops") == 0)]);
        return 1;
    }
    rv_gpu *gpu = NULL;
    int rc = rv_cli_gpu_create(&gpu, &desc);
    if (rc)
        return rc;
    rv_cmd *cmd = NULL;
    rv_error err = {0};
    if (rv_cmd_create(gpu, &cmd, &err)) {
        fprintf(stderr, "reverie bench: %s\n", err.msg);
        rv_gpu_destroy(gpu);
        return 2;
    }
    const rv_device_info *info = rv_gpu_info(gpu);
    double peak = 0, peak_wall = 0, torch_ms[NCASES] = {0};
    int peak_width = 0, peak_threads = 1;
    rv_torch_proc tp = {0};
    if (compare) {
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        peak_threads = ncpu > 0 && ncpu <= 256 ? (int)ncpu : 1;
        for (int i = 0; i < 3; i++) { /* the best of three: the machine may be shared */
            double w = 0, g = rv_bench_fma_peak(peak_threads, 0.25, &peak_width, &w);
            peak = g > peak ? g : peak;
            peak_wall = w > peak_wall ? w : peak_wall;
        }
        fprintf(stderr,
                "FMA peak: %.1f GFLOP/s per thread-CPU-second (%.1f per wall second now), %d threads, %d-bit FMA, "
                "best of 3 x 0.25 s\n",
                peak, peak_wall, peak_threads, peak_width);
        fprintf(stderr, "starting PyTorch (%d threads)...\n", (int)torch_threads);
        if (!rv_torch_start(&tp, RV_TOOLS_DIR "/bench_ops_torch.py", (int)torch_threads)) {
            rv_cmd_destroy(cmd);
            rv_gpu_destroy(gpu);
            return 2;
        }
    }
    fprintf(stderr, "device: %s (%s)\n%-40s %-5s %10s %10s %10s", info->name, info->type, "op", "type", "ms",
            "GFLOP/s", "GB/s");
    if (compare)
        fprintf(stderr, " %7s %10s %10s %7s", "%peak", "torch ms", "torch GF/s", "ratio");
    fprintf(stderr, "\n");
    printf("{\"device\": \"%s\", \"device_type\": \"%s\", ", info->name, info->type);
    if (compare)
        printf("\"fma_peak_gflops\": %.2f, \"fma_peak_wall_gflops\": %.2f, \"fma_peak_threads\": %d, "
               "\"fma_peak_width\": %d, \"torch_threads\": %d, ",
               peak, peak_wall, peak_threads, peak_width, (int)torch_threads);
    printf("\"results\": [");
    int printed = 0;
    for (int prec = 0; prec < 2 && rc == 0; prec++) {
        rv_dtype dt = prec ? RV_F16 : RV_F32;
        if (dt == RV_F16 && !info->storage16)
            continue;
        if ((desc.precision == RV_PRECISION_F32 && dt == RV_F16) || (desc.precision == RV_PRECISION_F16 && dt == RV_F32))
            continue;
        for (int ci = 0; ci < NCASES && rc == 0; ci++) {
            const bench_case *c = &bench_cases[ci];
            if (filter && !strstr(c->name, filter))
                continue;
            bench_bufs b = {0};
            double ms = 0, flops = 0, bytes = 0;
            rv_status st = setup(gpu, c, &b, dt, &err);
            if (!st)
                st = timed(cmd, c, &b, dt, 1, &ms, &flops, &bytes, &err); /* warm-up: pipeline creation */
            /* the warm-up's time includes creating the pipelines: the rep
             * count comes from a second, warm run of a few reps */
            if (!st && fixed_reps == 0)
                st = timed(cmd, c, &b, dt, 4, &ms, &flops, &bytes, &err);
            if (!st) {
                int reps = ms > 0 ? (int)(target * 1e3 / ms) : 1;
                reps = reps < 1 ? 1 : reps > 200 ? 200 : reps;
                if (fixed_reps > 0)
                    reps = (int)fixed_reps;
                st = timed(cmd, c, &b, dt, reps, &ms, &flops, &bytes, &err);
            }
            for (int i = 0; i < b.n; i++)
                rv_tensor_free(gpu, &b.t[i]);
            if (st) {
                fprintf(stderr, "reverie bench: %s: %s\n", c->name, err.msg);
                rc = 2;
                break;
            }
            double gf = flops / (ms * 1e6), gb = bytes / (ms * 1e6);
            fprintf(stderr, "%-40s %-5s %10.3f %10.2f %10.2f", c->name, rv_dtype_name(dt), ms, gf, gb);
            printf("%s\n  {\"op\": \"%s\", \"case\": \"%s\", \"dtype\": \"%s\", \"ms\": %.4f, \"gflops\": %.3f, "
                   "\"gbps\": %.3f",
                   printed++ ? "," : "", rv_op_names[c->op], c->name, rv_dtype_name(dt), ms, gf, gb);
            if (compare) {
                /* PyTorch right after the same case (fp32: once per case, reused for f16) */
                if (torch_ms[ci] == 0 && !rv_torch_time(&tp, rv_op_names[c->op], c->p, target, &torch_ms[ci]))
                    torch_ms[ci] = -1;
                double pct = peak > 0 ? 100.0 * gf / peak : 0, tgf = 0, ratio = 0;
                if (torch_ms[ci] > 0) {
                    tgf = flops / (torch_ms[ci] * 1e6);
                    ratio = ms / torch_ms[ci];
                    fprintf(stderr, " %6.1f%% %10.3f %10.2f %6.2fx\n", pct, torch_ms[ci], tgf, ratio);
                    printf(", \"pct_peak\": %.2f, \"torch_ms\": %.4f, \"torch_gflops\": %.3f, \"torch_pct_peak\": %.2f, "
                           "\"ratio_to_torch\": %.3f",
                           pct, torch_ms[ci], tgf, peak > 0 ? 100.0 * tgf / peak : 0, ratio);
                } else {
                    fprintf(stderr, " %6.1f%% %10s\n", pct, "failed");
                    printf(", \"pct_peak\": %.2f, \"torch_ms\": null", pct);
                }
            } else {
                fprintf(stderr, "\n");
            }
            printf("}");
            fflush(stdout);
        }
    }
    printf("\n]}\n");
    if (rv_gpu_validation_count(gpu) > 0) {
        fprintf(stderr, "reverie bench: %d validation message(s)\n", rv_gpu_validation_count(gpu));
        rc = rc ? rc : 3;
    }
    if (compare)
        rv_torch_stop(&tp);
    rv_cmd_destroy(cmd);
    rv_gpu_destroy(gpu);
    return rc;
}
