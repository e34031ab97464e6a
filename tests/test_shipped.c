/* The shipped model (models/reverie-tiny) through the runtime, against
 * PyTorch: tests/fixtures/reverie-tiny/goldens.* (tools/make_shipped_goldens.py)
 * hold tools/reverie_ref's float32 samples for fixed prompts and seeds, made
 * with the runtime's own seeded noise. What `reverie gen --seed S` computes
 * must match them: the noise bit for bit, the prompt embeddings, the final
 * latents and the decoded image within rv_golden.h's NMSE limits (1e-5 with
 * fp32 storage, 1e-3 with fp16), on both precisions, with the validation
 * layer on and silent. tools/tests/test_train.py checks that the goldens
 * were made from the weights in models/. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/gen.h"
#include "engine/noise.h"
#include "rv_golden.h"
#include "rv_test.h"

static void noise_matches(golden *g, const char *cname, uint64_t seed)
{
    char name[160];
    const rv_st_tensor *info = NULL;
    snprintf(name, sizeof(name), "%s.noise", cname);
    float *want = golden_get(g, name, &info);
    if (!want)
        return;
    float *got = malloc((size_t)info->numel * sizeof(float));
    rv_noise_normal(seed, RV_NOISE_STREAM_INIT, 0, got, (size_t)info->numel);
    uint64_t differ = 0;
    for (uint64_t i = 0; i < info->numel; i++)
        differ += got[i] != want[i];
    CHECK(differ == 0, "%s: the runtime's noise for seed %llu differs from reverie_ref.noise in %llu of %llu values",
          cname, (unsigned long long)seed, (unsigned long long)differ, (unsigned long long)info->numel);
    free(got);
    free(want);
}

static void run_case(golden *g, rv_gen *gen, const cJSON *c, const char *tag, double limit)
{
    const char *cname = c->string;
    const cJSON *latent = cJSON_GetObjectItemCaseSensitive(g->json, "latent_shape");
    const uint32_t lh = (uint32_t)cJSON_GetArrayItem(latent, 2)->valueint;
    const uint32_t lw = (uint32_t)cJSON_GetArrayItem(latent, 3)->valueint;
    rv_gen_params prm = {
        .prompt = cJSON_GetObjectItemCaseSensitive(c, "prompt")->valuestring,
        .steps = cJSON_GetObjectItemCaseSensitive(c, "num_inference_steps")->valueint,
        .guidance = (float)cJSON_GetObjectItemCaseSensitive(c, "guidance_scale")->valuedouble,
        .seed = (uint64_t)cJSON_GetObjectItemCaseSensitive(c, "seed")->valuedouble,
    };
    noise_matches(g, cname, prm.seed);
    rv_error err = {0};
    rv_gen_plan_desc pd = {.width = lw * gen->factor, .height = lh * gen->factor, .steps = prm.steps,
                           .cfg = rv_gen_uses_cfg(gen, prm.guidance), .decoder = RV_DECODER_AUTO};
    rv_gen_plan *plan = NULL;
    CHECK(rv_gen_plan_create(gen, &pd, &plan, &err) == RV_OK, "%s: plan: %s", cname, err.msg);
    if (!plan)
        return;
    rv_gen_result res;
    rv_status st = rv_gen_run(gen, plan, &prm, &res, &err);
    CHECK(st == RV_OK, "%s: run: %s", cname, err.msg);
    if (st == RV_OK) {
        double ms = 0;
        for (int i = 0; i < res.nstages; i++)
            ms += res.stages[i].ms;
        printf("  %s %s: %d steps, %.1f ms of GPU time, decoder %s\n", tag, cname, prm.steps, ms,
               rv_decoder_kind_name(plan->decoder));
        char name[160], label[200];
        snprintf(name, sizeof(name), "%s.prompt_embeds", cname);
        uint64_t hp = 0;
        int ep = -1;
        rv_prompt_info pi;
        CHECK(rv_gen_text(gen, prm.prompt, 0, &hp, &pi, &err) == RV_OK && pi.cached &&
              rv_gen_text_entry_of(gen, hp, "prompt", &ep, &err) == RV_OK, "%s: cached prompt: %s", cname, err.msg);
        if (ep >= 0)
            golden_check(g, gen->gpu, tag, name, &gen->cache[ep].emb, name, limit);
        const uint64_t L = (uint64_t)4 * lh * lw;
        float *lat = malloc(L * sizeof(float));
        CHECK(rv_gen_read_latents(gen, plan, lat, &err) == RV_OK, "%s", err.msg);
        snprintf(name, sizeof(name), "%s.latents", cname);
        float *want = golden_get(g, name, NULL);
        if (want)
            golden_compare(tag, name, lat, want, L, limit);
        free(want);
        free(lat);
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "image"))) {
            snprintf(name, sizeof(name), "%s.image", cname);
            snprintf(label, sizeof(label), "%s.image (%ux%u)", cname, pd.width, pd.height);
            golden_check(g, gen->gpu, tag, label, &plan->image, name, limit);
        }
    }
    rv_gen_plan_destroy(plan);
}

int main(void)
{
    golden g;
    if (!golden_open(&g, "reverie-tiny")) {
        fprintf(stderr, "test_shipped: no goldens in tests/fixtures/reverie-tiny\n");
        return 1;
    }
    const char *src = getenv("RV_SOURCE_DIR");
    char model[600];
    snprintf(model, sizeof(model), "%s/models/reverie-tiny", src ? src : "..");
    for (int prec = 0; prec < 2; prec++) {
        rv_gpu *gpu = NULL;
        int ready = golden_gpu(prec, "test_shipped", &gpu);
        if (ready < 0)
            return 1;
        if (ready == 0)
            continue;
        const char *tag = prec ? "f16" : "f32";
        rv_error err = {0};
        rv_gen *gen = NULL;
        rv_gen_desc gd = {.model_dir = model};
        rv_status s = rv_gen_load(&gen, gpu, &gd, &err);
        CHECK(s == RV_OK, "load %s: %s", model, err.msg);
        if (s == RV_OK) {
            const cJSON *c;
            cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(g.json, "cases"))
                run_case(&g, gen, c, tag, prec ? GOLDEN_NMSE_F16 : GOLDEN_NMSE_F32);
        }
        rv_gen_unload(gen);
        CHECK(rv_gpu_validation_count(gpu) == 0, "validation layer reported %d message(s)",
              rv_gpu_validation_count(gpu));
        rv_gpu_destroy(gpu);
    }
    golden_close(&g);
    return rv_test_finish("test_shipped");
}
