#version 450
#extension GL_GOOGLE_include_directive : require
// Nearest-neighbour 2x upsampling of [planes][h][w].
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(binding = 0) readonly buffer X_ { T x[]; };
layout(binding = 1) writeonly buffer Y_ { T y[]; };
layout(push_constant) uniform PC { uint boff[RV_PC_BINDINGS]; rv_pc_upsample p; } pc;

void main()
{
    uint i = flat_group() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    uint ow = 2u * pc.p.w, oh = 2u * pc.p.h;
    if (i >= pc.p.planes * oh * ow)
        return;
    uint ox = i % ow, r = i / ow;
    uint oy = r % oh, pl = r / oh;
    y[pc.boff[1] + i] = x[pc.boff[0] + (pl * pc.p.h + oy / 2u) * pc.p.w + ox / 2u];
}
