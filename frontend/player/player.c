/* The SDL2 story player (`reverie play`): the window, input, the overlay
 * (narration, choices, quiz, HUD, prompt editor, help), rollback with
 * pictures, save slots, screenshots, recording, hot reload and scripts.
 * The UI thread; frames come from worker.c and are presented through
 * vkwin.c (a Vulkan swapchain) or, as the fallback, SDL_Renderer. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "player.h"
#include "rv_media.h"
#include "rv_prompt.h"

#define FONT_PATH "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
#define RB_MAX 80
#define SAVE_FORMAT "reverie-player-save/1"

typedef struct rb_entry {
    uint64_t token;
    uint32_t *rgba;
    float *latent;
} rb_entry;

typedef struct player {
    const rv_player_opts *o;
    SDL_Window *win;
    SDL_Renderer *ren;
    pl_vkwin *vk;              /* Vulkan presentation; NULL: SDL_Renderer presents */
    SDL_Texture *tex;
    pl_text *text;
    pl_shared sh;
    SDL_Thread *worker;
    rv_story *story;
    char story_path[4096];
    struct timespec story_mtime;
    double next_stat;
    rv_prompt_info *pinfo;
    /* the picture on screen */
    uint32_t *shown;
    float *shown_latent;
    uint32_t fw, fh;
    size_t latent_count;
    uint64_t shown_serial, frames_seen;
    bool have_frame, ready_seen, failed_seen;
    rv_frame_result res;
    rv_frame_desc desc;
    char prompt[RV_STORY_TEXT_MAX], negative[RV_STORY_TEXT_MAX];
    double edit_ms, gen_fps;
    /* rollback pictures by visual token */
    rb_entry rb[RB_MAX];
    int nrb;
    uint64_t next_token;
    /* UI */
    bool hud, help, editing, fullscreen, paused;
    int slot;                  /* the save slot F5 and F9 use (1-9; Shift+digit picks it) */
    char edit[RV_STORY_TEXT_MAX];
    int edit_tokens;
    char edit_unknown[768];
    char toast[1024];
    double toast_until;
    SDL_Rect choice_rect[RV_STORY_MAX_CHOICES];
    int nchoice;
    double present_fps, fps_t0, last_draw, last_tick;
    int presents;
    /* recording */
    rv_media_out *rec;
    char rec_path[4200];
    rv_media_params rec_meta; /* the writer keeps a pointer to it until the end */
    char rec_prompt[RV_STORY_TEXT_MAX], rec_negative[RV_STORY_TEXT_MAX];
    /* a replay log played live, on the story clock */
    pl_replay replay;
    int64_t clock_us;
    /* script */
    pl_script script;
    bool waiting;
    double wait_until;
    uint64_t wait_frames;
    int exit_code;
    bool quit;
    double now;
    int shot_n;
} player;

static double secs(void)
{
    return (double)SDL_GetPerformanceCounter() / (double)SDL_GetPerformanceFrequency();
}

static void toast(player *p, double seconds, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void toast(player *p, double seconds, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->toast, sizeof(p->toast), fmt, ap);
    va_end(ap);
    p->toast_until = p->now + seconds;
}

/* ---------------------------------------------------------------- files */

static int mkdirs(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *s = buf + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        if (mkdir(buf, 0755) && errno != EEXIST)
            return -1;
        *s = '/';
    }
    if (mkdir(buf, 0755) && errno != EEXIST)
        return -1;
    return 0;
}

static void data_dir(const player *p, char *out, size_t cap)
{
    if (p->o->data_dir) {
        snprintf(out, cap, "%s", p->o->data_dir);
        return;
    }
    const char *x = getenv("XDG_DATA_HOME");
    if (x && *x)
        snprintf(out, cap, "%s/reverie", x);
    else
        snprintf(out, cap, "%s/.local/share/reverie", getenv("HOME") ? getenv("HOME") : ".");
}

static bool file_mtime(const char *path, struct timespec *t)
{
    struct stat sb;
    if (stat(path, &sb))
        return false;
    *t = sb.st_mtim;
    return true;
}

static void stamp(char *out, size_t cap, int n)
{
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    char b[32];
    strftime(b, sizeof(b), "%Y%m%d-%H%M%S", &tm);
    snprintf(out, cap, "%s-%d", b, n);
}

/* ---------------------------------------------------------------- story */

static void rb_clear(player *p)
{
    for (int i = 0; i < p->nrb; i++) {
        free(p->rb[i].rgba);
        free(p->rb[i].latent);
    }
    p->nrb = 0;
}

static void print_diags(const rv_story_diags *d)
{
    char buf[1024];
    for (int i = 0; i < d->count; i++) {
        rv_story_diag_format(d, &d->items[i], buf, sizeof(buf));
        fprintf(stderr, "%s\n", buf);
    }
}

/* Loads a story; on failure prints why and fills msg with the first error. */
static rv_story *load_story(const char *path, char *msg, size_t cap)
{
    rv_story *s = NULL;
    rv_story_diags d = {0};
    rv_error err = {0};
    if (rv_story_load(&s, path, &d, &err)) {
        if (d.count) {
            print_diags(&d);
            for (int i = 0; i < d.count; i++)
                if (d.items[i].severity == RV_STORY_ERROR) {
                    rv_story_diag_format(&d, &d.items[i], msg, cap);
                    break;
                }
        } else {
            snprintf(msg, cap, "%s", err.msg);
            fprintf(stderr, "reverie play: %s\n", err.msg);
        }
        rv_story_diags_free(&d);
        return NULL;
    }
    rv_story_diags_free(&d);
    return s;
}

/* Opens a story file (start, drag and drop): a new state; the old story
 * and state are released. */
static bool open_story(player *p, const char *path, const char *replay)
{
    char msg[1024] = "";
    rv_story *s = load_story(path, msg, sizeof(msg));
    if (!s) {
        toast(p, 8, "could not open %s: %s", path, msg);
        return false;
    }
    rv_story_state *st = NULL;
    rv_error err = {0};
    if (replay) {
        FILE *f = fopen(replay, "rb");
        char *json = NULL;
        long n = -1;
        if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && n < (64l << 20) && fseek(f, 0, SEEK_SET) == 0 &&
            (json = calloc(1, (size_t)n + 1)) && fread(json, 1, (size_t)n, f) == (size_t)n) {
            char why[300];
            if (rv_story_replay(&st, s, json, &err)) { /* checks the whole log against the story */
                fprintf(stderr, "reverie play: %s: %s\n", replay, err.msg);
            } else if (!pl_replay_load(&p->replay, json, why, sizeof(why))) {
                fprintf(stderr, "reverie play: %s: %s\n", replay, why);
                rv_story_state_destroy(st);
                st = NULL;
            } else { /* played from the start, each event at its time */
                rv_story_state_destroy(st);
                st = NULL;
                rv_story_state_desc sd = {.seed = p->replay.seed};
                if (rv_story_state_create(&st, s, &sd, &err))
                    fprintf(stderr, "reverie play: %s: %s\n", path, err.msg);
            }
        } else {
            fprintf(stderr, "reverie play: cannot read the replay log %s: %s\n", replay, strerror(errno));
        }
        if (f)
            fclose(f);
        free(json);
        if (!st) {
            rv_story_unload(s);
            return false;
        }
    } else if (rv_story_state_create(&st, s, NULL, &err)) {
        fprintf(stderr, "reverie play: %s: %s\n", path, err.msg);
        toast(p, 8, "%s: %s", path, err.msg);
        rv_story_unload(s);
        return false;
    }
    SDL_LockMutex(p->sh.mu);
    rv_story_state *old = p->sh.st;
    p->sh.st = st;
    p->sh.epoch++;
    SDL_UnlockMutex(p->sh.mu);
    rv_story_state_destroy(old);
    rv_story_unload(p->story);
    p->story = s;
    rb_clear(p);
    p->clock_us = 0;
    if (!replay)
        pl_replay_free(&p->replay);
    if (path != p->story_path)
        snprintf(p->story_path, sizeof(p->story_path), "%s", path);
    file_mtime(p->story_path, &p->story_mtime);
    rv_story_info info;
    rv_story_get_info(s, &info);
    char title[600];
    snprintf(title, sizeof(title), "Reverie — %s", info.title[0] ? info.title : path);
    if (p->win)
        SDL_SetWindowTitle(p->win, title);
    printf("play: story %s (%s)\n", path, info.title);
    fflush(stdout);
    return true;
}

