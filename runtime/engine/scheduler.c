/* EulerDiscreteScheduler and LCMScheduler (see scheduler.h).
 *
 * "Bit for bit with diffusers" means with the float32 kernels diffusers runs
 * on: torch.linspace on x86-64 CPUs (AVX2 build, FMA-contracted; emulated by
 * torch_linspace below for the betas), torch.cumprod accumulating in double,
 * numpy's float64 linspace/arange/interp for timesteps and sigmas. Every
 * other step is one IEEE float32 operation in the order diffusers writes it;
 * this file is compiled as ISO C11, so the compiler does not contract a*b+c
 * into an FMA behind our back. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "engine/scheduler.h"
#include "loader/config.h"

#define MAX_TRAIN_TIMESTEPS 100000u

const char *rv_sched_kind_name(rv_sched_kind k)
{
    return k == RV_SCHED_LCM ? "LCMScheduler" : "EulerDiscreteScheduler";
}

bool rv_sched_kind_parse(const char *name, rv_sched_kind *out)
{
    if (!name)
        return false;
    if (strcmp(name, "EulerDiscreteScheduler") == 0 || strcmp(name, "euler") == 0) {
        *out = RV_SCHED_EULER;
        return true;
    }
    if (strcmp(name, "LCMScheduler") == 0 || strcmp(name, "lcm") == 0) {
        *out = RV_SCHED_LCM;
        return true;
    }
    return false;
}

/* ---- torch/numpy arithmetic ---- */

/* torch.linspace(start, end, n, dtype=float32) as torch 1.13's CPU kernel
 * computes it on an AVX2 build: chunks of two 8-wide vectors, each
 * Vectorized::arange(base, step) with base = start + step*idx (first half)
 * or end - step*(n-1-idx) (second half), the compiler fusing a*b+c into FMAs
 * except for lane 1 (base + step) and lane 7 (base + 7*step, not fused);
 * the tail element by element. Reproduces torch bit for bit for the
 * 1000-entry schedules every Stable Diffusion config uses (other lengths
 * can differ in the last bit of a few entries). */
static void torch_linspace(float start, float end, uint32_t n, float *out)
{
    if (n == 1) {
        out[0] = start;
        return;
    }
    const float step = (end - start) / (float)(n - 1);
    const uint32_t half = n / 2;
    uint32_t idx = 0;
#define RV_LIN_SCALAR(i) ((i) < half ? fmaf(step, (float)(i), start) : fmaf(-step, (float)(n - (i) - 1), end))
    while (idx + 16 <= n) {
        for (int v = 0; v < 2; v++, idx += 8) {
            float base = RV_LIN_SCALAR(idx);
            out[idx] = base;
            out[idx + 1] = base + step;
            for (uint32_t j = 2; j < 7; j++)
                out[idx + j] = fmaf((float)j, step, base);
            float s7 = 7.0f * step;
            out[idx + 7] = base + s7;
        }
    }
    for (; idx < n; idx++)
        out[idx] = RV_LIN_SCALAR(idx);
#undef RV_LIN_SCALAR
}

/* np.interp(x, arange(len(fp)), fp) in float64 (x within the table). */
static double np_interp_grid(double x, const float *fp, uint32_t len)
{
    if (x <= 0)
        return fp[0];
    if (x >= (double)(len - 1))
        return fp[len - 1];
    uint32_t j = (uint32_t)floor(x);
    if (x == (double)j)
        return fp[j];
    double slope = ((double)fp[j + 1] - (double)fp[j]) / (double)((j + 1) - j);
    return slope * (x - (double)j) + (double)fp[j];
}

/* ---- config ---- */

static const char *const common_keys[] = {"num_train_timesteps", "beta_start", "beta_end", "beta_schedule",
                                          "trained_betas", "prediction_type", "timestep_spacing", "steps_offset",
                                          "rescale_betas_zero_snr", NULL};
static const char *const euler_keys[] = {"interpolation_type", "use_karras_sigmas", "use_exponential_sigmas",
                                         "use_beta_sigmas", "sigma_min", "sigma_max", "timestep_type",
                                         "final_sigmas_type", NULL};
