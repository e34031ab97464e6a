/* Philox4x32-10 + Box-Muller (see noise.h). Value j of a stream comes from
 * counter block j/4 = {low 32 bits, high 32 bits, stream, 0}: its four
 * words make two (u1, u2) pairs, each pair two normals
 * sqrt(-2 ln u1) * (cos 2 pi u2, sin 2 pi u2), with u1 in (0, 1] and u2 in
 * [0, 1) from the top 24 bits of a word (exact in float32 and double). */
#include <math.h>

#include "engine/noise.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void rv_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3], k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0, p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0, hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

static void block(uint64_t seed, uint32_t stream, uint64_t b, double z[4])
{
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    const uint32_t ctr[4] = {(uint32_t)b, (uint32_t)(b >> 32), stream, 0};
    uint32_t r[4];
    rv_philox4x32(ctr, key, r);
    const double two_pi = 6.283185307179586476925286766559;
    for (int p = 0; p < 2; p++) {
        double u1 = ((double)(r[2 * p] >> 8) + 1.0) * 0x1p-24;
        double u2 = (double)(r[2 * p + 1] >> 8) * 0x1p-24;
        double rad = sqrt(-2.0 * log(u1));
        z[2 * p] = rad * cos(two_pi * u2);
        z[2 * p + 1] = rad * sin(two_pi * u2);
    }
}

void rv_noise_normal(uint64_t seed, uint32_t stream, uint64_t first, float *out, size_t n)
{
    double z[4];
    uint64_t have = UINT64_MAX;
    for (size_t i = 0; i < n; i++) {
        uint64_t j = first + i, b = j / 4;
        if (b != have) {
            block(seed, stream, b, z);
            have = b;
        }
        out[i] = (float)z[j % 4];
    }
}
