/* Tests of the Vulkan core itself: sub-allocation, oversized allocations,
 * the sticky op error, barrier placement, timestamps, device selection,
 * the descriptor-pool fallback and broken shaders. Ops' numerics are in
 * test_ops.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rv_gpu.h"
#include "rv_ops.h"
#include "rv_test.h"

static rv_gpu *make(const rv_gpu_desc *d)
{
    rv_error err = {0};
    rv_gpu *g = NULL;
    rv_gpu_desc dd = d ? *d : (rv_gpu_desc){0};
    dd.validation = true;
    if (rv_gpu_create(&g, &dd, &err) != RV_OK) {
        fprintf(stderr, "rv_gpu_create: %s\n", err.msg);
        exit(1);
    }
    return g;
}

static void test_suballocation(rv_gpu *g)
{
    rv_error err = {0};
    rv_tensor t[100];
    rv_mem_stats s0, s;
    rv_gpu_mem_stats(g, &s0);
    for (int i = 0; i < 100; i++)
        CHECK(rv_tensor_alloc(g, &t[i], RV_F32, 1000 + (uint64_t)i, &err) == RV_OK, "alloc %d: %s", i, err.msg);
    rv_gpu_mem_stats(g, &s);
    CHECK(s.blocks == (s0.blocks ? s0.blocks : 1), "100 tensors should share one block, got %llu blocks",
          (unsigned long long)s.blocks);
    for (int i = 0; i < 100; i += 2)
        rv_tensor_free(g, &t[i]);
    for (int i = 1; i < 100; i += 2)
        rv_tensor_free(g, &t[i]);
    rv_gpu_mem_stats(g, &s);
    CHECK(s.used_bytes == s0.used_bytes, "all freed: used %llu", (unsigned long long)s.used_bytes);
    /* after coalescing, most of the block is one free range again */
    rv_tensor big;
    CHECK(rv_tensor_alloc(g, &big, RV_F32, (100ull << 20) / 4, &err) == RV_OK, "100 MiB: %s", err.msg);
    rv_gpu_mem_stats(g, &s);
    CHECK(s.blocks == (s0.blocks ? s0.blocks : 1), "coalesced free list reused: %llu blocks", (unsigned long long)s.blocks);
    rv_tensor_free(g, &big);
    rv_tensor_free(g, &big); /* double free of a cleared tensor is harmless */

    /* uploads and reads: bounds are checked */
    rv_tensor a;
    float v[4] = {1, 2, 3, 4}, back[4] = {0};
    CHECK(rv_tensor_alloc(g, &a, RV_F16, 4, &err) == RV_OK, "%s", err.msg);
    CHECK(rv_tensor_upload(g, &a, v, &err) == RV_OK && rv_tensor_download(g, &a, back, &err) == RV_OK, "%s", err.msg);
    CHECK(back[3] == 4.0f, "fp16 round trip %g", back[3]);
    rv_error e2 = {0};
    CHECK(rv_tensor_read(g, &a, 6, back, 4, &e2) == RV_ERR_INVALID && strstr(e2.msg, "outside"), "read past end: %s",
          e2.msg);
    rv_tensor_free(g, &a);
}

static void test_oversized(rv_gpu *g)
{
    rv_error err = {0};
    rv_tensor t;
    rv_status st = rv_tensor_alloc(g, &t, RV_F32, 1ull << 40, &err);
    CHECK(st == RV_ERR_DEVICE_MEMORY, "4 TiB tensor: status %s", rv_status_name(st));
    CHECK(strstr(err.msg, "exceeds") != NULL, "message: %s", err.msg);
    printf("  oversized tensor: %s\n", err.msg);

    /* a memory budget: the first block already exceeds 1 MiB */
    rv_gpu_desc d = {.memory_limit = 1u << 20};
    rv_gpu *g2 = make(&d);
    rv_error e2 = {0};
    st = rv_tensor_alloc(g2, &t, RV_F32, 16, &e2);
    CHECK(st == RV_ERR_DEVICE_MEMORY && strstr(e2.msg, "budget"), "budget: %s", e2.msg);
    rv_gpu_destroy(g2);

}

