/* Text-to-image on the GPU (see gen.h): loading a diffusers folder, plans,
 * and the recording of one generation. Scheduler arithmetic on latents is
 * recorded as scale/add ops with coefficients from scheduler.c; the CPU
 * uploads token ids, noise and timesteps before recording, and reads
 * nothing back until the run is done. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/gen.h"
#include "engine/noise.h"
#include "rv_ops.h"

#define SEQ RV_TOKENIZER_MAX_LENGTH
#define STAGE_PREFIX "gen:"
/* Timing stages kept free for the decoder and the RGBA conversion. */
#define DECODE_STAGES 16

/* ---- loading ---- */

static bool is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* The folder of the component of `cls` (or named `name` when cls is NULL). */
static const char *component(const rv_gen *g, const char *cls, const char *name, char *out, size_t cap)
{
    const rv_component *c = NULL;
    for (int i = 0; i < g->index.count && !c; i++)
        if (cls ? strcmp(g->index.comp[i].class_name, cls) == 0 : strcmp(g->index.comp[i].name, name) == 0)
            c = &g->index.comp[i];
    if (!c)
        return NULL;
    snprintf(out, cap, "%s/%s", g->dir, c->name);
    return out;
}

static rv_status need_component(const rv_gen *g, const char *cls, const char *name, const char *what, char *out,
                                size_t cap, rv_error *err)
{
    if (!component(g, cls, name, out, cap))
        return rv_error_set(err, RV_ERR_FORMAT, "GEN: %s/model_index.json names no %s (%s)", g->dir, what,
                            cls ? cls : name);
    if (!is_dir(out))
        return rv_error_set(err, RV_ERR_IO, "GEN: %s: the %s folder is missing", out, what);
    return RV_OK;
}

/* After a component's bind: the weights it let through, and its report freed
 * for the next component (a bind clears the report without freeing it). */
static void take_report(rv_gen *g, rv_bind_report *r)
{
    if (!r)
        return;
    g->nonfinite += r->nonfinite;
    rv_bind_report_free(r);
    r->allow_nonfinite = true;
}

