#version 450
#extension GL_GOOGLE_include_directive : require
// Sinusoidal timestep embedding, as diffusers' get_timestep_embedding:
// freq_j = exp(-ln(max_period) * j / (half - shift)); [sin | cos] of
// scale*t*freq_j, swapped to [cos | sin] by flip, zero-padded if dim is odd.
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(binding = 0) readonly buffer Ts_ { float ts[]; };
layout(binding = 1) writeonly buffer Y_ { T y[]; };
layout(push_constant) uniform PC { uint boff[RV_PC_BINDINGS]; rv_pc_temb p; } pc;

void main()
{
    uint i = flat_group() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    if (i >= pc.p.batch * pc.p.dim)
        return;
    uint bz = i / pc.p.dim, k = i % pc.p.dim;
    uint half_ = pc.p.dim / 2u;
    float v = 0.0;
    if (k < 2u * half_) {
        uint jj = k < half_ ? k : k - half_;
        float expo = -log(pc.p.max_period) * float(jj);
        expo = expo / (float(half_) - pc.p.shift);
        float arg = pc.p.scale * (ts[pc.boff[0] + bz] * exp(expo));
        // Cody-Waite reduction to [-pi, pi]: GPU sin/cos lose accuracy on
        // large arguments (t = 999 gives arguments near 1000 rad).
        float nq = round(arg * 0.15915494309189535);
        float red = (arg - nq * 6.28125) - nq * 1.9353071795864769e-3;
        bool first = k < half_;
        bool use_sin = (pc.p.flip != 0u) ? !first : first;
        v = use_sin ? sin(red) : cos(red);
    }
    y[pc.boff[1] + i] = T(v);
}
