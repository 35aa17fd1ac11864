"""Tests of dbn.rbm and dbn._rbm_kernels."""

import pickle

import naive
import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.neural_network import BernoulliRBM as SkBernoulliRBM
from sklearn.utils.estimator_checks import parametrize_with_checks

from dbn import BernoulliRBM, DivergenceError, GaussianBernoulliRBM
from dbn import _rbm_kernels as K
from dbn._blas import BLAS_KIND

# --------------------------------------------------------------------------- #
# Kernels against the NumPy reference
# --------------------------------------------------------------------------- #


def _random_params(rng, n_vis, n_hid, scale=0.3):
    W = (scale * rng.randn(n_hid, n_vis)).astype(np.float32)
    b_h = (0.1 * rng.randn(n_hid)).astype(np.float32)
    b_v = (0.1 * rng.randn(n_vis)).astype(np.float32)
    return W, b_h, b_v


CD_CASES = [
    dict(k=1, persistent=False, sample_visible=False, gaussian=False, momentum=0.0, weight_decay=0.0),
    dict(k=1, persistent=False, sample_visible=True, gaussian=False, momentum=0.0, weight_decay=0.01),
    dict(k=3, persistent=False, sample_visible=False, gaussian=False, momentum=0.9, weight_decay=0.001),
    dict(k=2, persistent=True, sample_visible=True, gaussian=False, momentum=0.5, weight_decay=0.0),
    dict(k=1, persistent=False, sample_visible=False, gaussian=True, momentum=0.5, weight_decay=0.0),
    dict(k=2, persistent=True, sample_visible=True, gaussian=True, momentum=0.0, weight_decay=0.0),
    dict(k=1, persistent=False, sample_visible=False, gaussian=False, momentum=0.5, weight_decay=0.0,
         sparsity_cost=0.5),
]


def _lower_layers(rng, widths):
    """Random layers below the RBM under test, packed as cd_epoch takes them,
    and the hidden probabilities they give (float64 NumPy)."""
    Ws = [(0.5 * rng.randn(b, a)).astype(np.float32) for a, b in zip(widths[:-1], widths[1:])]
    bs = [(0.1 * rng.randn(b)).astype(np.float32) for b in widths[1:]]
    packed = (np.concatenate([W.ravel() for W in Ws]) if Ws else np.empty(0, np.float32),
              np.concatenate(bs) if bs else np.empty(0, np.float32),
              np.array(widths, np.int64))

    def up(X):
        a = X.astype(np.float64)
        for W, b in zip(Ws, bs):
            a = 1.0 / (1.0 + np.exp(-(a @ W.T.astype(np.float64) + b)))
        return a.astype(np.float32)

    return packed, up


