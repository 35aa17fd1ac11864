"""Tests of up-down fine-tuning (dbn._up_down_kernels, DBN(up_down_n_iter=...))."""

import pickle

import naive
import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone

from dbn import DBN, DBNClassifier
from dbn import _up_down_kernels as UK
from dbn._blas import BLAS_KIND
from dbn.exceptions import DivergenceError
from dbn.rbm import kernel_data

# --------------------------------------------------------------------------- #
# The kernel against the NumPy reference
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("k, weight_decay", [(1, 0.0), (3, 0.01)])
@pytest.mark.parametrize("widths, sparse", [([9, 6], False), ([9, 7, 6], False), ([9, 7, 6], True)])
def test_up_down_epoch_matches_numpy_reference(k, weight_decay, widths, sparse):
    rng = np.random.RandomState(5)
    n, n_labels, n_top, B = 23, 3, 5, 5  # 23 rows: the last batch is smaller
    X = (rng.rand(n, widths[0]) < 0.4).astype(np.float32)
    X[:, 0] = 0.3  # probabilities are data too
    labels = rng.randint(0, n_labels, n).astype(np.int64)
    pairs = list(zip(widths[:-1], widths[1:]))
    Rs = [(0.5 * rng.randn(hi, lo)).astype(np.float32) for lo, hi in pairs]
    Gs = [(0.5 * rng.randn(hi, lo)).astype(np.float32) for lo, hi in pairs]
    rbs = [(0.1 * rng.randn(hi)).astype(np.float32) for lo, hi in pairs]
    gbs = [(0.1 * rng.randn(lo)).astype(np.float32) for lo, hi in pairs]
    n_vis = widths[-1] + n_labels
    W = (0.5 * rng.randn(n_top, n_vis)).astype(np.float32)
    b_h = (0.1 * rng.randn(n_top)).astype(np.float32)
    b_v = (0.1 * rng.randn(n_vis)).astype(np.float32)
    order = rng.permutation(n).astype(np.int64)
    seed = np.array([987], np.uint64)

    ref = naive.up_down_epoch(X, labels, n_labels, order, B, Rs, rbs, Gs, gbs, W, b_h, b_v, k=k, lr=0.1,
                              weight_decay=weight_decay, state=seed.copy())

    def packed(arrays):
        return np.concatenate([a.ravel() for a in arrays]).astype(np.float32)

    R, r_b, G, g_b = packed(Rs), packed(rbs), packed(Gs), packed(gbs)
    W_k, b_h_k, b_v_k = W.copy(), b_h.copy(), b_v.copy()
    sizes = np.array(widths, np.int64)
    dense, data, ind, ptr, _ = kernel_data(sp.csr_matrix(X) if sparse else X)
    stats = np.zeros(2)
    X_before = X.copy()
    UK.up_down_epoch(BLAS_KIND, dense, data, ind, ptr, sparse, order, B, labels, R, r_b, G, g_b, sizes,
                     W_k, b_h_k, b_v_k, np.zeros(n_top, np.float32), np.zeros(n_vis, np.float32),
                     np.empty((1, 1), np.float32), k, 0.1, weight_decay, seed,
                     np.empty(B * sizes.sum(), np.float32), np.empty(B * sizes.sum(), np.float32),
                     np.empty(B * sizes.max(), np.float32), np.empty((2 * B, n_vis), np.float32),
                     np.empty((2 * B, n_top), np.float32), np.empty((B, n_top), np.float32), stats)
    assert_array_equal(X, X_before)
    tol = dict(rtol=1e-4, atol=2e-5)
    assert_allclose(R, packed(ref[0]), err_msg="R", **tol)
    assert_allclose(r_b, packed(ref[1]), err_msg="r_b", **tol)
    assert_allclose(G, packed(ref[2]), err_msg="G", **tol)
    assert_allclose(g_b, packed(ref[3]), err_msg="g_b", **tol)
    for name, got, want in zip(["W", "b_h", "b_v"], [W_k, b_h_k, b_v_k], ref[4:7]):
        assert_allclose(got, want, err_msg=name, **tol)
    assert_allclose(stats[0], ref[7], rtol=1e-4)
    assert stats[1] == n
    # Every part learned: nothing is left as it was.
    assert not np.allclose(R, packed(Rs)) and not np.allclose(G, packed(Gs)) and not np.allclose(W_k, W)