rv_status rv_gen_load(rv_gen **out, rv_gpu *gpu, const rv_gen_desc *desc, rv_error *err)
{
    *out = NULL;
    if (!desc->model_dir || !*desc->model_dir)
        return rv_error_set(err, RV_ERR_INVALID, "GEN: no model folder given");
    if (!is_dir(desc->model_dir))
        return rv_error_set(err, RV_ERR_IO, "GEN: %s: no such model folder", desc->model_dir);
    rv_gen *g = calloc(1, sizeof(*g));
    if (!g)
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "GEN: out of memory");
    g->gpu = gpu;
    static uint32_t next_uid;
    g->uid = (++next_uid) & 0xffffffu; /* per process; handles carry it */
    snprintf(g->dir, sizeof(g->dir), "%s", desc->model_dir);
    char dir[1024];
    rv_bind_report rep = {.allow_nonfinite = desc->allow_nonfinite};
    rv_bind_report *report = desc->allow_nonfinite ? &rep : NULL;
    rv_status s = rv_model_index_load(&g->index, g->dir, err);
    if (!s)
        s = need_component(g, NULL, "scheduler", "scheduler", dir, sizeof(dir), err);
    if (!s)
        s = rv_scheduler_load(&g->sched, dir, desc->scheduler, err);
    if (!s)
        s = need_component(g, "CLIPTokenizer", NULL, "tokenizer", dir, sizeof(dir), err);
    if (!s)
        s = rv_tokenizer_load(&g->tok, dir, err);
    if (!s)
        s = need_component(g, "CLIPTextModel", NULL, "text encoder", dir, sizeof(dir), err);
    if (!s)
        s = rv_clip_text_load(&g->te, gpu, dir, report, err);
    take_report(g, report);
    if (!s)
        s = need_component(g, "UNet2DConditionModel", NULL, "UNet", dir, sizeof(dir), err);
    if (!s)
        s = rv_unet_load(&g->unet, gpu, dir, desc->variant, report, err);
    take_report(g, report);
    if (s)
        goto fail;

    bool has_tiny = desc->tiny_dir || component(g, "AutoencoderTiny", NULL, dir, sizeof(dir)) != NULL;
    bool want_vae = desc->vae || (!desc->tiny && !has_tiny), want_tiny = desc->tiny || (!desc->vae && has_tiny);
    if (want_tiny) {
        if (desc->tiny_dir) { /* TAESD published on its own, for a model that ships none */
            snprintf(dir, sizeof(dir), "%s", desc->tiny_dir);
            s = is_dir(dir) ? RV_OK : rv_error_set(err, RV_ERR_IO, "GEN: --tiny-decoder %s: no such folder", dir);
        } else {
            s = need_component(g, "AutoencoderTiny", NULL, "tiny autoencoder (TAESD)", dir, sizeof(dir), err);
        }
        if (!s)
            s = rv_taesd_load(&g->taesd, gpu, dir, desc->variant, report, err);
        take_report(g, report);
        if (s)
            goto fail;
    }
    if (want_vae) {
        s = need_component(g, "AutoencoderKL", NULL, "VAE", dir, sizeof(dir), err);
        if (!s)
            s = rv_vae_load(&g->vae, gpu, dir, desc->variant, report, err);
        take_report(g, report);
        if (s)
            goto fail;
    }

    /* the pieces must fit together */
    const rv_unet_config *uc = &g->unet->cfg;
    g->latent_channels = uc->in_channels;
    uint32_t D = g->te->cfg.hidden_size;
    if (uc->cross_attention_dim[0] != D) {
        s = rv_error_set(err, RV_ERR_FORMAT, "GEN: %s: the UNet's cross_attention_dim %u is not the text encoder's "
                         "hidden_size %u", g->dir, uc->cross_attention_dim[0], D);
        goto fail;
    }
    if (uc->out_channels != uc->in_channels) {
        s = rv_error_set(err, RV_ERR_FORMAT, "GEN: %s: the UNet has %u input and %u output channels", g->dir,
                         uc->in_channels, uc->out_channels);
        goto fail;
    }
    s = rv_tokenizer_check_encoder(g->tok, g->te->cfg.vocab_size, g->dir, err);
    if (s)
        goto fail;
    if (g->te->cfg.max_position_embeddings < SEQ) {
        s = rv_error_set(err, RV_ERR_FORMAT, "GEN: %s: the text encoder takes %u tokens, fewer than %d", g->dir,
                         g->te->cfg.max_position_embeddings, SEQ);
        goto fail;
    }
    if (g->taesd) {
        g->factor = rv_taesd_scale(g->taesd);
        if (g->taesd->cfg.latent_channels != g->latent_channels) {
            s = rv_error_set(err, RV_ERR_FORMAT, "GEN: %s: TAESD has %u latent channels, the UNet %u", g->dir,
                             g->taesd->cfg.latent_channels, g->latent_channels);
            goto fail;
        }
    }
    if (g->vae) {
        uint32_t f = rv_vae_scale(g->vae);
        if (g->factor && f != g->factor) {
            s = rv_error_set(err, RV_ERR_FORMAT, "GEN: %s: the VAE scales latents by %u, TAESD by %u", g->dir, f,
                             g->factor);
            goto fail;
        }
        g->factor = f;
        if (g->vae->cfg.latent_channels != g->latent_channels) {
            s = rv_error_set(err, RV_ERR_FORMAT, "GEN: %s: the VAE has %u latent channels, the UNet %u", g->dir,
                             g->vae->cfg.latent_channels, g->latent_channels);
            goto fail;
        }
    }
    if (!rv_scheduler_linear(&g->sched)) {
        s = rv_error_set(err, RV_ERR_UNSUPPORTED, "GEN: %s/scheduler: clip_sample is not supported", g->dir);
        goto fail;
    }

    s = rv_clip_text_plan_create(g->te, gpu, 1, SEQ, &g->te_plan, err);
    if (!s)
        s = rv_tensor_alloc(gpu, &g->ids, RV_F32, 2 * SEQ, err);
    for (int i = 0; i < RV_GEN_TEXT_CACHE && !s; i++)
        s = rv_tensor_alloc(gpu, &g->cache[i].emb, rv_gpu_dtype(gpu), (uint64_t)SEQ * D, err);
    if (!s)
        s = rv_tensor_alloc(gpu, &g->flags, RV_F32, RV_GEN_FLAGS, err);
    if (!s)
        s = rv_cmd_create(gpu, &g->cmd, err);
    if (s)
        goto fail;
    *out = g;
    return RV_OK;
fail:
    rv_gen_unload(g);
    return s;
}

void rv_gen_unload(rv_gen *g)
{
    if (!g)
        return;
    rv_cmd_destroy(g->cmd);
    for (int i = 0; i < RV_GEN_TEXT_CACHE; i++) {
        rv_tensor_free(g->gpu, &g->cache[i].emb);
        free(g->cache[i].host);
    }
    rv_tensor_free(g->gpu, &g->ids);
    rv_tensor_free(g->gpu, &g->flags);
    rv_clip_text_plan_destroy(g->te_plan);
    rv_vae_destroy(g->vae);
    rv_taesd_destroy(g->taesd);
    rv_unet_destroy(g->unet);
    rv_clip_text_destroy(g->te);
    rv_tokenizer_unload(g->tok);
    rv_scheduler_free(&g->sched);
    free(g);
}

bool rv_gen_uses_cfg(const rv_gen *g, float scale)
{
    return scale > 1.0f && g->unet->cfg.time_cond_proj_dim == 0;
}

/* ---- plans ---- */

static rv_status alloc(rv_gpu *gpu, rv_tensor *t, rv_dtype dt, uint64_t n, rv_status s, rv_error *err)
{
    if (s)
        return s;
    return rv_tensor_alloc(gpu, t, dt, n, err);
}

