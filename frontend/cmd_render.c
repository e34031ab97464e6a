/* `reverie render`: a story (or a prompt with keyframe options, made into a
 * one-scene story) played headless on the frame loop and written to an MP4
 * / WebM, a PNG sequence or one PNG, with the generation parameters and the
 * provenance in every file. Choices come from --choices. Ctrl-C ends the
 * file at the last frame made. Not the player: no window, no live input. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "rv_engine.h"
#include "rv_media.h"
#include "rv_story.h"
#include "story_frames.h"

#define MAX_RENDER_FRAMES 1000000
#define MAX_CHOICES 256

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void help(void)
{
    printf("usage: reverie render [STORY.json] -o OUT [options] [GPU options]\n\n"
           "Plays a story (or a prompt, with --prompt) on the frame loop without a window\n"
           "and writes every frame: OUT.mp4 / OUT.webm (H.264 / VP9, yuv420p), a PNG\n"
           "sequence (a path with %%04d, e.g. out/frame_%%04d.png) or one PNG. Each file\n"
           "carries the generation parameters (A1111 `parameters`) and provenance (XMP,\n"
           "IPTC digital source type trainedAlgorithmicMedia); `reverie inspect FILE`\n"
           "reads them back. Ctrl-C ends the file at the last frame made.\n"
           "  -o FILE             output (required)\n"
           "  --frames N | --seconds S  length (default: until the story ends, at most\n"
           "                      10 minutes)\n"
           "  --fps F             frames per second of story time and of the video (default 12)\n"
           "  --choices LIST      choice or answer indices (0-based) taken in order when the\n"
           "                      story waits, e.g. 0,2,1; when they run out the render ends\n"
           "  --wait S            seconds a waiting scene is shown before its choice (default:\n"
           "                      the scene's duration, at least 2)\n"
           "  --prompt TEXT       no story: one scene with this prompt (options below)\n"
           "  --prompt-to TEXT    ... blending into this prompt over the length\n"
           "  --zoom Z --pan-x X --pan-y Y --rotate R   camera motion per second (zoom\n"
           "                      1.05 = 5%% closer each second; pan: fractions of the frame\n"
           "                      the view moves right/down; rotate: degrees counter-clockwise)\n"
           "  --strength S        re-noising strength per frame, 0 to 1 (default 0.5)\n"
           "  --style NAME        a style preset of the stories: realistic, watercolor, cartoon,\n"
           "                      bw, sketch (scenes/README.md)\n"
           "  --seed N            the prompt's noise seed (default 1)\n"
           "  --model DIR --width W --height H --steps N   as `gen` (default: the story's\n"
           "                      model size and steps, or the shipped model)\n"
           "  --decoder tiny|vae  TAESD (default when the model has one) or the full VAE\n"
           "  --tiny-decoder DIR  an AutoencoderTiny folder (TAESD as published) for a model\n"
           "                      that ships none\n"
           "  --crf N             video quality, lower is better (default: x264 20, VP9 31)\n"
           "  --depth N           frames in flight, 1 or 2 (default 2): frame n+1 is described,\n"
           "                      recorded and submitted while the device runs frame n\n"
           "  --color-coherence A match each frame's colours to the first frame's (LAB\n"
           "                      histograms), A from 0 to 1 (default 0: off)\n"
           "  --init-image FILE   start from this picture (a PNG of the output size, encoded\n"
           "                      by the model's encoder): the clip extends it\n"
           "  --end-image FILE    with --init-image and --prompt: fill --frames N pictures\n"
           "                      (default 8) between the two keyframes (their latents\n"
           "                      slerped, each denoised at --strength, default 0.3); the\n"
           "                      output holds the first keyframe, the fill, the last\n"
           "Exit status: 1 bad arguments or input files, 2 device or model errors,\n"
           "130 interrupted (the file holds the frames made).\n\n%s",
           rv_cli_gpu_help);
}

typedef struct render_opts {
    const char *story, *out, *model, *prompt, *prompt_to, *choices, *init_image, *end_image, *tiny_decoder, *style;
    rv_decoder_kind decoder;
    long frames, width, height, steps, crf, depth;
    double seconds, fps, wait, zoom, pan_x, pan_y, rotate, strength, coherence;
    uint64_t seed;
    bool has_seed;
} render_opts;

enum {
    O_OUT = 256, O_FRAMES, O_SECONDS, O_FPS, O_CHOICES, O_WAIT, O_PROMPT, O_PROMPT_TO, O_ZOOM, O_PANX, O_PANY,
    O_ROTATE, O_STRENGTH, O_SEED, O_MODEL, O_WIDTH, O_HEIGHT, O_STEPS, O_CRF, O_COHERENCE, O_INIT, O_END, O_TINY, O_DECODER, O_STYLE,
    O_DEPTH,
};

static const rv_cli_opt render_options[] = {
    {NULL, 'o', true, O_OUT},              {"frames", 0, true, O_FRAMES},
    {"seconds", 0, true, O_SECONDS},       {"fps", 0, true, O_FPS},
    {"choices", 0, true, O_CHOICES},       {"wait", 0, true, O_WAIT},
    {"prompt", 0, true, O_PROMPT},         {"prompt-to", 0, true, O_PROMPT_TO},
    {"zoom", 0, true, O_ZOOM},             {"pan-x", 0, true, O_PANX},
    {"pan-y", 0, true, O_PANY},            {"rotate", 0, true, O_ROTATE},
    {"strength", 0, true, O_STRENGTH},     {"seed", 0, true, O_SEED},
    {"model", 0, true, O_MODEL},           {"width", 0, true, O_WIDTH},
    {"height", 0, true, O_HEIGHT},         {"steps", 0, true, O_STEPS},
    {"crf", 0, true, O_CRF},               {"color-coherence", 0, true, O_COHERENCE},
    {"init-image", 0, true, O_INIT},       {"end-image", 0, true, O_END},
    {"tiny-decoder", 0, true, O_TINY},     {"decoder", 0, true, O_DECODER},
    {"style", 0, true, O_STYLE},
    {"depth", 0, true, O_DEPTH},
    {0},
};

static int parse(int argc, char **argv, render_opts *o, rv_gpu_desc *gpu)
{
    rv_cli_parser p;
    rv_cli_parser_init(&p, "render", render_options, gpu, argc, argv);
    for (int c; (c = rv_cli_next(&p)) != RV_CLI_END;) {
        bool ok = true;
        switch (c) {
        case RV_CLI_HELP: help(); return 0;
        case RV_CLI_ERROR: return 1;
        case O_OUT: o->out = p.value; break;
        case O_FRAMES: ok = rv_cli_long(&p, 1, MAX_RENDER_FRAMES, &o->frames); break;
        case O_SECONDS: ok = rv_cli_double(&p, 0.001, 86400, &o->seconds); break;
        case O_FPS: ok = rv_cli_double(&p, 0.1, 240, &o->fps); break;
        case O_CHOICES: o->choices = p.value; break;
        case O_WAIT: ok = rv_cli_double(&p, 0, 3600, &o->wait); break;
        case O_PROMPT: o->prompt = p.value; break;
        case O_PROMPT_TO: o->prompt_to = p.value; break;
        case O_ZOOM: ok = rv_cli_double(&p, 0.1, 10, &o->zoom); break;
        case O_PANX: ok = rv_cli_double(&p, -10, 10, &o->pan_x); break;
        case O_PANY: ok = rv_cli_double(&p, -10, 10, &o->pan_y); break;
        case O_ROTATE: ok = rv_cli_double(&p, -3600, 3600, &o->rotate); break;
        case O_STRENGTH: ok = rv_cli_double(&p, 0, 1, &o->strength); break;
        case O_SEED: ok = rv_cli_u64(&p, &o->seed); o->has_seed = true; break;
        case O_MODEL: o->model = p.value; break;
        case O_WIDTH: ok = rv_cli_long(&p, 1, 16384, &o->width); break;
        case O_HEIGHT: ok = rv_cli_long(&p, 1, 16384, &o->height); break;
        case O_STEPS: ok = rv_cli_long(&p, 1, 50, &o->steps); break;
        case O_CRF: ok = rv_cli_long(&p, 1, 63, &o->crf); break;
        case O_COHERENCE: ok = rv_cli_double(&p, 0, 1, &o->coherence); break;
        case O_INIT: o->init_image = p.value; break;
        case O_END: o->end_image = p.value; break;
        case O_TINY: o->tiny_decoder = p.value; break;
        case O_STYLE: o->style = p.value; break;
        case O_DEPTH: ok = rv_cli_long(&p, 1, RV_STREAM_MAX_DEPTH, &o->depth); break;
        case O_DECODER:
            if (strcmp(p.value, "tiny") == 0 || strcmp(p.value, "taesd") == 0) {
                o->decoder = RV_DECODER_TINY;
            } else if (strcmp(p.value, "vae") == 0) {
                o->decoder = RV_DECODER_VAE;
            } else {
                fprintf(stderr, "reverie render: --decoder must be tiny or vae, not \"%s\"\n", p.value);
                return 1;
            }
            break;
        }
        if (!ok)
            return 1;
    }
    if (p.operand < argc)
        o->story = argv[p.operand];
    if (argc - p.operand > 1) {
        fprintf(stderr, "reverie render: one story at a time: \"%s\"\n", argv[p.operand + 1]);
        return 1;
    }
    if (!o->out) {
        fprintf(stderr, "reverie render: -o FILE is required (out.mp4, out.webm, out/frame_%%04d.png or out.png)\n");
        return 1;
    }
    if (!o->story == !o->prompt) {
        fprintf(stderr, "reverie render: give a story file or --prompt, not %s\n", o->story ? "both" : "neither");
        return 1;
    }
    if ((o->prompt_to || o->style) && !o->prompt) {
        fprintf(stderr, "reverie render: --%s needs --prompt (a story sets its own)\n", o->style ? "style" : "prompt-to");
        return 1;
    }
    if (o->prompt_to && !o->prompt) {
        fprintf(stderr, "reverie render: --prompt-to needs --prompt\n");
        return 1;
    }
    if (o->end_image && (!o->init_image || !o->prompt)) {
        fprintf(stderr, "reverie render: --end-image fills between two keyframes: it needs --init-image and --prompt\n");
        return 1;
    }
    if (o->frames && o->seconds > 0) {
        fprintf(stderr, "reverie render: --frames or --seconds, not both\n");
        return 1;
    }
    return -1;
}

/* --prompt and its options as a one-scene reverie-story/1 document. */
static char *prompt_story(const render_opts *o, double seconds)
{
    cJSON *s = cJSON_CreateObject(), *scenes = NULL, *sc = NULL;
    cJSON_AddStringToObject(s, "format", "reverie-story/1");
    cJSON_AddStringToObject(s, "title", "reverie render --prompt");
    cJSON_AddNumberToObject(s, "seed", (double)(o->has_seed ? o->seed : 1));
    cJSON_AddStringToObject(s, "start", "prompt");
    scenes = cJSON_AddArrayToObject(s, "scenes");
    sc = cJSON_CreateObject();
    cJSON_AddItemToArray(scenes, sc);
    cJSON_AddStringToObject(sc, "id", "prompt");
    cJSON_AddStringToObject(sc, "narration", "");
    if (o->prompt_to) { /* the first prompt's weight falls as the second's rises */
        cJSON *pa = cJSON_AddArrayToObject(sc, "prompt");
        const char *texts[2] = {o->prompt, o->prompt_to};
        for (int i = 0; i < 2; i++) {
            cJSON *pi = cJSON_CreateObject(), *w = cJSON_CreateObject();
            char k1[32];
            cJSON_AddStringToObject(pi, "text", texts[i]);
            snprintf(k1, sizeof(k1), "%g", seconds);
            cJSON_AddNumberToObject(w, "0", i ? 0.0 : 1.0);
            cJSON_AddNumberToObject(w, k1, i ? 1.0 : 0.0);
            cJSON_AddStringToObject(w, "ease", "in-out");
            cJSON_AddItemToObject(pi, "weight", w);
            cJSON_AddItemToArray(pa, pi);
        }
    } else {
        cJSON_AddStringToObject(sc, "prompt", o->prompt);
    }
    cJSON_AddNumberToObject(sc, "duration", seconds);
    if (o->style) /* a preset of the stories' table (scenes/README.md): checked by the story loader */
        cJSON_AddStringToObject(sc, "style", o->style);
    if (o->zoom > 0)
        cJSON_AddNumberToObject(sc, "zoom", o->zoom);
    if (o->pan_x != 0)
        cJSON_AddNumberToObject(sc, "pan_x", o->pan_x);
    if (o->pan_y != 0)
        cJSON_AddNumberToObject(sc, "pan_y", o->pan_y);
    if (o->rotate != 0)
        cJSON_AddNumberToObject(sc, "rotate", o->rotate);
    cJSON_AddNumberToObject(sc, "strength", o->strength > 0 ? o->strength : 0.5);
    cJSON_AddStringToObject(sc, "ending", "end");
    char *text = cJSON_PrintUnformatted(s);
    cJSON_Delete(s);
    return text;
}