static const char *const lcm_keys[] = {"original_inference_steps", "clip_sample", "clip_sample_range",
                                       "set_alpha_to_one", "thresholding", "dynamic_thresholding_ratio",
                                       "sample_max_value", "timestep_scaling", NULL};
/* Keys other schedulers' configs carry (PNDM, DDIM, DPM-Solver, ...) that
 * do not change these two; accepted when a config is reused across classes. */
static const char *const ignored_keys[] = {"skip_prk_steps", "set_alpha_to_one", "clip_sample", "sample_max_value",
                                           "clip_sample_range", "thresholding", "dynamic_thresholding_ratio",
                                           "variance_type", "solver_order", "algorithm_type", "lower_order_final",
                                           "solver_type", "use_lu_lambdas", "euler_at_final",
                                           "lambda_min_clipped", NULL};

static bool in_list(const char *const *list, const char *k)
{
    for (int i = 0; list[i]; i++)
        if (strcmp(list[i], k) == 0)
            return true;
    return false;
}

static void check_keys(rv_cfg *c, rv_sched_kind kind)
{
    for (const cJSON *e = c->root->child; e && !rv_cfg_failed(c); e = e->next) {
        const char *k = e->string;
        if (!k || k[0] == '_' || in_list(common_keys, k) ||
            in_list(kind == RV_SCHED_EULER ? euler_keys : lcm_keys, k) || in_list(ignored_keys, k))
            continue;
        rv_cfg_fail(c, k, "unknown option for %s (it may change the computation; refusing rather than guessing)",
                    rv_sched_kind_name(kind));
    }
}

/* One of `names` (NULL-terminated) -> its index; a failure names them. */
static int pick(rv_cfg *c, const char *key, const char *def, const char *const *names)
{
    const char *v = rv_cfg_str(c, key, def, false);
    for (int i = 0; names[i]; i++)
        if (strcmp(v, names[i]) == 0)
            return i;
    char list[256] = "";
    size_t n = 0;
    for (int i = 0; names[i] && n < sizeof(list); i++)
        n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", i ? ", " : "", names[i]);
    rv_cfg_fail(c, key, "\"%s\" is not supported (supported: %s)", v, list);
    return 0;
}

static void require_false(rv_cfg *c, const char *key, const char *what)
{
    if (rv_cfg_bool(c, key, false, false))
        rv_cfg_fail(c, key, "%s is not supported", what);
}

/* betas as diffusers builds them (float32). */
static void make_betas(rv_cfg *c, rv_scheduler *s, float *betas, const char *schedule, double b0, double b1)
{
    uint32_t n = s->num_train_timesteps;
    if (rv_cfg_has(c, "trained_betas")) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->root, "trained_betas");
        if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != (int)n) {
            rv_cfg_fail(c, "trained_betas", "expected a list of num_train_timesteps (%u) numbers", n);
            return;
        }
        uint32_t i = 0;
        for (const cJSON *e = v->child; e; e = e->next, i++) {
            if (!cJSON_IsNumber(e) || !(e->valuedouble >= 0.0 && e->valuedouble < 1.0)) {
                rv_cfg_fail(c, "trained_betas", "entry %u is not a number in [0, 1)", i);
                return;
            }
            betas[i] = (float)e->valuedouble;
        }
        return;
    }
    if (strcmp(schedule, "linear") == 0) {
        torch_linspace((float)b0, (float)b1, n, betas);
    } else if (strcmp(schedule, "scaled_linear") == 0) {
        torch_linspace((float)pow(b0, 0.5), (float)pow(b1, 0.5), n, betas); /* python's ** is pow() */
        for (uint32_t i = 0; i < n; i++)
            betas[i] = betas[i] * betas[i];
    } else {
        rv_cfg_fail(c, "beta_schedule", "\"%s\" is not supported (supported: linear, scaled_linear)", schedule);
    }
}

/* torch.cumprod(1 - betas) on the CPU: a double accumulator, each entry rounded to float32. */
static void cumprod(const float *betas, uint32_t n, float *out)
{
    double acc = 1.0;
    for (uint32_t i = 0; i < n; i++) {
        float a = 1.0f - betas[i];
        acc *= (double)a;
        out[i] = (float)acc;
    }
}

