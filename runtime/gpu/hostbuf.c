/* Host-visible buffers a caller owns, and copies between them and tensors
 * recorded inside a command buffer: what lets the CPU fill frame n+1's
 * inputs and read frame n's outputs while other work is queued, since
 * rv_tensor_upload/read go through the shared staging buffer and wait for
 * the queue. Not a tensor allocator (tensors stay in device blocks). */
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"

struct rv_hostbuf {
    rv_gpu *gpu;
    VkBuffer buffer;
    VkDeviceMemory memory;
    void *map;
    uint64_t size;
};

rv_status rv_hostbuf_create(rv_gpu *gpu, uint64_t bytes, rv_hostbuf **out, rv_error *err)
{
    *out = NULL;
    rv_status st = RV_OK;
    if (bytes == 0)
        return rv_error_set(err, RV_ERR_INVALID, "VK: zero-sized host buffer");
    if (gpu->host_type_index == UINT32_MAX)
        return rv_error_set(err, RV_ERR_UNSUPPORTED, "VK: \"%s\" has no host-visible memory", gpu->info.name);
    rv_hostbuf *h = calloc(1, sizeof(*h));
    if (!h)
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "VK: out of host memory");
    h->gpu = gpu;
    h->size = bytes;
    VkBufferCreateInfo bci = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = bytes,
        .usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
    };
    VK_CHECK_GOTO(vkCreateBuffer(gpu->device, &bci, NULL, &h->buffer), err, st);
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(gpu->device, h->buffer, &req);
    if (!(req.memoryTypeBits & (1u << gpu->host_type_index))) {
        st = rv_error_set(err, RV_ERR_VULKAN, "VK: a host buffer cannot use memory type %u", gpu->host_type_index);
        goto fail;
    }
    VkMemoryAllocateInfo mai = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
        .allocationSize = req.size,
        .memoryTypeIndex = gpu->host_type_index, /* host-coherent (device.c): no flush or invalidate */
    };
    VK_CHECK_GOTO(vkAllocateMemory(gpu->device, &mai, NULL, &h->memory), err, st);
    VK_CHECK_GOTO(vkBindBufferMemory(gpu->device, h->buffer, h->memory, 0), err, st);
    VK_CHECK_GOTO(vkMapMemory(gpu->device, h->memory, 0, VK_WHOLE_SIZE, 0, &h->map), err, st);
    memset(h->map, 0, bytes);
    *out = h;
    return RV_OK;
fail:
    rv_hostbuf_destroy(h);
    return st;
}

void rv_hostbuf_destroy(rv_hostbuf *h)
{
    if (!h)
        return;
    VkDevice dev = h->gpu->device;
    if (h->map)
        vkUnmapMemory(dev, h->memory);
    if (h->buffer)
        vkDestroyBuffer(dev, h->buffer, NULL);
    if (h->memory)
        vkFreeMemory(dev, h->memory, NULL);
    free(h);
}

void *rv_hostbuf_map(rv_hostbuf *h) { return h->map; }
uint64_t rv_hostbuf_size(const rv_hostbuf *h) { return h->size; }

/* Failures go to the gpu's sticky error, as a dispatch's do. */
static bool copy_ok(rv_cmd *cmd, const rv_tensor *t, const rv_hostbuf *h, uint64_t offset, const char *what)
{
    rv_gpu *gpu = cmd->gpu;
    if (gpu->err.code != RV_OK)
        return false;
    if (!cmd->recording) {
        rv_error_set(&gpu->err, RV_ERR_INVALID, "VK: %s outside rv_cmd_begin/submit", what);
        return false;
    }
    if (t->block == UINT32_MAX || t->block >= (uint32_t)gpu->nblocks || t->bytes == 0) {
        rv_error_set(&gpu->err, RV_ERR_INVALID, "VK: %s of a tensor that is not allocated", what);
        return false;
    }
    if (offset > h->size || t->bytes > h->size - offset) {
        rv_error_set(&gpu->err, RV_ERR_INVALID, "VK: %s of %llu bytes at %llu is outside a %llu-byte host buffer", what,
                     (unsigned long long)t->bytes, (unsigned long long)offset, (unsigned long long)h->size);
        return false;
    }
    return true;
}

static void barrier(rv_cmd *cmd, VkPipelineStageFlags src, VkAccessFlags src_access, VkPipelineStageFlags dst,
                    VkAccessFlags dst_access)
{
    VkMemoryBarrier mb = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = src_access,
        .dstAccessMask = dst_access,
    };
    vkCmdPipelineBarrier(cmd->cb, src, dst, 0, 1, &mb, 0, NULL, 0, NULL);
    cmd->barriers++;
}

void rv_cmd_copy_in(rv_cmd *cmd, const rv_tensor *t, rv_hostbuf *h, uint64_t offset)
{
    if (!copy_ok(cmd, t, h, offset, "rv_cmd_copy_in"))
        return;
    /* after every earlier read or write of t, this recording's and earlier submissions' */
    barrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
            VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT,
            VK_ACCESS_TRANSFER_WRITE_BIT);
    VkBufferCopy c = {.srcOffset = offset, .dstOffset = t->offset, .size = t->bytes};
    vkCmdCopyBuffer(cmd->cb, h->buffer, cmd->gpu->blocks[t->block].buffer, 1, &c);
    /* before every later dispatch */
    barrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
            VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_UNIFORM_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
}

void rv_cmd_copy_out(rv_cmd *cmd, rv_hostbuf *h, uint64_t offset, const rv_tensor *t)
{
    if (!copy_ok(cmd, t, h, offset, "rv_cmd_copy_out"))
        return;
    barrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
            VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT,
            VK_ACCESS_TRANSFER_READ_BIT);
    VkBufferCopy c = {.srcOffset = t->offset, .dstOffset = offset, .size = t->bytes};
    vkCmdCopyBuffer(cmd->cb, cmd->gpu->blocks[t->block].buffer, h->buffer, 1, &c);
    /* the host reads it after the fence; a later dispatch may overwrite t */
    barrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
            VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
            VK_ACCESS_HOST_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
}
