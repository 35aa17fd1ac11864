"""Tests of the fine-tuning engine (dbn._network and its Numba kernels).

Every kernel is checked against a plain float64 NumPy reference written here,
and against scikit-learn's MLP where the conventions must agree (init,
``alpha``, momentum, loss per epoch).
"""

import itertools
import warnings

import numpy as np
import pytest
from scipy.special import expit, logsumexp
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor

from dbn import _network as net
from dbn import _network_kernels as k
from dbn._rng import fill_uniform

RNG = np.random.RandomState(0)
N_SAMPLES, N_FEATURES = 30, 7
X = RNG.uniform(-1, 1, (N_SAMPLES, N_FEATURES)).astype(np.float32)
LABELS = RNG.randint(0, 3, N_SAMPLES)
TARGETS = {
    "softmax": np.eye(3, dtype=np.float32)[LABELS],
    "identity": RNG.normal(size=(N_SAMPLES, 3)).astype(np.float32),
    "logistic": (RNG.uniform(size=(N_SAMPLES, 3)) < 0.4).astype(np.float32),
}
SIZES = (N_FEATURES, 6, 5, 3)
ACTIVATIONS = ("logistic", "relu", "identity")
OUTPUTS = ("softmax", "identity", "logistic")


def _params(activation="logistic", seed=0, scale=1.0):
    layout = net.make_layout(SIZES)
    params = net.init_params(layout, activation, seed)
    params *= np.float32(scale)
    return params, layout


# ----------------------------------------------------------------------------
# The NumPy reference (float64, obvious, slow)
# ----------------------------------------------------------------------------


def ref_forward(params, layout, X, activation, output, masks=None, keep=(1.0, 1.0)):
    """Output activations and pre-activations; ``masks[l]`` are 0/1 arrays
    (l = 0: the input) applied with inverted-dropout scaling.  ``activation``:
    one name, or one per hidden layer."""
    coefs, intercepts = net.unpack(np.asarray(params, np.float64), layout)
    a = np.asarray(X, np.float64)
    if masks is not None:
        a = a * masks[0] / keep[0]
    for layer, (w, b) in enumerate(zip(coefs, intercepts)):
        z = a @ w + b
        if layer < len(coefs) - 1:
            act = activation if isinstance(activation, str) else activation[layer]
            a = expit(z) if act == "logistic" else z if act == "identity" else np.maximum(z, 0.0)
            if masks is not None:
                a = a * masks[layer + 1] / keep[1]
    if output == "softmax":
        out = np.exp(z - logsumexp(z, axis=1, keepdims=True))
    elif output == "identity":
        out = z
    else:
        out = expit(z)
    return out, z


def ref_loss(params, layout, X, Y, activation, output, alpha, masks=None, keep=(1.0, 1.0)):
    """scikit-learn's mean loss plus ``0.5 * alpha * sum ||W||^2 / n``."""
    _, z = ref_forward(params, layout, X, activation, output, masks, keep)
    Y = np.asarray(Y, np.float64)
    if output == "softmax":
        per_row = (Y * (logsumexp(z, axis=1, keepdims=True) - z)).sum(1)
    elif output == "identity":
        per_row = 0.5 * ((z - Y) ** 2).sum(1)
    else:
        per_row = (np.logaddexp(0.0, z) - Y * z).sum(1)
    coefs, _ = net.unpack(np.asarray(params, np.float64), layout)
    penalty = 0.5 * alpha * sum((w**2).sum() for w in coefs)
    return (per_row.sum() + penalty) / len(X)


def numeric_gradient(f, params, eps=1e-6):
    p = np.asarray(params, np.float64).copy()
    grad = np.empty_like(p)
    for i in range(p.size):
        old = p[i]
        p[i] = old + eps
        up = f(p)
        p[i] = old - eps
        down = f(p)
        p[i] = old
        grad[i] = (up - down) / (2 * eps)
    return grad


