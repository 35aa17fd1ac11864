"""Reliability: bad input to every estimator and every entry point that takes data.

The contract, checked for each call by :func:`_check`: a call either works
(a finite result of the right shape, float32 where the estimator promises it,
the input not modified in place) or raises a ``ValueError`` (scikit-learn's
``NotFittedError`` is one) whose message names the problem ("NaN",
"infinity", "[0, 1]", "features", "sample", "class", "sparse", "convert",
...).  Nothing crashes the interpreter, hangs, returns NaN, or raises a
``TypeError``.

The property-based tests draw inputs from hypothesis strategies: shapes
(empty, one sample, one feature, 1-D, 3-D), dtypes (floats 16/32/64, ints,
bools, objects with numbers, strings or None), lists, C and Fortran order,
scipy sparse formats, NaN, infinity, values outside [0, 1], huge finite
values, constant features, a different feature count at predict time, bad
targets (NaN, strings, one class, mixed types, wrong length).  Each drawn
input carries the set of problems it has (``tags``), computed from its
values; the explicit tests below pin down single cases.

Runs derandomized (``derandomize=True``) so CI sees the same examples every
run.  An ``xfail(strict=True)`` marks a known defect of dbn, described in its
reason and pinned by an explicit test: fixing dbn turns it into an XPASS,
which fails, so the mark is removed with the fix.
"""

import copy
import math

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import NotFittedError

