#version 450
#extension GL_GOOGLE_include_directive : require
// Elementwise unary ops (copy, scale, ReLU, SiLU, GELU, quick-GELU, tanh,
// TAESD's soft clamp).
// In place is allowed: each invocation reads its element before writing it.
#include "common.glsl"

layout(local_size_x_id = 0) in;
#ifdef RV_TEXEL
// CPU devices (ops.c: the vec4 case only): x read as RGBA texels (boff[0] in
// texels), one 16-byte fetch per lane instead of a load per lane per element
layout(binding = 0) uniform samplerBuffer xt;
layout(binding = 1) writeonly buffer Y_ { T y[]; };
#else
layout(binding = 0) readonly buffer X_ { T x[]; };
layout(binding = 1) writeonly buffer Y_ { T y[]; };
layout(binding = 0) readonly buffer X4_ { T4 x4[]; };
layout(binding = 1) writeonly buffer Y4_ { T4 y4[]; };
#endif
layout(push_constant) uniform PC { uint boff[RV_PC_BINDINGS]; rv_pc_unary p; } pc;

float apply(float v)
{
    switch (pc.p.op) {
    case RV_UNARY_SCALE: return v * pc.p.alpha + pc.p.beta;
    case RV_UNARY_RELU: return max(v, 0.0);
    case RV_UNARY_SILU: return v * rv_sigmoid(v);
    case RV_UNARY_GELU: return rv_gelu(v);
    case RV_UNARY_GELU_QUICK: return v * rv_sigmoid(1.702 * v);
    case RV_UNARY_TANH: return rv_tanh(v);
    case RV_UNARY_SOFTCLAMP: return 3.0 * rv_tanh(v * pc.p.alpha + pc.p.beta);
    default: return v;
    }
}

#ifdef RV_TEXEL
void main()
{
    uint i = flat_group() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    if (i * 4u >= pc.p.n)
        return;
    vec4 v = texelFetch(xt, int(pc.boff[0] + i));
    for (uint j = 0; j < 4u; j++)
        y[pc.boff[1] + i * 4u + j] = T(apply(v[j]));
}
#else
void main()
{
    uint i = flat_group() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    if (pc.p.vec != 0u) {
        // one vec4 load and store per invocation: a quarter of the per-lane
        // memory operations on CPU devices
        if (i * 4u >= pc.p.n)
            return;
        vec4 v = vec4(x4[pc.boff[0] / 4u + i]);
        y4[pc.boff[1] / 4u + i] = T4(vec4(apply(v.x), apply(v.y), apply(v.z), apply(v.w)));
        return;
    }
    if (i >= pc.p.n)
        return;
    y[pc.boff[1] + i] = T(apply(float(x[pc.boff[0] + i])));
}
#endif
