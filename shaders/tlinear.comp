#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
// Linear layer for CPU devices (lavapipe): out[token][n] = sum_k x[token][k] *
// w[n][k] (+ bias[n], + residual), token-major rows of K a multiple of 4. Not
// the GPU path (GPUs keep gemm.comp's tiles) and not a general GEMM.
//
// As in tconv.comp, the rows and the weights are read as RGBA texels (one
// 16-byte fetch per lane instead of a load per lane per element on llvmpipe):
// each invocation takes TOK tokens x COT outputs, and per 4 values of k
// fetches one texel per token and one per output, for 4*TOK*COT
// multiply-adds. Sums run in k order, as dconv.comp's linear path and the
// GEMM do, so they agree exactly. Push constants as dconv.comp's linear
// layers: M outputs, N tokens, the input element (k, token) at k*sbk +
// token*sbn with sbk = 1, the output (n, token) at n*scm + token*scn.
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint COT = 8; // outputs per invocation
layout(constant_id = 2) const uint TOK = 4; // tokens per invocation
// SG > 0 (the subgroup size; whole subgroups per workgroup): per k the COT
// weight texels are fetched SG at a time, each lane one row's, and handed to
// every lane by subgroupShuffle at constant lanes (a register permute on
// llvmpipe) instead of every lane gathering all COT (as tconv.comp)
layout(constant_id = 3) const uint SG = 0;
const uint SGD = SG == 0u ? 1u : SG;
const uint NWF = SG > 0u ? (COT + SGD - 1u) / SGD : 1u;
#ifdef RV_GEGLU
// GEGLU fused (diffusers' FeedForward): the weight has 2F rows, the output F
// columns, out[token][f] = h * GELU(g) with h the row-f output and g the
// row-(F + f) one, each with its bias; COT/2 features per invocation (the
// first half of the accumulators h, the second g). M here is F.
const uint HF = COT / 2u;
#endif

layout(binding = 0) uniform samplerBuffer wtex; // weight [M][K] as RGBA texels (boff[0] in texels)
layout(binding = 1) uniform samplerBuffer xtex; // rows [N][K] as RGBA texels (boff[1] in texels)
layout(binding = 2) uniform samplerBuffer btex; // bias as RGBA texels (boff[2] in texels)
layout(binding = 3) uniform samplerBuffer rtex; // residual, laid out as the output (boff[3] in texels)
layout(binding = 4) writeonly buffer C_ { T c[]; };
layout(push_constant) uniform PC { uint boff[RV_PC_BINDINGS]; rv_pc_gemm p; } pc;

