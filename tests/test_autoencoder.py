"""Tests of dbn.autoencoder (DBNAutoencoder) and of its code layer (LinearHiddenRBM)."""

import pickle
import warnings

import naive
import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks
from test_rbm import _BERNOULLI_XFAIL

from dbn import DBN, DBNAutoencoder, DBNClassifier, DivergenceError, LinearHiddenRBM
from dbn import _network as engine
from dbn import _rbm_variant_kernels as VK
from dbn._blas import BLAS_KIND
from dbn.rbm import kernel_data


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture(scope="module")
def digits():
    X, _ = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return X[:1400], X[1400:]


# --------------------------------------------------------------------------- #
# The linear-hidden RBM: kernel against the NumPy reference, free energy
# --------------------------------------------------------------------------- #

LINEAR_CASES = [
    dict(k=1, persistent=False, sample_visible=False, momentum=0.0, weight_decay=0.0),
    dict(k=2, persistent=False, sample_visible=True, momentum=0.5, weight_decay=0.01),
    dict(k=2, persistent=True, sample_visible=False, momentum=0.9, weight_decay=0.0),
]


@pytest.mark.parametrize("case", LINEAR_CASES)
@pytest.mark.parametrize("n_below, sparse", [(0, False), (0, True), (2, False)])
def test_cd_epoch_linear_matches_numpy_reference(case, n_below, sparse):
    rng = np.random.RandomState(3)
    n, n_vis, n_hid, B = 23, 7, 3, 5
    widths = [9, 6, n_vis][-1 - n_below:]
    X = (rng.rand(n, widths[0]) < 0.4).astype(np.float32)
    Ws = [(0.5 * rng.randn(b, a)).astype(np.float32) for a, b in zip(widths[:-1], widths[1:])]
    bs = [(0.1 * rng.randn(b)).astype(np.float32) for b in widths[1:]]
    lower_W = np.concatenate([W.ravel() for W in Ws]) if Ws else np.empty(0, np.float32)
    lower_b = np.concatenate(bs) if bs else np.empty(0, np.float32)
    lower_sizes = np.array(widths, np.int64)
    X_in = X.astype(np.float64)
    for W_l, b_l in zip(Ws, bs):
        X_in = naive.sigmoid(X_in @ W_l.T.astype(np.float64) + b_l)
    W = (0.3 * rng.randn(n_hid, n_vis)).astype(np.float32)
    b_h = (0.1 * rng.randn(n_hid)).astype(np.float32)
    b_v = (0.1 * rng.randn(n_vis)).astype(np.float32)
    W_inc = (0.01 * rng.randn(n_hid, n_vis)).astype(np.float32)
    b_h_inc, b_v_inc = np.zeros(n_hid, np.float32), np.zeros(n_vis, np.float32)
    chains = rng.randn(B, n_hid).astype(np.float32)
    order = rng.permutation(n).astype(np.int64)
    flags = {key: case[key] for key in ("k", "persistent", "sample_visible")}
    hyper = dict(lr=0.05, momentum=case["momentum"], weight_decay=case["weight_decay"])
    seed = np.array([777], np.uint64)
    ref = naive.cd_epoch_linear(X_in.astype(np.float32), order, B, W, b_h, b_v, W_inc, b_h_inc, b_v_inc,
                                chains, state=seed.copy(), **flags, **hyper)
    args = [a.copy() for a in (W, b_h, b_v, W_inc, b_h_inc, b_v_inc, chains)]
    dense, data, ind, ptr, _ = kernel_data(sp.csr_matrix(X) if sparse else X)
    stats = np.zeros(2)
    work = np.empty(B * int(lower_sizes[:-1].sum()), np.float32)
    VK.cd_epoch_linear(BLAS_KIND, dense, data, ind, ptr, sparse, order, B, *args,
                       flags["k"], flags["persistent"], flags["sample_visible"], hyper["lr"],
                       hyper["momentum"], hyper["weight_decay"], seed,
                       np.empty((2 * B, n_vis), np.float32), np.empty((2 * B, n_hid), np.float32),
                       np.empty((B, n_hid), np.float32), stats, lower_W, lower_b, lower_sizes, work)
    names = ["W", "b_h", "b_v", "W_inc", "b_h_inc", "b_v_inc", "chains"]
    for name, got, want in zip(names, args, ref[:7]):
        if name == "W_inc" and case["momentum"] == 0.0:
            assert not got.any()
            continue
        assert_allclose(got, want, rtol=1e-4, atol=2e-5, err_msg=name)
    assert_allclose(stats[0], ref[7], rtol=1e-4)
    assert stats[1] == ref[8]


