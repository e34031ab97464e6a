/* `reverie bench frames`: the frame loop measured as a viewer meets it —
 * load, first frame, steady-state fps with the GPU time per stage and the
 * loop's own overhead, prompt edit to the first frame showing it, and the
 * change and drift of a still scene, optionally against the PyTorch
 * reference frame on the same weights (tools/bench_frames_torch.py) run
 * between two halves of Reverie's steady run, and the steady throughput
 * with one frame in flight (rv_stream_frame) and two (rv_stream_submit /
 * collect) side by side. JSON on stdout, a table on stderr. Uses only the
 * public engine API. Measures; asserts nothing. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "rv_engine.h"

#define MAX_FRAMES 10000

static void help(void)
{
    printf("usage: reverie bench frames [--model DIR] [options] [GPU options]\n\n"
           "Runs the frame loop on one scene and reports: model load, first frame,\n"
           "steady-state fps and GPU ms per stage (frames that warp, re-noise and\n"
           "denoise the previous latent), the loop's cost above its GPU stages, a prompt\n"
           "edit's latency to the first frame that shows it, and a still scene's\n"
           "frame-to-frame change and drift with and without an anchor, and the steady\n"
           "throughput with one and two frames in flight (fps_depth1, fps_depth2: --frames\n"
           "frames each, alternated in two rounds).\n"
           "JSON on stdout, a table on stderr.\n"
           "  --model DIR        diffusers folder (default: the shipped model)\n"
           "  --width W --height H  pixels (default: the model's)\n"
           "  --steps N          UNet steps per frame (default 1)\n"
           "  --strength S       re-noising strength of steady frames (default 0.5)\n"
           "  --frames N         steady frames timed (default 20)\n"
           "  --drift-frames N   still-scene frames for change and drift (default 100; 0 skips)\n"
           "  --anchor A         anchor weight of the anchored drift run (default 0.1)\n"
           "  --compare-torch    also time the PyTorch reference frame (Debian's\n"
           "                     /usr/bin/python3 with torch, 2 threads) in the same run\n"
           "  --torch-threads N  threads for PyTorch (default 2)\n\n%s",
           rv_cli_gpu_help);
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
    if (n <= 0)
        return 0;
    double *c = malloc((size_t)n * sizeof(double));
    memcpy(c, v, (size_t)n * sizeof(double));
    qsort(c, (size_t)n, sizeof(double), cmp_double);
    double m = n % 2 ? c[n / 2] : 0.5 * (c[n / 2 - 1] + c[n / 2]);
    free(c);
    return m;
}

/* Mean absolute difference of two RGBA8 images, in levels of 255. */
static double image_diff(const uint32_t *a, const uint32_t *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < 3; c++)
            s += fabs((double)((a[i] >> (8 * c)) & 0xff) - (double)((b[i] >> (8 * c)) & 0xff));
    return s / (3.0 * (double)n);
}

static double rel_rms(const float *a, const float *ref, size_t n)
{
    double d = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        double x = (double)a[i] - ref[i];
        d += x * x;
        r += (double)ref[i] * ref[i];
    }
    return r > 0 ? sqrt(d / r) : 0;
}

typedef struct stage_acc {
    char name[32];
    double *ms;
    int n;
} stage_acc;

typedef struct steady {
    double *wall, *gpu, *diff;
    int n;
    stage_acc st[RV_FRAME_MAX_STAGES];
    int nst;
} steady;

static void steady_free(steady *s)
{
    free(s->wall);
    free(s->gpu);
    free(s->diff);
    for (int i = 0; i < s->nst; i++)
        free(s->st[i].ms);
}

