/* The frame loop (rv_stream in rv_engine.h): each frame grows from the
 * previous frame's latent — warped by the camera motion, pulled toward an
 * optional anchor, re-noised to the frame's strength with the scene's fixed
 * noise, denoised by a few UNet steps from the matching timestep, decoded
 * to RGBA8. Prompt embeddings come from the engine's cache and are blended
 * on the GPU with per-token-row coefficients the CPU works out. Everything
 * a frame needs is allocated when the stream is made. The semantics are
 * tools/reverie_ref/frames.py's, which the goldens come from.
 * Frames in flight: each of the stream's slots (one per frame in flight)
 * has its own command buffer and host-visible memory; a frame's per-frame
 * inputs are staged there and copied in by its own recording, and its
 * outputs (RGBA, latent, non-finite flags) copied out at its end, so the
 * CPU never waits on the queue between submit and collect. Device tensors
 * are shared: the queue runs the frames in order. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/engine_internal.h"
#include "engine/noise.h"
#include "rv_ops.h"
#include "util/half.h"

#define SEQ RV_TOKENIZER_MAX_LENGTH
#define MAX_LEADING 1000   /* N, the schedule length a strength implies */

/* One frame in flight and what it owns. */
typedef struct frame_slot {
    rv_cmd *cmd;
    rv_hostbuf *hb;            /* [zeros for the flags | staged inputs | rgba | latent | flags] */
    uint64_t in_begin, in_used, in_end;        /* the input region */
    uint64_t out_rgba, out_lat, out_flags;     /* the outputs' offsets */
    bool busy;                 /* submitted (or skipped), not collected */
    bool gpu;                  /* has device work */
    bool finished;             /* waited for and checked */
    bool skipped;              /* similarity filter: no work */
    bool had_latent;           /* the stream had a latent before this frame */
    uint64_t ticket;
    rv_frame_desc f;           /* as run (cadence applied) */
    double t0, change;
    rv_status status;          /* after finish */
    rv_error err;
    int nflags;
    char flag_names[RV_GEN_FLAGS][40];
    rv_gen_result *res;
    float *lat;                /* [L] its latent, float32 */
} frame_slot;

struct rv_stream {
    rv_engine *e;
    rv_gen *g;
    rv_gen_plan *p;
    rv_stream_desc d;
    uint32_t D;                /* embedding width */
    rv_tensor blend;           /* [77][D] blended embedding (without guidance) */
    rv_tensor blend_tmp;       /* [77][D] */
    rv_tensor coef;            /* [4][77] per-row blend coefficients */
    rv_tensor anchor;          /* [C][lh][lw] */
    bool has_latent, has_anchor;
    uint64_t index;
    bool noise_valid;
    uint64_t noise_seed, noise_seed_to;
    float noise_mix;
    float *noise_a, *noise_b, *noise_host; /* [L] each */
    float *lat_prev;                       /* [L] */
    float *coef_host;                      /* [4][77] */
    uint32_t *rgba_host;
    rv_taesd_plan *enc_tiny;   /* made on the first rv_stream_encode_image */
    rv_vae_plan *enc_vae;
    float *image_host;         /* [3][H][W] encoder input */
    rv_frame_desc last;        /* the last frame submitted */
    bool last_valid;           /* ... did not fail */
    double last_change;        /* ... its change, once finished */
    bool host_latent;          /* lat_prev holds the last collected frame's latent */
    int depth;
    frame_slot slot[RV_STREAM_MAX_DEPTH];
    int inflight;
    uint64_t oldest;           /* the ticket of the oldest frame in flight */
};

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

void rv_stream_destroy(rv_stream *s)
{
    if (!s)
        return;
    rv_gpu *gpu = s->e->gpu;
    rv_tensor_free(gpu, &s->blend);
    rv_tensor_free(gpu, &s->blend_tmp);
    rv_tensor_free(gpu, &s->coef);
    rv_tensor_free(gpu, &s->anchor);
    for (int i = 0; i < RV_STREAM_MAX_DEPTH; i++) {
        rv_cmd_destroy(s->slot[i].cmd); /* waits for a frame in flight */
        rv_hostbuf_destroy(s->slot[i].hb);
        free(s->slot[i].res);
        free(s->slot[i].lat);
    }
    rv_gen_plan_destroy(s->p);
    rv_taesd_plan_destroy(s->enc_tiny);
    rv_vae_plan_destroy(s->enc_vae);
    free(s->image_host);
    free(s->noise_a);
    free(s->noise_b);
    free(s->noise_host);
    free(s->lat_prev);
    free(s->coef_host);
    free(s->rgba_host);
    free(s);
}

static uint64_t align16(uint64_t v) { return (v + 15) & ~15ull; }

/* A slot's command buffer and host memory: every per-frame input a frame
 * may stage (noise, step noise, timesteps, guidance embedding, blend
 * coefficients) and its outputs. */