def test_linear_hidden_free_energy_and_pseudo_likelihood():
    rng = np.random.RandomState(0)
    X = (rng.rand(12, 5) < 0.5).astype(np.float32)
    rbm = LinearHiddenRBM(n_components=2, n_iter=0, random_state=0).fit(X)
    rbm.components_ = rng.randn(2, 5).astype(np.float32)
    rbm.intercept_hidden_ = rng.randn(2).astype(np.float32)
    rbm.intercept_visible_ = rng.randn(5).astype(np.float32)
    W, b_h, b_v = (a.astype(np.float64) for a in (rbm.components_, rbm.intercept_hidden_,
                                                   rbm.intercept_visible_))
    # E(v, h) = -b_v.v + |h - b_h|^2 / 2 - h.W.v; F(v) = -log of its integral over h,
    # which factorises over the hidden units: numerical quadrature of each.
    h = np.linspace(-40.0, 40.0, 40001)
    X64 = X.astype(np.float64)
    F = -X64 @ b_v
    for j in range(2):
        x = X64 @ W[j]
        integrand = np.exp(-0.5 * (h[None, :] - b_h[j]) ** 2 + h[None, :] * x[:, None])
        F -= np.log(np.trapezoid(integrand, h, axis=1))
    assert_allclose(rbm.free_energy(X), F, rtol=1e-6)
    # Pseudo-likelihood: scikit-learn's formula with the free energy above.
    got = rbm.score_samples(X)
    flip = np.random.RandomState(0).randint(0, 5, len(X))
    X_ = X.copy()
    X_[np.arange(len(X)), flip] = 1 - X_[np.arange(len(X)), flip]
    assert_allclose(got, -5 * np.logaddexp(0, -(rbm.free_energy(X_) - rbm.free_energy(X))), rtol=1e-5)


def test_linear_hidden_rbm_learns_real_valued_codes(digits):
    X, _ = digits
    rbm = LinearHiddenRBM(n_components=8, learning_rate=0.01, batch_size=20, n_iter=8, momentum="hinton",
                          random_state=0).fit(X)
    rec = rbm.history_["reconstruction_error"]
    assert np.isfinite(rbm.history_["pseudo_likelihood"]).all()
    assert rec[-1] < 0.7 * rec[0]
    codes = rbm.transform(X)
    assert codes.dtype == np.float32 and (codes < 0).any() and (np.abs(codes) > 1).any()
    assert_allclose(codes, X @ rbm.components_.T + rbm.intercept_hidden_, rtol=1e-5, atol=1e-5)
    V = rbm.inverse_transform(codes)  # real-valued hidden states are accepted
    assert V.shape == X.shape and 0 <= V.min() and V.max() <= 1
    assert set(np.unique(rbm.gibbs(X[:3]))) <= {0.0, 1.0}
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        rbm.fit(X * 2)


@parametrize_with_checks([LinearHiddenRBM(n_components=3, n_iter=2)],
                         expected_failed_checks=lambda est: _BERNOULLI_XFAIL)
def test_linear_hidden_rbm_sklearn_checks(estimator, check):
    check(estimator)


# --------------------------------------------------------------------------- #
# The autoencoder's loss and gradient
# --------------------------------------------------------------------------- #


