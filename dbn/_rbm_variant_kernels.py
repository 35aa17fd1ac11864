"""Numba kernels for the RBM variants at the top of a stack, and for sampling.

- :func:`cd_epoch_labels`: CD-k for an RBM whose visible layer is binary
  units plus one softmax group of label units, the top-level associative
  memory of Hinton, Osindero & Teh (2006).
- :func:`cd_epoch_linear`: CD-k (or PCD) for an RBM with linear hidden units
  and unit-variance Gaussian noise, the code layer of Hinton &
  Salakhutdinov's (2006) deep autoencoder (their ``rbmhidlinear.m``).
- :func:`gibbs_chain`: alternating Gibbs sampling in a top RBM, with label
  units clamped or free.
- :func:`label_free_energies`: ``F(v, y)`` for every label ``y``.

The conventions are those of :mod:`dbn._rbm_kernels` (whose elementwise
helpers these kernels reuse): ``W`` has shape (n_hidden, n_visible), arrays
are float32 and C-contiguous, random numbers come from a :mod:`dbn._rng`
state, matrix products go to :func:`dbn._blas.gemm`, and nothing is parallel.
A labelled RBM's visible layer is ``n_pen`` binary units followed by
``n_labels`` label units, so its rows are ``[v, one_hot(y)]`` and ``W =
[W_v | W_y]``.

Draw order (what the NumPy references in ``tests/naive.py`` replay):
hidden samples row by row; binary visible samples row by row over the
first ``n_pen`` columns, then one uniform per row for the label group.
"""

import numpy as np
from numba import njit

from ._blas import gemm
from ._math import FASTMATH, sigmoid, softplus
from ._rbm_kernels import (
    _hidden_probs_and_samples,
    _squared_error,
    add_bias_,
    batch_sums,
    batch_update,
    gather_up,
    sample_bernoulli_,
    sample_gaussian_,
    sigmoid_bias_,
)
from ._rng import GOLDEN, mix, normal, uniform, uniform_bits

_ONE = np.float32(1.0)
_ZERO = np.float32(0.0)

_hot = njit(cache=True, fastmath=FASTMATH, error_model="numpy")


@_hot
def visible_probs_labels_(v, b_v, n_pen, labels):
    """In place: visible probabilities from the input ``v = h @ W`` (no bias yet).

    Columns ``< n_pen``: ``sigmoid(v + b_v)``.  When ``labels``, columns
    ``>= n_pen`` are one softmax group: ``softmax(v + b_v)`` over them (from
    a log-sum-exp that never overflows); else they are left as they are.
    """
    n_vis = v.shape[1]
    for i in range(v.shape[0]):
        row = v[i]
        for j in range(n_pen):
            row[j] = sigmoid(row[j] + b_v[j])
        if labels and n_vis > n_pen:
            m = row[n_pen] + b_v[n_pen]
            for j in range(n_pen, n_vis):
                m = max(m, row[j] + b_v[j])
            s = 0.0
            for j in range(n_pen, n_vis):
                e = np.exp(row[j] + b_v[j] - m)
                row[j] = e
                s += e
            inv = np.float32(1.0 / s)
            for j in range(n_pen, n_vis):
                row[j] *= inv


@_hot
def sample_visible_labels_(v, n_pen, labels, state):
    """In place: probabilities to states.

    Columns ``< n_pen``: Bernoulli draws, row by row.  Then, when
    ``labels``, one one-of-K draw per row from the softmax group ``>=
    n_pen`` (one uniform per row, inverted cumulative distribution).
    """
    n_vis = v.shape[1]
    z = state[0]
    for i in range(v.shape[0]):
        row = v[i]
        for j in range(n_pen):
            z += GOLDEN
            row[j] = _ONE if uniform_bits(mix(z)) < row[j] else _ZERO
    state[0] = z
    if labels and n_vis > n_pen:
        for i in range(v.shape[0]):
            row = v[i]
            u = uniform(state)
            chosen = n_vis - 1  # if rounding leaves the sum just below u
            c = _ZERO
            for j in range(n_pen, n_vis):
                c += row[j]
                if u < c:
                    chosen = j
                    break
            for j in range(n_pen, n_vis):
                row[j] = _ZERO
            row[chosen] = _ONE


