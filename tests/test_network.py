"""Tests of dbn.network (DBNClassifier, DBNRegressor)."""

import pickle
import warnings

import joblib
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from dbn import DBN, DBNClassifier, DBNRegressor

FAST = dict(hidden_layer_sizes=(24, 12), pretrain_n_iter=10, max_iter=5)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture(scope="module")
def small(digits01_module):
    X, y = digits01_module
    return X[:400], y[:400]


@pytest.fixture(scope="module")
def digits01_module():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


def _stack_with_weights(params_clf, X):
    """A fitted DBN whose weights are the initial hidden weights of ``params_clf``."""
    stack = DBN(hidden_layer_sizes=params_clf.hidden_layer_sizes, n_iter=0).fit(X)
    coefs, intercepts = params_clf.coefs_, params_clf.intercepts_
    for rbm, W, b in zip(stack.rbms_, coefs[:-1], intercepts[:-1]):
        rbm.components_ = np.ascontiguousarray(W.T)
        rbm.intercept_hidden_ = b.copy()
    return stack


def test_everything_but_the_initial_weights_is_identical_between_inits(small):
    """Give init="dbn" the very weights a random init draws: the whole
    fine-tuning (data order, dropout masks, schedule, stopping) must then be
    bit-identical, which proves only the initial weights differ."""
    X, y = small
    kw = dict(FAST, max_iter=4, dropout=0.2, input_dropout=0.1, max_norm=3.0,
              learning_rate="invscaling", random_state=7)
    start = DBNClassifier(init="normal", **{**kw, "max_iter": 1, "learning_rate_init": 1e-30}).fit(X, y)
    random_run = DBNClassifier(init="normal", **kw).fit(X, y)
    same_start = DBNClassifier(init=_stack_with_weights(start, X), **kw).fit(X, y)
    for a, b in zip(random_run.coefs_, same_start.coefs_):
        assert_array_equal(a, b)
    assert random_run.loss_curve_ == same_start.loss_curve_
    # ... and with a different seed the run differs.
    other = DBNClassifier(init="normal", **{**kw, "random_state": 8}).fit(X, y)
    assert not np.array_equal(other.coefs_[0], random_run.coefs_[0])


def test_fine_tuning_starts_exactly_from_the_pretrained_weights(small):
    X, y = small
    stack = DBN(hidden_layer_sizes=(24, 12), n_iter=10, random_state=0).fit(X)
    clf = DBNClassifier(init=stack, **{**FAST, "max_iter": 1, "learning_rate_init": 1e-30,
                                       "alpha": 0.0}).fit(X, y)
    coefs, intercepts = stack.unrolled_parameters()
    for i in range(2):
        assert_array_equal(clf.coefs_[i], coefs[i])
        assert_array_equal(clf.intercepts_[i], intercepts[i])
    assert clf.dbn_ is stack  # reused, not refitted
    # init="dbn" pretrains a stack with the pretrain_* settings.
    own = DBNClassifier(init="dbn", **FAST, random_state=0).fit(X, y)
    assert [r.n_iter for r in own.dbn_.rbms_] == [10, 10]
    assert len(own.pretraining_history_) == 2


def test_default_classifier_matches_mlp_on_digits(digits01_module):
    X, y = digits01_module
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
    ours, mlp = [], []
    for seed in range(3):
        ours.append(DBNClassifier(random_state=seed).fit(X_train, y_train).score(X_test, y_test))
        mlp.append(MLPClassifier(hidden_layer_sizes=(256, 256), random_state=seed)
                   .fit(X_train, y_train).score(X_test, y_test))
    assert np.mean(ours) >= np.mean(mlp), (ours, mlp)


def test_semi_supervised_rows_pretrain_only(small):
    X, y = small
    y_semi = y.copy()
    y_semi[100:] = -1
    clf = DBNClassifier(**FAST, random_state=0).fit(X, y_semi)
    assert -1 not in clf.classes_
    assert clf.dbn_._n_samples == len(X)  # pretraining saw every row
    assert clf.t_ == 100 * clf.n_iter_  # fine-tuning only the labelled ones
    assert set(clf.predict(X)) <= set(clf.classes_)


