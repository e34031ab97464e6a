#version 450
#extension GL_GOOGLE_include_directive : require
// Zero padding of [planes][h][w] into [planes][oh][ow], the input placed at
// (top, left): the VAE encoder's asymmetric (0,1,0,1) pad before a stride-2 conv.
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(binding = 0) readonly buffer X_ { T x[]; };
layout(binding = 1) writeonly buffer Y_ { T y[]; };
layout(push_constant) uniform PC { uint boff[RV_PC_BINDINGS]; rv_pc_pad p; } pc;

void main()
{
    uint i = flat_group() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    if (i >= pc.p.planes * pc.p.oh * pc.p.ow)
        return;
    uint ox = i % pc.p.ow, r = i / pc.p.ow;
    uint oy = r % pc.p.oh, pl = r / pc.p.oh;
    int iy = int(oy) - int(pc.p.top), ix = int(ox) - int(pc.p.left);
    float v = 0.0;
    if (iy >= 0 && ix >= 0 && iy < int(pc.p.h) && ix < int(pc.p.w))
        v = float(x[pc.boff[0] + (pl * pc.p.h + uint(iy)) * pc.p.w + uint(ix)]);
    y[pc.boff[1] + i] = T(v);
}
