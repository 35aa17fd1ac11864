"""How close does ``dbn.BernoulliRBM`` get to the cost of its matrix products?

One epoch of CD-1 on MNIST (60,000 x 784 visible -> 500 hidden, float32,
learning rate 0.1) is timed for three contenders, at each batch size:

dbn
    ``dbn.BernoulliRBM(n_components=500, learning_rate=0.1, batch_size=B,
    n_iter=1).fit(X)``, everything else at its default.
sklearn
    ``sklearn.neural_network.BernoulliRBM`` with the same settings.
floor
    The "GEMM floor": a Python loop over the minibatches doing only the five
    matrix products one CD-1 update needs (``h = v W^T``, ``v' = h W``,
    ``h' = v' W^T``, ``h^T v`` and ``h'^T v'``), NumPy ``@`` on float32 into
    preallocated outputs, and nothing else.  No implementation of CD-1 that
    calls BLAS per minibatch can be faster than this.

The contenders run alternated (dbn, sklearn, floor, dbn, ...) so that a slow
spell of a shared machine hits all three alike; medians over ``--repeats`` are
reported.  The targets are: at batch 100, dbn <= 1.15x floor and <= 0.6x
sklearn; at batch 10, dbn <= 1.3x floor.

Numba's compilation time is reported separately: a fresh interpreter imports
``dbn`` and fits a tiny RBM, once with an empty ``NUMBA_CACHE_DIR`` (cold: every
kernel compiles) and once more with the same directory (warm: kernels load
from the cache).

Run from the repository root::

    python benchmarks/rbm_speed.py --repeats 3
    python benchmarks/rbm_speed.py --n-samples 6000 --repeats 1   # quick check

MNIST is read with ``dbn.datasets.load_mnist(data_home, download=False)``
from ``--data-home`` (default ``$DBN_DATA_HOME``, else ``../shared/data/mnist``
next to the repository).  Results go to ``--out`` as JSON, with the machine's
CPU count, library versions and BLAS thread pools.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# Benchmark the working tree, not whatever copy of dbn is installed.
sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402
import threadpoolctl  # noqa: E402
from _common import default_data_home, describe_machine, loadavg, machine_info  # noqa: E402
from sklearn.neural_network import BernoulliRBM as SklearnRBM  # noqa: E402

from dbn.datasets import load_mnist  # noqa: E402

N_COMPONENTS = 500
LEARNING_RATE = 0.1
#: (batch size, contender) -> largest allowed ratio dbn / contender.
TARGETS = {
    (100, "floor"): 1.15,
    (100, "sklearn"): 0.6,
    (10, "floor"): 1.3,
}
CONTENDERS = ("dbn", "sklearn", "floor")

_COMPILE_SNIPPET = """\
import time
t = time.perf_counter()
import numpy as np
import dbn
X = np.random.default_rng(0).random((20, 784), dtype=np.float32)
dbn.BernoulliRBM(n_components=16, n_iter=1, batch_size=10, random_state=0, verbose=0).fit(X)
print(time.perf_counter() - t)
"""


def _dbn_rbm_class():
    try:
        from dbn import BernoulliRBM
    except ImportError as exc:
        raise SystemExit(
            f"cannot import dbn.BernoulliRBM from {REPO_ROOT}: {exc}"
        ) from exc
    return BernoulliRBM


def fit_dbn(X, batch_size, seed):
    rbm = _dbn_rbm_class()(
        n_components=N_COMPONENTS,
        learning_rate=LEARNING_RATE,
        batch_size=batch_size,
        n_iter=1,
        random_state=seed,
        verbose=0,
    )
    rbm.fit(X)


def fit_sklearn(X, batch_size, seed):
    rbm = SklearnRBM(
        n_components=N_COMPONENTS,
        learning_rate=LEARNING_RATE,
        batch_size=batch_size,
        n_iter=1,
        random_state=seed,
        verbose=0,
    )
    rbm.fit(X)


def gemm_floor(X, batch_size, seed):
    """The five matrix products of one CD-1 epoch, and nothing else."""
    n_samples, n_features = X.shape
    rng = np.random.default_rng(seed)
    W = (0.01 * rng.standard_normal((N_COMPONENTS, n_features))).astype(np.float32)
    WT = W.T
    h_pos = np.empty((batch_size, N_COMPONENTS), np.float32)
    v_neg = np.empty((batch_size, n_features), np.float32)
    h_neg = np.empty((batch_size, N_COMPONENTS), np.float32)
    grad_pos = np.empty((N_COMPONENTS, n_features), np.float32)
    grad_neg = np.empty((N_COMPONENTS, n_features), np.float32)
    for start in range(0, n_samples, batch_size):
        v_pos = X[start : start + batch_size]
        b = v_pos.shape[0]
        # Row slices of C-contiguous buffers stay contiguous: a short last
        # batch costs no copy.
        h, vn, hn = h_pos[:b], v_neg[:b], h_neg[:b]
        np.matmul(v_pos, WT, out=h)
        np.matmul(h, W, out=vn)
        np.matmul(vn, WT, out=hn)
        np.matmul(h.T, v_pos, out=grad_pos)
        np.matmul(hn.T, vn, out=grad_neg)


RUNNERS = {"dbn": fit_dbn, "sklearn": fit_sklearn, "floor": gemm_floor}


def time_epochs(X, batch_sizes, repeats):
    """Median epoch time of each contender at each batch size, alternated."""
    warm = X[: min(len(X), 1000)]
    results = {}
    for batch_size in batch_sizes:
        # JIT compilation and first-touch allocation stay out of the timings.
        for name in CONTENDERS:
            RUNNERS[name](warm, batch_size, 0)
        times = {name: [] for name in CONTENDERS}
        for r in range(repeats):
            for name in CONTENDERS:
                t = time.perf_counter()
                RUNNERS[name](X, batch_size, r)
                times[name].append(time.perf_counter() - t)
                print(
                    f"  batch {batch_size:4d}  repeat {r + 1}/{repeats}  "
                    f"{name:8s} {times[name][-1]:8.3f} s",
                    flush=True,
                )
        medians = {name: statistics.median(ts) for name, ts in times.items()}
        ratios = {
            "dbn/floor": medians["dbn"] / medians["floor"],
            "dbn/sklearn": medians["dbn"] / medians["sklearn"],
        }
        targets = {}
        for (b, other), limit in TARGETS.items():
            if b == batch_size:
                ratio = ratios[f"dbn/{other}"]
                targets[f"dbn/{other}"] = {
                    "limit": limit,
                    "ratio": ratio,
                    "met": bool(ratio <= limit),
                }
        results[str(batch_size)] = {
            "batch_size": batch_size,
            "times_s": times,
            "median_s": medians,
            "ratios": ratios,
            "targets": targets,
        }
    return results


def compile_times():
    """Seconds to import dbn and fit a tiny RBM, with a cold and a warm Numba cache."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT)] + [p for p in [env.get("PYTHONPATH")] if p]
    )
    out = {}
    with tempfile.TemporaryDirectory(prefix="dbn-numba-cache-") as cache_dir:
        env["NUMBA_CACHE_DIR"] = cache_dir
        for label in ("cold_cache_s", "warm_cache_s"):
            proc = subprocess.run(
                [sys.executable, "-c", _COMPILE_SNIPPET],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                raise RuntimeError(f"compile-time subprocess failed:\n{proc.stderr}")
            out[label] = float(proc.stdout.strip().splitlines()[-1])
            if label == "cold_cache_s":
                # Index files, one per cached function: fewer than the
                # kernels used means some recompile in every process.
                out["n_cached_functions"] = len(list(Path(cache_dir).rglob("*.nbi")))
    out["compile_s"] = out["cold_cache_s"] - out["warm_cache_s"]
    return out


def print_table(results):
    header = (
        f"{'batch':>6} {'dbn s':>9} {'sklearn s':>10} {'floor s':>9} "
        f"{'dbn/floor':>10} {'dbn/sklearn':>12}"
    )
    print(header)
    print("-" * len(header))
    for res in results.values():
        m, r = res["median_s"], res["ratios"]
        print(
            f"{res['batch_size']:>6d} {m['dbn']:>9.3f} {m['sklearn']:>10.3f} "
            f"{m['floor']:>9.3f} {r['dbn/floor']:>10.2f} {r['dbn/sklearn']:>12.2f}"
        )
    print()
    for res in results.values():
        for name, target in res["targets"].items():
            verdict = "met" if target["met"] else "NOT met"
            print(
                f"target batch {res['batch_size']}: {name} = {target['ratio']:.2f} "
                f"<= {target['limit']:.2f}  {verdict}"
            )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[100, 10])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-samples", type=int, default=60_000)
    parser.add_argument("--data-home", default=default_data_home())
    parser.add_argument(
        "--out", default=str(REPO_ROOT / "benchmarks" / "results" / "rbm_speed.json")
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="limit BLAS, OpenMP and Numba to this many threads (default: leave as is); "
        "on a shared machine, oversubscribed BLAS threads spin and distort every ratio",
    )
    parser.add_argument(
        "--skip-compile", action="store_true", help="do not measure Numba compilation time"
    )
    args = parser.parse_args(argv)

    _dbn_rbm_class()  # fail before loading data if dbn is not ready
    X = load_mnist(args.data_home, download=False).data[: args.n_samples]
    X = np.ascontiguousarray(X)
    print(f"MNIST: X {X.shape} {X.dtype} from {args.data_home}")

    info = describe_machine()

    if args.threads is not None:
        import numba

        numba.set_num_threads(args.threads)
        print(f"BLAS, OpenMP and Numba limited to {args.threads} thread(s) while timing\n")
        with threadpoolctl.threadpool_limits(limits=args.threads):
            results = time_epochs(X, args.batch_sizes, args.repeats)
    else:
        results = time_epochs(X, args.batch_sizes, args.repeats)
    # Thread pools may have been loaded by the fits (Numba's, SciPy's BLAS).
    info["threadpools_after"] = machine_info()["threadpools"]
    info["loadavg_after"] = loadavg()
    print()
    print_table(results)

    compile_info = None
    if not args.skip_compile:
        compile_info = compile_times()
        print()
        print(
            "import dbn + tiny fit in a fresh interpreter: "
            f"cold Numba cache {compile_info['cold_cache_s']:.2f} s, "
            f"warm cache {compile_info['warm_cache_s']:.2f} s "
            f"(compilation ~{compile_info['compile_s']:.2f} s; "
            f"{compile_info['n_cached_functions']} functions cached)"
        )

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "question": "one CD-1 epoch of dbn.BernoulliRBM vs sklearn and the GEMM floor",
        "command": [Path(sys.executable).name] + sys.argv,
        "settings": {
            "n_samples": int(X.shape[0]),
            "n_features": int(X.shape[1]),
            "n_components": N_COMPONENTS,
            "learning_rate": LEARNING_RATE,
            "dtype": str(X.dtype),
            "repeats": args.repeats,
            "batch_sizes": args.batch_sizes,
            "threads": args.threads,
        },
        "machine": info,
        "results": results,
        "numba_compile": compile_info,
        "all_targets_met": all(
            t["met"] for res in results.values() for t in res["targets"].values()
        ),
    }
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
