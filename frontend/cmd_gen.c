/* `reverie gen`: one text-to-image generation from a diffusers folder to a
 * PNG (with the generation parameters in text chunks), optionally from a
 * given initial noise and writing the final latent; prints the GPU time of
 * each part. A thin shell over engine/gen.h: not the story player. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "engine/gen.h"
#include "util/rv_png.h"

static void help(void)
{
    printf("usage: reverie gen [--model DIR] \"prompt\" [-o out.png] [options] [GPU options]\n\n"
           "Generates one image from a diffusers folder (text encoder, UNet, scheduler,\n"
           "TAESD and/or VAE) entirely on the GPU and writes a PNG whose text chunks hold\n"
           "the parameters. Prints the GPU time of each part (text, stepN = UNet, schedN =\n"
           "guidance + scheduler step, decode, rgba).\n"
           "  --model DIR         the diffusers folder (default: the shipped\n"
           "                      models/reverie-tiny, or $REVERIE_MODEL)\n"
           "  -o FILE             output PNG (default reverie-gen.png)\n"
           "  --steps N           denoising steps (default: 4 with LCMScheduler, 1 with\n"
           "                      trailing timestep spacing (SD-Turbo), else 25)\n"
           "  --seed N            noise seed, 0 to 2^64-1 (default 0): Philox4x32-10 +\n"
           "                      Box-Muller, the same image on every run and device\n"
           "  --width W --height H  pixels, multiples of the decoder's scale (default: the\n"
           "                      UNet's sample_size times that scale)\n"
           "  --guidance G        classifier-free guidance scale; > 1 runs the UNet on\n"
           "                      [negative, prompt] (default 0: off)\n"
           "  --negative TEXT     negative prompt with guidance (default \"\")\n"
           "  --decoder tiny|vae  TAESD or the full VAE (default: TAESD when present)\n"
           "  --scheduler NAME    euler or lcm instead of the config's class\n"
           "  --clip-skip N       skip the text encoder's last N layers (default 0)\n"
           "  --noise-file FILE   initial noise instead of the seed's: raw little-endian\n"
           "                      float32 [1][C][H/s][W/s], standard normal (it is scaled\n"
           "                      by the scheduler's init_noise_sigma, as diffusers'\n"
           "                      latents= argument); LCM's per-step noise still comes\n"
           "                      from the seed\n"
           "  --latent-out FILE   write the final latent the same way\n"
           "  --variant NAME      weight files like *.fp16.safetensors\n"
           "  --profile           also print every model stage's GPU time, slowest first\n"
           "                      (and each pipeline's, with RV_PROFILE_OPS=1 in the environment)\n"
           "Prompts longer than CLIP's 77 tokens are cut with a warning.\n"
           "Exit status: 1 bad arguments or input files, 2 device or model errors.\n\n%s",
           rv_cli_gpu_help);
}

typedef struct gen_opts {
    const char *model, *prompt, *out, *negative, *scheduler, *noise_file, *latent_out, *variant;
    long steps;
    uint64_t seed;
    long width, height;
    double guidance;
    long clip_skip;
    rv_decoder_kind decoder;
    bool profile;
} gen_opts;

static int by_ms_desc(const void *a, const void *b)
{
    double x = ((const rv_stage_time *)a)->ms, y = ((const rv_stage_time *)b)->ms;
    return (x < y) - (x > y);
}

/* --profile: every model stage's GPU time, the slowest first. */
static void print_profile(const rv_gen_result *res)
{
    rv_stage_time s[RV_GEN_MAX_STAGES];
    int n = res->ndetail < RV_GEN_MAX_STAGES ? res->ndetail : RV_GEN_MAX_STAGES;
    double total = 0;
    memcpy(s, res->detail, (size_t)n * sizeof(s[0]));
    for (int i = 0; i < n; i++)
        total += s[i].ms;
    qsort(s, (size_t)n, sizeof(s[0]), by_ms_desc);
    printf("profile: %d stages, %.2f ms\n", n, total);
    for (int i = 0; i < n; i++)
        printf("  %-32s %9.3f ms %5.1f%%\n", s[i].name, s[i].ms, total > 0 ? 100 * s[i].ms / total : 0.0);
    if (res->nops == 0)
        return;
    double ops = 0;
    for (int i = 0; i < res->nops; i++)
        ops += res->ops[i].ms;
    printf("pipelines (RV_PROFILE_OPS=1): %.2f ms\n", ops);
    for (int i = 0; i < res->nops; i++) /* sorted per submission; merged sums are near that order */
        printf("  %-20s %5d dispatches %9.3f ms %5.1f%%\n", res->ops[i].name, res->ops[i].dispatches, res->ops[i].ms,
               ops > 0 ? 100 * res->ops[i].ms / ops : 0.0);
}

