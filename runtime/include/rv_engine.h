/* The generation engine's public face: one diffusers model on one device,
 * prompts turned into embedding handles, and a stream of frames described
 * as plain data (rv_frame_desc), each grown from the previous frame's
 * latent. The front end (gen, render, play, bench) uses only this header,
 * rv_device.h and rv_status.h; no Vulkan, no SDL, no story types here. */
#ifndef RV_ENGINE_H
#define RV_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rv_device.h"
#include "rv_status.h"

typedef struct rv_engine rv_engine;
typedef struct rv_stream rv_stream;

typedef enum rv_decoder_kind {
    RV_DECODER_AUTO = 0,   /* TAESD when the model has one, else the VAE */
    RV_DECODER_TINY = 1,   /* AutoencoderTiny */
    RV_DECODER_VAE = 2,    /* AutoencoderKL */
} rv_decoder_kind;

const char *rv_decoder_kind_name(rv_decoder_kind k); /* "auto", "tiny", "vae" */

typedef struct rv_engine_desc {
    const char *model_dir;     /* a diffusers folder */
    const char *scheduler;     /* class override ("euler", "lcm", or a class name); NULL = the config's */
    const char *variant;       /* weight files like *.fp16.safetensors; NULL = none */
    bool vae, tiny;            /* decoders to load; neither = the AUTO one */
    bool allow_nonfinite;      /* load weights holding NaN/Inf (refused by default, naming the tensor) */
    const char *tiny_decoder;  /* an AutoencoderTiny folder (config.json + weights, TAESD's published
                                  layout) used instead of the model's own; NULL = the model's */
    rv_gpu_desc gpu;           /* the device the engine creates and owns */
} rv_engine_desc;

#define RV_ENGINE_MAX_STEPS 1000  /* the most denoising steps a schedule may have */

/* Whether `name` is a scheduler the engine runs ("euler", "lcm", or their
 * diffusers class names). */
bool rv_engine_scheduler_known(const char *name);

/* Creates the device and loads every component. Errors name the folder,
 * file, key or tensor. */
rv_status rv_engine_create(rv_engine **out, const rv_engine_desc *desc, rv_error *err);
void rv_engine_destroy(rv_engine *e);

typedef struct rv_engine_info {
    const rv_device_info *device;
    const char *model_dir;
    const char *scheduler;     /* the scheduler's class name */
    uint32_t factor;           /* pixels per latent pixel */
    uint32_t latent_channels;
    uint32_t default_width, default_height;  /* the UNet's sample_size times factor */
    int default_steps;         /* 4 LCM, 1 trailing spacing (SD-Turbo), else 25 */
    bool has_vae, has_tiny;
    bool fp16;                 /* activations stored as fp16 */
    uint32_t text_layers;      /* the text encoder's layers (clip skip must be fewer) */
    int nonfinite_tensors;     /* weights holding NaN/Inf that allow_nonfinite let through */
    rv_pipeline_cache_info pipeline_cache;
    int validation_messages;   /* Khronos validation layer messages so far */
} rv_engine_info;
void rv_engine_get_info(const rv_engine *e, rv_engine_info *out);
/* Whether guidance `scale` runs classifier-free guidance (scale > 1 and a
 * UNet without a guidance embedding). */
bool rv_engine_uses_cfg(const rv_engine *e, float scale);

/* ---- prompts ---- */

/* An embedding handle: nonzero, valid for the engine that made it until
 * RV_ENGINE_PROMPTS newer distinct prompts have pushed it out (using a
 * handle in a frame keeps it recent). A stale or foreign handle is an
 * error, never a wrong picture. */
typedef uint64_t rv_prompt;
#define RV_ENGINE_PROMPTS 32

typedef struct rv_prompt_info {
    int n_tokens;              /* with BOS/EOS, before truncation (> 77: cut) */
    bool cached;               /* the same token ids were encoded before */
    double encode_ms;          /* GPU time of the text encoder, 0 when cached */
} rv_prompt_info;

/* Tokenizes `text` and returns the handle of its embedding (cached by
 * token ids and clip skip); encodes it now if it is new (one text-encoder
 * run, its own submission). info may be NULL. */
rv_status rv_engine_prompt(rv_engine *e, const char *text, uint32_t clip_skip, rv_prompt *out,
                           rv_prompt_info *info, rv_error *err);

/* A prompt's CLIP tokens with BOS/EOS, before truncation to 77 (a prompt
 * with 2 says nothing), without encoding it. */
