/* The raw latent file reader and writer live in the loader; their
 * declarations are public (the front end reads --noise-file with them). */
#include "rv_latent_file.h"
