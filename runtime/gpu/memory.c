/* Device memory: tensors are sub-allocated (first fit, coalescing free list)
 * from large blocks, each one VkDeviceMemory bound to one VkBuffer, so there
 * is no vkAllocateMemory per tensor. Also the staging path for uploads and
 * readbacks. Not a cache of host data: uploads are synchronous. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/half.h"
#include "vk_internal.h"

#define RV_ALLOC_ALIGN 256u

uint32_t rv_find_memory_type(const rv_gpu *gpu, uint32_t bits, VkMemoryPropertyFlags want, VkMemoryPropertyFlags avoid)
{
    for (uint32_t i = 0; i < gpu->memprops.memoryTypeCount; i++) {
        VkMemoryPropertyFlags f = gpu->memprops.memoryTypes[i].propertyFlags;
        if ((bits & (1u << i)) && (f & want) == want && !(f & avoid))
            return i;
    }
    return UINT32_MAX;
}

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

static const char *human(uint64_t b, char *buf, size_t cap)
{
    if (b >= (1ull << 30))
        snprintf(buf, cap, "%.2f GiB", (double)b / (1ull << 30));
    else
        snprintf(buf, cap, "%.1f MiB", (double)b / (1ull << 20));
    return buf;
}

static rv_status create_buffer(rv_gpu *gpu, uint64_t size, uint32_t type_index, VkBufferUsageFlags usage,
                               VkBuffer *buf, VkDeviceMemory *mem, rv_error *err)
{
    rv_status st = RV_OK;
    char hb[32];
    VkBufferCreateInfo bci = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = size,
        .usage = usage,
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
    };
    VK_CHECK_RET(vkCreateBuffer(gpu->device, &bci, NULL, buf), err);
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(gpu->device, *buf, &req);
    uint32_t heap = gpu->memprops.memoryTypes[type_index].heapIndex;
    uint64_t heap_size = gpu->memprops.memoryHeaps[heap].size;
    if (!(req.memoryTypeBits & (1u << type_index))) {
        st = rv_error_set(err, RV_ERR_VULKAN, "VK: buffer of %s cannot use memory type %u", human(size, hb, sizeof(hb)),
                          type_index);
        goto fail;
    }
    if (req.size > heap_size || (gpu->info.max_alloc && req.size > gpu->info.max_alloc)) {
        char hh[32], hm[32];
        st = rv_error_set(err, RV_ERR_DEVICE_MEMORY,
                          "VK: allocation of %s exceeds the device (heap %s, largest allocation %s) on \"%s\"",
                          human(req.size, hb, sizeof(hb)), human(heap_size, hh, sizeof(hh)),
                          human(gpu->info.max_alloc, hm, sizeof(hm)), gpu->info.name);
        goto fail;
    }
    VkMemoryAllocateInfo mai = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
        .allocationSize = req.size,
        .memoryTypeIndex = type_index,
    };
    VkResult r = vkAllocateMemory(gpu->device, &mai, NULL, mem);
    if (r != VK_SUCCESS) {
        st = rv_error_set(err, rv_vk_status(r), "VK: vkAllocateMemory(%s) failed: %s (%s:%d)",
                          human(req.size, hb, sizeof(hb)), rv_vk_result_name(r), __FILE__, __LINE__);
        goto fail;
    }
    VK_CHECK_GOTO(vkBindBufferMemory(gpu->device, *buf, *mem, 0), err, st);
    return RV_OK;
fail:
    if (*mem)
        vkFreeMemory(gpu->device, *mem, NULL);
    vkDestroyBuffer(gpu->device, *buf, NULL);
    *buf = VK_NULL_HANDLE;
    *mem = VK_NULL_HANDLE;
    return st;
}

static rv_status add_block(rv_gpu *gpu, uint64_t size, uint32_t *index, rv_error *err)
{
    if (gpu->device_type_index == UINT32_MAX)
        return rv_error_set(err, RV_ERR_DEVICE_MEMORY, "VK: \"%s\" has no device-local memory type", gpu->info.name);
    if (gpu->nblocks == gpu->capblocks) {
        int cap = gpu->capblocks ? gpu->capblocks * 2 : 8;
        rv_block *nb = realloc(gpu->blocks, (size_t)cap * sizeof(*nb));
        if (!nb)
            return rv_error_set(err, RV_ERR_HOST_MEMORY, "VK: out of host memory");
        gpu->blocks = nb;
        gpu->capblocks = cap;
    }
    uint64_t taken = 0;
    for (int i = 0; i < gpu->nblocks; i++)
        taken += gpu->blocks[i].size;
    if (gpu->memory_limit && taken + size > gpu->memory_limit) {
        char hs[32], ht[32], hl[32];
        return rv_error_set(err, RV_ERR_DEVICE_MEMORY,
                            "VK: device memory budget exhausted: a %s block on top of %s exceeds the limit of %s",
                            human(size, hs, sizeof(hs)), human(taken, ht, sizeof(ht)),
                            human(gpu->memory_limit, hl, sizeof(hl)));
    }
    rv_block b = {0};
    rv_status st = create_buffer(gpu, size, gpu->device_type_index,
                                 VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_UNIFORM_BUFFER_BIT |
                                     VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT |
                                     (gpu->texel_views ? VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT : 0),
                                 &b.buffer, &b.memory, err);
    if (st)
        return st;
    b.size = size;
    b.free = malloc(8 * sizeof(*b.free));
    if (!b.free) {
        vkDestroyBuffer(gpu->device, b.buffer, NULL);
        vkFreeMemory(gpu->device, b.memory, NULL);
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "VK: out of host memory");
    }
    b.capfree = 8;
    b.nfree = 1;
    b.free[0] = (rv_free_range){0, size};
    gpu->blocks[gpu->nblocks] = b;
    *index = (uint32_t)gpu->nblocks++;
    return RV_OK;
}

/* Texels a block's view covers: the whole block, up to the device's limit. */
static uint64_t view_texels(const rv_gpu *gpu, const rv_block *b, rv_dtype t)
{
    uint64_t n = b->size / (4 * rv_dtype_size(t));
    return n < gpu->max_texels ? n : gpu->max_texels;
}

