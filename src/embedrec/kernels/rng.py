"""Per-thread random numbers: xorshift64* on an explicit ``uint64[1]`` state array.

A kernel never touches a global generator: each shard gets its own state seeded from the
config seed, the epoch and the shard id (``seed_state``), so one worker is bit-reproducible.
"""

import numpy as np
from numba import njit

_MUL = np.uint64(0x2545F4914F6CDD1D)
_S12 = np.uint64(12)
_S25 = np.uint64(25)
_S27 = np.uint64(27)
_S32 = np.uint64(32)
_LOW32 = np.uint64(0xFFFFFFFF)


def seed_state(*parts: int) -> np.ndarray:
    """Mix integers with splitmix64 into a non-zero ``uint64[1]`` xorshift state."""
    mask = (1 << 64) - 1
    x = 0x9E3779B97F4A7C15
    for p in parts:
        x = (x + (int(p) & mask) + 0x9E3779B97F4A7C15) & mask
        z = x
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        x = z ^ (z >> 31)
    if x == 0:
        x = 0x9E3779B97F4A7C15
    return np.array([x], dtype=np.uint64)


@njit(cache=True, nogil=True, inline="always")
def rng_next(state):
    """Advance xorshift64* (Vigna 2016) and return 64 random bits."""
    x = state[0]
    x ^= x >> _S12
    x ^= x << _S25
    x ^= x >> _S27
    state[0] = x
    return x * _MUL


@njit(cache=True, nogil=True, inline="always")
def rng_below(state, n):
    """Uniform integer in ``[0, n)`` for ``n < 2**32`` (Lemire's multiply-shift)."""
    r = rng_next(state) >> _S32
    return np.int64((r * np.uint64(n)) >> _S32)


@njit(cache=True, nogil=True, inline="always")
def rng_uniform(state):
    """Uniform float64 in ``[0, 1)`` from the top 53 bits."""
    return np.float64(rng_next(state) >> np.uint64(11)) * (1.0 / 9007199254740992.0)
