"""Pickle stamps: a model saved by an incompatible dbn fails loudly.

Every estimator's pickle carries the dbn version and an integer
:data:`PICKLE_FORMAT`, bumped whenever the meaning or layout of fitted
attributes changes.  Loading a pickle of another format raises a
``ValueError`` that names both versions, instead of silently giving wrong
numbers.  Pickles hold arrays and plain Python objects only: no compiled
function travels with a model.
"""

from ._version import __version__

#: Version of the layout of fitted attributes in pickles.
PICKLE_FORMAT = 1


class PickleStampMixin:
    """Adds the dbn version and pickle format to ``__getstate__``, checks them on load."""

    def __getstate__(self):
        state = super().__getstate__()
        state = dict(state)
        state["_dbn_version"] = __version__
        state["_dbn_pickle_format"] = PICKLE_FORMAT
        return state

    def __setstate__(self, state):
        fmt = state.get("_dbn_pickle_format")
        if fmt != PICKLE_FORMAT:
            saved = state.get("_dbn_version", "unknown (no dbn stamp)")
            raise ValueError(
                f"This {type(self).__name__} was saved by dbn {saved} with pickle format {fmt}; "
                f"this is dbn {__version__}, pickle format {PICKLE_FORMAT}. The formats are "
                f"incompatible: refit the model, or load it with dbn {saved}."
            )
        super().__setstate__(state)
