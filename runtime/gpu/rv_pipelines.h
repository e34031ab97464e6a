/* The compute pipelines, one row per shader variant: id, SPIR-V name, number
 * of bindings, push-constant struct, and the family that picks its
 * specialization constants (tile sizes) for the device. */
#ifndef RV_PIPELINES_H
#define RV_PIPELINES_H

#define RV_PIPELINE_LIST(X) \
    X(GEMM_F32,      "gemm_f32",      5, rv_pc_gemm,     RV_SPEC_GEMM) \
    X(GEMM_F16,      "gemm_f16",      5, rv_pc_gemm,     RV_SPEC_GEMM) \
    X(CONV_F32,      "conv_f32",      5, rv_pc_gemm,     RV_SPEC_GEMM) \
    X(CONV_F16,      "conv_f16",      5, rv_pc_gemm,     RV_SPEC_GEMM) \
    X(GEMMN_F32,     "gemm_f32",      5, rv_pc_gemm,     RV_SPEC_GEMM_NARROW) \
    X(GEMMN_F16,     "gemm_f16",      5, rv_pc_gemm,     RV_SPEC_GEMM_NARROW) \
    X(CONVN_F32,     "conv_f32",      5, rv_pc_gemm,     RV_SPEC_GEMM_NARROW) \
    X(CONVN_F16,     "conv_f16",      5, rv_pc_gemm,     RV_SPEC_GEMM_NARROW) \
    X(GEMMM_F32,     "gemm_f32",      5, rv_pc_gemm,     RV_SPEC_GEMM_MEDIUM) \
    X(GEMMM_F16,     "gemm_f16",      5, rv_pc_gemm,     RV_SPEC_GEMM_MEDIUM) \
    X(CONVM_F32,     "conv_f32",      5, rv_pc_gemm,     RV_SPEC_GEMM_MEDIUM) \
    X(CONVM_F16,     "conv_f16",      5, rv_pc_gemm,     RV_SPEC_GEMM_MEDIUM) \
    X(DCONV_F32,     "dconv_f32",     5, rv_pc_gemm,     RV_SPEC_DCONV) \
    X(DCONV_F16,     "dconv_f16",     5, rv_pc_gemm,     RV_SPEC_DCONV) \
    X(DCONV4_F32,    "dconv_f32",     5, rv_pc_gemm,     RV_SPEC_DCONV4) \
    X(DCONV4_F16,    "dconv_f16",     5, rv_pc_gemm,     RV_SPEC_DCONV4) \
    X(TCONV3_F32,    "tconv_f32",     5, rv_pc_gemm,     RV_SPEC_TCONV3) \
    X(TCONV3_F16,    "tconv_f16",     5, rv_pc_gemm,     RV_SPEC_TCONV3) \
    X(TCONV3N_F32,   "tconv_f32",     5, rv_pc_gemm,     RV_SPEC_TCONV3N) \
    X(TCONV3N_F16,   "tconv_f16",     5, rv_pc_gemm,     RV_SPEC_TCONV3N) \
    X(TCONV3Q_F32,   "tconv_f32",     5, rv_pc_gemm,     RV_SPEC_TCONV3Q) \
    X(TCONV3Q_F16,   "tconv_f16",     5, rv_pc_gemm,     RV_SPEC_TCONV3Q) \
    X(TCONV3QN_F32,  "tconv_f32",     5, rv_pc_gemm,     RV_SPEC_TCONV3QN) \
    X(TCONV3QN_F16,  "tconv_f16",     5, rv_pc_gemm,     RV_SPEC_TCONV3QN) \
    X(TCONV3T_F32,   "tconv_f32",     5, rv_pc_gemm,     RV_SPEC_TCONV3T) \
    X(TCONV3T_F16,   "tconv_f16",     5, rv_pc_gemm,     RV_SPEC_TCONV3T) \
    X(TCONV3TN_F32,  "tconv_f32",     5, rv_pc_gemm,     RV_SPEC_TCONV3TN) \
    X(TCONV3TN_F16,  "tconv_f16",     5, rv_pc_gemm,     RV_SPEC_TCONV3TN) \
    X(TCONV3S2_F32,  "tconv_f32",     5, rv_pc_gemm,     RV_SPEC_TCONV3S2) \
    X(TCONV3S2_F16,  "tconv_f16",     5, rv_pc_gemm,     RV_SPEC_TCONV3S2) \
    X(TCONVUP_F32,   "tconvup_f32",   5, rv_pc_gemm,     RV_SPEC_TCONVUP) \
    X(TCONVUP_F16,   "tconvup_f16",   5, rv_pc_gemm,     RV_SPEC_TCONVUP) \
    X(TCONV1_F32,    "tconv_f32",     5, rv_pc_gemm,     RV_SPEC_TCONV1) \
    X(TCONV1_F16,    "tconv_f16",     5, rv_pc_gemm,     RV_SPEC_TCONV1) \
    X(TCONV1N_F32,   "tconv_f32",     5, rv_pc_gemm,     RV_SPEC_TCONV1N) \
    X(TCONV1N_F16,   "tconv_f16",     5, rv_pc_gemm,     RV_SPEC_TCONV1N) \
    X(TNORM_F32,     "tnorm_f32",     4, rv_pc_norm,     RV_SPEC_TNORM) \
    X(TNORM_F16,     "tnorm_f16",     4, rv_pc_norm,     RV_SPEC_TNORM) \
    X(TLINEAR_F32,   "tlinear_f32",   5, rv_pc_gemm,     RV_SPEC_TLINEAR) \
    X(TLINEAR_F16,   "tlinear_f16",   5, rv_pc_gemm,     RV_SPEC_TLINEAR) \
    X(TLINEARGG_F32, "tlineargg_f32", 5, rv_pc_gemm,     RV_SPEC_TLINEAR) \
    X(TLINEARGG_F16, "tlineargg_f16", 5, rv_pc_gemm,     RV_SPEC_TLINEAR) \
    X(TATTN32_F32,   "tattn_f32",     4, rv_pc_attn,     RV_SPEC_TATTN32) \
    X(TATTN32_F16,   "tattn_f16",     4, rv_pc_attn,     RV_SPEC_TATTN32) \
    X(TATTN64_F32,   "tattn_f32",     4, rv_pc_attn,     RV_SPEC_TATTN64) \
    X(TATTN64_F16,   "tattn_f16",     4, rv_pc_attn,     RV_SPEC_TATTN64) \
    X(DATTN32_F32,   "dattn_f32",     4, rv_pc_attn,     RV_SPEC_DATTN32) \
    X(DATTN32_F16,   "dattn_f16",     4, rv_pc_attn,     RV_SPEC_DATTN32) \
    X(DATTN64_F32,   "dattn_f32",     4, rv_pc_attn,     RV_SPEC_DATTN64) \
    X(DATTN64_F16,   "dattn_f16",     4, rv_pc_attn,     RV_SPEC_DATTN64) \
    X(ATTN64_F32,    "attn_f32",      4, rv_pc_attn,     RV_SPEC_ATTN64) \
    X(ATTN64_F16,    "attn_f16",      4, rv_pc_attn,     RV_SPEC_ATTN64) \
    X(ATTN160_F32,   "attn_f32",      4, rv_pc_attn,     RV_SPEC_ATTN160) \
    X(ATTN160_F16,   "attn_f16",      4, rv_pc_attn,     RV_SPEC_ATTN160) \
    X(NORM_F32,      "norm_f32",      4, rv_pc_norm,     RV_SPEC_REDUCE) \
    X(NORM_F16,      "norm_f16",      4, rv_pc_norm,     RV_SPEC_REDUCE) \
    X(UNARY_F32,     "unary_f32",     2, rv_pc_unary,    RV_SPEC_ELEM) \
    X(UNARY_F16,     "unary_f16",     2, rv_pc_unary,    RV_SPEC_ELEM) \
    X(BINARY_F32,    "binary_f32",    3, rv_pc_binary,   RV_SPEC_ELEM) \
    X(BINARY_F16,    "binary_f16",    3, rv_pc_binary,   RV_SPEC_ELEM) \
    X(GEGLU_F32,     "geglu_f32",     2, rv_pc_geglu,    RV_SPEC_ELEM) \
    X(GEGLU_F16,     "geglu_f16",     2, rv_pc_geglu,    RV_SPEC_ELEM) \
    X(UPSAMPLE_F32,  "upsample_f32",  2, rv_pc_upsample, RV_SPEC_ELEM) \
    X(UPSAMPLE_F16,  "upsample_f16",  2, rv_pc_upsample, RV_SPEC_ELEM) \
    X(CONCAT_F32,    "concat_f32",    3, rv_pc_concat,   RV_SPEC_ELEM) \
    X(CONCAT_F16,    "concat_f16",    3, rv_pc_concat,   RV_SPEC_ELEM) \
    X(TEMB_F32,      "temb_f32",      2, rv_pc_temb,     RV_SPEC_ELEM) \
    X(TEMB_F16,      "temb_f16",      2, rv_pc_temb,     RV_SPEC_ELEM) \
    X(RGBA_F32,      "rgba_f32",      2, rv_pc_rgba,     RV_SPEC_ELEM) \
    X(RGBA_F16,      "rgba_f16",      2, rv_pc_rgba,     RV_SPEC_ELEM) \
    X(RGBAT_F32,     "rgbat_f32",     2, rv_pc_rgba,     RV_SPEC_ELEM_T) \
    X(UPSAMPLET_F32, "upsamplet_f32", 2, rv_pc_upsample, RV_SPEC_ELEM_T) \
    X(UNARYT_F32,    "unaryt_f32",    2, rv_pc_unary,    RV_SPEC_ELEM_T) \
    X(UNARYT_F16,    "unaryt_f16",    2, rv_pc_unary,    RV_SPEC_ELEM_T) \
    X(GEGLUT_F32,    "geglut_f32",    2, rv_pc_geglu,    RV_SPEC_ELEM_T) \
    X(GEGLUT_F16,    "geglut_f16",    2, rv_pc_geglu,    RV_SPEC_ELEM_T) \
    X(CONCATT_F32,   "concatt_f32",   3, rv_pc_concat,   RV_SPEC_ELEM_T2) \
    X(CONCATT_F16,   "concatt_f16",   3, rv_pc_concat,   RV_SPEC_ELEM_T2) \
    X(BINARYT_F32,   "binaryt_f32",   3, rv_pc_binary,   RV_SPEC_ELEM_T2) \
    X(BINARYT_F16,   "binaryt_f16",   3, rv_pc_binary,   RV_SPEC_ELEM_T2) \
    X(BINARYTR_F32,  "binarytr_f32",  3, rv_pc_binary,   RV_SPEC_ELEM_T) \
    X(FINITET_F32,   "finitet_f32",   2, rv_pc_finite,   RV_SPEC_ELEM_T) \
    X(FINITET_F16,   "finitet_f16",   2, rv_pc_finite,   RV_SPEC_ELEM_T) \
    X(BINARYTR_F16,  "binarytr_f16",  3, rv_pc_binary,   RV_SPEC_ELEM_T) \
    X(UPSAMPLET_F16, "upsamplet_f16", 2, rv_pc_upsample, RV_SPEC_ELEM_T) \
    X(RGBAT_F16,     "rgbat_f16",     2, rv_pc_rgba,     RV_SPEC_ELEM_T) \
    X(EMBED_F32,     "embed_f32",     3, rv_pc_embed,    RV_SPEC_ELEM) \
    X(EMBED_F16,     "embed_f16",     3, rv_pc_embed,    RV_SPEC_ELEM) \
    X(RESIZE_F32,    "resize_f32",    2, rv_pc_resize,   RV_SPEC_ELEM) \
    X(RESIZE_F16,    "resize_f16",    2, rv_pc_resize,   RV_SPEC_ELEM) \
    X(PAD_F32,       "pad_f32",       2, rv_pc_pad,      RV_SPEC_ELEM) \
    X(PAD_F16,       "pad_f16",       2, rv_pc_pad,      RV_SPEC_ELEM) \
    X(SOFTMAX_F32,   "softmax_f32",   2, rv_pc_softmax,  RV_SPEC_REDUCE) \
    X(SOFTMAX_F16,   "softmax_f16",   2, rv_pc_softmax,  RV_SPEC_REDUCE) \
    X(WARP_F32,      "warp_f32",      2, rv_pc_warp,     RV_SPEC_ELEM) \
    X(WARP_F16,      "warp_f16",      2, rv_pc_warp,     RV_SPEC_ELEM) \
    X(FINITE_F32,    "finite_f32",    2, rv_pc_finite,   RV_SPEC_ELEM) \
    X(FINITE_F16,    "finite_f16",    2, rv_pc_finite,   RV_SPEC_ELEM)

