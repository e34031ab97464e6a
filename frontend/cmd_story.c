/* `reverie story`: authoring tools that need no GPU. `story graph` writes
 * the story graph as Graphviz DOT; `story play --text` plays a story in the
 * terminal (narration, numbered choices and answers, save/load/back).
 * Not the validator (cmd_check.c) and not the SDL player. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rv_story.h"

static void help(void)
{
    printf("usage: reverie story graph STORY [-o FILE]\n"
           "       reverie story play --text STORY [--seed N] [--log FILE] [--replay FILE]\n\n"
           "graph   writes the story graph as Graphviz DOT (stdout, or FILE): scenes,\n"
           "        choices with their conditions, auto-advances (dashed), quiz answers\n"
           "        (green right, red wrong), endings (double border); unreachable scenes\n"
           "        are dashed red. Render with: dot -Tpng story.dot -o story.png\n"
           "play    plays the story in the terminal with no GPU. Each scene prints its\n"
           "        narration, its picture's prompt and numbered choices (or quiz\n"
           "        answers). Type a number to choose, or a command:\n"
           "          back [N]     undo the last N choices (default 1)\n"
           "          save [FILE]  save the state (to FILE, else to a slot in memory)\n"
           "          load [FILE]  load a saved state\n"
           "          wait [S]     let S seconds pass (default: until the scene moves on)\n"
           "          reload       re-read STORY from disk, keeping the state (hot reload)\n"
           "          quit\n"
           "        Scenes that move on by themselves do so at once in text mode.\n"
           "        --seed N       random() seed (default: the story's)\n"
           "        --log FILE     write the replay log when the session ends\n"
           "        --replay FILE  start from the state a replay log reaches\n"
           "Exit codes: 0 an ending was reached (or quit), 1 usage, 2 the story does not\n"
           "load, 3 the input ended before an ending.\n");
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    while (b) {
        size_t k = fread(b + n, 1, cap - n - 1, f);
        n += k;
        if (k == 0)
            break;
        if (n + 1 == cap) {
            if (cap > (64u << 20)) {
                free(b);
                b = NULL;
                break;
            }
            char *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (b)
        b[n] = 0;
    return b;
}

static bool write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return false;
    bool ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok;
}

static int load_story(const char *path, rv_story **story)
{
    rv_story_diags d = {0};
    rv_error err = {0};
    rv_status st = rv_story_load(story, path, &d, &err);
    if (st) {
        if (d.count) {
            char line[1200];
            for (int i = 0; i < d.count; i++) {
                if (d.items[i].severity != RV_STORY_ERROR)
                    continue;
                rv_story_diag_format(&d, &d.items[i], line, sizeof(line));
                fprintf(stderr, "%s\n", line);
            }
            fprintf(stderr, "reverie: %s does not load (see `reverie check %s`)\n", path, path);
        } else {
            fprintf(stderr, "reverie: %s\n", err.msg);
        }
    }
    rv_story_diags_free(&d);
    return st ? 2 : 0;
}

static int cmd_graph(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'}, {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    const char *out = NULL;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        if (c == 'o')
            out = optarg;
        else if (c == 'h') {
            help();
            return 0;
        } else {
            fprintf(stderr, "reverie story graph: unknown option \"%s\" or missing value (see --help)\n",
                    argv[optind - 1]);
            return 1;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "usage: reverie story graph STORY [-o FILE] (see --help)\n");
        return 1;
    }
    rv_story *story = NULL;
    int rc = load_story(argv[optind], &story);
    if (rc)
        return rc;
    char *dot = NULL;
    rv_error err = {0};
    if (rv_story_graph_dot(story, &dot, &err)) {
        fprintf(stderr, "reverie: %s\n", err.msg);
        rv_story_unload(story);
        return 2;
    }
    if (out) {
        if (!write_text(out, dot)) {
            fprintf(stderr, "reverie story graph: cannot write %s\n", out);
            rc = 2;
        } else {
            printf("wrote %s\n", out);
        }
    } else {
        fputs(dot, stdout);
    }
    free(dot);
    rv_story_unload(story);
    return rc;
}

static void show(const rv_story_state *st)
{
    rv_story_view v;
    rv_story_get_view(st, &v);
    rv_story_frame f;
    rv_story_get_frame(st, &f);
    printf("\n== %s ==\n", v.scene);
    if (v.narration[0])
        printf("%s\n", v.narration);
    if (f.n_prompts)
        printf("  [picture: %s]\n", f.prompts[0].text);
    if (v.is_ending) {
        printf("ENDING: %s\n", v.ending);
        return;
    }
    if (v.is_quiz)
        printf("%s\n", v.question);
    for (int i = 0; i < v.n_choices; i++)
        printf("  %d. %s\n", i + 1, v.choices[i].text);
}

static int cmd_play(int argc, char **argv)
{
    static const struct option opts[] = {
        {"text", no_argument, NULL, 't'}, {"seed", required_argument, NULL, 's'},
        {"log", required_argument, NULL, 'l'}, {"replay", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    bool text = false;
    const char *log_path = NULL, *replay = NULL;
    unsigned long long seed = 0;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 't')
            text = true;
        else if (c == 's') {
            char *end = NULL;
            seed = strtoull(optarg, &end, 10);
            if (!*optarg || *end) {
                fprintf(stderr, "reverie story play: --seed needs a whole number, not \"%s\"\n", optarg);
                return 1;
            }
        } else if (c == 'l')
            log_path = optarg;
        else if (c == 'r')
            replay = optarg;
        else if (c == 'h') {
            help();
            return 0;
        } else {
            fprintf(stderr, "reverie story play: unknown option \"%s\" or missing value (see --help)\n",
                    argv[optind - 1]);
            return 1;
        }
    }
    if (!text) {
        fprintf(stderr, "reverie story play: only --text is available here (the window player is `reverie play`)\n");
        return 1;
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "usage: reverie story play --text STORY (see --help)\n");
        return 1;
    }
    rv_story *story = NULL;
    int rc = load_story(argv[optind], &story);
    if (rc)
        return rc;
    rv_story_state *st = NULL;
    rv_error err = {0};
    rv_story_state_desc desc = {.seed = seed};
    if (replay) {
        char *log = read_text(replay);
        if (!log) {
            fprintf(stderr, "reverie story play: cannot read %s\n", replay);
            rv_story_unload(story);
            return 1;
        }
        rv_status r = rv_story_replay(&st, story, log, &err);
        free(log);
        if (r) {
            fprintf(stderr, "reverie story play: %s: %s\n", replay, err.msg);
            rv_story_unload(story);
            return 2;
        }
    } else if (rv_story_state_create(&st, story, &desc, &err)) {
        fprintf(stderr, "reverie: %s\n", err.msg);
        rv_story_unload(story);
        return 2;
    }
    char *slot = NULL;
    char line[1024];
    rc = 3;
    bool shown = false;
    for (;;) {
        rv_story_view v;
        rv_story_get_view(st, &v);
        if (!shown)
            show(st);
        shown = true;
        if (v.is_ending) {
            rc = 0;
            break;
        }
        if (v.n_choices == 0 && rv_story_time_to_next(st) >= 0) {
            double t = rv_story_time_to_next(st);
            rv_story_advance(st, t > 0 ? t : 1e-6);
            rv_story_view v2;
            rv_story_get_view(st, &v2);
            if (strcmp(v2.scene, v.scene) != 0 || v2.turns != v.turns) {
                shown = false;
                continue;
            }
            /* nothing moves: the next rules do not hold; fall through to input */
        }
        printf("> ");
        fflush(stdout);
        if (!fgets(line, sizeof(line), stdin)) {
            printf("\n(input ended before an ending)\n");
            break;
        }
        line[strcspn(line, "\r\n")] = 0;
        char cmd[32] = "", arg[960] = "";
        sscanf(line, "%31s %959[^\n]", cmd, arg);
        if (!cmd[0])
            continue;
        char *end = NULL;
        long n = strtol(cmd, &end, 10);
        if (!*end) {
            if (rv_story_choose(st, (int)n - 1, &err)) {
                printf("%s\n", err.msg);
                rv_error_clear(&err);
                continue;
            }
            rv_story_get_view(st, &v);
            if (v.feedback[0])
                printf("%s\n", v.feedback);
            shown = false;
        } else if (strcmp(cmd, "back") == 0) {
            int k = arg[0] ? atoi(arg) : 1;
            if (rv_story_back(st, k, NULL, &err)) {
                printf("%s\n", err.msg);
                rv_error_clear(&err);
            } else {
                shown = false;
            }
        } else if (strcmp(cmd, "save") == 0) {
            char *json = NULL;
            if (rv_story_save(st, &json, &err)) {
                printf("%s\n", err.msg);
                rv_error_clear(&err);
                continue;
            }
            if (arg[0]) {
                printf(write_text(arg, json) ? "saved to %s\n" : "cannot write %s\n", arg);
                free(json);
            } else {
                free(slot);
                slot = json;
                printf("saved\n");
            }
        } else if (strcmp(cmd, "load") == 0) {
            char *json = arg[0] ? read_text(arg) : slot;
            if (!json) {
                printf(arg[0] ? "cannot read %s\n" : "nothing saved yet%s\n", arg);
                continue;
            }
            if (rv_story_restore(st, json, &err)) {
                printf("%s\n", err.msg);
                rv_error_clear(&err);
            } else {
                printf("loaded\n");
                shown = false;
            }
            if (json != slot)
                free(json);
        } else if (strcmp(cmd, "wait") == 0) {
            double s = arg[0] ? atof(arg) : rv_story_time_to_next(st);
            if (s > 0)
                rv_story_advance(st, s);
            shown = false;
        } else if (strcmp(cmd, "reload") == 0) {
            /* hot reload: the file as it is now; the state stays where the
             * scene ids and variables still exist */
            rv_story *fresh = NULL;
            if (load_story(argv[optind], &fresh) == 0) {
                if (rv_story_state_rebind(st, fresh, &err)) {
                    printf("%s\n", err.msg);
                    rv_error_clear(&err);
                    rv_story_unload(fresh);
                } else {
                    rv_story_unload(story);
                    story = fresh;
                    printf("reloaded\n");
                    shown = false;
                }
            }
        } else if (strcmp(cmd, "quit") == 0) {
            rc = 0;
            break;
        } else {
            printf("type a choice's number, or back, save, load, wait, reload, quit\n");
        }
    }
    if (log_path) {
        char *json = NULL;
        if (rv_story_log_json(st, &json, &err) == RV_OK) {
            if (!write_text(log_path, json)) {
                fprintf(stderr, "reverie story play: cannot write %s\n", log_path);
                rc = 2;
            }
            free(json);
        }
    }
    free(slot);
    rv_story_state_destroy(st);
    rv_story_unload(story);
    return rc;
}

int rv_cmd_story_main(int argc, char **argv)
{
    if (argc < 2 || rv_cli_is_help(argv[1])) {
        help();
        return argc < 2 ? 1 : 0;
    }
    if (strcmp(argv[1], "graph") == 0)
        return cmd_graph(argc - 1, argv + 1);
    if (strcmp(argv[1], "play") == 0)
        return cmd_play(argc - 1, argv + 1);
    fprintf(stderr, "reverie story: unknown subcommand \"%s\" (graph, play; see --help)\n", argv[1]);
    return 1;
}
