/* `reverie inspect DIR`: what a diffusers folder (or one component folder)
 * holds as Reverie sees it: each component's architecture from its config,
 * parameter count, checkpoint dtypes and tensor check, and the device memory
 * its weights and one plan's activations need. No device is created. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rv_inspect.h"

static void help(void)
{
    printf("usage: reverie inspect DIR [--precision f16|f32] [--batch N] [--variant NAME]\n\n"
           "Describes a diffusers folder (model_index.json) or one component folder\n"
           "(config.json): each component's architecture, parameter count, the dtypes\n"
           "in its safetensors checkpoint (with every missing, unknown or wrong-shape\n"
           "tensor named), and the device memory for its weights and the activations\n"
           "of one forward (--batch, default 1; UNet at its sample_size latent, 77\n"
           "text tokens, VAE/TAESD decoding that latent) in the storage precision\n"
           "(default f16). --variant picks weight files like\n"
           "diffusion_pytorch_model.fp16.safetensors. Exit status 1 if a component\n"
           "cannot be used.\n");
}

int rv_cmd_inspect_main(int argc, char **argv)
{
    rv_inspect_desc o = {.batch = 1};
    const char *dir = NULL;
    enum { OPT_PRECISION = 256, OPT_BATCH, OPT_VARIANT };
    static const rv_cli_opt options[] = {
        {"precision", 0, true, OPT_PRECISION}, {"batch", 0, true, OPT_BATCH}, {"variant", 0, true, OPT_VARIANT}, {0}};
    rv_cli_parser p;
    rv_cli_parser_init(&p, "inspect", options, NULL, argc, argv);
    for (int c; (c = rv_cli_next(&p)) != RV_CLI_END;) {
        const char *v = p.value;
        long b;
        switch (c) {
        case RV_CLI_HELP:
            help();
            return 0;
        case RV_CLI_ERROR:
            return 1;
        case OPT_PRECISION:
            if (strcmp(v, "f16") == 0 || strcmp(v, "fp16") == 0 || strcmp(v, "auto") == 0)
                o.f32 = false;
            else if (strcmp(v, "f32") == 0 || strcmp(v, "fp32") == 0)
                o.f32 = true;
            else {
                fprintf(stderr, "reverie inspect: --precision must be f16 or f32, not \"%s\"\n", v);
                return 1;
            }
            break;
        case OPT_BATCH:
            if (!rv_cli_long(&p, 1, 64, &b))
                return 1;
            o.batch = (uint32_t)b;
            break;
        case OPT_VARIANT:
            o.variant = v;
            break;
        }
    }
    if (argc - p.operand > 1) {
        fprintf(stderr, "reverie inspect: one folder at a time\n");
        return 1;
    }
    if (p.operand < argc)
        dir = argv[p.operand];
    if (!dir) {
        fprintf(stderr, "usage: reverie inspect DIR (see --help)\n");
        return 1;
    }
    int media = rv_cmd_inspect_media(dir); /* a .png/.mp4/.webm file, not a folder */
    if (media >= 0)
        return media;
    return rv_model_inspect(dir, &o);
}