rv_status rv_gen_plan_create(rv_gen *g, const rv_gen_plan_desc *d, rv_gen_plan **out, rv_error *err)
{
    *out = NULL;
    rv_decoder_kind dec = d->decoder;
    if (dec == RV_DECODER_AUTO)
        dec = g->taesd ? RV_DECODER_TINY : RV_DECODER_VAE;
    if ((dec == RV_DECODER_TINY && !g->taesd) || (dec == RV_DECODER_VAE && !g->vae))
        return rv_error_set(err, RV_ERR_INVALID, "GEN: %s: the %s decoder is not loaded%s", g->dir,
                            rv_decoder_kind_name(dec),
                            dec == RV_DECODER_TINY ? " (the model has no AutoencoderTiny)" : "");
    const uint32_t f = g->factor;
    if (d->width == 0 || d->height == 0 || d->width % f || d->height % f)
        return rv_error_set(err, RV_ERR_INVALID, "GEN: image size %ux%u: width and height must be positive "
                            "multiples of %u (the decoder's scale)", d->width, d->height, f);
    if (d->width > 16384 || d->height > 16384)
        return rv_error_set(err, RV_ERR_INVALID, "GEN: image size %ux%u: at most 16384 pixels a side", d->width,
                            d->height);
    if (d->steps < 1 || d->steps > RV_SCHED_MAX_STEPS)
        return rv_error_set(err, RV_ERR_INVALID, "GEN: %d steps (1 to %d)", d->steps, RV_SCHED_MAX_STEPS);
    rv_gen_plan *p = calloc(1, sizeof(*p));
    if (!p)
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "GEN: out of memory");
    p->d = *d;
    p->gpu = g->gpu;
    p->decoder = dec;
    p->lh = d->height / f;
    p->lw = d->width / f;
    p->batch = d->cfg ? 2 : 1;
    p->nlat = (uint64_t)g->latent_channels * p->lh * p->lw;
    rv_gpu *gpu = g->gpu;
    rv_dtype dt = rv_gpu_dtype(gpu);
    const uint64_t L = p->nlat, B = p->batch;
    const uint32_t D = g->te->cfg.hidden_size, cond = g->unet->cfg.time_cond_proj_dim;
    rv_status s = rv_unet_plan_create(g->unet, gpu, p->batch, p->lh, p->lw, SEQ, &p->unet, err);
    if (!s && dec == RV_DECODER_TINY)
        s = rv_taesd_plan_create(g->taesd, gpu, RV_AE_DECODE, 1, p->lh, p->lw, &p->taesd, err);
    if (!s && dec == RV_DECODER_VAE)
        s = rv_vae_plan_create(g->vae, gpu, RV_AE_DECODE, 1, p->lh, p->lw, &p->vae, err);
    s = alloc(gpu, &p->noise, dt, L, s, err);
    s = alloc(gpu, &p->init, dt, L, s, err);
    if (g->sched.kind == RV_SCHED_LCM && d->steps > 1)
        s = alloc(gpu, &p->step_noise, dt, L * (uint64_t)(d->steps - 1), s, err);
    s = alloc(gpu, &p->lat[0], dt, L, s, err);
    s = alloc(gpu, &p->lat[1], dt, L, s, err);
    s = alloc(gpu, &p->model_in, dt, B * L, s, err);
    s = alloc(gpu, &p->model_out, dt, B * L, s, err);
    s = alloc(gpu, &p->guided, dt, L, s, err);
    s = alloc(gpu, &p->tmp, dt, L, s, err);
    s = alloc(gpu, &p->tmp2, dt, L, s, err);
    if (d->cfg)
        s = alloc(gpu, &p->context, dt, 2ull * SEQ * D, s, err);
    s = alloc(gpu, &p->timesteps, RV_F32, (uint64_t)d->steps * B, s, err);
    if (cond)
        s = alloc(gpu, &p->tcond, dt, B * cond, s, err);
    s = alloc(gpu, &p->image, dt, 3ull * d->width * d->height, s, err);
    s = alloc(gpu, &p->rgba, RV_U8X4, (uint64_t)d->width * d->height, s, err);
    if (!s) {
        size_t hn = (size_t)L * (size_t)(d->steps + 1);
        if (hn < (size_t)d->steps * B || hn < B * cond)
            hn = (size_t)d->steps * B + B * cond;
        p->host = malloc(hn * sizeof(float));
        if (!p->host)
            s = rv_error_set(err, RV_ERR_HOST_MEMORY, "GEN: out of memory");
    }
    if (s) {
        rv_gen_plan_destroy(p);
        return s;
    }
    *out = p;
    return RV_OK;
}

void rv_gen_plan_destroy(rv_gen_plan *p)
{
    if (!p)
        return;
    rv_gpu *gpu = p->gpu;
    rv_tensor *ts[] = {&p->noise, &p->init, &p->step_noise, &p->lat[0], &p->lat[1], &p->model_in, &p->model_out,
                       &p->guided, &p->tmp, &p->tmp2, &p->context, &p->timesteps, &p->tcond, &p->image, &p->rgba};
    for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]) && gpu; i++)
        rv_tensor_free(gpu, ts[i]);
    rv_unet_plan_destroy(p->unet);
    rv_vae_plan_destroy(p->vae);
    rv_taesd_plan_destroy(p->taesd);
    free(p->host);
    free(p);
}

/* ---- recording helpers ---- */

static rv_tensor view(const rv_tensor *t, uint64_t first, uint64_t count) { return rv_tensor_view(t, first, count); }

static void scale(rv_cmd *cmd, const rv_tensor *y, const rv_tensor *x, float a)
{
    rv_op_unary(cmd, y, x, a == 1.0f ? RV_UNARY_COPY : RV_UNARY_SCALE, a, 0.0f);
}

