/* Command recording: one command buffer holds a whole sequence of
 * dispatches; a barrier goes in only where a dispatch touches memory that an
 * earlier one since the last barrier wrote (or reads what it will write).
 * Also GPU timestamps per named stage, and submission with a fence. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rv_pc.h"
#include "vk_internal.h"

#define RV_DESC_SETS_PER_CMD 4096

rv_gpu *rv_cmd_gpu(rv_cmd *cmd) { return cmd->gpu; }
int rv_cmd_dispatch_count(const rv_cmd *cmd) { return cmd->dispatches; }
int rv_cmd_barrier_count(const rv_cmd *cmd) { return cmd->barriers; }
int rv_cmd_stage_room(const rv_cmd *cmd) { return RV_MAX_STAGES - cmd->nstages; }

rv_status rv_cmd_create(rv_gpu *gpu, rv_cmd **out, rv_error *err)
{
    rv_status st = RV_OK;
    rv_cmd *cmd = calloc(1, sizeof(*cmd));
    *out = NULL;
    if (!cmd)
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "VK: out of host memory");
    cmd->gpu = gpu;
    VkCommandPoolCreateInfo pci = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
        .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
        .queueFamilyIndex = gpu->queue_family,
    };
    VK_CHECK_GOTO(vkCreateCommandPool(gpu->device, &pci, NULL, &cmd->pool), err, st);
    VkCommandBufferAllocateInfo cai = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
        .commandPool = cmd->pool,
        .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
        .commandBufferCount = 1,
    };
    VK_CHECK_GOTO(vkAllocateCommandBuffers(gpu->device, &cai, &cmd->cb), err, st);
    VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VK_CHECK_GOTO(vkCreateFence(gpu->device, &fci, NULL, &cmd->fence), err, st);
    if (gpu->info.timestamps) {
        VkQueryPoolCreateInfo qci = {
            .sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
            .queryType = VK_QUERY_TYPE_TIMESTAMP,
            .queryCount = RV_MAX_STAGES + 1,
        };
        VK_CHECK_GOTO(vkCreateQueryPool(gpu->device, &qci, NULL, &cmd->queries), err, st);
        const char *ops = getenv("RV_PROFILE_OPS");
        if (ops && (strcmp(ops, "1") == 0 || strcmp(ops, "2") == 0)) {
            if (ops[0] == '2') {
                cmd->op_shape = calloc(RV_MAX_OP_TIMES, sizeof(*cmd->op_shape));
                cmd->op_list = cmd->op_shape != NULL;
            }
            qci.queryCount = RV_MAX_OP_TIMES + 1;
            VK_CHECK_GOTO(vkCreateQueryPool(gpu->device, &qci, NULL, &cmd->op_queries), err, st);
        }
    }
    if (!gpu->info.push_descriptor) {
        VkDescriptorPoolSize ps[3] = {{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, RV_DESC_SETS_PER_CMD * 5},
                                      {VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER, RV_DESC_SETS_PER_CMD * 2},
                                      {VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, RV_DESC_SETS_PER_CMD * 2}};
        VkDescriptorPoolCreateInfo dpci = {
            .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
            .maxSets = RV_DESC_SETS_PER_CMD,
            .poolSizeCount = 3,
            .pPoolSizes = ps,
        };
        VK_CHECK_GOTO(vkCreateDescriptorPool(gpu->device, &dpci, NULL, &cmd->desc_pool), err, st);
    }
    *out = cmd;
    return RV_OK;
fail:
    rv_cmd_destroy(cmd);
    return st;
}

void rv_cmd_destroy(rv_cmd *cmd)
{
    if (!cmd)
        return;
    VkDevice dev = cmd->gpu->device;
    if (cmd->submitted && cmd->fence)
        vkWaitForFences(dev, 1, &cmd->fence, VK_TRUE, UINT64_MAX);
    if (cmd->desc_pool)
        vkDestroyDescriptorPool(dev, cmd->desc_pool, NULL);
    if (cmd->queries)
        vkDestroyQueryPool(dev, cmd->queries, NULL);
    if (cmd->op_queries)
        vkDestroyQueryPool(dev, cmd->op_queries, NULL);
    free(cmd->op_shape);
    if (cmd->fence)
        vkDestroyFence(dev, cmd->fence, NULL);
    if (cmd->pool)
        vkDestroyCommandPool(dev, cmd->pool, NULL);
    free(cmd);
}

rv_status rv_cmd_begin(rv_cmd *cmd, rv_error *err)
{
    if (cmd->submitted) {
        rv_status st = rv_cmd_wait(cmd, err);
        if (st)
            return st;
    }
    VK_CHECK_RET(vkResetCommandBuffer(cmd->cb, 0), err);
    if (cmd->desc_pool)
        VK_CHECK_RET(vkResetDescriptorPool(cmd->gpu->device, cmd->desc_pool, 0), err);
    VkCommandBufferBeginInfo bi = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
        .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
    };
    VK_CHECK_RET(vkBeginCommandBuffer(cmd->cb, &bi), err);
    if (cmd->queries)
        vkCmdResetQueryPool(cmd->cb, cmd->queries, 0, RV_MAX_STAGES + 1);
    /* Earlier submissions' writes (uploads, and compute: frames in flight
     * read what the one before wrote, such as the latent and the UNet plan's
     * kept projections) before this one's shaders. */
    VkMemoryBarrier mb = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_HOST_WRITE_BIT | VK_ACCESS_SHADER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_UNIFORM_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT,
    };
    vkCmdPipelineBarrier(cmd->cb,
                         VK_PIPELINE_STAGE_TRANSFER_BIT | VK_PIPELINE_STAGE_HOST_BIT |
                             VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb, 0, NULL, 0, NULL);
    if (cmd->op_queries) {
        vkCmdResetQueryPool(cmd->cb, cmd->op_queries, 0, RV_MAX_OP_TIMES + 1);
        vkCmdWriteTimestamp(cmd->cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, cmd->op_queries, 0);
    }
    cmd->nops = 0;
    cmd->recording = true;
    cmd->nstages = 0;
    cmd->npw = cmd->npr = 0;
    cmd->dispatches = cmd->barriers = 0;
    return RV_OK;
}

