/* Private to frontend/player: the UI thread's state (`player`) shared by
 * player.c, story.c, saves.c, editor.c, draw.c and script.c, and the
 * functions they call across files. Not the thread-shared state
 * (pl_shared in player.h). */
#ifndef RV_PLAYER_IMPL_H
#define RV_PLAYER_IMPL_H

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

double pl_secs(void);
void pl_toast(player *p, double seconds, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void pl_get_view(player *p, rv_story_view *v);

/* story.c */
void pl_rb_clear(player *p);
bool pl_open_story(player *p, const char *path, const char *replay);
void pl_check_reload(player *p);
void pl_choose(player *p, int i);
void pl_upload(player *p);
void pl_rollback(player *p);
void pl_set_paused(player *p, bool on);

/* saves.c */
void pl_save_slot(player *p, int slot);
void pl_select_slot(player *p, int slot);
void pl_load_slot(player *p, int slot);
void pl_screenshot(player *p);
void pl_record_toggle(player *p);

/* editor.c */
void pl_edit_changed(player *p);
void pl_editor_open(player *p);
void pl_editor_close(player *p);
void pl_editor_insert(player *p, const char *s);
void pl_editor_backspace(player *p);
void pl_editor_apply(player *p);

/* draw.c */
void pl_draw(player *p);

/* player.c */
void pl_key(player *p, SDL_Keycode k, Uint16 mod);
void pl_handle_event(player *p, const SDL_Event *ev);

/* script.c: runs the script's commands that are due */
void pl_script_run(player *p);

#endif
