#version 450
#extension GL_GOOGLE_include_directive : require
// Embedding lookup: out[r] = table[ids[r] - first] for the rows whose id falls
// in this table chunk [first, first + count); other rows are left alone, so
// a table too large for one binding is gathered chunk by chunk.
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(binding = 0) readonly buffer I_ { float ids[]; };
layout(binding = 1) readonly buffer W_ { T table[]; };
layout(binding = 2) writeonly buffer O_ { T o[]; };
layout(push_constant) uniform PC { uint boff[RV_PC_BINDINGS]; rv_pc_embed p; } pc;

void main()
{
    uint i = flat_group() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    if (i >= pc.p.rows * pc.p.dim)
        return;
    uint r = i / pc.p.dim, d = i % pc.p.dim;
    float f = ids[pc.boff[0] + r];
    if (f < float(pc.p.first) || f >= float(pc.p.first + pc.p.count))
        return;
    uint id = uint(f) - pc.p.first;
    o[pc.boff[2] + i] = table[pc.boff[1] + id * pc.p.dim + d];
}
