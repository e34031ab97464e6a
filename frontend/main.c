/* reverie: the command-line entry point. Parses the subcommand and hands
 * over; each subcommand lives in its own cmd_*.c file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "rv_gpu.h" /* rv_cli_gpu_create, for the op-level tools */

static const rv_cli_cmd commands[] = {
    {"devices", "list Vulkan devices and the features Reverie uses", rv_cmd_devices_main},
    {"demo", "run a small compute graph on the GPU, check it against the CPU, write a PNG", rv_cmd_demo_main},
    {"bench", "benchmarks: `reverie bench ops` measures GFLOP/s and GB/s per op", rv_cmd_bench_main},
    {"inspect", "describe a diffusers folder: architectures, parameters, dtypes, device memory", rv_cmd_inspect_main},
    {"gen", "generate an image from a prompt with a diffusers folder, to PNG", rv_cmd_gen_main},
    {"tokenize", "a prompt's CLIP token ids and how many of the 77 it uses", rv_cmd_tokenize_main},
    {"check", "validate a story: syntax, schema, graph, expressions, prompts against a model", rv_cmd_check_main},
    {"render", "play a story (or a prompt) headless on the frame loop into an MP4, WebM or PNGs", rv_cmd_render_main},
    {"story", "story tools: `story graph` (Graphviz DOT), `story play --text` (terminal play)", rv_cmd_story_main},
    {"play", "play a story in a window: live pictures, choices, prompt edits, rollback", rv_cmd_play_main},
};

const char rv_cli_gpu_help[] =
    "GPU options:\n"
    "  --device N|NAME   device by index or case-insensitive name substring\n"
    "                    (default: discrete > integrated > CPU; env RV_DEVICE)\n"
    "  --precision P     auto (fp16 storage where supported; fp32 on CPU devices),\n"
    "                    f32 or f16 (env RV_PRECISION)\n"
    "  --validation      enable the Khronos validation layer (env RV_VALIDATION=1)\n"
    "  --max-memory MIB  cap the device memory Reverie takes (env RV_MAX_MEMORY_MB)\n";

bool rv_cli_is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

int rv_cli_gpu_option(int argc, char **argv, int *i, rv_gpu_desc *desc)
{
    const char *a = argv[*i];
    if (strcmp(a, "--validation") == 0) {
        desc->validation = true;
        return 1;
    }
    if (strcmp(a, "--max-memory") == 0) {
        char *end = NULL;
        unsigned long long mb = *i + 1 < argc ? strtoull(argv[*i + 1], &end, 10) : 0;
        if (!end || *end || mb == 0 || mb > (1ull << 30)) {
            fprintf(stderr, "reverie: --max-memory needs a positive number of MiB\n");
            return -1;
        }
        ++*i;
        desc->memory_limit = mb << 20;
        return 1;
    }
    if (strcmp(a, "--device") == 0 || strcmp(a, "--precision") == 0) {
        if (*i + 1 >= argc) {
            fprintf(stderr, "reverie: %s needs a value\n", a);
            return -1;
        }
        const char *v = argv[++*i];
        if (strcmp(a, "--device") == 0) {
            char *end = NULL;
            long idx = strtol(v, &end, 10);
            if (end && *end == 0 && idx >= 0) {
                desc->device_index = (int)idx;
                desc->device_index_set = true;
            } else {
                desc->device_name = v;
            }
            return 1;
        }
        if (strcmp(v, "auto") == 0)
            desc->precision = RV_PRECISION_AUTO;
        else if (strcmp(v, "f32") == 0 || strcmp(v, "fp32") == 0)
            desc->precision = RV_PRECISION_F32;
        else if (strcmp(v, "f16") == 0 || strcmp(v, "fp16") == 0)
            desc->precision = RV_PRECISION_F16;
        else {
            fprintf(stderr, "reverie: --precision must be auto, f32 or f16, not \"%s\"\n", v);
            return -1;
        }
        return 1;
    }
    return 0;
}

int rv_cli_gpu_create(rv_gpu **gpu, const rv_gpu_desc *desc)
{
    rv_error err = {0};
    if (rv_gpu_create(gpu, desc, &err) != RV_OK) {
        fprintf(stderr, "reverie: %s: %s\n", rv_status_name(err.code), err.msg);
        return 2;
    }
    return 0;
}

const char *rv_cli_default_model(void)
{
    const char *env = getenv("REVERIE_MODEL");
    if (env && *env)
        return env;
#ifdef RV_DEFAULT_MODEL_DIR
    struct stat sb;
    if (stat(RV_DEFAULT_MODEL_DIR, &sb) == 0 && S_ISDIR(sb.st_mode))
        return RV_DEFAULT_MODEL_DIR;
#endif
    return "models/reverie-tiny";
}

static void usage(FILE *f)
{
    fprintf(f, "usage: reverie <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n`reverie <command> --help` describes each command.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || rv_cli_is_help(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 1 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("reverie 0.1.0\n");
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "reverie: unknown command \"%s\"\n\n", argv[1]);
    usage(stderr);
    return 1;
}