static rv_status slot_create(rv_stream *s, frame_slot *sl, rv_error *err)
{
    const rv_gen_plan *p = s->p;
    const uint64_t fl = RV_GEN_FLAGS * sizeof(float);
    uint64_t o = align16(fl); /* zeros: the flags' reset */
    sl->in_begin = o;
    const rv_tensor *ins[] = {&p->noise, &p->step_noise, &p->timesteps, &p->tcond, &s->coef};
    for (size_t i = 0; i < sizeof(ins) / sizeof(ins[0]); i++)
        if (ins[i]->block != UINT32_MAX)
            o = align16(o + ins[i]->bytes);
    sl->in_end = o;
    sl->out_rgba = o;
    o = align16(o + p->rgba.bytes);
    sl->out_lat = o;
    o = align16(o + p->lat[0].bytes);
    sl->out_flags = o;
    o += fl;
    rv_status st = rv_cmd_create(s->e->gpu, &sl->cmd, err);
    if (!st)
        st = rv_hostbuf_create(s->e->gpu, o, &sl->hb, err);
    if (!st && (!(sl->res = malloc(sizeof(*sl->res))) || !(sl->lat = malloc(p->nlat * sizeof(float)))))
        st = rv_error_set(err, RV_ERR_HOST_MEMORY, "STREAM: out of memory");
    return st;
}

/* rv_gen_put_fn: the values, in the tensor's dtype, into the slot's input
 * region, and a recorded copy into the tensor. */
static rv_status stage_put(void *ctx, const rv_tensor *t, const float *src, rv_error *err)
{
    frame_slot *sl = ctx;
    uint64_t o = align16(sl->in_used);
    if (o + t->bytes > sl->in_end)
        return rv_error_set(err, RV_ERR_INVALID, "STREAM: %llu staged bytes overflow the frame's %llu",
                            (unsigned long long)(o + t->bytes - sl->in_begin),
                            (unsigned long long)(sl->in_end - sl->in_begin));
    uint8_t *dst = (uint8_t *)rv_hostbuf_map(sl->hb) + o;
    if (t->dtype == RV_F16)
        rv_f32_to_f16_array((uint16_t *)(void *)dst, src, (size_t)t->count);
    else
        memcpy(dst, src, t->bytes);
    sl->in_used = o + t->bytes;
    rv_cmd_copy_in(sl->cmd, t, sl->hb, o);
    return RV_OK;
}

rv_status rv_stream_create(rv_engine *e, const rv_stream_desc *desc, rv_stream **out, rv_error *err)
{
    *out = NULL;
    rv_gen *g = e->gen;
    rv_stream_desc d = *desc;
    if (!d.max_steps)
        d.max_steps = 4;
    if (d.max_steps < 1 || d.max_steps > 50)
        return rv_error_set(err, RV_ERR_INVALID, "STREAM: max_steps %d (1 to 50)", d.max_steps);
    if (!isfinite(d.guidance) || d.guidance < 0 || d.guidance > 100)
        return rv_error_set(err, RV_ERR_INVALID, "STREAM: guidance %g (0 to 100)", (double)d.guidance);
    if (d.cadence < 0 || d.cadence > 1000)
        return rv_error_set(err, RV_ERR_INVALID, "STREAM: cadence %d (0 to 1000)", d.cadence);
    if (!isfinite(d.similarity) || d.similarity < 0 || d.similarity > 1)
        return rv_error_set(err, RV_ERR_INVALID, "STREAM: similarity threshold %g (0 to 1)", (double)d.similarity);
    if (!d.depth)
        d.depth = RV_STREAM_MAX_DEPTH;
    if (d.depth < 1 || d.depth > RV_STREAM_MAX_DEPTH)
        return rv_error_set(err, RV_ERR_INVALID, "STREAM: depth %d (1 to %d frames in flight)", d.depth,
                            RV_STREAM_MAX_DEPTH);
    uint32_t side = rv_gen_default_side(g);
    rv_stream *s = calloc(1, sizeof(*s));
    if (!s)
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "STREAM: out of memory");
    s->e = e;
    s->g = g;
    s->D = g->te->cfg.hidden_size;
    rv_gen_plan_desc pd = {.width = d.width ? d.width : side, .height = d.height ? d.height : side,
                           .steps = d.max_steps, .cfg = rv_gen_uses_cfg(g, d.guidance), .decoder = d.decoder};
    d.width = pd.width;
    d.height = pd.height;
    s->d = d;
    rv_status st = rv_gen_plan_create(g, &pd, &s->p, err);
    rv_gpu *gpu = e->gpu;
    rv_dtype dt = rv_gpu_dtype(gpu);
    const uint64_t L = s->p ? s->p->nlat : 0, E = (uint64_t)SEQ * s->D;
    if (!st)
        st = rv_tensor_alloc(gpu, &s->blend, dt, E, err);
    if (!st)
        st = rv_tensor_alloc(gpu, &s->blend_tmp, dt, E, err);
    if (!st)
        st = rv_tensor_alloc(gpu, &s->coef, dt, (uint64_t)RV_FRAME_MAX_PROMPTS * SEQ, err);
    if (!st)
        st = rv_tensor_alloc(gpu, &s->anchor, dt, L, err);
    if (!st) {
        s->noise_a = malloc(L * sizeof(float));
        s->noise_b = malloc(L * sizeof(float));
        s->noise_host = malloc(L * sizeof(float));
        s->lat_prev = malloc(L * sizeof(float));
        s->coef_host = malloc((size_t)RV_FRAME_MAX_PROMPTS * SEQ * sizeof(float));
        s->rgba_host = malloc((size_t)pd.width * pd.height * sizeof(uint32_t));
        if (!s->noise_a || !s->noise_b || !s->noise_host || !s->lat_prev || !s->coef_host ||
            !s->rgba_host)
            st = rv_error_set(err, RV_ERR_HOST_MEMORY, "STREAM: out of memory");
    }
    s->depth = d.depth;
    for (int i = 0; i < s->depth && !st; i++)
        st = slot_create(s, &s->slot[i], err);
    if (st) {
        rv_stream_destroy(s);
        return st;
    }
    *out = s;
    return RV_OK;
}