# --------------------------------------------------------------------------- #
# DBN(up_down_n_iter=...)
# --------------------------------------------------------------------------- #

FAST = dict(hidden_layer_sizes=(48, 32, 64), n_iter=8, batch_size=20, joint_labels=True, random_state=0)


@pytest.fixture(scope="module")
def digits_split():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    rng = np.random.RandomState(0)
    idx = rng.permutation(len(X))
    return X[idx[:1200]], y[idx[:1200]], X[idx[1200:]], y[idx[1200:]]


@pytest.fixture(scope="module")
def fitted(digits_split):
    X, y, X_test, y_test = digits_split
    greedy = DBN(**FAST).fit(X, y)
    tuned = DBN(**FAST, up_down_n_iter=12, up_down_learning_rate=0.1).fit(X, y)
    return greedy, tuned


def test_up_down_learns_the_generative_model_and_keeps_classifying(fitted, digits_split):
    X, y, X_test, y_test = digits_split
    greedy, tuned = fitted
    h = tuned.up_down_history_
    assert h["epoch"] == list(range(12)) and len(h["train_error"]) == len(h["time"]) == 12
    # The data's generative reconstruction improves steadily...
    rec = h["reconstruction_error"]
    assert rec[-1] < 0.9 * rec[0] and np.mean(rec[-3:]) < np.mean(rec[:3])
    # ... and the classifier, now reading the recognition weights, is no
    # worse on held-out digits than the greedy stack (it was better here).
    err_greedy = np.mean(greedy.predict(X_test) != y_test)
    err_tuned = np.mean(tuned.predict(X_test) != y_test)
    assert err_tuned <= err_greedy + 0.01
    # The monitored training error is that of predict on training rows.
    assert 0.0 <= h["train_error"][-1] <= np.mean(tuned.predict(X) != y) + 0.05


def test_up_down_unties_the_weights_below_the_top(fitted):
    greedy, tuned = fitted
    sizes = [64, 48, 32]
    assert len(tuned.generative_weights_) == len(tuned.generative_biases_) == 2
    for i, (G, g) in enumerate(zip(tuned.generative_weights_, tuned.generative_biases_)):
        assert G.shape == (sizes[i + 1], sizes[i]) and G.dtype == np.float32 and g.shape == (sizes[i],)
        R = tuned.rbms_[i].components_
        assert R.shape == G.shape and not np.allclose(R, G)  # untied
        # Both moved away from the greedy weights they started from.
        assert not np.allclose(R, greedy.rbms_[i].components_)
        assert not np.allclose(G, greedy.rbms_[i].components_)
    assert not np.allclose(tuned.rbms_[-1].components_, greedy.rbms_[-1].components_)
    assert not hasattr(greedy, "generative_weights_") and not hasattr(greedy, "up_down_history_")
    # A later fit without up-down leaves no stale generative weights.
    again = clone(tuned).set_params(up_down_n_iter=0, n_iter=1)
    again.generative_weights_ = "stale"
    again.fit(np.zeros((4, 64), np.float32) + np.eye(4, 64, dtype=np.float32), [0, 1, 0, 1])
    assert not hasattr(again, "generative_weights_")


def test_hinton_schedule_of_gibbs_steps(digits_split):
    X, y, _, _ = digits_split
    model = DBN(**dict(FAST, n_iter=1), up_down_n_iter=6).fit(X[:200], y[:200])
    assert model.up_down_history_["k"] == [3, 3, 6, 6, 10, 10]
    model = DBN(**dict(FAST, n_iter=1), up_down_n_iter=2, up_down_k=4).fit(X[:200], y[:200])
    assert model.up_down_history_["k"] == [4, 4]


def test_recognition_weights_serve_transform_predict_and_classifier_init(fitted, digits_split):
    X, y, X_test, _ = digits_split
    _, tuned = fitted
    # The up pass reads the recognition weights.
    a = X_test
    for rbm in tuned.rbms_[:-1]:
        a = naive.sigmoid(a @ rbm.components_.T.astype(np.float64) + rbm.intercept_hidden_)
    top = tuned.rbms_[-1]
    n_pen = a.shape[1]
    F = np.stack([-top.intercept_visible_[n_pen + c]
                  - naive.softplus(a @ top.components_[:, :n_pen].T + top.components_[:, n_pen + c]
                                   + top.intercept_hidden_).sum(1) for c in range(10)], axis=1)
    assert_array_equal(tuned.predict(X_test), tuned.classes_[F.argmin(1)])
    clf = DBNClassifier(hidden_layer_sizes=(48, 32, 64), init=tuned, max_iter=1, random_state=0)
    params = tuned.unrolled_parameters()
    assert_array_equal(params[0][0], tuned.rbms_[0].components_.T)
    clf.fit(X, y)  # fine-tunes from the recognition weights without complaint
    assert clf.score(X, y) > 0.5


