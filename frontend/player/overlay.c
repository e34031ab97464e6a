/* The player's text: SDL_ttf (DejaVu Sans) rendered once per distinct
 * string, size, colour and wrap width into a texture, kept while it is
 * drawn and freed when a frame no longer uses it. Not the layout. */
#include <stdlib.h>
#include <string.h>

#include "player.h"

#define CACHE 128

typedef struct entry {
    char *s;
    int wrap, px;
    bool small;
    uint32_t color;
    SDL_Texture *tex;
    int w, h;
    bool used;
} entry;

struct pl_text {
    SDL_Renderer *r;
    char *path;
    int px;
    TTF_Font *font, *small;
    entry e[CACHE];
};

static void flush(pl_text *t)
{
    for (int i = 0; i < CACHE; i++) {
        if (t->e[i].tex)
            SDL_DestroyTexture(t->e[i].tex);
        free(t->e[i].s);
        memset(&t->e[i], 0, sizeof(t->e[i]));
    }
}

pl_text *pl_text_create(SDL_Renderer *r, const char *font_path)
{
    pl_text *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->r = r;
    t->path = strdup(font_path);
    pl_text_size(t, 16);
    if (!t->font || !t->small) {
        pl_text_destroy(t);
        return NULL;
    }
    return t;
}

void pl_text_destroy(pl_text *t)
{
    if (!t)
        return;
    flush(t);
    if (t->font)
        TTF_CloseFont(t->font);
    if (t->small)
        TTF_CloseFont(t->small);
    free(t->path);
    free(t);
}

void pl_text_size(pl_text *t, int px)
{
    if (px < 8)
        px = 8;
    if (px == t->px && t->font)
        return;
    flush(t);
    if (t->font)
        TTF_CloseFont(t->font);
    if (t->small)
        TTF_CloseFont(t->small);
    t->px = px;
    t->font = TTF_OpenFont(t->path, px);
    t->small = TTF_OpenFont(t->path, px * 3 / 4 > 8 ? px * 3 / 4 : 8);
}

int pl_text_line_height(pl_text *t, bool small)
{
    return TTF_FontLineSkip(small ? t->small : t->font);
}

void pl_text_draw(pl_text *t, const char *s, int x, int y, int wrap, SDL_Color c, bool small, bool draw, int *w,
                  int *h)
{
    if (w)
        *w = 0;
    if (h)
        *h = 0;
    if (!s || !*s)
        return;
    uint32_t color = (uint32_t)c.r | (uint32_t)c.g << 8 | (uint32_t)c.b << 16 | (uint32_t)c.a << 24;
    entry *hit = NULL, *free_slot = NULL;
    for (int i = 0; i < CACHE && !hit; i++) {
        entry *e = &t->e[i];
        if (!e->s) {
            if (!free_slot)
                free_slot = e;
            continue;
        }
        if (e->wrap == wrap && e->small == small && e->color == color && strcmp(e->s, s) == 0)
            hit = e;
    }
    if (!hit) {
        if (!free_slot) { /* full: drop an unused one, else the first */
            for (int i = 0; i < CACHE && !free_slot; i++)
                if (!t->e[i].used)
                    free_slot = &t->e[i];
            if (!free_slot)
                free_slot = &t->e[0];
            if (free_slot->tex)
                SDL_DestroyTexture(free_slot->tex);
            free(free_slot->s);
            memset(free_slot, 0, sizeof(*free_slot));
        }
        TTF_Font *f = small ? t->small : t->font;
        SDL_Surface *surf = wrap > 0 ? TTF_RenderUTF8_Blended_Wrapped(f, s, c, (Uint32)wrap)
                                     : TTF_RenderUTF8_Blended(f, s, c);
        if (!surf)
            return;
        hit = free_slot;
        hit->tex = SDL_CreateTextureFromSurface(t->r, surf);
        hit->w = surf->w;
        hit->h = surf->h;
        SDL_FreeSurface(surf);
        if (!hit->tex)
            return;
        hit->s = strdup(s);
        hit->wrap = wrap;
        hit->small = small;
        hit->color = color;
    }
    hit->used = true;
    if (w)
        *w = hit->w;
    if (h)
        *h = hit->h;
    if (draw) {
        SDL_Rect dst = {x, y, hit->w, hit->h};
        SDL_RenderCopy(t->r, hit->tex, NULL, &dst);
    }
}

void pl_text_set_renderer(pl_text *t, SDL_Renderer *r)
{
    flush(t);
    t->r = r;
}

void pl_text_sweep(pl_text *t)
{
    for (int i = 0; i < CACHE; i++) {
        entry *e = &t->e[i];
        if (e->s && !e->used) {
            SDL_DestroyTexture(e->tex);
            free(e->s);
            memset(e, 0, sizeof(*e));
        }
        e->used = false;
    }
}
