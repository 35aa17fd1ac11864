"""Tests of dbn.plotting: each figure rendered headless, and what it drew checked."""

import copy
import importlib
import subprocess
import sys
import zlib

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.container import ErrorbarContainer  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402

from dbn import DBN, BernoulliRBM, DBNClassifier  # noqa: E402
from dbn import plotting as P  # noqa: E402

# The small fits stop after a few epochs on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# --------------------------------------------------------------------------- #
# Small fits on digits, shared by the module (a few seconds in all)
# --------------------------------------------------------------------------- #


@pytest.fixture(scope="module")
def rbm(digits01):
    X, _ = digits01
    return BernoulliRBM(n_components=20, n_iter=3, validation_fraction=0.2,
                        random_state=0).fit(X)


@pytest.fixture(scope="module")
def stack(digits01):
    X, _ = digits01
    return DBN((20, 12), n_iter=2, random_state=0).fit(X)


@pytest.fixture(scope="module")
def nets(digits01, stack):
    """Fine-tuned from the DBN (with validation scores) and from random weights."""
    X, y = digits01
    common = {"max_iter": 4, "batch_size": 32, "random_state": 0}
    return {
        "dbn": DBNClassifier((20, 12), init=stack, early_stopping=True, n_iter_no_change=50,
                             **common).fit(X, y),
        "normal": DBNClassifier((20, 12), init="normal", **common).fit(X, y),
    }


def _render(fig):
    """Draw with the Agg canvas (headless), as savefig does."""
    assert isinstance(fig, Figure)
    FigureCanvasAgg(fig).draw()
    return fig


def _image(fig):
    (ax,) = fig.axes
    (im,) = ax.images
    return np.ma.filled(im.get_array().astype(float), np.nan)


def _tile(grid, i, n_cols, shape, padding=1):
    h, w = shape
    r, c = divmod(i, n_cols)
    return grid[r * (h + padding):r * (h + padding) + h, c * (w + padding):c * (w + padding) + w]


def _unit(x):
    x = np.asarray(x, dtype=float)
    return (x - x.min()) / (x.max() - x.min())