from dbn import DBN, BernoulliRBM, DBNClassifier, DBNRegressor, GaussianBernoulliRBM

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.DataConversionWarning"),
    pytest.mark.filterwarnings("ignore::RuntimeWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    # The drawn inputs are already small; shrinking would only slow down the
    # known (xfail) failures.
    phases=(Phase.explicit, Phase.generate),
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(autouse=True, scope="module")
def _one_numba_thread():
    """Run the kernels on one thread: results do not depend on the thread count
    (the RBMs' documented guarantee), and on a small shared machine the launch
    of parallel kernels costs more than these tiny fits themselves."""
    n = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(n)


F32_MAX = float(np.finfo(np.float32).max)
# Above this a value counts as "huge": fine for float32, but it can overflow
# products and squares inside the models.
HUGE = 1e6

# --------------------------------------------------------------------------- #
# Estimators
# --------------------------------------------------------------------------- #

N_FEATURES = 4  # of the data the shared fitted models see
N_CLASSES = 3


def _make(name):
    """A tiny, fast, seeded estimator."""
    if name == "BernoulliRBM":
        return BernoulliRBM(n_components=3, n_iter=1, batch_size=4, random_state=0)
    if name == "GaussianBernoulliRBM":
        return GaussianBernoulliRBM(n_components=3, n_iter=1, batch_size=4, random_state=0)
    if name == "DBN":
        return DBN(hidden_layer_sizes=(4,), n_iter=1, batch_size=4, random_state=0)
    kw = dict(hidden_layer_sizes=(4,), pretrain_n_iter=1, pretrain_batch_size=4, max_iter=2,
              batch_size=4, random_state=0)
    if name == "DBNClassifier":
        return DBNClassifier(**kw)
    return DBNRegressor(**kw)


RBMS = ["BernoulliRBM", "GaussianBernoulliRBM"]
UNSUPERVISED = RBMS + ["DBN"]
SUPERVISED = ["DBNClassifier", "DBNRegressor"]
ALL = UNSUPERVISED + SUPERVISED
SPARSE_OK = set(UNSUPERVISED)

# Methods that take X alone (besides fit, fit_transform, partial_fit, score,
# inverse_transform, which have their own tests).
X_METHODS = {
    "BernoulliRBM": ["transform", "score_samples", "free_energy", "gibbs", "reconstruct"],
    "GaussianBernoulliRBM": ["transform", "score_samples", "free_energy", "gibbs", "reconstruct"],
    "DBN": ["transform"],
    "DBNClassifier": ["predict", "predict_proba", "predict_log_proba"],
    "DBNRegressor": ["predict"],
}
# Outputs documented as float32.
FLOAT32_METHODS = {"transform", "fit_transform", "inverse_transform", "reconstruct"}


def _n_out(est):
    if isinstance(est, DBN):
        return est.rbms_[-1].n_components
    return est.n_components


def _expected_shape(est, method, n):
    if method in ("transform", "fit_transform"):
        return (n, _n_out(est))
    if method in ("score_samples", "free_energy"):
        return (n,)
    if method in ("gibbs", "reconstruct", "inverse_transform"):
        return (n, est.n_features_in_)
    if method in ("predict_proba", "predict_log_proba"):
        return (n, len(est.classes_))
    if method == "predict":
        y_1d = getattr(est, "_y_1d", None)
        if isinstance(est, DBNClassifier):
            y_1d = est._output == "softmax"
        if y_1d:
            return (n,)
        return (n, est.coefs_[-1].shape[1])
    raise AssertionError(method)


def _clean_X(n=12, n_features=N_FEATURES, gaussian=False, seed=0):
    rng = np.random.RandomState(seed)
    if gaussian:
        return rng.randn(n, n_features)
    return rng.rand(n, n_features)


def _clean_y(name, n=12):
    if name == "DBNClassifier":
        return np.arange(n) % N_CLASSES
    return np.linspace(-1.0, 1.0, n)


_FITTED = {}


def _fitted(name):
    """A model of ``name`` fitted once on clean data with N_FEATURES features."""
    if name not in _FITTED:
        est = _make(name)
        X = _clean_X(gaussian=name == "GaussianBernoulliRBM")
        if name in SUPERVISED:
            est.fit(X, _clean_y(name))
        else:
            est.fit(X)
        _FITTED[name] = est
    return _FITTED[name]


# --------------------------------------------------------------------------- #
# The contract
# --------------------------------------------------------------------------- #

# Words, any one of which names each problem in an error message
# (case-insensitive).
KEYWORDS = {
    "nan": ("nan", "missing"),
    "inf": ("infinity", "infinite", "inf", "too large"),
    "range": ("[0, 1]",),
    "huge": ("large", "overflow", "infinity", "finite", "scale", "standardi", "range"),
    "features": ("feature",),
    "components": ("n_components", "component"),
    "samples": ("sample",),
    "ndim": ("2d", "dim", "shape", "reshape"),
    "strings": ("convert", "numeric", "dtype", "string"),
    "numeric_strings": ("convert", "numeric", "dtype", "string"),
    "complex": ("complex",),
    "sparse": ("sparse", "dense"),
    "class": ("class",),
    "labels": ("label", "type", "class", "mix"),
    "object_labels": ("label", "type", "class", "mix"),
    "length": ("sample", "length", "inconsistent"),
}
# Problems that must raise: every other tag (values outside [0, 1] for a
# model without Bernoulli inputs, huge values, numeric strings) may also be
# handled, with a finite result.
MUST_RAISE = {"nan", "inf", "features", "components", "samples", "ndim", "strings", "complex",
              "sparse", "class", "labels", "length"}


def _call(fn, *args):
    """``fn(*args)``, or the exception it raised."""
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 - the exception is the result under test
        return exc


def _check(out, tags, *, shape=None, float32=False, must_raise=MUST_RAISE, what=""):
    """Assert the contract for one call's outcome ``out`` on an input with ``tags``.

    Returns True when the call worked.
    """
    tags = set(tags)
    if isinstance(out, BaseException):
        assert isinstance(out, (ValueError, NotFittedError)), (
            f"{what}: raised {type(out).__name__} (not ValueError): {out}  [input: {tags}]"
        )
        if isinstance(out, NotFittedError):
            return False
        assert tags, f"{what}: valid input raised {type(out).__name__}: {out}"
        msg = str(out).lower()
        words = [w for t in tags for w in KEYWORDS[t]]
        assert any(w.lower() in msg for w in words), (
            f"{what}: the message does not name the problem {sorted(tags)} "
            f"(expected one of {words}): {out}"
        )
        return False
    required = tags & set(must_raise)
    assert not required, f"{what}: input with {sorted(required)} accepted, returned {out!r:.200}"
    if shape is not None or float32:
        assert isinstance(out, np.ndarray), f"{what}: returned {type(out).__name__}, not ndarray"
    if shape is not None:
        assert out.shape == shape, f"{what}: shape {out.shape}, expected {shape}"
    if float32:
        assert out.dtype == np.float32, f"{what}: dtype {out.dtype}, expected float32"
    if isinstance(out, np.ndarray) and out.dtype.kind in "fc":
        assert np.isfinite(out).all(), f"{what}: non-finite output {out!r:.300} [input: {tags}]"
    if isinstance(out, float | np.floating):
        assert math.isfinite(out), f"{what}: non-finite score {out} [input: {tags}]"
    return True


def _snapshot(X):
    if sp.issparse(X):
        return X.copy()
    return copy.deepcopy(X)


def _assert_unchanged(X, snap, what=""):
    """The caller's X is neither modified nor restructured in place."""
    if sp.issparse(X):
        assert X.format == snap.format and X.shape == snap.shape, what
        if X.format == "coo":
            parts = ("row", "col", "data")
        else:
            parts = ("indices", "indptr", "data")
        for p in parts:
            a, b = getattr(X, p), getattr(snap, p)
            assert a.shape == b.shape and np.array_equal(a, b, equal_nan=True), (
                f"{what}: sparse X.{p} modified in place: {b} -> {a}"
            )
    elif isinstance(X, np.ndarray) and X.dtype != object:
        same = np.array_equal(X, snap, equal_nan=X.dtype.kind in "fc")
        assert X.dtype == snap.dtype and same, f"{what}: X modified in place"
    elif isinstance(X, np.ndarray):
        assert X.tolist() == snap.tolist(), f"{what}: X modified in place"
    else:
        assert X == snap, f"{what}: X modified in place"


# --------------------------------------------------------------------------- #
# Strategies
# --------------------------------------------------------------------------- #

DENSE_DTYPES = ["float64", "float32", "float16", "int64", "int32", "uint8", "bool", "list",
                "complex128"]
SPARSE_FORMATS = ["csr", "csc", "coo", "csr_array"]
VALUE_KINDS = ["unit", "binary", "real", "constant"]


def _values(draw, shape, kind):
    """float64 values of ``shape``: in [0, 1], {0, 1}, [-10, 10], constant or huge."""
    if kind == "unit":
        elem = st.floats(0.0, 1.0)
    elif kind == "binary":
        elem = st.sampled_from([0.0, 1.0])
    elif kind == "real":
        elem = st.floats(-10.0, 10.0)
    elif kind == "constant":
        c = draw(st.sampled_from([0.0, 1.0, 0.5, -3.0]))
        return np.full(shape, c)
    elif kind == "huge":
        elem = st.one_of(
            st.floats(-F32_MAX, F32_MAX, width=32),
            st.floats(-1e300, 1e300),
            st.sampled_from([1e7, -1e7, 1e20, -1e30, 3e38]),
        )
    else:
        raise AssertionError(kind)
    return draw(hnp.arrays(np.float64, shape, elements=elem))


def _inject(draw, V):
    """Maybe put one NaN / inf / -inf into float values V (in place)."""
    special = draw(st.sampled_from([None, None, None, None, np.nan, np.inf, -np.inf]))
    if special is not None and V.size:
        V.flat[draw(st.integers(0, V.size - 1))] = special
    return V


def _value_tags(V, unit):
    """Problems of the float64 values V (after any dtype conversion)."""
    tags = set()
    if V.size == 0:
        return tags
    if np.isnan(V).any():
        tags.add("nan")
    finite = V[np.isfinite(V)]
    if np.isinf(V).any() or (np.abs(finite) > F32_MAX).any():
        tags.add("inf")
    if finite.size and (np.abs(finite) > HUGE).any():
        tags.add("huge")
    if unit == "bernoulli" and finite.size and (finite.min() < 0 or finite.max() > 1):
        tags.add("range")
    return tags


def _shape_tags(shape, n_features, feature_tag="features"):
    tags = set()
    if len(shape) != 2:
        tags.add("ndim")
        return tags
    if shape[0] == 0:
        tags.add("samples")
    if shape[1] == 0 or (n_features is not None and shape[1] != n_features):
        tags.add(feature_tag)
    return tags


@st.composite
def inputs(draw, family, *, n_features=None, unit=None, sparse_ok=True, min_samples=1,
           feature_tag="features"):
    """A data matrix of ``family`` and the set of its problems.

    ``n_features``: the feature count the estimator expects (None at fit
    time); the strategy sometimes draws another one, and tags it
    ``feature_tag``.  ``unit="bernoulli"`` tags values outside [0, 1].
    """
    n = draw(st.integers(min_samples, 6))
    if n_features is None:
        f = draw(st.integers(1, 5))
    else:
        f = draw(st.sampled_from([n_features, n_features, n_features, n_features + 1,
                                  max(n_features - 1, 1)]))
    shape = (n, f)

    if family == "dense":
        ndim = draw(st.sampled_from([2, 2, 2, 2, 2, 2, 1, 3]))
        if ndim == 1:
            shape = (f,)
        elif ndim == 3:
            shape = (n, f, 1)
        if draw(st.integers(0, 9)) == 0:  # degenerate: no samples or no features
            shape = draw(st.sampled_from([(0, f), (n, 0)]))
        dtype = draw(st.sampled_from(DENSE_DTYPES))
        V = _values(draw, shape, draw(st.sampled_from(VALUE_KINDS)))
        if dtype in ("float64", "float32", "float16", "list", "complex128"):
            V = _inject(draw, V)
        if dtype == "list":
            X = V.tolist()
        elif dtype == "bool":
            X = V > 0.5
        elif dtype in ("int64", "int32", "uint8"):
            X = np.rint(V).astype(np.int64)
            if dtype == "uint8":
                X = np.abs(X)
            X = X.astype(dtype)
        else:
            X = V.astype(dtype)
        if dtype != "list" and X.ndim >= 2 and draw(st.booleans()):
            X = np.asfortranarray(X)
        values = np.asarray(X).real.astype(np.float64)
        tags = _shape_tags(values.shape, n_features, feature_tag) | _value_tags(values, unit)
        if dtype == "complex128":
            tags.add("complex")
        return X, tags

    if family == "sparse":
        fmt = draw(st.sampled_from(SPARSE_FORMATS))
        dtype = draw(st.sampled_from(["float64", "float32", "int64", "bool"]))
        if draw(st.integers(0, 9)) == 0:
            shape = draw(st.sampled_from([(0, f), (n, 0)]))
        V = _values(draw, shape, draw(st.sampled_from(VALUE_KINDS)))
        if V.size:
            V = np.where(draw(hnp.arrays(bool, V.shape)), V, 0.0)
        if dtype.startswith("float"):
            V = _inject(draw, V)
        if dtype == "bool":
            V = (V > 0.5).astype(np.float64)
        elif dtype == "int64":
            V = np.rint(V)
        dense = V.astype(dtype)
        X = sp.csr_array(dense) if fmt == "csr_array" else sp.csr_matrix(dense).asformat(fmt)
        values = dense.astype(np.float64)
        tags = _shape_tags(values.shape, n_features, feature_tag) | _value_tags(values, unit)
        if not sparse_ok:
            tags.add("sparse")
        return X, tags

    if family == "object":
        pool = draw(st.sampled_from(["numbers", "numbers", "strings", "none", "numeric_strings"]))
        elems = [st.floats(0.0, 1.0), st.sampled_from([0, 1]), st.booleans(),
                 st.floats(0.0, 1.0).map(np.float32)]
        if pool == "strings":
            elems.append(st.sampled_from(["a", "cat", ""]))
        elif pool == "none":
            elems.append(st.none())
        elif pool == "numeric_strings":
            elems.append(st.sampled_from(["0.5", "1", "0"]))
        cells = draw(st.lists(st.one_of(*elems), min_size=n * f, max_size=n * f))
        X = np.empty(shape, dtype=object)
        X.flat[:] = cells
        tags = _shape_tags(shape, n_features, feature_tag)
        if any(isinstance(c, str) and not _is_number(c) for c in cells):
            tags.add("strings")
        elif any(isinstance(c, str) for c in cells):
            tags.add("numeric_strings")
        if any(c is None for c in cells):
            tags.add("nan")
        numeric = [float(c) if c is not None and _is_number(c) else 0.0 for c in cells]
        tags |= _value_tags(np.array(numeric).reshape(shape), unit)
        return X, tags

    if family == "huge":
        dtype = draw(st.sampled_from(["float64", "float32", "int64"]))
        V = _values(draw, shape, "huge")
        if dtype == "int64":
            X = np.clip(V, -9e18, 9e18).astype(np.int64)
        else:
            X = V.astype(dtype)
        if draw(st.booleans()):
            X = np.asfortranarray(X)
        values = np.asarray(X, dtype=np.float64)
        tags = _shape_tags(values.shape, n_features, feature_tag) | _value_tags(values, unit)
        return X, tags

    raise AssertionError(family)


def _is_number(c):
    try:
        float(c)
    except (TypeError, ValueError):
        return False
    return True


@st.composite
def targets(draw, name, n, kind):
    """``n`` targets of ``kind`` for ``name`` (classifier or regressor), and their problems."""
    tags = set()
    m = n
    if draw(st.integers(0, 7)) == 0:
        m = draw(st.sampled_from([n - 1, n + 1])) if n > 1 else n + 1
        tags.add("length")
    if name == "DBNClassifier":
        if kind in ("int", "column", "nan", "inf", "3d"):
            y = np.array(draw(st.lists(st.integers(0, 2), min_size=m, max_size=m)))
        elif kind == "unlabelled":
            y = np.array(draw(st.lists(st.integers(-1, 2), min_size=m, max_size=m)))
        elif kind == "str":
            y = np.array(draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=m, max_size=m)))
        elif kind == "bool":
            y = np.array(draw(st.lists(st.booleans(), min_size=m, max_size=m)))
        elif kind == "float_labels":
            y = np.array(draw(st.lists(st.sampled_from([0.0, 1.0, 2.0]), min_size=m, max_size=m)))
        elif kind == "multilabel":
            k = draw(st.integers(2, 3))
            y = np.array(draw(st.lists(st.lists(st.integers(0, 1), min_size=k, max_size=k),
                                       min_size=m, max_size=m)))
        elif kind == "continuous":
            y = np.linspace(0.1, 0.9, m) * draw(st.floats(1.0, 3.0))
            if m > 1:
                tags.add("labels")
        elif kind == "object":
            y = np.array(draw(st.lists(st.sampled_from([0, 1, "a", "b", None, 2.5]), min_size=m,
                                       max_size=m)), dtype=object)
            if len({type(v) for v in y}) > 1:
                tags.add("labels")
            elif not isinstance(y[0], str):
                tags.add("object_labels")  # scikit-learn's "unknown" target type
            elif len(set(y)) < 2:
                tags.add("class")
        if kind == "column":
            y = y[:, None]
        elif kind == "3d":
            y = y[:, None, None]
            tags.add("ndim")
        elif kind in ("nan", "inf"):
            y = y.astype(np.float64)
            y[draw(st.integers(0, m - 1))] = np.nan if kind == "nan" else np.inf
            tags.add(kind)
        if kind not in ("multilabel", "object") and "ndim" not in tags:
            flat = np.asarray(y).ravel()
            labelled = flat[flat != -1] if flat.dtype.kind in "iuf" else flat
            if kind not in ("nan", "inf") and len(np.unique(labelled)) < 2:
                tags.add("class")
        return y, tags
    if kind in ("float", "column", "nan", "inf"):
        y = np.array(draw(st.lists(st.floats(-5, 5), min_size=m, max_size=m)))
    elif kind == "int":
        y = np.array(draw(st.lists(st.integers(-5, 5), min_size=m, max_size=m)))
    elif kind == "bool":
        y = np.array(draw(st.lists(st.booleans(), min_size=m, max_size=m)))
    elif kind == "multi":
        k = draw(st.integers(2, 3))
        y = np.array(draw(st.lists(st.lists(st.floats(-5, 5), min_size=k, max_size=k),
                                   min_size=m, max_size=m)))
    elif kind == "constant":
        y = np.full(m, draw(st.floats(-5, 5)))
    elif kind == "str":
        y = np.array(draw(st.lists(st.sampled_from(["a", "b"]), min_size=m, max_size=m)))
        tags.add("strings")
    elif kind == "numeric_str":
        y = np.array(draw(st.lists(st.sampled_from(["0.5", "1", "-2"]), min_size=m, max_size=m)))
        tags.add("numeric_strings")
    elif kind == "object":
        y = np.array(draw(st.lists(st.sampled_from([0.5, 1, "a", None]), min_size=m, max_size=m)),
                     dtype=object)
        if any(isinstance(v, str) for v in y):
            tags.add("strings")
        if any(v is None for v in y):
            tags.add("nan")
    elif kind == "huge":
        y = np.array(draw(st.lists(st.sampled_from([1e20, -1e30, 3e38, 1.0]), min_size=m,
                                   max_size=m)))
        tags.add("huge")
    if kind == "column":
        y = y[:, None]
    elif kind in ("nan", "inf"):
        y[draw(st.integers(0, m - 1))] = np.nan if kind == "nan" else np.inf
        tags.add(kind)
    return y, tags