/* The story file changed on disk: move the state onto the new version. */
static void check_reload(player *p)
{
    if (p->now < p->next_stat)
        return;
    p->next_stat = p->now + 0.5;
    struct timespec t;
    if (!file_mtime(p->story_path, &t))
        return;
    if (t.tv_sec == p->story_mtime.tv_sec && t.tv_nsec == p->story_mtime.tv_nsec)
        return;
    p->story_mtime = t;
    char msg[1024] = "";
    rv_story *s = load_story(p->story_path, msg, sizeof(msg));
    if (!s) {
        toast(p, 8, "reload failed, still playing the old version: %s", msg);
        return;
    }
    rv_error err = {0};
    SDL_LockMutex(p->sh.mu);
    rv_status rc = rv_story_state_rebind(p->sh.st, s, &err);
    SDL_UnlockMutex(p->sh.mu);
    if (rc) {
        toast(p, 8, "reload failed: %s", err.msg);
        fprintf(stderr, "reverie play: reload: %s\n", err.msg);
        rv_story_unload(s);
        return;
    }
    rv_story_unload(p->story);
    p->story = s;
    toast(p, 3, "reloaded %s", p->story_path);
    printf("play: reloaded %s\n", p->story_path);
    fflush(stdout);
}

static void get_view(player *p, rv_story_view *v)
{
    SDL_LockMutex(p->sh.mu);
    rv_story_get_view(p->sh.st, v);
    SDL_UnlockMutex(p->sh.mu);
}

/* ---------------------------------------------------------------- actions */

static void choose(player *p, int i)
{
    if (!p->have_frame)
        return;
    rv_error err = {0};
    rv_story_view v;
    SDL_LockMutex(p->sh.mu);
    rv_status rc = rv_story_choose(p->sh.st, i, &err);
    uint64_t token = 0;
    if (!rc) {
        token = ++p->next_token;
        rv_story_set_visual_token(p->sh.st, token);
    }
    rv_story_get_view(p->sh.st, &v);
    SDL_UnlockMutex(p->sh.mu);
    if (rc) {
        toast(p, 2, "no choice %d here", i + 1);
        return;
    }
    if (p->nrb == RB_MAX) { /* the oldest picture goes (the story keeps 64 points) */
        free(p->rb[0].rgba);
        free(p->rb[0].latent);
        memmove(p->rb, p->rb + 1, (RB_MAX - 1) * sizeof(rb_entry));
        p->nrb--;
    }
    rb_entry *e = &p->rb[p->nrb];
    e->token = token;
    e->rgba = malloc((size_t)p->fw * p->fh * 4);
    e->latent = malloc(p->latent_count * sizeof(float));
    if (e->rgba && e->latent) {
        memcpy(e->rgba, p->shown, (size_t)p->fw * p->fh * 4);
        memcpy(e->latent, p->shown_latent, p->latent_count * sizeof(float));
        p->nrb++;
    } else {
        free(e->rgba);
        free(e->latent);
    }
    printf("play: chose %d -> scene %s\n", i + 1, v.scene);
    fflush(stdout);
}

/* The shown picture to the screen: to the GPU compositor (Vulkan), or to
 * the SDL_Renderer's texture. */
static void upload(player *p)
{
    char err[1100];
    if (p->vk && !pl_vkwin_set_frame(p->vk, p->shown, p->fw, p->fh, err, sizeof(err)))
        fprintf(stderr, "reverie play: cannot hand the frame to the GPU: %s\n", err);
    else if (p->tex)
        SDL_UpdateTexture(p->tex, NULL, p->shown, (int)p->fw * 4);
}

static void rollback(player *p)
{
    uint64_t token = 0;
    rv_error err = {0};
    rv_story_view v;
    bool pic = false;
    SDL_LockMutex(p->sh.mu);
    rv_status rc = rv_story_back(p->sh.st, 1, &token, &err);
    if (!rc) {
        for (int i = p->nrb - 1; i >= 0 && token; i--)
            if (p->rb[i].token == token) {
                memcpy(p->shown, p->rb[i].rgba, (size_t)p->fw * p->fh * 4);
                memcpy(p->shown_latent, p->rb[i].latent, p->latent_count * sizeof(float));
                memcpy(p->sh.pending_latent, p->rb[i].latent, p->latent_count * sizeof(float));
                p->sh.has_pending = true;
                pic = true;
                break;
            }
        p->sh.epoch++; /* a frame made before the rollback is not shown */
    }
    rv_story_get_view(p->sh.st, &v);
    SDL_UnlockMutex(p->sh.mu);
    if (rc) {
        toast(p, 2, "nothing to roll back");
        return;
    }
    if (pic)
        upload(p);
    toast(p, 2, "rolled back to %s", v.scene);
    printf("play: rollback -> scene %s (%s)\n", v.scene, pic ? "picture restored" : "no stored picture");
    fflush(stdout);
}

static void set_paused(player *p, bool on)
{
    SDL_LockMutex(p->sh.mu);
    p->sh.paused = on;
    if (on)
        p->sh.epoch++; /* the frame in flight is not shown: pausing freezes the picture */
    SDL_CondSignal(p->sh.cv);
    SDL_UnlockMutex(p->sh.mu);
    p->paused = on;
    printf("play: %s\n", on ? "paused" : "resumed");
    fflush(stdout);
}

static void save_slot(player *p, int slot)
{
    char dir[4096], path[4200], tmp[4300];
    data_dir(p, dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/slot-%d.json", dir, slot);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    rv_error err = {0};
    char *json = NULL;
    SDL_LockMutex(p->sh.mu);
    rv_status rc = rv_story_save(p->sh.st, &json, &err);
    uint64_t digest = rv_story_state_digest(p->sh.st);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "format", SAVE_FORMAT);
    char abs[4096];
    cJSON_AddStringToObject(o, "story", realpath(p->story_path, abs) ? abs : p->story_path);
    char seed[32];
    snprintf(seed, sizeof(seed), "%llu", (unsigned long long)p->sh.seed_offset);
    cJSON_AddStringToObject(o, "seed_offset", seed);
    cJSON_AddNumberToObject(o, "strength_delta", p->sh.strength_delta);
    cJSON_AddNumberToObject(o, "steps_delta", p->sh.steps_delta);
    SDL_UnlockMutex(p->sh.mu);
    if (rc) {
        cJSON_Delete(o);
        toast(p, 5, "save failed: %s", err.msg);
        fprintf(stderr, "reverie play: save: %s\n", err.msg);
        return;
    }
    cJSON *state = cJSON_Parse(json);
    free(json);
    cJSON_AddItemToObject(o, "state", state ? state : cJSON_CreateNull());
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    FILE *f = NULL;
    bool ok = text && mkdirs(dir) == 0 && (f = fopen(tmp, "wb")) != NULL;
    if (ok)
        ok = fputs(text, f) >= 0;
    if (f)
        ok = fclose(f) == 0 && ok;
    if (ok)
        ok = rename(tmp, path) == 0;
    free(text);
    if (!ok) {
        toast(p, 5, "save failed: %s: %s", path, strerror(errno));
        fprintf(stderr, "reverie play: cannot write %s: %s\n", path, strerror(errno));
        unlink(tmp);
        return;
    }
    toast(p, 3, "saved to slot %d", slot);
    printf("play: saved slot %d to %s (state %016llx)\n", slot, path, (unsigned long long)digest);
    fflush(stdout);
}