@pytest.mark.parametrize("case", CD_CASES)
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("n_below", [0, 2])
def test_cd_epoch_matches_numpy_reference(case, sparse, n_below):
    if n_below and case["gaussian"]:
        pytest.skip("layers above the first have Bernoulli visible units")
    rng = np.random.RandomState(1)
    n, n_vis, n_hid, B = 23, 7, 5, 5  # 23 rows: the last batch is smaller
    widths = [9, 6, n_vis][-1 - n_below:]
    if case["gaussian"]:
        X = rng.randn(n, n_vis).astype(np.float32)
    else:
        X = (rng.rand(n, widths[0]) < 0.4).astype(np.float32)
    # The kernel feeds each mini-batch of X up through the layers below; the
    # reference trains on their hidden probabilities computed beforehand.
    (lower_W, lower_b, lower_sizes), up = _lower_layers(rng, widths)
    work = np.empty(B * int(lower_sizes[:-1].sum()), np.float32) if n_below else np.empty(0, np.float32)
    X_in = up(X)
    W, b_h, b_v = _random_params(rng, n_vis, n_hid)
    W_inc = (0.01 * rng.randn(n_hid, n_vis)).astype(np.float32)
    b_h_inc = np.zeros(n_hid, np.float32)
    b_v_inc = np.zeros(n_vis, np.float32)
    chains = (rng.rand(B, n_hid) < 0.5).astype(np.float32)
    q = np.full(n_hid, -1.0, np.float32)
    order = rng.permutation(n).astype(np.int64)
    hyper = dict(lr=0.05, sparsity_target=0.1, sparsity_cost=case.get("sparsity_cost", 0.0),
                 sparsity_decay=0.9)
    flags = {key: case[key] for key in ("k", "persistent", "sample_visible", "gaussian")}
    seed = np.array([12345], dtype=np.uint64)

    ref = naive.cd_epoch(X_in, order, B, W, b_h, b_v, W_inc, b_h_inc, b_v_inc, chains, q,
                         momentum=case["momentum"], weight_decay=case["weight_decay"],
                         state=seed.copy(), **flags, **hyper)

    args = [a.copy() for a in (W, b_h, b_v, W_inc, b_h_inc, b_v_inc, chains, q)]
    V = np.empty((2 * B + 1, n_vis), np.float32)
    H = np.empty((2 * B + 1, n_hid), np.float32)
    Hs = np.empty((B, n_hid), np.float32)
    stats = np.zeros(2)
    if sparse:
        Xs = sp.csr_matrix(X)
        dense, data, ind, ptr = np.empty((1, 1), np.float32), Xs.data, Xs.indices.astype(np.int64), \
            Xs.indptr.astype(np.int64)
    else:
        dense, data, ind, ptr = X, np.empty(1, np.float32), np.zeros(1, np.int64), np.zeros(1, np.int64)
    X_before = X.copy()
    K.cd_epoch(BLAS_KIND, dense, data, ind, ptr, sparse, order, B, *args,
               flags["k"], flags["persistent"], flags["sample_visible"], flags["gaussian"],
               hyper["lr"], case["momentum"], case["weight_decay"], hyper["sparsity_target"],
               hyper["sparsity_cost"], hyper["sparsity_decay"], seed, V, H, Hs, stats,
               lower_W, lower_b, lower_sizes, work)
    assert_array_equal(X, X_before)
    names = ["W", "b_h", "b_v", "W_inc", "b_h_inc", "b_v_inc", "chains"]
    for name, got, want in zip(names, args, ref[:7]):
        if name == "W_inc" and case["momentum"] == 0.0:
            # Without momentum the whole update is one GEMM into W.
            assert not got.any()
            continue
        assert_allclose(got, want, rtol=1e-4, atol=2e-5, err_msg=name)
    if case.get("sparsity_cost", 0.0) > 0:
        assert_allclose(args[7], ref[7], rtol=1e-5, atol=1e-6)
    assert_allclose(stats[0], ref[8], rtol=1e-4)
    assert stats[1] == ref[9]


def test_scalar_kernels_are_stable_and_match_numpy():
    x = np.array([-1000.0, -50.0, -1.0, 0.0, 1.0, 50.0, 1000.0], np.float32)
    a = x[None, :].copy()
    K.sigmoid_bias_(a, np.zeros(len(x), np.float32))
    assert np.isfinite(a).all()
    assert_allclose(a[0], naive.sigmoid(x), rtol=1e-6, atol=1e-30)
    H = x[None, :].astype(np.float32)
    out = np.empty(1)
    K.free_energy_rows(H, np.zeros(1), np.zeros(1), np.zeros(len(x), np.float32), False, out)
    assert np.isfinite(out).all()
    assert_allclose(out[0], -naive.softplus(x).sum(), rtol=1e-6)


def test_gather_kernels():
    rng = np.random.RandomState(0)
    X = (rng.rand(9, 4) * (rng.rand(9, 4) < 0.5)).astype(np.float32)
    rows = np.array([3, 0, 8], np.int64)
    out = np.full((3, 4), 7.0, np.float32)
    K.gather_dense(X, rows, out)
    assert_array_equal(out, X[rows])
    Xs = sp.csr_matrix(X)
    out[:] = 7.0
    K.gather_csr(Xs.data, Xs.indices.astype(np.int64), Xs.indptr.astype(np.int64), rows, out)
    assert_array_equal(out, X[rows])


def test_rng_is_uniform_and_normal():
    state = np.array([7], np.uint64)
    u = naive.draw_uniform(state, 200_000)
    assert 0.0 <= u.min() and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.005 and abs(u.var() - 1 / 12) < 0.002
    z = naive.draw_normal(state, 200_000)
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01
    # Different seeds give different streams; the same seed, the same one.
    a = naive.draw_uniform(np.array([1], np.uint64), 5)
    b = naive.draw_uniform(np.array([1], np.uint64), 5)
    c = naive.draw_uniform(np.array([2], np.uint64), 5)
    assert_array_equal(a, b)
    assert not np.array_equal(a, c)


