"""Fine-tuning engine: a feed-forward network trained by mini-batch SGD.

This is the Python side of :mod:`dbn._network_kernels`: it lays the
parameters out, allocates the work buffers, draws the data order and the
learning-rate and momentum schedules, and calls the compiled kernels, which
run a whole epoch per call.  It knows nothing about estimators: the
scikit-learn classes build on :func:`make_layout`, :func:`init_params`,
:class:`SGDTrainer`, :class:`SGDSchedule`, :func:`train`, :func:`forward` and
:func:`compute_loss`.

The network is the one of Hinton & Salakhutdinov (2006): layers of logistic
(or ReLU, or linear: ``"identity"``) hidden units, initialised from a stack
of RBMs (``coefs[l] = rbm.components_.T``, ``intercepts[l] =
rbm.intercept_hidden_``) or at random,
topped by an output layer with the canonical link of its loss:

=============  ==============================  ===========================
``output``     loss per sample                 use
=============  ==============================  ===========================
``softmax``    cross-entropy                   classification
``identity``   ``0.5 * sum_k (a_k - y_k)^2``   regression
``logistic``   binary cross-entropy, summed    multi-label, autoencoders
=============  ==============================  ===========================

Losses are averaged over samples, and scikit-learn's L2 penalty is added:
a batch of ``B`` rows has loss ``mean_i loss_i + 0.5 * alpha * sum_l
||W_l||^2 / B`` (biases are not penalised), exactly as
:class:`~sklearn.neural_network.MLPClassifier`, so ``alpha`` means the same
thing.  For the squared error this is scikit-learn's *gradient*; the value
scikit-learn reports as ``loss_`` additionally divides the squared error by
the number of outputs (its loss and gradient disagree for several outputs),
so ours equals it for one output and is ``n_outputs`` times it otherwise.

Parameters live in one flat float32 vector in scikit-learn's ``_pack`` order
(all weight matrices, then all bias vectors), and :func:`unpack` returns
views shaped like ``coefs_`` and ``intercepts_``.

References
----------
Hinton, G. E., & Salakhutdinov, R. R. (2006). Reducing the dimensionality of
data with neural networks. Science, 313(5786), 504-507.

Hinton, G. E., Srivastava, N., Krizhevsky, A., Sutskever, I., &
Salakhutdinov, R. R. (2012). Improving neural networks by preventing
co-adaptation of feature detectors. arXiv:1207.0580 (momentum ramp and
exponential learning-rate decay, appendix A).

Srivastava, N., Hinton, G., Krizhevsky, A., Sutskever, I., & Salakhutdinov,
R. (2014). Dropout: a simple way to prevent neural networks from
overfitting. JMLR 15, 1929-1958 (inverted dropout, section 10; max-norm,
section 5.1).

Sutskever, I., Martens, J., Dahl, G., & Hinton, G. (2013). On the importance
of initialization and momentum in deep learning. ICML (Nesterov momentum).

Glorot, X., & Bengio, Y. (2010). Understanding the difficulty of training
deep feedforward neural networks. AISTATS (the random initialisation).
"""

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from sklearn.utils import check_random_state

from . import _network_kernels as _k
from ._blas import BLAS_KIND
from ._rng import new_state

__all__ = [
    "ACTIVATIONS",
    "OUTPUTS",
    "EpochResult",
    "Layout",
    "SGDSchedule",
    "SGDTrainer",
    "TrainResult",
    "compute_loss",
    "forward",
    "init_params",
    "loss_and_gradient",
    "make_layout",
    "pack",
    "train",
    "unpack",
]

#: Hidden activations by name (scikit-learn's names); ``"identity"``: linear
#: units, e.g. the code layer of a deep autoencoder.
ACTIVATIONS = {"logistic": _k.LOGISTIC, "relu": _k.RELU, "identity": _k.IDENTITY}
#: Output activations by name; each implies its loss (module docstring).
OUTPUTS = {
    "softmax": _k.SOFTMAX_CROSS_ENTROPY,
    "identity": _k.IDENTITY_SQUARED_ERROR,
    "logistic": _k.LOGISTIC_BINARY_CROSS_ENTROPY,
}
#: Rows per forward pass in :func:`forward` and :func:`compute_loss`.
CHUNK_SIZE = 1024


