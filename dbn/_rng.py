"""Counter-based random numbers for Numba kernels.

Kernels draw from an explicit state (a one-element ``uint64`` array) seeded
from the estimator's ``random_state``, never from Numba's global NumPy-style
generator: an explicit state travels with the data, is identical whatever the
thread count, and lets the tests replay exactly the draws a kernel made.

The generator is SplitMix64 (Steele, Lea & Flood 2014, "Fast splittable
pseudorandom number generators"), which passes BigCrush and costs a handful of
integer operations per draw.
"""

import numpy as np
from numba import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S40 = np.uint64(40)
_TWO_M24 = np.float32(1.0 / (1 << 24))
_TWO_PI = 2.0 * np.pi
#: Increment of the SplitMix64 counter.  Loops that must vectorise keep the
#: counter in a local (``z += GOLDEN; u = uniform_bits(mix(z))``) and store it
#: back once: the same stream as :func:`uniform`, without a load and store of
#: the state per draw.
GOLDEN = _GOLDEN


def new_state(random_state):
    """Seed a kernel state from a :class:`numpy.random.RandomState`.

    Parameters
    ----------
    random_state : numpy.random.RandomState
        The estimator's generator (from ``check_random_state``).

    Returns
    -------
    state : ndarray of uint64, shape (1,)
    """
    seed = random_state.randint(0, 2**31 - 1, size=2).astype(np.uint64)
    return np.array([(seed[0] << np.uint64(32)) | seed[1]], dtype=np.uint64)


@njit(cache=True, inline="always")
def mix(z):
    """SplitMix64's output function: 64 well-mixed bits from the counter ``z``."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True, inline="always")
def next_uint64(state):
    """Next 64 random bits; advances ``state`` in place."""
    z = state[0] + _GOLDEN
    state[0] = z
    return mix(z)


@njit(cache=True, inline="always")
def uniform_bits(bits):
    """A float32 uniform on [0, 1) from the top 24 of 64 random bits."""
    return np.float32(np.int32(bits >> _S40)) * _TWO_M24


@njit(cache=True, inline="always")
def uniform(state):
    """A float32 uniform on [0, 1) with 24 random bits."""
    return uniform_bits(next_uint64(state))


@njit(cache=True, inline="always")
def normal(state):
    """A float32 standard normal (Box-Muller, one value per two uniforms).

    The second value of each Box-Muller pair is discarded: it keeps the
    state-to-draw mapping trivial to replay, at a cost that is negligible next
    to the matrix products around it.
    """
    u1 = (np.float64(next_uint64(state) >> np.uint64(11)) + 0.5) * (1.0 / 9007199254740992.0)
    u2 = np.float64(next_uint64(state) >> np.uint64(11)) * (1.0 / 9007199254740992.0)
    return np.float32(np.sqrt(-2.0 * np.log(u1)) * np.cos(_TWO_PI * u2))


@njit(cache=True)
def fill_uniform(state, out):
    """Fill the C-ordered array ``out`` with :func:`uniform` draws, in order."""
    flat = out.reshape(-1)
    for i in range(flat.size):
        flat[i] = uniform(state)


@njit(cache=True)
def fill_normal(state, out):
    """Fill the C-ordered array ``out`` with :func:`normal` draws, in order."""
    flat = out.reshape(-1)
    for i in range(flat.size):
        flat[i] = normal(state)