# --------------------------------------------------------------------------- #
# Property-based tests
# --------------------------------------------------------------------------- #

FAMILIES = ["dense", "sparse", "object", "huge"]

# Known defects of dbn: none at present. A defect found later gets a reason
# string here, passed as ``known`` to ``_case`` (a strict xfail), and an
# explicit test that pins it.
SPARSE_TYPEERROR = HUGE_RBM = HUGE_NET = MIXED_LABELS = SPARSE_H = NONE_TARGET = None


def _case(name, family, known=None):
    """A (name, family) parameter, with a strict xfail mark when ``known`` gives a reason."""
    marks = [pytest.mark.xfail(strict=True, reason=known)] if known else []
    return pytest.param(name, family, marks=marks, id=f"{name}-{family}")


def _use_fitted(est, name, X, tags, y=None, y_tags=frozenset()):
    """Call every data-taking method of the fitted ``est`` on X and check the contract."""
    n = np.shape(X)[0] if np.ndim(X) >= 1 else 0
    out_ok = {}
    for method in X_METHODS[name]:
        out = _call(getattr(est, method), X)
        shape = _expected_shape(est, method, n) if not tags & MUST_RAISE else None
        ok = _check(out, tags, shape=shape, float32=method in FLOAT32_METHODS,
                    what=f"{name}.{method}")
        if ok:
            out_ok[method] = out
    if "transform" in out_ok and hasattr(est, "inverse_transform"):
        H = out_ok["transform"]
        assert ((H >= 0) & (H <= 1)).all(), f"{name}.transform: probabilities outside [0, 1]"
        out = _call(est.inverse_transform, H)
        _check(out, set(), shape=(n, est.n_features_in_), float32=True,
               what=f"{name}.inverse_transform(transform(X))")
    if "predict_proba" in out_ok and est._output == "softmax":
        assert_allclose(out_ok["predict_proba"].sum(axis=1), 1.0, rtol=1e-5, atol=1e-5)
    if "predict" in out_ok and isinstance(est, DBNClassifier) and est._output == "softmax":
        assert np.isin(out_ok["predict"], est.classes_).all()
    if "gibbs" in out_ok and isinstance(est, BernoulliRBM):
        assert np.isin(out_ok["gibbs"], [0.0, 1.0]).all(), "BernoulliRBM.gibbs: non-binary sample"
    if y is not None:
        _check_score(est, X, y, tags | y_tags)


