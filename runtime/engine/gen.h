/* Text-to-image (and image-to-image from latents) as diffusers'
 * StableDiffusionPipeline computes it, on the GPU: tokenizer -> CLIP text
 * encoder (embeddings cached per prompt on the device) -> UNet steps with
 * optional classifier-free guidance (batch [negative, prompt]) -> scheduler
 * step (GPU ops whose coefficients the CPU decides) -> decoder (TAESD or the
 * full VAE) -> RGBA8. A plan holds every buffer one (size, guidance, steps,
 * decoder) needs, so a run allocates nothing; a run is recorded into one
 * command buffer (more only when its timing stages overflow one) with a
 * timing stage per part. Not the story frame loop, not image encoding. */
#ifndef RV_GEN_H
#define RV_GEN_H

#include <stdbool.h>
#include <stdint.h>

#include "rv_engine.h"
#include "engine/scheduler.h"
#include "rv_gpu.h"
#include "loader/diffusers.h"
#include "models/clip_text.h"
#include "models/taesd.h"
#include "models/tokenizer.h"
#include "models/unet.h"
#include "models/vae.h"

typedef struct rv_gen_desc {
    const char *model_dir;     /* a diffusers folder */
    const char *scheduler;     /* class override ("euler", "lcm", or a class name); NULL = the config's */
    const char *variant;       /* weight files like *.fp16.safetensors (UNet, VAE, TAESD); NULL = none */
    bool vae, tiny;            /* decoders to load; neither = the AUTO one */
    bool allow_nonfinite;      /* load weights holding NaN/Inf */
    const char *tiny_dir;      /* an AutoencoderTiny folder from elsewhere; NULL = the model's */
} rv_gen_desc;

#define RV_GEN_FLAGS 64          /* stages checked for NaN/Inf per run */
#define RV_GEN_TEXT_CACHE RV_ENGINE_PROMPTS  /* prompt embeddings kept on the device */

/* One cached embedding, keyed by token ids and clip skip (two spellings of
 * one tokenization share it). A handle names (model, slot, serial): the
 * serial changes whenever the slot is given to another prompt. */
typedef struct rv_gen_text_entry {
    int32_t ids[RV_TOKENIZER_MAX_LENGTH];
    uint32_t clip_skip;
    bool valid;                /* encoded by a finished submission */
    uint32_t serial;
    rv_tensor emb;             /* [77][hidden] */
    float *host;               /* float32 copy, made on first need (slerp), NULL before */
    uint64_t used;             /* LRU clock */
} rv_gen_text_entry;

typedef struct rv_gen {
    rv_gpu *gpu;
    char dir[512];
    rv_model_index index;
    rv_tokenizer *tok;
    rv_clip_text *te;
    rv_unet *unet;
    rv_vae *vae;               /* NULL unless loaded */
    rv_taesd *taesd;           /* NULL unless loaded */
    rv_scheduler sched;
    uint32_t factor;           /* pixels per latent along each axis */
    uint32_t latent_channels;
    rv_clip_text_plan *te_plan;   /* batch 1, 77 tokens */
    rv_tensor ids;                /* float32 [2][77] */
    rv_gen_text_entry cache[RV_GEN_TEXT_CACHE];
    uint64_t clock;
    uint32_t uid;              /* tags this model's prompt handles */
    int nonfinite;             /* weights holding NaN/Inf let through (allow_nonfinite) */
    rv_cmd *cmd;
    /* the non-finite guard: rv_op_check_finite flags, one slot per checked
     * stage of a submission sequence, and the stage names */
    rv_tensor flags;           /* float32 [RV_GEN_FLAGS] */
    int nflags;
    char flag_names[RV_GEN_FLAGS][40];
} rv_gen;

/* Loads every component on `gpu`. Errors name the component folder and
 * file (missing folder, malformed config or scheduler config, unsupported
 * scheduler, checkpoint problems). */
rv_status rv_gen_load(rv_gen **out, rv_gpu *gpu, const rv_gen_desc *desc, rv_error *err);
void rv_gen_unload(rv_gen *g);

/* Whether guidance `scale` batches [negative, prompt] (diffusers: scale > 1
 * and a UNet without time_cond_proj_dim). */
bool rv_gen_uses_cfg(const rv_gen *g, float scale);

typedef struct rv_gen_plan_desc {
    uint32_t width, height;    /* pixels; multiples of the decoder's factor */
    int steps;                 /* the most steps a run takes */
    bool cfg;                  /* classifier-free guidance (batch 2) */
    rv_decoder_kind decoder;
} rv_gen_plan_desc;