static void binary(rv_cmd *cmd, const rv_tensor *out, const rv_tensor *a, const rv_tensor *b, int op, float alpha)
{
    uint32_t ne[4] = {1, 1, 1, (uint32_t)out->count}, st[4] = {0, 0, 0, 1};
    rv_op_binary(cmd, out, a, b, op, ne, st, st, alpha);
}

/* out = ca*a + cb*b (b may be NULL), through `tmp`; out must alias neither
 * input. One coefficient 1 keeps diffusers' a + b*c order; otherwise the
 * smaller coefficient is divided by the larger, so no intermediate grows
 * (fp16 storage). */
static void lincomb(rv_cmd *cmd, const rv_tensor *out, const rv_tensor *a, float ca, const rv_tensor *b, float cb,
                    const rv_tensor *tmp)
{
    if (!b || cb == 0.0f) {
        scale(cmd, out, a, ca);
    } else if (ca == 0.0f) {
        scale(cmd, out, b, cb);
    } else if (ca == 1.0f || cb == 1.0f) {
        const rv_tensor *one = ca == 1.0f ? a : b, *other = ca == 1.0f ? b : a;
        scale(cmd, tmp, other, ca == 1.0f ? cb : ca);
        binary(cmd, out, one, tmp, RV_BINARY_ADD, 1.0f);
    } else if (fabsf(ca) >= fabsf(cb)) {
        scale(cmd, tmp, b, cb / ca);
        binary(cmd, out, a, tmp, RV_BINARY_ADD, ca);
    } else {
        scale(cmd, tmp, a, ca / cb);
        binary(cmd, out, tmp, b, RV_BINARY_ADD, cb);
    }
}

static void stage(rv_cmd *cmd, const char *fmt, int i)
{
    char name[32];
    snprintf(name, sizeof(name), STAGE_PREFIX "%s", fmt);
    if (i >= 0)
        snprintf(name, sizeof(name), STAGE_PREFIX "%s%d", fmt, i);
    rv_cmd_stage(cmd, name);
}

/* After a wait: the stages into res, model stages summed into the part (a
 * "gen:" stage) they follow. Past the capacity of res->stages, the last
 * entry becomes "more" and sums every later stage, so no part's time is
 * ever added to another part. */
static void collect(rv_cmd *cmd, rv_gen_result *res)
{
    rv_stage_time t[64];
    const int cap = (int)(sizeof(res->stages) / sizeof(res->stages[0]));
    int n = rv_cmd_timings(cmd, t, 64);
    for (int i = 0; i < n; i++) {
        bool part = strncmp(t[i].name, STAGE_PREFIX, strlen(STAGE_PREFIX)) == 0;
        if (res->ndetail < RV_GEN_MAX_STAGES)
            res->detail[res->ndetail++] = t[i];
        if ((part || res->nstages == 0) && !res->more) {
            if (res->nstages == cap) {
                res->more = true;
                snprintf(res->stages[cap - 1].name, sizeof(res->stages[0].name), "more");
            } else {
                rv_stage_time *s = &res->stages[res->nstages++];
                snprintf(s->name, sizeof(s->name), "%s", part ? t[i].name + strlen(STAGE_PREFIX) : "other");
                s->ms = 0;
            }
        }
        res->stages[res->nstages - 1].ms += t[i].ms;
    }
    rv_op_time o[64];
    int no = rv_cmd_op_times(cmd, o, 64);
    for (int i = 0; i < no; i++) {
        int j = 0;
        while (j < res->nops && strcmp(res->ops[j].name, o[i].name) != 0)
            j++;
        if (j < res->nops) {
            res->ops[j].dispatches += o[i].dispatches;
            res->ops[j].ms += o[i].ms;
        } else if (res->nops < RV_GEN_MAX_OPS) {
            res->ops[res->nops++] = o[i];
        }
    }
}

rv_status rv_gen_submit(rv_gen *g, rv_gen_result *res, rv_error *err)
{
    rv_status s = rv_cmd_run(g->cmd, err);
    res->submissions++;
    if (!s)
        collect(g->cmd, res);
    return s;
}

rv_status rv_gen_submit_async(rv_gen *g, rv_gen_result *res, rv_error *err)
{
    res->submissions++;
    return rv_cmd_submit(g->cmd, err);
}

rv_status rv_gen_finish(rv_cmd *cmd, rv_gen_result *res, rv_error *err)
{
    rv_status s = rv_cmd_wait(cmd, err);
    if (!s)
        collect(cmd, res);
    return s;
}

/* Splits the recording when fewer than `need` timing stages are left. */
static rv_status room(rv_gen *g, int need, rv_gen_result *res, rv_error *err)
{
    if (rv_cmd_stage_room(g->cmd) >= need)
        return RV_OK;
    rv_status s = rv_gen_submit(g, res, err);
    return s ? s : rv_cmd_begin(g->cmd, err);
}

/* ---- the non-finite guard ---- */

rv_status rv_gen_flags_reset(rv_gen *g, rv_error *err)
{
    float zero[RV_GEN_FLAGS] = {0};
    g->nflags = 0;
    return rv_tensor_upload(g->gpu, &g->flags, zero, err);
}

