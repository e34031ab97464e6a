/* Golden tests of the autoencoders on both fixtures, fp32 and fp16 storage:
 * AutoencoderKL encode (latents, posterior mean and log-variance) and decode,
 * both also through the explicit (non-flash) mid-block attention path that
 * real-size VAEs (head width 512) take; AutoencoderTiny encode and decode,
 * also from the F16 / BF16 weight variants.
 * Usage: test_autoencoders [fixture-or-case-substring] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rv_gpu.h"
#include "models/taesd.h"
#include "models/vae.h"
#include "rv_golden.h"
#include "rv_test.h"

static const char *filter;

static bool wanted(const char *fixture, const char *what)
{
    char full[200];
    snprintf(full, sizeof(full), "%s/%s", fixture, what);
    return !filter || strstr(full, filter);
}

static void label_of(char *out, size_t cap, const golden *g, const char *name, const char *note)
{
    snprintf(out, cap, "%s %s%s", strrchr(g->dir, '/') + 1, name, note);
}

static void vae_case(golden *g, rv_gpu *gpu, rv_cmd *cmd, rv_vae *v, rv_ae_mode mode, bool explicit_attn,
                     const char *tag, double limit)
{
    const char *fx = strrchr(g->dir, '/') + 1;
    const char *cname = mode == RV_AE_ENCODE ? "vae_encode" : "vae_decode";
    if (!wanted(fx, cname))
        return;
    char name[160], label[400];
    const rv_st_tensor *ii = NULL;
    snprintf(name, sizeof(name), "%s.%s", cname, mode == RV_AE_ENCODE ? "image" : "latents");
    float *in = golden_get(g, name, &ii);
    if (!in)
        return;
    uint32_t B = (uint32_t)ii->shape[0], C = (uint32_t)ii->shape[1], H = (uint32_t)ii->shape[2],
             W = (uint32_t)ii->shape[3];
    rv_error err = {0};
    rv_dtype dt = rv_gpu_dtype(gpu);
    rv_vae_plan *plan = NULL;
    CHECK(rv_vae_plan_create_opts(v, gpu, mode, B, H, W, explicit_attn, &plan, &err) == RV_OK, "plan: %s", err.msg);
    if (!plan) {
        free(in);
        return;
    }
    uint32_t L = v->cfg.latent_channels;
    uint64_t nout = (uint64_t)B * (mode == RV_AE_ENCODE ? L : v->cfg.out_channels) * plan->oh * plan->ow;
    rv_tensor tin = golden_upload(gpu, dt, in, (uint64_t)B * C * H * W);
    rv_tensor out = golden_upload(gpu, dt, NULL, nout);
    rv_tensor mean = {.block = UINT32_MAX}, logvar = {.block = UINT32_MAX};
    if (mode == RV_AE_ENCODE) {
        mean = golden_upload(gpu, dt, NULL, nout);
        logvar = golden_upload(gpu, dt, NULL, nout);
    }
    rv_cmd_begin(cmd, &err);
    rv_vae_forward(cmd, v, plan, &out, &tin, mode == RV_AE_ENCODE ? &mean : NULL,
                   mode == RV_AE_ENCODE ? &logvar : NULL);
    rv_status st = rv_cmd_run(cmd, &err);
    CHECK(st == RV_OK && rv_gpu_error(gpu)->code == RV_OK, "run: %s %s", err.msg, rv_gpu_error(gpu)->msg);
    rv_gpu_clear_error(gpu);
    const char *note = explicit_attn ? " (explicit attn)" : "";
    if (mode == RV_AE_ENCODE) {
        label_of(label, sizeof(label), g, "vae_encode.latents", note);
        golden_check(g, gpu, tag, label, &out, "vae_encode.latents", limit);
        label_of(label, sizeof(label), g, "vae_encode.mean", note);
        golden_check(g, gpu, tag, label, &mean, "vae_encode.mean", limit);
        /* the golden log-variance is clamped to [-30, 20] as DiagonalGaussianDistribution does */
        const rv_st_tensor *li = NULL;
        float *want = golden_get(g, "vae_encode.logvar", &li);
        if (want && li->numel == logvar.count) {
            float *got = golden_download(gpu, &logvar);
            for (uint64_t i = 0; i < logvar.count; i++)
                got[i] = got[i] < -30.0f ? -30.0f : got[i] > 20.0f ? 20.0f : got[i];
            label_of(label, sizeof(label), g, "vae_encode.logvar (clamped)", note);
            golden_compare(tag, label, got, want, (size_t)logvar.count, limit);
            free(got);
        }
        free(want);
    } else {
        label_of(label, sizeof(label), g, "vae_decode.image", note);
        golden_check(g, gpu, tag, label, &out, "vae_decode.image", limit);
    }
    rv_vae_plan_destroy(plan);
    rv_tensor_free(gpu, &tin);
    rv_tensor_free(gpu, &out);
    rv_tensor_free(gpu, &mean);
    rv_tensor_free(gpu, &logvar);
    free(in);
}

