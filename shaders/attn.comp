#version 450
#extension GL_GOOGLE_include_directive : require
// Flash-style multi-head attention: one workgroup owns BR query rows of one
// head and streams K/V in tiles of BC keys with an online softmax, so no
// Lq x Lk score matrix is ever stored. Four threads share a query row.
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint BR = 32;
layout(constant_id = 2) const uint BC = 32;
layout(constant_id = 3) const uint DMAX = 64;
const uint TPR = 4;

layout(binding = 0) readonly buffer Q_ { T q[]; };
layout(binding = 1) readonly buffer K_ { T k[]; };
layout(binding = 2) readonly buffer V_ { T v[]; };
layout(binding = 3) writeonly buffer O_ { T o[]; };
layout(push_constant) uniform PC { uint boff[RV_PC_BINDINGS]; rv_pc_attn p; } pc;

// Q, K, V tiles are read back as vec4 (DMAX is a multiple of 16): on CPU
// devices every shared-memory load is a per-lane operation. Thread j of a
// row owns the output columns [j*DMAX/4, (j+1)*DMAX/4).
const uint DQ = DMAX / 4;  // vec4s per tile row
const uint DT = DQ / TPR;  // vec4s of output per thread
shared vec4 Qs[BR * DQ];
shared vec4 Ks[BC * DQ];
shared vec4 Vs[BC * DQ];
shared float S[BR * BC];

const float NEG = -1.0e30;

void main()
{
    const uint WG = gl_WorkGroupSize.x;
    const uint tid = gl_LocalInvocationID.x;
    const uint r = tid / TPR, j = tid % TPR;
    const uint q0 = gl_WorkGroupID.x * BR, h = gl_WorkGroupID.y, bz = gl_WorkGroupID.z;
    const uint D = pc.p.D, Lq = pc.p.Lq, Lk = pc.p.Lk;
    const bool causal = pc.p.causal != 0u;

    const uint qbase = pc.boff[0] + bz * pc.p.sq_b + h * D;
    const uint kbase = pc.boff[1] + bz * pc.p.sk_b + h * D;
    const uint vbase = pc.boff[2] + bz * pc.p.sv_b + h * D;
    const uint obase = pc.boff[3] + bz * pc.p.so_b + h * D;

    // whole rows of DMAX columns: the padding past D is zero, so whole-vec4
    // dot products and accumulations are exact
    for (uint i = tid; i < BR * DMAX; i += WG) {
        uint rr = i / DMAX, d = i % DMAX;
        uint qi = q0 + rr;
        Qs[rr * DQ + d / 4][d % 4] = (qi < Lq && d < D) ? float(q[qbase + qi * pc.p.sq_tok + d]) * pc.p.scale : 0.0;
    }

    barrier();
    // this thread's query row stays in registers for every key tile
    vec4 qreg[DQ];
    for (uint d4 = 0; d4 < DQ; d4++)
        qreg[d4] = Qs[r * DQ + d4];

    vec4 acc[DT];
    for (uint i = 0; i < DT; i++)
        acc[i] = vec4(0.0);
    float m = NEG, l = 0.0;
    const uint qrow = q0 + r;
    uint kend = causal ? min(Lk, q0 + BR) : Lk;

    for (uint k0 = 0; k0 < kend; k0 += BC) {
        barrier(); // previous tile fully consumed
        for (uint i = tid; i < BC * DMAX; i += WG) {
            uint cc = i / DMAX, d = i % DMAX;
            uint ki = k0 + cc;
            bool ok = ki < Lk && d < D;
            Ks[cc * DQ + d / 4][d % 4] = ok ? float(k[kbase + ki * pc.p.sk_tok + d]) : 0.0;
            Vs[cc * DQ + d / 4][d % 4] = ok ? float(v[vbase + ki * pc.p.sv_tok + d]) : 0.0;
        }
        barrier();
        for (uint cc = j; cc < BC; cc += TPR) {
            float s = 0.0;
            for (uint d4 = 0; d4 < DQ; d4++) // the padding past D is zero
                s += dot(qreg[d4], Ks[cc * DQ + d4]);
            uint ki = k0 + cc;
            bool ok = ki < Lk && (!causal || ki <= qrow);
            S[r * BC + cc] = ok ? s : NEG;
        }
        barrier();
        float mx = m;
        for (uint cc = 0; cc < BC; cc++)
            mx = max(mx, S[r * BC + cc]);
        barrier(); // every thread of the row has read the raw scores
        for (uint cc = j; cc < BC; cc += TPR) {
            float s = S[r * BC + cc];
            S[r * BC + cc] = s <= NEG ? 0.0 : exp(s - mx);
        }
        barrier();
        float corr = exp(m - mx);
        m = mx;
        l *= corr;
        for (uint i = 0; i < DT; i++)
            acc[i] *= corr;
        for (uint cc = 0; cc < BC; cc++) {
            float pr = S[r * BC + cc];
            l += pr;
            for (uint i = 0; i < DT; i++)
                acc[i] = fma(vec4(pr), Vs[cc * DQ + j * DT + i], acc[i]);
        }
    }
    if (qrow < Lq) {
        float inv = l > 0.0 ? 1.0 / l : 0.0;
        for (uint i = 0; i < DT; i++)
            for (uint c = 0; c < 4u; c++) {
                uint d = (j * DT + i) * 4u + c;
                if (d < D)
                    o[obase + qrow * pc.p.so_tok + d] = T(acc[i][c] * inv);
            }
    }
}
