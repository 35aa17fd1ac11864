"""Slow, obvious NumPy references for the kernels (stumpy's ``naive.py`` habit).

Random draws are replayed from the same :mod:`dbn._rng` state, in the order
the kernels make them, so a reference and a kernel can be compared exactly.
"""

import itertools

import numpy as np

from dbn import _rng


def sigmoid(x):
    x = np.asarray(x, dtype=np.float64)
    return np.exp(-np.logaddexp(0.0, -x))


def softplus(x):
    return np.logaddexp(0.0, np.asarray(x, dtype=np.float64))


def draw_uniform(state, shape):
    out = np.empty(shape, dtype=np.float32)
    _rng.fill_uniform(state, out)
    return out


def draw_normal(state, shape):
    out = np.empty(shape, dtype=np.float32)
    _rng.fill_normal(state, out)
    return out


def cd_epoch(X, order, batch_size, W, b_h, b_v, W_inc, b_h_inc, b_v_inc, chains, q, *, k,
             persistent, sample_visible, gaussian, lr, momentum, weight_decay,
             sparsity_target, sparsity_cost, sparsity_decay, state):
    """Reference for :func:`dbn._rbm_kernels.cd_epoch` (float64 arithmetic).

    Returns the updated (W, b_h, b_v, W_inc, b_h_inc, b_v_inc, chains, q,
    sse, rows).
    """
    W, b_h, b_v = (a.astype(np.float64) for a in (W, b_h, b_v))
    W_inc, b_h_inc, b_v_inc = (a.astype(np.float64) for a in (W_inc, b_h_inc, b_v_inc))
    chains = chains.astype(np.float64)
    q = q.astype(np.float64)
    sse, rows_seen = 0.0, 0
    for start in range(0, len(order), batch_size):
        v_pos = X[order[start:start + batch_size]].astype(np.float64)
        m = len(v_pos)
        h_pos = sigmoid(v_pos @ W.T + b_h)
        h_smp = (draw_uniform(state, h_pos.shape) < h_pos.astype(np.float32)).astype(np.float64)
        h_state = chains if persistent else h_smp
        nc = len(h_state)
        for step in range(k):
            last = step == k - 1
            mean = h_state @ W + b_v
            v_neg = mean if gaussian else sigmoid(mean)
            if step == 0 and not persistent:
                sse += ((v_pos - v_neg) ** 2).sum()
                rows_seen += m
            if not last or sample_visible:
                if gaussian:
                    v_neg = v_neg + draw_normal(state, v_neg.shape)
                else:
                    v_neg = (draw_uniform(state, v_neg.shape) < v_neg.astype(np.float32)).astype(np.float64)
            h_neg = sigmoid(v_neg @ W.T + b_h)
            if not last or persistent:
                h_state = (draw_uniform(state, h_neg.shape) < h_neg.astype(np.float32)).astype(np.float64)
                if persistent and last:
                    chains = h_state
        grad_W = h_pos.T @ v_pos / m - h_neg.T @ v_neg / nc
        grad_bh = h_pos.mean(0) - h_neg.mean(0)
        grad_bv = v_pos.mean(0) - v_neg.mean(0)
        if sparsity_cost > 0:
            if q[0] < 0:
                q = h_pos.mean(0)
            q = sparsity_decay * q + (1 - sparsity_decay) * h_pos.mean(0)
            pen = sparsity_cost * (q - sparsity_target)
            grad_W -= np.outer(pen, v_pos.mean(0))
            grad_bh -= pen
        W_inc = momentum * W_inc + lr * (grad_W - weight_decay * W)
        b_h_inc = momentum * b_h_inc + lr * grad_bh
        b_v_inc = momentum * b_v_inc + lr * grad_bv
        W = W + W_inc
        b_h = b_h + b_h_inc
        b_v = b_v + b_v_inc
    return W, b_h, b_v, W_inc, b_h_inc, b_v_inc, chains, q, sse, rows_seen


def all_states(n):
    """Every binary vector of length ``n``, shape (2**n, n)."""
    return np.array(list(itertools.product([0.0, 1.0], repeat=n)))


def bernoulli_free_energy(V, W, b_h, b_v):
    return -V @ b_v - softplus(V @ W.T + b_h).sum(1)


def exact_log_partition(W, b_h, b_v):
    """log Z of a Bernoulli RBM by enumerating the visible states."""
    V = all_states(W.shape[1])
    return np.logaddexp.reduce(-bernoulli_free_energy(V, W.astype(np.float64), b_h, b_v))


def exact_log_likelihood(X, W, b_h, b_v):
    """Mean log p(x) over the rows of binary X."""
    W = W.astype(np.float64)
    return float(np.mean(-bernoulli_free_energy(X, W, b_h, b_v)) - exact_log_partition(W, b_h, b_v))


def exact_gradient(X, W, b_h, b_v):
    """Exact gradient of the mean log-likelihood with respect to W, b_h, b_v."""
    W = W.astype(np.float64)
    V = all_states(W.shape[1])
    logp = -bernoulli_free_energy(V, W, b_h, b_v)
    p = np.exp(logp - np.logaddexp.reduce(logp))
    Hm = sigmoid(V @ W.T + b_h)
    Hd = sigmoid(X @ W.T + b_h)
    gW = Hd.T @ X / len(X) - (Hm * p[:, None]).T @ V
    return gW, Hd.mean(0) - p @ Hm, X.mean(0) - p @ V


def expected_cd_update(X, W, b_h, b_v, k):
    """Exact expectation of the CD-k statistics of a Gibbs chain (visibles sampled).

    The chain starts at each data vector; the visible marginal after ``t``
    steps is propagated with the visible-to-visible transition matrix
    ``T[v, v'] = sum_h p(h|v) p(v'|h)``.
    """
    W = W.astype(np.float64)
    nv, nh = W.shape[1], W.shape[0]
    V = all_states(nv)
    Hs = all_states(nh)
    ph_v = sigmoid(V @ W.T + b_h)  # p(h_j = 1 | v)
    # p(h | v) over every hidden state, p(v | h) over every visible state.
    P_h_given_v = np.prod(np.where(Hs[None] == 1, ph_v[:, None], 1 - ph_v[:, None]), axis=2)
    pv_h = sigmoid(Hs @ W + b_v)
    P_v_given_h = np.prod(np.where(V[None] == 1, pv_h[:, None], 1 - pv_h[:, None]), axis=2)
    T = P_h_given_v @ P_v_given_h
    index = {tuple(v): i for i, v in enumerate(V)}
    start = np.zeros(len(V))
    for x in X:
        start[index[tuple(x)]] += 1.0 / len(X)
    dist = start @ np.linalg.matrix_power(T, k)
    Hd = sigmoid(X @ W.T + b_h)
    gW = Hd.T @ X / len(X) - (ph_v * dist[:, None]).T @ V
    return gW, Hd.mean(0) - dist @ ph_v, X.mean(0) - dist @ V