class Layout(NamedTuple):
    """Where each layer's parameters live in the flat parameter vector.

    Attributes
    ----------
    sizes : ndarray of int64, shape (n_layers + 1,)
        Units per layer, input first: ``(n_features, *hidden, n_outputs)``.
    weight_offsets : ndarray of int64, shape (n_layers,)
        Start of ``W_l`` (shape ``(sizes[l], sizes[l + 1])``, C order).
    bias_offsets : ndarray of int64, shape (n_layers,)
        Start of ``b_l`` (shape ``(sizes[l + 1],)``).
    n_params : int
        Length of the vector.
    """

    sizes: np.ndarray
    weight_offsets: np.ndarray
    bias_offsets: np.ndarray
    n_params: int

    @property
    def n_layers(self):
        """Number of weight layers (hidden layers + 1)."""
        return len(self.sizes) - 1


def make_layout(layer_sizes):
    """Lay out the parameters of a network with the given layer sizes.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``(n_features, *hidden_layer_sizes, n_outputs)``, at least two.

    Returns
    -------
    layout : Layout
        Offsets in scikit-learn's ``_pack`` order: every weight matrix, then
        every bias vector.
    """
    sizes = np.asarray(layer_sizes, dtype=np.int64)
    if sizes.ndim != 1 or len(sizes) < 2 or np.any(sizes < 1):
        raise ValueError(f"layer_sizes must hold at least two positive ints, got {layer_sizes}")
    n_w = sizes[:-1] * sizes[1:]
    weight_offsets = np.concatenate([[0], np.cumsum(n_w)[:-1]]).astype(np.int64)
    bias_offsets = (n_w.sum() + np.concatenate([[0], np.cumsum(sizes[1:])[:-1]])).astype(np.int64)
    n_params = int(n_w.sum() + sizes[1:].sum())
    return Layout(sizes, weight_offsets, bias_offsets, n_params)


def unpack(vector, layout):
    """Views of a flat vector as per-layer weight matrices and bias vectors.

    Parameters
    ----------
    vector : ndarray of shape (layout.n_params,)
        Parameters, velocities or gradients.
    layout : Layout

    Returns
    -------
    coefs : list of ndarray
        ``coefs[l]`` has shape ``(sizes[l], sizes[l + 1])`` (like
        scikit-learn's ``coefs_``); a view: writing to it writes ``vector``.
    intercepts : list of ndarray
        ``intercepts[l]`` has shape ``(sizes[l + 1],)``; views as well.
    """
    if vector.shape != (layout.n_params,):
        raise ValueError(f"expected a vector of {layout.n_params} values, got {vector.shape}")
    coefs, intercepts = [], []
    for layer in range(layout.n_layers):
        n_in, n_out = int(layout.sizes[layer]), int(layout.sizes[layer + 1])
        wo, bo = int(layout.weight_offsets[layer]), int(layout.bias_offsets[layer])
        coefs.append(vector[wo:wo + n_in * n_out].reshape(n_in, n_out))
        intercepts.append(vector[bo:bo + n_out])
    return coefs, intercepts


def pack(coefs, intercepts):
    """Copy per-layer weights and biases into a new flat float32 vector.

    Parameters
    ----------
    coefs : list of array-like
        ``coefs[l]`` of shape ``(n_in, n_out)``; for an RBM stack,
        ``rbm.components_.T``.
    intercepts : list of array-like
        ``intercepts[l]`` of shape ``(n_out,)``; for an RBM stack,
        ``rbm.intercept_hidden_``.

    Returns
    -------
    params : ndarray of float32, shape (layout.n_params,)
    layout : Layout
    """
    if len(coefs) != len(intercepts) or not coefs:
        raise ValueError("need as many intercept vectors as weight matrices, at least one")
    sizes = [np.shape(coefs[0])[0]] + [np.shape(c)[1] for c in coefs]
    layout = make_layout(sizes)
    params = np.empty(layout.n_params, dtype=np.float32)
    views_w, views_b = unpack(params, layout)
    for layer, (c, b) in enumerate(zip(coefs, intercepts)):
        if np.shape(c) != views_w[layer].shape or np.shape(b) != views_b[layer].shape:
            raise ValueError(f"layer {layer}: shapes {np.shape(c)} and {np.shape(b)} do not chain")
        views_w[layer][...] = c
        views_b[layer][...] = b
    return params, layout


def init_params(layout, activation, random_state=None):
    """Random initialisation of scikit-learn's MLP (Glorot & Bengio 2010).

    Each layer's weights, then its biases, are drawn uniformly in ``+-
    sqrt(factor / (n_in + n_out))`` with ``factor = 2`` for logistic units
    and 6 otherwise, in the same order and from the same calls as
    scikit-learn's ``_init_coef``: a ``RandomState`` in the same state gives
    the same numbers as :class:`~sklearn.neural_network.MLPClassifier`.

    Parameters
    ----------
    layout : Layout
    activation : {"logistic", "relu"}
        Hidden activation (scikit-learn uses it for every layer's bound).
    random_state : int, RandomState instance or None
        Consumed in place when an instance.

    Returns
    -------
    params : ndarray of float32, shape (layout.n_params,)
    """
    _check_name(activation, ACTIVATIONS, "activation")
    rng = check_random_state(random_state)
    factor = 2.0 if activation == "logistic" else 6.0
    params = np.empty(layout.n_params, dtype=np.float32)
    coefs, intercepts = unpack(params, layout)
    for c, b in zip(coefs, intercepts):
        bound = np.sqrt(factor / (c.shape[0] + c.shape[1]))
        c[...] = rng.uniform(-bound, bound, c.shape)
        b[...] = rng.uniform(-bound, bound, b.shape)
    return params


