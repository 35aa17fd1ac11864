"""Numba kernels for the fine-tuned feed-forward network.

A network unrolled from a stack of RBMs (Hinton & Salakhutdinov 2006), or the
same architecture from a random start, is trained here by mini-batch SGD with
momentum.  :func:`sgd_epoch` runs a whole epoch in compiled code: per batch it
calls BLAS (through :func:`dbn._blas.gemm`, the same library as NumPy's ``@``)
for the matrix products and fuses all elementwise work into single passes over
their outputs.  Nothing here is parallel: the BLAS calls use the BLAS thread
pool, and a second pool alternating with it was measured 5-100x slower (Numba's
OpenMP layer); even on its ``workqueue`` layer, whose threads sleep between
regions, the heaviest kernels in parallel made a batch 1.09x slower on 2 cores
(``benchmarks/thread_pools.py``).

Conventions
-----------
Parameters live in one flat float32 vector ``params``; layer ``l`` has weights
``params[w_off[l]:w_off[l] + n_in * n_out].reshape(n_in, n_out)`` (C order,
like scikit-learn's ``coefs_``) and biases ``params[b_off[l]:b_off[l] +
n_out]``.  Velocities and gradients use the same layout.

Inside a batch, activations and deltas are stored *feature-major*: layer
``l`` of a batch of ``nb`` rows is the C-contiguous ``(sizes[l], nb)`` block
``acts[a_off[l]:a_off[l] + sizes[l] * nb]``.  That makes a block of rows of a
weight gradient, ``A[r0:r1] @ dZ.T``, a product of contiguous row blocks, so
the gradient can be produced and consumed block by block while it is still in
cache (see :func:`_sgd_rows`), and it makes biases and bias gradients
per-row constants and row sums.  The last batch of an epoch, if shorter, just
uses a shorter row stride in the same buffers.
"""

import numpy as np
from numba import njit

from ._blas import gemm
from ._math import FASTMATH
from ._math import sigmoid as _sigmoid
from ._rng import GOLDEN, mix, uniform_bits

#: Hidden activations (``IDENTITY``: linear units, e.g. the code layer of an
#: autoencoder, Hinton & Salakhutdinov 2006).
LOGISTIC = 0
RELU = 1
IDENTITY = 2
#: Output activation and loss pairs (each the canonical link of its loss, so
#: the output delta is ``activation - target``).
SOFTMAX_CROSS_ENTROPY = 0
IDENTITY_SQUARED_ERROR = 1
LOGISTIC_BINARY_CROSS_ENTROPY = 2

# Vectorisable maths, fastmath flags and error model: see dbn._math.
_JIT = {"cache": True, "error_model": "numpy", "fastmath": FASTMATH}

_ONE = np.float32(1.0)
_ZERO = np.float32(0.0)
_HALF = np.float32(0.5)


@njit(**_JIT)
def gather_transposed(X, rows, keep, state, out):
    """``out[j, i] = X[rows[i], j]``, with inverted dropout on the inputs.

    Parameters
    ----------
    X : ndarray of float32, shape (n_samples, n_features)
        Read only.
    rows : ndarray of int64, shape (nb,)
    keep : float
        Probability of keeping an input; kept inputs are scaled by ``1 /
        keep`` (Srivastava et al. 2014, section 10, "inverted" so that the
        test-time network needs no rescaling).  ``keep >= 1`` draws nothing.
    state : ndarray of uint64, shape (1,)
        :mod:`dbn._rng` state, advanced once per input when ``keep < 1``.
    out : ndarray of float32, shape (n_features, nb)
    """
    nb = rows.shape[0]
    n = X.shape[1]
    if keep >= 1.0:
        for i in range(nb):
            x = X[rows[i]]
            for j in range(n):
                out[j, i] = x[j]
    else:
        keep32 = np.float32(keep)
        scale = np.float32(1.0 / keep)
        # The counter in a local and a select, not a branch: the same stream
        # as dbn._rng.uniform, without a load and store of the state and a
        # mispredicted branch per draw (with them, dropout made a 784-500-500-2000-10
        # epoch 1.37x slower; now about 1.07x).
        z = state[0]
        for i in range(nb):
            x = X[rows[i]]
            for j in range(n):
                z += GOLDEN
                m = scale if uniform_bits(mix(z)) < keep32 else _ZERO
                out[j, i] = x[j] * m
        state[0] = z


