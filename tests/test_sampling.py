"""Tests of sampling from a DBN and of its label units (dbn.stack, dbn._rbm_variant_kernels)."""

import warnings

import naive
import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from scipy.stats import binomtest
from sklearn.exceptions import ConvergenceWarning
from sklearn.neighbors import NearestCentroid
from sklearn.preprocessing import StandardScaler

from dbn import DBN, DBNClassifier, GaussianBernoulliRBM
from dbn import _rbm_variant_kernels as VK
from dbn._blas import BLAS_KIND
from dbn.rbm import _JointLabelRBM, kernel_data

# --------------------------------------------------------------------------- #
# Kernels against the NumPy references
# --------------------------------------------------------------------------- #


def _lower_layers(rng, widths):
    """Random layers below the top RBM, packed as the kernels take them, and
    the hidden probabilities they give (float64 NumPy)."""
    Ws = [(0.5 * rng.randn(b, a)).astype(np.float32) for a, b in zip(widths[:-1], widths[1:])]
    bs = [(0.1 * rng.randn(b)).astype(np.float32) for b in widths[1:]]
    packed = (np.concatenate([W.ravel() for W in Ws]) if Ws else np.empty(0, np.float32),
              np.concatenate(bs) if bs else np.empty(0, np.float32),
              np.array(widths, np.int64))

    def up(X):
        a = X.astype(np.float64)
        for W, b in zip(Ws, bs):
            a = naive.sigmoid(a @ W.T.astype(np.float64) + b)
        return a.astype(np.float32)

    return packed, up


LABEL_CASES = [
    dict(k=1, sample_visible=False, momentum=0.0, weight_decay=0.0),
    dict(k=2, sample_visible=False, momentum=0.5, weight_decay=0.01),
    dict(k=3, sample_visible=True, momentum=0.9, weight_decay=0.0),
]


@pytest.mark.parametrize("case", LABEL_CASES)
@pytest.mark.parametrize("n_below, sparse", [(0, False), (0, True), (2, False)])
def test_cd_epoch_labels_matches_numpy_reference(case, n_below, sparse):
    rng = np.random.RandomState(2)
    n, n_pen, n_labels, n_hid, B = 23, 6, 4, 5, 5  # 23 rows: the last batch is smaller
    widths = [9, 7, n_pen][-1 - n_below:]
    X = (rng.rand(n, widths[0]) < 0.4).astype(np.float32)
    labels = rng.randint(0, n_labels, n).astype(np.int64)
    (lower_W, lower_b, lower_sizes), up = _lower_layers(rng, widths)
    work = np.empty(B * int(lower_sizes[:-1].sum()), np.float32)
    n_vis = n_pen + n_labels
    W = (0.5 * rng.randn(n_hid, n_vis)).astype(np.float32)
    b_h = (0.1 * rng.randn(n_hid)).astype(np.float32)
    b_v = (0.1 * rng.randn(n_vis)).astype(np.float32)
    W_inc = (0.01 * rng.randn(n_hid, n_vis)).astype(np.float32)
    b_h_inc, b_v_inc = np.zeros(n_hid, np.float32), np.zeros(n_vis, np.float32)
    order = rng.permutation(n).astype(np.int64)
    hyper = dict(lr=0.05, momentum=case["momentum"], weight_decay=case["weight_decay"])
    seed = np.array([4321], np.uint64)

    ref = naive.cd_epoch_labels(up(X), labels, n_labels, order, B, W, b_h, b_v, W_inc, b_h_inc, b_v_inc,
                                k=case["k"], sample_visible=case["sample_visible"], state=seed.copy(),
                                **hyper)
    args = [a.copy() for a in (W, b_h, b_v, W_inc, b_h_inc, b_v_inc)]
    dense, data, ind, ptr, _ = kernel_data(sp.csr_matrix(X) if sparse else X)
    stats = np.zeros(2)
    X_before = X.copy()
    VK.cd_epoch_labels(BLAS_KIND, dense, data, ind, ptr, sparse, order, B, labels, *args,
                       case["k"], case["sample_visible"], hyper["lr"], hyper["momentum"],
                       hyper["weight_decay"], seed,
                       np.empty((2 * B, n_vis), np.float32), np.empty((2 * B, n_hid), np.float32),
                       np.empty((B, n_hid), np.float32), np.empty((B, n_pen), np.float32), stats,
                       lower_W, lower_b, lower_sizes, work)
    assert_array_equal(X, X_before)
    for name, got, want in zip(["W", "b_h", "b_v", "W_inc", "b_h_inc", "b_v_inc"], args, ref[:6]):
        if name == "W_inc" and case["momentum"] == 0.0:
            assert not got.any()  # the update was one GEMM into W
            continue
        assert_allclose(got, want, rtol=1e-4, atol=2e-5, err_msg=name)
    assert_allclose(stats[0], ref[6], rtol=1e-4)
    assert stats[1] == n


