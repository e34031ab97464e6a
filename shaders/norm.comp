#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_arithmetic : require
// Group norm (G > 0) over [b][C][HW], optionally fused with SiLU: a
// workgroup normalises one group's contiguous segment. Layer norm (G = 0)
// over rows of C: a subgroup per row. Mean first, then the variance about
// it (two passes, so large means do not cancel).
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(binding = 0) readonly buffer X_ { T x[]; };
layout(binding = 1) readonly buffer G_ { T gamma[]; };
layout(binding = 2) readonly buffer B_ { T beta[]; };
layout(binding = 3) writeonly buffer Y_ { T y[]; };
layout(push_constant) uniform PC { uint boff[RV_PC_BINDINGS]; rv_pc_norm p; } pc;

shared float red[gl_WorkGroupSize.x];

// Subgroup sums first, then one shared-memory step across subgroups: two
// barriers per reduction, none when the workgroup is a single subgroup (the
// choice on CPU devices, where barriers are expensive).
float reduce_sum(float v)
{
    v = subgroupAdd(v);
    if (gl_NumSubgroups == 1u)
        return v;
    if (subgroupElect())
        red[gl_SubgroupID] = v;
    barrier();
    float r = 0.0;
    for (uint i = 0; i < gl_NumSubgroups; i++)
        r += red[i];
    barrier();
    return r;
}

// Layer norm: one subgroup per row, so the reductions need no barrier.
void layer_norm_rows()
{
    const uint row = flat_group() * gl_NumSubgroups + gl_SubgroupID;
    if (row >= pc.p.rows)
        return;
    const uint C = pc.p.C, lane = gl_SubgroupInvocationID, SGS = gl_SubgroupSize;
    const uint base = pc.boff[0] + row * C;
    float s = 0.0;
    for (uint i = lane; i < C; i += SGS)
        s += float(x[base + i]);
    float mean = subgroupAdd(s) / float(C);
    float s2 = 0.0;
    for (uint i = lane; i < C; i += SGS) {
        float d = float(x[base + i]) - mean;
        s2 += d * d;
    }
    float rstd = inversesqrt(subgroupAdd(s2) / float(C) + pc.p.eps);
    for (uint i = lane; i < C; i += SGS) {
        float v = (float(x[base + i]) - mean) * rstd;
        y[pc.boff[3] + row * C + i] = T(v * float(gamma[pc.boff[1] + i]) + float(beta[pc.boff[2] + i]));
    }
}

void main()
{
    if (pc.p.G == 0u) {
        layer_norm_rows();
        return;
    }
    const uint seg = flat_group();
    if (seg >= pc.p.rows)
        return;
    const uint tid = gl_LocalInvocationID.x, WG = gl_WorkGroupSize.x;
    const uint cpg = pc.p.C / pc.p.G, len = cpg * pc.p.HW, c0 = (seg % pc.p.G) * cpg, hw = pc.p.HW;
    const uint base = seg * len;
    float s = 0.0;
    for (uint i = tid; i < len; i += WG)
        s += float(x[pc.boff[0] + base + i]);
    float mean = reduce_sum(s) / float(len);
    float s2 = 0.0;
    for (uint i = tid; i < len; i += WG) {
        float d = float(x[pc.boff[0] + base + i]) - mean;
        s2 += d * d;
    }
    float rstd = inversesqrt(reduce_sum(s2) / float(len) + pc.p.eps);
    for (uint i = tid; i < len; i += WG) {
        uint ch = c0 + i / hw;
        float v = (float(x[pc.boff[0] + base + i]) - mean) * rstd;
        v = v * float(gamma[pc.boff[1] + ch]) + float(beta[pc.boff[2] + ch]);
        if (pc.p.silu != 0u)
            v = v * rv_sigmoid(v);
        y[pc.boff[3] + base + i] = T(v);
    }
}