static bool parse_long(const char *opt, const char *v, long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (!*v || !end || *end || errno || x < lo || x > hi) {
        fprintf(stderr, "reverie gen: %s must be an integer from %ld to %ld, not \"%s\"\n", opt, lo, hi, v);
        return false;
    }
    *out = x;
    return true;
}

static int exit_code(rv_status s)
{
    switch (s) {
    case RV_ERR_NO_DEVICE:
    case RV_ERR_DEVICE_MEMORY:
    case RV_ERR_DEVICE_LOST:
    case RV_ERR_PIPELINE:
    case RV_ERR_VULKAN:
    case RV_ERR_UNSUPPORTED:
    case RV_ERR_HOST_MEMORY:
        return 2;
    default:
        return 1;
    }
}

static int parse(int argc, char **argv, gen_opts *o, rv_gpu_desc *desc)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (rv_cli_is_help(a)) {
            help();
            return 0;
        }
        int g = rv_cli_gpu_option(argc, argv, &i, desc);
        if (g < 0)
            return 1;
        if (g > 0)
            continue;
        if (strcmp(a, "--profile") == 0) {
            o->profile = true;
            continue;
        }
        if (a[0] == '-' && a[1] != 0) {
            static const char *const with_value[] = {"--model", "-o", "--steps", "--seed", "--width", "--height",
                                                     "--guidance", "--negative", "--decoder", "--scheduler",
                                                     "--noise-file", "--latent-out", "--clip-skip", "--variant",
                                                     NULL};
            bool known = false;
            for (int k = 0; with_value[k] && !known; k++)
                known = strcmp(a, with_value[k]) == 0;
            if (!known) {
                fprintf(stderr, "reverie gen: unknown option \"%s\" (see --help)\n", a);
                return 1;
            }
            if (i + 1 >= argc) {
                fprintf(stderr, "reverie gen: %s needs a value\n", a);
                return 1;
            }
            const char *v = argv[++i];
            if (strcmp(a, "--model") == 0) {
                o->model = v;
            } else if (strcmp(a, "-o") == 0) {
                o->out = v;
            } else if (strcmp(a, "--steps") == 0) {
                if (!parse_long(a, v, 1, RV_SCHED_MAX_STEPS, &o->steps))
                    return 1;
            } else if (strcmp(a, "--seed") == 0) {
                char *end = NULL;
                errno = 0;
                unsigned long long s = strtoull(v, &end, 10);
                if (!*v || *v == '-' || !end || *end || errno) {
                    fprintf(stderr, "reverie gen: --seed must be an integer from 0 to 2^64-1, not \"%s\"\n", v);
                    return 1;
                }
                o->seed = s;
            } else if (strcmp(a, "--width") == 0) {
                if (!parse_long(a, v, 1, 16384, &o->width))
                    return 1;
            } else if (strcmp(a, "--height") == 0) {
                if (!parse_long(a, v, 1, 16384, &o->height))
                    return 1;
            } else if (strcmp(a, "--guidance") == 0) {
                char *end = NULL;
                o->guidance = strtod(v, &end);
                if (!*v || !end || *end || !isfinite(o->guidance) || o->guidance < 0 || o->guidance > 100) {
                    fprintf(stderr, "reverie gen: --guidance must be a number from 0 to 100, not \"%s\"\n", v);
                    return 1;
                }
            } else if (strcmp(a, "--negative") == 0) {
                o->negative = v;
            } else if (strcmp(a, "--decoder") == 0) {
                if (strcmp(v, "tiny") == 0 || strcmp(v, "taesd") == 0)
                    o->decoder = RV_DECODER_TINY;
                else if (strcmp(v, "vae") == 0)
                    o->decoder = RV_DECODER_VAE;
                else {
                    fprintf(stderr, "reverie gen: --decoder must be tiny or vae, not \"%s\"\n", v);
                    return 1;
                }
            } else if (strcmp(a, "--scheduler") == 0) {
                rv_sched_kind k;
                if (!rv_sched_kind_parse(v, &k)) {
                    fprintf(stderr, "reverie gen: --scheduler must be euler or lcm (or EulerDiscreteScheduler, "
                                    "LCMScheduler), not \"%s\"\n", v);
                    return 1;
                }
                o->scheduler = v;
            } else if (strcmp(a, "--noise-file") == 0) {
                o->noise_file = v;
            } else if (strcmp(a, "--latent-out") == 0) {
                o->latent_out = v;
            } else if (strcmp(a, "--clip-skip") == 0) {
                if (!parse_long(a, v, 0, 64, &o->clip_skip))
                    return 1;
            } else if (strcmp(a, "--variant") == 0) {
                o->variant = v;
            }
        } else if (!o->prompt) {
            o->prompt = a;
        } else {
            fprintf(stderr, "reverie gen: one prompt at a time (quote it): \"%s\"\n", a);
            return 1;
        }
    }
    if (!o->prompt) {
        fprintf(stderr, "usage: reverie gen [--model DIR] \"prompt\" [-o out.png] (see --help)\n");
        return 1;
    }
    if (!o->model)
        o->model = rv_cli_default_model();
    return -1;
}