@njit(cache=True)
def join_labels_(pen, labels, rows, out):
    """``out[i] = [pen[i], one_hot(labels[rows[i]])]``: a labelled RBM's visible rows."""
    n_pen = pen.shape[1]
    for i in range(pen.shape[0]):
        row = out[i]
        for j in range(n_pen):
            row[j] = pen[i, j]
        for j in range(n_pen, out.shape[1]):
            row[j] = _ZERO
        row[n_pen + labels[rows[i]]] = _ONE


@njit(cache=True)
def linear_hidden_and_samples_(a, b_h, samples, state):
    """``a += b_h`` (the means of linear hidden units); ``samples = a + N(0, 1)``.

    Hinton & Salakhutdinov (2006), ``rbmhidlinear.m``: the hidden units are
    linear with unit-variance Gaussian noise.  ``samples`` may be ``a``.
    """
    for i in range(a.shape[0]):
        row = a[i]
        srow = samples[i]
        for j in range(a.shape[1]):
            x = row[j] + b_h[j]
            row[j] = x
            srow[j] = x + normal(state)


@njit(cache=True)
def cd_epoch_labels(
    blas_kind, X, X_data, X_indices, X_indptr, sparse, order, batch_size, labels,
    W, b_h, b_v, W_inc, b_h_inc, b_v_inc, k, sample_visible,
    lr, momentum, weight_decay, state, V, H, Hs, P, stats,
    lower_W, lower_b, lower_sizes, work,
):
    """One epoch of CD-k for an RBM over ``[v, one_hot(y)]``: binary and label units.

    Hinton, Osindero & Teh (2006), figure 1 and section 6: the top RBM of
    a DBN learns the joint distribution of the penultimate layer's states
    and a softmax group of label units.  The update is that of
    :func:`dbn._rbm_kernels.cd_epoch` (CD, momentum, weight decay on all
    weights, label weights included), with the label units as one softmax
    group: their reconstruction is ``softmax(h @ W_y + b_y)``, and a sampled
    reconstruction (every Gibbs step but the last, and the last one too
    when ``sample_visible``) draws exactly one label on (one-of-K), never
    independent bits.  As for binary units, the last step keeps the
    probabilities unless ``sample_visible`` (Hinton's guide, sections 3.2
    and 13.1; the up-down pseudo-code of the paper's appendix B also uses
    the label probabilities in the negative statistics).

    Parameters
    ----------
    blas_kind, X, X_data, X_indices, X_indptr, sparse, order, batch_size
        As :func:`dbn._rbm_kernels.cd_epoch`; ``X`` is the stack's input,
        each mini-batch going up through the layers below first.
    labels : ndarray of int64, shape (n_samples,)
        Label index (``0 <= y < n_labels``) of every row of ``X``.
    W : ndarray of float32, shape (n_hidden, n_pen + n_labels)
    b_h, b_v, W_inc, b_h_inc, b_v_inc : ndarray of float32
        Parameters and momentum buffers, updated in place; ``b_v`` and
        ``b_v_inc`` cover the label units too.
    k : int
    sample_visible : bool
    lr, momentum, weight_decay : float
    state : ndarray of uint64, shape (1,)
    V : ndarray of float32, shape (2 * batch_size, n_pen + n_labels)
    H : ndarray of float32, shape (2 * batch_size, n_hidden)
    Hs : ndarray of float32, shape (batch_size, n_hidden)
    P : ndarray of float32, shape (batch_size, n_pen)
        Work buffers.
    stats : ndarray of float64, shape (2,)
        Receives the summed squared error of the data's first
        reconstruction (label units included) and the number of rows.
    lower_W, lower_b, lower_sizes, work : ndarray
        The layers below (see :func:`dbn._rbm_kernels.gather_up`);
        ``lower_sizes[-1] == n_pen``.
    """
    n = order.shape[0]
    n_vis = W.shape[1]
    n_hid = W.shape[0]
    n_pen = P.shape[1]
    if momentum == 0.0:
        W_inc[:] = 0.0
    sse = 0.0
    sum_hp = np.empty(n_hid, np.float32)
    sum_hn = np.empty(n_hid, np.float32)
    sum_vp = np.empty(n_vis, np.float32)
    sum_vn = np.empty(n_vis, np.float32)
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        m = stop - start
        rows = order[start:stop]
        pen = P[0:m]
        gather_up(blas_kind, X, X_data, X_indices, X_indptr, sparse, rows,
                  lower_W, lower_b, lower_sizes, work, pen)
        v_pos = V[0:m]
        join_labels_(pen, labels, rows, v_pos)

        h_pos = H[0:m]
        gemm(blas_kind, False, True, 1.0, v_pos, W, 0.0, h_pos)
        _hidden_probs_and_samples(h_pos, b_h, Hs[0:m], state)
        h_state = Hs[0:m]
        v_neg = V[m:2 * m]
        h_neg = H[m:2 * m]
        for step in range(k):
            last = step == k - 1
            gemm(blas_kind, False, False, 1.0, h_state, W, 0.0, v_neg)
            visible_probs_labels_(v_neg, b_v, n_pen, True)
            if step == 0:
                sse += _squared_error(v_pos, v_neg)
            if (not last) or sample_visible:
                sample_visible_labels_(v_neg, n_pen, True, state)
            gemm(blas_kind, False, True, 1.0, v_neg, W, 0.0, h_neg)
            if last:
                sigmoid_bias_(h_neg, b_h)
            else:
                _hidden_probs_and_samples(h_neg, b_h, h_state, state)
        batch_sums(h_pos, h_neg, v_pos, v_neg, sum_hp, sum_hn, sum_vp, sum_vn)
        batch_update(blas_kind, W, b_h, b_v, W_inc, b_h_inc, b_v_inc, H[0:2 * m], V[0:2 * m], m, m,
                     lr, momentum, weight_decay, sum_hp, sum_hn, sum_vp, sum_vn)
    stats[0] = sse
    stats[1] = n


