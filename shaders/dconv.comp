#version 450
#extension GL_GOOGLE_include_directive : require
// Direct convolution: one invocation per output pixel, COT output channels
// per workgroup row (gl_WorkGroupID.y), the kernel walked in GEMM K order
// (channel, ky, kx), each input tap feeding COT multiply-adds from
// registers. The weight index is the same in every invocation, so the
// weights come from a uniform buffer: a load there at a uniform address is a
// scalar load on CPU devices (lavapipe), where a storage-buffer or
// shared-memory load is a loop over the lanes. There it beats the tiled GEMM
// (gemm.comp with CONV) for convolutions of up to 64 outputs and, with the
// input read through strides, for linear layers (a 1x1 conv over tokens); on
// GPUs it serves the RGB output conv, where a GEMM tile would be mostly
// padding. Same push constants as the conv GEMM and the same summation
// order, so the two agree exactly.
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint COT = 16;

layout(constant_id = 2) const uint WINDOW = 1024; // uvec4s in the weights' window

// weight [M][K], as 32-bit words (std140 arrays of uvec4 pack them tightly):
// fp32 one per word, fp16 two per word
layout(binding = 0) uniform A_ { uvec4 a[WINDOW]; };
layout(binding = 1) readonly buffer B_ { T b[]; };     // input: see sbk, sbn, sbb below
layout(binding = 2) readonly buffer Bias_ { T bias[]; };
layout(binding = 3) readonly buffer R_ { T res[]; };
layout(binding = 4) writeonly buffer C_ { T c[]; };
layout(push_constant) uniform PC { uint boff[RV_PC_BINDINGS]; rv_pc_gemm p; } pc;

float weight(uint e)
{
#ifdef RV_F16
    return unpackHalf2x16(a[e >> 3][(e >> 1) & 3u])[e & 1u];
#else
    return uintBitsToFloat(a[e >> 2][e & 3u]);
#endif
}

// weights e..e+3, e a multiple of 4: one uniform-buffer load
vec4 weight4(uint e)
{
#ifdef RV_F16
    uvec4 q = a[e >> 3];
    uvec2 h = (e & 4u) != 0u ? q.zw : q.xy;
    return vec4(unpackHalf2x16(h.x), unpackHalf2x16(h.y));
#else
    return uintBitsToFloat(a[e >> 2]);
#endif
}

void main()
{
    const uint N = pc.p.N, M = pc.p.M, K = pc.p.K;
    const uint px = gl_GlobalInvocationID.x;
    const uint co0 = gl_WorkGroupID.y * COT, bz = gl_WorkGroupID.z;
    const bool live = px < N;
    const uint oy = px / pc.p.ow, ox = px % pc.p.ow;
    const int iy0 = int(oy * pc.p.stride) - int(pc.p.pad);
    const int ix0 = int(ox * pc.p.stride) - int(pc.p.pad);
    const int H = int(pc.p.h), W = int(pc.p.w);
    // input element (channel, pixel) at ibase + channel * sbk + pixel * sbn:
    // an NCHW image (sbk = h*w, sbn = 1) or token-major rows (a linear
    // layer as a 1x1 conv over tokens: sbk = 1, sbn = K)
    const uint ibase = pc.boff[1] + bz * pc.p.sbb;
    const uint sc = pc.p.sbk, sp = pc.p.sbn;
    const uint wbase = pc.boff[0] + co0 * K;
    // rows past M repeat the last weight row (no branch in the inner loop);
    // their sums are never stored
    const uint mlast = min(M - co0, COT) - 1u;

    float acc[COT];
    for (uint i = 0; i < COT; i++)
        acc[i] = 0.0;

    if (K % 4u == 0u && wbase % 4u == 0u) {
        // four taps at a time: each output channel's four weights are one load
        uint ky = 0, kx = 0, plane = ibase;
        for (uint k = 0; k < K; k += 4u) {
            vec4 v;
            for (uint j = 0; j < 4u; j++) {
                const int iy = iy0 + int(ky), ix = ix0 + int(kx);
                v[j] = 0.0;
                if (live && iy >= 0 && iy < H && ix >= 0 && ix < W)
                    v[j] = float(b[plane + (uint(iy) * pc.p.w + uint(ix)) * sp]);
                kx++;
                if (kx == pc.p.kw) {
                    kx = 0u;
                    ky++;
                    if (ky == pc.p.kh) {
                        ky = 0u;
                        plane += sc;
                    }
                }
            }
            for (uint i = 0; i < COT; i++) {
                const vec4 w = weight4(wbase + min(i, mlast) * K + k);
                acc[i] = fma(w.x, v.x, acc[i]);
                acc[i] = fma(w.y, v.y, acc[i]);
                acc[i] = fma(w.z, v.z, acc[i]);
                acc[i] = fma(w.w, v.w, acc[i]);
            }
        }
    } else {
        uint k = 0;
        for (uint ci = 0; ci < pc.p.cin; ci++) {
            const uint plane = ibase + ci * sc;
            for (uint ky = 0; ky < pc.p.kh; ky++) {
                const int iy = iy0 + int(ky);
                const bool row = live && iy >= 0 && iy < H;
                for (uint kx = 0; kx < pc.p.kw; kx++, k++) {
                    const int ix = ix0 + int(kx);
                    float v = 0.0;
                    if (row && ix >= 0 && ix < W)
                        v = float(b[plane + (uint(iy) * pc.p.w + uint(ix)) * sp]);
                    for (uint i = 0; i < COT; i++)
                        acc[i] = fma(weight(wbase + min(i, mlast) * K + k), v, acc[i]);
                }
            }
        }
    }

    if (!live)
        return;
    const uint cbase = bz * pc.p.scb;
    for (uint i = 0; i < COT; i++) {
        const uint gm = co0 + i;
        if (gm >= M)
            break;
        float v = acc[i] * pc.p.alpha;
        if ((pc.p.flags & RV_GEMM_BIAS_M) != 0u)
            v += float(bias[pc.boff[2] + gm]);
        const uint o = cbase + gm * pc.p.scm + px * pc.p.scn;
        if ((pc.p.flags & RV_GEMM_RESIDUAL) != 0u)
            v += float(res[pc.boff[3] + o]);
        if ((pc.p.flags & RV_GEMM_RELU) != 0u)
            v = max(v, 0.0);
        c[pc.boff[4] + o] = T(v);
    }
}