def test_sample_comes_down_through_the_generative_weights(fitted):
    _, tuned = fitted
    model = pickle.loads(pickle.dumps(tuned))
    model.generative_weights_[0][:] = 0.0
    model.generative_biases_[0][:] = np.linspace(-3, 3, 64, dtype=np.float32)
    out = model.sample(5, labels=[0, 1, 2, 3, 4], n_gibbs=3, random_state=0)
    # The bottom layer is the generative one's: with zero weights, its biases alone.
    assert_allclose(out, np.broadcast_to(naive.sigmoid(model.generative_biases_[0]), out.shape), rtol=1e-6)
    # The real generative weights give digit-like, non-constant samples.
    real = tuned.sample(5, labels=[0, 1, 2, 3, 4], n_gibbs=50, random_state=0)
    assert real.shape == (5, 64) and real.std(axis=0).mean() > 0.05


def test_up_down_checks_its_settings(digits_split):
    X, y, _, _ = digits_split
    with pytest.raises(ValueError, match="needs joint_labels=True"):
        DBN(**dict(FAST, joint_labels=False), up_down_n_iter=1).fit(X, y)
    with pytest.raises(ValueError, match="at least two layers"):
        DBN(**dict(FAST, hidden_layer_sizes=(16,)), up_down_n_iter=1).fit(X, y)
    with pytest.raises(ValueError, match="needs binary data"):
        DBN(**FAST, up_down_n_iter=1).fit(X * 3 - 1, y)
    with pytest.raises(ValueError, match="up_down_k"):
        DBN(**FAST, up_down_n_iter=1, up_down_k=0).fit(X, y)
    with pytest.raises(ValueError, match="up_down_learning_rate"):
        DBN(**FAST, up_down_n_iter=1, up_down_learning_rate=-1.0).fit(X, y)


def _after_calls(monkeypatch, from_call, change):
    """From the ``from_call``-th epoch of up-down on, ``change(W, n)`` alters
    the top RBM's weights ``W`` after the kernel ran (``n``: the call)."""
    original = UK.up_down_epoch
    calls = {"n": 0}

    def altered(*args):
        original(*args)
        calls["n"] += 1
        if calls["n"] >= from_call:
            change(args[14], calls["n"])

    monkeypatch.setattr(UK, "up_down_epoch", altered)


def test_divergence_keeps_the_last_finite_epoch(digits_split, monkeypatch):
    X, y, _, _ = digits_split
    _after_calls(monkeypatch, 3, lambda W, n: W.__setitem__((0, 0), np.inf))
    model = DBN(**dict(FAST, n_iter=1), up_down_n_iter=5, up_down_learning_rate=0.1)
    with pytest.raises(DivergenceError, match=r"non-finite in epoch 3.*last finite epoch \(2\)"):
        model.fit(X[:200], y[:200])
    assert len(model.up_down_history_["epoch"]) == 2
    assert np.isfinite(model.rbms_[-1].components_).all()


def test_a_collapse_to_guessing_is_warned_about(digits_split, monkeypatch):
    from sklearn.exceptions import ConvergenceWarning

    X, y, _, _ = digits_split

    def scramble(W, n):  # finite weights that no longer know the labels
        W[:] = np.random.RandomState(n).randn(*W.shape).astype(np.float32)

    _after_calls(monkeypatch, 3, scramble)
    with pytest.warns(ConvergenceWarning, match=r"lost what it had learned.*rose from .*epoch [12]\)"):
        model = DBN(**FAST, up_down_n_iter=4, up_down_learning_rate=0.1).fit(X, y)
    assert np.isfinite(model.rbms_[-1].components_).all()
    # The healthy fits of the other tests warn of nothing (pytest runs them
    # with warnings as they are); this one's history shows the collapse.
    assert model.up_down_history_["train_error"][-1] > 0.5


