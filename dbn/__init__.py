"""Deep belief networks and restricted Boltzmann machines with a scikit-learn API."""

from ._version import __version__
from .exceptions import DivergenceError
from .network import DBNClassifier, DBNRegressor
from .rbm import BernoulliRBM, GaussianBernoulliRBM
from .stack import DBN

__all__ = [
    "BernoulliRBM",
    "DBN",
    "DBNClassifier",
    "DBNRegressor",
    "DivergenceError",
    "GaussianBernoulliRBM",
    "__version__",
]