/* diffusers' rescale_zero_terminal_snr, in float32. */
static void rescale_zero_snr(float *betas, uint32_t n, float *scratch)
{
    cumprod(betas, n, scratch);
    for (uint32_t i = 0; i < n; i++)
        scratch[i] = sqrtf(scratch[i]);
    float a0 = scratch[0], at = scratch[n - 1];
    for (uint32_t i = 0; i < n; i++) {
        float v = (scratch[i] - at) * a0 / (a0 - at);
        scratch[i] = v * v; /* alphas_bar */
    }
    float prev = scratch[0];
    betas[0] = 1.0f - scratch[0];
    for (uint32_t i = 1; i < n; i++) {
        float a = scratch[i] / prev;
        prev = scratch[i];
        betas[i] = 1.0f - a;
    }
}

static void parse(rv_cfg *c, rv_scheduler *s, const char *override)
{
    const char *cls = rv_cfg_str(c, "_class_name", NULL, false);
    const char *use = override ? override : cls;
    if (!use) {
        rv_cfg_fail(c, "_class_name", "missing: name the scheduler class (or pick one with --scheduler)");
        return;
    }
    if (!rv_sched_kind_parse(use, &s->kind)) {
        if (override)
            rv_cfg_fail(c, NULL, "scheduler \"%s\" is not supported (EulerDiscreteScheduler or euler, LCMScheduler "
                                 "or lcm)", override);
        else
            rv_cfg_fail(c, "_class_name", "\"%s\" is not supported (EulerDiscreteScheduler, LCMScheduler; another "
                                          "can be chosen with --scheduler euler|lcm)", cls);
        return;
    }
    const bool lcm = s->kind == RV_SCHED_LCM;
    check_keys(c, s->kind);
    if (rv_cfg_failed(c))
        return;

    s->num_train_timesteps = rv_cfg_uint(c, "num_train_timesteps", 1000, false);
    double b0 = rv_cfg_num(c, "beta_start", lcm ? 0.00085 : 0.0001, false);
    double b1 = rv_cfg_num(c, "beta_end", lcm ? 0.012 : 0.02, false);
    const char *schedule = rv_cfg_str(c, "beta_schedule", lcm ? "scaled_linear" : "linear", false);
    static const char *const preds_euler[] = {"epsilon", "v_prediction", "sample", "original_sample", NULL};
    static const char *const preds_lcm[] = {"epsilon", "v_prediction", "sample", NULL};
    int p = pick(c, "prediction_type", "epsilon", lcm ? preds_lcm : preds_euler);
    s->prediction = p == 0 ? RV_PRED_EPSILON : p == 1 ? RV_PRED_V : RV_PRED_SAMPLE;
    static const char *const spacings[] = {"linspace", "leading", "trailing", NULL};
    s->spacing = (rv_spacing)pick(c, "timestep_spacing", lcm ? "leading" : "linspace", spacings);
    int64_t off = rv_cfg_int(c, "steps_offset", 0, false);
    bool zero_snr = rv_cfg_bool(c, "rescale_betas_zero_snr", false, false);
    if (lcm) {
        s->original_steps = rv_cfg_uint(c, "original_inference_steps", 50, false);
        s->clip_sample = rv_cfg_bool(c, "clip_sample", false, false);
        s->clip_sample_range = (float)rv_cfg_num(c, "clip_sample_range", 1.0, false);
        bool one = rv_cfg_bool(c, "set_alpha_to_one", true, false);
        require_false(c, "thresholding", "thresholding");
        s->timestep_scaling = (float)rv_cfg_num(c, "timestep_scaling", 10.0, false);
        rv_cfg_num(c, "dynamic_thresholding_ratio", 0.995, false);
        rv_cfg_num(c, "sample_max_value", 1.0, false);
        s->final_alpha_cumprod = one ? 1.0f : NAN; /* alphas_cumprod[0] below */
    } else {
        static const char *const interp[] = {"linear", NULL};
        static const char *const ttype[] = {"discrete", NULL};
        static const char *const finals[] = {"zero", "sigma_min", NULL};
        pick(c, "interpolation_type", "linear", interp);
        pick(c, "timestep_type", "discrete", ttype);
        s->final_sigma_min = pick(c, "final_sigmas_type", "zero", finals) == 1;
        require_false(c, "use_karras_sigmas", "use_karras_sigmas (Karras sigmas)");
        require_false(c, "use_exponential_sigmas", "use_exponential_sigmas");
        require_false(c, "use_beta_sigmas", "use_beta_sigmas");
        /* sigma_min / sigma_max only matter to the sigma variants refused above */
        if (rv_cfg_has(c, "sigma_min"))
            rv_cfg_num(c, "sigma_min", 0, false);
        if (rv_cfg_has(c, "sigma_max"))
            rv_cfg_num(c, "sigma_max", 0, false);
    }
    if (rv_cfg_failed(c))
        return;
    if (s->num_train_timesteps < 2 || s->num_train_timesteps > MAX_TRAIN_TIMESTEPS) {
        rv_cfg_fail(c, "num_train_timesteps", "%u is out of range (2 to %u)", s->num_train_timesteps,
                    MAX_TRAIN_TIMESTEPS);
        return;
    }
    if (off < 0 || off >= (int64_t)s->num_train_timesteps) {
        rv_cfg_fail(c, "steps_offset", "%lld is out of range", (long long)off);
        return;
    }
    s->steps_offset = (int32_t)off;
    if (!(b0 >= 0 && b1 > 0 && b0 < 1 && b1 < 1)) {
        rv_cfg_fail(c, "beta_end", "betas must lie in [0, 1) (beta_start %g, beta_end %g)", b0, b1);
        return;
    }
    if (lcm && (s->original_steps == 0 || s->original_steps > s->num_train_timesteps)) {
        rv_cfg_fail(c, "original_inference_steps", "%u must be 1 to num_train_timesteps (%u)", s->original_steps,
                    s->num_train_timesteps);
        return;
    }
    if (lcm && !(s->timestep_scaling > 0)) {
        rv_cfg_fail(c, "timestep_scaling", "must be positive");
        return;
    }
    uint32_t n = s->num_train_timesteps;
    float *betas = malloc(n * sizeof(float));
    float *scratch = malloc(n * sizeof(float));
    s->alphas_cumprod = malloc(n * sizeof(float));
    if (!betas || !scratch || !s->alphas_cumprod) {
        rv_error_set(c->err, RV_ERR_HOST_MEMORY, "scheduler: out of memory");
    } else {
        make_betas(c, s, betas, schedule, b0, b1);
        if (!rv_cfg_failed(c)) {
            if (zero_snr)
                rescale_zero_snr(betas, n, scratch);
            cumprod(betas, n, s->alphas_cumprod);
            if (zero_snr && !lcm)
                s->alphas_cumprod[n - 1] = 0x1p-24f; /* Euler: avoid an infinite sigma */
            if (lcm && isnan(s->final_alpha_cumprod))
                s->final_alpha_cumprod = s->alphas_cumprod[0];
            for (uint32_t i = 0; i < n; i++)
                if (!(s->alphas_cumprod[i] > 0)) {
                    rv_cfg_fail(c, "beta_end", "alphas_cumprod reaches 0 at timestep %u", i);
                    break;
                }
        }
    }
    free(betas);
    free(scratch);
}