def _arrays(model):
    return ([r.components_ for r in model.rbms_] + [r.intercept_hidden_ for r in model.rbms_]
            + [model.rbms_[-1].intercept_visible_] + model.generative_weights_ + model.generative_biases_)


def test_interrupted_up_down_keeps_its_epochs_and_resumes_exactly(digits_split, tmp_path, interrupt_on_call):
    X, y = digits_split[0][:300], digits_split[1][:300]
    kw = dict(FAST, n_iter=2, up_down_n_iter=5, up_down_learning_rate=0.1)
    whole = DBN(**kw).fit(X, y)

    # Ctrl-C in the 3rd epoch: the first two are kept, with a warning.
    interrupt_on_call(UK, "up_down_epoch", 3)
    model = DBN(**kw, checkpoint_dir=str(tmp_path))
    model._PARTIAL_EVERY = 0.0  # save after every epoch
    with pytest.warns(UserWarning, match="up-down fine-tuning interrupted by user after 2 of 5 epochs"):
        model.fit(X, y)
    assert len(model.up_down_history_["epoch"]) == 2
    # The greedy layers it saved are those of a fit without up-down.
    plain = DBN(**dict(kw, up_down_n_iter=0)).fit(X, y)
    for i, rbm in enumerate(plain.rbms_):
        with open(tmp_path / f"layer_{i}.pkl", "rb") as f:
            assert_array_equal(pickle.load(f)["rbm"].components_, rbm.components_)

    # A new fit with the same settings resumes after epoch 2 and ends where
    # the uninterrupted fit did.
    resumed = DBN(**kw, checkpoint_dir=str(tmp_path)).fit(X, y)
    assert UK.up_down_epoch.calls["n"] == 3 + 3
    assert resumed.up_down_history_["epoch"] == list(range(5))
    for a, b in zip(_arrays(resumed), _arrays(whole)):
        assert_array_equal(a, b)
    # Other settings do not resume from that file, nor does an unseeded fit
    # (whose layers are trained anew).
    DBN(**dict(kw, up_down_learning_rate=0.05), checkpoint_dir=str(tmp_path)).fit(X, y)
    assert UK.up_down_epoch.calls["n"] == 6 + 5
    for _ in range(2):
        DBN(**dict(kw, random_state=None), checkpoint_dir=str(tmp_path / "unseeded")).fit(X, y)
    assert UK.up_down_epoch.calls["n"] == 11 + 5 + 5


def test_up_down_is_reproducible_and_pickles(digits_split):
    X, y = digits_split[0][:300], digits_split[1][:300]
    kw = dict(FAST, n_iter=2, up_down_n_iter=3)
    a = DBN(**kw).fit(X, y)
    b = pickle.loads(pickle.dumps(DBN(**kw).fit(X, y)))
    for x, z in zip(_arrays(a), _arrays(b)):
        assert_array_equal(x, z)
    assert_array_equal(a.predict(X), b.predict(X))
    assert a.up_down_history_ == {**b.up_down_history_, "time": a.up_down_history_["time"]}
    # Another seed, another model.
    c = DBN(**dict(kw, random_state=1)).fit(X, y)
    assert not np.allclose(c.generative_weights_[0], a.generative_weights_[0])


def test_stacks_pickled_before_up_down_existed_load():
    model = DBN(hidden_layer_sizes=(4, 3))
    state = model.__getstate__()
    for name in ("up_down_n_iter", "up_down_learning_rate", "up_down_k", "up_down_weight_decay"):
        del state[name]
    old = DBN.__new__(DBN)
    old.__setstate__(state)
    assert old.get_params()["up_down_n_iter"] == 0 and clone(old).up_down_k == "hinton"


def test_study_configurations_name_up_down_only_when_it_runs():
    from dbn.study import _pretraining_config

    plain = _pretraining_config({"hidden_layer_sizes": [8, 4]})
    assert not any(k.startswith("up_down_") for k in plain)  # stacks' digests as before it existed
    tuned = _pretraining_config({"hidden_layer_sizes": [8, 4], "up_down_n_iter": 3})
    assert tuned["up_down_n_iter"] == 3 and tuned["up_down_k"] == "hinton"
    assert {k: v for k, v in tuned.items() if not k.startswith("up_down_")} == plain