VkBufferView rv_block_view(rv_gpu *gpu, uint32_t block, rv_dtype t, rv_error *err)
{
    rv_block *b = &gpu->blocks[block];
    const int v = t == RV_F16;
    if (!b->views[v]) {
        VkBufferViewCreateInfo ci = {
            .sType = VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO,
            .buffer = b->buffer,
            .format = t == RV_F16 ? VK_FORMAT_R16G16B16A16_SFLOAT : VK_FORMAT_R32G32B32A32_SFLOAT,
            .range = view_texels(gpu, b, t) * 4 * rv_dtype_size(t),
        };
        VkResult r = vkCreateBufferView(gpu->device, &ci, NULL, &b->views[v]);
        if (r != VK_SUCCESS) {
            b->views[v] = VK_NULL_HANDLE;
            rv_error_set(err, rv_vk_status(r), "VK: vkCreateBufferView failed: %s (%s:%d)", rv_vk_result_name(r),
                         __FILE__, __LINE__);
        }
    }
    return b->views[v];
}

bool rv_texel_readable(const rv_gpu *gpu, const rv_tensor *t)
{
    if (!gpu->texel_views || (t->dtype != RV_F32 && t->dtype != RV_F16) || t->block >= (uint32_t)gpu->nblocks)
        return false;
    const uint64_t texel = 4 * rv_dtype_size(t->dtype);
    return t->offset % texel == 0 && (t->offset + t->bytes + texel - 1) / texel <= view_texels(gpu, &gpu->blocks[t->block], t->dtype);
}

static bool block_take(rv_block *b, uint64_t bytes, uint64_t *offset)
{
    for (int i = 0; i < b->nfree; i++) {
        if (b->free[i].size < bytes)
            continue;
        *offset = b->free[i].offset;
        b->free[i].offset += bytes;
        b->free[i].size -= bytes;
        if (b->free[i].size == 0) {
            memmove(&b->free[i], &b->free[i + 1], (size_t)(b->nfree - i - 1) * sizeof(*b->free));
            b->nfree--;
        }
        return true;
    }
    return false;
}

