"""The deep autoencoder of Hinton & Salakhutdinov (2006).

:class:`DBNAutoencoder` pretrains a stack of RBMs whose top (code) layer has
linear hidden units (:class:`~dbn.LinearHiddenRBM`), unrolls it into an
encoder and a decoder (the decoder starts from the transposed weights and the
visible biases: tied at initialisation, untied after), and fine-tunes the
whole net by backpropagation of the reconstruction error, with the
fine-tuning engine of :mod:`dbn._network`.  With a random ``init`` it is the
paper's baseline: the same net, optimiser, epochs and data order from random
weights (which, for deep nets, "always reconstructs the average of the
training data").
"""

import numbers
import time

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
    clone,
)
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from . import _network as engine
from ._persistence import PickleStampMixin
from .exceptions import check_finite_output
from .network import RANDOM_INITS, _FineTuningMixin, _random_layer, _reject_sparse
from .rbm import GaussianBernoulliRBM, LinearHiddenRBM
from .stack import DBN, check_layer_sizes

__all__ = ["DBNAutoencoder"]

#: Loss -> output activation of the decoder (the canonical link of the loss).
LOSSES = {"cross_entropy": "logistic", "squared_error": "identity"}
# Streams drawn from random_state, in this order, by every init: everything
# but the initial weights is then identical between inits.
_STREAMS = ("hidden_init", "pretrain", "order")