enum rv_spec_family {
    RV_SPEC_ELEM,
    RV_SPEC_ELEM_T,      /* an elementwise kernel reading binding 0 as RGBA texels (CPU devices) */
    RV_SPEC_ELEM_T2,     /* and bindings 0 and 1 */
    RV_SPEC_REDUCE,
    RV_SPEC_GEMM,        /* GEMM/conv tiles for wide outputs */
    RV_SPEC_GEMM_NARROW, /* the same shaders with tiles for M <= 16 (narrow convs, few rows) */
    RV_SPEC_GEMM_MEDIUM, /* and for M <= 32 */
    RV_SPEC_DCONV,       /* direct convolution: workgroup size, output channels per row */
    RV_SPEC_DCONV4,      /* the same with 4 output channels per row (M <= 4: an RGB output) */
    RV_SPEC_TCONV3,      /* texel-fetch direct conv (tconv.comp) for CPU devices: 3x3, 8 pixels per invocation */
    RV_SPEC_TCONV3N,     /* 3x3, 4 pixels per invocation (rows of 4k+... pixels not a multiple of 8) */
    RV_SPEC_TCONV3Q,     /* 3x3, 8 pixels and 4 output channels per invocation (M <= 4: an RGB output) */
    RV_SPEC_TCONV3QN,    /* 3x3, 4 pixels and 4 output channels */
    RV_SPEC_TCONV3T,     /* 3x3, 8 pixels and 3 output channels per invocation (M == 3: an RGB output) */
    RV_SPEC_TCONV3TN,    /* 3x3, 4 pixels and 3 output channels */
    RV_SPEC_TCONV3S2,    /* 3x3 with stride 2, 4 output pixels per invocation */
    RV_SPEC_TCONVUP,     /* 3x3 of a 2x-upsampled input, read before upsampling (tconvup.comp) */
    RV_SPEC_TCONV1,      /* 1x1, 8 pixels per invocation */
    RV_SPEC_TCONV1N,     /* 1x1, 4 pixels per invocation */
    RV_SPEC_TLINEAR,     /* texel-fetch linear layer (tlinear.comp) for CPU devices */
    RV_SPEC_TNORM,       /* texel-fetch group/layer norm (tnorm.comp): one subgroup per segment */
    RV_SPEC_TATTN32,     /* texel-fetch attention (tattn.comp), lanes split the keys: heads of 32 */
    RV_SPEC_TATTN64,     /* and 64 */
    RV_SPEC_DATTN32,     /* direct attention (dattn.comp), heads of width 32 */
    RV_SPEC_DATTN64,     /* and 64 */
    RV_SPEC_ATTN64,
    RV_SPEC_ATTN160,
};

