"""Numba kernels for restricted Boltzmann machines.

Everything here is a stateless module-level function over arrays and scalars.
The training kernel :func:`cd_epoch` runs a whole epoch of contrastive
divergence in compiled code: per mini-batch it calls BLAS (through
:func:`dbn._blas.gemm`, the same library as NumPy's ``@``) for the matrix
products and fuses all elementwise work (bias, sigmoid, sampling, sums) into
single passes over the products' outputs.  Nothing here is parallel: the BLAS
calls use the BLAS thread pool, and a second pool (Numba's OpenMP) alternating
with it was measured to make an epoch 5-100 times slower.

Conventions: ``W`` has shape (n_hidden, n_visible) like scikit-learn's
``components_``; all arrays are float32 and C-contiguous; ``state`` is a
:mod:`dbn._rng` state.
"""

import numpy as np
from numba import njit

from ._blas import gemm
from ._math import FASTMATH, sigmoid, softplus
from ._rng import GOLDEN, mix, normal, uniform_bits

_ONE = np.float32(1.0)
_ZERO = np.float32(0.0)

# Hot elementwise kernels: vectorisable (see dbn._math).
_hot = njit(cache=True, fastmath=FASTMATH, error_model="numpy")


@_hot
def sigmoid_bias_(a, bias):
    """In place: ``a[i, j] = sigmoid(a[i, j] + bias[j])``."""
    for i in range(a.shape[0]):
        row = a[i]
        for j in range(a.shape[1]):
            row[j] = sigmoid(row[j] + bias[j])


@_hot
def add_bias_(a, bias):
    """In place: ``a[i, j] += bias[j]`` (the mean of Gaussian visible units)."""
    for i in range(a.shape[0]):
        row = a[i]
        for j in range(a.shape[1]):
            row[j] += bias[j]


@_hot
def sample_bernoulli_(p, state):
    """In place: replace each probability by a Bernoulli draw (0 or 1)."""
    z = state[0]
    for i in range(p.shape[0]):
        row = p[i]
        for j in range(p.shape[1]):
            z += GOLDEN
            row[j] = _ONE if uniform_bits(mix(z)) < row[j] else _ZERO
    state[0] = z


@njit(cache=True)
def sample_gaussian_(mean, state):
    """In place: add unit-variance Gaussian noise to each mean."""
    for i in range(mean.shape[0]):
        for j in range(mean.shape[1]):
            mean[i, j] += normal(state)


@njit(cache=True)
def gather_dense(X, rows, out):
    """``out[r] = X[rows[r]]`` for the leading ``len(rows)`` rows of ``out``."""
    for r in range(rows.shape[0]):
        src = rows[r]
        for j in range(X.shape[1]):
            out[r, j] = X[src, j]


@njit(cache=True)
def gather_csr(data, indices, indptr, rows, out):
    """Dense ``out[r] = X[rows[r]]`` from the CSR arrays of a sparse ``X``.

    Densifying one mini-batch at a time keeps sparse input on the same BLAS
    path as dense input without ever densifying the whole matrix.
    """
    for r in range(rows.shape[0]):
        for j in range(out.shape[1]):
            out[r, j] = _ZERO
        src = rows[r]
        for p in range(indptr[src], indptr[src + 1]):
            out[r, indices[p]] = data[p]


@_hot
def _hidden_probs_and_samples(a, b_h, samples, state):
    # a holds v @ W.T: probabilities in place, Bernoulli draws into samples.
    z = state[0]
    for i in range(a.shape[0]):
        row = a[i]
        srow = samples[i]
        for j in range(a.shape[1]):
            p = sigmoid(row[j] + b_h[j])
            row[j] = p
            z += GOLDEN
            srow[j] = _ONE if uniform_bits(mix(z)) < p else _ZERO
    state[0] = z


@_hot
def _column_sums(a, out):
    # Row by row, so the inner loop is contiguous and vectorises.
    out[:] = 0.0
    for i in range(a.shape[0]):
        row = a[i]
        for j in range(a.shape[1]):
            out[j] += row[j]


@_hot
def _column_sums_then_scale(a, scale, out):
    # Column sums of a, then a *= scale, in one pass.
    out[:] = 0.0
    for i in range(a.shape[0]):
        row = a[i]
        for j in range(a.shape[1]):
            x = row[j]
            out[j] += x
            row[j] = scale * x