/* Raw little-endian float32, exactly n values. */
static int read_latent(const char *path, float *out, uint64_t n, const char *shape)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "reverie gen: --noise-file %s: %s\n", path, strerror(errno));
        return 1;
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || (uint64_t)sb.st_size != n * 4) {
        fprintf(stderr, "reverie gen: --noise-file %s has %lld bytes; the latent [%s] float32 needs %llu bytes\n",
                path, (long long)sb.st_size, shape, (unsigned long long)(n * 4));
        fclose(f);
        return 1;
    }
    for (uint64_t i = 0; i < n; i++) {
        unsigned char b[4];
        if (fread(b, 1, 4, f) != 4) {
            fprintf(stderr, "reverie gen: --noise-file %s: short read\n", path);
            fclose(f);
            return 1;
        }
        uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        memcpy(&out[i], &u, 4);
        if (!isfinite(out[i])) {
            fprintf(stderr, "reverie gen: --noise-file %s: value %llu is not finite\n", path, (unsigned long long)i);
            fclose(f);
            return 1;
        }
    }
    fclose(f);
    return 0;
}

static int write_latent(const char *path, const float *v, uint64_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "reverie gen: --latent-out %s: %s\n", path, strerror(errno));
        return 1;
    }
    bool ok = true;
    for (uint64_t i = 0; i < n && ok; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        unsigned char b[4] = {(unsigned char)u, (unsigned char)(u >> 8), (unsigned char)(u >> 16),
                              (unsigned char)(u >> 24)};
        ok = fwrite(b, 1, 4, f) == 4;
    }
    if (fclose(f) != 0 || !ok) {
        fprintf(stderr, "reverie gen: --latent-out %s: write failed\n", path);
        return 1;
    }
    return 0;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int default_steps(const rv_scheduler *s)
{
    if (s->kind == RV_SCHED_LCM)
        return 4;
    return s->spacing == RV_SPACING_TRAILING ? 1 : 25;
}

