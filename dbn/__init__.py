"""Deep belief networks and restricted Boltzmann machines with a scikit-learn API."""

from ._version import __version__
from .autoencoder import DBNAutoencoder
from .exceptions import DivergenceError
from .network import DBNClassifier, DBNRegressor
from .rbm import BernoulliRBM, GaussianBernoulliRBM, LinearHiddenRBM
from .stack import DBN

__all__ = [
    "BernoulliRBM",
    "DBN",
    "DBNAutoencoder",
    "DBNClassifier",
    "DBNRegressor",
    "DivergenceError",
    "GaussianBernoulliRBM",
    "LinearHiddenRBM",
    "__version__",
]
