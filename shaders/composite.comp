#version 450
#extension GL_GOOGLE_include_directive : require
// The presenter's composite: the generated frame (packed RGBA8) scaled
// bilinearly into its aspect-kept rectangle of the target (black around
// it), then the overlay (packed premultiplied RGBA8, a sub-rectangle of the
// target) blended over it: out = ov + dst * (255 - ov.a) / 255. Integer
// arithmetic only, so the C reference (tests/test_present.c) matches it bit
// for bit. Writes packed words in the target's byte order.
#include "rv_present_pc.h"

layout(local_size_x = RV_COMPOSITE_GROUP, local_size_y = RV_COMPOSITE_GROUP) in;
layout(binding = 0) readonly buffer F_ { uint frame[]; };
layout(binding = 1) readonly buffer O_ { uint overlay[]; };
layout(binding = 2) writeonly buffer Y_ { uint target[]; };
layout(push_constant) uniform PC { rv_pc_composite p; } pc;

uvec3 rgb_of(uint w) { return uvec3(w, w >> 8, w >> 16) & 255u; }

// source coordinate (16.16) of target pixel i of a span starting at 0
uint src_pos(uint i, uint step, uint n)
{
    int s = int(i * step + step / 2u) - 32768;
    return uint(clamp(s, 0, int((n - 1u) << 16)));
}

void main()
{
    uint x = gl_GlobalInvocationID.x, y = gl_GlobalInvocationID.y;
    if (x >= pc.p.out_w || y >= pc.p.out_h)
        return;
    uvec3 rgb = uvec3(0u);
    if (pc.p.frame_w > 0u && x >= pc.p.dst_x && x < pc.p.dst_x + pc.p.dst_w && y >= pc.p.dst_y &&
        y < pc.p.dst_y + pc.p.dst_h) {
        uint sx = src_pos(x - pc.p.dst_x, pc.p.step_x, pc.p.frame_w);
        uint sy = src_pos(y - pc.p.dst_y, pc.p.step_y, pc.p.frame_h);
        uint x0 = sx >> 16, y0 = sy >> 16;
        uint x1 = min(x0 + 1u, pc.p.frame_w - 1u), y1 = min(y0 + 1u, pc.p.frame_h - 1u);
        uint fx = (sx >> 8) & 255u, fy = (sy >> 8) & 255u;
        uvec3 top = rgb_of(frame[y0 * pc.p.frame_w + x0]) * (256u - fx) + rgb_of(frame[y0 * pc.p.frame_w + x1]) * fx;
        uvec3 bot = rgb_of(frame[y1 * pc.p.frame_w + x0]) * (256u - fx) + rgb_of(frame[y1 * pc.p.frame_w + x1]) * fx;
        rgb = (top * (256u - fy) + bot * fy + 32768u) >> 16;
    }
    if (x >= pc.p.ov_x && x < pc.p.ov_x + pc.p.ov_w && y >= pc.p.ov_y && y < pc.p.ov_y + pc.p.ov_h) {
        uint o = overlay[(y - pc.p.ov_y) * pc.p.ov_w + (x - pc.p.ov_x)];
        // t / 255 for t <= 255 * 255 + 127 as (t + 1 + (t >> 8)) >> 8: exact there,
        // and no integer division (slow on CPU devices)
        uvec3 t = rgb * (255u - (o >> 24)) + 127u;
        rgb = min(rgb_of(o) + ((t + 1u + (t >> 8)) >> 8), uvec3(255u));
    }
    uint word = pc.p.bgra != 0u ? (rgb.b | rgb.g << 8 | rgb.r << 16) : (rgb.r | rgb.g << 8 | rgb.b << 16);
    target[y * pc.p.out_w + x] = word | 0xff000000u;
}
