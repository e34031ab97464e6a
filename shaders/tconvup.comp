#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
// A 3x3 convolution (stride 1, padding 1) of a nearest-upsampled (2x) input,
// read from the input before upsampling, for CPU devices (lavapipe): a TAESD
// decoder's conv after each upsample. Output pixel (2i + a, 2j + b) of the
// upsampled image's 3x3 window sees only the 2x2 source pixels rows
// i - 1 + a .. i + a, columns j - 1 + b .. j + b, with the kernel's rows and
// columns merged where two of them fall on one source pixel:
//   a = 0: source row i - 1 takes kernel row 0, row i rows 1 + 2
//   a = 1: source row i takes kernel rows 0 + 1, row i + 1 row 2
// (columns the same with b). So each output costs 4 multiply-adds per input
// channel instead of 9, and the upsampled tensor is never written. The
// merged weights are summed here in fp32 from the 3x3 ones (a few adds per
// 64 multiply-adds): no derived tensor to keep.
//
// Layout as tconv.comp (runtime/gpu/PERFORMANCE.md has why): the input and
// weights are read as RGBA texels; an invocation takes one source texel of 4
// pixels in one source row, that is 8 output pixels in each of output rows
// 2i and 2i + 1, for COT output channels, walking the input channels 4 at a
// time with its accumulators in registers.
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint COT = 4; // output channels per invocation
// SG > 0: the weights fetched SG texels at a time and shuffled (tconv.comp)
layout(constant_id = 2) const uint SG = 0;
const uint SGD = SG == 0u ? 1u : SG;
const uint NWF = SG > 0u ? (COT * 9u + SGD - 1u) / SGD : 1u;

// weight [M][cin*9] and the NCHW source as RGBA texels (boff[0], boff[1]
// count texels); pc.p.h, pc.p.w are the source's size, oh = 2h, ow = 2w
layout(binding = 0) uniform samplerBuffer wtex;
layout(binding = 1) uniform samplerBuffer xtex;
layout(binding = 2) uniform samplerBuffer btex; // bias as RGBA texels (boff[2] in texels)
layout(binding = 3) uniform samplerBuffer rtex; // unused (no residual on this path)
layout(binding = 4) writeonly buffer C_ { T c[]; };
layout(push_constant) uniform PC { uint boff[RV_PC_BINDINGS]; rv_pc_gemm p; } pc;

