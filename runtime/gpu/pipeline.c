/* Compute pipelines: the table of shader variants, tile sizes chosen per
 * device as specialization constants, and creation (once, on first use or
 * all at once by rv_gpu_warm_pipelines). Not the op semantics: see ops.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rv_pc.h"
#include "rv_shader_table.h"
#include "vk_internal.h"

#define RV_PIPE_ROW(id, name, nb, pc, spec) {#id, name, nb, sizeof(struct pc), spec},
const rv_pipeline_desc rv_pipeline_table[] = {RV_PIPELINE_LIST(RV_PIPE_ROW)};
#undef RV_PIPE_ROW
_Static_assert(sizeof(rv_pipeline_table) / sizeof(rv_pipeline_table[0]) == RV_PIPELINE_COUNT,
               "pipeline table out of step with the enum");

/* One class's tiles, then its tuning knob (VAR=BM,BN,BK,TM,TN, ignored
 * unless consistent: TM, TN multiples of 4 dividing BM, BN). */
static void gemm_tiles(rv_gemm_tiles *g, unsigned bm, unsigned bn, unsigned bk, unsigned tm, unsigned tn,
                       const char *var)
{
    *g = (rv_gemm_tiles){.bm = bm, .bn = bn, .bk = bk, .tm = tm, .tn = tn};
    const char *ov = getenv(var);
    unsigned v[5];
    if (ov && sscanf(ov, "%u,%u,%u,%u,%u", &v[0], &v[1], &v[2], &v[3], &v[4]) == 5 && v[2] && v[3] % 4 == 0 && v[3] &&
        v[4] % 4 == 0 && v[4] && v[0] % v[3] == 0 && v[1] % v[4] == 0 && v[0] <= 256 && v[1] <= 256 && v[2] <= 64)
        *g = (rv_gemm_tiles){.bm = v[0], .bn = v[1], .bk = v[2], .tm = v[3], .tn = v[4]};
    g->wg = (g->bm / g->tm) * (g->bn / g->tn);
}

/* A tuning knob from the environment: an integer in [lo, hi], else def. */
static unsigned env_uint(const char *name, unsigned def, unsigned lo, unsigned hi)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return def;
    char *end;
    unsigned long n = strtoul(v, &end, 10);
    return *end == '\0' && n >= lo && n <= hi ? (unsigned)n : def;
}

