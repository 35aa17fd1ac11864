"""Tests of dbn.ais and dbn._ais_kernels: AIS against exact enumeration."""

import naive
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import BernoulliRBM as SkBernoulliRBM

from dbn import BernoulliRBM, GaussianBernoulliRBM, ais
from dbn import _ais_kernels as K
from dbn._blas import BLAS_KIND

# --------------------------------------------------------------------------- #
# Fixtures: tiny RBMs whose log Z can be enumerated
# --------------------------------------------------------------------------- #


def _rbm_with(W, b_h, b_v):
    """A fitted BernoulliRBM holding the given parameters."""
    n_hid, n_vis = W.shape
    rbm = BernoulliRBM(n_components=n_hid, n_iter=0, random_state=0).fit(np.zeros((2, n_vis)))
    rbm.components_ = np.asarray(W, np.float32)
    rbm.intercept_hidden_ = np.asarray(b_h, np.float32)
    rbm.intercept_visible_ = np.asarray(b_v, np.float32)
    return rbm


def _random_rbm(n_vis, n_hid, scale, seed=0):
    # Trained MNIST RBMs have weights of order 1 and biases of a few units.
    rng = np.random.RandomState(seed)
    return _rbm_with(scale * rng.randn(n_hid, n_vis), 0.5 * rng.randn(n_hid), 0.5 * rng.randn(n_vis))


@pytest.fixture(scope="module")
def prototypes():
    """300 rows of 12 binary pixels: three prototypes with 5% of the pixels flipped."""
    rng = np.random.RandomState(0)
    protos = (rng.rand(3, 12) < 0.5).astype(np.float32)
    X = protos[rng.randint(0, 3, 300)]
    return np.where(rng.rand(*X.shape) < 0.05, 1 - X, X).astype(np.float32)


@pytest.fixture(scope="module")
def trained(prototypes):
    """An RBM trained on ``prototypes``: weights up to about 4, sharp modes."""
    return BernoulliRBM(n_components=6, n_iter=100, learning_rate=0.1, random_state=0).fit(prototypes)


def _exact_log_lik(rbm, X):
    W, b_h, b_v = (a.astype(np.float64) for a in (rbm.components_, rbm.intercept_hidden_,
                                                   rbm.intercept_visible_))
    return naive.exact_log_likelihood(X.astype(np.float64), W, b_h, b_v)


# --------------------------------------------------------------------------- #
# The kernel against a NumPy reference
# --------------------------------------------------------------------------- #


def _numpy_ais(W, b_h, b_v, b_base, betas, n_chains, state):
    """Reference for :func:`dbn._ais_kernels.ais_steps` (float64, same draws)."""
    W, b_h, b_v, b_base = (a.astype(np.float64) for a in (W, b_h, b_v, b_base))
    p0 = naive.sigmoid(b_base).astype(np.float32)
    V = (naive.draw_uniform(state, (n_chains, len(b_v))) < p0).astype(np.float64)
    log_w = np.zeros(n_chains)
    for k in range(1, len(betas)):
        b0, b1 = betas[k - 1], betas[k]
        x = V @ W.T + b_h
        # log p*_k(v) - log p*_{k-1}(v)
        log_w += (b1 - b0) * (V @ (b_v - b_base))
        log_w += (naive.softplus(b1 * x) - naive.softplus(b0 * x)).sum(axis=1)
        if k < len(betas) - 1:
            H = (naive.draw_uniform(state, x.shape) < naive.sigmoid(b1 * x)).astype(np.float64)
            p = naive.sigmoid((1 - b1) * b_base + b1 * (H @ W + b_v)).astype(np.float32)
            V = (naive.draw_uniform(state, V.shape) < p).astype(np.float64)
    return log_w


def _kernel_ais(W, b_h, b_v, b_base, betas, n_chains, state, block):
    n_hid, n_vis = W.shape
    V = np.empty((n_chains, n_vis), np.float32)
    X_h, H_s = np.empty((n_chains, n_hid), np.float32), np.empty((n_chains, n_hid), np.float32)
    log_w = np.zeros(n_chains)
    K.sample_base_(b_base, V, state)
    for k0 in range(1, len(betas), block):
        K.ais_steps(BLAS_KIND, W, b_h, b_v, b_base, betas, k0, min(k0 + block, len(betas)), V, X_h, H_s,
                    (b_v - b_base).astype(np.float64), np.empty(n_chains), state, log_w)
    return log_w


