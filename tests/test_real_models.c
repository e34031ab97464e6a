/* Real-size architectures from ../shared/models/{sd15,sd21-base}: the
 * module trees built from the real configs must have the true parameter
 * counts and names/shapes, and plans must size without a device. With
 * REVERIE_SLOW_TESTS=1, random-weight real-size evaluations on the device
 * too (SD 1.5 and SD 2.1 UNets on an 8x8 latent, SD 2.1 text encoder with its 202 MB fp32
 * token table split under lavapipe's 128 MiB binding limit, SD VAE decode of
 * an 8x8 latent through the explicit 512-wide attention path): finite,
 * deterministic outputs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rv_gpu.h"
#include "loader/diffusers.h"
#include "models/clip_text.h"
#include "models/unet.h"
#include "models/vae.h"
#include "rv_test.h"

static const rv_param *find(const rv_params *p, const char *name)
{
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->p[i].name, name) == 0)
            return &p->p[i];
    return NULL;
}

static void expect_shape(const rv_params *p, const char *name, int ndim, const uint64_t *shape)
{
    const rv_param *e = find(p, name);
    CHECK(e != NULL, "no parameter %s", name);
    if (!e)
        return;
    bool same = e->ndim == ndim;
    for (int i = 0; same && i < ndim; i++)
        same = e->shape[i] == shape[i];
    CHECK(same, "%s has the wrong shape", name);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void counts(const char *model, uint64_t unet_n, uint64_t text_n, uint64_t vae_n, bool linear_proj)
{
    char dir[600], sub[700];
    char rel[64];
    snprintf(rel, sizeof(rel), "models/%s", model);
    rv_test_shared(rel, dir, sizeof(dir));
    rv_error err = {0};

    rv_unet_config uc;
    snprintf(sub, sizeof(sub), "%s/unet", dir);
    rv_unet *u = NULL;
    CHECK(rv_unet_config_load(&uc, sub, &err) == RV_OK && rv_unet_create(&u, &uc, &err) == RV_OK, "%s", err.msg);
    rv_error_clear(&err);
    if (u) {
        uint64_t n = rv_params_numel(&u->params);
        printf("%s unet: %llu parameters (%d tensors), expected %llu\n", model, (unsigned long long)n, u->params.n,
               (unsigned long long)unet_n);
        CHECK(n == unet_n, "%s unet parameter count %llu", model, (unsigned long long)n);
        if (linear_proj)
            expect_shape(&u->params, "down_blocks.0.attentions.0.proj_in.weight", 2, (uint64_t[]){320, 320});
        else
            expect_shape(&u->params, "down_blocks.0.attentions.0.proj_in.weight", 4, (uint64_t[]){320, 320, 1, 1});
        expect_shape(&u->params, "up_blocks.3.resnets.2.conv_shortcut.weight", 4, (uint64_t[]){320, 640, 1, 1});
        expect_shape(&u->params, "mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight", 2,
                     (uint64_t[]){1280, linear_proj ? 1024 : 768});
        expect_shape(&u->params, "down_blocks.1.attentions.1.transformer_blocks.0.ff.net.0.proj.weight", 2,
                     (uint64_t[]){5120, 640});
        rv_unet_plan *plan = NULL;
        CHECK(rv_unet_plan_create(u, NULL, 2, 64, 64, 77, &plan, &err) == RV_OK, "%s", err.msg);
        if (plan)
            printf("%s unet: activations for batch 2 at 64x64: %.1f MiB fp16, weights %.1f MiB fp16\n", model,
                   rv_slots_bytes(&plan->slots, RV_F16) / 1048576.0,
                   rv_params_device_bytes(&u->params, RV_F16) / 1048576.0);
        rv_unet_plan_destroy(plan);
    }
    rv_unet_destroy(u);

    rv_clip_text_config tc;
    snprintf(sub, sizeof(sub), "%s/text_encoder", dir);
    rv_clip_text *te = NULL;
    CHECK(rv_clip_text_config_load(&tc, sub, &err) == RV_OK && rv_clip_text_create(&te, &tc, &err) == RV_OK, "%s",
          err.msg);
    rv_error_clear(&err);
    if (te) {
        uint64_t n = rv_params_numel(&te->params);
        printf("%s text_encoder: %llu parameters (token table in %d chunks), expected %llu\n", model,
               (unsigned long long)n, te->nchunks, (unsigned long long)text_n);
        CHECK(n == text_n, "%s text encoder parameter count %llu", model, (unsigned long long)n);
        expect_shape(&te->params, "text_model.embeddings.token_embedding.weight", 2,
                     (uint64_t[]){49408, tc.hidden_size});
    }
    rv_clip_text_destroy(te);

    rv_vae_config vc;
    snprintf(sub, sizeof(sub), "%s/vae", dir);
    rv_vae *v = NULL;
    CHECK(rv_vae_config_load(&vc, sub, &err) == RV_OK && rv_vae_create(&v, &vc, &err) == RV_OK, "%s", err.msg);
    rv_error_clear(&err);
    if (v) {
        uint64_t n = rv_params_numel(&v->params);
        printf("%s vae: %llu parameters, expected %llu\n", model, (unsigned long long)n, (unsigned long long)vae_n);
        CHECK(n == vae_n, "%s vae parameter count %llu", model, (unsigned long long)n);
        expect_shape(&v->params, "decoder.mid_block.attentions.0.to_q.weight", 2, (uint64_t[]){512, 512});
        rv_vae_plan *plan = NULL;
        CHECK(rv_vae_plan_create(v, NULL, RV_AE_DECODE, 1, 64, 64, &plan, &err) == RV_OK, "%s", err.msg);
        if (plan)
            printf("%s vae: decoder activations for 512x512: %.1f MiB fp16\n", model,
                   rv_slots_bytes(&plan->slots, RV_F16) / 1048576.0);
        rv_vae_plan_destroy(plan);
    }
    rv_vae_destroy(v);
}

/* Downloads, checks finiteness and spread, returns a checksum. */
static double summarize(rv_gpu *gpu, const rv_tensor *t, const char *what)
{
    float *v = malloc((size_t)t->count * sizeof(float));
    rv_error err = {0};
    rv_tensor_download(gpu, t, v, &err);
    double sum = 0, sq = 0;
    bool finite = true;
    for (uint64_t i = 0; i < t->count; i++) {
        finite = finite && isfinite(v[i]);
        sum += v[i];
        sq += (double)v[i] * v[i];
    }
    double mean = sum / (double)t->count, sd = sqrt(sq / (double)t->count - mean * mean);
    printf("  %s: first [%+.4f %+.4f %+.4f] mean %+.4f sd %.4f\n", what, v[0], v[1], v[2], mean, sd);
    CHECK(finite && sd > 0, "%s: finite %d, sd %g", what, finite, sd);
    free(v);
    return sum + sq;
}

