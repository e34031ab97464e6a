#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_EXT_control_flow_attributes : require
// Attention for CPU devices (lavapipe), any number of keys; not causal
// attention and not the GPU path (attn.comp's flash tiles). A workgroup of
// one subgroup takes QB query rows of one head, and its lanes split the keys
// (lane l takes keys l, l + SG, ...). Each lane reads its own key and value
// rows as RGBA texels (one 16-byte fetch per lane: llvmpipe loads a storage
// buffer lane by lane and a uniform-buffer window caps dattn.comp at 64 KiB
// of K and V, past which the flash kernel's shared-memory tiles ran 90% of a
// 512x512 frame), keeps an online softmax per query (running max, sum and
// output), and at the end the lanes' partial softmaxes are merged with
// subgroupMax and subgroupAdd. The queries are the same in every lane: they
// are fetched once per workgroup. Not causal (ops.c sends causal attention
// elsewhere); rows start on 4 elements (ops.c checks). HD, the head width,
// is a specialization constant so the per-query arrays can be unrolled.
#include "common.glsl"

layout(local_size_x_id = 0) in;                   // one subgroup
layout(constant_id = 1) const uint HD = 32;       // head width
layout(constant_id = 2) const uint QB = 4;        // query rows per workgroup

layout(binding = 0) uniform samplerBuffer qtex;   // boff[0..2] count texels
layout(binding = 1) uniform samplerBuffer ktex;
layout(binding = 2) uniform samplerBuffer vtex;
layout(binding = 3) writeonly buffer O_ { T o[]; };
layout(push_constant) uniform PC { uint boff[RV_PC_BINDINGS]; rv_pc_attn p; } pc;

const float NEG = -1.0e30;
const uint H4 = HD / 4u;

void main()
{
    const uint q0 = gl_WorkGroupID.x * QB, h = gl_WorkGroupID.y, b = gl_WorkGroupID.z;
    const uint lane = gl_SubgroupInvocationID, SG = gl_SubgroupSize;
    const uint Lq = pc.p.Lq, Lk = pc.p.Lk;

    // the queries, scaled (rows past Lq repeat the last; never stored)
    vec4 qv[QB][H4];
    [[unroll]] for (uint i = 0u; i < QB; i++) {
        const uint row = pc.boff[0] + ((b * pc.p.sq_b + min(q0 + i, Lq - 1u) * pc.p.sq_tok + h * HD) >> 2u);
        [[unroll]] for (uint t = 0u; t < H4; t++)
            qv[i][t] = texelFetch(qtex, int(row + t)) * pc.p.scale;
    }

    float m[QB], l[QB];
    vec4 acc[QB][H4];
    [[unroll]] for (uint i = 0u; i < QB; i++) {
        m[i] = NEG;
        l[i] = 0.0;
        [[unroll]] for (uint t = 0u; t < H4; t++)
            acc[i][t] = vec4(0.0);
    }

    const uint kbase = pc.boff[1] + ((b * pc.p.sk_b + h * HD) >> 2u), ks = pc.p.sk_tok >> 2u;
    const uint vbase = pc.boff[2] + ((b * pc.p.sv_b + h * HD) >> 2u), vs = pc.p.sv_tok >> 2u;
    for (uint j0 = 0u; j0 < Lk; j0 += SG) {
        const uint j = j0 + lane;
        const bool valid = j < Lk;
        const uint jj = min(j, Lk - 1u);
        float s[QB];
        [[unroll]] for (uint i = 0u; i < QB; i++)
            s[i] = 0.0;
        [[unroll]] for (uint t = 0u; t < H4; t++) {
            const vec4 k = texelFetch(ktex, int(kbase + jj * ks + t));
            [[unroll]] for (uint i = 0u; i < QB; i++)
                s[i] += dot(qv[i][t], k);
        }
        float p[QB];
        [[unroll]] for (uint i = 0u; i < QB; i++) {
            const float mn = valid ? max(m[i], s[i]) : m[i];
            const float corr = exp(m[i] - mn);
            p[i] = valid ? exp(s[i] - mn) : 0.0;
            l[i] = l[i] * corr + p[i];
            m[i] = mn;
            [[unroll]] for (uint t = 0u; t < H4; t++)
                acc[i][t] *= corr;
        }
        [[unroll]] for (uint t = 0u; t < H4; t++) {
            const vec4 v = texelFetch(vtex, int(vbase + jj * vs + t));
            [[unroll]] for (uint i = 0u; i < QB; i++)
                acc[i][t] += p[i] * v;
        }
    }

    // merge the lanes: each lane's sums are relative to its own max
    const uint per = (HD + SG - 1u) / SG; // outputs each lane stores per query
    [[unroll]] for (uint i = 0u; i < QB; i++) {
        const float M = subgroupMax(m[i]);
        const float c = exp(m[i] - M);
        const float L = subgroupAdd(l[i] * c);
        // lane d % SG keeps output d, in mine[d / SG] (constant indices
        // only: a dynamically indexed array stays in memory on llvmpipe)
        float mine[HD];
        [[unroll]] for (uint k = 0u; k < HD; k++)
            mine[k] = 0.0;
        [[unroll]] for (uint t = 0u; t < H4; t++)
            [[unroll]] for (uint e = 0u; e < 4u; e++) {
                const uint d = t * 4u + e;
                const float sum = subgroupAdd(acc[i][t][e] * c);
                if (lane == d % SG)
                    mine[d / SG] = sum;
            }
        const uint q = q0 + i;
        if (q < Lq) {
            const uint obase = pc.boff[3] + b * pc.p.so_b + q * pc.p.so_tok + h * HD;
            [[unroll]] for (uint k = 0u; k < HD; k++) {
                const uint d = k * SG + lane;
                if (k < per && d < HD)
                    o[obase + d] = T(mine[k] / L);
            }
        }
    }
}