@njit(cache=True)
def cd_epoch_linear(
    blas_kind, X, X_data, X_indices, X_indptr, sparse, order, batch_size,
    W, b_h, b_v, W_inc, b_h_inc, b_v_inc, chains, k, persistent, sample_visible,
    lr, momentum, weight_decay, state, V, H, Hs, stats,
    lower_W, lower_b, lower_sizes, work,
):
    """One epoch of CD-k (or PCD-k) for binary visible and linear hidden units.

    Hinton & Salakhutdinov (2006), ``rbmhidlinear.m``: the hidden units are
    linear with unit-variance Gaussian noise, ``h = W v + b_h + N(0, 1)``;
    the statistics use their means ``W v + b_h`` (where binary units use
    their probabilities), the chain their noisy samples.  Otherwise as
    :func:`dbn._rbm_kernels.cd_epoch` without the sparsity penalty (a
    target activation has no meaning for linear units): visible
    probabilities in the last reconstruction unless ``sample_visible``.

    Parameters
    ----------
    As :func:`dbn._rbm_kernels.cd_epoch`, less the sparsity arguments and
    ``gaussian``; ``chains`` holds the real-valued hidden states of the
    persistent chains, ``V`` and ``H`` have ``2 * batch_size`` rows.
    """
    n = order.shape[0]
    n_vis = W.shape[1]
    n_hid = W.shape[0]
    if momentum == 0.0:
        W_inc[:] = 0.0
    sse = 0.0
    rows_seen = 0
    sum_hp = np.empty(n_hid, np.float32)
    sum_hn = np.empty(n_hid, np.float32)
    sum_vp = np.empty(n_vis, np.float32)
    sum_vn = np.empty(n_vis, np.float32)
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        m = stop - start
        rows = order[start:stop]
        v_pos = V[0:m]
        gather_up(blas_kind, X, X_data, X_indices, X_indptr, sparse, rows,
                  lower_W, lower_b, lower_sizes, work, v_pos)
        h_pos = H[0:m]
        gemm(blas_kind, False, True, 1.0, v_pos, W, 0.0, h_pos)
        linear_hidden_and_samples_(h_pos, b_h, Hs[0:m], state)
        if persistent:
            nc = chains.shape[0]
            h_state = chains
        else:
            nc = m
            h_state = Hs[0:m]
        v_neg = V[m:m + nc]
        h_neg = H[m:m + nc]
        for step in range(k):
            last = step == k - 1
            gemm(blas_kind, False, False, 1.0, h_state, W, 0.0, v_neg)
            sigmoid_bias_(v_neg, b_v)
            if step == 0 and not persistent:
                sse += _squared_error(v_pos, v_neg)
                rows_seen += m
            if (not last) or sample_visible:
                sample_bernoulli_(v_neg, state)
            gemm(blas_kind, False, True, 1.0, v_neg, W, 0.0, h_neg)
            if last and not persistent:
                add_bias_(h_neg, b_h)
            else:
                linear_hidden_and_samples_(h_neg, b_h, h_state, state)
        batch_sums(h_pos, h_neg, v_pos, v_neg, sum_hp, sum_hn, sum_vp, sum_vn)
        batch_update(blas_kind, W, b_h, b_v, W_inc, b_h_inc, b_v_inc, H[0:m + nc], V[0:m + nc], m, nc,
                     lr, momentum, weight_decay, sum_hp, sum_hn, sum_vp, sum_vn)
    stats[0] = sse
    stats[1] = rows_seen


