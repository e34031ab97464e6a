#version 450
#extension GL_GOOGLE_include_directive : require
// GEGLU as diffusers: the projection's first half times GELU(second half).
#include "common.glsl"

layout(local_size_x_id = 0) in;
#ifdef RV_TEXEL
// CPU devices: 4 features per invocation (F % 4 == 0), x read as RGBA texels
// (boff[0] in texels): one 16-byte fetch per lane, not a load per lane per element
layout(binding = 0) uniform samplerBuffer xt;
#else
layout(binding = 0) readonly buffer X_ { T x[]; };
#endif
layout(binding = 1) writeonly buffer Y_ { T y[]; };
layout(push_constant) uniform PC { uint boff[RV_PC_BINDINGS]; rv_pc_geglu p; } pc;

#ifdef RV_TEXEL
void main()
{
    uint i = flat_group() * gl_WorkGroupSize.x + gl_LocalInvocationID.x; // 4 features
    uint F4 = pc.p.F / 4u;
    if (i >= pc.p.rows * F4)
        return;
    uint r = i / F4, f = i % F4;
    uint base = pc.boff[0] + r * 2u * F4;
    vec4 h = texelFetch(xt, int(base + f)), g = texelFetch(xt, int(base + F4 + f));
    for (uint j = 0; j < 4u; j++)
        y[pc.boff[1] + i * 4u + j] = T(h[j] * rv_gelu(g[j]));
}
#else
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
#endif
