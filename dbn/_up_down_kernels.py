"""Numba kernel of the up-down algorithm: generative fine-tuning of a DBN.

Hinton, Osindero & Teh (2006), section 5 and appendix B.  After greedy
pretraining with the labels joined to the top RBM, the weights below the top
are untied into *recognition* weights (used going up) and *generative*
weights (used going down), and each mini-batch is one round of contrastive
wake-sleep:

1. **Up (wake)**: the data go up through the recognition weights, each
   layer's binary states sampled; the penultimate states and the labels
   clamp the top RBM's visible layer.
2. **Top**: ``k`` steps of alternating Gibbs sampling in the top RBM (the
   associative memory), from the wake states: the contrastive-divergence
   statistics of the top RBM.
3. **Down (sleep)**: from the penultimate states at the end of the chain,
   one pass down through the generative weights, sampling each layer (the
   bottom one stays probabilities).
4. **Updates**: the generative weights learn to reconstruct each wake
   layer from the one above it (the delta rule on the wake states), the
   recognition weights to infer each sleep layer from the one below it, and
   the top RBM takes its CD step.

Every prediction is made with the parameters the mini-batch started with,
as in the paper's pseudo-code, then all of them are updated.  Where the
pseudo-code uses the top units' sampled states in the CD statistics, this
kernel uses their probabilities (Hinton's guide, section 3: the same
expectation, less noise), as :func:`dbn._rbm_variant_kernels.cd_epoch_labels`
does in pretraining.  The label units in the chain stay probabilities, as
in the pseudo-code (``neglabprobs``).

Conventions are those of :mod:`dbn._rbm_kernels`: float32, C-contiguous,
weights of shape (n_upper, n_lower), matrix products through
:func:`dbn._blas.gemm`, nothing parallel.  The layers below the top are
packed: ``sizes = [n_0, ..., n_pen]``; layer ``l`` maps width ``sizes[l]``
to ``sizes[l + 1]``, its recognition weights ``R`` and generative weights
``G`` both (sizes[l + 1], sizes[l]) C-order, one after the other in the
flat arrays, its recognition (upper) biases in ``r_b`` and generative
(lower) biases in ``g_b``.

Draw order (replayed by ``tests/naive.py``): the wake samples, layer by
layer upwards, row by row; the top's hidden samples; per Gibbs step the
penultimate samples then (all steps but the last) the top's hidden
samples; the sleep samples, layer by layer downwards, the bottom layer
excepted.
"""

import numpy as np
from numba import njit

from ._blas import gemm
from ._rbm_kernels import (
    _hidden_probs_and_samples,
    _squared_error,
    batch_sums,
    batch_update,
    gather_csr,
    gather_dense,
    sample_bernoulli_,
    sigmoid_bias_,
)
from ._rbm_variant_kernels import join_labels_, sample_visible_labels_, visible_probs_labels_


@njit(cache=True, inline="always")
def _rows(buf, s_off, sizes, layer, m):
    """The ``m`` rows of layer ``layer`` in a mini-batch buffer (``wake``, ``sleep``)."""
    return buf[s_off[layer]:s_off[layer + 1]].reshape((m, sizes[layer]))


@njit(cache=True, inline="always")
def _weights(flat, w_off, sizes, layer):
    """The (sizes[layer + 1], sizes[layer]) weights of layer ``layer`` in ``R`` or ``G``."""
    return flat[w_off[layer]:w_off[layer + 1]].reshape((sizes[layer + 1], sizes[layer]))


@njit(cache=True)
def _delta_rule(blas_kind, target, pred, other, Wl, bias, lr, weight_decay, delta_is_upper):
    """The delta rule of one layer, batch-averaged, with weight decay.

    ``pred`` becomes ``D = target - pred`` (in place), ``bias += lr *
    mean(D)``, and ``Wl = (1 - lr * weight_decay) * Wl + lr / m * X``, where
    ``X = D.T @ other`` when ``delta_is_upper`` (``D`` has the width of
    ``Wl``'s rows: a recognition update) and ``other.T @ D`` otherwise
    (``D`` has the width of its columns: a generative update).
    """
    m = pred.shape[0]
    n = pred.shape[1]
    for i in range(m):
        for j in range(n):
            pred[i, j] = target[i, j] - pred[i, j]
    for j in range(n):
        s = 0.0
        for i in range(m):
            s += pred[i, j]
        bias[j] += np.float32(lr * s / m)
    alpha = np.float32(lr / m)
    beta = np.float32(1.0 - lr * weight_decay)
    if delta_is_upper:
        gemm(blas_kind, True, False, alpha, pred, other, beta, Wl)
    else:
        gemm(blas_kind, True, False, alpha, other, pred, beta, Wl)


