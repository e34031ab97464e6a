/* A model's parameters by their exact diffusers/transformers names: the
 * module tree registers each weight (name, shape, where it lands on the
 * device) while it is built from config, so counting, binding from a
 * safetensors checkpoint and random initialisation are one list walk.
 * Several named weights may share one device tensor (fused Q/K/V), and one
 * weight may span several (an embedding table split below the storage
 * binding limit). Not the layers' arithmetic (nn.h). */
#ifndef RV_PARAMS_H
#define RV_PARAMS_H

#include <stdbool.h>
#include <stdint.h>

#include "rv_gpu.h"
#include "loader/safetensors.h"

#define RV_PARAM_MAX_DIMS 4

typedef struct rv_param {
    char *name;
    int ndim;
    uint64_t shape[RV_PARAM_MAX_DIMS];
    uint64_t numel;
    int store;           /* first device tensor it lands in */
    uint64_t offset;     /* element offset there; runs on into the next stores */
} rv_param;

typedef struct rv_param_store {
    rv_tensor *t;        /* inside the module struct */
    uint64_t count;
} rv_param_store;

typedef struct rv_params {
    rv_param *p;
    int n, cap;
    rv_param_store *s;
    int ns, caps;
    bool oom;                               /* a registration failed for memory */
    bool allocated;
    uint64_t file_numel[RV_ST_DTYPE_COUNT]; /* after bind: elements per checkpoint dtype */
} rv_params;

void rv_params_init(rv_params *p);
/* Frees the device tensors (gpu may be NULL if none were allocated) and the list. */
void rv_params_free(rv_params *p, rv_gpu *gpu);

/* Declares a device tensor of `count` elements; returns its store index. */
int rv_params_store(rv_params *p, rv_tensor *t, uint64_t count);
/* Registers a named weight at element `offset` of `store` (printf-style name). */
void rv_params_add(rv_params *p, int store, uint64_t offset, int ndim, const uint64_t *shape, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* A weight with a device tensor of its own. */
void rv_params_tensor(rv_params *p, rv_tensor *t, int ndim, const uint64_t *shape, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

uint64_t rv_params_numel(const rv_params *p);
/* Device bytes the weights take in `dtype`, sub-allocation rounding included. */
uint64_t rv_params_device_bytes(const rv_params *p, rv_dtype dtype);

/* What a bind found wrong, every tensor by name, one per line. */
typedef struct rv_bind_report {
    int missing, unknown, wrong_shape, bad_dtype;
    char *text;          /* malloc'd, NULL when nothing was wrong */
    /* In: set before a bind to load weights holding NaN or Inf (refused by
     * default with RV_ERR_FORMAT naming the file and tensor; a NULL report
     * refuses). Kept across the bind, which resets the counts above. */
    bool allow_nonfinite;
    int nonfinite;       /* out: tensors holding NaN/Inf that were let through */
} rv_bind_report;
void rv_bind_report_free(rv_bind_report *r);

/* Checks every checkpoint tensor against the registered names (older
 * checkpoint dialects renamed first, see params.c) and shapes, then
 * allocates the device tensors and uploads each weight converted from
 * F32/F16/BF16/F64 to the device dtype. On any mismatch nothing is
 * allocated: RV_ERR_FORMAT whose message counts the problems and names the
 * first few; `report` (may be NULL) lists all of them. `where` names the
 * component in messages. Each weight is scanned for NaN/Inf just before its
 * upload (one pass over data that is read anyway) unless
 * report->allow_nonfinite. */
rv_status rv_params_bind(rv_params *p, rv_gpu *gpu, const rv_safetensors *st, const char *where,
                         rv_bind_report *report, rv_error *err);
/* The checks alone, without a device (what `reverie inspect` reports);
 * fills file_numel. */
rv_status rv_params_check(rv_params *p, const rv_safetensors *st, const char *where, rv_bind_report *report,
                          rv_error *err);
/* Allocates and fills with seeded random values instead (real-size
 * architecture tests): 1-D weights 1, biases 0, others uniform with
 * variance 1/fan_in. */
rv_status rv_params_init_random(rv_params *p, rv_gpu *gpu, uint64_t seed, rv_error *err);

#endif