def ref_sgd_step(params, velocity, grad, layout, lr, momentum, nesterov, max_norm):
    """scikit-learn's SGDOptimizer step, then Srivastava's max-norm projection."""
    v = momentum * velocity.astype(np.float64) - lr * grad
    p = params.astype(np.float64) + (momentum * v - lr * grad if nesterov else v)
    if max_norm > 0:
        coefs, _ = net.unpack(p, layout)
        for w in coefs[:-1]:
            norms = np.sqrt((w**2).sum(0))
            w *= np.where(norms > max_norm, max_norm / norms, 1.0)
    return p, v


def replay_masks(seed, n_rows, layout, keep_input, keep_hidden):
    """Dropout masks of one batch, replayed from the documented draw order:
    inputs row by row, then each hidden layer unit by unit (feature-major)."""
    state = net._kernel_state(seed)
    u = np.empty((n_rows, layout.sizes[0]), np.float32)
    fill_uniform(state, u)
    masks = [(u < np.float32(keep_input)).astype(np.float64)]
    for n_units in layout.sizes[1:-1]:
        u = np.empty((n_units, n_rows), np.float32)
        fill_uniform(state, u)
        masks.append((u < np.float32(keep_hidden)).T.astype(np.float64))
    return masks


# ----------------------------------------------------------------------------
# Layout and initialisation
# ----------------------------------------------------------------------------