@njit(cache=True)
def up_down_epoch(
    blas_kind, X, X_data, X_indices, X_indptr, sparse, order, batch_size, labels,
    R, r_b, G, g_b, sizes, W, b_h, b_v, b_h_inc, b_v_inc, W_inc, k,
    lr, weight_decay, state, wake, sleep, tmp, V, H, Hs, stats,
):
    """One epoch of the up-down algorithm over ``X[order]``.

    Parameters
    ----------
    blas_kind : int
    X, X_data, X_indices, X_indptr, sparse
        The data, dense or CSR (as :func:`dbn._rbm_kernels.cd_epoch`).
    order : ndarray of int64
        Rows of the epoch, in order; mini-batches of ``batch_size``.
    batch_size : int
    labels : ndarray of int64
        Label index of every row of ``X``.
    R, r_b, G, g_b : ndarray of float32
        Recognition and generative parameters of the layers below the top,
        packed (see the module's docstring); updated in place.
    sizes : ndarray of int64
        ``[n_features, ..., n_pen]``: at least two widths.
    W, b_h, b_v : ndarray of float32
        The top RBM, ``W`` of shape (n_top, n_pen + n_labels); updated.
    b_h_inc, b_v_inc, W_inc : ndarray of float32
        Work buffers of :func:`dbn._rbm_kernels.batch_update`, called
        without momentum: ``b_h_inc`` and ``b_v_inc`` must hold finite
        values (zeros: ``0 * nan`` is nan), ``W_inc`` is never read (any
        2-D float32 array will do).
    k : int
        Gibbs steps in the top RBM.
    lr, weight_decay : float
        One learning rate and one L2 weight cost for every weight.
    state : ndarray of uint64, shape (1,)
    wake, sleep : ndarray of float32, shape (batch_size * sizes.sum(),)
        Every layer's states of the mini-batch, going up and coming down.
    tmp : ndarray of float32, shape (batch_size * sizes.max(),)
        Probabilities and predictions.
    V : ndarray of float32, shape (2 * batch_size, n_pen + n_labels)
    H : ndarray of float32, shape (2 * batch_size, n_top)
    Hs : ndarray of float32, shape (batch_size, n_top)
    stats : ndarray of float64, shape (2,)
        Receives the summed squared error of the data's generative
        reconstruction from the wake states of the first hidden layer, and
        the number of rows.
    """
    n = order.shape[0]
    n_layers = sizes.shape[0] - 1
    n_pen = sizes[n_layers]
    n_vis = W.shape[1]
    n_top = W.shape[0]
    sum_hp = np.empty(n_top, np.float32)
    sum_hn = np.empty(n_top, np.float32)
    sum_vp = np.empty(n_vis, np.float32)
    sum_vn = np.empty(n_vis, np.float32)
    # Offsets of each layer's slice in the packed arrays.
    w_off = np.zeros(n_layers + 1, np.int64)
    b_off = np.zeros(n_layers + 1, np.int64)
    g_off = np.zeros(n_layers + 1, np.int64)
    for layer in range(n_layers):
        w_off[layer + 1] = w_off[layer] + sizes[layer + 1] * sizes[layer]
        b_off[layer + 1] = b_off[layer] + sizes[layer + 1]
        g_off[layer + 1] = g_off[layer] + sizes[layer]
    sse = 0.0
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        m = stop - start
        rows = order[start:stop]
        # Where each layer's rows start in `wake` and `sleep` (see _rows).
        s_off = np.zeros(n_layers + 2, np.int64)
        for layer in range(n_layers + 1):
            s_off[layer + 1] = s_off[layer] + m * sizes[layer]

        # 1. Up: wake states through the recognition weights.
        s0 = _rows(wake, s_off, sizes, 0, m)
        if sparse:
            gather_csr(X_data, X_indices, X_indptr, rows, s0)
        else:
            gather_dense(X, rows, s0)
        for layer in range(n_layers):
            p = tmp[0:m * sizes[layer + 1]].reshape((m, sizes[layer + 1]))
            gemm(blas_kind, False, True, 1.0, _rows(wake, s_off, sizes, layer, m),
                 _weights(R, w_off, sizes, layer), 0.0, p)
            _hidden_probs_and_samples(p, r_b[b_off[layer]:b_off[layer + 1]],
                                      _rows(wake, s_off, sizes, layer + 1, m), state)
        pen = _rows(wake, s_off, sizes, n_layers, m)

        # 2. Top: CD-k in the associative memory, from the wake states.
        v_pos = V[0:m]
        join_labels_(pen, labels, rows, v_pos)
        h_pos = H[0:m]
        gemm(blas_kind, False, True, 1.0, v_pos, W, 0.0, h_pos)
        h_state = Hs[0:m]
        _hidden_probs_and_samples(h_pos, b_h, h_state, state)
        v_neg = V[m:2 * m]
        h_neg = H[m:2 * m]
        for step in range(k):
            gemm(blas_kind, False, False, 1.0, h_state, W, 0.0, v_neg)
            visible_probs_labels_(v_neg, b_v, n_pen, True)
            sample_visible_labels_(v_neg, n_pen, False, state)  # labels stay probabilities
            gemm(blas_kind, False, True, 1.0, v_neg, W, 0.0, h_neg)
            if step == k - 1:
                sigmoid_bias_(h_neg, b_h)
            else:
                _hidden_probs_and_samples(h_neg, b_h, h_state, state)

        # 3. Down: sleep states through the generative weights, from the
        # penultimate states at the end of the chain.
        top_sleep = _rows(sleep, s_off, sizes, n_layers, m)
        for i in range(m):
            for j in range(n_pen):
                top_sleep[i, j] = v_neg[i, j]
        for layer in range(n_layers - 1, -1, -1):
            lo = _rows(sleep, s_off, sizes, layer, m)
            gemm(blas_kind, False, False, 1.0, _rows(sleep, s_off, sizes, layer + 1, m),
                 _weights(G, w_off, sizes, layer), 0.0, lo)
            sigmoid_bias_(lo, g_b[g_off[layer]:g_off[layer + 1]])
            if layer > 0:
                sample_bernoulli_(lo, state)

        # 4. Updates.  Each layer's predictions use its weights before the
        # update, and nothing later in this mini-batch reads them.
        for layer in range(n_layers):
            lo, up = _rows(wake, s_off, sizes, layer, m), _rows(wake, s_off, sizes, layer + 1, m)
            Gl = _weights(G, w_off, sizes, layer)
            p = tmp[0:m * sizes[layer]].reshape((m, sizes[layer]))
            gemm(blas_kind, False, False, 1.0, up, Gl, 0.0, p)
            sigmoid_bias_(p, g_b[g_off[layer]:g_off[layer + 1]])
            if layer == 0:
                sse += _squared_error(lo, p)
            # Generative: reconstruct the wake layer from the one above.
            _delta_rule(blas_kind, lo, p, up, Gl, g_b[g_off[layer]:g_off[layer + 1]], lr, weight_decay, False)
        for layer in range(n_layers):
            lo, up = _rows(sleep, s_off, sizes, layer, m), _rows(sleep, s_off, sizes, layer + 1, m)
            Rl = _weights(R, w_off, sizes, layer)
            q = tmp[0:m * sizes[layer + 1]].reshape((m, sizes[layer + 1]))
            gemm(blas_kind, False, True, 1.0, lo, Rl, 0.0, q)
            sigmoid_bias_(q, r_b[b_off[layer]:b_off[layer + 1]])
            # Recognition: infer the sleep layer from the one below.
            _delta_rule(blas_kind, up, q, lo, Rl, r_b[b_off[layer]:b_off[layer + 1]], lr, weight_decay, True)
        batch_sums(h_pos, h_neg, v_pos, v_neg, sum_hp, sum_hn, sum_vp, sum_vn)
        batch_update(blas_kind, W, b_h, b_v, W_inc, b_h_inc, b_v_inc, H[0:2 * m], V[0:2 * m], m, m,
                     lr, 0.0, weight_decay, sum_hp, sum_hn, sum_vp, sum_vn)
    stats[0] = sse
    stats[1] = n