static void test_sticky_error(rv_gpu *g)
{
    rv_error err = {0};
    rv_cmd *cmd;
    rv_tensor a, b, c;
    CHECK(rv_cmd_create(g, &cmd, &err) == RV_OK, "%s", err.msg);
    rv_tensor_alloc(g, &a, RV_F32, 100, &err);
    rv_tensor_alloc(g, &b, RV_F32, 50, &err);
    rv_tensor_alloc(g, &c, RV_F32, 100, &err);
    rv_cmd_begin(cmd, &err);
    rv_op_add(cmd, &c, &a, &b); /* b is too small */
    rv_op_unary(cmd, &c, &a, RV_UNARY_RELU, 0, 0);
    rv_status st = rv_cmd_run(cmd, &err);
    CHECK(st == RV_ERR_INVALID, "status %s", rv_status_name(st));
    CHECK(strstr(err.msg, "binary") && strstr(err.msg, "holds 50"), "message: %s", err.msg);
    CHECK(rv_cmd_dispatch_count(cmd) == 0, "nothing recorded after the error (%d)", rv_cmd_dispatch_count(cmd));
    printf("  sticky error: %s\n", err.msg);
    rv_gpu_clear_error(g);

    /* conv whose kernel does not fit */
    rv_error e2 = {0};
    rv_cmd_begin(cmd, &e2);
    rv_conv_desc cd = {.cin = 1, .h = 2, .w = 2, .cout = 1, .kh = 3, .kw = 3};
    rv_op_conv2d(cmd, &c, &a, &b, NULL, NULL, &cd);
    st = rv_cmd_run(cmd, &e2);
    CHECK(st == RV_ERR_INVALID && strstr(e2.msg, "conv2d"), "conv: %s", e2.msg);
    rv_gpu_clear_error(g);
    rv_tensor_free(g, &a);
    rv_tensor_free(g, &b);
    rv_tensor_free(g, &c);
    rv_cmd_destroy(cmd);
}

static void test_barriers_and_timing(rv_gpu *g)
{
    rv_error err = {0};
    rv_cmd *cmd;
    rv_tensor t[6];
    float ones[256];
    for (int i = 0; i < 256; i++)
        ones[i] = (float)i - 100.0f;
    CHECK(rv_cmd_create(g, &cmd, &err) == RV_OK, "%s", err.msg);
    for (int i = 0; i < 6; i++) {
        rv_tensor_alloc(g, &t[i], RV_F32, 256, &err);
        rv_tensor_upload(g, &t[i], ones, &err);
    }
    rv_cmd_begin(cmd, &err);
    rv_cmd_stage(cmd, "independent");
    rv_op_unary(cmd, &t[1], &t[0], RV_UNARY_RELU, 0, 0);
    rv_op_unary(cmd, &t[3], &t[2], RV_UNARY_RELU, 0, 0);
    int b0 = rv_cmd_barrier_count(cmd);
    rv_cmd_stage(cmd, "dependent");
    rv_op_unary(cmd, &t[4], &t[1], RV_UNARY_SCALE, 2.0f, 0); /* reads what the first wrote */
    int b1 = rv_cmd_barrier_count(cmd);
    rv_op_unary(cmd, &t[5], &t[3], RV_UNARY_SCALE, 3.0f, 0); /* t[3] was written before the barrier */
    int b2 = rv_cmd_barrier_count(cmd);
    rv_op_unary(cmd, &t[0], &t[2], RV_UNARY_COPY, 0, 0);     /* write after read of t[0]? t[0] read before barrier */
    rv_op_unary(cmd, &t[2], &t[5], RV_UNARY_COPY, 0, 0);     /* reads t[5], written since the barrier */
    int b3 = rv_cmd_barrier_count(cmd);
    CHECK(rv_cmd_run(cmd, &err) == RV_OK, "%s", err.msg);
    CHECK(b0 == 0, "independent dispatches need no barrier (%d)", b0);
    CHECK(b1 == 1, "a dependent dispatch needs one (%d)", b1);
    CHECK(b2 == 1, "no second barrier for data already synchronised (%d)", b2);
    CHECK(b3 == 2, "read-after-write since the last barrier (%d)", b3);
    float out[256];
    rv_tensor_download(g, &t[4], out, &err);
    CHECK(out[0] == 0.0f && out[200] == 200.0f, "relu then x2: %g %g", out[0], out[200]);
    rv_tensor_download(g, &t[2], out, &err);
    CHECK(out[200] == 300.0f, "chain result %g", out[200]);
    rv_stage_time st[4];
    int n = rv_cmd_timings(cmd, st, 4);
    if (rv_gpu_info(g)->timestamps) {
        CHECK(n == 2 && strcmp(st[0].name, "independent") == 0 && st[0].ms >= 0 && st[1].ms >= 0,
              "timings: %d stages", n);
    }
    for (int i = 0; i < 6; i++)
        rv_tensor_free(g, &t[i]);
    rv_cmd_destroy(cmd);
}