void rv_cmd_stage(rv_cmd *cmd, const char *name)
{
    if (!cmd->recording || !cmd->queries || cmd->nstages >= RV_MAX_STAGES)
        return;
    snprintf(cmd->stage_names[cmd->nstages], sizeof(cmd->stage_names[0]), "%s", name);
    vkCmdWriteTimestamp(cmd->cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, cmd->queries, (uint32_t)cmd->nstages);
    cmd->nstages++;
}

rv_status rv_cmd_submit(rv_cmd *cmd, rv_error *err)
{
    if (!cmd->recording)
        return rv_error_set(err, RV_ERR_INVALID, "VK: rv_cmd_submit without rv_cmd_begin");
    cmd->recording = false;
    if (cmd->queries && cmd->nstages > 0)
        vkCmdWriteTimestamp(cmd->cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, cmd->queries, (uint32_t)cmd->nstages);
    VkMemoryBarrier mb = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_HOST_READ_BIT,
    };
    vkCmdPipelineBarrier(cmd->cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                         VK_PIPELINE_STAGE_TRANSFER_BIT | VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, NULL, 0, NULL);
    VK_CHECK_RET(vkEndCommandBuffer(cmd->cb), err);
    if (cmd->gpu->err.code != RV_OK) {
        /* an op failed while recording: report it rather than run half a graph */
        rv_error_set(err, cmd->gpu->err.code, "%s", cmd->gpu->err.msg);
        return cmd->gpu->err.code;
    }
    VkSubmitInfo si = {
        .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
        .commandBufferCount = 1,
        .pCommandBuffers = &cmd->cb,
    };
    VK_CHECK_RET(vkResetFences(cmd->gpu->device, 1, &cmd->fence), err);
    VK_CHECK_RET(vkQueueSubmit(cmd->gpu->queue, 1, &si, cmd->fence), err);
    cmd->submitted = true;
    return RV_OK;
}

rv_status rv_cmd_wait(rv_cmd *cmd, rv_error *err)
{
    if (!cmd->submitted)
        return RV_OK;
    cmd->submitted = false;
    VK_CHECK_RET(vkWaitForFences(cmd->gpu->device, 1, &cmd->fence, VK_TRUE, UINT64_MAX), err);
    return RV_OK;
}