static int steady_run(rv_stream *st, const rv_frame_desc *f, int frames, size_t pixels, uint32_t *prev, steady *acc,
                      rv_error *err)
{
    for (int k = 0; k < frames; k++) {
        rv_frame_result r;
        double t0 = now_ms();
        if (rv_stream_frame(st, f, &r, err))
            return 1;
        double wall = now_ms() - t0;
        acc->wall[acc->n] = wall;
        acc->gpu[acc->n] = r.gpu_ms;
        acc->diff[acc->n] = image_diff(prev, r.rgba, pixels);
        memcpy(prev, r.rgba, pixels * 4);
        for (int i = 0; i < r.nstages; i++) {
            int j = 0;
            while (j < acc->nst && strcmp(acc->st[j].name, r.stages[i].name) != 0)
                j++;
            if (j == acc->nst) {
                if (acc->nst == RV_FRAME_MAX_STAGES)
                    continue;
                snprintf(acc->st[j].name, sizeof(acc->st[j].name), "%s", r.stages[i].name);
                acc->st[j].ms = calloc(MAX_FRAMES, sizeof(double));
                acc->nst++;
            }
            acc->st[j].ms[acc->st[j].n++] = r.stages[i].ms;
        }
        acc->n++;
    }
    return 0;
}

/* Throughput of `frames` frames kept `depth` deep in flight (depth 1:
 * rv_stream_frame), first submit to last collect; the CPU time spent in
 * submits and blocked in collects, per frame (medians). */
typedef struct flight {
    double total_ms, submit_ms, collect_ms;
    int frames;
} flight;

static int flight_run(rv_stream *st, const rv_frame_desc *f, int frames, int depth, flight *out, rv_error *err)
{
    double sub[MAX_FRAMES], col[MAX_FRAMES];
    uint64_t ticket[MAX_FRAMES];
    rv_frame_result r;
    const double t0 = now_ms();
    int submitted = 0;
    for (int k = 0; k < frames; k++) {
        if (depth < 2) {
            double a = now_ms();
            if (rv_stream_frame(st, f, &r, err))
                return 1;
            sub[k] = 0;
            col[k] = now_ms() - a;
            continue;
        }
        while (submitted < frames && submitted < k + depth) {
            double a = now_ms();
            if (rv_stream_submit(st, f, &ticket[submitted], err))
                return 1;
            sub[submitted++] = now_ms() - a;
        }
        double a = now_ms();
        if (rv_stream_collect(st, ticket[k], &r, err))
            return 1;
        col[k] = now_ms() - a;
    }
    out->total_ms += now_ms() - t0;
    out->frames += frames;
    out->submit_ms = median(sub, frames);
    out->collect_ms = median(col, frames);
    return 0;
}

/* Runs tools/bench_frames_torch.py; its JSON object, or NULL. */
static cJSON *run_torch(const char *model, uint32_t w, uint32_t h, int steps, float strength, int frames, int threads)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=%d /usr/bin/python3 '%s/bench_frames_torch.py' --model '%s' "
             "--width %u --height %u --steps %d --strength %g --frames %d --threads %d",
             threads, RV_TOOLS_DIR, model, w, h, steps, (double)strength, frames, threads);
    FILE *p = popen(cmd, "r");
    if (!p)
        return NULL;
    char buf[8192];
    size_t n = fread(buf, 1, sizeof(buf) - 1, p);
    buf[n] = 0;
    int rc = pclose(p);
    if (rc != 0) {
        fprintf(stderr, "reverie bench frames: the PyTorch reference failed (exit %d): %s\n", rc, cmd);
        return NULL;
    }
    return cJSON_Parse(buf);
}

static bool parse_num(const char *opt, const char *v, double lo, double hi, double *out)
{
    char *end = NULL;
    errno = 0;
    double x = strtod(v, &end);
    if (!*v || !end || *end || errno || !isfinite(x) || x < lo || x > hi) {
        fprintf(stderr, "reverie bench frames: %s must be a number from %g to %g, not \"%s\"\n", opt, lo, hi, v);
        return false;
    }
    *out = x;
    return true;
}