/* One real-size UNet forward with random weights on an 8x8 latent. */
static void slow_unet(rv_gpu *gpu, rv_cmd *cmd, const char *model)
{
    char dir[600], sub[700], name[64];
    snprintf(name, sizeof(name), "%s unet", model);
    snprintf(sub, sizeof(sub), "models/%s", model);
    rv_test_shared(sub, dir, sizeof(dir));
    snprintf(sub, sizeof(sub), "%s/unet", dir);
    rv_error err = {0};
    rv_unet_config uc;
    rv_unet *u = NULL;
    double t0 = now();
    if (rv_unet_config_load(&uc, sub, &err) || rv_unet_create(&u, &uc, &err) ||
        rv_unet_bind(u, gpu, NULL, 1234, name, NULL, &err)) {
        CHECK(0, "%s: %s", name, err.msg);
        rv_unet_destroy(u);
        return;
    }
    double t1 = now();
    rv_dtype dt = rv_gpu_dtype(gpu);
    uint32_t B = 1, H = 8, W = 8, S = 77, E = uc.cross_attention_dim[0];
    float *sample = malloc(sizeof(float) * 4 * H * W), *ctx = malloc(sizeof(float) * S * E), ts = 999.0f;
    for (uint32_t i = 0; i < 4 * H * W; i++)
        sample[i] = sinf((float)i * 0.37f);
    for (uint32_t i = 0; i < S * E; i++)
        ctx[i] = cosf((float)i * 0.011f);
    rv_tensor ts_t, s_t, c_t, o_t;
    rv_tensor_alloc(gpu, &ts_t, RV_F32, 1, &err);
    rv_tensor_upload(gpu, &ts_t, &ts, &err);
    rv_tensor_alloc(gpu, &s_t, dt, 4 * H * W, &err);
    rv_tensor_upload(gpu, &s_t, sample, &err);
    rv_tensor_alloc(gpu, &c_t, dt, S * E, &err);
    rv_tensor_upload(gpu, &c_t, ctx, &err);
    rv_tensor_alloc(gpu, &o_t, dt, 4 * H * W, &err);
    rv_unet_plan *plan = NULL;
    CHECK(rv_unet_plan_create(u, gpu, B, H, W, S, &plan, &err) == RV_OK, "%s", err.msg);
    double sums[2] = {0, 0};
    for (int rep = 0; rep < 2 && plan; rep++) {
        rv_unet_args a = {.sample = &s_t, .timesteps = &ts_t, .context = &c_t};
        double r0 = now();
        rv_cmd_begin(cmd, &err);
        rv_unet_forward(cmd, u, plan, &o_t, &a);
        CHECK(rv_cmd_run(cmd, &err) == RV_OK && !rv_gpu_error(gpu)->code, "run: %s %s", err.msg,
              rv_gpu_error(gpu)->msg);
        printf("%s %s random weights, 8x8 latent: load %.1f s, forward %.2f s (%d dispatches)\n", name,
               rv_dtype_name(dt), t1 - t0, now() - r0, rv_cmd_dispatch_count(cmd));
        sums[rep] = summarize(gpu, &o_t, "unet out");
    }
    CHECK(sums[0] == sums[1], "two identical runs differ");
    rv_unet_plan_destroy(plan);
    rv_tensor_free(gpu, &ts_t);
    rv_tensor_free(gpu, &s_t);
    rv_tensor_free(gpu, &c_t);
    rv_tensor_free(gpu, &o_t);
    free(sample);
    free(ctx);
    rv_unet_destroy(u);
}

