/* Player scripts (`reverie play --script FILE`): one command a line, run in
 * order once the first frame is shown; the format is documented in
 * frontend/player/README.md. Reading them, and running the commands that
 * are due each turn of the UI loop. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "player_impl.h"

static const struct {
    const char *name;
    pl_cmd_kind kind;
    int arg; /* 0 none, 1 number, 2 text */
} words[] = {
    {"wait", PL_WAIT, 1},   {"frames", PL_FRAMES, 1}, {"key", PL_KEY, 2},
    {"choose", PL_CHOOSE, 1}, {"type", PL_TYPE, 2},   {"edit", PL_EDIT, 2},
    {"shot", PL_SHOT, 2},   {"expect-scene", PL_EXPECT_SCENE, 2}, {"wait-scene", PL_WAIT_SCENE, 2}, {"drop", PL_DROP, 2}, {"print", PL_PRINT, 0},
    {"fault", PL_FAULT, 2},
    {"quit", PL_QUIT, 0},
};

bool pl_script_load(pl_script *s, const char *path, char *err, size_t cap)
{
    memset(s, 0, sizeof(*s));
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, cap, "%s: %s", path, strerror(errno));
        return false;
    }
    char line[RV_STORY_TEXT_MAX + 64];
    int ln = 0, cap_cmds = 0;
    bool ok = true;
    while (ok && fgets(line, sizeof(line), f)) {
        ln++;
        size_t len = strlen(line);
        if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
            snprintf(err, cap, "%s:%d: line too long (at most %d bytes)", path, ln, RV_STORY_TEXT_MAX);
            ok = false;
            break;
        }
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
            line[--len] = 0;
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p || *p == '#')
            continue;
        char *word = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (*p)
            *p++ = 0;
        /* one separator; `type` and `edit` keep the rest as written (leading spaces too) */
        bool keep = strcmp(word, "type") == 0 || strcmp(word, "edit") == 0;
        while (!keep && (*p == ' ' || *p == '\t'))
            p++;
        int k = -1;
        for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
            if (strcmp(words[i].name, word) == 0)
                k = (int)i;
        if (k < 0) {
            snprintf(err, cap, "%s:%d: unknown command \"%s\" (wait, frames, key, choose, type, edit, shot, "
                     "expect-scene, wait-scene, drop, print, fault, quit)", path, ln, word);
            ok = false;
            break;
        }
        pl_cmd c = {.kind = words[k].kind, .line = ln};
        if (words[k].arg == 1) {
            char *end = NULL;
            errno = 0;
            c.num = strtod(p, &end);
            if (!*p || !end || *end || errno || !isfinite(c.num) || c.num < 0 || c.num > 1e6) {
                snprintf(err, cap, "%s:%d: %s needs a number from 0 to 1000000, not \"%s\"", path, ln, word, p);
                ok = false;
                break;
            }
        } else if (words[k].arg == 2) {
            if (!*p && c.kind != PL_TYPE && c.kind != PL_EDIT) {
                snprintf(err, cap, "%s:%d: %s needs an argument", path, ln, word);
                ok = false;
                break;
            }
            size_t n = strlen(p);
            if (n >= sizeof(c.arg)) {
                snprintf(err, cap, "%s:%d: %s: the text is longer than %zu bytes", path, ln, word, sizeof(c.arg) - 1);
                ok = false;
                break;
            }
            memcpy(c.arg, p, n + 1);
            if (c.kind == PL_FAULT && strcmp(p, "out-of-date") != 0 && strcmp(p, "surface-lost") != 0 &&
                strcmp(p, "surface-gone") != 0) {
                snprintf(err, cap, "%s:%d: fault must be out-of-date, surface-lost or surface-gone, not \"%s\"",
                         path, ln, p);
                ok = false;
                break;
            }
        } else if (*p) {
            snprintf(err, cap, "%s:%d: %s takes no argument", path, ln, word);
            ok = false;
            break;
        }
        if (s->n == cap_cmds) {
            cap_cmds = cap_cmds ? 2 * cap_cmds : 16;
            pl_cmd *nc = realloc(s->cmds, (size_t)cap_cmds * sizeof(pl_cmd));
            if (!nc) {
                snprintf(err, cap, "%s: out of memory", path);
                ok = false;
                break;
            }
            s->cmds = nc;
        }
        s->cmds[s->n++] = c;
    }
    fclose(f);
    if (!ok)
        pl_script_free(s);
    return ok;
}

void pl_script_free(pl_script *s)
{
    free(s->cmds);
    memset(s, 0, sizeof(*s));
}

/* ---------------------------------------------------------------- script */

/* Presents, then hands the screenshot over: writes the name into the
 * request file and waits (still answering the window) until the harness
 * removes it, or takes the window itself when there is no request file. */
static void shot(player *p, const char *name)
{
    pl_draw(p);
    SDL_Delay(30);
    pl_draw(p);
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
    /* written beside and renamed into place: whoever watches for the file never
       reads it half written (an empty name lost a screenshot once) */
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.part", p->o->shot_request);
    FILE *f = fopen(tmp, "w");
    bool written = f && fprintf(f, "%s\n", name) > 0;
    if (f && fclose(f) != 0)
        written = false;
    if (!written || rename(tmp, p->o->shot_request) != 0) {
        fprintf(stderr, "reverie play: cannot write %s: %s\n", p->o->shot_request, strerror(errno));
        remove(tmp);
        return;
    }
    printf("play: shot %s\n", name);
    fflush(stdout);
    double t0 = pl_secs();
    while (access(p->o->shot_request, F_OK) == 0 && pl_secs() - t0 < 60) {
        SDL_Event ev;
        while (SDL_PollEvent(&ev))
            if (ev.type == SDL_QUIT)
                p->quit = true;
        SDL_Delay(10);
    }
}

void pl_script_run(player *p)
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
            pl_key(p, k, mod);
            break;
        }
        case PL_CHOOSE: pl_choose(p, (int)c->num - 1); break;
        case PL_TYPE:
            pl_editor_open(p);
            pl_editor_insert(p, c->arg);
            break;
        case PL_EDIT:
            pl_editor_open(p);
            p->edit[0] = 0;
            pl_editor_insert(p, c->arg);
            pl_draw(p);
            pl_editor_apply(p);
            break;
        case PL_SHOT:
            shot(p, c->arg);
            p->now = pl_secs(); /* the hand-off may have taken a while */
            break;
        case PL_EXPECT_SCENE: {
            rv_story_view v;
            pl_get_view(p, &v);
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
            pl_handle_event(p, &ev);
            break;
        }
        case PL_WAIT_SCENE: {
            rv_story_view v;
            pl_get_view(p, &v);
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
                pl_draw(p); /* the next present meets it */
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
