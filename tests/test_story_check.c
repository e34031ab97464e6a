/* The story validator's exact messages: every tests/story/NAME.json fixture
 * must give exactly the diagnostics in NAME.expect (message, code,
 * file:line:col, JSON path); hostile inputs (huge, deep, long, expression
 * bombs, random bytes) give a diagnostic and no crash; the example stories
 * in scenes/ check clean. No GPU. */
#include <dirent.h>
#include <stdint.h>
#include <string.h>

#include "rv_story.h"
#include "rv_test.h"
#include "story/story_internal.h"

static char *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) {
        b[n] = 0;
        if (size)
            *size = (size_t)n;
    }
    return b;
}

/* All diagnostics of a story in memory, one formatted line each. */
static char *diagnose(const char *name, const char *data, size_t size, rv_story_diags *d)
{
    rv_story *s = NULL;
    rv_error err = {0};
    rv_story_load_mem(&s, name, data, size, d, &err);
    rv_story_unload(s);
    size_t cap = 256 + (size_t)d->count * 1400, n = 0;
    char *out = malloc(cap);
    out[0] = 0;
    for (int i = 0; i < d->count; i++) {
        char line[1400];
        rv_story_diag_format(d, &d->items[i], line, sizeof(line));
        n += (size_t)snprintf(out + n, cap - n, "%s\n", line);
    }
    return out;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void fixtures(void)
{
    DIR *dir = opendir("story");
    CHECK(dir != NULL, "tests/story missing");
    if (!dir)
        return;
    char *names[256];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir)) && n < 256) {
        size_t l = strlen(e->d_name);
        if (l > 5 && strcmp(e->d_name + l - 5, ".json") == 0)
            names[n++] = strdup(e->d_name);
    }
    closedir(dir);
    qsort(names, (size_t)n, sizeof(char *), cmp_names);
    CHECK(n >= 25, "only %d fixtures", n);
    char codes[64][8];
    int n_codes = 0;
    for (int i = 0; i < n; i++) {
        char path[600], exp_path[600];
        snprintf(path, sizeof(path), "story/%s", names[i]);
        snprintf(exp_path, sizeof(exp_path), "story/%.*s.expect", (int)(strlen(names[i]) - 5), names[i]);
        size_t size = 0;
        char *data = slurp(path, &size), *want = slurp(exp_path, NULL);
        CHECK(data && want, "%s: fixture or its .expect missing", names[i]);
        if (data && want) {
            rv_story_diags d = {0};
            char *got = diagnose(names[i], data, size, &d);
            CHECK(strcmp(got, want) == 0, "%s:\n  got:  %s  want: %s", names[i], got, want);
            CHECK(d.count >= 1, "%s: no diagnostic", names[i]);
            for (int k = 0; k < d.count; k++) {
                bool seen = false;
                for (int j = 0; j < n_codes; j++)
                    seen |= strcmp(codes[j], d.items[k].code) == 0;
                if (!seen && n_codes < 64)
                    snprintf(codes[n_codes++], 8, "%s", d.items[k].code);
            }
            free(got);
            rv_story_diags_free(&d);
        }
        free(data);
        free(want);
        free(names[i]);
    }
    CHECK(n_codes >= 20, "only %d distinct diagnostic codes across the fixtures", n_codes);
    printf("fixtures: %d, distinct codes: %d\n", n, n_codes);
}

static const char *first_code(const char *data, size_t size, char *msg, size_t cap)
{
    static char code[8];
    rv_story_diags d = {0};
    rv_story *s = NULL;
    rv_story_load_mem(&s, "hostile.json", data, size, &d, NULL);
    rv_story_unload(s);
    snprintf(code, sizeof(code), "%s", d.count ? d.items[0].code : "none");
    if (msg)
        snprintf(msg, cap, "%s", d.count ? d.items[0].message : "");
    rv_story_diags_free(&d);
    return code;
}