@njit(**_JIT)
def hidden_activation_(Z, b, activation, keep, state):
    """In place: ``Z[j, i] = f(Z[j, i] + b[j])``, then inverted dropout.

    Parameters
    ----------
    Z : ndarray of float32, shape (n_units, nb)
        Pre-activations without bias (feature-major).
    b : ndarray of float32, shape (n_units,)
    activation : int
        :data:`LOGISTIC`, :data:`RELU` or :data:`IDENTITY`.
    keep : float
        Probability of keeping a unit (``>= 1``: no dropout, no draws).
    state : ndarray of uint64, shape (1,)
    """
    n, nb = Z.shape
    for j in range(n):
        bj = b[j]
        z = Z[j]
        if activation == LOGISTIC:
            for i in range(nb):
                z[i] = _sigmoid(z[i] + bj)
        elif activation == RELU:
            for i in range(nb):
                z[i] = max(z[i] + bj, _ZERO)
        else:
            for i in range(nb):
                z[i] += bj
    if keep < 1.0:
        # As in gather_transposed: a local counter and a select, so the loop
        # vectorises; the same draws in the same order.
        keep32 = np.float32(keep)
        scale = np.float32(1.0 / keep)
        c = state[0]
        for j in range(n):
            z = Z[j]
            for i in range(nb):
                c += GOLDEN
                m = scale if uniform_bits(mix(c)) < keep32 else _ZERO
                z[i] = z[i] * m
        state[0] = c


@njit(**_JIT)
def hidden_delta_(dA, D, activation, keep, gb):
    """In place: turn ``dA = dL/dA`` into ``dZ = dL/dZ``; bias gradient.

    ``D`` is the layer's output as the next layer saw it (after dropout), so
    the dropout mask is recovered from it without storing it: a dropped unit
    has ``D = 0`` and gets no gradient.  Logistic: a kept unit has ``D = s /
    keep`` with ``s = sigmoid(z)``, and ``dL/dz = dA * (1 / keep) * s (1 - s)
    = dA * D * (1 - keep * D)``.  ReLU: ``dL/dz = dA / keep`` where ``D > 0``,
    else 0 (the derivative at ``z = 0`` is taken as 0, like scikit-learn).
    Identity: ``dL/dz = dA`` without dropout; with dropout ``dA / keep``
    where ``D != 0``, else 0 (a kept linear unit that is exactly 0, an event
    of probability 0 for real-valued inputs, is taken as dropped).

    Parameters
    ----------
    dA : ndarray of float32, shape (n_units, nb)
        Overwritten with ``dL/dZ``.
    D : ndarray of float32, shape (n_units, nb)
    activation : int
    keep : float
    gb : ndarray of float32, shape (n_units,)
        Receives the row sums of ``dL/dZ``: the bias gradient.
    """
    n, nb = dA.shape
    keep32 = np.float32(min(keep, 1.0))
    scale = np.float32(1.0 / min(keep, 1.0))
    for j in range(n):
        da = dA[j]
        d = D[j]
        s = _ZERO
        if activation == LOGISTIC:
            for i in range(nb):
                g = da[i] * d[i] * (_ONE - keep32 * d[i])
                da[i] = g
                s += g
        elif activation == RELU:
            for i in range(nb):
                g = da[i] * scale if d[i] > _ZERO else _ZERO
                da[i] = g
                s += g
        elif keep >= 1.0:
            for i in range(nb):
                s += da[i]
        else:
            for i in range(nb):
                g = da[i] * scale if d[i] != _ZERO else _ZERO
                da[i] = g
                s += g
        gb[j] = s