void rv_gen_flag(rv_gen *g, const rv_tensor *x, const char *fmt, ...)
{
    int slot = g->nflags < RV_GEN_FLAGS ? g->nflags++ : RV_GEN_FLAGS - 1;
    if (g->nflags == RV_GEN_FLAGS && slot == RV_GEN_FLAGS - 1) {
        snprintf(g->flag_names[slot], sizeof(g->flag_names[slot]), "a later stage");
    } else {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(g->flag_names[slot], sizeof(g->flag_names[slot]), fmt, ap);
        va_end(ap);
    }
    rv_op_check_finite(g->cmd, &g->flags, x, (uint32_t)slot);
}

rv_status rv_gen_flags_check(rv_gen *g, rv_error *err)
{
    float f[RV_GEN_FLAGS];
    rv_status s = rv_tensor_download(g->gpu, &g->flags, f, err);
    if (s)
        return s;
    return rv_gen_flags_report(g, f, g->nflags, (const char (*)[40])g->flag_names, err);
}

rv_status rv_gen_flags_report(const rv_gen *g, const float *flags, int n, const char (*names)[40], rv_error *err)
{
    for (int i = 0; i < n; i++)
        if (flags[i] != 0.0f)
            return rv_error_set(err, RV_ERR_INVALID, "GEN: %s: the output of %s is not finite (NaN or Inf): the "
                                "model's weights or its inputs overflow; nothing was written", g->dir, names[i]);
    return RV_OK;
}

int rv_gen_default_steps(const rv_gen *g)
{
    if (g->sched.kind == RV_SCHED_LCM)
        return 4;
    return g->sched.spacing == RV_SPACING_TRAILING ? 1 : 25;
}

uint32_t rv_gen_default_side(const rv_gen *g)
{
    uint32_t ss = g->unet->cfg.sample_size;
    return (ss ? ss : 64) * g->factor;
}

/* ---- text: embeddings cached by token ids, handed out as handles ---- */

#define HANDLE(g, slot, serial) (((uint64_t)(g)->uid << 40) | ((uint64_t)(serial) << 8) | (uint64_t)((slot) + 1))

static int find_entry(const rv_gen *g, const int32_t *ids, uint32_t clip_skip)
{
    for (int i = 0; i < RV_GEN_TEXT_CACHE; i++) {
        const rv_gen_text_entry *e = &g->cache[i];
        if (e->valid && e->clip_skip == clip_skip && memcmp(e->ids, ids, sizeof(e->ids)) == 0)
            return i;
    }
    return -1;
}

/* A free or the least recently used entry. */
static int victim(const rv_gen *g)
{
    int best = 0;
    for (int i = 0; i < RV_GEN_TEXT_CACHE; i++) {
        if (!g->cache[i].valid)
            return i;
        if (g->cache[i].used < g->cache[best].used)
            best = i;
    }
    return best;
}

rv_status rv_gen_text(rv_gen *g, const char *prompt, uint32_t clip_skip, uint64_t *handle, rv_prompt_info *info,
                      rv_error *err)
{
    *handle = 0;
    if (info)
        memset(info, 0, sizeof(*info));
    if (!prompt)
        return rv_error_set(err, RV_ERR_INVALID, "GEN: no prompt");
    if (clip_skip >= g->te->cfg.num_hidden_layers)
        return rv_error_set(err, RV_ERR_INVALID, "GEN: clip skip %u: the text encoder has %u layers", clip_skip,
                            g->te->cfg.num_hidden_layers);
    int32_t ids[SEQ];
    int n_tokens = 0;
    rv_status s = rv_tokenizer_encode(g->tok, prompt, ids, &n_tokens, err);
    if (s)
        return s;
    if (info)
        info->n_tokens = n_tokens;
    int e = find_entry(g, ids, clip_skip);
    if (e >= 0) {
        g->cache[e].used = ++g->clock;
        *handle = HANDLE(g, e, g->cache[e].serial);
        if (info)
            info->cached = true;
        return RV_OK;
    }
    e = victim(g);
    rv_gen_text_entry *en = &g->cache[e];
    en->valid = false;
    en->serial++;
    free(en->host);
    en->host = NULL;
    float f[SEQ];
    for (int i = 0; i < SEQ; i++)
        f[i] = (float)ids[i];
    rv_tensor row = view(&g->ids, 0, SEQ);
    s = rv_tensor_write(g->gpu, &row, 0, f, sizeof(f), err);
    if (!s)
        s = rv_gen_flags_reset(g, err);
    if (!s) {
        rv_gpu_clear_error(g->gpu);
        s = rv_cmd_begin(g->cmd, err);
    }
    if (s)
        return s;
    rv_cmd_stage(g->cmd, STAGE_PREFIX "text");
    rv_clip_text_args a = {.ids = &row, .clip_skip = clip_skip};
    rv_clip_text_forward(g->cmd, g->te, g->te_plan, &en->emb, &a);
    rv_gen_flag(g, &en->emb, "the text encoder");
    s = rv_cmd_run(g->cmd, err);
    if (!s)
        s = rv_gen_flags_check(g, err);
    if (s)
        return s;
    rv_stage_time t[4];
    int n = rv_cmd_timings(g->cmd, t, 4);
    if (info)
        for (int i = 0; i < n; i++)
            info->encode_ms += t[i].ms;
    memcpy(en->ids, ids, sizeof(ids));
    en->clip_skip = clip_skip;
    en->valid = true;
    en->used = ++g->clock;
    *handle = HANDLE(g, e, en->serial);
    return RV_OK;
}