/* Shift+digit: the slot F5 and F9 use from now on; says what it holds. */
static void select_slot(player *p, int slot)
{
    char dir[4096], path[4200];
    data_dir(p, dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/slot-%d.json", dir, slot);
    p->slot = slot;
    struct stat sb;
    char when[64] = "empty";
    if (stat(path, &sb) == 0) {
        struct tm tm;
        localtime_r(&sb.st_mtime, &tm);
        strftime(when, sizeof(when), "saved %Y-%m-%d %H:%M:%S", &tm);
    }
    toast(p, 3, "slot %d (%s): F5 saves, F9 loads", slot, when);
    printf("play: slot %d selected (%s)\n", slot, strcmp(when, "empty") == 0 ? "empty" : "saved");
    fflush(stdout);
}

static void load_slot(player *p, int slot)
{
    char dir[4096], path[4200];
    data_dir(p, dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/slot-%d.json", dir, slot);
    FILE *f = fopen(path, "rb");
    if (!f) {
        toast(p, 4, "slot %d is empty (%s)", slot, path);
        fprintf(stderr, "reverie play: cannot read %s: %s\n", path, strerror(errno));
        return;
    }
    char *buf = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && n < (64l << 20) && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = calloc(1, (size_t)n + 1)) && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    cJSON *o = buf ? cJSON_Parse(buf) : NULL;
    free(buf);
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(o, "format");
    const cJSON *story = cJSON_GetObjectItemCaseSensitive(o, "story");
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(o, "state");
    if (!o || !cJSON_IsString(fmt) || strcmp(fmt->valuestring, SAVE_FORMAT) != 0 || !cJSON_IsObject(state)) {
        toast(p, 5, "%s is not a %s file", path, SAVE_FORMAT);
        fprintf(stderr, "reverie play: %s: not a %s file\n", path, SAVE_FORMAT);
        cJSON_Delete(o);
        return;
    }
    char abs[4096];
    if (cJSON_IsString(story) && (!realpath(p->story_path, abs) || strcmp(abs, story->valuestring) != 0)) {
        if (!open_story(p, story->valuestring, NULL)) {
            cJSON_Delete(o);
            return;
        }
    }
    char *sj = cJSON_PrintUnformatted(state);
    rv_error err = {0};
    SDL_LockMutex(p->sh.mu);
    rv_status rc = sj ? rv_story_restore(p->sh.st, sj, &err) : RV_ERR_HOST_MEMORY;
    uint64_t digest = rv_story_state_digest(p->sh.st);
    if (!rc) {
        const cJSON *so = cJSON_GetObjectItemCaseSensitive(o, "seed_offset");
        const cJSON *sd = cJSON_GetObjectItemCaseSensitive(o, "strength_delta");
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "steps_delta");
        if (cJSON_IsString(so))
            p->sh.seed_offset = strtoull(so->valuestring, NULL, 10);
        if (cJSON_IsNumber(sd) && fabs(sd->valuedouble) <= 1)
            p->sh.strength_delta = (float)sd->valuedouble;
        if (cJSON_IsNumber(st) && fabs(st->valuedouble) <= 8)
            p->sh.steps_delta = (int)st->valuedouble;
        p->sh.epoch++;
    }
    SDL_UnlockMutex(p->sh.mu);
    free(sj);
    cJSON_Delete(o);
    if (rc) {
        toast(p, 5, "load failed: %s", err.msg);
        fprintf(stderr, "reverie play: %s: %s\n", path, err.msg);
        return;
    }
    pl_replay_free(&p->replay); /* a loaded state ends a replay */
    toast(p, 3, "loaded slot %d", slot);
    printf("play: loaded slot %d from %s (state %016llx)\n", slot, path, (unsigned long long)digest);
    fflush(stdout);
}

static void media_params(player *p, rv_media_params *m, char *extra, size_t cap)
{
    const char *model = p->o->model_dir;
    const char *slash = strrchr(model, '/');
    while (slash && slash[1] == 0 && slash > model) { /* "dir/" */
        const char *q = slash - 1;
        while (q > model && *q != '/')
            q--;
        slash = *q == '/' ? q : NULL;
        break;
    }
    rv_story_view v;
    get_view(p, &v);
    snprintf(extra, cap, "Scene: %s, Frame: %llu", v.scene, (unsigned long long)p->res.index);
    *m = (rv_media_params){.prompt = p->prompt, .negative = p->negative, .steps = p->desc.steps,
                           .seed = p->desc.seed, .has_seed = true, .width = p->fw, .height = p->fh,
                           .model = slash ? slash + 1 : model, .scheduler = p->sh.scheduler,
                           .strength = p->desc.warp_only ? 0 : p->desc.strength, .extra = extra};
}

static void screenshot(player *p)
{
    if (!p->have_frame)
        return;
    const char *dir = p->o->out_dir ? p->o->out_dir : ".";
    char name[64], path[4200], extra[600];
    stamp(name, sizeof(name), ++p->shot_n);
    snprintf(path, sizeof(path), "%s/reverie-%s.png", dir, name);
    rv_media_params m;
    media_params(p, &m, extra, sizeof(extra));
    rv_error err = {0};
    if (rv_png_write_media(path, p->shown, p->fw, p->fh, &m, NULL, 0, &err)) {
        toast(p, 5, "screenshot failed: %s", err.msg);
        fprintf(stderr, "reverie play: screenshot: %s\n", err.msg);
        return;
    }
    toast(p, 3, "screenshot: %s", path);
    printf("play: screenshot %s\n", path);
    fflush(stdout);
}

static void record_toggle(player *p)
{
    rv_error err = {0};
    if (p->rec) {
        int64_t n = rv_media_out_frames(p->rec);
        if (n > 0 && rv_media_out_finish(p->rec, &err) == RV_OK) {
            toast(p, 4, "recorded %lld frames: %s", (long long)n, p->rec_path);
            printf("play: recorded %lld frames to %s\n", (long long)n, p->rec_path);
        } else {
            toast(p, 4, "recording not written (%s)", n > 0 ? err.msg : "no frames");
            fprintf(stderr, "reverie play: recording %s not written: %s\n", p->rec_path,
                    n > 0 ? err.msg : "no frames were made while recording");
            rv_media_out_destroy(p->rec);
        }
        fflush(stdout);
        p->rec = NULL;
        return;
    }
    if (!p->have_frame)
        return;
    const char *dir = p->o->out_dir ? p->o->out_dir : ".";
    char name[64], extra[600];
    stamp(name, sizeof(name), ++p->shot_n);
    snprintf(p->rec_path, sizeof(p->rec_path), "%s/reverie-%s.mp4", dir, name);
    rv_media_params *m = &p->rec_meta;
    media_params(p, m, extra, sizeof(extra));
    m->extra = NULL;
    snprintf(p->rec_prompt, sizeof(p->rec_prompt), "%s", p->prompt);
    snprintf(p->rec_negative, sizeof(p->rec_negative), "%s", p->negative);
    m->prompt = p->rec_prompt;
    m->negative = p->rec_negative;
    int fps = (int)lround(p->gen_fps);
    fps = fps < 1 ? 1 : fps > 30 ? 30 : fps;
    rv_media_out_desc d = {.path = p->rec_path, .width = p->fw, .height = p->fh, .fps_num = (uint32_t)fps,
                           .fps_den = 1, .meta = m};
    if (rv_media_out_create(&p->rec, &d, &err)) {
        p->rec = NULL;
        toast(p, 5, "recording failed: %s", err.msg);
        fprintf(stderr, "reverie play: recording: %s\n", err.msg);
        return;
    }
    toast(p, 3, "recording to %s (F10 stops)", p->rec_path);
    printf("play: recording %s at %d fps\n", p->rec_path, fps);
    fflush(stdout);
}

