"""Pictures of RBMs, DBNs, their training, and of the pretraining study.

Needs matplotlib (the optional extra ``deepbelief[plot]``); ``import dbn``
never imports it.  Every ``plot_*`` function returns a
:class:`matplotlib.figure.Figure` built without pyplot (no global state; it
renders headless with the Agg canvas when saved, and inline in Jupyter), or
draws into the Axes given as ``ax`` and returns their figure.  Functions that
draw several panels take a sequence of Axes as ``ax``, as scikit-learn's
display objects do.

- The model: :func:`plot_weights` (receptive fields of any layer, deeper
  ones projected down to the pixels), :func:`plot_images` (any images, e.g.
  samples), :func:`plot_gibbs_chains` (an RBM's Gibbs chains),
  :func:`plot_dbn_samples` (samples of a DBN's generative model).
- Its training: :func:`plot_rbm_history`, :func:`plot_dbn_history` (the
  per-epoch ``history_`` of RBMs and of a DBN's layers),
  :func:`plot_learning_curves` (fine-tuning loss and validation scores) and
  :func:`plot_gradient_norms` (the gradient reaching each layer: vanishing
  gradients, DBN against random initialisation).
- The study (records of :func:`dbn.study.run_study`, one preset and split):
  :func:`plot_study_errors`, :func:`plot_study_depth`,
  :func:`plot_study_label_curve`, :func:`plot_study_gradient_norms`,
  :func:`plot_study_learning_curves`; :mod:`dbn.report` draws its figures
  with them.

The arrays behind the image grids are available without drawing:
:func:`tile_images`, :func:`receptive_fields`, :func:`gibbs_chains`.

References
----------
D. Erhan, Y. Bengio, A. Courville and P. Vincent (2009). Visualizing
higher-layer features of a deep network. Technical report 1341, University of
Montreal (deeper layers shown as linear combinations of the filters below).

LISA lab. Deep Learning Tutorials (Theano), ``utils.tile_raster_images``
(each filter scaled to [0, 1] for display).

G. E. Hinton (2010). A practical guide to training restricted Boltzmann
machines, section 6 (the free-energy overfitting monitor). UTML TR 2010-003.
"""

import math
import numbers
from collections import defaultdict

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from .report import _error, _groups, _mean_sd, _pct

try:
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator
except ImportError as exc:
    raise ImportError(
        "dbn.plotting needs matplotlib, which is an optional dependency of dbn: "
        "pip install 'deepbelief[plot]'"
    ) from exc

__all__ = [
    "gibbs_chains",
    "plot_dbn_history",
    "plot_dbn_samples",
    "plot_gibbs_chains",
    "plot_gradient_norms",
    "plot_images",
    "plot_learning_curves",
    "plot_rbm_history",
    "plot_study_depth",
    "plot_study_errors",
    "plot_study_gradient_norms",
    "plot_study_label_curve",
    "plot_study_learning_curves",
    "plot_up_down_history",
    "plot_weights",
    "receptive_fields",
    "tile_images",
]

# Colour of the gaps between tiles of an image grid (NaN in the array).
_GAP_COLOR = "white"


# --------------------------------------------------------------------------- #
# Figures and axes
# --------------------------------------------------------------------------- #
def _figure(n_panels=1, width=6.4, height=4.2, sharey=True):
    """A constrained-layout Figure of ``n_panels`` side by side, and its Axes."""
    fig = Figure(figsize=(width * n_panels, height), layout="constrained")
    axes = fig.subplots(1, n_panels, squeeze=False, sharey=sharey)[0]
    return fig, list(axes)


def _axes(ax, n_panels, *, width=6.4, height=4.2, sharey=True, what="this figure"):
    """(figure, list of Axes, created): new panels, or the ``ax`` given."""
    if ax is None:
        fig, axes = _figure(n_panels, width, height, sharey)
        return fig, axes, True
    axes = list(np.ravel(np.asarray(ax, dtype=object)))
    if len(axes) != n_panels:
        raise ValueError(f"{what} draws {n_panels} panel(s); ax must be {n_panels} Axes, "
                         f"got {len(axes)}.")
    return axes[0].figure, axes, False


def _legend(ax, **kwargs):
    if ax.get_legend_handles_labels()[0]:  # nothing drawn (e.g. all runs failed): no legend
        ax.legend(**kwargs)


def _integer_epochs(ax):
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _plain_tick(value, _position=None):
    """A log axis's tick as a plain number ("20", "0.5"), not "2 x 10^1"."""
    return f"{value:g}"


def _plain_minor_tick(value, _position=None):
    """Minor ticks of a log axis: labelled at 2 and 5 times a power of ten only."""
    if value <= 0:
        return ""
    mantissa = value / 10.0 ** math.floor(math.log10(value))
    return f"{value:g}" if any(abs(mantissa - m) < 1e-6 for m in (2.0, 5.0)) else ""


def _plain_log_axis(axis):
    """Plain numbers on a logarithmic axis (errors in percent read as such)."""
    axis.set_major_formatter(FuncFormatter(_plain_tick))
    axis.set_minor_formatter(FuncFormatter(_plain_minor_tick))


def _log_if_wide(ax, values=None, ratio=10.0):
    """A logarithmic y axis when ``values`` (default: the lines drawn) span more than ``ratio``."""
    if values is None:
        values = [y for line in ax.get_lines() for y in np.asarray(line.get_ydata(), dtype=float)]
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size and values.min() > 0 and values.max() > ratio * values.min():
        ax.set_yscale("log")
        _plain_log_axis(ax.yaxis)


def _named(models, label):
    """``[(name, model)]`` from one model, a sequence of them or a dict."""
    if isinstance(models, dict):
        return [(str(k), v) for k, v in models.items()]
    if isinstance(models, (list, tuple)):
        names = [label(m) for m in models]
        repeated = {n for n in names if names.count(n) > 1}
        counts = defaultdict(int)
        out = []
        for name, m in zip(names, models, strict=True):
            if name in repeated:
                counts[name] += 1
                name = f"{name} ({counts[name]})"
            out.append((name, m))
        return out
    return [(label(models), models)]