def _ref_autoencoder_loss(params, layout, X, activations, output):
    """Mean reconstruction loss per sample, float64 NumPy."""
    coefs, intercepts = engine.unpack(np.asarray(params, np.float64), layout)
    a = X.astype(np.float64)
    for layer, (w, b) in enumerate(zip(coefs, intercepts)):
        z = a @ w + b
        if layer < len(coefs) - 1:
            a = naive.sigmoid(z) if activations[layer] == "logistic" else z
    if output == "logistic":
        per_row = (np.logaddexp(0.0, z) - X * z).sum(1)
    else:
        per_row = 0.5 * ((z - X) ** 2).sum(1)
    return per_row.mean()


@pytest.mark.parametrize("output", ["logistic", "identity"])
def test_autoencoder_gradient_matches_finite_differences(output):
    rng = np.random.RandomState(4)
    X = rng.rand(11, 6).astype(np.float32) if output == "logistic" else rng.randn(11, 6).astype(np.float32)
    sizes = [6, 5, 3, 5, 6]
    activations = ["logistic", "identity", "logistic"]
    layout = engine.make_layout(sizes)
    params = rng.normal(0, 0.7, layout.n_params).astype(np.float32)
    loss, grad = engine.loss_and_gradient(params, layout, X, X, activation=activations, output=output)
    f = lambda p: _ref_autoencoder_loss(p, layout, X, activations, output)  # noqa: E731
    assert loss == pytest.approx(f(params), rel=1e-5)
    eps, p = 1e-6, params.astype(np.float64)
    numeric = np.empty_like(p)
    for i in range(p.size):
        old = p[i]
        p[i] = old + eps
        up = f(p)
        p[i] = old - eps
        numeric[i] = (up - f(p)) / (2 * eps)
        p[i] = old
    assert_allclose(grad, numeric, rtol=1e-3, atol=2e-6)


# --------------------------------------------------------------------------- #
# The estimator
# --------------------------------------------------------------------------- #

FAST = dict(hidden_layer_sizes=(64, 32, 8), pretrain_n_iter=10, pretrain_batch_size=20,
            learning_rate_init=0.03, max_iter=30)


@pytest.fixture(scope="module")
def fitted(digits):
    X, _ = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return {init: DBNAutoencoder(**FAST, init=init, random_state=0).fit(X) for init in ("dbn", "normal")}


def test_unrolled_decoder_starts_as_the_transposed_encoder(digits):
    X, _ = digits
    stack = DBN((32, 16, 8), n_iter=2, top_layer="linear", random_state=0).fit(X)
    assert isinstance(stack.rbms_[-1], LinearHiddenRBM)
    assert stack.rbms_[-1].learning_rate == pytest.approx(0.001)  # a hundredth, as in the paper's code
    ae = DBNAutoencoder((32, 16, 8), init=stack, max_iter=1, learning_rate_init=1e-30).fit(X)
    assert ae.dbn_ is stack and ae.n_layers_ == 7
    coefs, intercepts = ae.coefs_, ae.intercepts_
    assert [c.shape for c in coefs] == [(64, 32), (32, 16), (16, 8), (8, 16), (16, 32), (32, 64)]
    for i, rbm in enumerate(stack.rbms_):
        assert_array_equal(coefs[i], rbm.components_.T)
        assert_array_equal(intercepts[i], rbm.intercept_hidden_)
        assert_array_equal(coefs[5 - i], rbm.components_)  # tied at initialisation
        assert_array_equal(intercepts[5 - i], rbm.intercept_visible_)
    # Then untied: fine-tuning changes the encoder and the decoder independently.
    ae.set_params(learning_rate_init=0.03, max_iter=3).fit(X)
    assert not np.allclose(ae.coefs_[0], ae.coefs_[5].T, atol=1e-4)


