/* The player's Vulkan presentation glue: the window's surface made by SDL
 * (SDL_Vulkan_CreateSurface) through rv_present's callback; the overlay
 * (text and panels only, premultiplied alpha) drawn by SDL's software
 * renderer on a transparent window-sized canvas; the generated frame and
 * the overlay's non-clear rectangle handed to rv_present only when they
 * change, and the GPU composes them each display frame. No Vulkan calls
 * here: those are runtime/gpu/present.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <SDL_vulkan.h>

#include "player.h"
#include "rv_present.h"

struct pl_vkwin {
    SDL_Window *win;
    rv_present *pr;
    SDL_Surface *canvas;       /* the overlay, RGBA32, cleared to transparent before each draw */
    SDL_Renderer *ren;
    bool validation;
    uint32_t *frame;           /* the frame last handed over (kept for a re-made presenter) */
    uint32_t fw, fh;
    uint32_t *ov;              /* the overlay rectangle last handed over */
    int ox, oy, ow, oh;
    size_t ov_cap;
    bool ov_sent;              /* the presenter holds ov */
    bool fail_reopen;          /* tests: the next re-made surface fails */
    rv_present_stats before;   /* counts of presenters lost on the way */
};

static uint64_t make_surface(void *user, uint64_t instance)
{
    SDL_Window *win = user;
    VkSurfaceKHR s = 0;
    if (!SDL_Vulkan_CreateSurface(win, (VkInstance)(uintptr_t)instance, &s)) {
        fprintf(stderr, "reverie play: SDL_Vulkan_CreateSurface: %s\n", SDL_GetError());
        return 0;
    }
    return (uint64_t)s;
}

static bool open_presenter(pl_vkwin *v, char *err, size_t cap)
{
    unsigned n = 0;
    if (!SDL_Vulkan_GetInstanceExtensions(v->win, &n, NULL) || n > 12) {
        snprintf(err, cap, "SDL has no Vulkan surface for this window: %s", SDL_GetError());
        return false;
    }
    const char *names[12];
    if (!SDL_Vulkan_GetInstanceExtensions(v->win, &n, names)) {
        snprintf(err, cap, "SDL_Vulkan_GetInstanceExtensions: %s", SDL_GetError());
        return false;
    }
    rv_present_desc d = {.instance_extensions = names, .n_instance_extensions = (int)n,
                         .create_surface = make_surface, .user = v->win, .vsync = true,
                         .validation = v->validation};
    rv_error e = {0};
    if (rv_present_create(&v->pr, &d, &e)) {
        snprintf(err, cap, "%s", e.msg);
        return false;
    }
    v->ov_sent = false;
    if (v->frame && rv_present_set_frame(v->pr, v->frame, v->fw, v->fh, &e)) {
        snprintf(err, cap, "%s", e.msg);
        return false;
    }
    return true;
}