void rv_tiles_choose(rv_gpu *gpu)
{
    rv_tiles *t = &gpu->tiles;
    bool cpu = strcmp(gpu->info.type, "cpu") == 0;
    t->elem_wg = cpu ? 128 : 256;
    t->reduce_wg = 256;
    /* wide: measured on lavapipe (2 cores), 8x8 per invocation beats 4x4 by ~25% */
    bool big = !cpu && gpu->info.max_shared_bytes >= 32768 && gpu->info.max_wg_invocations >= 256;
    gemm_tiles(&t->gemm[RV_GEMM_WIDE], big ? 128 : 64, big ? 128 : 64, 16, 8, 8, "RV_GEMM_TILES");
    /* Narrow outputs would mostly compute padding in wide tiles. M <= 16 (a
     * TAESD decoder's 16- and 3-channel convs at full size, a time-embedding
     * MLP): on lavapipe a 16->16 3x3 conv at 256x256 takes 123 ms in 16x64
     * tiles (4x4 per invocation), 349 ms in 64x64 ones. M <= 32: a 32->32
     * 3x3 conv at 32x32 takes 6.0 ms in 32x64 tiles, 12.3 ms in 64x64 ones. */
    gemm_tiles(&t->gemm[RV_GEMM_NARROW], 16, 64, 16, 4, 4, "RV_GEMMN_TILES");
    gemm_tiles(&t->gemm[RV_GEMM_MEDIUM], 32, 64, 16, 4, 4, "RV_GEMMM_TILES");
    /* attention tiles: Q, K, V tiles and the score tile must fit in shared memory */
    t->attn_dmax[0] = 64;
    t->attn_dmax[1] = 160;
    t->attn_br[0] = 32;
    t->attn_bc[0] = 32;
    t->attn_br[1] = 16;
    t->attn_bc[1] = 16;
    for (int i = 0; i < 2; i++)
        t->attn_wg[i] = t->attn_br[i] * 4;

    /* Direct convolution (dconv.comp) for few output channels. On lavapipe
     * (2 cores, fp16, A/B against the GEMM tiles in one session): a 16->3
     * 3x3 conv at 256x256 145 -> 31 ms, 16->16 at 256x256 137 -> 68 ms,
     * 32->32 at 32x32 7.3 -> 3.4 ms, 64->64 at 16x16 5.4 -> 2.6 ms; but
     * 128->128 at 8x8 4.2 -> 7.1 ms (64 pixels: too few invocations). Linear
     * layers as 1x1 convs over their tokens too (256 tokens 64 -> 512:
     * 4.3 -> 3.0 ms, 64 tokens 128 -> 128: 0.56 -> 0.46 ms). On GPUs only
     * the RGB output conv goes direct, where a GEMM tile would be 3/16
     * useful. RV_DCONV_MAX_COUT overrides the limit (0: never), RV_DLINEAR=0/1
     * the linear layers. */
    /* RV_DIRECT=0: none of the direct kernels (every op on its tiled path) */
    const char *direct = getenv("RV_DIRECT");
    const bool none = direct && strcmp(direct, "0") == 0;
    t->dconv_max_cout = none ? 0 : cpu ? 64 : 4;
    const char *dv = getenv("RV_DCONV_MAX_COUT");
    if (dv && *dv) {
        char *end;
        unsigned long v = strtoul(dv, &end, 10);
        if (!*end && v <= 4096 && !none)
            t->dconv_max_cout = (unsigned)v;
    }
    t->dconv_cot = t->dconv_max_cout <= 8 ? 8 : 16; /* and 4 for M <= 4 */
    t->dconv_wg = cpu ? 64 : 128;
    const char *dl = getenv("RV_DLINEAR");
    t->dconv_linear = t->dconv_max_cout > 0 && (dl && *dl ? strcmp(dl, "1") == 0 : cpu);
    /* attention as one query row per invocation, K and V in uniform buffers:
     * on CPU devices, where the flash kernel's shared-memory tiles are read
     * lane by lane (RV_DATTN=0/1 overrides) */
    const char *da = getenv("RV_DATTN");
    t->dattn = !none && (da && *da ? strcmp(da, "1") == 0 : cpu);
    t->dattn_wg = 64;
    /* texel-fetch direct convs (tconv.comp) on CPU devices that have RGBA
     * texel buffers (RV_TCONV=0/1 overrides; the shape knobs below are for
     * measuring: runtime/gpu/PERFORMANCE.md has the figures behind the
     * defaults) */
    const char *tv = getenv("RV_TCONV");
    const rv_device_info *di = &gpu->info;
    t->tconv = !none && gpu->texel_views && di->subgroup_shuffle && (tv && *tv ? strcmp(tv, "1") == 0 : cpu);
    /* and the norms, where the workgroup must be exactly one subgroup */
    const char *tn = getenv("RV_TNORM");
    t->tnorm = !none && gpu->texel_views && di->subgroup_arith && di->subgroup_size >= 4 &&
               di->subgroup_min == di->subgroup_size && di->subgroup_max == di->subgroup_size &&
               (tn && *tn ? strcmp(tn, "1") == 0 : cpu);
    t->tnorm_wg = di->subgroup_size;
    const char *ta = getenv("RV_TATTN");
    t->tattn = t->tnorm && (ta && *ta ? strcmp(ta, "1") == 0 : true);
    t->tattn_qb = env_uint("RV_TATTN_QB", 4, 1, 16);       /* query rows per workgroup */
    /* a conv of a 2x-upsampled input read before upsampling (tconvup.comp;
     * RV_TCONVUP=0 upsamples, then convolves) */
    const char *tu = getenv("RV_TCONVUP");
    t->tconvup = t->tconv && !(tu && strcmp(tu, "0") == 0);
    /* a FeedForward's projection and GEGLU in one pass (RV_TLINEARGG=0: two) */
    const char *tg = getenv("RV_TLINEARGG");
    t->tlinear_geglu = t->tconv && !(tg && strcmp(tg, "0") == 0);
    t->tconv_xt = env_uint("RV_TCONV_XT", 2, 1, 4);        /* texels (4 pixels) per invocation */
    t->tconv_wg = env_uint("RV_TCONV_WG", 8, 1, 256);      /* invocations per workgroup */
    /* weights shuffled across each subgroup (RV_TCONV_SG=0: every lane fetches them) */
    t->tconv_sg = env_uint("RV_TCONV_SG", 1, 0, 1) && di->subgroup_size >= 4 &&
                          di->subgroup_min == di->subgroup_size && di->subgroup_max == di->subgroup_size &&
                          t->tconv_wg % di->subgroup_size == 0
                      ? di->subgroup_size
                      : 0;
    t->tconv_cot = env_uint("RV_TCONV_COT", t->tconv_sg ? 16 : 8, 1, 64); /* output channels per invocation */
    t->tconvup_cot = env_uint("RV_TCONVUP_COT", t->tconv_sg ? 8 : 4, 1, 64); /* tconvup.comp: output channels per invocation */
    t->tlinear_sg = env_uint("RV_TLINEAR_SG", 1, 0, 1) ? t->tconv_sg : 0;  /* the same for tlinear.comp */
    t->tlinear_tok = env_uint("RV_TLINEAR_TOK", 8, 1, 16); /* tokens per invocation */
    t->tlinear_cot = env_uint("RV_TLINEAR_COT", t->tlinear_sg ? 16 : 8, 1, 64); /* outputs per invocation */
    uint64_t window = gpu->info.max_uniform_range < RV_UNIFORM_WINDOW ? gpu->info.max_uniform_range : RV_UNIFORM_WINDOW;
    const char *wv = getenv("RV_UNIFORM_WINDOW"); /* smaller, for tests: more splits and fallbacks */
    if (wv && *wv) {
        unsigned long v = strtoul(wv, NULL, 10);
        if (v >= 256 && v < window)
            window = v;
    }
    t->dconv_window = (unsigned)(window / 16u * 16u);

    if (gpu->info.max_wg_invocations < t->gemm[RV_GEMM_WIDE].wg)
        gemm_tiles(&t->gemm[RV_GEMM_WIDE], 32, 32, 16, 4, 4, "");
}

