/* What engine.c and frames.c share behind the public rv_engine.h: the
 * engine struct (a device and a loaded model). Internal to runtime/engine. */
#ifndef RV_ENGINE_INTERNAL_H
#define RV_ENGINE_INTERNAL_H

#include <math.h>

#include "rv_engine.h"
#include "engine/gen.h"

struct rv_engine {
    rv_gpu *gpu;
    rv_gen *gen;
};

/* RV_ERR_INVALID naming `what` and the first NaN/Inf of x[0..n). */
rv_status rv_engine_check_finite(const float *x, uint64_t n, const char *what, rv_error *err);

#endif