/* One small op chain, checked exactly, on a gpu made under the current env. */
static void small_chain(const char *what)
{
    rv_gpu *g = make(NULL);
    rv_error err = {0};
    rv_cmd *cmd = NULL;
    rv_tensor a, b, w, c;
    float v[64], out[64], conv[32];
    const float pick[8] = {1, 0, 0, 0, 0, 1, 0, 0}; /* 1x1 conv: channels 0 and 1 of 4 */
    for (int i = 0; i < 64; i++)
        v[i] = (float)i;
    rv_status st = rv_cmd_create(g, &cmd, &err);
    if (!st)
        st = rv_tensor_alloc(g, &a, RV_F32, 64, &err);
    if (!st)
        st = rv_tensor_alloc(g, &b, RV_F32, 64, &err);
    if (!st)
        st = rv_tensor_alloc(g, &w, RV_F32, 8, &err);
    if (!st)
        st = rv_tensor_alloc(g, &c, RV_F32, 32, &err);
    if (!st)
        st = rv_tensor_upload(g, &a, v, &err);
    if (!st)
        st = rv_tensor_upload(g, &w, pick, &err);
    if (!st)
        st = rv_cmd_begin(cmd, &err);
    if (!st) {
        rv_op_unary(cmd, &b, &a, RV_UNARY_SCALE, 2.0f, 1.0f);
        rv_op_add(cmd, &a, &b, &b);
        /* few outputs: the direct conv on lavapipe, weights in a uniform buffer */
        rv_conv_desc d = {.batch = 1, .cin = 4, .h = 4, .w = 4, .cout = 2, .kh = 1, .kw = 1};
        rv_op_conv2d(cmd, &c, &a, &w, NULL, NULL, &d);
        st = rv_cmd_run(cmd, &err);
    }
    if (!st)
        st = rv_tensor_download(g, &a, out, &err);
    if (!st)
        st = rv_tensor_download(g, &c, conv, &err);
    CHECK(st == RV_OK && out[10] == 42.0f, "%s: %s (%g)", what, err.msg, st ? 0.0 : out[10]);
    CHECK(st == RV_OK && conv[10] == 42.0f && conv[21] == 86.0f, "%s: conv %g %g", what, conv[10], conv[21]);
    CHECK(rv_gpu_validation_count(g) == 0, "%s: validation messages", what);
    if (!st) {
        rv_op_time ops[8];
        int n = rv_cmd_op_times(cmd, ops, 8), total = 0;
        for (int i = 0; i < n; i++)
            total += ops[i].dispatches;
        if (getenv("RV_PROFILE_OPS") && rv_gpu_info(g)->timestamps)
            CHECK(n == 3 && total == 3 && ops[0].ms >= ops[n - 1].ms, "%s: %d pipelines timed, %d dispatches", what, n,
                  total);
        else
            CHECK(n == 0, "%s: pipelines timed without RV_PROFILE_OPS", what);
    }
    rv_tensor_free(g, &w);
    rv_tensor_free(g, &c);
    rv_cmd_destroy(cmd);
    rv_gpu_destroy(g);
}

