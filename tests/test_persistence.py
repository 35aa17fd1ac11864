"""Tests of dbn._persistence: pickles are exact, stamped, and checked on load."""

import pickle

import joblib
import pytest
from numpy.testing import assert_array_equal

from dbn import DBN, BernoulliRBM, DBNClassifier, DBNRegressor, GaussianBernoulliRBM
from dbn._persistence import PICKLE_FORMAT


def _fitted(digits01):
    X, y = digits01
    X, y = X[:300], y[:300]
    return X, [
        BernoulliRBM(n_components=8, n_iter=2, random_state=0).fit(X),
        GaussianBernoulliRBM(n_components=8, n_iter=2, random_state=0).fit(X),
        DBN(hidden_layer_sizes=(16, 8), n_iter=2, random_state=0).fit(X),
        DBNClassifier(hidden_layer_sizes=(16,), pretrain_n_iter=2, max_iter=3, random_state=0).fit(X, y),
        DBNRegressor(hidden_layer_sizes=(16,), pretrain_n_iter=2, max_iter=3, random_state=0).fit(X, y / 9.0),
    ]


def _outputs(est, X):
    return est.predict(X) if hasattr(est, "predict") else est.transform(X)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_pickle_and_joblib_round_trips_are_bit_identical(digits01, tmp_path):
    X, models = _fitted(digits01)
    for est in models:
        for loaded in (pickle.loads(pickle.dumps(est)),
                       joblib.load(joblib.dump(est, tmp_path / "m.joblib")[0])):
            assert_array_equal(_outputs(loaded, X), _outputs(est, X))
            if hasattr(est, "predict_proba"):
                assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_pickles_hold_no_compiled_functions(digits01):
    import numba.core.registry

    _, models = _fitted(digits01)
    for est in models:
        blob = pickle.dumps(est)
        assert b"numba" not in blob and b"CPUDispatcher" not in blob
        state = est.__getstate__()
        assert state["_dbn_pickle_format"] == PICKLE_FORMAT
        assert not any(isinstance(v, numba.core.registry.CPUDispatcher) for v in state.values())


def test_incompatible_pickle_gives_clear_error(digits01):
    X, _ = digits01
    rbm = BernoulliRBM(n_components=4, n_iter=1, random_state=0).fit(X)
    state = rbm.__getstate__()
    for bad in ({**state, "_dbn_pickle_format": PICKLE_FORMAT + 1, "_dbn_version": "9.9"},
                {k: v for k, v in state.items() if not k.startswith("_dbn")}):
        fresh = BernoulliRBM.__new__(BernoulliRBM)
        with pytest.raises(ValueError, match="saved by dbn .*incompatible.*refit"):
            fresh.__setstate__(bad)