static void slow_text(rv_gpu *gpu, rv_cmd *cmd)
{
    char dir[600], sub[700];
    rv_test_shared("models/sd21-base", dir, sizeof(dir));
    snprintf(sub, sizeof(sub), "%s/text_encoder", dir);
    rv_error err = {0};
    rv_clip_text_config tc;
    rv_clip_text *te = NULL;
    if (rv_clip_text_config_load(&tc, sub, &err) || rv_clip_text_create(&te, &tc, &err) ||
        rv_clip_text_bind(te, gpu, NULL, 99, "sd21 text_encoder", NULL, &err)) {
        CHECK(0, "sd21 text encoder: %s", err.msg);
        rv_clip_text_destroy(te);
        return;
    }
    float ids[77];
    for (int i = 0; i < 77; i++) /* ids in every chunk of the table */
        ids[i] = i == 0 ? 49406.0f : (float)((i * 7919) % 49408);
    rv_tensor id_t, o_t;
    rv_tensor_alloc(gpu, &id_t, RV_F32, 77, &err);
    rv_tensor_upload(gpu, &id_t, ids, &err);
    rv_tensor_alloc(gpu, &o_t, rv_gpu_dtype(gpu), 77 * tc.hidden_size, &err);
    rv_clip_text_plan *plan = NULL;
    CHECK(rv_clip_text_plan_create(te, gpu, 1, 77, &plan, &err) == RV_OK, "%s", err.msg);
    if (plan) {
        rv_clip_text_args a = {.ids = &id_t};
        double r0 = now();
        rv_cmd_begin(cmd, &err);
        rv_clip_text_forward(cmd, te, plan, &o_t, &a);
        CHECK(rv_cmd_run(cmd, &err) == RV_OK && !rv_gpu_error(gpu)->code, "run: %s %s", err.msg,
              rv_gpu_error(gpu)->msg);
        printf("sd21 text encoder %s random weights (token table in %d chunks): forward %.2f s\n",
               rv_dtype_name(rv_gpu_dtype(gpu)), te->nchunks, now() - r0);
        summarize(gpu, &o_t, "text out");
    }
    rv_clip_text_plan_destroy(plan);
    rv_tensor_free(gpu, &id_t);
    rv_tensor_free(gpu, &o_t);
    rv_clip_text_destroy(te);
}