void rv_stream_size(const rv_stream *s, uint32_t *width, uint32_t *height, uint32_t *latent_count)
{
    if (width)
        *width = s->d.width;
    if (height)
        *height = s->d.height;
    if (latent_count)
        *latent_count = (uint32_t)s->p->nlat;
}

/* ---- the CPU's decisions ---- */

/* Spherical interpolation coefficients of a and b (n values) at t, in
 * float64; nearly parallel vectors (|cos| > 0.9995) interpolate linearly. */
static void slerp_coefs(const float *a, const float *b, size_t n, double t, double *ca, double *cb)
{
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    double c = aa > 0 && bb > 0 ? ab / (sqrt(aa) * sqrt(bb)) : 0.0;
    c = c < -1 ? -1 : c > 1 ? 1 : c;
    if (fabs(c) > 0.9995) {
        *ca = 1 - t;
        *cb = t;
        return;
    }
    double th = acos(c), sn = sin(th);
    *ca = sin((1 - t) * th) / sn;
    *cb = sin(t * th) / sn;
}

/* The schedule length N and first index for `steps` steps at strength s:
 * the smallest N >= steps with floor(N s) >= steps (diffusers' img2img
 * then runs exactly `steps` of set_timesteps(N)). */
static int schedule_for(int steps, float strength, int *first)
{
    double s = (double)strength;
    for (int n = steps; n <= MAX_LEADING; n++) {
        double init = floor((double)n * s);
        if (init >= steps) {
            *first = rv_scheduler_img2img_start(n, strength);
            return n;
        }
    }
    return -1;
}

static bool finite_in(float v, float lo, float hi) { return isfinite(v) && v >= lo && v <= hi; }

static rv_status check_motion(rv_stream *s, const rv_frame_desc *f, rv_error *err);

static rv_status check_desc(rv_stream *s, const rv_frame_desc *f, rv_error *err)
{
    if (f->warp_only) /* warp and decode: prompts, noise and strength are not used */
        return check_motion(s, f, err);
    if (f->nprompts < 1 || f->nprompts > RV_FRAME_MAX_PROMPTS)
        return rv_error_set(err, RV_ERR_INVALID, "FRAME: nprompts %d (1 to %d)", f->nprompts, RV_FRAME_MAX_PROMPTS);
    double sum = 0;
    for (int i = 0; i < f->nprompts; i++) {
        if (!finite_in(f->weight[i], 0.0f, 1e6f))
            return rv_error_set(err, RV_ERR_INVALID, "FRAME: weight[%d] = %g (a finite number >= 0)", i,
                                (double)f->weight[i]);
        sum += f->weight[i];
    }
    (void)sum;
    if (f->blend != RV_BLEND_LINEAR && f->blend != RV_BLEND_SLERP)
        return rv_error_set(err, RV_ERR_INVALID, "FRAME: blend %d (linear or slerp)", (int)f->blend);
    if (f->blend == RV_BLEND_SLERP && f->nprompts != 2)
        return rv_error_set(err, RV_ERR_INVALID, "FRAME: slerp blends exactly 2 prompts, not %d", f->nprompts);
    if (!(isfinite(f->strength) && f->strength > 0.0f && f->strength <= 1.0f))
        return rv_error_set(err, RV_ERR_INVALID, "FRAME: strength %g (in (0, 1])", (double)f->strength);
    if (f->steps < 1 || f->steps > s->d.max_steps)
        return rv_error_set(err, RV_ERR_INVALID, "FRAME: steps %d (1 to the stream's max_steps %d)", f->steps,
                            s->d.max_steps);
    if (!finite_in(f->seed_mix, 0.0f, 1.0f))
        return rv_error_set(err, RV_ERR_INVALID, "FRAME: seed_mix %g (0 to 1)", (double)f->seed_mix);
    return check_motion(s, f, err);
}

static rv_status check_motion(rv_stream *s, const rv_frame_desc *f, rv_error *err)
{
    const rv_motion *m = &f->motion;
    if (!(m->zoom == 0.0f || finite_in(m->zoom, 0.1f, 10.0f)))
        return rv_error_set(err, RV_ERR_INVALID, "FRAME: motion.zoom %g (0.1 to 10; 0 = none)", (double)m->zoom);
    if (!finite_in(m->pan_x, -1.0f, 1.0f) || !finite_in(m->pan_y, -1.0f, 1.0f))
        return rv_error_set(err, RV_ERR_INVALID, "FRAME: motion.pan %g, %g (-1 to 1 of the picture per frame)",
                            (double)m->pan_x, (double)m->pan_y);
    if (!finite_in(m->rotate, -360.0f, 360.0f))
        return rv_error_set(err, RV_ERR_INVALID, "FRAME: motion.rotate %g (-360 to 360 degrees per frame)",
                            (double)m->rotate);
    if (!finite_in(f->anchor, 0.0f, 1.0f))
        return rv_error_set(err, RV_ERR_INVALID, "FRAME: anchor %g (0 to 1)", (double)f->anchor);
    if (f->anchor > 0 && !s->has_anchor)
        return rv_error_set(err, RV_ERR_INVALID, "FRAME: anchor %g but the stream has no anchor latent "
                            "(rv_stream_set_anchor)", (double)f->anchor);
    return RV_OK;
}

