/* The player's Vulkan presentation glue: the window's surface made by SDL
 * (SDL_Vulkan_CreateSurface) through rv_present's callback, a window-sized
 * canvas the overlay is drawn on with SDL's software renderer, and the
 * canvas handed to rv_present each display frame. No Vulkan calls here:
 * those are runtime/gpu/present.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <SDL_vulkan.h>

#include "player.h"
#include "rv_present.h"

struct pl_vkwin {
    SDL_Window *win;
    rv_present *pr;
    SDL_Surface *canvas;
    SDL_Renderer *ren;
    bool validation;
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
        snprintf(err, cap, "cannot make the window's canvas: %s", SDL_GetError());
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
    free(v);
}

SDL_Renderer *pl_vkwin_renderer(pl_vkwin *v) { return v->ren; }
const char *pl_vkwin_device(pl_vkwin *v) { return rv_present_device(v->pr); }

bool pl_vkwin_begin(pl_vkwin *v, bool *changed)
{
    *changed = false;
    int w = 0, h = 0;
    SDL_Vulkan_GetDrawableSize(v->win, &w, &h);
    if (w < 1 || h < 1)
        w = h = 1;
    if (v->canvas && v->canvas->w == w && v->canvas->h == h)
        return true;
    Uint32 fmt = rv_present_bgra(v->pr) ? SDL_PIXELFORMAT_BGRA32 : SDL_PIXELFORMAT_RGBA32;
    SDL_Surface *c = SDL_CreateRGBSurfaceWithFormat(0, w, h, 32, fmt);
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
    return true;
}

bool pl_vkwin_present(pl_vkwin *v, char *err, size_t cap)
{
    SDL_RenderPresent(v->ren);
    if (v->canvas->pitch != v->canvas->w * 4) {
        snprintf(err, cap, "the canvas has padded rows");
        return false;
    }
    rv_error e = {0};
    if (rv_present_frame(v->pr, v->canvas->pixels, (uint32_t)v->canvas->w, (uint32_t)v->canvas->h, &e) == RV_OK)
        return true;
    /* a lost surface: one new presenter, else give up with the message */
    fprintf(stderr, "reverie play: presentation failed (%s); making the window's surface again\n", e.msg);
    rv_present_destroy(v->pr);
    v->pr = NULL;
    if (!open_presenter(v, err, cap))
        return false;
    return true;
}