typedef struct rv_gen_plan {
    rv_gen_plan_desc d;
    rv_gpu *gpu;
    uint32_t lh, lw;           /* latent size */
    uint32_t batch;            /* UNet batch: 2 with cfg */
    uint64_t nlat;             /* latent_channels * lh * lw */
    rv_decoder_kind decoder;   /* resolved */
    rv_unet_plan *unet;
    rv_vae_plan *vae;
    rv_taesd_plan *taesd;
    rv_tensor noise;           /* [C][lh][lw] initial noise */
    rv_tensor init;            /* img2img start latents */
    rv_tensor step_noise;      /* LCM: [steps-1][C][lh][lw] */
    rv_tensor lat[2];          /* ping-pong latents */
    rv_tensor model_in, model_out;   /* [batch][C][lh][lw] */
    rv_tensor guided, tmp, tmp2;     /* [C][lh][lw] */
    rv_tensor context;         /* cfg: [2][77][hidden] */
    rv_tensor timesteps;       /* float32 [steps][batch] */
    rv_tensor tcond;           /* [batch][time_cond_proj_dim] when the UNet has one */
    rv_tensor image;           /* [3][height][width] raw decoder output */
    rv_tensor rgba;            /* RGBA8 [height][width] */
    int final;                 /* which lat[] holds the result of the last run */
    float *host;               /* scratch: (steps + 1) latents */
} rv_gen_plan;

/* Checks the size (RV_ERR_INVALID with the rule) and allocates everything. */
rv_status rv_gen_plan_create(rv_gen *g, const rv_gen_plan_desc *d, rv_gen_plan **out, rv_error *err);
void rv_gen_plan_destroy(rv_gen_plan *p);

typedef struct rv_gen_params {
    const char *prompt;
    const char *negative;      /* NULL = "" (with cfg) */
    int steps;                 /* <= the plan's */
    float guidance;            /* must agree with the plan's cfg (rv_gen_uses_cfg) */
    uint32_t clip_skip;        /* diffusers' clip_skip (the negative prompt is encoded without) */
    uint64_t seed;             /* noise streams (noise.h) for what is not given below */
    const float *noise;        /* optional [C][lh][lw] standard normal initial noise */
    const float *step_noise;   /* optional LCM: one latent per step run but the last */
    const float *init_latents; /* optional img2img start (pipeline latents), with strength */
    float strength;            /* img2img: (0, 1] */
} rv_gen_params;

#define RV_GEN_MAX_STAGES RV_GEN_MAX_DETAIL

typedef struct rv_gen_result {
    int n_tokens;              /* the prompt's tokens with BOS/EOS before truncation (> 77: cut) */
    int first_step;            /* img2img: the first schedule index run */
    int submissions;           /* command buffers the run took (not counting text encoding) */
    int nstages, ndetail;
    /* per part: text, init, step<i>, sched<i>, decode, rgba; past the
     * capacity the last entry is "more" and holds the sum of the rest */
    rv_stage_time stages[RV_GEN_MAX_PARTS];
    rv_stage_time detail[RV_GEN_MAX_STAGES]; /* every model stage (the first ones past capacity) */
    int nops;
    rv_op_time ops[RV_GEN_MAX_OPS];          /* RV_PROFILE_OPS=1: time per pipeline, summed over submissions */
    bool more;                 /* internal: stages past capacity go to the "more" entry */
} rv_gen_result;

/* ---- prompt embeddings (shared by runs and streams) ---- */

/* The handle of `prompt`'s embedding, encoding it now (its own submission,
 * waited for) when its token ids are not cached. info may be NULL. */
rv_status rv_gen_text(rv_gen *g, const char *prompt, uint32_t clip_skip, uint64_t *handle, rv_prompt_info *info,
                      rv_error *err);
/* The cache entry of a handle (marked as just used), or RV_ERR_INVALID for a
 * stale, foreign or zero handle; `what` names it in the message. */
rv_status rv_gen_text_entry_of(rv_gen *g, uint64_t handle, const char *what, int *entry, rv_error *err);
/* A host float32 copy of an entry's embedding (downloaded once). */
rv_status rv_gen_text_host(rv_gen *g, int entry, const float **out, rv_error *err);

/* ---- the pieces a run is made of (shared with engine/frames.c) ---- */

/* Uploads what steps [first, first + nrun) of the scheduler (already set
 * to its step count) need: timesteps, the guidance embedding, LCM's step
 * noise (from `step_noise` or the seed's streams). The command buffer must
 * be idle. */