static bool block_give(rv_block *b, uint64_t offset, uint64_t bytes)
{
    int i = 0;
    while (i < b->nfree && b->free[i].offset < offset)
        i++;
    bool merge_prev = i > 0 && b->free[i - 1].offset + b->free[i - 1].size == offset;
    bool merge_next = i < b->nfree && offset + bytes == b->free[i].offset;
    if (merge_prev && merge_next) {
        b->free[i - 1].size += bytes + b->free[i].size;
        memmove(&b->free[i], &b->free[i + 1], (size_t)(b->nfree - i - 1) * sizeof(*b->free));
        b->nfree--;
    } else if (merge_prev) {
        b->free[i - 1].size += bytes;
    } else if (merge_next) {
        b->free[i].offset = offset;
        b->free[i].size += bytes;
    } else {
        if (b->nfree == b->capfree) {
            rv_free_range *nf = realloc(b->free, (size_t)b->capfree * 2 * sizeof(*nf));
            if (!nf)
                return false; /* the range leaks until the gpu is destroyed */
            b->free = nf;
            b->capfree *= 2;
        }
        memmove(&b->free[i + 1], &b->free[i], (size_t)(b->nfree - i) * sizeof(*b->free));
        b->free[i] = (rv_free_range){offset, bytes};
        b->nfree++;
    }
    return true;
}

rv_status rv_tensor_alloc(rv_gpu *gpu, rv_tensor *t, rv_dtype dtype, uint64_t count, rv_error *err)
{
    memset(t, 0, sizeof(*t));
    t->block = UINT32_MAX;
    size_t es = rv_dtype_size(dtype);
    if (count == 0)
        return rv_error_set(err, RV_ERR_INVALID, "VK: zero-sized tensor");
    if (count > UINT64_MAX / 2 / es)
        return rv_error_set(err, RV_ERR_DEVICE_MEMORY, "VK: tensor of %llu elements is too large",
                            (unsigned long long)count);
    uint64_t bytes = count * es;
    uint64_t rounded = align_up(bytes, RV_ALLOC_ALIGN);
    if (bytes > gpu->info.max_storage_range) {
        char hb[32], hr[32];
        return rv_error_set(err, RV_ERR_DEVICE_MEMORY,
                            "VK: tensor of %s exceeds the device's largest storage binding (%s) on \"%s\"",
                            human(bytes, hb, sizeof(hb)), human(gpu->info.max_storage_range, hr, sizeof(hr)),
                            gpu->info.name);
    }
    uint64_t offset = 0;
    uint32_t bi = UINT32_MAX;
    for (int i = 0; i < gpu->nblocks; i++) {
        if (block_take(&gpu->blocks[i], rounded, &offset)) {
            bi = (uint32_t)i;
            break;
        }
    }
    if (bi == UINT32_MAX) {
        uint64_t size = rounded > gpu->block_size ? rounded : gpu->block_size;
        rv_status st = add_block(gpu, size, &bi, err);
        if (st)
            return st;
        block_take(&gpu->blocks[bi], rounded, &offset);
    }
    t->block = bi;
    t->offset = offset;
    t->bytes = bytes;
    t->count = count;
    t->dtype = dtype;
    gpu->used_bytes += rounded;
    gpu->allocations++;
    if (gpu->used_bytes > gpu->peak_bytes)
        gpu->peak_bytes = gpu->used_bytes;
    return RV_OK;
}

void rv_tensor_free(rv_gpu *gpu, rv_tensor *t)
{
    if (!gpu || !t || t->block == UINT32_MAX || t->bytes == 0)
        return;
    if (t->block < (uint32_t)gpu->nblocks) {
        uint64_t rounded = align_up(t->bytes, RV_ALLOC_ALIGN);
        block_give(&gpu->blocks[t->block], t->offset, rounded);
        gpu->used_bytes -= rounded;
    }
    memset(t, 0, sizeof(*t));
    t->block = UINT32_MAX;
}

rv_tensor rv_tensor_view(const rv_tensor *t, uint64_t first, uint64_t count)
{
    rv_tensor v = *t;
    size_t es = rv_dtype_size(t->dtype);
    if (first > t->count)
        first = t->count;
    if (count > t->count - first)
        count = t->count - first;
    v.offset = t->offset + first * es;
    v.count = count;
    v.bytes = count * es;
    return v;
}

void rv_gpu_mem_stats(const rv_gpu *gpu, rv_mem_stats *s)
{
    memset(s, 0, sizeof(*s));
    s->blocks = (uint64_t)gpu->nblocks;
    for (int i = 0; i < gpu->nblocks; i++)
        s->block_bytes += gpu->blocks[i].size;
    s->used_bytes = gpu->used_bytes;
    s->peak_bytes = gpu->peak_bytes;
    s->allocations = gpu->allocations;
}

