"""Restricted Boltzmann machines trained by contrastive divergence.

:class:`BernoulliRBM` is a drop-in replacement for
:class:`sklearn.neural_network.BernoulliRBM` (same constructor, attributes and
methods) with the training options of the papers; :class:`GaussianBernoulliRBM`
models real-valued data with Gaussian visible units.  Both only validate,
allocate, seed and call the kernels of :mod:`dbn._rbm_kernels`.
"""

import contextlib
import contextvars
import numbers
import time
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from . import _rbm_kernels as K
from . import _rbm_variant_kernels as VK
from . import ais as _ais
from ._blas import BLAS_KIND
from ._persistence import PickleStampMixin
from ._rng import new_state
from .exceptions import DivergenceError, check_finite_output, largest_magnitude

__all__ = ["BernoulliRBM", "GaussianBernoulliRBM", "LinearHiddenRBM"]

# Rows used for the per-epoch monitors (pseudo-likelihood, reconstruction
# error under PCD, free-energy gap): enough for a stable mean, cheap next to
# an epoch.
_N_MONITOR = 1000
# Clip of the data's mean activation before taking log-odds for the visible
# biases (Hinton's guide, section 8): a pixel that is never on would
# otherwise get an infinite bias.
_BIAS_EPS = 1e-3
# Hinton & Salakhutdinov (2006) use momentum 0.5 for the first 5 epochs, 0.9
# after.
_HINTON_MOMENTUM = (5, 0.5, 0.9)


def _momentum_at(momentum, epoch):
    """Momentum of ``epoch`` (0-based) for a float, sequence or ``"hinton"``."""
    if isinstance(momentum, str):
        n_first, first, final = _HINTON_MOMENTUM
        return first if epoch < n_first else final
    if isinstance(momentum, numbers.Real):
        return float(momentum)
    seq = list(momentum)
    return float(seq[min(epoch, len(seq) - 1)])


def _check_momentum(momentum):
    if isinstance(momentum, str):
        if momentum != "hinton":
            raise ValueError(
                f"momentum must be a float in [0, 1), a sequence of them, or 'hinton'; got {momentum!r}."
            )
        return
    values = [momentum] if isinstance(momentum, numbers.Real) else list(momentum)
    if len(values) == 0:
        raise ValueError("momentum must not be an empty sequence.")
    for m in values:
        if not isinstance(m, numbers.Real) or not 0.0 <= m < 1.0 or isinstance(m, bool):
            raise ValueError(f"momentum values must be floats in [0, 1); got {m!r}.")


def kernel_data(X):
    """``(X, X_data, X_indices, X_indptr, sparse)``: the data arguments of the
    epoch kernels, for dense or CSR ``X`` (the unused ones are placeholders;
    CSR indices as int64, the kernels' type)."""
    if sp.issparse(X):
        return (np.empty((1, 1), np.float32), X.data, X.indices.astype(np.int64, copy=False),
                X.indptr.astype(np.int64, copy=False), True)
    return X, np.empty(1, np.float32), np.zeros(1, np.int64), np.zeros(1, np.int64), False


class _Below:
    """Trained RBMs that the data go up through before reaching a layer.

    Greedy pretraining of layer ``i`` needs the hidden probabilities of the
    layers below for every image.  Rather than storing them (60,000 x 500
    float32 for MNIST: 114 MiB per layer, two alive while one is computed
    from the other), the CD kernel propagates each mini-batch up as it
    gathers it (:func:`dbn._rbm_kernels.gather_up`), and the few statistics
    needed of the whole set (the visible biases' initial log-odds) are
    computed here chunk by chunk.

    Parameters
    ----------
    rbms : list of fitted RBMs, bottom first (may be empty)
    n_features : int
        Width of the data fed to the first of them.
    """

    _CHUNK = 2048

    def __init__(self, rbms, n_features):
        self.rbms = list(rbms)
        self.sizes = np.array([n_features] + [r.n_components for r in self.rbms], dtype=np.int64)

    @property
    def width(self):
        """Width of the propagated data (the input of the layer being trained)."""
        return int(self.sizes[-1])

    def up(self, X):
        """Hidden probabilities of the top RBM below, for all rows of ``X``."""
        for rbm in self.rbms:
            X = rbm._mean_hiddens(X)
        return X

    def up_chunked(self, X):
        """``up(X)`` as one float32 array, computed chunk by chunk (so only
        the result, not every intermediate layer, is whole in memory)."""
        if not self.rbms:
            return X
        out = np.empty((X.shape[0], self.width), dtype=np.float32)
        for start in range(0, X.shape[0], self._CHUNK):
            out[start:start + self._CHUNK] = self.up(X[start:start + self._CHUNK])
        return out

    def column_mean(self, X):
        """Mean of each column of ``up(X)`` (float64), chunk by chunk."""
        if not self.rbms:
            return np.asarray(X.mean(axis=0, dtype=np.float64)).ravel()
        total = np.zeros(self.width, dtype=np.float64)
        for start in range(0, X.shape[0], self._CHUNK):
            total += self.up(X[start:start + self._CHUNK]).sum(axis=0, dtype=np.float64)
        return total / max(X.shape[0], 1)

    def kernel_args(self, batch_size):
        """``lower_W, lower_b, lower_sizes, work`` of :func:`cd_epoch`."""
        f32 = np.float32
        if not self.rbms:
            return np.empty(0, f32), np.empty(0, f32), self.sizes, np.empty(0, f32)
        lower_W = np.concatenate([np.ascontiguousarray(r.components_, dtype=f32).ravel() for r in self.rbms])
        lower_b = np.concatenate([np.asarray(r.intercept_hidden_, dtype=f32) for r in self.rbms])
        work = np.empty(batch_size * int(self.sizes[:-1].sum()), dtype=f32)
        return lower_W, lower_b, self.sizes, work


#: True while a DBN fits its layers: its own warning then names the layer.
_FITTING_A_LAYER = contextvars.ContextVar("_FITTING_A_LAYER", default=False)


@contextlib.contextmanager
def _as_dbn_layer():
    """Within it, an interrupted RBM leaves the warning to its DBN."""
    token = _FITTING_A_LAYER.set(True)
    try:
        yield
    finally:
        _FITTING_A_LAYER.reset(token)


