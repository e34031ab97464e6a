/* Vulkan compute core: device, memory, pipelines, command recording, timing.
 * This header is the only door to the GPU; it exposes no Vulkan types, so the
 * layers above (models, engine, front end) never include Vulkan headers. */
#ifndef RV_GPU_H
#define RV_GPU_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "rv_device.h"
#include "rv_status.h"

typedef enum rv_dtype {
    RV_F32 = 0,
    RV_F16 = 1,
    RV_U8X4 = 2, /* packed RGBA8, one 32-bit word per pixel */
} rv_dtype;

size_t rv_dtype_size(rv_dtype t);
const char *rv_dtype_name(rv_dtype t);
/* v as a tensor of dtype t stores it (fp16: rounded to nearest even; f32: v). */
float rv_dtype_round(rv_dtype t, float v);

typedef struct rv_gpu rv_gpu;


rv_status rv_gpu_create(rv_gpu **out, const rv_gpu_desc *desc, rv_error *err);
void rv_gpu_destroy(rv_gpu *gpu);
const rv_device_info *rv_gpu_info(const rv_gpu *gpu);
int rv_gpu_device_index(const rv_gpu *gpu);
/* The dtype activations and weights use on this device. */
rv_dtype rv_gpu_dtype(const rv_gpu *gpu);
/* Validation messages seen so far (tests require zero). */
int rv_gpu_validation_count(const rv_gpu *gpu);
/* The sticky error: first failure recorded while encoding ops. */
const rv_error *rv_gpu_error(const rv_gpu *gpu);
void rv_gpu_clear_error(rv_gpu *gpu);

/* ---- memory: tensors are sub-allocations of large device blocks ---- */

typedef struct rv_tensor {
    uint32_t block;            /* index of the block in the gpu; ~0u = none */
    uint64_t offset;           /* bytes, within the block */
    uint64_t bytes;
    uint64_t count;            /* elements */
    rv_dtype dtype;
} rv_tensor;

rv_status rv_tensor_alloc(rv_gpu *gpu, rv_tensor *t, rv_dtype dtype, uint64_t count, rv_error *err);
void rv_tensor_free(rv_gpu *gpu, rv_tensor *t);
/* Host float32 <-> device tensor, converting to the tensor's dtype. Synchronous. */
rv_status rv_tensor_upload(rv_gpu *gpu, const rv_tensor *t, const float *src, rv_error *err);
rv_status rv_tensor_download(rv_gpu *gpu, const rv_tensor *t, float *dst, rv_error *err);
/* Raw bytes at a byte offset inside the tensor. */
rv_status rv_tensor_write(rv_gpu *gpu, const rv_tensor *t, uint64_t offset, const void *src, uint64_t bytes, rv_error *err);
rv_status rv_tensor_read(rv_gpu *gpu, const rv_tensor *t, uint64_t offset, void *dst, uint64_t bytes, rv_error *err);
/* A view of part of a tensor (element offset and count), sharing its memory. */
rv_tensor rv_tensor_view(const rv_tensor *t, uint64_t first, uint64_t count);

typedef struct rv_mem_stats {
    uint64_t blocks, block_bytes, used_bytes, peak_bytes, allocations;
} rv_mem_stats;
void rv_gpu_mem_stats(const rv_gpu *gpu, rv_mem_stats *s);

/* ---- command recording ---- */

typedef struct rv_cmd rv_cmd;

rv_status rv_cmd_create(rv_gpu *gpu, rv_cmd **out, rv_error *err);
void rv_cmd_destroy(rv_cmd *cmd);
rv_status rv_cmd_begin(rv_cmd *cmd, rv_error *err);
/* Named GPU timing stages; nesting is not allowed. */
void rv_cmd_stage(rv_cmd *cmd, const char *name);
/* Stages this recording can still time (later ones are not timed
 * separately): a caller with more stages splits its work across submissions. */