rv_status rv_gen_text_entry_of(rv_gen *g, uint64_t handle, const char *what, int *entry, rv_error *err)
{
    int slot = (int)(handle & 0xff) - 1;
    uint32_t serial = (uint32_t)(handle >> 8);
    if (handle == 0)
        return rv_error_set(err, RV_ERR_INVALID, "%s: no prompt handle (0)", what);
    if ((handle >> 40) != g->uid || slot < 0 || slot >= RV_GEN_TEXT_CACHE)
        return rv_error_set(err, RV_ERR_INVALID, "%s: the prompt handle %#llx was not made by this model (%s)",
                            what, (unsigned long long)handle, g->dir);
    rv_gen_text_entry *e = &g->cache[slot];
    if (!e->valid || e->serial != serial)
        return rv_error_set(err, RV_ERR_INVALID, "%s: the prompt handle %#llx is stale (its embedding was "
                            "replaced by newer prompts; %d are kept): ask for the prompt again", what,
                            (unsigned long long)handle, RV_GEN_TEXT_CACHE);
    e->used = ++g->clock;
    *entry = slot;
    return RV_OK;
}

rv_status rv_gen_text_host(rv_gen *g, int entry, const float **out, rv_error *err)
{
    rv_gen_text_entry *e = &g->cache[entry];
    if (!e->host) {
        float *h = malloc(e->emb.count * sizeof(float));
        if (!h)
            return rv_error_set(err, RV_ERR_HOST_MEMORY, "GEN: out of memory");
        rv_status s = rv_tensor_download(g->gpu, &e->emb, h, err);
        if (s) {
            free(h);
            return s;
        }
        e->host = h;
    }
    *out = e->host;
    return RV_OK;
}

/* ---- the run ---- */

static rv_status check_params(const rv_gen *g, const rv_gen_plan *p, const rv_gen_params *prm, rv_error *err)
{
    if (!prm->prompt)
        return rv_error_set(err, RV_ERR_INVALID, "GEN: no prompt");
    if (prm->steps < 1 || prm->steps > p->d.steps)
        return rv_error_set(err, RV_ERR_INVALID, "GEN: %d steps with a plan for at most %d", prm->steps, p->d.steps);
    if (!isfinite(prm->guidance))
        return rv_error_set(err, RV_ERR_INVALID, "GEN: guidance scale is not a number");
    if (rv_gen_uses_cfg(g, prm->guidance) != p->d.cfg)
        return rv_error_set(err, RV_ERR_INVALID, "GEN: guidance %g %s classifier-free guidance, the plan %s",
                            (double)prm->guidance, rv_gen_uses_cfg(g, prm->guidance) ? "needs" : "does not use",
                            p->d.cfg ? "has it" : "does not");
    if (prm->clip_skip >= g->te->cfg.num_hidden_layers)
        return rv_error_set(err, RV_ERR_INVALID, "GEN: clip skip %u: the text encoder has %u layers",
                            prm->clip_skip, g->te->cfg.num_hidden_layers);
    if (prm->init_latents && !(prm->strength > 0.0f && prm->strength <= 1.0f))
        return rv_error_set(err, RV_ERR_INVALID, "GEN: img2img strength %g is not in (0, 1]", (double)prm->strength);
    return RV_OK;
}

static rv_status put_now(void *ctx, const rv_tensor *t, const float *src, rv_error *err)
{
    return rv_tensor_upload((rv_gpu *)ctx, t, src, err);
}

rv_status rv_gen_upload_steps(rv_gen *g, rv_gen_plan *p, int first, int nrun, float guidance, uint64_t seed,
                              const float *step_noise, rv_error *err)
{
    return rv_gen_put_steps(g, p, first, nrun, guidance, seed, step_noise, put_now, g->gpu, err);
}

rv_status rv_gen_put_steps(rv_gen *g, rv_gen_plan *p, int first, int nrun, float guidance, uint64_t seed,
                           const float *step_noise, rv_gen_put_fn put, void *ctx, rv_error *err)
{
    rv_scheduler *sc = &g->sched;
    const uint64_t L = p->nlat;
    const uint32_t B = p->batch;
    float *h = p->host;
    rv_status s = RV_OK;
    int nnoise = 0;
    for (int k = 0; k < nrun; k++)
        if (rv_scheduler_step_noise(sc, first + k)) {
            float *dst = h + (size_t)nnoise * L;
            if (step_noise)
                memcpy(dst, step_noise + (size_t)k * L, L * sizeof(float));
            else
                rv_noise_normal(seed, RV_NOISE_STREAM_STEP(first + k), 0, dst, L);
            nnoise++;
        }
    if (nnoise) {
        rv_tensor sn = view(&p->step_noise, 0, (uint64_t)nnoise * L);
        s = put(ctx, &sn, h, err);
    }
    if (s)
        return s;
    for (int k = 0; k < nrun; k++)
        for (uint32_t b = 0; b < B; b++)
            h[(size_t)k * B + b] = sc->timesteps[first + k];
    rv_tensor ts = view(&p->timesteps, 0, (uint64_t)nrun * B);
    s = put(ctx, &ts, h, err);
    const uint32_t cond = g->unet->cfg.time_cond_proj_dim;
    if (!s && cond) {
        rv_guidance_embedding(guidance - 1.0f, cond, h);
        for (uint32_t b = 1; b < B; b++)
            memcpy(h + (size_t)b * cond, h, cond * sizeof(float));
        s = put(ctx, &p->tcond, h, err);
    }
    return s;
}

