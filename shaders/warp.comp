#version 450
#extension GL_GOOGLE_include_directive : require
// Affine warp of [planes][h][w] (camera motion of a latent): each output
// pixel centre p samples the input bilinearly at q = Minv p + o, indices
// clamped to the edges (replicate border; grid_sample's
// padding_mode="border", align_corners=False). Not a resize, not a blend.
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(binding = 0) readonly buffer X_ { T x[]; };
layout(binding = 1) writeonly buffer Y_ { T y[]; };
layout(push_constant) uniform PC { uint boff[RV_PC_BINDINGS]; rv_pc_warp p; } pc;

float at(uint base, int yy, int xx)
{
    yy = clamp(yy, 0, int(pc.p.h) - 1);
    xx = clamp(xx, 0, int(pc.p.w) - 1);
    return float(x[base + uint(yy) * pc.p.w + uint(xx)]);
}

void main()
{
    uint i = flat_group() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    if (i >= pc.p.planes * pc.p.h * pc.p.w)
        return;
    uint ox = i % pc.p.w, r = i / pc.p.w;
    uint oy = r % pc.p.h, pl = r / pc.p.h;
    float px = float(ox) + 0.5, py = float(oy) + 0.5;
    // sample index space: pixel centres at integers
    float u = pc.p.m00 * px + pc.p.m01 * py + pc.p.ox - 0.5;
    float v = pc.p.m10 * px + pc.p.m11 * py + pc.p.oy - 0.5;
    float fu = floor(u), fv = floor(v);
    float fx = u - fu, fy = v - fv;
    int x0 = int(fu), y0 = int(fv);
    uint base = pc.boff[0] + pl * pc.p.h * pc.p.w;
    float top = (1.0 - fx) * at(base, y0, x0) + fx * at(base, y0, x0 + 1);
    float bot = (1.0 - fx) * at(base, y0 + 1, x0) + fx * at(base, y0 + 1, x0 + 1);
    y[pc.boff[1] + i] = T((1.0 - fy) * top + fy * bot);
}
