/* The frame loop (rv_engine.h streams): the warp op against its CPU
 * reference; a stream's fresh frame equals `gen`'s image; frames are
 * deterministic; prompt edits, blends, motion, anchors and warp-only frames
 * change what they should; bad frame descriptions are refused with the
 * field named; and (frames.safetensors) every frame of a sequence matches
 * the PyTorch reference (tools/reverie_ref/frames.py) on the tiny fixture
 * and the shipped model, fp32 and fp16; frames two in flight are the
 * synchronous frames byte for byte, and a failure in flight is reported.
 * Usage: test_frames [section-substring] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rv_ops.h"
#include "rv_ref.h"
#include "rv_engine.h"
#include "rv_golden.h"
#include "rv_media.h"
#include "rv_test.h"

static const char *filter;

static bool want(const char *section) { return !filter || strstr(section, filter); }

static double nmse(const float *got, const float *ref, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)got[i] - ref[i];
        num += d * d;
        den += (double)ref[i] * ref[i];
    }
    return den > 0 ? num / den : num;
}

/* ---- the warp op ---- */

static void motion_matrix(float zoom, float px, float py, float rot, uint32_t w, uint32_t h, float minv[4],
                          float off[2])
{
    double th = rot * M_PI / 180.0, c = cos(th), s = sin(th);
    double a00 = c / zoom, a01 = s / zoom, a10 = -s / zoom, a11 = c / zoom;
    double cx = w / 2.0, cy = h / 2.0, tx = cx + px * w, ty = cy + py * h;
    minv[0] = (float)a00, minv[1] = (float)a01, minv[2] = (float)a10, minv[3] = (float)a11;
    off[0] = (float)(cx - (a00 * tx + a01 * ty));
    off[1] = (float)(cy - (a10 * tx + a11 * ty));
}

static void warp_cases(int prec)
{
    if (!want("warp"))
        return;
    rv_gpu *gpu = NULL;
    if (golden_gpu(prec, "test_frames", &gpu) <= 0)
        return;
    const char *tag = prec ? "f16" : "f32";
    static const struct { uint32_t planes, h, w; float zoom, px, py, rot; } cases[] = {
        {4, 32, 32, 1.05f, 0.02f, -0.01f, 2.0f}, {3, 7, 13, 0.8f, 0.0f, 0.0f, -30.0f},
        {1, 1, 1, 2.0f, 0.5f, 0.5f, 45.0f},     {4, 16, 24, 1.0f, -0.3f, 0.7f, 0.0f},
        {2, 9, 5, 3.0f, 0.0f, 0.0f, 180.0f},    {4, 64, 48, 1.0f, 0.0f, 0.0f, 0.0f},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        const uint32_t P = cases[k].planes, H = cases[k].h, W = cases[k].w;
        const size_t n = (size_t)P * H * W;
        float *x = malloc(n * sizeof(float)), *ref = malloc(n * sizeof(float));
        for (size_t i = 0; i < n; i++)
            x[i] = (float)sin(0.37 * (double)i) + 0.1f * (float)(i % 7);
        if (prec) /* the fp16 tensor holds rounded inputs: the reference takes the same */
            for (size_t i = 0; i < n; i++)
                x[i] = (float)(_Float16)x[i];
        float minv[4], off[2];
        motion_matrix(cases[k].zoom, cases[k].px, cases[k].py, cases[k].rot, W, H, minv, off);
        rv_ref_warp(ref, x, P, H, W, minv, off);
        rv_dtype dt = rv_gpu_dtype(gpu);
        rv_tensor tx = golden_upload(gpu, dt, x, n), ty = golden_upload(gpu, dt, x, n);
        rv_cmd *cmd = NULL;
        rv_error err = {0};
        CHECK(rv_cmd_create(gpu, &cmd, &err) == RV_OK, "%s", err.msg);
        rv_cmd_begin(cmd, &err);
        rv_op_warp(cmd, &ty, &tx, P, H, W, minv, off);
        CHECK(rv_cmd_run(cmd, &err) == RV_OK, "warp %zu: %s", k, err.msg);
        float *got = golden_download(gpu, &ty);
        double e = nmse(got, ref, n), limit = prec ? 1e-5 : 1e-10;
        bool finite = true;
        for (size_t i = 0; i < n; i++)
            finite = finite && isfinite(got[i]);
        printf("  %s warp [%u][%u][%u] zoom %g pan %g,%g rot %g: nmse %.2e %s\n", tag, P, H, W,
               (double)cases[k].zoom, (double)cases[k].px, (double)cases[k].py, (double)cases[k].rot, e,
               e <= limit && finite ? "OK" : "NOT OK");
        CHECK(e <= limit && finite, "warp case %zu %s: nmse %.3e", k, tag, e);
        if (cases[k].zoom == 1.0f && cases[k].px == 0 && cases[k].py == 0 && cases[k].rot == 0)
            CHECK(memcmp(got, x, n * sizeof(float)) == 0 || prec, "identity warp changed values");
        free(got);
        free(x);
        free(ref);
        rv_cmd_destroy(cmd);
        rv_tensor_free(gpu, &tx);
        rv_tensor_free(gpu, &ty);
    }
    /* a bad transform is refused, not run */
    rv_error err = {0};
    rv_cmd *cmd = NULL;
    rv_cmd_create(gpu, &cmd, &err);
    rv_tensor t = golden_upload(gpu, rv_gpu_dtype(gpu), (float[4]){1, 2, 3, 4}, 4);
    float bad[4] = {NAN, 0, 0, 1}, off[2] = {0, 0};
    rv_gpu_clear_error(gpu);
    rv_cmd_begin(cmd, &err);
    rv_op_warp(cmd, &t, &t, 1, 2, 2, bad, off);
    CHECK(rv_cmd_submit(cmd, &err) != RV_OK && strstr(err.msg, "non-finite transform"), "NaN warp: %s", err.msg);
    rv_cmd_wait(cmd, NULL);
    rv_cmd_destroy(cmd);
    rv_tensor_free(gpu, &t);
    CHECK(rv_gpu_validation_count(gpu) == 0, "validation messages: %d", rv_gpu_validation_count(gpu));
    rv_gpu_destroy(gpu);
}

/* ---- streams on a fixture ---- */

/* The model folder of a fixture: the shipped model for "reverie-tiny" (its
 * fixture folder holds only goldens), else the fixture folder itself. */