uint64_t rv_gen_context_key(const rv_gen *g, int entry, int neg)
{
    /* slot and low 24 bits of the serial of each: the plan's key is from the
     * previous run, and an entry is not encoded 2^24 times between two runs */
    uint64_t k = (uint64_t)(entry + 1) << 56 | (uint64_t)(g->cache[entry].serial & 0xffffff) << 32;
    if (neg >= 0)
        k |= (uint64_t)(neg + 1) << 24 | (g->cache[neg].serial & 0xffffff);
    return k;
}

/* The time projections' key: the timestep's and (when the model embeds it)
 * the guidance's bits; 0 (keep nothing) in the one case they are both 0. */
static uint64_t time_key(const rv_gen *g, float t, float guidance)
{
    uint32_t tb, gb = 0;
    memcpy(&tb, &t, 4);
    if (g->unet->cfg.time_cond_proj_dim)
        memcpy(&gb, &guidance, 4);
    return (uint64_t)tb << 32 | gb;
}

rv_status rv_gen_record_denoise(rv_gen *g, rv_gen_plan *p, const rv_tensor *context, uint64_t context_key,
                                const rv_tensor *init, int first, int nrun, float guidance, rv_gen_result *res,
                                rv_error *err)
{
    rv_cmd *cmd = g->cmd;
    rv_scheduler *sc = &g->sched;
    const uint64_t L = p->nlat;
    const uint32_t B = p->batch, cond = g->unet->cfg.time_cond_proj_dim;
    rv_status s = RV_OK;
    stage(cmd, "init", -1);
    int cur = 0;
    if (init) {
        rv_sched_coefs c;
        rv_scheduler_add_noise_coefs(sc, first, &c);
        lincomb(cmd, &p->lat[0], init, c.sample, &p->noise, c.noise, &p->tmp);
    } else {
        scale(cmd, &p->lat[0], &p->noise, sc->init_noise_sigma);
    }
    rv_gen_flag(g, &p->lat[0], "the start latent (noise%s)", init ? " added to the initial latent" : "");

    int step_stages = 2 * g->unet->cfg.nblocks + 8, used_noise = 0;
    for (int k = 0; k < nrun && !s; k++) {
        const int i = first + k;
        s = room(g, step_stages, res, err);
        if (s)
            break;
        int before = rv_cmd_stage_room(cmd);
        stage(cmd, "step", i);
        const rv_tensor *x = &p->lat[cur];
        float in_scale = rv_scheduler_input_scale(sc, i);
        for (uint32_t b = 0; b < B; b++) {
            rv_tensor mi = view(&p->model_in, b * L, L);
            scale(cmd, &mi, x, in_scale);
        }
        rv_tensor tsv = view(&p->timesteps, (uint64_t)k * B, B);
        rv_unet_args ua = {.sample = &p->model_in, .timesteps = &tsv, .context = context,
                           .timestep_cond = cond ? &p->tcond : NULL, .context_key = context_key,
                           .time_key = time_key(g, sc->timesteps[i], guidance)};
        rv_unet_forward(cmd, g->unet, p->unet, &p->model_out, &ua);
        rv_gen_flag(g, &p->model_out, "the UNet at step %d", i);

        stage(cmd, "sched", i);
        const rv_tensor *m = &p->model_out;
        if (p->d.cfg) { /* uncond + g * (text - uncond) */
            rv_tensor u = view(&p->model_out, 0, L), t = view(&p->model_out, L, L);
            binary(cmd, &p->tmp, &t, &u, RV_BINARY_SUB, guidance);
            binary(cmd, &p->guided, &u, &p->tmp, RV_BINARY_ADD, 1.0f);
            m = &p->guided;
        }
        rv_sched_coefs c;
        rv_scheduler_step_coefs(sc, i, &c, NULL);
        const rv_tensor *y = &p->lat[cur ^ 1];
        if (rv_scheduler_step_noise(sc, i)) {
            rv_tensor nz = view(&p->step_noise, (uint64_t)used_noise++ * L, L);
            lincomb(cmd, &p->tmp2, x, c.sample, m, c.model, &p->tmp);
            lincomb(cmd, y, &p->tmp2, 1.0f, &nz, c.noise, &p->tmp);
        } else {
            lincomb(cmd, y, x, c.sample, m, c.model, &p->tmp);
        }
        rv_gen_flag(g, y, "the scheduler at step %d", i);
        cur ^= 1;
        int after = rv_cmd_stage_room(cmd);
        if (after < before)
            step_stages = before - after + 1; /* measured: the next step needs as many */
    }
    p->final = cur;
    return s;
}