@pytest.mark.parametrize("block", [1, 7, 1000])
def test_ais_kernel_matches_numpy_reference(block):
    rng = np.random.RandomState(1)
    n_vis, n_hid, n_chains = 7, 5, 6
    W = (rng.randn(n_hid, n_vis)).astype(np.float32)
    b_h = (0.5 * rng.randn(n_hid)).astype(np.float32)
    b_v = (0.5 * rng.randn(n_vis)).astype(np.float32)
    b_base = (0.5 * rng.randn(n_vis)).astype(np.float32)
    betas = ais._check_betas(np.sort(np.r_[0.0, rng.rand(30), 1.0]))
    got = _kernel_ais(W, b_h, b_v, b_base, betas, n_chains, np.array([99], np.uint64), block)
    want = _numpy_ais(W, b_h, b_v, b_base, betas, n_chains, np.array([99], np.uint64))
    assert_allclose(got, want, rtol=1e-6, atol=1e-5)


# --------------------------------------------------------------------------- #
# Exact enumeration
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("n_vis, n_hid", [(6, 4), (4, 6), (5, 5)])
def test_exact_log_partition_matches_brute_force_over_all_states(n_vis, n_hid):
    """Both branches (enumerate h, enumerate v) against the sum over every (v, h)."""
    rbm = _random_rbm(n_vis, n_hid, scale=1.0, seed=n_vis)
    W, b_h, b_v = (a.astype(np.float64) for a in (rbm.components_, rbm.intercept_hidden_,
                                                   rbm.intercept_visible_))
    V, Hs = naive.all_states(n_vis), naive.all_states(n_hid)
    neg_E = (V @ b_v)[:, None] + (Hs @ b_h)[None, :] + V @ W.T @ Hs.T
    assert_allclose(ais.log_partition_exact(rbm), np.logaddexp.reduce(neg_E.ravel()), rtol=1e-12)


def test_exact_log_partition_is_stable_for_extreme_weights():
    rbm = _random_rbm(10, 6, scale=100.0)
    W, b_h, b_v = (a.astype(np.float64) for a in (rbm.components_, rbm.intercept_hidden_,
                                                   rbm.intercept_visible_))
    log_z = ais.log_partition_exact(rbm)
    assert np.isfinite(log_z) and log_z > 100
    assert_allclose(log_z, naive.exact_log_partition(W, b_h, b_v), rtol=1e-12)


def test_exact_log_partition_refuses_large_models():
    rbm = _random_rbm(30, 30, scale=0.1)
    with pytest.raises(ValueError, match="log_partition .AIS."):
        ais.log_partition_exact(rbm)


# --------------------------------------------------------------------------- #
# AIS against exact enumeration
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("scale", [0.5, 1.5])
def test_ais_matches_exact_for_random_rbm(scale):
    rbm = _random_rbm(12, 8, scale=scale)
    exact = ais.log_partition_exact(rbm)
    est = ais.log_partition(rbm, random_state=0)
    assert abs(est.log_z - exact) < 0.1
    assert est.log_z_low - 0.01 < exact < est.log_z_high + 0.01
    assert est.betas.shape == (14501,) and est.n_chains == 100
    assert est.log_z_low < est.log_z < est.log_z_high
    # Uniform base model: log Z_A = (n_visible + n_hidden) log 2.
    assert_allclose(est.log_z_base, 20 * np.log(2))


def test_ais_matches_exact_for_trained_rbm(trained, prototypes):
    exact = ais.log_partition_exact(trained)
    est = ais.log_partition(trained, prototypes, random_state=0)
    assert abs(est.log_z - exact) < 0.1
    ll = ais.log_likelihood(trained, prototypes, log_z=est)
    exact_ll = _exact_log_lik(trained, prototypes)
    assert abs(ll.mean - exact_ll) < 0.1
    assert ll.low < ll.mean < ll.high and ll.std_error == est.std_error
    assert ll.log_partition is est
    # The exact log Z through the same function.
    assert_allclose(ais.log_likelihood(trained, prototypes, log_z="exact").mean, exact_ll, rtol=1e-6)
    assert_allclose(ais.log_likelihood(trained, prototypes, log_z=exact).mean, exact_ll, rtol=1e-6)


def test_base_rate_model_is_smoothed_log_odds(prototypes):
    X = prototypes.copy()
    X[:, 0] = 0.0  # never on: finite bias all the same
    b = ais.base_rate_biases(X)
    p = (X.sum(0) + 0.05 * len(X)) / (1.05 * len(X))
    assert_allclose(b, np.log(p / (1 - p)), rtol=1e-6)
    assert np.isfinite(ais.base_rate_biases(np.ones((5, 3)))).all()
    assert_allclose(ais.base_rate_biases(sp.csr_matrix(X)), b)