static rv_status finish_load(rv_scheduler *s, rv_cfg *c, const char *override, rv_error *err)
{
    memset(s, 0, sizeof(*s));
    parse(c, s, override);
    rv_cfg_free(c);
    if (err->code != RV_OK)
        rv_scheduler_free(s);
    return err->code;
}

rv_status rv_scheduler_parse(rv_scheduler *s, const char *json, const char *name, const char *override,
                             rv_error *err)
{
    rv_error local = {0};
    err = err ? err : &local;
    memset(s, 0, sizeof(*s));
    rv_cfg c;
    rv_status st = rv_cfg_parse(&c, json, name, err);
    if (st)
        return st;
    return finish_load(s, &c, override, err);
}

rv_status rv_scheduler_load(rv_scheduler *s, const char *dir, const char *override, rv_error *err)
{
    rv_error local = {0};
    err = err ? err : &local;
    memset(s, 0, sizeof(*s));
    char path[1024];
    snprintf(path, sizeof(path), "%s/scheduler_config.json", dir);
    rv_cfg c;
    rv_status st = rv_cfg_load(&c, path, err);
    if (st)
        return st;
    return finish_load(s, &c, override, err);
}

void rv_scheduler_free(rv_scheduler *s)
{
    if (!s)
        return;
    free(s->alphas_cumprod);
    s->alphas_cumprod = NULL;
    s->steps = 0;
}