# --------------------------------------------------------------------------- #
# Exact enumeration on tiny RBMs
# --------------------------------------------------------------------------- #


def _fitted_tiny(n_vis=8, n_hid=5, seed=0):
    rng = np.random.RandomState(seed)
    rbm = BernoulliRBM(n_components=n_hid, n_iter=0, random_state=seed).fit(
        (rng.rand(4, n_vis) < 0.5).astype(np.float32))
    W, b_h, b_v = _random_params(rng, n_vis, n_hid, scale=0.8)
    rbm.components_, rbm.intercept_hidden_, rbm.intercept_visible_ = W, b_h, b_v
    return rbm


def test_free_energy_matches_enumeration():
    rbm = _fitted_tiny()
    W, b_h, b_v = (a.astype(np.float64) for a in (rbm.components_, rbm.intercept_hidden_,
                                                   rbm.intercept_visible_))
    V = naive.all_states(8)
    Hs = naive.all_states(5)
    # F(v) = -log sum_h exp(-E(v, h)), E = -b_v.v - b_h.h - h.W.v
    E = -(V @ b_v)[:, None] - (Hs @ b_h)[None, :] - V @ W.T @ Hs.T
    F_enum = -np.logaddexp.reduce(-E, axis=1)
    assert_allclose(rbm.free_energy(V.astype(np.float32)), F_enum, rtol=1e-5, atol=1e-5)


def test_gaussian_free_energy_matches_integral_over_hidden_states():
    rng = np.random.RandomState(3)
    X = rng.randn(20, 4).astype(np.float32)
    rbm = GaussianBernoulliRBM(n_components=3, n_iter=1, random_state=0).fit(X)
    W, b_h, b_v = (a.astype(np.float64) for a in (rbm.components_, rbm.intercept_hidden_,
                                                   rbm.intercept_visible_))
    Hs = naive.all_states(3)
    Xd = X.astype(np.float64)
    # E(v, h) = |v - b_v|^2 / 2 - b_h.h - h.W.v
    E = 0.5 * ((Xd - b_v) ** 2).sum(1)[:, None] - (Hs @ b_h)[None, :] - Xd @ W.T @ Hs.T
    assert_allclose(rbm.free_energy(X), -np.logaddexp.reduce(-E, axis=1), rtol=1e-5, atol=1e-4)


def test_cd_k_expected_update_approaches_exact_gradient(binary_data):
    rbm = _fitted_tiny()
    W, b_h, b_v = rbm.components_, rbm.intercept_hidden_.astype(np.float64), \
        rbm.intercept_visible_.astype(np.float64)
    X = binary_data.astype(np.float64)
    exact = naive.exact_gradient(X, W, b_h, b_v)
    errors = []
    for k in (1, 2, 5, 20, 100):
        cd = naive.expected_cd_update(X, W, b_h, b_v, k)
        errors.append(sum(np.abs(c - e).sum() for c, e in zip(cd, exact)))
    assert all(a > b for a, b in zip(errors, errors[1:])), errors
    assert errors[-1] < 1e-3 * errors[0]


