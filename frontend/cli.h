/* Shared by the reverie subcommands: the table of commands and the options
 * every GPU command takes (--device, --precision, --validation). */
#ifndef RV_CLI_H
#define RV_CLI_H

#include <stdbool.h>

#include "gpu/rv_gpu.h"

typedef struct rv_cli_cmd {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} rv_cli_cmd;

int rv_cmd_devices_main(int argc, char **argv);
int rv_cmd_bench_main(int argc, char **argv);
int rv_cmd_demo_main(int argc, char **argv);
int rv_cmd_inspect_main(int argc, char **argv);
int rv_cmd_gen_main(int argc, char **argv);
int rv_cmd_tokenize_main(int argc, char **argv);
int rv_cmd_check_main(int argc, char **argv);
int rv_cmd_story_main(int argc, char **argv);

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

#endif