void rv_memory_destroy(rv_gpu *gpu)
{
    for (int i = 0; i < gpu->nblocks; i++) {
        for (int v = 0; v < 2; v++)
            if (gpu->blocks[i].views[v])
                vkDestroyBufferView(gpu->device, gpu->blocks[i].views[v], NULL);
        vkDestroyBuffer(gpu->device, gpu->blocks[i].buffer, NULL);
        vkFreeMemory(gpu->device, gpu->blocks[i].memory, NULL);
        free(gpu->blocks[i].free);
    }
    free(gpu->blocks);
    gpu->blocks = NULL;
    gpu->nblocks = gpu->capblocks = 0;
    if (gpu->staging_mem) {
        vkUnmapMemory(gpu->device, gpu->staging_mem);
        vkFreeMemory(gpu->device, gpu->staging_mem, NULL);
    }
    if (gpu->staging)
        vkDestroyBuffer(gpu->device, gpu->staging, NULL);
    gpu->staging = VK_NULL_HANDLE;
    gpu->staging_mem = VK_NULL_HANDLE;
}

/* ---- staging ---- */

#define RV_STAGING_MAX (64ull << 20)

static rv_status ensure_staging(rv_gpu *gpu, uint64_t want, rv_error *err)
{
    if (want > RV_STAGING_MAX)
        want = RV_STAGING_MAX;
    if (gpu->staging && gpu->staging_size >= want)
        return RV_OK;
    uint64_t size = 1ull << 20;
    while (size < want)
        size *= 2;
    if (gpu->staging) {
        vkUnmapMemory(gpu->device, gpu->staging_mem);
        vkFreeMemory(gpu->device, gpu->staging_mem, NULL);
        vkDestroyBuffer(gpu->device, gpu->staging, NULL);
        gpu->staging = VK_NULL_HANDLE;
        gpu->staging_mem = VK_NULL_HANDLE;
        gpu->staging_size = 0;
    }
    if (gpu->host_type_index == UINT32_MAX)
        return rv_error_set(err, RV_ERR_UNSUPPORTED, "VK: \"%s\" has no host-visible memory", gpu->info.name);
    rv_status st = create_buffer(gpu, size, gpu->host_type_index,
                                 VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                                 &gpu->staging, &gpu->staging_mem, err);
    if (st)
        return st;
    VkResult r = vkMapMemory(gpu->device, gpu->staging_mem, 0, VK_WHOLE_SIZE, 0, &gpu->staging_map);
    if (r != VK_SUCCESS) {
        vkFreeMemory(gpu->device, gpu->staging_mem, NULL);
        vkDestroyBuffer(gpu->device, gpu->staging, NULL);
        gpu->staging = VK_NULL_HANDLE;
        gpu->staging_mem = VK_NULL_HANDLE;
        return rv_error_set(err, rv_vk_status(r), "VK: vkMapMemory failed: %s", rv_vk_result_name(r));
    }
    gpu->staging_size = size;
    return RV_OK;
}

/* Copies between the staging buffer and a block range, and waits. */
static rv_status transfer(rv_gpu *gpu, uint32_t block, uint64_t offset, uint64_t bytes, bool to_device, rv_error *err)
{
    VkCommandBufferBeginInfo bi = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
        .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
    };
    VK_CHECK_RET(vkResetCommandBuffer(gpu->xfer_cmd, 0), err);
    VK_CHECK_RET(vkBeginCommandBuffer(gpu->xfer_cmd, &bi), err);
    /* Earlier submissions are complete (every submit is waited on before
     * another transfer); the barrier orders against shader access anyway. */
    VkMemoryBarrier mb = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
    };
    vkCmdPipelineBarrier(gpu->xfer_cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &mb, 0, NULL, 0, NULL);
    VkBufferCopy copy = {.size = bytes};
    if (to_device) {
        copy.dstOffset = offset;
        vkCmdCopyBuffer(gpu->xfer_cmd, gpu->staging, gpu->blocks[block].buffer, 1, &copy);
    } else {
        copy.srcOffset = offset;
        vkCmdCopyBuffer(gpu->xfer_cmd, gpu->blocks[block].buffer, gpu->staging, 1, &copy);
    }
    VkMemoryBarrier mb2 = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
        .dstAccessMask = to_device ? VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_UNIFORM_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT
                                   : VK_ACCESS_HOST_READ_BIT,
    };
    vkCmdPipelineBarrier(gpu->xfer_cmd, VK_PIPELINE_STAGE_TRANSFER_BIT,
                         to_device ? VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT : VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb2, 0,
                         NULL, 0, NULL);
    VK_CHECK_RET(vkEndCommandBuffer(gpu->xfer_cmd), err);
    VkSubmitInfo si = {
        .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
        .commandBufferCount = 1,
        .pCommandBuffers = &gpu->xfer_cmd,
    };
    VK_CHECK_RET(vkResetFences(gpu->device, 1, &gpu->xfer_fence), err);
    VK_CHECK_RET(vkQueueSubmit(gpu->queue, 1, &si, gpu->xfer_fence), err);
    VK_CHECK_RET(vkWaitForFences(gpu->device, 1, &gpu->xfer_fence, VK_TRUE, UINT64_MAX), err);
    return RV_OK;
}

