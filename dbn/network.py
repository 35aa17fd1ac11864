"""Fine-tuned deep belief networks: classifier and regressor.

:class:`DBNClassifier` and :class:`DBNRegressor` are the method of Hinton &
Salakhutdinov (2006): pretrain a stack of RBMs greedily without labels
(:class:`~dbn.DBN`), unroll it into a feed-forward net with an output layer,
and fine-tune the whole net by backpropagation.  With a random ``init`` they
are the baseline that method was measured against: the *identical* network,
optimiser, schedule, epochs and data order, from random weights.

The estimators only validate, allocate, seed and call the fine-tuning engine
of :mod:`dbn._network`, whose epochs run in compiled code.
"""

import numbers
import time
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    RegressorMixin,
    _fit_context,
    clone,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d, validate_data

from . import _network as engine
from ._persistence import PickleStampMixin
from .exceptions import DivergenceError, check_finite_output, largest_magnitude
from .stack import DBN, check_layer_sizes

__all__ = ["DBNClassifier", "DBNRegressor", "RANDOM_INITS"]

#: Random initialisations of the hidden layers (``init`` other than "dbn").
RANDOM_INITS = ("normal", "uniform", "glorot", "he")
# Standard deviation of init="normal": 0.1 * randn, as the weights of rbm.m
# and of the output layer in backpropclassify.m (Hinton & Salakhutdinov 2006).
_NORMAL_STD = 0.1
# Streams drawn from random_state, in this order, by every init: everything
# but the initial hidden weights is then identical between inits.
_STREAMS = ("hidden_init", "output_init", "pretrain", "order", "dropout")


def _random_layer(rng, scheme, n_in, n_out, activation):
    """One layer's weights from a random scheme (biases start at zero)."""
    if scheme == "normal":
        return rng.normal(0.0, _NORMAL_STD, (n_in, n_out))
    if scheme == "uniform":
        # LeCun et al. (1998), the baseline of Erhan et al. (2010).
        bound = 1.0 / np.sqrt(n_in)
        return rng.uniform(-bound, bound, (n_in, n_out))
    if scheme == "glorot":
        # Glorot & Bengio (2010), with scikit-learn MLP's factor (2 for
        # logistic units, 6 otherwise) so "glorot" is MLPClassifier's init.
        factor = 2.0 if activation == "logistic" else 6.0
        bound = np.sqrt(factor / (n_in + n_out))
        return rng.uniform(-bound, bound, (n_in, n_out))
    if scheme == "he":
        # He et al. (2015), for rectified linear units.
        return rng.normal(0.0, np.sqrt(2.0 / n_in), (n_in, n_out))
    raise ValueError(f"unknown init {scheme!r}")


def _reject_sparse(X, name):
    if sp.issparse(X):
        raise ValueError(
            f"{name} needs dense X; got a sparse matrix. Convert it with X.toarray() "
            "(the RBMs and DBN take sparse input directly)."
        )


