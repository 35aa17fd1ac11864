"""Tests of dbn.stack (the unsupervised DBN)."""

import os
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from dbn import DBN, BernoulliRBM, GaussianBernoulliRBM


def test_greedy_layerwise_training_matches_manual_stack(digits01):
    X, _ = digits01
    dbn = DBN(hidden_layer_sizes=(32, 16), n_iter=3, batch_size=50, random_state=0).fit(X)
    assert [type(r) for r in dbn.rbms_] == [BernoulliRBM, BernoulliRBM]
    assert dbn.rbms_[0].components_.shape == (32, 64)
    assert dbn.rbms_[1].components_.shape == (16, 32)
    # Layer 2 is an RBM trained on layer 1's hidden probabilities (which the
    # stack computes per mini-batch instead of for the whole set at once: the
    # products round differently in the last bits).
    second = BernoulliRBM(**dbn.rbms_[1].get_params()).fit(dbn.rbms_[0].transform(X))
    assert_allclose(second.components_, dbn.rbms_[1].components_, rtol=1e-4, atol=1e-5)
    assert_allclose(second.intercept_visible_, dbn.rbms_[1].intercept_visible_, rtol=1e-4, atol=1e-6)
    assert_allclose(dbn.transform(X), dbn.rbms_[1].transform(dbn.rbms_[0].transform(X)))
    assert dbn.transform(X).shape == (len(X), 16)
    assert len(dbn.history_) == 2 and len(dbn.history_[0]["epoch"]) == 3
    coefs, intercepts = dbn.unrolled_parameters()
    assert_array_equal(coefs[1], dbn.rbms_[1].components_.T)
    assert_array_equal(intercepts[0], dbn.rbms_[0].intercept_hidden_)


def test_per_layer_settings(digits01):
    X, _ = digits01
    dbn = DBN(hidden_layer_sizes=(20, 10, 5), n_iter=[1, 2, 3], learning_rate=[0.1, 0.05, 0.01],
              momentum=["hinton", 0.5, [0.1, 0.2]], k=2, random_state=0).fit(X)
    assert [r.n_iter for r in dbn.rbms_] == [1, 2, 3]
    assert [r.learning_rate for r in dbn.rbms_] == [0.1, 0.05, 0.01]
    assert [r.momentum for r in dbn.rbms_] == ["hinton", 0.5, [0.1, 0.2]]
    assert all(r.k == 2 for r in dbn.rbms_)
    with pytest.raises(ValueError, match="3 hidden layers"):
        DBN(hidden_layer_sizes=(20, 10, 5), n_iter=[1, 2]).fit(X)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        DBN(hidden_layer_sizes=(20, 0)).fit(X)


def test_first_layer_follows_the_data():
    rng = np.random.RandomState(0)
    X = StandardScaler().fit_transform(rng.randn(100, 6))
    dbn = DBN(hidden_layer_sizes=(8, 4), n_iter=2, random_state=0).fit(X)
    assert isinstance(dbn.rbms_[0], GaussianBernoulliRBM)
    assert isinstance(dbn.rbms_[1], BernoulliRBM)
    # A tenth of the learning rate for linear visible units (Hinton's guide).
    assert dbn.rbms_[0].learning_rate == pytest.approx(0.01)
    forced = DBN(hidden_layer_sizes=(4,), n_iter=1, first_layer="gaussian").fit(rng.rand(20, 6))
    assert isinstance(forced.rbms_[0], GaussianBernoulliRBM)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        DBN(hidden_layer_sizes=(4,), n_iter=1, first_layer="bernoulli").fit(X)


def test_fit_removes_only_old_checkpoint_temporaries(digits01, tmp_path):
    """A killed fit's half-written layer goes; a live writer's file stays."""
    from dbn._io import STALE_AFTER

    X, _ = digits01
    old, fresh = tmp_path / ".layer_0.pkl.1.tmp", tmp_path / ".layer_1.pkl.2.tmp"
    for f in (old, fresh):
        f.write_bytes(b"\x80")
    past = old.stat().st_mtime - STALE_AFTER - 1
    os.utime(old, (past, past))
    DBN(hidden_layer_sizes=(8,), n_iter=1, random_state=0, checkpoint_dir=str(tmp_path)).fit(X)
    assert not old.exists() and fresh.exists()
    assert (tmp_path / "layer_0.pkl").exists()


