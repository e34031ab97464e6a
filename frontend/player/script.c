/* Player scripts (`reverie play --script FILE`): one command a line, run in
 * order; the format is documented in frontend/player/SCRIPT.md. This file
 * only reads them; player.c runs them. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "player.h"

static const struct {
    const char *name;
    pl_cmd_kind kind;
    int arg; /* 0 none, 1 number, 2 text */
} words[] = {
    {"wait", PL_WAIT, 1},   {"frames", PL_FRAMES, 1}, {"key", PL_KEY, 2},
    {"choose", PL_CHOOSE, 1}, {"type", PL_TYPE, 2},   {"edit", PL_EDIT, 2},
    {"shot", PL_SHOT, 2},   {"expect-scene", PL_EXPECT_SCENE, 2}, {"wait-scene", PL_WAIT_SCENE, 2}, {"drop", PL_DROP, 2}, {"print", PL_PRINT, 0},
    {"fault", PL_FAULT, 2},
    {"quit", PL_QUIT, 0},
};

bool pl_script_load(pl_script *s, const char *path, char *err, size_t cap)
{
    memset(s, 0, sizeof(*s));
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, cap, "%s: %s", path, strerror(errno));
        return false;
    }
    char line[RV_STORY_TEXT_MAX + 64];
    int ln = 0, cap_cmds = 0;
    bool ok = true;
    while (ok && fgets(line, sizeof(line), f)) {
        ln++;
        size_t len = strlen(line);
        if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
            snprintf(err, cap, "%s:%d: line too long (at most %d bytes)", path, ln, RV_STORY_TEXT_MAX);
            ok = false;
            break;
        }
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
            line[--len] = 0;
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p || *p == '#')
            continue;
        char *word = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (*p)
            *p++ = 0;
        /* one separator; `type` and `edit` keep the rest as written (leading spaces too) */
        bool keep = strcmp(word, "type") == 0 || strcmp(word, "edit") == 0;
        while (!keep && (*p == ' ' || *p == '\t'))
            p++;
        int k = -1;
        for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
            if (strcmp(words[i].name, word) == 0)
                k = (int)i;
        if (k < 0) {
            snprintf(err, cap, "%s:%d: unknown command \"%s\" (wait, frames, key, choose, type, edit, shot, "
                     "expect-scene, wait-scene, drop, print, fault, quit)", path, ln, word);
            ok = false;
            break;
        }
        pl_cmd c = {.kind = words[k].kind, .line = ln};
        if (words[k].arg == 1) {
            char *end = NULL;
            errno = 0;
            c.num = strtod(p, &end);
            if (!*p || !end || *end || errno || !isfinite(c.num) || c.num < 0 || c.num > 1e6) {
                snprintf(err, cap, "%s:%d: %s needs a number from 0 to 1000000, not \"%s\"", path, ln, word, p);
                ok = false;
                break;
            }
        } else if (words[k].arg == 2) {
            if (!*p && c.kind != PL_TYPE && c.kind != PL_EDIT) {
                snprintf(err, cap, "%s:%d: %s needs an argument", path, ln, word);
                ok = false;
                break;
            }
            size_t n = strlen(p);
            if (n >= sizeof(c.arg)) {
                snprintf(err, cap, "%s:%d: %s: the text is longer than %zu bytes", path, ln, word, sizeof(c.arg) - 1);
                ok = false;
                break;
            }
            memcpy(c.arg, p, n + 1);
            if (c.kind == PL_FAULT && strcmp(p, "out-of-date") != 0 && strcmp(p, "surface-lost") != 0 &&
                strcmp(p, "surface-gone") != 0) {
                snprintf(err, cap, "%s:%d: fault must be out-of-date, surface-lost or surface-gone, not \"%s\"",
                         path, ln, p);
                ok = false;
                break;
            }
        } else if (*p) {
            snprintf(err, cap, "%s:%d: %s takes no argument", path, ln, word);
            ok = false;
            break;
        }
        if (s->n == cap_cmds) {
            cap_cmds = cap_cmds ? 2 * cap_cmds : 16;
            pl_cmd *nc = realloc(s->cmds, (size_t)cap_cmds * sizeof(pl_cmd));
            if (!nc) {
                snprintf(err, cap, "%s: out of memory", path);
                ok = false;
                break;
            }
            s->cmds = nc;
        }
        s->cmds[s->n++] = c;
    }
    fclose(f);
    if (!ok)
        pl_script_free(s);
    return ok;
}

void pl_script_free(pl_script *s)
{
    free(s->cmds);
    memset(s, 0, sizeof(*s));
}