rv_status rv_cmd_run(rv_cmd *cmd, rv_error *err)
{
    rv_status st = rv_cmd_submit(cmd, err);
    if (st)
        return st;
    return rv_cmd_wait(cmd, err);
}

int rv_cmd_timings(rv_cmd *cmd, rv_stage_time *out, int cap)
{
    if (!cmd->queries || cmd->nstages == 0)
        return 0;
    uint64_t ts[RV_MAX_STAGES + 1];
    uint32_t n = (uint32_t)cmd->nstages + 1;
    if (vkGetQueryPoolResults(cmd->gpu->device, cmd->queries, 0, n, sizeof(ts), ts, sizeof(uint64_t),
                              VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT) != VK_SUCCESS)
        return 0;
    uint64_t mask = cmd->gpu->timestamp_bits >= 64 ? ~0ull : ((1ull << cmd->gpu->timestamp_bits) - 1);
    int k = 0;
    for (int i = 0; i < cmd->nstages && k < cap; i++, k++) {
        snprintf(out[k].name, sizeof(out[k].name), "%s", cmd->stage_names[i]);
        uint64_t d = (ts[i + 1] - ts[i]) & mask;
        out[k].ms = (double)d * cmd->gpu->info.timestamp_period_ns * 1e-6;
    }
    return k;
}

static int by_op_ms_desc(const void *a, const void *b)
{
    double x = ((const rv_op_time *)a)->ms, y = ((const rv_op_time *)b)->ms;
    return (x < y) - (x > y);
}

int rv_cmd_op_times(rv_cmd *cmd, rv_op_time *out, int cap)
{
    if (!cmd->op_queries || cmd->nops == 0 || cap <= 0)
        return 0;
    uint64_t *ts = malloc(((size_t)cmd->nops + 1) * sizeof(uint64_t));
    if (!ts)
        return 0;
    int k = 0;
    if (vkGetQueryPoolResults(cmd->gpu->device, cmd->op_queries, 0, (uint32_t)cmd->nops + 1,
                              ((size_t)cmd->nops + 1) * sizeof(uint64_t), ts, sizeof(uint64_t),
                              VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT) == VK_SUCCESS) {
        double per[RV_PIPELINE_COUNT] = {0};
        int count[RV_PIPELINE_COUNT] = {0};
        uint64_t mask = cmd->gpu->timestamp_bits >= 64 ? ~0ull : ((1ull << cmd->gpu->timestamp_bits) - 1);
        for (int i = 0; i < cmd->nops; i++) {
            const double ms = (double)((ts[i + 1] - ts[i]) & mask) * cmd->gpu->info.timestamp_period_ns * 1e-6;
            per[cmd->op_pipe[i]] += ms;
            count[cmd->op_pipe[i]]++;
            if (cmd->op_list) {
                const uint32_t *sh = cmd->op_shape[i];
                fprintf(stderr, "op %5d %-16s grid %5u %4u %3u  pc %6u %6u %6u  %8.3f ms\n", i,
                        rv_pipeline_table[cmd->op_pipe[i]].name, sh[0], sh[1], sh[2], sh[3], sh[4], sh[5], ms);
            }
        }
        rv_op_time all[RV_PIPELINE_COUNT];
        int n = 0;
        for (int p = 0; p < RV_PIPELINE_COUNT; p++)
            if (count[p]) {
                snprintf(all[n].name, sizeof(all[n].name), "%s", rv_pipeline_table[p].name);
                all[n].dispatches = count[p];
                all[n].ms = per[p];
                n++;
            }
        qsort(all, (size_t)n, sizeof(all[0]), by_op_ms_desc);
        for (; k < n && k < cap; k++)
            out[k] = all[k];
    }
    free(ts);
    return k;
}

static bool overlaps(const rv_range *a, const rv_range *b)
{
    return a->block == b->block && a->begin < b->end && b->begin < a->end;
}

static void barrier(rv_cmd *cmd)
{
    VkMemoryBarrier mb = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_SHADER_READ_BIT,
        .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_UNIFORM_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT,
    };
    vkCmdPipelineBarrier(cmd->cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb,
                         0, NULL, 0, NULL);
    cmd->npw = cmd->npr = 0;
    cmd->barriers++;
}