/* Field by field (padding bytes may differ). */
static bool same_desc(const rv_frame_desc *a, const rv_frame_desc *b)
{
    if (a->nprompts != b->nprompts || a->blend != b->blend || a->negative != b->negative || a->seed != b->seed ||
        a->seed_to != b->seed_to || a->seed_mix != b->seed_mix || a->strength != b->strength ||
        a->steps != b->steps || a->anchor != b->anchor || a->warp_only != b->warp_only ||
        a->motion.zoom != b->motion.zoom || a->motion.pan_x != b->motion.pan_x || a->motion.pan_y != b->motion.pan_y ||
        a->motion.rotate != b->motion.rotate)
        return false;
    for (int i = 0; i < a->nprompts; i++)
        if (a->prompt[i] != b->prompt[i] || a->weight[i] != b->weight[i])
            return false;
    return true;
}

static bool identity_motion(const rv_motion *m)
{
    return (m->zoom == 0.0f || m->zoom == 1.0f) && m->pan_x == 0.0f && m->pan_y == 0.0f && m->rotate == 0.0f;
}

/* q = minv p + off for the motion (see rv_op_warp), in float64. */
static void motion_transform(const rv_motion *m, uint32_t w, uint32_t h, float minv[4], float off[2])
{
    double z = m->zoom == 0.0f ? 1.0 : (double)m->zoom, th = (double)m->rotate * M_PI / 180.0;
    double c = cos(th), sn = sin(th);
    double a00 = c / z, a01 = sn / z, a10 = -sn / z, a11 = c / z; /* (z R)^-1 = R^T / z */
    double cx = w / 2.0, cy = h / 2.0, tx = (double)m->pan_x * w, ty = (double)m->pan_y * h;
    double px = cx + tx, py = cy + ty;
    minv[0] = (float)a00;
    minv[1] = (float)a01;
    minv[2] = (float)a10;
    minv[3] = (float)a11;
    off[0] = (float)(cx - (a00 * px + a01 * py));
    off[1] = (float)(cy - (a10 * px + a11 * py));
}

static rv_status update_noise(rv_stream *s, const rv_frame_desc *f, frame_slot *sl, rv_error *err)
{
    float mix = f->seed_mix;
    uint64_t to = mix > 0 ? f->seed_to : 0;
    if (s->noise_valid && s->noise_seed == f->seed && s->noise_seed_to == to && s->noise_mix == mix)
        return RV_OK;
    const uint64_t L = s->p->nlat;
    rv_noise_normal(f->seed, RV_NOISE_STREAM_INIT, 0, s->noise_a, L);
    const float *src = s->noise_a;
    if (mix > 0) {
        rv_noise_normal(to, RV_NOISE_STREAM_INIT, 0, s->noise_b, L);
        rv_latent_slerp(s->noise_a, s->noise_b, L, (double)mix, s->noise_host);
        src = s->noise_host;
    }
    rv_status st = stage_put(sl, &s->p->noise, src, err);
    if (st) {
        s->noise_valid = false;
        return st;
    }
    s->noise_valid = true;
    s->noise_seed = f->seed;
    s->noise_seed_to = to;
    s->noise_mix = mix;
    return RV_OK;
}

/* Per-row coefficients of the blend into s->coef_host ([n][77]). */
static rv_status blend_coefs(rv_stream *s, const rv_frame_desc *f, const int *entry, rv_error *err)
{
    double w[RV_FRAME_MAX_PROMPTS], sum = 0;
    for (int i = 0; i < f->nprompts; i++)
        sum += f->weight[i];
    for (int i = 0; i < f->nprompts; i++)
        w[i] = sum > 0 ? f->weight[i] / sum : 1.0 / f->nprompts;
    if (f->blend == RV_BLEND_LINEAR) {
        for (int i = 0; i < f->nprompts; i++)
            for (int r = 0; r < SEQ; r++)
                s->coef_host[i * SEQ + r] = (float)w[i];
        return RV_OK;
    }
    const float *a, *b;
    rv_status st = rv_gen_text_host(s->g, entry[0], &a, err);
    if (!st)
        st = rv_gen_text_host(s->g, entry[1], &b, err);
    if (st)
        return st;
    for (int r = 0; r < SEQ; r++) {
        double ca, cb;
        slerp_coefs(a + (size_t)r * s->D, b + (size_t)r * s->D, s->D, w[1], &ca, &cb);
        s->coef_host[r] = (float)ca;
        s->coef_host[SEQ + r] = (float)cb;
    }
    return RV_OK;
}

/* ---- recording ---- */

static void bcast_mul(rv_cmd *cmd, const rv_tensor *out, const rv_tensor *emb, const rv_tensor *coef, uint32_t D)
{
    uint32_t ne[4] = {1, 1, SEQ, D}, sa[4] = {0, 0, D, 1}, sb[4] = {0, 0, 1, 0};
    rv_op_binary(cmd, out, emb, coef, RV_BINARY_MUL, ne, sa, sb, 1.0f);
}

