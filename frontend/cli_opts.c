/* The option parser of every reverie subcommand (see cli.h): getopt_long
 * with one message style and the common GPU options built in. Not the
 * commands' own checks of what the options say. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum { GPU_DEVICE = 10001, GPU_PRECISION, GPU_VALIDATION, GPU_MAX_MEMORY };

static const rv_cli_opt gpu_opts[] = {
    {"device", 0, true, GPU_DEVICE},
    {"precision", 0, true, GPU_PRECISION},
    {"validation", 0, false, GPU_VALIDATION},
    {"max-memory", 0, true, GPU_MAX_MEMORY},
};

static void add(rv_cli_parser *p, int *nl, size_t *ns, const rv_cli_opt *o)
{
    if (o->name && *nl < RV_CLI_MAX_OPTS + 6)
        p->longs[(*nl)++] = (struct option){o->name, o->has_value ? required_argument : no_argument, NULL, o->id};
    if (o->short_name && *ns + 3 < sizeof(p->shorts)) {
        p->shorts[(*ns)++] = o->short_name;
        if (o->has_value)
            p->shorts[(*ns)++] = ':';
    }
}

void rv_cli_parser_init(rv_cli_parser *p, const char *cmd, const rv_cli_opt *opts, rv_gpu_desc *gpu, int argc,
                        char **argv)
{
    memset(p, 0, sizeof(*p));
    p->cmd = cmd;
    p->opts = opts;
    p->gpu = gpu;
    p->argc = argc;
    p->argv = argv;
    if (gpu && !gpu->pipeline_cache_dir)
        gpu->pipeline_cache_dir = rv_cli_pipeline_cache_dir();
    int nl = 0;
    size_t ns = 0;
    p->shorts[ns++] = ':';   /* a missing value returns ':', not '?' */
    static const rv_cli_opt help = {"help", 'h', false, RV_CLI_HELP};
    add(p, &nl, &ns, &help);
    for (int i = 0; opts && (opts[i].name || opts[i].short_name); i++) {
        if (nl >= RV_CLI_MAX_OPTS) {
            fprintf(stderr, "reverie %s: internal error: more than %d options\n", cmd, RV_CLI_MAX_OPTS);
            break;
        }
        add(p, &nl, &ns, &opts[i]);
    }
    for (size_t i = 0; gpu && i < sizeof(gpu_opts) / sizeof(gpu_opts[0]); i++)
        add(p, &nl, &ns, &gpu_opts[i]);
    p->longs[nl] = (struct option){0};
    p->shorts[ns] = 0;
}

/* The argument getopt just looked at, for messages. */
static const char *spelled(const rv_cli_parser *p, char *buf, size_t cap)
{
    if (optopt > 0 && optopt < 256) {
        snprintf(buf, cap, "-%c", optopt);
        return buf;
    }
    const char *a = optind > 1 && optind <= p->argc ? p->argv[optind - 1] : "?";
    snprintf(buf, cap, "%s", a);
    char *eq = strncmp(buf, "--", 2) == 0 ? strchr(buf, '=') : NULL;
    if (eq)
        *eq = 0;
    return buf;
}

int rv_cli_next(rv_cli_parser *p)
{
    if (!p->started) {
        optind = 0;   /* GNU: a full re-initialisation */
        opterr = 0;
        p->started = true;
    }
    for (;;) {
        int idx = -1;
        optopt = 0;
        int c = getopt_long(p->argc, p->argv, p->shorts, p->longs, &idx);
        static char name[128];
        if (c == -1) {
            p->operand = optind;
            return RV_CLI_END;
        }
        if (c == ':') {
            fprintf(stderr, "reverie %s: %s needs a value\n", p->cmd, spelled(p, name, sizeof(name)));
            return RV_CLI_ERROR;
        }
        if (c == '?') {
            const char *a = spelled(p, name, sizeof(name));
            /* --flag=value for a flag */
            for (int i = 0; p->longs[i].name; i++)
                if (strncmp(a, "--", 2) == 0 && strcmp(a + 2, p->longs[i].name) == 0 &&
                    p->longs[i].has_arg == no_argument) {
                    fprintf(stderr, "reverie %s: %s takes no value\n", p->cmd, a);
                    return RV_CLI_ERROR;
                }
            fprintf(stderr, "reverie %s: unknown option \"%s\" (see --help)\n", p->cmd, a);
            return RV_CLI_ERROR;
        }
        p->value = optarg;
        if (idx >= 0) {
            snprintf(name, sizeof(name), "--%s", p->longs[idx].name);
        } else if (c == 'h') {
            return RV_CLI_HELP;
        } else {
            snprintf(name, sizeof(name), "-%c", c);
            for (int i = 0; p->opts && (p->opts[i].name || p->opts[i].short_name); i++)
                if (p->opts[i].short_name == c)
                    c = p->opts[i].id;
        }
        p->option = name;
        if (c >= GPU_DEVICE && c <= GPU_MAX_MEMORY) {
            /* the one implementation of the GPU options (main.c) */
            char *av[2] = {(char *)name, (char *)(optarg ? optarg : "")};
            int i = 0;
            if (rv_cli_gpu_option(optarg ? 2 : 1, av, &i, p->gpu) < 0)
                return RV_CLI_ERROR;
            continue;
        }
        return c;
    }
}

bool rv_cli_long(const rv_cli_parser *p, long lo, long hi, long *out)
{
    const char *v = p->value;
    char *end = NULL;
    errno = 0;
    long x = strtol(v, &end, 10);
    /* strtol skips leading blanks; a value must be the number alone */
    if (!*v || !(v[0] == '-' || v[0] == '+' || (v[0] >= '0' && v[0] <= '9')) || !end || *end || errno ||
        x < lo || x > hi) {
        fprintf(stderr, "reverie %s: %s must be an integer from %ld to %ld, not \"%s\"\n", p->cmd, p->option, lo, hi,
                v);
        return false;
    }
    *out = x;
    return true;
}

bool rv_cli_u64(const rv_cli_parser *p, uint64_t *out)
{
    const char *v = p->value;
    char *end = NULL;
    errno = 0;
    /* strtoull skips blanks and accepts a sign (" -1" became 2^64-1): only digits */
    unsigned long long x = v[0] >= '0' && v[0] <= '9' ? strtoull(v, &end, 10) : 0;
    if (!(v[0] >= '0' && v[0] <= '9') || !end || *end || errno) {
        fprintf(stderr, "reverie %s: %s must be an integer from 0 to 2^64-1, not \"%s\"\n", p->cmd, p->option, v);
        return false;
    }
    *out = x;
    return true;
}

bool rv_cli_double(const rv_cli_parser *p, double lo, double hi, double *out)
{
    const char *v = p->value;
    char *end = NULL;
    double x = strtod(v, &end);
    if (!*v || *v == ' ' || !end || *end || !isfinite(x) || x < lo || x > hi) {
        fprintf(stderr, "reverie %s: %s must be a number from %g to %g, not \"%s\"\n", p->cmd, p->option, lo, hi, v);
        return false;
    }
    *out = x;
    return true;
}

const char *rv_cli_pipeline_cache_dir(void)
{
    static char dir[600];
    const char *off = getenv("RV_PIPELINE_CACHE");
    if (off && strcmp(off, "0") == 0)
        return NULL;
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && *xdg)
        snprintf(dir, sizeof(dir), "%s/reverie", xdg);
    else if (home && *home)
        snprintf(dir, sizeof(dir), "%s/.cache/reverie", home);
    else
        return NULL;
    return dir;
}
