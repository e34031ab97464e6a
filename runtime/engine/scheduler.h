/* Diffusion schedulers from a diffusers `scheduler/scheduler_config.json`:
 * EulerDiscreteScheduler and LCMScheduler with diffusers' float32 arithmetic
 * (timesteps, sigmas, alphas, init_noise_sigma bit for bit with diffusers on
 * torch 1.13's CPU kernels; see scheduler.c). The CPU decides coefficients;
 * the step itself is a linear combination the engine records as GPU ops.
 * Not the Karras/exponential/beta sigma variants, not thresholding or
 * clip_sample on the GPU path, not ancestral sampling. */
#ifndef RV_SCHEDULER_H
#define RV_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rv_status.h"

typedef enum rv_sched_kind {
    RV_SCHED_EULER = 0,   /* EulerDiscreteScheduler */
    RV_SCHED_LCM = 1,     /* LCMScheduler */
} rv_sched_kind;

typedef enum rv_prediction {
    RV_PRED_EPSILON = 0,
    RV_PRED_V = 1,        /* v_prediction */
    RV_PRED_SAMPLE = 2,   /* sample / original_sample */
} rv_prediction;

typedef enum rv_spacing {
    RV_SPACING_LINSPACE = 0,
    RV_SPACING_LEADING = 1,
    RV_SPACING_TRAILING = 2,
} rv_spacing;

/* Most inference steps a schedule can have (diffusers allows up to
 * num_train_timesteps; the engine's real-time use is 1-8). */
#define RV_SCHED_MAX_STEPS 1000

typedef struct rv_scheduler {
    rv_sched_kind kind;
    uint32_t num_train_timesteps;
    rv_prediction prediction;
    rv_spacing spacing;
    int32_t steps_offset;
    bool final_sigma_min;          /* Euler final_sigmas_type "sigma_min" (else "zero") */
    uint32_t original_steps;       /* LCM original_inference_steps */
    float timestep_scaling;        /* LCM */
    bool clip_sample;              /* LCM: clamp x0 (host step only) */
    float clip_sample_range;
    float *alphas_cumprod;         /* [num_train_timesteps], float32 as diffusers */
    float final_alpha_cumprod;     /* LCM: 1 with set_alpha_to_one, else alphas_cumprod[0] */
    /* set by rv_scheduler_set_timesteps */
    int steps;
    float timesteps[RV_SCHED_MAX_STEPS];
    float sigmas[RV_SCHED_MAX_STEPS + 1];   /* Euler; the last is 0 (or sigma_min) */
    float init_noise_sigma;
} rv_scheduler;

/* Returns "EulerDiscreteScheduler" / "LCMScheduler". */
const char *rv_sched_kind_name(rv_sched_kind k);
/* "EulerDiscreteScheduler", "euler", "LCMScheduler", "lcm" -> kind; false if none. */
bool rv_sched_kind_parse(const char *name, rv_sched_kind *out);

/* Reads `dir`/scheduler_config.json (the scheduler folder). `override` (may
 * be NULL) replaces the config's _class_name, as diffusers'
 * OtherScheduler.from_config(config) does (Euler from SD 1.5's PNDM config):
 * keys that other schedulers' configs carry and that do not change these two
 * are ignored; any other unknown key, an unsupported value, or an
 * unsupported class is RV_ERR_FORMAT naming the file and the key. */
rv_status rv_scheduler_load(rv_scheduler *s, const char *dir, const char *override, rv_error *err);
rv_status rv_scheduler_parse(rv_scheduler *s, const char *json, const char *name, const char *override,
                             rv_error *err);
/* Accepts a zeroed or half-built scheduler. */
void rv_scheduler_free(rv_scheduler *s);

/* diffusers' set_timesteps(steps): timesteps (and Euler's sigmas) and
 * init_noise_sigma. RV_ERR_INVALID when the step count does not fit. */
rv_status rv_scheduler_set_timesteps(rv_scheduler *s, int steps, rv_error *err);

/* scale_model_input: the model input is sample * this (Euler: 1/sqrt(sigma^2+1); LCM: 1). */
float rv_scheduler_input_scale(const rv_scheduler *s, int index);

/* A step as a linear combination: v = sample*x + model*model_output + noise*n. */
typedef struct rv_sched_coefs {
    float sample, model, noise;
} rv_sched_coefs;

/* The step at schedule index `index` (0-based, absolute): prev_sample and
 * pred_original_sample (Euler) / denoised (LCM) as coefficients. LCM adds
 * noise at every step but the last. With clip_sample the x0 clamp is not
 * linear: rv_scheduler_linear() is false and only the host step applies. */
void rv_scheduler_step_coefs(const rv_scheduler *s, int index, rv_sched_coefs *prev, rv_sched_coefs *x0);
bool rv_scheduler_linear(const rv_scheduler *s);
/* Whether step `index` adds noise (LCM, every step but the last). */
bool rv_scheduler_step_noise(const rv_scheduler *s, int index);

/* The step on host arrays in diffusers' own float32 order (the reference the
 * coefficients are tested against). noise may be NULL unless LCM needs it;
 * x0 may be NULL. */
void rv_scheduler_step_host(const rv_scheduler *s, int index, const float *model_output, const float *sample,
                            const float *noise, float *prev, float *x0, size_t n);

/* img2img: add_noise at schedule index `index` as latents = init*c.sample +
 * noise*c.noise (Euler: init + sigma*noise; LCM: sqrt(a)*init + sqrt(1-a)*noise). */
void rv_scheduler_add_noise_coefs(const rv_scheduler *s, int index, rv_sched_coefs *c);
/* diffusers' img2img get_timesteps: the first index run for a strength in
 * (0, 1]; -1 when no step would run. */
int rv_scheduler_img2img_start(int steps, float strength);

/* The guidance embedding of LCM-distilled UNets (timestep_cond): w =
 * guidance_scale - 1, out [dim] (sin half, cos half, zero pad if odd). */
void rv_guidance_embedding(float w, uint32_t dim, float *out);

#endif