/* ---- timesteps ---- */

static rv_status euler_timesteps(rv_scheduler *s, int n, rv_error *err)
{
    const uint32_t nt = s->num_train_timesteps;
    float *t = s->timesteps;
    switch (s->spacing) {
    case RV_SPACING_LINSPACE: {
        /* np.linspace(0, nt - 1, n, dtype=float32)[::-1]: float64 i*step, the last exactly nt - 1 */
        double step = n > 1 ? (double)(nt - 1) / (double)(n - 1) : 0;
        for (int i = 0; i < n; i++) {
            double v = (n > 1 && i == n - 1) ? (double)(nt - 1) : (double)i * step;
            t[n - 1 - i] = (float)v;
        }
        break;
    }
    case RV_SPACING_LEADING: {
        uint32_t ratio = nt / (uint32_t)n;
        for (int i = 0; i < n; i++)
            t[n - 1 - i] = (float)((uint64_t)i * ratio) + (float)s->steps_offset;
        break;
    }
    case RV_SPACING_TRAILING: {
        /* np.arange(nt, 0, -nt / n).round() - 1: numpy fills start + i*delta,
         * delta = (start + step) - start; round half to even */
        double ratio = (double)nt / (double)n, start = (double)nt, stepv = -ratio;
        double len = ceil((0.0 - start) / stepv);
        if (len != (double)n)
            return rv_error_set(err, RV_ERR_INVALID, "scheduler: trailing spacing gives %.0f timesteps for %d steps",
                                len, n);
        double delta = (start + stepv) - start;
        for (int i = 0; i < n; i++) {
            double v = i == 0 ? start : i == 1 ? start + stepv : start + (double)i * delta;
            t[i] = (float)nearbyint(v) - 1.0f;
        }
        break;
    }
    }
    float *all = malloc(nt * sizeof(float));
    if (!all)
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "scheduler: out of memory");
    for (uint32_t k = 0; k < nt; k++)
        all[k] = sqrtf((1.0f - s->alphas_cumprod[k]) / s->alphas_cumprod[k]);
    float mx = 0;
    for (int i = 0; i < n; i++) {
        s->sigmas[i] = (float)np_interp_grid((double)t[i], all, nt);
        if (s->sigmas[i] > mx)
            mx = s->sigmas[i];
    }
    s->sigmas[n] = s->final_sigma_min ? all[0] : 0.0f;
    if (s->sigmas[n] > mx)
        mx = s->sigmas[n];
    free(all);
    s->init_noise_sigma = s->spacing == RV_SPACING_LEADING ? sqrtf(mx * mx + 1.0f) : mx;
    return RV_OK;
}

static rv_status lcm_timesteps(rv_scheduler *s, int n, rv_error *err)
{
    const uint32_t orig = s->original_steps, k = s->num_train_timesteps / orig;
    if ((uint32_t)n > orig || orig / (uint32_t)n < 1)
        return rv_error_set(err, RV_ERR_INVALID,
                            "scheduler: LCMScheduler: %d steps do not fit original_inference_steps %u", n, orig);
    /* origin = arange(1, orig + 1) * k - 1, reversed; indices floor(linspace(0, orig, n, endpoint=False)) */
    double step = (double)orig / (double)n;
    for (int i = 0; i < n; i++) {
        uint32_t idx = (uint32_t)floor((double)i * step);
        uint32_t origin = orig - idx; /* reversed: entry idx holds (orig - idx) * k - 1 */
        s->timesteps[i] = (float)(origin * k - 1);
    }
    s->init_noise_sigma = 1.0f;
    return RV_OK;
}