int rv_cmd_stage_room(const rv_cmd *cmd);
rv_status rv_cmd_submit(rv_cmd *cmd, rv_error *err);
rv_status rv_cmd_wait(rv_cmd *cmd, rv_error *err);
/* begin..submit..wait for one-shot work. */
rv_status rv_cmd_run(rv_cmd *cmd, rv_error *err);

typedef struct rv_stage_time {
    char name[32];
    double ms;
} rv_stage_time;
/* After wait: the measured stages (up to cap). Returns the number written. */
int rv_cmd_timings(rv_cmd *cmd, rv_stage_time *out, int cap);
/* With RV_PROFILE_OPS=1 in the environment when the rv_cmd was made, every
 * dispatch is timed (end to end: on GPUs that overlap dispatches between
 * barriers the split is approximate). After wait: the time and dispatch
 * count per pipeline of the last submission, slowest first (up to cap);
 * 0 when off or unsupported. RV_PROFILE_OPS=2 also lists every dispatch on
 * stderr when this is called: index, pipeline, grid, the op's first three
 * push-constant words (M, N, K for convs and GEMMs) and its time. */
typedef struct rv_op_time {
    char name[32];
    int dispatches;
    double ms;
} rv_op_time;
int rv_cmd_op_times(rv_cmd *cmd, rv_op_time *out, int cap);
/* Whether attention with packed K and V of kv_bytes each runs on the direct
 * kernel (CPU devices, K and V small enough for a uniform window): models
 * then keep Q, K and V in separate tensors, unless the texel kernel takes
 * the strided rows (rv_op_attention_texel). */
bool rv_gpu_direct_attention(const rv_gpu *gpu, uint64_t kv_bytes);
int rv_cmd_dispatch_count(const rv_cmd *cmd);
int rv_cmd_barrier_count(const rv_cmd *cmd);
rv_gpu *rv_cmd_gpu(rv_cmd *cmd);

/* ---- dispatch (used by the op library) ---- */

#define RV_MAX_BINDINGS 8

typedef struct rv_binding {
    const rv_tensor *t;
    bool write;
} rv_binding;

/* Creates (once) and binds the pipeline `shader`, pushes descriptors and
 * constants, inserts a barrier if a binding depends on an earlier dispatch,
 * and dispatches. Failures set the gpu's sticky error. */
void rv_cmd_dispatch(rv_cmd *cmd, int pipeline, const rv_binding *bindings, int nbind,
                     const void *push, uint32_t push_bytes, uint32_t gx, uint32_t gy, uint32_t gz);

/* The pipeline cache's file and what it held at start. */
void rv_gpu_pipeline_cache(const rv_gpu *gpu, rv_pipeline_cache_info *out);

/* Creates every pipeline up front (the player does this before frames run). */
rv_status rv_gpu_warm_pipelines(rv_gpu *gpu, rv_error *err);

/* ---- host-visible buffers and recorded copies (hostbuf.c) ----
 * For work in flight: the CPU fills and reads a mapped buffer it owns
 * while the queue is busy, and the copies to and from tensors run inside
 * a recording, ordered with its dispatches and with earlier submissions
 * (rv_tensor_upload/read wait for the whole queue). The memory is host
 * coherent; bytes are the tensor's own (float16 tensors take halves). */
typedef struct rv_hostbuf rv_hostbuf;
rv_status rv_hostbuf_create(rv_gpu *gpu, uint64_t bytes, rv_hostbuf **out, rv_error *err);
void rv_hostbuf_destroy(rv_hostbuf *h);
void *rv_hostbuf_map(rv_hostbuf *h);
uint64_t rv_hostbuf_size(const rv_hostbuf *h);
/* t (all of it) <- the host buffer's bytes at `offset`. */
void rv_cmd_copy_in(rv_cmd *cmd, const rv_tensor *t, rv_hostbuf *h, uint64_t offset);
/* The host buffer at `offset` <- t (all of it); read it after rv_cmd_wait. */
void rv_cmd_copy_out(rv_cmd *cmd, rv_hostbuf *h, uint64_t offset, const rv_tensor *t);

#endif