static void slow_vae(rv_gpu *gpu, rv_cmd *cmd)
{
    char dir[600], sub[700];
    rv_test_shared("models/sd15", dir, sizeof(dir));
    snprintf(sub, sizeof(sub), "%s/vae", dir);
    rv_error err = {0};
    rv_vae_config vc;
    rv_vae *v = NULL;
    if (rv_vae_config_load(&vc, sub, &err) || rv_vae_create(&v, &vc, &err) ||
        rv_vae_bind(v, gpu, NULL, 7, "sd15 vae", NULL, &err)) {
        CHECK(0, "sd15 vae: %s", err.msg);
        rv_vae_destroy(v);
        return;
    }
    float z[4 * 8 * 8];
    for (int i = 0; i < 4 * 64; i++)
        z[i] = 0.2f * sinf((float)i);
    rv_tensor z_t, o_t;
    rv_tensor_alloc(gpu, &z_t, rv_gpu_dtype(gpu), 4 * 64, &err);
    rv_tensor_upload(gpu, &z_t, z, &err);
    rv_tensor_alloc(gpu, &o_t, rv_gpu_dtype(gpu), 3 * 64 * 64, &err);
    rv_vae_plan *plan = NULL;
    CHECK(rv_vae_plan_create(v, gpu, RV_AE_DECODE, 1, 8, 8, &plan, &err) == RV_OK, "%s", err.msg);
    if (plan) {
        double r0 = now();
        rv_cmd_begin(cmd, &err);
        rv_vae_forward(cmd, v, plan, &o_t, &z_t, NULL, NULL);
        CHECK(rv_cmd_run(cmd, &err) == RV_OK && !rv_gpu_error(gpu)->code, "run: %s %s", err.msg,
              rv_gpu_error(gpu)->msg);
        printf("sd15 vae decode %s random weights, 8x8 latent: forward %.2f s\n", rv_dtype_name(rv_gpu_dtype(gpu)),
               now() - r0);
        summarize(gpu, &o_t, "vae image");
    }
    rv_vae_plan_destroy(plan);
    rv_tensor_free(gpu, &z_t);
    rv_tensor_free(gpu, &o_t);
    rv_vae_destroy(v);
}

int main(void)
{
    counts("sd15", 859520964ull, 123060480ull, 83653863ull, false);
    counts("sd21-base", 865910724ull, 340387840ull, 83653863ull, true);
    const char *slow = getenv("REVERIE_SLOW_TESTS");
    if (slow && strcmp(slow, "0") != 0) {
        rv_error err = {0};
        rv_gpu *gpu = NULL;
        rv_cmd *cmd = NULL;
        /* fp32 on purpose: the SD 2.1 token table is 202 MB there */
        rv_gpu_desc desc = {.validation = true, .precision = RV_PRECISION_F32};
        CHECK(rv_gpu_create(&gpu, &desc, &err) == RV_OK, "%s", err.msg);
        if (gpu) {
            rv_cmd_create(gpu, &cmd, &err);
            slow_text(gpu, cmd);
            slow_vae(gpu, cmd);
            slow_unet(gpu, cmd, "sd15");
            slow_unet(gpu, cmd, "sd21-base");
            CHECK(rv_gpu_validation_count(gpu) == 0, "validation layer reported %d message(s)",
                  rv_gpu_validation_count(gpu));
            rv_cmd_destroy(cmd);
            rv_gpu_destroy(gpu);
        }
    } else {
        printf("real-size evaluations skipped (set REVERIE_SLOW_TESTS=1)\n");
    }
    return rv_test_finish("test_real_models");
}
