#version 450
#extension GL_GOOGLE_include_directive : require
// Tiled GEMM C = alpha*A*B + bias + residual, fp32 accumulation. With CONV
// defined, B is gathered from an NCHW image by implicit im2col, so a
// convolution is this same GEMM with M = Cout, N = OH*OW, K = Cin*KH*KW.
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint BM = 64;
layout(constant_id = 2) const uint BN = 64;
layout(constant_id = 3) const uint BK = 16;
layout(constant_id = 4) const uint TM = 4;
layout(constant_id = 5) const uint TN = 4;

layout(binding = 0) readonly buffer A_ { T a[]; };
layout(binding = 1) readonly buffer B_ { T b[]; };
layout(binding = 2) readonly buffer Bias_ { T bias[]; };
layout(binding = 3) readonly buffer R_ { T res[]; };
layout(binding = 4) writeonly buffer C_ { T c[]; };
layout(push_constant) uniform PC { uint boff[RV_PC_BINDINGS]; rv_pc_gemm p; } pc;

// Tiles are read in vec4 pieces: on CPU devices every shared-memory load is a
// per-lane operation, so four floats per load matter (TM, TN multiples of 4).
shared vec4 As[BK * BM / 4];
shared vec4 Bs[BK * BN / 4];

void main()
{
    const uint WG = gl_WorkGroupSize.x;
    const uint tid = gl_LocalInvocationID.x;
    const uint CT = BN / TN; // threads along n
    const uint tn = tid % CT, tm = tid / CT;
    const uint n0 = gl_WorkGroupID.x * BN, m0 = gl_WorkGroupID.y * BM, bz = gl_WorkGroupID.z;
    const uint M = pc.p.M, N = pc.p.N, K = pc.p.K;

    const uint abase = pc.boff[0] + bz * pc.p.sab;
#ifdef CONV
    const uint KK = pc.p.kh * pc.p.kw;
    const uint bbase = pc.boff[1] + bz * pc.p.cin * pc.p.h * pc.p.w;
#else
    const uint bbase = pc.boff[1] + bz * pc.p.sbb;
#endif

    float acc[TM * TN];
    for (uint i = 0; i < TM * TN; i++)
        acc[i] = 0.0;

#ifdef CONV
    // When the workgroup is a multiple of BN wide, each invocation loads the
    // same output pixel (column nn) of every B tile and walks K in steps of
    // WG / BN. Its pixel's origin and its (channel, ky, kx) position are then
    // carried across tiles and advanced by additions: the im2col gather does
    // no integer division, which CPUs do lane by lane (the loads were most of
    // a narrow convolution's time on lavapipe).
    const uint KSTEP = max(WG / BN, 1u);
    const bool walk = WG % BN == 0u && BK % KSTEP == 0u; // each tile's walk ends where the next begins
    const uint nn_w = tid % BN;
    int py = -0x40000000, px = 0;
    uint wci = 0u, wky = 0u, wkx = 0u;
    if (walk) {
        uint gn = n0 + nn_w;
        if (gn < N) {
            py = int((gn / pc.p.ow) * pc.p.stride) - int(pc.p.pad);
            px = int((gn % pc.p.ow) * pc.p.stride) - int(pc.p.pad);
        }
        uint k = tid / BN; // the first K index this invocation loads
        wci = k / KK;
        wky = (k % KK) / pc.p.kw;
        wkx = k % pc.p.kw;
    }
#endif

    for (uint k0 = 0; k0 < K; k0 += BK) {
        for (uint i = tid; i < BM * BK; i += WG) {
            uint kk = i % BK, mm = i / BK;
            uint gm = m0 + mm, gk = k0 + kk;
            float v = 0.0;
            if (gm < M && gk < K)
                v = float(a[abase + gm * pc.p.sam + gk * pc.p.sak]);
            As[(kk * BM + mm) / 4][mm % 4] = v;
        }
#ifdef CONV
        if (walk) {
            for (uint kk = tid / BN; kk < BK; kk += KSTEP) {
                uint gk = k0 + kk;
                float v = 0.0;
                int iy = py + int(wky), ix = px + int(wkx);
                if (gk < K && iy >= 0 && ix >= 0 && iy < int(pc.p.h) && ix < int(pc.p.w))
                    v = float(b[bbase + (wci * pc.p.h + uint(iy)) * pc.p.w + uint(ix)]);
                Bs[(kk * BN + nn_w) / 4][nn_w % 4] = v;
                wkx += KSTEP;
                while (wkx >= pc.p.kw) {
                    wkx -= pc.p.kw;
                    if (++wky == pc.p.kh) {
                        wky = 0u;
                        wci++;
                    }
                }
            }
        } else
#endif
        for (uint i = tid; i < BK * BN; i += WG) {
            uint nn = i % BN, kk = i / BN;
            uint gn = n0 + nn, gk = k0 + kk;
            float v = 0.0;
            if (gn < N && gk < K) {
#ifdef CONV
                uint ci = gk / KK, r = gk % KK;
                uint ky = r / pc.p.kw, kx = r % pc.p.kw;
                uint oy = gn / pc.p.ow, ox = gn % pc.p.ow;
                int iy = int(oy * pc.p.stride + ky) - int(pc.p.pad);
                int ix = int(ox * pc.p.stride + kx) - int(pc.p.pad);
                if (iy >= 0 && ix >= 0 && iy < int(pc.p.h) && ix < int(pc.p.w))
                    v = float(b[bbase + (ci * pc.p.h + uint(iy)) * pc.p.w + uint(ix)]);
#else
                v = float(b[bbase + gk * pc.p.sbk + gn * pc.p.sbn]);
#endif
            }
            Bs[(kk * BN + nn) / 4][nn % 4] = v;
        }
        barrier();
        for (uint kk = 0; kk < BK; kk++) {
            vec4 ra[TM / 4], rb[TN / 4];
            for (uint i = 0; i < TM / 4; i++)
                ra[i] = As[(kk * BM + tm * TM) / 4 + i];
            for (uint j = 0; j < TN / 4; j++)
                rb[j] = Bs[(kk * BN + tn * TN) / 4 + j];
            for (uint i = 0; i < TM; i++)
                for (uint j = 0; j < TN; j++)
                    acc[i * TN + j] = fma(ra[i / 4][i % 4], rb[j / 4][j % 4], acc[i * TN + j]);
        }
        barrier();
    }

    const uint cbase = bz * pc.p.scb;
    for (uint i = 0; i < TM; i++) {
        uint gm = m0 + tm * TM + i;
        if (gm >= M)
            continue;
        for (uint j = 0; j < TN; j++) {
            uint gn = n0 + tn * TN + j;
            if (gn >= N)
                continue;
            float v = acc[i * TN + j] * pc.p.alpha;
            if ((pc.p.flags & RV_GEMM_BIAS_M) != 0u)
                v += float(bias[pc.boff[2] + gm]);
            if ((pc.p.flags & RV_GEMM_BIAS_N) != 0u)
                v += float(bias[pc.boff[2] + gn]);
            uint ci = cbase + gm * pc.p.scm + gn * pc.p.scn;
            if ((pc.p.flags & RV_GEMM_RESIDUAL) != 0u)
                v += float(res[pc.boff[3] + ci]);
            if ((pc.p.flags & RV_GEMM_RELU) != 0u)
                v = max(v, 0.0);
            c[pc.boff[4] + ci] = T(v);
        }
    }
}