/* The frame's conditioning into `dst` ([77][D]), or NULL when one prompt's
 * cached embedding serves as is (then *ctx points at it). */
static void record_blend(rv_stream *s, const rv_frame_desc *f, const int *entry, const rv_tensor *dst)
{
    rv_cmd *cmd = s->g->cmd;
    for (int i = 0; i < f->nprompts; i++) {
        rv_tensor c = rv_tensor_view(&s->coef, (uint64_t)i * SEQ, SEQ);
        const rv_tensor *emb = &s->g->cache[entry[i]].emb;
        if (i == 0) {
            bcast_mul(cmd, dst, emb, &c, s->D);
        } else {
            bcast_mul(cmd, &s->blend_tmp, emb, &c, s->D);
            rv_op_add(cmd, dst, dst, &s->blend_tmp);
        }
    }
}

static void copy(rv_cmd *cmd, const rv_tensor *y, const rv_tensor *x) { rv_op_unary(cmd, y, x, RV_UNARY_COPY, 1, 0); }

/* The previous latent, warped and anchored, into p->init or p->tmp2;
 * returns the tensor that holds it. */
static const rv_tensor *record_warp(rv_stream *s, const rv_frame_desc *f)
{
    rv_gen_plan *p = s->p;
    rv_cmd *cmd = s->g->cmd;
    const rv_tensor *src = &p->lat[p->final];
    if (!identity_motion(&f->motion)) {
        float minv[4], off[2];
        motion_transform(&f->motion, p->lw, p->lh, minv, off);
        rv_op_warp(cmd, &p->init, src, s->g->latent_channels, p->lh, p->lw, minv, off);
    } else {
        copy(cmd, &p->init, src);
    }
    if (f->anchor > 0) {
        rv_gen_lincomb(cmd, &p->tmp2, &p->init, 1.0f - f->anchor, &s->anchor, f->anchor, &p->tmp);
        return &p->tmp2;
    }
    return &p->init;
}

static void fill_result(rv_stream *s, const frame_slot *sl, rv_frame_result *res)
{
    memset(res, 0, sizeof(*res));
    res->index = sl->ticket;
    res->rgba = s->rgba_host;
    res->latent = sl->lat;
    res->width = s->d.width;
    res->height = s->d.height;
    res->diffused = !sl->f.warp_only && !sl->skipped;
    res->skipped = sl->skipped;
    res->change = sl->skipped ? 0 : sl->change;
    const rv_gen_result *r = sl->res;
    for (int i = 0; i < r->nstages && res->nstages < RV_FRAME_MAX_STAGES && !sl->skipped; i++) {
        rv_stage_ms *o = &res->stages[res->nstages++];
        memcpy(o->name, r->stages[i].name, sizeof(o->name));
        o->ms = r->stages[i].ms;
        res->gpu_ms += o->ms;
    }
    res->wall_ms = now_ms() - sl->t0;
}

static frame_slot *slot_of(rv_stream *s, uint64_t ticket) { return &s->slot[ticket % (uint64_t)s->depth]; }

/* A failure before the frame was submitted: nothing of it reaches the
 * device, but what the CPU staged or decided for it is forgotten. */
static rv_status drop_unsubmitted(rv_stream *s, int final, rv_status st)
{
    rv_unet_plan_forget(s->p->unet);
    s->p->final = final;
    s->noise_valid = false;
    s->last_valid = false;
    return st;
}

static void finish(rv_stream *s, frame_slot *sl);

/* Decides, stages, records and submits the next frame into a free slot
 * (the ticket it gets is s->index + 1). */