/* ---------------------------------------------------------------- editor */

static void unknown_word(void *user, const char *word, const char *pieces)
{
    player *p = user;
    size_t n = strlen(p->edit_unknown);
    snprintf(p->edit_unknown + n, sizeof(p->edit_unknown) - n, "%s%s (%s)", n ? ", " : "", word, pieces);
}

static void edit_changed(player *p)
{
    p->edit_unknown[0] = 0;
    p->edit_tokens = 0;
    if (!p->pinfo)
        return;
    rv_error err = {0};
    if (rv_prompt_count_tokens(p->pinfo, p->edit, &p->edit_tokens, &err))
        p->edit_tokens = -1;
    rv_prompt_unknown_words(p->pinfo, p->edit, unknown_word, p);
}

static void editor_open(player *p)
{
    if (p->editing)
        return;
    p->editing = true;
    snprintf(p->edit, sizeof(p->edit), "%s", p->prompt);
    edit_changed(p);
    SDL_StartTextInput();
}

static void editor_close(player *p)
{
    p->editing = false;
    SDL_StopTextInput();
}

static void editor_insert(player *p, const char *s)
{
    size_t n = strlen(p->edit), m = strlen(s);
    if (n + m >= sizeof(p->edit))
        return;
    memcpy(p->edit + n, s, m + 1);
    edit_changed(p);
}

static void editor_backspace(player *p)
{
    size_t n = strlen(p->edit);
    while (n > 0) {
        unsigned char c = (unsigned char)p->edit[--n];
        if ((c & 0xC0) != 0x80) /* the first byte of the last character */
            break;
    }
    p->edit[n] = 0;
    edit_changed(p);
}

static void editor_apply(player *p)
{
    rv_error err = {0};
    SDL_LockMutex(p->sh.mu);
    rv_status rc = rv_story_edit_prompt(p->sh.st, p->edit, &err);
    if (!rc) {
        p->sh.edit_serial++;
        p->sh.edit_t0 = SDL_GetPerformanceCounter();
    }
    SDL_UnlockMutex(p->sh.mu);
    editor_close(p);
    if (rc) {
        toast(p, 5, "prompt not applied: %s", err.msg);
        return;
    }
    toast(p, 2, "prompt applied");
    printf("play: prompt \"%s\"\n", p->edit);
    fflush(stdout);
}

/* ---------------------------------------------------------------- input */

static void adjust(player *p, float dstrength, int dsteps, uint64_t dseed)
{
    SDL_LockMutex(p->sh.mu);
    float s = p->sh.strength_delta + dstrength;
    p->sh.strength_delta = s < -1 ? -1 : s > 1 ? 1 : s;
    int st = p->sh.steps_delta + dsteps;
    p->sh.steps_delta = st < -8 ? -8 : st > 8 ? 8 : st;
    p->sh.seed_offset += dseed;
    float sd = p->sh.strength_delta;
    int dd = p->sh.steps_delta;
    uint64_t so = p->sh.seed_offset;
    SDL_UnlockMutex(p->sh.mu);
    if (dseed)
        toast(p, 2, "new seed (+%llu)", (unsigned long long)so);
    else
        toast(p, 2, "strength %+.2f, steps %+d", (double)sd, dd);
    printf("play: strength %+.2f steps %+d seed +%llu\n", (double)sd, dd, (unsigned long long)so);
    fflush(stdout);
}

static void key(player *p, SDL_Keycode k, Uint16 mod)
{
    if (p->editing) {
        if (k == SDLK_RETURN || k == SDLK_KP_ENTER)
            editor_apply(p);
        else if (k == SDLK_ESCAPE || k == SDLK_TAB)
            editor_close(p);
        else if (k == SDLK_BACKSPACE)
            editor_backspace(p);
        else if (k == SDLK_u && (mod & KMOD_CTRL)) {
            p->edit[0] = 0;
            edit_changed(p);
        }
        return;
    }
    if (k >= SDLK_1 && k <= SDLK_9) {
        if (mod & KMOD_SHIFT)
            select_slot(p, (int)(k - SDLK_1) + 1);
        else
            choose(p, (int)(k - SDLK_1));
        return;
    }
    if (k >= SDLK_KP_1 && k <= SDLK_KP_9) {
        choose(p, (int)(k - SDLK_KP_1));
        return;
    }
    switch (k) {
    case SDLK_TAB: editor_open(p); break;
    case SDLK_SPACE: set_paused(p, !p->paused); break;
    case SDLK_r:
        if (mod & KMOD_CTRL) {
            p->story_mtime = (struct timespec){0};
            p->next_stat = 0;
        } else {
            adjust(p, 0, 0, 1);
        }
        break;
    case SDLK_PLUS: case SDLK_EQUALS: case SDLK_KP_PLUS: adjust(p, 0.05f, 0, 0); break;
    case SDLK_MINUS: case SDLK_KP_MINUS: adjust(p, -0.05f, 0, 0); break;
    case SDLK_RIGHTBRACKET: adjust(p, 0, 1, 0); break;
    case SDLK_LEFTBRACKET: adjust(p, 0, -1, 0); break;
    case SDLK_BACKSPACE: rollback(p); break;
    case SDLK_F5: save_slot(p, p->slot); break;
    case SDLK_F9: load_slot(p, p->slot); break;
    case SDLK_F10: record_toggle(p); break;
    case SDLK_F11:
        p->fullscreen = !p->fullscreen;
        SDL_SetWindowFullscreen(p->win, p->fullscreen ? SDL_WINDOW_FULLSCREEN_DESKTOP : 0);
        printf("play: fullscreen %s\n", p->fullscreen ? "on" : "off");
        fflush(stdout);
        break;
    case SDLK_F12: screenshot(p); break;
    case SDLK_QUESTION: case SDLK_SLASH: case SDLK_F1: p->help = !p->help; break;
    case SDLK_h: p->hud = !p->hud; break;
    case SDLK_ESCAPE:
        if (p->help)
            p->help = false;
        else
            p->quit = true;
        break;
    case SDLK_q: p->quit = true; break;
    default: break;
    }
}

static void click(player *p, int x, int y)
{
    for (int i = 0; i < p->nchoice; i++) {
        SDL_Rect r = p->choice_rect[i];
        if (x >= r.x && x < r.x + r.w && y >= r.y && y < r.y + r.h) {
            choose(p, i);
            return;
        }
    }
}

static void handle_event(player *p, const SDL_Event *ev)
{
    switch (ev->type) {
    case SDL_QUIT: p->quit = true; break;
    case SDL_KEYDOWN: key(p, ev->key.keysym.sym, ev->key.keysym.mod); break;
    case SDL_TEXTINPUT:
        if (p->editing)
            editor_insert(p, ev->text.text);
        break;
    case SDL_MOUSEBUTTONDOWN:
        if (ev->button.button == SDL_BUTTON_LEFT)
            click(p, ev->button.x, ev->button.y);
        break;
    case SDL_DROPFILE:
        if (ev->drop.file) {
            if (open_story(p, ev->drop.file, NULL))
                toast(p, 3, "opened %s", ev->drop.file);
            SDL_free(ev->drop.file);
        }
        break;
    case SDL_RENDER_TARGETS_RESET:
    case SDL_RENDER_DEVICE_RESET:
        /* the window's surface was lost: textures are made again */
        fprintf(stderr, "reverie play: the window's surface was reset; recreating it\n");
        if (p->text)
            pl_text_size(p->text, 0), pl_text_size(p->text, 16);
        if (p->tex)
            SDL_DestroyTexture(p->tex);
        p->tex = p->vk ? NULL
                       : SDL_CreateTexture(p->ren, SDL_PIXELFORMAT_RGBA32, SDL_TEXTUREACCESS_STREAMING, (int)p->fw,
                                           (int)p->fh);
        if (p->have_frame)
            upload(p);
        break;
    default: break;
    }
}