@njit(cache=True)
def gibbs_chain(blas_kind, V, W, b_h, b_v, n_labels, clamp, linear_hidden, gaussian_visible,
                n_steps, state, H, V_new):
    """``n_steps`` of alternating Gibbs sampling ``v -> h -> v`` from ``V``.

    Each step samples the hidden units given ``V`` (binary: Bernoulli;
    ``linear_hidden``: mean plus N(0, 1)), then the visible units given the
    hidden sample (binary: Bernoulli; ``gaussian_visible``: mean plus N(0,
    1); the last ``n_labels`` columns: one label drawn from their softmax,
    unless ``clamp``, which keeps them as they are in ``V``: Hinton,
    Osindero & Teh 2006, section 7 and figure 8, generate a chosen digit by
    clamping its label).

    Parameters
    ----------
    blas_kind : int
    V : ndarray of float32, shape (n_chains, n_visible)
        Start states (probabilities are accepted: the first hidden step
        only needs ``V @ W.T``); receives the last visible sample.
    W, b_h, b_v : ndarray of float32
    n_labels : int
        Size of the label group at the end of the visible layer (0: none).
    clamp : bool
    linear_hidden, gaussian_visible : bool
    n_steps : int
    state : ndarray of uint64, shape (1,)
    H : ndarray of float32, shape (n_chains, n_hidden)
        Receives the last hidden sample.
    V_new : ndarray of float32, shape (n_chains, n_visible)
        Work buffer.
    """
    n_vis = W.shape[1]
    n_pen = n_vis - n_labels
    free_labels = n_labels > 0 and not clamp
    n_copy = n_pen if (n_labels > 0 and clamp) else n_vis
    for _step in range(n_steps):
        gemm(blas_kind, False, True, 1.0, V, W, 0.0, H)
        if linear_hidden:
            linear_hidden_and_samples_(H, b_h, H, state)
        else:
            sigmoid_bias_(H, b_h)
            sample_bernoulli_(H, state)
        gemm(blas_kind, False, False, 1.0, H, W, 0.0, V_new)
        if gaussian_visible:
            add_bias_(V_new, b_v)
            sample_gaussian_(V_new, state)
        else:
            visible_probs_labels_(V_new, b_v, n_pen, free_labels)
            sample_visible_labels_(V_new, n_pen, free_labels, state)
        for i in range(V.shape[0]):
            for j in range(n_copy):
                V[i, j] = V_new[i, j]


@njit(cache=True, fastmath=FASTMATH)
def label_free_energies(H0, W_y, b_y, out):
    """``out[i, y] = F(v_i, y) = -b_y[y] - sum_j softplus(H0[i, j] + W_y[j, y])``.

    ``H0 = v @ W_v.T + b_h`` is the hidden input without the label units;
    the visible-bias term ``-b_v . v``, the same for every label, is left
    out.  ``p(y | v)`` is the softmax of ``-out[i]`` (Hinton, Osindero & Teh
    2006, section 6: classification by the free energy of each label).
    """
    n_hid = H0.shape[1]
    for i in range(H0.shape[0]):
        h = H0[i]
        for y in range(W_y.shape[1]):
            s = 0.0
            for j in range(n_hid):
                s += softplus(h[j] + W_y[j, y])
            out[i, y] = -b_y[y] - s