def _model_label(model):
    """``init=...`` for the networks of dbn, the class name otherwise."""
    if isinstance(model, np.ndarray):
        return "array"
    init = getattr(model, "init", None)
    if init is not None:
        init = init if isinstance(init, str) else "DBN"
        activation = getattr(model, "activation", None)
        return f"init={init}" + (f", {activation}" if activation not in (None, "logistic") else "")
    return type(model).__name__


# --------------------------------------------------------------------------- #
# Images
# --------------------------------------------------------------------------- #
def _image_shape(n_pixels, image_shape):
    if image_shape is None:
        side = math.isqrt(n_pixels)
        if side * side != n_pixels:
            raise ValueError(
                f"The images have {n_pixels} pixels, which is not a square number; pass "
                "image_shape=(height, width).")
        return side, side
    shape = tuple(int(s) for s in image_shape)
    if len(shape) != 2 or shape[0] * shape[1] != n_pixels:
        raise ValueError(f"image_shape={image_shape!r} does not hold images of {n_pixels} pixels.")
    return shape


def _scale_each(images):
    """Every image min-max scaled to [0, 1] (a constant image becomes 0.5)."""
    lo = images.min(axis=1, keepdims=True)
    span = images.max(axis=1, keepdims=True) - lo
    out = np.full_like(images, 0.5)
    np.divide(images - lo, span, out=out, where=span > 0)
    return out


def tile_images(images, *, image_shape=None, n_cols=None, padding=1, scale=None):
    """Arrange images in a grid, as one 2-D array.

    Parameters
    ----------
    images : array-like of shape (n_images, n_pixels) or (n_images, height, width)
        The images, in row-major order (as MNIST's and scikit-learn digits'
        rows).
    image_shape : tuple of int, default=None
        ``(height, width)`` of flat images; None: square.
    n_cols : int, default=None
        Images per row of the grid; None: ``ceil(sqrt(n_images))``.
    padding : int, default=1
        Pixels between neighbouring images.
    scale : {None, "each"}, default=None
        ``"each"``: every image scaled to [0, 1] by its own minimum and
        maximum (for weights); None: values as given.

    Returns
    -------
    grid : ndarray of shape (n_rows * (height + padding) - padding, n_cols * (width + padding) - padding)
        float64; image ``i`` at grid row ``i // n_cols``, column
        ``i % n_cols``; NaN in the gaps and in unused cells.

    Examples
    --------
    >>> import numpy as np
    >>> from dbn.plotting import tile_images
    >>> tile_images(np.zeros((5, 16)), n_cols=3).shape
    (9, 14)
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim == 3:
        if image_shape is None:
            image_shape = images.shape[1:]
        images = images.reshape(len(images), -1)
    if images.ndim != 2 or len(images) == 0:
        raise ValueError(f"images must be a non-empty 2-D or 3-D array; got shape {images.shape}.")
    if scale not in (None, "each"):
        raise ValueError(f"scale must be None or 'each'; got {scale!r}.")
    h, w = _image_shape(images.shape[1], image_shape)
    n = len(images)
    n_cols = math.ceil(math.sqrt(n)) if n_cols is None else int(n_cols)
    if n_cols < 1:
        raise ValueError(f"n_cols must be at least 1; got {n_cols}.")
    n_rows = math.ceil(n / n_cols)
    if scale == "each":
        images = _scale_each(images)
    grid = np.full((n_rows * (h + padding) - padding, n_cols * (w + padding) - padding), np.nan)
    for i, img in enumerate(images):
        r, c = divmod(i, n_cols)
        grid[r * (h + padding):r * (h + padding) + h,
             c * (w + padding):c * (w + padding) + w] = img.reshape(h, w)
    return grid


def _grid_figure(grid, ax, width=6.0):
    """A figure sized to the grid's aspect ratio, or the Axes given."""
    aspect = grid.shape[0] / grid.shape[1]
    return _axes(ax, 1, width=width, height=min(max(width * aspect, 1.5), 12.0) + 0.4,
                 what="an image grid")


