"""Numba kernels for annealed importance sampling (AIS) of Bernoulli RBMs.

Stateless module-level functions over arrays and scalars, as in
:mod:`dbn._rbm_kernels`.  :func:`ais_steps` runs a block of temperatures of
all the chains in compiled code; its two matrix products per temperature go
to BLAS through :func:`dbn._blas.gemm` (the library behind NumPy's ``@``).
Nothing here is parallel: Numba's OpenMP pool alternating with the BLAS pool
was measured 5-100 times slower (see :mod:`dbn._blas`).

The annealing path is Salakhutdinov & Murray's (2008, section 4.1): with the
hidden units summed out, the intermediate distribution at inverse temperature
``beta`` over the visible states is::

    p*_beta(v) = exp((1 - beta) b_A.v + beta b.v) prod_j (1 + exp(beta (W_j.v + c_j)))

between the base-rate model A (visible biases ``b_A``, no weights) at
``beta = 0`` and the RBM (``W``, hidden biases ``c``, visible biases ``b``)
at ``beta = 1``.  It is the visible marginal of an RBM with weights
``beta W``, hidden biases ``beta c`` and visible biases ``(1 - beta) b_A +
beta b``, so one step of Gibbs sampling in that RBM leaves it invariant.

Conventions: ``W`` has shape (n_hidden, n_visible); arrays are float32 and
C-contiguous except the float64 log-weights and bias differences; ``state``
is a :mod:`dbn._rng` state.
"""

import numpy as np
from numba import njit

from ._blas import gemm
from ._math import FASTMATH, sigmoid
from ._rng import GOLDEN, mix, uniform_bits

_ONE = np.float32(1.0)
_ZERO = np.float32(0.0)

_hot = njit(cache=True, fastmath=FASTMATH, error_model="numpy")


@_hot
def sample_base_(b_base, V, state):
    """Fill ``V`` (n_chains, n_visible) with independent draws of model A.

    ``V[c, i] = 1`` with probability ``sigmoid(b_base[i])``.
    """
    z = state[0]
    for c in range(V.shape[0]):
        row = V[c]
        for i in range(V.shape[1]):
            p = sigmoid(b_base[i])
            z += GOLDEN
            row[i] = _ONE if uniform_bits(mix(z)) < p else _ZERO
    state[0] = z


@njit(cache=True, error_model="numpy")
def _visible_term(V, d_bias, out):
    # out[c] = (b - b_A).v_c in float64: the change of the visible part of
    # log p*_beta per unit of beta.
    for c in range(V.shape[0]):
        s = 0.0
        for i in range(V.shape[1]):
            s += V[c, i] * d_bias[i]
        out[c] = s


@njit(cache=True, error_model="numpy")
def _hidden_log_ratio(X_h, b_h, beta_prev, beta, sample, H_s, state, log_w):
    """Add ``sum_j softplus(beta x_j) - softplus(beta_prev x_j)`` to ``log_w``.

    ``x = X_h[c] + b_h`` is the hidden input of chain ``c``.  When ``sample``,
    ``H_s`` also receives hidden states drawn at ``beta``; their probability
    ``sigmoid(beta x)`` reuses the exponential of the softplus.

    In float64: each term is a difference of two softplus values of order
    ``|x|`` that differ by ``(beta - beta_prev) |x|``, about 1e-4 of them on
    the default schedule, and 14,500 such differences are summed per chain.
    float32 rounding of each softplus (1e-6 relative) would then be as large
    as the differences themselves.
    """
    z = state[0]
    for c in range(X_h.shape[0]):
        s = 0.0
        for j in range(X_h.shape[1]):
            x = np.float64(X_h[c, j] + b_h[j])
            y0 = beta_prev * x
            y1 = beta * x
            e0 = np.exp(-abs(y0))
            e1 = np.exp(-abs(y1))
            # softplus(y) = max(y, 0) + log1p(exp(-|y|)) never overflows, and
            # the difference of the two log1p terms is one log1p.
            s += (max(y1, 0.0) - max(y0, 0.0)) + np.log1p((e1 - e0) / (1.0 + e0))
            if sample:
                p = 1.0 / (1.0 + e1)
                if y1 < 0.0:
                    p *= e1
                z += GOLDEN
                H_s[c, j] = _ONE if uniform_bits(mix(z)) < p else _ZERO
        log_w[c] += s
    state[0] = z


