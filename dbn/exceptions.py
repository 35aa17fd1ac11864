"""Exceptions of dbn, and the checks that raise them on overflowing data."""

import numpy as np
import scipy.sparse as sp

__all__ = ["DivergenceError"]


class DivergenceError(FloatingPointError, ValueError):
    """Training produced non-finite weights or loss.

    Raised with the layer (or network) and epoch where it happened, and what to
    change: a smaller learning rate, or scaled data.  The estimator keeps the
    weights of the last finite epoch.  It is a :class:`FloatingPointError`
    (what happened) and a :class:`ValueError` (bad settings or badly scaled
    input data are the usual cause).
    """


def largest_magnitude(X):
    """Largest absolute value of a dense or sparse array, as a float (0 if empty)."""
    values = np.asarray(X.data if sp.issparse(X) else X)
    return float(np.abs(values).max()) if values.size else 0.0


def check_finite_output(out, X, what):
    """Raise a ValueError naming the input's scale if ``out`` is not finite.

    Finite float32 inputs can still overflow float32 products (``X @ W.T``);
    the result must then be an error that names the problem, never NaN.
    """
    if not np.isfinite(out).all():
        raise ValueError(
            f"{what}: the result overflowed float32 (non-finite values); X has values as large "
            f"as {largest_magnitude(X):.3g}. Scale or standardise the data."
        )
    return out