rv_status rv_engine_count_tokens(rv_engine *e, const char *text, int *n_tokens, rv_error *err);

/* ---- one-shot generation (`reverie gen`) ---- */

typedef struct rv_stage_ms {
    char name[32];
    double ms;
} rv_stage_ms;

#define RV_GEN_MAX_PARTS 64
#define RV_GEN_MAX_DETAIL 256
#define RV_GEN_MAX_OPS 64

typedef struct rv_gen_request {
    uint32_t width, height;    /* 0 = the model's default */
    int steps;                 /* 0 = the model's default */
    rv_decoder_kind decoder;
    const char *prompt;
    const char *negative;      /* NULL = "" (with guidance) */
    float guidance;
    uint32_t clip_skip;
    uint64_t seed;
    const float *noise;        /* optional [C][lh][lw] initial noise */
    const float *init_latents; /* optional img2img start, with strength in (0, 1] */
    float strength;
} rv_gen_request;

typedef struct rv_gen_report {
    uint32_t width, height, latent_h, latent_w;
    int steps;
    int n_tokens;
    int first_step;            /* img2img: the first schedule index run */
    int submissions;
    int nparts, ndetail, nops;
    rv_stage_ms parts[RV_GEN_MAX_PARTS];     /* text, init, step<i>, sched<i>, decode, rgba */
    rv_stage_ms detail[RV_GEN_MAX_DETAIL];   /* every model stage */
    struct { char name[32]; int dispatches; double ms; } ops[RV_GEN_MAX_OPS]; /* RV_PROFILE_OPS=1 */
    uint32_t *rgba;            /* width*height RGBA8, owned by the report (rv_gen_report_free) */
    float *latents;            /* [C][lh][lw] final latent, owned by the report */
} rv_gen_report;

/* One text-to-image (or img2img) generation, allocated for its size and
 * freed after. The image equals what a stream's first frame at strength 1
 * gives for the same inputs. */
rv_status rv_engine_generate(rv_engine *e, const rv_gen_request *req, rv_gen_report *rep, rv_error *err);
void rv_gen_report_free(rv_gen_report *rep);

/* ---- the frame loop ---- */

typedef struct rv_stream_desc {
    uint32_t width, height;    /* 0 = the model's default */
    int max_steps;             /* most UNet steps a frame may take; 0 = 4 */
    float guidance;            /* fixed for the stream (classifier-free guidance doubles the batch) */
    rv_decoder_kind decoder;
    float similarity;          /* skip the UNet while a still frame changes less than this
                                  (relative RMS of the latent); 0 = never skip */
    int cadence;               /* slow devices: the UNet runs every Nth frame, the frames
                                  between are warp-only (0 or 1 = every frame) */
    int depth;                 /* frames rv_stream_submit may keep in flight: 1 or
                                  RV_STREAM_MAX_DEPTH; 0 = RV_STREAM_MAX_DEPTH */
} rv_stream_desc;

#define RV_STREAM_MAX_DEPTH 2

typedef enum rv_blend {
    RV_BLEND_LINEAR = 0,       /* weighted mean of the embeddings */
    RV_BLEND_SLERP = 1,        /* two prompts, spherical per token row */
} rv_blend;

/* Camera motion applied to the previous latent, per frame. */
typedef struct rv_motion {
    float zoom;                /* scale, > 1 zooms in; 0 = 1 */
    float pan_x, pan_y;        /* content shift in fractions of width/height (+x right, +y down) */
    float rotate;              /* degrees; positive turns the content clockwise on screen */
} rv_motion;

#define RV_FRAME_MAX_PROMPTS 8   /* a transition blends a scene's prompts with the last one's */

typedef struct rv_frame_desc {
    rv_prompt prompt[RV_FRAME_MAX_PROMPTS];
    float weight[RV_FRAME_MAX_PROMPTS];      /* >= 0; all 0 = equal weights */
    int nprompts;                            /* 1..4 */
    rv_blend blend;
    rv_prompt negative;        /* with guidance; 0 = the empty prompt */
    uint64_t seed;             /* the scene's fixed noise */
    uint64_t seed_to;          /* with seed_mix > 0: noise slerped toward this seed's */
    float seed_mix;            /* [0, 1] */
    float strength;            /* (0, 1]; 1 = a fresh picture from noise */
    int steps;                 /* UNet steps this frame, 1..max_steps */
    rv_motion motion;
    float anchor;              /* [0, 1]: pull toward the anchor latent (rv_stream_set_anchor) */
    bool warp_only;            /* cadence: warp and decode, no UNet */
} rv_frame_desc;

