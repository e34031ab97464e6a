/* The player's overlay: narration, choices, quiz, ending, HUD, prompt
 * editor, help, toasts, drawn with SDL2_ttf text (overlay.c) on the
 * renderer, then presented (vkwin.c: the GPU composes it over the frame;
 * or SDL_Renderer, which draws the frame too). Not input. */
#include "player_impl.h"

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
    pl_get_view(p, &v);
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

void pl_draw(player *p)
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