@pytest.mark.parametrize("k", [1, 3])
def test_kernel_cd_k_is_unbiased_estimate_of_expected_update(binary_data, k):
    """One huge mini-batch of repeated data: the kernel's update is the Monte
    Carlo mean of the CD-k statistics, which must match their exact expectation."""
    rbm = _fitted_tiny()
    W, b_h, b_v = rbm.components_, rbm.intercept_hidden_, rbm.intercept_visible_
    reps = 400
    X = np.repeat(binary_data, reps, axis=0)
    n, n_vis = X.shape
    n_hid = W.shape[0]
    lr = 1.0
    W1, bh1, bv1 = W.copy(), b_h.copy(), b_v.copy()
    K.cd_epoch(BLAS_KIND, X, np.empty(1, np.float32), np.zeros(1, np.int64), np.zeros(1, np.int64),
               False, np.arange(n, dtype=np.int64), n, W1, bh1, bv1,
               np.zeros_like(W), np.zeros_like(b_h), np.zeros_like(b_v),
               np.zeros((n, n_hid), np.float32), np.full(n_hid, -1, np.float32),
               k, False, True, False, lr, 0.0, 0.0, 0.1, 0.0, 0.9,
               np.array([99], np.uint64), np.empty((2 * n + 1, n_vis), np.float32),
               np.empty((2 * n + 1, n_hid), np.float32), np.empty((n, n_hid), np.float32), np.zeros(2),
               np.empty(0, np.float32), np.empty(0, np.float32), np.array([n_vis], np.int64),
               np.empty(0, np.float32))
    expected = naive.expected_cd_update(binary_data.astype(np.float64), W, b_h.astype(np.float64),
                                        b_v.astype(np.float64), k)
    # Each statistic is a mean of n bounded terms: a few standard errors.
    tol = 4.0 / np.sqrt(n)
    assert_allclose((W1 - W) / lr, expected[0], atol=tol)
    assert_allclose((bh1 - b_h) / lr, expected[1], atol=tol)
    assert_allclose((bv1 - b_v) / lr, expected[2], atol=tol)


@pytest.mark.parametrize("persistent", [False, True])
def test_training_raises_exact_log_likelihood(binary_data, persistent):
    rbm = BernoulliRBM(n_components=5, n_iter=0, random_state=0).fit(binary_data)
    before = naive.exact_log_likelihood(binary_data, rbm.components_, rbm.intercept_hidden_,
                                        rbm.intercept_visible_)
    rbm = BernoulliRBM(n_components=5, n_iter=100, learning_rate=0.05, batch_size=10,
                       persistent=persistent, random_state=0).fit(binary_data)
    after = naive.exact_log_likelihood(binary_data, rbm.components_, rbm.intercept_hidden_,
                                       rbm.intercept_visible_)
    assert after > before + 0.5, (before, after)


def test_pseudo_likelihood_matches_sklearn_formula(binary_data):
    rbm = BernoulliRBM(n_components=5, n_iter=5, random_state=0).fit(binary_data)
    X = binary_data
    got = rbm.score_samples(X)
    # scikit-learn's definition, computed directly with the same flips.
    rng = np.random.RandomState(0)
    idx = (np.arange(X.shape[0]), rng.randint(0, X.shape[1], X.shape[0]))
    X_ = X.copy()
    X_[idx] = 1 - X_[idx]
    W, b_h, b_v = (a.astype(np.float64) for a in (rbm.components_, rbm.intercept_hidden_,
                                                   rbm.intercept_visible_))
    fe = naive.bernoulli_free_energy(X.astype(np.float64), W, b_h, b_v)
    fe_ = naive.bernoulli_free_energy(X_.astype(np.float64), W, b_h, b_v)
    assert_allclose(got, -X.shape[1] * np.logaddexp(0, -(fe_ - fe)), rtol=1e-5)
    # Same numbers for sparse input; deterministic for a given random_state.
    assert_allclose(rbm.score_samples(sp.csr_matrix(X)), got, rtol=1e-5)


# --------------------------------------------------------------------------- #
# Estimator behaviour
# --------------------------------------------------------------------------- #


def test_drop_in_for_sklearn_script(digits01):
    """A scikit-learn user's script keeps working with the import replaced."""
    X, _ = digits01
    for cls in (SkBernoulliRBM, BernoulliRBM):
        model = cls(n_components=16, n_iter=2, random_state=0)
        assert model.fit(X) is model
        assert model.components_.shape == (16, 64)
        assert model.intercept_hidden_.shape == (16,)
        assert model.intercept_visible_.shape == (64,)
        assert model.h_samples_.shape == (10, 16)
        assert model.transform(X).shape == (len(X), 16)
        assert model.fit_transform(X).shape == (len(X), 16)
        assert model.gibbs(X[:3]).shape == (3, 64)
        assert set(np.unique(model.gibbs(X[:3]))) <= {0.0, 1.0}
        assert model.score_samples(X).shape == (len(X),)
        assert list(model.get_feature_names_out()[:2]) == [f"{cls.__name__.lower()}0",
                                                           f"{cls.__name__.lower()}1"]
        returned = model.partial_fit(X[:20])
        if cls is BernoulliRBM:  # scikit-learn 1.9's returns None
            assert returned is model
    sk, ours = SkBernoulliRBM(), BernoulliRBM()
    for name in ("n_components", "learning_rate", "batch_size", "n_iter", "verbose", "random_state"):
        assert getattr(sk, name) == getattr(ours, name)


