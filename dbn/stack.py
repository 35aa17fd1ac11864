"""The unsupervised deep belief network: RBMs stacked by greedy pretraining.

Hinton, Osindero & Teh (2006) and Hinton & Salakhutdinov (2006): train one
RBM on the data, then another on the hidden probabilities of the first, and
so on.  :class:`DBN` is the stack as a scikit-learn transformer; the
classifier and regressor of :mod:`dbn.network` unroll it into a feed-forward
net and fine-tune it.
"""

import contextlib
import numbers
import os
import pickle
import time
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from . import _rbm_kernels as K
from . import _rbm_variant_kernels as VK
from . import _up_down_kernels as UK
from ._blas import BLAS_KIND
from ._io import remove_stale_temporaries, write_atomic
from ._persistence import PickleStampMixin
from ._rng import new_state
from .exceptions import DivergenceError, check_finite_output
from .rbm import (
    BernoulliRBM,
    GaussianBernoulliRBM,
    LinearHiddenRBM,
    _as_dbn_layer,
    _Below,
    _JointLabelRBM,
    kernel_data,
)

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
    top_layer : {"bernoulli", "linear"}, default="bernoulli"
        Hidden units of the top RBM: binary, or ``"linear"`` with Gaussian
        noise (:class:`~dbn.LinearHiddenRBM`, the code layer of Hinton &
        Salakhutdinov's deep autoencoder; ``transform`` then returns
        real-valued codes).
    linear_learning_rate : float or None, default=None
        Learning rate of a linear top layer (None: a hundredth of its
        ``learning_rate``, the ratio of 0.001 to 0.1 in Hinton &
        Salakhutdinov's code).
    joint_labels : bool, default=False
        Hinton, Osindero & Teh (2006): ``fit(X, y)`` trains the top RBM on
        the penultimate layer's probabilities joined with a softmax group of
        label units (one-hot ``y``), so that the top RBM models the joint
        distribution of the top-level features and the labels.  Then
        ``sample(labels=...)`` generates chosen classes, ``predict`` and
        ``predict_proba`` classify by the free energy of each label, and
        ``transform`` sums the labels out.  Needs y, binary data (a
        Bernoulli first layer when there is a single layer), CD (not
        persistent) and no sparsity in the top layer.  The classification
        gains much from more CD steps in the top RBM (a per-layer ``k``
        such as ``[1, 1, 10]``): on MNIST's validation split (784-500-500-2000,
        50 epochs a layer) CD-1, CD-3 and CD-10 in the top RBM gave 3.4,
        2.2 and 1.7% error (``benchmarks/up_down.py --top-k``).
    up_down_n_iter : int, default=0
        Epochs of up-down fine-tuning after the greedy pretraining (Hinton,
        Osindero & Teh 2006, section 5 and appendix B: contrastive
        wake-sleep).  Needs ``joint_labels=True``, at least two layers and
        binary data.  The weights below the top RBM are untied: the lower
        RBMs' ``components_`` and ``intercept_hidden_`` become the
        *recognition* weights and biases (used by ``transform``,
        ``predict`` and to initialise a :class:`~dbn.DBNClassifier`),
        ``generative_weights_`` and ``generative_biases_`` hold the
        *generative* ones (used by ``sample``), and the top RBM goes on
        learning the joint distribution of the penultimate states and the
        labels.  Each mini-batch (the top layer's ``batch_size``) goes up
        through the recognition weights, runs ``up_down_k`` Gibbs steps in
        the top RBM, comes down through the generative weights, and every
        part learns from the other's samples.  0: no fine-tuning.
    up_down_learning_rate : float, default=0.03
        Learning rate of every weight and bias in up-down fine-tuning (no
        momentum, as in the paper's pseudo-code, which gives no value).  On
        MNIST's validation split (15 epochs, batches of 100), over a stack
        with CD-1 in the top RBM 0.03 and 0.1 did equally well (1.99 and
        1.97% error), 0.01 worse, and at 0.3 the model collapsed to
        guessing; over one with CD-10 in the top RBM 0.03 did best (0.01,
        0.03, 0.1: 1.41, 1.33, 1.39%;
        ``benchmarks/results/up_down_validate*.json``).
    up_down_k : int or "hinton", default="hinton"
        Gibbs steps in the top RBM per mini-batch of up-down fine-tuning.
        ``"hinton"``: 3, 6 and then 10 steps over successive thirds of the
        epochs, the paper's schedule (section 6: 100 epochs of each).
    up_down_weight_decay : float, default=0.0
        L2 weight cost of every weight in up-down fine-tuning.
    layer_inputs : {"auto", "store", "stream"}, default="auto"
        Where the input of each layer above the first comes from.
        ``"stream"``: every mini-batch of X goes up through the trained layers
        below inside the CD kernel, so no layer's hidden probabilities of the
        whole data set are stored (peak memory stays near the data's; costs the
        lower layers' forward products every epoch: measured +20% pretraining
        time for 784-500-500-2000 on MNIST).  ``"store"``: the hidden
        probabilities of the layer below are computed once and kept
        (``n_samples x width`` float32).  ``"auto"``: store when that takes at
        most 64 MiB, else stream.  The model is the same either way, up to
        float32 rounding of the products.
    checkpoint_dir : str or None, default=None
        Folder where each finished layer is saved (``layer_<i>.pkl``), and
        the progress of the layer in training at most every minute
        (``layer_<i>.partial.pkl``: weights, momentum, chains and random
        streams after its last finished epoch; removed once the layer is
        done). A later ``fit`` with the same data shape and settings resumes
        after the last saved layer, and within the unfinished one after its
        last saved epoch, with the draws of an uninterrupted fit, so the
        resumed stack is the same. (Not within a ``joint_labels`` top layer,
        which resumes at its start.) Up-down fine-tuning saves its progress
        the same way, in ``up_down.pkl``, and resumes after its last saved
        epoch. Needs an integer ``random_state``: with
        another, the settings differ from fit to fit and nothing is resumed.
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
        Seconds spent training each layer (for a layer loaded from
        ``checkpoint_dir``, the seconds its training took then).
    classes_ : ndarray of shape (n_classes,)
        The labels (``joint_labels=True`` only).
    generative_weights_ : list of ndarray of shape (n_upper, n_lower)
        With ``up_down_n_iter > 0``: the generative weights of each layer
        below the top RBM, bottom first; the layer below is sampled from
        ``sigmoid(upper @ generative_weights_[i] + generative_biases_[i])``.
    generative_biases_ : list of ndarray of shape (n_lower,)
        Their biases (the lower layer's).
    up_down_history_ : dict of list
        With ``up_down_n_iter > 0``, per epoch of up-down fine-tuning:
        ``"epoch"``, ``"k"`` (Gibbs steps), ``"reconstruction_error"`` (the
        squared error of the data's generative reconstruction from the first
        hidden layer's wake states, summed over the features and averaged
        over the rows, as the RBMs' ``history_``), ``"train_error"``
        (classification error of ``predict`` on up to 1,000 fixed training
        rows) and ``"time"`` (seconds).

    References
    ----------
    G. E. Hinton, S. Osindero and Y.-W. Teh (2006). A fast learning algorithm
    for deep belief nets. Neural Computation 18(7), 1527-1554.

    G. E. Hinton and R. R. Salakhutdinov (2006). Reducing the dimensionality
    of data with neural networks. Science 313(5786), 504-507.

    G. E. Hinton (2010). A practical guide to training restricted Boltzmann
    machines, section 13.1 (softmax units). UTML TR 2010-003.

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
        "top_layer": [StrOptions({"bernoulli", "linear"})],
        "linear_learning_rate": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "joint_labels": ["boolean"],
        "up_down_n_iter": [Interval(numbers.Integral, 0, None, closed="left")],
        "up_down_learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "up_down_k": [Interval(numbers.Integral, 1, None, closed="left"), StrOptions({"hinton"})],
        "up_down_weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
        "layer_inputs": [StrOptions({"auto", "store", "stream"})],
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
        top_layer="bernoulli",
        linear_learning_rate=None,
        joint_labels=False,
        up_down_n_iter=0,
        up_down_learning_rate=0.03,
        up_down_k="hinton",
        up_down_weight_decay=0.0,
        layer_inputs="auto",
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
        self.top_layer = top_layer
        self.linear_learning_rate = linear_learning_rate
        self.joint_labels = joint_labels
        self.up_down_n_iter = up_down_n_iter
        self.up_down_learning_rate = up_down_learning_rate
        self.up_down_k = up_down_k
        self.up_down_weight_decay = up_down_weight_decay
        self.layer_inputs = layer_inputs
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
                if i == n - 1 and (self.joint_labels or self.top_layer == "linear"):
                    raise ValueError(
                        "a single-layer DBN on real-valued data (a Gaussian first layer) cannot have "
                        "label units or linear hidden units; add a layer, or scale the data to [0, 1]."
                    )
                cls = GaussianBernoulliRBM
                kw["learning_rate"] = (self.gaussian_learning_rate if self.gaussian_learning_rate is not None
                                       else kw["learning_rate"] / 10.0)
            if i == n - 1 and self.joint_labels:
                if self.top_layer != "bernoulli":
                    raise ValueError("joint_labels=True needs top_layer='bernoulli' (binary top units).")
                cls = _JointLabelRBM
            elif i == n - 1 and self.top_layer == "linear":
                if kw.pop("sparsity_cost") > 0:
                    raise ValueError("top_layer='linear': the linear top layer takes no sparsity_cost.")
                del kw["sparsity_target"]
                cls = LinearHiddenRBM
                kw["learning_rate"] = (self.linear_learning_rate if self.linear_learning_rate is not None
                                       else kw["learning_rate"] / 100.0)
            rbms.append(cls(n_components=size, random_state=int(seeds[i]), verbose=self.verbose, **kw))
        return rbms

    def _checkpoint_path(self, i, partial=False):
        name = f"layer_{i}.partial.pkl" if partial else f"layer_{i}.pkl"
        return os.path.join(os.fspath(self.checkpoint_dir), name)

    def _load_checkpoint(self, i, rbm, n_features, partial=False):
        """What was saved of layer ``i`` (a dict with its ``rbm`` and training
        ``seconds``), if it was trained with the same settings; else None."""
        path = self._checkpoint_path(i, partial)
        if not os.path.exists(path):
            return None
        with open(path, "rb") as f:
            saved = pickle.load(f)
        def settings(params):
            return {k: v for k, v in params.items() if k != "verbose"}

        same = (type(saved["rbm"]) is type(rbm) and settings(saved["params"]) == settings(rbm.get_params())
                and saved["n_features"] == n_features and saved["n_samples"] == self._n_samples)
        # (Checkpoints written before the seconds were kept: the load time.)
        return dict(saved, seconds=saved.get("seconds")) if same else None

    def _save_checkpoint(self, i, rbm, n_features, seconds, partial=None):
        """Save layer ``i``: finished, or with ``partial = (rng, state,
        mon_idx)``, its progress so far (see ``BernoulliRBM._fit_epochs``)."""
        os.makedirs(self.checkpoint_dir, exist_ok=True)
        path = self._checkpoint_path(i, partial is not None)
        saved = {"rbm": rbm, "params": rbm.get_params(), "n_features": n_features,
                 "n_samples": self._n_samples, "seconds": seconds}
        if partial is not None:
            saved["resume"] = partial
        write_atomic(path, lambda f: pickle.dump(saved, f))  # a crash never leaves half a layer

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Pretrain the stack greedily on X (and y with ``joint_labels``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data: values in [0, 1] for a Bernoulli first layer,
            standardised real values for a Gaussian one.
        y : array-like of shape (n_samples,) or None, default=None
            Class labels, used only with ``joint_labels=True`` (then
            required): they join the top RBM's visible layer as one softmax
            group.  Ignored otherwise.

        Returns
        -------
        self : object
            The fitted stack.
        """
        X = validate_data(self, X, accept_sparse="csr", dtype=np.float32, order="C")
        if sp.issparse(X) and not X.has_canonical_format:
            X = X.copy()  # the kernels read CSR rows as they are: no duplicates
            X.sum_duplicates()
        labels = None
        if self.joint_labels:
            labels = self._encode_labels(X, y)
        elif hasattr(self, "classes_"):
            del self.classes_
        for name in ("generative_weights_", "generative_biases_", "up_down_history_"):
            if hasattr(self, name):
                delattr(self, name)  # of an earlier fit
        rng = check_random_state(self.random_state)
        seeds = rng.randint(0, 2**31 - 1, size=len(self._layer_sizes()))
        self._kind = first_layer_kind(X, self.first_layer)
        if self.up_down_n_iter > 0:
            self._check_up_down()
            # Drawn after the layers' seeds, which stay those of a fit without it.
            up_down_seed = int(rng.randint(0, 2**31 - 1))
        self._n_samples = X.shape[0]
        rbms = self._make_rbms(self._kind, seeds)
        self.rbms_, self.history_, self.fit_time_ = [], [], []
        self._interrupted = False
        # Each layer trains on `base` (X, or the stored hidden probabilities
        # of layer `base_level - 1`), each mini-batch going up through the
        # layers between inside the CD kernel.
        base, base_level = X, 0
        if self.checkpoint_dir:
            remove_stale_temporaries(self.checkpoint_dir)  # of a killed earlier fit
        for i, rbm in enumerate(rbms):
            t0 = time.perf_counter()
            if i > 0 and self._store_input(X.shape[0], self.rbms_[-1].n_components):
                base = _Below(self.rbms_[base_level:], base.shape[1]).up_chunked(base)
                base_level = i
            below = _Below(self.rbms_[base_level:], base.shape[1])
            width = below.width
            if isinstance(rbm, _JointLabelRBM):
                width += len(self.classes_)  # the label units join its visible layer
            saved = self._load_checkpoint(i, rbm, width) if self.checkpoint_dir else None
            seconds = None
            if saved is not None:
                # fit_time_: what training the layer took, not loading it.
                rbm, seconds = saved["rbm"], saved["seconds"]
                if self.verbose:
                    print(f"[DBN] layer {i + 1}/{len(rbms)} loaded from {self._checkpoint_path(i)}",
                          flush=True)
            else:
                resume, after_epoch, done = None, None, 0.0
                if self.checkpoint_dir and not isinstance(rbm, _JointLabelRBM):
                    partial = self._load_checkpoint(i, rbm, width, partial=True)
                    if partial is not None:
                        rbm, resume, done = partial["rbm"], partial["resume"], partial["seconds"]
                        rbm.verbose = self.verbose  # not part of the compared settings
                    after_epoch = self._partial_saver(i, rbm, width, t0 - done)
                if self.verbose:
                    how = (f", resumed after epoch {rbm.n_iter_} from {self._checkpoint_path(i, True)}"
                           if resume is not None else "")
                    print(f"[DBN] layer {i + 1}/{len(rbms)}: {type(rbm).__name__} "
                          f"{width} -> {rbm.n_components}{how}", flush=True)
                try:
                    # On Ctrl-C the layer's own warning would say "after n
                    # epochs" of a layer the user never named; the DBN's,
                    # below, says which layer and what is kept.
                    with _as_dbn_layer():
                        if isinstance(rbm, _JointLabelRBM):
                            if i == 0:
                                rbm._check_X(X, reset=True)  # binary data only
                            rbm._fit_labelled(base, labels, len(self.classes_), below)
                        elif i == 0:
                            rbm._validate_params()
                            rbm._fit_data(X, resume, after_epoch)  # validates X for its unit type
                        else:
                            rbm._validate_params()
                            rbm._fit_from(base, below, resume, after_epoch)
                except DivergenceError as exc:
                    raise DivergenceError(f"DBN layer {i + 1} of {len(rbms)}: {exc}") from exc
                if rbm._interrupted:
                    # Ctrl-C: keep the finished layers and this partial one;
                    # a checkpointed fit resumes at this layer.
                    self._interrupted = True
                    self.rbms_.append(rbm)
                    self.history_.append(rbm.history_)
                    self.fit_time_.append(time.perf_counter() - t0 + done)
                    warnings.warn(
                        f"DBN: pretraining interrupted by user in layer {i + 1} of {len(rbms)}; "
                        f"rbms_ holds {i + 1} layer(s), the last one partially trained.",
                        UserWarning,
                        stacklevel=2,
                    )
                    return self
                seconds = time.perf_counter() - t0 + done
                if self.checkpoint_dir:
                    self._save_checkpoint(i, rbm, width, seconds)
            if self.checkpoint_dir:
                # The layer is whole (trained, or loaded: a kill may have come
                # between its save and this), so its progress file has served.
                with contextlib.suppress(FileNotFoundError):
                    os.remove(self._checkpoint_path(i, partial=True))
            self.rbms_.append(rbm)
            self.history_.append(rbm.history_)
            self.fit_time_.append(time.perf_counter() - t0 if seconds is None else seconds)
        if self.up_down_n_iter > 0:
            self._fine_tune_up_down(X, labels, up_down_seed)
        return self

    # ------------------------------------------------------------------ #
    # Up-down fine-tuning (Hinton, Osindero & Teh 2006, appendix B)
    # ------------------------------------------------------------------ #

    def _check_up_down(self):
        """Why ``up_down_n_iter > 0`` cannot be used with these settings, as an error."""
        if not self.joint_labels:
            raise ValueError("up_down_n_iter > 0 fine-tunes the generative model of the images and their "
                             "labels: it needs joint_labels=True (and fit(X, y)).")
        if len(self._layer_sizes()) < 2:
            raise ValueError("up_down_n_iter > 0 needs at least two layers (up-down fine-tunes the "
                             "directed layers below the top RBM); give hidden_layer_sizes two or more.")
        if self._kind != "bernoulli":
            raise ValueError("up_down_n_iter > 0 needs binary data (values in [0, 1], a Bernoulli first "
                             "layer): the generative weights model each pixel as a binary unit.")

    def _up_down_k_at(self, epoch):
        """Gibbs steps in the top RBM in epoch ``epoch`` (0-based) of up-down fine-tuning."""
        if self.up_down_k != "hinton":
            return int(self.up_down_k)
        third = 3 * epoch // self.up_down_n_iter
        return (3, 6, 10)[min(third, 2)]

    def _up_down_path(self):
        return os.path.join(os.fspath(self.checkpoint_dir), "up_down.pkl")

    def _up_down_settings(self, n_features):
        params = {k: v for k, v in self.get_params().items()
                  if k not in ("verbose", "checkpoint_dir", "layer_inputs")}
        return {"params": params, "n_features": n_features, "n_samples": self._n_samples}

    def _fine_tune_up_down(self, X, labels, seed):
        """Untie the weights below the top RBM and train them all by up-down.

        ``X`` is the validated data, ``labels`` their label indices, ``seed``
        seeds the epochs' order and draws.  With ``checkpoint_dir``, the
        progress is saved at most every :attr:`_PARTIAL_EVERY` seconds and
        when done (``up_down.pkl``); a later fit with the same settings and
        data shape resumes there, with the draws of an uninterrupted fit.
        """
        lower, top = self.rbms_[:-1], self.rbms_[-1]
        n_samples, n_features = X.shape
        f32 = np.float32
        sizes = np.array([n_features] + [r.n_components for r in lower], dtype=np.int64)
        settings = self._up_down_settings(n_features)
        saved = None
        # Only a seeded fit resumes: unseeded, the layers below were trained
        # anew, and another fit's progress would not match them.
        seeded = isinstance(self.random_state, numbers.Integral) and not isinstance(self.random_state, bool)
        if self.checkpoint_dir and seeded and os.path.exists(self._up_down_path()):
            with open(self._up_down_path(), "rb") as f:
                saved = pickle.load(f)
            if saved.get("settings") != settings:
                saved = None
        if saved is not None:
            arrays, rng, state, mon_idx = saved["arrays"], saved["rng"], saved["state"], saved["mon_idx"]
            history, done = saved["history"], saved["seconds"]
            if self.verbose:
                print(f"[DBN] up-down: resumed after epoch {len(history['epoch'])} from "
                      f"{self._up_down_path()}", flush=True)
        else:
            R = np.concatenate([np.asarray(r.components_, dtype=f32).ravel() for r in lower])
            arrays = {
                "R": R, "G": R.copy(),
                "r_b": np.concatenate([np.asarray(r.intercept_hidden_, dtype=f32) for r in lower]),
                "g_b": np.concatenate([np.asarray(r.intercept_visible_, dtype=f32) for r in lower]),
                "W": np.array(top.components_, dtype=f32), "b_h": np.array(top.intercept_hidden_, dtype=f32),
                "b_v": np.array(top.intercept_visible_, dtype=f32),
            }
            rng = np.random.RandomState(seed)
            state = new_state(rng)
            mon_idx = np.sort(rng.choice(n_samples, size=min(1000, n_samples), replace=False))
            history = {"epoch": [], "k": [], "reconstruction_error": [], "train_error": [], "time": []}
            done = 0.0
        B = per_layer(self.batch_size, len(self.rbms_), "batch_size")[-1]
        n_top, n_vis = arrays["W"].shape
        bufs = dict(
            wake=np.empty(B * int(sizes.sum()), f32), sleep=np.empty(B * int(sizes.sum()), f32),
            tmp=np.empty(B * int(sizes.max()), f32), V=np.empty((2 * B, n_vis), f32),
            H=np.empty((2 * B, n_top), f32), Hs=np.empty((B, n_top), f32),
        )
        data_args = kernel_data(X)
        X_mon, y_mon = X[mon_idx], labels[mon_idx]
        if sp.issparse(X_mon):
            X_mon = X_mon.toarray()
        up_to_pen = _Below(lower, n_features)
        self.up_down_history_ = history  # appended to epoch by epoch
        t_start = time.perf_counter() - done
        last_save = time.perf_counter()
        interrupted = False
        try:
            for epoch in range(len(history["epoch"]), self.up_down_n_iter):
                t0 = time.perf_counter()
                # Kept so that a diverging or interrupted epoch leaves the
                # parameters of the last epoch that was completed and recorded.
                before = {name: a.copy() for name, a in arrays.items()}
                state_before = state.copy()
                try:
                    k = self._up_down_k_at(epoch)
                    order = rng.permutation(n_samples).astype(np.int64)
                    stats = np.zeros(2, dtype=np.float64)
                    UK.up_down_epoch(
                        BLAS_KIND, *data_args, order, B, labels,
                        arrays["R"], arrays["r_b"], arrays["G"], arrays["g_b"], sizes,
                        arrays["W"], arrays["b_h"], arrays["b_v"], np.zeros(n_top, f32), np.zeros(n_vis, f32),
                        np.empty((1, 1), f32), k, float(self.up_down_learning_rate),
                        float(self.up_down_weight_decay), state, bufs["wake"], bufs["sleep"], bufs["tmp"],
                        bufs["V"], bufs["H"], bufs["Hs"], stats,
                    )
                    if not all(np.isfinite(a).all() for a in arrays.values()):
                        raise DivergenceError(
                            f"DBN up-down fine-tuning: the parameters became non-finite in epoch "
                            f"{epoch + 1}; up_down_learning_rate ({self.up_down_learning_rate}) is too high, "
                            f"try a smaller one. The model keeps the parameters of the last finite epoch "
                            f"({epoch}).")
                    t_epoch = time.perf_counter() - t0
                    self._set_up_down_params(arrays, sizes)
                    # The error of predict, on the monitored rows.
                    proba = top.label_log_proba(up_to_pen.up(X_mon))
                    err = float(np.mean(proba.argmax(axis=1) != y_mon))
                    for name, value in (("epoch", epoch), ("k", k), ("train_error", err), ("time", t_epoch),
                                        ("reconstruction_error", stats[0] / max(stats[1], 1))):
                        history[name].append(value)
                finally:
                    if len(history["epoch"]) <= epoch:  # the epoch was not recorded
                        arrays = before
                        state[:] = state_before
                        for values in history.values():
                            del values[epoch:]
                        self._set_up_down_params(arrays, sizes)
                if self.checkpoint_dir and (time.perf_counter() - last_save >= self._PARTIAL_EVERY
                                            or epoch == self.up_down_n_iter - 1):
                    self._save_up_down(settings, arrays, rng, state, mon_idx, history,
                                       time.perf_counter() - t_start)
                    last_save = time.perf_counter()
                if self.verbose:
                    print(f"[DBN] up-down epoch {epoch + 1}/{self.up_down_n_iter}, k = {k}, "
                          f"reconstruction error = {history['reconstruction_error'][-1]:.4f}, "
                          f"train error = {err:.4f}, time = {t_epoch:.2f}s, "
                          f"elapsed = {time.perf_counter() - t_start:.1f}s", flush=True)
        except KeyboardInterrupt:
            interrupted = True
        self._set_up_down_params(arrays, sizes)
        if interrupted:
            self._interrupted = True
            warnings.warn(
                f"DBN: up-down fine-tuning interrupted by user after {len(history['epoch'])} of "
                f"{self.up_down_n_iter} epochs; the model keeps them.", UserWarning, stacklevel=3)
        errors = history["train_error"]
        if errors:
            best = int(np.argmin(errors))
            # A rate too high does not always overflow: the model can
            # collapse to guessing, its weights finite (on MNIST at 0.3).
            if errors[-1] >= 2 * errors[best] + 0.1:
                warnings.warn(
                    f"DBN: up-down fine-tuning lost what it had learned: the training error monitored on "
                    f"{len(mon_idx)} rows rose from {errors[best]:.1%} (epoch {best + 1}) to "
                    f"{errors[-1]:.1%} (epoch {len(errors)}); up_down_learning_rate "
                    f"({self.up_down_learning_rate}) is probably too high. See up_down_history_.",
                    ConvergenceWarning, stacklevel=3)

    def _save_up_down(self, settings, arrays, rng, state, mon_idx, history, seconds):
        os.makedirs(self.checkpoint_dir, exist_ok=True)
        saved = {"settings": settings, "arrays": arrays, "rng": rng, "state": state, "mon_idx": mon_idx,
                 "history": history, "seconds": seconds}
        write_atomic(self._up_down_path(), lambda f: pickle.dump(saved, f))

    @staticmethod
    def _unpack(flat, sizes, of_rows):
        """Per-layer arrays of a packed weight (``of_rows=None``) or bias array."""
        out, off = [], 0
        for lo, hi in zip(sizes[:-1], sizes[1:]):
            n = {None: lo * hi, "upper": hi, "lower": lo}[of_rows]
            a = flat[off:off + n]
            out.append(np.ascontiguousarray(a.reshape(hi, lo) if of_rows is None else a))
            off += n
        return out

    def _set_up_down_params(self, arrays, sizes):
        """Point the model at the untied parameters (see ``up_down_n_iter``):
        views of the packed arrays, so that they follow the training."""
        for rbm, R, r_b in zip(self.rbms_[:-1], self._unpack(arrays["R"], sizes, None),
                               self._unpack(arrays["r_b"], sizes, "upper")):
            rbm.components_, rbm.intercept_hidden_ = R, r_b
        top = self.rbms_[-1]
        top.components_, top.intercept_hidden_ = arrays["W"], arrays["b_h"]
        top.intercept_visible_ = arrays["b_v"]
        self.generative_weights_ = self._unpack(arrays["G"], sizes, None)
        self.generative_biases_ = self._unpack(arrays["g_b"], sizes, "lower")

    def _partial_saver(self, i, rbm, width, t_start):
        """``after_epoch`` for layer ``i``: save its progress at most every
        :attr:`_PARTIAL_EVERY` seconds, so that a stopped fit resumes there."""
        last = [time.perf_counter()]

        def after_epoch(rng, state, mon_idx):
            now = time.perf_counter()
            if now - last[0] >= self._PARTIAL_EVERY:
                self._save_checkpoint(i, rbm, width, now - t_start, partial=(rng, state, mon_idx))
                last[0] = now

        return after_epoch

    #: Seconds between two saves of an unfinished layer's progress: a
    #: stopped fit loses at most this much of a layer (and an epoch).
    _PARTIAL_EVERY = 60.0

    def __setstate__(self, state):
        # Stacks pickled before `layer_inputs` existed trained as "stream".
        state.setdefault("layer_inputs", "stream")
        # ... and those pickled before up-down fine-tuning existed had none.
        for name, default in (("up_down_n_iter", 0), ("up_down_learning_rate", 0.03),
                              ("up_down_k", "hinton"), ("up_down_weight_decay", 0.0)):
            state.setdefault(name, default)
        super().__setstate__(state)

    #: Largest stored layer input of ``layer_inputs="auto"``.
    _STORE_LIMIT_BYTES = 64 * 2**20

    def _store_input(self, n_samples, width):
        """Whether the next layer's input is computed once and kept."""
        if self.layer_inputs == "auto":
            return n_samples * width * 4 <= self._STORE_LIMIT_BYTES
        return self.layer_inputs == "store"

    def _encode_labels(self, X, y):
        """Label index of every row (int64) for ``joint_labels``; sets ``classes_``."""
        if y is None:
            raise ValueError("joint_labels=True trains the top RBM on the labels too: fit(X, y) needs y.")
        y = column_or_1d(check_array(y, ensure_2d=False, dtype=None, input_name="y"), warn=True)
        check_consistent_length(X, y)
        check_classification_targets(y)
        self.classes_, labels = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"joint_labels=True needs at least 2 classes; got {self.classes_.tolist()}.")
        return labels.astype(np.int64)

    def _penultimate(self, X):
        """Validated X propagated up to the top RBM's (non-label) visible units, dense float32."""
        X = validate_data(self, X, accept_sparse="csr", dtype=np.float32, order="C", reset=False)
        if len(self.rbms_) == 1:
            if self._kind == "bernoulli" and X.shape[0]:
                values = X.data if sp.issparse(X) else X
                if values.size and (values.min() < 0.0 or values.max() > 1.0):
                    raise ValueError(f"{type(self).__name__} expects X with values in [0, 1] (its first "
                                     "layer has binary units).")
            return np.ascontiguousarray(X.toarray() if sp.issparse(X) else X, dtype=np.float32)
        for rbm in self.rbms_[:-1]:
            X = rbm.transform(X)
        return X

    def transform(self, X):
        """Top-layer hidden probabilities, propagated up the stack.

        With ``top_layer="linear"`` the top layer's real-valued means (codes);
        with ``joint_labels`` the labels are summed out exactly: ``E[h | v]
        = sum_y p(y | v) P(h = 1 | v, y)``, with ``p(y | v)`` from the free
        energies (:meth:`predict_proba`).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        H : ndarray of shape (n_samples, hidden_layer_sizes[-1]), dtype float32
        """
        check_is_fitted(self)
        top = self.rbms_[-1]
        if isinstance(top, _JointLabelRBM):
            P = self._penultimate(X)
            return check_finite_output(top.hidden_given_pen(P), P, f"{type(self).__name__}.transform")
        X = validate_data(self, X, accept_sparse="csr", dtype=np.float32, order="C", reset=False)
        for rbm in self.rbms_:
            X = rbm.transform(X)
        return X

    def _has_labels(self):
        return self.joint_labels

    @available_if(_has_labels)
    def predict_proba(self, X):
        """Probability of each label given X, from the top RBM's free energies.

        Hinton, Osindero & Teh (2006), section 6: ``p(y | v)`` is
        proportional to ``exp(-F(v, y))``, where ``F(v, y)`` is the free
        energy of the top RBM with the penultimate layer at ``v`` (the
        probabilities of the up-pass) and label ``y`` on; a softmax over the
        ``n_classes`` free energies, one cheap pass each.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes), dtype float64
            Columns in the order of ``classes_``.
        """
        check_is_fitted(self)
        P = self._penultimate(X)
        return check_finite_output(np.exp(self.rbms_[-1].label_log_proba(P)), P,
                                   f"{type(self).__name__}.predict_proba")

    @available_if(_has_labels)
    def predict(self, X):
        """Label with the lowest free energy (``joint_labels=True``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def sample(self, n_samples=None, *, labels=None, n_gibbs=1000, start=None, random_state=None):
        """Generate data: Gibbs sampling in the top RBM, then one top-down pass.

        The DBN's generative model (Hinton, Osindero & Teh 2006, figure
        1): the top RBM is an undirected associative memory, the layers
        below it a directed net from each layer to the one below.  So: run
        ``n_gibbs`` steps of alternating Gibbs sampling (hidden units, then
        visible units) in the top RBM; take the last sample of its visible
        (penultimate) units; go down once through the lower layers, each
        layer's binary states sampled from ``P(v | h)`` of its RBM (the
        generative weights ``components_`` and visible biases; after up-down
        fine-tuning, ``generative_weights_`` and ``generative_biases_``); and
        return the bottom layer's probabilities (its means for Gaussian data),
        which show a sample better than binary pixels do.

        The chains start at random (each penultimate unit on with
        probability 0.5, or N(0, 1) for a single Gaussian layer), or at
        the up-pass probabilities of ``start`` (data-driven: the chains
        begin near the data; figure 9 of the paper starts them from the
        up-pass of random binary images).  With
        ``joint_labels``, ``labels`` clamps the label units to those labels
        for the whole chain (the paper's figure 8: samples of each clamped
        digit 1000 steps apart); without ``labels`` the label units are
        sampled with the rest (their softmax, one label on), starting from
        uniform probabilities, or from ``predict_proba(start)``.

        Parameters
        ----------
        n_samples : int or None, default=None
            Number of samples; None: ``len(labels)``, else ``len(start)``,
            else 1.
        labels : array-like of shape (n_samples,), default=None
            Labels to clamp, among ``classes_`` (``joint_labels=True`` only).
        n_gibbs : int, default=1000
            Steps of alternating Gibbs sampling in the top RBM (the paper:
            1000); at least 1.
        start : {array-like, sparse matrix} of shape (n_samples, n_features), default=None
            Data whose up-pass starts the chains; None: random states.
        random_state : int, RandomState instance or None, default=None
            Seeds the start and the sampling; None uses the estimator's
            ``random_state`` (so a seeded model gives the same samples on
            every call).

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features), dtype float32
            Probabilities (binary data) or means (Gaussian data) of the
            bottom layer.
        """
        check_is_fitted(self)
        if isinstance(n_gibbs, bool) or not isinstance(n_gibbs, numbers.Integral) or n_gibbs < 1:
            raise ValueError(f"n_gibbs must be a positive integer; got {n_gibbs!r}.")
        rng = check_random_state(self.random_state if random_state is None else random_state)
        top = self.rbms_[-1]
        joint = isinstance(top, _JointLabelRBM)
        n_labels = top.n_labels_ if joint else 0
        n_pen = top.components_.shape[1] - n_labels
        sizes = []
        idx = None
        if labels is not None:
            if not joint:
                raise ValueError("labels= needs a DBN fitted with joint_labels=True and y.")
            labels = column_or_1d(check_array(labels, ensure_2d=False, dtype=None, input_name="labels"))
            n_classes = len(self.classes_)
            idx = np.searchsorted(self.classes_, labels)
            known = (idx < n_classes) & (self.classes_[np.minimum(idx, n_classes - 1)] == labels)
            if not known.all():
                raise ValueError(f"labels must be among classes_ {self.classes_.tolist()}; got "
                                 f"{np.unique(labels[~known]).tolist()}.")
            sizes.append(len(idx))
        P = None
        if start is not None:
            P = self._penultimate(start)
            sizes.append(P.shape[0])
        if n_samples is None:
            n_samples = sizes[0] if sizes else 1
        if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer; got {n_samples!r}.")
        if any(size != n_samples for size in sizes):
            raise ValueError(f"n_samples={n_samples}, len(labels) and len(start) must agree; got "
                             f"{[n_samples, *sizes]}.")
        gaussian_visible = len(self.rbms_) == 1 and isinstance(top, GaussianBernoulliRBM)
        V = np.empty((n_samples, n_pen + n_labels), dtype=np.float32)
        if P is not None:
            V[:, :n_pen] = P
        elif gaussian_visible:
            V[:, :n_pen] = rng.standard_normal((n_samples, n_pen))
        else:
            V[:, :n_pen] = rng.random_sample((n_samples, n_pen)) < 0.5
        if joint:
            if idx is not None:
                V[:, n_pen:] = 0.0
                V[np.arange(n_samples), n_pen + idx] = 1.0
            elif P is not None:
                V[:, n_pen:] = np.exp(top.label_log_proba(P))
            else:
                V[:, n_pen:] = 1.0 / n_labels
        H = np.empty((n_samples, top.n_components), dtype=np.float32)
        VK.gibbs_chain(BLAS_KIND, V, top.components_, top.intercept_hidden_, top.intercept_visible_,
                       n_labels, idx is not None, isinstance(top, LinearHiddenRBM), gaussian_visible,
                       int(n_gibbs), new_state(rng), H, np.empty_like(V))
        if len(self.rbms_) == 1:
            out = np.ascontiguousarray(H @ top.components_[:, :n_pen], dtype=np.float32)
            bias = np.ascontiguousarray(top.intercept_visible_[:n_pen])
            if gaussian_visible:
                K.add_bias_(out, bias)
            else:
                K.sigmoid_bias_(out, bias)
        elif hasattr(self, "generative_weights_"):
            # Untied by up-down fine-tuning: down through the generative weights.
            out = np.ascontiguousarray(V[:, :n_pen])
            for i in reversed(range(len(self.generative_weights_))):
                out = np.ascontiguousarray(out @ self.generative_weights_[i])
                K.sigmoid_bias_(out, self.generative_biases_[i])
                if i > 0:
                    K.sample_bernoulli_(out, new_state(rng))
        else:
            out = np.ascontiguousarray(V[:, :n_pen])
            for rbm in reversed(self.rbms_[:-1]):
                out = rbm._mean_visibles(out)
                if rbm is not self.rbms_[0]:
                    K.sample_bernoulli_(out, new_state(rng))
        return check_finite_output(out, out, f"{type(self).__name__}.sample")

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
            ``rbm.components_.T`` of each layer, bottom first; with
            ``joint_labels``, the top layer's without the label units' rows.
        intercepts : list of ndarray of shape (n_out,), float32
            Each layer's hidden biases.
        """
        check_is_fitted(self)
        widths = [r.components_.shape[1] - getattr(r, "n_labels_", 0) for r in self.rbms_]
        coefs = [np.ascontiguousarray(r.components_[:, :w].T) for r, w in zip(self.rbms_, widths)]
        intercepts = [r.intercept_hidden_.copy() for r in self.rbms_]
        return coefs, intercepts
