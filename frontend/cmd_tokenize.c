/* `reverie tokenize`: a prompt's CLIP token ids as the text encoder sees
 * them (BOS, tokens, EOS, padding to 77), each token's text, and how much of
 * the 77-token context it uses, with a warning when it is cut. No device. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "rv_tokenizer.h"

static void help(void)
{
    printf("usage: reverie tokenize --model DIR \"prompt\" [--all]\n\n"
           "Prints the token ids CLIP's text encoder gets for a prompt (BOS, the\n"
           "tokens, EOS; --all adds the padding up to %d), the text of each token, and\n"
           "\"N/%d tokens\". A prompt longer than that is cut (with a warning), as\n"
           "diffusers cuts it. DIR is a diffusers folder (its tokenizer/ is used) or a\n"
           "tokenizer folder (vocab.json, merges.txt).\n",
           RV_TOKENIZER_MAX_LENGTH, RV_TOKENIZER_MAX_LENGTH);
}

static bool exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

int rv_cmd_tokenize_main(int argc, char **argv)
{
    const char *model = NULL, *prompt = NULL;
    bool all = false;
    enum { OPT_MODEL = 256, OPT_ALL };
    static const rv_cli_opt opts[] = {{"model", 0, true, OPT_MODEL}, {"all", 0, false, OPT_ALL}, {0}};
    rv_cli_parser p;
    rv_cli_parser_init(&p, "tokenize", opts, NULL, argc, argv);
    for (int c; (c = rv_cli_next(&p)) != RV_CLI_END;) {
        if (c == RV_CLI_HELP) {
            help();
            return 0;
        }
        if (c == RV_CLI_ERROR)
            return 1;
        if (c == OPT_MODEL)
            model = p.value;
        else if (c == OPT_ALL)
            all = true;
    }
    if (argc - p.operand > 1) {
        fprintf(stderr, "reverie tokenize: one prompt at a time (quote it): \"%s\"\n", argv[p.operand + 1]);
        return 1;
    }
    if (p.operand < argc)
        prompt = argv[p.operand];
    if (!model || !prompt) {
        fprintf(stderr, "usage: reverie tokenize --model DIR \"prompt\" (see --help)\n");
        return 1;
    }
    char dir[1200];
    snprintf(dir, sizeof(dir), "%s/tokenizer", model);
    if (!exists(dir))
        snprintf(dir, sizeof(dir), "%s", model);
    rv_error err = {0};
    rv_tokenizer *tok = NULL;
    if (rv_tokenizer_load(&tok, dir, &err)) {
        fprintf(stderr, "reverie tokenize: %s\n", err.msg);
        return 1;
    }
    int32_t ids[RV_TOKENIZER_MAX_LENGTH];
    int n = 0;
    if (rv_tokenizer_encode(tok, prompt, ids, &n, &err)) {
        fprintf(stderr, "reverie tokenize: %s\n", err.msg);
        rv_tokenizer_unload(tok);
        return 1;
    }
    const int max = RV_TOKENIZER_MAX_LENGTH, used = n < max ? n : max;
    const int shown = all ? max : used;
    printf("ids:");
    for (int i = 0; i < shown; i++)
        printf(" %d", ids[i]);
    printf("\ntokens:");
    for (int i = 0; i < used; i++) {
        const char *t = rv_tokenizer_token(tok, ids[i]);
        printf(" %s", t ? t : "?");
    }
    printf("\n%d/%d tokens", used, max);
    if (used < max)
        printf(" (padded with %d)", rv_tokenizer_pad_id(tok));
    printf("\n");
    if (n > max) {
        /* the text that was cut: the tokens after the 75 that fit */
        size_t total = 0;
        int32_t *raw = malloc((size_t)n * sizeof(int32_t));
        char *lost = NULL;
        if (raw && rv_tokenizer_tokenize(tok, prompt, raw, (size_t)n, &total, &err) == RV_OK && total > (size_t)(max - 2))
            rv_tokenizer_decode(tok, raw + (max - 2), total - (size_t)(max - 2), true, &lost, &err);
        fprintf(stderr, "reverie tokenize: warning: the prompt has %d tokens; CLIP reads %d, so %d are cut%s%s%s\n",
                n - 2, max - 2, n - max, lost ? ": \"" : "", lost ? lost : "", lost ? "\"" : "");
        free(lost);
        free(raw);
    }
    rv_tokenizer_unload(tok);
    return 0;
}