def _check_score(est, X, y, tags):
    n = np.shape(X)[0] if np.ndim(X) >= 1 else 0
    if isinstance(est, DBNRegressor) and n == 1:
        tags = set(tags) | {"samples"}  # R^2 is undefined: a clear error
    _check(_call(est.score, X, y), tags, what=f"{type(est).__name__}.score")


@pytest.mark.parametrize(
    "name, family",
    [
        *[_case(name, family) for name in UNSUPERVISED for family in FAMILIES
          if (name, family) != ("GaussianBernoulliRBM", "huge")],
        _case("GaussianBernoulliRBM", "huge", known=HUGE_RBM),
        *[_case(name, family, known={"sparse": SPARSE_TYPEERROR, "huge": HUGE_NET}.get(family))
          for name in SUPERVISED for family in FAMILIES],
    ],
)
@SETTINGS
@given(data=st.data())
def test_fit_contract(name, family, data):
    """fit (and fit_transform) on drawn X works, and the model is usable, or raises clearly."""
    unit = "bernoulli" if name == "BernoulliRBM" else None
    X, tags = data.draw(inputs(family, unit=unit, sparse_ok=name in SPARSE_OK, min_samples=1),
                        label="X")
    y, y_tags = None, set()
    if name in SUPERVISED:
        n = np.shape(X)[0] if np.ndim(X) else 0
        y = _clean_y(name, n) if n else np.array([])
        if name == "DBNClassifier" and n < 2:
            y_tags = {"class"}
    snap = _snapshot(X)
    est = _make(name)
    out = _call(est.fit, X) if y is None else _call(est.fit, X, y)
    if _check(out, tags | y_tags, what=f"{name}.fit"):
        assert out is est
        _use_fitted(est, name, X, tags, y=y)
    _assert_unchanged(X, snap, f"{name}.fit")
    if name in UNSUPERVISED:
        est2 = _make(name)
        out = _call(est2.fit_transform, X)
        n = np.shape(X)[0] if np.ndim(X) >= 1 else 0
        shape = (n, 3 if name in RBMS else 4) if not tags & MUST_RAISE else None
        _check(out, tags, shape=shape, float32=True, what=f"{name}.fit_transform")
        _assert_unchanged(X, snap, f"{name}.fit_transform")


