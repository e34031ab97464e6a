/* reverie: the command-line entry point. Dispatches to subcommands. */
#include <stdio.h>
int main(void) { return 0; }
