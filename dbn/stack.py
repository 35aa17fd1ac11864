"""The unsupervised deep belief network: RBMs stacked by greedy pretraining.

Hinton, Osindero & Teh (2006) and Hinton & Salakhutdinov (2006): train one
RBM on the data, then another on the hidden probabilities of the first, and
so on.  :class:`DBN` is the stack as a scikit-learn transformer; the
classifier and regressor of :mod:`dbn.network` unroll it into a feed-forward
net and fine-tune it.
"""

import numbers
import os
import pickle
import time
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._persistence import PickleStampMixin
from .exceptions import DivergenceError
from .rbm import BernoulliRBM, GaussianBernoulliRBM, _Below

__all__ = ["DBN"]

#: Parameters of each layer's RBM that may be given per layer.
PER_LAYER = ("learning_rate", "n_iter", "k", "momentum", "weight_decay", "batch_size",
             "persistent", "sparsity_cost", "sparsity_target")


def per_layer(value, n_layers, name):
    """Expand a scalar, or check a per-layer list, of a layer setting.

    ``momentum`` may itself be a per-epoch sequence: a list with any entry
    that is a sequence or ``"hinton"`` is per layer; a flat list of floats is
    one per-epoch schedule shared by all layers.
    """
    if isinstance(value, (list, tuple)) and len(value) and (
        name != "momentum" or any(isinstance(v, (list, tuple, str)) for v in value)
    ):
        if len(value) != n_layers:
            raise ValueError(
                f"{name} has {len(value)} entries but there are {n_layers} hidden layers; "
                "give one value, or one per layer."
            )
        return list(value)
    return [value] * n_layers


def check_layer_sizes(hidden_layer_sizes):
    """``hidden_layer_sizes`` as a list of ints, or a ValueError saying what is wrong."""
    sizes = np.atleast_1d(np.asarray(hidden_layer_sizes))
    if (sizes.ndim != 1 or sizes.size == 0 or not np.issubdtype(sizes.dtype, np.integer)
            or (sizes < 1).any()):
        raise ValueError(
            "hidden_layer_sizes must be a non-empty sequence of positive integers; "
            f"got {hidden_layer_sizes!r}."
        )
    return [int(s) for s in sizes]


def first_layer_kind(X, first_layer):
    """``"bernoulli"`` or ``"gaussian"`` for the first RBM, given the data."""
    if first_layer != "auto":
        return first_layer
    values = X.data if sp.issparse(X) else X
    if values.size == 0 or (values.min() >= 0.0 and values.max() <= 1.0):
        return "bernoulli"
    return "gaussian"


