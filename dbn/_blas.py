"""Single-precision GEMM callable from Numba ``@njit`` code.

The training loops run whole epochs inside compiled code, so their matrix
products must be callable from Numba without going back to Python.  Numba's
own ``np.dot`` goes through SciPy's bundled OpenBLAS, while the user's NumPy
``@`` goes through NumPy's bundled OpenBLAS: two libraries, two thread pools.
Interleaving the two in a hot loop was measured 5 to 100 times slower than
staying in one pool, so we call the *same* library NumPy uses whenever we can
find it (NumPy's wheels ship ``scipy_openblas64_`` with a CBLAS interface),
and fall back to SciPy's ``cython_blas`` otherwise (macOS Accelerate builds,
conda MKL builds, ...).

Both entry points are registered as LLVM symbols under fixed names, and every
kernel takes the integer ``blas_kind`` (:data:`BLAS_KIND`) as an argument and
branches on it at run time.  That keeps ``cache=True`` safe: the cached
machine code refers to symbol *names*, resolved at load time, and does not
depend on which library this process found.
"""

import ctypes
import glob
import os

import llvmlite.binding as ll
import numpy as np
from numba import njit, types
from numba.extending import get_cython_function_address

__all__ = ["BLAS_KIND", "BLAS_LIBRARY", "gemm"]

_CBLAS_SYMBOL = "dbn_cblas_sgemm64"
_F77_SYMBOL = "dbn_f77_sgemm"

#: ``0``: NumPy's bundled 64-bit-integer OpenBLAS (CBLAS); ``1``: SciPy's
#: ``cython_blas`` Fortran ``sgemm``.
BLAS_KIND = 1
#: Path (or name) of the library behind :func:`gemm` in this process.
BLAS_LIBRARY = "scipy.linalg.cython_blas"


def _numpy_openblas_sgemm():
    """Address of ``cblas_sgemm`` in NumPy's bundled OpenBLAS, or None."""
    libdir = os.path.dirname(np.__file__) + ".libs"
    # Only libraries that NumPy itself has loaded: opening another copy would
    # create exactly the second thread pool this module exists to avoid.
    for path in sorted(glob.glob(os.path.join(libdir, "libscipy_openblas64_*"))):
        try:
            lib = ctypes.CDLL(path, mode=os.RTLD_NOLOAD | os.RTLD_LOCAL)
        except OSError:
            continue
        for name in ("scipy_cblas_sgemm64_", "cblas_sgemm64_"):
            fn = getattr(lib, name, None)
            if fn is not None:
                return ctypes.cast(fn, ctypes.c_void_p).value, path
    return None, None


_f77_addr = get_cython_function_address("scipy.linalg.cython_blas", "sgemm")
_cblas_addr, _cblas_path = _numpy_openblas_sgemm()
if _cblas_addr is not None:
    BLAS_KIND = 0
    BLAS_LIBRARY = _cblas_path
else:
    # The symbol must resolve for cached code to load, but is never called
    # while BLAS_KIND == 1.
    _cblas_addr = _f77_addr
ll.add_symbol(_CBLAS_SYMBOL, _cblas_addr)
ll.add_symbol(_F77_SYMBOL, _f77_addr)

_i32, _i64, _f32, _ptr = types.int32, types.int64, types.float32, types.intp
_cblas_sgemm = types.ExternalFunction(
    _CBLAS_SYMBOL,
    types.void(_i32, _i32, _i32, _i64, _i64, _i64, _f32, _ptr, _i64, _ptr, _i64, _f32, _ptr, _i64),
)
# Fortran BLAS takes every argument by reference; pointers travel as intp.
_f77_sgemm = types.ExternalFunction(_F77_SYMBOL, types.void(*([_ptr] * 13)))

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112


@njit(cache=True, nogil=True)
def gemm(blas_kind, trans_a, trans_b, alpha, a, b, beta, c):
    """``c = alpha * op(a) @ op(b) + beta * c`` on C-contiguous float32 arrays.

    Parameters
    ----------
    blas_kind : int
        :data:`BLAS_KIND` of this process.
    trans_a, trans_b : bool
        Whether ``op`` transposes ``a`` (respectively ``b``).
    alpha, beta : float
        Scalars of the update; ``beta = 0`` ignores what ``c`` held.
    a, b, c : ndarray of float32, C-contiguous, 2-D
        Operands.  ``c`` must not overlap ``a`` or ``b``.  Shapes are the
        caller's responsibility (as in BLAS): kernels call this with buffers
        they allocated themselves.
    """
    m = c.shape[0]
    n = c.shape[1]
    k = a.shape[0] if trans_a else a.shape[1]
    if m == 0 or n == 0:
        return
    if blas_kind == 0:
        _cblas_sgemm(
            _ROW_MAJOR,
            _TRANS if trans_a else _NO_TRANS,
            _TRANS if trans_b else _NO_TRANS,
            m, n, k, alpha,
            a.ctypes.data, max(a.shape[1], 1),
            b.ctypes.data, max(b.shape[1], 1),
            beta, c.ctypes.data, n,
        )
    else:
        # Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T.
        flags = np.empty(2, np.uint8)
        flags[0] = 84 if trans_b else 78  # 'T' / 'N'
        flags[1] = 84 if trans_a else 78
        ints = np.empty(6, np.int32)
        ints[0] = n
        ints[1] = m
        ints[2] = k
        ints[3] = max(b.shape[1], 1)
        ints[4] = max(a.shape[1], 1)
        ints[5] = n
        scal = np.empty(2, np.float32)
        scal[0] = alpha
        scal[1] = beta
        p_i = ints.ctypes.data
        p_s = scal.ctypes.data
        _f77_sgemm(
            flags.ctypes.data, flags.ctypes.data + 1, p_i, p_i + 4, p_i + 8,
            p_s, b.ctypes.data, p_i + 12, a.ctypes.data, p_i + 16,
            p_s + 4, c.ctypes.data, p_i + 20,
        )