@_hot
def _sample_visibles_tempered_(V, b_v, b_base, beta, state):
    # V holds h @ W: replace it by draws of v | h at beta, whose logit is
    # (1 - beta) b_A + beta (W^T h + b).
    a = np.float32(1.0 - beta)
    bf = np.float32(beta)
    z = state[0]
    for c in range(V.shape[0]):
        row = V[c]
        for i in range(V.shape[1]):
            p = sigmoid(a * b_base[i] + bf * (row[i] + b_v[i]))
            z += GOLDEN
            row[i] = _ONE if uniform_bits(mix(z)) < p else _ZERO
    state[0] = z


@njit(cache=True)
def ais_steps(blas_kind, W, b_h, b_v, b_base, betas, k_start, k_stop, V, X_h, H_s, d_bias, v_term,
              state, log_w):
    """Run AIS steps ``k_start <= k < k_stop`` of every chain.

    With ``K = len(betas) - 1``, step ``k`` (``1 <= k <= K``) adds
    ``log p*_k(v) - log p*_{k-1}(v)`` to each chain's log-weight at its
    current state ``v`` and then, unless ``k == K``, moves ``v`` by one Gibbs
    step (``h ~ p(h | v)``, ``v ~ p(v | h)``) of the RBM at ``betas[k]``
    (Neal 2001, "Annealed importance sampling", section 2; Salakhutdinov &
    Murray 2008, algorithm 1).  Before step 1, ``V`` must hold draws of the
    base-rate model (:func:`sample_base_`).  The steps may be run in blocks:
    a whole run's draws and weights do not depend on the split.

    Parameters
    ----------
    blas_kind : int
        :data:`dbn._blas.BLAS_KIND`.
    W : ndarray of float32, shape (n_hidden, n_visible)
    b_h : ndarray of float32, shape (n_hidden,)
    b_v : ndarray of float32, shape (n_visible,)
        The RBM's parameters.
    b_base : ndarray of float32, shape (n_visible,)
        Visible biases of the base-rate model.
    betas : ndarray of float64, shape (K + 1,)
        Inverse temperatures, ``betas[0] = 0``, ``betas[K] = 1``; each must be
        exactly representable in float32 (the sampling uses float32).
    k_start, k_stop : int
        The block of steps, ``1 <= k_start <= k_stop <= K + 1``.
    V : ndarray of float32, shape (n_chains, n_visible)
        The chains' visible states, updated in place.
    X_h : ndarray of float32, shape (n_chains, n_hidden)
    H_s : ndarray of float32, shape (n_chains, n_hidden)
        Work buffers (hidden inputs, hidden states).
    d_bias : ndarray of float64, shape (n_visible,)
        ``b_v - b_base``.
    v_term : ndarray of float64, shape (n_chains,)
        Work buffer.
    state : ndarray of uint64, shape (1,)
    log_w : ndarray of float64, shape (n_chains,)
        Log importance weights, accumulated in place.
    """
    K = betas.shape[0] - 1
    for k in range(k_start, k_stop):
        beta_prev = betas[k - 1]
        beta = betas[k]
        gemm(blas_kind, False, True, 1.0, V, W, 0.0, X_h)
        _visible_term(V, d_bias, v_term)
        for c in range(log_w.shape[0]):
            log_w[c] += (beta - beta_prev) * v_term[c]
        last = k == K
        _hidden_log_ratio(X_h, b_h, beta_prev, beta, not last, H_s, state, log_w)
        if not last:
            gemm(blas_kind, False, False, 1.0, H_s, W, 0.0, V)
            _sample_visibles_tempered_(V, b_v, b_base, beta, state)