bool rv_gpu_direct_attention(const rv_gpu *gpu, uint64_t kv_bytes)
{
    return gpu->tiles.dattn && kv_bytes + gpu->uniform_align <= gpu->tiles.dconv_window;
}

/* Shared-memory bytes a variant needs with the chosen tiles. */
static uint32_t shared_bytes(const rv_tiles *t, int spec)
{
    switch (spec) {
    case RV_SPEC_GEMM:
    case RV_SPEC_GEMM_NARROW:
    case RV_SPEC_GEMM_MEDIUM: {
        const rv_gemm_tiles *g = &t->gemm[rv_gemm_class_of_spec(spec)];
        return 4u * g->bk * (g->bm + g->bn);
    }
    case RV_SPEC_ATTN64:
    case RV_SPEC_ATTN160: {
        int i = spec == RV_SPEC_ATTN160;
        return 4u * (t->attn_br[i] * t->attn_dmax[i] + 2u * t->attn_bc[i] * t->attn_dmax[i] +
                     t->attn_br[i] * t->attn_bc[i] + 2u * t->attn_br[i]);
    }
    case RV_SPEC_REDUCE: return 4u * t->reduce_wg * 2u;
    default: return 0;
    }
}

static int spec_values(const rv_tiles *t, int spec, uint32_t *v)
{
    switch (spec) {
    case RV_SPEC_GEMM:
    case RV_SPEC_GEMM_NARROW:
    case RV_SPEC_GEMM_MEDIUM: {
        const rv_gemm_tiles *g = &t->gemm[rv_gemm_class_of_spec(spec)];
        v[0] = g->wg; v[1] = g->bm; v[2] = g->bn; v[3] = g->bk; v[4] = g->tm; v[5] = g->tn;
        return 6;
    }
    case RV_SPEC_ATTN64:
    case RV_SPEC_ATTN160: {
        int i = spec == RV_SPEC_ATTN160;
        v[0] = t->attn_wg[i]; v[1] = t->attn_br[i]; v[2] = t->attn_bc[i]; v[3] = t->attn_dmax[i];
        return 4;
    }
    case RV_SPEC_REDUCE: v[0] = t->reduce_wg; return 1;
    case RV_SPEC_DATTN32:
    case RV_SPEC_DATTN64:
        v[0] = t->dattn_wg;
        v[1] = spec == RV_SPEC_DATTN64 ? 64u : 32u;
        v[2] = t->dconv_window / 16u;
        return 3;
    case RV_SPEC_TCONV3:
    case RV_SPEC_TCONV3N:
    case RV_SPEC_TCONV3Q:
    case RV_SPEC_TCONV3QN:
    case RV_SPEC_TCONV3T:
    case RV_SPEC_TCONV3TN:
    case RV_SPEC_TCONV1:
    case RV_SPEC_TCONV1N:
    case RV_SPEC_TCONV3S2:
        v[0] = t->tconv_wg;
        v[1] = spec == RV_SPEC_TCONV3Q || spec == RV_SPEC_TCONV3QN   ? 4u
               : spec == RV_SPEC_TCONV3T || spec == RV_SPEC_TCONV3TN ? 3u
                                                                     : t->tconv_cot;
        v[2] = spec == RV_SPEC_TCONV3 || spec == RV_SPEC_TCONV3Q || spec == RV_SPEC_TCONV3T || spec == RV_SPEC_TCONV1
                   ? t->tconv_xt
                   : 1u;
        v[3] = spec == RV_SPEC_TCONV1 || spec == RV_SPEC_TCONV1N ? 1u : 3u;
        v[4] = spec == RV_SPEC_TCONV3S2 ? 2u : 1u; /* stride */
        v[5] = t->tconv_sg;
        return 6;
    case RV_SPEC_TCONVUP:
        v[0] = t->tconv_wg;
        v[1] = t->tconvup_cot; /* output channels per invocation (16 pixels each) */
        v[2] = t->tconv_sg;
        return 3;
    case RV_SPEC_TNORM: v[0] = t->tnorm_wg; return 1;
    case RV_SPEC_TATTN32:
    case RV_SPEC_TATTN64:
        v[0] = t->tnorm_wg; /* one subgroup */
        v[1] = spec == RV_SPEC_TATTN64 ? 64u : 32u;
        v[2] = t->tattn_qb;
        return 3;
    case RV_SPEC_TLINEAR:
        v[0] = t->tconv_wg;
        v[1] = t->tlinear_cot;
        v[2] = t->tlinear_tok; /* tokens per invocation */
        v[3] = t->tlinear_sg;
        return 4;
    case RV_SPEC_DCONV:
    case RV_SPEC_DCONV4:
        v[0] = t->dconv_wg;
        v[1] = spec == RV_SPEC_DCONV4 ? 4u : t->dconv_cot;
        v[2] = t->dconv_window / 16u;
        return 3;
    default: v[0] = t->elem_wg; return 1;
    }
}

