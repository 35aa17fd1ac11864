"""Seeded data shared by the tests."""

from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

MNIST_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


@pytest.fixture
def epoch_schedule(monkeypatch):
    """(momentum, learning rate) of every fine-tuning epoch run during the
    test, in order across fits (a spy on ``dbn._network.train``)."""
    import dbn._network as engine

    seen, train = [], engine.train

    def spy(*args, **kwargs):
        result = train(*args, **kwargs)
        seen.extend(zip(result.momenta, result.learning_rates))
        return result

    monkeypatch.setattr(engine, "train", spy)
    return seen


@pytest.fixture(scope="session")
def digits01():
    """scikit-learn's digits scaled to [0, 1], float32, with labels."""
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


@pytest.fixture
def interrupt_on_call(monkeypatch):
    """``interrupt_on_call(owner, name, n)``: the n-th call of ``owner.name``
    (a function of a module or class) raises KeyboardInterrupt, as a Ctrl-C
    in the middle of a fit would; ``owner.name.calls["n"]`` counts the calls
    (``n = 0``: count only)."""

    def patch(owner, name, n):
        original = getattr(owner, name)
        calls = {"n": 0}

        def interrupted(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == n:
                raise KeyboardInterrupt
            return original(*args, **kwargs)

        interrupted.calls = calls
        monkeypatch.setattr(owner, name, interrupted)

    return patch


@pytest.fixture(scope="session")
def binary_data():
    """A small binary data set with structure (two complementary prototypes plus noise)."""
    rng = np.random.RandomState(0)
    first = (rng.rand(8) < 0.5).astype(np.float32)
    protos = np.stack([first, 1 - first])  # far apart: an independent model fits badly
    X = protos[rng.randint(0, 2, 60)]
    flip = rng.rand(*X.shape) < 0.1
    return np.where(flip, 1 - X, X).astype(np.float32)
