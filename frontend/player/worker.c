/* The player's generation thread: loads the engine, then makes frames from
 * the story's schedule one after another and publishes each (RGBA and its
 * latent) to the UI thread. It alone touches the engine and the stream, so
 * the one Vulkan queue is never used from two threads. Not the UI. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "player.h"
#include "story_frames.h"

typedef struct worker {
    pl_shared *sh;
    pl_worker_desc d;
} worker;

static void fail(pl_shared *sh, const char *what, const rv_error *err)
{
    SDL_LockMutex(sh->mu);
    snprintf(sh->error, sizeof(sh->error), "%s: %s: %s", what, rv_status_name(err->code), err->msg);
    sh->failed = true;
    SDL_UnlockMutex(sh->mu);
}

static int run(void *arg)
{
    worker *w = arg;
    pl_shared *sh = w->sh;
    rv_error err = {0};
    rv_engine *e = NULL;
    rv_stream *stream = NULL;
    float *pending = NULL, *lat = NULL;
    rv_engine_desc ed = {.model_dir = w->d.model_dir, .gpu = w->d.gpu};
    if (rv_engine_create(&e, &ed, &err)) {
        fail(sh, "the model did not load", &err);
        goto out;
    }
    rv_engine_info info;
    rv_engine_get_info(e, &info);
    const int max_steps = 8;
    rv_stream_desc sd = {.width = w->d.width, .height = w->d.height, .max_steps = max_steps};
    if (rv_stream_create(e, &sd, &stream, &err)) {
        fail(sh, "the frame stream could not start", &err);
        goto out;
    }
    uint32_t W, H, L;
    rv_stream_size(stream, &W, &H, &L);
    pending = malloc((size_t)L * sizeof(float));
    lat = malloc((size_t)L * sizeof(float));
    SDL_LockMutex(sh->mu);
    snprintf(sh->device, sizeof(sh->device), "%s", info.device->name);
    snprintf(sh->scheduler, sizeof(sh->scheduler), "%s", info.scheduler);
    sh->w = W;
    sh->h = H;
    sh->latent_count = L;
    sh->rgba = calloc((size_t)W * H, 4);
    sh->latent = calloc(L, sizeof(float));
    sh->pending_latent = calloc(L, sizeof(float));
    sh->max_steps = max_steps;
    sh->ready = sh->rgba && sh->latent && sh->pending_latent && pending && lat;
    if (!sh->ready) {
        snprintf(sh->error, sizeof(sh->error), "out of memory for %ux%u frames", W, H);
        sh->failed = true;
    }
    SDL_UnlockMutex(sh->mu);
    if (!sh->ready)
        goto out;

    uint64_t t_last = SDL_GetPerformanceCounter();
    double dt = 0.5; /* story seconds a frame moves the camera by: the measured frame time */
    const double freq = (double)SDL_GetPerformanceFrequency();
    for (;;) {
        SDL_LockMutex(sh->mu);
        while (sh->paused && !sh->quit)
            SDL_CondWait(sh->cv, sh->mu);
        if (sh->quit) {
            SDL_UnlockMutex(sh->mu);
            break;
        }
        bool write = sh->has_pending;
        if (write)
            memcpy(pending, sh->pending_latent, L * sizeof(float));
        sh->has_pending = false;
        const uint64_t epoch = sh->epoch, edit_serial = sh->edit_serial;
        rv_story_frame sf;
        rv_story_get_frame(sh->st, &sf);
        const uint64_t seed_offset = sh->seed_offset;
        const float dstrength = sh->strength_delta;
        const int dsteps = sh->steps_delta;
        SDL_UnlockMutex(sh->mu);

        if (write && rv_stream_write_latent(stream, pending, &err)) {
            fail(sh, "rollback", &err);
            break;
        }
        rv_story_frames_desc fd = {.dt = dt, .max_steps = max_steps, .cfg = false};
        rv_frame_desc f;
        if (rv_story_frames_describe(e, &sf, &fd, &f, &err)) {
            fail(sh, "the scene's prompts", &err);
            break;
        }
        f.seed += seed_offset;
        f.seed_to += seed_offset;
        if (!f.warp_only) {
            float s = f.strength + dstrength;
            f.strength = s < 0.05f ? 0.05f : s > 1.0f ? 1.0f : s;
        }
        int steps = f.steps + dsteps;
        f.steps = steps < 1 ? 1 : steps > max_steps ? max_steps : steps;
        rv_frame_result res;
        if (rv_stream_frame(stream, &f, &res, &err)) {
            fail(sh, "a frame failed", &err);
            break;
        }
        if (rv_stream_read_latent(stream, lat, &err)) {
            fail(sh, "reading the latent", &err);
            break;
        }
        uint64_t t_now = SDL_GetPerformanceCounter();
        double frame_s = (double)(t_now - t_last) / freq;
        t_last = t_now;
        dt = frame_s < 1.0 / 60 ? 1.0 / 60 : frame_s > 1.0 ? 1.0 : frame_s;

        SDL_LockMutex(sh->mu);
        if (epoch == sh->epoch) {
            memcpy(sh->rgba, res.rgba, (size_t)W * H * 4);
            memcpy(sh->latent, lat, L * sizeof(float));
            sh->res = res;
            sh->res.rgba = NULL;
            sh->desc = f;
            snprintf(sh->prompt, sizeof(sh->prompt), "%s", sf.n_prompts ? sf.prompts[0].text : "");
            snprintf(sh->negative, sizeof(sh->negative), "%s", sf.negative);
            sh->serial++;
            if (edit_serial > sh->edit_shown) {
                sh->edit_shown = edit_serial;
                if (edit_serial == sh->edit_serial)
                    sh->edit_ms = (double)(t_now - sh->edit_t0) * 1e3 / freq;
            }
            double fps = frame_s > 0 ? 1.0 / frame_s : 0;
            sh->gen_fps = sh->gen_fps > 0 ? 0.7 * sh->gen_fps + 0.3 * fps : fps;
        }
        SDL_UnlockMutex(sh->mu);
    }
out:
    free(pending);
    free(lat);
    rv_stream_destroy(stream);
    rv_engine_destroy(e);
    SDL_LockMutex(sh->mu);
    sh->done = true;
    SDL_UnlockMutex(sh->mu);
    free(w);
    return 0;
}

SDL_Thread *pl_worker_start(pl_shared *sh, const pl_worker_desc *d)
{
    worker *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->sh = sh;
    w->d = *d;
    SDL_Thread *t = SDL_CreateThread(run, "reverie-gen", w);
    if (!t)
        free(w);
    return t;
}