static void test_device_choice(void)
{
    rv_device_info infos[8];
    int n = 0;
    rv_error err = {0};
    CHECK(rv_gpu_enumerate(infos, 8, &n, &err) == RV_OK && n >= 1, "enumerate: %s", err.msg);
    rv_gpu_desc d = {.device_name = "no-such-gpu-xyz"};
    rv_gpu *g = NULL;
    rv_error e2 = {0};
    rv_status st = rv_gpu_create(&g, &d, &e2);
    CHECK(st == RV_ERR_NO_DEVICE && strstr(e2.msg, "no-such-gpu-xyz"), "by bad name: %s", e2.msg);
    rv_gpu_desc di = {.device_index = 99, .device_index_set = true};
    rv_error e3 = {0};
    st = rv_gpu_create(&g, &di, &e3);
    CHECK(st == RV_ERR_NO_DEVICE && strstr(e3.msg, "99"), "by bad index: %s", e3.msg);
    if (n > 0) {
        rv_gpu_desc dn = {.device_name = infos[0].name};
        g = make(&dn);
        CHECK(rv_gpu_device_index(g) == 0, "chosen by name");
        rv_gpu_destroy(g);
    }
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, n, f);
        fclose(f);
    }
}

static void test_broken_shaders(void)
{
    char dir[] = "/tmp/rv_shaders_XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp");
        return;
    }
    char path[256];
    snprintf(path, sizeof(path), "%s/unary_f32.spv", dir);
    uint32_t junk[16] = {0xdeadbeef, 0x00010500, 0, 10, 0};
    write_file(path, junk, sizeof(junk));
    setenv("RV_SHADER_DIR", dir, 1);
    const char *names[3] = {"bad magic", "truncated", "missing"};
    for (int k = 0; k < 3; k++) {
        if (k == 1) {
            uint32_t trunc[3] = {0x07230203, 0x00010500, 0};
            write_file(path, trunc, 10);
        }
        if (k == 2)
            unlink(path);
        rv_gpu *g = make(NULL);
        rv_error err = {0};
        rv_cmd *cmd = NULL;
        rv_tensor a;
        rv_cmd_create(g, &cmd, &err);
        /* 15 elements: the scalar unary_f32 pipeline on every device (a
         * multiple of 4 takes the texel variant, unaryt_f32, on CPU devices) */
        rv_tensor_alloc(g, &a, RV_F32, 15, &err);
        rv_cmd_begin(cmd, &err);
        rv_op_unary(cmd, &a, &a, RV_UNARY_RELU, 0, 0);
        rv_status st = rv_cmd_run(cmd, &err);
        CHECK(st == RV_ERR_PIPELINE && strstr(err.msg, "unary_f32"), "%s shader: %s: %s", names[k],
              rv_status_name(st), err.msg);
        printf("  %s shader: %s\n", names[k], err.msg);
        rv_tensor_free(g, &a);
        rv_cmd_destroy(cmd);
        rv_gpu_destroy(g);
    }
    unsetenv("RV_SHADER_DIR");
    rmdir(dir);
}

int main(void)
{
    rv_gpu *g = make(NULL);
    test_suballocation(g);
    test_oversized(g);
    test_sticky_error(g);
    test_barriers_and_timing(g);
    CHECK(rv_gpu_validation_count(g) == 0, "validation messages: %d", rv_gpu_validation_count(g));
    rv_gpu_destroy(g);

    test_device_choice();
    small_chain("push descriptors");
    setenv("RV_NO_PUSH_DESCRIPTOR", "1", 1);
    small_chain("descriptor pool");
    unsetenv("RV_NO_PUSH_DESCRIPTOR");
    setenv("RV_PRECISION", "f32", 1);
    small_chain("fp32 precision");
    unsetenv("RV_PRECISION");
    setenv("RV_PROFILE_OPS", "1", 1);
    small_chain("per-pipeline timing");
    unsetenv("RV_PROFILE_OPS");
    test_broken_shaders();
    return rv_test_finish("test_gpu");
}