int rv_bench_frames_main(int argc, char **argv)
{
    const char *model = NULL;
    double width = 0, height = 0, steps = 1, strength = 0.5, frames = 20, drift_frames = 100, anchor = 0.1,
           torch_threads = 2;
    bool torch = false;
    rv_engine_desc ed = {.gpu = {.pipeline_cache_dir = rv_cli_pipeline_cache_dir()}};
    enum { O_MODEL = 256, O_W, O_H, O_STEPS, O_STRENGTH, O_FRAMES, O_DRIFT, O_ANCHOR, O_TORCH, O_TT };
    static const struct option opts[] = {
        {"model", required_argument, 0, O_MODEL},   {"width", required_argument, 0, O_W},
        {"height", required_argument, 0, O_H},      {"steps", required_argument, 0, O_STEPS},
        {"strength", required_argument, 0, O_STRENGTH}, {"frames", required_argument, 0, O_FRAMES},
        {"drift-frames", required_argument, 0, O_DRIFT}, {"anchor", required_argument, 0, O_ANCHOR},
        {"compare-torch", no_argument, 0, O_TORCH},  {"torch-threads", required_argument, 0, O_TT},
        {"help", no_argument, 0, 'h'},               {0, 0, 0, 0},
    };
    /* GPU options are shared with every command: take them out first */
    char **rest = malloc(((size_t)argc + 1) * sizeof(char *));
    int nrest = 0;
    for (int i = 0; i < argc; i++) {
        if (i == 0) {
            rest[nrest++] = argv[i];
            continue;
        }
        if (strcmp(argv[i], "--") == 0) {
            while (i < argc)
                rest[nrest++] = argv[i++];
            break;
        }
        int g = rv_cli_gpu_option(argc, argv, &i, &ed.gpu);
        if (g < 0) {
            free(rest);
            return 1;
        }
        if (g == 0)
            rest[nrest++] = argv[i];
    }
    rest[nrest] = NULL;
    optind = 1;
    opterr = 0;
    int c, bad = 0;
    while (!bad && (c = getopt_long(nrest, rest, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            help();
            free(rest);
            return 0;
        case O_MODEL: model = optarg; break;
        case O_W: bad = !parse_num("--width", optarg, 1, 16384, &width); break;
        case O_H: bad = !parse_num("--height", optarg, 1, 16384, &height); break;
        case O_STEPS: bad = !parse_num("--steps", optarg, 1, 50, &steps); break;
        case O_STRENGTH: bad = !parse_num("--strength", optarg, 0.001, 1, &strength); break;
        case O_FRAMES: bad = !parse_num("--frames", optarg, 2, MAX_FRAMES / 2, &frames); break;
        case O_DRIFT: bad = !parse_num("--drift-frames", optarg, 0, MAX_FRAMES, &drift_frames); break;
        case O_ANCHOR: bad = !parse_num("--anchor", optarg, 0, 1, &anchor); break;
        case O_TORCH: torch = true; break;
        case O_TT: bad = !parse_num("--torch-threads", optarg, 1, 256, &torch_threads); break;
        case ':':
            fprintf(stderr, "reverie bench frames: %s needs a value\n", rest[optind - 1]);
            bad = 1;
            break;
        default:
            fprintf(stderr, "reverie bench frames: unknown option \"%s\" (see --help)\n", rest[optind - 1]);
            bad = 1;
        }
    }
    if (!bad && optind < nrest) {
        fprintf(stderr, "reverie bench frames: unexpected argument \"%s\"\n", rest[optind]);
        bad = 1;
    }
    free(rest);
    if (bad)
        return 1;
    if (!model)
        model = rv_cli_default_model();

    const double t_start = now_ms();
    rv_error err = {0};
    ed.model_dir = model;
    rv_engine *e = NULL;
    rv_stream *st = NULL;
    uint32_t *prev = NULL;
    float *lat0 = NULL, *lat = NULL;
    steady acc = {0};
    cJSON *tj = NULL;
    int rc = 0;
    if (rv_engine_create(&e, &ed, &err)) {
        fprintf(stderr, "reverie bench frames: %s: %s\n", rv_status_name(err.code), err.msg);
        return 2;
    }
    const double load_ms = now_ms() - t_start;
    rv_engine_info info;
    rv_engine_get_info(e, &info);
    rv_stream_desc sd = {.width = (uint32_t)width, .height = (uint32_t)height, .max_steps = (int)steps};
    if (rv_stream_create(e, &sd, &st, &err))
        goto fail;
    uint32_t W, H, L;
    rv_stream_size(st, &W, &H, &L);
    const size_t P = (size_t)W * H;
    prev = calloc(P, 4);
    lat0 = malloc((size_t)L * sizeof(float));
    lat = malloc((size_t)L * sizeof(float));
    acc.wall = calloc(MAX_FRAMES, sizeof(double));
    acc.gpu = calloc(MAX_FRAMES, sizeof(double));
    acc.diff = calloc(MAX_FRAMES, sizeof(double));

    rv_prompt pa, pb;
    rv_prompt_info ia;
    if (rv_engine_prompt(e, "a red lighthouse on a hill at sunset, watercolor", 0, &pa, &ia, &err))
        goto fail;
    rv_frame_desc f = {.nprompts = 1, .prompt = {pa}, .weight = {1}, .seed = 1, .strength = 1.0f, .steps = (int)steps};
    rv_frame_result r;
    double t0 = now_ms();
    if (rv_stream_frame(st, &f, &r, &err))
        goto fail;
    const double first_ms = now_ms() - t0, start_to_first = now_ms() - t_start;
    memcpy(prev, r.rgba, P * 4);

    /* steady: warp (a slow zoom, so nothing is skipped), re-noise, denoise, decode */
    rv_frame_desc live = f;
    live.strength = (float)strength;
    live.motion.zoom = 1.01f;
    steady warm = {.wall = calloc(4, sizeof(double)), .gpu = calloc(4, sizeof(double)),
                   .diff = calloc(4, sizeof(double))};
    int wrc = steady_run(st, &live, 2, P, prev, &warm, &err);
    steady_free(&warm);
    if (wrc)
        goto fail;
    int half = (int)frames / 2;
    if (steady_run(st, &live, half, P, prev, &acc, &err))
        goto fail;
    if (torch) {
        fprintf(stderr, "bench frames: PyTorch reference frame (%d threads)...\n", (int)torch_threads);
        tj = run_torch(model, W, H, (int)steps, (float)strength, (int)frames, (int)torch_threads);
    }
    if (steady_run(st, &live, (int)frames - half, P, prev, &acc, &err))
        goto fail;
    const double wall_ms = median(acc.wall, acc.n), gpu_ms = median(acc.gpu, acc.n);
    double *over = malloc((size_t)acc.n * sizeof(double));
    for (int i = 0; i < acc.n; i++)
        over[i] = acc.wall[i] - acc.gpu[i];
    const double over_ms = median(over, acc.n), steady_diff = median(acc.diff, acc.n);
    free(over);

    /* one frame in flight and two, alternated in two rounds (the machine's
     * load drifts; so does nothing else) */
    flight fl[2] = {{0}};
    const int per = (int)frames / 2 > 1 ? (int)frames / 2 : 2;
    for (int round = 0; round < 2; round++)
        for (int d = 0; d < 2; d++)
            if (flight_run(st, &live, per, d + 1, &fl[d], &err))
                goto fail;
    const double d1_ms = fl[0].total_ms / fl[0].frames, d2_ms = fl[1].total_ms / fl[1].frames;

    /* a prompt edit: ask for the new prompt, then frames until one shows it */
    double te = now_ms();
    rv_prompt_info ib;
    if (rv_engine_prompt(e, "a castle by the lake at night with the moon and stars", 0, &pb, &ib, &err))
        goto fail;
    rv_frame_desc edit = live;
    edit.prompt[0] = pb;
    int edit_frames = 0;
    double edit_ms = 0, edit_diff = 0;
    for (int k = 1; k <= 5 && !edit_frames; k++) {
        if (rv_stream_frame(st, &edit, &r, &err))
            goto fail;
        double d = image_diff(prev, r.rgba, P);
        memcpy(prev, r.rgba, P * 4);
        if (d > 3 * steady_diff || k == 5) {
            edit_frames = d > 3 * steady_diff ? k : 0;
            edit_ms = now_ms() - te;
            edit_diff = d;
        }
    }

    /* a still scene: fixed noise, no motion, with and without the anchor */
    double change_last = 0, drift = 0, drift_anchor = 0, change_anchor = 0;
    const int D = (int)drift_frames;
    for (int run = 0; run < 2 && D > 0; run++) {
        rv_frame_desc still = f;
        if (rv_stream_frame(st, &f, &r, &err) || rv_stream_set_anchor(st, &err))
            goto fail;
        still.strength = (float)strength;
        still.anchor = run ? (float)anchor : 0.0f;
        double ch[MAX_FRAMES];
        for (int k = 0; k < D; k++) {
            if (rv_stream_frame(st, &still, &r, &err))
                goto fail;
            ch[k] = r.change;
            if (k == 0)
                rv_stream_read_latent(st, lat0, &err);
        }
        rv_stream_read_latent(st, lat, &err);
        int tail = D < 10 ? D : 10;
        double c10 = median(ch + D - tail, tail), dr = D > 1 ? rel_rms(lat, lat0, L) : 0;
        if (run) {
            change_anchor = c10;
            drift_anchor = dr;
        } else {
            change_last = c10;
            drift = dr;
        }
    }

    double torch_ms = 0;
    if (tj) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(tj, "ms_per_frame");
        torch_ms = cJSON_IsNumber(m) ? m->valuedouble : 0;
    }

    /* the table */
    fprintf(stderr, "bench frames: %s, %ux%u, %d step%s at strength %.2f, %s on %s\n", model, W, H, (int)steps,
            steps > 1 ? "s" : "", strength, info.fp16 ? "f16" : "f32", info.device->name);
    fprintf(stderr, "  load %.0f ms; first frame %.0f ms (start to first frame %.0f ms); pipeline cache %s (%llu "
            "bytes read)\n", load_ms, first_ms, start_to_first, info.pipeline_cache.path[0] ? info.pipeline_cache.path
            : "off", (unsigned long long)info.pipeline_cache.loaded_bytes);
    fprintf(stderr, "  steady: %.2f fps (%.1f ms a frame, median of %d); GPU %.1f ms; loop above GPU %.2f ms "
            "(%.1f%%)\n", 1e3 / wall_ms, wall_ms, acc.n, gpu_ms, over_ms, gpu_ms > 0 ? 100 * over_ms / gpu_ms : 0.0);
    for (int i = 0; i < acc.nst; i++)
        fprintf(stderr, "    %-10s %8.2f ms\n", acc.st[i].name, median(acc.st[i].ms, acc.st[i].n));
    fprintf(stderr, "  prompt edit: %s after %d frame%s, %.0f ms (text encoder %.1f ms); image change %.1f "
            "levels vs %.1f a steady frame\n", edit_frames ? "shown" : "NOT shown", edit_frames,
            edit_frames == 1 ? "" : "s", edit_ms, ib.encode_ms, edit_diff, steady_diff);
    if (D > 0)
        fprintf(stderr, "  still scene, %d frames: change per frame %.4f, drift %.4f; anchored (%.2f): %.4f, %.4f\n",
                D, change_last, drift, anchor, change_anchor, drift_anchor);
    fprintf(stderr, "  in flight (%d frames each): depth 1 %.3f fps (%.1f ms a frame), depth 2 %.3f fps (%.1f ms a "
            "frame, %+.1f%%); depth 2 submit %.2f ms, blocked in collect %.1f ms\n", fl[0].frames, 1e3 / d1_ms, d1_ms,
            1e3 / d2_ms, d2_ms, 100 * (d1_ms / d2_ms - 1), fl[1].submit_ms, fl[1].collect_ms);
    if (tj)
        fprintf(stderr, "  PyTorch reference frame: %.1f ms (%.2f fps); Reverie / PyTorch = %.2fx\n", torch_ms,
                1e3 / torch_ms, torch_ms > 0 ? wall_ms / torch_ms : 0.0);

    /* the JSON */
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "bench", "frames");
    cJSON_AddStringToObject(o, "model", model);
    cJSON_AddStringToObject(o, "device", info.device->name);
    cJSON_AddStringToObject(o, "storage", info.fp16 ? "f16" : "f32");
    cJSON_AddNumberToObject(o, "width", W);
    cJSON_AddNumberToObject(o, "height", H);
    cJSON_AddNumberToObject(o, "steps", steps);
    cJSON_AddNumberToObject(o, "strength", strength);
    cJSON_AddNumberToObject(o, "load_ms", load_ms);
    cJSON_AddNumberToObject(o, "first_frame_ms", first_ms);
    cJSON_AddNumberToObject(o, "start_to_first_frame_ms", start_to_first);
    cJSON_AddStringToObject(o, "pipeline_cache", info.pipeline_cache.path);
    cJSON_AddNumberToObject(o, "pipeline_cache_loaded_bytes", (double)info.pipeline_cache.loaded_bytes);
    cJSON_AddNumberToObject(o, "fps", 1e3 / wall_ms);
    cJSON_AddNumberToObject(o, "ms_per_frame", wall_ms);
    cJSON_AddNumberToObject(o, "gpu_ms_per_frame", gpu_ms);
    cJSON_AddNumberToObject(o, "loop_overhead_ms", over_ms);
    cJSON_AddNumberToObject(o, "loop_overhead_fraction", gpu_ms > 0 ? over_ms / gpu_ms : 0);
    cJSON_AddNumberToObject(o, "frames_timed", acc.n);
    cJSON_AddNumberToObject(o, "fps_depth1", 1e3 / d1_ms);
    cJSON_AddNumberToObject(o, "fps_depth2", 1e3 / d2_ms);
    cJSON *fj = cJSON_AddObjectToObject(o, "in_flight");
    cJSON_AddNumberToObject(fj, "frames_each", fl[0].frames);
    cJSON_AddNumberToObject(fj, "ms_per_frame_depth1", d1_ms);
    cJSON_AddNumberToObject(fj, "ms_per_frame_depth2", d2_ms);
    cJSON_AddNumberToObject(fj, "speedup", d1_ms / d2_ms);
    cJSON_AddNumberToObject(fj, "submit_ms_depth2", fl[1].submit_ms);
    cJSON_AddNumberToObject(fj, "collect_blocked_ms_depth2", fl[1].collect_ms);
    cJSON *stages = cJSON_AddObjectToObject(o, "stages_ms");
    for (int i = 0; i < acc.nst; i++)
        cJSON_AddNumberToObject(stages, acc.st[i].name, median(acc.st[i].ms, acc.st[i].n));
    cJSON *ej = cJSON_AddObjectToObject(o, "prompt_edit");
    cJSON_AddNumberToObject(ej, "frames", edit_frames);
    cJSON_AddNumberToObject(ej, "ms", edit_ms);
    cJSON_AddNumberToObject(ej, "text_encoder_ms", ib.encode_ms);
    cJSON_AddNumberToObject(ej, "image_change", edit_diff);
    cJSON_AddNumberToObject(ej, "steady_image_change", steady_diff);
    if (D > 0) {
        cJSON *sj = cJSON_AddObjectToObject(o, "still_scene");
        cJSON_AddNumberToObject(sj, "frames", D);
        cJSON_AddNumberToObject(sj, "change_per_frame", change_last);
        cJSON_AddNumberToObject(sj, "drift", drift);
        cJSON_AddNumberToObject(sj, "anchor", anchor);
        cJSON_AddNumberToObject(sj, "change_per_frame_anchored", change_anchor);
        cJSON_AddNumberToObject(sj, "drift_anchored", drift_anchor);
    }
    if (tj) {
        cJSON_AddItemToObject(o, "torch", tj);
        tj = NULL;
        cJSON_AddNumberToObject(o, "ratio_to_torch", torch_ms > 0 ? wall_ms / torch_ms : 0);
    } else if (torch) {
        cJSON_AddNullToObject(o, "torch");
        rc = 1;
    }
    rv_engine_get_info(e, &info);
    cJSON_AddNumberToObject(o, "validation_messages", info.validation_messages);
    char *js = cJSON_Print(o);
    printf("%s\n", js);
    free(js);
    cJSON_Delete(o);
    goto done;
fail:
    fprintf(stderr, "reverie bench frames: %s: %s\n", rv_status_name(err.code), err.msg);
    rc = 2;
done:
    cJSON_Delete(tj);
    steady_free(&acc);
    free(prev);
    free(lat0);
    free(lat);
    rv_stream_destroy(st);
    rv_engine_destroy(e);
    return rc;
}