@njit(**_JIT)
def output_layer_(Z, b, output, Y, rows, delta, scale, gb, with_targets):
    """Output activations in place; loss and delta when targets are given.

    Losses (per sample, summed over outputs, as in scikit-learn's MLP):

    - :data:`SOFTMAX_CROSS_ENTROPY`: ``sum_k y_k (logsumexp(z) - z_k)``,
      from a log-sum-exp that never overflows;
    - :data:`IDENTITY_SQUARED_ERROR`: ``0.5 * sum_k (z_k - y_k)^2``;
    - :data:`LOGISTIC_BINARY_CROSS_ENTROPY`: ``sum_k softplus(z_k) - y_k
      z_k``, the binary cross-entropy written without ``log(sigmoid)``.

    Each is paired with its canonical link, so ``dL/dz = a - y`` (softmax:
    ``a * sum(y) - y``, which is ``a - y`` for rows of ``y`` summing to 1).

    Parameters
    ----------
    Z : ndarray of float32, shape (n_out, nb)
        Pre-activations without bias; overwritten with the activations.
    b : ndarray of float32, shape (n_out,)
    output : int
        One of the output/loss constants.
    Y : ndarray of float32, shape (n_samples, n_out)
        Targets, row ``rows[i]`` for column ``i`` of ``Z``.
    rows : ndarray of int64, shape (nb,)
    delta : ndarray of float32, shape (n_out, nb)
        Receives ``scale * dL/dz``.
    scale : float
        Factor of the delta: ``1 / nb`` makes it the gradient of the mean.
    gb : ndarray of float32, shape (n_out,)
        Receives the row sums of ``delta``: the output bias gradient.
    with_targets : bool
        False: only the activations are computed (``Y``, ``delta``, ``gb``
        untouched, loss 0).

    Returns
    -------
    loss : float
        Sum of the per-sample losses over the batch (float64).
    """
    n_out, nb = Z.shape
    for j in range(n_out):
        bj = b[j]
        for i in range(nb):
            Z[j, i] += bj
    loss = 0.0
    scale32 = np.float32(scale)
    if output == SOFTMAX_CROSS_ENTROPY:
        for i in range(nb):
            m = Z[0, i]
            for j in range(1, n_out):
                m = max(m, Z[j, i])
            s = _ZERO
            for j in range(n_out):
                s += np.exp(Z[j, i] - m)
            lse = m + np.log(s)
            if with_targets:
                y = Y[rows[i]]
                sy = _ZERO
                li = _ZERO
                for j in range(n_out):
                    sy += y[j]
                    li += y[j] * (lse - Z[j, i])
                loss += li
                for j in range(n_out):
                    p = np.exp(Z[j, i] - lse)
                    Z[j, i] = p
                    delta[j, i] = (p * sy - y[j]) * scale32
            else:
                for j in range(n_out):
                    Z[j, i] = np.exp(Z[j, i] - lse)
    elif output == IDENTITY_SQUARED_ERROR:
        if with_targets:
            for i in range(nb):
                y = Y[rows[i]]
                li = _ZERO
                for j in range(n_out):
                    d = Z[j, i] - y[j]
                    li += d * d
                    delta[j, i] = d * scale32
                loss += _HALF * li
    else:
        for i in range(nb):
            if with_targets:
                y = Y[rows[i]]
                li = _ZERO
                for j in range(n_out):
                    z = Z[j, i]
                    li += max(z, _ZERO) - y[j] * z + np.log1p(np.exp(-abs(z)))
                    a = _sigmoid(z)
                    Z[j, i] = a
                    delta[j, i] = (a - y[j]) * scale32
                loss += li
            else:
                for j in range(n_out):
                    Z[j, i] = _sigmoid(Z[j, i])
    if with_targets:
        for j in range(n_out):
            s = _ZERO
            for i in range(nb):
                s += delta[j, i]
            gb[j] = s
    return loss