@_hot
def _squared_error(a, b):
    s = 0.0
    for i in range(a.shape[0]):
        ra = a[i]
        rb = b[i]
        for j in range(a.shape[1]):
            d = ra[j] - rb[j]
            s += d * d
    return s


@_hot
def _apply_increment(W, W_inc, decay):
    # W_inc -= decay * W; W += W_inc   (weight decay after the momentum GEMM)
    for j in range(W.shape[0]):
        w = W[j]
        inc = W_inc[j]
        for i in range(W.shape[1]):
            d = inc[i] - decay * w[i]
            inc[i] = d
            w[i] += d


@njit(cache=True)
def gather_up(blas_kind, X, X_data, X_indices, X_indptr, sparse, rows,
              lower_W, lower_b, lower_sizes, work, out):
    """Rows ``X[rows]``, propagated up through trained layers, into ``out``.

    ``lower_sizes`` holds the widths of the input and of each lower layer's
    hidden units (``lower_sizes[-1] == out.shape[1]``); layer ``l`` has
    weights ``lower_W`` (packed, each (n_out, n_in) C-order) and hidden
    biases ``lower_b``, and maps its input to hidden probabilities
    ``sigmoid(a @ W.T + b)``, as :meth:`transform` does.  With no lower
    layer (``len(lower_sizes) == 1``) this is a plain gather.  ``work``
    holds the intermediate activations: ``len(rows)`` rows of every width
    but the last.

    Greedy pretraining uses this to feed each mini-batch through the layers
    below instead of storing every image's hidden probabilities (60,000 x
    500 float32 for MNIST: 114 MiB per layer).
    """
    m = rows.shape[0]
    n_layers = lower_sizes.shape[0] - 1
    if n_layers == 0:
        a = out
    else:
        a = work[0:m * lower_sizes[0]].reshape((m, lower_sizes[0]))
    if sparse:
        gather_csr(X_data, X_indices, X_indptr, rows, a)
    else:
        gather_dense(X, rows, a)
    w_off = 0
    b_off = 0
    a_off = m * lower_sizes[0]
    for layer in range(n_layers):
        n_in = lower_sizes[layer]
        n_out = lower_sizes[layer + 1]
        W = lower_W[w_off:w_off + n_out * n_in].reshape((n_out, n_in))
        if layer == n_layers - 1:
            nxt = out
        else:
            nxt = work[a_off:a_off + m * n_out].reshape((m, n_out))
            a_off += m * n_out
        gemm(blas_kind, False, True, 1.0, a, W, 0.0, nxt)
        sigmoid_bias_(nxt, lower_b[b_off:b_off + n_out])
        w_off += n_out * n_in
        b_off += n_out
        a = nxt


@njit(cache=True)
def batch_sums(h_pos, h_neg, v_pos, v_neg, sum_hp, sum_hn, sum_vp, sum_vn):
    """Column sums of one mini-batch's statistics, for the bias gradients.

    ``h_neg`` (``nc`` rows, ``m`` in ``h_pos``) is then negated and
    rescaled by ``m / nc``, so that one GEMM of the stacked ``[h_pos;
    -h_neg]`` and ``[v_pos; v_neg]`` gives both statistics of the weight
    gradient (see :func:`batch_update`).
    """
    m = h_pos.shape[0]
    nc = h_neg.shape[0]
    _column_sums(h_pos, sum_hp)
    _column_sums_then_scale(h_neg, -np.float32(m / nc), sum_hn)
    _column_sums(v_pos, sum_vp)
    _column_sums(v_neg, sum_vn)


@njit(cache=True)
def batch_update(blas_kind, W, b_h, b_v, W_inc, b_h_inc, b_v_inc, H, V, m, nc,
                 lr, momentum, weight_decay, sum_hp, sum_hn, sum_vp, sum_vn):
    """The parameter update of one mini-batch of CD (:func:`cd_epoch`).

    ``H`` and ``V`` are the stacked rows of :func:`batch_sums` (``m``
    positive, ``nc`` negative, and any extra penalty rows), ``sum_*`` their
    column sums.  Without momentum the whole weight update, weight decay
    included, is one GEMM into ``W``: ``(1 - lr * wd) * W + (lr / m) *
    H.T @ V``, and ``W_inc`` is left as it is (the caller zeroes it).
    """
    n_hid = W.shape[0]
    n_vis = W.shape[1]
    for j in range(n_hid):
        b_h_inc[j] = momentum * b_h_inc[j] + lr * (sum_hp[j] / m - sum_hn[j] / nc)
        b_h[j] += b_h_inc[j]
    for i in range(n_vis):
        b_v_inc[i] = momentum * b_v_inc[i] + lr * (sum_vp[i] / m - sum_vn[i] / nc)

    alpha = np.float32(lr / m)
    if momentum == 0.0:
        gemm(blas_kind, True, False, alpha, H, V, np.float32(1.0 - lr * weight_decay), W)
    else:
        gemm(blas_kind, True, False, alpha, H, V, np.float32(momentum), W_inc)
        _apply_increment(W, W_inc, np.float32(lr * weight_decay))
    for i in range(n_vis):
        b_v[i] += b_v_inc[i]


