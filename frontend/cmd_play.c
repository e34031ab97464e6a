/* `reverie play [STORY]`: the options of the SDL2 story player and the
 * check for a display; the player itself is frontend/player/. Not the
 * headless renderer (`reverie render`). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "player/player.h"

static void help(void)
{
    printf("usage: reverie play [STORY] [--model DIR] [options] [GPU options]\n\n"
           "Plays a story in a window: the picture streams from the frame loop, narration\n"
           "and choices appear over it; pick a path, edit the prompt, roll back. Press ?\n"
           "in the window for the keys. STORY defaults to scenes/lighthouse.json.\n"
           "  --model DIR        diffusers folder (default: the shipped model)\n"
           "  --size WxH         generated frame size (default: the story's)\n"
           "  --window WxH       window size (default: twice the frame, at most 1024 wide)\n"
           "  --fullscreen       start fullscreen (F11 toggles)\n"
           "  --no-hud           start with the HUD hidden (H toggles)\n"
           "  --present HOW      auto (a Vulkan swapchain; the GPU composes the frame and\n"
           "                     the overlay; else SDL_Renderer), vulkan or sdl\n"
           "  --script FILE      timed key presses, choices and prompt edits\n"
           "                     (format: frontend/player/README.md)\n"
           "  --replay LOG       play a replay log (reverie-replay/1) back live: its seed,\n"
           "                     each choice, rollback and prompt edit at its story time\n"
           "  --log FILE         write this playthrough's replay log at exit\n"
           "  --frames N         quit after N generated frames\n"
           "  --out-dir DIR      screenshots (F12) and recordings (F10) (default: .)\n"
           "  --data-dir DIR     save slots (default: $XDG_DATA_HOME/reverie)\n"
           "  --shot-request FILE  tests: a script's `shot NAME` writes NAME here and waits\n"
           "                     until the file is removed (the harness screenshots X)\n\n"
           "Without a display (no $DISPLAY or $WAYLAND_DISPLAY), render headless instead:\n"
           "  reverie render STORY -o out.mp4\n\n%s",
           rv_cli_gpu_help);
}

static bool parse_size(const rv_cli_parser *p, uint32_t *w, uint32_t *h)
{
    unsigned a = 0, b = 0;
    char tail = 0;
    if (sscanf(p->value, "%ux%u%c", &a, &b, &tail) != 2 || a < 8 || b < 8 || a > 8192 || b > 8192) {
        fprintf(stderr, "reverie play: %s must be WxH with sides from 8 to 8192, not \"%s\"\n", p->option, p->value);
        return false;
    }
    *w = a;
    *h = b;
    return true;
}

static const char *default_story(void)
{
#ifdef RV_DEFAULT_STORY
    struct stat sb;
    if (stat(RV_DEFAULT_STORY, &sb) == 0)
        return RV_DEFAULT_STORY;
#endif
    return "scenes/lighthouse.json";
}

int rv_cmd_play_main(int argc, char **argv)
{
    enum { O_MODEL = 1, O_SIZE, O_WINDOW, O_FULL, O_NOHUD, O_SCRIPT, O_REPLAY, O_LOG, O_FRAMES, O_OUT, O_DATA,
           O_SHOT, O_PRESENT };
    static const rv_cli_opt opts[] = {
        {"model", 0, true, O_MODEL},       {"size", 0, true, O_SIZE},       {"window", 0, true, O_WINDOW},
        {"fullscreen", 0, false, O_FULL},  {"no-hud", 0, false, O_NOHUD},   {"script", 0, true, O_SCRIPT},
        {"replay", 0, true, O_REPLAY},     {"log", 0, true, O_LOG},         {"frames", 0, true, O_FRAMES},
        {"out-dir", 0, true, O_OUT},       {"data-dir", 0, true, O_DATA},   {"shot-request", 0, true, O_SHOT},
        {"present", 0, true, O_PRESENT},   {0},
    };
    rv_player_opts o = {0};
    rv_cli_parser p;
    rv_cli_parser_init(&p, "play", opts, &o.gpu, argc, argv);
    int c;
    while ((c = rv_cli_next(&p)) != RV_CLI_END) {
        long n;
        switch (c) {
        case RV_CLI_HELP: help(); return 0;
        case RV_CLI_ERROR: return 1;
        case O_MODEL: o.model_dir = p.value; break;
        case O_SIZE:
            if (!parse_size(&p, &o.width, &o.height))
                return 1;
            break;
        case O_WINDOW:
            if (!parse_size(&p, &o.win_width, &o.win_height))
                return 1;
            break;
        case O_FULL: o.fullscreen = true; break;
        case O_NOHUD: o.no_hud = true; break;
        case O_SCRIPT: o.script_path = p.value; break;
        case O_REPLAY: o.replay_path = p.value; break;
        case O_LOG: o.log_path = p.value; break;
        case O_FRAMES:
            if (!rv_cli_long(&p, 1, 1000000000L, &n))
                return 1;
            o.max_frames = n;
            break;
        case O_OUT: o.out_dir = p.value; break;
        case O_DATA: o.data_dir = p.value; break;
        case O_SHOT: o.shot_request = p.value; break;
        case O_PRESENT:
            if (strcmp(p.value, "auto") == 0)
                o.present = 0;
            else if (strcmp(p.value, "vulkan") == 0)
                o.present = 1;
            else if (strcmp(p.value, "sdl") == 0)
                o.present = 2;
            else {
                fprintf(stderr, "reverie play: --present must be auto, vulkan or sdl, not \"%s\"\n", p.value);
                return 1;
            }
            break;
        default: break;
        }
    }
    if (p.argc - p.operand > 1) {
        fprintf(stderr, "reverie play: one story at a time, not \"%s\" too (see --help)\n", p.argv[p.operand + 1]);
        return 1;
    }
    o.story_path = p.argc > p.operand ? p.argv[p.operand] : default_story();
    if (!o.model_dir)
        o.model_dir = rv_cli_default_model();
    const char *x = getenv("DISPLAY"), *wl = getenv("WAYLAND_DISPLAY");
    if ((!x || !*x) && (!wl || !*wl)) {
        fprintf(stderr,
                "reverie play: no display found ($DISPLAY and $WAYLAND_DISPLAY are not set), so no window can open.\n"
                "  Render the story headless instead:  reverie render %s -o reverie.mp4\n"
                "  or run the player in a virtual X server:  xvfb-run -s '-screen 0 1024x768x24' reverie play %s\n",
                o.story_path, o.story_path);
        return 2;
    }
    return rv_player_run(&o);
}