static void model_dir(const char *fixture, char *out, size_t cap)
{
    if (strcmp(fixture, "reverie-tiny") == 0) {
        const char *src = getenv("RV_SOURCE_DIR");
        snprintf(out, cap, "%s/models/reverie-tiny", src ? src : "..");
    } else {
        golden_fixture_dir(fixture, out, cap);
    }
}

static rv_engine *engine_for(const char *fixture, int prec)
{
    char mdir[600];
    model_dir(fixture, mdir, sizeof(mdir));
    rv_engine_desc d = {.model_dir = mdir, .gpu = {.validation = true,
                                                   .precision = prec ? RV_PRECISION_F16 : RV_PRECISION_F32}};
    rv_engine *e = NULL;
    rv_error err = {0};
    rv_status s = rv_engine_create(&e, &d, &err);
    if (s == RV_ERR_UNSUPPORTED && prec) {
        printf("fp16: skipped (%s)\n", err.msg);
        return NULL;
    }
    CHECK(s == RV_OK, "engine %s: %s", mdir, err.msg);
    return e;
}

static rv_prompt prompt(rv_engine *e, const char *text)
{
    rv_prompt h = 0;
    rv_error err = {0};
    CHECK(rv_engine_prompt(e, text, 0, &h, NULL, &err) == RV_OK, "prompt \"%s\": %s", text, err.msg);
    return h;
}

static rv_frame_desc still(rv_prompt p, uint64_t seed, float strength, int steps)
{
    rv_frame_desc f = {.nprompts = 1, .seed = seed, .strength = strength, .steps = steps};
    f.prompt[0] = p;
    f.weight[0] = 1;
    return f;
}

static double rgba_diff(const uint32_t *a, const uint32_t *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < 3; c++)
            s += fabs((double)((a[i] >> (8 * c)) & 0xff) - (double)((b[i] >> (8 * c)) & 0xff));
    return s / (3.0 * (double)n);
}

/* A fresh frame is `gen`'s image; the loop is deterministic; edits,
 * blends, motion, anchors and warp-only frames behave. */