@pytest.mark.parametrize(
    "n_labels, clamp, linear_hidden, gaussian_visible",
    [(0, False, False, False), (3, True, False, False), (3, False, False, False),
     (0, False, True, False), (0, False, False, True)],
)
def test_gibbs_chain_matches_numpy_reference(n_labels, clamp, linear_hidden, gaussian_visible):
    rng = np.random.RandomState(5)
    n, n_pen, n_hid = 7, 6, 4
    n_vis = n_pen + n_labels
    W = (0.8 * rng.randn(n_hid, n_vis)).astype(np.float32)
    b_h = (0.2 * rng.randn(n_hid)).astype(np.float32)
    b_v = (0.2 * rng.randn(n_vis)).astype(np.float32)
    V0 = rng.rand(n, n_vis).astype(np.float32)
    if n_labels:
        V0[:, n_pen:] = np.eye(n_labels)[rng.randint(0, n_labels, n)]
    seed = np.array([99], np.uint64)
    kw = dict(n_labels=n_labels, clamp=clamp, linear_hidden=linear_hidden, gaussian_visible=gaussian_visible)
    V_ref, H_ref = naive.gibbs_chain(V0, W, b_h, b_v, n_steps=3, state=seed.copy(), **kw)
    V, H = V0.copy(), np.empty((n, n_hid), np.float32)
    VK.gibbs_chain(BLAS_KIND, V, W, b_h, b_v, n_labels, clamp, linear_hidden, gaussian_visible, 3, seed,
                   H, np.empty_like(V))
    assert_allclose(V, V_ref, rtol=1e-5, atol=1e-5)
    assert_allclose(H, H_ref, rtol=1e-5, atol=1e-5)
    if not gaussian_visible:
        assert set(np.unique(V[:, :n_pen])) <= {0.0, 1.0}
    if n_labels:
        assert_array_equal(V[:, n_pen:].sum(1), 1.0)  # exactly one label on
        if clamp:
            assert_array_equal(V[:, n_pen:], V0[:, n_pen:])


def test_label_free_energies_match_numpy_and_the_rbm_free_energy():
    rng = np.random.RandomState(0)
    H0 = (2 * rng.randn(9, 5)).astype(np.float32)
    W_y = rng.randn(5, 3).astype(np.float32)
    b_y = rng.randn(3).astype(np.float32)
    out = np.empty((9, 3))
    VK.label_free_energies(H0, W_y, b_y, out)
    assert_allclose(out, naive.label_free_energies(H0, W_y, b_y), rtol=1e-5)


# --------------------------------------------------------------------------- #
# The DBN with label units, on digits
# --------------------------------------------------------------------------- #


@pytest.fixture(scope="module")
def joint(digits01_module):
    X, y = digits01_module
    return DBN(hidden_layer_sizes=(64, 128), n_iter=10, batch_size=20, joint_labels=True,
               random_state=0).fit(X, y)


@pytest.fixture(scope="module")
def digits01_module():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