def _check_name(value, names, what):
    if value not in names:
        raise ValueError(f"{what} must be one of {sorted(names)}, got {value!r}")
    return names[value]


def _activation_codes(activation, layout):
    """Kernel constant of each hidden layer, from one name or one name per hidden layer."""
    n_hidden = layout.n_layers - 1
    if isinstance(activation, str):
        return np.full(n_hidden, _check_name(activation, ACTIVATIONS, "activation"), dtype=np.int64)
    names = list(activation)
    if len(names) != n_hidden:
        raise ValueError(f"activation has {len(names)} entries but the network has {n_hidden} hidden layers")
    return np.array([_check_name(a, ACTIVATIONS, "activation") for a in names], dtype=np.int64)


def _check_data(X, Y, layout, rows=None):
    """Check the arrays the kernels read; never copies (X stays as given)."""
    for name, a, width in (("X", X, layout.sizes[0]), ("Y", Y, layout.sizes[-1])):
        if a is None:
            continue
        if a.dtype != np.float32 or a.ndim != 2 or not a.flags.c_contiguous:
            raise ValueError(f"{name} must be a C-contiguous 2-D float32 array")
        if a.shape[1] != width:
            raise ValueError(f"{name} has {a.shape[1]} columns, the network expects {width}")
    if Y is not None and Y.shape[0] != X.shape[0]:
        raise ValueError(f"X and Y have {X.shape[0]} and {Y.shape[0]} rows")
    if rows is None:
        return np.arange(X.shape[0], dtype=np.int64)
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    if rows.ndim != 1 or (rows.size and (rows.min() < 0 or rows.max() >= X.shape[0])):
        raise ValueError("rows must be a 1-D array of row indices of X")
    return rows


def _check_params(params, layout):
    if (params.dtype != np.float32 or params.shape != (layout.n_params,)
            or not params.flags.c_contiguous):
        raise ValueError(f"params must be a contiguous float32 vector of {layout.n_params} values")


def _activation_buffers(layout, n_rows):
    """Feature-major activation buffer for ``n_rows`` rows, and its offsets."""
    a_off = np.zeros(layout.n_layers + 2, dtype=np.int64)
    a_off[1:] = np.cumsum(layout.sizes * n_rows)
    return np.empty(int(a_off[-1]), dtype=np.float32), a_off


def _kernel_state(random_state):
    """A :mod:`dbn._rng` state drawn from an int, RandomState or Generator."""
    if isinstance(random_state, np.random.Generator):
        seed = random_state.integers(0, 2**63, dtype=np.uint64)
        return np.array([seed], dtype=np.uint64)
    return new_state(check_random_state(random_state))


def forward(params, layout, X, *, activation="logistic", output="softmax", rows=None,
            chunk_size=CHUNK_SIZE):
    """Output activations of the network, without dropout.

    Parameters
    ----------
    params : ndarray of float32, shape (layout.n_params,)
    layout : Layout
    X : ndarray of float32, shape (n_samples, n_features), C-contiguous
    activation : {"logistic", "relu", "identity"} or sequence of them
        One activation for every hidden layer, or one per hidden layer.
    output : {"softmax", "identity", "logistic"}
    rows : array-like of int, default=None
        Rows of ``X`` to evaluate (default: all, in order).
    chunk_size : int, default=1024
        Rows per forward pass; bounds the work memory.

    Returns
    -------
    out : ndarray of float32, shape (n_rows, n_outputs)
        Probabilities for ``softmax`` and ``logistic``, values for
        ``identity``; row ``k`` belongs to ``X[rows[k]]``.
    """
    act = _activation_codes(activation, layout)
    out_kind = _check_name(output, OUTPUTS, "output")
    _check_params(params, layout)
    rows = _check_data(X, None, layout, rows)
    n_out = int(layout.sizes[-1])
    out = np.empty((len(rows), n_out), dtype=np.float32)
    _run_forward(params, layout, X, None, rows, act, out_kind, out, chunk_size)
    return out