static rv_status check_tensor(const rv_gpu *gpu, const rv_tensor *t, uint64_t offset, uint64_t bytes, rv_error *err)
{
    if (t->block == UINT32_MAX || t->block >= (uint32_t)gpu->nblocks)
        return rv_error_set(err, RV_ERR_INVALID, "VK: tensor is not allocated");
    if (offset > t->bytes || bytes > t->bytes - offset)
        return rv_error_set(err, RV_ERR_INVALID, "VK: access of %llu bytes at %llu is outside a %llu-byte tensor",
                            (unsigned long long)bytes, (unsigned long long)offset, (unsigned long long)t->bytes);
    return RV_OK;
}

rv_status rv_tensor_write(rv_gpu *gpu, const rv_tensor *t, uint64_t offset, const void *src, uint64_t bytes, rv_error *err)
{
    rv_status st = check_tensor(gpu, t, offset, bytes, err);
    if (st || bytes == 0)
        return st;
    if ((st = ensure_staging(gpu, bytes, err)))
        return st;
    const uint8_t *p = src;
    while (bytes) {
        uint64_t n = bytes < gpu->staging_size ? bytes : gpu->staging_size;
        memcpy(gpu->staging_map, p, n);
        if ((st = transfer(gpu, t->block, t->offset + offset, n, true, err)))
            return st;
        p += n;
        offset += n;
        bytes -= n;
    }
    return RV_OK;
}

rv_status rv_tensor_read(rv_gpu *gpu, const rv_tensor *t, uint64_t offset, void *dst, uint64_t bytes, rv_error *err)
{
    rv_status st = check_tensor(gpu, t, offset, bytes, err);
    if (st || bytes == 0)
        return st;
    if ((st = ensure_staging(gpu, bytes, err)))
        return st;
    uint8_t *p = dst;
    while (bytes) {
        uint64_t n = bytes < gpu->staging_size ? bytes : gpu->staging_size;
        if ((st = transfer(gpu, t->block, t->offset + offset, n, false, err)))
            return st;
        memcpy(p, gpu->staging_map, n);
        p += n;
        offset += n;
        bytes -= n;
    }
    return RV_OK;
}

rv_status rv_tensor_upload(rv_gpu *gpu, const rv_tensor *t, const float *src, rv_error *err)
{
    rv_status st = check_tensor(gpu, t, 0, t->bytes, err);
    if (st)
        return st;
    if (t->dtype == RV_F32 || t->dtype == RV_U8X4)
        return rv_tensor_write(gpu, t, 0, src, t->bytes, err);
    if ((st = ensure_staging(gpu, t->bytes, err)))
        return st;
    uint64_t per = gpu->staging_size / 2, done = 0;
    while (done < t->count) {
        uint64_t n = t->count - done < per ? t->count - done : per;
        rv_f32_to_f16_array(gpu->staging_map, src + done, (size_t)n);
        if ((st = transfer(gpu, t->block, t->offset + done * 2, n * 2, true, err)))
            return st;
        done += n;
    }
    return RV_OK;
}

rv_status rv_tensor_download(rv_gpu *gpu, const rv_tensor *t, float *dst, rv_error *err)
{
    rv_status st = check_tensor(gpu, t, 0, t->bytes, err);
    if (st)
        return st;
    if (t->dtype == RV_F32 || t->dtype == RV_U8X4)
        return rv_tensor_read(gpu, t, 0, dst, t->bytes, err);
    if ((st = ensure_staging(gpu, t->bytes, err)))
        return st;
    uint64_t per = gpu->staging_size / 2, done = 0;
    while (done < t->count) {
        uint64_t n = t->count - done < per ? t->count - done : per;
        if ((st = transfer(gpu, t->block, t->offset + done * 2, n * 2, false, err)))
            return st;
        rv_f16_to_f32_array(dst + done, gpu->staging_map, (size_t)n);
        done += n;
    }
    return RV_OK;
}
