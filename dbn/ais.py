"""Log partition function and log-likelihood of Bernoulli RBMs.

An RBM's probability ``p(v) = exp(-F(v)) / Z`` needs the partition function
``Z``, a sum over all ``2**n_visible`` (or ``2**n_hidden``) states.
:func:`log_partition` estimates ``log Z`` by annealed importance sampling
(AIS; Neal 2001) along Salakhutdinov & Murray's (2008) path from a "base-rate"
model with the data's pixel marginals to the RBM; :func:`log_partition_exact`
enumerates the smaller layer for small RBMs; :func:`log_likelihood` turns
either into the average log-probability of data, with its error bar.

The estimators also accept scikit-learn's
:class:`~sklearn.neural_network.BernoulliRBM`, which has the same attributes.

References
----------
R. M. Neal (2001). Annealed importance sampling. Statistics and Computing
11(2), 125-139.

R. Salakhutdinov and I. Murray (2008). On the quantitative analysis of deep
belief networks. ICML, section 4 (AIS for RBMs) and section 4.1 (the base-rate
model and the schedule of inverse temperatures).
"""

import numbers
from dataclasses import dataclass

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _ais_kernels as K
from ._blas import BLAS_KIND
from ._rng import new_state

__all__ = [
    "LogLikelihoodEstimate",
    "LogPartitionEstimate",
    "base_rate_biases",
    "default_betas",
    "log_likelihood",
    "log_mean_exp",
    "log_partition",
    "log_partition_exact",
]

#: Pseudo-count of the base-rate model, per data row: Salakhutdinov's
#: ``base_rate.m`` adds 5 "on" counts per mini-batch of 100 rows to each
#: pixel's count (and to the number of rows), so that pixels never on in the
#: data still get a finite bias.
BASE_RATE_PSEUDOCOUNT = 0.05
#: Bound on the base rate away from 1 (a pixel always on in the data).
_BASE_RATE_MAX = 1.0 - 1e-6
#: The paper reports ``log(Z_hat +- 3 sigma_hat)``.
_N_SIGMA = 3.0
#: Temperatures per call of the kernel: the run stays interruptible (Ctrl-C
#: is seen between calls) at no measurable cost.
_BLOCK = 500
#: Largest layer :func:`log_partition_exact` enumerates (2**24 states).
MAX_EXACT_UNITS = 24
_CHUNK = 4096


@dataclass(frozen=True, eq=False)
class LogPartitionEstimate:
    """An AIS estimate of the log partition function ``log Z`` of an RBM.

    AIS gives an unbiased estimate ``Z_hat = Z_A * mean(w)`` of ``Z`` from the
    chains' importance weights ``w`` (``Z_A``: the base-rate model's partition
    function), so ``log Z_hat`` is, by Jensen's inequality, biased *low* on
    average: an AIS log-likelihood tends to be optimistic when the weights
    have a large variance.

    Attributes
    ----------
    log_z : float
        ``log Z_hat = log_z_base + log mean(w)``.
    log_z_low, log_z_high : float
        ``log(Z_hat -+ 3 sigma_hat)`` with ``sigma_hat = Z_A std(w) /
        sqrt(n_chains)``, the interval Salakhutdinov & Murray (2008) report;
        ``log_z_low`` is ``-inf`` when ``3 sigma_hat >= Z_hat``.
    std_error : float
        ``sigma_hat / Z_hat``, the standard error of ``log_z`` (delta method).
    log_z_base : float
        ``log Z_A`` of the base-rate model.
    log_weights : ndarray of float64, shape (n_chains,)
        ``log w`` of each chain: estimates of ``log(Z / Z_A)``.
    betas : ndarray of float64, shape (n_betas,)
        The inverse temperatures used, from 0 to 1.
    """

    log_z: float
    log_z_low: float
    log_z_high: float
    std_error: float
    log_z_base: float
    log_weights: np.ndarray
    betas: np.ndarray

    @property
    def n_chains(self):
        """Number of AIS chains (importance weights)."""
        return int(self.log_weights.shape[0])

    @property
    def effective_sample_size(self):
        """Kish's ``(sum w)^2 / sum w^2``: from 1 (one chain dominates) to ``n_chains``."""
        if self.log_weights.size == 0:
            return float("nan")  # an exact value, not a sample
        w = np.exp(self.log_weights - self.log_weights.max())
        return float(w.sum() ** 2 / (w**2).sum())

    def __repr__(self):
        return (f"LogPartitionEstimate(log_z={self.log_z:.4f}, log_z_low={self.log_z_low:.4f}, "
                f"log_z_high={self.log_z_high:.4f}, std_error={self.std_error:.3g}, "
                f"n_chains={self.n_chains}, n_betas={self.betas.shape[0]})")