def compute_loss(params, layout, X, Y, *, activation="logistic", output="softmax", alpha=0.0,
                 rows=None, chunk_size=CHUNK_SIZE):
    """Loss of the network on ``(X, Y)``, without dropout.

    Parameters
    ----------
    params : ndarray of float32, shape (layout.n_params,)
    layout : Layout
    X : ndarray of float32, shape (n_samples, n_features), C-contiguous
    Y : ndarray of float32, shape (n_samples, n_outputs), C-contiguous
        Targets: one-hot rows for ``softmax``, values for ``identity``, 0/1
        (or probabilities) for ``logistic``.
    activation : {"logistic", "relu", "identity"} or sequence of them
        One activation for every hidden layer, or one per hidden layer.
    output : {"softmax", "identity", "logistic"}
    alpha : float, default=0.0
        Adds scikit-learn's ``0.5 * alpha * sum ||W||^2 / n_rows``.
    rows : array-like of int, default=None
        Rows to evaluate (default: all), e.g. a validation subset.
    chunk_size : int, default=1024

    Returns
    -------
    loss : float
        Mean loss per row, plus the L2 term.
    """
    act = _activation_codes(activation, layout)
    out_kind = _check_name(output, OUTPUTS, "output")
    _check_params(params, layout)
    rows = _check_data(X, Y, layout, rows)
    if len(rows) == 0:
        raise ValueError("no rows to evaluate")
    out = np.empty((0, int(layout.sizes[-1])), dtype=np.float32)
    total = _run_forward(params, layout, X, Y, rows, act, out_kind, out, chunk_size)
    penalty = 0.0
    if alpha > 0:
        coefs, _ = unpack(params, layout)
        penalty = 0.5 * alpha * sum(float(np.dot(c.ravel(), c.ravel())) for c in coefs)
    return (total + penalty) / len(rows)


def _run_forward(params, layout, X, Y, rows, act, out_kind, out, chunk_size):
    chunk = max(1, min(int(chunk_size), len(rows)))
    acts, a_off = _activation_buffers(layout, chunk)
    delta_out = np.empty(int(layout.sizes[-1]) * chunk, dtype=np.float32)
    with_targets = Y is not None
    if Y is None:
        Y = np.empty((0, int(layout.sizes[-1])), dtype=np.float32)
    return _k.forward_rows(
        X, Y, rows, params, layout.weight_offsets, layout.bias_offsets, layout.sizes,
        acts, a_off, delta_out, chunk, act, out_kind, with_targets, out, BLAS_KIND,
    )


def loss_and_gradient(params, layout, X, Y, *, activation="logistic", output="softmax",
                      alpha=0.0, rows=None, keep_prob_input=1.0, keep_prob_hidden=1.0,
                      random_state=None):
    """Loss and gradient of all of ``X[rows]`` taken as one batch; no update.

    The same compiled code as a training step, so it is what the finite
    difference tests check.  It holds every row's activations at once: meant
    for small data (tests, diagnostics); use :func:`compute_loss` for a
    validation loss.

    Parameters
    ----------
    params : ndarray of float32, shape (layout.n_params,)
    layout : Layout
    X : ndarray of float32, shape (n_samples, n_features), C-contiguous
    Y : ndarray of float32, shape (n_samples, n_outputs), C-contiguous
    activation : {"logistic", "relu", "identity"} or sequence of them
        One activation for every hidden layer, or one per hidden layer.
    output : {"softmax", "identity", "logistic"}
    alpha : float, default=0.0
    rows : array-like of int, default=None
    keep_prob_input, keep_prob_hidden : float, default=1.0
        Dropout keep probabilities; the masks come from ``random_state``, so
        the same seed gives the same masks (a fixed sub-network).
    random_state : int, RandomState, Generator or None
        Only used when a keep probability is below 1.

    Returns
    -------
    loss : float
        Mean loss of the batch plus ``0.5 * alpha * sum ||W||^2 / n_rows``.
    grad : ndarray of float32, shape (layout.n_params,)
        Its gradient, laid out like ``params``.
    """
    act = _activation_codes(activation, layout)
    out_kind = _check_name(output, OUTPUTS, "output")
    _check_params(params, layout)
    rows = _check_data(X, Y, layout, rows)
    if len(rows) == 0:
        raise ValueError("no rows to evaluate")
    acts, a_off = _activation_buffers(layout, len(rows))
    deltas = np.empty_like(acts)
    grad = np.zeros(layout.n_params, dtype=np.float32)
    state = _kernel_state(random_state)
    grad_sq = np.zeros(layout.n_layers)
    loss = _k.batch_step(
        X, Y, rows, params, layout.weight_offsets, layout.bias_offsets, layout.sizes, acts,
        deltas, a_off, act, out_kind, float(alpha), float(keep_prob_input),
        float(keep_prob_hidden), state, False, 0, 0.0, 0.0, False, 0.0, grad, grad,
        grad[:1], 0, grad[:1], grad_sq, BLAS_KIND,
    )
    return loss / len(rows), grad