@njit(cache=True)
def cd_epoch(
    blas_kind, X, X_data, X_indices, X_indptr, sparse, order, batch_size,
    W, b_h, b_v, W_inc, b_h_inc, b_v_inc, chains, q,
    k, persistent, sample_visible, gaussian,
    lr, momentum, weight_decay, sparsity_target, sparsity_cost, sparsity_decay,
    state, V, H, Hs, stats, lower_W, lower_b, lower_sizes, work,
):
    """One epoch of CD-k (or persistent CD-k) over ``X[order]``.

    The update of each mini-batch of ``m`` rows is Hinton's (2010, "A
    practical guide to training RBMs", sections 3, 9-11; and ``rbm.m`` of
    Hinton & Salakhutdinov 2006)::

        W_inc = momentum * W_inc + lr * ((<h v>_data - <h v>_model) / m
                                         - weight_decay * W - sparsity term)
        W += W_inc

    with hidden *probabilities* in both statistics, sampled hidden states
    driving the chain, and visible probabilities (means) in the last
    reconstruction unless ``sample_visible``.

    Parameters
    ----------
    blas_kind : int
        :data:`dbn._blas.BLAS_KIND`.
    X : ndarray of float32, shape (n_samples, n_visible)
        Dense data (a 1x1 dummy when ``sparse``).
    X_data, X_indices, X_indptr : ndarray
        CSR arrays of sparse data (dummies when not ``sparse``).
    sparse : bool
    order : ndarray of int64
        Row order of this epoch; batches are consecutive slices of it.
    batch_size : int
    W, b_h, b_v : ndarray of float32
        Parameters, updated in place.
    W_inc, b_h_inc, b_v_inc : ndarray of float32
        Momentum buffers ("increments"), updated in place.
    chains : ndarray of float32, shape (n_chains, n_hidden)
        Hidden states of the persistent chains (Tieleman 2008); unused in
        CD mode.
    q : ndarray of float32, shape (n_hidden,)
        Running mean of hidden activations for the sparsity penalty; a
        negative first entry means "not yet initialised".
    k : int
        Gibbs steps in the negative phase.
    persistent, sample_visible, gaussian : bool
    lr, momentum, weight_decay : float
    sparsity_target, sparsity_cost, sparsity_decay : float
        Hinton's guide, section 11: target ``p``, cost, and decay ``lambda``
        of the running estimate ``q``.
    state : ndarray of uint64, shape (1,)
    V : ndarray of float32, shape (2 * batch_size + 1, n_visible)
    H : ndarray of float32, shape (2 * batch_size + 1, n_hidden)
    Hs : ndarray of float32, shape (batch_size, n_hidden)
        Work buffers.
    stats : ndarray of float64, shape (2,)
        Receives the summed squared reconstruction error of the data's first
        reconstruction (CD only) and the number of rows it covers.
    lower_W, lower_b, lower_sizes, work : ndarray
        Trained layers below this one that each mini-batch of ``X`` goes up
        through first (see :func:`gather_up`); ``lower_sizes == [n_visible]``
        when ``X`` is this RBM's own input.
    """
    n = order.shape[0]
    n_vis = W.shape[1]
    n_hid = W.shape[0]
    use_sparsity = sparsity_cost > 0.0
    if momentum == 0.0:
        # batch_update does not materialise the increment; a later epoch
        # with momentum starts from rest.
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

        # Positive phase.
        h_pos = H[0:m]
        gemm(blas_kind, False, True, 1.0, v_pos, W, 0.0, h_pos)
        _hidden_probs_and_samples(h_pos, b_h, Hs[0:m], state)

        if persistent:
            nc = chains.shape[0]
            h_state = chains
        else:
            nc = m
            h_state = Hs[0:m]
        v_neg = V[m:m + nc]
        h_neg = H[m:m + nc]

        # Negative phase: k steps of alternating Gibbs sampling.
        for step in range(k):
            last = step == k - 1
            gemm(blas_kind, False, False, 1.0, h_state, W, 0.0, v_neg)
            if gaussian:
                add_bias_(v_neg, b_v)
            else:
                sigmoid_bias_(v_neg, b_v)
            if step == 0 and not persistent:
                sse += _squared_error(v_pos, v_neg)
                rows_seen += m
            if (not last) or sample_visible:
                if gaussian:
                    sample_gaussian_(v_neg, state)
                else:
                    sample_bernoulli_(v_neg, state)
            gemm(blas_kind, False, True, 1.0, v_neg, W, 0.0, h_neg)
            if last:
                if persistent:
                    _hidden_probs_and_samples(h_neg, b_h, chains, state)
                else:
                    sigmoid_bias_(h_neg, b_h)
            else:
                _hidden_probs_and_samples(h_neg, b_h, h_state, state)

        batch_sums(h_pos, h_neg, v_pos, v_neg, sum_hp, sum_hn, sum_vp, sum_vn)
        n_rows = m + nc
        if use_sparsity:
            if q[0] < 0.0:
                # First batch: start the running mean at the batch mean.
                for j in range(n_hid):
                    q[j] = sum_hp[j] / m
            # Hinton's guide, 11.2: d(penalty)/d(total input) = q - p, applied
            # to the hidden bias and, times the mean visible input, to W.
            # As one more stacked row it rides along in the same GEMM.
            row = H[n_rows]
            for j in range(n_hid):
                q[j] = sparsity_decay * q[j] + (1.0 - sparsity_decay) * (sum_hp[j] / m)
                pen = sparsity_cost * (q[j] - sparsity_target)
                row[j] = -pen * m
                sum_hp[j] -= pen * m  # the bias takes the same penalty
            vrow = V[n_rows]
            for i in range(n_vis):
                vrow[i] = sum_vp[i] / m
            n_rows += 1
        batch_update(blas_kind, W, b_h, b_v, W_inc, b_h_inc, b_v_inc, H[0:n_rows], V[0:n_rows], m, nc,
                     lr, momentum, weight_decay, sum_hp, sum_hn, sum_vp, sum_vn)
    stats[0] = sse
    stats[1] = rows_seen