class _FineTuningMixin:
    """Fine-tuning, its history and the parameter views shared by the networks and the autoencoder.

    The estimator validates, allocates and seeds; this runs
    :func:`dbn._network.train` and keeps ``loss_curve_``,
    ``gradient_norms_``, ``validation_scores_``, ``best_loss_``,
    ``best_validation_score_``, ``n_iter_`` and ``t_`` consistent with
    ``_params`` whatever stops the run: convergence, ``max_iter``, a
    non-finite loss (:class:`~dbn.exceptions.DivergenceError`) or Ctrl-C.
    """

    _has_targets = True  # whether Y differs from X (named in the divergence message)

    def _reset_history(self, n_layers):
        self.loss_curve_ = []
        self.gradient_norms_ = np.empty((0, n_layers))
        self.validation_scores_ = [] if self.early_stopping else None
        self.best_validation_score_ = None
        self.best_loss_ = np.inf
        self.n_iter_ = 0
        self.t_ = 0

    def _progress_line(self, loss, val_score):
        """The verbose line of one epoch (scikit-learn MLP's)."""
        msg = f"Iteration {self.n_iter_}, loss = {loss:.8f}"
        if val_score is not None:
            msg += f", validation score = {val_score:.6f}"
        return msg

    def __getstate__(self):
        state = super().__getstate__()
        # The caller's per-epoch hook (a closure) is not part of the model;
        # dropping it lets the hook pickle the model mid-fit, a checkpoint.
        state.pop("_epoch_monitor", None)
        return state

    def _continues(self):
        """Whether the next fit goes on from the current weights: a warm
        start, or the rest of a fit that was pickled in its middle."""
        return (self.warm_start or hasattr(self, "_resume_point")) and hasattr(self, "_params")

    def _fine_tune(self, X, Y, trainer, schedule, *, rows, score, order_seed, max_iter, warn_max_iter=True,
                   n_iter_output_only=0, resume=None, val_rows=None, keep_state=False):
        """Fine-tune ``self._params`` on ``X[rows]`` -> ``Y[rows]`` for up to ``max_iter`` epochs.

        ``score(params)`` (or None) is the validation score of early
        stopping (on ``val_rows``), ``order_seed`` seeds the data order
        (offset by the epochs already done, so a warm start continues the
        sequence), and ``warn_max_iter`` asks for scikit-learn's
        ConvergenceWarning when ``max_iter`` ends the run; the first
        ``n_iter_output_only`` epochs of this call train the output layer
        alone.  Warnings point at the caller of the estimator's ``_fit``
        (``stacklevel=4``: through this and :meth:`_train`).

        While it runs, ``self._resume_point`` holds what the fit carries
        from epoch to epoch besides the parameters and the histories (the
        trainer's velocity and dropout state, the schedule, the loop's
        state, the rows): the model pickled after an epoch (by the study's
        ``_epoch_monitor``) is a checkpoint, and ``resume``, that pickle's
        ``_resume_point``, makes this call finish that fit exactly.  With
        ``keep_state`` (``partial_fit``), what the next call goes on with is
        kept as ``_incremental_state`` when this one completes.
        Returns self.
        """
        if resume is not None:
            trainer.velocity[...] = resume["velocity"]
            trainer.state[...] = resume["kernel_state"]
            schedule, loop, fit_start = resume["schedule"], resume["loop"], resume["fit_start"]
            max_iter -= self.n_iter_ - fit_start
        else:
            loop = engine.TrainLoop(rng=np.random.RandomState(order_seed + self.n_iter_))
            fit_start = self.n_iter_
        self._resume_point = {"velocity": trainer.velocity, "kernel_state": trainer.state,
                              "schedule": schedule, "loop": loop, "fit_start": fit_start,
                              "rows": rows, "val_rows": val_rows}
        self.__dict__.pop("_incremental_state", None)  # superseded, whatever happens now
        try:
            completed = self._train(X, Y, trainer, schedule, loop, rows=rows, score=score,
                                    max_iter=max_iter, warn_max_iter=warn_max_iter,
                                    n_iter_output_only=n_iter_output_only)
            if keep_state and completed:
                self._incremental_state = {k: self._resume_point[k] for k in
                                           ("velocity", "kernel_state", "schedule", "loop")}
            return self
        finally:
            del self._resume_point

    def _train(self, X, Y, trainer, schedule, loop, *, rows, score, max_iter, warn_max_iter,
               n_iter_output_only):
        """:meth:`_fine_tune`'s loop, with the history kept as it goes.

        Returns False when Ctrl-C stopped it, else True.
        """
        t_start = time.perf_counter()
        # (epochs recorded, their parameters): replaced in one assignment, so
        # an interruption at any point finds a consistent pair.
        progress = (self.n_iter_, self._params.copy())

        def callback(epoch, params, res, val_score):
            nonlocal progress
            # (engine.train stops before calling back on a non-finite loss.)
            # Record as we go: an interrupted fit keeps its history.
            self.loss_curve_.append(res.loss)
            self.gradient_norms_ = np.vstack([self.gradient_norms_, res.grad_norms[None, :]])
            if val_score is not None:
                if self.validation_scores_ is None:
                    self.validation_scores_ = []
                self.validation_scores_.append(val_score)
            self.best_loss_ = min(self.best_loss_, res.loss)
            self.t_ += len(rows)
            progress = (progress[0] + 1, params.copy())
            self.n_iter_ = progress[0]
            # A private hook for the study, which measures its held-out error
            # after every epoch (scikit-learn's MLP has no such parameter).
            monitor = getattr(self, "_epoch_monitor", None)
            if monitor is not None:
                monitor(self)
            if self.verbose:
                elapsed = time.perf_counter() - t_start
                left = elapsed / (epoch + 1) * (max_iter - epoch - 1)
                msg = self._progress_line(res.loss, val_score)
                print(f"{msg}, elapsed = {elapsed:.1f}s, left <= {left:.1f}s", flush=True)
            return False

        try:
            result = engine.train(
                self._params, trainer, X, Y, schedule=schedule, max_iter=max_iter,
                loop=loop, rows=rows, shuffle=self.shuffle, tol=self.tol,
                n_iter_no_change=self.n_iter_no_change,
                score=score, callback=callback, n_iter_output_only=n_iter_output_only,
                # A warm start goes on with the schedule (rate, momentum ramp).
                first_epoch=self.n_iter_, time_step=self.t_,
            )
        except KeyboardInterrupt:
            # As scikit-learn's MLP: stop, keep the epochs completed so far.
            self._restore(progress)
            warnings.warn(
                f"{type(self).__name__}: training interrupted by user after {self.n_iter_} "
                "fine-tuning epoch(s); the model keeps them (fit again with warm_start=True to "
                "continue).",
                UserWarning,
                stacklevel=4,
            )
            return False
        if result.stopped == "diverged":
            self._restore(progress)
            scale = f"X values as large as {largest_magnitude(X):.3g}"
            if self._has_targets:
                scale += f", targets as large as {largest_magnitude(Y):.3g}"
            raise DivergenceError(
                f"{type(self).__name__}: the loss became non-finite in fine-tuning epoch "
                f"{self.n_iter_ + 1}; learning_rate_init={self.learning_rate_init} is too high, "
                f"try a smaller one, or the data are badly scaled ({scale}; standardise them). "
                "The model keeps the weights of the last finite epoch."
            )
        if score is not None:
            self.best_validation_score_ = result.best_validation_score
        if result.stopped == "max_iter" and warn_max_iter:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                "optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=4,
            )
        return True

    def _restore(self, progress):
        """Back to the last recorded epoch: parameters and history agree."""
        n, params = progress
        self._params = params
        self.n_iter_ = n
        del self.loss_curve_[n:]
        self.gradient_norms_ = self.gradient_norms_[:n]
        if self.validation_scores_ is not None:
            del self.validation_scores_[n:]

    @property
    def coefs_(self):
        """List of weight matrices, ``coefs_[i]`` of shape (n_in, n_out)."""
        check_is_fitted(self, "_params")
        return engine.unpack(self._params, self._layout)[0]

    @property
    def intercepts_(self):
        """List of bias vectors, ``intercepts_[i]`` of shape (n_out,)."""
        check_is_fitted(self, "_params")
        return engine.unpack(self._params, self._layout)[1]