static void stream_behaviour(const char *fixture, int prec)
{
    char sect[64];
    snprintf(sect, sizeof(sect), "stream %s", fixture);
    if (!want(sect))
        return;
    rv_engine *e = engine_for(fixture, prec);
    if (!e)
        return;
    const char *tag = prec ? "f16" : "f32";
    rv_engine_info info;
    rv_engine_get_info(e, &info);
    rv_error err = {0};
    const int steps = info.default_steps > 2 ? 2 : info.default_steps;
    rv_stream_desc sd = {.max_steps = 4};
    rv_stream *s = NULL, *s2 = NULL;
    CHECK(rv_stream_create(e, &sd, &s, &err) == RV_OK, "stream: %s", err.msg);
    CHECK(rv_stream_create(e, &sd, &s2, &err) == RV_OK, "stream 2: %s", err.msg);
    if (!s || !s2)
        goto done;
    uint32_t W, H, L;
    rv_stream_size(s, &W, &H, &L);
    const size_t P = (size_t)W * H;
    rv_prompt a = prompt(e, "a red lighthouse on a hill at sunset, watercolor");
    rv_prompt b = prompt(e, "a castle by the lake at night with the moon and stars");

    /* frame 0 at strength 1 is gen's image for the same prompt and seed */
    rv_frame_desc f0 = still(a, 7, 1.0f, steps);
    rv_frame_result r;
    CHECK(rv_stream_frame(s, &f0, &r, &err) == RV_OK, "frame 0: %s", err.msg);
    uint32_t *frame0 = malloc(P * 4);
    memcpy(frame0, r.rgba, P * 4);
    rv_gen_request gq = {.width = W, .height = H, .steps = steps,
                         .prompt = "a red lighthouse on a hill at sunset, watercolor", .seed = 7};
    rv_gen_report rep;
    CHECK(rv_engine_generate(e, &gq, &rep, &err) == RV_OK, "generate: %s", err.msg);
    bool same_as_gen = rep.rgba && memcmp(rep.rgba, frame0, P * 4) == 0;
    printf("  %s %s: a fresh frame %s gen's image (%ux%u, %d step%s)\n", tag, fixture,
           same_as_gen ? "is bit-identical to" : "DIFFERS from", W, H, steps, steps > 1 ? "s" : "");
    CHECK(same_as_gen, "%s: the stream's fresh frame differs from gen's image", fixture);
    rv_gen_report_free(&rep);
    CHECK(r.nstages >= 4 && r.gpu_ms > 0, "%s: %d timed stages, %.2f ms", fixture, r.nstages, r.gpu_ms);

    /* determinism: a second stream given the same frames gives the same bytes */
    rv_frame_desc seq[5];
    seq[0] = f0;
    seq[1] = still(a, 7, 0.5f, 1);
    seq[1].motion = (rv_motion){.zoom = 1.05f, .pan_x = 0.02f, .pan_y = -0.01f, .rotate = 2};
    seq[2] = seq[1];
    seq[2].nprompts = 2;
    seq[2].prompt[1] = b;
    seq[2].weight[1] = 1;
    seq[2].blend = RV_BLEND_SLERP;
    seq[2].seed_to = 8;
    seq[2].seed_mix = 0.3f;
    seq[3] = seq[2];
    seq[3].blend = RV_BLEND_LINEAR;
    seq[3].weight[1] = 3;
    seq[4] = still(b, 7, 0.6f, 2);
    seq[4].warp_only = true;
    seq[4].motion.zoom = 1.02f;
    uint32_t *last[2] = {malloc(P * 4), malloc(P * 4)};
    float *lat[2] = {malloc(L * sizeof(float)), malloc(L * sizeof(float))};
    double change[5] = {0};
    for (int k = 0; k < 5; k++) {
        CHECK(rv_stream_frame(s, &seq[k], &r, &err) == RV_OK, "seq frame %d: %s", k, err.msg);
        memcpy(last[0], r.rgba, P * 4);
        change[k] = r.change;
        CHECK(rv_stream_frame(s2, &seq[k], &r, &err) == RV_OK, "seq2 frame %d: %s", k, err.msg);
        memcpy(last[1], r.rgba, P * 4);
        rv_stream_read_latent(s, lat[0], &err);
        rv_stream_read_latent(s2, lat[1], &err);
        CHECK(memcmp(last[0], last[1], P * 4) == 0 && memcmp(lat[0], lat[1], L * sizeof(float)) == 0,
              "%s: frame %d differs between two streams given the same descriptions", fixture, k);
        CHECK(r.diffused == !seq[k].warp_only, "frame %d diffused %d", k, r.diffused);
    }
    printf("  %s %s: 5 frames (fresh, zoom+pan+rotate, slerp + seed drift, linear blend, warp only) "
           "bit-identical across two streams; latent change per frame %.3f %.3f %.3f %.3f\n",
           tag, fixture, change[1], change[2], change[3], change[4]);
    for (int k = 1; k < 5; k++)
        CHECK(change[k] > 0 && isfinite(change[k]), "%s: frame %d did not change the latent", fixture, k);

    /* a still scene: repeating one description settles; with the anchor the
     * picture stays near the anchored frame */
    rv_frame_desc st = still(a, 3, 0.5f, 1);
    double first_change = 0, last_change = 0;
    CHECK(rv_stream_frame(s, &f0, &r, &err) == RV_OK, "%s", err.msg);
    CHECK(rv_stream_set_anchor(s, &err) == RV_OK, "anchor: %s", err.msg);
    for (int k = 0; k < 6; k++) {
        CHECK(rv_stream_frame(s, &st, &r, &err) == RV_OK, "still %d: %s", k, err.msg);
        if (k == 0)
            first_change = r.change;
        last_change = r.change;
    }
    printf("  %s %s: still scene: latent change %.4f on the first re-noised frame, %.4f on the sixth\n", tag,
           fixture, first_change, last_change);
    CHECK(last_change < first_change, "%s: a still scene does not settle (%.4f -> %.4f)", fixture, first_change,
          last_change);

    /* rollback: writing back a latent restores what grows from it */
    rv_stream_read_latent(s, lat[0], &err);
    CHECK(rv_stream_frame(s, &st, &r, &err) == RV_OK, "%s", err.msg);
    memcpy(last[0], r.rgba, P * 4);
    CHECK(rv_stream_frame(s, &seq[2], &r, &err) == RV_OK, "%s", err.msg);
    CHECK(rv_stream_write_latent(s, lat[0], &err) == RV_OK, "write latent: %s", err.msg);
    CHECK(rv_stream_frame(s, &st, &r, &err) == RV_OK, "%s", err.msg);
    CHECK(memcmp(last[0], r.rgba, P * 4) == 0, "%s: a restored latent did not give the same next frame", fixture);

    /* a prompt edit shows in the very next frame */
    rv_frame_desc edit = st;
    edit.prompt[0] = b;
    CHECK(rv_stream_frame(s, &st, &r, &err) == RV_OK, "%s", err.msg);
    memcpy(last[0], r.rgba, P * 4);
    CHECK(rv_stream_frame(s, &edit, &r, &err) == RV_OK, "%s", err.msg);
    double d_edit = rgba_diff(last[0], r.rgba, P);
    memcpy(last[1], r.rgba, P * 4);
    CHECK(rv_stream_frame(s, &edit, &r, &err) == RV_OK, "%s", err.msg);
    double d_after = rgba_diff(last[1], r.rgba, P);
    printf("  %s %s: prompt edit: mean |d| %.2f levels on the next frame, %.2f on the one after\n", tag, fixture,
           d_edit, d_after);
    CHECK(d_edit > d_after, "%s: the edit did not show in the next frame", fixture);

    /* the similarity filter keeps a still frame that stopped changing */
    rv_stream *sf = NULL;
    rv_stream_desc sfd = {.max_steps = 2, .similarity = 1.0f};
    CHECK(rv_stream_create(e, &sfd, &sf, &err) == RV_OK, "%s", err.msg);
    if (sf) {
        rv_stream_frame(sf, &f0, &r, &err);
        rv_stream_frame(sf, &st, &r, &err);
        CHECK(rv_stream_frame(sf, &st, &r, &err) == RV_OK && r.skipped && !r.diffused, "%s: not skipped", fixture);
        rv_frame_desc moved = st;
        moved.motion.zoom = 1.01f;
        CHECK(rv_stream_frame(sf, &moved, &r, &err) == RV_OK && !r.skipped, "%s: moving frame skipped", fixture);
        rv_stream_destroy(sf);
    }

    /* cadence 3: the UNet runs on every third frame, the others only warp */
    rv_stream *sc = NULL;
    rv_stream_desc scd = {.max_steps = 2, .cadence = 3};
    CHECK(rv_stream_create(e, &scd, &sc, &err) == RV_OK, "%s", err.msg);
    if (sc) {
        rv_frame_desc mv = st;
        mv.motion.zoom = 1.02f;
        int pattern = 0;
        for (int k = 0; k < 7; k++) {
            CHECK(rv_stream_frame(sc, k ? &mv : &f0, &r, &err) == RV_OK, "cadence frame %d: %s", k, err.msg);
            pattern |= (int)r.diffused << k;
        }
        CHECK(pattern == (1 | 8 | 64), "%s: cadence 3 diffused frames %#x (want 0, 3, 6)", fixture, pattern);
        rv_stream_destroy(sc);
    }

    /* bad descriptions name the field; nothing runs */
    struct { rv_frame_desc f; const char *msg; } bad[12];
    int nb = 0;
    bad[nb].f = st, bad[nb].f.strength = NAN, bad[nb++].msg = "FRAME: strength nan";
    bad[nb].f = st, bad[nb].f.strength = 0, bad[nb++].msg = "FRAME: strength 0 (in (0, 1])";
    bad[nb].f = st, bad[nb].f.steps = 0, bad[nb++].msg = "FRAME: steps 0 (1 to the stream's max_steps 4)";
    bad[nb].f = st, bad[nb].f.nprompts = 0, bad[nb++].msg = "FRAME: nprompts 0 (1 to 8)";
    bad[nb].f = st, bad[nb].f.weight[0] = -1, bad[nb++].msg = "FRAME: weight[0] = -1";
    bad[nb].f = st, bad[nb].f.blend = RV_BLEND_SLERP, bad[nb++].msg = "FRAME: slerp blends exactly 2 prompts, not 1";
    bad[nb].f = st, bad[nb].f.motion.zoom = INFINITY, bad[nb++].msg = "FRAME: motion.zoom inf";
    bad[nb].f = st, bad[nb].f.motion.rotate = NAN, bad[nb++].msg = "FRAME: motion.rotate nan";
    bad[nb].f = st, bad[nb].f.seed_mix = 2, bad[nb++].msg = "FRAME: seed_mix 2 (0 to 1)";
    bad[nb].f = st, bad[nb].f.prompt[0] = 0, bad[nb++].msg = "FRAME: prompt[0]: no prompt handle (0)";
    bad[nb].f = st, bad[nb].f.prompt[0] = a ^ (1ull << 40), bad[nb++].msg = "was not made by this model";
    bad[nb].f = st, bad[nb].f.strength = 0.001f, bad[nb++].msg = "FRAME: strength 0.001 with 1 step(s) runs the last 1 of a 1000-step schedule";
    for (int k = 0; k < nb; k++) {
        rv_error_clear(&err);
        rv_status bs = rv_stream_frame(s, &bad[k].f, &r, &err);
        CHECK(bs == RV_ERR_INVALID && strstr(err.msg, bad[k].msg), "bad frame %d: got \"%s\", want \"%s\"", k,
              err.msg, bad[k].msg);
    }
    printf("  %s %s: %d bad frame descriptions refused with the field named\n", tag, fixture, nb);
    CHECK(info.validation_messages == 0, "validation messages");
    free(frame0);
    for (int i = 0; i < 2; i++) {
        free(last[i]);
        free(lat[i]);
    }
done:
    rv_stream_destroy(s);
    rv_stream_destroy(s2);
    rv_engine_get_info(e, &info);
    CHECK(info.validation_messages == 0, "%d validation messages", info.validation_messages);
    rv_engine_destroy(e);
}