static rv_status submit(rv_stream *s, const rv_frame_desc *fin, rv_error *err)
{
    const double t0 = now_ms();
    rv_frame_desc cad;
    const rv_frame_desc *f = fin;
    if (s->d.cadence > 1 && s->has_latent && !fin->warp_only && fin->strength < 1.0f &&
        s->index % (uint64_t)s->d.cadence != 0) { /* between diffused frames: warp only */
        cad = *fin;
        cad.warp_only = true;
        f = &cad;
    }
    rv_gen *g = s->g;
    rv_gen_plan *p = s->p;
    rv_status st = check_desc(s, f, err);
    if (st)
        return st;
    int entry[RV_FRAME_MAX_PROMPTS], eneg = -1;
    for (int i = 0; i < f->nprompts && !st && !f->warp_only; i++) {
        char what[32];
        snprintf(what, sizeof(what), "FRAME: prompt[%d]", i);
        st = rv_gen_text_entry_of(g, f->prompt[i], what, &entry[i], err);
    }
    if (!st && p->d.cfg && !f->warp_only) {
        if (f->negative) {
            st = rv_gen_text_entry_of(g, f->negative, "FRAME: negative", &eneg, err);
        } else {
            uint64_t h;
            st = rv_gen_text(g, "", 0, &h, NULL, err);
            if (!st)
                st = rv_gen_text_entry_of(g, h, "FRAME: negative", &eneg, err);
        }
    }
    if (st)
        return st;
    frame_slot *sl = slot_of(s, s->index + 1);

    /* the similarity filter: a still frame that barely changed last time is
     * kept (a frame in flight before it is waited for: its change decides) */
    bool still = s->d.similarity > 0 && s->last_valid && s->has_latent && !f->warp_only &&
                 identity_motion(&f->motion) && same_desc(&s->last, f);
    if (still && s->inflight > 0) {
        frame_slot *prev = slot_of(s, s->index);
        if (prev->busy && !prev->finished)
            finish(s, prev);
        still = s->last_valid;
    }
    if (still && s->last_change < s->d.similarity) {
        memset(sl->res, 0, sizeof(*sl->res));
        sl->t0 = t0;
        sl->f = *f;
        sl->skipped = true;
        sl->gpu = false;
        sl->finished = true;
        sl->status = RV_OK;
        sl->change = 0;
        sl->had_latent = s->has_latent;
        sl->ticket = ++s->index;
        sl->busy = true;
        s->inflight++;
        return RV_OK;
    }

    const bool fresh = f->strength >= 1.0f || !s->has_latent;
    int first = 0, n = f->steps;
    if (!fresh && !f->warp_only) {
        n = schedule_for(f->steps, f->strength, &first);
        if (n < 0)
            return rv_error_set(err, RV_ERR_INVALID, "FRAME: strength %g is too low for %d step(s) (a schedule of "
                                "more than %d steps)", (double)f->strength, f->steps, MAX_LEADING);
    }
    if (f->warp_only && !s->has_latent)
        return rv_error_set(err, RV_ERR_INVALID, "FRAME: a warp-only frame needs a previous frame");
    if (!f->warp_only) {
        rv_error e2 = {0};
        st = rv_scheduler_set_timesteps(&g->sched, n, &e2);
        if (st)
            return rv_error_set(err, st, "FRAME: strength %g with %d step(s) runs the last %d of a %d-step schedule, "
                                "which the scheduler refuses: %s", (double)f->strength, f->steps, f->steps, n,
                                e2.msg);
    }
    const bool blended = f->nprompts > 1 && !f->warp_only; /* one prompt: its weight normalises to 1 */
    if (blended && (st = blend_coefs(s, f, entry, err)))
        return st;

    /* record into the slot's command buffer: the staged inputs first */
    rv_cmd *own = g->cmd;
    const int final0 = p->final;
    memset(sl->res, 0, sizeof(*sl->res));
    rv_gpu_clear_error(g->gpu);
    st = rv_cmd_begin(sl->cmd, err);
    if (st)
        return drop_unsubmitted(s, final0, st);
    g->cmd = sl->cmd;
    sl->in_used = sl->in_begin;
    g->nflags = 0;
    rv_cmd_copy_in(sl->cmd, &g->flags, sl->hb, 0); /* zeros */
    if (!f->warp_only) {
        st = update_noise(s, f, sl, err);
        if (!st)
            st = rv_gen_put_steps(g, p, first, f->steps, s->d.guidance, f->seed, NULL, stage_put, sl, err);
    }
    if (!st && blended) {
        rv_tensor c = rv_tensor_view(&s->coef, 0, (uint64_t)f->nprompts * SEQ);
        st = stage_put(sl, &c, s->coef_host, err);
    }
    rv_cmd *cmd = sl->cmd;
    const uint64_t E = (uint64_t)SEQ * s->D;
    const rv_tensor *context = NULL;
    uint64_t context_key = 0; /* a blend changes every frame: nothing kept */
    if (!st && !f->warp_only) {
        context = &g->cache[entry[0]].emb;
        if (!blended)
            context_key = rv_gen_context_key(g, entry[0], p->d.cfg ? eneg : -1);
        rv_gen_stage(cmd, "blend");
        rv_tensor c1 = p->d.cfg ? rv_tensor_view(&p->context, E, E) : s->blend;
        if (blended) {
            record_blend(s, f, entry, &c1);
            context = &s->blend;
        } else if (p->d.cfg) {
            copy(cmd, &c1, &g->cache[entry[0]].emb);
        }
        if (p->d.cfg) {
            rv_tensor c0 = rv_tensor_view(&p->context, 0, E);
            copy(cmd, &c0, &g->cache[eneg].emb);
            context = &p->context;
        }
    }
    const rv_tensor *init = NULL;
    if (!st && (!fresh || f->warp_only)) {
        rv_gen_stage(cmd, "warp");
        init = record_warp(s, f);
        rv_gen_flag(g, init, "the warp of frame %llu's previous latent", (unsigned long long)s->index);
    }
    if (!st && f->warp_only) {
        p->final ^= 1;
        copy(cmd, &p->lat[p->final], init);
    } else if (!st) {
        st = rv_gen_record_denoise(g, p, context, context_key, init, first, f->steps, s->d.guidance, sl->res, err);
    }
    if (!st)
        st = rv_gen_record_decode(g, p, sl->res, err);
    if (!st) { /* the outputs, read after the fence */
        rv_cmd_copy_out(cmd, sl->hb, sl->out_rgba, &p->rgba);
        rv_cmd_copy_out(cmd, sl->hb, sl->out_lat, &p->lat[p->final]);
        rv_cmd_copy_out(cmd, sl->hb, sl->out_flags, &g->flags);
        st = rv_gen_submit_async(g, sl->res, err);
    }
    g->cmd = own;
    if (st) {
        rv_cmd_wait(sl->cmd, NULL);
        return drop_unsubmitted(s, final0, st);
    }
    sl->nflags = g->nflags;
    memcpy(sl->flag_names, g->flag_names, (size_t)g->nflags * sizeof(g->flag_names[0]));
    sl->t0 = t0;
    sl->f = *f;
    sl->skipped = false;
    sl->gpu = true;
    sl->finished = false;
    sl->had_latent = s->has_latent;
    sl->ticket = ++s->index;
    sl->busy = true;
    s->inflight++;
    s->has_latent = true;
    s->last = *f;
    s->last_valid = true;
    s->last_change = INFINITY; /* known when it is finished */
    return RV_OK;
}

