/* Private to runtime/gpu: the Vulkan objects behind rv_gpu and rv_cmd, and
 * the VK_CHECK family. Nothing outside runtime/gpu includes this file. */
#ifndef RV_VK_INTERNAL_H
#define RV_VK_INTERNAL_H

#include <volk.h>

#include "rv_gpu.h"
#include "rv_pipelines.h"

const char *rv_vk_result_name(VkResult r);
rv_status rv_vk_status(VkResult r);

/* Reports the failing call, file and line into err and jumps to `fail`. */
#define VK_CHECK_GOTO(call, err, st) do { \
    VkResult vkr_ = (call); \
    if (vkr_ != VK_SUCCESS) { \
        (st) = rv_error_set((err), rv_vk_status(vkr_), "VK: %s failed: %s (%s:%d)", \
                            #call, rv_vk_result_name(vkr_), __FILE__, __LINE__); \
        goto fail; \
    } \
} while (0)

#define VK_CHECK_RET(call, err) do { \
    VkResult vkr_ = (call); \
    if (vkr_ != VK_SUCCESS) \
        return rv_error_set((err), rv_vk_status(vkr_), "VK: %s failed: %s (%s:%d)", \
                            #call, rv_vk_result_name(vkr_), __FILE__, __LINE__); \
} while (0)

typedef struct rv_free_range {
    uint64_t offset, size;
} rv_free_range;

typedef struct rv_block {
    VkDeviceMemory memory;
    VkBuffer buffer;
    uint64_t size;
    rv_free_range *free;     /* sorted by offset, coalesced */
    int nfree, capfree;
    VkBufferView views[2];   /* RGBA texel views of the whole block, by rv_dtype (f32, f16); made on first use */
} rv_block;

typedef struct rv_pipeline {
    VkShaderModule module;
    VkPipeline pipeline;
    VkPipelineLayout layout;
    VkDescriptorSetLayout set_layout;
    bool ready;
} rv_pipeline;

struct rv_gpu {
    VkInstance instance;
    VkDebugUtilsMessengerEXT messenger;
    VkPhysicalDevice phys;
    VkDevice device;
    VkQueue queue;
    uint32_t queue_family;
    uint32_t timestamp_bits;
    int device_index;
    rv_device_info info;
    rv_dtype dtype;
    VkPhysicalDeviceMemoryProperties memprops;
    uint32_t device_type_index;      /* memory type for tensors */
    uint32_t host_type_index;        /* memory type for staging */
    uint64_t storage_align;
    uint64_t uniform_align;           /* minUniformBufferOffsetAlignment, at least 16 */
    bool texel_views;                 /* blocks can be read as RGBA32F / RGBA16F uniform texel buffers */
    uint32_t max_texels;              /* maxTexelBufferElements */

    rv_block *blocks;
    int nblocks, capblocks;
    uint64_t block_size;
    uint64_t memory_limit;           /* 0 = none */
    uint64_t used_bytes, peak_bytes, allocations;

    /* staging buffer for uploads and readbacks, grown on demand */
    VkBuffer staging;
    VkDeviceMemory staging_mem;
    void *staging_map;
    uint64_t staging_size;
    VkCommandPool xfer_pool;
    VkCommandBuffer xfer_cmd;
    VkFence xfer_fence;

    rv_pipeline pipelines[RV_PIPELINE_COUNT];
    rv_tiles tiles;
    char shader_dir[512];            /* RV_SHADER_DIR: SPIR-V read from disk */
    VkPipelineCache pcache;          /* VK_NULL_HANDLE without a cache folder */
    rv_pipeline_cache_info pcache_info;

    int validation_messages;
    rv_error err;                    /* sticky error from op encoding */
};

/* The pipeline cache file (pipeline.c): opened after device creation,
 * written back when the device is destroyed. */
void rv_pipeline_cache_open(rv_gpu *gpu, const char *dir, const uint8_t uuid[16], uint32_t driver_version);
void rv_pipeline_cache_close(rv_gpu *gpu);

#define RV_MAX_STAGES 64
#define RV_MAX_PENDING 64
#define RV_MAX_OP_TIMES 8191

typedef struct rv_range {
    uint32_t block;
    uint64_t begin, end;
} rv_range;

struct rv_cmd {
    rv_gpu *gpu;
    VkCommandPool pool;
    VkCommandBuffer cb;
    VkFence fence;
    VkQueryPool queries;
    VkDescriptorPool desc_pool;      /* only without push descriptors */
    bool recording, submitted;
    int nstages;
    char stage_names[RV_MAX_STAGES][32];
    rv_range pending_w[RV_MAX_PENDING], pending_r[RV_MAX_PENDING];
    int npw, npr;
    int dispatches, barriers;
    /* RV_PROFILE_OPS=1: a timestamp after every dispatch, and its pipeline */
    VkQueryPool op_queries;
    int nops;
    uint16_t op_pipe[RV_MAX_OP_TIMES];
    bool op_list; /* RV_PROFILE_OPS=2: every dispatch listed on stderr too */
    uint32_t (*op_shape)[6]; /* with op_list: grid and the op's first 3 push words per dispatch */
};

void rv_tiles_choose(rv_gpu *gpu);
rv_status rv_pipeline_get(rv_gpu *gpu, int id, rv_pipeline **out, rv_error *err);
void rv_pipelines_destroy(rv_gpu *gpu);
/* memory.c */
void rv_memory_destroy(rv_gpu *gpu);
uint32_t rv_find_memory_type(const rv_gpu *gpu, uint32_t bits, VkMemoryPropertyFlags want, VkMemoryPropertyFlags avoid);
/* The RGBA texel view of a block for tensors of dtype t (RV_F32 or RV_F16),
 * made on first use; VK_NULL_HANDLE with err set on failure. */
VkBufferView rv_block_view(rv_gpu *gpu, uint32_t block, rv_dtype t, rv_error *err);
/* Whether tensor t can be read through its block's texel view: the device
 * has them, t is fp32 or fp16 and starts on a texel (4 elements) inside the
 * view's range. */
bool rv_texel_readable(const rv_gpu *gpu, const rv_tensor *t);

#endif
