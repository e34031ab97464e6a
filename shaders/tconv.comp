#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_KHR_shader_subgroup_basic : require
// Direct convolution for CPU devices (lavapipe), stride 1, 3x3 with padding 1
// or 1x1 without, rows a multiple of 4 pixels wide; and 3x3 with stride 2
// (a UNet's downsampling), 4 outputs per invocation. It is not the GPU path
// (GPUs keep gemm.comp's tiles) and not a general conv: ops.c sends it only
// the shapes above (see rv_op_conv2d).
//
// Why it looks like this (runtime/gpu/PERFORMANCE.md has the measurements):
// llvmpipe runs 8 invocations as the lanes of one 256-bit vector. A load
// from a storage or uniform buffer at an address it cannot prove uniform is
// done lane by lane (or as an emulated gather), while a texel fetch from a
// buffer view loads one 16-byte texel per lane and transposes them: about
// 1.4 instructions per value instead of 16-30. So the input and the weights
// are both read as RGBA texels (fp16 or fp32 views: the fetch converts), each
// invocation computes XT texels = 4*XT adjacent output pixels of one row for
// COT output channels, and the kernel walks the input channels 4 at a time:
// the 4 channels' rows (with one texel of halo each side for 3x3) are
// fetched once, then for each output channel its 4*KS*KS weights (KS*KS
// texels) are fetched and applied to all 4*XT pixels while that channel's
// accumulators stay in registers. Every loop but the channel loop has a
// constant trip count, so the compiler unrolls them and no accumulator is a
// dynamically indexed array (which llvmpipe would keep in memory, with an
// exec-mask blend per update).
//
// Each output is summed in GEMM K order (channel, ky, kx), as dconv.comp and
// the conv GEMM do, so the three agree exactly.
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint COT = 8; // output channels per invocation
layout(constant_id = 2) const uint XT = 2;  // texels (4 pixels each) per invocation, along the row
layout(constant_id = 3) const uint KS = 3;  // kernel size: 3 (padding 1) or 1 (padding 0)
layout(constant_id = 4) const uint S = 1;   // stride: 1, or 2 (with KS = 3, XT = 1: UNet downsampling)
// SG > 0 (the subgroup size; the workgroup is whole subgroups): the weights
// of the COT channels are fetched SG texels at a time, each lane its own,
// and handed to every lane by subgroupShuffle with a constant lane, which
// llvmpipe turns into a register permute. Without it every lane fetches
// every weight texel itself, at one gather each: on lavapipe that was half
// of the texel fetches and a third of the time of a 16->16 conv, and with
// the weights nearly free 16 output channels per invocation share each
// fetched input row (runtime/gpu/PERFORMANCE.md).
layout(constant_id = 5) const uint SG = 0;

// weight [M][K] (K = cin*KS*KS, a multiple of 4), the NCHW input and the
// residual, as RGBA texels: boff[0], boff[1] and boff[3] count texels, the
// other offsets elements. With a residual the output is NCHW (scn = 1), so
// 4 adjacent outputs are one residual texel.
layout(binding = 0) uniform samplerBuffer wtex;
layout(binding = 1) uniform samplerBuffer xtex;
layout(binding = 2) uniform samplerBuffer btex; // bias as RGBA texels (boff[2] in texels)
layout(binding = 3) uniform samplerBuffer rtex; // residual, NCHW like the output (boff[3] in texels)
layout(binding = 4) writeonly buffer C_ { T c[]; };
layout(push_constant) uniform PC { uint boff[RV_PC_BINDINGS]; rv_pc_gemm p; } pc;

const uint HALO = KS / 2u;     // texels either side of the strip (pixels: 1 of the 4 used)
const uint NT = S == 1u ? XT + 2u * HALO : 2u * XT + 1u; // texels fetched per input row
const uint TAPS = KS * KS;
const uint SGD = SG == 0u ? 1u : SG;
const uint NWF = SG > 0u ? (COT * TAPS + SGD - 1u) / SGD : 1u; // weight fetches per 4 input channels
// input pixels kept per row: stride 1, the strip's 4*XT and HALO each side;
// stride 2 (XT = 1), the 8 under the strip's 4 outputs and one to the left
const uint XP = S == 1u ? 4u * XT + 2u * HALO : 9u;