@pytest.mark.parametrize(
    "name, family",
    [
        *[_case(name, family) for name in UNSUPERVISED for family in FAMILIES],
        *[_case(name, family, known=SPARSE_TYPEERROR if family == "sparse" else None)
          for name in SUPERVISED for family in FAMILIES],
    ],
)
@SETTINGS
@given(data=st.data())
def test_predict_contract(name, family, data):
    """Every method of a fitted model on drawn X (wrong feature counts included)."""
    est = _fitted(name)
    # The fitted DBN's first layer is Bernoulli (it saw data in [0, 1]).
    unit = "bernoulli" if name in ("BernoulliRBM", "DBN") else None
    X, tags = data.draw(inputs(family, n_features=N_FEATURES, unit=unit,
                               sparse_ok=name in SPARSE_OK, min_samples=0), label="X")
    snap = _snapshot(X)
    y = None
    if name in SUPERVISED:
        n = np.shape(X)[0] if np.ndim(X) else 0
        y = _clean_y(name, n)
    _use_fitted(est, name, X, tags, y=y)
    _assert_unchanged(X, snap, f"{name} predict-time methods")


@pytest.mark.parametrize(
    "name, family",
    [_case(name, family, known=HUGE_RBM if (name, family) == ("GaussianBernoulliRBM", "huge")
           else None) for name in RBMS for family in FAMILIES],
)
@SETTINGS
@given(data=st.data())
def test_partial_fit_contract(name, family, data):
    """partial_fit twice (the second time maybe with another feature count), then transform."""
    unit = "bernoulli" if name == "BernoulliRBM" else None
    X1, tags1 = data.draw(inputs(family, unit=unit), label="X1")
    est = _make(name)
    snap = _snapshot(X1)
    out = _call(est.partial_fit, X1)
    _assert_unchanged(X1, snap, f"{name}.partial_fit")
    if not _check(out, tags1, what=f"{name}.partial_fit (first)"):
        return
    f = est.n_features_in_
    X2, tags2 = data.draw(inputs(family, n_features=f, unit=unit), label="X2")
    snap = _snapshot(X2)
    _check(_call(est.partial_fit, X2), tags2, what=f"{name}.partial_fit (second)")
    shape = None if tags2 & MUST_RAISE else (np.shape(X2)[0], 3)
    _check(_call(est.transform, X2), tags2, shape=shape, float32=True,
           what=f"{name}.transform after partial_fit")
    _assert_unchanged(X2, snap, f"{name}.partial_fit (second)")


