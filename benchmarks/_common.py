"""Helpers shared by the benchmark scripts: machine description and defaults."""

import os
import platform
from pathlib import Path

import numpy as np
import threadpoolctl

REPO_ROOT = Path(__file__).resolve().parents[1]


def machine_info():
    """Platform, library versions and BLAS thread pools, for the JSON results."""
    import numba
    import scipy
    import sklearn

    pools = [
        {
            key: pool.get(key)
            for key in ("user_api", "internal_api", "prefix", "version", "num_threads",
                        "threading_layer", "architecture", "filepath")
        }
        for pool in threadpoolctl.threadpool_info()
    ]
    info = {
        "platform": platform.platform(),
        "processor": platform.processor(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else None,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "numba": numba.__version__,
        "sklearn": sklearn.__version__,
        "threadpools": pools,
    }
    try:
        from dbn import _blas

        info["dbn_blas_library"] = _blas.BLAS_LIBRARY
    except ImportError:
        pass
    return info


def loadavg():
    """The 1, 5 and 15 minute load averages, or None where unknown."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def default_data_home():
    """``$DBN_DATA_HOME``, else ``../shared/data/mnist`` beside the repository."""
    env = os.environ.get("DBN_DATA_HOME")
    if env:
        return env
    return str(REPO_ROOT.parent / "shared" / "data" / "mnist")


def describe_machine():
    """:func:`machine_info` with the load average, printed; warns on a busy machine."""
    info = machine_info()
    info["loadavg_before"] = loadavg()
    if info["loadavg_before"] is not None and info["loadavg_before"][0] > 0.5:
        # Other work on the cores makes BLAS threads wait on each other:
        # ratios measured then say little about the code.
        print(f"warning: load average {info['loadavg_before']} before timing; "
              "consider --threads 1 or an idle machine")
    print(f"CPUs: {info['cpu_count']} (affinity {info['cpu_affinity']})")
    print(f"numpy {info['numpy']}, scipy {info['scipy']}, numba {info['numba']}, "
          f"sklearn {info['sklearn']}")
    print("BLAS / OpenMP pools loaded:")
    for pool in info["threadpools"]:
        print(f"  {pool['internal_api']:10s} {pool['version']!s:8s} "
              f"threads={pool['num_threads']}  {pool['filepath']}")
    if "dbn_blas_library" in info:
        print(f"dbn GEMM from Numba: {info['dbn_blas_library']}")
    print()
    return info