def _interruptible(fit_epochs, *args):
    """Run ``fit_epochs``; Ctrl-C stops training but keeps a usable model.

    As scikit-learn's MLP: the epochs completed so far stay (in ``n_iter_``
    and ``history_``), a warning says so (the DBN's, naming the layer, for
    one of a DBN's layers), and ``fit`` returns the estimator;
    ``partial_fit`` (or ``fit`` of a DBN layer by layer) continues from there.
    """
    estimator = fit_epochs.__self__
    estimator._interrupted = False
    try:
        return fit_epochs(*args)
    except KeyboardInterrupt:
        estimator._interrupted = True
        if _FITTING_A_LAYER.get():
            return estimator
        warnings.warn(
            f"{type(estimator).__name__}: training interrupted by user after "
            f"{estimator.n_iter_} epoch(s); the model keeps them.",
            UserWarning,
            stacklevel=2,
        )
        return estimator


class _BaseRBM(PickleStampMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Shared training and inference for RBMs with binary hidden units."""

    _gaussian = False

    @property
    def _has_pseudo_likelihood(self):
        # scikit-learn's pseudo-likelihood flips one binary visible unit: not
        # defined for Gaussian visible units (nor for a softmax label group).
        return not self._gaussian

    _parameter_constraints: dict = {
        "n_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_iter": [Interval(numbers.Integral, 0, None, closed="left")],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
        "k": [Interval(numbers.Integral, 1, None, closed="left")],
        "persistent": ["boolean"],
        "sample_visible": ["boolean"],
        "momentum": [Interval(numbers.Real, 0, 1, closed="left"), StrOptions({"hinton"}), list, tuple],
        "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
        "sparsity_target": [Interval(numbers.Real, 0, 1, closed="neither")],
        "sparsity_cost": [Interval(numbers.Real, 0, None, closed="left")],
        "sparsity_decay": [Interval(numbers.Real, 0, 1, closed="left")],
        "shuffle": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither"), None],
    }

    # ------------------------------------------------------------------ #
    # Validation
    # ------------------------------------------------------------------ #
    def _check_X(self, X, reset):
        X = validate_data(
            self,
            X,
            accept_sparse="csr",
            dtype=np.float32,
            order="C",
            reset=reset,
        )
        if sp.issparse(X):
            if not X.has_canonical_format:
                X = X.copy()  # never restructure the caller's matrix
                X.sum_duplicates()
            values = X.data
        else:
            values = X
        if not self._gaussian and values.size:
            lo, hi = float(values.min()), float(values.max())
            if lo < 0.0 or hi > 1.0:
                what = "Negative values in data" if lo < 0.0 else "Values greater than 1 in data"
                raise ValueError(
                    f"{what} passed to {type(self).__name__}: it expects X with values in [0, 1] "
                    f"(binary data or probabilities); got values in [{lo:g}, {hi:g}]. "
                    "Scale the data first (e.g. sklearn.preprocessing.MinMaxScaler), "
                    "or use GaussianBernoulliRBM for real-valued data."
                )
        return X

    @property
    def _n_features_out(self):
        """Number of transformed output features (for get_feature_names_out)."""
        return self.components_.shape[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.input_tags.positive_only = not self._gaussian
        return tags

    # ------------------------------------------------------------------ #
    # Inference
    # ------------------------------------------------------------------ #
    def _hidden_input(self, X):
        """``X @ W.T`` as float32 (dense)."""
        H = safe_sparse_dot(X, self.components_.T, dense_output=True)
        return np.ascontiguousarray(H, dtype=np.float32)

    def _mean_hiddens(self, v):
        h = self._hidden_input(v)
        K.sigmoid_bias_(h, self.intercept_hidden_)
        return h

    def _mean_visibles(self, h):
        v = np.ascontiguousarray(h @ self.components_, dtype=np.float32)
        if self._gaussian:
            K.add_bias_(v, self.intercept_visible_)
        else:
            K.sigmoid_bias_(v, self.intercept_visible_)
        return v

    def _sample_hiddens(self, v, rng):
        h = self._mean_hiddens(v)
        K.sample_bernoulli_(h, new_state(rng))
        return h

    def _sample_visibles(self, h, rng):
        v = self._mean_visibles(h)
        if self._gaussian:
            K.sample_gaussian_(v, new_state(rng))
        else:
            K.sample_bernoulli_(v, new_state(rng))
        return v

    def transform(self, X):
        """Compute the hidden layer activation probabilities, P(h=1|v=X).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The data to be transformed.

        Returns
        -------
        h : ndarray of shape (n_samples, n_components), dtype float32
            Latent representations of the data.
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        return check_finite_output(self._mean_hiddens(X), X, f"{type(self).__name__}.transform")

    def inverse_transform(self, H):
        """Visible means given hidden states or probabilities, E[v|h].

        Parameters
        ----------
        H : array-like of shape (n_samples, n_components)
            Hidden states or probabilities, e.g. the output of ``transform``.

        Returns
        -------
        V : ndarray of shape (n_samples, n_features), dtype float32
        """
        check_is_fitted(self)
        if sp.issparse(H):
            H = H.toarray()  # (n_samples, n_components): small
        H = check_array(H, dtype=np.float32, order="C", input_name="H", ensure_min_features=0)
        if H.shape[1] != self.n_components:
            raise ValueError(
                f"H must have shape (n_samples, {self.n_components}) (n_components); got {H.shape}."
            )
        if H.size and (H.min() < 0.0 or H.max() > 1.0):
            raise ValueError(
                f"H holds states or probabilities of binary hidden units, so values in [0, 1]; "
                f"got values in [{H.min():g}, {H.max():g}]."
            )
        return self._mean_visibles(np.ascontiguousarray(H))

    def reconstruct(self, X):
        """Mean-field reconstruction ``E[v | h = P(h|X)]`` of the data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        X_rec : ndarray of shape (n_samples, n_features), dtype float32
        """
        return self.inverse_transform(self.transform(X))

    def gibbs(self, v):
        """Perform one Gibbs sampling step.

        Parameters
        ----------
        v : ndarray of shape (n_samples, n_features)
            Values of the visible layer to start from.

        Returns
        -------
        v_new : ndarray of shape (n_samples, n_features)
            Values of the visible layer after one Gibbs step.
        """
        check_is_fitted(self)
        if not hasattr(self, "random_state_"):
            self.random_state_ = check_random_state(self.random_state)
        v = self._check_X(v, reset=False)
        h_ = self._sample_hiddens(v, self.random_state_)
        return check_finite_output(self._sample_visibles(h_, self.random_state_), v,
                                   f"{type(self).__name__}.gibbs")

    def free_energy(self, X):
        """Free energy F(v) of each sample; p(v) is proportional to exp(-F(v)).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        F : ndarray of shape (n_samples,), dtype float64
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        return check_finite_output(self._free_energy(X), X, f"{type(self).__name__}.free_energy")

    def _free_energy(self, X):
        H = self._hidden_input(X)
        b_v = self.intercept_visible_.astype(np.float64)
        v_dot_bv = np.asarray(safe_sparse_dot(X, b_v)).ravel().astype(np.float64)
        if self._gaussian:
            v_dot_bv -= 0.5 * float(b_v @ b_v)
            if sp.issparse(X):
                sq = X.multiply(X).sum(axis=1)
            else:
                sq = np.einsum("ij,ij->i", X, X, dtype=np.float64)
            sq = np.asarray(sq, dtype=np.float64).ravel()
        else:
            sq = v_dot_bv  # unused
        out = np.empty(X.shape[0], dtype=np.float64)
        K.free_energy_rows(H, v_dot_bv, sq, self.intercept_hidden_, self._gaussian, out)
        return out

    # ------------------------------------------------------------------ #
    # Training
    # ------------------------------------------------------------------ #
    def _init_params(self, X, rng, below=None):
        below = below if below is not None else _Below([], X.shape[1])
        n_features = below.width
        self.components_ = np.ascontiguousarray(
            rng.normal(0.0, 0.01, (self.n_components, n_features)), dtype=np.float32
        )
        self.intercept_hidden_ = np.zeros(self.n_components, dtype=np.float32)
        mean = below.column_mean(X)
        if self._gaussian:
            self.intercept_visible_ = mean.astype(np.float32)
        else:
            # Hinton's guide, section 8: visible bias log(p / (1 - p)).
            p = np.clip(mean, _BIAS_EPS, 1.0 - _BIAS_EPS)
            self.intercept_visible_ = np.log(p / (1.0 - p)).astype(np.float32)
        self.h_samples_ = np.zeros((self.batch_size, self.n_components), dtype=np.float32)
        self._W_inc = np.zeros_like(self.components_)
        self._b_h_inc = np.zeros_like(self.intercept_hidden_)
        self._b_v_inc = np.zeros_like(self.intercept_visible_)
        self._q = np.full(self.n_components, -1.0, dtype=np.float32)
        self.n_iter_ = 0
        self.history_ = {
            "epoch": [],
            "reconstruction_error": [],
            "pseudo_likelihood": [],
            "free_energy_gap": [],
            "time": [],
        }

    def _run_epoch(self, X, order, momentum, state, bufs):
        W, b_h, b_v = self.components_, self.intercept_hidden_, self.intercept_visible_
        if self.h_samples_.shape != (self.batch_size, self.n_components):
            self.h_samples_ = np.zeros((self.batch_size, self.n_components), dtype=np.float32)
        if self._W_inc.shape != W.shape:
            # Momentum buffers are not kept by pickles of old fits / clones.
            self._W_inc = np.zeros_like(W)
            self._b_h_inc = np.zeros_like(b_h)
            self._b_v_inc = np.zeros_like(b_v)
        dense, data, indices, indptr, sparse = kernel_data(X)
        stats = np.zeros(2, dtype=np.float64)
        K.cd_epoch(
            BLAS_KIND, dense, data, indices, indptr,
            sparse, order, self.batch_size,
            W, b_h, b_v, self._W_inc, self._b_h_inc, self._b_v_inc, self.h_samples_, self._q,
            self.k, self.persistent, self.sample_visible, self._gaussian,
            float(self.learning_rate), float(momentum), float(self.weight_decay),
            float(self.sparsity_target), float(self.sparsity_cost), float(self.sparsity_decay),
            state, bufs["V"], bufs["H"], bufs["Hs"], stats, *bufs["lower"],
        )
        return stats

    def _buffers(self, below):
        B = self.batch_size
        n_features = below.width
        return {
            "lower": below.kernel_args(B),
            "V": np.empty((2 * B + 1, n_features), dtype=np.float32),
            "H": np.empty((2 * B + 1, self.n_components), dtype=np.float32),
            "Hs": np.empty((B, self.n_components), dtype=np.float32),
        }

    def _monitor(self, X_mon, X_val, recon_stats, rng, epoch, t_epoch):
        if recon_stats[1] > 0:
            rec = recon_stats[0] / recon_stats[1]
        else:
            err = np.asarray(self._dense(X_mon)) - self.reconstruct(X_mon)
            rec = float((err**2).sum() / X_mon.shape[0])
        pl = float("nan")
        if self._has_pseudo_likelihood:
            pl = float(self._pseudo_likelihood(X_mon, rng).mean())
        gap = float("nan")
        if X_val is not None:
            n = min(X_mon.shape[0], X_val.shape[0])
            gap = float(self._free_energy(X_val[:n]).mean() - self._free_energy(X_mon[:n]).mean())
        # Appended together, last: an epoch is recorded whole or not at all.
        h = self.history_
        h["reconstruction_error"].append(float(rec))
        h["pseudo_likelihood"].append(pl)
        h["free_energy_gap"].append(gap)
        h["time"].append(t_epoch)
        h["epoch"].append(epoch + 1)

    @staticmethod
    def _dense(X):
        return X.toarray() if sp.issparse(X) else X

    def _fit_epochs(self, X, n_epochs, rng, X_val=None, below=None, resume=None, after_epoch=None):
        """Train for ``n_epochs`` epochs on validated ``X``.

        ``below``: a :class:`_Below` the rows of ``X`` go up through first
        (``X_val`` is then already propagated).  ``resume``: the ``(state,
        mon_idx)`` of an earlier call that was stopped, passed with that
        call's ``rng`` as it was after its last recorded epoch, so that the
        epochs run now are those it would have run.  ``after_epoch(rng,
        state, mon_idx)`` is called after each recorded epoch (a DBN saves
        the layer's progress there).
        """
        n_samples = X.shape[0]
        below = below if below is not None else _Below([], X.shape[1])
        bufs = self._buffers(below)
        if resume is None:
            state = new_state(rng)
            mon_idx = rng.choice(n_samples, size=min(_N_MONITOR, n_samples), replace=False)
            mon_idx.sort()
        else:
            state, mon_idx = resume
        X_mon = below.up(X[mon_idx])
        t_start = time.perf_counter()
        for i_epoch in range(n_epochs):
            epoch = self.n_iter_
            t0 = time.perf_counter()
            if self.shuffle:
                order = rng.permutation(n_samples).astype(np.int64)
            else:
                order = np.arange(n_samples, dtype=np.int64)
            # Kept so that a diverging or interrupted epoch leaves the weights
            # of the last epoch that was completed and recorded.
            saved = [a.copy() for a in (self.components_, self.intercept_hidden_, self.intercept_visible_)]
            try:
                stats = self._run_epoch(X, order, _momentum_at(self.momentum, epoch), state, bufs)
                if not (np.isfinite(self.components_).all() and np.isfinite(self.intercept_hidden_).all()
                        and np.isfinite(self.intercept_visible_).all()):
                    raise DivergenceError(
                        f"{type(self).__name__}: the parameters became non-finite in epoch {epoch + 1}; "
                        f"the learning rate ({self.learning_rate}) is too high for this data, try a smaller "
                        f"one, or the data are badly scaled (values as large as {largest_magnitude(X):.3g}; "
                        "standardise them). "
                        f"The model keeps the weights of the last finite epoch ({epoch})."
                    )
                self.n_iter_ += 1
                t_epoch = time.perf_counter() - t0
                self._monitor(X_mon, X_val, stats, rng, epoch, t_epoch)
            finally:
                if len(self.history_["epoch"]) <= epoch:  # the epoch was not recorded
                    self.components_, self.intercept_hidden_, self.intercept_visible_ = saved
                    for inc in (self._W_inc, self._b_h_inc, self._b_v_inc):
                        inc[:] = 0.0
                    self.n_iter_ = epoch
            if after_epoch is not None:
                after_epoch(rng, state, mon_idx)
            if self.verbose:
                elapsed = time.perf_counter() - t_start
                left = elapsed / (i_epoch + 1) * (n_epochs - i_epoch - 1)
                h = self.history_
                msg = f"[{type(self).__name__}] Iteration {epoch + 1}, "
                # Where it is not defined the history holds NaN: left out of
                # the line, not printed as "nan" (which reads as a numerical
                # failure). A NaN where it is defined is still printed.
                if self._has_pseudo_likelihood:
                    msg += f"pseudo-likelihood = {h['pseudo_likelihood'][-1]:.2f}, "
                msg += f"reconstruction error = {h['reconstruction_error'][-1]:.4f}"
                if X_val is not None:
                    msg += f", free-energy gap = {h['free_energy_gap'][-1]:.3f}"
                msg += f", time = {t_epoch:.2f}s, elapsed = {elapsed:.1f}s, left ~ {left:.1f}s"
                print(msg, flush=True)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the model to the data X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The fitted model.
        """
        return self._fit_data(X)

    def _fit_data(self, X, resume=None, after_epoch=None):
        """``fit`` after parameter validation: checks ``X`` for the unit type
        and trains on it, with :meth:`_fit_from`'s hooks."""
        _check_momentum(self.momentum)
        X = self._check_X(X, reset=True)
        return self._fit_from(X, _Below([], X.shape[1]), resume, after_epoch)

    def _fit_from(self, X, below, resume=None, after_epoch=None):
        """``fit`` on validated ``X`` whose rows go up through ``below`` first.

        :class:`~dbn.DBN` trains each layer this way on the original data, so
        no layer's hidden probabilities of the whole set are ever stored.
        ``resume``: ``(rng, state, mon_idx)`` saved by ``after_epoch`` (see
        :meth:`_fit_epochs`) during an earlier fit of this very estimator,
        stopped after ``n_iter_`` epochs: training goes on from there, with
        the same draws as an uninterrupted fit.
        """
        self.n_features_in_ = below.width
        rng = check_random_state(self.random_state)
        self.random_state_ = rng
        X_val = None
        if self.validation_fraction is not None:
            n_val = int(round(self.validation_fraction * X.shape[0]))
            if n_val < 1 or n_val >= X.shape[0]:
                raise ValueError(
                    f"validation_fraction={self.validation_fraction} leaves no training or no held-out rows "
                    f"with n_samples={X.shape[0]}."
                )
            perm = rng.permutation(X.shape[0])
            X_val, X = below.up(X[np.sort(perm[:n_val])]), X[np.sort(perm[n_val:])]
        if resume is None:
            self._init_params(X, rng, below)
            return _interruptible(self._fit_epochs, X, self.n_iter, rng, X_val, below, None,
                                  after_epoch)
        rng, state, mon_idx = resume
        self.random_state_ = rng
        return _interruptible(self._fit_epochs, X, self.n_iter - self.n_iter_, rng, X_val, below,
                              (state, mon_idx), after_epoch)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Fit the model to the partial segment of the data X: one pass over it.

        Unlike scikit-learn's BernoulliRBM, which takes X as one mini-batch,
        this honours ``batch_size``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The fitted model.
        """
        _check_momentum(self.momentum)
        first = not hasattr(self, "components_")
        X = self._check_X(X, reset=first)
        if not hasattr(self, "random_state_"):
            self.random_state_ = check_random_state(self.random_state)
        if first:
            self._init_params(X, self.random_state_)
        return _interruptible(self._fit_epochs, X, 1, self.random_state_)

    def _pseudo_likelihood(self, X, rng):
        n, d = X.shape
        flip = rng.randint(0, d, n).astype(np.int64)
        if sp.issparse(X):
            v_at = np.asarray(X[np.arange(n), flip], dtype=np.float64).ravel()
        else:
            v_at = X[np.arange(n), flip].astype(np.float64)
        H = self._hidden_input(X)
        v_dot_bv = np.asarray(safe_sparse_dot(X, self.intercept_visible_.astype(np.float64))).ravel()
        out = np.empty(n, dtype=np.float64)
        K.pseudo_likelihood_rows(
            H, v_at, v_dot_bv.astype(np.float64), flip,
            self.components_, self.intercept_hidden_, self.intercept_visible_, out,
        )
        return out

    def score_samples(self, X):
        """Compute the pseudo-likelihood of X (Bernoulli visible units).

        As scikit-learn's: one randomly chosen visible unit of each sample is
        flipped and ``n_features * log sigmoid(F(v_flipped) - F(v))`` returned.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Values of the visible layer. Must be all-boolean (not checked).

        Returns
        -------
        pseudo_likelihood : ndarray of shape (n_samples,)
            Value of the pseudo-likelihood (proxy for likelihood).
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        return check_finite_output(self._pseudo_likelihood(X, check_random_state(self.random_state)), X,
                                   f"{type(self).__name__}.score_samples")


class BernoulliRBM(_BaseRBM):
    """Bernoulli Restricted Boltzmann Machine (RBM), trained by CD-k or PCD.

    A drop-in replacement for :class:`sklearn.neural_network.BernoulliRBM`
    (same parameters, defaults, attributes and methods) whose training runs
    in compiled Numba kernels around BLAS matrix products, with the options
    of the papers: CD-k, persistent CD, momentum (with Hinton's schedule),
    weight decay, sparsity, shuffling, data-initialised visible biases and a
    per-epoch history with Hinton's free-energy overfitting monitor.

    scikit-learn's BernoulliRBM trains with persistent CD-1 and sampled
    negative visible states; the defaults here follow Hinton (2010) and his
    DBN code: CD-1 with visible probabilities in the reconstruction.  Use
    ``persistent=True, sample_visible=True`` for scikit-learn's algorithm.

    Parameters
    ----------
    n_components : int, default=256
        Number of binary hidden units.
    learning_rate : float, default=0.1
        Learning rate of the weight updates.
    batch_size : int, default=10
        Number of examples per minibatch.
    n_iter : int, default=10
        Number of passes (epochs) over the training data.
    verbose : int, default=0
        Print one line per epoch: its figures, time, elapsed time and an
        estimate of the time left.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the data order, the Gibbs sampling and the
        monitors.  The same seed gives the same weights whatever the number
        of threads.
    k : int, default=1
        Number of Gibbs steps of CD-k (or of each persistent chain update).
    persistent : bool, default=False
        Persistent contrastive divergence (Tieleman 2008): the negative chains
        (``batch_size`` of them, ``h_samples_``) continue across updates.
    sample_visible : bool, default=False
        Sample the visible units of the last Gibbs step instead of using their
        probabilities (Hinton's guide, section 3.2, recommends probabilities).
    momentum : float, sequence of float or "hinton", default=0.0
        Momentum of the updates. A sequence gives one value per epoch (the
        last one repeats); ``"hinton"`` is 0.5 for 5 epochs, then 0.9.
    weight_decay : float, default=0.0
        L2 weight cost (Hinton's guide, section 10, suggests 1e-4 to 1e-2 ...
        ``0.0002`` in rbm.m).  Not applied to biases.
    sparsity_target : float, default=0.1
        Target mean activation ``p`` of the hidden units.
    sparsity_cost : float, default=0.0
        Weight of the sparsity penalty (off at 0; Hinton's guide, section 11).
    sparsity_decay : float, default=0.95
        Decay ``lambda`` of the running estimate of the mean activation.
    shuffle : bool, default=True
        Reshuffle the data every epoch.
    validation_fraction : float or None, default=None
        Fraction of the training data held out (not trained on) to monitor
        overfitting with the free-energy gap (Hinton's guide, section 6).

    Attributes
    ----------
    intercept_hidden_ : ndarray of shape (n_components,)
        Biases of the hidden units.
    intercept_visible_ : ndarray of shape (n_features,)
        Biases of the visible units.
    components_ : ndarray of shape (n_components, n_features)
        Weight matrix, where `n_features` is the number of visible units and
        `n_components` is the number of hidden units.
    h_samples_ : ndarray of shape (batch_size, n_components)
        Hidden states of the persistent negative chains (zeros under CD).
    n_features_in_ : int
        Number of features seen during :term:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.
    n_iter_ : int
        Number of epochs trained so far.
    history_ : dict of lists
        Per epoch: ``epoch``, ``reconstruction_error`` (mean squared error
        per sample of the one-step reconstruction), ``pseudo_likelihood``
        (mean over up to 1000 training rows), ``free_energy_gap`` (mean free
        energy of held-out minus training rows; NaN without
        ``validation_fraction``) and ``time`` (seconds).

    See Also
    --------
    GaussianBernoulliRBM : RBM with Gaussian visible units.
    sklearn.neural_network.BernoulliRBM : the scikit-learn original.

    References
    ----------
    G. E. Hinton (2002). Training products of experts by minimizing
    contrastive divergence. Neural Computation 14(8), 1771-1800.

    T. Tieleman (2008). Training restricted Boltzmann machines using
    approximations to the likelihood gradient. ICML.

    G. E. Hinton (2010). A practical guide to training restricted Boltzmann
    machines. UTML TR 2010-003.

    G. E. Hinton and R. R. Salakhutdinov (2006). Reducing the dimensionality
    of data with neural networks. Science 313(5786), 504-507.

    Examples
    --------
    >>> import numpy as np
    >>> from dbn import BernoulliRBM
    >>> X = np.array([[0, 0, 0], [0, 1, 1], [1, 0, 1], [1, 1, 1]])
    >>> model = BernoulliRBM(n_components=2, random_state=0).fit(X)
    >>> model.transform(X).shape
    (4, 2)
    """

    def __init__(
        self,
        n_components=256,
        *,
        learning_rate=0.1,
        batch_size=10,
        n_iter=10,
        verbose=0,
        random_state=None,
        k=1,
        persistent=False,
        sample_visible=False,
        momentum=0.0,
        weight_decay=0.0,
        sparsity_target=0.1,
        sparsity_cost=0.0,
        sparsity_decay=0.95,
        shuffle=True,
        validation_fraction=None,
    ):
        self.n_components = n_components
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.verbose = verbose
        self.random_state = random_state
        self.k = k
        self.persistent = persistent
        self.sample_visible = sample_visible
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.sparsity_target = sparsity_target
        self.sparsity_cost = sparsity_cost
        self.sparsity_decay = sparsity_decay
        self.shuffle = shuffle
        self.validation_fraction = validation_fraction

    # ------------------------------------------------------------------ #
    # Likelihood (annealed importance sampling, dbn.ais)
    # ------------------------------------------------------------------ #
    def log_likelihood(self, X, *, X_base=None, n_chains=100, betas=None, random_state=None):
        """Average log-probability of binary data, ``mean(-F(x)) - log Z``.

        ``log Z`` is estimated by annealed importance sampling
        (:func:`dbn.ais.log_partition`; Salakhutdinov & Murray 2008): a
        random estimate whose error bar comes with it.  Each call runs AIS
        afresh; to score several data sets against one estimate, call
        :func:`dbn.ais.log_partition` once and pass it to
        :func:`dbn.ais.log_likelihood` as ``log_z``.

        Cost: ``len(betas)`` steps of two ``n_chains x n_features x
        n_components`` matrix products; with the default 14,501 betas and
        100 chains, one to a few minutes for a 784 x 500 model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Binary data (not checked, as ``score_samples``).
        X_base : {array-like, sparse matrix} of shape (n_samples, n_features), default=None
            Data whose pixel marginals define the base-rate model of AIS
            (usually the training set); None uses ``X``.
        n_chains : int, default=100
            Number of AIS runs.
        betas : int or array-like, default=None
            Inverse temperatures (see :func:`dbn.ais.log_partition`); None:
            the paper's 14,501.
        random_state : int, RandomState instance or None, default=None
            Seeds the AIS chains; None uses the estimator's ``random_state``
            (so a seeded model gives the same figure every time).

        Returns
        -------
        estimate : dbn.ais.LogLikelihoodEstimate
            ``mean`` (nats per sample), ``low`` and ``high`` (the same with
            ``log Z`` at the ends of its ``+-3`` standard-deviation interval),
            ``std_error`` and the ``log_partition`` estimate used.
        """
        check_is_fitted(self)
        rs = self.random_state if random_state is None else random_state
        return _ais.log_likelihood(self, X, X_base=X_base, betas=betas, n_chains=n_chains, random_state=rs)

    def score(self, X, y=None):
        """Average log-likelihood of X, with ``log Z`` estimated by AIS.

        ``self.log_likelihood(X).mean``: higher is better, so model
        selection (e.g. :class:`~sklearn.model_selection.GridSearchCV`)
        picks the model that gives held-out data the highest probability.
        The estimate is random (seeded by ``random_state``, deterministic for
        an int) and costs a full AIS run per call, one to a few minutes for
        a 784 x 500 model; ``score_samples`` remains scikit-learn's cheap
        pseudo-likelihood.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Binary data.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        score : float
            Average log-probability per sample, in nats.
        """
        return self.log_likelihood(X).mean


class GaussianBernoulliRBM(_BaseRBM):
    """RBM with Gaussian visible units and binary hidden units.

    For real-valued data.  The visible units are linear with unit variance,
    so the data should be standardised (zero mean, unit variance per
    feature, e.g. with :class:`sklearn.preprocessing.StandardScaler`), as in
    Hinton's practical guide (section 13.2) and the first layer of Hinton &
    Salakhutdinov (2006).  Learning rates must be one or two orders of
    magnitude smaller than for binary units.

    Parameters
    ----------
    n_components : int, default=256
        Number of binary hidden units.
    learning_rate : float, default=0.01
        Learning rate of the weight updates.
    batch_size : int, default=10
        Number of examples per minibatch.
    n_iter : int, default=10
        Number of passes (epochs) over the training data.
    verbose : int, default=0
        Print one line per epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the data order and the sampling.
    k : int, default=1
        Number of Gibbs steps of CD-k.
    persistent : bool, default=False
        Persistent contrastive divergence.
    sample_visible : bool, default=False
        Add Gaussian noise to the visible means of the last Gibbs step
        instead of using the means (Hinton's guide, section 13.2).
    momentum : float, sequence of float or "hinton", default=0.0
        Momentum of the updates (see :class:`BernoulliRBM`).
    weight_decay : float, default=0.0
        L2 weight cost, not applied to biases.
    sparsity_target : float, default=0.1
        Target mean activation of the hidden units.
    sparsity_cost : float, default=0.0
        Weight of the sparsity penalty (off at 0).
    sparsity_decay : float, default=0.95
        Decay of the running estimate of the mean activation.
    shuffle : bool, default=True
        Reshuffle the data every epoch.
    validation_fraction : float or None, default=None
        Fraction of the training data held out to monitor the free-energy gap.

    Attributes
    ----------
    intercept_hidden_ : ndarray of shape (n_components,)
    intercept_visible_ : ndarray of shape (n_features,)
        Means of the visible units when the hidden units are off.
    components_ : ndarray of shape (n_components, n_features)
    h_samples_ : ndarray of shape (batch_size, n_components)
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
    n_iter_ : int
    history_ : dict of lists
        As :class:`BernoulliRBM`'s; ``pseudo_likelihood`` is NaN (it is
        defined for binary units only).

    References
    ----------
    G. E. Hinton (2010). A practical guide to training restricted Boltzmann
    machines, section 13.2. UTML TR 2010-003.

    M. Welling, M. Rosen-Zvi and G. E. Hinton (2005). Exponential family
    harmoniums with an application to information retrieval. NIPS.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.preprocessing import StandardScaler
    >>> from dbn import GaussianBernoulliRBM
    >>> X = StandardScaler().fit_transform(np.random.RandomState(0).randn(50, 4))
    >>> GaussianBernoulliRBM(n_components=3, random_state=0).fit(X).transform(X).shape
    (50, 3)
    """

    _gaussian = True

    def __init__(
        self,
        n_components=256,
        *,
        learning_rate=0.01,
        batch_size=10,
        n_iter=10,
        verbose=0,
        random_state=None,
        k=1,
        persistent=False,
        sample_visible=False,
        momentum=0.0,
        weight_decay=0.0,
        sparsity_target=0.1,
        sparsity_cost=0.0,
        sparsity_decay=0.95,
        shuffle=True,
        validation_fraction=None,
    ):
        self.n_components = n_components
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.verbose = verbose
        self.random_state = random_state
        self.k = k
        self.persistent = persistent
        self.sample_visible = sample_visible
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.sparsity_target = sparsity_target
        self.sparsity_cost = sparsity_cost
        self.sparsity_decay = sparsity_decay
        self.shuffle = shuffle
        self.validation_fraction = validation_fraction

    def score_samples(self, X):
        """Unnormalised log-density ``-F(v)`` of each sample.

        Pseudo-likelihood is defined for binary visible units only; for
        Gaussian units this returns the negative free energy, the
        log-probability up to the (unknown) log partition function.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        return -self.free_energy(X)


class LinearHiddenRBM(_BaseRBM):
    """RBM with binary visible units and linear hidden units with Gaussian noise.

    Each hidden unit is linear with unit-variance Gaussian noise: ``h = W v
    + b_h + N(0, 1)``, so ``transform`` returns real-valued means ``W v +
    b_h`` rather than probabilities.  It is the code layer of Hinton &
    Salakhutdinov's (2006) deep autoencoder (their ``rbmhidlinear.m``): the
    top RBM of the pretraining stack, whose linear units then become the
    autoencoder's linear code layer and make better use of continuous
    variables than binary ones.  The visible units are binary (or
    probabilities), as in :class:`BernoulliRBM`.  Linear units need a much
    smaller learning rate (the paper: 0.001 against 0.1 for the binary
    layers).  There is no sparsity option: a target activation has no
    meaning for linear units.

    Parameters
    ----------
    n_components : int, default=30
        Number of linear hidden units (the paper's MNIST code layer: 30).
    learning_rate : float, default=0.001
        Learning rate of the weight updates (``rbmhidlinear.m``).
    batch_size : int, default=10
        Number of examples per minibatch.
    n_iter : int, default=10
        Number of passes (epochs) over the training data.
    verbose : int, default=0
        Print one line per epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the data order and the sampling.
    k : int, default=1
        Number of Gibbs steps of CD-k.
    persistent : bool, default=False
        Persistent contrastive divergence (the chains hold real-valued
        hidden states).
    sample_visible : bool, default=False
        Sample the visible units of the last Gibbs step instead of using
        their probabilities.
    momentum : float, sequence of float or "hinton", default=0.0
        Momentum of the updates (see :class:`BernoulliRBM`).
    weight_decay : float, default=0.0
        L2 weight cost, not applied to biases.
    shuffle : bool, default=True
        Reshuffle the data every epoch.
    validation_fraction : float or None, default=None
        Fraction of the training data held out to monitor the free-energy gap.

    Attributes
    ----------
    intercept_hidden_ : ndarray of shape (n_components,)
        Means of the hidden units when the visible units are off.
    intercept_visible_ : ndarray of shape (n_features,)
    components_ : ndarray of shape (n_components, n_features)
    h_samples_ : ndarray of shape (batch_size, n_components)
        Hidden states of the persistent chains (zeros under CD).
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
    n_iter_ : int
    history_ : dict of lists
        As :class:`BernoulliRBM`'s.

    See Also
    --------
    BernoulliRBM : binary hidden units.
    DBNAutoencoder : the deep autoencoder whose code layer this pretrains.

    References
    ----------
    G. E. Hinton and R. R. Salakhutdinov (2006). Reducing the dimensionality
    of data with neural networks. Science 313(5786), 504-507 (and its
    supporting online material and code, ``rbmhidlinear.m``).

    M. Welling, M. Rosen-Zvi and G. E. Hinton (2005). Exponential family
    harmoniums with an application to information retrieval. NIPS.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from dbn import LinearHiddenRBM
    >>> X = load_digits().data / 16
    >>> rbm = LinearHiddenRBM(n_components=2, n_iter=2, random_state=0).fit(X)
    >>> rbm.transform(X).shape
    (1797, 2)
    """

    _parameter_constraints: dict = {
        key: value for key, value in _BaseRBM._parameter_constraints.items()
        if not key.startswith("sparsity")
    }

    def __init__(
        self,
        n_components=30,
        *,
        learning_rate=0.001,
        batch_size=10,
        n_iter=10,
        verbose=0,
        random_state=None,
        k=1,
        persistent=False,
        sample_visible=False,
        momentum=0.0,
        weight_decay=0.0,
        shuffle=True,
        validation_fraction=None,
    ):
        self.n_components = n_components
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.verbose = verbose
        self.random_state = random_state
        self.k = k
        self.persistent = persistent
        self.sample_visible = sample_visible
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.shuffle = shuffle
        self.validation_fraction = validation_fraction

    def _init_params(self, X, rng, below=None):
        super()._init_params(X, rng, below)
        # N(0, 0.1^2) as in rbmhidlinear.m, not the guide's 0.01: linear
        # units start on a plateau, where their unit-variance noise swamps the
        # signal of tiny weights, and larger ones leave it sooner.
        self.components_ *= np.float32(10.0)

    def _mean_hiddens(self, v):
        h = self._hidden_input(v)
        K.add_bias_(h, self.intercept_hidden_)
        return h

    def _sample_hiddens(self, v, rng):
        h = self._mean_hiddens(v)
        K.sample_gaussian_(h, new_state(rng))
        return h

    def inverse_transform(self, H):
        """Visible probabilities given hidden states or means, P(v=1|h).

        Parameters
        ----------
        H : array-like of shape (n_samples, n_components)
            Real-valued hidden states, e.g. the output of ``transform``.

        Returns
        -------
        V : ndarray of shape (n_samples, n_features), dtype float32
        """
        check_is_fitted(self)
        if sp.issparse(H):
            H = H.toarray()
        H = check_array(H, dtype=np.float32, order="C", input_name="H", ensure_min_features=0)
        if H.shape[1] != self.n_components:
            raise ValueError(
                f"H must have shape (n_samples, {self.n_components}) (n_components); got {H.shape}."
            )
        return check_finite_output(self._mean_visibles(np.ascontiguousarray(H)), H,
                                   f"{type(self).__name__}.inverse_transform")

    def _free_energy(self, X):
        # E(v, h) = -b_v.v + |h - b_h|^2 / 2 - h.W.v; integrating h out gives
        # F(v) = -b_v.v - sum_j ((x_j + b_j)^2 - b_j^2) / 2 - n_h log(2 pi) / 2, x = W v.
        b_h = self.intercept_hidden_.astype(np.float64)
        M = self._hidden_input(X).astype(np.float64) + b_h
        v_dot_bv = np.asarray(safe_sparse_dot(X, self.intercept_visible_.astype(np.float64))).ravel()
        return (-v_dot_bv - 0.5 * ((M * M).sum(1) - float(b_h @ b_h))
                - 0.5 * self.n_components * np.log(2.0 * np.pi))

    def _pseudo_likelihood(self, X, rng):
        # As BernoulliRBM's: one flipped visible unit per row, whose change of
        # the hidden input is +-W[:, c], so F(v~) needs no second product.
        n, d = X.shape
        flip = rng.randint(0, d, n).astype(np.int64)
        if sp.issparse(X):
            v_at = np.asarray(X[np.arange(n), flip], dtype=np.float64).ravel()
        else:
            v_at = X[np.arange(n), flip].astype(np.float64)
        delta = 1.0 - 2.0 * v_at
        M = self._hidden_input(X).astype(np.float64) + self.intercept_hidden_
        M_flip = M + delta[:, None] * self.components_[:, flip].T.astype(np.float64)
        d_fe = -delta * self.intercept_visible_[flip] - 0.5 * ((M_flip**2).sum(1) - (M**2).sum(1))
        # log sigmoid(F(v~) - F(v)) = -softplus(F(v) - F(v~))
        return -d * np.logaddexp(0.0, -d_fe)

    def _run_epoch(self, X, order, momentum, state, bufs):
        W, b_h, b_v = self.components_, self.intercept_hidden_, self.intercept_visible_
        if self.h_samples_.shape != (self.batch_size, self.n_components):
            self.h_samples_ = np.zeros((self.batch_size, self.n_components), dtype=np.float32)
        if self._W_inc.shape != W.shape:
            self._W_inc = np.zeros_like(W)
            self._b_h_inc = np.zeros_like(b_h)
            self._b_v_inc = np.zeros_like(b_v)
        dense, data, indices, indptr, sparse = kernel_data(X)
        stats = np.zeros(2, dtype=np.float64)
        VK.cd_epoch_linear(
            BLAS_KIND, dense, data, indices, indptr,
            sparse, order, self.batch_size,
            W, b_h, b_v, self._W_inc, self._b_h_inc, self._b_v_inc, self.h_samples_,
            self.k, self.persistent, self.sample_visible,
            float(self.learning_rate), float(momentum), float(self.weight_decay),
            state, bufs["V"], bufs["H"], bufs["Hs"], stats, *bufs["lower"],
        )
        return stats


class _JointLabelRBM(_BaseRBM):
    """Top RBM of a DBN over ``[v, one_hot(y)]``: binary units and one softmax label group.

    Hinton, Osindero & Teh (2006), figure 1 and section 6: the top-level associative
    memory learns the joint distribution of the penultimate layer and the
    labels.  The first ``n_features_in_ - n_labels_`` visible units are the
    penultimate layer, the last ``n_labels_`` the labels (``components_ =
    [W_v | W_y]``), so ``transform`` and ``free_energy`` take rows ``[v,
    one_hot(y)]``.  Trained by :class:`~dbn.DBN` (``joint_labels=True``)
    with :func:`dbn._rbm_variant_kernels.cd_epoch_labels`, CD-k only.  The
    pseudo-likelihood of the history is NaN (not defined here for a
    softmax group).
    """

    __init__ = BernoulliRBM.__init__
    _has_pseudo_likelihood = False

    def fit(self, X, y=None):
        """Not available: trained by ``DBN(joint_labels=True).fit(X, y)``."""
        raise TypeError("the labelled top RBM is trained by DBN(joint_labels=True).fit(X, y)")

    partial_fit = fit

    def _fit_labelled(self, X, labels, n_labels, below):
        """Train on validated ``X`` (going up through ``below``) and label indices."""
        self._validate_params()
        _check_momentum(self.momentum)
        for name, bad in (("persistent", self.persistent), ("sparsity_cost", self.sparsity_cost > 0),
                          ("validation_fraction", self.validation_fraction is not None)):
            if bad:
                raise ValueError(f"the labelled top RBM of DBN(joint_labels=True) is trained by CD-k "
                                 f"without {name}; set it off for the top layer.")
        self.n_labels_ = int(n_labels)
        self.n_features_in_ = below.width + self.n_labels_
        rng = check_random_state(self.random_state)
        self.random_state_ = rng
        self._labels = labels
        try:
            self._init_params(X, rng, below)
            return _interruptible(self._fit_epochs, X, self.n_iter, rng, None, below)
        finally:
            del self._labels  # the training labels do not belong in the model

    def _init_params(self, X, rng, below=None):
        super()._init_params(X, rng, below)
        W_y = rng.normal(0.0, 0.01, (self.n_components, self.n_labels_))
        # Hinton's guide, sections 8 and 13.1: a softmax group's biases start
        # at the log of the class frequencies.
        freq = np.bincount(self._labels, minlength=self.n_labels_) / max(len(self._labels), 1)
        b_y = np.log(np.clip(freq, _BIAS_EPS, None))
        self.components_ = np.ascontiguousarray(np.hstack([self.components_, W_y]), dtype=np.float32)
        self.intercept_visible_ = np.concatenate([self.intercept_visible_, b_y]).astype(np.float32)
        self._W_inc = np.zeros_like(self.components_)
        self._b_v_inc = np.zeros_like(self.intercept_visible_)

    def _buffers(self, below):
        bufs = super()._buffers(below)
        B = self.batch_size
        bufs["V"] = np.empty((2 * B, below.width + self.n_labels_), dtype=np.float32)
        bufs["P"] = np.empty((B, below.width), dtype=np.float32)
        return bufs

    def _run_epoch(self, X, order, momentum, state, bufs):
        dense, data, indices, indptr, sparse = kernel_data(X)
        stats = np.zeros(2, dtype=np.float64)
        VK.cd_epoch_labels(
            BLAS_KIND, dense, data, indices, indptr,
            sparse, order, self.batch_size, self._labels,
            self.components_, self.intercept_hidden_, self.intercept_visible_,
            self._W_inc, self._b_h_inc, self._b_v_inc, self.k, self.sample_visible,
            float(self.learning_rate), float(momentum), float(self.weight_decay),
            state, bufs["V"], bufs["H"], bufs["Hs"], bufs["P"], stats, *bufs["lower"],
        )
        return stats

    def _pseudo_likelihood(self, X, rng):
        return np.full(X.shape[0], np.nan)

    def _pen_input(self, P):
        """``P @ W_v.T + b_h`` (float32) for penultimate-layer rows ``P``."""
        n_pen = self.components_.shape[1] - self.n_labels_
        H0 = np.ascontiguousarray(safe_sparse_dot(P, self.components_[:, :n_pen].T, dense_output=True),
                                  dtype=np.float32)
        H0 += self.intercept_hidden_
        return H0

    def label_log_proba(self, P):
        """``log p(y | v)`` from the free energy of each label (float64).

        Parameters
        ----------
        P : ndarray of shape (n_samples, n_pen)
            Penultimate-layer probabilities.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_labels_)
        """
        n_pen = self.components_.shape[1] - self.n_labels_
        F = np.empty((P.shape[0], self.n_labels_), dtype=np.float64)
        VK.label_free_energies(self._pen_input(P), np.ascontiguousarray(self.components_[:, n_pen:]),
                               self.intercept_visible_[n_pen:], F)
        logits = -F
        return logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)

    def hidden_given_pen(self, P):
        """``E[h | v] = sum_y p(y | v) P(h = 1 | v, y)``: the labels summed out exactly.

        Parameters
        ----------
        P : ndarray of shape (n_samples, n_pen)

        Returns
        -------
        H : ndarray of shape (n_samples, n_components), dtype float32
        """
        n_pen = self.components_.shape[1] - self.n_labels_
        proba = np.exp(self.label_log_proba(P)).astype(np.float32)
        H0 = self._pen_input(P)
        out = np.zeros_like(H0)
        zero = np.zeros(self.n_components, dtype=np.float32)
        for y in range(self.n_labels_):
            h = H0 + self.components_[:, n_pen + y]
            K.sigmoid_bias_(h, zero)
            out += proba[:, y:y + 1] * h
        return out