/* Reads <dir>/<name>.spv (development override). */
static rv_status read_spirv_file(const char *dir, const char *name, uint32_t **words, size_t *bytes, rv_error *err)
{
    char path[768];
    snprintf(path, sizeof(path), "%s/%s.spv", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return rv_error_set(err, RV_ERR_PIPELINE, "VK: shader %s: cannot open %s (RV_SHADER_DIR)", name, path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (n < 0 || n > (64l << 20)) {
        fclose(f);
        return rv_error_set(err, RV_ERR_PIPELINE, "VK: shader %s: %s has an unusable size", name, path);
    }
    *words = malloc((size_t)n + 4);
    if (!*words) {
        fclose(f);
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "VK: out of host memory");
    }
    *bytes = fread(*words, 1, (size_t)n, f);
    fclose(f);
    return RV_OK;
}

static rv_status check_spirv(const char *name, const uint32_t *words, size_t bytes, rv_error *err)
{
    if (bytes < 20 || bytes % 4 != 0)
        return rv_error_set(err, RV_ERR_PIPELINE, "VK: shader %s is not SPIR-V: %zu bytes (needs a multiple of 4, >= 20)",
                            name, bytes);
    if (words[0] != 0x07230203u)
        return rv_error_set(err, RV_ERR_PIPELINE, "VK: shader %s is not SPIR-V: magic 0x%08x, expected 0x07230203", name,
                            words[0]);
    if (words[3] == 0 || words[3] > (1u << 22))
        return rv_error_set(err, RV_ERR_PIPELINE, "VK: shader %s is corrupt: id bound %u", name, words[3]);
    return RV_OK;
}

static rv_status create_pipeline(rv_gpu *gpu, int id, rv_pipeline *p, rv_error *err)
{
    const rv_pipeline_desc *d = &rv_pipeline_table[id];
    rv_status st = RV_OK;
    uint32_t *owned = NULL;
    const uint32_t *words = NULL;
    size_t bytes = 0;

    uint32_t spec[8];
    int nspec = spec_values(&gpu->tiles, d->spec, spec);
    uint32_t shared = shared_bytes(&gpu->tiles, d->spec);
    if (spec[0] > gpu->info.max_wg_invocations || shared > gpu->info.max_shared_bytes)
        return rv_error_set(err, RV_ERR_PIPELINE,
                            "VK: pipeline %s needs %u invocations and %u bytes of shared memory; \"%s\" allows %u and %u",
                            d->name, spec[0], shared, gpu->info.name, gpu->info.max_wg_invocations,
                            gpu->info.max_shared_bytes);

    const char *spirv = d->spirv;
    if (d->spec == RV_SPEC_REDUCE && !gpu->info.subgroup_arith)
        return rv_error_set(err, RV_ERR_UNSUPPORTED, "VK: pipeline %s needs subgroup arithmetic, which \"%s\" lacks",
                            d->name, gpu->info.name);
    if (gpu->shader_dir[0]) {
        if ((st = read_spirv_file(gpu->shader_dir, spirv, &owned, &bytes, err)))
            return st;
        words = owned;
    } else {
        for (size_t i = 0; i < rv_spirv_count; i++)
            if (strcmp(rv_spirv_table[i].name, spirv) == 0) {
                words = rv_spirv_table[i].words;
                bytes = rv_spirv_table[i].bytes;
            }
        if (!words)
            return rv_error_set(err, RV_ERR_PIPELINE, "VK: shader %s is not in this build", spirv);
    }
    if ((st = check_spirv(spirv, words, bytes, err)))
        goto fail;

    VkDescriptorSetLayoutBinding b[RV_MAX_BINDINGS];
    for (int i = 0; i < d->bindings; i++)
        b[i] = (VkDescriptorSetLayoutBinding){
            .binding = (uint32_t)i,
            .descriptorType = (rv_texel_bindings(d->spec) >> i) & 1u     ? VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER
                              : (rv_uniform_bindings(d->spec) >> i) & 1u ? VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER
                                                                         : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
            .descriptorCount = 1,
            .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
        };
    VkDescriptorSetLayoutCreateInfo dl = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
        .flags = gpu->info.push_descriptor ? VK_DESCRIPTOR_SET_LAYOUT_CREATE_PUSH_DESCRIPTOR_BIT_KHR : 0,
        .bindingCount = (uint32_t)d->bindings,
        .pBindings = b,
    };
    VK_CHECK_GOTO(vkCreateDescriptorSetLayout(gpu->device, &dl, NULL, &p->set_layout), err, st);
    VkPushConstantRange pcr = {
        .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
        .size = 4 * RV_PC_BINDINGS + d->push_bytes,
    };
    VkPipelineLayoutCreateInfo pl = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
        .setLayoutCount = 1,
        .pSetLayouts = &p->set_layout,
        .pushConstantRangeCount = 1,
        .pPushConstantRanges = &pcr,
    };
    VK_CHECK_GOTO(vkCreatePipelineLayout(gpu->device, &pl, NULL, &p->layout), err, st);
    VkShaderModuleCreateInfo smci = {
        .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
        .codeSize = bytes,
        .pCode = words,
    };
    VkResult r = vkCreateShaderModule(gpu->device, &smci, NULL, &p->module);
    if (r != VK_SUCCESS) {
        st = rv_error_set(err, RV_ERR_PIPELINE, "VK: vkCreateShaderModule(%s) failed: %s (%s:%d)", spirv,
                          rv_vk_result_name(r), __FILE__, __LINE__);
        goto fail;
    }
    VkSpecializationMapEntry me[8];
    for (int i = 0; i < nspec; i++)
        me[i] = (VkSpecializationMapEntry){.constantID = (uint32_t)i, .offset = 4u * (uint32_t)i, .size = 4};
    VkSpecializationInfo si = {
        .mapEntryCount = (uint32_t)nspec,
        .pMapEntries = me,
        .dataSize = 4u * (uint32_t)nspec,
        .pData = spec,
    };
    VkComputePipelineCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {
            .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
            .stage = VK_SHADER_STAGE_COMPUTE_BIT,
            .module = p->module,
            .pName = "main",
            .pSpecializationInfo = &si,
        },
        .layout = p->layout,
    };
    r = vkCreateComputePipelines(gpu->device, gpu->pcache, 1, &ci, NULL, &p->pipeline);
    if (r != VK_SUCCESS) {
        st = rv_error_set(err, RV_ERR_PIPELINE, "VK: vkCreateComputePipelines(%s) failed: %s (%s:%d)", d->name,
                          rv_vk_result_name(r), __FILE__, __LINE__);
        goto fail;
    }
    p->ready = true;
    gpu->pcache_info.created++;
    free(owned);
    return RV_OK;