@pytest.mark.parametrize(
    "name, family",
    [
        _case("BernoulliRBM", "dense"),
        _case("BernoulliRBM", "sparse", known=SPARSE_H),
        _case("BernoulliRBM", "object"),
        _case("BernoulliRBM", "huge"),
        _case("GaussianBernoulliRBM", "dense"),
        _case("GaussianBernoulliRBM", "sparse", known=SPARSE_H),
        _case("GaussianBernoulliRBM", "object"),
        _case("GaussianBernoulliRBM", "huge"),
    ],
)
@SETTINGS
@given(data=st.data())
def test_inverse_transform_contract(name, family, data):
    """inverse_transform on drawn hidden values H (n_components columns expected)."""
    est = _fitted(name)
    H, tags = data.draw(inputs(family, n_features=est.n_components, unit="bernoulli",
                               min_samples=0, feature_tag="components"), label="H")
    snap = _snapshot(H)
    out = _call(est.inverse_transform, H)
    n = np.shape(H)[0] if np.ndim(H) >= 1 else 0
    # No samples is no problem for inverse_transform (an empty result is right).
    shape = None if tags & MUST_RAISE - {"samples"} else (n, N_FEATURES)
    _check(out, tags, shape=shape, float32=True, must_raise=MUST_RAISE - {"samples"},
           what=f"{name}.inverse_transform")
    _assert_unchanged(H, snap, f"{name}.inverse_transform")


CLASSIFIER_TARGETS = ["int", "unlabelled", "str", "bool", "float_labels", "column", "multilabel",
                      "continuous", "nan", "inf", "object", "3d"]
REGRESSOR_TARGETS = ["float", "int", "bool", "column", "multi", "constant", "nan", "inf", "str",
                     "numeric_str", "object", "huge"]


@pytest.mark.parametrize(
    "name, kind",
    [_case("DBNClassifier", k, known=MIXED_LABELS if k == "object" else None)
     for k in CLASSIFIER_TARGETS]
    + [_case("DBNRegressor", k, known={"object": NONE_TARGET, "huge": HUGE_NET}.get(k))
       for k in REGRESSOR_TARGETS],
)
@SETTINGS
@given(data=st.data())
def test_targets_contract(name, kind, data):
    """fit, predict and score with drawn targets y of ``kind`` on clean X."""
    n = data.draw(st.integers(1, 8), label="n")
    X = _clean_X(n=n)
    y, tags = data.draw(targets(name, n, kind), label="y")
    snap = _snapshot(y)
    est = _make(name)
    out = _call(est.fit, X, y)
    _assert_unchanged(y, snap, f"{name}.fit: y")
    if not _check(out, tags, what=f"{name}.fit(X, y)"):
        return
    y_arr = np.asarray(y)
    if name == "DBNRegressor" or est._output == "softmax":
        shape = (n,) if y_arr.ndim == 1 or y_arr.shape[1] == 1 else (n, y_arr.shape[1])
    else:
        shape = (n, y_arr.shape[1])
    _check(_call(est.predict, X), set(), shape=shape, what=f"{name}.predict")
    if name == "DBNClassifier":
        proba = _call(est.predict_proba, X)
        _check(proba, set(), shape=(n, len(est.classes_)), what=f"{name}.predict_proba")
    _check_score(est, X, y, tags)


# --------------------------------------------------------------------------- #
# Explicit cases
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("name", UNSUPERVISED)
def test_one_sample_fit_works(name):
    X = _clean_X(n=1, gaussian=name == "GaussianBernoulliRBM")
    est = _make(name).fit(X)
    H = est.transform(X)
    assert H.shape == (1, _n_out(est)) and H.dtype == np.float32 and np.isfinite(H).all()