def test_checkpoints_resume_after_the_last_finished_layer(digits01, tmp_path, capsys):
    X, _ = digits01
    kw = dict(hidden_layer_sizes=(16, 8), n_iter=2, random_state=0, checkpoint_dir=str(tmp_path))
    first = DBN(**kw).fit(X)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["layer_0.pkl", "layer_1.pkl"]
    # Simulate a run interrupted after layer 1: only layer_0 survives.
    (tmp_path / "layer_1.pkl").unlink()
    again = DBN(**kw, verbose=1).fit(X)
    out = capsys.readouterr().out
    assert "layer 1/2 loaded" in out and "layer 2/2: BernoulliRBM" in out
    assert again.fit_time_[0] == first.fit_time_[0]  # its training's time, not the load's
    for a, b in zip(first.rbms_, again.rbms_):
        assert_array_equal(a.components_, b.components_)
    # Other settings do not reuse the checkpoint.
    other = DBN(**{**kw, "n_iter": 3}).fit(X)
    assert not np.array_equal(other.rbms_[0].components_, first.rbms_[0].components_)


@parametrize_with_checks([DBN(hidden_layer_sizes=(6, 4), n_iter=2)])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_keyboard_interrupt_keeps_finished_layers_and_resumes(digits01, tmp_path, monkeypatch,
                                                              interrupt_on_call):
    from dbn import rbm as rbm_module

    X, _ = digits01
    kw = dict(hidden_layer_sizes=(16, 8, 4), n_iter=2, random_state=0, checkpoint_dir=str(tmp_path))
    interrupt_on_call(rbm_module._BaseRBM, "_run_epoch", 3)  # layer 2, epoch 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dbn = DBN(**kw).fit(X)
    # One warning, the DBN's: the layer's own "BernoulliRBM: ... after 0
    # epoch(s)" would only repeat it less clearly.
    assert [str(w.message) for w in caught] == [
        "DBN: pretraining interrupted by user in layer 2 of 3; rbms_ holds 2 layer(s), "
        "the last one partially trained."]
    assert len(dbn.rbms_) == 2 and dbn.rbms_[1].n_iter_ == 0
    assert [p.name for p in tmp_path.iterdir()] == ["layer_0.pkl"]
    monkeypatch.undo()  # no more Ctrl-C
    resumed = DBN(**kw).fit(X)
    full = DBN(**{**kw, "checkpoint_dir": None}).fit(X)
    for a, b in zip(resumed.rbms_, full.rbms_):
        assert_array_equal(a.components_, b.components_)


@pytest.mark.parametrize("stop_at_call", [3, 7])  # layer 1 epoch 3; layer 2 epoch 3
def test_a_stopped_layer_resumes_after_its_last_saved_epoch_with_the_same_draws(
        digits01, tmp_path, monkeypatch, interrupt_on_call, capsys, stop_at_call):
    from dbn import rbm as rbm_module

    X, _ = digits01
    # Persistent chains, the momentum schedule and sparsity:
    # every piece of state an epoch carries to the next.
    kw = dict(hidden_layer_sizes=(16, 8), n_iter=4, random_state=0, persistent=True,
              momentum=[0.5, 0.6, 0.7, 0.9], sparsity_cost=0.1)
    full = DBN(**kw).fit(X)
    run_epoch = rbm_module._BaseRBM._run_epoch
    monkeypatch.setattr(DBN, "_PARTIAL_EVERY", 0.0)  # save after every epoch
    interrupt_on_call(rbm_module._BaseRBM, "_run_epoch", stop_at_call)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the interrupt's
        stopped = DBN(**kw, checkpoint_dir=str(tmp_path)).fit(X)
    layer = (stop_at_call - 1) // 4
    assert len(stopped.rbms_) == layer + 1 and stopped.rbms_[-1].n_iter_ == 2
    assert (tmp_path / f"layer_{layer}.partial.pkl").exists()
    monkeypatch.setattr(rbm_module._BaseRBM, "_run_epoch", run_epoch)  # no more Ctrl-C
    interrupt_on_call(rbm_module._BaseRBM, "_run_epoch", 0)  # counts calls, never stops
    capsys.readouterr()
    resumed = DBN(**kw, checkpoint_dir=str(tmp_path), verbose=1).fit(X)
    out = capsys.readouterr().out
    width_in, width_out = ((64, 16), (16, 8))[layer]
    assert f"layer {layer + 1}/2: BernoulliRBM {width_in} -> {width_out}, resumed after epoch 2" in out
    # Only the epochs left were trained: 2 of the stopped layer, 4 of the next.
    assert rbm_module._BaseRBM._run_epoch.calls["n"] == 2 + 4 * (1 - layer)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["layer_0.pkl", "layer_1.pkl"]
    for a, b in zip(resumed.rbms_, full.rbms_):
        assert a.n_iter_ == b.n_iter_ == 4
        for name in ("components_", "intercept_hidden_", "intercept_visible_", "h_samples_"):
            assert_array_equal(getattr(a, name), getattr(b, name))
        for key in ("reconstruction_error", "pseudo_likelihood", "free_energy_gap"):
            assert_array_equal(a.history_[key], b.history_[key])
    assert resumed.fit_time_[layer] > 0


