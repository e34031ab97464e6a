#version 450
#extension GL_GOOGLE_include_directive : require
// Nearest-neighbour resize of [planes][h][w] to [planes][oh][ow] with
// PyTorch's index rule (F.interpolate mode="nearest" given an output size):
// src = min(floor(dst * (in / out)), in - 1), in float32.
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(binding = 0) readonly buffer X_ { T x[]; };
layout(binding = 1) writeonly buffer Y_ { T y[]; };
layout(push_constant) uniform PC { uint boff[RV_PC_BINDINGS]; rv_pc_resize p; } pc;

void main()
{
    uint i = flat_group() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    if (i >= pc.p.planes * pc.p.oh * pc.p.ow)
        return;
    uint ox = i % pc.p.ow, r = i / pc.p.ow;
    uint oy = r % pc.p.oh, pl = r / pc.p.oh;
    uint iy = min(uint(floor(float(oy) * pc.p.sh)), pc.p.h - 1u);
    uint ix = min(uint(floor(float(ox) * pc.p.sw)), pc.p.w - 1u);
    y[pc.boff[1] + i] = x[pc.boff[0] + (pl * pc.p.h + iy) * pc.p.w + ix];
}