static bool parse_choices(const char *list, int *out, int *n)
{
    *n = 0;
    for (const char *p = list; p && *p;) {
        char *end = NULL;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > 1000 || *n == MAX_CHOICES || (*end && *end != ',')) {
            fprintf(stderr, "reverie render: --choices must be indices from 0 separated by commas, not \"%s\"\n",
                    list);
            return false;
        }
        out[(*n)++] = (int)v;
        p = *end ? end + 1 : end;
    }
    return true;
}

/* The model's name (its folder) and the first 10 hex digits of its UNet
 * weights' SHA-256 (A1111's "Model hash"). */
static void model_identity(const char *dir, char *name, size_t ncap, char *hash, size_t hcap)
{
    const char *slash = strrchr(dir, '/');
    while (slash && slash[1] == 0 && slash > dir) { /* a trailing slash */
        const char *p = slash - 1;
        while (p > dir && *p != '/')
            p--;
        slash = *p == '/' ? p : NULL;
    }
    snprintf(name, ncap, "%s", slash ? slash + 1 : dir);
    char *t = strchr(name, '/');
    if (t)
        *t = 0;
    hash[0] = 0;
    char udir[1024];
    snprintf(udir, sizeof(udir), "%s/unet", dir);
    DIR *d = opendir(udir);
    if (!d)
        return;
    struct dirent *de;
    char best[1024] = "";
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n > 12 && strcmp(de->d_name + n - 12, ".safetensors") == 0 && (!best[0] || strcmp(de->d_name, best) < 0))
            snprintf(best, sizeof(best), "%s", de->d_name);
    }
    closedir(d);
    if (!best[0])
        return;
    char path[2100], hex[65];
    rv_error err = {0};
    snprintf(path, sizeof(path), "%s/%s", udir, best);
    if (rv_media_sha256_file(path, hex, &err) == RV_OK)
        snprintf(hash, hcap, "%.10s", hex);
}