/* ---- frames in flight ---- */

typedef struct frame_rec {
    uint32_t *rgba;
    float *latent;
    double change;
    uint64_t index;
    bool diffused, skipped;
} frame_rec;

/* n frames through rv_stream_frame (depth 0) or submitted two ahead and
 * collected in order (depth 2); the frames' bytes and the final latent. */
static bool run_frames(rv_engine *e, const rv_stream_desc *sd, const rv_frame_desc *seq, int n, int depth,
                       frame_rec *out, float *latent)
{
    rv_stream *s = NULL;
    rv_error err = {0};
    rv_stream_desc d = *sd;
    d.depth = depth ? depth : 1;
    CHECK(rv_stream_create(e, &d, &s, &err) == RV_OK, "stream: %s", err.msg);
    if (!s)
        return false;
    uint32_t W, H, L;
    rv_stream_size(s, &W, &H, &L);
    bool ok = true;
    rv_frame_result r;
    uint64_t ticket[64] = {0};
    int submitted = 0;
    for (int k = 0; k < n && ok; k++) {
        if (!depth) {
            ok = rv_stream_frame(s, &seq[k], &r, &err) == RV_OK;
        } else {
            while (ok && submitted < n && submitted < k + depth) {
                ok = rv_stream_submit(s, &seq[submitted], &ticket[submitted], &err) == RV_OK;
                submitted += ok;
            }
            if (ok && k + 1 < n && depth > 1)
                CHECK(rv_stream_in_flight(s) == 2, "frame %d: %d in flight", k, rv_stream_in_flight(s));
            ok = ok && rv_stream_collect(s, ticket[k], &r, &err) == RV_OK;
        }
        CHECK(ok, "frame %d (depth %d): %s", k, depth, err.msg);
        if (!ok)
            break;
        out[k].rgba = malloc((size_t)W * H * 4);
        memcpy(out[k].rgba, r.rgba, (size_t)W * H * 4);
        out[k].latent = malloc(L * sizeof(float));
        memcpy(out[k].latent, r.latent, L * sizeof(float));
        out[k].change = r.change;
        out[k].index = r.index;
        out[k].diffused = r.diffused;
        out[k].skipped = r.skipped;
    }
    ok = ok && rv_stream_read_latent(s, latent, &err) == RV_OK;
    CHECK(!ok || memcmp(latent, out[n - 1].latent, L * sizeof(float)) == 0, "the last result's latent is not "
          "rv_stream_read_latent's");
    rv_stream_destroy(s);
    return ok;
}

/* Frames submitted two ahead are the synchronous frames, byte for byte
 * (motion, prompt edits, blends, seed drift, multi-step, warp-only,
 * cadence and the similarity filter); misuse is refused; a failure on the
 * device is reported by its collect naming the stage, the frame after it
 * is dropped, and the stream goes on from the last good latent. */
