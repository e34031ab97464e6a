/* IEEE binary16 (fp16) and bfloat16 conversions to and from float32, scalar
 * and array forms, exact and round-to-nearest-even. Plain C on the host; not
 * a GPU path and not a tensor type. */
#ifndef RV_HALF_H
#define RV_HALF_H

#include <stddef.h>
#include <stdint.h>

/* float32 -> fp16, round to nearest even. Overflow gives +-inf, tiny values
 * become subnormals or signed zero, NaN stays NaN (sign and top payload bits
 * kept; a payload that would vanish becomes the quiet bit). */
uint16_t rv_f32_to_f16(float f);
/* fp16 -> float32; exact for every bit pattern (subnormals, inf, NaN payload). */
float rv_f16_to_f32(uint16_t h);

/* bfloat16 -> float32; exact (a bf16 is the top half of a float32). */
float rv_bf16_to_f32(uint16_t b);
/* float32 -> bfloat16, round to nearest even; NaN stays NaN. */
uint16_t rv_f32_to_bf16(float f);

/* Array forms: outputs first, count last. src and dst must not overlap. */
void rv_f32_to_f16_array(uint16_t *dst, const float *src, size_t n);
void rv_f16_to_f32_array(float *dst, const uint16_t *src, size_t n);
void rv_bf16_to_f32_array(float *dst, const uint16_t *src, size_t n);
void rv_f32_to_bf16_array(uint16_t *dst, const float *src, size_t n);

#endif
