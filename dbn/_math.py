"""Elementwise maths for the Numba kernels: vectorisable and numerically safe.

The fastmath flags live here, in one place, without ``nnan``/``ninf`` so that
NaN and infinity still propagate (and are caught by the finiteness checks of
the estimators).  Kernels that must vectorise also use
``error_model="numpy"``: Python's error model checks every division for zero
and raises, and that branch alone stops LLVM from vectorising a loop.

:func:`sigmoid` avoids libm's ``expf`` (a scalar call, which LLVM cannot
vectorise without Intel's SVML) with a Cephes-style polynomial for ``exp`` on
non-positive arguments, accurate to about 1e-7 relative; the sigmoid is then
computed from ``exp(-|x|)``, so it never overflows.  On a 100 x 500 block it
ran about 9 times faster than the libm version here.
"""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

#: fastmath flags of every kernel: no ``nnan``/``ninf`` (see module docstring).
FASTMATH = {"contract", "arcp", "reassoc", "nsz"}

_ONE = np.float32(1.0)
_ZERO = np.float32(0.0)
_EXP_MIN = np.float32(-87.3)  # exp stays a normal float32 above this
_LOG2E = np.float32(1.4426950408889634)
_LN2_HI = np.float32(0.693359375)
_LN2_LO = np.float32(-2.12194440e-4)


@intrinsic
def _int32_bits_as_float32(typingctx, x):
    """Reinterpret the bits of an int32 as a float32 (no conversion)."""
    sig = types.float32(types.int32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return sig, codegen


@njit(cache=True, inline="always", fastmath=FASTMATH, error_model="numpy")
def exp_nonpositive(x):
    """``exp(x)`` for float32 ``x <= 0``, within about 1 ulp; 0 below -87.3.

    Cephes' ``expf``: Cody-Waite range reduction by ``ln 2`` in two parts, a
    degree-6 polynomial, and the power of two built from its IEEE bits.
    Below -87.3 the result would be subnormal, and 0 is returned instead (an
    absolute error under 2e-38).
    """
    xc = max(x, _EXP_MIN)
    t = np.floor(xc * _LOG2E + np.float32(0.5))
    r = xc - t * _LN2_HI
    r = r - t * _LN2_LO
    p = np.float32(1.9875691500e-4)
    p = p * r + np.float32(1.3981999507e-3)
    p = p * r + np.float32(8.3334519073e-3)
    p = p * r + np.float32(4.1665795894e-2)
    p = p * r + np.float32(1.6666665459e-1)
    p = p * r + np.float32(5.0000001201e-1)
    p = p * r * r + r + _ONE
    e = p * _int32_bits_as_float32((np.int32(t) + np.int32(127)) << np.int32(23))
    return _ZERO if x < _EXP_MIN else e


@njit(cache=True, inline="always", fastmath=FASTMATH, error_model="numpy")
def sigmoid(x):
    """Logistic function of a float32; never overflows, branch-free."""
    e = exp_nonpositive(-np.abs(x))
    s = _ONE / (_ONE + e)
    return s if x >= _ZERO else e * s


@njit(cache=True, inline="always", fastmath=FASTMATH, error_model="numpy")
def softplus(x):
    """``log(1 + exp(x))`` computed as ``max(x, 0) + log1p(exp(-|x|))``."""
    return max(x, _ZERO) + np.log1p(np.exp(-np.abs(x)))