int rv_cmd_gen_main(int argc, char **argv)
{
    gen_opts o = {.out = "reverie-gen.png"};
    rv_gpu_desc desc = {0};
    int rc = parse(argc, argv, &o, &desc);
    if (rc >= 0)
        return rc;
    struct stat sb;
    if (stat(o.model, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "reverie gen: model %s: no such model folder%s\n", o.model,
                getenv("REVERIE_MODEL") ? " ($REVERIE_MODEL)" : "");
        return 1;
    }

    rv_gpu *gpu = NULL;
    rv_gen *gen = NULL;
    rv_gen_plan *plan = NULL;
    float *noise = NULL, *lat = NULL;
    uint32_t *rgba = NULL;
    rv_error err = {0};
    rc = rv_cli_gpu_create(&gpu, &desc);
    if (rc)
        return rc;
    double t0 = now();
    rv_gen_desc gd = {.model_dir = o.model, .scheduler = o.scheduler, .variant = o.variant,
                      .vae = o.decoder == RV_DECODER_VAE, .tiny = o.decoder == RV_DECODER_TINY};
    rv_status s = rv_gen_load(&gen, gpu, &gd, &err);
    if (s)
        goto fail;
    double t1 = now();

    int steps = o.steps ? (int)o.steps : default_steps(&gen->sched);
    uint32_t f = gen->factor, side = gen->unet->cfg.sample_size ? gen->unet->cfg.sample_size * f : 64 * f;
    rv_gen_plan_desc pd = {.width = o.width ? (uint32_t)o.width : side, .height = o.height ? (uint32_t)o.height : side,
                           .steps = steps, .cfg = rv_gen_uses_cfg(gen, (float)o.guidance), .decoder = o.decoder};
    if ((uint32_t)o.clip_skip >= gen->te->cfg.num_hidden_layers) {
        fprintf(stderr, "reverie gen: --clip-skip %ld: the text encoder has %u layers\n", o.clip_skip,
                gen->te->cfg.num_hidden_layers);
        rc = 1;
        goto done;
    }
    s = rv_gen_plan_create(gen, &pd, &plan, &err);
    if (s)
        goto fail;

    /* the prompt must say something; a long one is cut like diffusers does */
    int32_t ids[RV_TOKENIZER_MAX_LENGTH];
    int ntok = 0;
    s = rv_tokenizer_encode(gen->tok, o.prompt, ids, &ntok, &err);
    if (s)
        goto fail;
    if (ntok <= 2) {
        fprintf(stderr, "reverie gen: the prompt is empty (it has no tokens)\n");
        rc = 1;
        goto done;
    }
    if (ntok > RV_TOKENIZER_MAX_LENGTH)
        fprintf(stderr, "reverie gen: warning: the prompt has %d tokens; CLIP reads %d, the last %d are ignored\n",
                ntok - 2, RV_TOKENIZER_MAX_LENGTH - 2, ntok - RV_TOKENIZER_MAX_LENGTH);

    char shape[64];
    snprintf(shape, sizeof(shape), "1, %u, %u, %u", gen->latent_channels, plan->lh, plan->lw);
    if (o.noise_file) {
        noise = malloc(plan->nlat * sizeof(float));
        if (!noise) {
            s = rv_error_set(&err, RV_ERR_HOST_MEMORY, "out of memory");
            goto fail;
        }
        rc = read_latent(o.noise_file, noise, plan->nlat, shape);
        if (rc)
            goto done;
    }

    rv_gen_params prm = {.prompt = o.prompt, .negative = o.negative, .steps = steps, .guidance = (float)o.guidance,
                         .clip_skip = (uint32_t)o.clip_skip, .seed = o.seed, .noise = noise};
    rv_gen_result res;
    double t2 = now();
    s = rv_gen_run(gen, plan, &prm, &res, &err);
    if (s)
        goto fail;
    double t3 = now();
    lat = malloc(plan->nlat * sizeof(float));
    rgba = malloc((size_t)pd.width * pd.height * sizeof(uint32_t));
    if (!lat || !rgba) {
        s = rv_error_set(&err, RV_ERR_HOST_MEMORY, "out of memory");
        goto fail;
    }
    s = rv_gen_read_latents(gen, plan, lat, &err);
    if (!s)
        s = rv_gen_read_rgba(gen, plan, rgba, &err);
    if (s)
        goto fail;

    const rv_device_info *info = rv_gpu_info(gpu);
    const char *sched = rv_sched_kind_name(gen->sched.kind), *dec = rv_decoder_kind_name(plan->decoder);
    printf("gen: %ux%u pixels (%ux%u latent), %d step%s, %s, guidance %g, seed %llu%s, decoder %s, %s on %s\n",
           pd.width, pd.height, plan->lw, plan->lh, steps, steps == 1 ? "" : "s", sched, o.guidance,
           (unsigned long long)o.seed, o.noise_file ? " (initial noise from file)" : "", dec,
           rv_dtype_name(rv_gpu_dtype(gpu)), info->name);
    double total = 0;
    printf("GPU time per part:");
    for (int i = 0; i < res.nstages; i++) {
        printf(" %s %.2f ms%s", res.stages[i].name, res.stages[i].ms, i + 1 < res.nstages ? "," : "");
        total += res.stages[i].ms;
    }
    printf("\nGPU total %.2f ms in %d command buffer%s; wall: load %.2f s, generate %.3f s\n", total,
           res.submissions, res.submissions == 1 ? "" : "s", t1 - t0, t3 - t2);
    if (o.profile)
        print_profile(&res);

    /* parameters and provenance; no time stamp, so the same inputs give the same file */
    char steps_s[16], seed_s[32], size_s[32], guid_s[32], skip_s[16], params[2048], comment[1200];
    snprintf(steps_s, sizeof(steps_s), "%d", steps);
    snprintf(seed_s, sizeof(seed_s), "%llu", (unsigned long long)o.seed);
    snprintf(size_s, sizeof(size_s), "%ux%u", pd.width, pd.height);
    snprintf(guid_s, sizeof(guid_s), "%g", o.guidance);
    snprintf(skip_s, sizeof(skip_s), "%ld", o.clip_skip);
    snprintf(params, sizeof(params), "%s\nSteps: %d, Sampler: %s, CFG scale: %g, Seed: %llu, Size: %s, Model: %s, "
                                     "Decoder: %s, Clip skip: %ld",
             o.prompt, steps, sched, o.guidance, (unsigned long long)o.seed, size_s, o.model, dec, o.clip_skip);
    snprintf(comment, sizeof(comment), "initial noise: %s; storage %s; device %s",
             o.noise_file ? o.noise_file : "seed (Philox4x32-10 + Box-Muller)", rv_dtype_name(rv_gpu_dtype(gpu)),
             info->name);
    rv_png_text text[] = {
        {"prompt", o.prompt},   {"negative_prompt", o.negative ? o.negative : ""},
        {"seed", seed_s},       {"steps", steps_s},
        {"guidance", guid_s},   {"scheduler", sched},
        {"size", size_s},       {"model", o.model},
        {"decoder", dec},       {"clip_skip", skip_s},
        {"parameters", params}, {"Software", "Reverie 0.1.0 (reverie gen)"},
        {"Source", o.model},    {"Comment", comment},
    };
    s = rv_png_write(o.out, rgba, pd.width, pd.height, text, (int)(sizeof(text) / sizeof(text[0])), &err);
    if (s) {
        fprintf(stderr, "reverie gen: %s\n", err.msg);
        rc = 1;
        goto done;
    }
    printf("wrote %s\n", o.out);
    if (o.latent_out) {
        rc = write_latent(o.latent_out, lat, plan->nlat);
        if (rc)
            goto done;
        printf("wrote %s (float32 [%s])\n", o.latent_out, shape);
    }
    if (rv_gpu_validation_count(gpu) > 0) {
        fprintf(stderr, "reverie gen: %d validation message(s)\n", rv_gpu_validation_count(gpu));
        rc = 3;
    }
    goto done;
fail:
    fprintf(stderr, "reverie gen: %s: %s\n", rv_status_name(s), err.msg);
    rc = exit_code(s);
done:
    free(noise);
    free(lat);
    free(rgba);
    rv_gen_plan_destroy(plan);
    rv_gen_unload(gen);
    rv_gpu_destroy(gpu);
    return rc;
}
