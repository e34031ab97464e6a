"""The runtime's seeded noise (runtime/engine/noise.c) in numpy, so the
PyTorch side can make the exact initial latent that `reverie gen --seed S`
makes: Philox4x32-10 (Salmon et al., SC'11) over counter blocks
{j/4 low, j/4 high, stream, 0} keyed by the 64-bit seed, then Box-Muller in
double precision on the top 24 bits of each word, rounded once to float32.
Not torch.randn (diffusers' noise for a seed is another generator).
"""

import numpy as np

M0, M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
W0, W1 = 0x9E3779B9, 0xBB67AE85
MASK = np.uint64(0xFFFFFFFF)

STREAM_INIT = 0


def stream_step(i):
    """LCM's step i noise stream."""
    return 1 + i


def philox4x32(ctr, key):
    """ctr: uint32 [N, 4], key: two ints -> uint32 [N, 4] (ten rounds)."""
    c = [ctr[:, i].astype(np.uint64) for i in range(4)]
    k0, k1 = key[0] & 0xFFFFFFFF, key[1] & 0xFFFFFFFF
    for _ in range(10):
        p0, p1 = M0 * c[0], M1 * c[2]
        hi0, lo0, hi1, lo1 = p0 >> np.uint64(32), p0 & MASK, p1 >> np.uint64(32), p1 & MASK
        c = [hi1 ^ c[1] ^ np.uint64(k0), lo1, hi0 ^ c[3] ^ np.uint64(k1), lo0]
        k0, k1 = (k0 + W0) & 0xFFFFFFFF, (k1 + W1) & 0xFFFFFFFF
    return np.stack(c, axis=1).astype(np.uint32)


def normal(seed, stream, n, first=0):
    """float32 [n]: values first .. first+n-1 of `stream` under `seed`."""
    j = np.arange(first, first + n, dtype=np.uint64)
    blocks = np.unique(j // np.uint64(4))
    ctr = np.zeros((len(blocks), 4), np.uint32)
    ctr[:, 0] = (blocks & MASK).astype(np.uint32)
    ctr[:, 1] = (blocks >> np.uint64(32)).astype(np.uint32)
    ctr[:, 2] = stream
    r = philox4x32(ctr, (seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF))
    z = np.empty((len(blocks), 4), np.float64)
    for p in range(2):
        u1 = ((r[:, 2 * p] >> 8).astype(np.float64) + 1.0) * 2.0 ** -24
        u2 = (r[:, 2 * p + 1] >> 8).astype(np.float64) * 2.0 ** -24
        rad = np.sqrt(-2.0 * np.log(u1))
        z[:, 2 * p] = rad * np.cos(2 * np.pi * u2)
        z[:, 2 * p + 1] = rad * np.sin(2 * np.pi * u2)
    flat = z.reshape(-1)
    return flat[(j - blocks[0] * np.uint64(4)).astype(np.int64)].astype(np.float32)


def latent_noise(seed, shape, stream=STREAM_INIT):
    """float32 array of `shape` ([C, h, w] or [1, C, h, w]) as the runtime fills a latent."""
    return normal(seed, stream, int(np.prod(shape))).reshape(shape)