def test_one_sample_classifier_raises():
    with pytest.raises(ValueError, match="class|sample"):
        _make("DBNClassifier").fit(_clean_X(n=1), [0])


def test_one_sample_regressor_fit_works():
    est = _make("DBNRegressor").fit(_clean_X(n=1), [0.5])
    pred = est.predict(_clean_X(n=3))
    assert pred.shape == (3,) and np.isfinite(pred).all()


def test_one_sample_regressor_score():
    est = _make("DBNRegressor").fit(_clean_X(n=5), np.arange(5.0))
    X1 = _clean_X(n=1)
    _check(_call(est.score, X1, [0.5]), {"samples"}, must_raise=(),
           what="DBNRegressor.score on one sample")


def test_one_class_classifier_raises():
    with pytest.raises(ValueError, match="class"):
        _make("DBNClassifier").fit(_clean_X(n=6), np.full(6, 3))


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("value", [0.0, 0.5, 1.0])
def test_constant_features(name, value):
    """All-constant and partly constant features fit and give finite results."""
    X = _clean_X(n=10)
    X[:, 1] = value
    for data in (X, np.full_like(X, value)):
        est = _make(name)
        if name in SUPERVISED:
            est.fit(data, _clean_y(name, 10))
            out = est.predict(data)
        else:
            out = est.fit(data).transform(data)
        assert np.isfinite(np.asarray(out, dtype=np.float64)).all()


def _fit_out(name, X, y=None):
    """Fit a fresh ``name`` on X and return its transform / predict_proba / predict of X."""
    est = _make(name)
    if name in SUPERVISED:
        est.fit(X, _clean_y(name, len(X)) if y is None else y)
        return est.predict_proba(X) if name == "DBNClassifier" else est.predict(X)
    return est.fit(X).transform(X)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool", "float16"])
def test_int_bool_float16_dtypes_work(name, dtype):
    """Each dtype gives exactly the result of the same values as float32."""
    X = (_clean_X(n=10) > 0.5).astype(dtype)
    if dtype == "float16":
        X = _clean_X(n=10).astype(np.float16)
    out = _fit_out(name, X)
    ref = _fit_out(name, X.astype(np.float32))
    assert out.dtype == np.float32
    assert_array_equal(out, ref)


@pytest.mark.parametrize("name", ALL)
def test_object_numbers_work(name):
    X = _clean_X(n=10)
    X_obj = np.empty(X.shape, dtype=object)
    X_obj.flat[:] = [float(v) if i % 2 else np.float32(v) for i, v in enumerate(X.ravel())]
    assert_array_equal(_fit_out(name, X_obj), _fit_out(name, X.astype(np.float32)))


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("where", ["fit", "predict"])
def test_object_strings_raise_value_error(name, where):
    X = _clean_X(n=10).astype(object)
    X[3, 2] = "cat"
    est = _fitted(name) if where == "predict" else _make(name)
    if where == "fit":
        args = (X, _clean_y(name, 10)) if name in SUPERVISED else (X,)
        fn = est.fit
    else:
        args = (X,)
        fn = getattr(est, X_METHODS[name][0])
    with pytest.raises(ValueError, match="convert|numeric|dtype|string"):
        fn(*args)


@pytest.mark.parametrize("name", ALL)
def test_fortran_order_bit_identical_to_c_order(name):
    X = _clean_X(n=15, gaussian=name == "GaussianBernoulliRBM")
    ref = _fit_out(name, np.ascontiguousarray(X))
    out = _fit_out(name, np.asfortranarray(X))
    assert_array_equal(out, ref)
    est = _fitted(name)
    method = getattr(est, X_METHODS[name][0])
    assert_array_equal(method(np.asfortranarray(X[:, :N_FEATURES])),
                       method(np.ascontiguousarray(X[:, :N_FEATURES])))