rv_status rv_scheduler_set_timesteps(rv_scheduler *s, int steps, rv_error *err)
{
    s->steps = 0;
    if (!s->alphas_cumprod)
        return rv_error_set(err, RV_ERR_INVALID, "scheduler: not loaded");
    if (steps < 1 || steps > RV_SCHED_MAX_STEPS || (uint32_t)steps > s->num_train_timesteps)
        return rv_error_set(err, RV_ERR_INVALID, "scheduler: %d steps (1 to %u)", steps,
                            s->num_train_timesteps < RV_SCHED_MAX_STEPS ? s->num_train_timesteps
                                                                         : RV_SCHED_MAX_STEPS);
    rv_status st = s->kind == RV_SCHED_LCM ? lcm_timesteps(s, steps, err) : euler_timesteps(s, steps, err);
    if (st)
        return st;
    for (int i = 0; i < steps; i++)
        if (!(s->timesteps[i] >= 0 && s->timesteps[i] < (float)s->num_train_timesteps))
            return rv_error_set(err, RV_ERR_INVALID, "scheduler: %d steps give timestep %g outside [0, %u)", steps,
                                (double)s->timesteps[i], s->num_train_timesteps);
    s->steps = steps;
    return RV_OK;
}

/* ---- steps ---- */

float rv_scheduler_input_scale(const rv_scheduler *s, int index)
{
    if (s->kind == RV_SCHED_LCM)
        return 1.0f;
    float sigma = s->sigmas[index];
    return (float)(1.0 / (double)sqrtf(sigma * sigma + 1.0f));
}

bool rv_scheduler_linear(const rv_scheduler *s) { return !(s->kind == RV_SCHED_LCM && s->clip_sample); }

bool rv_scheduler_step_noise(const rv_scheduler *s, int index)
{
    return s->kind == RV_SCHED_LCM && index != s->steps - 1;
}

typedef struct lcm_terms {
    float a_t, b_t, a_prev, b_prev, c_skip, c_out;
} lcm_terms;

static lcm_terms lcm_at(const rv_scheduler *s, int index)
{
    lcm_terms r;
    int t = (int)s->timesteps[index];
    int prev_t = index + 1 < s->steps ? (int)s->timesteps[index + 1] : t;
    r.a_t = s->alphas_cumprod[t];
    r.a_prev = prev_t >= 0 ? s->alphas_cumprod[prev_t] : s->final_alpha_cumprod;
    r.b_t = 1.0f - r.a_t;
    r.b_prev = 1.0f - r.a_prev;
    /* get_scalings_for_boundary_condition_discrete, sigma_data 0.5 */
    float st = (float)t * s->timestep_scaling;
    float den = st * st + 0.25f;
    r.c_skip = (1.0f / den) * 0.25f; /* python scalar / tensor is reciprocal() * scalar */
    r.c_out = st / sqrtf(den);
    return r;
}

void rv_scheduler_step_coefs(const rv_scheduler *s, int index, rv_sched_coefs *prev, rv_sched_coefs *x0)
{
    rv_sched_coefs p = {0}, x = {0};
    if (s->kind == RV_SCHED_EULER) {
        double sigma = s->sigmas[index], dt = (double)(s->sigmas[index + 1] - s->sigmas[index]);
        double q = sigma * sigma + 1.0;
        switch (s->prediction) {
        case RV_PRED_EPSILON: /* x0 = s - sigma*m; prev = s + m*dt */
            x = (rv_sched_coefs){1.0f, (float)-sigma, 0};
            p = (rv_sched_coefs){1.0f, (float)dt, 0};
            break;
        case RV_PRED_V: /* x0 = -sigma/sqrt(q) m + s/q; prev = s + (s - x0)/sigma*dt */
            x = (rv_sched_coefs){(float)(1.0 / q), (float)(-sigma / sqrt(q)), 0};
            p = (rv_sched_coefs){(float)(1.0 + dt * sigma / q), (float)(dt / sqrt(q)), 0};
            break;
        case RV_PRED_SAMPLE:
            x = (rv_sched_coefs){0, 1.0f, 0};
            p = (rv_sched_coefs){(float)(1.0 + dt / sigma), (float)(-dt / sigma), 0};
            break;
        }
    } else {
        lcm_terms r = lcm_at(s, index);
        double sa = sqrt((double)r.a_t), sb = sqrt((double)r.b_t);
        switch (s->prediction) {
        case RV_PRED_EPSILON:
            x = (rv_sched_coefs){(float)(1.0 / sa), (float)(-sb / sa), 0};
            break;
        case RV_PRED_V:
            x = (rv_sched_coefs){(float)sa, (float)-sb, 0};
            break;
        case RV_PRED_SAMPLE:
            x = (rv_sched_coefs){0, 1.0f, 0};
            break;
        }
        /* denoised = c_out*x0 + c_skip*s */
        double ds = (double)r.c_out * x.sample + r.c_skip, dm = (double)r.c_out * x.model;
        if (rv_scheduler_step_noise(s, index)) {
            double ap = sqrt((double)r.a_prev), bp = sqrt((double)r.b_prev);
            p = (rv_sched_coefs){(float)(ap * ds), (float)(ap * dm), (float)bp};
        } else {
            p = (rv_sched_coefs){(float)ds, (float)dm, 0};
        }
        /* x0 reports `denoised`, what LCM pipelines decode */
        x = (rv_sched_coefs){(float)ds, (float)dm, 0};
    }
    if (prev)
        *prev = p;
    if (x0)
        *x0 = x;
}

