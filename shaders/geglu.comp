#version 450
#extension GL_GOOGLE_include_directive : require
// GEGLU as diffusers: the projection's first half times GELU(second half).
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(binding = 0) readonly buffer X_ { T x[]; };
layout(binding = 1) writeonly buffer Y_ { T y[]; };
layout(push_constant) uniform PC { uint boff[RV_PC_BINDINGS]; rv_pc_geglu p; } pc;

void main()
{
    uint i = flat_group() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    if (i >= pc.p.rows * pc.p.F)
        return;
    uint r = i / pc.p.F, f = i % pc.p.F;
    uint base = pc.boff[0] + r * 2u * pc.p.F;
    float h = float(x[base + f]);
    float g = float(x[base + pc.p.F + f]);
    y[pc.boff[1] + i] = T(h * rv_gelu(g));
}