@pytest.mark.parametrize("name", UNSUPERVISED)
@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "csr_array"])
def test_sparse_matches_dense(name, fmt):
    X = _clean_X(n=15, gaussian=name == "GaussianBernoulliRBM")
    X[X < 0.4] = 0.0  # some structural zeros
    S = sp.csr_array(X) if fmt == "csr_array" else sp.csr_matrix(X).asformat(fmt)
    est = _fitted(name)
    assert_allclose(est.transform(S), est.transform(X), rtol=1e-5, atol=1e-6)
    if name in RBMS:
        for method in ("free_energy", "score_samples", "reconstruct"):
            assert_allclose(getattr(est, method)(S), getattr(est, method)(X), rtol=1e-5, atol=1e-5)
    # Training on the sparse matrix gives the model trained on the dense one.
    assert_allclose(_fit_out(name, S), _fit_out(name, X), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", UNSUPERVISED)
def test_noncanonical_csr_not_modified(name):
    """A CSR float32 matrix with duplicate entries: same result, X left as it was."""
    data = np.array([0.25, 0.25, 0.5, 1.0], dtype=np.float32)
    indices = np.array([0, 0, 2, 1])
    indptr = np.array([0, 3, 3, 4])
    S = sp.csr_matrix((data, indices, indptr), shape=(3, N_FEATURES))
    snap = S.copy()
    est = _fitted(name)
    assert_allclose(est.transform(S), est.transform(S.toarray()), rtol=1e-6)
    _assert_unchanged(S, snap, f"{name}.transform")


@pytest.mark.parametrize("name", SUPERVISED)
@pytest.mark.parametrize("where", ["fit", "predict"])
def test_supervised_reject_sparse_with_value_error(name, where):
    S = sp.csr_matrix(_clean_X(n=10))
    est = _fitted(name) if where == "predict" else _make(name)
    with pytest.raises(ValueError, match="sparse|dense"):
        est.fit(S, _clean_y(name, 10)) if where == "fit" else est.predict(S)


@pytest.mark.parametrize("name", SUPERVISED)
def test_mismatched_lengths_raise(name):
    X = _clean_X(n=10)
    with pytest.raises(ValueError, match="sample"):
        _make(name).fit(X, _clean_y(name, 9))
    with pytest.raises(ValueError, match="sample"):
        _fitted(name).score(X[:, :N_FEATURES], _clean_y(name, 9))


def test_classifier_mixed_type_labels_raise_value_error():
    for y in (["a", 0] * 5, ["a", None] * 5):
        with pytest.raises(ValueError, match="label|type|mix"):
            _make("DBNClassifier").fit(_clean_X(n=10), np.array(y, dtype=object))


@pytest.mark.parametrize("name", ALL)
def test_wrong_feature_count_raises(name):
    est = _fitted(name)
    for f in (N_FEATURES - 1, N_FEATURES + 1):
        for method in X_METHODS[name]:
            with pytest.raises(ValueError, match="features"):
                getattr(est, method)(_clean_X(n=3, n_features=f))


@pytest.mark.parametrize("name", ALL)
def test_not_fitted_raises(name):
    est = _make(name)
    X = _clean_X(n=3)
    methods = list(X_METHODS[name]) + (["inverse_transform"] if name in RBMS else [])
    for method in methods:
        with pytest.raises(NotFittedError):
            getattr(est, method)(X if method != "inverse_transform" else X[:, :3])
    if name in SUPERVISED:
        with pytest.raises(NotFittedError):
            est.score(X, _clean_y(name, 3))


@pytest.mark.parametrize("name", ["BernoulliRBM", "DBN"])
@pytest.mark.parametrize("bad", [-0.5, 1.5])
def test_bernoulli_inputs_outside_unit_interval_raise(name, bad):
    X = _clean_X(n=6)
    X[2, 1] = bad
    if name == "BernoulliRBM":
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            _make(name).fit(X)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        _fitted(name).transform(X)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_raise(name, bad):
    X = _clean_X(n=6)
    X[1, 2] = bad
    word = "NaN" if np.isnan(bad) else "infinity"
    args = (X, _clean_y(name, 6)) if name in SUPERVISED else (X,)
    with pytest.raises(ValueError, match=word):
        _make(name).fit(*args)
    for method in X_METHODS[name]:
        with pytest.raises(ValueError, match=word):
            getattr(_fitted(name), method)(X)


@pytest.mark.parametrize("name", RBMS)
def test_inverse_transform_sparse_H(name):
    """A sparse H (small: n_samples x n_components) is accepted, as dense."""
    H = sp.csr_matrix(np.eye(3, dtype=np.float32))
    est = _fitted(name)
    out = _call(est.inverse_transform, H)
    _check(out, set(), shape=(3, N_FEATURES), float32=True, what=f"{name}.inverse_transform")
    assert_allclose(out, est.inverse_transform(H.toarray()))


def test_inverse_transform_out_of_range_H():
    X = np.random.RandomState(0).randn(10, 3) * 1000
    est = GaussianBernoulliRBM(n_components=3, n_iter=1, random_state=0).fit(X)
    out = _call(est.inverse_transform, np.full((1, 3), 3e38))
    _check(out, {"range"}, shape=(1, 3), float32=True, what="inverse_transform(H=3e38)")


@pytest.mark.parametrize("case", ["fit", "free_energy", "transform"])
def test_gaussian_rbm_huge_values(case):
    if case == "fit":  # FloatingPointError
        _check(_call(_make("GaussianBernoulliRBM").fit, np.full((3, 3), 3.4e38)), {"huge"},
               what="fit")
        return
    X = np.random.RandomState(0).randn(6, 3) * 1e25
    est = GaussianBernoulliRBM(n_components=3, n_iter=1, random_state=0)
    if not _check(_call(est.fit, X), {"huge"}, what="fit"):
        return
    if case == "free_energy":  # all -inf
        _check(_call(est.free_energy, X), {"huge"}, shape=(6,), what="free_energy")
    else:  # [[nan, nan, nan]]
        _check(_call(est.transform, [[1e30, -1e30, 1e30]]), {"huge"}, shape=(1, 3), float32=True,
               what="transform")


@pytest.mark.parametrize("name, where", [("DBNClassifier", "X"), ("DBNRegressor", "X"),
                                         ("DBNRegressor", "y")])
def test_network_huge_values(name, where):
    X = np.random.RandomState(0).randn(10, 3)
    y = _clean_y(name, 10)
    if where == "X":
        X = X * 1e30
    else:
        y = y * 1e30
    est = _make(name)
    if _check(_call(est.fit, X, y), {"huge"}, what=f"{name}.fit"):
        _check(_call(est.predict, X), set(), shape=(10,), what=f"{name}.predict")


def test_regressor_none_target_raises_value_error():
    y = np.array([1.0, None, 0.5], dtype=object)
    with pytest.raises(ValueError, match="NaN|None|missing"):
        _make("DBNRegressor").fit(_clean_X(n=3), y)