static void in_flight(const char *fixture, int prec)
{
    char sect[64];
    snprintf(sect, sizeof(sect), "in-flight %s", fixture);
    if (!want(sect))
        return;
    rv_engine *e = engine_for(fixture, prec);
    if (!e)
        return;
    const char *tag = prec ? "f16" : "f32";
    rv_error err = {0};
    rv_prompt a = prompt(e, "a red lighthouse on a hill at sunset, watercolor");
    rv_prompt b = prompt(e, "a castle by the lake at night with the moon and stars");
    enum { N = 12 };
    rv_frame_desc seq[N];
    seq[0] = still(a, 7, 1.0f, 1);
    seq[1] = still(a, 7, 0.5f, 1);
    seq[1].motion = (rv_motion){.zoom = 1.05f, .pan_x = 0.02f, .pan_y = -0.01f, .rotate = 2};
    seq[2] = seq[1];
    seq[2].prompt[0] = b; /* a prompt edit */
    seq[3] = seq[1];
    seq[3].nprompts = 2, seq[3].prompt[1] = b, seq[3].weight[1] = 1, seq[3].blend = RV_BLEND_SLERP;
    seq[3].seed_to = 8, seq[3].seed_mix = 0.3f;
    seq[4] = seq[3];
    seq[4].blend = RV_BLEND_LINEAR, seq[4].weight[1] = 3, seq[4].seed_mix = 0.6f;
    seq[5] = still(b, 9, 0.6f, 2); /* a new seed, two steps */
    seq[5].motion.pan_x = -0.03f;
    seq[6] = seq[5];
    seq[6].warp_only = true;
    seq[7] = still(a, 9, 0.75f, 3);
    seq[8] = still(a, 9, 0.5f, 1); /* still frames: the filter's case */
    seq[9] = seq[8];
    seq[10] = seq[8];
    seq[11] = seq[1];
    const struct { rv_stream_desc d; const char *what; } kinds[] = {
        {{.max_steps = 4}, "every frame diffused"},
        {{.max_steps = 4, .cadence = 3}, "cadence 3"},
        {{.max_steps = 4, .similarity = 1.0f}, "the similarity filter"},
    };
    for (size_t kd = 0; kd < sizeof(kinds) / sizeof(kinds[0]); kd++) {
        frame_rec sync[N] = {{0}}, piped[N] = {{0}}, one[N] = {{0}};
        uint32_t W = 0, H = 0, L = 0;
        rv_stream *probe = NULL;
        rv_stream_create(e, &kinds[kd].d, &probe, &err);
        if (probe)
            rv_stream_size(probe, &W, &H, &L);
        rv_stream_destroy(probe);
        float *lat[3] = {calloc(L, sizeof(float)), calloc(L, sizeof(float)), calloc(L, sizeof(float))};
        bool ok = run_frames(e, &kinds[kd].d, seq, N, 0, sync, lat[0]) &&
                  run_frames(e, &kinds[kd].d, seq, N, 2, piped, lat[1]) &&
                  run_frames(e, &kinds[kd].d, seq, N, 1, one, lat[2]);
        int same = 0, skipped = 0, warped = 0;
        for (int k = 0; ok && k < N; k++) {
            bool eq = memcmp(sync[k].rgba, piped[k].rgba, (size_t)W * H * 4) == 0 &&
                      memcmp(sync[k].rgba, one[k].rgba, (size_t)W * H * 4) == 0 &&
                      memcmp(sync[k].latent, piped[k].latent, L * sizeof(float)) == 0 &&
                      memcmp(sync[k].latent, one[k].latent, L * sizeof(float)) == 0 &&
                      sync[k].change == piped[k].change && sync[k].index == piped[k].index &&
                      sync[k].index == (uint64_t)k + 1 && sync[k].diffused == piped[k].diffused &&
                      sync[k].skipped == piped[k].skipped && sync[k].diffused == one[k].diffused;
            CHECK(eq, "%s %s: frame %d in flight differs from the synchronous frame (%s)", tag, fixture, k,
                  kinds[kd].what);
            same += eq;
            skipped += sync[k].skipped;
            warped += !sync[k].diffused && !sync[k].skipped;
        }
        CHECK(ok && memcmp(lat[0], lat[1], L * sizeof(float)) == 0 && memcmp(lat[0], lat[2], L * sizeof(float)) == 0,
              "%s %s: the final latents differ (%s)", tag, fixture, kinds[kd].what);
        printf("  %s %s: %d/%d frames two in flight (and one) byte-identical to rv_stream_frame's, %s "
               "(%d warp-only, %d kept by the filter)\n", tag, fixture, same, N, kinds[kd].what, warped, skipped);
        if (kd == 1)
            CHECK(warped > 1, "%s: cadence warped %d frames", fixture, warped);
        if (kd == 2)
            CHECK(skipped > 0, "%s: the filter kept no frame", fixture);
        for (int k = 0; k < N; k++) {
            free(sync[k].rgba);
            free(piped[k].rgba);
            free(one[k].rgba);
            free(sync[k].latent);
            free(piped[k].latent);
            free(one[k].latent);
        }
        for (int i = 0; i < 3; i++)
            free(lat[i]);
    }

    /* misuse */
    rv_stream *s = NULL, *ref = NULL;
    rv_stream_desc sd = {.max_steps = 2};
    CHECK(rv_stream_create(e, &sd, &s, &err) == RV_OK && rv_stream_create(e, &sd, &ref, &err) == RV_OK, "%s",
          err.msg);
    if (!s || !ref)
        goto done;
    uint32_t W, H, L;
    rv_stream_size(s, &W, &H, &L);
    float *good = malloc(L * sizeof(float)), *huge = malloc(L * sizeof(float)), *tmp = malloc(L * sizeof(float));
    rv_frame_result r;
    uint64_t t1 = 0, t2 = 0, t3 = 0;
    CHECK(rv_stream_submit(s, &seq[0], &t1, &err) == RV_OK && rv_stream_submit(s, &seq[1], &t2, &err) == RV_OK,
          "%s", err.msg);
    static const char *want_msg[4] = {"2 frame(s) in flight, the stream's depth", "is not the oldest frame in flight",
                                      "are in flight: collect them first", "read_latent with 2 frame(s) in flight"};
    for (int k = 0; k < 5; k++) {
        rv_error_clear(&err);
        rv_status ms = k == 0   ? rv_stream_submit(s, &seq[1], &t3, &err)
                       : k == 1 ? rv_stream_collect(s, t2, &r, &err)
                       : k == 2 ? rv_stream_frame(s, &seq[1], &r, &err)
                       : k == 3 ? rv_stream_read_latent(s, tmp, &err)
                                : rv_stream_set_anchor(s, &err);
        const char *w = k < 4 ? want_msg[k] : "set_anchor with 2 frame(s) in flight";
        CHECK(ms == RV_ERR_INVALID && strstr(err.msg, w), "misuse %d: got \"%s\", want \"%s\"", k, err.msg, w);
    }
    CHECK(rv_stream_collect(s, t1, &r, &err) == RV_OK && r.index == t1 && rv_stream_collect(s, t2, &r, &err) == RV_OK &&
              r.index == t2 && rv_stream_in_flight(s) == 0, "collect: %s", err.msg);
    rv_error_clear(&err);
    CHECK(rv_stream_collect(s, t2 + 1, &r, &err) == RV_ERR_INVALID && strstr(err.msg, "no frame in flight"),
          "collect of nothing: %s", err.msg);

    /* a failure in flight: an anchor far out of range makes frame X's UNet
     * overflow from a good latent; frame Y, submitted behind it, is dropped;
     * the next frame grows from the last good latent, as a synchronous
     * stream given that latent makes it */
    rv_stream_read_latent(s, good, &err);
    for (uint32_t i = 0; i < L; i++)
        huge[i] = (i & 1 ? -3e38f : 3e38f);
    rv_frame_desc x = seq[8], y = seq[8];
    x.anchor = 1.0f;
    CHECK(rv_stream_write_latent(s, huge, &err) == RV_OK && rv_stream_set_anchor(s, &err) == RV_OK &&
              rv_stream_write_latent(s, good, &err) == RV_OK, "%s", err.msg);
    CHECK(rv_stream_submit(s, &x, &t1, &err) == RV_OK && rv_stream_submit(s, &y, &t2, &err) == RV_OK, "%s", err.msg);
    rv_error_clear(&err);
    rv_status sx = rv_stream_collect(s, t1, &r, &err);
    printf("  %s %s: a frame failing in flight: \"%s\"\n", tag, fixture, err.msg);
    CHECK(sx == RV_ERR_INVALID && strstr(err.msg, "is not finite") && strstr(err.msg, "the output of the"),
          "frame in flight failing: %s", err.msg);
    rv_error_clear(&err);
    rv_status sy = rv_stream_collect(s, t2, &r, &err);
    CHECK(sy == RV_ERR_INVALID && strstr(err.msg, "was dropped") && strstr(err.msg, "which failed"),
          "the frame behind it: %s", err.msg);
    CHECK(rv_stream_submit(s, &y, &t3, &err) == RV_OK && rv_stream_collect(s, t3, &r, &err) == RV_OK, "after: %s",
          err.msg);
    uint32_t *after = malloc((size_t)W * H * 4);
    memcpy(after, r.rgba, (size_t)W * H * 4);
    CHECK(rv_stream_write_latent(ref, good, &err) == RV_OK && rv_stream_frame(ref, &y, &r, &err) == RV_OK, "%s",
          err.msg);
    CHECK(memcmp(after, r.rgba, (size_t)W * H * 4) == 0, "%s %s: the frame after a failure does not grow from the "
          "last good latent", tag, fixture);
    free(after);
    free(good);
    free(huge);
    free(tmp);
done:
    rv_stream_destroy(s);
    rv_stream_destroy(ref);
    rv_engine_info info;
    rv_engine_get_info(e, &info);
    CHECK(info.validation_messages == 0, "%d validation messages", info.validation_messages);
    rv_engine_destroy(e);
}

