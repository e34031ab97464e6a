// Shared by every compute shader: the storage type T (fp16 storage with
// fp32 arithmetic under RV_F16, fp32 otherwise), the push-constant header
// and a flat invocation index for 2D grids.
#ifdef RV_F16
#extension GL_EXT_shader_16bit_storage : require
#define T float16_t
#define T4 f16vec4
#else
#define T float
#define T4 vec4
#endif
#include "rv_pc.h"

// Grids wider than the 65535 limit are folded into y (see ops.c: grid1d).
uint flat_group()
{
    return gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
}

float rv_erf(float x)
{
    // Abramowitz & Stegun 7.1.26: absolute error below 1.5e-7, far inside
    // the fp32 GELU tolerance (NMSE 1e-7) the op tests hold it to.
    float a = abs(x);
    float t = 1.0 / (1.0 + 0.3275911 * a);
    float y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-a * a);
    return sign(x) * y;
}

float rv_gelu(float x) { return 0.5 * x * (1.0 + rv_erf(x * 0.70710678118654752)); }
float rv_sigmoid(float x) { return 1.0 / (1.0 + exp(-x)); }
float rv_tanh(float x)
{
    float c = clamp(x, -15.0, 15.0);
    float e = exp(2.0 * c);
    return (e - 1.0) / (e + 1.0);
}

// Element e of an RGBA texel view (v: the texel holding it, e & 3 picked by
// selects, not a dynamic index: llvmpipe spills a vector to index it)
float rv_texel_elem(vec4 v, uint e)
{
    const uint j = e & 3u;
    return j == 0u ? v.x : j == 1u ? v.y : j == 2u ? v.z : v.w;
}
