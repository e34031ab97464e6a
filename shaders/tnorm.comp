#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_arithmetic : require
// Group norm (G > 0, optionally fused with SiLU) and layer norm (G = 0) for
// CPU devices (lavapipe); not the GPU path (norm.comp, whose loads go lane
// by lane on lavapipe). Here x,
// gamma and beta are read as RGBA texels (one 16-byte fetch per lane) and
// the workgroup is one subgroup per segment (a group's contiguous [C/G][HW]
// block, or a row of C), so the reductions are subgroupAdd with no barrier
// (a barrier makes llvmpipe run the workgroup as coroutines). Segments are a
// multiple of 4 elements long and start on a texel (ops.c checks). Mean
// first, then the variance about it, as norm.comp does.
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(binding = 0) uniform samplerBuffer xtex; // boff[0..2] count texels
layout(binding = 1) uniform samplerBuffer gtex;
layout(binding = 2) uniform samplerBuffer btex;
layout(binding = 3) writeonly buffer Y_ { T y[]; };
layout(push_constant) uniform PC { uint boff[RV_PC_BINDINGS]; rv_pc_norm p; } pc;

void main()
{
    const uint seg = flat_group();
    if (seg >= pc.p.rows)
        return;
    const bool group = pc.p.G != 0u;
    const uint lane = gl_SubgroupInvocationID, SG = gl_SubgroupSize;
    const uint cpg = group ? pc.p.C / pc.p.G : pc.p.C;
    const uint len4 = (group ? cpg * pc.p.HW : pc.p.C) >> 2u; // texels in the segment
    const uint c0 = group ? (seg % pc.p.G) * cpg : 0u;
    const uint hw4 = pc.p.HW >> 2u;                           // texels per channel (group norm)
    const uint xb = pc.boff[0] + seg * len4;

    vec4 s = vec4(0.0);
    for (uint i = lane; i < len4; i += SG)
        s += texelFetch(xtex, int(xb + i));
    const float n = float(len4 * 4u);
    const float mean = subgroupAdd(s.x + s.y + s.z + s.w) / n;
    vec4 s2 = vec4(0.0);
    for (uint i = lane; i < len4; i += SG) {
        const vec4 d = texelFetch(xtex, int(xb + i)) - mean;
        s2 += d * d;
    }
    const float rstd = inversesqrt(subgroupAdd(s2.x + s2.y + s2.z + s2.w) / n + pc.p.eps);
    const uint yb = pc.boff[3] + seg * (len4 << 2u);
    for (uint i = lane; i < len4; i += SG) {
        vec4 v = (texelFetch(xtex, int(xb + i)) - mean) * rstd;
        if (group) { // one channel per texel (HW % 4 == 0): its gamma and beta in every component
            const uint ch = c0 + i / hw4;
            v = v * texelFetch(gtex, int(pc.boff[1] + (ch >> 2u)))[ch & 3u] +
                texelFetch(btex, int(pc.boff[2] + (ch >> 2u)))[ch & 3u];
        } else {
            v = v * texelFetch(gtex, int(pc.boff[1] + i)) + texelFetch(btex, int(pc.boff[2] + i));
        }
        if (pc.p.silu != 0u)
            v = v * (1.0 / (1.0 + exp(-v))); // rv_sigmoid, per component
        for (uint j = 0u; j < 4u; j++)
            y[yb + i * 4u + j] = T(v[j]);
    }
}
