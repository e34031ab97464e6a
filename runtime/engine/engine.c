/* The public engine (rv_engine.h): a device and a loaded model, prompt
 * handles, and one-shot generation as a thin driver over engine/gen.h's
 * pieces. The frame loop is engine/frames.c. Not a CLI: nothing here
 * prints or exits. */
#include <stdlib.h>
#include <string.h>

#include "engine/engine_internal.h"

const char *rv_decoder_kind_name(rv_decoder_kind k)
{
    return k == RV_DECODER_TINY ? "tiny" : k == RV_DECODER_VAE ? "vae" : "auto";
}

bool rv_engine_scheduler_known(const char *name)
{
    rv_sched_kind k;
    return name && rv_sched_kind_parse(name, &k);
}

rv_status rv_engine_create(rv_engine **out, const rv_engine_desc *desc, rv_error *err)
{
    *out = NULL;
    rv_engine *e = calloc(1, sizeof(*e));
    if (!e)
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "ENGINE: out of memory");
    rv_status s = rv_gpu_create(&e->gpu, &desc->gpu, err);
    if (!s) {
        rv_gen_desc gd = {.model_dir = desc->model_dir, .scheduler = desc->scheduler, .variant = desc->variant,
                          .vae = desc->vae, .tiny = desc->tiny, .allow_nonfinite = desc->allow_nonfinite,
                          .tiny_dir = desc->tiny_decoder};
        s = rv_gen_load(&e->gen, e->gpu, &gd, err);
    }
    if (s) {
        rv_engine_destroy(e);
        return s;
    }
    *out = e;
    return RV_OK;
}

void rv_engine_destroy(rv_engine *e)
{
    if (!e)
        return;
    rv_gen_unload(e->gen);
    rv_gpu_destroy(e->gpu);
    free(e);
}

void rv_engine_get_info(const rv_engine *e, rv_engine_info *o)
{
    memset(o, 0, sizeof(*o));
    const rv_gen *g = e->gen;
    o->device = rv_gpu_info(e->gpu);
    o->model_dir = g->dir;
    o->scheduler = rv_sched_kind_name(g->sched.kind);
    o->factor = g->factor;
    o->latent_channels = g->latent_channels;
    o->default_width = o->default_height = rv_gen_default_side(g);
    o->default_steps = rv_gen_default_steps(g);
    o->has_vae = g->vae != NULL;
    o->has_tiny = g->taesd != NULL;
    o->fp16 = rv_gpu_dtype(e->gpu) == RV_F16;
    o->validation_messages = rv_gpu_validation_count(e->gpu);
    o->text_layers = g->te->cfg.num_hidden_layers;
    o->nonfinite_tensors = g->nonfinite;
    rv_gpu_pipeline_cache(e->gpu, &o->pipeline_cache);
}

bool rv_engine_uses_cfg(const rv_engine *e, float scale) { return rv_gen_uses_cfg(e->gen, scale); }

rv_status rv_engine_prompt(rv_engine *e, const char *text, uint32_t clip_skip, rv_prompt *out, rv_prompt_info *info,
                           rv_error *err)
{
    return rv_gen_text(e->gen, text, clip_skip, out, info, err);
}

rv_status rv_engine_count_tokens(rv_engine *e, const char *text, int *n_tokens, rv_error *err)
{
    int32_t ids[RV_TOKENIZER_MAX_LENGTH];
    *n_tokens = 0;
    if (!text)
        return rv_error_set(err, RV_ERR_INVALID, "ENGINE: no prompt");
    return rv_tokenizer_encode(e->gen->tok, text, ids, n_tokens, err);
}

static void copy_stages(rv_stage_ms *dst, const rv_stage_time *src, int n)
{
    for (int i = 0; i < n; i++) {
        memcpy(dst[i].name, src[i].name, sizeof(dst[i].name));
        dst[i].ms = src[i].ms;
    }
}

void rv_gen_report_free(rv_gen_report *rep)
{
    if (!rep)
        return;
    free(rep->rgba);
    free(rep->latents);
    rep->rgba = NULL;
    rep->latents = NULL;
}

rv_status rv_engine_generate(rv_engine *e, const rv_gen_request *req, rv_gen_report *rep, rv_error *err)
{
    memset(rep, 0, sizeof(*rep));
    rv_gen *g = e->gen;
    int steps = req->steps ? req->steps : rv_gen_default_steps(g);
    uint32_t side = rv_gen_default_side(g);
    rv_gen_plan_desc pd = {.width = req->width ? req->width : side, .height = req->height ? req->height : side,
                           .steps = steps, .cfg = rv_gen_uses_cfg(g, req->guidance), .decoder = req->decoder};
    rv_gen_plan *p = NULL;
    rv_status s = rv_gen_plan_create(g, &pd, &p, err);
    if (s)
        return s;
    rv_gen_params prm = {.prompt = req->prompt, .negative = req->negative, .steps = steps,
                         .guidance = req->guidance, .clip_skip = req->clip_skip, .seed = req->seed,
                         .noise = req->noise, .init_latents = req->init_latents, .strength = req->strength};
    rv_gen_result *res = malloc(sizeof(*res));
    rep->rgba = malloc((size_t)pd.width * pd.height * sizeof(uint32_t));
    rep->latents = malloc(p->nlat * sizeof(float));
    if (!res || !rep->rgba || !rep->latents)
        s = rv_error_set(err, RV_ERR_HOST_MEMORY, "ENGINE: out of memory");
    if (!s)
        s = rv_gen_run(g, p, &prm, res, err);
    if (!s)
        s = rv_gen_read_latents(g, p, rep->latents, err);
    if (!s)
        s = rv_gen_read_rgba(g, p, rep->rgba, err);
    if (!s)
        s = rv_engine_check_finite(rep->latents, p->nlat, "the final latent", err);
    if (!s) {
        rep->width = pd.width;
        rep->height = pd.height;
        rep->latent_h = p->lh;
        rep->latent_w = p->lw;
        rep->steps = steps;
        rep->n_tokens = res->n_tokens;
        rep->first_step = res->first_step;
        rep->submissions = res->submissions;
        rep->nparts = res->nstages;
        copy_stages(rep->parts, res->stages, res->nstages);
        rep->ndetail = res->ndetail;
        copy_stages(rep->detail, res->detail, res->ndetail);
        rep->nops = res->nops;
        for (int i = 0; i < res->nops; i++) {
            memcpy(rep->ops[i].name, res->ops[i].name, sizeof(rep->ops[i].name));
            rep->ops[i].dispatches = res->ops[i].dispatches;
            rep->ops[i].ms = res->ops[i].ms;
        }
    }
    free(res);
    rv_gen_plan_destroy(p);
    if (s)
        rv_gen_report_free(rep);
    return s;
}

rv_status rv_engine_check_finite(const float *x, uint64_t n, const char *what, rv_error *err)
{
    for (uint64_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return rv_error_set(err, RV_ERR_INVALID, "ENGINE: %s has a non-finite value (%s at element %llu): the "
                                "model or its inputs produce NaN/Inf; no image was written", what,
                                isnan(x[i]) ? "NaN" : "Inf", (unsigned long long)i);
    return RV_OK;
}
_Static_assert(RV_ENGINE_MAX_STEPS == RV_SCHED_MAX_STEPS, "the public step limit is the scheduler's");