/* ---- the PyTorch reference's sequence (frames.json / frames.safetensors) ---- */

static float jnum(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? (float)v->valuedouble : 0.0f;
}

/* Largest per-channel difference of RGBA8 pixels from a golden U8 [1][H][W][3]. */
static int image_max_diff(const uint32_t *rgba, const rv_st_tensor *t, size_t pixels)
{
    if (t->dtype != RV_ST_U8 || t->numel != pixels * 3)
        return 256;
    const uint8_t *px = t->data;
    int worst = 0;
    for (size_t i = 0; i < pixels; i++)
        for (int c = 0; c < 3; c++) {
            int d = abs((int)((rgba[i] >> (8 * c)) & 0xff) - (int)px[i * 3 + c]);
            worst = d > worst ? d : worst;
        }
    return worst;
}

/* A frame description of frames.json / video_ops.json. */
static void frame_from_json(rv_engine *e, const cJSON *fr, rv_frame_desc *out)
{
    rv_frame_desc f = {0};
    const cJSON *pr, *prompts = cJSON_GetObjectItemCaseSensitive(fr, "prompts");
    cJSON_ArrayForEach(pr, prompts) {
        if (f.nprompts == RV_FRAME_MAX_PROMPTS)
            break;
        f.prompt[f.nprompts] = prompt(e, cJSON_GetObjectItemCaseSensitive(pr, "text")->valuestring);
        f.weight[f.nprompts++] = jnum(pr, "weight");
    }
    const cJSON *bl = cJSON_GetObjectItemCaseSensitive(fr, "blend");
    f.blend = cJSON_IsString(bl) && strcmp(bl->valuestring, "slerp") == 0 ? RV_BLEND_SLERP : RV_BLEND_LINEAR;
    f.seed = (uint64_t)jnum(fr, "seed");
    f.seed_to = (uint64_t)jnum(fr, "seed_to");
    f.seed_mix = jnum(fr, "seed_mix");
    f.strength = jnum(fr, "strength");
    f.steps = (int)jnum(fr, "steps");
    f.anchor = jnum(fr, "anchor_weight");
    f.warp_only = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(fr, "warp_only"));
    f.motion = (rv_motion){.zoom = jnum(fr, "zoom"), .pan_x = jnum(fr, "pan_x"), .pan_y = jnum(fr, "pan_y"),
                           .rotate = jnum(fr, "rotate")};
    *out = f;
}

static void sequence_golden(const char *fixture, int prec)
{
    char sect[64];
    snprintf(sect, sizeof(sect), "golden %s", fixture);
    if (!want(sect))
        return;
    golden g;
    CHECK(golden_open_set(&g, fixture, "frames"), "%s: frames.safetensors / frames.json", fixture);
    rv_error err = {0};
    rv_safetensors *st = g.st;
    cJSON *js = g.json;
    rv_engine *e = st && js ? engine_for(fixture, prec) : NULL;
    if (!e) {
        golden_close(&g);
        return;
    }
    const char *tag = prec ? "f16" : "f32";
    const double limit = prec ? GOLDEN_NMSE_F16 : GOLDEN_NMSE_F32;
    rv_stream *s = NULL;
    rv_stream_desc sd = {.max_steps = 4};
    CHECK(rv_stream_create(e, &sd, &s, &err) == RV_OK, "%s: stream: %s", fixture, err.msg);
    uint32_t W = 0, H = 0, L = 0;
    if (s)
        rv_stream_size(s, &W, &H, &L);
    float *lat = malloc((size_t)L * sizeof(float));
    const cJSON *frames = cJSON_GetObjectItemCaseSensitive(js, "frames"), *fr;
    int k = 0;
    cJSON_ArrayForEach(fr, frames) {
        if (!s)
            break;
        rv_frame_desc f;
        frame_from_json(e, fr, &f);
        rv_frame_result r;
        rv_status fs = rv_stream_frame(s, &f, &r, &err);
        CHECK(fs == RV_OK, "%s frame %d: %s", fixture, k, err.msg);
        if (fs)
            break;
        char name[64], label[128];
        snprintf(name, sizeof(name), "frame%d.latents", k);
        snprintf(label, sizeof(label), "%s frame %d latent (%s%s)", fixture, k, f.warp_only ? "warp only" : "",
                 f.warp_only ? "" : (f.nprompts > 1 ? (f.blend ? "slerp" : "linear blend") : "one prompt"));
        const rv_st_tensor *gi = NULL;
        float *want_lat = golden_get(&(golden){.st = st}, name, &gi);
        if (want_lat && gi->numel == L) {
            rv_stream_read_latent(s, lat, &err);
            golden_compare(tag, label, lat, want_lat, L, limit);
        }
        free(want_lat);
        snprintf(name, sizeof(name), "frame%d.image", k);
        const rv_st_tensor *img = rv_safetensors_find(st, name);
        if (img) {
            int d = image_max_diff(r.rgba, img, (size_t)W * H);
            int lim = prec ? 8 : 2;
            printf("  %-4s %s frame %d image: max |d| %d levels of 255 %s\n", tag, fixture, k, d,
                   d <= lim ? "OK" : "NOT OK");
            CHECK(d <= lim, "%s frame %d image differs by %d levels", fixture, k, d);
        }
        if (k == 0) /* the reference's anchor is frame 0's latent */
            CHECK(rv_stream_set_anchor(s, &err) == RV_OK, "anchor: %s", err.msg);
        k++;
    }
    CHECK(k == cJSON_GetArraySize(frames), "%s: %d of %d frames ran", fixture, k, cJSON_GetArraySize(frames));
    free(lat);
    rv_stream_destroy(s);
    rv_engine_info info;
    rv_engine_get_info(e, &info);
    CHECK(info.validation_messages == 0, "%d validation messages", info.validation_messages);
    rv_engine_destroy(e);
    golden_close(&g);
}