static void hostile(void)
{
    char msg[600];
    /* huge file */
    size_t big = (8u << 20) + 16;
    char *b = malloc(big);
    memset(b, ' ', big);
    b[0] = '[';
    b[big - 1] = ']';
    CHECK(strcmp(first_code(b, big, msg, sizeof(msg)), "E103") == 0, "huge: %s", msg);
    /* a long string */
    size_t ls = 70000;
    char *l = malloc(ls + 64);
    int k = sprintf(l, "{\"format\": \"reverie-story/1\", \"title\": \"");
    memset(l + k, 'x', ls);
    strcpy(l + k + ls, "\"}");
    CHECK(strcmp(first_code(l, strlen(l), msg, sizeof(msg)), "E103") == 0, "long string: %s", msg);
    free(l);
    /* deep nesting, both kinds */
    memset(b, '[', 100000);
    CHECK(strcmp(first_code(b, 100000, msg, sizeof(msg)), "E103") == 0, "deep: %s", msg);
    for (int i = 0; i < 100000; i += 6)
        memcpy(b + i, "{\"a\":", 5), b[i + 5] = ' ';
    CHECK(strcmp(first_code(b, 99996, msg, sizeof(msg)), "E103") == 0, "deep objects: %s", msg);
    /* an object with very many members (duplicate checks are bounded) */
    {
        size_t cap = 2u << 20, m = 0;
        char *o = malloc(cap);
        o[m++] = '{';
        for (int i = 0; i < 150000; i++)
            m += (size_t)sprintf(o + m, "%s\"k%d\": 1", i ? ", " : "", i);
        o[m++] = '}';
        CHECK(strcmp(first_code(o, m, msg, sizeof(msg)), "E103") == 0, "many members: %s", msg);
        CHECK(strstr(msg, "more than 10000 members") != NULL, "many members: %s", msg);
        free(o);
    }
    /* expression bombs: deep parentheses, a long expression, many ops */
    const char *head = "{\"format\": \"reverie-story/1\", \"title\": \"t\", \"variables\": {\"x\": 1},"
                       " \"scenes\": [{\"id\": \"a\", \"choices\": [{\"text\": \"go\", \"target\": \"b\", \"if\": \"";
    const char *tail = "\"}]}, {\"id\": \"b\", \"ending\": true}]}";
    char *x = malloc(20000);
    int n = sprintf(x, "%s", head);
    for (int i = 0; i < 200; i++)
        x[n++] = '(';
    n += sprintf(x + n, "x > 0");
    for (int i = 0; i < 200; i++)
        x[n++] = ')';
    n += sprintf(x + n, "%s", tail);
    CHECK(strcmp(first_code(x, (size_t)n, msg, sizeof(msg)), "E204") == 0, "paren bomb: %s", msg);
    CHECK(strstr(msg, "nested deeper than 32") != NULL, "paren bomb message: %s", msg);
    n = sprintf(x, "%s", head);
    for (int i = 0; i < 400; i++)
        n += sprintf(x + n, "x + ");
    n += sprintf(x + n, "1 > 0%s", tail);
    CHECK(strcmp(first_code(x, (size_t)n, msg, sizeof(msg)), "E204") == 0, "long expression: %s", msg);
    n = sprintf(x, "%s", head);
    for (int i = 0; i < 100; i++)
        n += sprintf(x + n, "-");
    n += sprintf(x + n, "x > 0%s", tail);
    CHECK(strcmp(first_code(x, (size_t)n, msg, sizeof(msg)), "E204") == 0, "unary bomb: %s", msg);
    /* a valid but wide expression: 60 ands stay within the stack */
    n = sprintf(x, "%s", head);
    for (int i = 0; i < 60; i++)
        n += sprintf(x + n, "x > %d and ", -i - 1);
    n += sprintf(x + n, "true%s", tail);
    /* (x is never assigned, so the validator folds it: always true, no error) */
    CHECK(strcmp(first_code(x, (size_t)n, msg, sizeof(msg)), "none") == 0, "wide and: %s", msg);
    free(x);
    /* random bytes: a diagnostic, never a crash */
    uint64_t r = 12345;
    for (int t = 0; t < 200; t++) {
        size_t len = (size_t)(t * 37 % 4000);
        for (size_t i = 0; i < len; i++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            b[i] = (char)(r >> 56);
        }
        const char *c = first_code(b, len, NULL, 0);
        CHECK(c[0] == 'E', "random bytes %d: %s", t, c);
    }
    free(b);
}