@njit(**_JIT)
def _sgd_rows(G, W, V, lr, momentum, decay, nesterov, colsq, use_colsq):
    """One SGD-with-momentum step on a block of weight rows, in one pass.

    ``g = G + decay * W`` (``decay = alpha / nb``: scikit-learn's L2 term),
    ``V = momentum * V - lr * g``, then ``W += V`` (classical) or ``W +=
    momentum * V - lr * g`` (Nesterov, as scikit-learn's ``SGDOptimizer``).

    Parameters
    ----------
    G : ndarray of float32, shape (rows, n_out)
        Gradient of the data loss for these rows.
    W, V : ndarray of float32, shape (rows, n_out)
        Weights and velocities, updated in place.
    lr, momentum, decay : float
    nesterov : bool
    colsq : ndarray of float32, shape (n_out,)
        When ``use_colsq``, the squares of the new weights are added to it
        (column norms for the max-norm constraint).
    use_colsq : bool

    Returns
    -------
    gsq : float
        Squared norm of ``G`` (the data gradient).
    wsq : float
        Squared norm of ``W`` before the step (for the L2 term of the loss).
    """
    rows, n = G.shape
    lr32 = np.float32(lr)
    mom32 = np.float32(momentum)
    decay32 = np.float32(decay)
    gsq = 0.0
    wsq = 0.0
    for r in range(rows):
        g_r = G[r]
        w_r = W[r]
        v_r = V[r]
        gs = _ZERO
        ws = _ZERO
        if nesterov:
            for j in range(n):
                w = w_r[j]
                g0 = g_r[j]
                g = g0 + decay32 * w
                v = mom32 * v_r[j] - lr32 * g
                v_r[j] = v
                w_r[j] = w + (mom32 * v - lr32 * g)
                gs += g0 * g0
                ws += w * w
        else:
            for j in range(n):
                w = w_r[j]
                g0 = g_r[j]
                g = g0 + decay32 * w
                v = mom32 * v_r[j] - lr32 * g
                v_r[j] = v
                w_r[j] = w + v
                gs += g0 * g0
                ws += w * w
        if use_colsq:
            for j in range(n):
                colsq[j] += w_r[j] * w_r[j]
        gsq += gs
        wsq += ws
    return gsq, wsq


@njit(**_JIT)
def _sgd_vector(g, w, v, lr, momentum, nesterov):
    """The step of :func:`_sgd_rows` on a bias vector (no weight decay)."""
    lr32 = np.float32(lr)
    mom32 = np.float32(momentum)
    for j in range(g.shape[0]):
        vj = mom32 * v[j] - lr32 * g[j]
        v[j] = vj
        if nesterov:
            w[j] += mom32 * vj - lr32 * g[j]
        else:
            w[j] += vj


@njit(**_JIT)
def max_norm_(W, colsq, c):
    """Rescale each column of ``W`` whose norm exceeds ``c`` to norm ``c``.

    Column ``j`` of ``W`` (shape ``(n_in, n_out)``) is the incoming weight
    vector of unit ``j``: Srivastava et al. (2014), section 5.1, constrain
    its norm and project back onto the ball after each update.  ``colsq``
    holds the squared column norms; nothing is touched when none exceeds.
    """
    c2 = np.float32(c) * np.float32(c)
    n_out = W.shape[1]
    any_over = False
    for j in range(n_out):
        if colsq[j] > c2:
            any_over = True
            colsq[j] = np.float32(c) / np.sqrt(colsq[j])
        else:
            colsq[j] = _ONE
    if any_over:
        for r in range(W.shape[0]):
            w = W[r]
            for j in range(n_out):
                w[j] *= colsq[j]