#define RV_FRAME_MAX_STAGES 16

typedef struct rv_frame_result {
    uint64_t index;            /* frames made by this stream, this one included */
    const uint32_t *rgba;      /* width*height RGBA8, valid until the next frame */
    const float *latent;       /* [C][lh][lw] float32, this frame's latent (what
                                  rv_stream_read_latent gives), valid until the next frame */
    uint32_t width, height;
    bool diffused;             /* the UNet ran */
    bool skipped;              /* similarity filter: the previous frame was kept */
    double change;             /* relative RMS change of the latent from the previous frame */
    int nstages;
    rv_stage_ms stages[RV_FRAME_MAX_STAGES]; /* GPU time: blend, noise, warp, stepN, decode, rgba */
    double gpu_ms;             /* sum of the stages */
    double wall_ms;            /* the whole call, CPU included (submit to collect in flight) */
} rv_frame_result;

rv_status rv_stream_create(rv_engine *e, const rv_stream_desc *desc, rv_stream **out, rv_error *err);
void rv_stream_destroy(rv_stream *s);
void rv_stream_size(const rv_stream *s, uint32_t *width, uint32_t *height, uint32_t *latent_count);

/* Makes the next frame: records, submits and waits for it. Bad
 * descriptions (non-finite or out-of-range values, zero steps, stale
 * handles) are RV_ERR_INVALID naming the field. A frame whose stage turns
 * NaN/Inf is an error naming the stage; the next frame grows from the last
 * good latent. Not while frames are in flight (rv_stream_submit). */
rv_status rv_stream_frame(rv_stream *s, const rv_frame_desc *f, rv_frame_result *res, rv_error *err);

/* Frames in flight: the same frames as rv_stream_frame's, byte for byte,
 * split in two. rv_stream_submit checks the description, records the frame
 * (per-frame inputs staged in the frame's own host memory and copied in by
 * its own command buffer), submits it and returns its ticket (the index its
 * result will carry) without waiting; rv_stream_collect waits for the
 * oldest frame in flight (`ticket` must name it), reads it back and hands
 * its result over. With depth 2 the CPU decides, stages and records frame
 * n+1 while the device runs frame n, and reads frame n back after: the
 * device still runs the frames one after another, since frame n+1 grows
 * from frame n's latent. A submit with `depth` frames in flight is refused
 * (collect first). A failure on the device is reported by that frame's
 * collect, naming the stage; frames submitted after it are dropped (their
 * collects say so) and the next submit grows from the last good latent.
 * The similarity filter, when on, waits for the previous frame before
 * deciding (it needs that frame's change). rgba and latent are valid until the next
 * collect. Latent reads and writes and anchors need no frame in flight. */
rv_status rv_stream_submit(rv_stream *s, const rv_frame_desc *f, uint64_t *ticket, rv_error *err);
rv_status rv_stream_collect(rv_stream *s, uint64_t ticket, rv_frame_result *res, rv_error *err);
/* Frames submitted and not yet collected. */
int rv_stream_in_flight(const rv_stream *s);

/* The current latent becomes the anchor that rv_frame_desc.anchor pulls toward. */
rv_status rv_stream_set_anchor(rv_stream *s, rv_error *err);
/* The current latent ([C][lh][lw] float32) out and in: a rollback point's
 * picture is restored by writing its latent back (the next frame grows
 * from it). Writing also resets the similarity filter. */
rv_status rv_stream_read_latent(rv_stream *s, float *out, rv_error *err);
rv_status rv_stream_write_latent(rv_stream *s, const float *in, rv_error *err);

/* An RGBA8 image of the stream's size (alpha ignored) as a pipeline latent
 * ([C][lh][lw] float32), through the encoder that matches the stream's
 * decoder (TAESD's, else the VAE's mean): x = v * 2/255 - 1 per channel.
 * Writing it with rv_stream_write_latent makes the next frame grow from
 * the picture (extend a clip from an image). */
rv_status rv_stream_encode_image(rv_stream *s, const uint32_t *rgba, float *latent, rv_error *err);

/* out = slerp(a, b, t) over the whole vector of n values (one angle;
 * coefficients in float64, applied in float32; |cos| > 0.9995: linear).
 * Used for seed drift and for filling frames between two keyframes. */
void rv_latent_slerp(const float *a, const float *b, size_t n, double t, float *out);

#endif