rv_status rv_gen_record_decode(rv_gen *g, rv_gen_plan *p, rv_gen_result *res, rv_error *err)
{
    rv_status s = room(g, DECODE_STAGES, res, err);
    if (s)
        return s;
    rv_cmd *cmd = g->cmd;
    stage(cmd, "decode", -1);
    if (p->decoder == RV_DECODER_TINY)
        rv_taesd_forward(cmd, g->taesd, p->taesd, &p->image, &p->lat[p->final]);
    else
        rv_vae_forward(cmd, g->vae, p->vae, &p->image, &p->lat[p->final], NULL, NULL);
    rv_gen_flag(g, &p->image, "the %s decoder", p->decoder == RV_DECODER_TINY ? "tiny (TAESD)" : "VAE");
    stage(cmd, "rgba", -1);
    rv_op_to_rgba8(cmd, &p->rgba, &p->image, 1, p->d.height, p->d.width, 0.5f, 0.5f);
    return RV_OK;
}

rv_status rv_gen_run(rv_gen *g, rv_gen_plan *p, const rv_gen_params *prm, rv_gen_result *res, rv_error *err)
{
    memset(res, 0, sizeof(*res));
    rv_status s = check_params(g, p, prm, err);
    if (s)
        return s;
    rv_scheduler *sc = &g->sched;
    s = rv_scheduler_set_timesteps(sc, prm->steps, err);
    if (s)
        return s;
    int first = 0;
    if (prm->init_latents) {
        first = rv_scheduler_img2img_start(prm->steps, prm->strength);
        if (first < 0)
            return rv_error_set(err, RV_ERR_INVALID, "GEN: strength %g with %d steps leaves no step to run",
                                (double)prm->strength, prm->steps);
    }
    res->first_step = first;
    const int nrun = prm->steps - first;
    const uint64_t L = p->nlat;
    rv_gpu *gpu = g->gpu;

    /* text: the prompt, and the negative prompt with guidance (each encoded
     * once, in its own submission, unless cached) */
    uint64_t hp = 0, hn = 0;
    int ep = -1, en = -1;
    rv_prompt_info ip, in = {0};
    s = rv_gen_text(g, prm->prompt, prm->clip_skip, &hp, &ip, err);
    if (!s && p->d.cfg)
        s = rv_gen_text(g, prm->negative ? prm->negative : "", 0, &hn, &in, err);
    if (!s)
        s = rv_gen_text_entry_of(g, hp, "GEN: prompt", &ep, err);
    if (!s && p->d.cfg)
        s = rv_gen_text_entry_of(g, hn, "GEN: negative prompt", &en, err);
    if (s)
        return s;
    res->n_tokens = ip.n_tokens;

    /* noise, start latents, timesteps */
    float *h = p->host;
    if (prm->noise)
        memcpy(h, prm->noise, L * sizeof(float));
    else
        rv_noise_normal(prm->seed, RV_NOISE_STREAM_INIT, 0, h, L);
    s = rv_tensor_upload(gpu, &p->noise, h, err);
    if (!s && prm->init_latents)
        s = rv_tensor_upload(gpu, &p->init, prm->init_latents, err);
    if (!s)
        s = rv_gen_upload_steps(g, p, first, nrun, prm->guidance, prm->seed, prm->step_noise, err);
    if (!s)
        s = rv_gen_flags_reset(g, err);
    if (s)
        return s;

    /* record */
    rv_cmd *cmd = g->cmd;
    rv_gpu_clear_error(gpu);
    s = rv_cmd_begin(cmd, err);
    if (s)
        return s;
    stage(cmd, "text", -1);
    const rv_tensor *context = &g->cache[ep].emb;
    if (p->d.cfg) {
        uint64_t n = (uint64_t)SEQ * g->te->cfg.hidden_size;
        rv_tensor c0 = view(&p->context, 0, n), c1 = view(&p->context, n, n);
        scale(cmd, &c0, &g->cache[en].emb, 1.0f); /* [negative, prompt] */
        scale(cmd, &c1, &g->cache[ep].emb, 1.0f);
        context = &p->context;
    }
    s = rv_gen_record_denoise(g, p, context, rv_gen_context_key(g, ep, p->d.cfg ? en : -1),
                              prm->init_latents ? &p->init : NULL, first, nrun, prm->guidance, res, err);
    if (!s)
        s = rv_gen_record_decode(g, p, res, err);
    if (!s)
        s = rv_gen_submit(g, res, err);
    if (!s)
        s = rv_gen_flags_check(g, err);
    if (s) {
        rv_cmd_wait(cmd, NULL);
        rv_unet_plan_forget(p->unet);
        return s;
    }
    /* the text encoder's time belongs to the "text" part */
    if (res->nstages > 0 && strcmp(res->stages[0].name, "text") == 0)
        res->stages[0].ms += ip.encode_ms + in.encode_ms;
    return RV_OK;
}

rv_status rv_gen_read_latents(rv_gen *g, const rv_gen_plan *p, float *out, rv_error *err)
{
    return rv_tensor_download(g->gpu, &p->lat[p->final], out, err);
}

rv_status rv_gen_read_rgba(rv_gen *g, const rv_gen_plan *p, uint32_t *out, rv_error *err)
{
    return rv_tensor_read(g->gpu, &p->rgba, 0, out, p->rgba.bytes, err);
}

void rv_gen_lincomb(rv_cmd *cmd, const rv_tensor *out, const rv_tensor *a, float ca, const rv_tensor *b, float cb,
                    const rv_tensor *tmp)
{
    lincomb(cmd, out, a, ca, b, cb, tmp);
}

void rv_gen_stage(rv_cmd *cmd, const char *name) { stage(cmd, name, -1); }