#define RV_PIPE_ENUM(id, name, nb, pc, spec) RV_PIPE_##id,
enum rv_pipeline_id { RV_PIPELINE_LIST(RV_PIPE_ENUM) RV_PIPELINE_COUNT };
#undef RV_PIPE_ENUM

typedef struct rv_pipeline_desc {
    const char *name;
    const char *spirv;
    int bindings;
    unsigned push_bytes;
    int spec;
} rv_pipeline_desc;

extern const rv_pipeline_desc rv_pipeline_table[];

/* GEMM/conv tiles of one size class: workgroup size, the output tile
 * BM x BN, the K step BK, and TM x TN outputs per invocation. */
typedef struct rv_gemm_tiles {
    unsigned wg, bm, bn, bk, tm, tn;
} rv_gemm_tiles;

/* Size classes by output height M (conv: output channels): a class serves
 * M <= its bm; the last serves the rest. */
enum { RV_GEMM_NARROW, RV_GEMM_MEDIUM, RV_GEMM_WIDE, RV_GEMM_CLASSES };

/* Tile sizes chosen for a device (filled by pipeline.c; ops read them to
 * size their dispatch grids). */
typedef struct rv_tiles {
    unsigned elem_wg, reduce_wg;
    rv_gemm_tiles gemm[RV_GEMM_CLASSES]; /* by output height M: narrow, medium, wide */
    unsigned attn_br[2], attn_bc[2], attn_dmax[2], attn_wg[2];
    /* convolutions with at most dconv_max_cout outputs run direct (dconv.comp),
     * dconv_cot output channels per workgroup row, dconv_wg pixels per workgroup */
    unsigned dconv_max_cout, dconv_cot, dconv_wg;
    unsigned dconv_window; /* bytes of the weights' uniform-buffer window */
    bool dconv_linear;     /* linear layers (weight-times-rows GEMMs) run direct too */
    bool dattn;            /* attention with heads of 32 or 64 runs direct (dattn.comp) when K, V fit */
    /* stride-1 3x3 and 1x1 convs over rows of 4k pixels run on tconv.comp
     * (input and weights read as RGBA texels), tconv_cot output channels
     * per invocation, tconv_wg invocations per workgroup */
    bool tconv;
    bool tconvup; /* and convs of 2x-upsampled inputs on tconvup.comp */
    bool tlinear_geglu; /* and a FeedForward's projection + GEGLU on tlinear.comp (RV_GEGLU) */
    unsigned tconv_cot, tconv_wg, tconv_xt, tlinear_tok, tlinear_cot;
    unsigned tconv_sg; /* tconv.comp shuffles its weights across subgroups of this many lanes (0: each lane fetches them) */
    unsigned tlinear_sg; /* and tlinear.comp */
    unsigned tconvup_cot; /* tconvup.comp's output channels per invocation */
    /* group and layer norms on tnorm.comp (texel reads, a workgroup of one
     * subgroup of tnorm_wg lanes per segment) */
    bool tnorm;
    unsigned tnorm_wg;
    /* non-causal attention with heads of 32 or 64 on tattn.comp (texel reads,
     * a subgroup per tattn_qb query rows, lanes splitting the keys) */
    bool tattn;
    unsigned tattn_qb;
    unsigned dattn_wg;
} rv_tiles;