class _BaseDBNNetwork(_FineTuningMixin, PickleStampMixin, BaseEstimator):
    """Shared fitting of DBNClassifier and DBNRegressor."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like"],
        "activation": [StrOptions({"logistic", "relu"})],
        "init": [StrOptions({"dbn", *RANDOM_INITS}), DBN],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive", "exponential"})],
        "learning_rate_init": [Interval(numbers.Real, 0, None, closed="neither")],
        "learning_rate_decay": [Interval(numbers.Real, 0, 1, closed="right")],
        "power_t": [Interval(numbers.Real, 0, None, closed="left")],
        "momentum": [Interval(numbers.Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "momentum_init": [Interval(numbers.Real, 0, 1, closed="both"), None],
        "momentum_ramp_epochs": [Interval(numbers.Integral, 0, None, closed="left")],
        "scale_rate_by_momentum": ["boolean"],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "input_dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "max_norm": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "n_iter_output_only": [Interval(numbers.Integral, 0, None, closed="left")],
        "pretrain_n_iter": [Interval(numbers.Integral, 0, None, closed="left"), list, tuple],
        "pretrain_learning_rate": [Interval(numbers.Real, 0, None, closed="neither"), list, tuple],
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

    _output = None  # "softmax", "logistic" or "identity", set per target

    # ------------------------------------------------------------------ #
    def _hidden_sizes(self):
        return check_layer_sizes(self.hidden_layer_sizes)

    def _validate_init(self):
        if self.activation == "relu" and (isinstance(self.init, DBN) or self.init == "dbn"):
            # Decision: pretraining builds binary (logistic) hidden units, and
            # unrolling them into rectified units changes what they compute.
            # Nair & Hinton's noisy rectified RBMs are not implemented.
            raise ValueError(
                "init='dbn' pretrains logistic (binary) hidden units and cannot initialise "
                "activation='relu'; use activation='logistic' with init='dbn', or a random "
                "init such as init='he' with activation='relu'."
            )

    def _pretrainer(self, seed):
        """The DBN that ``init="dbn"`` pretrains, configured from our settings."""
        return DBN(
            hidden_layer_sizes=tuple(self._hidden_sizes()),
            learning_rate=self.pretrain_learning_rate,
            n_iter=self.pretrain_n_iter,
            batch_size=self.pretrain_batch_size,
            k=self.pretrain_k,
            momentum=self.pretrain_momentum,
            weight_decay=self.pretrain_weight_decay,
            verbose=self.verbose,
            random_state=int(seed),
        )

    def _initial_parameters(self, X_pretrain, n_features, n_outputs, seeds):
        """Flat parameter vector of the unrolled net, and the fitted DBN if any."""
        sizes = self._hidden_sizes()
        layer_sizes = [n_features, *sizes, n_outputs]
        # The output layer is never pretrained: the same draw in every init.
        out_rng = np.random.RandomState(seeds["output_init"])
        out_coef = _random_layer(out_rng, "glorot", sizes[-1], n_outputs,
                                 "logistic" if self._output == "softmax" else "identity")
        out_coef = out_coef.astype(np.float32)
        dbn = None
        if isinstance(self.init, DBN) or self.init == "dbn":
            if isinstance(self.init, DBN) and hasattr(self.init, "rbms_"):
                dbn = self.init  # a fitted stack: reuse its pretraining
            else:
                dbn = clone(self.init) if isinstance(self.init, DBN) else self._pretrainer(seeds["pretrain"])
                if isinstance(self.init, DBN):
                    dbn.set_params(random_state=int(seeds["pretrain"]))
                dbn.fit(X_pretrain)
                if dbn._interrupted:
                    # A partial stack cannot initialise this network.
                    raise KeyboardInterrupt
            if getattr(dbn, "top_layer", "bernoulli") != "bernoulli":
                raise ValueError("The DBN given as init has a linear top layer (top_layer='linear'); "
                                 "this network's hidden units are logistic: use top_layer='bernoulli'.")
            coefs, intercepts = dbn.unrolled_parameters()
            got = [coefs[0].shape[0]] + [c.shape[1] for c in coefs]
            if got != layer_sizes[:-1]:
                raise ValueError(
                    f"The DBN given as init has layer sizes {got}, but this network needs "
                    f"{layer_sizes[:-1]} (n_features and hidden_layer_sizes)."
                )
        else:
            rng = np.random.RandomState(seeds["hidden_init"])
            coefs = [
                _random_layer(rng, self.init, a, b, self.activation).astype(np.float32)
                for a, b in zip(layer_sizes[:-2], layer_sizes[1:-1])
            ]
            intercepts = [np.zeros(b, dtype=np.float32) for b in layer_sizes[1:-1]]
        coefs = list(coefs) + [out_coef]
        intercepts = list(intercepts) + [np.zeros(n_outputs, dtype=np.float32)]
        params, _ = engine.pack(coefs, intercepts)
        return params, dbn

    # ------------------------------------------------------------------ #
    def _check_momentum_ramp(self):
        # Before pretraining, which may take long.
        if self.momentum_init is not None and self.momentum_ramp_epochs < 1:
            raise ValueError(f"momentum_init={self.momentum_init} needs momentum_ramp_epochs >= 1 "
                             f"(the epochs over which the momentum rises to momentum="
                             f"{self.momentum}); got {self.momentum_ramp_epochs}.")

    def _fit(self, X, Y, labelled, incremental=False):
        """Pretrain (if asked) and fine-tune on validated float32 X and Y.

        ``labelled`` is a boolean mask of the rows with a target; all rows
        take part in pretraining, only labelled ones in fine-tuning.  A model
        pickled in the middle of a fit (``_resume_point``, see
        :meth:`_fine_tune`) finishes that fit, exactly as if never stopped.
        ``incremental`` (``partial_fit``): one epoch, without early
        stopping, going on from the last call's ``_incremental_state``.
        """
        self._validate_init()
        self._check_momentum_ramp()
        rng = check_random_state(self.random_state)
        seeds = dict(zip(_STREAMS, rng.randint(0, 2**31 - 1, size=len(_STREAMS))))
        sizes = self._hidden_sizes()
        layout = engine.make_layout([X.shape[1], *sizes, Y.shape[1]])
        continuing = self._continues() or (incremental and hasattr(self, "_params"))
        resume = getattr(self, "_resume_point", None) if continuing and not incremental else None
        state = getattr(self, "_incremental_state", None) if incremental and continuing else None
        if continuing:
            if self._params.shape[0] != layout.n_params:
                how = "partial_fit" if incremental else "warm_start"
                raise ValueError(
                    f"{how}: the network's shape changed since the last fit (hidden_layer_sizes, "
                    "n_features or outputs); fit anew (warm_start=False)."
                )
        else:
            t0 = time.perf_counter()
            self._params, self.dbn_ = self._initial_parameters(X, X.shape[1], Y.shape[1], seeds)
            self.pretraining_time_ = time.perf_counter() - t0
            self.pretraining_history_ = [] if self.dbn_ is None else list(self.dbn_.history_)
            self._reset_history(layout.n_layers)
        self._layout = layout

        rows = np.flatnonzero(labelled)
        val_rows = None
        if resume is not None:
            rows, val_rows = resume["rows"], resume["val_rows"]
        elif state is not None:
            # The last call's velocity, dropout state, schedule and order
            # generator; a stop for want of progress does not carry over.
            state["loop"].stopped, state["loop"].no_improvement = None, 0
            resume = {**state, "fit_start": self.n_iter_, "rows": rows, "val_rows": None}
        elif self.early_stopping and not incremental:
            stratify = self._stratify(Y, rows)
            rows, val_rows = train_test_split(
                rows, test_size=self.validation_fraction,
                random_state=np.random.RandomState(seeds["order"]), stratify=stratify,
            )
            rows.sort()
            val_rows.sort()
            if len(rows) == 0 or len(val_rows) == 0:
                raise ValueError(
                    f"validation_fraction={self.validation_fraction} leaves no training or no "
                    f"validation rows among the {labelled.sum()} labelled samples."
                )

        trainer = engine.SGDTrainer(
            layout, activation=self.activation, output=self._output,
            batch_size=min(self.batch_size, len(rows)), alpha=self.alpha,
            nesterov=self.nesterovs_momentum, keep_prob_input=1.0 - self.input_dropout,
            keep_prob_hidden=1.0 - self.dropout,
            max_norm=0.0 if self.max_norm is None else self.max_norm,
            # Offset by the epochs done, as the data order: a warm start draws
            # new masks instead of replaying the first fit's.
            random_state=np.random.RandomState(seeds["dropout"] + self.n_iter_),
        )
        schedule = engine.SGDSchedule(
            self.learning_rate, self.learning_rate_init, power_t=self.power_t,
            decay=self.learning_rate_decay, momentum=self.momentum,
            momentum_init=self.momentum_init, momentum_ramp_epochs=self.momentum_ramp_epochs,
            scale_rate_by_momentum=self.scale_rate_by_momentum,
        )
        score = None
        if val_rows is not None:
            def score(params):
                out = engine.forward(params, layout, X, activation=self.activation,
                                     output=self._output, rows=val_rows)
                return self._validation_score(out, Y[val_rows])

        return self._fine_tune(
            X, Y, trainer, schedule, rows=rows, score=score, order_seed=seeds["order"],
            max_iter=1 if incremental else self.max_iter, warn_max_iter=not incremental,
            n_iter_output_only=max(0, self.n_iter_output_only - self.n_iter_),
            resume=resume, val_rows=val_rows, keep_state=incremental,
        )

    # ------------------------------------------------------------------ #
    @property
    def n_layers_(self):
        """Number of layers, input and output included."""
        return len(self._hidden_sizes()) + 2

    def _forward(self, X):
        check_is_fitted(self, "_params")
        _reject_sparse(X, type(self).__name__)
        X = validate_data(self, X, dtype=np.float32, order="C", reset=False,
                          accept_sparse=False)
        out = engine.forward(self._params, self._layout, X, activation=self.activation,
                             output=self._output)
        return check_finite_output(out, X, f"{type(self).__name__}.predict")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


_COMMON_DOC = """
    Parameters
    ----------
    hidden_layer_sizes : array-like of int, default=(256, 256)
        Units of each hidden layer (and of each RBM of the pretraining).
    activation : {"logistic", "relu"}, default="logistic"
        Hidden units: logistic (the DBN's own) or rectified linear.
        ``init="dbn"`` requires "logistic" (it raises otherwise): noisy
        rectified RBMs (Nair & Hinton 2010) are not implemented.
    init : {"dbn", "normal", "uniform", "glorot", "he"} or DBN, default="dbn"
        Initial weights of the hidden layers. ``"dbn"``: greedy RBM
        pretraining (the ``pretrain_*`` settings). A :class:`~dbn.DBN`: that
        stack, reused as is when fitted (one pretraining, many fine-tuning
        runs), else a copy of it is fitted. Random: ``"normal"``
        N(0, 0.1^2) (Hinton's code), ``"uniform"`` U(+-1/sqrt(fan_in))
        (LeCun 1998; Erhan et al. 2010), ``"glorot"`` (scikit-learn MLP's),
        ``"he"`` N(0, 2/fan_in). Biases start at zero (or the RBMs'). The
        output layer is Glorot-initialised from its own stream, identically
        for every init. Everything but the initial hidden weights
        (architecture, optimiser, schedule, epochs, data order, dropout masks)
        is identical between inits for a given ``random_state``.
    batch_size : int, default=100
        Mini-batch size of fine-tuning.
    learning_rate : {"constant", "invscaling", "adaptive", "exponential"}, default="constant"
        Learning-rate schedule: scikit-learn MLP's three, or
        ``learning_rate_init * learning_rate_decay ** epoch`` (Hinton et al.
        2012).
    learning_rate_init : float, default=0.1
        Initial learning rate of fine-tuning.  0.1 suits pretrained weights
        and ``"normal"``; a deep logistic net from ``"glorot"`` can saturate
        at it and learn nothing (784-500-500-2000-10 on MNIST stays at
        chance, its loss at ln 10; the ``mnist`` study preset fine-tunes it
        at 0.03, chosen on a validation split).
    learning_rate_decay : float, default=1.0
        Factor per epoch of the "exponential" schedule.
    power_t : float, default=0.5
        Exponent of the "invscaling" schedule.
    momentum : float, default=0.9
        Momentum of the SGD updates.
    nesterovs_momentum : bool, default=True
        Nesterov's momentum, as scikit-learn's MLP.
    momentum_init : float or None, default=None
        Start of a momentum ramp: the momentum rises linearly from
        ``momentum_init`` to ``momentum`` over the first
        ``momentum_ramp_epochs`` fine-tuning epochs (Hinton et al. 2012,
        appendix A: 0.5 to 0.99 over 500 epochs).  None: ``momentum``
        throughout.  Epochs count across ``warm_start`` fits (``n_iter_``).
    momentum_ramp_epochs : int, default=0
        Length of the ramp; at least 1 when ``momentum_init`` is given.
    scale_rate_by_momentum : bool, default=False
        Multiply each epoch's learning rate by ``1 - momentum`` (Hinton et
        al. 2012: ``dw = p dw - (1 - p) eps grad``), so that the step of the
        steady state, ``learning_rate / (1 - momentum)`` otherwise, is the
        learning rate whatever the momentum.  With a ramp up to 0.99 it keeps
        the late steps from growing a hundredfold.
    alpha : float, default=1e-4
        L2 penalty, with scikit-learn MLP's meaning (``0.5 * alpha *
        ||W||^2 / batch_size`` added to the mean batch loss).
    dropout : float, default=0.0
        Probability of dropping each hidden unit in fine-tuning (Srivastava
        et al. 2014; inverted dropout, so prediction needs no rescaling).
    input_dropout : float, default=0.0
        Probability of dropping each input unit.
    max_norm : float or None, default=None
        Bound on the L2 norm of each hidden unit's incoming weights, applied
        after every update (Srivastava et al. 2014, section 5.1).
    max_iter : int, default=200
        Maximum number of fine-tuning epochs.
    shuffle : bool, default=True
        Shuffle the training rows every epoch.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the labelled rows and stop when
        the validation score stops improving; the best weights are kept.
    validation_fraction : float, default=0.1
        Held-out fraction for early stopping.
    n_iter_no_change : int, default=10
        Epochs without an improvement of more than ``tol`` before stopping
        (or, with "adaptive", dividing the learning rate by 5).
    tol : float, default=1e-4
        Tolerance of the stopping test.
    n_iter_output_only : int, default=0
        The first ``n_iter_output_only`` fine-tuning epochs train the output
        layer alone, the hidden layers held fixed, as Hinton & Salakhutdinov
        (2006) fine-tuned their MNIST classifier (5 epochs, ``mnistclassify.m``):
        the new, random output layer learns to read the pretrained features
        before its error is backpropagated into them.  Those epochs cost
        about one forward pass each.  Counted over all fits of a warm start.
    pretrain_n_iter : int or list of int, default=50
        Epochs of each RBM (``init="dbn"``); one value or one per layer.
        Hinton & Salakhutdinov's 50 epochs; with ``pretrain_batch_size=20``
        it was the best of the settings compared by 4-fold cross-validation
        on the training part of scikit-learn's digits.
    pretrain_learning_rate : float or list, default=0.1
        CD learning rate of each RBM.
    pretrain_batch_size : int or list, default=20
        Mini-batch size of pretraining.
    pretrain_k : int or list, default=1
        Gibbs steps of CD-k.
    pretrain_momentum : float, sequence, "hinton" or list, default="hinton"
        Momentum of pretraining (``"hinton"``: 0.5 for five epochs, then 0.9).
    pretrain_weight_decay : float or list, default=0.0002
        L2 weight cost of pretraining (Hinton & Salakhutdinov's rbm.m).
    random_state : int, RandomState instance or None, default=None
        Seeds, in separate streams, the random hidden weights, the output
        layer, the pretraining, the data order and the dropout masks.
    verbose : int, default=0
        Print one line per epoch of pretraining and fine-tuning, with
        elapsed time and an estimate of the time left.
    warm_start : bool, default=False
        Continue fine-tuning from the current weights (no new
        initialisation or pretraining) on the next ``fit``.  Epochs count
        on from ``n_iter_``: the learning-rate schedule, the momentum ramp
        and ``n_iter_output_only`` go on where the last fit left them, and
        the data orders and dropout masks are new ones, not the last fit's
        again.  The momentum's velocity starts from zero, as in
        scikit-learn's MLP.
"""

_COMMON_ATTRS = """
    coefs_ : list of ndarray
        ``coefs_[i]``: weights from layer i to layer i + 1, shape (n_in, n_out).
    intercepts_ : list of ndarray
        ``intercepts_[i]``: biases of layer i + 1.
    n_features_in_ : int
        Number of features seen during :term:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit` (string names only).
    n_iter_ : int
        Fine-tuning epochs run.
    t_ : int
        Training samples seen by fine-tuning.
    loss_curve_ : list of float
        Mean training loss of each fine-tuning epoch (L2 term included).
    best_loss_ : float
        Smallest value of ``loss_curve_``.
    validation_scores_ : list of float or None
        Score on the held-out rows after each epoch (``early_stopping``).
    best_validation_score_ : float or None
        Best of ``validation_scores_``.
    gradient_norms_ : ndarray of shape (n_iter_, n_layers_ - 1)
        Per epoch, the mean norm of the gradient of the data loss with
        respect to each weight matrix, input layer first: the vanishing
        gradient of deep logistic nets shows as a first column much smaller
        than the last.
    dbn_ : DBN or None
        The pretrained stack (None for random inits).
    pretraining_history_ : list of dict
        Each RBM's per-epoch history (empty for random inits).
    pretraining_time_ : float
        Seconds spent initialising (pretraining included).
"""

_REFERENCES = """
    References
    ----------
    G. E. Hinton and R. R. Salakhutdinov (2006). Reducing the dimensionality
    of data with neural networks. Science 313(5786), 504-507.

    G. E. Hinton, S. Osindero and Y.-W. Teh (2006). A fast learning algorithm
    for deep belief nets. Neural Computation 18(7), 1527-1554.

    D. Erhan, Y. Bengio, A. Courville, P.-A. Manzagol, P. Vincent and
    S. Bengio (2010). Why does unsupervised pre-training help deep learning?
    JMLR 11, 625-660.

    N. Srivastava, G. Hinton, A. Krizhevsky, I. Sutskever and
    R. Salakhutdinov (2014). Dropout: a simple way to prevent neural networks
    from overfitting. JMLR 15, 1929-1958.
"""


class DBNClassifier(ClassifierMixin, _BaseDBNNetwork):
    __doc__ = (
        """Deep belief network classifier: greedy RBM pretraining, then backpropagation.

    Pretrains a stack of RBMs on all rows of X (labels unused), unrolls it
    into a feed-forward net with a softmax output layer (logistic outputs for
    multilabel targets), and fine-tunes it with mini-batch SGD on the
    cross-entropy. Semi-supervised use follows scikit-learn's convention:
    rows labelled -1 are unlabelled and take part in pretraining only (so
    -1 cannot be a class label: re-encode labels such as {-1, 1}).
    With a random ``init`` it is the same network trained from random
    weights.
"""
        + _COMMON_DOC
        + """
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
"""
        + _COMMON_ATTRS
        + """
    See Also
    --------
    DBN : the unsupervised stack.
    sklearn.neural_network.MLPClassifier : the same kind of network,
        without pretraining.
"""
        + _REFERENCES
        + """
    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from dbn import DBNClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = DBNClassifier(hidden_layer_sizes=(64,), pretrain_n_iter=2, max_iter=5,
    ...                     random_state=0).fit(X / 16, y)
    >>> clf.predict(X[:3] / 16).shape
    (3,)
"""
    )

    def __init__(
        self,
        hidden_layer_sizes=(256, 256),
        activation="logistic",
        *,
        init="dbn",
        batch_size=100,
        learning_rate="constant",
        learning_rate_init=0.1,
        learning_rate_decay=1.0,
        power_t=0.5,
        momentum=0.9,
        nesterovs_momentum=True,
        momentum_init=None,
        momentum_ramp_epochs=0,
        scale_rate_by_momentum=False,
        alpha=1e-4,
        dropout=0.0,
        input_dropout=0.0,
        max_norm=None,
        max_iter=200,
        shuffle=True,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        n_iter_output_only=0,
        pretrain_n_iter=50,
        pretrain_learning_rate=0.1,
        pretrain_batch_size=20,
        pretrain_k=1,
        pretrain_momentum="hinton",
        pretrain_weight_decay=0.0002,
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.init = init
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.learning_rate_decay = learning_rate_decay
        self.power_t = power_t
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.momentum_init = momentum_init
        self.momentum_ramp_epochs = momentum_ramp_epochs
        self.scale_rate_by_momentum = scale_rate_by_momentum
        self.alpha = alpha
        self.dropout = dropout
        self.input_dropout = input_dropout
        self.max_norm = max_norm
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.n_iter_output_only = n_iter_output_only
        self.pretrain_n_iter = pretrain_n_iter
        self.pretrain_learning_rate = pretrain_learning_rate
        self.pretrain_batch_size = pretrain_batch_size
        self.pretrain_k = pretrain_k
        self.pretrain_momentum = pretrain_momentum
        self.pretrain_weight_decay = pretrain_weight_decay
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    def _validation_score(self, out, Y):
        if self._output == "softmax":
            return accuracy_score(Y.argmax(1), out.argmax(1))
        return accuracy_score(Y, out > 0.5)

    def _stratify(self, Y, rows):
        if self._output != "softmax":
            return None
        labels = Y[rows].argmax(1)
        counts = np.bincount(labels)
        return labels if counts[counts > 0].min() >= 2 else None

    def _encode(self, y, reset, classes=None, partial=False):
        """One-hot float32 targets, and the mask of labelled rows.

        ``partial`` (``partial_fit``): with ``reset``, ``classes`` must name
        every class, of which ``y`` may hold only some.
        """
        if np.ndim(y) == 2 and np.shape(y)[1] == 1:
            y = column_or_1d(y, warn=True)
        try:
            kind = type_of_target(y, input_name="y")
        except TypeError as exc:  # e.g. object labels mixing str and int
            raise ValueError(f"Unknown label type: labels of mixed types cannot be ordered ({exc}).") from exc
        if kind == "multilabel-indicator":
            Yi = np.asarray(y.toarray() if sp.issparse(y) else y)
            if reset:
                self._binarizer = LabelBinarizer().fit(Yi)
                self.classes_ = self._binarizer.classes_
                self._output = "logistic"
            return np.ascontiguousarray(self._binarizer.transform(Yi), dtype=np.float32), \
                np.ones(len(Yi), dtype=bool)
        if kind not in ("binary", "multiclass"):
            raise ValueError(
                f"Unknown label type: {kind!r}. DBNClassifier needs class labels (binary, "
                "multiclass or multilabel-indicator); use DBNRegressor for continuous targets."
            )
        y = np.asarray(y)
        labelled = np.ones(len(y), dtype=bool)
        if y.dtype.kind in "iuf":
            labelled = y != -1  # scikit-learn's convention for unlabelled rows
        if reset and partial and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit: its y "
                             "may lack some of them.")
        if reset:
            classes = np.unique(y[labelled] if classes is None else np.asarray(classes))
            if len(classes) < 2:
                msg = ("DBNClassifier needs at least 2 classes among the labelled rows; got one class "
                       f"({classes.tolist()}).")
                if (~labelled).any():
                    msg += (" Rows labelled -1 are unlabelled (scikit-learn's semi-supervised "
                            "convention) and only pretrain; to use -1 as a class, re-encode the labels.")
                raise ValueError(msg)
            self._binarizer = LabelBinarizer().fit(classes)
            self.classes_ = self._binarizer.classes_
            self._output = "softmax"
        Y = np.zeros((len(y), len(self.classes_)), dtype=np.float32)
        if labelled.any():
            idx = np.searchsorted(self.classes_, y[labelled])
            if (idx >= len(self.classes_)).any() or (self.classes_[np.minimum(idx, len(self.classes_) - 1)]
                                                      != y[labelled]).any():
                raise ValueError("y contains labels not seen in the first call of fit/partial_fit.")
            Y[np.flatnonzero(labelled), idx] = 1.0
        return Y, labelled

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Pretrain (``init="dbn"``) and fine-tune the network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data (values in [0, 1] for a Bernoulli first RBM).
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            Labels; -1 marks an unlabelled row (pretraining only).

        Returns
        -------
        self : object
            The fitted classifier.
        """
        _reject_sparse(X, type(self).__name__)
        X, y = validate_data(self, X, y, dtype=np.float32, order="C", multi_output=True,
                             reset=not self._continues())
        Y, labelled = self._encode(y, reset=not self._continues())
        return self._fit(X, Y, labelled)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None):
        """One epoch of fine-tuning on ``(X, y)``, as scikit-learn's MLP's.

        The first call initialises the network as :meth:`fit` does; with
        ``init="dbn"`` it pretrains on this ``X`` alone (pass a fitted
        :class:`~dbn.DBN` as ``init`` to pretrain on more).  Each call then
        goes on where the last one left off: the momentum's velocity, the
        learning-rate schedule, the data orders and the dropout masks, so
        that ``n`` calls on the same data are the ``n`` epochs of one
        :meth:`fit` without early stopping (``early_stopping`` is ignored).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            Labels; -1 marks an unlabelled row (it takes no part).
        classes : array-like of shape (n_classes,), default=None
            Every class of the problem: required on the first call (its
            ``y`` may lack some), ignored later.  Not needed for multilabel
            indicator targets.

        Returns
        -------
        self : object
            The classifier.
        """
        first = not hasattr(self, "_params")
        _reject_sparse(X, type(self).__name__)
        X, y = validate_data(self, X, y, dtype=np.float32, order="C", multi_output=True,
                             reset=first)
        Y, labelled = self._encode(y, reset=first, classes=classes, partial=True)
        return self._fit(X, Y, labelled, incremental=True)

    def predict_proba(self, X):
        """Probability of each class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        out = self._forward(X)
        if self._output == "softmax" and len(self.classes_) == 2 and out.shape[1] == 1:
            out = np.hstack([1 - out, out])
        return out

    def predict_log_proba(self, X):
        """Log of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        out = self._forward(X)
        if self._output == "logistic":
            return (out > 0.5).astype(int)
        return self.classes_[out.argmax(1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class DBNRegressor(RegressorMixin, _BaseDBNNetwork):
    __doc__ = (
        """Deep belief network regressor: greedy RBM pretraining, then backpropagation.

    As :class:`DBNClassifier`, with a linear output layer trained on the
    squared error (scikit-learn MLPRegressor's loss). Targets are used as
    given: standardise them for a well-conditioned fit.
"""
        + _COMMON_DOC
        + """
    Attributes
    ----------
"""
        + _COMMON_ATTRS
        + _REFERENCES
        + """
    Examples
    --------
    >>> import numpy as np
    >>> from dbn import DBNRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.rand(200, 5)
    >>> y = X.sum(1)
    >>> reg = DBNRegressor(hidden_layer_sizes=(16,), pretrain_n_iter=2, max_iter=20,
    ...                    random_state=0).fit(X, y)
    >>> reg.predict(X[:2]).shape
    (2,)
"""
    )

    __init__ = DBNClassifier.__init__
    _output = "identity"

    def _validation_score(self, out, Y):
        return r2_score(Y, out)

    def _stratify(self, Y, rows):
        return None

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Pretrain (``init="dbn"``) and fine-tune the network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets.

        Returns
        -------
        self : object
            The fitted regressor.
        """
        X, Y = self._validate(X, y, reset=not self._continues())
        return self._fit(X, Y, np.ones(len(Y), dtype=bool))

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y):
        """One epoch of fine-tuning on ``(X, y)``, as scikit-learn's MLP's.

        As :meth:`DBNClassifier.partial_fit`: the first call initialises
        (and pretrains on this ``X``), later ones go on where the last left
        off, ``n`` calls on the same data being the ``n`` epochs of one
        :meth:`fit` without early stopping.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)

        Returns
        -------
        self : object
            The regressor.
        """
        X, Y = self._validate(X, y, reset=not hasattr(self, "_params"))
        return self._fit(X, Y, np.ones(len(Y), dtype=bool), incremental=True)

    def _validate(self, X, y, reset):
        """float32 ``X`` and 2-D targets ``Y``, checked (``reset``: a new fit)."""
        _reject_sparse(X, type(self).__name__)
        X, y = validate_data(self, X, y, dtype=np.float32, order="C", multi_output=True,
                             y_numeric=True, ensure_all_finite=True, reset=reset)
        if not np.isfinite(np.asarray(y, dtype=np.float64)).all():
            # Object targets with None pass the finiteness check, then become NaN.
            raise ValueError("y contains NaN, infinity or None: every target must be a finite number.")
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        y = np.asarray(y, dtype=np.float32)
        self._y_1d = y.ndim == 1
        return X, np.ascontiguousarray(y.reshape(len(y), -1))

    def score(self, X, y, sample_weight=None):
        """Coefficient of determination R^2 of the prediction.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
        """
        y_pred = self.predict(X)  # validates X first
        y = check_array(y, ensure_2d=False, dtype=np.float64, input_name="y")
        if len(y_pred) < 2:
            raise ValueError("R^2 is undefined for fewer than 2 samples; score needs n_samples >= 2.")
        return r2_score(y, y_pred, sample_weight=sample_weight)

    def predict(self, X):
        """Predict targets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_targets)
        """
        out = self._forward(X)
        return out.ravel() if self._y_1d else out