def _show_grid(ax, grid, cmap, vmin, vmax):
    cmap = matplotlib.colormaps[cmap].with_extremes(bad=_GAP_COLOR)
    image = ax.imshow(grid, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    return image


def plot_images(images, *, image_shape=None, n_cols=None, scale=None, cmap="gray", vmin=None,
                vmax=None, title=None, ax=None):
    """Draw images as a grid: data, reconstructions, or samples of a model.

    Parameters
    ----------
    images : array-like of shape (n_images, n_pixels) or (n_images, height, width)
        The images (e.g. a DBN's samples, an RBM's reconstructions).
    image_shape : tuple of int, default=None
        ``(height, width)``; None: square.
    n_cols : int, default=None
        Images per row; None: ``ceil(sqrt(n_images))``.
    scale : {None, "each"}, default=None
        ``"each"``: scale every image to [0, 1] on its own.
    cmap : str, default="gray"
        Colormap.
    vmin, vmax : float, default=None
        Colour range; None: [0, 1] when every value lies there, else the
        data's range.
    title : str, default=None
        Title of the panel.
    ax : matplotlib Axes, default=None
        Where to draw; None: a new figure.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from dbn.plotting import plot_images
    >>> fig = plot_images(load_digits().data[:20] / 16, n_cols=10)
    >>> fig.savefig("digits.png")  # doctest: +SKIP
    """
    grid = tile_images(images, image_shape=image_shape, n_cols=n_cols, scale=scale)
    if vmin is None and vmax is None:
        lo, hi = np.nanmin(grid), np.nanmax(grid)
        vmin, vmax = (0.0, 1.0) if lo >= 0.0 and hi <= 1.0 else (lo, hi)
    fig, (ax,), _ = _grid_figure(grid, ax)
    _show_grid(ax, grid, cmap, vmin, vmax)
    if title:
        ax.set_title(title)
    return fig


def _weight_matrices(model):
    """The weight matrices of a model, bottom first, each (n_in, n_out)."""
    if isinstance(model, BaseEstimator):
        check_is_fitted(model)
    if hasattr(model, "rbms_"):
        return [np.asarray(r.components_).T for r in model.rbms_]
    if hasattr(model, "components_"):
        return [np.asarray(model.components_).T]
    if hasattr(model, "coefs_"):
        return [np.asarray(c) for c in model.coefs_]
    if isinstance(model, np.ndarray) and model.ndim == 2:
        return [model]
    if isinstance(model, (list, tuple)) and model and all(np.ndim(w) == 2 for w in model):
        return [np.asarray(w) for w in model]
    raise TypeError(
        "Expected a fitted RBM, DBN or network (components_, rbms_ or coefs_), a weight "
        f"matrix of shape (n_in, n_out) or a list of them; got {type(model).__name__}.")


def receptive_fields(model, *, layer=0):
    """The filters of a layer in input space: the weight matrices multiplied.

    The filters of the first layer are its weights; those of a deeper layer
    ``l`` are the product ``W_1 W_2 ... W_l`` of the weight matrices below
    it, each unit's weights onto the layer below expressed through that
    layer's filters (a linear view that ignores the nonlinearities, as is
    customary; Erhan et al. 2009).

    Parameters
    ----------
    model : RBM, DBN, DBNClassifier, MLPClassifier, ndarray or list of ndarray
        A fitted model (its ``components_``, ``rbms_`` or ``coefs_``), or
        weight matrices of shape (n_in, n_out), bottom first.
    layer : int, default=0
        Index of the layer (0: the first hidden layer).

    Returns
    -------
    fields : ndarray of shape (n_features, n_units), float64
        Column ``j`` is the filter of unit ``j`` of the layer.

    Examples
    --------
    >>> import numpy as np
    >>> from dbn.plotting import receptive_fields
    >>> W1, W2 = np.ones((4, 3)), np.ones((3, 2))
    >>> receptive_fields([W1, W2], layer=1)
    array([[3., 3.],
           [3., 3.],
           [3., 3.],
           [3., 3.]])
    """
    weights = _weight_matrices(model)
    if not isinstance(layer, numbers.Integral) or not 0 <= layer < len(weights):
        raise ValueError(f"layer must be an integer in [0, {len(weights) - 1}]; got {layer!r}.")
    fields = np.asarray(weights[0], dtype=np.float64)
    for w in weights[1:layer + 1]:
        fields = fields @ np.asarray(w, dtype=np.float64)
    return fields


def plot_weights(model, *, layer=0, n_filters=100, image_shape=None, n_cols=None, cmap="gray",
                 ax=None):
    """Draw the filters (receptive fields) of a layer as a grid of images.

    Every filter is scaled to [0, 1] on its own (its smallest weight black,
    its largest white), as in the Theano tutorials' ``tile_raster_images``;
    filters of deeper layers are projected to the input by multiplying the
    weight matrices (:func:`receptive_fields`).

    Parameters
    ----------
    model : RBM, DBN, DBNClassifier, MLPClassifier, ndarray or list of ndarray
        See :func:`receptive_fields`.
    layer : int, default=0
        Index of the layer (0: the first hidden layer).
    n_filters : int or None, default=100
        Draw the first ``n_filters`` units (None: all).
    image_shape : tuple of int, default=None
        ``(height, width)`` of the input images; None: square.
    n_cols : int, default=None
        Filters per row; None: ``ceil(sqrt(n_filters))``.
    cmap : str, default="gray"
        Colormap.
    ax : matplotlib Axes, default=None
        Where to draw; None: a new figure.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from dbn import BernoulliRBM
    >>> from dbn.plotting import plot_weights
    >>> X = load_digits().data / 16
    >>> rbm = BernoulliRBM(n_components=36, n_iter=2, random_state=0).fit(X)
    >>> fig = plot_weights(rbm)  # 36 tiles of 8 x 8 pixels
    """
    fields = receptive_fields(model, layer=layer)
    n_units = fields.shape[1]
    shown = n_units if n_filters is None else min(int(n_filters), n_units)
    grid = tile_images(fields.T[:shown], image_shape=image_shape, n_cols=n_cols, scale="each")
    fig, (ax,), _ = _grid_figure(grid, ax)
    _show_grid(ax, grid, cmap, 0.0, 1.0)
    what = "filters" if layer == 0 else "filters projected to the input"
    count = f"{shown} of {n_units}" if shown < n_units else f"{n_units}"
    ax.set_title(f"layer {layer + 1}: {count} {what}")
    return fig


def gibbs_chains(rbm, start, *, n_steps=1000, every=100):
    """Run Gibbs chains of an RBM and keep their states every few steps.

    Each step is one call of the RBM's :meth:`~dbn.BernoulliRBM.gibbs`
    (sample h given v, then v given h), which draws from the RBM's own
    generator ``random_state_``.

    Parameters
    ----------
    rbm : BernoulliRBM or GaussianBernoulliRBM
        A fitted RBM.
    start : array-like of shape (n_chains, n_features)
        The visible states the chains start from (e.g. test images, or
        random binary vectors).
    n_steps : int, default=1000
        Gibbs steps.
    every : int, default=100
        Keep the states every ``every`` steps.

    Returns
    -------
    states : ndarray of shape (1 + n_steps // every, n_chains, n_features)
        ``states[0]`` is ``start``; ``states[i]`` the visible samples after
        ``i * every`` steps.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from dbn import BernoulliRBM
    >>> from dbn.plotting import gibbs_chains
    >>> X = (load_digits().data > 7).astype(float)
    >>> rbm = BernoulliRBM(n_components=32, n_iter=2, random_state=0).fit(X)
    >>> gibbs_chains(rbm, X[:5], n_steps=20, every=10).shape
    (3, 5, 64)
    """
    check_is_fitted(rbm)
    if int(n_steps) < 1 or int(every) < 1:
        raise ValueError(f"n_steps and every must be positive; got {n_steps} and {every}.")
    v = np.asarray(start, dtype=np.float32)
    if v.ndim != 2:
        raise ValueError(f"start must be 2-D (n_chains, n_features); got shape {v.shape}.")
    states = [v.copy()]
    for step in range(1, int(n_steps) + 1):
        v = rbm.gibbs(v)
        if step % int(every) == 0:
            states.append(np.array(v, dtype=np.float32))
    return np.stack(states)


def plot_gibbs_chains(rbm, start, *, n_steps=1000, every=100, image_shape=None, cmap="gray",
                      ax=None):
    """Draw Gibbs chains of an RBM: one column per chain, one row per snapshot.

    Parameters
    ----------
    rbm : BernoulliRBM or GaussianBernoulliRBM
        A fitted RBM.
    start : array-like of shape (n_chains, n_features)
        Where the chains start (the first row of the grid).
    n_steps : int, default=1000
        Gibbs steps.
    every : int, default=100
        Steps between rows.
    image_shape : tuple of int, default=None
        ``(height, width)``; None: square.
    cmap : str, default="gray"
        Colormap.
    ax : matplotlib Axes, default=None
        Where to draw; None: a new figure.

    Returns
    -------
    fig : matplotlib.figure.Figure

    See Also
    --------
    gibbs_chains : the states drawn.
    plot_images : draw any images, e.g. samples of a DBN.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from dbn import BernoulliRBM
    >>> from dbn.plotting import plot_gibbs_chains
    >>> X = (load_digits().data > 7).astype(float)
    >>> rbm = BernoulliRBM(n_components=32, n_iter=2, random_state=0).fit(X)
    >>> fig = plot_gibbs_chains(rbm, X[:8], n_steps=50, every=10)
    """
    states = gibbs_chains(rbm, start, n_steps=n_steps, every=every)
    n_rows, n_chains, n_features = states.shape
    h, w = _image_shape(n_features, image_shape)
    grid = tile_images(states.reshape(-1, n_features), image_shape=(h, w), n_cols=n_chains)
    lo, hi = np.nanmin(grid), np.nanmax(grid)
    vmin, vmax = (0.0, 1.0) if lo >= 0.0 and hi <= 1.0 else (lo, hi)
    fig, (ax,), _ = _grid_figure(grid, ax)
    _show_grid(ax, grid, cmap, vmin, vmax)
    ax.set_yticks([r * (h + 1) + (h - 1) / 2 for r in range(n_rows)],
                  [str(r * int(every)) for r in range(n_rows)])
    ax.set_ylabel("Gibbs step")
    ax.set_title(f"{n_chains} Gibbs chains, {n_steps} steps")
    return fig


def plot_dbn_samples(dbn, n_samples=None, *, image_shape=None, n_cols=None, cmap="gray", ax=None,
                     **sample_params):
    """Draw samples of a DBN's generative model (:meth:`dbn.DBN.sample`).

    Parameters
    ----------
    dbn : DBN
        A fitted :class:`~dbn.DBN`.
    n_samples : int, default=None
        Passed to :meth:`~dbn.DBN.sample`.
    image_shape : tuple of int, default=None
        ``(height, width)``; None: square.
    n_cols : int, default=None
        Samples per row; None: ``ceil(sqrt(n_samples))``.
    cmap : str, default="gray"
        Colormap.
    ax : matplotlib Axes, default=None
        Where to draw; None: a new figure.
    **sample_params
        Other arguments of :meth:`~dbn.DBN.sample` (``n_gibbs``, ``labels``,
        ``start``, ``random_state``).

    Returns
    -------
    fig : matplotlib.figure.Figure

    See Also
    --------
    plot_images : draw images, e.g. samples kept from an earlier call.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from dbn import DBN
    >>> from dbn.plotting import plot_dbn_samples
    >>> X = load_digits().data / 16
    >>> stack = DBN((32, 32), n_iter=2, random_state=0).fit(X)
    >>> fig = plot_dbn_samples(stack, 20, n_gibbs=100, n_cols=10)
    """
    samples = dbn.sample(n_samples, **sample_params)
    n_gibbs = sample_params.get("n_gibbs")
    steps = "" if n_gibbs is None else f", {n_gibbs} Gibbs steps in the top RBM"
    return plot_images(samples, image_shape=image_shape, n_cols=n_cols, cmap=cmap, ax=ax,
                       title=f"{len(samples)} samples of the DBN{steps}")


# --------------------------------------------------------------------------- #
# Training curves
# --------------------------------------------------------------------------- #
_HISTORY_PANELS = (
    ("reconstruction_error", "reconstruction error", "squared error per image"),
    ("pseudo_likelihood", "pseudo-likelihood", "mean log pseudo-likelihood"),
    ("free_energy_gap", "free-energy gap", "held-out minus training free energy"),
)


def _history(model):
    history = getattr(model, "history_", model)
    if not isinstance(history, dict) or "epoch" not in history:
        raise TypeError("Expected a fitted RBM (history_) or its history_ dict; got "
                        f"{type(model).__name__}.")
    return history


def _recorded(named, key):
    """Whether any of the histories has a finite value of ``key``."""
    return any(np.isfinite(np.asarray(h.get(key, []), dtype=float)).any() for _, h in named)


def _plot_histories(named, ax, title, panels=_HISTORY_PANELS):
    fig, axes, created = _axes(ax, len(panels), width=4.4, height=3.6, sharey=False,
                               what="this training history")
    for ax_, (key, name, ylabel) in zip(axes, panels, strict=True):
        drawn = False
        for label, history in named:
            values = np.asarray(history.get(key, []), dtype=float)
            if values.size and np.isfinite(values).any():
                ax_.plot(history["epoch"], values, marker=".", label=label)
                drawn = True
        if not drawn:
            why = ("fit with validation_fraction to monitor it" if key == "free_energy_gap"
                   else "not defined for Gaussian visible units" if key == "pseudo_likelihood"
                   else "no epochs")
            ax_.text(0.5, 0.5, f"not recorded:\n{why}", ha="center", va="center",
                     transform=ax_.transAxes, color="0.4")
        if key == "free_energy_gap" and drawn:
            # Hinton's guide, section 6: a gap that grows means overfitting.
            ax_.axhline(0.0, color="0.5", linewidth=0.8, label="_zero")
        ax_.set_title(name)
        ax_.set_xlabel("epoch")
        ax_.set_ylabel(ylabel)
        _integer_epochs(ax_)
        ax_.grid(alpha=0.3)
    if len(named) > 1:
        _legend(axes[0], fontsize=8)
    if created and title:
        fig.suptitle(title)
    return fig


def plot_rbm_history(rbm, *, ax=None):
    """Draw an RBM's training history: reconstruction error, pseudo-likelihood, free-energy gap.

    Three panels, per epoch: the reconstruction error, the pseudo-likelihood
    of training rows, and Hinton's overfitting monitor, the mean free energy
    of held-out rows minus that of training rows (recorded when the RBM was
    fitted with ``validation_fraction``; a gap that keeps growing means the
    model fits the training rows better than unseen ones).

    Parameters
    ----------
    rbm : RBM, dict, or list or dict of them
        A fitted RBM, its ``history_``, or several to compare (a dict gives
        their names in the legend).
    ax : sequence of 3 matplotlib Axes, default=None
        Where to draw; None: a new figure.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from dbn import BernoulliRBM
    >>> from dbn.plotting import plot_rbm_history
    >>> X = load_digits().data / 16
    >>> runs = {k: BernoulliRBM(n_components=32, k=k, n_iter=3, validation_fraction=0.2,
    ...                         random_state=0).fit(X) for k in (1, 5)}
    >>> fig = plot_rbm_history({f"CD-{k}": rbm for k, rbm in runs.items()})
    """
    named = [(name, _history(m)) for name, m in _named(rbm, lambda m: type(m).__name__)]
    title = "RBM training" if len(named) > 1 else f"{named[0][0]} training"
    return _plot_histories(named, ax, title)


def plot_dbn_history(dbn, *, ax=None):
    """Draw the pretraining history of every layer of a DBN.

    The panels of :func:`plot_rbm_history` that some layer recorded, one
    line per layer: the reconstruction error, the pseudo-likelihood (not
    recorded by a Gaussian first layer) and the free-energy gap (recorded
    only by RBMs fitted with ``validation_fraction``, which a DBN does not
    set).

    Parameters
    ----------
    dbn : DBN, DBNClassifier or list of dict
        A fitted :class:`~dbn.DBN` (``history_``), a classifier fitted with
        ``init="dbn"`` (``pretraining_history_``), or the per-layer histories.
    ax : sequence of matplotlib Axes, default=None
        One Axes per panel drawn (two for a DBN's own histories); None: a
        new figure.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from dbn import DBN
    >>> from dbn.plotting import plot_dbn_history
    >>> X = load_digits().data / 16
    >>> fig = plot_dbn_history(DBN((32, 16), n_iter=3, random_state=0).fit(X))
    """
    histories = getattr(dbn, "pretraining_history_", None)
    if histories is None:
        histories = getattr(dbn, "history_", dbn)
    if not isinstance(histories, (list, tuple)) or not histories:
        raise TypeError("Expected a fitted DBN, a DBNClassifier pretrained with init='dbn', or a "
                        f"non-empty list of per-layer histories; got {type(dbn).__name__}.")
    named = [(f"layer {i + 1}", _history(h)) for i, h in enumerate(histories)]
    # A DBN holds out no rows: the free-energy gap is drawn only if recorded.
    panels = [p for p in _HISTORY_PANELS if p[0] == "reconstruction_error" or _recorded(named, p[0])]
    return _plot_histories(named, ax, f"DBN pretraining, {len(named)} layers", panels)


def plot_up_down_history(dbn, *, ax=None):
    """Draw the history of a DBN's up-down fine-tuning.

    Two panels over the epochs: the generative reconstruction error of the
    data (the generative model learning) and the classification error on
    the monitored training rows (the recognition side).  A dotted line marks
    each change of the Gibbs steps in the top RBM (the ``"hinton"``
    schedule's 3, 6, 10).

    Parameters
    ----------
    dbn : DBN
        Fitted with ``up_down_n_iter > 0``.
    ax : sequence of 2 matplotlib Axes, default=None
        Where to draw; None: a new figure.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    h = getattr(dbn, "up_down_history_", None)
    if not h or not h.get("epoch"):
        raise TypeError("Expected a DBN fitted with up_down_n_iter > 0 (it has up_down_history_); "
                        f"got {type(dbn).__name__} without it.")
    fig, axes, _ = _axes(ax, 2, sharey=False, what="plot_up_down_history")
    epochs = np.asarray(h["epoch"]) + 1
    for axis, key, title in ((axes[0], "reconstruction_error", "generative reconstruction error"),
                             (axes[1], "train_error", "training error (monitored rows)")):
        values = np.asarray(h[key], dtype=float) * (100.0 if key == "train_error" else 1.0)
        axis.plot(epochs, values, marker="." if len(epochs) < 30 else None, label=key)
        for i in range(1, len(epochs)):
            if h["k"][i] != h["k"][i - 1]:
                axis.axvline(epochs[i] - 0.5, color="grey", linestyle=":", linewidth=1)
                axis.annotate(f"k = {h['k'][i]}", (epochs[i] - 0.5, 1.0), xycoords=("data", "axes fraction"),
                              ha="left", va="top", fontsize="small", color="grey")
        axis.set_title(title)
        axis.set_xlabel("epoch of up-down")
        _integer_epochs(axis)
    axes[0].set_ylabel("squared error per row")
    axes[1].set_ylabel("error (%)")
    return fig


def plot_learning_curves(models, *, ax=None):
    """Draw fine-tuning curves: training loss, and validation scores if recorded.

    Parameters
    ----------
    models : estimator, list or dict of estimators
        Fitted networks with ``loss_curve_`` (and ``validation_scores_``):
        :class:`~dbn.DBNClassifier`, :class:`~dbn.DBNRegressor`,
        scikit-learn's MLPs.  A dict gives their names in the legend.
    ax : matplotlib Axes or sequence of 2 Axes, default=None
        Where to draw: one Axes for the loss, two for loss and validation
        score.  None: a new figure, with a validation panel when any model
        recorded validation scores (``early_stopping=True``).

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from dbn import DBNClassifier
    >>> from dbn.plotting import plot_learning_curves
    >>> X, y = load_digits(return_X_y=True)
    >>> nets = {init: DBNClassifier((32,), init=init, max_iter=5, pretrain_n_iter=2,
    ...                             random_state=0).fit(X / 16, y) for init in ("dbn", "glorot")}
    >>> fig = plot_learning_curves(nets)
    """
    named = _named(models, _model_label)
    for name, m in named:
        if not hasattr(m, "loss_curve_"):
            raise TypeError(f"{name}: expected a fitted network with loss_curve_.")
    scores = [(name, getattr(m, "validation_scores_", None)) for name, m in named]
    has_scores = any(s for _, s in scores)
    if ax is None:
        n_panels = 2 if has_scores else 1
    else:
        n_panels = len(np.ravel(np.asarray(ax, dtype=object)))
        if n_panels not in (1, 2):
            raise ValueError(f"ax must be one or two Axes; got {n_panels}.")
    fig, axes, _ = _axes(ax, n_panels, sharey=False, what="plot_learning_curves")
    for i, (name, m) in enumerate(named):
        curve = np.asarray(m.loss_curve_, dtype=float)
        axes[0].plot(np.arange(1, len(curve) + 1), curve, color=f"C{i % 10}", label=name)
    _log_if_wide(axes[0])
    axes[0].set_xlabel("fine-tuning epoch")
    axes[0].set_ylabel("training loss")
    axes[0].set_title("training loss")
    if n_panels == 2:
        for i, (name, s) in enumerate(scores):
            if s:
                axes[1].plot(np.arange(1, len(s) + 1), np.asarray(s, dtype=float),
                             color=f"C{i % 10}", label=name)
        axes[1].set_xlabel("fine-tuning epoch")
        axes[1].set_ylabel("validation score")
        axes[1].set_title("held-out score (early_stopping's validation rows)")
    for ax_ in axes:
        _integer_epochs(ax_)
        ax_.grid(alpha=0.3, which="both")
    _legend(axes[0])
    return fig


def _gradient_norms(model):
    norms = getattr(model, "gradient_norms_", model)
    norms = np.asarray(norms, dtype=float)
    if norms.ndim != 2:
        raise TypeError("Expected a fitted DBNClassifier/DBNRegressor (gradient_norms_) or an "
                        f"array of shape (n_epochs, n_weight_layers); got {type(model).__name__}.")
    return norms


def plot_gradient_norms(models, *, n_epochs=None, ax=None):
    """Draw the gradient norm reaching each layer per fine-tuning epoch.

    One panel per model, on a shared logarithmic axis; one line per weight
    matrix, input layer first.  In a deep logistic net from random weights
    the layers near the input receive gradients orders of magnitude smaller
    than the output layer (the vanishing gradient); after DBN pretraining,
    or with rectified units and a scaled initialisation, they do not.

    Parameters
    ----------
    models : estimator, ndarray, or list or dict of them
        Fitted :class:`~dbn.DBNClassifier`/:class:`~dbn.DBNRegressor`
        (``gradient_norms_``) or arrays of shape (n_epochs, n_weight_layers).
        A dict gives the panel titles.
    n_epochs : int, default=None
        Draw the first ``n_epochs`` epochs only (None: all).
    ax : sequence of matplotlib Axes, default=None
        One Axes per model; None: a new figure.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from dbn import DBNClassifier
    >>> from dbn.plotting import plot_gradient_norms
    >>> X, y = load_digits(return_X_y=True)
    >>> nets = {init: DBNClassifier((32, 32, 32), init=init, max_iter=5, pretrain_n_iter=2,
    ...                             random_state=0).fit(X / 16, y) for init in ("dbn", "normal")}
    >>> fig = plot_gradient_norms(nets)
    """
    named = [(name, _gradient_norms(m)) for name, m in _named(models, _model_label)]
    fig, axes, created = _axes(ax, len(named), width=4.6, height=3.8, sharey=True,
                               what="plot_gradient_norms")
    for ax_, (name, norms) in zip(axes, named, strict=True):
        if n_epochs is not None:
            norms = norms[:n_epochs]
        epochs = np.arange(1, len(norms) + 1)
        n_layers = norms.shape[1]
        for layer in range(n_layers):
            label = "output" if layer == n_layers - 1 else f"layer {layer + 1}"
            ax_.plot(epochs, norms[:, layer], marker=".", label=label)
        ax_.set_yscale("log")
        ax_.set_xlabel("fine-tuning epoch")
        _integer_epochs(ax_)
        ax_.set_title(name)
        ax_.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("mean gradient norm per weight matrix")
    _legend(axes[-1], fontsize=8)
    if created:
        fig.suptitle("Gradient reaching each layer during fine-tuning")
    return fig


# --------------------------------------------------------------------------- #
# The study (records of dbn.study.run_study)
# --------------------------------------------------------------------------- #
def _title(records):
    c = records[0]["config"]
    return c["preset"] + (" (validation)" if c["split"] == "validation" else "")


def _error_label(records):
    return "validation error (%)" if records[0]["config"]["split"] == "validation" \
        else "test error (%)"


def _colors(names):
    return {n: f"C{i % 10}" for i, n in enumerate(names)}


def _inits(records):
    """Inits in a stable order: "dbn" variants first."""
    names = {r["config"]["init"] for r in records}
    return sorted(names, key=lambda n: (not n.startswith("dbn"), n))


def _check_records(records):
    if not records:
        raise ValueError("No records to plot.")
    kinds = {(r["config"]["preset"], r["config"]["split"]) for r in records}
    if len(kinds) > 1:
        raise ValueError(f"The records are of several presets or splits ({sorted(kinds)}); "
                         "plot one (preset, split) at a time.")
    return list(records)


def _log_scale_if_wide(ax, records):
    """A log error axis when the records' errors span more than a factor of 10."""
    # A net stuck at chance (90%) beside nets at 2% would flatten every
    # other point on a linear axis; Erhan et al.'s spread stays visible on a log one.
    _log_if_wide(ax, [_pct(_error(r)) for r in records if _error(r) is not None])


def plot_study_errors(records, *, ax=None):
    """Error of each configuration of a study: mean ± sd and every seed.

    The error axis is logarithmic when the errors span more than a factor of
    10 (a net stuck at chance beside working ones), linear otherwise.

    Parameters
    ----------
    records : list of dict
        Records of :func:`dbn.study.run_study`, of one preset and split
        (e.g. ``dbn.study.load_records(folder)``).
    ax : matplotlib Axes, default=None
        Where to draw; None: a new figure.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> from dbn.study import load_records
    >>> from dbn.plotting import plot_study_errors
    >>> fig = plot_study_errors(load_records("results/digits"))  # doctest: +SKIP
    """
    records = _check_records(records)
    groups = _groups(records)
    depths = {k[3] for k in groups}
    labels = {k[4] for k in groups}
    colors = _colors(_inits(records))
    fig, (ax,), _ = _axes(ax, 1, width=max(6.4, 0.7 * len(groups) + 2), what="plot_study_errors")
    ticks = []
    for x, ((_, _, init, depth, n_labels), recs) in enumerate(groups.items()):
        errors = [_pct(_error(r)) for r in recs if _error(r) is not None]
        if errors:
            rng = np.random.RandomState(x)
            ax.scatter(x + rng.uniform(-0.12, 0.12, len(errors)), errors, s=14,
                       color=colors[init], alpha=0.6, zorder=2)
            sd = np.std(errors, ddof=1) if len(errors) > 1 else 0.0
            ax.errorbar(x + 0.25, np.mean(errors), yerr=sd, fmt="o", color=colors[init],
                        capsize=4, zorder=3)
        tick = init
        if len(depths) > 1:
            tick += f"\ndepth {depth}"
        if len(labels) > 1:
            tick += f"\n{n_labels} labels"
        ticks.append(tick)
    ax.set_xticks(range(len(ticks)), ticks, fontsize=8)
    ax.set_ylabel(_error_label(records))
    _log_scale_if_wide(ax, records)
    ax.set_title(f"{_title(records)}: every seed (dots), mean ± sd (bars)")
    ax.grid(axis="y", alpha=0.3)
    return fig


def plot_study_depth(records, *, ax=None):
    """Box plots of a study's error by depth and init (at its largest label count).

    The error axis is logarithmic when the errors span more than a factor of
    10 (a net stuck at chance beside working ones), linear otherwise.

    Parameters
    ----------
    records : list of dict
        Records of one preset and split.
    ax : matplotlib Axes, default=None
        Where to draw; None: a new figure.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> from dbn.study import load_records
    >>> from dbn.plotting import plot_study_depth
    >>> fig = plot_study_depth(load_records("results/mnist-depth"))  # doctest: +SKIP
    """
    records = _check_records(records)
    top = max(r["config"]["labels"] for r in records)
    records = [r for r in records if r["config"]["labels"] == top]
    inits = _inits(records)
    colors = _colors(inits)
    depths = sorted({r["config"]["depth"] for r in records})
    fig, (ax,), _ = _axes(ax, 1, width=max(6.4, 1.2 * len(depths) * len(inits) / 2 + 2),
                          what="plot_study_depth")
    width = 0.8 / len(inits)
    for j, init in enumerate(inits):
        data, pos = [], []
        for i, d in enumerate(depths):
            errors = [_pct(_error(r)) for r in records if r["config"]["init"] == init
                      and r["config"]["depth"] == d and _error(r) is not None]
            if errors:
                data.append(errors)
                pos.append(i + (j - (len(inits) - 1) / 2) * width)
        if not data:
            continue
        box = ax.boxplot(data, positions=pos, widths=width * 0.85, patch_artist=True,
                         manage_ticks=False, medianprops={"color": "black"})
        for patch in box["boxes"]:
            patch.set_facecolor(colors[init])
            patch.set_alpha(0.5)
        for p, errors in zip(pos, data, strict=True):
            ax.scatter(np.full(len(errors), p), errors, s=10, color=colors[init], zorder=3)
        ax.plot([], [], color=colors[init], linewidth=6, alpha=0.5, label=init)
    ax.set_xticks(range(len(depths)), [str(d) for d in depths])
    ax.set_xlabel("hidden layers")
    ax.set_ylabel(_error_label(records))
    _log_scale_if_wide(ax, records)
    ax.set_title(f"{_title(records)}: error by depth ({top} labels)")
    _legend(ax)
    ax.grid(axis="y", alpha=0.3)
    return fig


def plot_study_label_curve(records, *, ax=None):
    """A study's error against the number of labelled images, mean ± sd per init.

    Parameters
    ----------
    records : list of dict
        Records of one preset and split.
    ax : matplotlib Axes, default=None
        Where to draw; None: a new figure.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> from dbn.study import load_records
    >>> from dbn.plotting import plot_study_label_curve
    >>> fig = plot_study_label_curve(load_records("results/mnist-labels"))  # doctest: +SKIP
    """
    records = _check_records(records)
    inits = _inits(records)
    colors = _colors(inits)
    depths = sorted({r["config"]["depth"] for r in records})
    fig, (ax,), _ = _axes(ax, 1, what="plot_study_label_curve")
    for init in inits:
        for depth in depths:
            sel = [r for r in records if r["config"]["init"] == init
                   and r["config"]["depth"] == depth]
            labels = sorted({r["config"]["labels"] for r in sel})
            stats = [_mean_sd([_pct(_error(r)) for r in sel if r["config"]["labels"] == n])
                     for n in labels]
            pts = [(n, s) for n, s in zip(labels, stats, strict=True) if s is not None]
            if not pts:
                continue
            name = init if len(depths) == 1 else f"{init}, depth {depth}"
            ax.errorbar([n for n, _ in pts], [s[0] for _, s in pts],
                        yerr=[s[1] or 0.0 for _, s in pts], marker="o", capsize=4,
                        color=colors[init], label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    _plain_log_axis(ax.yaxis)
    ax.set_xlabel("labelled training images")
    ax.set_ylabel(_error_label(records))
    ax.set_title(f"{_title(records)}: error by label count (mean ± sd over seeds)")
    _legend(ax)
    ax.grid(alpha=0.3, which="both")
    return fig


def _main_slice(records):
    """The records of the deepest net and the largest label count."""
    depth = max(r["config"]["depth"] for r in records)
    labels = max(r["config"]["labels"] for r in records)
    return [r for r in records if r["config"]["depth"] == depth
            and r["config"]["labels"] == labels], depth, labels


def plot_study_gradient_norms(records, n_epochs=10, *, ax=None):
    """A study's gradient norm reaching each layer over the first epochs of fine-tuning.

    One panel per init (the deepest net, the largest label count); one line
    per weight layer, the mean over seeds (the band: min to max).  Layers
    near the input receiving far smaller gradients than the output layer is
    the vanishing gradient of deep logistic nets.

    Parameters
    ----------
    records : list of dict
        Records of one preset and split.
    n_epochs : int, default=10
        Epochs shown.
    ax : sequence of matplotlib Axes, default=None
        One Axes per init; None: a new figure.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> from dbn.study import load_records
    >>> from dbn.plotting import plot_study_gradient_norms
    >>> fig = plot_study_gradient_norms(load_records("results/digits"))  # doctest: +SKIP
    """
    records, depth, labels = _main_slice(_check_records(records))
    inits = _inits(records)
    fig, axes, created = _axes(ax, len(inits), width=4.6, height=3.8,
                               what="plot_study_gradient_norms (one panel per init)")
    for ax_, init in zip(axes, inits, strict=True):
        norms = [np.asarray(r["gradient_norms"], dtype=float)[:n_epochs]
                 for r in records if r["config"]["init"] == init and r["gradient_norms"]]
        if not norms:
            ax_.set_title(f"{init}: no epochs")
            continue
        n = min(len(g) for g in norms)
        stack = np.stack([g[:n] for g in norms])  # seeds x epochs x layers
        epochs = np.arange(1, n + 1)
        for layer in range(stack.shape[2]):
            name = "output" if layer == stack.shape[2] - 1 else f"layer {layer + 1}"
            ax_.plot(epochs, stack[:, :, layer].mean(0), marker=".", label=name)
            ax_.fill_between(epochs, stack[:, :, layer].min(0), stack[:, :, layer].max(0),
                             alpha=0.15)
        ax_.set_yscale("log")
        ax_.set_xlabel("fine-tuning epoch")
        _integer_epochs(ax_)
        ax_.set_title(init)
        ax_.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("mean gradient norm per weight matrix")
    _legend(axes[-1], fontsize=8)
    if created:
        fig.suptitle(f"{_title(records)}: gradient norm per layer, first {n_epochs} epochs "
                     f"(depth {depth}, {labels} labels)")
    return fig


def plot_study_learning_curves(records, *, ax=None):
    """A study's fine-tuning curves per epoch: every seed, per init.

    Left, the training loss; right (when the records have it), the error on
    the held-out images (validation or test, the records' split) after each
    epoch.

    Parameters
    ----------
    records : list of dict
        Records of one preset and split (the deepest net and the largest
        label count are shown).
    ax : matplotlib Axes or list of 2 Axes, default=None
        Where to draw (one per panel); None: a new figure.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> from dbn.study import load_records
    >>> from dbn.plotting import plot_study_learning_curves
    >>> fig = plot_study_learning_curves(load_records("results/digits"))  # doctest: +SKIP
    """
    records, depth, labels = _main_slice(_check_records(records))
    inits = _inits(records)
    colors = _colors(inits)
    # Records written before the held-out curve existed have no such field.
    held_out = any(r.get("eval_error_curve") for r in records)
    fig, axes, _ = _axes(ax, 2 if held_out else 1, sharey=False,
                         what="plot_study_learning_curves")
    panels = [("loss_curve", 1.0)] + ([("eval_error_curve", 100.0)] if held_out else [])
    for a, (field, scale) in zip(axes, panels):
        for init in inits:
            first = True
            for r in records:
                curve = r.get(field)
                if r["config"]["init"] != init or not curve:
                    continue
                a.plot(np.arange(1, len(curve) + 1), scale * np.asarray(curve, dtype=float),
                       color=colors[init], alpha=0.7, linewidth=1, label=init if first else None)
                first = False
        a.set_xlabel("fine-tuning epoch")
        _integer_epochs(a)
        _legend(a)
        a.grid(alpha=0.3, which="both")
    ax = axes[0]
    ax.set_yscale("log")
    ax.set_ylabel("training loss (cross-entropy + L2)")
    ax.set_title(f"{_title(records)}: learning curves, every seed (depth {depth}, "
                 f"{labels} labels)")
    if held_out:
        axes[1].set_yscale("log")
        axes[1].set_ylabel(_error_label(records))
        axes[1].set_title("held-out error after each epoch")
    return fig
