#version 450
#extension GL_GOOGLE_include_directive : require
// Planar float image [b][3][h][w] to packed RGBA8 [b][h][w] for display and
// PNG: v = clamp(x*scale + bias, 0, 1), rounded to 8 bits, alpha opaque.
#include "common.glsl"

//
// RV_TEXEL (CPU devices): the planes are read as RGBA texels, 4 pixels per
// invocation (h*w % 4 == 0, boff[0] in texels), one 16-byte fetch per lane
// instead of a load per lane per pixel on llvmpipe.
layout(local_size_x_id = 0) in;
#ifdef RV_TEXEL
layout(binding = 0) uniform samplerBuffer xt;
#else
layout(binding = 0) readonly buffer X_ { T x[]; };
#endif
layout(binding = 1) writeonly buffer Y_ { uint y[]; };
layout(push_constant) uniform PC { uint boff[RV_PC_BINDINGS]; rv_pc_rgba p; } pc;

#ifdef RV_TEXEL
void main()
{
    uint i = flat_group() * gl_WorkGroupSize.x + gl_LocalInvocationID.x; // 4 pixels
    uint hw4 = pc.p.h * pc.p.w / 4u;
    if (i >= pc.p.batch * hw4)
        return;
    uint bz = i / hw4, s = i % hw4;
    uint base = pc.boff[0] + bz * 3u * hw4 + s;
    uvec4 word = uvec4(0xff000000u);
    for (uint c = 0; c < 3u; c++) {
        vec4 v = clamp(texelFetch(xt, int(base + c * hw4)) * pc.p.scale + pc.p.bias, 0.0, 1.0);
        word |= uvec4(floor(v * 255.0 + 0.5)) << (8u * c);
    }
    for (uint j = 0; j < 4u; j++)
        y[pc.boff[1] + i * 4u + j] = word[j];
}
#else
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
#endif