# --------------------------------------------------------------------------- #
# Optional dependency
# --------------------------------------------------------------------------- #
def test_import_dbn_does_not_import_matplotlib():
    code = ("import sys, dbn, dbn.report, dbn.study, dbn.datasets; "
            "assert 'matplotlib' not in sys.modules, 'matplotlib was imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_matplotlib_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.delitem(sys.modules, "dbn.plotting")
    with pytest.raises(ImportError, match=r"pip install 'deepbelief\[plot\]'"):
        importlib.import_module("dbn.plotting")


def test_report_keeps_the_old_names():
    from dbn import report

    assert report.plot_errors is P.plot_study_errors
    assert report.plot_gradient_norms is P.plot_study_gradient_norms
    with pytest.raises(AttributeError):
        report.plot_nothing  # noqa: B018


# --------------------------------------------------------------------------- #
# Image grids
# --------------------------------------------------------------------------- #
def test_tile_images_places_every_image():
    images = np.arange(5 * 6, dtype=float).reshape(5, 6)
    grid = P.tile_images(images, image_shape=(2, 3), n_cols=2)
    assert grid.shape == (3 * 3 - 1, 2 * 4 - 1)
    for i in range(5):
        np.testing.assert_array_equal(_tile(grid, i, 2, (2, 3)), images[i].reshape(2, 3))
    assert np.isnan(grid[2]).all() and np.isnan(grid[:, 3]).all()  # gaps
    assert np.isnan(_tile(grid, 5, 2, (2, 3))).all()  # the unused cell
    # 3-D input gives its own shape; the default is a square grid.
    assert P.tile_images(images.reshape(5, 2, 3)).shape == (2 * 3 - 1, 3 * 4 - 1)


def test_tile_images_scales_each_image():
    images = np.array([[0.0, 2.0, 4.0, 6.0], [1.0, 1.0, 1.0, 1.0]])
    grid = P.tile_images(images, scale="each", padding=0, n_cols=2)
    np.testing.assert_allclose(grid[:, :2].ravel(), [0, 1 / 3, 2 / 3, 1])
    np.testing.assert_allclose(grid[:, 2:], 0.5)  # constant image: mid-grey


def test_tile_images_rejects_a_shape_it_cannot_infer():
    with pytest.raises(ValueError, match="image_shape"):
        P.tile_images(np.zeros((3, 10)))
    with pytest.raises(ValueError, match="does not hold"):
        P.tile_images(np.zeros((3, 10)), image_shape=(3, 3))
    assert P.tile_images(np.zeros((3, 10)), image_shape=(2, 5), padding=0).shape == (4, 10)


def test_plot_images_draws_the_grid(digits01):
    X, _ = digits01
    fig = _render(P.plot_images(X[:12], n_cols=4, title="digits"))
    grid = _image(fig)
    assert grid.shape == (3 * 9 - 1, 4 * 9 - 1)
    for i in range(12):
        np.testing.assert_allclose(_tile(grid, i, 4, (8, 8)), X[i].reshape(8, 8))
    (ax,) = fig.axes
    assert ax.images[0].get_clim() == (0.0, 1.0) and ax.get_title() == "digits"
    # Values outside [0, 1] (e.g. Gaussian samples): the colours span the data.
    fig = P.plot_images(np.linspace(-2, 3, 2 * 9).reshape(2, 9))
    assert fig.axes[0].images[0].get_clim() == (-2.0, 3.0)


# --------------------------------------------------------------------------- #
# Filters
# --------------------------------------------------------------------------- #
def test_weight_tiles_are_the_normalised_filters(rbm):
    fig = _render(P.plot_weights(rbm, n_filters=12, n_cols=4))
    grid = _image(fig)
    assert grid.shape == (3 * 9 - 1, 4 * 9 - 1)
    for j in range(12):
        np.testing.assert_allclose(_tile(grid, j, 4, (8, 8)),
                                   _unit(rbm.components_[j]).reshape(8, 8), atol=1e-6)
    assert fig.axes[0].get_title() == "layer 1: 12 of 20 filters"
    assert _image(P.plot_weights(rbm, n_filters=None)).shape == (4 * 9 - 1, 5 * 9 - 1)


def test_deeper_filters_are_projected_by_the_weight_products(stack, nets):
    W1, W2 = (r.components_.T.astype(float) for r in stack.rbms_)
    grid = _image(_render(P.plot_weights(stack, layer=1, n_cols=4)))
    assert grid.shape == (3 * 9 - 1, 4 * 9 - 1)  # 12 units of layer 2
    for j in range(12):
        np.testing.assert_allclose(_tile(grid, j, 4, (8, 8)), _unit((W1 @ W2)[:, j]).reshape(8, 8),
                                   atol=1e-6)
    np.testing.assert_allclose(P.receptive_fields(stack, layer=1), W1 @ W2, rtol=1e-6)
    # A fine-tuned network: its own coefs_, the output layer included.
    clf = nets["normal"]
    fields = P.receptive_fields(clf, layer=2)
    W = [np.asarray(c, dtype=float) for c in clf.coefs_]
    np.testing.assert_allclose(fields, W[0] @ W[1] @ W[2], rtol=1e-12)
    assert fields.shape == (64, 10)
    with pytest.raises(ValueError, match="layer must be"):
        P.receptive_fields(stack, layer=2)
    with pytest.raises(TypeError, match="fitted RBM"):
        P.receptive_fields("weights")


def test_weights_with_a_given_image_shape():
    W = np.random.RandomState(0).randn(6, 3)  # three filters of 2 x 3 pixels
    grid = _image(_render(P.plot_weights(W, image_shape=(2, 3), n_cols=3)))
    assert grid.shape == (2, 3 * 4 - 1)
    np.testing.assert_allclose(_tile(grid, 2, 3, (2, 3)), _unit(W[:, 2]).reshape(2, 3))
    with pytest.raises(ValueError, match="image_shape"):
        P.plot_weights(W)


# --------------------------------------------------------------------------- #
# Samples
# --------------------------------------------------------------------------- #
def test_gibbs_chains_are_the_rbms_gibbs_steps(rbm, digits01):
    X, _ = digits01
    start = (X[:4] > 0.5).astype(np.float32)
    twin = copy.deepcopy(rbm)  # same generator state
    states = P.gibbs_chains(rbm, start, n_steps=6, every=3)
    assert states.shape == (3, 4, 64)
    np.testing.assert_array_equal(states[0], start)
    v = start
    for step in range(1, 7):
        v = twin.gibbs(v)
        if step % 3 == 0:
            np.testing.assert_array_equal(states[step // 3], v)


def test_plot_gibbs_chains_rows_are_snapshots(rbm, digits01):
    X, _ = digits01
    start = (X[:5] > 0.5).astype(np.float32)
    twin = copy.deepcopy(rbm)
    fig = _render(P.plot_gibbs_chains(rbm, start, n_steps=20, every=10))
    states = P.gibbs_chains(twin, start, n_steps=20, every=10)
    grid = _image(fig)
    assert grid.shape == (3 * 9 - 1, 5 * 9 - 1)  # 3 rows (steps 0, 10, 20), 5 chains
    for row in range(3):
        for chain in range(5):
            np.testing.assert_array_equal(_tile(grid, row * 5 + chain, 5, (8, 8)),
                                          states[row, chain].reshape(8, 8))
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "10", "20"]


def test_dbn_samples_are_drawn_by_dbn_sample(stack):
    fig = _render(P.plot_dbn_samples(stack, 6, n_gibbs=20, n_cols=3, random_state=1))
    expected = stack.sample(6, n_gibbs=20, random_state=1)
    grid = _image(fig)
    assert grid.shape == (2 * 9 - 1, 3 * 9 - 1)
    for i in range(6):
        np.testing.assert_allclose(_tile(grid, i, 3, (8, 8)), expected[i].reshape(8, 8))
    assert "20 Gibbs steps" in fig.axes[0].get_title()


# --------------------------------------------------------------------------- #
# Training curves
# --------------------------------------------------------------------------- #
def _data_lines(ax):
    """The lines drawn from data (not the zero line of the free-energy panel)."""
    return [line for line in ax.get_lines() if not line.get_label().startswith("_")]


def test_rbm_history_draws_each_monitor(rbm, digits01):
    fig = _render(P.plot_rbm_history(rbm))
    assert len(fig.axes) == 3
    h = rbm.history_
    for ax, key in zip(fig.axes, ("reconstruction_error", "pseudo_likelihood",
                                  "free_energy_gap"), strict=True):
        (line,) = _data_lines(ax)
        np.testing.assert_array_equal(line.get_xdata(), h["epoch"])
        np.testing.assert_allclose(line.get_ydata(), h[key])
    # Several RBMs, one without the held-out monitor: its gap is not drawn.
    X, _ = digits01
    other = BernoulliRBM(n_components=20, n_iter=2, k=3, random_state=0).fit(X)
    fig = _render(P.plot_rbm_history({"CD-1": rbm, "CD-3": other}))
    assert [ln.get_label() for ln in fig.axes[0].get_lines()] == ["CD-1", "CD-3"]
    np.testing.assert_allclose(fig.axes[0].get_lines()[1].get_ydata(),
                               other.history_["reconstruction_error"])
    assert [ln.get_label() for ln in _data_lines(fig.axes[2])] == ["CD-1"]
    fig = _render(P.plot_rbm_history(other))
    assert "validation_fraction" in fig.axes[2].texts[0].get_text()


def test_dbn_history_has_one_line_per_layer(stack, nets, rbm):
    for model in (stack, stack.history_):
        fig = _render(P.plot_dbn_history(model))
        # A DBN holds out no rows: no free-energy gap panel.
        assert [ax.get_title() for ax in fig.axes] == ["reconstruction error",
                                                       "pseudo-likelihood"]
        lines = fig.axes[0].get_lines()
        assert [ln.get_label() for ln in lines] == ["layer 1", "layer 2"]
        for line, h in zip(lines, stack.history_, strict=True):
            np.testing.assert_allclose(line.get_ydata(), h["reconstruction_error"])
    with pytest.raises(TypeError, match="init='dbn'"):
        P.plot_dbn_history(nets["normal"])  # no pretraining
    # Histories that recorded the gap (RBMs fitted with validation_fraction).
    fig = _render(P.plot_dbn_history([rbm.history_, rbm.history_]))
    assert len(fig.axes) == 3
    np.testing.assert_allclose(_data_lines(fig.axes[2])[1].get_ydata(),
                               rbm.history_["free_energy_gap"])


def test_up_down_history_draws_both_sides_and_the_schedule(stack):
    from sklearn.datasets import load_digits

    from dbn import DBN

    X, y = load_digits(return_X_y=True)
    model = DBN((16, 24), n_iter=1, joint_labels=True, up_down_n_iter=6, random_state=0)
    model.fit(X[:300] / 16, y[:300])
    fig = _render(P.plot_up_down_history(model))
    h = model.up_down_history_
    rec, err = (_data_lines(ax)[0] for ax in fig.axes)
    np.testing.assert_array_equal(rec.get_xdata(), np.arange(1, 7))
    np.testing.assert_allclose(rec.get_ydata(), h["reconstruction_error"])
    np.testing.assert_allclose(err.get_ydata(), 100 * np.asarray(h["train_error"]))
    # The schedule 3, 3, 6, 6, 10, 10 changes twice: one marker each, per panel.
    assert [t.get_text() for t in fig.axes[0].texts] == ["k = 6", "k = 10"]
    with pytest.raises(TypeError, match="up_down_n_iter > 0"):
        P.plot_up_down_history(stack)


def test_learning_curves_are_the_loss_and_validation_scores(nets, digits01):
    fig = _render(P.plot_learning_curves(nets))
    assert len(fig.axes) == 2
    loss_lines = fig.axes[0].get_lines()
    assert [ln.get_label() for ln in loss_lines] == ["dbn", "normal"]
    for line, clf in zip(loss_lines, nets.values(), strict=True):
        np.testing.assert_array_equal(line.get_xdata(), np.arange(1, clf.n_iter_ + 1))
        np.testing.assert_allclose(line.get_ydata(), clf.loss_curve_)
    (val,) = fig.axes[1].get_lines()  # only the net with early_stopping has scores
    np.testing.assert_allclose(val.get_ydata(), nets["dbn"].validation_scores_)
    # Without validation scores: one panel; scikit-learn's MLP works too.
    X, y = digits01
    mlp = MLPClassifier((16,), max_iter=3, random_state=0).fit(X[:300], y[:300])
    fig = _render(P.plot_learning_curves([nets["normal"], mlp]))
    assert len(fig.axes) == 1
    assert [ln.get_label() for ln in fig.axes[0].get_lines()] == ["init=normal",
                                                                  "MLPClassifier"]
    np.testing.assert_allclose(fig.axes[0].get_lines()[1].get_ydata(), mlp.loss_curve_)


def test_gradient_norms_one_panel_per_model_one_line_per_layer(nets):
    fig = _render(P.plot_gradient_norms(nets))
    assert len(fig.axes) == 2
    for ax, (name, clf) in zip(fig.axes, nets.items(), strict=True):
        assert ax.get_title() == name and ax.get_yscale() == "log"
        lines = ax.get_lines()
        assert [ln.get_label() for ln in lines] == ["layer 1", "layer 2", "output"]
        for layer, line in enumerate(lines):
            np.testing.assert_allclose(line.get_ydata(), clf.gradient_norms_[:, layer])
    assert fig.axes[0].get_shared_y_axes().joined(fig.axes[0], fig.axes[1])
    # Arrays, and the first epochs only.
    norms = np.array([[1e-4, 1e-2], [2e-4, 3e-2], [3e-4, 4e-2]])
    fig = _render(P.plot_gradient_norms({"a": norms, "b": norms * 2}, n_epochs=2))
    np.testing.assert_allclose(fig.axes[1].get_lines()[0].get_ydata(), [2e-4, 4e-4])


def test_drawing_into_given_axes(nets, rbm):
    fig = Figure()
    axes = fig.subplots(2, 3)
    assert P.plot_gradient_norms(nets, ax=axes[0, :2]) is fig
    assert P.plot_weights(rbm, ax=axes[0, 2]) is fig
    assert P.plot_rbm_history(rbm, ax=axes[1]) is fig
    _render(fig)
    assert len(fig.axes) == 6 and len(axes[0, 2].images) == 1
    assert len(axes[1, 0].get_lines()) == 1
    with pytest.raises(ValueError, match="2 panel"):
        P.plot_gradient_norms(nets, ax=axes[0, 0])
    other = Figure()
    ax = other.subplots()
    assert P.plot_learning_curves(nets["normal"], ax=ax) is other


# --------------------------------------------------------------------------- #
# The study's figures, on synthetic records whose numbers are known
# --------------------------------------------------------------------------- #
def _record(init, depth, labels, seed, error, n_epochs=3):
    rng = np.random.RandomState(zlib.crc32(f"{init} {depth} {labels} {seed}".encode()))
    return {
        "key": f"fake__init={init}__depth={depth}__labels={labels}__seed={seed}",
        "config": {"preset": "fake", "split": "test", "init": init, "depth": depth,
                   "labels": labels, "seed": seed},
        "status": "ok", "test_error": error, "validation_error": None,
        "loss_curve": list(np.sort(rng.uniform(0.1, 2.0, n_epochs))[::-1]),
        "gradient_norms": rng.uniform(1e-4, 1e-1, (n_epochs, depth + 1)).tolist(),
    }


@pytest.fixture(scope="module")
def records():
    """2 inits x 2 depths x 2 label counts x 3 seeds; errors known."""
    out = []
    for i, init in enumerate(("normal", "dbn")):
        for depth in (1, 2):
            for labels in (100, 1000):
                for seed in range(3):
                    error = 0.01 * (1 + i + depth + (labels == 100) * 5) + 0.001 * seed
                    out.append(_record(init, depth, labels, seed, error))
    return out


def _errors_pct(records, **where):
    return [100 * r["test_error"] for r in records
            if all(r["config"][k] == v for k, v in where.items())]


def test_study_errors_bars_are_mean_and_sd(records):
    fig = _render(P.plot_study_errors(records))
    (ax,) = fig.axes
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == 8  # configurations
    # Configurations in sorted order: init ("dbn" < "normal"), depth, labels.
    configs = [(init, d, n) for init in ("dbn", "normal") for d in (1, 2) for n in (100, 1000)]
    for bar, (init, d, n) in zip(bars, configs, strict=True):
        errors = _errors_pct(records, init=init, depth=d, labels=n)
        line, _, (segments,) = bar.lines
        assert line.get_ydata()[0] == pytest.approx(np.mean(errors))
        (seg,) = segments.get_segments()
        sd = np.std(errors, ddof=1)
        np.testing.assert_allclose(seg[:, 1], [np.mean(errors) - sd, np.mean(errors) + sd])
    dots = np.concatenate([c.get_offsets()[:, 1] for c in ax.collections
                           if isinstance(c, PathCollection)])
    np.testing.assert_allclose(np.sort(dots), np.sort([100 * r["test_error"] for r in records]))


def test_study_depth_boxes(records):
    fig = _render(P.plot_study_depth(records))
    (ax,) = fig.axes
    assert len(ax.patches) == 4  # 2 inits x 2 depths, at the largest label count
    # Horizontal segments are medians (as wide as the box) and caps (half as wide).
    flat = [ln for ln in ax.get_lines() if len(ln.get_xdata()) == 2
            and ln.get_ydata()[0] == ln.get_ydata()[1] and ln.get_xdata()[0] != ln.get_xdata()[1]]
    span = max(np.ptp(ln.get_xdata()) for ln in flat)
    medians = sorted(ln.get_ydata()[0] for ln in flat if np.isclose(np.ptp(ln.get_xdata()), span))
    expected = sorted(np.median(_errors_pct(records, init=i, depth=d, labels=1000))
                      for i in ("dbn", "normal") for d in (1, 2))
    np.testing.assert_allclose(medians, expected)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["dbn", "normal"]


@pytest.mark.parametrize("plot", ["plot_study_depth", "plot_study_errors"])
def test_study_log_scale_only_when_errors_span_a_decade(records, plot):
    assert _render(getattr(P, plot)(records)).axes[0].get_yscale() == "linear"
    # One configuration stuck at chance: the others stay readable on a log axis.
    stuck = [_record("normal", 3, 1000, s, 0.899) for s in range(3)]
    fig = _render(getattr(P, plot)(records + stuck))
    (ax,) = fig.axes
    assert ax.get_yscale() == "log"
    # ...and every seed is still drawn at its error.
    dots = np.concatenate([c.get_offsets()[:, 1] for c in ax.collections
                           if isinstance(c, PathCollection)])
    assert np.isclose(dots, 89.9).sum() == 3


def test_study_label_curve_errorbars(records):
    fig = _render(P.plot_study_label_curve(records))
    (ax,) = fig.axes
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == 4  # init x depth
    line = bars[0].lines[0]  # dbn, depth 1
    np.testing.assert_array_equal(np.asarray(line.get_xdata(), dtype=float), [100, 1000])
    np.testing.assert_allclose(np.asarray(line.get_ydata(), dtype=float), [
        np.mean(_errors_pct(records, init="dbn", depth=1, labels=n)) for n in (100, 1000)])
    assert ax.get_xscale() == "log"
    # Errors in percent read as plain numbers on the log axis, not "2 x 10^1".
    assert ax.get_yscale() == "log"
    labels = {t.get_text() for t in ax.yaxis.get_ticklabels(which="both")} - {""}
    assert labels and all("10^" not in t and "times" not in t for t in labels)
    assert P._plain_tick(20.0) == "20" and P._plain_tick(0.5) == "0.5"
    assert [P._plain_minor_tick(v) for v in (2.0, 3.0, 50.0, 0.6)] == ["2", "", "50", ""]


def test_study_gradient_norms_mean_over_seeds(records):
    fig = _render(P.plot_study_gradient_norms(records, n_epochs=2))
    assert [ax.get_title() for ax in fig.axes] == ["dbn", "normal"]
    sel = [r for r in records if r["config"]["init"] == "normal" and r["config"]["depth"] == 2
           and r["config"]["labels"] == 1000]
    mean = np.mean([np.asarray(r["gradient_norms"])[:2] for r in sel], axis=0)
    lines = fig.axes[1].get_lines()
    assert len(lines) == 3
    for layer, line in enumerate(lines):
        np.testing.assert_allclose(line.get_ydata(), mean[:, layer])


def test_study_learning_curves_every_seed(records):
    fig = _render(P.plot_study_learning_curves(records))
    (ax,) = fig.axes
    sel = [r for r in records if r["config"]["depth"] == 2 and r["config"]["labels"] == 1000]
    assert len(ax.get_lines()) == len(sel) == 6
    drawn = sorted(tuple(ln.get_ydata()) for ln in ax.get_lines())
    assert drawn == sorted(tuple(r["loss_curve"]) for r in sel)


def test_study_learning_curves_with_the_held_out_error(records):
    with_eval = [dict(r, eval_error_curve=[0.5 * e for e in r["loss_curve"]]) for r in records]
    fig = _render(P.plot_study_learning_curves(with_eval))
    loss_ax, eval_ax = fig.axes
    sel = [r for r in with_eval if r["config"]["depth"] == 2 and r["config"]["labels"] == 1000]
    assert len(loss_ax.get_lines()) == len(eval_ax.get_lines()) == 6
    drawn = sorted(tuple(np.round(ln.get_ydata(), 9)) for ln in eval_ax.get_lines())
    assert drawn == sorted(tuple(np.round(100 * np.asarray(r["eval_error_curve"]), 9)) for r in sel)
    assert "error" in eval_ax.get_ylabel()


def test_study_figures_refuse_mixed_presets(records):
    other = [dict(r, config=dict(r["config"], preset="other")) for r in records[:2]]
    with pytest.raises(ValueError, match="several presets"):
        P.plot_study_errors(records + other)
