/* Golden tests of the whole text-to-image pipeline (engine/gen.h) on both
 * fixtures (tiny-sd15: LCM, tiny-sd21: Euler trailing), fp32 and fp16
 * storage: gen_1step, gen_1step_cfg, gen_2step and img2img with the golden
 * noise, through both decoders: prompt embeddings, final latents, the raw
 * decoded image and its RGBA8 bytes. Also: a run allocates nothing, fits one
 * command buffer and times every part (a long one is split across
 * submissions and still timed); the same seed gives bit-identical
 * latents and pixels; bad plans and parameters are refused.
 * Usage: test_gen [fixture-or-case-substring] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/gen.h"
#include "rv_golden.h"
#include "rv_test.h"

static const char *filter;

static float *opt_get(golden *g, const char *name)
{
    return rv_safetensors_find(g->st, name) ? golden_get(g, name, NULL) : NULL;
}

/* The RGBA8 bytes against round(clamp(x/2 + 0.5, 0, 1) * 255) of the golden image. */
static int rgba_max_diff(const uint32_t *rgba, const float *img, uint32_t w, uint32_t h)
{
    int worst = 0;
    for (uint32_t c = 0; c < 3; c++)
        for (uint32_t i = 0; i < w * h; i++) {
            float v = img[(size_t)c * w * h + i] / 2.0f + 0.5f;
            v = v < 0 ? 0 : v > 1 ? 1 : v;
            int want = (int)nearbyintf(v * 255.0f), got = (int)(rgba[i] >> (8 * c) & 0xff);
            int d = abs(want - got);
            worst = d > worst ? d : worst;
        }
    for (uint32_t i = 0; i < w * h; i++)
        if ((rgba[i] >> 24) != 0xff)
            return 256;
    return worst;
}