/* A barrier is needed if this dispatch reads or writes what an earlier one
 * wrote, or writes what an earlier one read, since the last barrier. */
static void track(rv_cmd *cmd, const rv_binding *bindings, int nbind, unsigned uniform)
{
    rv_range r[RV_MAX_BINDINGS];
    bool need = false;
    for (int i = 0; i < nbind; i++) {
        const rv_tensor *t = bindings[i].t;
        r[i] = (rv_range){t->block, t->offset, t->offset + t->bytes};
        if ((uniform >> i) & 1u) { /* read in whole 16-byte vec4s: a few bytes either side */
            r[i].begin &= ~15ull;
            r[i].end = (r[i].end + 15) & ~15ull;
        }
        for (int j = 0; j < cmd->npw && !need; j++)
            need = overlaps(&r[i], &cmd->pending_w[j]);
        for (int j = 0; j < cmd->npr && !need && bindings[i].write; j++)
            need = overlaps(&r[i], &cmd->pending_r[j]);
    }
    if (need || cmd->npw + nbind > RV_MAX_PENDING || cmd->npr + nbind > RV_MAX_PENDING)
        barrier(cmd);
    for (int i = 0; i < nbind; i++) {
        if (bindings[i].write)
            cmd->pending_w[cmd->npw++] = r[i];
        else
            cmd->pending_r[cmd->npr++] = r[i];
    }
}