class DBNAutoencoder(
    _FineTuningMixin, PickleStampMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Deep autoencoder: RBM pretraining, unrolling, and backpropagation.

    Hinton & Salakhutdinov (2006): a stack of RBMs ``n_features ->
    hidden_layer_sizes[0] -> ... -> hidden_layer_sizes[-1]`` is pretrained
    greedily, the top (code) layer with linear hidden units and Gaussian
    noise (:class:`~dbn.LinearHiddenRBM`); the stack is unrolled into an
    encoder (its recognition weights ``components_.T`` and hidden biases)
    and a decoder (its generative weights ``components_`` and visible
    biases, in reverse order), so the network
    ``n_features - ... - code - ... - n_features`` starts with tied
    weights, which fine-tuning then changes independently.  Hidden units are
    logistic, the code units linear.  Fine-tuning minimises the
    reconstruction error by mini-batch SGD with momentum: the cross-entropy
    of logistic output units for data in [0, 1] (pixel intensities read as
    probabilities, as in the paper), or the squared error of linear output
    units for real-valued data (whose first RBM then has Gaussian visible
    units: standardise such data).  The paper fine-tuned with conjugate
    gradients on batches of 1000; this uses the SGD of
    :class:`~dbn.DBNClassifier`.

    ``transform`` gives the codes, ``inverse_transform`` decodes them, and
    ``score`` is minus the average squared reconstruction error per sample
    (summed over features: the paper's measure, 3.00 for MNIST's test set
    against 13.87 for PCA with 30 components).

    Parameters
    ----------
    hidden_layer_sizes : array-like of int, default=(1000, 500, 250, 30)
        Units of the encoder's layers, the last one the code (the paper's
        MNIST autoencoder).  The decoder mirrors them.
    init : {"dbn", "normal", "uniform", "glorot", "he"} or DBN, default="dbn"
        Initial weights. ``"dbn"``: greedy RBM pretraining (the
        ``pretrain_*`` settings), unrolled.  A :class:`~dbn.DBN` with
        ``top_layer="linear"``: that stack, reused as is when fitted, else a
        copy of it is fitted.  Random (encoder and decoder independently,
        biases at zero): ``"normal"`` N(0, 0.1^2), ``"uniform"``
        U(+-1/sqrt(fan_in)), ``"glorot"``, ``"he"`` (as
        :class:`~dbn.DBNClassifier`'s).
    loss : {"auto", "cross_entropy", "squared_error"}, default="auto"
        Reconstruction loss per sample, summed over features and averaged
        over samples. ``"cross_entropy"``: logistic outputs, data in [0, 1],
        Bernoulli first RBM; ``"squared_error"``: ``0.5 * sum (x' - x)^2``,
        linear outputs, Gaussian first RBM; ``"auto"``: cross-entropy when
        every value of X lies in [0, 1], else squared error.
    batch_size : int, default=100
        Mini-batch size of fine-tuning.
    learning_rate : {"constant", "invscaling", "adaptive", "exponential"}, default="constant"
        Learning-rate schedule (see :class:`~dbn.DBNClassifier`).
    learning_rate_init : float, default=0.01
        Initial learning rate of fine-tuning.  The loss is summed over the
        features, so its gradient grows with their number: on MNIST (784
        pixels, batches of 100) 0.01 and 0.03 did best over the first
        epochs of the 784-1000-500-250-30 net, 0.1 was unstable; fewer
        features tolerate more.
    learning_rate_decay : float, default=1.0
        Factor per epoch of the "exponential" schedule.
    power_t : float, default=0.5
        Exponent of the "invscaling" schedule.
    momentum : float, default=0.9
        Momentum of the SGD updates.
    nesterovs_momentum : bool, default=True
        Nesterov's momentum.
    alpha : float, default=0.0
        L2 penalty (scikit-learn MLP's meaning).
    max_iter : int, default=200
        Maximum number of fine-tuning epochs (the paper: 200).
    shuffle : bool, default=True
        Shuffle the training rows every epoch.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows and stop when their
        reconstruction error stops improving; the best weights are kept.
    validation_fraction : float, default=0.1
        Held-out fraction for early stopping.
    n_iter_no_change : int, default=10
        Epochs without an improvement of more than ``tol`` before stopping.
    tol : float, default=1e-4
        Tolerance of the stopping test.
    pretrain_n_iter : int or list of int, default=50
        Epochs of each RBM (the paper: 50; its published code: 10).
    pretrain_learning_rate : float or list, default=0.1
        CD learning rate of each RBM (the code layer's: see
        ``pretrain_code_learning_rate``; a Gaussian first layer takes a
        tenth).
    pretrain_code_learning_rate : float or None, default=None
        CD learning rate of the linear code layer (None: a hundredth of its
        ``pretrain_learning_rate``, 0.001 as in the paper's code).
    pretrain_batch_size : int or list, default=100
        Mini-batch size of pretraining (the paper: 100).
    pretrain_k : int or list, default=1
        Gibbs steps of CD-k.
    pretrain_momentum : float, sequence, "hinton" or list, default="hinton"
        Momentum of pretraining (0.5 for five epochs, then 0.9).
    pretrain_weight_decay : float or list, default=0.0002
        L2 weight cost of pretraining.
    random_state : int, RandomState instance or None, default=None
        Seeds, in separate streams, the random weights, the pretraining and
        the data order: for a given value, everything but the initial
        weights is identical between inits.
    verbose : int, default=0
        Print one line per epoch of pretraining and fine-tuning, with the
        elapsed time and an estimate of the time left.
    warm_start : bool, default=False
        Continue fine-tuning from the current weights on the next ``fit``;
        the learning-rate schedule goes on from epoch ``n_iter_``.

    Attributes
    ----------
    coefs_ : list of ndarray
        ``coefs_[i]``: weights from layer i to layer i + 1, shape (n_in, n_out);
        the first ``len(hidden_layer_sizes)`` are the encoder's.
    intercepts_ : list of ndarray
        ``intercepts_[i]``: biases of layer i + 1.
    n_layers_ : int
        Number of layers, input and output included.
    loss_ : {"cross_entropy", "squared_error"}
        The loss minimised.
    out_activation_ : {"logistic", "identity"}
        Output units of the decoder.
    n_features_in_ : int
        Number of features seen during :term:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit` (string names only).
    n_iter_ : int
        Fine-tuning epochs run.
    t_ : int
        Training samples seen by fine-tuning.
    loss_curve_ : list of float
        Mean training loss per sample of each fine-tuning epoch.
    best_loss_ : float
        Smallest value of ``loss_curve_``.
    validation_scores_ : list of float or None
        Minus the held-out reconstruction error after each epoch
        (``early_stopping``).
    best_validation_score_ : float or None
        Best of ``validation_scores_``.
    gradient_norms_ : ndarray of shape (n_iter_, n_layers_ - 1)
        Per epoch, the mean norm of the gradient of each weight matrix.
    dbn_ : DBN or None
        The pretrained stack (None for random inits).
    pretraining_history_ : list of dict
        Each RBM's per-epoch history (empty for random inits).
    pretraining_time_ : float
        Seconds spent initialising (pretraining included).

    See Also
    --------
    DBN : the pretraining stack (``top_layer="linear"``).
    sklearn.decomposition.PCA : the linear baseline of the paper.

    References
    ----------
    G. E. Hinton and R. R. Salakhutdinov (2006). Reducing the dimensionality
    of data with neural networks. Science 313(5786), 504-507 (and its
    supporting online material and code: ``mnistdeepauto.m``,
    ``rbmhidlinear.m``, ``backprop.m``).

    I. Sutskever, J. Martens, G. Dahl and G. Hinton (2013). On the importance
    of initialization and momentum in deep learning. ICML (deep autoencoders
    fine-tuned by SGD with momentum).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from dbn import DBNAutoencoder
    >>> X = load_digits().data / 16
    >>> ae = DBNAutoencoder(hidden_layer_sizes=(32, 8), pretrain_n_iter=2, max_iter=3,
    ...                     learning_rate_init=0.01, random_state=0).fit(X)
    >>> ae.transform(X).shape
    (1797, 8)
    >>> ae.inverse_transform(ae.transform(X)).shape
    (1797, 64)
    """

    _has_targets = False  # fine-tuning's targets are X itself

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like"],
        "init": [StrOptions({"dbn", *RANDOM_INITS}), DBN],
        "loss": [StrOptions({"auto", *LOSSES})],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive", "exponential"})],
        "learning_rate_init": [Interval(numbers.Real, 0, None, closed="neither")],
        "learning_rate_decay": [Interval(numbers.Real, 0, 1, closed="right")],
        "power_t": [Interval(numbers.Real, 0, None, closed="left")],
        "momentum": [Interval(numbers.Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "pretrain_n_iter": [Interval(numbers.Integral, 0, None, closed="left"), list, tuple],
        "pretrain_learning_rate": [Interval(numbers.Real, 0, None, closed="neither"), list, tuple],
        "pretrain_code_learning_rate": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "pretrain_batch_size": [Interval(numbers.Integral, 1, None, closed="left"), list, tuple],
        "pretrain_k": [Interval(numbers.Integral, 1, None, closed="left"), list, tuple],
        "pretrain_momentum": [
            Interval(numbers.Real, 0, 1, closed="left"), StrOptions({"hinton"}), list, tuple,
        ],
        "pretrain_weight_decay": [Interval(numbers.Real, 0, None, closed="left"), list, tuple],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    def __init__(
        self,
        hidden_layer_sizes=(1000, 500, 250, 30),
        *,
        init="dbn",
        loss="auto",
        batch_size=100,
        learning_rate="constant",
        learning_rate_init=0.01,
        learning_rate_decay=1.0,
        power_t=0.5,
        momentum=0.9,
        nesterovs_momentum=True,
        alpha=0.0,
        max_iter=200,
        shuffle=True,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        pretrain_n_iter=50,
        pretrain_learning_rate=0.1,
        pretrain_code_learning_rate=None,
        pretrain_batch_size=100,
        pretrain_k=1,
        pretrain_momentum="hinton",
        pretrain_weight_decay=0.0002,
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.init = init
        self.loss = loss
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.learning_rate_decay = learning_rate_decay
        self.power_t = power_t
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.alpha = alpha
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.pretrain_n_iter = pretrain_n_iter
        self.pretrain_learning_rate = pretrain_learning_rate
        self.pretrain_code_learning_rate = pretrain_code_learning_rate
        self.pretrain_batch_size = pretrain_batch_size
        self.pretrain_k = pretrain_k
        self.pretrain_momentum = pretrain_momentum
        self.pretrain_weight_decay = pretrain_weight_decay
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    # ------------------------------------------------------------------ #
    # The network
    # ------------------------------------------------------------------ #
    def _hidden_sizes(self):
        return check_layer_sizes(self.hidden_layer_sizes)

    def _activations(self):
        """Hidden activations of the whole net: logistic, a linear code, logistic."""
        n = len(self._hidden_sizes())
        return ["logistic"] * (n - 1) + ["identity"] + ["logistic"] * (n - 1)

    def _resolve_loss(self, X):
        in_01 = X.size == 0 or (float(X.min()) >= 0.0 and float(X.max()) <= 1.0)
        if self.loss == "auto":
            return "cross_entropy" if in_01 else "squared_error"
        if self.loss == "cross_entropy" and not in_01:
            raise ValueError(
                f"loss='cross_entropy' needs X with values in [0, 1] (probabilities); got values in "
                f"[{float(X.min()):g}, {float(X.max()):g}]. Scale the data, or use loss='squared_error' "
                "(with standardised data)."
            )
        return self.loss

    def _pretrainer(self, seed, loss):
        """The DBN that ``init="dbn"`` pretrains, configured from our settings."""
        return DBN(
            hidden_layer_sizes=tuple(self._hidden_sizes()),
            learning_rate=self.pretrain_learning_rate,
            n_iter=self.pretrain_n_iter,
            batch_size=self.pretrain_batch_size,
            k=self.pretrain_k,
            momentum=self.pretrain_momentum,
            weight_decay=self.pretrain_weight_decay,
            first_layer="bernoulli" if loss == "cross_entropy" else "gaussian",
            top_layer="linear",
            linear_learning_rate=self.pretrain_code_learning_rate,
            verbose=self.verbose,
            random_state=int(seed),
        )

    def _initial_parameters(self, X, layer_sizes, loss, seeds):
        """Flat parameter vector of the unrolled net, and the fitted DBN if any."""
        n = len(self._hidden_sizes())
        dbn = None
        if isinstance(self.init, DBN) or self.init == "dbn":
            if isinstance(self.init, DBN) and hasattr(self.init, "rbms_"):
                dbn = self.init  # a fitted stack: reuse its pretraining
            else:
                if isinstance(self.init, DBN):
                    dbn = clone(self.init).set_params(random_state=int(seeds["pretrain"]))
                else:
                    dbn = self._pretrainer(seeds["pretrain"], loss)
                dbn.fit(X)
                if dbn._interrupted:
                    raise KeyboardInterrupt  # a partial stack cannot initialise this network
            enc_coefs, enc_intercepts = dbn.unrolled_parameters()
            got = [enc_coefs[0].shape[0]] + [c.shape[1] for c in enc_coefs]
            if got != layer_sizes[:n + 1]:
                raise ValueError(
                    f"The DBN given as init has layer sizes {got}, but this autoencoder needs "
                    f"{layer_sizes[:n + 1]} (n_features and hidden_layer_sizes)."
                )
            if not isinstance(dbn.rbms_[-1], LinearHiddenRBM):
                raise ValueError(
                    "The DBN given as init must have a linear code layer: DBN(top_layer='linear')."
                )
            if isinstance(dbn.rbms_[0], GaussianBernoulliRBM) != (loss == "squared_error"):
                raise ValueError(
                    f"The DBN given as init has a {type(dbn.rbms_[0]).__name__} first layer, but "
                    f"loss={loss!r} needs {'Gaussian' if loss == 'squared_error' else 'Bernoulli'} "
                    "visible units (whose means the decoder's outputs become)."
                )
            # The decoder: generative weights and visible biases, top down.
            dec_coefs = [np.ascontiguousarray(r.components_) for r in reversed(dbn.rbms_)]
            dec_intercepts = [r.intercept_visible_.copy() for r in reversed(dbn.rbms_)]
            coefs, intercepts = enc_coefs + dec_coefs, enc_intercepts + dec_intercepts
        else:
            rng = np.random.RandomState(seeds["hidden_init"])
            coefs = [_random_layer(rng, self.init, a, b, "logistic").astype(np.float32)
                     for a, b in zip(layer_sizes[:-1], layer_sizes[1:])]
            intercepts = [np.zeros(b, dtype=np.float32) for b in layer_sizes[1:]]
        params, _ = engine.pack(coefs, intercepts)
        return params, dbn

    # ------------------------------------------------------------------ #
    # Fitting
    # ------------------------------------------------------------------ #
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Pretrain (``init="dbn"``), unroll and fine-tune the autoencoder on X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data: values in [0, 1] for the cross-entropy, else
            standardised real values.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The fitted autoencoder.
        """
        _reject_sparse(X, type(self).__name__)
        continuing = self.warm_start and hasattr(self, "_params")
        X = validate_data(self, X, dtype=np.float32, order="C", reset=not continuing)
        loss = self._resolve_loss(X)
        if continuing and loss != self.loss_:
            raise ValueError(f"warm_start: the loss changed from {self.loss_!r} to {loss!r}; "
                             "refit with warm_start=False.")
        return self._fit(X, loss, continuing)

    def _fit(self, X, loss, continuing):
        rng = check_random_state(self.random_state)
        seeds = dict(zip(_STREAMS, rng.randint(0, 2**31 - 1, size=len(_STREAMS))))
        sizes = self._hidden_sizes()
        layer_sizes = [X.shape[1], *sizes, *sizes[-2::-1], X.shape[1]]
        layout = engine.make_layout(layer_sizes)
        output = LOSSES[loss]
        if continuing:
            if self._params.shape[0] != layout.n_params:
                raise ValueError(
                    "warm_start: the network's shape changed since the last fit "
                    "(hidden_layer_sizes or n_features); refit with warm_start=False."
                )
        else:
            t0 = time.perf_counter()
            self._params, self.dbn_ = self._initial_parameters(X, layer_sizes, loss, seeds)
            self.pretraining_time_ = time.perf_counter() - t0
            self.pretraining_history_ = [] if self.dbn_ is None else list(self.dbn_.history_)
            self.loss_ = loss
            self.out_activation_ = output
            self._reset_history(layout.n_layers)
        self._layout = layout

        rows = np.arange(X.shape[0])
        val_rows = None
        if self.early_stopping:
            rows, val_rows = train_test_split(
                rows, test_size=self.validation_fraction, random_state=np.random.RandomState(seeds["order"]),
            )
            rows.sort()
            val_rows.sort()
            if len(rows) == 0 or len(val_rows) == 0:
                raise ValueError(f"validation_fraction={self.validation_fraction} leaves no training or "
                                 f"no validation rows among the {X.shape[0]} samples.")
        activations = self._activations()
        trainer = engine.SGDTrainer(
            layout, activation=activations, output=output, batch_size=min(self.batch_size, len(rows)),
            alpha=self.alpha, nesterov=self.nesterovs_momentum,
        )
        schedule = engine.SGDSchedule(
            self.learning_rate, self.learning_rate_init, power_t=self.power_t,
            decay=self.learning_rate_decay, momentum=self.momentum,
        )
        score = None
        if val_rows is not None:
            def score(params):
                out = engine.forward(params, layout, X, activation=activations, output=output, rows=val_rows)
                return -_squared_error_per_sample(out, X[val_rows])

        return self._fine_tune(X, X, trainer, schedule, rows=rows, score=score, order_seed=seeds["order"],
                               max_iter=self.max_iter)

    def _progress_line(self, loss, val_score):
        """The verbose line of one epoch: the validation score as a reconstruction error."""
        msg = f"[{type(self).__name__}] Iteration {self.n_iter_}, loss = {loss:.6f}"
        if val_score is not None:
            msg += f", validation reconstruction error = {-val_score:.4f}"
        return msg

    # ------------------------------------------------------------------ #
    # Inference
    # ------------------------------------------------------------------ #
    @property
    def n_layers_(self):
        """Number of layers, input and output included."""
        return 2 * len(self._hidden_sizes()) + 1

    @property
    def _n_features_out(self):
        return self._hidden_sizes()[-1]

    def _check_X(self, X):
        check_is_fitted(self, "_params")
        _reject_sparse(X, type(self).__name__)
        return validate_data(self, X, dtype=np.float32, order="C", reset=False)

    def _half(self, decoder):
        """Parameters and layout of the encoder (or the decoder) alone."""
        n = len(self._hidden_sizes())
        coefs, intercepts = engine.unpack(self._params, self._layout)
        part = slice(n, None) if decoder else slice(0, n)
        return engine.pack(coefs[part], intercepts[part])

    def transform(self, X):
        """Codes of X: the encoder's output (linear code units).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        codes : ndarray of shape (n_samples, hidden_layer_sizes[-1]), dtype float32
        """
        X = self._check_X(X)
        params, layout = self._half(decoder=False)
        n = len(self._hidden_sizes())
        out = engine.forward(params, layout, X, activation=["logistic"] * (n - 1), output="identity")
        return check_finite_output(out, X, f"{type(self).__name__}.transform")

    def inverse_transform(self, X):
        """Reconstructions from codes: the decoder's output.

        Parameters
        ----------
        X : array-like of shape (n_samples, hidden_layer_sizes[-1])
            Codes, e.g. the output of ``transform``.

        Returns
        -------
        X_rec : ndarray of shape (n_samples, n_features), dtype float32
            Probabilities (cross-entropy) or values (squared error).
        """
        check_is_fitted(self, "_params")
        codes = check_array(X, dtype=np.float32, order="C", input_name="X")
        n_code = self._hidden_sizes()[-1]
        if codes.shape[1] != n_code:
            raise ValueError(f"X must hold codes of shape (n_samples, {n_code}); got {codes.shape}.")
        params, layout = self._half(decoder=True)
        n = len(self._hidden_sizes())
        out = engine.forward(params, layout, codes, activation=["logistic"] * (n - 1),
                             output=self.out_activation_)
        return check_finite_output(out, codes, f"{type(self).__name__}.inverse_transform")

    def reconstruct(self, X):
        """Reconstruction of X through the whole net (``inverse_transform(transform(X))``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        X_rec : ndarray of shape (n_samples, n_features), dtype float32
        """
        X = self._check_X(X)
        out = engine.forward(self._params, self._layout, X, activation=self._activations(),
                             output=self.out_activation_)
        return check_finite_output(out, X, f"{type(self).__name__}.reconstruct")

    def score(self, X, y=None):
        """Minus the average squared reconstruction error per sample.

        ``-mean_i sum_j (x'_ij - x_ij)^2``: higher is better.  Its negative
        is the measure of Hinton & Salakhutdinov (2006), whose MNIST test
        figures are 3.00 for the autoencoder and 13.87 for PCA.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        score : float
        """
        X_rec = self.reconstruct(X)
        X = validate_data(self, X, dtype=np.float32, order="C", reset=False)
        return -_squared_error_per_sample(X_rec, X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


def _squared_error_per_sample(X_rec, X):
    """``mean_i sum_j (X_rec - X)^2`` in float64 (chunked: no full float64 copy)."""
    if X.shape[0] == 0:
        raise ValueError("no samples to score")
    total = 0.0
    for start in range(0, X.shape[0], 4096):
        d = X_rec[start:start + 4096].astype(np.float64) - X[start:start + 4096]
        total += float(np.einsum("ij,ij->", d, d))
    return total / X.shape[0]