@dataclass(frozen=True, eq=False)
class LogLikelihoodEstimate:
    """Average log-probability of data under an RBM, ``mean(-F(x)) - log Z``.

    Attributes
    ----------
    mean : float
        Average log-probability (nats per sample) with ``log Z`` estimated.
    low, high : float
        The same with ``log Z`` at the upper and lower ends of its interval
        (:attr:`LogPartitionEstimate.log_z_high` and ``log_z_low``): the
        uncertainty of ``log Z`` only, not the sampling error of the data.
        ``high`` is ``inf`` when ``log_z_low`` is ``-inf``.
    std_error : float
        Standard error of ``mean`` from the estimate of ``log Z`` (0 when it
        is exact).
    log_partition : LogPartitionEstimate
        The estimate of ``log Z`` used (exact ones have ``std_error = 0`` and
        no weights).
    """

    mean: float
    low: float
    high: float
    std_error: float
    log_partition: LogPartitionEstimate

    def __repr__(self):
        return (f"LogLikelihoodEstimate(mean={self.mean:.4f}, low={self.low:.4f}, "
                f"high={self.high:.4f}, std_error={self.std_error:.3g})")


def log_mean_exp(a):
    """``log(mean(exp(a)))`` of a 1-D array, without overflow or underflow.

    Parameters
    ----------
    a : array-like of shape (n,)

    Returns
    -------
    float
    """
    a = np.asarray(a, dtype=np.float64).ravel()
    if a.size == 0:
        raise ValueError("log_mean_exp of an empty array.")
    m = float(a.max())
    if not np.isfinite(m):
        return m  # +inf, or -inf when every term is -inf; NaN propagates
    return m + float(np.log(np.mean(np.exp(a - m))))


def default_betas():
    """The schedule of Salakhutdinov & Murray (2008): 14,501 inverse temperatures.

    0 to 0.5 in steps of 1e-3, 0.5 to 0.9 in steps of 1e-4 and 0.9 to 1 in
    steps of 1e-5 (``beta = [0:1/1000:0.5 0.5:1/10000:0.9 0.9:1/100000:1.0]``
    in the paper's code), each value once.

    Returns
    -------
    betas : ndarray of float64, shape (14501,)
    """
    return np.concatenate([
        np.linspace(0.0, 0.5, 501),
        np.linspace(0.5, 0.9, 4001)[1:],
        np.linspace(0.9, 1.0, 10001)[1:],
    ])


def _check_betas(betas):
    """Validated schedule as float64 values that float32 represents exactly."""
    if betas is None:
        b = default_betas()
    elif isinstance(betas, numbers.Integral) and not isinstance(betas, bool):
        if betas < 2:
            raise ValueError(f"betas as an int is the number of inverse temperatures, >= 2; got {betas}.")
        b = np.linspace(0.0, 1.0, int(betas))
    else:
        b = np.asarray(betas, dtype=np.float64)
        if b.ndim != 1 or b.shape[0] < 2:
            raise ValueError(f"betas must be None, an int >= 2 or a 1-D array of at least 2 values; "
                             f"got shape {b.shape}.")
        if not np.isfinite(b).all() or b[0] != 0.0 or b[-1] != 1.0 or np.any(np.diff(b) < 0):
            raise ValueError("betas must increase (not strictly) from exactly 0 to exactly 1.")
    # The kernel samples in float32: the weights must use the very same betas,
    # or each transition would leave a slightly different distribution
    # invariant than the one its weight assumes.
    return b.astype(np.float32).astype(np.float64)