def test_a_partial_layer_of_other_settings_is_not_resumed(digits01, tmp_path, monkeypatch,
                                                          interrupt_on_call):
    from dbn import rbm as rbm_module

    X, _ = digits01
    kw = dict(hidden_layer_sizes=(16,), n_iter=4, random_state=0, checkpoint_dir=str(tmp_path))
    run_epoch = rbm_module._BaseRBM._run_epoch
    monkeypatch.setattr(DBN, "_PARTIAL_EVERY", 0.0)
    interrupt_on_call(rbm_module._BaseRBM, "_run_epoch", 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        DBN(**kw).fit(X)
    monkeypatch.setattr(rbm_module._BaseRBM, "_run_epoch", run_epoch)  # no more Ctrl-C
    other = DBN(**{**kw, "learning_rate": 0.05}).fit(X)
    assert other.rbms_[0].n_iter_ == 4
    fresh = DBN(**{**kw, "learning_rate": 0.05, "checkpoint_dir": None}).fit(X)
    assert_array_equal(other.rbms_[0].components_, fresh.rbms_[0].components_)


def test_divergence_names_the_layer():
    from dbn import DivergenceError

    rng = np.random.RandomState(0)
    X = StandardScaler().fit_transform(rng.randn(60, 5)) * 1e4
    with pytest.raises(DivergenceError, match=r"DBN layer 1 of 2: .*epoch \d+.*smaller"):
        DBN(hidden_layer_sizes=(4, 3), n_iter=5, gaussian_learning_rate=1e3, random_state=0).fit(X)


@pytest.mark.parametrize("sparse", [False, True])
def test_stored_and_streamed_layer_inputs_train_the_same_stack(digits01, sparse):
    """layer_inputs="store" keeps each layer's input, "stream" feeds X up the
    trained layers per mini-batch: the same model up to float32 rounding."""
    import scipy.sparse as sps

    X, _ = digits01
    X = sps.csr_matrix(X) if sparse else X
    kw = dict(hidden_layer_sizes=(24, 16, 8), n_iter=3, batch_size=25, random_state=0)
    stored = DBN(layer_inputs="store", **kw).fit(X)
    streamed = DBN(layer_inputs="stream", **kw).fit(X)
    auto = DBN(**kw).fit(X)  # tiny data: "auto" stores
    for a, b, c in zip(stored.rbms_, streamed.rbms_, auto.rbms_):
        assert_allclose(a.components_, b.components_, rtol=1e-4, atol=1e-5)
        assert_allclose(a.intercept_visible_, b.intercept_visible_, rtol=1e-4, atol=1e-6)
        assert_array_equal(a.components_, c.components_)
    assert DBN()._store_input(60000, 500) is False  # MNIST's 500-unit layers: streamed
    assert DBN()._store_input(1797, 500) is True
    assert DBN(layer_inputs="stream")._store_input(10, 10) is False


def test_stacks_pickled_before_layer_inputs_existed_still_load(digits01):
    import pickle

    X, _ = digits01
    stack = DBN(hidden_layer_sizes=(8,), n_iter=1, random_state=0).fit(X)
    state = stack.__getstate__()
    del state["layer_inputs"]
    old = DBN.__new__(DBN)
    old.__setstate__(state)
    assert old.get_params()["layer_inputs"] == "stream"
    assert_array_equal(pickle.loads(pickle.dumps(old)).transform(X), stack.transform(X))
