/* Shared by the reverie subcommands: the table of commands and the options
 * every GPU command takes (--device, --precision, --validation). */
#ifndef RV_CLI_H
#define RV_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

#include "rv_device.h"

typedef struct rv_gpu rv_gpu; /* gpu/rv_gpu.h, for the op-level tools (demo, bench ops) */

typedef struct rv_cli_cmd {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} rv_cli_cmd;

int rv_cmd_devices_main(int argc, char **argv);
int rv_cmd_bench_main(int argc, char **argv);
int rv_cmd_demo_main(int argc, char **argv);
int rv_cmd_inspect_main(int argc, char **argv);
/* `reverie inspect FILE.png|.mp4|.webm`; -1 when path is not such a file */
int rv_cmd_inspect_media(const char *path);
int rv_cmd_gen_main(int argc, char **argv);
int rv_cmd_tokenize_main(int argc, char **argv);
int rv_bench_frames_main(int argc, char **argv);
int rv_cmd_render_main(int argc, char **argv);
int rv_cmd_check_main(int argc, char **argv);
int rv_cmd_story_main(int argc, char **argv);
int rv_cmd_play_main(int argc, char **argv);

/* If argv[*i] is a common GPU option, consumes it (and its value) into desc
 * and returns 1; returns -1 on a bad value (message printed), 0 otherwise. */
int rv_cli_gpu_option(int argc, char **argv, int *i, rv_gpu_desc *desc);
extern const char rv_cli_gpu_help[];
/* Creates the device or prints the error; returns the exit code (0 = ok). */
int rv_cli_gpu_create(rv_gpu **gpu, const rv_gpu_desc *desc);
bool rv_cli_is_help(const char *arg);
/* The model used when none is named: $REVERIE_MODEL, else the shipped
 * models/reverie-tiny of the source tree this binary was built from, else
 * models/reverie-tiny under the working directory. */
const char *rv_cli_default_model(void);
/* Where the VkPipelineCache file lives: $XDG_CACHE_HOME/reverie, else
 * ~/.cache/reverie; NULL with RV_PIPELINE_CACHE=0. Every command's GPU desc
 * gets it from the option parser. */
const char *rv_cli_pipeline_cache_dir(void);

/* ---- the option parser every subcommand uses (cli_opts.c) ----
 * getopt_long underneath: options and operands in any order, "--" ends the
 * options (`reverie gen -- "-a prompt"`), --name=value and -oFILE work,
 * -h/--help everywhere, one message style: `reverie CMD: unknown option
 * "--x" (see --help)`, `reverie CMD: --x needs a value`. */
typedef struct rv_cli_opt {
    const char *name;    /* long name without "--", or NULL */
    char short_name;     /* or 0 */
    bool has_value;
    int id;              /* > 0: what rv_cli_next returns for it */
} rv_cli_opt;

enum { RV_CLI_END = 0, RV_CLI_ERROR = -1, RV_CLI_HELP = -2 };

#define RV_CLI_MAX_OPTS 40

typedef struct rv_cli_parser {
    const char *cmd;           /* "gen": messages start "reverie gen: " */
    const rv_cli_opt *opts;    /* the command's options, ended by a zeroed entry */
    rv_gpu_desc *gpu;          /* non-NULL: the common GPU options are taken into it */
    int argc;
    char **argv;               /* permuted by getopt_long: operands end up last */
    const char *value;         /* the value of the option just returned */
    const char *option;        /* how it was spelled ("--steps", "-o") for messages */
    int operand;               /* after RV_CLI_END: operands are argv[operand .. argc) */
    /* internal */
    bool started;
    char shorts[2 * RV_CLI_MAX_OPTS + 4];
    struct option longs[RV_CLI_MAX_OPTS + 8];
} rv_cli_parser;

/* Initialises a parser over argv[1..argc) (argv[0] is the subcommand). */
void rv_cli_parser_init(rv_cli_parser *p, const char *cmd, const rv_cli_opt *opts, rv_gpu_desc *gpu, int argc,
                        char **argv);
/* The next option's id (its value in p->value), RV_CLI_HELP for -h/--help,
 * RV_CLI_ERROR once the message is printed (exit status 1), RV_CLI_END when
 * the options are done. */
int rv_cli_next(rv_cli_parser *p);
/* Value checks with the same message style; false once the message is printed. */
bool rv_cli_long(const rv_cli_parser *p, long lo, long hi, long *out);
bool rv_cli_u64(const rv_cli_parser *p, uint64_t *out);   /* digits only: 0 to 2^64-1 */
bool rv_cli_double(const rv_cli_parser *p, double lo, double hi, double *out);

#endif