def test_features_are_as_useful_as_sklearns(digits01):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    X, y = digits01
    Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=0)
    scores = {}
    for cls in (SkBernoulliRBM, BernoulliRBM):
        rbm = cls(n_components=100, learning_rate=0.06, n_iter=10, random_state=0).fit(Xtr)
        clf = LogisticRegression(max_iter=3000).fit(rbm.transform(Xtr), ytr)
        scores[cls] = clf.score(rbm.transform(Xte), yte)
    assert scores[BernoulliRBM] >= scores[SkBernoulliRBM] - 0.02, scores
    assert scores[BernoulliRBM] > 0.9


def test_partial_fit_honours_batch_size(binary_data):
    rbm = BernoulliRBM(n_components=4, batch_size=7, random_state=0, shuffle=False)
    rbm.partial_fit(binary_data)
    ref = BernoulliRBM(n_components=4, batch_size=7, n_iter=1, random_state=0, shuffle=False)
    ref.fit(binary_data)
    # One epoch of batch 7 over the same rows: the two must agree closely
    # (the epoch's sampling stream is seeded in the same way).
    assert rbm.n_iter_ == 1
    assert_allclose(rbm.components_, ref.components_, atol=1e-6)
    big = BernoulliRBM(n_components=4, batch_size=len(binary_data), random_state=0, shuffle=False)
    big.partial_fit(binary_data)
    assert not np.allclose(big.components_, rbm.components_)


def test_same_random_state_same_weights(digits01):
    X, _ = digits01
    kw = dict(n_components=50, n_iter=3, random_state=42, momentum="hinton", k=2)
    a = BernoulliRBM(**kw).fit(X)
    b = BernoulliRBM(**kw).fit(X)
    assert_array_equal(a.components_, b.components_)
    assert_array_equal(a.history_["pseudo_likelihood"], b.history_["pseudo_likelihood"])
    d = BernoulliRBM(**{**kw, "random_state": 43}).fit(X)
    assert not np.array_equal(a.components_, d.components_)


def test_float64_float32_and_sparse_input_agree(digits01):
    X, _ = digits01
    kw = dict(n_components=20, n_iter=2, random_state=0)
    a = BernoulliRBM(**kw).fit(X)
    b = BernoulliRBM(**kw).fit(X.astype(np.float64))
    c = BernoulliRBM(**kw).fit(sp.csr_matrix(X))
    assert_allclose(a.components_, b.components_, atol=1e-6)
    # The sparse mean that seeds the visible biases may round differently.
    assert_allclose(a.components_, c.components_, atol=1e-4)
    assert a.transform(X.astype(np.float64)).dtype == np.float32
    assert_allclose(a.transform(sp.csr_matrix(X)), a.transform(X), atol=1e-6)


def test_visible_bias_initialised_to_log_odds(digits01):
    X, _ = digits01
    rbm = BernoulliRBM(n_components=3, n_iter=0).fit(X)
    p = np.clip(X.mean(0, dtype=np.float64), 1e-3, 1 - 1e-3)
    assert_allclose(rbm.intercept_visible_, np.log(p / (1 - p)), rtol=1e-5)


def test_options_do_what_they_say(digits01):
    X, _ = digits01
    base = dict(n_components=64, n_iter=5, learning_rate=0.05, random_state=0)
    plain = BernoulliRBM(**base).fit(X)
    sparse_ = BernoulliRBM(**base, sparsity_cost=0.5, sparsity_target=0.05).fit(X)
    assert sparse_.transform(X).mean() < 0.6 * plain.transform(X).mean()
    decayed = BernoulliRBM(**base, weight_decay=0.05).fit(X)
    assert np.linalg.norm(decayed.components_) < np.linalg.norm(plain.components_)
    pcd = BernoulliRBM(**base, persistent=True).fit(X)
    assert np.any(pcd.h_samples_ != 0)
    mom = BernoulliRBM(**base, momentum=[0.5, 0.9]).fit(X)
    assert np.isfinite(mom.components_).all()
    assert not np.allclose(mom.components_, plain.components_)


