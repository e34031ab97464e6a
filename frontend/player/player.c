/* The SDL2 story player (`reverie play`): the window, the UI thread's
 * loop, input (keys, clicks, dropped files), frames taken from the
 * generation thread (worker.c) and a replay log played on the story clock.
 * What the keys do lives beside it: story.c (choices, rollback, reload),
 * saves.c (slots, screenshots, recording), editor.c, draw.c (the overlay),
 * script.c (scripts); presentation is vkwin.c (the GPU composes) or, as the
 * fallback, SDL_Renderer. */
#include "player_impl.h"

double pl_secs(void)
{
    return (double)SDL_GetPerformanceCounter() / (double)SDL_GetPerformanceFrequency();
}

void pl_toast(player *p, double seconds, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->toast, sizeof(p->toast), fmt, ap);
    va_end(ap);
    p->toast_until = p->now + seconds;
}

void pl_get_view(player *p, rv_story_view *v)
{
    SDL_LockMutex(p->sh.mu);
    rv_story_get_view(p->sh.st, v);
    SDL_UnlockMutex(p->sh.mu);
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
        pl_toast(p, 2, "new seed (+%llu)", (unsigned long long)so);
    else
        pl_toast(p, 2, "strength %+.2f, steps %+d", (double)sd, dd);
    printf("play: strength %+.2f steps %+d seed +%llu\n", (double)sd, dd, (unsigned long long)so);
    fflush(stdout);
}

void pl_key(player *p, SDL_Keycode k, Uint16 mod)
{
    if (p->editing) {
        if (k == SDLK_RETURN || k == SDLK_KP_ENTER)
            pl_editor_apply(p);
        else if (k == SDLK_ESCAPE || k == SDLK_TAB)
            pl_editor_close(p);
        else if (k == SDLK_BACKSPACE)
            pl_editor_backspace(p);
        else if (k == SDLK_u && (mod & KMOD_CTRL)) {
            p->edit[0] = 0;
            pl_edit_changed(p);
        }
        return;
    }
    if (k >= SDLK_1 && k <= SDLK_9) {
        if (mod & KMOD_SHIFT)
            pl_select_slot(p, (int)(k - SDLK_1) + 1);
        else
            pl_choose(p, (int)(k - SDLK_1));
        return;
    }
    if (k >= SDLK_KP_1 && k <= SDLK_KP_9) {
        pl_choose(p, (int)(k - SDLK_KP_1));
        return;
    }
    switch (k) {
    case SDLK_TAB: pl_editor_open(p); break;
    case SDLK_SPACE: pl_set_paused(p, !p->paused); break;
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
    case SDLK_BACKSPACE: pl_rollback(p); break;
    case SDLK_F5: pl_save_slot(p, p->slot); break;
    case SDLK_F9: pl_load_slot(p, p->slot); break;
    case SDLK_F10: pl_record_toggle(p); break;
    case SDLK_F11:
        p->fullscreen = !p->fullscreen;
        SDL_SetWindowFullscreen(p->win, p->fullscreen ? SDL_WINDOW_FULLSCREEN_DESKTOP : 0);
        printf("play: fullscreen %s\n", p->fullscreen ? "on" : "off");
        fflush(stdout);
        break;
    case SDLK_F12: pl_screenshot(p); break;
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
            pl_choose(p, i);
            return;
        }
    }
}

void pl_handle_event(player *p, const SDL_Event *ev)
{
    switch (ev->type) {
    case SDL_QUIT: p->quit = true; break;
    case SDL_KEYDOWN: pl_key(p, ev->key.keysym.sym, ev->key.keysym.mod); break;
    case SDL_TEXTINPUT:
        if (p->editing)
            pl_editor_insert(p, ev->text.text);
        break;
    case SDL_MOUSEBUTTONDOWN:
        if (ev->button.button == SDL_BUTTON_LEFT)
            click(p, ev->button.x, ev->button.y);
        break;
    case SDL_DROPFILE:
        if (ev->drop.file) {
            if (pl_open_story(p, ev->drop.file, NULL))
                pl_toast(p, 3, "opened %s", ev->drop.file);
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
            pl_upload(p);
        break;
    default: break;
    }
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
    pl_upload(p);
    p->have_frame = true;
    p->frames_seen++;
    if (p->rec) {
        rv_error err = {0};
        if (rv_media_out_write(p->rec, p->shown, NULL, &err)) {
            fprintf(stderr, "reverie play: recording stopped: %s\n", err.msg);
            pl_toast(p, 5, "recording stopped: %s", err.msg);
            rv_media_out_destroy(p->rec);
            p->rec = NULL;
        }
    }
    if (p->o->max_frames && (long)p->frames_seen >= p->o->max_frames)
        p->quit = true;
}

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
            pl_choose(p, e->arg);
        else if (e->kind == PL_REPLAY_BACK)
            for (int i = 0; i < e->arg; i++)
                pl_rollback(p);
        else {
            snprintf(p->edit, sizeof(p->edit), "%s", e->text ? e->text : "");
            pl_editor_apply(p);
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
    if (!pl_open_story(p, p->story_path, o->replay_path)) {
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
    p->now = p->last_tick = p->fps_t0 = pl_secs();
    while (!p->quit) {
        SDL_Event ev;
        if (SDL_WaitEventTimeout(&ev, 8))
            do
                pl_handle_event(p, &ev);
            while (SDL_PollEvent(&ev));
        p->now = pl_secs();
        double dt = p->now - p->last_tick;
        p->last_tick = p->now;
        poll_worker(p);
        if (p->have_frame && !p->paused)
            advance(p, dt > 0.5 ? 0.5 : dt);
        if (p->have_frame)
            pl_script_run(p);
        pl_check_reload(p);
        if (p->now - p->last_draw >= 1.0 / 30)
            pl_draw(p);
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
        pl_record_toggle(p);
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
    pl_rb_clear(p);
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