static void taesd_case(golden *g, rv_gpu *gpu, rv_cmd *cmd, rv_taesd *t, rv_ae_mode mode, const char *note,
                       const char *tag, double limit)
{
    const char *fx = strrchr(g->dir, '/') + 1;
    const char *cname = mode == RV_AE_ENCODE ? "taesd_encode" : "taesd_decode";
    if (!wanted(fx, cname))
        return;
    char name[160], label[400];
    const rv_st_tensor *ii = NULL;
    snprintf(name, sizeof(name), "%s.%s", cname, mode == RV_AE_ENCODE ? "image" : "latents");
    float *in = golden_get(g, name, &ii);
    if (!in)
        return;
    uint32_t B = (uint32_t)ii->shape[0], C = (uint32_t)ii->shape[1], H = (uint32_t)ii->shape[2],
             W = (uint32_t)ii->shape[3];
    rv_error err = {0};
    rv_dtype dt = rv_gpu_dtype(gpu);
    rv_taesd_plan *plan = NULL;
    CHECK(rv_taesd_plan_create(t, gpu, mode, B, H, W, &plan, &err) == RV_OK, "plan: %s", err.msg);
    if (!plan) {
        free(in);
        return;
    }
    uint64_t nout = (uint64_t)B * (mode == RV_AE_ENCODE ? t->cfg.latent_channels : t->cfg.out_channels) * plan->oh *
                    plan->ow;
    rv_tensor tin = golden_upload(gpu, dt, in, (uint64_t)B * C * H * W);
    rv_tensor out = golden_upload(gpu, dt, NULL, nout);
    rv_cmd_begin(cmd, &err);
    rv_taesd_forward(cmd, t, plan, &out, &tin);
    rv_status st = rv_cmd_run(cmd, &err);
    CHECK(st == RV_OK && rv_gpu_error(gpu)->code == RV_OK, "run: %s %s", err.msg, rv_gpu_error(gpu)->msg);
    rv_gpu_clear_error(gpu);
    snprintf(name, sizeof(name), "%s.%s", cname, mode == RV_AE_ENCODE ? "latents" : "image");
    label_of(label, sizeof(label), g, name, note);
    golden_check(g, gpu, tag, label, &out, name, limit);
    rv_taesd_plan_destroy(plan);
    rv_tensor_free(gpu, &tin);
    rv_tensor_free(gpu, &out);
    free(in);
}

int main(int argc, char **argv)
{
    filter = argc > 1 ? argv[1] : NULL;
    static const char *const fixtures[] = {"tiny-sd15", "tiny-sd21"};
    static const char *const variants[] = {"fp16", "bf16"};
    for (int prec = 0; prec < 2; prec++) {
        rv_error err = {0};
        rv_gpu *gpu = NULL;
        int ready = golden_gpu(prec, "test_autoencoders", &gpu);
        if (ready < 0)
            return 1;
        if (ready == 0)
            continue;
        rv_cmd *cmd = NULL;
        rv_cmd_create(gpu, &cmd, &err);
        const char *tag = prec ? "f16" : "f32";
        double limit = prec ? GOLDEN_NMSE_F16 : GOLDEN_NMSE_F32;
        for (int f = 0; f < 2; f++) {
            golden g;
            CHECK(golden_open(&g, fixtures[f]), "fixture %s", fixtures[f]);
            char dir[600];
            rv_bind_report rep = {0};

            snprintf(dir, sizeof(dir), "%s/vae", g.dir);
            rv_vae *v = NULL;
            rv_status s = rv_vae_load(&v, gpu, dir, NULL, &rep, &err);
            CHECK(s == RV_OK, "load %s: %s\n%s", dir, err.msg, rep.text ? rep.text : "");
            rv_bind_report_free(&rep);
            if (s == RV_OK) {
                printf("%s %s: AutoencoderKL %d blocks, %llu parameters\n", tag, fixtures[f], v->cfg.nblocks,
                       (unsigned long long)rv_params_numel(&v->params));
                for (int ex = 0; ex < 2; ex++) {
                    vae_case(&g, gpu, cmd, v, RV_AE_ENCODE, ex, tag, limit);
                    vae_case(&g, gpu, cmd, v, RV_AE_DECODE, ex, tag, limit);
                }
            }
            rv_vae_destroy(v);

            snprintf(dir, sizeof(dir), "%s/vae_tiny", g.dir);
            for (int var = 0; var < 2; var++) {
                const char *variant = var ? variants[f] : NULL;
                rv_taesd *t = NULL;
                s = rv_taesd_load(&t, gpu, dir, variant, &rep, &err);
                CHECK(s == RV_OK, "load %s (%s): %s\n%s", dir, variant ? variant : "F32", err.msg,
                      rep.text ? rep.text : "");
                rv_bind_report_free(&rep);
                if (s == RV_OK) {
                    char note[64] = "";
                    if (variant)
                        snprintf(note, sizeof(note), " (%s weights)", variant);
                    printf("%s %s: AutoencoderTiny %d/%d stages, %llu parameters%s\n", tag, fixtures[f],
                           t->cfg.n_enc, t->cfg.n_dec, (unsigned long long)rv_params_numel(&t->params), note);
                    taesd_case(&g, gpu, cmd, t, RV_AE_ENCODE, note, tag, limit);
                    taesd_case(&g, gpu, cmd, t, RV_AE_DECODE, note, tag, limit);
                }
                rv_taesd_destroy(t);
            }
            golden_close(&g);
        }
        CHECK(rv_gpu_validation_count(gpu) == 0, "validation layer reported %d message(s)",
              rv_gpu_validation_count(gpu));
        rv_cmd_destroy(cmd);
        rv_gpu_destroy(gpu);
    }
    return rv_test_finish("test_autoencoders");
}