def test_history_and_free_energy_gap(digits01):
    X, _ = digits01
    rbm = BernoulliRBM(n_components=32, n_iter=4, random_state=0, validation_fraction=0.2).fit(X)
    h = rbm.history_
    assert h["epoch"] == [1, 2, 3, 4]
    for key in ("reconstruction_error", "pseudo_likelihood", "free_energy_gap", "time"):
        assert len(h[key]) == 4 and np.isfinite(h[key]).all(), key
    assert h["reconstruction_error"][-1] < h["reconstruction_error"][0]
    no_val = BernoulliRBM(n_components=8, n_iter=1, random_state=0).fit(X)
    assert np.isnan(no_val.history_["free_energy_gap"][0])


def test_verbose_prints_one_line_per_epoch(digits01, capsys):
    X, _ = digits01
    BernoulliRBM(n_components=8, n_iter=3, verbose=1, random_state=0).fit(X)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[BernoulliRBM]")]
    assert len(lines) == 3
    assert "pseudo-likelihood" in lines[0] and "time" in lines[0] and "left" in lines[0]


def test_verbose_leaves_out_an_undefined_pseudo_likelihood(digits01, capsys):
    # Gaussian visible units have no pseudo-likelihood here (NaN in the
    # history by design): the progress line must not print it as "nan".
    X, _ = digits01
    rbm = GaussianBernoulliRBM(n_components=8, n_iter=2, verbose=1, random_state=0).fit(X.astype(np.float64))
    assert np.isnan(rbm.history_["pseudo_likelihood"]).all()
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("[GaussianBernoulliRBM]")]
    assert len(lines) == 2
    assert all("nan" not in line and "pseudo-likelihood" not in line and "reconstruction error" in line
               for line in lines)


def test_gaussian_rbm_learns_real_valued_data():
    from sklearn.preprocessing import StandardScaler

    rng = np.random.RandomState(0)
    # Two real-valued clusters: reconstruction error must fall well below
    # the data's variance.
    centers = 2.0 * rng.randn(2, 10)
    X = StandardScaler().fit_transform(centers[rng.randint(0, 2, 500)] + 0.3 * rng.randn(500, 10))
    rbm = GaussianBernoulliRBM(n_components=20, n_iter=20, learning_rate=0.01, random_state=0).fit(X)
    err = ((rbm.reconstruct(X) - X) ** 2).sum(1).mean()
    assert err < 0.3 * (X ** 2).sum(1).mean()
    h = rbm.history_["reconstruction_error"]
    assert h[-1] < h[0]
    # Accepts values outside [0, 1].
    assert rbm.transform(X * 10).shape == (500, 20)


def test_pickle_round_trip_is_exact(digits01):
    X, _ = digits01
    rbm = BernoulliRBM(n_components=8, n_iter=2, random_state=0).fit(X)
    again = pickle.loads(pickle.dumps(rbm))
    assert_array_equal(again.transform(X), rbm.transform(X))
    # The copy keeps training.
    again.partial_fit(X)
    assert again.n_iter_ == 3
    assert clone(rbm).get_params() == rbm.get_params()


# --------------------------------------------------------------------------- #
# Bad input
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    "X, match",
    [
        (np.array([[0.0, np.nan], [1.0, 0.0]]), "NaN"),
        (np.array([[0.0, np.inf], [1.0, 0.0]]), "infinity"),
        (np.array([[0.0, 2.0], [1.0, 0.0]]), r"Values greater than 1.*\[0, 1\]"),
        (np.array([[0.0, -0.5], [1.0, 0.0]]), r"Negative values.*\[0, 1\]"),
        (np.empty((0, 3)), "0 sample"),
        (np.array([["a", "b"], ["c", "d"]], dtype=object), "could not convert|must be numeric|dtype"),
    ],
)
def test_bad_input_gets_clear_error(X, match):
    with pytest.raises(ValueError, match=match):
        BernoulliRBM(n_iter=1).fit(X)


