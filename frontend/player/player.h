/* The SDL2 story player's internals (`reverie play`): the options, the state
 * the UI thread and the generation thread share, the overlay and the script.
 * Front-end only: SDL lives here and in frontend/cmd_play.c, never in runtime/. */
#ifndef RV_PLAYER_H
#define RV_PLAYER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <SDL.h>
#include <SDL_ttf.h>

#include "rv_device.h"
#include "rv_engine.h"
#include "rv_story.h"

typedef struct rv_player_opts {
    const char *story_path;    /* required */
    const char *model_dir;     /* NULL: the default model */
    const char *script_path;   /* --script */
    const char *replay_path;   /* --replay: start from a replay log's end state */
    const char *log_path;      /* --log: write the replay log here at exit */
    const char *shot_request;  /* --shot-request: screenshot hand-off file (tests) */
    const char *out_dir;       /* screenshots and recordings; NULL = "." */
    const char *data_dir;      /* save slots; NULL = $XDG_DATA_HOME/reverie */
    uint32_t width, height;    /* generated frame size; 0 = the story's */
    uint32_t win_width, win_height; /* 0 = 2x the frame, at most 1024 */
    long max_frames;           /* quit after this many generated frames; 0 = never */
    bool fullscreen;
    bool no_hud;
    int present;               /* 0 auto (Vulkan, else SDL_Renderer), 1 Vulkan only, 2 SDL_Renderer */
    rv_gpu_desc gpu;
} rv_player_opts;

/* Runs the player; the process exit code (0 ok, 1 usage/story, 2 model or
 * device, 3 a failed script expectation). */
int rv_player_run(const rv_player_opts *o);

/* ---- shared between the UI thread and the generation thread ---- */

#define PL_STAGES RV_FRAME_MAX_STAGES

typedef struct pl_shared {
    SDL_mutex *mu;
    SDL_cond *cv;
    /* UI -> worker */
    bool quit, paused;
    uint64_t seed_offset;
    float strength_delta;
    int steps_delta;
    float *pending_latent;     /* a rollback's latent to write before the next frame */
    bool has_pending;
    uint64_t epoch;            /* bumped on rollback, load, story switch: older frames are dropped */
    uint64_t edit_serial;      /* bumped by each applied prompt edit */
    uint64_t edit_t0;          /* SDL_GetPerformanceCounter at the edit */
    rv_story_state *st;        /* guarded by mu */
    /* worker -> UI */
    bool ready, failed, done;
    char error[1280];
    char device[256], scheduler[64];
    uint32_t w, h;
    size_t latent_count;
    uint32_t *rgba;            /* the newest frame */
    float *latent;             /* its latent */
    uint64_t serial;           /* frames published */
    rv_frame_result res;       /* its stages (rgba pointer not valid) */
    rv_frame_desc desc;        /* what made it */
    char prompt[RV_STORY_TEXT_MAX], negative[RV_STORY_TEXT_MAX];
    double edit_ms;            /* edit -> first frame showing it; < 0 none yet */
    uint64_t edit_shown;       /* the edit serial the latest frame includes */
    double gen_fps;            /* frames a second, smoothed */
    int max_steps;
    float guidance;
} pl_shared;

typedef struct pl_worker_desc {
    const char *model_dir;
    rv_gpu_desc gpu;
    uint32_t width, height;
} pl_worker_desc;

/* Starts the generation thread (it loads the engine, then makes frames). */
SDL_Thread *pl_worker_start(pl_shared *sh, const pl_worker_desc *d);

/* ---- overlay text (overlay.c): cached SDL_ttf textures ---- */

typedef struct pl_text pl_text;
pl_text *pl_text_create(SDL_Renderer *r, const char *font_path);
void pl_text_destroy(pl_text *t);
/* Sets the font size in pixels (re-opens the fonts when it changes). */
void pl_text_size(pl_text *t, int px);
int pl_text_line_height(pl_text *t, bool small);
/* Draws UTF-8 text at (x, y) wrapped to `wrap` pixels (0 = no wrap);
 * returns its size in *w, *h (either may be NULL). Nothing drawn when
 * draw is false (measure only). */