/* ---------------------------------------------------------------- drawing */

static const SDL_Color WHITE = {255, 255, 255, 255}, GREY = {190, 190, 190, 255}, YELLOW = {255, 220, 120, 255},
                       RED = {255, 110, 110, 255}, CYAN = {140, 220, 255, 255};

static void panel(player *p, int x, int y, int w, int h, Uint8 alpha)
{
    SDL_SetRenderDrawBlendMode(p->ren, SDL_BLENDMODE_BLEND);
    SDL_SetRenderDrawColor(p->ren, 0, 0, 0, alpha);
    SDL_Rect r = {x, y, w, h};
    SDL_RenderFillRect(p->ren, &r);
}

static void draw_story(player *p, int W, int H, int pad)
{
    rv_story_view v;
    get_view(p, &v);
    pl_text *t = p->text;
    int wrap = W - 2 * pad, lh = pl_text_line_height(t, false);
    /* measure */
    char line[RV_STORY_LINE_MAX + 16];
    int hgt = 0, h;
    if (v.feedback[0]) {
        pl_text_draw(t, v.feedback, 0, 0, wrap, YELLOW, false, false, NULL, &h);
        hgt += h + pad / 2;
    }
    pl_text_draw(t, v.narration, 0, 0, wrap, WHITE, false, false, NULL, &h);
    hgt += h;
    if (v.is_quiz && v.question[0]) {
        pl_text_draw(t, v.question, 0, 0, wrap, CYAN, false, false, NULL, &h);
        hgt += h + pad / 2;
    }
    for (int i = 0; i < v.n_choices; i++) {
        snprintf(line, sizeof(line), "%d. %s", i + 1, v.choices[i].text);
        pl_text_draw(t, line, 0, 0, wrap - pad, YELLOW, false, false, NULL, &h);
        hgt += h + (i == 0 ? pad / 2 : 0);
    }
    if (v.is_ending)
        hgt += lh + pad / 2;
    if (hgt == 0)
        return;
    int y = H - hgt - 2 * pad;
    panel(p, 0, y, W, H - y, 170);
    y += pad;
    if (v.feedback[0]) {
        pl_text_draw(t, v.feedback, pad, y, wrap, YELLOW, false, true, NULL, &h);
        y += h + pad / 2;
    }
    pl_text_draw(t, v.narration, pad, y, wrap, WHITE, false, true, NULL, &h);
    y += h;
    if (v.is_quiz && v.question[0]) {
        y += pad / 2;
        pl_text_draw(t, v.question, pad, y, wrap, CYAN, false, true, NULL, &h);
        y += h;
    }
    p->nchoice = 0;
    for (int i = 0; i < v.n_choices; i++) {
        if (i == 0)
            y += pad / 2;
        snprintf(line, sizeof(line), "%d. %s", i + 1, v.choices[i].text);
        int w;
        pl_text_draw(t, line, pad * 2, y, wrap - pad, YELLOW, false, true, &w, &h);
        p->choice_rect[p->nchoice++] = (SDL_Rect){pad, y, W - 2 * pad, h};
        y += h;
    }
    if (v.is_ending) {
        snprintf(line, sizeof(line), "The end: %s", v.ending);
        pl_text_draw(t, line, pad, y + pad / 2, wrap, CYAN, false, true, NULL, NULL);
    }
}

static void draw_hud(player *p, int W, int pad)
{
    pl_text *t = p->text;
    char l[6][512];
    int n = 0;
    snprintf(l[n++], 512, "%.1f fps shown, %.2f frames/s made, frame %llu", p->present_fps, p->gen_fps,
             (unsigned long long)p->res.index);
    int o = snprintf(l[n], 512, "GPU %.1f ms, wall %.1f ms:", p->res.gpu_ms, p->res.wall_ms);
    for (int i = 0; i < p->res.nstages && o < 480; i++)
        o += snprintf(l[n] + o, (size_t)(512 - o), " %s %.1f", p->res.stages[i].name, p->res.stages[i].ms);
    n++;
    if (p->edit_ms >= 0)
        snprintf(l[n++], 512, "edit -> frame %.0f ms", p->edit_ms);
    else
        snprintf(l[n++], 512, "edit -> frame: no edit yet (Tab)");
    snprintf(l[n++], 512, "%s, %ux%u, %d step%s, strength %.2f, seed %llu, slot %d%s", p->sh.device, p->fw, p->fh,
             p->desc.steps, p->desc.steps == 1 ? "" : "s", p->desc.warp_only ? 0.0 : (double)p->desc.strength,
             (unsigned long long)p->desc.seed, p->slot, p->rec ? ", REC" : "");
    int w = 0, h = 0, y = pad / 2, maxw = 0, hgt = 0, wrap = W - pad;
    for (int i = 0; i < n; i++) {
        pl_text_draw(t, l[i], 0, 0, wrap, WHITE, true, false, &w, &h);
        maxw = w > maxw ? w : maxw;
        hgt += h;
    }
    panel(p, 0, 0, maxw + pad, hgt + pad, 140);
    for (int i = 0; i < n; i++) {
        pl_text_draw(t, l[i], pad / 2, y, wrap, i == 2 ? CYAN : WHITE, true, true, NULL, &h);
        y += h;
    }
}

static void draw_center_box(player *p, const char *const *lines, int n, int W, int H, int pad)
{
    pl_text *t = p->text;
    int maxw = 0, hgt = 0, w, h;
    for (int i = 0; i < n; i++) {
        pl_text_draw(t, lines[i], 0, 0, W - 4 * pad, i ? WHITE : YELLOW, i > 0, false, &w, &h);
        maxw = w > maxw ? w : maxw;
        hgt += h;
    }
    int x = (W - maxw) / 2 - pad, y = (H - hgt) / 2 - pad;
    panel(p, x, y, maxw + 2 * pad, hgt + 2 * pad, 215);
    y += pad;
    for (int i = 0; i < n; i++) {
        pl_text_draw(t, lines[i], x + pad, y, W - 4 * pad, i ? WHITE : YELLOW, i > 0, true, NULL, &h);
        y += h;
    }
}

