"""Per-thread random numbers, the one RNG home of the kernels: xorshift64* on an explicit
``uint64[1]`` state array, seeded by splitmix64.

A kernel never touches a global generator: each shard (or walk) gets its own state seeded
from the config seed and its position (``seed_state`` in Python, ``splitmix64_step`` inside a
kernel: the same mix), so one worker is bit-reproducible.
"""

import numpy as np
from numba import njit

#: xorshift64* multiplier (Vigna 2016)
MUL = np.uint64(0x2545F4914F6CDD1D)
S12 = np.uint64(12)
S25 = np.uint64(25)
S27 = np.uint64(27)
S30 = np.uint64(30)
S31 = np.uint64(31)
#: shift that keeps the high 32 of 64 random bits
S32 = np.uint64(32)
#: mask of the low 32 of 64 random bits
LOW32 = np.uint64(0xFFFFFFFF)
#: splitmix64's increment (the golden ratio in 64-bit fixed point) and its two multipliers
GOLDEN = np.uint64(0x9E3779B97F4A7C15)
MIX1 = np.uint64(0xBF58476D1CE4E5B9)
MIX2 = np.uint64(0x94D049BB133111EB)
MASK64 = (1 << 64) - 1


def seed_state(*parts: int) -> np.ndarray:
    """Mix integers with splitmix64 into a non-zero ``uint64[1]`` xorshift state.

    The same arithmetic as :func:`splitmix64_step`, in Python integers (a part is taken as
    its 64-bit two's complement).
    """
    x = int(GOLDEN)
    for p in parts:
        x = (x + (int(p) & MASK64) + int(GOLDEN)) & MASK64
        z = x
        z = ((z ^ (z >> 30)) * int(MIX1)) & MASK64
        z = ((z ^ (z >> 27)) * int(MIX2)) & MASK64
        x = z ^ (z >> 31)
    if x == 0:
        x = int(GOLDEN)
    return np.array([x], dtype=np.uint64)


@njit(cache=True, nogil=True, inline="always")
def splitmix64_step(x, part):
    """One splitmix64 round mixing ``part`` (uint64) into ``x`` (uint64): the step that
    :func:`seed_state` repeats over its parts."""
    x = x + part + GOLDEN
    z = (x ^ (x >> S30)) * MIX1
    z = (z ^ (z >> S27)) * MIX2
    return z ^ (z >> S31)


@njit(cache=True, nogil=True, inline="always")
def rng_next(state):
    """Advance xorshift64* (Vigna 2016) and return 64 random bits."""
    x = state[0]
    x ^= x >> S12
    x ^= x << S25
    x ^= x >> S27
    state[0] = x
    return x * MUL


@njit(cache=True, nogil=True, inline="always")
def rng_below(state, n):
    """Uniform integer in ``[0, n)`` for ``n < 2**32`` (Lemire's multiply-shift)."""
    r = rng_next(state) >> S32
    return np.int64((r * np.uint64(n)) >> S32)


@njit(cache=True, nogil=True, inline="always")
def rng_uniform(state):
    """Uniform float64 in ``[0, 1)`` from the top 53 bits."""
    return np.float64(rng_next(state) >> np.uint64(11)) * (1.0 / 9007199254740992.0)