void rv_scheduler_step_host(const rv_scheduler *s, int index, const float *m, const float *smp, const float *noise,
                            float *prev, float *x0, size_t n)
{
    if (s->kind == RV_SCHED_EULER) {
        const float sigma = s->sigmas[index];
        const float dt = s->sigmas[index + 1] - sigma;
        const float q = sigma * sigma + 1.0f;
        const float vc = -sigma / sqrtf(q);
        for (size_t i = 0; i < n; i++) {
            float x;
            if (s->prediction == RV_PRED_EPSILON)
                x = smp[i] - sigma * m[i];
            else if (s->prediction == RV_PRED_V)
                x = m[i] * vc + smp[i] / q;
            else
                x = m[i];
            float d = (smp[i] - x) / sigma;
            prev[i] = smp[i] + d * dt;
            if (x0)
                x0[i] = x;
        }
        return;
    }
    lcm_terms r = lcm_at(s, index);
    const float sa = sqrtf(r.a_t), sb = sqrtf(r.b_t), sap = sqrtf(r.a_prev), sbp = sqrtf(r.b_prev);
    const bool add = rv_scheduler_step_noise(s, index);
    for (size_t i = 0; i < n; i++) {
        float x;
        if (s->prediction == RV_PRED_EPSILON)
            x = (smp[i] - sb * m[i]) / sa;
        else if (s->prediction == RV_PRED_SAMPLE)
            x = m[i];
        else
            x = sa * smp[i] - sb * m[i];
        if (s->clip_sample)
            x = fminf(fmaxf(x, -s->clip_sample_range), s->clip_sample_range);
        float den = r.c_out * x + r.c_skip * smp[i];
        prev[i] = add ? sap * den + sbp * (noise ? noise[i] : 0.0f) : den;
        if (x0)
            x0[i] = den;
    }
}

void rv_scheduler_add_noise_coefs(const rv_scheduler *s, int index, rv_sched_coefs *c)
{
    if (s->kind == RV_SCHED_EULER) {
        *c = (rv_sched_coefs){1.0f, 0, s->sigmas[index]};
        return;
    }
    float a = s->alphas_cumprod[(int)s->timesteps[index]];
    *c = (rv_sched_coefs){sqrtf(a), 0, sqrtf(1.0f - a)};
}

int rv_scheduler_img2img_start(int steps, float strength)
{
    if (!(strength > 0.0f) || steps < 1)
        return -1;
    double init = floor((double)steps * (double)strength);
    if (init > steps)
        init = steps;
    int start = steps - (int)init;
    if (start < 0)
        start = 0;
    return start >= steps ? -1 : start;
}

void rv_guidance_embedding(float w, uint32_t dim, float *out)
{
    float ww = w * 1000.0f;
    uint32_t half = dim / 2;
    float step = half > 1 ? logf(10000.0f) / (float)(half - 1) : 0.0f;
    for (uint32_t i = 0; i < half; i++) {
        float f = expf((float)i * -step);
        float a = ww * f;
        out[i] = sinf(a);
        out[half + i] = cosf(a);
    }
    if (dim % 2)
        out[dim - 1] = 0.0f;
}