fail:
    free(owned);
    return st;
}

static void destroy_pipeline(rv_gpu *gpu, rv_pipeline *p)
{
    if (p->pipeline)
        vkDestroyPipeline(gpu->device, p->pipeline, NULL);
    if (p->module)
        vkDestroyShaderModule(gpu->device, p->module, NULL);
    if (p->layout)
        vkDestroyPipelineLayout(gpu->device, p->layout, NULL);
    if (p->set_layout)
        vkDestroyDescriptorSetLayout(gpu->device, p->set_layout, NULL);
    memset(p, 0, sizeof(*p));
}

rv_status rv_pipeline_get(rv_gpu *gpu, int id, rv_pipeline **out, rv_error *err)
{
    rv_pipeline *p = &gpu->pipelines[id];
    if (!p->ready) {
        rv_status st = create_pipeline(gpu, id, p, err);
        if (st) {
            destroy_pipeline(gpu, p);
            return st;
        }
    }
    *out = p;
    return RV_OK;
}

rv_status rv_gpu_warm_pipelines(rv_gpu *gpu, rv_error *err)
{
    for (int i = 0; i < RV_PIPELINE_COUNT; i++) {
        rv_pipeline *p;
        rv_status st = rv_pipeline_get(gpu, i, &p, err);
        if (st)
            return st;
    }
    return RV_OK;
}