/* ---- extend from an image, fill between keyframes (video_ops.json) ---- */

/* Reads golden `name`, compares it with `got` (n values); false if absent. */
static void compare_named(rv_safetensors *st, const char *tag, const char *label, const char *name, const float *got,
                          size_t n, double limit)
{
    const rv_st_tensor *gi = NULL;
    float *w = golden_get(&(golden){.st = st}, name, &gi);
    if (w && gi->numel == n)
        golden_compare(tag, label, got, w, n, limit);
    else
        CHECK(false, "golden %s: %s", name, w ? "wrong size" : "missing");
    free(w);
}

static bool read_key(const char *dir, const char *file, uint32_t w, uint32_t h, rv_image *img)
{
    char path[700];
    rv_error err = {0};
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    rv_png_read_desc d = {.width = w, .height = h};
    rv_status s = rv_png_read(img, path, &d, &err);
    CHECK(s == RV_OK, "keyframe %s: %s", path, err.msg);
    return s == RV_OK;
}

static void video_ops_golden(const char *fixture, int prec)
{
    char sect[64];
    snprintf(sect, sizeof(sect), "video %s", fixture);
    if (!want(sect))
        return;
    golden g;
    CHECK(golden_open_set(&g, fixture, "video_ops"), "%s: video_ops.safetensors / video_ops.json", fixture);
    rv_error err = {0};
    rv_safetensors *st = g.st;
    cJSON *js = g.json;
    const char *dir = g.dir;
    char mdir[600];
    model_dir(fixture, mdir, sizeof(mdir));
    rv_engine_desc ed = {.model_dir = mdir, .gpu = {.validation = true,
                                                    .precision = prec ? RV_PRECISION_F16 : RV_PRECISION_F32}};
    rv_engine *e = NULL;
    if (st && js) {
        ed.vae = true;
        ed.tiny = true;
        rv_status s = rv_engine_create(&e, &ed, &err);
        if (s) { /* a model whose only autoencoder is the tiny one */
            rv_error_clear(&err);
            ed.vae = false;
            s = rv_engine_create(&e, &ed, &err);
        }
        CHECK(s == RV_OK, "engine %s: %s", mdir, err.msg);
    }
    const char *tag = prec ? "f16" : "f32";
    const double limit = prec ? GOLDEN_NMSE_F16 : GOLDEN_NMSE_F32;
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(js, "image_size");
    const uint32_t W = (uint32_t)jnum(size, "width"), H = (uint32_t)jnum(size, "height");
    const cJSON *c, *cases = cJSON_GetObjectItemCaseSensitive(js, "cases");
    cJSON_ArrayForEach(c, cases) {
        if (!e)
            break;
        const char *cname = cJSON_GetObjectItemCaseSensitive(c, "name")->valuestring;
        const char *cls = cJSON_GetObjectItemCaseSensitive(c, "decoder_class")->valuestring;
        const bool fill = strcmp(cJSON_GetObjectItemCaseSensitive(c, "op")->valuestring, "fill") == 0;
        rv_stream_desc sd = {.width = W, .height = H, .max_steps = 4,
                             .decoder = strcmp(cls, "AutoencoderKL") == 0 ? RV_DECODER_VAE : RV_DECODER_TINY};
        rv_stream *s = NULL;
        CHECK(rv_stream_create(e, &sd, &s, &err) == RV_OK, "%s stream: %s", cname, err.msg);
        if (!s)
            continue;
        uint32_t L;
        rv_stream_size(s, NULL, NULL, &L);
        float *la = malloc(L * sizeof(float)), *lb = malloc(L * sizeof(float)), *lat = malloc(L * sizeof(float));
        rv_image ia = {0}, ib = {0};
        char label[160], name[160];
        const char *fa = cJSON_GetObjectItemCaseSensitive(c, fill ? "image_a" : "image")->valuestring;
        if (read_key(dir, fa, W, H, &ia) && rv_stream_encode_image(s, ia.rgba, la, &err) == RV_OK) {
            snprintf(label, sizeof(label), "%s %s encoded keyframe", fixture, cname);
            compare_named(st, tag, label, cJSON_GetObjectItemCaseSensitive(c, fill ? "encoded_a" : "encoded")->valuestring,
                          la, L, limit);
        } else {
            CHECK(false, "%s: encode: %s", cname, err.msg);
        }
        const cJSON *fr, *frames = cJSON_GetObjectItemCaseSensitive(c, "frames");
        if (!fill) { /* the clip grows from the encoded picture */
            CHECK(rv_stream_write_latent(s, la, &err) == RV_OK, "%s", err.msg);
            cJSON_ArrayForEach(fr, frames) {
                rv_frame_desc f;
                frame_from_json(e, fr, &f);
                rv_frame_result r;
                int k = (int)jnum(fr, "index");
                CHECK(rv_stream_frame(s, &f, &r, &err) == RV_OK, "%s frame %d: %s", cname, k, err.msg);
                rv_stream_read_latent(s, lat, &err);
                const cJSON *outs = cJSON_GetObjectItemCaseSensitive(fr, "outputs");
                snprintf(label, sizeof(label), "%s %s frame %d latent", fixture, cname, k);
                compare_named(st, tag, label, cJSON_GetObjectItemCaseSensitive(outs, "latents")->valuestring, lat, L,
                              limit);
                const cJSON *img = cJSON_GetObjectItemCaseSensitive(outs, "image");
                if (cJSON_IsString(img)) {
                    int d = image_max_diff(r.rgba, rv_safetensors_find(st, img->valuestring), (size_t)W * H);
                    printf("  %-4s %s %s frame %d image: max |d| %d levels\n", tag, fixture, cname, k, d);
                    CHECK(d <= (prec ? 8 : 2), "%s frame %d image differs by %d levels", cname, k, d);
                }
            }
        } else if (read_key(dir, cJSON_GetObjectItemCaseSensitive(c, "image_b")->valuestring, W, H, &ib) &&
                   rv_stream_encode_image(s, ib.rgba, lb, &err) == RV_OK) {
            snprintf(label, sizeof(label), "%s %s encoded keyframe b", fixture, cname);
            compare_named(st, tag, label, cJSON_GetObjectItemCaseSensitive(c, "encoded_b")->valuestring, lb, L, limit);
            const cJSON *pj = cJSON_GetObjectItemCaseSensitive(c, "prompt");
            rv_frame_desc f = {.nprompts = 1, .weight = {1}, .seed = (uint64_t)jnum(c, "seed"),
                               .strength = jnum(c, "strength"), .steps = (int)jnum(c, "steps")};
            f.prompt[0] = prompt(e, cJSON_GetObjectItemCaseSensitive(pj, "text")->valuestring);
            float *init = malloc(L * sizeof(float));
            cJSON_ArrayForEach(fr, frames) {
                int k = (int)jnum(fr, "index");
                const cJSON *outs = cJSON_GetObjectItemCaseSensitive(fr, "outputs");
                rv_latent_slerp(la, lb, L, cJSON_GetObjectItemCaseSensitive(fr, "t")->valuedouble, init);
                snprintf(label, sizeof(label), "%s %s in-between %d start", fixture, cname, k);
                compare_named(st, tag, label, cJSON_GetObjectItemCaseSensitive(outs, "init")->valuestring, init, L,
                              limit);
                rv_frame_result r;
                CHECK(rv_stream_write_latent(s, init, &err) == RV_OK && rv_stream_frame(s, &f, &r, &err) == RV_OK,
                      "%s in-between %d: %s", cname, k, err.msg);
                rv_stream_read_latent(s, lat, &err);
                snprintf(label, sizeof(label), "%s %s in-between %d latent", fixture, cname, k);
                compare_named(st, tag, label, cJSON_GetObjectItemCaseSensitive(outs, "latents")->valuestring, lat, L,
                              limit);
                snprintf(name, sizeof(name), "%s", cJSON_GetObjectItemCaseSensitive(outs, "image")->valuestring);
                int d = image_max_diff(r.rgba, rv_safetensors_find(st, name), (size_t)W * H);
                CHECK(d <= (prec ? 8 : 2), "%s in-between %d image differs by %d levels", cname, k, d);
            }
            free(init);
        } else {
            CHECK(false, "%s: keyframe b: %s", cname, err.msg);
        }
        rv_image_free(&ia);
        rv_image_free(&ib);
        free(la);
        free(lb);
        free(lat);
        rv_stream_destroy(s);
    }
    if (e) {
        rv_engine_info info;
        rv_engine_get_info(e, &info);
        CHECK(info.validation_messages == 0, "%d validation messages", info.validation_messages);
    }
    rv_engine_destroy(e);
    golden_close(&g);
}