rv_status rv_gen_upload_steps(rv_gen *g, rv_gen_plan *p, int first, int nrun, float guidance, uint64_t seed,
                              const float *step_noise, rv_error *err);
/* The same values handed to `put` (tensor view, float32 values) instead of
 * uploaded: frames in flight stage them into host memory and record the
 * copies (engine/frames.c). */
typedef rv_status (*rv_gen_put_fn)(void *ctx, const rv_tensor *t, const float *src, rv_error *err);
rv_status rv_gen_put_steps(rv_gen *g, rv_gen_plan *p, int first, int nrun, float guidance, uint64_t seed,
                           const float *step_noise, rv_gen_put_fn put, void *ctx, rv_error *err);
/* Names the contents of a context made of cache entry `entry`'s embedding
 * (after entry `neg`'s, for classifier-free guidance; neg < 0: none) for
 * rv_gen_record_denoise: equal while neither entry is encoded again. */
uint64_t rv_gen_context_key(const rv_gen *g, int entry, int neg);
/* Records the start latent (init_noise_sigma * noise without `init`,
 * else the scheduler's add_noise of init at step `first`) and the steps
 * into g->cmd (begun), splitting it across submissions when timing stages
 * run out. The result is in p->lat[p->final]. context_key (0: unknown)
 * names the context's contents (rv_gen_context_key): the UNet plan keeps
 * its K/V projections, and the time projections of each timestep, for the
 * next runs (rv_unet_args). A run that is recorded but never completes
 * must be followed by rv_unet_plan_forget(p->unet). */
rv_status rv_gen_record_denoise(rv_gen *g, rv_gen_plan *p, const rv_tensor *context, uint64_t context_key,
                                const rv_tensor *init, int first, int nrun, float guidance, rv_gen_result *res,
                                rv_error *err);
/* Records decoding p->lat[p->final] into p->image and p->rgba. */
rv_status rv_gen_record_decode(rv_gen *g, rv_gen_plan *p, rv_gen_result *res, rv_error *err);
/* The non-finite guard. rv_gen_flags_reset (command buffer idle, before
 * recording) clears the flags; rv_gen_flag records a check of x as stage
 * `name` (printf-style); rv_gen_flags_check (after the wait) turns the first
 * flagged stage into RV_ERR_INVALID naming it. A stage past RV_GEN_FLAGS
 * shares the last slot ("a later stage"). */
rv_status rv_gen_flags_reset(rv_gen *g, rv_error *err);
void rv_gen_flag(rv_gen *g, const rv_tensor *x, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
rv_status rv_gen_flags_check(rv_gen *g, rv_error *err);
/* The same check over flag values and stage names read some other way
 * (a frame in flight copies its flags out in its own recording). */
rv_status rv_gen_flags_report(const rv_gen *g, const float *flags, int n, const char (*names)[40], rv_error *err);
/* Submits g->cmd, waits, and adds its timings to res. */
rv_status rv_gen_submit(rv_gen *g, rv_gen_result *res, rv_error *err);
/* rv_gen_submit in two halves, for frames in flight: submit g->cmd without
 * waiting; later wait for that command buffer and add its timings to res. */
rv_status rv_gen_submit_async(rv_gen *g, rv_gen_result *res, rv_error *err);
rv_status rv_gen_finish(rv_cmd *cmd, rv_gen_result *res, rv_error *err);
/* out = ca*a + cb*b (b may be NULL) through tmp, out aliasing neither
 * input, in the order that keeps fp16 intermediates small. */
void rv_gen_lincomb(rv_cmd *cmd, const rv_tensor *out, const rv_tensor *a, float ca, const rv_tensor *b, float cb,
                    const rv_tensor *tmp);
/* A timing stage that rv_gen_submit reports as a part named `name`. */
void rv_gen_stage(rv_cmd *cmd, const char *name);
/* The default step count of the loaded scheduler, and the default side. */
int rv_gen_default_steps(const rv_gen *g);
uint32_t rv_gen_default_side(const rv_gen *g);

/* Runs the whole generation; the plan's lat[final], image and rgba hold the
 * result. Host copies: rv_gen_read_latents / rv_gen_read_rgba. */
rv_status rv_gen_run(rv_gen *g, rv_gen_plan *p, const rv_gen_params *prm, rv_gen_result *res, rv_error *err);
rv_status rv_gen_read_latents(rv_gen *g, const rv_gen_plan *p, float *out, rv_error *err);
rv_status rv_gen_read_rgba(rv_gen *g, const rv_gen_plan *p, uint32_t *out, rv_error *err);

#endif
