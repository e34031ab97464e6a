/* safetensors checkpoints: read-only memory-mapped reader (single files and
 * sharded `*.safetensors.index.json` sets, one merged name space), float32 /
 * fp16 copy helpers, and a small writer for tests and tools.
 * Not a model binder: mapping tensor names to layers lives with the models. */
#ifndef RV_SAFETENSORS_H
#define RV_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rv_status.h"

/* Every dtype the safetensors format names (sub-byte F4/F6 ones excepted).
 * All of them can be opened and inspected; the copy helpers convert only the
 * floating-point ones marked below. */
typedef enum rv_st_dtype {
    RV_ST_UNKNOWN = 0,
    RV_ST_F32,      /* copy: yes */
    RV_ST_F16,      /* copy: yes */
    RV_ST_BF16,     /* copy: yes */
    RV_ST_F64,      /* copy: yes */
    RV_ST_I64,
    RV_ST_I32,
    RV_ST_I16,
    RV_ST_I8,
    RV_ST_U64,
    RV_ST_U32,
    RV_ST_U16,
    RV_ST_U8,
    RV_ST_BOOL,
    RV_ST_F8_E4M3,
    RV_ST_F8_E5M2,
    RV_ST_DTYPE_COUNT
} rv_st_dtype;

const char *rv_st_dtype_name(rv_st_dtype t);    /* "F32"; "?" for unknown */
size_t rv_st_dtype_size(rv_st_dtype t);         /* bytes per element; 0 for unknown */
rv_st_dtype rv_st_dtype_from_name(const char *name); /* RV_ST_UNKNOWN if not a dtype */

#define RV_ST_MAX_DIMS 8
/* Headers larger than this are refused, as the reference implementation does. */
#define RV_ST_MAX_HEADER ((uint64_t)100000000)

typedef struct rv_st_tensor {
    const char *name;
    const char *file;                /* path of the file (shard) holding the data */
    rv_st_dtype dtype;
    int ndim;                        /* 0 for a scalar */
    uint64_t shape[RV_ST_MAX_DIMS];  /* outermost first, row-major */
    uint64_t numel;                  /* product of shape (1 for a scalar) */
    const void *data;                /* inside the read-only mapping; NOT necessarily
                                        aligned to the element size: read with memcpy
                                        or use the copy helpers */
    uint64_t nbytes;                 /* numel * dtype size */
} rv_st_tensor;

typedef struct rv_safetensors rv_safetensors;

/* Opens `path`: a `.safetensors` file, or a sharded set when the name ends in
 * `.index.json` ({"metadata": {...}, "weight_map": {name: shard file}}), whose
 * shards are found beside the index. Every header is checked strictly (see
 * the format notes in safetensors.c); any problem is RV_ERR_FORMAT with a
 * message naming the file and the tensor. A missing file is RV_ERR_IO. */
rv_status rv_safetensors_open(rv_safetensors **out, const char *path, rv_error *err);
/* Unmaps everything. Accepts NULL. Tensor pointers die with the object. */
void rv_safetensors_close(rv_safetensors *st);

const char *rv_safetensors_path(const rv_safetensors *st);
size_t rv_safetensors_file_count(const rv_safetensors *st); /* 1, or the number of shards */

/* Tensors sorted by name (strcmp order), 0 <= i < count. */
size_t rv_safetensors_count(const rv_safetensors *st);
const rv_st_tensor *rv_safetensors_tensor(const rv_safetensors *st, size_t i);
/* NULL when absent (binary search). */
const rv_st_tensor *rv_safetensors_find(const rv_safetensors *st, const char *name);
/* Like find, but absence is RV_ERR_FORMAT "<file>: no tensor 'name'". */
rv_status rv_safetensors_get(const rv_safetensors *st, const char *name,
                             const rv_st_tensor **out, rv_error *err);

/* String metadata: the `__metadata__` map of a single file, or the index's
 * "metadata" object of a sharded set (numbers are given as decimal text). */
size_t rv_safetensors_metadata_count(const rv_safetensors *st);
void rv_safetensors_metadata_at(const rv_safetensors *st, size_t i,
                                const char **key, const char **value);
const char *rv_safetensors_metadata(const rv_safetensors *st, const char *key); /* NULL if absent */

/* Copy a tensor out of the mapping, converting F32/F16/BF16/F64 to float32
 * or to IEEE fp16 bits (round to nearest even, one rounding). dst_count must
 * equal t->numel. Other dtypes are RV_ERR_UNSUPPORTED. */
rv_status rv_safetensors_copy_f32(const rv_st_tensor *t, float *dst, uint64_t dst_count,
                                  rv_error *err);
rv_status rv_safetensors_copy_f16(const rv_st_tensor *t, uint16_t *dst, uint64_t dst_count,
                                  rv_error *err);

/* Non-finite values: true when an F32/F16/BF16/F64 tensor holds a NaN or an
 * infinity, with the first one's element index in *at and "NaN", "+Inf" or
 * "-Inf" in *what (may be NULL). Other dtypes: false. Reads the raw bits in
 * blocks, so a clean tensor costs one pass at memory speed. */
bool rv_safetensors_find_nonfinite(const rv_st_tensor *t, uint64_t *at, const char **what);

/* ---- writer (tests and tools) ---- */

typedef struct rv_st_write_tensor {
    const char *name;
    rv_st_dtype dtype;
    int ndim;
    uint64_t shape[RV_ST_MAX_DIMS];
    const void *data;               /* numel * dtype size bytes, little-endian */
} rv_st_write_tensor;

typedef struct rv_st_kv {
    const char *key, *value;
} rv_st_kv;

/* Writes a valid safetensors file: "__metadata__" first (if n_metadata > 0),
 * tensors in name order laid out back to back in that order, the header
 * padded with spaces so the data starts at an 8-byte aligned offset. Written
 * to a temporary file then renamed, so `path` never holds half a file. Bad
 * arguments (duplicate names, unknown dtype, invalid UTF-8) are RV_ERR_INVALID. */
rv_status rv_safetensors_write(const char *path, const rv_st_write_tensor *tensors, size_t n,
                               const rv_st_kv *metadata, size_t n_metadata, rv_error *err);

#endif
