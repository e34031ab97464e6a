/* Seeded Gaussian noise for the initial latent and LCM's per-step noise:
 * Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2,
 * 3", SC'11), a counter-based generator, and the Box-Muller transform in
 * double precision, rounded once to float32. Value i of stream s under seed
 * k is a pure function of (k, s, i): the same on every run and device, and
 * independent of the tensor's size or of how many values are drawn. Drawn
 * on the CPU (a few thousand values per frame), so no GPU's transcendental
 * functions enter; only the C library's double log/sin/cos do, before the
 * rounding to float32 (another libm could change the last bit of a rare
 * value). Not torch.randn: diffusers' noise for a seed cannot be
 * reproduced; give it with --noise-file instead. */
#ifndef RV_NOISE_H
#define RV_NOISE_H

#include <stddef.h>
#include <stdint.h>

/* Stream 0 is the initial latent noise; stream 1 + i the noise LCM's step i adds. */
#define RV_NOISE_STREAM_INIT 0u
#define RV_NOISE_STREAM_STEP(i) (1u + (uint32_t)(i))

/* Philox4x32-10 of counter ctr[4] under key[2] -> out[4]. */
void rv_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* out[i] = N(0, 1) value (first + i) of `stream` under `seed`, i < n. */
void rv_noise_normal(uint64_t seed, uint32_t stream, uint64_t first, float *out, size_t n);

#endif
