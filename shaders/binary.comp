#version 450
#extension GL_GOOGLE_include_directive : require
// out = (a op b) * alpha over a 4D index space; an operand broadcasts along
// any dimension where its stride is zero. The output is contiguous.
#include "common.glsl"

layout(local_size_x_id = 0) in;
#ifdef RV_TEXEL
// CPU devices, same-shape contiguous operands only (ops.c): a and b read as
// RGBA texels (boff[0], boff[1] in texels), four elements per invocation
layout(binding = 0) uniform samplerBuffer at;
layout(binding = 1) uniform samplerBuffer bt;
layout(binding = 2) writeonly buffer O_ { T o[]; };
layout(push_constant) uniform PC { uint boff[RV_PC_BINDINGS]; rv_pc_binary p; } pc;

void main()
{
    uint i = flat_group() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    if (i * 4u >= pc.p.ne0 * pc.p.ne1 * pc.p.ne2 * pc.p.ne3)
        return;
    vec4 va = texelFetch(at, int(pc.boff[0] + i)), vb = texelFetch(bt, int(pc.boff[1] + i));
    vec4 v = (pc.p.op == RV_BINARY_ADD ? va + vb : pc.p.op == RV_BINARY_SUB ? va - vb : va * vb) * pc.p.alpha;
    for (uint j = 0; j < 4u; j++)
        o[pc.boff[2] + i * 4u + j] = T(v[j]);
}
#elif defined(RV_TEXEL_ROWB)
// CPU devices: a contiguous, b one value per row of ne3 elements (ne3 a
// multiple of 4; ops.c checks): a per-channel vector added over an image, as
// a resnet adds its time embedding. a is read as RGBA texels (boff[0] in
// texels), four elements and one value of b per invocation.
layout(binding = 0) uniform samplerBuffer at;
layout(binding = 1) readonly buffer B_ { T b[]; };
layout(binding = 2) writeonly buffer O_ { T o[]; };
layout(push_constant) uniform PC { uint boff[RV_PC_BINDINGS]; rv_pc_binary p; } pc;

void main()
{
    uint i = flat_group() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    if (i * 4u >= pc.p.ne0 * pc.p.ne1 * pc.p.ne2 * pc.p.ne3)
        return;
    vec4 va = texelFetch(at, int(pc.boff[0] + i));
    float vb = float(b[pc.boff[1] + i * 4u / pc.p.ne3]);
    vec4 v = (pc.p.op == RV_BINARY_ADD ? va + vb : pc.p.op == RV_BINARY_SUB ? va - vb : va * vb) * pc.p.alpha;
    for (uint j = 0; j < 4u; j++)
        o[pc.boff[2] + i * 4u + j] = T(v[j]);
}
#else
layout(binding = 0) readonly buffer A_ { T a[]; };
layout(binding = 1) readonly buffer B_ { T b[]; };
layout(binding = 2) writeonly buffer O_ { T o[]; };
layout(binding = 0) readonly buffer A4_ { T4 a4[]; };
layout(binding = 1) readonly buffer B4_ { T4 b4[]; };
layout(binding = 2) writeonly buffer O4_ { T4 o4[]; };
layout(push_constant) uniform PC { uint boff[RV_PC_BINDINGS]; rv_pc_binary p; } pc;

void main()
{
    uint i = flat_group() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    uint n = pc.p.ne0 * pc.p.ne1 * pc.p.ne2 * pc.p.ne3;
    if (pc.p.vec != 0u) { // same-shape contiguous operands, four elements at a time
        if (i * 4u >= n)
            return;
        vec4 va = vec4(a4[pc.boff[0] / 4u + i]), vb = vec4(b4[pc.boff[1] / 4u + i]);
        vec4 v = pc.p.op == RV_BINARY_ADD ? va + vb : pc.p.op == RV_BINARY_SUB ? va - vb : va * vb;
        o4[pc.boff[2] / 4u + i] = T4(v * pc.p.alpha);
        return;
    }
    if (i >= n)
        return;
    uint i3 = i % pc.p.ne3, r = i / pc.p.ne3;
    uint i2 = r % pc.p.ne2;
    r /= pc.p.ne2;
    uint i1 = r % pc.p.ne1, i0 = r / pc.p.ne1;
    float va = float(a[pc.boff[0] + i0 * pc.p.sa0 + i1 * pc.p.sa1 + i2 * pc.p.sa2 + i3 * pc.p.sa3]);
    float vb = float(b[pc.boff[1] + i0 * pc.p.sb0 + i1 * pc.p.sb1 + i2 * pc.p.sb2 + i3 * pc.p.sb3]);
    float v = pc.p.op == RV_BINARY_ADD ? va + vb : pc.p.op == RV_BINARY_SUB ? va - vb : va * vb;
    o[pc.boff[2] + i] = T(v * pc.p.alpha);
}
#endif