pl_vkwin *pl_vkwin_create(SDL_Window *win, bool validation, char *err, size_t cap)
{
    pl_vkwin *v = calloc(1, sizeof(*v));
    if (!v) {
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    v->win = win;
    v->validation = validation;
    if (!open_presenter(v, err, cap)) {
        free(v);
        return NULL;
    }
    bool changed;
    if (!pl_vkwin_begin(v, &changed)) {
        snprintf(err, cap, "cannot make the window's overlay canvas: %s", SDL_GetError());
        pl_vkwin_destroy(v);
        return NULL;
    }
    return v;
}

void pl_vkwin_destroy(pl_vkwin *v)
{
    if (!v)
        return;
    if (v->ren)
        SDL_DestroyRenderer(v->ren);
    if (v->canvas)
        SDL_FreeSurface(v->canvas);
    rv_present_destroy(v->pr);
    free(v->frame);
    free(v->ov);
    free(v);
}

SDL_Renderer *pl_vkwin_renderer(pl_vkwin *v) { return v->ren; }
const char *pl_vkwin_device(pl_vkwin *v) { return v->pr ? rv_present_device(v->pr) : "none"; }

bool pl_vkwin_begin(pl_vkwin *v, bool *changed)
{
    *changed = false;
    int w = 0, h = 0;
    SDL_Vulkan_GetDrawableSize(v->win, &w, &h);
    if (w < 1 || h < 1)
        w = h = 1;
    if (!v->canvas || v->canvas->w != w || v->canvas->h != h) {
        SDL_Surface *c = SDL_CreateRGBSurfaceWithFormat(0, w, h, 32, SDL_PIXELFORMAT_RGBA32);
        if (!c)
            return false;
        SDL_Renderer *r = SDL_CreateSoftwareRenderer(c);
        if (!r) {
            SDL_FreeSurface(c);
            return false;
        }
        if (v->ren)
            SDL_DestroyRenderer(v->ren);
        if (v->canvas)
            SDL_FreeSurface(v->canvas);
        v->canvas = c;
        v->ren = r;
        *changed = true;
    }
    /* transparent: SDL's blending onto it leaves premultiplied colours (dst =
     * src * a + dst * (1 - a) on colours and alpha alike), which is what the
     * GPU's blend takes */
    SDL_SetRenderDrawBlendMode(v->ren, SDL_BLENDMODE_NONE);
    SDL_SetRenderDrawColor(v->ren, 0, 0, 0, 0);
    SDL_RenderClear(v->ren);
    return true;
}

bool pl_vkwin_set_frame(pl_vkwin *v, const uint32_t *rgba, uint32_t w, uint32_t h, char *err, size_t cap)
{
    if (!v->frame || v->fw != w || v->fh != h) {
        uint32_t *f = realloc(v->frame, (size_t)w * h * 4);
        if (!f) {
            snprintf(err, cap, "out of memory");
            return false;
        }
        v->frame = f;
        v->fw = w;
        v->fh = h;
    }
    memcpy(v->frame, rgba, (size_t)w * h * 4);
    rv_error e = {0};
    if (v->pr && rv_present_set_frame(v->pr, v->frame, w, h, &e)) {
        snprintf(err, cap, "%s", e.msg);
        return false;
    }
    return true;
}

/* Hands the canvas's non-clear rectangle to the presenter if it differs
 * from the one it holds. */
static bool send_overlay(pl_vkwin *v, char *err, size_t cap)
{
    const uint32_t *px = v->canvas->pixels;
    int W = v->canvas->w, H = v->canvas->h, stride = v->canvas->pitch / 4;
    int x0 = W, y0 = H, x1 = -1, y1 = -1;
    for (int y = 0; y < H; y++) {
        const uint32_t *row = px + (size_t)y * stride;
        int a = -1, b = -1;
        for (int x = 0; x < W; x++)
            if (row[x] & 0xff000000u) {
                a = x;
                break;
            }
        if (a < 0)
            continue;
        for (int x = W - 1; x >= a; x--)
            if (row[x] & 0xff000000u) {
                b = x;
                break;
            }
        x0 = a < x0 ? a : x0;
        x1 = b > x1 ? b : x1;
        y0 = y < y0 ? y : y0;
        y1 = y;
    }
    int ow = x1 >= x0 ? x1 - x0 + 1 : 0, oh = y1 >= y0 ? y1 - y0 + 1 : 0;
    rv_error e = {0};
    if (v->ov_sent && ow == v->ow && oh == v->oh && (ow == 0 || (x0 == v->ox && y0 == v->oy))) {
        /* the same rectangle: only the rows that changed go (the HUD's figures, a toast) */
        int r0 = -1, r1 = -1;
        for (int y = 0; y < oh; y++)
            if (memcmp(v->ov + (size_t)y * ow, px + (size_t)(y0 + y) * stride + x0, (size_t)ow * 4) != 0) {
                r0 = r0 < 0 ? y : r0;
                r1 = y;
            }
        if (r0 < 0)
            return true;
        for (int y = r0; y <= r1; y++)
            memcpy(v->ov + (size_t)y * ow, px + (size_t)(y0 + y) * stride + x0, (size_t)ow * 4);
        if (rv_present_update_overlay(v->pr, v->ov + (size_t)r0 * ow, (uint32_t)r0, (uint32_t)(r1 - r0 + 1), &e)) {
            snprintf(err, cap, "%s", e.msg);
            return false;
        }
        return true;
    }
    size_t need = (size_t)ow * oh;
    if (need > v->ov_cap) {
        uint32_t *o = realloc(v->ov, need * 4);
        if (!o) {
            snprintf(err, cap, "out of memory");
            return false;
        }
        v->ov = o;
        v->ov_cap = need;
    }
    for (int y = 0; y < oh; y++)
        memcpy(v->ov + (size_t)y * ow, px + (size_t)(y0 + y) * stride + x0, (size_t)ow * 4);
    v->ox = x0, v->oy = y0, v->ow = ow, v->oh = oh;
    if (rv_present_set_overlay(v->pr, ow ? v->ov : NULL, (uint32_t)ow, (uint32_t)oh, (uint32_t)x0, (uint32_t)y0,
                               &e)) {
        snprintf(err, cap, "%s", e.msg);
        return false;
    }
    v->ov_sent = true;
    return true;
}

static void keep_stats(pl_vkwin *v)
{
    rv_present_stats s = rv_present_get_stats(v->pr);
    v->before.draws += s.draws;
    v->before.composites += s.composites;
    v->before.frame_uploads += s.frame_uploads;
    v->before.overlay_uploads += s.overlay_uploads;
    v->before.overlay_bytes += s.overlay_bytes;
    v->before.recreated += s.recreated;
    v->before.validation_messages += s.validation_messages;
}

bool pl_vkwin_present(pl_vkwin *v, char *err, size_t cap)
{
    SDL_RenderPresent(v->ren); /* flushes the software renderer's queued drawing into the canvas */
    rv_error e = {0};
    if (send_overlay(v, err, cap) && rv_present_draw(v->pr, &e) == RV_OK)
        return true;
    if (e.code == RV_OK) /* send_overlay failed: err says why */
        return false;
    /* a lost surface: one new presenter (surface, device, swapchain), else give up with the message */
    fprintf(stderr, "reverie play: presentation failed (%s); making the window's surface again\n", e.msg);
    keep_stats(v);
    rv_present_destroy(v->pr);
    v->pr = NULL;
    if (v->fail_reopen) {
        v->fail_reopen = false;
        snprintf(err, cap, "%s (and making it again was made to fail by the script's `fault surface-gone`)", e.msg);
        return false;
    }
    if (!open_presenter(v, err, cap))
        return false;
    e = (rv_error){0};
    if (!send_overlay(v, err, cap))
        return false;
    if (rv_present_draw(v->pr, &e)) {
        snprintf(err, cap, "%s", e.msg);
        return false;
    }
    printf("play: presentation restored on a new surface (%s)\n", rv_present_device(v->pr));
    fflush(stdout);
    return true;
}

uint32_t *pl_vkwin_read(pl_vkwin *v, int *w, int *h)
{
    if (!v->pr)
        return NULL;
    int W = v->canvas->w, H = v->canvas->h;
    size_t cap = (size_t)W * H + 64 * 64;
    uint32_t *px = malloc(cap * 4);
    uint32_t tw = 0, th = 0;
    rv_error e = {0};
    if (!px || rv_present_read(v->pr, px, &tw, &th, cap, &e)) {
        if (e.msg[0])
            fprintf(stderr, "reverie play: reading the window back: %s\n", e.msg);
        free(px);
        return NULL;
    }
    if (rv_present_bgra(v->pr)) /* to R, G, B, A */
        for (size_t i = 0; i < (size_t)tw * th; i++)
            px[i] = (px[i] & 0xff00ff00u) | (px[i] & 0xffu) << 16 | (px[i] >> 16 & 0xffu);
    *w = (int)tw;
    *h = (int)th;
    return px;
}

void pl_vkwin_fault(pl_vkwin *v, const char *what)
{
    if (!v->pr)
        return;
    if (strcmp(what, "out-of-date") == 0) {
        rv_present_inject(v->pr, RV_PRESENT_FAULT_OUT_OF_DATE);
    } else {
        rv_present_inject(v->pr, RV_PRESENT_FAULT_SURFACE_LOST);
        v->fail_reopen = strcmp(what, "surface-gone") == 0;
    }
}

void pl_vkwin_print_stats(pl_vkwin *v)
{
    rv_present_stats t = v->before, s = v->pr ? rv_present_get_stats(v->pr) : (rv_present_stats){0};
    t.draws += s.draws;
    t.composites += s.composites;
    t.frame_uploads += s.frame_uploads;
    t.overlay_uploads += s.overlay_uploads;
    t.overlay_bytes += s.overlay_bytes;
    t.recreated += s.recreated;
    printf("play: presented %llu pictures composed on the GPU: %llu composite passes, %llu frame uploads, "
           "%llu overlay uploads (%.1f MB), %llu swapchains made again\n",
           (unsigned long long)t.draws, (unsigned long long)t.composites, (unsigned long long)t.frame_uploads,
           (unsigned long long)t.overlay_uploads, (double)t.overlay_bytes / 1e6, (unsigned long long)t.recreated);
    fflush(stdout);
}