@njit(**_JIT)
def _forward(X, rows, params, w_off, b_off, sizes, acts, a_off, activations,
             keep_input, keep_hidden, state, blas_kind):
    """Forward pass of one batch up to the output pre-activations (no bias).

    Leaves each hidden layer's (dropped-out) activations in ``acts`` and the
    output layer's ``A @ W`` in its block, for :func:`output_layer_`.
    ``activations[l]`` is the activation of hidden layer ``l`` (the output
    of weight layer ``l``).
    """
    nb = rows.shape[0]
    n_layers = sizes.shape[0] - 1
    A = acts[a_off[0]:a_off[0] + sizes[0] * nb].reshape(sizes[0], nb)
    gather_transposed(X, rows, keep_input, state, A)
    for layer in range(n_layers):
        n_in = sizes[layer]
        n_out = sizes[layer + 1]
        W = params[w_off[layer]:w_off[layer] + n_in * n_out].reshape(n_in, n_out)
        A = acts[a_off[layer]:a_off[layer] + n_in * nb].reshape(n_in, nb)
        Z = acts[a_off[layer + 1]:a_off[layer + 1] + n_out * nb].reshape(n_out, nb)
        # Feature-major: Z.T = W.T @ A.T.
        gemm(blas_kind, True, False, 1.0, W, A, 0.0, Z)
        if layer < n_layers - 1:
            b = params[b_off[layer]:b_off[layer] + n_out]
            hidden_activation_(Z, b, activations[layer], keep_hidden, state)