def test_joint_top_rbm_and_free_energy_classification(joint, digits01_module):
    X, y = digits01_module
    top = joint.rbms_[-1]
    assert isinstance(top, _JointLabelRBM)
    assert top.components_.shape == (128, 64 + 10)
    assert_array_equal(joint.classes_, np.arange(10))
    rec = joint.history_[-1]["reconstruction_error"]
    assert np.isfinite(rec).all() and rec[-1] < rec[0]
    proba = joint.predict_proba(X[:50])
    assert proba.shape == (50, 10)
    assert_allclose(proba.sum(1), 1.0, rtol=1e-6)
    # p(y | v) is the softmax of -F(v, y): the RBM's own free energy of [v, one_hot(y)].
    P = joint.rbms_[0].transform(X[:50])
    F = np.stack([top.free_energy(np.hstack([P, np.tile(np.eye(10)[c], (50, 1))])) for c in range(10)], 1)
    assert_allclose(proba, naive._softmax(-F), rtol=1e-4, atol=1e-6)
    assert (joint.predict(X) == y).mean() > 0.85  # training accuracy of the generative model
    # transform sums the labels out: sum_y p(y | v) P(h | v, y).
    H = sum(proba[:, [c]] * top.transform(np.hstack([P, np.tile(np.eye(10)[c], (50, 1))]))
            for c in range(10))
    assert_allclose(joint.transform(X[:50]), H, rtol=1e-4, atol=1e-5)
    assert joint.transform(X[:50]).shape == (50, 128)


def test_label_clamped_samples_are_the_clamped_digit(joint, digits01_module):
    X, y = digits01_module
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # constant border pixels
        clf = NearestCentroid().fit(X, y)  # 90% right on the training digits
    wanted = np.repeat(np.arange(10), 10)
    S = joint.sample(labels=wanted, n_gibbs=100, random_state=0)
    assert S.shape == (100, 64) and S.dtype == np.float32
    assert 0.0 <= S.min() and S.max() <= 1.0
    hits = int((clf.predict(S) == wanted).sum())
    # Chance is 1 in 10: a one-sided binomial test at a level that a chance
    # result would essentially never pass.
    assert binomtest(hits, 100, 0.1, alternative="greater").pvalue < 1e-10, hits
    assert hits >= 40, hits


def test_classifier_can_start_from_a_joint_dbn(joint, digits01_module):
    X, y = digits01_module
    coefs, intercepts = joint.unrolled_parameters()
    assert coefs[-1].shape == (64, 128)  # the label units' weights are left out
    assert_array_equal(coefs[-1], joint.rbms_[-1].components_[:, :64].T)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = DBNClassifier((64, 128), init=joint, max_iter=2, random_state=0).fit(X[:300], y[:300])
    assert clf.coefs_[1].shape == (64, 128)


def test_predict_exists_only_with_joint_labels(digits01_module):
    X, y = digits01_module
    assert not hasattr(DBN(), "predict") and not hasattr(DBN(), "predict_proba")
    assert hasattr(DBN(joint_labels=True), "predict")
    with pytest.raises(ValueError, match="needs y"):
        DBN((8,), n_iter=1, joint_labels=True).fit(X)
    with pytest.raises(ValueError, match="at least 2 classes"):
        DBN((8,), n_iter=1, joint_labels=True).fit(X[:20], np.zeros(20))
    with pytest.raises(ValueError, match="inconsistent"):
        DBN((8,), n_iter=1, joint_labels=True).fit(X[:20], y[:10])
    with pytest.raises(ValueError, match="persistent"):
        DBN((8, 4), n_iter=1, persistent=[False, True], joint_labels=True).fit(X[:20], y[:20])
    with pytest.raises(ValueError, match="top_layer"):
        DBN((8,), n_iter=1, joint_labels=True, top_layer="linear").fit(X[:20], y[:20])


def test_per_layer_k_reaches_the_joint_top_rbm(digits01_module):
    # benchmarks/up_down.py --top-k trains only the top RBM with CD-k: the
    # lower layers must be the same as with CD-1 throughout, the top one not.
    X, y = digits01_module
    kw = dict(hidden_layer_sizes=(24, 32), n_iter=2, batch_size=50, joint_labels=True, random_state=0)
    cd1 = DBN(k=1, **kw).fit(X[:400], y[:400])
    top3 = DBN(k=[1, 3], **kw).fit(X[:400], y[:400])
    assert [r.k for r in top3.rbms_] == [1, 3]
    assert_array_equal(top3.rbms_[0].components_, cd1.rbms_[0].components_)
    assert not np.allclose(top3.rbms_[1].components_, cd1.rbms_[1].components_)
    assert np.isfinite(top3.predict_proba(X[:50])).all()