void pl_text_draw(pl_text *t, const char *s, int x, int y, int wrap, SDL_Color c, bool small, bool draw,
                  int *w, int *h);
/* Frees textures not used since the last call (once a frame). */
void pl_text_sweep(pl_text *t);

/* Points the cache at another renderer (its textures are dropped). */
void pl_text_set_renderer(pl_text *t, SDL_Renderer *r);

/* ---- Vulkan presentation (vkwin.c over rv_present.h) ---- */

typedef struct pl_vkwin pl_vkwin;
/* The window must have SDL_WINDOW_VULKAN. NULL with the reason in err. */
pl_vkwin *pl_vkwin_create(SDL_Window *win, bool validation, char *err, size_t cap);
void pl_vkwin_destroy(pl_vkwin *v);
/* The software renderer drawing the overlay on a transparent window-sized
 * canvas (premultiplied alpha); the frame is not drawn there. */
SDL_Renderer *pl_vkwin_renderer(pl_vkwin *v);
const char *pl_vkwin_device(pl_vkwin *v);
/* Before drawing: follows the window's size and clears the canvas;
 * *changed when the renderer was made again (its textures are gone). */
bool pl_vkwin_begin(pl_vkwin *v, bool *changed);
/* A new generated frame (RGBA8): handed to the GPU, which scales it. */
bool pl_vkwin_set_frame(pl_vkwin *v, const uint32_t *rgba, uint32_t w, uint32_t h, char *err, size_t cap);
/* Hands the overlay over if it changed and has the GPU compose and present;
 * false (reason in err) when the surface is lost and cannot be made again. */
bool pl_vkwin_present(pl_vkwin *v, char *err, size_t cap);
/* The last composed picture, RGBA8 (malloc'ed), or NULL. */
uint32_t *pl_vkwin_read(pl_vkwin *v, int *w, int *h);
/* Tests (script `fault`): "out-of-date", "surface-lost" (made again) or
 * "surface-gone" (lost, and making it again fails). */
void pl_vkwin_fault(pl_vkwin *v, const char *what);
/* Prints the presentation counts (`play: presented ...`). */
void pl_vkwin_print_stats(pl_vkwin *v);

/* ---- replay logs played live (replay.c) ---- */

enum { PL_REPLAY_CHOOSE = 1, PL_REPLAY_BACK, PL_REPLAY_EDIT };

typedef struct pl_replay_ev {
    int64_t t;                 /* story clock, microseconds */
    int kind, arg;
    char *text;
} pl_replay_ev;

typedef struct pl_replay {
    uint64_t seed;
    pl_replay_ev *ev;
    int n, next;
} pl_replay;

bool pl_replay_load(pl_replay *r, const char *json, char *err, size_t cap);
void pl_replay_free(pl_replay *r);

/* ---- scripts (script.c) ---- */

typedef enum pl_cmd_kind {
    PL_WAIT = 1,      /* seconds */
    PL_FRAMES,        /* wait for n more generated frames */
    PL_KEY,           /* a key press by SDL key name */
    PL_CHOOSE,        /* choice n (1-based) */
    PL_TYPE,          /* text into the prompt editor */
    PL_EDIT,          /* open the editor, replace the prompt, apply */
    PL_SHOT,          /* a screenshot of the window */
    PL_EXPECT_SCENE,  /* the current scene must be this id */
    PL_WAIT_SCENE,    /* wait (at most 300 s) until the story reaches this scene */
    PL_DROP,          /* a story file dropped on the window */
    PL_PRINT,         /* print the state (scene, digest) to stdout */
    PL_FAULT,         /* make presentation fail: out-of-date, surface-lost, surface-gone */
    PL_QUIT,
} pl_cmd_kind;

typedef struct pl_cmd {
    pl_cmd_kind kind;
    double num;
    char arg[RV_STORY_TEXT_MAX];
    int line;
} pl_cmd;

typedef struct pl_script {
    pl_cmd *cmds;
    int n, pos;
} pl_script;

/* Reads a script; errors name the file and line. */
bool pl_script_load(pl_script *s, const char *path, char *err, size_t cap);
void pl_script_free(pl_script *s);

#endif
