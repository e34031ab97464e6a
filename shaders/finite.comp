#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// Non-finite check: flags[slot] |= the bits of 1.0f when any element of x is
// NaN or Inf (exponent bits all ones, tested on the bits: a compiler may
// assume isnan() false). Most invocations write nothing; an atomic OR keeps
// concurrent writers and earlier checks sharing the slot well defined.
#include "common.glsl"

layout(local_size_x_id = 0) in;
#ifdef RV_TEXEL
// CPU devices: x read as RGBA texels (boff[0] in texels), 16 elements per
// invocation; n is a multiple of 4 (ops.c)
layout(binding = 0) uniform samplerBuffer xt;
layout(binding = 1) buffer F_ { uint flags[]; };
layout(push_constant) uniform PC { uint boff[RV_PC_BINDINGS]; rv_pc_finite p; } pc;

void main()
{
    uint i = (flat_group() * gl_WorkGroupSize.x + gl_LocalInvocationID.x) * 4u;
    uvec4 e = uvec4(0u);
    [[unroll]] for (uint k = 0u; k < 4u; k++) {
        // past the end: a finite texel (texelFetch beyond the view returns 0)
        vec4 v = (i + k) * 4u < pc.p.n ? texelFetch(xt, int(pc.boff[0] + i + k)) : vec4(0.0);
        uvec4 b = floatBitsToUint(v) & 0x7f800000u;
        e |= uvec4(equal(b, uvec4(0x7f800000u)));
    }
    if (any(notEqual(e, uvec4(0u))))
        atomicOr(flags[pc.boff[1] + pc.p.slot], 0x3f800000u);
}
#else
layout(binding = 0) readonly buffer X_ { T x[]; };
layout(binding = 1) buffer F_ { uint flags[]; };
layout(push_constant) uniform PC { uint boff[RV_PC_BINDINGS]; rv_pc_finite p; } pc;

void main()
{
    uint i = flat_group() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    if (i >= pc.p.n)
        return;
    uint b = floatBitsToUint(float(x[pc.boff[0] + i]));
    if ((b & 0x7f800000u) == 0x7f800000u)
        atomicOr(flags[pc.boff[1] + pc.p.slot], 0x3f800000u);
}
#endif
