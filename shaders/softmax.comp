#version 450
#extension GL_GOOGLE_include_directive : require
// Row softmax y = softmax(x * scale) over rows of n, one workgroup per row
// (max, then the sum of exponentials, then the normalised values). For the
// explicit attention path of head widths the flash kernel does not cover.
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(binding = 0) readonly buffer X_ { T x[]; };
layout(binding = 1) writeonly buffer Y_ { T y[]; };
layout(push_constant) uniform PC { uint boff[RV_PC_BINDINGS]; rv_pc_softmax p; } pc;

shared float red[gl_WorkGroupSize.x];

float reduce(float v, bool take_max)
{
    const uint tid = gl_LocalInvocationID.x;
    red[tid] = v;
    barrier();
    for (uint s = gl_WorkGroupSize.x / 2; s > 0; s >>= 1) {
        if (tid < s)
            red[tid] = take_max ? max(red[tid], red[tid + s]) : red[tid] + red[tid + s];
        barrier();
    }
    float r = red[0];
    barrier();
    return r;
}

void main()
{
    const uint row = flat_group();
    if (row >= pc.p.rows)
        return;
    const uint tid = gl_LocalInvocationID.x, WG = gl_WorkGroupSize.x, n = pc.p.n;
    const uint base = row * n;
    float m = -3.402823466e38;
    for (uint i = tid; i < n; i += WG)
        m = max(m, float(x[pc.boff[0] + base + i]) * pc.p.scale);
    m = reduce(m, true);
    float s = 0.0;
    for (uint i = tid; i < n; i += WG)
        s += exp(float(x[pc.boff[0] + base + i]) * pc.p.scale - m);
    float inv = 1.0 / reduce(s, false);
    for (uint i = tid; i < n; i += WG)
        y[pc.boff[1] + base + i] = T(exp(float(x[pc.boff[0] + base + i]) * pc.p.scale - m) * inv);
}
