/* Devices as the front end sees them: how to choose one (rv_gpu_desc) and
 * what it offers (rv_device_info). Plain data only; the device itself is
 * runtime/gpu's, reached through rv_engine or the internal rv_gpu.h. */
#ifndef RV_DEVICE_H
#define RV_DEVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "rv_status.h"

typedef enum rv_precision {
    RV_PRECISION_AUTO = 0, /* fp16 storage where the device has it, but fp32 on CPU devices (faster there) */
    RV_PRECISION_F32 = 1,
    RV_PRECISION_F16 = 2,
} rv_precision;

typedef struct rv_gpu_desc {
    int device_index;          /* -1 or 0-based index; 0 in a zeroed desc means "auto" unless device_index_set */
    bool device_index_set;
    const char *device_name;   /* case-insensitive substring; NULL = auto */
    bool validation;           /* enable VK_LAYER_KHRONOS_validation + messenger */
    rv_precision precision;
    uint64_t block_size;       /* device memory block size; 0 = 256 MiB */
    uint64_t memory_limit;     /* bytes of device memory Reverie may take; 0 = no limit (env RV_MAX_MEMORY_MB) */
    const char *pipeline_cache_dir; /* folder of the VkPipelineCache file (the front end passes
                                       $XDG_CACHE_HOME/reverie); NULL = no cache */
} rv_gpu_desc;

/* What the pipeline cache did for a device (rv_engine_get_info / rv_gpu). */
typedef struct rv_pipeline_cache_info {
    char path[600];            /* the cache file; "" = no cache */
    uint64_t loaded_bytes;     /* read at start (0: none yet, or refused as stale) */
    uint64_t saved_bytes;      /* written when the device was destroyed (set after) */
    int created;               /* pipelines created by this process */
} rv_pipeline_cache_info;

typedef struct rv_device_info {
    char name[256];
    char type[16];             /* "discrete", "integrated", "virtual", "cpu", "other" */
    uint32_t vendor_id, device_id;
    uint32_t api_version;
    char driver[520];
    bool storage16;            /* storageBuffer16BitAccess */
    bool float16;              /* shaderFloat16 */
    bool int8;
    bool push_descriptor;
    bool subgroup_size_control;
    bool subgroup_arith;       /* subgroup arithmetic in compute shaders (norms need it) */
    bool subgroup_shuffle;     /* subgroup shuffles in compute shaders (the CPU convs need them) */
    bool coopmat;              /* VK_KHR_cooperative_matrix */
    uint32_t subgroup_size, subgroup_min, subgroup_max;
    uint32_t max_wg_invocations;
    uint32_t max_wg_size[3];
    uint32_t max_wg_count[3];
    uint32_t max_shared_bytes;
    uint64_t max_storage_range;
    uint64_t max_uniform_range;   /* maxUniformBufferRange */
    uint64_t uniform_align;       /* minUniformBufferOffsetAlignment */
    uint64_t max_alloc;
    uint64_t device_local_bytes;
    float timestamp_period_ns;
    bool timestamps;
} rv_device_info;

/* Lists the devices without creating one. `out` may be NULL to count. */
rv_status rv_gpu_enumerate(rv_device_info *out, int cap, int *count, rv_error *err);
/* The index (as rv_gpu_enumerate counts) of the device that a GPU desc
 * picks: it is created as every command creates it, then destroyed. */
rv_status rv_gpu_pick(const rv_gpu_desc *desc, int *index, rv_error *err);

#endif