void main()
{
    const uint N = pc.p.N, M = pc.p.M, K4 = pc.p.K >> 2u;
    const uint tok0 = gl_GlobalInvocationID.x * TOK;
    const bool live = tok0 < N;
#ifdef RV_GEGLU
    const uint co0 = gl_WorkGroupID.y * HF, bz = gl_WorkGroupID.z;
    const uint mlast = min(M - co0, HF) - 1u;
#else
    const uint co0 = gl_WorkGroupID.y * COT, bz = gl_WorkGroupID.z;
    const uint mlast = min(M - co0, COT) - 1u;
#endif
    const uint xbase = pc.boff[1] + bz * (pc.p.sbb >> 2u);
    // tokens past N repeat the last one (their sums are never stored)
    uint row[TOK];
    for (uint t = 0u; t < TOK; t++)
        row[t] = xbase + min(tok0 + t, N - 1u) * (pc.p.sbn >> 2u);
    uint wrow[COT];
#ifdef RV_GEGLU
    for (uint i = 0u; i < COT; i++)
        wrow[i] = pc.boff[0] + ((i < HF ? 0u : M) + co0 + min(i % HF, mlast)) * K4;
#else
    for (uint i = 0u; i < COT; i++)
        wrow[i] = pc.boff[0] + (co0 + min(i, mlast)) * K4;
#endif

    float acc[COT][TOK];
    for (uint i = 0u; i < COT; i++)
        for (uint t = 0u; t < TOK; t++)
            acc[i][t] = 0.0;

    // (SG: lane l fetches for rows l, SG + l, ...)
    uint wmine[NWF];
    [[unroll]] for (uint j = 0u; j < NWF; j++)
        wmine[j] = wrow[min(j * SGD + (SG > 0u ? gl_SubgroupInvocationID : 0u), COT - 1u)];
    for (uint k = 0u; k < K4; k++) {
        vec4 x[TOK];
        for (uint t = 0u; t < TOK; t++)
            x[t] = texelFetch(xtex, int(row[t] + k));
        vec4 wv[NWF];
        if (SG > 0u)
            [[unroll]] for (uint j = 0u; j < NWF; j++)
                wv[j] = texelFetch(wtex, int(wmine[j] + k));
        [[unroll]] for (uint i = 0u; i < COT; i++) {
            const vec4 w = SG > 0u ? subgroupShuffle(wv[i / SGD], i % SGD) : texelFetch(wtex, int(wrow[i] + k));
            for (uint t = 0u; t < TOK; t++) {
                acc[i][t] = fma(w.x, x[t].x, acc[i][t]);
                acc[i][t] = fma(w.y, x[t].y, acc[i][t]);
                acc[i][t] = fma(w.z, x[t].z, acc[i][t]);
                acc[i][t] = fma(w.w, x[t].w, acc[i][t]);
            }
        }
    }

    if (!live)
        return;
    const uint cbase = bz * pc.p.scb;
#ifdef RV_GEGLU
    // unrolled (GELU makes the body large enough that the compiler would
    // keep the loop, indexing acc dynamically: every array to memory)
    [[unroll]] for (uint i = 0u; i < HF; i++) {
        const uint f = co0 + i;
        if (f >= M)
            break;
        const bool hb = (pc.p.flags & RV_GEMM_BIAS_M) != 0u;
        const float bh = hb ? rv_texel_elem(texelFetch(btex, int(pc.boff[2] + (f >> 2u))), f) : 0.0, bg = hb ? rv_texel_elem(texelFetch(btex, int(pc.boff[2] + ((M + f) >> 2u))), M + f) : 0.0;
        [[unroll]] for (uint t = 0u; t < TOK; t++) {
            const uint px = tok0 + t;
            if (px >= N)
                break;
            const float h = acc[i][t] * pc.p.alpha + bh, g = acc[HF + i][t] * pc.p.alpha + bg;
            c[pc.boff[4] + cbase + f * pc.p.scm + px * pc.p.scn] = T(h * rv_gelu(g));
        }
    }
    return;
#endif
    // the residual as texels: 4 outputs of a token (token-major, scm = 1) or
    // 4 tokens of an output (channel-major, scn = 1); ops.c checks that one
    // of the two holds and that 4 | COT, TOK and the strides
    const bool res = (pc.p.flags & RV_GEMM_RESIDUAL) != 0u;
    float r[COT][TOK];
    if (res && pc.p.scm == 1u) {
        for (uint i = 0u; i < COT; i += 4u)
            for (uint t = 0u; t < TOK; t++) {
                const vec4 q = texelFetch(rtex, int(pc.boff[3] + ((cbase + (co0 + i) + min(tok0 + t, N - 1u) * pc.p.scn) >> 2u)));
                for (uint j = 0u; j < 4u; j++)
                    r[i + j][t] = q[j];
            }
    } else if (res) {
        for (uint i = 0u; i < COT; i++)
            for (uint t = 0u; t < TOK; t += 4u) {
                const vec4 q = texelFetch(rtex, int(pc.boff[3] + ((cbase + min(co0 + i, M - 1u) * pc.p.scm + tok0 + t) >> 2u)));
                for (uint j = 0u; j < 4u; j++)
                    r[i][t + j] = q[j];
            }
    }
    for (uint i = 0u; i < COT; i++) {
        const uint gm = co0 + i;
        if (gm >= M)
            break;
        // one bias texel fetch per output (a storage-buffer load would be a loop over the lanes)
        const float b = (pc.p.flags & RV_GEMM_BIAS_M) != 0u ? rv_texel_elem(texelFetch(btex, int(pc.boff[2] + (gm >> 2u))), gm) : 0.0;
        for (uint t = 0u; t < TOK; t++) {
            const uint px = tok0 + t;
            if (px >= N)
                break;
            float v = acc[i][t] * pc.p.alpha;
            if ((pc.p.flags & RV_GEMM_BIAS_M) != 0u)
                v += b;
            if (res)
                v += r[i][t];
            if ((pc.p.flags & RV_GEMM_RELU) != 0u)
                v = max(v, 0.0);
            c[pc.boff[4] + cbase + gm * pc.p.scm + px * pc.p.scn] = T(v);
        }
    }
}