static void run_case(golden *g, rv_gen *gen, const char *cname, const char *tag, double limit)
{
    const char *fx = strrchr(g->dir, '/') + 1;
    char full[200], name[200], label[300];
    snprintf(full, sizeof(full), "%s/%s", fx, cname);
    if (filter && !strstr(full, filter))
        return;
    const cJSON *c = golden_case(g, cname);
    CHECK(c != NULL, "case %s", full);
    if (!c)
        return;
    const cJSON *neg = cJSON_GetObjectItemCaseSensitive(c, "negative_prompt");
    const cJSON *strength = cJSON_GetObjectItemCaseSensitive(c, "strength");
    rv_gen_params prm = {
        .prompt = cJSON_GetObjectItemCaseSensitive(c, "prompt")->valuestring,
        .negative = cJSON_IsString(neg) ? neg->valuestring : NULL,
        .steps = cJSON_GetObjectItemCaseSensitive(c, "num_inference_steps")->valueint,
        .guidance = (float)cJSON_GetObjectItemCaseSensitive(c, "guidance_scale")->valuedouble,
        .strength = strength ? (float)strength->valuedouble : 0.0f,
    };
    const rv_st_tensor *ni = NULL;
    snprintf(name, sizeof(name), "%s.noise", cname);
    float *noise = golden_get(g, name, &ni);
    if (!noise)
        return;
    snprintf(name, sizeof(name), "%s.init_latents", cname);
    float *init = opt_get(g, name);
    const uint64_t L = ni->numel;
    float *step_noise = calloc((size_t)L * 8, sizeof(float));
    for (int k = 0; k < 8; k++) {
        snprintf(name, sizeof(name), "%s.step_noise.%d", cname, k);
        float *sn = opt_get(g, name);
        if (sn) {
            memcpy(step_noise + (size_t)k * L, sn, L * sizeof(float));
            free(sn);
        }
    }
    prm.noise = noise;
    prm.step_noise = step_noise;
    prm.init_latents = init;

    const uint32_t lh = (uint32_t)ni->shape[2], lw = (uint32_t)ni->shape[3];
    static const rv_decoder_kind decs[] = {RV_DECODER_TINY, RV_DECODER_VAE};
    static const char *const img_names[] = {"image_taesd", "image_vae"};
    for (int d = 0; d < 2; d++) {
        rv_error err = {0};
        rv_gen_plan_desc pd = {.width = lw * gen->factor, .height = lh * gen->factor, .steps = prm.steps,
                               .cfg = rv_gen_uses_cfg(gen, prm.guidance), .decoder = decs[d]};
        rv_gen_plan *plan = NULL;
        CHECK(rv_gen_plan_create(gen, &pd, &plan, &err) == RV_OK, "%s: plan: %s", full, err.msg);
        if (!plan)
            continue;
        rv_mem_stats m0, m1;
        rv_gpu_mem_stats(gen->gpu, &m0);
        rv_gen_result res;
        rv_status st = rv_gen_run(gen, plan, &prm, &res, &err);
        rv_gpu_mem_stats(gen->gpu, &m1);
        CHECK(st == RV_OK, "%s: run: %s", full, err.msg);
        CHECK(m1.allocations == m0.allocations, "%s: the run allocated device memory", full);
        CHECK(res.submissions == 1, "%s: %d command buffers", full, res.submissions);
        if (st) {
            rv_gen_plan_destroy(plan);
            continue;
        }
        if (d == 0) { /* once per case: the parts were timed, the embeddings match */
            printf("  %s %s: %d stages (", tag, full, res.ndetail);
            for (int i = 0; i < res.nstages; i++)
                printf("%s%s %.2f ms", i ? ", " : "", res.stages[i].name, res.stages[i].ms);
            printf(")\n");
            CHECK(res.nstages >= 3 + 2 * (prm.steps - res.first_step), "%s: %d timed parts", full, res.nstages);
            snprintf(name, sizeof(name), "%s.prompt_embeds", cname);
            uint64_t hp = 0;
            int ep = -1;
            rv_prompt_info pi;
            if (rv_safetensors_find(g->st, name)) { /* the run's embedding, still cached */
                CHECK(rv_gen_text(gen, prm.prompt, 0, &hp, &pi, &err) == RV_OK && pi.cached &&
                      rv_gen_text_entry_of(gen, hp, "prompt", &ep, &err) == RV_OK, "%s: cached prompt: %s", full,
                      err.msg);
                snprintf(label, sizeof(label), "%s.prompt_embeds", full);
                if (ep >= 0)
                    golden_check(g, gen->gpu, tag, label, &gen->cache[ep].emb, name, limit);
            }
            float *lat = malloc(L * sizeof(float));
            CHECK(rv_gen_read_latents(gen, plan, lat, &err) == RV_OK, "%s", err.msg);
            snprintf(name, sizeof(name), "%s.latents", cname);
            float *want = golden_get(g, name, NULL);
            snprintf(label, sizeof(label), "%s.latents", full);
            if (want)
                golden_compare(tag, label, lat, want, L, limit);
            free(want);
            free(lat);
        }
        snprintf(name, sizeof(name), "%s.%s", cname, img_names[d]);
        snprintf(label, sizeof(label), "%s.%s", full, img_names[d]);
        golden_check(g, gen->gpu, tag, label, &plan->image, name, limit);
        /* the bytes: from our own image within a rounding step, and from
         * the golden one too in fp32 (fp16's image error spans several steps) */
        float *img = golden_get(g, name, NULL), *own = golden_download(gen->gpu, &plan->image);
        uint32_t *rgba = malloc(plan->rgba.bytes);
        CHECK(rv_gen_read_rgba(gen, plan, rgba, &err) == RV_OK, "%s", err.msg);
        int mo = rgba_max_diff(rgba, own, pd.width, pd.height);
        CHECK(mo <= 1, "%s: RGBA8 bytes differ by up to %d from the decoded image", label, mo);
        if (img && limit < 1e-4) {
            int md = rgba_max_diff(rgba, img, pd.width, pd.height);
            CHECK(md <= 1, "%s: RGBA8 bytes differ by up to %d from the golden image", label, md);
        }
        free(img);
        free(own);
        free(rgba);
        rv_gen_plan_destroy(plan);
    }
    free(noise);
    free(init);
    free(step_noise);
}

/* Seeded runs: bit-identical twice, cached embeddings or not, and a new seed changes the result. */
static void determinism(rv_gen *gen, const char *fx, const char *tag)
{
    if (filter && !strstr(fx, filter) && !strstr("determinism", filter))
        return;
    rv_error err = {0};
    const int steps = gen->sched.kind == RV_SCHED_LCM ? 2 : 1;
    rv_gen_plan_desc pd = {.width = 6 * gen->factor, .height = 5 * gen->factor, .steps = steps, .cfg = true};
    rv_gen_plan *plan = NULL;
    CHECK(rv_gen_plan_create(gen, &pd, &plan, &err) == RV_OK, "determinism plan: %s", err.msg);
    if (!plan)
        return;
    rv_gen_params prm = {.prompt = "a red lighthouse on a cliff", .negative = "blurry", .steps = steps,
                         .guidance = 3.0f, .seed = 1234};
    const uint64_t L = plan->nlat, P = (uint64_t)pd.width * pd.height;
    float *lat[3];
    uint32_t *px[3];
    rv_gen_result res;
    for (int r = 0; r < 3; r++) {
        lat[r] = malloc(L * sizeof(float));
        px[r] = malloc(P * sizeof(uint32_t));
        if (r == 2)
            prm.seed = 1235;
        CHECK(rv_gen_run(gen, plan, &prm, &res, &err) == RV_OK, "determinism run %d: %s", r, err.msg);
        rv_gen_read_latents(gen, plan, lat[r], &err);
        rv_gen_read_rgba(gen, plan, px[r], &err);
    }
    bool same = memcmp(lat[0], lat[1], L * sizeof(float)) == 0 && memcmp(px[0], px[1], P * 4) == 0;
    bool differs = memcmp(lat[0], lat[2], L * sizeof(float)) != 0;
    printf("  %s %s determinism: seed 1234 twice %s, seed 1235 %s\n", tag, fx,
           same ? "bit-identical" : "DIFFERENT", differs ? "differs" : "IDENTICAL");
    CHECK(same, "%s: the same seed gave different latents or pixels", fx);
    CHECK(differs, "%s: another seed gave the same latents", fx);
    for (int r = 0; r < 3; r++) {
        free(lat[r]);
        free(px[r]);
    }
    rv_gen_plan_destroy(plan);
}

