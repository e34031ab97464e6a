#version 450
#extension GL_GOOGLE_include_directive : require
// Group norm (G > 0) over [b][C][HW], optionally fused with SiLU, and layer
// norm (G = 0) over rows of C. Either way a workgroup normalises one
// contiguous segment: mean first, then the variance about it (two passes,
// so large means do not cancel).
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(binding = 0) readonly buffer X_ { T x[]; };
layout(binding = 1) readonly buffer G_ { T gamma[]; };
layout(binding = 2) readonly buffer B_ { T beta[]; };
layout(binding = 3) writeonly buffer Y_ { T y[]; };
layout(push_constant) uniform PC { uint boff[RV_PC_BINDINGS]; rv_pc_norm p; } pc;

shared float red[gl_WorkGroupSize.x];

float reduce_sum(float v)
{
    const uint tid = gl_LocalInvocationID.x;
    red[tid] = v;
    barrier();
    for (uint s = gl_WorkGroupSize.x / 2; s > 0; s >>= 1) {
        if (tid < s)
            red[tid] += red[tid + s];
        barrier();
    }
    float r = red[0];
    barrier();
    return r;
}

void main()
{
    const uint seg = flat_group();
    if (seg >= pc.p.rows)
        return;
    const uint tid = gl_LocalInvocationID.x, WG = gl_WorkGroupSize.x;
    uint len, c0, hw;
    if (pc.p.G > 0u) {
        uint cpg = pc.p.C / pc.p.G;
        len = cpg * pc.p.HW;
        c0 = (seg % pc.p.G) * cpg;
        hw = pc.p.HW;
    } else {
        len = pc.p.C;
        c0 = 0u;
        hw = 1u;
    }
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