/* Bindings a spec family reads as uniform buffers (bit i: binding i); the
 * rest are storage buffers. A direct conv reads its weights through a
 * uniform buffer: on lavapipe a load at a uniform address is one scalar
 * load there, where a storage-buffer load is a loop over the lanes. */
static inline unsigned rv_uniform_bindings(int spec)
{
    if (spec == RV_SPEC_DCONV || spec == RV_SPEC_DCONV4)
        return 1u; /* the weights */
    if (spec == RV_SPEC_DATTN32 || spec == RV_SPEC_DATTN64)
        return 6u; /* K and V */
    return 0u;
}

/* Bindings a spec family reads as uniform texel buffers (RGBA views of the
 * tensor's block: fp32 or fp16 by the tensor's dtype). tconv.comp reads its
 * weights and input so: on lavapipe a texel fetch loads a whole 16-byte
 * texel per lane, where a buffer load goes lane by lane. */
static inline unsigned rv_texel_bindings(int spec)
{
    if (spec == RV_SPEC_TCONV3 || spec == RV_SPEC_TCONV3N || spec == RV_SPEC_TCONV3Q || spec == RV_SPEC_TCONV3QN ||
        spec == RV_SPEC_TCONV3T || spec == RV_SPEC_TCONV3TN ||
        spec == RV_SPEC_TCONV1 || spec == RV_SPEC_TCONV1N || spec == RV_SPEC_TCONVUP || spec == RV_SPEC_TCONV3S2)
        return 15u; /* the weights, the input, the bias and the residual */
    if (spec == RV_SPEC_TLINEAR)
        return 15u;
    if (spec == RV_SPEC_TNORM)
        return 7u; /* x, gamma, beta */
    if (spec == RV_SPEC_TATTN32 || spec == RV_SPEC_TATTN64)
        return 7u; /* Q, K, V */
    if (spec == RV_SPEC_ELEM_T)
        return 1u;
    if (spec == RV_SPEC_ELEM_T2)
        return 3u;
    return 0u;
}

/* The largest uniform-buffer window a pipeline declares (a direct conv's
 * weights must fit in it, with their offset inside the aligned window). */
#define RV_UNIFORM_WINDOW 65536u

/* The size class whose tiles a GEMM/conv spec family uses. */
static inline int rv_gemm_class_of_spec(int spec)
{
    return spec == RV_SPEC_GEMM_NARROW ? RV_GEMM_NARROW : spec == RV_SPEC_GEMM_MEDIUM ? RV_GEMM_MEDIUM : RV_GEMM_WIDE;
}

#endif