def test_layout_is_sklearn_pack_order_and_views():
    layout = net.make_layout(SIZES)
    params = np.arange(layout.n_params, dtype=np.float32)
    coefs, intercepts = net.unpack(params, layout)
    assert [c.shape for c in coefs] == [(7, 6), (6, 5), (5, 3)]
    assert [b.shape for b in intercepts] == [(6,), (5,), (3,)]
    # scikit-learn's _pack: every coef raveled, then every intercept.
    np.testing.assert_array_equal(
        np.concatenate([c.ravel() for c in coefs] + intercepts), params)
    coefs[1][2, 3] = -1.0
    assert params[42 + 2 * 5 + 3] == -1.0  # a view, not a copy
    packed, layout2 = net.pack(coefs, intercepts)
    np.testing.assert_array_equal(packed, params)
    np.testing.assert_array_equal(layout2.sizes, layout.sizes)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_init_params_matches_sklearn(activation):
    # A learning rate of 1e-300 leaves scikit-learn's initial weights intact.
    mlp = MLPClassifier((6, 5), activation=activation, solver="sgd", learning_rate_init=1e-300,
                        max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(X, LABELS)
    params = net.init_params(net.make_layout(SIZES), activation, 0)
    expected, _ = net.pack(mlp.coefs_, mlp.intercepts_)
    np.testing.assert_array_equal(params, expected)


# ----------------------------------------------------------------------------
# Forward pass, loss and gradient against NumPy
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("activation, output", list(itertools.product(ACTIVATIONS, OUTPUTS)))
def test_forward_and_loss_match_numpy(activation, output):
    params, layout = _params(activation, scale=2.0)
    Y = TARGETS[output]
    rows = np.array([3, 0, 29, 7, 7, 12, 5])
    expected, _ = ref_forward(params, layout, X[rows], activation, output)
    # chunk_size 3 exercises full and partial chunks.
    out = net.forward(params, layout, X, activation=activation, output=output, rows=rows,
                      chunk_size=3)
    assert out.dtype == np.float32 and out.shape == (len(rows), 3)
    np.testing.assert_allclose(out, expected, rtol=2e-5, atol=1e-6)
    loss = ref_loss(params, layout, X[rows], Y[rows], activation, output, alpha=0.2)
    got = net.compute_loss(params, layout, X, Y, activation=activation, output=output,
                           alpha=0.2, rows=rows, chunk_size=3)
    assert got == pytest.approx(loss, rel=1e-5)
    got, _ = net.loss_and_gradient(params, layout, X, Y, activation=activation, output=output,
                                   alpha=0.2, rows=rows)
    assert got == pytest.approx(loss, rel=1e-5)


@pytest.mark.parametrize("activation, output", list(itertools.product(ACTIVATIONS, OUTPUTS)))
def test_gradient_matches_finite_differences(activation, output):
    params, layout = _params(activation, seed=1, scale=1.5)
    Y, alpha = TARGETS[output], 0.3
    loss, grad = net.loss_and_gradient(params, layout, X, Y, activation=activation,
                                       output=output, alpha=alpha)
    expected = numeric_gradient(
        lambda p: ref_loss(p, layout, X, Y, activation, output, alpha), params)
    assert grad.dtype == np.float32
    np.testing.assert_allclose(grad, expected, rtol=1e-3, atol=2e-6)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradient_with_dropout_matches_finite_differences(activation):
    # Fixed seed, fixed masks: the gradient of that sub-network.
    params, layout = _params(activation, seed=2, scale=1.5)
    Y, keep = TARGETS["softmax"], (0.8, 0.6)
    masks = replay_masks(5, N_SAMPLES, layout, *keep)
    assert 0 < masks[1].sum() < masks[1].size  # some, not all, dropped
    loss, grad = net.loss_and_gradient(params, layout, X, Y, activation=activation, alpha=0.1,
                                       keep_prob_input=keep[0], keep_prob_hidden=keep[1],
                                       random_state=5)
    f = lambda p: ref_loss(p, layout, X, Y, activation, "softmax", 0.1, masks, keep)  # noqa: E731
    assert loss == pytest.approx(f(params), rel=1e-5)
    np.testing.assert_allclose(grad, numeric_gradient(f, params), rtol=1e-3, atol=2e-6)


@pytest.mark.parametrize("output", OUTPUTS)
def test_per_layer_activations_match_finite_differences(output):
    # One activation per hidden layer, e.g. an autoencoder's linear code layer
    # between logistic ones; with dropout, whose masks a linear unit's output
    # must not be mistaken for.
    params, layout = _params(seed=6, scale=1.5)
    activation = ("identity", "logistic")
    Y, keep = TARGETS[output], (0.9, 0.7)
    masks = replay_masks(8, N_SAMPLES, layout, *keep)
    for masks_, keep_ in ((None, (1.0, 1.0)), (masks, keep)):
        loss, grad = net.loss_and_gradient(params, layout, X, Y, activation=activation, output=output,
                                           alpha=0.1, keep_prob_input=keep_[0], keep_prob_hidden=keep_[1],
                                           random_state=8)
        f = lambda p, m=masks_, kp=keep_: ref_loss(p, layout, X, Y, activation, output, 0.1, m, kp)  # noqa: E731
        assert loss == pytest.approx(f(params), rel=1e-5)
        np.testing.assert_allclose(grad, numeric_gradient(f, params), rtol=1e-3, atol=2e-6)
    out = net.forward(params, layout, X, activation=list(activation), output=output)
    expected, _ = ref_forward(params, layout, X, activation, output)
    np.testing.assert_allclose(out, expected, rtol=2e-5, atol=1e-6)
    with pytest.raises(ValueError, match="2 hidden layers"):
        net.forward(params, layout, X, activation=["logistic"], output=output)
    with pytest.raises(ValueError, match="activation must be one of"):
        net.SGDTrainer(layout, activation=["logistic", "tanh"])


def test_sigmoid_is_accurate_and_never_overflows():
    z = np.concatenate([np.linspace(-90, 90, 20001), [-1e30, -1e4, -88, 88, 1e4, 1e30]])
    a = z.astype(np.float32).reshape(1, -1).copy()
    k.hidden_activation_(a, np.zeros(1, np.float32), k.LOGISTIC, 1.0, np.zeros(1, np.uint64))
    assert np.all(np.isfinite(a)) and np.all((a >= 0) & (a <= 1))
    z32 = z.astype(np.float32)
    ref = expit(z32.astype(np.float64))
    flushed = z32 < np.float32(-87.3)  # would be subnormal: 0 by design
    np.testing.assert_allclose(a[0][~flushed], ref[~flushed], rtol=5e-7)
    np.testing.assert_array_equal(a[0][flushed], 0.0)


def test_losses_are_stable_for_huge_logits():
    params, layout = _params(scale=1e4)
    for output in OUTPUTS:
        loss = net.compute_loss(params, layout, X, TARGETS[output], output=output)
        out = net.forward(params, layout, X, output=output)
        assert np.isfinite(loss) and np.all(np.isfinite(out))


# ----------------------------------------------------------------------------
# SGD step, dropout, max-norm
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("nesterov, max_norm", [(False, 0.0), (True, 0.0), (True, 0.5)])
def test_sgd_step_matches_numpy(nesterov, max_norm):
    params, layout = _params(seed=3, scale=3.0)
    Y, rows, lr, momentum, alpha = TARGETS["softmax"], np.arange(12)[::-1], 0.3, 0.9, 0.2
    trainer = net.SGDTrainer(layout, batch_size=len(rows), alpha=alpha, nesterov=nesterov,
                             max_norm=max_norm)
    trainer.velocity[:] = np.random.RandomState(4).normal(0, 0.1, layout.n_params)
    velocity = trainer.velocity.copy()
    _, grad = net.loss_and_gradient(params, layout, X, Y, alpha=alpha, rows=rows)
    expected_p, expected_v = ref_sgd_step(params, velocity, grad, layout, lr, momentum,
                                          nesterov, max_norm)
    trainer.epoch(params, X, Y, rows, learning_rate=lr, momentum=momentum)
    np.testing.assert_allclose(trainer.velocity, expected_v, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(params, expected_p, rtol=1e-5, atol=1e-6)
    if max_norm > 0:
        coefs, _ = net.unpack(params, layout)
        norms = [np.sqrt((w.astype(np.float64) ** 2).sum(0)) for w in coefs]
        assert max(n.max() for n in norms[:-1]) <= max_norm * (1 + 1e-6)
        assert norms[0].max() > 0.99 * max_norm  # the constraint was active
        assert norms[-1].max() > max_norm  # the output layer is free


@pytest.mark.parametrize("nesterov", [False, True])
def test_output_only_step_updates_the_output_layer_alone(nesterov):
    # One output-only step: the hidden layers and their velocities stay put,
    # the output layer takes exactly the full step's update (its gradient
    # does not depend on the layers below changing), and the loss is the
    # same L2-penalised batch loss.
    params, layout = _params(seed=5, scale=2.0)
    Y, rows, lr, momentum, alpha = TARGETS["softmax"], np.arange(10), 0.3, 0.9, 0.2
    _, grad = net.loss_and_gradient(params, layout, X, Y, alpha=alpha, rows=rows)
    expected_p, expected_v = ref_sgd_step(params, np.zeros(layout.n_params, np.float32), grad,
                                          layout, lr, momentum, nesterov, 0.0)
    frozen = params.copy()
    trainer = net.SGDTrainer(layout, batch_size=len(rows), alpha=alpha, nesterov=nesterov)
    res = trainer.epoch(frozen, X, Y, rows, learning_rate=lr, momentum=momentum,
                        output_only=True)
    full = params.copy()
    full_res = net.SGDTrainer(layout, batch_size=len(rows), alpha=alpha, nesterov=nesterov).epoch(
        full, X, Y, rows, learning_rate=lr, momentum=momentum)
    hidden_biases = slice(layout.bias_offsets[0], layout.bias_offsets[-1])
    hidden = np.r_[0:layout.weight_offsets[-1], hidden_biases]
    out = np.setdiff1d(np.arange(layout.n_params), hidden)
    assert out.size == 5 * 3 + 3
    np.testing.assert_array_equal(frozen[hidden], params[hidden])
    np.testing.assert_array_equal(trainer.velocity[hidden], 0.0)
    np.testing.assert_allclose(frozen[out], expected_p[out], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(trainer.velocity[out], expected_v[out], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(frozen[out], full[out], rtol=1e-6, atol=1e-7)
    assert res.loss == pytest.approx(full_res.loss, rel=1e-6)
    assert res.grad_norms[:-1].tolist() == [0.0, 0.0]
    assert res.grad_norms[-1] == pytest.approx(full_res.grad_norms[-1], rel=1e-6)


def test_train_freezes_the_hidden_layers_for_the_first_epochs():
    params, layout = _params(seed=6)
    Y = TARGETS["softmax"]
    start = params.copy()
    hidden = slice(0, layout.weight_offsets[-1])
    seen = []

    def callback(epoch, p, res, score):
        seen.append(np.array_equal(p[hidden], start[hidden]))
        return False

    net.train(params, net.SGDTrainer(layout, batch_size=8), X, Y, max_iter=4,
              random_state=0, callback=callback, n_iter_output_only=2)
    assert seen == [True, True, False, False]


@pytest.mark.parametrize("regression", [False, True])
def test_epoch_matches_sklearn_mlp(regression):
    # Same init, same batches, same update: scikit-learn's alpha, momentum
    # and Nesterov conventions, and its epoch loss (27 rows, batches of 8).
    kwargs = dict(hidden_layer_sizes=(6, 5), solver="sgd", alpha=0.01, batch_size=8,
                  learning_rate_init=0.1, momentum=0.9, nesterovs_momentum=True,
                  shuffle=False, max_iter=1, random_state=0)
    Xs = X[:27]
    if regression:
        y = TARGETS["identity"][:27, :1].copy()
        mlp = MLPRegressor(activation="relu", **kwargs)
        activation, output = "relu", "identity"
        target = y.ravel()
    else:
        y = TARGETS["softmax"][:27]
        mlp = MLPClassifier(activation="logistic", **kwargs)
        activation, output = "logistic", "softmax"
        target = LABELS[:27]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(Xs, target)
    layout = net.make_layout((N_FEATURES, 6, 5, y.shape[1]))
    params = net.init_params(layout, activation, 0)
    trainer = net.SGDTrainer(layout, activation=activation, output=output, batch_size=8,
                             alpha=0.01, nesterov=True)
    res = trainer.epoch(params, Xs, y, np.arange(27), learning_rate=0.1, momentum=0.9)
    expected, _ = net.pack(mlp.coefs_, mlp.intercepts_)
    np.testing.assert_allclose(params, expected, rtol=1e-4, atol=1e-6)
    assert res.loss == pytest.approx(mlp.loss_curve_[0], rel=1e-5)


def test_dropout_masks_have_the_expected_rate_and_scale():
    keep, state = 0.7, np.array([123], np.uint64)
    a = np.full((400, 500), 0.25, np.float32)  # sigmoid(z)=0.25 everywhere
    a_before = np.log(a / (1 - a))
    a[:] = a_before
    k.hidden_activation_(a, np.zeros(400, np.float32), k.LOGISTIC, keep, state)
    kept = a != 0
    sigma = np.sqrt(keep * (1 - keep) / a.size)
    assert abs(kept.mean() - keep) < 5 * sigma
    np.testing.assert_allclose(a[kept], 0.25 / keep, rtol=1e-6)
    # The inputs: rows gathered and transposed, dropped at the same rate.
    Xbig = np.random.RandomState(1).uniform(1, 2, (300, 200)).astype(np.float32)
    rows = np.arange(300)[::-1].copy()
    out = np.empty((200, 300), np.float32)
    k.gather_transposed(Xbig, rows, keep, state, out)
    kept = out != 0
    assert abs(kept.mean() - keep) < 5 * np.sqrt(keep * (1 - keep) / out.size)
    np.testing.assert_allclose(out[kept], (Xbig[rows].T / np.float32(keep))[kept], rtol=1e-6)


def _train(seed=0, epochs=5, **kwargs):
    params, layout = _params(seed=seed)
    trainer = net.SGDTrainer(layout, batch_size=7, alpha=1e-3, random_state=seed, **kwargs)
    result = net.train(params, trainer, X, TARGETS["softmax"], max_iter=epochs, random_state=seed,
                       schedule=net.SGDSchedule(learning_rate_init=0.2, momentum=0.9), tol=-np.inf)
    return params, trainer, result


def test_keep_prob_one_is_exactly_no_dropout():
    p0, t0, r0 = _train()
    p1, t1, r1 = _train(keep_prob_input=1.0, keep_prob_hidden=1.0)
    np.testing.assert_array_equal(p0, p1)
    assert r0.loss_curve == r1.loss_curve
    state = net._kernel_state(0)
    np.testing.assert_array_equal(t1.state, state)  # no random numbers drawn


def test_dropout_training_is_reproducible_and_seed_dependent():
    kw = dict(keep_prob_input=0.8, keep_prob_hidden=0.5, max_norm=2.0)
    p0, _, r0 = _train(**kw)
    p1, _, r1 = _train(**kw)
    np.testing.assert_array_equal(p0, p1)
    assert r0.loss_curve == r1.loss_curve
    p_plain, _, _ = _train()
    assert not np.array_equal(p0, p_plain)
    params, layout = _params()
    a = net.SGDTrainer(layout, batch_size=7, random_state=1, **kw)
    b = net.SGDTrainer(layout, batch_size=7, random_state=2, **kw)
    pa, pb = params.copy(), params.copy()
    a.epoch(pa, X, TARGETS["softmax"], np.arange(N_SAMPLES), learning_rate=0.1, momentum=0.5)
    b.epoch(pb, X, TARGETS["softmax"], np.arange(N_SAMPLES), learning_rate=0.1, momentum=0.5)
    assert not np.array_equal(pa, pb)


# ----------------------------------------------------------------------------
# Training runs
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("activation, output", [("logistic", "softmax"), ("relu", "identity"),
                                                ("logistic", "logistic")])
def test_training_decreases_loss_and_is_bit_identical(activation, output):
    def run():
        params, layout = _params(activation, seed=7)
        trainer = net.SGDTrainer(layout, activation=activation, output=output, batch_size=8,
                                 alpha=1e-4)
        schedule = net.SGDSchedule("exponential", 0.2, decay=0.97, momentum=0.9,
                                   momentum_init=0.5, momentum_ramp_epochs=10)
        before = net.compute_loss(params, layout, X, TARGETS[output], activation=activation,
                                  output=output)
        result = net.train(params, trainer, X, TARGETS[output], schedule=schedule, max_iter=30,
                           random_state=np.random.RandomState(3), tol=-np.inf)
        after = net.compute_loss(params, layout, X, TARGETS[output], activation=activation,
                                 output=output)
        return params, result, before, after

    p0, r0, before, after = run()
    p1, r1, _, _ = run()
    assert r0.n_iter == 30 and r0.stopped == "max_iter"
    assert after < 0.9 * before
    assert r0.loss_curve[-1] < r0.loss_curve[0]
    assert r0.momenta[0] == 0.5 and r0.momenta[-1] == 0.9
    assert r0.learning_rates[2] == pytest.approx(0.2 * 0.97**2)
    np.testing.assert_array_equal(p0, p1)
    assert r0.loss_curve == r1.loss_curve


def test_grad_norms_are_the_data_gradient_norms():
    params, layout = _params(seed=8, scale=2.0)
    Y, rows = TARGETS["softmax"], np.arange(N_SAMPLES)
    _, grad = net.loss_and_gradient(params, layout, X, Y, rows=rows[:10])  # alpha=0
    first = [np.linalg.norm(w) for w in net.unpack(grad, layout)[0]]
    trainer = net.SGDTrainer(layout, batch_size=10, alpha=5.0)  # alpha is not in the norms
    res = trainer.epoch(params, X, Y, rows, learning_rate=0.1, momentum=0.9, n_track_batches=1)
    np.testing.assert_allclose(res.grad_norms, first, rtol=1e-5)
    assert res.grad_norms.shape == (layout.n_layers,)


def test_schedules():
    s = net.SGDSchedule("invscaling", 0.5, power_t=0.5)
    s.iteration_ends(99, 1)
    assert s.learning_rate_ == pytest.approx(0.05)
    s = net.SGDSchedule("adaptive", 1e-5)
    assert not s.trigger_stopping() and s.learning_rate_ == pytest.approx(2e-6)
    assert not s.trigger_stopping() and s.trigger_stopping()
    assert net.SGDSchedule("constant").trigger_stopping()
    s = net.SGDSchedule(momentum=0.99, momentum_init=0.5, momentum_ramp_epochs=4)
    assert [s.momentum_at(e) for e in (0, 2, 4, 9)] == pytest.approx([0.5, 0.745, 0.99, 0.99])
    assert [s.step_at(e) for e in (0, 4)] == [0.1, 0.1]
    # Hinton et al. (2012): the step is (1 - p) eps, so 2 (1 - p) here.
    s = net.SGDSchedule(learning_rate_init=2.0, momentum=0.99, momentum_init=0.5,
                        momentum_ramp_epochs=4, scale_rate_by_momentum=True)
    assert [s.step_at(e) for e in (0, 2, 4, 9)] == pytest.approx([1.0, 0.51, 0.02, 0.02])


def _train_schedule(schedule):
    params, layout = _params(seed=5)
    trainer = net.SGDTrainer(layout, batch_size=7, alpha=1e-3)
    result = net.train(params, trainer, X, TARGETS["softmax"], schedule=schedule, max_iter=3,
                       random_state=1, tol=-np.inf)
    return params, result


def test_rate_scaled_by_momentum_trains_at_rate_times_one_minus_momentum():
    # At momentum 0.5 the scaled rate 0.2 * (1 - 0.5) is exactly 0.1.
    p0, r0 = _train_schedule(net.SGDSchedule(learning_rate_init=0.2, momentum=0.5,
                                             scale_rate_by_momentum=True))
    p1, r1 = _train_schedule(net.SGDSchedule(learning_rate_init=0.1, momentum=0.5))
    p2, _ = _train_schedule(net.SGDSchedule(learning_rate_init=0.2, momentum=0.5))
    np.testing.assert_array_equal(p0, p1)
    assert r0.learning_rates == r1.learning_rates == [0.1, 0.1, 0.1]
    assert not np.array_equal(p0, p2)


def test_train_stops_and_restores_best_validation_params():
    params, layout = _params()
    trainer = net.SGDTrainer(layout, batch_size=10)
    scores = iter([0.1, 0.5, 0.4, 0.3, 0.2, 0.1])
    snapshots = []

    def score(p):
        snapshots.append(p.copy())
        return next(scores)

    result = net.train(params, trainer, X, TARGETS["softmax"], max_iter=6, score=score,
                       n_iter_no_change=2, random_state=0)
    assert result.stopped == "no_improvement" and result.n_iter == 5
    assert result.best_validation_score == 0.5
    np.testing.assert_array_equal(params, snapshots[1])
    assert result.grad_norms.shape == (5, 3)


def test_inputs_are_not_modified():
    Xc, Yc = X.copy(), TARGETS["softmax"].copy()
    params, layout = _params()
    trainer = net.SGDTrainer(layout, batch_size=7, keep_prob_input=0.5, random_state=0)
    trainer.epoch(params, X, TARGETS["softmax"], np.arange(N_SAMPLES), learning_rate=0.1,
                  momentum=0.9)
    net.loss_and_gradient(params, layout, X, TARGETS["softmax"], keep_prob_input=0.5,
                          random_state=0)
    net.forward(params, layout, X)
    net.compute_loss(params, layout, X, TARGETS["softmax"])
    np.testing.assert_array_equal(X, Xc)
    np.testing.assert_array_equal(TARGETS["softmax"], Yc)


def test_rejects_arrays_the_kernels_cannot_read():
    params, layout = _params()
    with pytest.raises(ValueError, match="float32"):
        net.forward(params, layout, X.astype(np.float64))
    with pytest.raises(ValueError, match="float32"):
        net.forward(params, layout, np.asfortranarray(X))
    with pytest.raises(ValueError, match="columns"):
        net.forward(params, layout, X[:, :5].copy())
    with pytest.raises(ValueError, match="rows"):
        net.forward(params, layout, X, rows=[0, N_SAMPLES])