@njit(**_JIT)
def batch_step(X, Y, rows, params, w_off, b_off, sizes, acts, deltas, a_off,
               activations, output, alpha, keep_input, keep_hidden, state,
               update, lowest, lr, momentum, nesterov, max_norm, velocity, grad,
               gbuf, block_elems, colsq, grad_sq, blas_kind):
    """Loss and gradient of one batch, and optionally the SGD step.

    The loss is scikit-learn's batch loss times the batch size: the summed
    per-sample losses plus ``0.5 * alpha * sum_l ||W_l||^2``, whose gradient
    divided by ``nb`` is the gradient of scikit-learn's mean batch loss.

    Parameters
    ----------
    X : ndarray of float32, shape (n_samples, n_features)
        Read only.
    Y : ndarray of float32, shape (n_samples, n_outputs)
    rows : ndarray of int64, shape (nb,)
        Rows of ``X`` and ``Y`` in this batch.
    params : ndarray of float32, shape (n_params,)
        Flat parameters (module docstring); updated in place if ``update``.
    w_off, b_off : ndarray of int64, shape (n_layers,)
    sizes : ndarray of int64, shape (n_layers + 1,)
    acts, deltas : ndarray of float32
        Work buffers, laid out by ``a_off`` (shape (n_layers + 2,)) for at
        least ``nb`` rows.
    activations : ndarray of int64, shape (n_layers - 1,)
        Activation constant of each hidden layer.
    output : int
        Output/loss constant.
    alpha : float
        L2 penalty on the weights (not the biases), scikit-learn's ``alpha``.
    keep_input, keep_hidden : float
        Dropout keep probabilities (``>= 1``: off, nothing drawn).
    state : ndarray of uint64, shape (1,)
    update : bool
        True: apply the SGD step to ``params`` and ``velocity``, layer by
        layer as soon as its gradient is known (``grad`` then receives only
        the bias gradients).  False: write the full gradient of the mean
        batch loss into ``grad`` and leave ``params`` alone.
    lr, momentum : float
    nesterov : bool
    max_norm : float
        Max-norm bound on each hidden unit's incoming weights (``<= 0``:
        off).  Not applied to the output layer.
    velocity, grad : ndarray of float32, shape (n_params,)
    gbuf : ndarray of float32
        Gradient block buffer, at least ``max(block_elems, max n_out)``
        elements (or the largest weight matrix if ``block_elems <= 0``).
    block_elems : int
        Target size of a block of weight-gradient rows; ``<= 0``: one block.
    colsq : ndarray of float32, shape (max n_out,)
        Work buffer for the max-norm constraint.
    grad_sq : ndarray of float64, shape (n_layers,)
        Receives each layer's squared norm of the weight gradient of the data
        loss (without the L2 term).
    blas_kind : int

    Returns
    -------
    loss : float
        Summed per-sample losses plus ``0.5 * alpha * sum ||W||^2``.
    """
    nb = rows.shape[0]
    n_layers = sizes.shape[0] - 1
    _forward(X, rows, params, w_off, b_off, sizes, acts, a_off, activations,
             keep_input, keep_hidden, state, blas_kind)
    n_last = sizes[n_layers]
    o = a_off[n_layers]
    Z = acts[o:o + n_last * nb].reshape(n_last, nb)
    dZ = deltas[o:o + n_last * nb].reshape(n_last, nb)
    bo = b_off[n_layers - 1]
    loss = output_layer_(Z, params[bo:bo + n_last], output, Y, rows, dZ,
                         1.0 / nb, grad[bo:bo + n_last], True)
    decay = alpha / nb
    wsq_total = 0.0
    for layer in range(n_layers - 1, -1, -1):
        n_in = sizes[layer]
        n_out = sizes[layer + 1]
        wo = w_off[layer]
        bo = b_off[layer]
        W = params[wo:wo + n_in * n_out].reshape(n_in, n_out)
        if layer < lowest:
            # Frozen: only its share of the L2 term of the loss.
            for r in range(n_in):
                for j in range(n_out):
                    wsq_total += W[r, j] * W[r, j]
            grad_sq[layer] = 0.0
            continue
        o = a_off[layer + 1]
        dZ = deltas[o:o + n_out * nb].reshape(n_out, nb)
        o = a_off[layer]
        A = acts[o:o + n_in * nb].reshape(n_in, nb)
        if layer > lowest:
            # Backpropagate through the weights *before* they are updated.
            dA = deltas[o:o + n_in * nb].reshape(n_in, nb)
            gemm(blas_kind, False, False, 1.0, W, dZ, 0.0, dA)
            bo_prev = b_off[layer - 1]
            hidden_delta_(dA, A, activations[layer - 1], keep_hidden, grad[bo_prev:bo_prev + n_in])
        if update:
            V = velocity[wo:wo + n_in * n_out].reshape(n_in, n_out)
            use_colsq = max_norm > 0.0 and layer < n_layers - 1
            if use_colsq:
                colsq[:n_out] = 0.0
            step = n_in if block_elems <= 0 else max(1, block_elems // n_out)
            gsq = 0.0
            for r0 in range(0, n_in, step):
                r1 = min(r0 + step, n_in)
                G = gbuf[:(r1 - r0) * n_out].reshape(r1 - r0, n_out)
                gemm(blas_kind, False, True, 1.0, A[r0:r1], dZ, 0.0, G)
                g2, w2 = _sgd_rows(G, W[r0:r1], V[r0:r1], lr, momentum, decay,
                                   nesterov, colsq, use_colsq)
                gsq += g2
                wsq_total += w2
            if use_colsq:
                max_norm_(W, colsq[:n_out], max_norm)
            _sgd_vector(grad[bo:bo + n_out], params[bo:bo + n_out],
                        velocity[bo:bo + n_out], lr, momentum, nesterov)
        else:
            G = grad[wo:wo + n_in * n_out].reshape(n_in, n_out)
            gemm(blas_kind, False, True, 1.0, A, dZ, 0.0, G)
            gsq = 0.0
            decay32 = np.float32(decay)
            for r in range(n_in):
                for j in range(n_out):
                    g = G[r, j]
                    w = W[r, j]
                    gsq += g * g
                    wsq_total += w * w
                    G[r, j] = g + decay32 * w
        grad_sq[layer] = gsq
    return loss + 0.5 * alpha * wsq_total


@njit(**_JIT)
def sgd_epoch(X, Y, order, batch_size, params, w_off, b_off, sizes, acts,
              deltas, a_off, activations, output, alpha, keep_input,
              keep_hidden, state, lowest, lr, momentum, nesterov, max_norm,
              velocity, grad, gbuf, block_elems, colsq, n_track, grad_norms,
              blas_kind):
    """One epoch of mini-batch SGD: consecutive slices of ``order`` as batches.

    Arguments as in :func:`batch_step` (with ``update=True``), plus:

    Parameters
    ----------
    order : ndarray of int64, shape (n,)
        Rows of this epoch in order (a permutation of the training rows, or
        of any subset of them: ``X`` is never copied).
    batch_size : int
    n_track : int
        The gradient norms are averaged over the first ``n_track`` batches
        (``< 0``: all batches).
    grad_norms : ndarray of float64, shape (n_layers,)
        Receives each layer's norm of the weight gradient of the data loss,
        averaged over the tracked batches.

    Returns
    -------
    loss_sum : float
        Sum over batches of the batch loss times the batch size (what
        scikit-learn's ``accumulated_loss`` holds); divide by ``n`` for its
        ``loss_``.
    """
    n = order.shape[0]
    n_layers = sizes.shape[0] - 1
    grad_sq = np.zeros(n_layers)
    grad_norms[:] = 0.0
    n_tracked = 0
    total = 0.0
    batch = 0
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        total += batch_step(X, Y, order[start:stop], params, w_off, b_off, sizes,
                            acts, deltas, a_off, activations, output, alpha,
                            keep_input, keep_hidden, state, True, lowest, lr, momentum,
                            nesterov, max_norm, velocity, grad, gbuf, block_elems,
                            colsq, grad_sq, blas_kind)
        if n_track < 0 or batch < n_track:
            for layer in range(n_layers):
                grad_norms[layer] += np.sqrt(grad_sq[layer])
            n_tracked += 1
        batch += 1
    if n_tracked > 0:
        for layer in range(n_layers):
            grad_norms[layer] /= n_tracked
    return total


@njit(**_JIT)
def forward_rows(X, Y, rows, params, w_off, b_off, sizes, acts, a_off,
                 delta_out, chunk, activations, output, with_targets, out,
                 blas_kind):
    """Network outputs (no dropout) for ``X[rows]``, in chunks of rows.

    Parameters
    ----------
    X : ndarray of float32, shape (n_samples, n_features)
    Y : ndarray of float32, shape (n_samples, n_outputs)
        Targets (any 2-D float32 array when not ``with_targets``).
    rows : ndarray of int64, shape (n,)
    params, w_off, b_off, sizes : see :func:`batch_step`
    acts, a_off : ndarray
        Work buffer laid out for ``chunk`` rows.
    delta_out : ndarray of float32, shape (n_outputs * chunk,)
        Work buffer for the (unused) output delta.
    chunk : int
        Rows per forward pass: bounds the memory of the work buffers.
    activations : ndarray of int64, shape (n_layers - 1,)
    output : int
    with_targets : bool
        Whether to compute the loss against ``Y``.
    out : ndarray of float32, shape (n, n_outputs) or (0, n_outputs)
        Receives the output activations (probabilities for softmax), row
        ``k`` for ``X[rows[k]]``; skipped when it has no rows.
    blas_kind : int

    Returns
    -------
    loss_sum : float
        Sum of the per-sample losses (0 when not ``with_targets``), without
        the L2 term.
    """
    n = rows.shape[0]
    n_layers = sizes.shape[0] - 1
    n_last = sizes[n_layers]
    bo = b_off[n_layers - 1]
    gb = np.empty(n_last, np.float32)
    state = np.zeros(1, np.uint64)
    total = 0.0
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        nb = stop - start
        r = rows[start:stop]
        _forward(X, r, params, w_off, b_off, sizes, acts, a_off, activations,
                 1.0, 1.0, state, blas_kind)
        o = a_off[n_layers]
        Z = acts[o:o + n_last * nb].reshape(n_last, nb)
        dZ = delta_out[:n_last * nb].reshape(n_last, nb)
        total += output_layer_(Z, params[bo:bo + n_last], output, Y, r, dZ, 1.0,
                               gb, with_targets)
        if out.shape[0] > 0:
            for i in range(nb):
                for j in range(n_last):
                    out[start + i, j] = Z[j, i]
    return total
