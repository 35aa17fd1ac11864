"""Seeded data shared by the tests."""

from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

MNIST_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


@pytest.fixture(scope="session")
def digits01():
    """scikit-learn's digits scaled to [0, 1], float32, with labels."""
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


@pytest.fixture(scope="session")
def binary_data():
    """A small binary data set with structure (two complementary prototypes plus noise)."""
    rng = np.random.RandomState(0)
    first = (rng.rand(8) < 0.5).astype(np.float32)
    protos = np.stack([first, 1 - first])  # far apart: an independent model fits badly
    X = protos[rng.randint(0, 2, 60)]
    flip = rng.rand(*X.shape) < 0.1
    return np.where(flip, 1 - X, X).astype(np.float32)
