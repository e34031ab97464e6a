#version 450
#extension GL_GOOGLE_include_directive : require
// Nearest-neighbour 2x upsampling of [planes][h][w].
#include "common.glsl"

//
// RV_TEXEL (CPU devices): an invocation reads one RGBA texel (4 pixels of a
// source row, w % 4 == 0, boff[0] in texels) and writes the 2 x 8 pixels it
// becomes: one 16-byte fetch per lane instead of a load per lane per pixel
// on llvmpipe.
layout(local_size_x_id = 0) in;
#ifdef RV_TEXEL
layout(binding = 0) uniform samplerBuffer xt;
#else
layout(binding = 0) readonly buffer X_ { T x[]; };
#endif
layout(binding = 1) writeonly buffer Y_ { T y[]; };
layout(push_constant) uniform PC { uint boff[RV_PC_BINDINGS]; rv_pc_upsample p; } pc;

#ifdef RV_TEXEL
void main()
{
    uint i = flat_group() * gl_WorkGroupSize.x + gl_LocalInvocationID.x; // source texel
    uint w4 = pc.p.w / 4u;
    if (i >= pc.p.planes * pc.p.h * w4)
        return;
    uint tx = i % w4, r = i / w4; // r: source row over all planes
    uint sy = r % pc.p.h, pl = r / pc.p.h;
    vec4 v = texelFetch(xt, int(pc.boff[0] + i));
    uint ow = 2u * pc.p.w;
    uint o = pc.boff[1] + (pl * 2u * pc.p.h + 2u * sy) * ow + 8u * tx;
    for (uint dy = 0; dy < 2u; dy++)
        for (uint j = 0; j < 8u; j++)
            y[o + dy * ow + j] = T(v[j / 2u]);
}
#else
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
#endif