/* Waits for a slot's frame, checks it and reads its latent: sets its status
 * and the stream's record of the last frame. A failure drops the frames
 * after it and puts the last good latent back. */
static void finish(rv_stream *s, frame_slot *sl)
{
    if (sl->finished)
        return;
    sl->finished = true;
    rv_gen *g = s->g;
    rv_gen_plan *p = s->p;
    rv_error *err = &sl->err;
    rv_error_clear(err);
    rv_status st = rv_gen_finish(sl->cmd, sl->res, err);
    const uint8_t *map = rv_hostbuf_map(sl->hb);
    if (!st)
        st = rv_gen_flags_report(g, (const float *)(const void *)(map + sl->out_flags), sl->nflags,
                                 (const char (*)[40])sl->flag_names, err);
    const uint64_t L = p->nlat;
    if (!st) {
        const void *lat = map + sl->out_lat;
        if (p->lat[p->final].dtype == RV_F16)
            rv_f16_to_f32_array(sl->lat, (const uint16_t *)lat, (size_t)L);
        else
            memcpy(sl->lat, lat, L * sizeof(float));
        char what[64];
        snprintf(what, sizeof(what), "frame %llu's latent%s", (unsigned long long)(sl->ticket - 1),
                 sl->f.warp_only ? " (warped)" : " after the UNet steps");
        st = rv_engine_check_finite(sl->lat, L, what, err);
    }
    sl->status = st;
    if (st) {
        rv_unet_plan_forget(p->unet);
        s->last_valid = false;
        s->noise_valid = false;
        s->has_latent = sl->had_latent;
        for (int k = 1; k < s->inflight; k++) { /* the frames that grow from this one */
            frame_slot *o = slot_of(s, sl->ticket + (uint64_t)k);
            if (!o->busy || o->ticket != sl->ticket + (uint64_t)k)
                continue;
            if (o->gpu)
                rv_cmd_wait(o->cmd, NULL);
            o->finished = true;
            o->status = rv_error_set(&o->err, RV_ERR_INVALID, "FRAME: frame %llu was dropped: it grows from frame "
                                     "%llu, which failed", (unsigned long long)(o->ticket - 1),
                                     (unsigned long long)(sl->ticket - 1));
        }
        if (s->host_latent && sl->had_latent) { /* the next frame grows from the last good one */
            rv_error e2 = {0};
            if (rv_tensor_upload(g->gpu, &p->lat[p->final], s->lat_prev, &e2))
                s->has_latent = false;
        }
        return;
    }
    double d2 = 0, x2 = 0;
    if (s->host_latent) {
        for (uint64_t i = 0; i < L; i++) {
            double dd = (double)sl->lat[i] - s->lat_prev[i];
            d2 += dd * dd;
            x2 += (double)s->lat_prev[i] * s->lat_prev[i];
        }
    }
    memcpy(s->lat_prev, sl->lat, L * sizeof(float));
    s->host_latent = true;
    sl->change = x2 > 0 ? sqrt(d2 / x2) : 0;
    if (sl->ticket == s->index) /* the last frame submitted */
        s->last_change = sl->change;
}

rv_status rv_stream_submit(rv_stream *s, const rv_frame_desc *f, uint64_t *ticket, rv_error *err)
{
    *ticket = 0;
    if (s->inflight >= s->depth)
        return rv_error_set(err, RV_ERR_INVALID, "STREAM: %d frame(s) in flight, the stream's depth: collect frame "
                            "%llu first", s->inflight, (unsigned long long)s->oldest);
    rv_status st = submit(s, f, err);
    if (st)
        return st;
    if (s->inflight == 1)
        s->oldest = s->index;
    *ticket = s->index;
    return RV_OK;
}

rv_status rv_stream_collect(rv_stream *s, uint64_t ticket, rv_frame_result *res, rv_error *err)
{
    if (s->inflight == 0)
        return rv_error_set(err, RV_ERR_INVALID, "STREAM: no frame in flight to collect (ticket %llu)",
                            (unsigned long long)ticket);
    if (ticket != s->oldest)
        return rv_error_set(err, RV_ERR_INVALID, "STREAM: ticket %llu is not the oldest frame in flight (%llu): "
                            "frames are collected in order", (unsigned long long)ticket,
                            (unsigned long long)s->oldest);
    frame_slot *sl = slot_of(s, ticket);
    finish(s, sl);
    sl->busy = false;
    s->inflight--;
    s->oldest = ticket + 1;
    if (sl->status) {
        rv_error_set(err, sl->status, "%s", sl->err.msg);
        return sl->status;
    }
    if (sl->gpu)
        memcpy(s->rgba_host, (const uint8_t *)rv_hostbuf_map(sl->hb) + sl->out_rgba, s->p->rgba.bytes);
    else /* kept: the frame before it, the last finished */
        memcpy(sl->lat, s->lat_prev, s->p->nlat * sizeof(float));
    fill_result(s, sl, res);
    return RV_OK;
}

