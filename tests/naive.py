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


def _sample_binary_and_labels(state, v, n_pen, labels):
    """The draws of ``dbn._rbm_variant_kernels.sample_visible_labels_``, replayed."""
    v = v.copy()
    u = draw_uniform(state, (v.shape[0], n_pen))
    v[:, :n_pen] = (u < v[:, :n_pen].astype(np.float32)).astype(np.float64)
    if labels and v.shape[1] > n_pen:
        u = draw_uniform(state, v.shape[0])
        for i in range(v.shape[0]):
            cum = np.cumsum(v[i, n_pen:].astype(np.float32))
            above = np.flatnonzero(u[i] < cum)
            chosen = above[0] if len(above) else len(cum) - 1
            v[i, n_pen:] = 0.0
            v[i, n_pen + chosen] = 1.0
    return v


def _softmax(a):
    return np.exp(a - np.logaddexp.reduce(a, axis=1, keepdims=True))


def cd_epoch_labels(P, labels, n_labels, order, batch_size, W, b_h, b_v, W_inc, b_h_inc, b_v_inc, *, k,
                    sample_visible, lr, momentum, weight_decay, state):
    """Reference for :func:`dbn._rbm_variant_kernels.cd_epoch_labels` (float64).

    ``P`` holds the penultimate layer's values of every row (already
    propagated up).  Returns the updated (W, b_h, b_v, W_inc, b_h_inc,
    b_v_inc, sse).
    """
    W, b_h, b_v, W_inc, b_h_inc, b_v_inc = (a.astype(np.float64)
                                            for a in (W, b_h, b_v, W_inc, b_h_inc, b_v_inc))
    n_pen = P.shape[1]
    sse = 0.0
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        v_pos = np.hstack([P[rows].astype(np.float64), np.eye(n_labels)[labels[rows]]])
        m = len(v_pos)
        h_pos = sigmoid(v_pos @ W.T + b_h)
        h_state = (draw_uniform(state, h_pos.shape) < h_pos.astype(np.float32)).astype(np.float64)
        for step in range(k):
            last = step == k - 1
            a = h_state @ W + b_v
            v_neg = np.hstack([sigmoid(a[:, :n_pen]), _softmax(a[:, n_pen:])])
            if step == 0:
                sse += ((v_pos - v_neg) ** 2).sum()
            if not last or sample_visible:
                v_neg = _sample_binary_and_labels(state, v_neg, n_pen, True)
            h_neg = sigmoid(v_neg @ W.T + b_h)
            if not last:
                h_state = (draw_uniform(state, h_neg.shape) < h_neg.astype(np.float32)).astype(np.float64)
        W_inc = momentum * W_inc + lr * ((h_pos.T @ v_pos - h_neg.T @ v_neg) / m - weight_decay * W)
        b_h_inc = momentum * b_h_inc + lr * (h_pos.mean(0) - h_neg.mean(0))
        b_v_inc = momentum * b_v_inc + lr * (v_pos.mean(0) - v_neg.mean(0))
        W, b_h, b_v = W + W_inc, b_h + b_h_inc, b_v + b_v_inc
    return W, b_h, b_v, W_inc, b_h_inc, b_v_inc, sse


def cd_epoch_linear(X, order, batch_size, W, b_h, b_v, W_inc, b_h_inc, b_v_inc, chains, *, k,
                    persistent, sample_visible, lr, momentum, weight_decay, state):
    """Reference for :func:`dbn._rbm_variant_kernels.cd_epoch_linear` (float64).

    Linear hidden units with unit-variance Gaussian noise (Hinton &
    Salakhutdinov's ``rbmhidlinear.m``).  Returns the updated (W, b_h, b_v,
    W_inc, b_h_inc, b_v_inc, chains, sse, rows).
    """
    W, b_h, b_v, W_inc, b_h_inc, b_v_inc, chains = (
        a.astype(np.float64) for a in (W, b_h, b_v, W_inc, b_h_inc, b_v_inc, chains))
    sse, rows_seen = 0.0, 0
    for start in range(0, len(order), batch_size):
        v_pos = X[order[start:start + batch_size]].astype(np.float64)
        m = len(v_pos)
        h_pos = v_pos @ W.T + b_h
        h_smp = h_pos + draw_normal(state, h_pos.shape)
        h_state = chains if persistent else h_smp
        nc = len(h_state)
        for step in range(k):
            last = step == k - 1
            v_neg = sigmoid(h_state @ W + b_v)
            if step == 0 and not persistent:
                sse += ((v_pos - v_neg) ** 2).sum()
                rows_seen += m
            if not last or sample_visible:
                v_neg = (draw_uniform(state, v_neg.shape) < v_neg.astype(np.float32)).astype(np.float64)
            h_neg = v_neg @ W.T + b_h
            if not last or persistent:
                h_state = h_neg + draw_normal(state, h_neg.shape)
                if persistent and last:
                    chains = h_state
        W_inc = momentum * W_inc + lr * (h_pos.T @ v_pos / m - h_neg.T @ v_neg / nc - weight_decay * W)
        b_h_inc = momentum * b_h_inc + lr * (h_pos.mean(0) - h_neg.mean(0))
        b_v_inc = momentum * b_v_inc + lr * (v_pos.mean(0) - v_neg.mean(0))
        W, b_h, b_v = W + W_inc, b_h + b_h_inc, b_v + b_v_inc
    return W, b_h, b_v, W_inc, b_h_inc, b_v_inc, chains, sse, rows_seen