def test_data_base_rate_gives_smaller_variance_than_uniform(trained, prototypes):
    uniform = ais.log_partition(trained, betas=300, random_state=0)
    data = ais.log_partition(trained, prototypes, betas=300, random_state=0)
    assert data.std_error < uniform.std_error
    # Z_A of the data base model: the visible factors, and 2 per hidden unit.
    b = ais.base_rate_biases(prototypes).astype(np.float64)
    assert_allclose(data.log_z_base, np.logaddexp(0, b).sum() + 6 * np.log(2))


def test_estimate_tightens_as_schedule_lengthens():
    """Error bar, bias of the mean log-weight and error to exact all shrink."""
    rbm = _random_rbm(12, 8, scale=1.5, seed=0)
    exact = ais.log_partition_exact(rbm)
    schedules = (10, 100, 3000)
    sq_err = {b: [] for b in schedules}
    for seed in range(3):
        std, gap = [], []
        for b in schedules:
            est = ais.log_partition(rbm, betas=b, random_state=seed)
            std.append(est.std_error)
            # E[log w] <= log(Z / Z_A) (Jensen): the gap closes as the
            # intermediate distributions get closer together.
            gap.append(abs(exact - est.log_z_base - est.log_weights.mean()))
            sq_err[b].append((est.log_z - exact) ** 2)
        assert std[0] > 2 * std[1] > 4 * std[2], std
        assert gap[0] > 4 * gap[1] and gap[1] > gap[2], gap
    rms = [np.sqrt(np.mean(sq_err[b])) for b in schedules]
    assert rms[0] > rms[2] and rms[2] < 0.05, rms


def test_error_bar_is_calibrated_by_repeated_runs(trained, prototypes):
    """The reported standard error of log Z matches the spread of independent estimates."""
    runs = [ais.log_partition(trained, prototypes, betas=200, n_chains=50, random_state=s) for s in range(20)]
    spread = np.std([r.log_z for r in runs], ddof=1)
    reported = np.sqrt(np.mean([r.std_error**2 for r in runs]))
    assert 0.5 < spread / reported < 2.0, (spread, reported)


# --------------------------------------------------------------------------- #
# Numerical stability
# --------------------------------------------------------------------------- #


def test_log_mean_exp_matches_naive_on_benign_input():
    a = np.random.RandomState(0).randn(50) * 3
    assert_allclose(ais.log_mean_exp(a), np.log(np.mean(np.exp(a))), rtol=1e-12)


def test_log_mean_exp_does_not_overflow():
    a = np.array([1000.0, 1000.0 + np.log(3.0)])
    with np.errstate(over="ignore"):
        assert np.isinf(np.log(np.mean(np.exp(a))))  # the naive formula
    assert_allclose(ais.log_mean_exp(a), 1000.0 + np.log(2.0))
    assert_allclose(ais.log_mean_exp([-1000.0, -1000.0]), -1000.0)
    assert_allclose(ais.log_mean_exp([-np.inf, 0.0]), np.log(0.5))
    assert ais.log_mean_exp([-np.inf, -np.inf]) == -np.inf
    with pytest.raises(ValueError):
        ais.log_mean_exp([])


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, st.integers(1, 30), elements=st.floats(-1e5, 1e5)))
def test_log_mean_exp_lies_between_max_minus_log_n_and_max(a):
    r = ais.log_mean_exp(a)
    assert a.max() - np.log(len(a)) - 1e-9 * abs(a.max()) - 1e-12 <= r <= a.max() + 1e-9 * abs(a.max())


def test_ais_stays_finite_with_extreme_weights():
    rbm = _random_rbm(10, 6, scale=60.0)
    est = ais.log_partition(rbm, betas=500, random_state=0)
    assert np.isfinite(est.log_weights).all()
    assert np.isfinite([est.log_z, est.log_z_high, est.std_error]).all()
    assert est.log_z > 100  # the same order as the exact value, not an overflow
    assert 1.0 <= est.effective_sample_size <= est.n_chains


# --------------------------------------------------------------------------- #
# Determinism and the estimator methods
# --------------------------------------------------------------------------- #


def test_same_random_state_same_estimate(trained, prototypes, monkeypatch):
    a = ais.log_partition(trained, prototypes, betas=300, random_state=3)
    b = ais.log_partition(trained, prototypes, betas=300, random_state=3)
    assert_array_equal(a.log_weights, b.log_weights)
    c = ais.log_partition(trained, prototypes, betas=300, random_state=4)
    assert not np.array_equal(a.log_weights, c.log_weights)
    # The kernel runs in blocks of temperatures; the split changes nothing.
    monkeypatch.setattr(ais, "_BLOCK", 7)
    d = ais.log_partition(trained, prototypes, betas=300, random_state=3)
    assert_array_equal(a.log_weights, d.log_weights)