@njit(cache=True)
def free_energy_rows(H, V_dot_bv, V_sqnorm, b_h, gaussian, out):
    """Free energy of each row from its hidden input ``H = V @ W.T``.

    Bernoulli visibles: ``F(v) = -b_v.v - sum_j softplus(b_h_j + W_j.v)``.
    Gaussian visibles (unit variance): ``F(v) = ||v - b_v||^2 / 2 - sum_j
    softplus(...)``, for which the caller passes ``V_dot_bv = v.b_v -
    ||b_v||^2 / 2`` and ``V_sqnorm = ||v||^2``.
    """
    for i in range(H.shape[0]):
        s = 0.0
        for j in range(H.shape[1]):
            s += softplus(H[i, j] + b_h[j])
        if gaussian:
            out[i] = 0.5 * V_sqnorm[i] - V_dot_bv[i] - s
        else:
            out[i] = -V_dot_bv[i] - s


@njit(cache=True)
def pseudo_likelihood_rows(H, v_at, v_dot_bv, flip, W, b_h, b_v, out):
    """scikit-learn's stochastic pseudo-likelihood, one flipped unit per row.

    ``out[i] = n_visible * log sigmoid(F(v~) - F(v))`` where ``v~`` is ``v``
    with unit ``flip[i]`` flipped.  Flipping unit ``c`` moves the hidden input
    by ``+-W[:, c]``, so ``F(v~)`` costs O(n_hidden) instead of a second GEMM.
    ``v_at[i]`` is the value of the flipped unit before the flip.
    """
    n_vis = W.shape[1]
    for i in range(H.shape[0]):
        c = flip[i]
        delta = 1.0 - 2.0 * v_at[i]  # +1 turns a 0 on, -1 turns a 1 off
        fe = -v_dot_bv[i]
        fe_flip = -(v_dot_bv[i] + delta * b_v[c])
        d = np.float32(delta)
        for j in range(H.shape[1]):
            x = H[i, j] + b_h[j]
            fe -= softplus(x)
            fe_flip -= softplus(x + d * W[j, c])
        # log sigmoid(z) = -softplus(-z)
        out[i] = -n_vis * softplus(-(fe_flip - fe))