/* More steps than one command buffer can time: the run is split across
 * submissions and every part is still timed. */
static void many_steps(rv_gen *gen, const char *fx)
{
    if (filter && !strstr(fx, filter))
        return;
    rv_error err = {0};
    const int steps = 6;
    rv_gen_plan_desc pd = {.width = 4 * gen->factor, .height = 4 * gen->factor, .steps = steps};
    rv_gen_plan *plan = NULL;
    CHECK(rv_gen_plan_create(gen, &pd, &plan, &err) == RV_OK, "plan: %s", err.msg);
    if (!plan)
        return;
    rv_gen_params prm = {.prompt = "a red lighthouse", .steps = steps, .seed = 5};
    rv_gen_result res;
    CHECK(rv_gen_run(gen, plan, &prm, &res, &err) == RV_OK, "%d steps: %s", steps, err.msg);
    int parts = 0;
    for (int i = 0; i < res.nstages; i++)
        parts += strncmp(res.stages[i].name, "step", 4) == 0 || strncmp(res.stages[i].name, "sched", 5) == 0;
    printf("  %s %d steps: %d command buffers, %d timed parts, %d stages\n", fx, steps, res.submissions,
           res.nstages, res.ndetail);
    CHECK(res.submissions >= 2, "%d steps fit %d command buffer(s)", steps, res.submissions);
    CHECK(parts == 2 * steps && strcmp(res.stages[res.nstages - 1].name, "rgba") == 0, "%d step parts of %d", parts,
          2 * steps);
    float *lat = malloc(plan->nlat * sizeof(float));
    CHECK(rv_gen_read_latents(gen, plan, lat, &err) == RV_OK, "%s", err.msg);
    bool finite = true;
    for (uint64_t i = 0; i < plan->nlat; i++)
        finite = finite && isfinite(lat[i]);
    CHECK(finite, "%d steps: non-finite latents", steps);
    free(lat);
    rv_gen_plan_destroy(plan);
}

/* More parts than the result can name (issue 16, class 5): the first 63
 * keep their names in order, the last entry is "more" and holds the rest;
 * no later stage is summed into an earlier part. */
static void parts_past_capacity(rv_gen *gen, const char *fx)
{
    if (filter && !strstr(fx, filter))
        return;
    rv_error err = {0};
    const int steps = 40;
    rv_gen_plan_desc pd = {.width = 2 * gen->factor, .height = 2 * gen->factor, .steps = steps};
    rv_gen_plan *plan = NULL;
    CHECK(rv_gen_plan_create(gen, &pd, &plan, &err) == RV_OK, "plan: %s", err.msg);
    if (!plan)
        return;
    rv_gen_params prm = {.prompt = "a red lighthouse", .steps = steps, .seed = 5};
    rv_gen_result *res = malloc(sizeof(*res));
    CHECK(rv_gen_run(gen, plan, &prm, res, &err) == RV_OK, "%d steps: %s", steps, err.msg);
    const int cap = RV_GEN_MAX_PARTS;
    bool names = res->nstages == cap && strcmp(res->stages[cap - 1].name, "more") == 0 &&
                 strcmp(res->stages[0].name, "text") == 0 && strcmp(res->stages[1].name, "init") == 0;
    for (int i = 2; i < cap - 1 && names; i++) {
        char want[32];
        snprintf(want, sizeof(want), "%s%d", (i % 2) ? "sched" : "step", (i - 2) / 2);
        names = strcmp(res->stages[i].name, want) == 0;
        if (!names)
            fprintf(stderr, "part %d is \"%s\", want \"%s\"\n", i, res->stages[i].name, want);
    }
    printf("  %s %d steps: %d parts, the last \"%s\" %.2f ms (the remaining %d parts)\n", fx, steps, res->nstages,
           res->stages[cap - 1].name, res->stages[cap - 1].ms, 2 + 2 * steps + 2 - (cap - 1));
    CHECK(names, "%d steps: the parts past capacity are misnamed or misplaced", steps);
    CHECK(res->stages[cap - 1].ms > 0, "the \"more\" part holds no time");
    free(res);
    rv_gen_plan_destroy(plan);
}