static void examples(void)
{
    const char *ex[] = {"../scenes/lighthouse.json", "../scenes/water_cycle.json",
                        "../scenes/playground.json"};
    for (int i = 0; i < 3; i++) {
        rv_story_diags d = {0};
        rv_story *s = NULL;
        rv_error err = {0};
        rv_status st = rv_story_load(&s, ex[i], &d, &err);
        CHECK(st == RV_OK && d.count == 0, "%s: %d errors, %d warnings (%s)", ex[i], d.errors,
              d.warnings, d.count ? d.items[0].message : err.msg);
        rv_story_unload(s);
        rv_story_diags_free(&d);
    }
}

/* The fuzz seeds and saved crashes (tests/fuzz/corpus/story, .../expr) go
 * through the loader and the expression compiler here too, so they replay
 * in every build, gcc included. */
static void corpus(void)
{
    const char *dirs[] = {"fuzz/corpus/story", "fuzz/corpus/expr"};
    int files = 0;
    for (int k = 0; k < 2; k++) {
        DIR *dir = opendir(dirs[k]);
        CHECK(dir != NULL, "%s missing", dirs[k]);
        if (!dir)
            continue;
        struct dirent *e;
        while ((e = readdir(dir))) {
            if (e->d_name[0] == '.')
                continue;
            char path[700];
            snprintf(path, sizeof(path), "%s/%s", dirs[k], e->d_name);
            size_t size = 0;
            char *data = slurp(path, &size);
            if (!data)
                continue;
            files++;
            if (k == 0) {
                rv_story *s = NULL;
                rv_story_load_mem(&s, e->d_name, data, size, NULL, NULL);
                rv_story_unload(s);
            } else {
                static const char base[] =
                    "{\"format\": \"reverie-story/1\", \"title\": \"f\", \"variables\": {\"n\": 3,"
                    " \"b\": true, \"s\": \"abc\", \"x\": -1.5}, \"scenes\": [{\"id\": \"a\","
                    " \"choices\": [{\"text\": \"t\", \"target\": \"b\"}]}, {\"id\": \"b\", \"ending\": true}]}";
                rv_story *s = NULL;
                rv_story_load_mem(&s, "base.json", base, sizeof(base) - 1, NULL, NULL);
                CHECK(s != NULL, "expression base story");
                if (s) {
                    value vars[RV_STORY_MAX_VARS];
                    for (int i = 0; i < s->n_vars; i++)
                        vars[i] = s->vars[i].init;
                    uint32_t visits[2] = {1, 0};
                    uint64_t rng = 42;
                    eval_env env = {.story = s, .vars = vars, .visits = visits, .turns = 2, .rng = &rng};
                    for (int assign = 0; assign < 2; assign++) {
                        expr_ctx cx = {.story = s, .assign = assign};
                        expr ex;
                        if (expr_compile(&cx, data, &ex)) {
                            value v = expr_eval(&env, &ex);
                            CHECK(assign || v.type == ex.type, "%s: value type", path);
                        } else {
                            CHECK(cx.col >= 1 && cx.msg[0] && cx.code[0], "%s: error without a column", path);
                        }
                    }
                    rv_story_unload(s);
                }
            }
            free(data);
        }
        closedir(dir);
    }
    printf("fuzz corpus files replayed: %d\n", files);
}

int main(void)
{
    fixtures();
    hostile();
    examples();
    corpus();
    return rv_test_finish("test_story_check");
}