/* A keyframe PNG of the output size, and its latent. */
static rv_status load_keyframe(rv_stream *st, const char *path, uint32_t w, uint32_t h, uint32_t nlat, rv_image *img,
                               float **lat, rv_error *err)
{
    rv_png_read_desc d = {.width = w, .height = h};
    rv_status s = rv_png_read(img, path, &d, err);
    if (s)
        return s;
    *lat = malloc((size_t)nlat * sizeof(float));
    if (!*lat)
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "RENDER: out of memory");
    return rv_stream_encode_image(st, img->rgba, *lat, err);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void progress(bool tty, long k, long total, double elapsed, const char *scene)
{
    if (!tty)
        return;
    double per = k > 0 ? elapsed / (double)k : 0;
    double eta = total > 0 ? per * (double)(total - k) : 0;
    int width = 30, filled = total > 0 ? (int)(width * (double)k / (double)total) : 0;
    char bar[64];
    for (int i = 0; i < width; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[width] = 0;
    if (total > 0)
        fprintf(stderr, "\r[%s] %ld/%ld frames, %.2f s/frame, ETA %.0f s  %-20.20s", bar, k, total, per, eta, scene);
    else
        fprintf(stderr, "\r%ld frames, %.2f s/frame  %-20.20s", k, per, scene);
    fflush(stderr);
}

/* A frame in flight and what its output will say about it. */
typedef struct render_pending {
    rv_story_frame sf;
    rv_frame_desc f;
    uint64_t ticket;
} render_pending;

static int exit_code(rv_status s)
{
    return s == RV_ERR_INVALID || s == RV_ERR_IO || s == RV_ERR_FORMAT ? 1 : 2;
}

int rv_cmd_render_main(int argc, char **argv)
{
    render_opts o = {.fps = 12};
    rv_engine_desc ed = {0};
    int rc = parse(argc, argv, &o, &ed.gpu);
    if (rc >= 0)
        return rc;
    rc = 0;
    int choices[MAX_CHOICES], nchoices = 0, next_choice = 0;
    if (o.choices && !parse_choices(o.choices, choices, &nchoices))
        return 1;
    const double dt = 1.0 / o.fps;
    long total = o.frames ? o.frames : o.seconds > 0 ? (long)ceil(o.seconds * o.fps - 1e-9) : 0;
    const long cap = total ? total : (long)(600 * o.fps);

    /* the story */
    rv_story *story = NULL;
    rv_story_state *st = NULL;
    rv_story_diags diags = {0};
    rv_error err = {0};
    rv_status s;
    if (o.prompt) {
        char *json = prompt_story(&o, total ? (double)total * dt : 10.0);
        if (!total)
            total = (long)ceil(10.0 * o.fps);
        s = rv_story_load_mem(&story, "--prompt", json, strlen(json), &diags, &err);
        free(json);
    } else {
        s = rv_story_load(&story, o.story, &diags, &err);
    }
    const int ndiags = diags.count;
    for (int i = 0; i < diags.count; i++) {
        char line[1200];
        rv_story_diag_format(&diags, &diags.items[i], line, sizeof(line));
        fprintf(stderr, "%s\n", line);
    }
    rv_story_diags_free(&diags);
    if (s) {
        if (s == RV_ERR_IO || !ndiags)
            fprintf(stderr, "reverie render: %s\n", err.msg);
        return 1;
    }
    rv_story_info si;
    rv_story_get_info(story, &si);
    if (!o.model)
        o.model = rv_cli_default_model();
    rv_story_state_desc sdesc = {0};
    if (rv_story_state_create(&st, story, &sdesc, &err)) {
        fprintf(stderr, "reverie render: %s\n", err.msg);
        rv_story_unload(story);
        return 1;
    }

    /* the engine and the stream */
    rv_engine *e = NULL;
    rv_stream *stream = NULL;
    rv_media_out *out = NULL;
    uint32_t *first = NULL;
    long k = 0;
    rv_image key_a = {0}, key_b = {0};
    render_pending *pend = NULL;
    float *lat_a = NULL, *lat_b = NULL;
    char *params_text = NULL;
    ed.model_dir = o.model;
    ed.tiny_decoder = o.tiny_decoder;
    ed.vae = o.decoder == RV_DECODER_VAE;
    ed.tiny = o.decoder == RV_DECODER_TINY;
    s = rv_engine_create(&e, &ed, &err);
    if (s)
        goto fail;
    rv_engine_info info;
    rv_engine_get_info(e, &info);
    /* a story's steps, else (--prompt) the model's own default: 1 for SD-Turbo-like models */
    int steps_max = o.steps ? (int)o.steps : !o.prompt && si.steps > 0 ? si.steps : info.default_steps;
    if (steps_max < 1)
        steps_max = 1;
    rv_stream_desc sd = {.width = o.width ? (uint32_t)o.width : (uint32_t)(si.width > 0 ? si.width : 0),
                         .height = o.height ? (uint32_t)o.height : (uint32_t)(si.height > 0 ? si.height : 0),
                         .max_steps = steps_max, .decoder = o.decoder, .depth = (int)o.depth};
    s = rv_stream_create(e, &sd, &stream, &err);
    if (s)
        goto fail;
    uint32_t W, H, L;
    rv_stream_size(stream, &W, &H, &L);
    if (o.init_image) {
        s = load_keyframe(stream, o.init_image, W, H, L, &key_a, &lat_a, &err);
        if (!s && o.end_image)
            s = load_keyframe(stream, o.end_image, W, H, L, &key_b, &lat_b, &err);
        if (s)
            goto fail;
        if (!o.end_image && (s = rv_stream_write_latent(stream, lat_a, &err)))
            goto fail;
    }

    /* what every output says about itself */
    char mname[256], mhash[16], extra[512];
    model_identity(o.model, mname, sizeof(mname), mhash, sizeof(mhash));
    rv_story_frame sf;
    rv_story_get_frame(st, &sf);
    snprintf(extra, sizeof(extra), "FPS: %g, Story: %s, Frame loop: latent reuse", o.fps,
             si.title[0] ? si.title : "untitled");
    rv_media_params meta = {.prompt = sf.n_prompts ? sf.prompts[0].text : "", .negative = sf.negative,
                            .steps = steps_max, .seed = sf.seed, .has_seed = true, .width = W, .height = H,
                            .model = mname, .model_hash = mhash[0] ? mhash : NULL, .scheduler = info.scheduler,
                            .strength = sf.strength, .extra = extra};
    rv_media_out_desc od = {.path = o.out, .width = W, .height = H, .fps_num = (uint32_t)llround(o.fps * 1000),
                            .fps_den = 1000, .crf = (int)o.crf, .meta = &meta};
    s = rv_media_out_create(&out, &od, &err);
    if (s)
        goto fail;

    struct sigaction sa = {.sa_handler = on_sigint}, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    const bool tty = isatty(2);
    fprintf(stderr, "render: %s -> %s, %ux%u, %g fps, up to %d step%s, %s on %s\n",
            o.story ? o.story : "--prompt", o.out, W, H, o.fps, steps_max, steps_max > 1 ? "s" : "",
            info.fp16 ? "f16" : "f32", info.device->name);
    double t0 = now_s(), gpu_ms = 0, scene_wait = 0;
    bool ended = false;
    rv_story_frames_desc fd = {.dt = dt, .max_steps = steps_max};
    first = malloc((size_t)W * H * 4);
    if (o.end_image) { /* the first keyframe, the pictures between, the last */
        long n = o.frames ? o.frames : 8;
        float *init = malloc((size_t)L * sizeof(float));
        rv_story_get_frame(st, &sf);
        rv_frame_desc f;
        s = rv_story_frames_describe(e, &sf, &fd, &f, &err);
        f.strength = o.strength > 0 ? (float)o.strength : 0.3f;
        f.motion = (rv_motion){0};
        f.warp_only = false;
        if (!s)
            s = rv_media_out_write(out, key_a.rgba, NULL, &err);
        for (long i = 1; i <= n && !s && !interrupted; i++) {
            rv_frame_result r;
            rv_latent_slerp(lat_a, lat_b, L, (double)i / (double)(n + 1), init);
            s = rv_stream_write_latent(stream, init, &err);
            if (!s)
                s = rv_stream_frame(stream, &f, &r, &err);
            if (!s) {
                gpu_ms += r.gpu_ms;
                s = rv_media_out_write(out, r.rgba, NULL, &err);
            }
            k = i;
            progress(tty, i, n, now_s() - t0, "fill");
        }
        if (!s)
            s = rv_media_out_write(out, key_b.rgba, NULL, &err);
        free(init);
        if (s)
            goto fail;
        k += 2;
        ended = true;
    }
    /* up to `depth` frames in flight: the story moves on by its clock and
     * choices, never by the pixels, so frame k+1 is described and submitted
     * before frame k is read back and written */
    char prev_scene[RV_STORY_LINE_MAX] = "";
    const int depth = o.depth ? (int)o.depth : RV_STREAM_MAX_DEPTH;
    pend = calloc(RV_STREAM_MAX_DEPTH, sizeof(*pend));
    int qhead = 0, qn = 0;
    long submitted = k;
    for (;;) {
        while (qn < depth && submitted < cap && !interrupted && !ended) {
            render_pending *pd = &pend[(qhead + qn) % depth];
            rv_story_get_frame(st, &pd->sf);
            s = rv_story_frames_describe(e, &pd->sf, &fd, &pd->f, &err);
            if (!s)
                s = rv_stream_submit(stream, &pd->f, &pd->ticket, &err);
            if (s)
                goto fail;
            qn++;
            submitted++;
            if (strcmp(prev_scene, pd->sf.scene) != 0) {
                snprintf(prev_scene, sizeof(prev_scene), "%s", pd->sf.scene);
                scene_wait = 0;
            }

            /* story time moves on; a waiting scene takes the next choice after its time */
            rv_story_advance(st, dt);
            rv_story_view v;
            rv_story_get_view(st, &v);
            if (rv_story_time_to_next(st) < 0) {
                scene_wait += dt;
                double hold = o.wait > 0 ? o.wait : pd->sf.duration > 2 ? pd->sf.duration : 2;
                if (v.is_ending && !total && scene_wait >= hold)
                    ended = true;
                else if (v.n_choices > 0 && scene_wait >= hold) {
                    if (next_choice < nchoices) {
                        int c = choices[next_choice++];
                        if (rv_story_choose(st, c, &err)) {
                            fprintf(stderr, "%sreverie render: --choices: choice %d at scene \"%s\": %s\n",
                                    tty ? "\n" : "", c, v.scene, err.msg);
                            rc = 1;
                            goto done;
                        }
                        scene_wait = 0;
                    } else if (!total) {
                        ended = true; /* no choices left: the render ends at this scene */
                    }
                }
            }
        }
        if (qn == 0)
            break;
        render_pending *pd = &pend[qhead];
        qhead = (qhead + 1) % depth;
        qn--;
        rv_frame_result r;
        s = rv_stream_collect(stream, pd->ticket, &r, &err);
        if (s)
            goto fail;
        gpu_ms += r.gpu_ms;
        uint32_t *px = (uint32_t *)r.rgba;
        if (k == 0)
            memcpy(first, r.rgba, (size_t)W * H * 4);
        else if (o.coherence > 0 && rv_color_match_lab(px, W, H, first, W, H, (float)o.coherence, &err))
            goto fail_status;
        rv_media_params fm = meta;
        fm.prompt = pd->sf.n_prompts ? pd->sf.prompts[0].text : "";
        fm.negative = pd->sf.negative;
        fm.seed = pd->sf.seed;
        fm.strength = pd->f.warp_only ? 0 : pd->f.strength;
        fm.steps = pd->f.steps;
        s = rv_media_out_write(out, px, &fm, &err);
        if (s)
            goto fail;
        k++;
        progress(tty, k, total, now_s() - t0, pd->sf.scene);
    }
    if (tty)
        fputc('\n', stderr);
    s = rv_media_out_finish(out, &err);
    if (s)
        goto fail;
    double wall = now_s() - t0;
    fprintf(stderr, "render: wrote %s: %ld frames (%.1f s at %g fps), %.2f s a frame (GPU %.0f ms)%s\n", o.out, k,
            (double)k / o.fps, o.fps, k ? wall / (double)k : 0.0, k ? gpu_ms / (double)k : 0.0,
            interrupted ? "; interrupted: the file ends at the last frame made" : "");
    rv_engine_get_info(e, &info);
    if (info.validation_messages > 0) {
        fprintf(stderr, "reverie render: %d validation message(s)\n", info.validation_messages);
        rc = 3;
    } else if (interrupted) {
        rc = 130;
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    goto done;
fail_status:
    s = err.code ? err.code : RV_ERR_INVALID;
fail:
    if (k > 0)
        fputc('\n', stderr);
    fprintf(stderr, "reverie render: %s: %s\n", rv_status_name(s), err.msg);
    rc = exit_code(s);
done:
    free(pend);
    free(params_text);
    free(first);
    rv_image_free(&key_a);
    rv_image_free(&key_b);
    free(lat_a);
    free(lat_b);
    rv_media_out_destroy(out);
    rv_stream_destroy(stream);
    rv_engine_destroy(e);
    rv_story_state_destroy(st);
    rv_story_unload(story);
    return rc;
}
