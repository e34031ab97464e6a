/* The player's prompt editor: UTF-8 text over the picture, token count and
 * the words the model does not know as you type, applied with
 * rv_story_edit_prompt. Drawing it is draw.c. */
#include "player_impl.h"

/* ---------------------------------------------------------------- editor */

static void unknown_word(void *user, const char *word, const char *pieces)
{
    player *p = user;
    size_t n = strlen(p->edit_unknown);
    snprintf(p->edit_unknown + n, sizeof(p->edit_unknown) - n, "%s%s (%s)", n ? ", " : "", word, pieces);
}

void pl_edit_changed(player *p)
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

void pl_editor_open(player *p)
{
    if (p->editing)
        return;
    p->editing = true;
    snprintf(p->edit, sizeof(p->edit), "%s", p->prompt);
    pl_edit_changed(p);
    SDL_StartTextInput();
}

void pl_editor_close(player *p)
{
    p->editing = false;
    SDL_StopTextInput();
}

void pl_editor_insert(player *p, const char *s)
{
    size_t n = strlen(p->edit), m = strlen(s);
    if (n + m >= sizeof(p->edit))
        return;
    memcpy(p->edit + n, s, m + 1);
    pl_edit_changed(p);
}

void pl_editor_backspace(player *p)
{
    size_t n = strlen(p->edit);
    while (n > 0) {
        unsigned char c = (unsigned char)p->edit[--n];
        if ((c & 0xC0) != 0x80) /* the first byte of the last character */
            break;
    }
    p->edit[n] = 0;
    pl_edit_changed(p);
}

void pl_editor_apply(player *p)
{
    rv_error err = {0};
    SDL_LockMutex(p->sh.mu);
    rv_status rc = rv_story_edit_prompt(p->sh.st, p->edit, &err);
    if (!rc) {
        p->sh.edit_serial++;
        p->sh.edit_t0 = SDL_GetPerformanceCounter();
    }
    SDL_UnlockMutex(p->sh.mu);
    pl_editor_close(p);
    if (rc) {
        pl_toast(p, 5, "prompt not applied: %s", err.msg);
        return;
    }
    pl_toast(p, 2, "prompt applied");
    printf("play: prompt \"%s\"\n", p->edit);
    fflush(stdout);
}