def _check_rbm(rbm):
    """The RBM's parameters as float32 C arrays, after checking what it is."""
    check_is_fitted(rbm)
    if getattr(rbm, "_gaussian", False):
        raise TypeError(
            f"{type(rbm).__name__} has Gaussian visible units; dbn.ais estimates the partition "
            "function of RBMs with binary visible units (BernoulliRBM) only."
        )
    W = np.ascontiguousarray(rbm.components_, dtype=np.float32)
    b_h = np.ascontiguousarray(rbm.intercept_hidden_, dtype=np.float32)
    b_v = np.ascontiguousarray(rbm.intercept_visible_, dtype=np.float32)
    if not (np.isfinite(W).all() and np.isfinite(b_h).all() and np.isfinite(b_v).all()):
        raise ValueError(f"{type(rbm).__name__} has non-finite parameters.")
    return W, b_h, b_v


def _check_data(rbm, X):
    """Validate data for ``rbm``: its own checks where it has them."""
    if hasattr(rbm, "_check_X"):
        return rbm._check_X(X, reset=False)
    return validate_data(rbm, X, accept_sparse="csr", dtype=np.float32, reset=False)


def base_rate_biases(X):
    """Visible biases of the base-rate model: log-odds of the smoothed pixel means.

    As Salakhutdinov's ``base_rate.m`` (Salakhutdinov & Murray 2008, section
    4.1): ``p_i = (count_i + 0.05 n) / (n + 0.05 n)`` for ``n`` rows, then
    ``log(p_i / (1 - p_i))``, so that pixels never on get a large negative but
    finite bias.  Any base model gives an unbiased estimate of ``Z``; one
    close to the data distribution gives a far smaller variance.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Binary data, usually the training set.

    Returns
    -------
    b_base : ndarray of float32, shape (n_features,)
    """
    n = X.shape[0]
    if n == 0:
        raise ValueError("base_rate_biases needs at least one row.")
    count = np.asarray(X.sum(axis=0, dtype=np.float64)).ravel()
    extra = BASE_RATE_PSEUDOCOUNT * n
    p = np.minimum((count + extra) / (n + extra), _BASE_RATE_MAX)
    return np.log(p / (1.0 - p)).astype(np.float32)


def _summarise(log_w, log_z_base, betas):
    n = log_w.shape[0]
    m = float(log_w.max())
    w = np.exp(log_w - m)  # the largest is 1: no overflow
    mean = float(w.mean())
    sigma = float(w.std(ddof=1)) / np.sqrt(n)
    log_z = log_z_base + log_mean_exp(log_w)
    high = log_z_base + m + np.log(mean + _N_SIGMA * sigma)
    low = log_z_base + m + np.log(mean - _N_SIGMA * sigma) if mean > _N_SIGMA * sigma else -np.inf
    return LogPartitionEstimate(
        log_z=float(log_z), log_z_low=float(low), log_z_high=float(high), std_error=sigma / mean,
        log_z_base=float(log_z_base), log_weights=log_w, betas=betas,
    )


