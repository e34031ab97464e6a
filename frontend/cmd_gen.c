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
#include "rv_engine.h"
#include "rv_latent_file.h"
#include "rv_media.h"

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
           "  --tiny-decoder DIR  an AutoencoderTiny folder (TAESD as published) for a model\n"
           "                      that ships none\n"
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
           "  --allow-nonfinite   load checkpoints that hold NaN or Inf weights (refused by\n"
           "                      default, naming the file and tensor)\n"
           "  --                  ends the options: `reverie gen -- \"-a prompt with a dash\"`\n"
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
    bool allow_nonfinite;   /* --allow-nonfinite: load checkpoints holding NaN/Inf weights */
    const char *tiny_decoder; /* --tiny-decoder DIR: an AutoencoderTiny folder from elsewhere */
} gen_opts;

static int by_ms_desc(const void *a, const void *b)
{
    double x = ((const rv_stage_ms *)a)->ms, y = ((const rv_stage_ms *)b)->ms;
    return (x < y) - (x > y);
}

/* --profile: every model stage's GPU time, the slowest first. */
static void print_profile(const rv_gen_report *rep)
{
    rv_stage_ms s[RV_GEN_MAX_DETAIL];
    int n = rep->ndetail < RV_GEN_MAX_DETAIL ? rep->ndetail : RV_GEN_MAX_DETAIL;
    double total = 0;
    memcpy(s, rep->detail, (size_t)n * sizeof(s[0]));
    for (int i = 0; i < n; i++)
        total += s[i].ms;
    qsort(s, (size_t)n, sizeof(s[0]), by_ms_desc);
    printf("profile: %d stages, %.2f ms\n", n, total);
    for (int i = 0; i < n; i++)
        printf("  %-32s %9.3f ms %5.1f%%\n", s[i].name, s[i].ms, total > 0 ? 100 * s[i].ms / total : 0.0);
    if (rep->nops == 0)
        return;
    double ops = 0;
    for (int i = 0; i < rep->nops; i++)
        ops += rep->ops[i].ms;
    printf("pipelines (RV_PROFILE_OPS=1): %.2f ms\n", ops);
    for (int i = 0; i < rep->nops; i++) /* sorted per submission; merged sums are near that order */
        printf("  %-20s %5d dispatches %9.3f ms %5.1f%%\n", rep->ops[i].name, rep->ops[i].dispatches, rep->ops[i].ms,
               ops > 0 ? 100 * rep->ops[i].ms / ops : 0.0);
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

enum {
    OPT_MODEL = 256, OPT_OUT, OPT_STEPS, OPT_SEED, OPT_WIDTH, OPT_HEIGHT, OPT_GUIDANCE, OPT_NEGATIVE, OPT_DECODER,
    OPT_SCHEDULER, OPT_NOISE_FILE, OPT_LATENT_OUT, OPT_CLIP_SKIP, OPT_VARIANT, OPT_PROFILE, OPT_ALLOW_NONFINITE, OPT_TINY_DECODER,
};

static const rv_cli_opt gen_options[] = {
    {"model", 0, true, OPT_MODEL},           {NULL, 'o', true, OPT_OUT},
    {"steps", 0, true, OPT_STEPS},           {"seed", 0, true, OPT_SEED},
    {"width", 0, true, OPT_WIDTH},           {"height", 0, true, OPT_HEIGHT},
    {"guidance", 0, true, OPT_GUIDANCE},     {"negative", 0, true, OPT_NEGATIVE},
    {"decoder", 0, true, OPT_DECODER},       {"scheduler", 0, true, OPT_SCHEDULER},
    {"noise-file", 0, true, OPT_NOISE_FILE}, {"latent-out", 0, true, OPT_LATENT_OUT},
    {"clip-skip", 0, true, OPT_CLIP_SKIP},   {"variant", 0, true, OPT_VARIANT},
    {"profile", 0, false, OPT_PROFILE},      {"allow-nonfinite", 0, false, OPT_ALLOW_NONFINITE},
    {"tiny-decoder", 0, true, OPT_TINY_DECODER},
    {0},
};

/* The command line into gen_opts and the GPU desc: 0 after --help, 1 on a
 * bad argument (message printed), -1 to go on. */
static int parse(int argc, char **argv, gen_opts *o, rv_gpu_desc *desc)
{
    rv_cli_parser p;
    rv_cli_parser_init(&p, "gen", gen_options, desc, argc, argv);
    for (int c; (c = rv_cli_next(&p)) != RV_CLI_END;) {
        const char *v = p.value;
        switch (c) {
        case RV_CLI_HELP:
            help();
            return 0;
        case RV_CLI_ERROR:
            return 1;
        case OPT_MODEL:
            o->model = v;
            break;
        case OPT_OUT:
            o->out = v;
            break;
        case OPT_STEPS:
            if (!rv_cli_long(&p, 1, RV_ENGINE_MAX_STEPS, &o->steps))
                return 1;
            break;
        case OPT_SEED:
            if (!rv_cli_u64(&p, &o->seed))
                return 1;
            break;
        case OPT_WIDTH:
            if (!rv_cli_long(&p, 1, 16384, &o->width))
                return 1;
            break;
        case OPT_HEIGHT:
            if (!rv_cli_long(&p, 1, 16384, &o->height))
                return 1;
            break;
        case OPT_GUIDANCE:
            if (!rv_cli_double(&p, 0, 100, &o->guidance))
                return 1;
            break;
        case OPT_NEGATIVE:
            o->negative = v;
            break;
        case OPT_DECODER:
            if (strcmp(v, "tiny") == 0 || strcmp(v, "taesd") == 0)
                o->decoder = RV_DECODER_TINY;
            else if (strcmp(v, "vae") == 0)
                o->decoder = RV_DECODER_VAE;
            else {
                fprintf(stderr, "reverie gen: --decoder must be tiny or vae, not \"%s\"\n", v);
                return 1;
            }
            break;
        case OPT_SCHEDULER: {
            if (!rv_engine_scheduler_known(v)) {
                fprintf(stderr, "reverie gen: --scheduler must be euler or lcm (or EulerDiscreteScheduler, "
                                "LCMScheduler), not \"%s\"\n", v);
                return 1;
            }
            o->scheduler = v;
            break;
        }
        case OPT_NOISE_FILE:
            o->noise_file = v;
            break;
        case OPT_LATENT_OUT:
            o->latent_out = v;
            break;
        case OPT_CLIP_SKIP:
            if (!rv_cli_long(&p, 0, 64, &o->clip_skip))
                return 1;
            break;
        case OPT_VARIANT:
            o->variant = v;
            break;
        case OPT_PROFILE:
            o->profile = true;
            break;
        case OPT_ALLOW_NONFINITE:
            o->allow_nonfinite = true;
            break;
        case OPT_TINY_DECODER:
            o->tiny_decoder = v;
            break;
        }
    }
    if (p.operand < argc)
        o->prompt = argv[p.operand];
    if (argc - p.operand > 1) {
        fprintf(stderr, "reverie gen: one prompt at a time (quote it): \"%s\"\n", argv[p.operand + 1]);
        return 1;
    }
    if (!o->prompt) {
        fprintf(stderr, "usage: reverie gen [--model DIR] \"prompt\" [-o out.png] (see --help)\n");
        return 1;
    }
    if (!o->model)
        o->model = rv_cli_default_model();
    return -1;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int rv_cmd_gen_main(int argc, char **argv)
{
    gen_opts o = {.out = "reverie-gen.png"};
    rv_engine_desc ed = {0};
    int rc = parse(argc, argv, &o, &ed.gpu);
    if (rc >= 0)
        return rc;
    rc = 0;
    struct stat sb;
    if (stat(o.model, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "reverie gen: model %s: no such model folder%s\n", o.model,
                getenv("REVERIE_MODEL") ? " ($REVERIE_MODEL)" : "");
        return 1;
    }

    rv_engine *e = NULL;
    float *noise = NULL;
    rv_gen_report rep = {0};
    rv_error err = {0};
    double t0 = now();
    ed.model_dir = o.model;
    ed.scheduler = o.scheduler;
    ed.variant = o.variant;
    ed.vae = o.decoder == RV_DECODER_VAE;
    ed.tiny = o.decoder == RV_DECODER_TINY;
    ed.allow_nonfinite = o.allow_nonfinite;
    ed.tiny_decoder = o.tiny_decoder;
    rv_status s = rv_engine_create(&e, &ed, &err);
    if (s)
        goto fail;
    double t1 = now();
    rv_engine_info info;
    rv_engine_get_info(e, &info);
    if (info.nonfinite_tensors)
        fprintf(stderr, "reverie gen: warning: %d weight tensor%s NaN or Inf (--allow-nonfinite)\n",
                info.nonfinite_tensors, info.nonfinite_tensors == 1 ? " holds" : "s hold");

    const int steps = o.steps ? (int)o.steps : info.default_steps;
    const uint32_t width = o.width ? (uint32_t)o.width : info.default_width;
    const uint32_t height = o.height ? (uint32_t)o.height : info.default_height;
    if ((uint32_t)o.clip_skip >= info.text_layers) {
        fprintf(stderr, "reverie gen: --clip-skip %ld: the text encoder has %u layers\n", o.clip_skip,
                info.text_layers);
        rc = 1;
        goto done;
    }

    /* the prompt must say something; a long one is cut like diffusers does */
    int ntok = 0;
    s = rv_engine_count_tokens(e, o.prompt, &ntok, &err);
    if (s)
        goto fail;
    if (ntok <= 2) {
        fprintf(stderr, "reverie gen: the prompt is empty (it has no tokens)\n");
        rc = 1;
        goto done;
    }
    if (ntok > 77)
        fprintf(stderr, "reverie gen: warning: the prompt has %d tokens; CLIP reads %d, the last %d are ignored\n",
                ntok - 2, 77 - 2, ntok - 77);

    char shape[64];
    const uint32_t lh = height / info.factor, lw = width / info.factor;
    const uint64_t nlat = (uint64_t)info.latent_channels * lh * lw;
    snprintf(shape, sizeof(shape), "1, %u, %u, %u", info.latent_channels, lh, lw);
    if (o.noise_file && width % info.factor == 0 && height % info.factor == 0) {
        noise = malloc(nlat * sizeof(float));
        if (!noise) {
            s = rv_error_set(&err, RV_ERR_HOST_MEMORY, "out of memory");
            goto fail;
        }
        if (rv_latent_file_read(o.noise_file, noise, nlat, shape, &err)) {
            fprintf(stderr, "reverie gen: --noise-file %s\n", err.msg);
            rc = 1;
            goto done;
        }
    }

    rv_gen_request req = {.width = width, .height = height, .steps = steps, .decoder = o.decoder, .prompt = o.prompt,
                          .negative = o.negative, .guidance = (float)o.guidance, .clip_skip = (uint32_t)o.clip_skip,
                          .seed = o.seed, .noise = noise};
    double t2 = now();
    s = rv_engine_generate(e, &req, &rep, &err);
    if (s)
        goto fail;
    double t3 = now();

    const char *sched = info.scheduler;
    const char *dec = rv_decoder_kind_name(o.decoder != RV_DECODER_AUTO ? o.decoder
                                           : info.has_tiny ? RV_DECODER_TINY : RV_DECODER_VAE);
    const char *storage = info.fp16 ? "f16" : "f32";
    printf("gen: %ux%u pixels (%ux%u latent), %d step%s, %s, guidance %g, seed %llu%s, decoder %s, %s on %s\n",
           width, height, lw, lh, steps, steps == 1 ? "" : "s", sched, o.guidance, (unsigned long long)o.seed,
           o.noise_file ? " (initial noise from file)" : "", dec, storage, info.device->name);
    double total = 0;
    printf("GPU time per part:");
    for (int i = 0; i < rep.nparts; i++) {
        printf(" %s %.2f ms%s", rep.parts[i].name, rep.parts[i].ms, i + 1 < rep.nparts ? "," : "");
        total += rep.parts[i].ms;
    }
    printf("\nGPU total %.2f ms in %d command buffer%s; wall: load %.2f s, generate %.3f s\n", total,
           rep.submissions, rep.submissions == 1 ? "" : "s", t1 - t0, t3 - t2);
    if (o.profile)
        print_profile(&rep);

    /* parameters (A1111's text) and provenance (XMP: IPTC digital source
     * type trainedAlgorithmicMedia); no time stamp, so the same inputs give
     * the same file */
    char steps_s[16], seed_s[32], size_s[32], guid_s[32], skip_s[16], comment[1200], extra[256];
    char mname[256], mhash[16] = "", unet_path[1100];
    snprintf(steps_s, sizeof(steps_s), "%d", steps);
    snprintf(seed_s, sizeof(seed_s), "%llu", (unsigned long long)o.seed);
    snprintf(size_s, sizeof(size_s), "%ux%u", width, height);
    snprintf(guid_s, sizeof(guid_s), "%g", o.guidance);
    snprintf(skip_s, sizeof(skip_s), "%ld", o.clip_skip);
    snprintf(extra, sizeof(extra), "Decoder: %s, Clip skip: %ld", dec, o.clip_skip);
    snprintf(comment, sizeof(comment), "initial noise: %s; storage %s; device %s",
             o.noise_file ? o.noise_file : "seed (Philox4x32-10 + Box-Muller)", storage, info.device->name);
    const char *base = strrchr(o.model, '/');
    snprintf(mname, sizeof(mname), "%s", base && base[1] ? base + 1 : o.model);
    char hex[65];
    rv_error herr = {0};
    snprintf(unet_path, sizeof(unet_path), "%s/unet/diffusion_pytorch_model.safetensors", o.model);
    if (rv_media_sha256_file(unet_path, hex, &herr) == RV_OK)
        snprintf(mhash, sizeof(mhash), "%.10s", hex);
    rv_media_params meta = {.prompt = o.prompt, .negative = o.negative, .steps = steps, .seed = o.seed,
                            .has_seed = true, .width = width, .height = height, .model = mname,
                            .model_hash = mhash[0] ? mhash : NULL, .scheduler = sched, .guidance = (float)o.guidance,
                            .software = "Reverie 0.1.0 (reverie gen)", .extra = extra};
    rv_media_text text[] = {
        {"prompt", o.prompt},   {"negative_prompt", o.negative ? o.negative : ""},
        {"seed", seed_s},       {"steps", steps_s},
        {"guidance", guid_s},   {"scheduler", sched},
        {"size", size_s},       {"model", o.model},
        {"decoder", dec},       {"clip_skip", skip_s},
        {"Source", o.model},    {"Comment", comment},
    };
    s = rv_png_write_media(o.out, rep.rgba, width, height, &meta, text, (int)(sizeof(text) / sizeof(text[0])), &err);
    if (s) {
        fprintf(stderr, "reverie gen: %s\n", err.msg);
        rc = 1;
        goto done;
    }
    printf("wrote %s\n", o.out);
    if (o.latent_out) {
        if (rv_latent_file_write(o.latent_out, rep.latents, nlat, &err)) {
            fprintf(stderr, "reverie gen: --latent-out %s\n", err.msg);
            rc = 1;
            goto done;
        }
        printf("wrote %s (float32 [%s])\n", o.latent_out, shape);
    }
    rv_engine_get_info(e, &info);
    if (info.validation_messages > 0) {
        fprintf(stderr, "reverie gen: %d validation message(s)\n", info.validation_messages);
        rc = 3;
    }
    goto done;
fail:
    fprintf(stderr, "reverie gen: %s: %s\n", rv_status_name(s), err.msg);
    rc = exit_code(s);
done:
    free(noise);
    rv_gen_report_free(&rep);
    rv_engine_destroy(e);
    return rc;
}