static void draw(player *p)
{
    if (p->vk) {
        bool changed = false;
        if (!pl_vkwin_begin(p->vk, &changed)) {
            fprintf(stderr, "reverie play: cannot follow the window's size: %s\n", SDL_GetError());
            p->exit_code = 2;
            p->quit = true;
            return;
        }
        if (changed) { /* a new overlay canvas: the text's textures belong to the old one */
            p->ren = pl_vkwin_renderer(p->vk);
            pl_text_set_renderer(p->text, p->ren);
        }
    }
    int W, H;
    SDL_GetRendererOutputSize(p->ren, &W, &H);
    int px = H / 30;
    pl_text_size(p->text, px < 12 ? 12 : px > 28 ? 28 : px);
    int pad = pl_text_line_height(p->text, false) / 2;
    p->nchoice = 0;
    if (!p->vk) { /* SDL_Renderer draws the picture too; with Vulkan the GPU scales it under the overlay */
        SDL_SetRenderDrawColor(p->ren, 0, 0, 0, 255);
        SDL_RenderClear(p->ren);
    }
    if (p->have_frame && (p->tex || p->vk)) {
        if (p->tex) {
            double s = fmin((double)W / p->fw, (double)H / p->fh);
            int dw = (int)lround(p->fw * s), dh = (int)lround(p->fh * s);
            SDL_Rect dst = {(W - dw) / 2, (H - dh) / 2, dw, dh};
            SDL_RenderCopy(p->ren, p->tex, NULL, &dst);
        }
        draw_story(p, W, H, pad);
        if (p->hud)
            draw_hud(p, W, pad);
    }
    SDL_LockMutex(p->sh.mu);
    bool failed = p->sh.failed;
    char error[sizeof(p->sh.error)];
    snprintf(error, sizeof(error), "%s", p->sh.error);
    SDL_UnlockMutex(p->sh.mu);
    if (failed) {
        const char *lines[] = {"Reverie cannot play", error, "(the message is on stderr too; Esc quits)"};
        draw_center_box(p, lines, 3, W, H, pad);
    } else if (!p->have_frame) {
        const char *lines[] = {"Reverie", p->sh.ready ? "making the first frame..." : "loading the model...", p->o->model_dir};
        draw_center_box(p, lines, 3, W, H, pad);
    }
    if (p->editing) {
        char count[160];
        snprintf(count, sizeof(count), "%d / %d tokens%s", p->edit_tokens, RV_PROMPT_MAX_TOKENS,
                 p->edit_tokens > RV_PROMPT_MAX_TOKENS ? " (the rest is cut)" : "");
        char shown[RV_STORY_TEXT_MAX + 8];
        snprintf(shown, sizeof(shown), "%s|", p->edit);
        int wrap = W - 4 * pad, h1, h2, h3 = 0, h4;
        pl_text_draw(p->text, "Prompt (Enter applies, Esc cancels)", 0, 0, wrap, CYAN, true, false, NULL, &h1);
        pl_text_draw(p->text, shown, 0, 0, wrap, WHITE, false, false, NULL, &h2);
        char unk[900] = "";
        if (p->edit_unknown[0]) {
            snprintf(unk, sizeof(unk), "not known to the model: %s", p->edit_unknown);
            pl_text_draw(p->text, unk, 0, 0, wrap, RED, true, false, NULL, &h3);
        }
        pl_text_draw(p->text, count, 0, 0, wrap, p->edit_tokens > RV_PROMPT_MAX_TOKENS ? RED : GREY, true, false,
                     NULL, &h4);
        int y = H / 4;
        panel(p, pad, y, W - 2 * pad, h1 + h2 + h3 + h4 + 2 * pad, 220);
        y += pad;
        pl_text_draw(p->text, "Prompt (Enter applies, Esc cancels)", 2 * pad, y, wrap, CYAN, true, true, NULL, NULL);
        y += h1;
        pl_text_draw(p->text, shown, 2 * pad, y, wrap, WHITE, false, true, NULL, NULL);
        y += h2;
        if (unk[0])
            pl_text_draw(p->text, unk, 2 * pad, y, wrap, RED, true, true, NULL, NULL);
        y += h3;
        pl_text_draw(p->text, count, 2 * pad, y, wrap, p->edit_tokens > RV_PROMPT_MAX_TOKENS ? RED : GREY, true, true,
                     NULL, NULL);
    }
    if (p->help) {
        const char *lines[] = {
            "Keys",
            "1-9 or click: choose        Tab: edit the prompt (Enter applies)",
            "Space: pause        R: new seed        + / -: strength        [ / ]: steps",
            "Backspace: roll back one choice (story and picture)",
            "F5: save        F9: load        Shift+1-9: pick the save slot (F5/F9 use it)",
            "F10: record MP4        F12: screenshot PNG",
            "F11: fullscreen        H: HUD        Ctrl+R: reload the story        ?: this help",
            "Esc or Q: quit        drop a story file on the window to open it",
        };
        draw_center_box(p, lines, (int)(sizeof(lines) / sizeof(lines[0])), W, H, pad);
    }
    if (p->paused) {
        int w;
        pl_text_draw(p->text, "PAUSED", 0, 0, 0, YELLOW, false, false, &w, NULL);
        pl_text_draw(p->text, "PAUSED", W - w - pad, pad / 2, 0, YELLOW, false, true, NULL, NULL);
    }
    if (p->now < p->toast_until && p->toast[0] && !p->help) {
        int w, h;
        pl_text_draw(p->text, p->toast, 0, 0, W - 4 * pad, WHITE, true, false, &w, &h);
        int y = H / 2 - h - 3 * pad;
        panel(p, (W - w) / 2 - pad / 2, y - pad / 4, w + pad, h + pad / 2, 200);
        pl_text_draw(p->text, p->toast, (W - w) / 2, y, W - 4 * pad, WHITE, true, true, NULL, NULL);
    }
    pl_text_sweep(p->text);
    if (p->vk) {
        char err[1100];
        if (!pl_vkwin_present(p->vk, err, sizeof(err))) {
            fprintf(stderr, "reverie play: the window's Vulkan surface is lost and could not be made again: %s\n",
                    err);
            p->exit_code = 2;
            p->quit = true;
        }
    } else {
        SDL_RenderPresent(p->ren);
    }
    p->presents++;
    if (p->now - p->fps_t0 >= 1.0) {
        p->present_fps = p->presents / (p->now - p->fps_t0);
        p->presents = 0;
        p->fps_t0 = p->now;
    }
    p->last_draw = p->now;
}

/* ---------------------------------------------------------------- frames */

static void poll_worker(player *p)
{
    SDL_LockMutex(p->sh.mu);
    if (p->sh.ready && !p->ready_seen) {
        p->ready_seen = true;
        p->fw = p->sh.w;
        p->fh = p->sh.h;
        p->latent_count = p->sh.latent_count;
        p->shown = calloc((size_t)p->fw * p->fh, 4);
        p->shown_latent = calloc(p->latent_count, sizeof(float));
        if (!p->vk)
            p->tex = SDL_CreateTexture(p->ren, SDL_PIXELFORMAT_RGBA32, SDL_TEXTUREACCESS_STREAMING, (int)p->fw,
                                       (int)p->fh);
        printf("play: ready on %s, frames %ux%u\n", p->sh.device, p->fw, p->fh);
        fflush(stdout);
    }
    bool fresh = p->ready_seen && p->shown && p->sh.serial != p->shown_serial;
    if (fresh) {
        p->shown_serial = p->sh.serial;
        memcpy(p->shown, p->sh.rgba, (size_t)p->fw * p->fh * 4);
        memcpy(p->shown_latent, p->sh.latent, p->latent_count * sizeof(float));
        p->res = p->sh.res;
        p->desc = p->sh.desc;
        memcpy(p->prompt, p->sh.prompt, sizeof(p->prompt));
        memcpy(p->negative, p->sh.negative, sizeof(p->negative));
        p->edit_ms = p->sh.edit_ms;
        p->gen_fps = p->sh.gen_fps;
    }
    bool failed = p->sh.failed && !p->failed_seen;
    if (failed)
        p->failed_seen = true;
    SDL_UnlockMutex(p->sh.mu);
    if (failed) {
        fprintf(stderr, "reverie play: %s\n", p->sh.error);
        if (p->script.n || p->o->max_frames)
            p->exit_code = 2, p->quit = true;
    }
    if (!fresh)
        return;
    upload(p);
    p->have_frame = true;
    p->frames_seen++;
    if (p->rec) {
        rv_error err = {0};
        if (rv_media_out_write(p->rec, p->shown, NULL, &err)) {
            fprintf(stderr, "reverie play: recording stopped: %s\n", err.msg);
            toast(p, 5, "recording stopped: %s", err.msg);
            rv_media_out_destroy(p->rec);
            p->rec = NULL;
        }
    }
    if (p->o->max_frames && (long)p->frames_seen >= p->o->max_frames)
        p->quit = true;
}

/* ---------------------------------------------------------------- script */

/* Presents, then hands the screenshot over: writes the name into the
 * request file and waits (still answering the window) until the harness
 * removes it, or takes the window itself when there is no request file. */