void main()
{
    const uint W4 = pc.p.ow >> 2u; // output texels per row
    const uint WI = pc.p.w >> 2u;  // input texels per row (W4 with stride 1)
    const uint strips = W4 / XT;   // per row (ops.c: W4 % XT == 0)
    const uint s = gl_GlobalInvocationID.x;
    const uint oy = s / strips, tx0 = (s - oy * strips) * XT;
    const bool live = oy < pc.p.oh;
    const uint co0 = gl_WorkGroupID.y * COT, bz = gl_WorkGroupID.z;
    const int H = int(pc.p.h);
    const uint plane = pc.p.h * WI; // texels per channel
    const uint xbase = pc.boff[1] + bz * (pc.p.sbb >> 2u);
    const uint K4 = pc.p.K >> 2u;   // texels per weight row
    // rows past M repeat the last weight row (no branch in the loop); their
    // sums are never stored
    const uint mlast = min(pc.p.M - co0, COT) - 1u;

    float acc[COT][4u * XT];
    [[unroll]] for (uint i = 0u; i < COT; i++)
        [[unroll]] for (uint j = 0u; j < 4u * XT; j++)
            acc[i][j] = 0.0;

    for (uint ci = 0u; ci < pc.p.cin; ci += 4u) {
        // the 4 channels' input rows: x[c][ky][q], q the pixel from HALO
        // pixels left of the strip (the last pixel of the halo texel)
        float x[4][KS][XP];
        [[unroll]] for (uint c = 0u; c < 4u; c++) {
            [[unroll]] for (uint ky = 0u; ky < KS; ky++) {
                const int iy = int(oy * S + ky) - int(HALO);
                const bool row = live && iy >= 0 && iy < H;
                const uint rbase = xbase + (ci + c) * plane + uint(row ? iy : 0) * WI;
                [[unroll]] for (uint t = 0u; t < NT; t++) {
                    const int tx = int(S * tx0 + t) - int(HALO);
                    const bool ok = row && tx >= 0 && tx < int(WI);
                    const vec4 v = ok ? texelFetch(xtex, int(rbase) + tx) : vec4(0.0);
                    // keep the pixels the taps use: all of the strip's
                    // texels, the last of the left halo, the first of the right
                    [[unroll]] for (uint j = 0u; j < 4u; j++) {
                        const int q = int(t * 4u + j) - int(4u * HALO) + int(HALO);
                        if (q >= 0 && q < int(XP))
                            x[c][ky][q] = v[j];
                    }
                }
            }
        }
        // the COT channels' weights for these 4 input channels, COT*TAPS
        // texels in (channel, tap) order, texel f in lane f % SG of wv[f / SG]
        vec4 wv[NWF];
        if (SG > 0u) {
            const uint lane = gl_SubgroupInvocationID;
            [[unroll]] for (uint k = 0u; k < NWF; k++) {
                const uint f = k * SG + lane, i = min(f / TAPS, COT - 1u), t = f - (f / TAPS) * TAPS;
                wv[k] = texelFetch(wtex, int(pc.boff[0] + (co0 + min(i, mlast)) * K4 + (ci * TAPS >> 2u) + t));
            }
        }
        [[unroll]] for (uint i = 0u; i < COT; i++) {
            const uint wrow = pc.boff[0] + (co0 + min(i, mlast)) * K4 + (ci * TAPS >> 2u);
            // this output channel's 4*TAPS weights for the 4 channels
            float w[4u * TAPS];
            [[unroll]] for (uint t = 0u; t < TAPS; t++) {
                const uint f = i * TAPS + t;
                const vec4 v = SG > 0u ? subgroupShuffle(wv[f / SGD], f % SGD) : texelFetch(wtex, int(wrow + t));
                [[unroll]] for (uint j = 0u; j < 4u; j++)
                    w[t * 4u + j] = v[j];
            }
            [[unroll]] for (uint c = 0u; c < 4u; c++)
                [[unroll]] for (uint ky = 0u; ky < KS; ky++)
                    [[unroll]] for (uint kx = 0u; kx < KS; kx++) {
                        const float wk = w[(c * KS + ky) * KS + kx];
                        [[unroll]] for (uint j = 0u; j < 4u * XT; j++)
                            acc[i][j] = fma(wk, x[c][ky][S * j + kx], acc[i][j]);
                    }
        }
    }

    if (!live)
        return;
    const uint cbase = bz * pc.p.scb;
    [[unroll]] for (uint i = 0u; i < COT; i++) {
        const uint gm = co0 + i;
        if (gm >= pc.p.M)
            break;
        // one bias texel fetch per channel (a storage-buffer load would be a loop over the lanes)
        const float b = (pc.p.flags & RV_GEMM_BIAS_M) != 0u ? rv_texel_elem(texelFetch(btex, int(pc.boff[2] + (gm >> 2u))), gm) : 0.0;
        [[unroll]] for (uint xt = 0u; xt < XT; xt++) {
            const uint px0 = oy * pc.p.ow + (tx0 + xt) * 4u;
            vec4 r = vec4(0.0);
            if ((pc.p.flags & RV_GEMM_RESIDUAL) != 0u)
                r = texelFetch(rtex, int(pc.boff[3] + ((cbase + gm * pc.p.scm + px0) >> 2u)));
            [[unroll]] for (uint j = 0u; j < 4u; j++) {
                float v = acc[i][xt * 4u + j] * pc.p.alpha;
                if ((pc.p.flags & RV_GEMM_BIAS_M) != 0u)
                    v += b;
                if ((pc.p.flags & RV_GEMM_RESIDUAL) != 0u)
                    v += r[j];
                if ((pc.p.flags & RV_GEMM_RELU) != 0u)
                    v = max(v, 0.0);
                c[pc.boff[4] + cbase + gm * pc.p.scm + (px0 + j) * pc.p.scn] = T(v);
            }
        }
    }
}
