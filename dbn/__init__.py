"""Deep belief networks and restricted Boltzmann machines with a scikit-learn API."""

from ._version import __version__
from .rbm import BernoulliRBM, GaussianBernoulliRBM

__all__ = ["BernoulliRBM", "GaussianBernoulliRBM", "__version__"]