class EpochResult(NamedTuple):
    """What one epoch of :meth:`SGDTrainer.epoch` reports.

    Attributes
    ----------
    loss : float
        Mean training loss per row over the epoch (scikit-learn's ``loss_``:
        each batch's loss, L2 term included, weighted by its size), measured
        on the fly under dropout, with the parameters of each batch.
    grad_norms : ndarray of float64, shape (n_layers,)
        Per layer, the Frobenius norm of the gradient of the data loss with
        respect to ``W_l`` (without the L2 term, which would hide a
        vanishing gradient behind ``alpha * W``), averaged over the tracked
        batches.  Input layer first: vanishing gradients show as
        ``grad_norms[0] << grad_norms[-1]``.
    """

    loss: float
    grad_norms: np.ndarray


class SGDTrainer:
    """Mini-batch SGD with momentum on a flat parameter vector.

    Holds what persists between epochs (velocities, the dropout generator
    state) and the work buffers; :meth:`epoch` runs one epoch in compiled
    code.  The update is scikit-learn's ``SGDOptimizer``::

        g = grad(mean batch loss) + alpha * W / B     (biases: no alpha term)
        v = momentum * v - learning_rate * g
        W += v                                        (classical)
        W += momentum * v - learning_rate * g         (nesterov)

    followed by the max-norm projection of each hidden unit's incoming
    weights.  Learning rate and momentum are arguments of :meth:`epoch`, so
    any schedule (see :class:`SGDSchedule`) changes them between epochs.

    Parameters
    ----------
    layout : Layout
    activation : {"logistic", "relu", "identity"} or sequence of them, default="logistic"
        One activation for every hidden layer, or one per hidden layer.
    output : {"softmax", "identity", "logistic"}, default="softmax"
    batch_size : int, default=100
        The last batch of an epoch is shorter if the rows do not divide.
    alpha : float, default=0.0
        L2 penalty (scikit-learn's ``alpha``).
    nesterov : bool, default=True
    keep_prob_input, keep_prob_hidden : float, default=1.0
        Dropout keep probabilities ``p`` of Srivastava et al. (2014): kept
        units are scaled by ``1 / p`` at training time, so prediction needs
        no rescaling.  1 disables dropout and draws no random numbers.
    max_norm : float, default=0.0
        Bound ``c`` on the norm of each hidden unit's incoming weight vector
        (a column of ``W_l``), enforced after every update; ``<= 0``: off.
        The output layer is not constrained.
    random_state : int, RandomState, Generator or None
        Seeds the dropout masks (drawn once, at construction).
    block_elems : int, default=0
        Weight-gradient block size for the fused update; ``<= 0``: one block
        per layer.  Blocks keep the gradient in cache, but the narrow matrix
        products they need were measured slower than the extra memory pass
        (2 cores, OpenBLAS), hence the default.

    Attributes
    ----------
    velocity : ndarray of float32, shape (layout.n_params,)
        Momentum buffer, laid out like the parameters; zero at start.
    state : ndarray of uint64, shape (1,)
        Dropout generator state, advanced by every draw.
    """

    def __init__(self, layout, *, activation="logistic", output="softmax", batch_size=100,
                 alpha=0.0, nesterov=True, keep_prob_input=1.0, keep_prob_hidden=1.0,
                 max_norm=0.0, random_state=None, block_elems=0):
        self.layout = layout
        self.activation = activation
        self.output = output
        self.batch_size = int(batch_size)
        self.alpha = float(alpha)
        self.nesterov = bool(nesterov)
        self.keep_prob_input = float(keep_prob_input)
        self.keep_prob_hidden = float(keep_prob_hidden)
        self.max_norm = float(max_norm)
        self.block_elems = int(block_elems)
        self._act = _activation_codes(activation, layout)
        self._out = _check_name(output, OUTPUTS, "output")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        for name in ("keep_prob_input", "keep_prob_hidden"):
            p = getattr(self, name)
            if not 0.0 < p <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {p}")
        self.velocity = np.zeros(layout.n_params, dtype=np.float32)
        self.state = _kernel_state(random_state)
        sizes = layout.sizes
        self._acts, self._a_off = _activation_buffers(layout, self.batch_size)
        self._deltas = np.empty_like(self._acts)
        self._grad = np.zeros(layout.n_params, dtype=np.float32)
        if self.block_elems > 0:
            n_gbuf = max(self.block_elems, int(sizes[1:].max()))
        else:
            n_gbuf = int((sizes[:-1] * sizes[1:]).max())
        self._gbuf = np.empty(n_gbuf, dtype=np.float32)
        self._colsq = np.empty(int(sizes[1:].max()), dtype=np.float32)
        self._grad_sq = np.zeros(layout.n_layers)

    def epoch(self, params, X, Y, order, *, learning_rate, momentum, n_track_batches=-1,
              output_only=False):
        """One epoch: SGD steps on consecutive ``batch_size`` slices of ``order``.

        Parameters
        ----------
        params : ndarray of float32, shape (layout.n_params,)
            Updated in place.
        X : ndarray of float32, shape (n_samples, n_features), C-contiguous
            Read only, never copied.
        Y : ndarray of float32, shape (n_samples, n_outputs), C-contiguous
        order : array-like of int
            Rows of this epoch in order: a permutation of the training rows
            (possibly a subset, e.g. without a validation split).
        learning_rate, momentum : float
        n_track_batches : int, default=-1
            Average the gradient norms over the first ``n_track_batches``
            batches only (``< 0``: all); tracking never changes the update.
        output_only : bool, default=False
            Train the output layer alone: the hidden layers stay as they are
            (and report a gradient norm of 0), and the backward pass stops
            at the output layer.

        Returns
        -------
        result : EpochResult
        """
        _check_params(params, self.layout)
        order = _check_data(X, Y, self.layout, order)
        if len(order) == 0:
            raise ValueError("an epoch needs at least one row")
        grad_norms = np.zeros(self.layout.n_layers)
        lo = self.layout
        total = _k.sgd_epoch(
            X, Y, order, self.batch_size, params, lo.weight_offsets, lo.bias_offsets, lo.sizes,
            self._acts, self._deltas, self._a_off, self._act, self._out, self.alpha,
            self.keep_prob_input, self.keep_prob_hidden, self.state,
            lo.n_layers - 1 if output_only else 0, float(learning_rate),
            float(momentum), self.nesterov, self.max_norm, self.velocity, self._grad,
            self._gbuf, self.block_elems, self._colsq, int(n_track_batches), grad_norms,
            BLAS_KIND,
        )
        return EpochResult(total / len(order), grad_norms)


