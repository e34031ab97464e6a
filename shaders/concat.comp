#version 450
#extension GL_GOOGLE_include_directive : require
// Channel concatenation of [b][ca][hw] and [b][cb][hw] (UNet skip links).
#include "common.glsl"

layout(local_size_x_id = 0) in;
#ifdef RV_TEXEL
// CPU devices: 4 pixels per invocation (hw % 4 == 0), a and b read as RGBA
// texels (boff[0], boff[1] in texels)
layout(binding = 0) uniform samplerBuffer at;
layout(binding = 1) uniform samplerBuffer bt;
#else
layout(binding = 0) readonly buffer A_ { T a[]; };
layout(binding = 1) readonly buffer B_ { T b[]; };
#endif
layout(binding = 2) writeonly buffer O_ { T o[]; };
layout(push_constant) uniform PC { uint boff[RV_PC_BINDINGS]; rv_pc_concat p; } pc;

#ifdef RV_TEXEL
void main()
{
    uint i = flat_group() * gl_WorkGroupSize.x + gl_LocalInvocationID.x; // 4 pixels
    uint ct = pc.p.ca + pc.p.cb, hw4 = pc.p.hw / 4u;
    if (i >= pc.p.batch * ct * hw4)
        return;
    uint s = i % hw4, r = i / hw4;
    uint c = r % ct, bz = r / ct;
    vec4 v = c < pc.p.ca ? texelFetch(at, int(pc.boff[0] + (bz * pc.p.ca + c) * hw4 + s))
                         : texelFetch(bt, int(pc.boff[1] + (bz * pc.p.cb + (c - pc.p.ca)) * hw4 + s));
    for (uint j = 0; j < 4u; j++)
        o[pc.boff[2] + i * 4u + j] = T(v[j]);
}
#else
void main()
{
    uint i = flat_group() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    uint ct = pc.p.ca + pc.p.cb;
    if (i >= pc.p.batch * ct * pc.p.hw)
        return;
    uint s = i % pc.p.hw, r = i / pc.p.hw;
    uint c = r % ct, bz = r / ct;
    if (c < pc.p.ca)
        o[pc.boff[2] + i] = a[pc.boff[0] + (bz * pc.p.ca + c) * pc.p.hw + s];
    else
        o[pc.boff[2] + i] = b[pc.boff[1] + (bz * pc.p.cb + (c - pc.p.ca)) * pc.p.hw + s];
}
#endif
