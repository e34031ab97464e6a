#version 450
#extension GL_GOOGLE_include_directive : require
// Planar float image [b][3][h][w] to packed RGBA8 [b][h][w] for display and
// PNG: v = clamp(x*scale + bias, 0, 1), rounded to 8 bits, alpha opaque.
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(binding = 0) readonly buffer X_ { T x[]; };
layout(binding = 1) writeonly buffer Y_ { uint y[]; };
layout(push_constant) uniform PC { uint boff[RV_PC_BINDINGS]; rv_pc_rgba p; } pc;

void main()
{
    uint i = flat_group() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    uint hw = pc.p.h * pc.p.w;
    if (i >= pc.p.batch * hw)
        return;
    uint bz = i / hw, s = i % hw;
    uint base = pc.boff[0] + bz * 3u * hw + s;
    uint word = 0xff000000u;
    for (uint c = 0; c < 3u; c++) {
        float v = clamp(float(x[base + c * hw]) * pc.p.scale + pc.p.bias, 0.0, 1.0);
        word |= uint(floor(v * 255.0 + 0.5)) << (8u * c);
    }
    y[pc.boff[1] + i] = word;
}