class SGDSchedule:
    """Learning rate and momentum per epoch.

    The learning-rate schedules are scikit-learn's ``SGDOptimizer`` ones plus
    the exponential decay of Hinton et al. (2012):

    - ``"constant"``: ``learning_rate_init`` throughout;
    - ``"invscaling"``: after each epoch, ``learning_rate_init / (t + 1) **
      power_t`` with ``t`` the number of samples seen so far;
    - ``"adaptive"``: constant, divided by 5 each time the loss (or
      validation score) stalls for ``n_iter_no_change`` epochs (see
      :func:`train`); training stops once it falls below 1e-6;
    - ``"exponential"``: ``learning_rate_init * decay ** epoch``.

    Momentum ramps linearly from ``momentum_init`` to ``momentum`` over the
    first ``momentum_ramp_epochs`` epochs (Hinton et al. 2012, appendix A:
    0.5 to 0.99 over 500 epochs), and is ``momentum`` after.  With
    ``scale_rate_by_momentum`` the step of an epoch is the learning rate times
    ``1 - momentum`` (their update ``dw = p dw - (1 - p) eps grad``): the
    rate of the steady state, ``eps``, stays the same while ``p`` ramps.

    Parameters
    ----------
    learning_rate : {"constant", "invscaling", "adaptive", "exponential"}
    learning_rate_init : float, default=0.1
    power_t : float, default=0.5
    decay : float, default=1.0
        Factor per epoch of ``"exponential"``.
    momentum : float, default=0.9
    momentum_init : float or None, default=None
        Start of the ramp (None: no ramp).
    momentum_ramp_epochs : int, default=0
    scale_rate_by_momentum : bool, default=False
        Multiply each epoch's learning rate by ``1 - momentum`` of that epoch.

    Attributes
    ----------
    learning_rate_ : float
        The learning rate of the next epoch.
    """

    KINDS = ("constant", "invscaling", "adaptive", "exponential")

    def __init__(self, learning_rate="constant", learning_rate_init=0.1, *, power_t=0.5,
                 decay=1.0, momentum=0.9, momentum_init=None, momentum_ramp_epochs=0,
                 scale_rate_by_momentum=False):
        if learning_rate not in self.KINDS:
            raise ValueError(f"learning_rate must be one of {self.KINDS}, got {learning_rate!r}")
        self.learning_rate = learning_rate
        self.learning_rate_init = float(learning_rate_init)
        self.power_t = float(power_t)
        self.decay = float(decay)
        self.momentum = float(momentum)
        self.momentum_init = momentum_init
        self.momentum_ramp_epochs = int(momentum_ramp_epochs)
        self.scale_rate_by_momentum = bool(scale_rate_by_momentum)
        self.learning_rate_ = self.learning_rate_init

    def momentum_at(self, epoch):
        """Momentum of epoch ``epoch`` (0-based)."""
        if self.momentum_init is None or epoch >= self.momentum_ramp_epochs:
            return self.momentum
        frac = epoch / self.momentum_ramp_epochs
        return (1.0 - frac) * float(self.momentum_init) + frac * self.momentum

    def step_at(self, epoch):
        """Learning rate of the updates of epoch ``epoch`` (0-based).

        ``learning_rate_``, times ``1 - momentum_at(epoch)`` with
        ``scale_rate_by_momentum``.
        """
        if self.scale_rate_by_momentum:
            return self.learning_rate_ * (1.0 - self.momentum_at(epoch))
        return self.learning_rate_

    def iteration_ends(self, time_step, epoch):
        """Update the learning rate after an epoch.

        Parameters
        ----------
        time_step : int
            Samples seen so far (scikit-learn's ``t_``).
        epoch : int
            Epochs done so far.
        """
        if self.learning_rate == "invscaling":
            self.learning_rate_ = self.learning_rate_init / (time_step + 1) ** self.power_t
        elif self.learning_rate == "exponential":
            self.learning_rate_ = self.learning_rate_init * self.decay ** epoch

    def trigger_stopping(self):
        """Called when progress stalls; True means stop (as scikit-learn).

        ``"adaptive"`` divides the learning rate by 5 instead, until it is at
        most 1e-6.
        """
        if self.learning_rate != "adaptive":
            return True
        if self.learning_rate_ <= 1e-6:
            return True
        self.learning_rate_ /= 5.0
        return False