static void bad_input(rv_gen *gen)
{
    rv_error err = {0};
    rv_gen_plan *plan = NULL;
    uint32_t f = gen->factor;
    rv_gen_plan_desc pd = {.width = 8 * f + 1, .height = 8 * f, .steps = 1};
    CHECK(rv_gen_plan_create(gen, &pd, &plan, &err) == RV_ERR_INVALID && strstr(err.msg, "multiples of"),
          "odd width: %s", err.msg);
    rv_error_clear(&err);
    pd.width = 0;
    CHECK(rv_gen_plan_create(gen, &pd, &plan, &err) == RV_ERR_INVALID, "zero width");
    rv_error_clear(&err);
    pd = (rv_gen_plan_desc){.width = 4 * f, .height = 4 * f, .steps = 1};
    CHECK(rv_gen_plan_create(gen, &pd, &plan, &err) == RV_OK, "plan: %s", err.msg);
    if (!plan)
        return;
    rv_gen_result res;
    rv_gen_params prm = {.prompt = "x", .steps = 2};
    CHECK(rv_gen_run(gen, plan, &prm, &res, &err) == RV_ERR_INVALID && strstr(err.msg, "at most 1"),
          "too many steps: %s", err.msg);
    rv_error_clear(&err);
    prm = (rv_gen_params){.prompt = "x", .steps = 1, .guidance = 7.0f};
    CHECK(rv_gen_run(gen, plan, &prm, &res, &err) == RV_ERR_INVALID && strstr(err.msg, "guidance"),
          "guidance without a cfg plan: %s", err.msg);
    rv_error_clear(&err);
    prm = (rv_gen_params){.prompt = "x", .steps = 1, .clip_skip = 99};
    CHECK(rv_gen_run(gen, plan, &prm, &res, &err) == RV_ERR_INVALID && strstr(err.msg, "clip skip"),
          "clip skip: %s", err.msg);
    rv_error_clear(&err);
    prm = (rv_gen_params){.prompt = "\xff\xfe", .steps = 1};
    CHECK(rv_gen_run(gen, plan, &prm, &res, &err) == RV_ERR_INVALID, "invalid UTF-8 prompt: %s", err.msg);
    rv_error_clear(&err);
    /* and the pipeline still works after refusing */
    prm = (rv_gen_params){.prompt = "x", .steps = 1};
    CHECK(rv_gen_run(gen, plan, &prm, &res, &err) == RV_OK, "after errors: %s", err.msg);
    rv_gen_plan_destroy(plan);
}

int main(int argc, char **argv)
{
    filter = argc > 1 ? argv[1] : NULL;
    static const char *const fixtures[] = {"tiny-sd15", "tiny-sd21"};
    static const char *const cases[] = {"gen_1step", "gen_1step_cfg", "gen_2step", "img2img"};
    for (int prec = 0; prec < 2; prec++) {
        rv_error err = {0};
        rv_gpu *gpu = NULL;
        int ready = golden_gpu(prec, "test_gen", &gpu);
        if (ready < 0)
            return 1;
        if (ready == 0)
            continue;
        const char *tag = prec ? "f16" : "f32";
        double limit = prec ? GOLDEN_NMSE_F16 : GOLDEN_NMSE_F32;
        for (int f = 0; f < 2; f++) {
            golden g;
            CHECK(golden_open(&g, fixtures[f]), "fixture %s", fixtures[f]);
            rv_gen *gen = NULL;
            rv_gen_desc gd = {.model_dir = g.dir, .vae = true, .tiny = true};
            rv_status s = rv_gen_load(&gen, gpu, &gd, &err);
            CHECK(s == RV_OK, "load %s: %s", g.dir, err.msg);
            if (s == RV_OK) {
                printf("%s %s: %s, %ux latents\n", tag, fixtures[f], rv_sched_kind_name(gen->sched.kind),
                       gen->factor);
                for (int c = 0; c < 4; c++)
                    run_case(&g, gen, cases[c], tag, limit);
                determinism(gen, fixtures[f], tag);
                if (prec == 0 && (!filter || strstr(fixtures[f], filter)))
                    bad_input(gen);
                if (prec == 0 && f == 1) {
                    many_steps(gen, fixtures[f]);
                    parts_past_capacity(gen, fixtures[f]);
                }
            }
            rv_gen_unload(gen);
            golden_close(&g);
        }
        CHECK(rv_gpu_validation_count(gpu) == 0, "validation layer reported %d message(s)",
              rv_gpu_validation_count(gpu));
        rv_gpu_destroy(gpu);
    }
    return rv_test_finish("test_gen");
}