def log_partition(rbm, X_base=None, *, betas=None, n_chains=100, random_state=None):
    """Estimate the log partition function of a Bernoulli RBM by AIS.

    ``n_chains`` independent runs start from exact draws of a base-rate model
    A (an RBM without weights whose visible biases are those of
    :func:`base_rate_biases`, or zero without ``X_base``) and move through the
    distributions ``p_k(v) ~ p_A(v)^(1 - beta_k) p(v)^beta_k`` (hidden units
    summed out) by one Gibbs step each, accumulating importance weights
    (Salakhutdinov & Murray 2008, section 4.1).

    Cost: ``len(betas)`` steps of two ``n_chains x n_visible x n_hidden``
    matrix products each.  For 784 x 500 (MNIST) with the default 14,501
    betas and 100 chains, 80 s of CPU (150 s wall on a busy 2-core machine).

    Parameters
    ----------
    rbm : fitted BernoulliRBM
        dbn's, or scikit-learn's.  Gaussian visible units are not supported.
    X_base : {array-like, sparse matrix} of shape (n_samples, n_features), default=None
        Binary data (usually the training set) whose pixel marginals define
        the base-rate model.  None: uniform base model (zero biases), far
        worse for real data.
    betas : int or array-like of float, default=None
        Inverse temperatures from 0 to 1 (non-decreasing).  None: the
        paper's 14,501 (:func:`default_betas`); an int: that many evenly
        spaced.  More betas give a lower variance and a smaller bias.
    n_chains : int, default=100
        Number of independent AIS runs (at least 2, for the error bar).
    random_state : int, RandomState instance or None, default=None
        Seeds the chains; the same seed gives the same estimate.

    Returns
    -------
    LogPartitionEstimate
        ``log_z``, its interval ``log_z_low``/``log_z_high``, ``std_error``,
        the base model's ``log_z_base`` and the chains' ``log_weights``.

    Examples
    --------
    >>> import numpy as np
    >>> from dbn import BernoulliRBM
    >>> from dbn.ais import log_partition, log_partition_exact
    >>> X = (np.random.RandomState(0).rand(100, 10) < 0.3).astype(np.float32)
    >>> rbm = BernoulliRBM(n_components=4, n_iter=5, random_state=0).fit(X)
    >>> est = log_partition(rbm, X, betas=1000, random_state=0)
    >>> bool(abs(est.log_z - log_partition_exact(rbm)) < 0.05)
    True
    """
    W, b_h, b_v = _check_rbm(rbm)
    n_hid, n_vis = W.shape
    if not isinstance(n_chains, numbers.Integral) or isinstance(n_chains, bool) or n_chains < 2:
        raise ValueError(f"n_chains must be an int >= 2; got {n_chains!r}.")
    n_chains = int(n_chains)
    betas = _check_betas(betas)
    if X_base is None:
        b_base = np.zeros(n_vis, dtype=np.float32)
    else:
        b_base = base_rate_biases(_check_data(rbm, X_base))
    rng = check_random_state(random_state)
    state = new_state(rng)

    V = np.empty((n_chains, n_vis), dtype=np.float32)
    X_h = np.empty((n_chains, n_hid), dtype=np.float32)
    H_s = np.empty((n_chains, n_hid), dtype=np.float32)
    v_term = np.empty(n_chains, dtype=np.float64)
    log_w = np.zeros(n_chains, dtype=np.float64)
    d_bias = b_v.astype(np.float64) - b_base.astype(np.float64)
    K.sample_base_(b_base, V, state)
    n_steps = betas.shape[0] - 1
    for k0 in range(1, n_steps + 1, _BLOCK):
        K.ais_steps(BLAS_KIND, W, b_h, b_v, b_base, betas, k0, min(k0 + _BLOCK, n_steps + 1),
                    V, X_h, H_s, d_bias, v_term, state, log_w)
    if not np.isfinite(log_w).all():
        raise FloatingPointError("AIS produced non-finite log-weights.")
    # log Z_A: the visible biases' factors, and 2 per hidden unit summed out
    # at beta = 0.
    log_z_base = float(np.logaddexp(0.0, b_base.astype(np.float64)).sum() + n_hid * np.log(2.0))
    return _summarise(log_w, log_z_base, betas)


def _enumerate_log_sum(A, b_small, b_big):
    """``log sum_s exp(b_small.s + sum_i softplus(b_big_i + (A s)_i))`` over binary ``s``.

    ``A`` has shape (n_big, n_small): the other layer, summed out analytically.
    float64 throughout, chunk by chunk, each chunk reduced with its maximum.
    """
    n_small = A.shape[1]
    bits = np.arange(n_small, dtype=np.int64)
    total = -np.inf
    for start in range(0, 2**n_small, _CHUNK):
        idx = np.arange(start, min(start + _CHUNK, 2**n_small), dtype=np.int64)
        S = ((idx[:, None] >> bits) & 1).astype(np.float64)
        logp = S @ b_small + np.logaddexp(0.0, S @ A.T + b_big).sum(axis=1)
        total = np.logaddexp(total, np.logaddexp.reduce(logp))
    return float(total)