@dataclass
class TrainResult:
    """History of :func:`train`.

    Attributes
    ----------
    n_iter : int
        Epochs run.
    loss_curve : list of float
        :attr:`EpochResult.loss` per epoch.
    grad_norms : ndarray of shape (n_iter, n_layers)
        :attr:`EpochResult.grad_norms` per epoch.
    learning_rates, momenta : list of float
        What each epoch used.
    validation_scores : list of float
        ``score(params)`` after each epoch, when a score was given.
    best_validation_score : float or None
    best_loss : float
    stopped : str
        ``"max_iter"``, ``"no_improvement"``, ``"callback"`` or
        ``"diverged"`` (non-finite loss).
    """

    n_iter: int = 0
    loss_curve: list = field(default_factory=list)
    grad_norms: np.ndarray = None
    learning_rates: list = field(default_factory=list)
    momenta: list = field(default_factory=list)
    validation_scores: list = field(default_factory=list)
    best_validation_score: float = None
    best_loss: float = np.inf
    stopped: str = "max_iter"


@dataclass
class TrainLoop:
    """What :func:`train` carries from one epoch to the next, besides the
    parameters, the trainer's velocity and dropout state and the schedule.

    Pass one to :func:`train` and it is updated in place after every epoch,
    before ``callback``: pickled then with those, it lets a later call go on
    exactly where this one stood (a checkpoint).

    Attributes
    ----------
    rng : RandomState or Generator
        Draws each epoch's data order.
    no_improvement : int
        Epochs in a row without improvement.
    best_validation_score : float or None
    best_params : ndarray or None
        The parameters of the best validation score.
    best_loss : float
    stopped : str or None
        ``"no_improvement"`` once the run has stopped for that.
    """

    rng: object = None
    no_improvement: int = 0
    best_validation_score: float = None
    best_params: np.ndarray = None
    best_loss: float = np.inf
    stopped: str = None