int rv_stream_in_flight(const rv_stream *s) { return s->inflight; }

rv_status rv_stream_frame(rv_stream *s, const rv_frame_desc *f, rv_frame_result *res, rv_error *err)
{
    if (s->inflight)
        return rv_error_set(err, RV_ERR_INVALID, "STREAM: %d frame(s) from rv_stream_submit are in flight: collect "
                            "them first", s->inflight);
    uint64_t t;
    rv_status st = rv_stream_submit(s, f, &t, err);
    if (!st)
        st = rv_stream_collect(s, t, res, err);
    if (st && t)
        s->index = t - 1; /* a failed frame does not count (cadence) */
    return st;
}

static rv_status need_idle(const rv_stream *s, const char *what, rv_error *err)
{
    if (s->inflight)
        return rv_error_set(err, RV_ERR_INVALID, "STREAM: %s with %d frame(s) in flight: collect them first", what,
                            s->inflight);
    return RV_OK;
}

rv_status rv_stream_set_anchor(rv_stream *s, rv_error *err)
{
    rv_status st = need_idle(s, "set_anchor", err);
    if (st)
        return st;
    if (!s->has_latent)
        return rv_error_set(err, RV_ERR_INVALID, "STREAM: no frame yet to anchor to");
    rv_cmd *cmd = s->g->cmd;
    rv_gpu_clear_error(s->e->gpu);
    st = rv_cmd_begin(cmd, err);
    if (st)
        return st;
    copy(cmd, &s->anchor, &s->p->lat[s->p->final]);
    st = rv_cmd_run(cmd, err);
    if (!st)
        s->has_anchor = true;
    return st;
}

rv_status rv_stream_read_latent(rv_stream *s, float *out, rv_error *err)
{
    rv_status st = need_idle(s, "read_latent", err);
    if (st)
        return st;
    if (!s->host_latent)
        return rv_error_set(err, RV_ERR_INVALID, "STREAM: no frame yet");
    memcpy(out, s->lat_prev, s->p->nlat * sizeof(float));
    return RV_OK;
}

rv_status rv_stream_write_latent(rv_stream *s, const float *in, rv_error *err)
{
    rv_status st = need_idle(s, "write_latent", err);
    if (!st)
        st = rv_engine_check_finite(in, s->p->nlat, "STREAM: the latent to restore", err);
    if (!st)
        st = rv_tensor_upload(s->e->gpu, &s->p->lat[s->p->final], in, err);
    if (st)
        return st;
    memcpy(s->lat_prev, in, s->p->nlat * sizeof(float));
    s->has_latent = true;
    s->host_latent = true;
    s->last_valid = false;
    return RV_OK;
}

void rv_latent_slerp(const float *a, const float *b, size_t n, double t, float *out)
{
    double ca, cb;
    slerp_coefs(a, b, n, t, &ca, &cb);
    float fa = (float)ca, fb = (float)cb;
    for (size_t i = 0; i < n; i++) {
        float x = fa * a[i];
        float y = fb * b[i];
        out[i] = x + y;
    }
}

rv_status rv_stream_encode_image(rv_stream *s, const uint32_t *rgba, float *latent, rv_error *err)
{
    rv_gen *g = s->g;
    rv_gen_plan *p = s->p;
    const uint32_t W = s->d.width, H = s->d.height;
    const size_t P = (size_t)W * H;
    rv_status st = RV_OK;
    if (p->decoder == RV_DECODER_TINY && !s->enc_tiny)
        st = rv_taesd_plan_create(g->taesd, g->gpu, RV_AE_ENCODE, 1, H, W, &s->enc_tiny, err);
    else if (p->decoder == RV_DECODER_VAE && !s->enc_vae)
        st = rv_vae_plan_create(g->vae, g->gpu, RV_AE_ENCODE, 1, H, W, &s->enc_vae, err);
    if (!st && !s->image_host && !(s->image_host = malloc(3 * P * sizeof(float))))
        st = rv_error_set(err, RV_ERR_HOST_MEMORY, "STREAM: out of memory");
    if (st)
        return st;
    for (size_t i = 0; i < P; i++)
        for (int c = 0; c < 3; c++)
            s->image_host[(size_t)c * P + i] = (float)((rgba[i] >> (8 * c)) & 0xff) * (2.0f / 255.0f) - 1.0f;
    st = rv_tensor_upload(g->gpu, &p->image, s->image_host, err);
    if (!st)
        st = rv_gen_flags_reset(g, err);
    if (st)
        return st;
    rv_cmd *cmd = g->cmd;
    rv_gpu_clear_error(g->gpu);
    st = rv_cmd_begin(cmd, err);
    if (st)
        return st;
    rv_gen_stage(cmd, "encode");
    if (s->enc_tiny)
        rv_taesd_forward(cmd, g->taesd, s->enc_tiny, &p->tmp2, &p->image);
    else
        rv_vae_forward(cmd, g->vae, s->enc_vae, &p->tmp2, &p->image, NULL, NULL);
    rv_gen_flag(g, &p->tmp2, "the %s encoder", s->enc_tiny ? "tiny (TAESD)" : "VAE");
    st = rv_cmd_run(cmd, err);
    if (!st)
        st = rv_gen_flags_check(g, err);
    if (!st)
        st = rv_tensor_download(g->gpu, &p->tmp2, latent, err);
    return st;
}