def test_wrong_feature_count_and_unfitted(digits01):
    X, _ = digits01
    rbm = BernoulliRBM(n_components=4, n_iter=1)
    with pytest.raises(NotFittedError):
        rbm.transform(X)
    rbm.fit(X)
    with pytest.raises(ValueError, match="64 features"):
        rbm.transform(X[:, :10])
    with pytest.raises(ValueError, match="n_components"):
        rbm.inverse_transform(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="momentum"):
        BernoulliRBM(momentum="fast").fit(X)
    with pytest.raises(ValueError, match="momentum"):
        BernoulliRBM(momentum=[0.5, 1.5]).fit(X)


def test_input_never_modified(digits01):
    X, _ = digits01
    for data in (X.copy(), X.astype(np.float64), np.asfortranarray(X)):
        before = data.copy()
        rbm = BernoulliRBM(n_components=4, n_iter=2, random_state=0).fit(data)
        rbm.partial_fit(data)
        rbm.transform(data)
        rbm.score_samples(data)
        rbm.gibbs(data)
        assert_array_equal(data, before)
    Xs = sp.csr_matrix(X)
    before = Xs.copy()
    BernoulliRBM(n_components=4, n_iter=1).fit(Xs)
    assert_array_equal(Xs.toarray(), before.toarray())


def test_divergence_raises_with_layer_and_epoch():
    rng = np.random.RandomState(0)
    X = 1e4 * rng.randn(50, 5)
    rbm = GaussianBernoulliRBM(n_components=3, learning_rate=1e3, n_iter=10, random_state=0)
    with pytest.raises(DivergenceError, match=r"epoch \d+.*smaller"):
        rbm.fit(X)
    # The weights of the last finite epoch are kept.
    assert np.isfinite(rbm.components_).all()
    assert rbm.n_iter_ == len(rbm.history_["epoch"]) < 10


# --------------------------------------------------------------------------- #
# scikit-learn's estimator checks
# --------------------------------------------------------------------------- #

# scikit-learn's generic checks feed BernoulliRBM non-negative data greater
# than 1, which it rejects by design (binary units model values in [0, 1]).
# GaussianBernoulliRBM shares every code path except that range check and
# passes all of them; the Bernoulli-specific behaviour is tested above.
_OUT_OF_RANGE = "the check feeds values > 1, rejected by design (units are binary)"
_BERNOULLI_XFAIL = {
    name: _OUT_OF_RANGE
    for name in (
        "check_estimators_overwrite_params", "check_dont_overwrite_parameters",
        "check_estimators_fit_returns_self", "check_readonly_memmap_input",
        "check_n_features_in_after_fitting", "check_estimators_dtypes",
        "check_pipeline_consistency", "check_estimators_pickle", "check_f_contiguous_array_estimator",
        "check_transformer_data_not_an_array", "check_transformer_general",
        "check_transformer_preserve_dtypes", "check_methods_sample_order_invariance",
        "check_methods_subset_invariance", "check_fit2d_1sample", "check_fit2d_1feature",
        "check_dict_unchanged", "check_fit_idempotent", "check_fit_check_is_fitted",
        "check_n_features_in", "check_fit2d_predict1d",
    )
}


def _expected_failures(estimator):
    return _BERNOULLI_XFAIL if isinstance(estimator, BernoulliRBM) else {}


@parametrize_with_checks(
    [BernoulliRBM(n_components=8, n_iter=2), GaussianBernoulliRBM(n_components=8, n_iter=2)],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_keyboard_interrupt_keeps_completed_epochs(digits01, interrupt_on_call):
    from dbn import rbm as rbm_module

    X, _ = digits01
    interrupt_on_call(rbm_module._BaseRBM, "_run_epoch", 3)
    rbm = BernoulliRBM(n_components=8, n_iter=10, random_state=0)
    with pytest.warns(UserWarning, match="interrupted by user after 2 epoch"):
        assert rbm.fit(X) is rbm
    assert rbm.n_iter_ == 2 and len(rbm.history_["epoch"]) == 2
    assert rbm.transform(X).shape == (len(X), 8)
    # The weights are those of the 2 completed epochs, and training goes on.
    ref = BernoulliRBM(n_components=8, n_iter=2, random_state=0).fit(X)
    assert_array_equal(rbm.components_, ref.components_)
    rbm.partial_fit(X)
    assert rbm.n_iter_ == 3
