#version 450
#extension GL_GOOGLE_include_directive : require
// Attention for CPU devices: one invocation per query row of one head, its
// query and output accumulator in registers, keys walked one at a time with
// an online softmax. Every invocation reads the same key and value row at
// the same time, so K and V come through uniform buffers: llvmpipe loads a
// uniform-buffer element at a uniform address once per workgroup row, where
// the flash kernel (attn.comp) stages tiles through shared memory, which it
// reads lane by lane. HD (the head width) is a specialization constant so
// the per-row arrays stay in registers. The caller (ops.c) checks that K and
// V fit their uniform windows and that every row starts on 4 elements.
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint HD = 32;       // head width
layout(constant_id = 2) const uint WINDOW = 1024; // uvec4s in each uniform window

layout(binding = 0) readonly buffer Q_ { T q[]; };
layout(binding = 1) uniform K_ { uvec4 kw[WINDOW]; };
layout(binding = 2) uniform V_ { uvec4 vw[WINDOW]; };
layout(binding = 3) writeonly buffer O_ { T o[]; };
layout(push_constant) uniform PC { uint boff[RV_PC_BINDINGS]; rv_pc_attn p; } pc;

const float NEG = -1.0e30;
const uint H4 = HD / 4u;

// four elements from e (a multiple of 4) of a window of 32-bit words:
// fp32 one per word, fp16 two
#ifdef RV_F16
#define RV_LOAD4(win, e) vec4(unpackHalf2x16(((e) & 4u) != 0u ? win[(e) >> 3].z : win[(e) >> 3].x), \
                              unpackHalf2x16(((e) & 4u) != 0u ? win[(e) >> 3].w : win[(e) >> 3].y))
#else
#define RV_LOAD4(win, e) uintBitsToFloat(win[(e) >> 2])
#endif

void main()
{
    const uint qi = gl_GlobalInvocationID.x, h = gl_WorkGroupID.y, bz = gl_WorkGroupID.z;
    const bool live = qi < pc.p.Lq;
    const uint row = live ? qi : 0u; // idle lanes follow row 0 and store nothing
    const bool causal = pc.p.causal != 0u;

    vec4 qr[H4], acc[H4];
    const uint qb = pc.boff[0] + bz * pc.p.sq_b + row * pc.p.sq_tok + h * HD;
    for (uint d = 0; d < H4; d++) {
        qr[d] = vec4(float(q[qb + 4u * d]), float(q[qb + 4u * d + 1u]), float(q[qb + 4u * d + 2u]),
                     float(q[qb + 4u * d + 3u])) * pc.p.scale;
        acc[d] = vec4(0.0);
    }

    const uint kb = pc.boff[1] + bz * pc.p.sk_b + h * HD, vb = pc.boff[2] + bz * pc.p.sv_b + h * HD;
    // causal: no row of this workgroup sees keys past its last row
    const uint kend = causal ? min(pc.p.Lk, (gl_WorkGroupID.x + 1u) * gl_WorkGroupSize.x) : pc.p.Lk;
    float m = NEG, l = 0.0;
    for (uint j = 0; j < kend; j++) {
        const uint ke = kb + j * pc.p.sk_tok, ve = vb + j * pc.p.sv_tok;
        float s = 0.0;
        for (uint d = 0; d < H4; d++)
            s += dot(qr[d], RV_LOAD4(kw, ke + 4u * d));
        if (causal && j > row)
            s = NEG;
        const float mn = max(m, s);
        const float corr = exp(m - mn), pr = s <= NEG ? 0.0 : exp(s - mn);
        l = l * corr + pr;
        for (uint d = 0; d < H4; d++)
            acc[d] = acc[d] * corr + pr * RV_LOAD4(vw, ve + 4u * d);
        m = mn;
    }

    if (!live)
        return;
    const float inv = l > 0.0 ? 1.0 / l : 0.0;
    const uint ob = pc.boff[3] + bz * pc.p.so_b + row * pc.p.so_tok + h * HD;
    for (uint d = 0; d < H4; d++)
        for (uint c = 0; c < 4u; c++)
            o[ob + 4u * d + c] = T(acc[d][c] * inv);
}