def test_minus_one_labels_mean_unlabelled(small):
    X, _ = small
    y = np.where(np.arange(len(X)) % 2 == 0, -1, 1)
    with pytest.raises(ValueError, match="one class.*-1.*unlabelled.*re-encode"):
        DBNClassifier(**FAST).fit(X, y)
    clf = DBNClassifier(**FAST, random_state=0).fit(X, np.where(y == -1, 0, 1))
    assert_array_equal(clf.classes_, [0, 1])


def test_attributes_and_history(small):
    X, y = small
    clf = DBNClassifier(**{**FAST, "max_iter": 6}, early_stopping=True, random_state=0).fit(X, y)
    assert clf.n_iter_ == len(clf.loss_curve_) == len(clf.validation_scores_)
    assert clf.gradient_norms_.shape == (clf.n_iter_, 3)
    assert np.all(clf.gradient_norms_ > 0)
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert [c.shape for c in clf.coefs_] == [(64, 24), (24, 12), (12, 10)]
    proba = clf.predict_proba(X)
    assert_allclose(proba.sum(1), 1, rtol=1e-5)
    assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(1)])
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]


def test_training_reduces_loss_and_learns(small):
    X, y = small
    clf = DBNClassifier(hidden_layer_sizes=(64,), pretrain_n_iter=5, max_iter=30, random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.95


def test_vanishing_gradient_is_visible_in_deep_random_logistic_net(small):
    X, y = small
    deep = DBNClassifier(hidden_layer_sizes=(32,) * 5, init="normal", max_iter=3, random_state=0).fit(X, y)
    g = deep.gradient_norms_[0]
    assert g[0] < 0.1 * g[-1]


def test_activations_and_random_inits(small):
    X, y = small
    for init in ("normal", "uniform", "glorot", "he"):
        clf = DBNClassifier(**FAST, init=init, activation="relu", random_state=0).fit(X, y)
        assert np.isfinite(clf.coefs_[0]).all()
    with pytest.raises(ValueError, match="init='dbn'.*relu"):
        DBNClassifier(**FAST, activation="relu").fit(X, y)


def test_regressor_fits_a_smooth_function():
    from sklearn.neural_network import MLPRegressor

    rng = np.random.RandomState(0)
    X = rng.rand(400, 4).astype(np.float32)
    y = np.sin(3 * X[:, 0]) + X[:, 1] ** 2
    y = (y - y.mean()) / y.std()
    reg = DBNRegressor(hidden_layer_sizes=(32,), init="he", activation="relu",
                       learning_rate_init=0.01, max_iter=300, random_state=0).fit(X, y)
    assert reg.score(X, y) > 0.9
    assert reg.predict(X).shape == (400,)
    # The logistic net does as well as scikit-learn's with the same optimiser.
    ours = DBNRegressor(hidden_layer_sizes=(32,), pretrain_n_iter=5, max_iter=300,
                        random_state=0).fit(X, y).score(X, y)
    mlp = MLPRegressor(hidden_layer_sizes=(32,), activation="logistic", solver="sgd",
                       learning_rate_init=0.1, momentum=0.9, batch_size=100, max_iter=300,
                       random_state=0).fit(X, y).score(X, y)
    assert ours >= mlp - 0.02, (ours, mlp)
    Y2 = np.column_stack([y, -y])
    assert DBNRegressor(**FAST, random_state=0).fit(X, Y2).predict(X).shape == (400, 2)


def test_multilabel(small):
    X, y = small
    Y = np.column_stack([y % 2, y > 4]).astype(int)
    clf = DBNClassifier(**{**FAST, "max_iter": 100}, random_state=0).fit(X, Y)
    assert clf.predict(X).shape == Y.shape
    assert clf.score(X, Y) > 0.5  # subset accuracy; chance is about 0.25


def test_clone_pickle_joblib_pipeline_gridsearch(small, tmp_path):
    X, y = small
    clf = DBNClassifier(**FAST, random_state=0).fit(X, y)
    for copy in (pickle.loads(pickle.dumps(clf)),):
        assert_array_equal(copy.predict_proba(X), clf.predict_proba(X))
    path = tmp_path / "clf.joblib"
    joblib.dump(clf, path)
    assert_array_equal(joblib.load(path).predict(X), clf.predict(X))
    assert clone(clf).get_params() == clf.get_params()
    pipe = make_pipeline(MinMaxScaler(), DBNClassifier(**{**FAST, "max_iter": 50},
                                                       random_state=0)).fit(X * 16, y)
    assert pipe.score(X * 16, y) > 0.5
    grid = GridSearchCV(DBNClassifier(**FAST, random_state=0),
                        {"init": ["dbn", "glorot"]}, cv=2).fit(X, y)
    assert grid.best_params_["init"] in ("dbn", "glorot")


def test_warm_start_continues(small):
    X, y = small
    clf = DBNClassifier(**FAST, warm_start=True, random_state=0).fit(X, y)
    first = [c.copy() for c in clf.coefs_]
    clf.fit(X, y)
    assert clf.n_iter_ == 10 and len(clf.loss_curve_) == 10
    assert not np.array_equal(first[0], clf.coefs_[0])


def test_output_only_epochs_keep_the_pretrained_features_and_count_over_warm_starts(small):
    X, y = small
    clf = DBNClassifier(**{**FAST, "max_iter": 2}, n_iter_output_only=3, warm_start=True,
                        random_state=0).fit(X, y)
    pretrained = clf.dbn_.rbms_[0].components_.T.copy()
    assert_array_equal(clf.coefs_[0], pretrained)  # 2 epochs: still frozen
    assert_array_equal(clf.gradient_norms_[:, :-1], 0.0)
    assert (clf.gradient_norms_[:, -1] > 0).all()
    clf.set_params(max_iter=1).fit(X, y)  # epoch 3: frozen
    assert_array_equal(clf.coefs_[0], pretrained)
    clf.fit(X, y)  # epoch 4: everything trains
    assert not np.array_equal(clf.coefs_[0], pretrained)
    assert clf.n_iter_ == 4


def test_momentum_ramp_scales_the_rate_and_continues_over_warm_starts(small, epoch_schedule):
    X, y = small
    ramp = dict(learning_rate_init=0.1, momentum=0.9, momentum_init=0.5, momentum_ramp_epochs=4,
                scale_rate_by_momentum=True, random_state=0)
    DBNClassifier(**{**FAST, "max_iter": 6}, **ramp).fit(X, y)
    once, epoch_schedule[:] = np.array(epoch_schedule), []
    momenta = np.array([0.5, 0.6, 0.7, 0.8, 0.9, 0.9])
    assert_allclose(once, np.c_[momenta, 0.1 * (1 - momenta)])
    clf = DBNClassifier(**{**FAST, "max_iter": 2}, warm_start=True, **ramp).fit(X, y)
    clf.set_params(max_iter=4).fit(X, y)
    assert_allclose(epoch_schedule, once, rtol=1e-12)
    assert clf.n_iter_ == 6

def test_warm_start_draws_new_dropout_masks(small):
    # With a negligible step the weights stay put, so an epoch's training
    # loss under dropout differs from the last one's only through its masks
    # (shuffle=False: the same order).  A warm start must not replay the
    # masks of the first fit.
    X, y = small
    kw = dict(FAST, init="normal", dropout=0.5, input_dropout=0.2, shuffle=False, momentum=0.0,
              learning_rate_init=1e-9, random_state=0)
    once = DBNClassifier(**{**kw, "max_iter": 2}).fit(X, y).loss_curve_
    clf = DBNClassifier(**{**kw, "max_iter": 1}, warm_start=True).fit(X, y)
    clf.fit(X, y)
    first, second = clf.loss_curve_
    assert first == pytest.approx(once[0], rel=1e-6)
    assert abs(once[1] - once[0]) > 1e-3 * once[0]  # new masks move the loss this much
    assert abs(second - first) > 1e-3 * first


@pytest.mark.parametrize("schedule", [dict(learning_rate="exponential", learning_rate_decay=0.5),
                                      dict(learning_rate="invscaling", power_t=0.5)])
def test_learning_rate_schedule_continues_over_warm_starts(small, epoch_schedule, schedule):
    X, y = small
    kw = dict(FAST, init="normal", learning_rate_init=0.1, random_state=0, **schedule)
    DBNClassifier(**{**kw, "max_iter": 6}).fit(X, y)
    once, epoch_schedule[:] = [lr for _, lr in epoch_schedule], []
    assert once[0] == pytest.approx(0.1) and once[5] < 0.5 * once[0]  # it does decay
    clf = DBNClassifier(**{**kw, "max_iter": 2}, warm_start=True).fit(X, y)
    clf.set_params(max_iter=4).fit(X, y)
    assert [lr for _, lr in epoch_schedule] == pytest.approx(once, rel=1e-12)
    assert clf.n_iter_ == 6

@pytest.mark.parametrize("settings", [
    dict(dropout=0.3, input_dropout=0.1, max_norm=2.0, learning_rate="exponential",
         learning_rate_decay=0.8, momentum_init=0.5, momentum_ramp_epochs=4,
         scale_rate_by_momentum=True, n_iter_output_only=2),
    dict(early_stopping=True, n_iter_no_change=1, learning_rate="adaptive", tol=0.5),
    dict(init="glorot", learning_rate="invscaling", n_iter_no_change=2, tol=0.05),
])
def test_a_fit_pickled_after_an_epoch_finishes_exactly_as_if_never_stopped(small, settings):
    # The study's checkpoint: the model pickled by the per-epoch hook, then
    # the process killed; fit on the unpickled model finishes that fit.
    X, y = small
    kw = dict(FAST, max_iter=7, random_state=0, **settings)
    once = DBNClassifier(**kw).fit(X, y)
    saved = []

    def checkpoint_then_die(est):
        if est.n_iter_ == 3:
            saved.append(pickle.dumps(est))
            raise KeyboardInterrupt

    clf = DBNClassifier(**kw)
    clf._epoch_monitor = checkpoint_then_die
    with pytest.warns(UserWarning, match="interrupted"):
        clf.fit(X, y)
    assert not hasattr(clf, "_resume_point")
    resumed = pickle.loads(saved[0])
    assert resumed.n_iter_ == 3 and hasattr(resumed, "_resume_point")
    resumed.fit(X, y)
    assert not hasattr(resumed, "_resume_point")
    for name in ("n_iter_", "t_", "loss_curve_", "validation_scores_", "best_validation_score_",
                 "best_loss_"):
        assert getattr(resumed, name) == getattr(once, name), name
    assert_array_equal(resumed.gradient_norms_, once.gradient_norms_)
    for a, b in zip(resumed.coefs_ + resumed.intercepts_, once.coefs_ + once.intercepts_):
        assert_array_equal(a, b)
    # A warm start from the same pickle is another fit: max_iter more epochs.
    warm = pickle.loads(saved[0])
    del warm._resume_point
    warm.set_params(warm_start=True).fit(X, y)
    assert warm.n_iter_ > once.n_iter_ or warm.loss_curve_ != once.loss_curve_


@pytest.mark.parametrize("Estimator", [DBNClassifier, DBNRegressor])
def test_partial_fit_calls_are_the_epochs_of_one_fit(small, Estimator):
    # Velocity, schedule, data orders and dropout masks go on from call to
    # call: n calls on the same data are one fit of n epochs, bit for bit.
    X, y = small
    kw = dict(FAST, max_iter=4, dropout=0.2, input_dropout=0.1, learning_rate="exponential",
              learning_rate_decay=0.7, momentum_init=0.5, momentum_ramp_epochs=3,
              n_iter_output_only=1, random_state=0)
    target = y if Estimator is DBNClassifier else (y / 9.0).astype(np.float32)
    once = Estimator(**kw).fit(X, target)
    inc = Estimator(**kw, n_iter_no_change=1, tol=10.0)  # would stop fit after 3 epochs
    extra = {"classes": np.arange(10)} if Estimator is DBNClassifier else {}
    for _ in range(4):
        inc.partial_fit(X, target, **extra)
    assert inc.n_iter_ == once.n_iter_ == 4  # patience ignored, as in scikit-learn
    assert inc.loss_curve_ == once.loss_curve_ and inc.t_ == once.t_
    for a, b in zip(inc.coefs_ + inc.intercepts_, once.coefs_ + once.intercepts_):
        assert_array_equal(a, b)
    # A pickled model goes on the same way.
    half = Estimator(**kw)
    half.partial_fit(X, target, **extra).partial_fit(X, target)
    half = pickle.loads(pickle.dumps(half))
    half.partial_fit(X, target).partial_fit(X, target)
    assert_array_equal(half.coefs_[0], once.coefs_[0])
    # fit starts over.
    inc.set_params(n_iter_no_change=10, tol=1e-4)  # the defaults, as once's
    assert_array_equal(inc.fit(X, target).coefs_[0], once.coefs_[0])


def test_partial_fit_classes_and_checks(small):
    X, y = small
    clf = DBNClassifier(**FAST, random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    first = y < 5  # the first batch lacks classes 5-9
    clf.partial_fit(X[first], y[first], classes=np.arange(10))
    assert_array_equal(clf.classes_, np.arange(10)) and clf.predict_proba(X).shape == (400, 10)
    clf.partial_fit(X[~first], y[~first])
    assert clf.n_iter_ == 2
    with pytest.raises(ValueError, match="labels not seen"):
        clf.partial_fit(X, y + 10)
    with pytest.raises(ValueError, match="features"):
        clf.partial_fit(X[:, :10], y)
    # Unlabelled rows (-1) take no part, and early stopping is ignored.
    semi = DBNClassifier(**FAST, early_stopping=True, random_state=0)
    semi.partial_fit(X, np.where(first, y, -1), classes=np.arange(10))
    assert semi.validation_scores_ == [] and semi.t_ == first.sum()

def test_momentum_init_without_ramp_epochs_is_refused_before_pretraining(small):
    X, y = small
    clf = DBNClassifier(**FAST, momentum_init=0.5)
    with pytest.raises(ValueError, match="momentum_init=0.5 needs momentum_ramp_epochs >= 1"):
        clf.fit(X, y)
    assert not hasattr(clf, "dbn_")


def test_divergence_keeps_last_finite_weights(small):
    X, y = small
    # The squared error of a linear output is unbounded: a huge learning rate
    # overflows it (the cross-entropy of softmax saturates instead).
    reg = DBNRegressor(**{**FAST, "max_iter": 50}, init="normal", learning_rate_init=1e3,
                       random_state=0)
    with pytest.raises(FloatingPointError, match="epoch.*smaller"):
        reg.fit(X, y * 1e3)
    assert all(np.isfinite(c).all() for c in reg.coefs_)
    assert reg.n_iter_ == len(reg.loss_curve_)


@pytest.mark.parametrize(
    "X, y, match",
    [
        (np.array([[0.0, np.nan], [1.0, 0.0]]), [0, 1], "NaN"),
        (np.array([[0.0, np.inf], [1.0, 0.0]]), [0, 1], "infinity"),
        (np.ones((4, 2)) * 0.5, [1, 1, 1, 1], "at least 2 classes"),
        (np.ones((4, 2)) * 0.5, [0.1, 0.2, 0.3, 0.4], "Unknown label type"),
        (np.ones((4, 2)) * 0.5, [0, 1, 0], "inconsistent numbers of samples"),
        (np.ones((2, 2)) * 0.5, [[0, 1, 2], [1, 2, 0]], "Unknown label type"),
    ],
)
def test_bad_input_gets_clear_error(X, y, match):
    with pytest.raises(ValueError, match=match):
        DBNClassifier(**FAST).fit(X, y)


def test_wrong_feature_count_unfitted_and_no_modification(small):
    X, y = small
    clf = DBNClassifier(**FAST, random_state=0)
    with pytest.raises(NotFittedError):
        clf.predict(X)
    X_before, y_before = X.copy(), y.copy()
    clf.fit(X, y)
    clf.predict(X)
    assert_array_equal(X, X_before)
    assert_array_equal(y, y_before)
    with pytest.raises(ValueError, match="64 features"):
        clf.predict(X[:, :10])


_CHECK_KW = dict(hidden_layer_sizes=(8,), pretrain_n_iter=2, max_iter=30)


def _expected_failures(estimator):
    if isinstance(estimator, DBNClassifier):
        return {"check_classifiers_classes": (
            "the check uses -1 as a class label, which means 'unlabelled' here "
            "(scikit-learn's semi-supervised convention); tested in "
            "test_minus_one_labels_mean_unlabelled")}
    return {}


@parametrize_with_checks(
    [DBNClassifier(**_CHECK_KW), DBNRegressor(**_CHECK_KW), DBNClassifier(**_CHECK_KW, init="glorot")],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_compatible_estimator(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


def test_keyboard_interrupt_keeps_completed_epochs(small, monkeypatch, interrupt_on_call):
    from dbn import _network

    X, y = small
    interrupt_on_call(_network.SGDTrainer, "epoch", 4)
    clf = DBNClassifier(**{**FAST, "max_iter": 10}, init="glorot", early_stopping=True, random_state=0)
    with pytest.warns(UserWarning, match="interrupted by user after 3"):
        assert clf.fit(X, y) is clf
    assert clf.n_iter_ == 3 == len(clf.loss_curve_) == len(clf.validation_scores_)
    assert clf.gradient_norms_.shape[0] == 3
    ref = DBNClassifier(**{**FAST, "max_iter": 3}, init="glorot", early_stopping=True,
                        random_state=0).fit(X, y)
    assert clf.loss_curve_ == ref.loss_curve_
    assert clf.validation_scores_ == ref.validation_scores_
    monkeypatch.undo()  # no more Ctrl-C
    clf.set_params(warm_start=True, max_iter=2).fit(X, y)
    assert clf.n_iter_ == 5


def test_same_result_whatever_numbas_thread_count(small):
    """Our kernels are serial: Numba's thread count cannot change a result.

    (OpenBLAS's thread count can: it blocks the inner dimension of a product
    differently for different thread counts; see README, Reproducibility.)
    """
    import os
    import subprocess
    import sys

    X, y = small
    kw = dict(FAST, dropout=0.1, random_state=3)
    a = DBNClassifier(**kw).fit(X, y)
    b = DBNClassifier(**kw).fit(X, y)
    for ca, cb in zip(a.coefs_, b.coefs_):
        assert_array_equal(ca, cb)
    code = (
        "import numpy as np, warnings; warnings.simplefilter('ignore');"
        "from threadpoolctl import threadpool_limits;"
        "from sklearn.datasets import load_digits; from dbn import DBNClassifier;"
        "X, y = load_digits(return_X_y=True); X = (X[:400] / 16).astype(np.float32);"
        "ctx = threadpool_limits(limits=1, user_api='blas');"
        f"c = DBNClassifier(**{kw!r}).fit(X, y[:400]);"
        "print(sum(float(np.abs(w).sum()) for w in c.coefs_).hex())"
    )
    outs = {
        n: subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, "NUMBA_NUM_THREADS": n}).stdout
        for n in ("1", "2")
    }
    assert outs["1"] == outs["2"] and outs["1"].strip()


def test_concurrent_fits_in_threads_match_sequential(small):
    from concurrent.futures import ThreadPoolExecutor

    X, y = small
    kws = [dict(FAST, random_state=s) for s in (0, 1)]
    sequential = [DBNClassifier(**kw).fit(X, y) for kw in kws]
    with ThreadPoolExecutor(2) as pool:
        threaded = list(pool.map(lambda kw: DBNClassifier(**kw).fit(X, y), kws))
    for s, t in zip(sequential, threaded):
        for a, b in zip(s.coefs_, t.coefs_):
            assert_array_equal(a, b)