class DBN(PickleStampMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Deep belief network: a stack of RBMs trained greedily, layer by layer.

    ``fit(X)`` trains one RBM per entry of ``hidden_layer_sizes``, each on the
    hidden probabilities of the one below; ``transform`` propagates the data
    up the stack and returns the top layer's probabilities.  No labels are
    used.  The fitted stack can initialise
    :class:`~dbn.DBNClassifier`/:class:`~dbn.DBNRegressor` (``init=dbn``),
    so one pretraining serves several fine-tuning runs.

    Each setting marked "per layer" takes one value for all layers or a list
    with one value per layer.

    Parameters
    ----------
    hidden_layer_sizes : array-like of int, default=(500, 500, 2000)
        Number of hidden units of each RBM, bottom to top (Hinton & Salakhutdinov's
        MNIST network by default).
    learning_rate : float, per layer, default=0.1
        Learning rate of CD.
    n_iter : int, per layer, default=50
        Epochs of each RBM (Hinton & Salakhutdinov 2006).
    batch_size : int, per layer, default=20
        Mini-batch size.
    k : int, per layer, default=1
        Gibbs steps of CD-k.
    momentum : float, sequence or "hinton", per layer, default="hinton"
        Momentum (``"hinton"``: 0.5 for five epochs, then 0.9).
    weight_decay : float, per layer, default=0.0002
        L2 weight cost (``rbm.m`` of Hinton & Salakhutdinov 2006).
    persistent : bool, per layer, default=False
        Persistent CD.
    sparsity_cost : float, per layer, default=0.0
        Weight of the sparsity penalty.
    sparsity_target : float, per layer, default=0.1
        Target mean activation of the hidden units.
    first_layer : {"auto", "bernoulli", "gaussian"}, default="auto"
        Visible units of the first RBM. ``"auto"``: Bernoulli when every value
        of X lies in [0, 1], else Gaussian (standardise such data first).
    gaussian_learning_rate : float or None, default=None
        Learning rate of a Gaussian first layer (None: a tenth of its
        ``learning_rate``, as Hinton's guide advises for linear units).
    checkpoint_dir : str or None, default=None
        Folder where each finished layer is saved (``layer_<i>.pkl``). A later
        ``fit`` with the same data shape and settings resumes after the last
        saved layer instead of training it again.
    verbose : int, default=0
        Print progress of each layer's training.
    random_state : int, RandomState instance or None, default=None
        Seeds every layer.

    Attributes
    ----------
    rbms_ : list of BernoulliRBM or GaussianBernoulliRBM
        The trained RBMs, bottom first.
    n_features_in_ : int
        Number of features seen during :term:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit` (string names only).
    history_ : list of dict
        Each RBM's ``history_`` (per-epoch reconstruction error,
        pseudo-likelihood, free-energy gap, time).
    fit_time_ : list of float
        Seconds spent training each layer.

    References
    ----------
    G. E. Hinton, S. Osindero and Y.-W. Teh (2006). A fast learning algorithm
    for deep belief nets. Neural Computation 18(7), 1527-1554.

    G. E. Hinton and R. R. Salakhutdinov (2006). Reducing the dimensionality
    of data with neural networks. Science 313(5786), 504-507.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from dbn import DBN
    >>> X = load_digits().data / 16
    >>> dbn = DBN(hidden_layer_sizes=(64, 32), n_iter=2, random_state=0).fit(X)
    >>> dbn.transform(X).shape
    (1797, 32)
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like"],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither"), list, tuple],
        "n_iter": [Interval(numbers.Integral, 0, None, closed="left"), list, tuple],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left"), list, tuple],
        "k": [Interval(numbers.Integral, 1, None, closed="left"), list, tuple],
        "momentum": [Interval(numbers.Real, 0, 1, closed="left"), StrOptions({"hinton"}), list, tuple],
        "weight_decay": [Interval(numbers.Real, 0, None, closed="left"), list, tuple],
        "persistent": ["boolean", list, tuple],
        "sparsity_cost": [Interval(numbers.Real, 0, None, closed="left"), list, tuple],
        "sparsity_target": [Interval(numbers.Real, 0, 1, closed="neither"), list, tuple],
        "first_layer": [StrOptions({"auto", "bernoulli", "gaussian"})],
        "gaussian_learning_rate": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "checkpoint_dir": [str, os.PathLike, None],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        hidden_layer_sizes=(500, 500, 2000),
        *,
        learning_rate=0.1,
        n_iter=50,
        batch_size=20,
        k=1,
        momentum="hinton",
        weight_decay=0.0002,
        persistent=False,
        sparsity_cost=0.0,
        sparsity_target=0.1,
        first_layer="auto",
        gaussian_learning_rate=None,
        checkpoint_dir=None,
        verbose=0,
        random_state=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.learning_rate = learning_rate
        self.n_iter = n_iter
        self.batch_size = batch_size
        self.k = k
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.persistent = persistent
        self.sparsity_cost = sparsity_cost
        self.sparsity_target = sparsity_target
        self.first_layer = first_layer
        self.gaussian_learning_rate = gaussian_learning_rate
        self.checkpoint_dir = checkpoint_dir
        self.verbose = verbose
        self.random_state = random_state

    def _layer_sizes(self):
        return check_layer_sizes(self.hidden_layer_sizes)

    def _make_rbms(self, kind, seeds):
        """Unfitted RBMs of every layer, configured from the settings."""
        sizes = self._layer_sizes()
        n = len(sizes)
        settings = {name: per_layer(getattr(self, name), n, name) for name in PER_LAYER}
        rbms = []
        for i, size in enumerate(sizes):
            kw = {name: settings[name][i] for name in PER_LAYER}
            cls = BernoulliRBM
            if i == 0 and kind == "gaussian":
                cls = GaussianBernoulliRBM
                kw["learning_rate"] = (self.gaussian_learning_rate if self.gaussian_learning_rate is not None
                                       else kw["learning_rate"] / 10.0)
            rbms.append(cls(n_components=size, random_state=int(seeds[i]), verbose=self.verbose, **kw))
        return rbms

    def _checkpoint_path(self, i):
        return os.path.join(os.fspath(self.checkpoint_dir), f"layer_{i}.pkl")

    def _load_checkpoint(self, i, rbm, n_features):
        """The saved layer ``i`` if it was trained with the same settings."""
        path = self._checkpoint_path(i)
        if not os.path.exists(path):
            return None
        with open(path, "rb") as f:
            saved = pickle.load(f)
        def settings(params):
            return {k: v for k, v in params.items() if k != "verbose"}

        same = (type(saved["rbm"]) is type(rbm) and settings(saved["params"]) == settings(rbm.get_params())
                and saved["n_features"] == n_features and saved["n_samples"] == self._n_samples)
        return saved["rbm"] if same else None

    def _save_checkpoint(self, i, rbm, n_features):
        os.makedirs(self.checkpoint_dir, exist_ok=True)
        path = self._checkpoint_path(i)
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            pickle.dump({"rbm": rbm, "params": rbm.get_params(), "n_features": n_features,
                         "n_samples": self._n_samples}, f)
        os.replace(tmp, path)  # atomic: a crash never leaves half a layer

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Pretrain the stack greedily on X (labels are not used).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data: values in [0, 1] for a Bernoulli first layer,
            standardised real values for a Gaussian one.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The fitted stack.
        """
        X = validate_data(self, X, accept_sparse="csr", dtype=np.float32, order="C")
        if sp.issparse(X) and not X.has_canonical_format:
            X = X.copy()  # the kernels read CSR rows as they are: no duplicates
            X.sum_duplicates()
        rng = check_random_state(self.random_state)
        seeds = rng.randint(0, 2**31 - 1, size=len(self._layer_sizes()))
        self._kind = first_layer_kind(X, self.first_layer)
        self._n_samples = X.shape[0]
        rbms = self._make_rbms(self._kind, seeds)
        self.rbms_, self.history_, self.fit_time_ = [], [], []
        self._interrupted = False
        for i, rbm in enumerate(rbms):
            t0 = time.perf_counter()
            # Each layer trains on X itself, each mini-batch going up through
            # the layers below inside the CD kernel: no layer's hidden
            # probabilities of the whole data set are ever stored.
            below = _Below(self.rbms_, X.shape[1])
            width = below.width
            saved = self._load_checkpoint(i, rbm, width) if self.checkpoint_dir else None
            if saved is not None:
                rbm = saved
                if self.verbose:
                    print(f"[DBN] layer {i + 1}/{len(rbms)} loaded from {self._checkpoint_path(i)}",
                          flush=True)
            else:
                if self.verbose:
                    print(f"[DBN] layer {i + 1}/{len(rbms)}: {type(rbm).__name__} "
                          f"{width} -> {rbm.n_components}", flush=True)
                try:
                    if i == 0:
                        rbm.fit(X)  # validates X for its unit type
                    else:
                        rbm._validate_params()
                        rbm._fit_from(X, below)
                except DivergenceError as exc:
                    raise DivergenceError(f"DBN layer {i + 1} of {len(rbms)}: {exc}") from exc
                if rbm._interrupted:
                    # Ctrl-C: keep the finished layers and this partial one;
                    # a checkpointed fit resumes at this layer.
                    self._interrupted = True
                    self.rbms_.append(rbm)
                    self.history_.append(rbm.history_)
                    self.fit_time_.append(time.perf_counter() - t0)
                    warnings.warn(
                        f"DBN: pretraining interrupted by user in layer {i + 1} of {len(rbms)}; "
                        f"rbms_ holds {i + 1} layer(s), the last one partially trained.",
                        UserWarning,
                        stacklevel=2,
                    )
                    return self
                if self.checkpoint_dir:
                    self._save_checkpoint(i, rbm, width)
            self.rbms_.append(rbm)
            self.history_.append(rbm.history_)
            self.fit_time_.append(time.perf_counter() - t0)
        return self

    def transform(self, X):
        """Top-layer hidden probabilities, propagated up the stack.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        H : ndarray of shape (n_samples, hidden_layer_sizes[-1]), dtype float32
        """
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", dtype=np.float32, order="C", reset=False)
        for rbm in self.rbms_:
            X = rbm.transform(X)
        return X

    @property
    def _n_features_out(self):
        return self.rbms_[-1].n_components

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    def unrolled_parameters(self):
        """Weights and biases of the stack as a feed-forward net.

        Returns
        -------
        coefs : list of ndarray of shape (n_in, n_out), float32
            ``rbm.components_.T`` of each layer, bottom first.
        intercepts : list of ndarray of shape (n_out,), float32
            Each layer's hidden biases.
        """
        check_is_fitted(self)
        coefs = [np.ascontiguousarray(r.components_.T) for r in self.rbms_]
        intercepts = [r.intercept_hidden_.copy() for r in self.rbms_]
        return coefs, intercepts