def test_reconstructs_better_than_pca_and_random_init_reconstructs_the_average(fitted, digits):
    X, X_test = digits
    pca = PCA(8).fit(X)
    pca_error = ((pca.inverse_transform(pca.transform(X_test)) - X_test) ** 2).sum(1).mean()
    mean_error = ((X.mean(0) - X_test) ** 2).sum(1).mean()
    dbn_error = -fitted["dbn"].score(X_test)
    random_error = -fitted["normal"].score(X_test)
    assert dbn_error < 0.85 * pca_error, (dbn_error, pca_error)
    # Hinton & Salakhutdinov: without pretraining, the deep net learns the average.
    assert random_error > 0.9 * mean_error, (random_error, mean_error)
    assert fitted["dbn"].pretraining_history_ and not fitted["normal"].pretraining_history_
    assert len(fitted["dbn"].loss_curve_) == fitted["dbn"].n_iter_ == 30
    assert fitted["dbn"].loss_curve_[-1] < fitted["dbn"].loss_curve_[0]


def test_transform_inverse_transform_and_score_agree(fitted, digits):
    ae = fitted["dbn"]
    X, X_test = digits
    X_before = X_test.copy()
    codes = ae.transform(X_test)
    assert codes.shape == (len(X_test), 8) and codes.dtype == np.float32
    assert (codes < 0).any()  # linear code units
    rec = ae.inverse_transform(codes)
    assert rec.dtype == np.float32 and 0 <= rec.min() and rec.max() <= 1
    assert_allclose(ae.reconstruct(X_test), rec, rtol=1e-5, atol=1e-6)
    assert ae.score(X_test) == pytest.approx(-((rec - X_test) ** 2).sum(1).mean(), rel=1e-5)
    assert_array_equal(X_test, X_before)
    assert ae.loss_ == "cross_entropy" and ae.out_activation_ == "logistic"
    assert list(ae.get_feature_names_out()[:2]) == ["dbnautoencoder0", "dbnautoencoder1"]
    again = pickle.loads(pickle.dumps(ae))
    assert_array_equal(again.transform(X_test), codes)


def test_squared_error_for_real_valued_data():
    rng = np.random.RandomState(0)
    latent = rng.randn(300, 2)
    X = StandardScaler().fit_transform(np.tanh(latent @ rng.randn(2, 10)) + 0.05 * rng.randn(300, 10))
    ae = DBNAutoencoder((16, 2), pretrain_n_iter=20, pretrain_batch_size=10, max_iter=20,
                        learning_rate_init=0.01, random_state=0)
    ae.fit(X)
    assert ae.loss_ == "squared_error" and ae.out_activation_ == "identity"
    assert type(ae.dbn_.rbms_[0]).__name__ == "GaussianBernoulliRBM"
    assert -ae.score(X) < 0.1 * (X ** 2).sum(1).mean()  # the average reconstructs with error 10
    with pytest.raises(ValueError, match=r"cross_entropy.*\[0, 1\]"):
        DBNAutoencoder((4, 2), loss="cross_entropy").fit(X)


def test_same_seed_same_fit_and_streams(digits):
    X, _ = digits
    kw = dict(hidden_layer_sizes=(16, 4), pretrain_n_iter=1, max_iter=2, random_state=3)
    a, b = DBNAutoencoder(**kw).fit(X), DBNAutoencoder(**kw).fit(X)
    assert a.loss_curve_ == b.loss_curve_
    assert_array_equal(a.transform(X), b.transform(X))
    c = DBNAutoencoder(**{**kw, "random_state": 4}).fit(X)
    assert a.loss_curve_ != c.loss_curve_


def test_warm_start_early_stopping_and_verbose(digits, capsys):
    X, _ = digits
    ae = DBNAutoencoder((16, 4), pretrain_n_iter=1, max_iter=2, warm_start=True, random_state=0,
                        verbose=1).fit(X)
    first = ae.coefs_[0].copy()
    ae.fit(X)
    assert ae.n_iter_ == 4 == len(ae.loss_curve_)
    assert not np.array_equal(first, ae.coefs_[0])
    out = capsys.readouterr().out
    assert "[DBNAutoencoder] Iteration 4" in out and "left" in out and "[LinearHiddenRBM]" in out
    es = DBNAutoencoder((16, 4), init="glorot", max_iter=3, early_stopping=True, random_state=0).fit(X)
    assert len(es.validation_scores_) == 3 and es.best_validation_score_ == max(es.validation_scores_)



