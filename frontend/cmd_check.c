/* `reverie check STORY [--model DIR] [--json]`: the story validator. Prints
 * the loader's and validator's diagnostics (file:line:col, code, JSON path)
 * and, with --model, prompt checks with the model's own tokenizer and
 * known-words list. No GPU. Not the story tools (cmd_story.c). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "rv_prompt.h"
#include "rv_story.h"

static void help(void)
{
    printf("usage: reverie check STORY [--model DIR] [--json]\n\n"
           "Checks a reverie-story/1 file: JSON syntax, the schema (with the JSON path),\n"
           "the graph (unknown targets, unreachable scenes, dead ends, auto-advance cycles\n"
           "with no exit), expressions (undefined or mistyped variables, syntax, with the\n"
           "column inside the expression), styles, and conditions that can never hold.\n"
           "  --model DIR  also count each prompt's tokens with DIR's CLIP tokenizer (more\n"
           "               than %d are cut) and name the words DIR's known_words.txt lacks\n"
           "  --json       one JSON object for editors instead of text lines\n"
           "Exit codes: 0 clean, 1 warnings only, 2 errors, 3 usage error or unreadable\n"
           "story or model folder. Codes are listed in scenes/README.md.\n",
           RV_PROMPT_MAX_TOKENS);
}

typedef struct word_ctx {
    rv_story_diags *d;
    const rv_story_prompt_site *site;
    const char *model;
} word_ctx;

static void on_word(void *user, const char *word, const char *pieces)
{
    word_ctx *w = user;
    rv_story_diag_add(w->d, RV_STORY_WARNING, "W306", w->site->line, w->site->col, w->site->path,
                      "\"%s\" is not a word %s was trained on (its tokenizer reads %s)", word,
                      w->model, pieces[0] ? pieces : "nothing");
}

static void model_checks(const rv_story *story, rv_prompt_info *pi, const char *model,
                         rv_story_diags *d)
{
    rv_story_prompt_site site;
    for (int i = 0; rv_story_prompt_site_get(story, i, &site); i++) {
        int n = 0;
        rv_error err = {0};
        if (rv_prompt_count_tokens(pi, site.text, &n, &err) == RV_OK && n > RV_PROMPT_MAX_TOKENS)
            rv_story_diag_add(d, RV_STORY_WARNING, "W305", site.line, site.col, site.path,
                              "prompt takes %d tokens with %s's tokenizer; the model reads %d (the rest is cut)",
                              n, model, RV_PROMPT_MAX_TOKENS);
        word_ctx w = {d, &site, model};
        rv_prompt_unknown_words(pi, site.text, on_word, &w);
    }
}

static void print_json(const rv_story_diags *d)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "file", d->file);
    cJSON_AddNumberToObject(r, "errors", d->errors);
    cJSON_AddNumberToObject(r, "warnings", d->warnings);
    cJSON_AddBoolToObject(r, "truncated", d->truncated);
    cJSON *a = cJSON_AddArrayToObject(r, "diagnostics");
    for (int i = 0; i < d->count; i++) {
        const rv_story_diag *g = &d->items[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "severity", g->severity == RV_STORY_ERROR ? "error" : "warning");
        cJSON_AddStringToObject(o, "code", g->code);
        cJSON_AddNumberToObject(o, "line", g->line);
        cJSON_AddNumberToObject(o, "col", g->col);
        cJSON_AddStringToObject(o, "path", g->path);
        cJSON_AddStringToObject(o, "message", g->message);
        cJSON_AddItemToArray(a, o);
    }
    char *s = cJSON_Print(r);
    if (s)
        printf("%s\n", s);
    free(s);
    cJSON_Delete(r);
}

int rv_cmd_check_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'}, {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    const char *model = NULL;
    bool json = false;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'm')
            model = optarg;
        else if (c == 'j')
            json = true;
        else if (c == 'h') {
            help();
            return 0;
        } else {
            fprintf(stderr, "reverie check: unknown option \"%s\" or missing value (see --help)\n",
                    argv[optind - 1]);
            return 3;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "usage: reverie check STORY [--model DIR] [--json] (see --help)\n");
        return 3;
    }
    const char *path = argv[optind];
    rv_prompt_info *pi = NULL;
    rv_error err = {0};
    if (model && rv_prompt_info_load(&pi, model, &err)) {
        fprintf(stderr, "reverie check: --model %s: %s\n", model, err.msg);
        return 3;
    }
    rv_story_diags d = {0};
    rv_story *story = NULL;
    rv_status st = rv_story_load(&story, path, &d, &err);
    if (st == RV_ERR_IO || st == RV_ERR_HOST_MEMORY) {
        fprintf(stderr, "reverie check: %s\n", err.msg);
        rv_prompt_info_unload(pi);
        rv_story_diags_free(&d);
        return 3;
    }
    if (story && pi)
        model_checks(story, pi, model, &d);
    if (json) {
        print_json(&d);
    } else {
        char line[1400];
        for (int i = 0; i < d.count; i++) {
            rv_story_diag_format(&d, &d.items[i], line, sizeof(line));
            printf("%s\n", line);
        }
        if (d.truncated)
            printf("%s: (more diagnostics not shown)\n", d.file);
        printf("%s: %d error%s, %d warning%s\n", path, d.errors, d.errors == 1 ? "" : "s",
               d.warnings, d.warnings == 1 ? "" : "s");
    }
    int rc = d.errors ? 2 : d.warnings ? 1 : 0;
    rv_story_unload(story);
    rv_prompt_info_unload(pi);
    rv_story_diags_free(&d);
    return rc;
}