def gibbs_chain(V, W, b_h, b_v, *, n_labels, clamp, linear_hidden, gaussian_visible, n_steps, state):
    """Reference for :func:`dbn._rbm_variant_kernels.gibbs_chain`: the last (V, H) samples."""
    V = V.astype(np.float64)
    W = W.astype(np.float64)
    n_pen = W.shape[1] - n_labels
    free = n_labels > 0 and not clamp
    for _ in range(n_steps):
        a = V @ W.T + b_h
        if linear_hidden:
            H = a + draw_normal(state, a.shape)
        else:
            H = (draw_uniform(state, a.shape) < sigmoid(a).astype(np.float32)).astype(np.float64)
        b = H @ W + b_v
        if gaussian_visible:
            V_new = b + draw_normal(state, b.shape)
        else:
            V_new = b.copy()
            V_new[:, :n_pen] = sigmoid(b[:, :n_pen])
            if free:
                V_new[:, n_pen:] = _softmax(b[:, n_pen:])
            V_new = _sample_binary_and_labels(state, V_new, n_pen, free)
            if n_labels and clamp:
                V_new[:, n_pen:] = V[:, n_pen:]
        V = V_new
    return V, H


def label_free_energies(H0, W_y, b_y):
    """``F(v, y)`` without ``-b_v . v``, from ``H0 = v @ W_v.T + b_h``: shape (n, n_labels)."""
    H0 = H0.astype(np.float64)
    return np.stack([-b_y[y] - softplus(H0 + W_y[:, y]).sum(1) for y in range(W_y.shape[1])], axis=1)


def up_down_epoch(X, labels, n_labels, order, batch_size, Rs, rbs, Gs, gbs, W, b_h, b_v, *, k, lr,
                  weight_decay, state):
    """Reference for :func:`dbn._up_down_kernels.up_down_epoch` (float64).

    Hinton, Osindero & Teh (2006), appendix B, for any number of directed
    layers: ``Rs[l]``, ``Gs[l]`` of shape (n_{l+1}, n_l), ``rbs[l]`` the
    upper layer's biases, ``gbs[l]`` the lower layer's.  Returns the updated
    (Rs, rbs, Gs, gbs, W, b_h, b_v, sse).
    """
    f64 = np.float64
    Rs, rbs, Gs, gbs = ([a.astype(f64) for a in arrays] for arrays in (Rs, rbs, Gs, gbs))
    W, b_h, b_v = (a.astype(f64) for a in (W, b_h, b_v))
    n_pen = Rs[-1].shape[0]
    L = len(Rs)

    def sample(p):
        return (draw_uniform(state, p.shape) < p.astype(np.float32)).astype(f64)

    sse = 0.0
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        m = len(rows)
        wake = [X[rows].astype(f64)]
        for R, r in zip(Rs, rbs):
            wake.append(sample(sigmoid(wake[-1] @ R.T + r)))
        v_pos = np.hstack([wake[-1], np.eye(n_labels)[labels[rows]]])
        h_pos = sigmoid(v_pos @ W.T + b_h)
        h_state = sample(h_pos)
        for step in range(k):
            a = h_state @ W + b_v
            v_neg = np.hstack([sigmoid(a[:, :n_pen]), _softmax(a[:, n_pen:])])
            v_neg = _sample_binary_and_labels(state, v_neg, n_pen, False)
            h_neg = sigmoid(v_neg @ W.T + b_h)
            if step < k - 1:
                h_state = sample(h_neg)
        sleep = [None] * L + [v_neg[:, :n_pen]]
        for layer in reversed(range(L)):
            p = sigmoid(sleep[layer + 1] @ Gs[layer] + gbs[layer])
            sleep[layer] = sample(p) if layer > 0 else p
        # Every prediction from the parameters the mini-batch started with.
        p_wake = [sigmoid(wake[layer + 1] @ Gs[layer] + gbs[layer]) for layer in range(L)]
        q_sleep = [sigmoid(sleep[layer] @ Rs[layer].T + rbs[layer]) for layer in range(L)]
        sse += ((wake[0] - p_wake[0]) ** 2).sum()
        for layer in range(L):
            d = wake[layer] - p_wake[layer]
            Gs[layer] = Gs[layer] + lr * (wake[layer + 1].T @ d / m - weight_decay * Gs[layer])
            gbs[layer] = gbs[layer] + lr * d.mean(0)
            e = sleep[layer + 1] - q_sleep[layer]
            Rs[layer] = Rs[layer] + lr * (e.T @ sleep[layer] / m - weight_decay * Rs[layer])
            rbs[layer] = rbs[layer] + lr * e.mean(0)
        W = W + lr * ((h_pos.T @ v_pos - h_neg.T @ v_neg) / m - weight_decay * W)
        b_h = b_h + lr * (h_pos.mean(0) - h_neg.mean(0))
        b_v = b_v + lr * (v_pos.mean(0) - v_neg.mean(0))
    return Rs, rbs, Gs, gbs, W, b_h, b_v, sse