void main()
{
    const uint W4 = pc.p.w >> 2u; // source texels per row
    const uint s = gl_GlobalInvocationID.x;
    const uint iy = s / W4, tx = s - iy * W4;
    const bool live = iy < pc.p.h;
    const uint co0 = gl_WorkGroupID.y * COT, bz = gl_WorkGroupID.z;
    const int H = int(pc.p.h);
    const uint plane = pc.p.h * W4;
    const uint xbase = pc.boff[1] + bz * (pc.p.sbb >> 2u);
    const uint K4 = pc.p.K >> 2u;
    const uint mlast = min(pc.p.M - co0, COT) - 1u;

    // acc[i][a * 8 + 2 * m + b]: output channel i, output row 2 * iy + a,
    // output column 2 * (4 * tx + m) + b
    float acc[COT][16];
    [[unroll]] for (uint i = 0u; i < COT; i++)
        [[unroll]] for (uint j = 0u; j < 16u; j++)
            acc[i][j] = 0.0;

    for (uint ci = 0u; ci < pc.p.cin; ci += 4u) {
        // source rows iy - 1 .. iy + 1, pixels 4 * tx - 1 .. 4 * tx + 4
        float x[4][3][6];
        [[unroll]] for (uint c = 0u; c < 4u; c++) {
            [[unroll]] for (uint r = 0u; r < 3u; r++) {
                const int sy = int(iy + r) - 1;
                const bool row = live && sy >= 0 && sy < H;
                const uint rbase = xbase + (ci + c) * plane + uint(row ? sy : 0) * W4;
                [[unroll]] for (uint t = 0u; t < 3u; t++) {
                    const int stx = int(tx + t) - 1;
                    const bool ok = row && stx >= 0 && stx < int(W4);
                    const vec4 v = ok ? texelFetch(xtex, int(rbase) + stx) : vec4(0.0);
                    [[unroll]] for (uint j = 0u; j < 4u; j++) {
                        const int q = int(t * 4u + j) - 3;
                        if (q >= 0 && q < 6)
                            x[c][r][q] = v[j];
                    }
                }
            }
        }
        vec4 wv[NWF];
        if (SG > 0u) {
            const uint lane = gl_SubgroupInvocationID;
            [[unroll]] for (uint k = 0u; k < NWF; k++) {
                const uint f = k * SG + lane, i = min(f / 9u, COT - 1u), t = f - (f / 9u) * 9u;
                wv[k] = texelFetch(wtex, int(pc.boff[0] + (co0 + min(i, mlast)) * K4 + (ci * 9u >> 2u) + t));
            }
        }
        [[unroll]] for (uint i = 0u; i < COT; i++) {
            const uint wrow = pc.boff[0] + (co0 + min(i, mlast)) * K4 + (ci * 9u >> 2u);
            float w[36];
            [[unroll]] for (uint t = 0u; t < 9u; t++) {
                const uint f = i * 9u + t;
                const vec4 v = SG > 0u ? subgroupShuffle(wv[f / SGD], f % SGD) : texelFetch(wtex, int(wrow + t));
                [[unroll]] for (uint j = 0u; j < 4u; j++)
                    w[t * 4u + j] = v[j];
            }
            [[unroll]] for (uint c = 0u; c < 4u; c++) {
                // rows merged: R[a][r][kx], source row iy - 1 + a + r
                float R[2][2][3];
                [[unroll]] for (uint kx = 0u; kx < 3u; kx++) {
                    const float k0 = w[c * 9u + kx], k1 = w[c * 9u + 3u + kx], k2 = w[c * 9u + 6u + kx];
                    R[0][0][kx] = k0;
                    R[0][1][kx] = k1 + k2;
                    R[1][0][kx] = k0 + k1;
                    R[1][1][kx] = k2;
                }
                [[unroll]] for (uint a = 0u; a < 2u; a++)
                    [[unroll]] for (uint r = 0u; r < 2u; r++) {
                        // columns merged: E[b][cc], source column j - 1 + b + cc
                        const float e00 = R[a][r][0], e01 = R[a][r][1] + R[a][r][2];
                        const float e10 = R[a][r][0] + R[a][r][1], e11 = R[a][r][2];
                        [[unroll]] for (uint m = 0u; m < 4u; m++) {
                            // source column 4 * tx + m is x[..][m + 1]
                            acc[i][a * 8u + 2u * m] = fma(e00, x[c][a + r][m], acc[i][a * 8u + 2u * m]);
                            acc[i][a * 8u + 2u * m] = fma(e01, x[c][a + r][m + 1u], acc[i][a * 8u + 2u * m]);
                            acc[i][a * 8u + 2u * m + 1u] = fma(e10, x[c][a + r][m + 1u], acc[i][a * 8u + 2u * m + 1u]);
                            acc[i][a * 8u + 2u * m + 1u] = fma(e11, x[c][a + r][m + 2u], acc[i][a * 8u + 2u * m + 1u]);
                        }
                    }
            }
        }
    }

    if (!live)
        return;
    const uint cbase = bz * pc.p.scb, ow = 2u * pc.p.w;
    [[unroll]] for (uint i = 0u; i < COT; i++) {
        const uint gm = co0 + i;
        if (gm >= pc.p.M)
            break;
        const float b = (pc.p.flags & RV_GEMM_BIAS_M) != 0u ? rv_texel_elem(texelFetch(btex, int(pc.boff[2] + (gm >> 2u))), gm) : 0.0;
        [[unroll]] for (uint a = 0u; a < 2u; a++) {
            const uint px0 = (2u * iy + a) * ow + 8u * tx;
            [[unroll]] for (uint j = 0u; j < 8u; j++) {
                float v = acc[i][a * 8u + j] * pc.p.alpha;
                if ((pc.p.flags & RV_GEMM_BIAS_M) != 0u)
                    v += b;
                if ((pc.p.flags & RV_GEMM_RELU) != 0u)
                    v = max(v, 0.0);
                c[pc.boff[4] + cbase + gm * pc.p.scm + px0 + j] = T(v);
            }
        }
    }
}