def train(params, trainer, X, Y, *, schedule=None, max_iter=200, random_state=None, rows=None,
          shuffle=True, tol=1e-4, n_iter_no_change=10, score=None, callback=None,
          n_track_batches=-1, n_iter_output_only=0, first_epoch=0, time_step=0, loop=None):
    """Train ``params`` in place for up to ``max_iter`` epochs.

    The loop of scikit-learn's ``_fit_stochastic``: each epoch draws a
    permutation of ``rows`` from ``random_state`` (so two runs with the same
    generator state see the same data order, whatever their
    initialisation), runs :meth:`SGDTrainer.epoch`, then counts epochs
    without improvement: of ``score`` by more than ``tol`` if given, else of
    the training loss by more than ``tol``.  After more than
    ``n_iter_no_change`` of them, ``schedule.trigger_stopping()`` decides
    between stopping and (``"adaptive"``) a smaller learning rate.  With a
    ``score``, the parameters of the best score are restored at the end.

    Parameters
    ----------
    params : ndarray of float32, shape (layout.n_params,)
        Initial parameters (e.g. from :func:`pack` of an RBM stack, or
        :func:`init_params`); trained in place.
    trainer : SGDTrainer
    X : ndarray of float32, shape (n_samples, n_features), C-contiguous
    Y : ndarray of float32, shape (n_samples, n_outputs), C-contiguous
    schedule : SGDSchedule, default=None
        Default: ``SGDSchedule()`` (constant 0.1, momentum 0.9).
    max_iter : int, default=200
    random_state : int, RandomState, Generator or None
        Draws the data order (``permutation``), consumed in place.
    rows : array-like of int, default=None
        Training rows of ``X`` (default: all), e.g. without a validation
        split; ``X`` is never copied.
    shuffle : bool, default=True
    tol : float, default=1e-4
    n_iter_no_change : int, default=10
    score : callable or None
        ``score(params) -> float``, higher is better (e.g. validation
        accuracy, or minus :func:`compute_loss` on validation rows).
    callback : callable or None
        ``callback(epoch, params, res, score) -> bool`` after each epoch
        (``res`` an :class:`EpochResult`, ``score`` the epoch's validation
        score or None); True stops training.
    n_track_batches : int, default=-1
        See :meth:`SGDTrainer.epoch`.
    n_iter_output_only : int, default=0
        The first ``n_iter_output_only`` epochs train the output layer alone
        (``output_only`` of :meth:`SGDTrainer.epoch`).
    first_epoch, time_step : int, default=0
        Epochs and samples done by earlier calls that this one continues (a
        warm start): the schedule's learning rate and momentum go on from
        there instead of starting over.  ``epoch`` of ``callback`` still
        counts from 0.
    loop : TrainLoop or None
        The loop's state, updated in place; given, it replaces
        ``random_state`` (its ``rng`` draws the orders), so that a call
        continues one whose loop (with ``params``, ``trainer`` and
        ``schedule``) was saved after an epoch exactly.  ``max_iter``
        counts this call's epochs.

    Returns
    -------
    result : TrainResult
    """
    if schedule is None:
        schedule = SGDSchedule()
    if loop is None:
        loop = TrainLoop()
    if loop.rng is None:
        if isinstance(random_state, np.random.Generator):
            loop.rng = random_state
        else:
            loop.rng = check_random_state(random_state)
    rng = loop.rng
    rows = _check_data(X, Y, trainer.layout, rows)
    result = TrainResult()
    norms = []
    if first_epoch > 0:
        schedule.iteration_ends(time_step, first_epoch)  # the rate after the epochs done
    for epoch in range(0 if loop.stopped else max_iter):
        order = rng.permutation(rows) if shuffle else rows
        lr = schedule.step_at(first_epoch + epoch)
        momentum = schedule.momentum_at(first_epoch + epoch)
        res = trainer.epoch(params, X, Y, order, learning_rate=lr, momentum=momentum,
                            n_track_batches=n_track_batches,
                            output_only=epoch < n_iter_output_only)
        result.n_iter += 1
        result.loss_curve.append(res.loss)
        result.learning_rates.append(lr)
        result.momenta.append(momentum)
        norms.append(res.grad_norms)
        time_step += len(rows)
        if not np.isfinite(res.loss):
            result.stopped = "diverged"
            break
        s = None
        if score is not None:
            s = float(score(params))
            result.validation_scores.append(s)
            best = -np.inf if loop.best_validation_score is None else loop.best_validation_score
            loop.no_improvement = loop.no_improvement + 1 if s < best + tol else 0
            if s > best:
                loop.best_validation_score = s
                loop.best_params = params.copy()
        else:
            loop.no_improvement = loop.no_improvement + 1 if res.loss > loop.best_loss - tol else 0
        loop.best_loss = min(loop.best_loss, res.loss)
        schedule.iteration_ends(time_step, first_epoch + epoch + 1)
        # Decided before the callback, so that what it may save is the whole
        # state after this epoch.
        if loop.no_improvement > n_iter_no_change:
            if schedule.trigger_stopping():
                loop.stopped = "no_improvement"
            else:
                loop.no_improvement = 0
        if callback is not None and callback(epoch, params, res, s):
            result.stopped = "callback"
            break
        if loop.stopped:
            break
    if loop.stopped and result.stopped == "max_iter":
        result.stopped = loop.stopped
    result.best_validation_score = loop.best_validation_score
    result.best_loss = loop.best_loss
    if loop.best_params is not None:
        params[...] = loop.best_params
    result.grad_norms = np.array(norms).reshape(len(norms), trainer.layout.n_layers)
    return result