static void shot(player *p, const char *name)
{
    draw(p);
    SDL_Delay(30);
    draw(p);
    if (!p->o->shot_request) {
        int W, H;
        uint32_t *px = NULL;
        bool got;
        if (p->vk) { /* the GPU's composite */
            got = (px = pl_vkwin_read(p->vk, &W, &H)) != NULL;
        } else {
            SDL_GetRendererOutputSize(p->ren, &W, &H);
            px = malloc((size_t)W * H * 4);
            got = px && SDL_RenderReadPixels(p->ren, NULL, SDL_PIXELFORMAT_RGBA32, px, W * 4) == 0;
        }
        rv_error err = {0};
        char path[4200];
        snprintf(path, sizeof(path), "%s/%s.png", p->o->out_dir ? p->o->out_dir : ".", name);
        if (got && rv_png_write_media(path, px, (uint32_t)W, (uint32_t)H, NULL, NULL, 0, &err) == RV_OK)
            printf("play: shot %s\n", path);
        else
            fprintf(stderr, "reverie play: shot %s failed: %s\n", path, err.msg[0] ? err.msg : SDL_GetError());
        free(px);
        fflush(stdout);
        return;
    }
    FILE *f = fopen(p->o->shot_request, "w");
    if (!f) {
        fprintf(stderr, "reverie play: cannot write %s: %s\n", p->o->shot_request, strerror(errno));
        return;
    }
    fprintf(f, "%s\n", name);
    fclose(f);
    printf("play: shot %s\n", name);
    fflush(stdout);
    double t0 = secs();
    while (access(p->o->shot_request, F_OK) == 0 && secs() - t0 < 60) {
        SDL_Event ev;
        while (SDL_PollEvent(&ev))
            if (ev.type == SDL_QUIT)
                p->quit = true;
        SDL_Delay(10);
    }
}

static void run_script(player *p)
{
    while (p->script.pos < p->script.n && !p->quit) {
        const pl_cmd *c = &p->script.cmds[p->script.pos];
        switch (c->kind) {
        case PL_WAIT:
            if (!p->waiting) {
                p->waiting = true;
                p->wait_until = p->now + c->num;
            }
            if (p->now < p->wait_until)
                return;
            p->waiting = false;
            break;
        case PL_FRAMES:
            if (!p->waiting) {
                p->waiting = true;
                p->wait_frames = p->frames_seen + (uint64_t)c->num;
            }
            if (p->frames_seen < p->wait_frames)
                return;
            p->waiting = false;
            break;
        case PL_KEY: {
            const char *name = c->arg;
            Uint16 mod = 0;
            for (;;) { /* "ctrl+r", "shift+F5" */
                if (SDL_strncasecmp(name, "ctrl+", 5) == 0 && name[5])
                    mod |= KMOD_LCTRL, name += 5;
                else if (SDL_strncasecmp(name, "shift+", 6) == 0 && name[6])
                    mod |= KMOD_LSHIFT, name += 6;
                else
                    break;
            }
            SDL_Keycode k = SDL_GetKeyFromName(name);
            if (k == SDLK_UNKNOWN && name[0] && !name[1])
                k = (SDL_Keycode)(unsigned char)name[0];
            if (k == SDLK_UNKNOWN) {
                fprintf(stderr, "reverie play: %s:%d: unknown key \"%s\"\n", p->o->script_path, c->line, c->arg);
                p->exit_code = 1;
                p->quit = true;
                return;
            }
            printf("play: key %s\n", c->arg);
            key(p, k, mod);
            break;
        }
        case PL_CHOOSE: choose(p, (int)c->num - 1); break;
        case PL_TYPE:
            editor_open(p);
            editor_insert(p, c->arg);
            break;
        case PL_EDIT:
            editor_open(p);
            p->edit[0] = 0;
            editor_insert(p, c->arg);
            draw(p);
            editor_apply(p);
            break;
        case PL_SHOT:
            shot(p, c->arg);
            p->now = secs(); /* the hand-off may have taken a while */
            break;
        case PL_EXPECT_SCENE: {
            rv_story_view v;
            get_view(p, &v);
            if (strcmp(v.scene, c->arg) != 0) {
                fprintf(stderr, "reverie play: %s:%d: expected scene \"%s\", the story is at \"%s\"\n",
                        p->o->script_path, c->line, c->arg, v.scene);
                p->exit_code = 3;
                p->quit = true;
                return;
            }
            break;
        }
        case PL_DROP: { /* the event a window manager's drag and drop sends */
            SDL_Event ev = {.type = SDL_DROPFILE};
            ev.drop.file = SDL_strdup(c->arg);
            ev.drop.windowID = SDL_GetWindowID(p->win);
            handle_event(p, &ev);
            break;
        }
        case PL_WAIT_SCENE: {
            rv_story_view v;
            get_view(p, &v);
            if (!p->waiting) {
                p->waiting = true;
                p->wait_until = p->now + 300;
            }
            if (strcmp(v.scene, c->arg) != 0) {
                if (p->now < p->wait_until)
                    return;
                fprintf(stderr, "reverie play: %s:%d: the story did not reach scene \"%s\" in 300 s (at \"%s\")\n",
                        p->o->script_path, c->line, c->arg, v.scene);
                p->exit_code = 3;
                p->quit = true;
                return;
            }
            p->waiting = false;
            break;
        }
        case PL_PRINT: {
            rv_story_view v;
            SDL_LockMutex(p->sh.mu);
            rv_story_get_view(p->sh.st, &v);
            uint64_t d = rv_story_state_digest(p->sh.st);
            int depth = rv_story_history_depth(p->sh.st);
            SDL_UnlockMutex(p->sh.mu);
            printf("play: state scene %s turns %d history %d digest %016llx\n", v.scene, v.turns, depth,
                   (unsigned long long)d);
            break;
        }
        case PL_FAULT:
            if (p->vk) {
                printf("play: fault %s\n", c->arg);
                pl_vkwin_fault(p->vk, c->arg);
                draw(p); /* the next present meets it */
            } else {
                printf("play: fault %s ignored (not presenting through Vulkan)\n", c->arg);
            }
            break;
        case PL_QUIT: p->quit = true; break;
        }
        fflush(stdout);
        p->script.pos++;
    }
}

/* Moves the story clock on by dt seconds, taking the replay log's events
 * at their times on the way. */
static void advance(player *p, double dt)
{
    int64_t us = llround(dt * 1e6);
    while (p->replay.next < p->replay.n && p->clock_us + us >= p->replay.ev[p->replay.next].t) {
        const pl_replay_ev *e = &p->replay.ev[p->replay.next++];
        int64_t step = e->t > p->clock_us ? e->t - p->clock_us : 0;
        SDL_LockMutex(p->sh.mu);
        rv_story_advance(p->sh.st, (double)step * 1e-6);
        SDL_UnlockMutex(p->sh.mu);
        p->clock_us += step;
        us -= step;
        printf("play: replay event %d of %d\n", p->replay.next, p->replay.n);
        if (e->kind == PL_REPLAY_CHOOSE)
            choose(p, e->arg);
        else if (e->kind == PL_REPLAY_BACK)
            for (int i = 0; i < e->arg; i++)
                rollback(p);
        else {
            snprintf(p->edit, sizeof(p->edit), "%s", e->text ? e->text : "");
            editor_apply(p);
        }
    }
    SDL_LockMutex(p->sh.mu);
    rv_story_advance(p->sh.st, (double)us * 1e-6);
    SDL_UnlockMutex(p->sh.mu);
    p->clock_us += us;
}

/* ---------------------------------------------------------------- main */