/* A handle from another model (or another engine of the same model) is refused. */
static void foreign_handles(void)
{
    if (!want("foreign"))
        return;
    rv_engine *e1 = engine_for("tiny-sd15", 0), *e2 = engine_for("tiny-sd15", 0);
    if (e1 && e2) {
        rv_prompt h = prompt(e1, "a red lighthouse");
        rv_stream *s = NULL;
        rv_error err = {0};
        rv_stream_desc sd = {0};
        CHECK(rv_stream_create(e2, &sd, &s, &err) == RV_OK, "%s", err.msg);
        rv_frame_desc f = still(h, 1, 1.0f, 1);
        rv_frame_result r;
        CHECK(s && rv_stream_frame(s, &f, &r, &err) == RV_ERR_INVALID && strstr(err.msg, "was not made by this model"),
              "foreign handle: %s", err.msg);
        printf("  a prompt handle from another engine: \"%s\"\n", err.msg);
        rv_stream_destroy(s);
        /* and a stale one: 32 newer prompts push it out */
        rv_prompt old = prompt(e2, "the first prompt");
        for (int i = 0; i < RV_ENGINE_PROMPTS; i++) {
            char t[64];
            snprintf(t, sizeof(t), "prompt number %d", i);
            prompt(e2, t);
        }
        rv_error_clear(&err);
        CHECK(rv_stream_create(e2, &sd, &s, &err) == RV_OK, "%s", err.msg);
        f.prompt[0] = old;
        CHECK(s && rv_stream_frame(s, &f, &r, &err) == RV_ERR_INVALID && strstr(err.msg, "is stale"),
              "stale handle: %s", err.msg);
        rv_stream_destroy(s);
    }
    rv_engine_destroy(e1);
    rv_engine_destroy(e2);
}

int main(int argc, char **argv)
{
    filter = argc > 1 ? argv[1] : NULL;
    for (int prec = 0; prec < 2; prec++)
        warp_cases(prec);
    for (int prec = 0; prec < 2; prec++)
        stream_behaviour("tiny-sd15", prec);
    foreign_handles();
    for (int prec = 0; prec < 2; prec++)
        in_flight("tiny-sd15", prec);
    for (int prec = 0; prec < 2; prec++) {
        sequence_golden("tiny-sd15", prec);
        sequence_golden("reverie-tiny", prec);
        video_ops_golden("tiny-sd15", prec);
        video_ops_golden("reverie-tiny", prec);
    }
    return rv_test_finish("test_frames");
}
