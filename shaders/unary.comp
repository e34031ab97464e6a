#version 450
#extension GL_GOOGLE_include_directive : require
// Elementwise unary ops (copy, scale, ReLU, SiLU, GELU, quick-GELU, tanh).
// In place is allowed: each invocation reads its element before writing it.
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(binding = 0) readonly buffer X_ { T x[]; };
layout(binding = 1) writeonly buffer Y_ { T y[]; };
layout(push_constant) uniform PC { uint boff[RV_PC_BINDINGS]; rv_pc_unary p; } pc;

void main()
{
    uint i = flat_group() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    if (i >= pc.p.n)
        return;
    float v = float(x[pc.boff[0] + i]);
    switch (pc.p.op) {
    case RV_UNARY_SCALE: v = v * pc.p.alpha + pc.p.beta; break;
    case RV_UNARY_RELU: v = max(v, 0.0); break;
    case RV_UNARY_SILU: v = v * rv_sigmoid(v); break;
    case RV_UNARY_GELU: v = rv_gelu(v); break;
    case RV_UNARY_GELU_QUICK: v = v * rv_sigmoid(1.702 * v); break;
    case RV_UNARY_TANH: v = rv_tanh(v); break;
    default: break;
    }
    y[pc.boff[1] + i] = T(v);
}