def test_learning_rate_decay_continues_over_warm_starts(digits, epoch_schedule):
    X, _ = digits
    kw = dict(hidden_layer_sizes=(16, 4), init="glorot", learning_rate="exponential",
              learning_rate_init=0.01, learning_rate_decay=0.5, random_state=0)
    DBNAutoencoder(**kw, max_iter=4).fit(X)
    once, epoch_schedule[:] = [lr for _, lr in epoch_schedule], []
    ae = DBNAutoencoder(**kw, max_iter=2, warm_start=True).fit(X)
    ae.fit(X)
    assert [lr for _, lr in epoch_schedule] == pytest.approx(once, rel=1e-12)
    assert once == pytest.approx([0.01, 0.005, 0.0025, 0.00125], rel=1e-12)


def test_keyboard_interrupt_keeps_completed_epochs(digits, interrupt_on_call):
    X, _ = digits
    interrupt_on_call(engine.SGDTrainer, "epoch", 3)
    ae = DBNAutoencoder((16, 4), init="normal", max_iter=5, random_state=0)
    with pytest.warns(UserWarning, match="interrupted by user after 2"):
        assert ae.fit(X) is ae
    assert ae.n_iter_ == 2 == len(ae.loss_curve_) == ae.gradient_norms_.shape[0]
    ref = DBNAutoencoder((16, 4), init="normal", max_iter=2, random_state=0).fit(X)
    assert ae.loss_curve_ == ref.loss_curve_
    assert_array_equal(ae.coefs_[0], ref.coefs_[0])


def test_divergence_keeps_last_finite_weights():
    rng = np.random.RandomState(0)
    X = rng.randn(100, 5) * 100
    ae = DBNAutoencoder((4, 2), init="normal", learning_rate_init=1e3, max_iter=50, random_state=0)
    with pytest.raises(DivergenceError, match="epoch.*smaller"):
        ae.fit(X)
    assert all(np.isfinite(c).all() for c in ae.coefs_)
    assert ae.n_iter_ == len(ae.loss_curve_)


def test_bad_input_and_bad_init(digits):
    X, _ = digits
    ae = DBNAutoencoder((8, 4), pretrain_n_iter=1, max_iter=1)
    with pytest.raises(NotFittedError):
        ae.transform(X)
    for bad, match in [(np.array([[0.0, np.nan], [1.0, 0.0]]), "NaN"), (np.empty((0, 3)), "0 sample"),
                       (sp.csr_matrix(X), "dense")]:
        with pytest.raises(ValueError, match=match):
            DBNAutoencoder((8, 4), max_iter=1).fit(bad)
    ae.fit(X)
    with pytest.raises(ValueError, match="64 features"):
        ae.transform(X[:, :10])
    with pytest.raises(ValueError, match=r"codes of shape \(n_samples, 4\)"):
        ae.inverse_transform(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        DBNAutoencoder((8, 0)).fit(X)
    bernoulli_top = DBN((8, 4), n_iter=1).fit(X)
    with pytest.raises(ValueError, match="linear code layer"):
        DBNAutoencoder((8, 4), init=bernoulli_top, max_iter=1).fit(X)
    linear_top = DBN((8, 4), n_iter=1, top_layer="linear").fit(X)
    with pytest.raises(ValueError, match="layer sizes"):
        DBNAutoencoder((8, 3), init=linear_top, max_iter=1).fit(X)
    with pytest.raises(ValueError, match="linear top layer"):  # a classifier's hidden units are logistic
        DBNClassifier((8, 4), init=linear_top, max_iter=1).fit(X, np.arange(len(X)) % 2)


@parametrize_with_checks([DBNAutoencoder(hidden_layer_sizes=(6, 3), pretrain_n_iter=2, max_iter=5)])
def test_sklearn_compatible_estimator(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)