def test_joint_top_rbm_progress_line_has_no_nan(digits01_module, capsys):
    # The labelled top RBM's pseudo-likelihood is NaN by design (softmax
    # group): its progress line leaves it out instead of printing "nan".
    X, y = digits01_module
    DBN((16, 24), n_iter=1, batch_size=50, joint_labels=True, verbose=1, random_state=0).fit(X[:200], y[:200])
    lines = [line for line in capsys.readouterr().out.splitlines() if "Iteration" in line]
    top = [line for line in lines if line.startswith("[_JointLabelRBM]")]
    assert len(lines) == 2 and len(top) == 1
    assert "pseudo-likelihood" in lines[0] and "nan" not in top[0] and "reconstruction error" in top[0]


def test_single_layer_joint_dbn_with_string_labels(digits01_module):
    X, y = digits01_module
    names = np.array(["zero", "one", "two"])
    keep = y < 3
    dbn = DBN((16,), n_iter=3, joint_labels=True, random_state=0).fit(sp.csr_matrix(X[keep]), names[y[keep]])
    assert_array_equal(dbn.classes_, np.sort(names))
    assert set(dbn.predict(X[:5])) <= set(names)
    S = dbn.sample(labels=["two", "two"], n_gibbs=3)
    assert S.shape == (2, 64)
    with pytest.raises(ValueError, match="among classes_"):
        dbn.sample(labels=["three"])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        dbn.predict(X[:5] * 2)


# --------------------------------------------------------------------------- #
# Sampling from plain stacks
# --------------------------------------------------------------------------- #


@pytest.fixture(scope="module")
def plain(digits01_module):
    X, _ = digits01_module
    return DBN(hidden_layer_sizes=(32, 16), n_iter=3, random_state=0).fit(X)


def test_sample_shapes_ranges_and_determinism(plain, digits01_module):
    X, _ = digits01_module
    S = plain.sample(5, n_gibbs=20)
    assert S.shape == (5, 64) and S.dtype == np.float32
    assert 0.0 <= S.min() and S.max() <= 1.0
    assert not np.isin(S, [0.0, 1.0]).all()  # probabilities, not binary states
    assert_array_equal(plain.sample(5, n_gibbs=20), S)  # the estimator's random_state
    again = plain.sample(5, n_gibbs=20, random_state=1)
    assert_array_equal(plain.sample(5, n_gibbs=20, random_state=1), again)
    assert not np.array_equal(plain.sample(5, n_gibbs=20, random_state=1), S)
    assert plain.sample(n_gibbs=1).shape == (1, 64)
    X_before = X[:4].copy()
    assert plain.sample(start=X[:4], n_gibbs=2).shape == (4, 64)
    assert_array_equal(X[:4], X_before)


def test_sample_bad_arguments(plain, digits01_module):
    X, _ = digits01_module
    with pytest.raises(ValueError, match="joint_labels"):
        plain.sample(labels=[1, 2])
    with pytest.raises(ValueError, match="n_gibbs"):
        plain.sample(2, n_gibbs=0)
    with pytest.raises(ValueError, match="n_samples"):
        plain.sample(0)
    with pytest.raises(ValueError, match="must agree"):
        plain.sample(3, start=X[:2])
    with pytest.raises(ValueError, match="64 features"):
        plain.sample(start=X[:2, :10])


def test_sample_from_gaussian_and_linear_stacks():
    rng = np.random.RandomState(0)
    X = StandardScaler().fit_transform(rng.randn(200, 6)).astype(np.float32)
    single = DBN((5,), n_iter=2, random_state=0).fit(X)
    assert isinstance(single.rbms_[0], GaussianBernoulliRBM)
    S = single.sample(4, n_gibbs=5)
    assert S.shape == (4, 6) and (S < 0).any()  # real-valued means
    deep = DBN((5, 3), n_iter=2, top_layer="linear", random_state=0).fit(X)
    S = deep.sample(4, n_gibbs=5)
    assert S.shape == (4, 6) and np.isfinite(S).all()
