/* fp16 / bf16 <-> float32 conversion by integer bit manipulation, so results
 * do not depend on the compiler's _Float16 support or the FPU rounding mode.
 * Not vectorised by hand: the compiler does well enough on these loops. */
#include <string.h>

#include "util/half.h"

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float f32_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

uint16_t rv_f32_to_f16(float f)
{
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    x &= 0x7fffffffu;

    if (x >= 0x7f800000u) {                     /* inf or NaN */
        if (x == 0x7f800000u)
            return sign | 0x7c00u;
        uint16_t payload = (uint16_t)((x >> 13) & 0x3ffu);
        return sign | 0x7c00u | (payload ? payload : 0x200u);
    }
    if (x >= 0x477ff000u)                       /* >= 65520: rounds to inf */
        return sign | 0x7c00u;
    if (x >= 0x38800000u) {                     /* normal fp16 range */
        uint32_t v = x - 0x38000000u;           /* rebias exponent 127 -> 15 */
        uint32_t r = v >> 13, rem = v & 0x1fffu;
        if (rem > 0x1000u || (rem == 0x1000u && (r & 1u)))
            r++;                                /* a carry into the exponent is right */
        return sign | (uint16_t)r;
    }
    if (x <= 0x33000000u)                       /* <= 2^-25: ties to even give zero */
        return sign;
    /* Subnormal fp16: value = m * 2^(e-150), in units of 2^-24 that is m >> (126-e). */
    uint32_t e = x >> 23, m = (x & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126u - e;                  /* 14 .. 24 */
    uint32_t r = m >> shift, rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (r & 1u)))
        r++;                                    /* may reach 0x400, the smallest normal */
    return sign | (uint16_t)r;
}

float rv_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;

    if (e == 0x1f)
        return f32_from_bits(sign | 0x7f800000u | (m << 13));
    if (e != 0)
        return f32_from_bits(sign | ((e + 112u) << 23) | (m << 13));
    if (m == 0)
        return f32_from_bits(sign);
    /* Subnormal: normalise so the leading one becomes the implicit bit. */
    e = 113u;
    while (!(m & 0x400u)) {
        m <<= 1;
        e--;
    }
    return f32_from_bits(sign | (e << 23) | ((m & 0x3ffu) << 13));
}

float rv_bf16_to_f32(uint16_t b)
{
    return f32_from_bits((uint32_t)b << 16);
}

uint16_t rv_f32_to_bf16(float f)
{
    uint32_t x = f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) {      /* NaN: truncate, keep it a NaN */
        uint16_t r = (uint16_t)(x >> 16);
        return (r & 0x7fu) ? r : (uint16_t)(r | 0x40u);
    }
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

void rv_f32_to_f16_array(uint16_t *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = rv_f32_to_f16(src[i]);
}

void rv_f16_to_f32_array(float *dst, const uint16_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = rv_f16_to_f32(src[i]);
}

void rv_bf16_to_f32_array(float *dst, const uint16_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = rv_bf16_to_f32(src[i]);
}

void rv_f32_to_bf16_array(uint16_t *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = rv_f32_to_bf16(src[i]);
}