def log_partition_exact(rbm):
    """Exact log partition function of a Bernoulli RBM with a small layer.

    Sums over all states of the smaller layer, the other summed out in closed
    form: ``2**min(n_visible, n_hidden)`` terms, in float64.

    Parameters
    ----------
    rbm : fitted BernoulliRBM
        dbn's or scikit-learn's, with ``min(n_features, n_components) <=
        24``.

    Returns
    -------
    log_z : float
    """
    W, b_h, b_v = (a.astype(np.float64) for a in _check_rbm(rbm))
    n_hid, n_vis = W.shape
    if min(n_hid, n_vis) > MAX_EXACT_UNITS:
        raise ValueError(
            f"log_partition_exact enumerates 2**min(n_visible, n_hidden) states; this RBM has "
            f"{n_vis} visible and {n_hid} hidden units (at most {MAX_EXACT_UNITS} allowed). "
            "Use log_partition (AIS) instead."
        )
    if n_hid <= n_vis:
        # log Z = log sum_h exp(b_h.h) prod_i (1 + exp(b_v_i + (W^T h)_i))
        return _enumerate_log_sum(W.T, b_h, b_v)
    return _enumerate_log_sum(W, b_v, b_h)


def _exact_estimate(rbm):
    log_z = log_partition_exact(rbm)
    return LogPartitionEstimate(
        log_z=log_z, log_z_low=log_z, log_z_high=log_z, std_error=0.0, log_z_base=float("nan"),
        log_weights=np.empty(0), betas=np.empty(0),
    )


def log_likelihood(rbm, X, *, log_z=None, X_base=None, betas=None, n_chains=100, random_state=None):
    """Average log-probability of binary data under a Bernoulli RBM.

    ``mean(-F(x)) - log Z``, with ``log Z`` from AIS (:func:`log_partition`),
    given, or computed exactly.

    Parameters
    ----------
    rbm : fitted BernoulliRBM
        dbn's, or scikit-learn's.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Binary data (not checked, as ``score_samples``; for values strictly
        between 0 and 1 the result is not a log-probability).
    log_z : LogPartitionEstimate, float or "exact", default=None
        ``log Z`` to use: an earlier estimate (to score several data sets
        against the same one), a number, or ``"exact"`` for
        :func:`log_partition_exact`.  None: estimate it by AIS with
        ``X_base``, ``betas``, ``n_chains`` and ``random_state``.
    X_base : {array-like, sparse matrix}, default=None
        Data for the base-rate model of AIS; None uses ``X`` itself (the
        choice of base model does not bias the estimate of ``Z``, only
        changes its variance).
    betas, n_chains, random_state
        As :func:`log_partition`.

    Returns
    -------
    LogLikelihoodEstimate
        ``mean``, its interval ``low``/``high``, ``std_error`` and the
        ``log_partition`` estimate used.
    """
    _check_rbm(rbm)
    X = _check_data(rbm, X)
    if X.shape[0] == 0:
        raise ValueError("X has no rows.")
    if log_z is None:
        est = log_partition(rbm, X if X_base is None else X_base, betas=betas, n_chains=n_chains,
                            random_state=random_state)
    elif isinstance(log_z, LogPartitionEstimate):
        est = log_z
    elif isinstance(log_z, str):
        if log_z != "exact":
            raise ValueError(f"log_z must be None, a LogPartitionEstimate, a float or 'exact'; "
                             f"got {log_z!r}.")
        est = _exact_estimate(rbm)
    elif isinstance(log_z, numbers.Real):
        v = float(log_z)
        est = LogPartitionEstimate(log_z=v, log_z_low=v, log_z_high=v, std_error=0.0,
                                   log_z_base=float("nan"), log_weights=np.empty(0), betas=np.empty(0))
    else:
        raise TypeError(f"log_z must be None, a LogPartitionEstimate, a float or 'exact'; got {log_z!r}.")
    neg_f = float(np.mean(-rbm._free_energy(X)))
    return LogLikelihoodEstimate(
        mean=neg_f - est.log_z, low=neg_f - est.log_z_high, high=neg_f - est.log_z_low,
        std_error=est.std_error, log_partition=est,
    )