def test_betas_forms():
    assert_array_equal(ais._check_betas(3), [0.0, 0.5, 1.0])
    b = ais.default_betas()
    assert b.shape == (14501,) and b[0] == 0.0 and b[-1] == 1.0 and np.all(np.diff(b) > 0)
    assert_allclose(np.diff(b)[[0, 600, -1]], [1e-3, 1e-4, 1e-5], rtol=1e-6)
    # float32-representable, so that sampling and weights use the same betas
    got = ais._check_betas([0.0, 0.1, 1.0])
    assert_array_equal(got, got.astype(np.float32))


@pytest.mark.parametrize("betas", [1, [0.0], [0.1, 1.0], [0.0, 0.9], [0.0, 0.6, 0.5, 1.0],
                                   [0.0, np.nan, 1.0], np.zeros((2, 2))])
def test_bad_betas(trained, betas):
    with pytest.raises(ValueError, match="betas"):
        ais.log_partition(trained, betas=betas)


def test_bad_input_gets_clear_error(trained, prototypes):
    with pytest.raises(ValueError, match="12 features"):
        ais.log_partition(trained, prototypes[:, :5])
    with pytest.raises(ValueError, match="12 features"):
        ais.log_likelihood(trained, prototypes[:, :5], betas=10)
    with pytest.raises(ValueError, match="12 features"):
        trained.score(prototypes[:, :5])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ais.log_likelihood(trained, 2 * prototypes, betas=10)
    with pytest.raises(ValueError, match="n_chains"):
        ais.log_partition(trained, n_chains=1)
    with pytest.raises(ValueError, match="log_z"):
        ais.log_likelihood(trained, prototypes, log_z="approximate")
    gauss = GaussianBernoulliRBM(n_components=3, n_iter=1, random_state=0)
    gauss.fit(np.random.RandomState(0).randn(20, 4))
    for f in (ais.log_partition, ais.log_partition_exact):
        with pytest.raises(TypeError, match="Gaussian visible units"):
            f(gauss)
    with pytest.raises(TypeError, match="Gaussian visible units"):
        ais.log_likelihood(gauss, np.zeros((2, 4)))
    assert not hasattr(gauss, "log_likelihood")
    bad = _random_rbm(4, 3, 1.0)
    bad.components_[0, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        ais.log_partition(bad)


def test_unfitted_raises_not_fitted(prototypes):
    rbm = BernoulliRBM(n_components=3)
    for call in (lambda: ais.log_partition(rbm), lambda: ais.log_partition_exact(rbm),
                 lambda: ais.log_likelihood(rbm, prototypes), lambda: rbm.score(prototypes),
                 lambda: rbm.log_likelihood(prototypes)):
        with pytest.raises(NotFittedError):
            call()


def test_rbm_score_is_ais_log_likelihood(trained, prototypes):
    X = prototypes.copy()
    ll = trained.log_likelihood(X)
    assert ll.log_partition.betas.shape == (14501,)
    assert abs(ll.mean - _exact_log_lik(trained, X)) < 0.1
    # Seeded by the estimator's random_state: the same figure every time.
    assert trained.score(X) == ll.mean == trained.log_likelihood(X).mean
    other = trained.log_likelihood(X, random_state=1, betas=1000, n_chains=20, X_base=X[:50])
    assert other.log_partition.n_chains == 20 and other.mean != ll.mean
    assert abs(other.mean - ll.mean) < 0.1
    assert_array_equal(X, prototypes)  # input not modified
    # Sparse input: the same base model, draws and free energies.
    assert_allclose(trained.score(sp.csr_matrix(X)), ll.mean, rtol=1e-6)


def test_grid_search_selects_by_held_out_log_likelihood(prototypes):
    search = GridSearchCV(BernoulliRBM(n_components=6, learning_rate=0.1, random_state=0),
                          {"n_iter": [0, 30]}, cv=2).fit(prototypes)
    assert search.best_params_ == {"n_iter": 30}
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_accepts_scikit_learns_rbm(prototypes):
    rbm = SkBernoulliRBM(n_components=5, n_iter=20, learning_rate=0.05, random_state=0).fit(prototypes)
    exact = ais.log_partition_exact(rbm)
    est = ais.log_partition(rbm, prototypes, betas=3000, random_state=0)
    assert abs(est.log_z - exact) < 0.1
    ll = ais.log_likelihood(rbm, prototypes, log_z=est)
    assert abs(ll.mean - _exact_log_lik(rbm, prototypes)) < 0.1
