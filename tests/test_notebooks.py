"""The notebooks: each runs headless in small mode and draws its figures.

``DBN_NOTEBOOK_SMALL=1`` makes every notebook use a tiny slice of its data
and a few epochs.  The kernel imports the ``dbn`` that the tests import (its
folder goes first on PYTHONPATH): the code under test, whether installed or
not, and the Numba kernels that the other tests compiled and cached.
"""

import asyncio
import os
from pathlib import Path

import pytest
from conftest import MNIST_DIR

import dbn

_MISSING = "notebook tests need nbformat, nbclient and ipykernel: pip install '.[test]'"
nbformat = pytest.importorskip("nbformat", reason=_MISSING)
nbclient = pytest.importorskip("nbclient", reason=_MISSING)
pytest.importorskip("ipykernel", reason=_MISSING)
pytest.importorskip("matplotlib", reason="the notebooks draw with matplotlib")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
# The folder that holds the package the tests import.
DBN_PATH = str(Path(dbn.__file__).resolve().parents[1])

#: Figures (image/png outputs) each notebook draws, in small mode and in the
#: committed full run.
FIGURES = {
    "01_quick_start.ipynb": 4,
    "02_inside_an_rbm.ipynb": 5,
    "03_pretraining_study.ipynb": 3,
    "04_vanishing_gradients.ipynb": 3,
}
NEEDS_MNIST = {"02_inside_an_rbm.ipynb"}


def _outputs(nb):
    return [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]


def _n_figures(nb):
    return sum("image/png" in out.get("data", {}) for out in _outputs(nb))


def test_every_notebook_is_tested():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(FIGURES)


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_committed_notebook_has_its_outputs(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in code), "not run in full"
    assert not [out for out in _outputs(nb) if out.output_type == "error"]
    assert _n_figures(nb) >= FIGURES[name]
    assert not any("small mode" in out.get("text", "") for out in _outputs(nb)), \
        "committed from a small-mode run"


@pytest.fixture(scope="module")
def small_runs(tmp_path_factory):
    """Every notebook run in small mode: {name: executed notebook, or the exception}.

    Two kernels at a time: the notebooks limit BLAS to one thread, so each
    kernel keeps one core busy.
    """
    names = [n for n in sorted(FIGURES) if n not in NEEDS_MNIST or MNIST_DIR.is_dir()]
    env = {
        "DBN_NOTEBOOK_SMALL": "1",
        "DBN_DATA_HOME": str(MNIST_DIR),
        # No study results there: the study notebook runs its tiny preset.
        "DBN_STUDY_RESULTS": str(tmp_path_factory.mktemp("study") / "no-results"),
        "PYTHONPATH": os.pathsep.join(p for p in (DBN_PATH, os.environ.get("PYTHONPATH")) if p),
    }
    results = {}

    async def run(name, slots):
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                         resources={"metadata": {"path": str(NOTEBOOKS)}})
        async with slots:
            try:
                await client.async_execute()
                results[name] = nb
            except Exception as exc:  # reported by the notebook's own test
                results[name] = exc

    async def run_all():
        slots = asyncio.Semaphore(min(2, os.cpu_count() or 1))
        await asyncio.gather(*(run(name, slots) for name in names))

    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)  # the kernels inherit the environment
        asyncio.run(run_all())
    return results


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_notebook_runs_in_small_mode(name, small_runs):
    if name in NEEDS_MNIST and not MNIST_DIR.is_dir():
        pytest.skip(f"MNIST not found in {MNIST_DIR}")
    nb = small_runs[name]
    if isinstance(nb, Exception):
        raise nb  # CellExecutionError: the cell and its traceback
    assert not [out for out in _outputs(nb) if out.output_type == "error"]
    assert _n_figures(nb) >= FIGURES[name]
    assert any("small mode" in out.get("text", "") for out in _outputs(nb))
