#version 450
#extension GL_GOOGLE_include_directive : require
// Channel concatenation of [b][ca][hw] and [b][cb][hw] (UNet skip links).
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(binding = 0) readonly buffer A_ { T a[]; };
layout(binding = 1) readonly buffer B_ { T b[]; };
layout(binding = 2) writeonly buffer O_ { T o[]; };
layout(push_constant) uniform PC { uint boff[RV_PC_BINDINGS]; rv_pc_concat p; } pc;

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