int rv_player_run(const rv_player_opts *o)
{
    player *p = calloc(1, sizeof(*p));
    if (!p)
        return 2;
    p->o = o;
    p->hud = !o->no_hud;
    p->slot = 1;
    p->edit_ms = -1;
    p->sh.edit_ms = -1;
    int rc = 0;
    char err[1024];
    if (o->script_path && !pl_script_load(&p->script, o->script_path, err, sizeof(err))) {
        fprintf(stderr, "reverie play: %s\n", err);
        free(p);
        return 1;
    }
    p->sh.mu = SDL_CreateMutex();
    p->sh.cv = SDL_CreateCond();
    snprintf(p->story_path, sizeof(p->story_path), "%s", o->story_path);
    if (!open_story(p, p->story_path, o->replay_path)) {
        rc = 1;
        goto out;
    }
    rv_error perr = {0};
    if (rv_prompt_info_load(&p->pinfo, o->model_dir, &perr))
        p->pinfo = NULL; /* the model's own error comes from the engine */

    if (SDL_Init(SDL_INIT_VIDEO | SDL_INIT_EVENTS) != 0) {
        fprintf(stderr, "reverie play: cannot open a window: %s\n", SDL_GetError());
        rc = 2;
        goto out;
    }
    if (TTF_Init() != 0) {
        fprintf(stderr, "reverie play: SDL_ttf: %s\n", TTF_GetError());
        rc = 2;
        goto out_sdl;
    }
    rv_story_info si;
    rv_story_get_info(p->story, &si);
    uint32_t fw = o->width ? o->width : (uint32_t)(si.width > 0 ? si.width : 256);
    uint32_t fh = o->height ? o->height : (uint32_t)(si.height > 0 ? si.height : 256);
    int ww = (int)(o->win_width ? o->win_width : fw * 2 < 1024 ? fw * 2 : 1024);
    int wh = (int)(o->win_height ? o->win_height : (uint32_t)ww * fh / fw);
    if (ww < 320)
        ww = 320, wh = (int)((uint32_t)ww * fh / fw);
    const Uint32 wflags = SDL_WINDOW_RESIZABLE | SDL_WINDOW_ALLOW_HIGHDPI |
                          (o->fullscreen ? SDL_WINDOW_FULLSCREEN_DESKTOP : 0);
    char how[1400] = "";
    SDL_SetHint(SDL_HINT_RENDER_SCALE_QUALITY, "linear");
    if (o->present != 2) { /* a Vulkan swapchain (runtime/gpu/present.c) */
        const char *val = getenv("RV_VALIDATION");
        bool validation = o->gpu.validation || (val && strcmp(val, "1") == 0);
        char verr[1100] = "";
        p->win = SDL_CreateWindow("Reverie", SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED, ww, wh,
                                  wflags | SDL_WINDOW_VULKAN);
        if (!p->win)
            snprintf(verr, sizeof(verr), "no Vulkan window: %s", SDL_GetError());
        else if (!(p->vk = pl_vkwin_create(p->win, validation, verr, sizeof(verr)))) {
            SDL_DestroyWindow(p->win);
            p->win = NULL;
        }
        if (p->vk) {
            p->ren = pl_vkwin_renderer(p->vk);
            snprintf(how, sizeof(how), "Vulkan swapchain on %s", pl_vkwin_device(p->vk));
        } else if (o->present == 1) {
            fprintf(stderr, "reverie play: Vulkan presentation failed: %s\n", verr);
            rc = 2;
            goto out_ttf;
        } else {
            fprintf(stderr, "reverie play: Vulkan presentation unavailable (%s); presenting with SDL_Renderer\n",
                    verr);
        }
    }
    if (!p->win) {
        p->win = SDL_CreateWindow("Reverie", SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED, ww, wh, wflags);
        if (!p->win) {
            fprintf(stderr, "reverie play: cannot open a window: %s\n", SDL_GetError());
            rc = 2;
            goto out_ttf;
        }
        p->ren = SDL_CreateRenderer(p->win, -1, SDL_RENDERER_ACCELERATED | SDL_RENDERER_PRESENTVSYNC);
        if (!p->ren)
            p->ren = SDL_CreateRenderer(p->win, -1, SDL_RENDERER_SOFTWARE);
        if (!p->ren) {
            fprintf(stderr, "reverie play: cannot draw in the window: %s\n", SDL_GetError());
            rc = 2;
            goto out_win;
        }
        SDL_RendererInfo ri;
        SDL_GetRendererInfo(p->ren, &ri);
        snprintf(how, sizeof(how), "SDL_Renderer %s", ri.name);
    }
    p->fullscreen = o->fullscreen;
    p->text = pl_text_create(p->ren, FONT_PATH);
    if (!p->text) {
        fprintf(stderr, "reverie play: cannot open the font %s: %s (install fonts-dejavu-core)\n", FONT_PATH,
                TTF_GetError());
        rc = 2;
        goto out_ren;
    }
    SDL_StopTextInput();
    rv_story_get_info(p->story, &si);
    printf("play: window %dx%d (%s), story %s\n", ww, wh, how, p->story_path);
    fflush(stdout);
    SDL_SetWindowTitle(p->win, si.title[0] ? si.title : "Reverie");

    pl_worker_desc wd = {.model_dir = o->model_dir, .gpu = o->gpu, .width = fw, .height = fh};
    p->worker = pl_worker_start(&p->sh, &wd);
    if (!p->worker) {
        fprintf(stderr, "reverie play: cannot start the generation thread: %s\n", SDL_GetError());
        rc = 2;
        goto out_text;
    }
    p->now = p->last_tick = p->fps_t0 = secs();
    while (!p->quit) {
        SDL_Event ev;
        if (SDL_WaitEventTimeout(&ev, 8))
            do
                handle_event(p, &ev);
            while (SDL_PollEvent(&ev));
        p->now = secs();
        double dt = p->now - p->last_tick;
        p->last_tick = p->now;
        poll_worker(p);
        if (p->have_frame && !p->paused)
            advance(p, dt > 0.5 ? 0.5 : dt);
        if (p->have_frame)
            run_script(p);
        check_reload(p);
        if (p->now - p->last_draw >= 1.0 / 30)
            draw(p);
    }
    rc = p->exit_code;
    SDL_LockMutex(p->sh.mu);
    p->sh.quit = true;
    p->sh.paused = false;
    SDL_CondSignal(p->sh.cv);
    SDL_UnlockMutex(p->sh.mu);
    SDL_WaitThread(p->worker, NULL);
    if (p->vk)
        pl_vkwin_print_stats(p->vk);
    if (p->rec)
        record_toggle(p);
    if (o->log_path) {
        char *log = NULL;
        rv_error lerr = {0};
        FILE *f = NULL;
        if (rv_story_log_json(p->sh.st, &log, &lerr) == RV_OK && (f = fopen(o->log_path, "w"))) {
            fputs(log, f);
            fclose(f);
            printf("play: replay log %s\n", o->log_path);
        } else {
            fprintf(stderr, "reverie play: cannot write the replay log %s: %s\n", o->log_path,
                    lerr.msg[0] ? lerr.msg : strerror(errno));
        }
        free(log);
    }
    if (p->sh.failed && !rc)
        rc = 2;
out_text:
    pl_text_destroy(p->text);
    if (p->tex)
        SDL_DestroyTexture(p->tex);
out_ren:
    if (p->vk)
        pl_vkwin_destroy(p->vk);
    else
        SDL_DestroyRenderer(p->ren);
out_win:
    SDL_DestroyWindow(p->win);
out_ttf:
    TTF_Quit();
out_sdl:
    SDL_Quit();
out:
    rv_prompt_info_unload(p->pinfo);
    rb_clear(p);
    rv_story_state_destroy(p->sh.st);
    rv_story_unload(p->story);
    free(p->shown);
    free(p->shown_latent);
    free(p->sh.rgba);
    free(p->sh.latent);
    free(p->sh.pending_latent);
    pl_script_free(&p->script);
    pl_replay_free(&p->replay);
    if (p->sh.cv)
        SDL_DestroyCond(p->sh.cv);
    if (p->sh.mu)
        SDL_DestroyMutex(p->sh.mu);
    free(p);
    fflush(stdout);
    return rc;
}