void rv_cmd_dispatch(rv_cmd *cmd, int pipeline, const rv_binding *bindings, int nbind, const void *push,
                     uint32_t push_bytes, uint32_t gx, uint32_t gy, uint32_t gz)
{
    rv_gpu *gpu = cmd->gpu;
    if (gpu->err.code != RV_OK)
        return;
    const rv_pipeline_desc *d = &rv_pipeline_table[pipeline];
    if (!cmd->recording) {
        rv_error_set(&gpu->err, RV_ERR_INVALID, "VK: %s dispatched outside rv_cmd_begin/submit", d->name);
        return;
    }
    if (nbind != d->bindings || push_bytes != d->push_bytes || nbind > RV_PC_BINDINGS) {
        rv_error_set(&gpu->err, RV_ERR_INVALID, "VK: %s dispatched with %d bindings / %u push bytes, expects %d / %u",
                     d->name, nbind, push_bytes, d->bindings, d->push_bytes);
        return;
    }
    if (strstr(d->spirv, "_f16") && !gpu->info.storage16) {
        rv_error_set(&gpu->err, RV_ERR_UNSUPPORTED, "VK: %s needs 16-bit storage, which \"%s\" lacks", d->name,
                     gpu->info.name);
        return;
    }
    if (gx == 0 || gy == 0 || gz == 0)
        return; /* empty work */
    if (gx > gpu->info.max_wg_count[0] || gy > gpu->info.max_wg_count[1] ||
        gz > gpu->info.max_wg_count[2]) {
        rv_error_set(&gpu->err, RV_ERR_INVALID, "VK: %s grid %ux%ux%u exceeds the device's workgroup count limits",
                     d->name, gx, gy, gz);
        return;
    }
    rv_pipeline *p;
    if (rv_pipeline_get(gpu, pipeline, &p, &gpu->err) != RV_OK)
        return;

    uint32_t pc[RV_PC_BINDINGS + 32];
    memset(pc, 0, sizeof(pc));
    VkDescriptorBufferInfo bi[RV_MAX_BINDINGS];
    VkBufferView views[RV_MAX_BINDINGS];
    VkWriteDescriptorSet w[RV_MAX_BINDINGS];
    for (int i = 0; i < nbind; i++) {
        const rv_tensor *t = bindings[i].t;
        if (t->block == UINT32_MAX || t->block >= (uint32_t)gpu->nblocks || t->bytes == 0) {
            rv_error_set(&gpu->err, RV_ERR_INVALID, "VK: %s binding %d is not an allocated tensor", d->name, i);
            return;
        }
        if ((rv_texel_bindings(d->spec) >> i) & 1u) { /* the block's RGBA view; the offset in texels */
            if (!rv_texel_readable(gpu, t)) {
                rv_error_set(&gpu->err, RV_ERR_INVALID, "VK: %s binding %d cannot be read as RGBA texels", d->name, i);
                return;
            }
            views[i] = rv_block_view(gpu, t->block, t->dtype, &gpu->err);
            if (!views[i])
                return;
            pc[i] = (uint32_t)(t->offset / (4 * rv_dtype_size(t->dtype)));
            w[i] = (VkWriteDescriptorSet){
                .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
                .dstBinding = (uint32_t)i,
                .descriptorCount = 1,
                .descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER,
                .pTexelBufferView = &views[i],
            };
            continue;
        }
        const bool uniform = (rv_uniform_bindings(d->spec) >> i) & 1u;
        const uint64_t align = uniform ? gpu->uniform_align : gpu->storage_align;
        uint64_t aligned = t->offset / align * align;
        uint64_t range = t->offset + t->bytes - aligned;
        range = (range + (uniform ? 15 : 3)) & ~(uniform ? 15ull : 3ull); /* uniform: whole vec4s */
        if (aligned + range > gpu->blocks[t->block].size)
            range = gpu->blocks[t->block].size - aligned;
        if (uniform && range > gpu->tiles.dconv_window) {
            rv_error_set(&gpu->err, RV_ERR_INVALID, "VK: %s binding %d: %llu bytes exceed the %u-byte uniform window",
                         d->name, i, (unsigned long long)range, gpu->tiles.dconv_window);
            return;
        }
        pc[i] = (uint32_t)((t->offset - aligned) / rv_dtype_size(t->dtype));
        bi[i] = (VkDescriptorBufferInfo){gpu->blocks[t->block].buffer, aligned, range};
        w[i] = (VkWriteDescriptorSet){
            .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
            .dstBinding = (uint32_t)i,
            .descriptorCount = 1,
            .descriptorType = uniform ? VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
            .pBufferInfo = &bi[i],
        };
    }
    memcpy(pc + RV_PC_BINDINGS, push, push_bytes);

    track(cmd, bindings, nbind, rv_uniform_bindings(d->spec) | rv_texel_bindings(d->spec));
    vkCmdBindPipeline(cmd->cb, VK_PIPELINE_BIND_POINT_COMPUTE, p->pipeline);
    if (gpu->info.push_descriptor) {
        vkCmdPushDescriptorSetKHR(cmd->cb, VK_PIPELINE_BIND_POINT_COMPUTE, p->layout, 0, (uint32_t)nbind, w);
    } else {
        VkDescriptorSetAllocateInfo ai = {
            .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
            .descriptorPool = cmd->desc_pool,
            .descriptorSetCount = 1,
            .pSetLayouts = &p->set_layout,
        };
        VkDescriptorSet set;
        VkResult r = vkAllocateDescriptorSets(gpu->device, &ai, &set);
        if (r != VK_SUCCESS) {
            rv_error_set(&gpu->err, rv_vk_status(r), "VK: vkAllocateDescriptorSets for %s failed: %s (over %d dispatches?)",
                         d->name, rv_vk_result_name(r), RV_DESC_SETS_PER_CMD);
            return;
        }
        for (int i = 0; i < nbind; i++)
            w[i].dstSet = set;
        vkUpdateDescriptorSets(gpu->device, (uint32_t)nbind, w, 0, NULL);
        vkCmdBindDescriptorSets(cmd->cb, VK_PIPELINE_BIND_POINT_COMPUTE, p->layout, 0, 1, &set, 0, NULL);
    }
    vkCmdPushConstants(cmd->cb, p->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, 4 * RV_PC_BINDINGS + push_bytes, pc);
    vkCmdDispatch(cmd->cb, gx, gy, gz);
    cmd->dispatches++;
    if (cmd->op_queries && cmd->nops < RV_MAX_OP_TIMES) {
        vkCmdWriteTimestamp(cmd->cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, cmd->op_queries, (uint32_t)cmd->nops + 1);
        if (cmd->op_list) {
            uint32_t *sh = cmd->op_shape[cmd->nops];
            sh[0] = gx, sh[1] = gy, sh[2] = gz;
            for (int j = 0; j < 3; j++)
                sh[3 + j] = push_bytes >= 4u * (uint32_t)(j + 1) ? ((const uint32_t *)push)[j] : 0;
        }
        cmd->op_pipe[cmd->nops++] = (uint16_t)pipeline;
    }
}
