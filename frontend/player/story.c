/* The player's story actions: opening a story (start, drag and drop, a
 * replay log), reloading it when its file changes, choices, rollback with
 * the picture of that point (kept by visual token), pausing, and handing
 * the shown picture to the screen. Not input or drawing (player.c, draw.c). */
#include "player_impl.h"

static bool file_mtime(const char *path, struct timespec *t)
{
    struct stat sb;
    if (stat(path, &sb))
        return false;
    *t = sb.st_mtim;
    return true;
}

/* ---------------------------------------------------------------- story */

void pl_rb_clear(player *p)
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
bool pl_open_story(player *p, const char *path, const char *replay)
{
    char msg[1024] = "";
    rv_story *s = load_story(path, msg, sizeof(msg));
    if (!s) {
        pl_toast(p, 8, "could not open %s: %s", path, msg);
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
        pl_toast(p, 8, "%s: %s", path, err.msg);
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
    pl_rb_clear(p);
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
void pl_check_reload(player *p)
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
        pl_toast(p, 8, "reload failed, still playing the old version: %s", msg);
        return;
    }
    rv_error err = {0};
    SDL_LockMutex(p->sh.mu);
    rv_status rc = rv_story_state_rebind(p->sh.st, s, &err);
    SDL_UnlockMutex(p->sh.mu);
    if (rc) {
        pl_toast(p, 8, "reload failed: %s", err.msg);
        fprintf(stderr, "reverie play: reload: %s\n", err.msg);
        rv_story_unload(s);
        return;
    }
    rv_story_unload(p->story);
    p->story = s;
    pl_toast(p, 3, "reloaded %s", p->story_path);
    printf("play: reloaded %s\n", p->story_path);
    fflush(stdout);
}

/* ---------------------------------------------------------------- actions */

void pl_choose(player *p, int i)
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
        pl_toast(p, 2, "no choice %d here", i + 1);
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
void pl_upload(player *p)
{
    char err[1100];
    if (p->vk && !pl_vkwin_set_frame(p->vk, p->shown, p->fw, p->fh, err, sizeof(err)))
        fprintf(stderr, "reverie play: cannot hand the frame to the GPU: %s\n", err);
    else if (p->tex)
        SDL_UpdateTexture(p->tex, NULL, p->shown, (int)p->fw * 4);
}

void pl_rollback(player *p)
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
        pl_toast(p, 2, "nothing to roll back");
        return;
    }
    if (pic)
        pl_upload(p);
    pl_toast(p, 2, "rolled back to %s", v.scene);
    printf("play: rollback -> scene %s (%s)\n", v.scene, pic ? "picture restored" : "no stored picture");
    fflush(stdout);
}

void pl_set_paused(player *p, bool on)
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