void rv_pipelines_destroy(rv_gpu *gpu)
{
    for (int i = 0; i < RV_PIPELINE_COUNT; i++)
        destroy_pipeline(gpu, &gpu->pipelines[i]);
}

/* ---- the pipeline cache ----
 * One file per (driver's pipelineCacheUUID and version, this build's
 * shaders): a new driver or new shaders get a new file, so no stale blob is
 * ever handed to the driver (which would check its own header anyway). The
 * file is written through a temporary name and renamed. A cache that cannot
 * be read or written is skipped silently: it only saves time. */

static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
    const uint8_t *b = data;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

void rv_pipeline_cache_open(rv_gpu *gpu, const char *dir, const uint8_t uuid[16], uint32_t driver_version)
{
    uint64_t h = 0xcbf29ce484222325ull;
    h = fnv1a(h, uuid, 16);
    h = fnv1a(h, &driver_version, sizeof(driver_version));
    for (size_t i = 0; i < rv_spirv_count; i++) {
        h = fnv1a(h, rv_spirv_table[i].name, strlen(rv_spirv_table[i].name));
        h = fnv1a(h, rv_spirv_table[i].words, rv_spirv_table[i].bytes);
    }
    if (gpu->shader_dir[0]) /* shaders from disk: a development cache of its own */
        h = fnv1a(h, gpu->shader_dir, strlen(gpu->shader_dir));
    mkdir(dir, 0755); /* one level, like XDG's reverie/ under ~/.cache */
    snprintf(gpu->pcache_info.path, sizeof(gpu->pcache_info.path), "%s/pipelines-%04x-%04x-%016llx.bin",
             dir, gpu->info.vendor_id, gpu->info.device_id, (unsigned long long)h);
    void *data = NULL;
    size_t size = 0;
    FILE *f = fopen(gpu->pcache_info.path, "rb");
    if (f) {
        if (fseek(f, 0, SEEK_END) == 0) {
            long n = ftell(f);
            if (n > 0 && n < (64l << 20) && fseek(f, 0, SEEK_SET) == 0 && (data = malloc((size_t)n)) &&
                fread(data, 1, (size_t)n, f) == (size_t)n)
                size = (size_t)n;
        }
        fclose(f);
    }
    VkPipelineCacheCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
        .initialDataSize = size,
        .pInitialData = size ? data : NULL,
    };
    /* the header's own check: its UUID must be this device's */
    if (size >= 32) {
        const uint8_t *b = data;
        if (memcmp(b + 16, uuid, 16) != 0) {
            ci.initialDataSize = 0;
            ci.pInitialData = NULL;
            size = 0;
        }
    } else {
        ci.initialDataSize = 0;
        ci.pInitialData = NULL;
        size = 0;
    }
    if (vkCreatePipelineCache(gpu->device, &ci, NULL, &gpu->pcache) != VK_SUCCESS) {
        gpu->pcache = VK_NULL_HANDLE;
        gpu->pcache_info.path[0] = 0;
    } else {
        gpu->pcache_info.loaded_bytes = size;
    }
    free(data);
}

void rv_pipeline_cache_close(rv_gpu *gpu)
{
    if (!gpu->pcache)
        return;
    size_t size = 0;
    void *data = NULL;
    if (gpu->pcache_info.created > 0 && vkGetPipelineCacheData(gpu->device, gpu->pcache, &size, NULL) == VK_SUCCESS &&
        size > 0 && (data = malloc(size)) &&
        vkGetPipelineCacheData(gpu->device, gpu->pcache, &size, data) == VK_SUCCESS) {
        char tmp[700];
        snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", gpu->pcache_info.path, (long)getpid());
        FILE *f = fopen(tmp, "wb");
        bool ok = f && fwrite(data, 1, size, f) == size;
        if (f && fclose(f) != 0)
            ok = false;
        if (ok && rename(tmp, gpu->pcache_info.path) == 0)
            gpu->pcache_info.saved_bytes = size;
        else
            remove(tmp);
    }
    free(data);
    vkDestroyPipelineCache(gpu->device, gpu->pcache, NULL);
    gpu->pcache = VK_NULL_HANDLE;
}

void rv_gpu_pipeline_cache(const rv_gpu *gpu, rv_pipeline_cache_info *out) { *out = gpu->pcache_info; }
