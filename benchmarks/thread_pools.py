"""Would a second thread pool make a fine-tuning batch faster on 2 cores?

The fine-tuning engine (:mod:`dbn._network_kernels`) runs its elementwise
kernels serially between matrix products that OpenBLAS spreads over its own
threads.  This script measures the two alternatives that keep all cores busy
instead, on one SGD batch of Hinton & Salakhutdinov's 784-500-500-2000-10
network at batch size 100 (float32, random data: the times do not depend on
the values), each against the engine's way in the same run:

products
    The batch's 11 matrix products (4 forward, 3 deltas, 4 weight gradients)
    through :func:`dbn._blas.gemm`:

    - ``blas``: the whole batch, OpenBLAS with ``--threads`` threads (the
      engine's way);
    - ``blas1``: the same with 1 thread (what the threads gain);
    - ``shards``: ``--threads`` Numba threads (``prange``, the ``workqueue``
      layer), each calling 1-thread OpenBLAS: forward products and deltas on
      its share of the batch's columns, then weight gradients on its share
      of the rows (the data-parallel split, as scikit-learn's KMeans does
      with its own OpenMP loops around 1-thread BLAS).

kernels
    One batch as the engine does it, the products (OpenBLAS, ``--threads``)
    with the heaviest elementwise work between them: logistic activation
    with inverted dropout (keep 0.5) of the 3 hidden layers, and the
    Nesterov-momentum update of all 1.67 million weights:

    - ``serial``: the engine's own kernels (``hidden_activation_`` and
      ``_sgd_rows``);
    - ``prange``: the same kernels parallelised over rows with ``prange`` on
      the ``workqueue`` layer (the one the performance notes allow: its
      threads sleep between regions), with the same draws and the same
      results (checked bit for bit before timing).

The contenders alternate within each repeat and medians are reported; the
ratios are what to read (``blas / shards`` and ``serial / prange`` above 1
mean the second pool wins).  Run from the repository root, on an otherwise
idle machine::

    python benchmarks/thread_pools.py --threads 2 --repeats 7

Results go to ``--out`` as JSON, with the machine's description.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numba

# Before Numba starts any pool: the only layer whose threads do not spin
# after a parallel region (the OpenMP one was measured 5-100x slower when
# alternating with BLAS).
numba.config.THREADING_LAYER = "workqueue"

import numpy as np  # noqa: E402
import threadpoolctl  # noqa: E402
from _common import REPO_ROOT, describe_machine, loadavg, machine_info  # noqa: E402
from numba import njit, prange  # noqa: E402

from dbn import _network_kernels as _k  # noqa: E402
from dbn._blas import BLAS_KIND, gemm  # noqa: E402
from dbn._math import FASTMATH, sigmoid  # noqa: E402
from dbn._rng import GOLDEN, mix, uniform_bits  # noqa: E402

SIZES = (784, 500, 500, 2000, 10)
BATCH = 100
KEEP = 0.5
# The engine's compilation flags, so that the prange kernels compute the same.
_PJIT = {"parallel": True, "error_model": "numpy", "fastmath": FASTMATH}


@njit
def _products(bk, Ws, As, Ds, Gs):
    """The batch's 11 products, feature-major as in the engine."""
    n = len(Ws)
    for layer in range(n):
        gemm(bk, True, False, 1.0, Ws[layer], As[layer], 0.0, As[layer + 1])
    for layer in range(n - 1, 0, -1):
        gemm(bk, False, False, 1.0, Ws[layer], Ds[layer + 1], 0.0, Ds[layer])
    for layer in range(n - 1, -1, -1):
        gemm(bk, False, True, 1.0, As[layer], Ds[layer + 1], 0.0, Gs[layer])


@njit(parallel=True)
def _sharded_products(bk, Ws, Ah, Dh, As, Ds, Gs, n_shards):
    """The same products, split over ``n_shards`` Numba threads.

    ``Ah[s][l]`` and ``Dh[s][l]`` are shard ``s``'s own contiguous column
    blocks of layer ``l``'s activations and deltas; the weight gradients are
    split by rows and read the whole-batch ``As`` and ``Ds`` (a copy of the
    shards' blocks in a real engine, not timed here: it favours the shards).
    """
    n = len(Ws)
    for t in prange(n_shards):
        s = np.int64(t)  # prange's index is unsigned; typed lists take signed
        for layer in range(n):
            gemm(bk, True, False, 1.0, Ws[layer], Ah[s][layer], 0.0, Ah[s][layer + 1])
        for layer in range(n - 1, 0, -1):
            gemm(bk, False, False, 1.0, Ws[layer], Dh[s][layer + 1], 0.0, Dh[s][layer])
    for s in prange(n_shards):
        for layer in range(n - 1, -1, -1):
            rows = As[layer].shape[0]
            r0 = rows * s // n_shards
            r1 = rows * (s + 1) // n_shards
            gemm(bk, False, True, 1.0, As[layer][r0:r1], Ds[layer + 1], 0.0, Gs[layer][r0:r1])


@njit(**_PJIT)
def _hidden_activation_prange(Z, b, keep, state):
    """``dbn._network_kernels.hidden_activation_`` (logistic, dropout) over rows in parallel.

    Element ``(j, i)`` takes draw number ``j * nb + i + 1`` of the stream, as
    the serial kernel does, so the results are identical.
    """
    n, nb = Z.shape
    keep32 = np.float32(keep)
    scale = np.float32(1.0 / keep)
    z0 = state[0]
    for j in prange(n):
        bj = b[j]
        z = Z[j]
        c = z0 + np.uint64(j) * np.uint64(nb) * GOLDEN
        for i in range(nb):
            c += GOLDEN
            m = scale if uniform_bits(mix(c)) < keep32 else np.float32(0.0)
            z[i] = sigmoid(z[i] + bj) * m
    state[0] = z0 + np.uint64(n) * np.uint64(nb) * GOLDEN


@njit(**_PJIT)
def _sgd_rows_prange(G, W, V, lr, momentum, decay):
    """``dbn._network_kernels._sgd_rows`` (Nesterov) over rows in parallel.

    Row sums go to a buffer and are added in row order, so the returned
    norms are those of the serial kernel too.  The row loop is a copy of the
    engine's, not a shared row function: factored into one (even with
    ``inline="always"``), the engine's serial ``_sgd_rows`` took 1.03 to 1.4
    times as long on a 784x500 block in seven interleaved runs
    (bit-identical results; measured Dec 7, 2026, with a study beside).
    """
    rows, n = G.shape
    lr32 = np.float32(lr)
    mom32 = np.float32(momentum)
    decay32 = np.float32(decay)
    part = np.empty((rows, 2))
    for r in prange(rows):
        g_r = G[r]
        w_r = W[r]
        v_r = V[r]
        gs = np.float32(0.0)
        ws = np.float32(0.0)
        for j in range(n):
            w = w_r[j]
            g0 = g_r[j]
            g = g0 + decay32 * w
            v = mom32 * v_r[j] - lr32 * g
            v_r[j] = v
            w_r[j] = w + (mom32 * v - lr32 * g)
            gs += g0 * g0
            ws += w * w
        part[r, 0] = gs
        part[r, 1] = ws
    gsq = 0.0
    wsq = 0.0
    for r in range(rows):
        gsq += part[r, 0]
        wsq += part[r, 1]
    return gsq, wsq


@njit
def _batch(bk, Ws, Vs, Gs, As, Ds, bs, state, parallel):
    """Products and kernels of one batch, in the engine's order."""
    n = len(Ws)
    colsq = np.empty(1, np.float32)
    for layer in range(n):
        gemm(bk, True, False, 1.0, Ws[layer], As[layer], 0.0, As[layer + 1])
        if layer < n - 1:
            if parallel:
                _hidden_activation_prange(As[layer + 1], bs[layer], KEEP, state)
            else:
                _k.hidden_activation_(As[layer + 1], bs[layer], _k.LOGISTIC, KEEP, state)
    total = 0.0
    for layer in range(n - 1, -1, -1):
        if layer > 0:
            gemm(bk, False, False, 1.0, Ws[layer], Ds[layer + 1], 0.0, Ds[layer])
        gemm(bk, False, True, 1.0, As[layer], Ds[layer + 1], 0.0, Gs[layer])
        if parallel:
            g2, w2 = _sgd_rows_prange(Gs[layer], Ws[layer], Vs[layer], 1e-3, 0.9, 1e-6)
        else:
            g2, w2 = _k._sgd_rows(Gs[layer], Ws[layer], Vs[layer], 1e-3, 0.9, 1e-6, True,
                                  colsq, False)
        total += g2 + w2
    return total


def _buffers(rng):
    Ws = numba.typed.List(
        [(0.01 * rng.standard_normal((a, b))).astype(np.float32) for a, b in zip(SIZES, SIZES[1:])]
    )
    As = numba.typed.List([rng.random((s, BATCH), dtype=np.float32) for s in SIZES])
    Ds = numba.typed.List([rng.standard_normal((s, BATCH), dtype=np.float32) for s in SIZES])
    Gs = numba.typed.List([np.empty_like(W) for W in Ws])
    return Ws, As, Ds, Gs


def _shards(arrays, n_shards):
    """Each shard's own contiguous block of columns of every layer's array."""
    out = numba.typed.List()
    for s in range(n_shards):
        c0, c1 = BATCH * s // n_shards, BATCH * (s + 1) // n_shards
        out.append(numba.typed.List([np.ascontiguousarray(A[:, c0:c1]) for A in arrays]))
    return out


def _time(fn, n_batches):
    fn()
    start = time.perf_counter()
    for _ in range(n_batches):
        fn()
    return (time.perf_counter() - start) / n_batches * 1e3


def _check_identical():
    """The prange kernels give the serial kernels' results bit for bit."""
    rng = np.random.default_rng(1)
    Z = rng.standard_normal((2000, BATCH), dtype=np.float32)
    b = rng.standard_normal(2000, dtype=np.float32)
    Z1, Z2 = Z.copy(), Z.copy()
    s1, s2 = np.array([7], np.uint64), np.array([7], np.uint64)
    _k.hidden_activation_(Z1, b, _k.LOGISTIC, KEEP, s1)
    _hidden_activation_prange(Z2, b, KEEP, s2)
    G = rng.standard_normal((500, 2000), dtype=np.float32)
    W1, V1 = rng.standard_normal((2, 500, 2000), dtype=np.float32)
    W2, V2 = W1.copy(), V1.copy()
    r1 = _k._sgd_rows(G, W1, V1, 0.1, 0.9, 1e-4, True, np.empty(1, np.float32), False)
    r2 = _sgd_rows_prange(G, W2, V2, 0.1, 0.9, 1e-4)
    same = (np.array_equal(Z1, Z2) and s1[0] == s2[0] and np.array_equal(W1, W2)
            and np.array_equal(V1, V2) and r1 == r2)
    if not same:
        raise AssertionError("the prange kernels do not reproduce the serial ones")


def _check_shards(threads):
    """The sharded products compute what the whole-batch ones do."""
    Ws, As, Ds, Gs = _buffers(np.random.default_rng(2))
    # The shards are cut before the products, so they start from the random
    # values, not from the results they must reproduce.
    Ah, Dh = _shards(As, threads), _shards(Ds, threads)
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        _products(BLAS_KIND, Ws, As, Ds, Gs)
        Gs2 = numba.typed.List([np.zeros_like(G) for G in Gs])
        _sharded_products(BLAS_KIND, Ws, Ah, Dh, As, Ds, Gs2, threads)
    for layer in range(1, len(SIZES)):
        a = np.hstack([Ah[s][layer] for s in range(threads)])
        np.testing.assert_allclose(a, As[layer], rtol=1e-4, atol=1e-5)
        if layer < len(SIZES) - 1:
            d = np.hstack([Dh[s][layer] for s in range(threads)])
            np.testing.assert_allclose(d, Ds[layer], rtol=1e-4, atol=1e-5)
    for G, G2 in zip(Gs, Gs2):
        np.testing.assert_allclose(G2, G, rtol=1e-4, atol=1e-5)


def run(threads, repeats, n_batches):
    rng = np.random.default_rng(0)
    Ws, As, Ds, Gs = _buffers(rng)
    Vs = numba.typed.List([np.zeros_like(W) for W in Ws])
    bs = numba.typed.List([np.zeros(s, np.float32) for s in SIZES[1:-1]])
    Ah, Dh = _shards(As, threads), _shards(Ds, threads)
    state = np.zeros(1, np.uint64)
    numba.set_num_threads(threads)
    _check_identical()
    _check_shards(threads)

    contenders = {
        "blas": (threads, lambda: _products(BLAS_KIND, Ws, As, Ds, Gs)),
        "blas1": (1, lambda: _products(BLAS_KIND, Ws, As, Ds, Gs)),
        "shards": (1, lambda: _sharded_products(BLAS_KIND, Ws, Ah, Dh, As, Ds, Gs, threads)),
        "serial": (threads, lambda: _batch(BLAS_KIND, Ws, Vs, Gs, As, Ds, bs, state, False)),
        "prange": (threads, lambda: _batch(BLAS_KIND, Ws, Vs, Gs, As, Ds, bs, state, True)),
    }
    times = {name: [] for name in contenders}
    for rep in range(repeats):
        for name, (blas_threads, fn) in contenders.items():
            with threadpoolctl.threadpool_limits(blas_threads, user_api="blas"):
                times[name].append(_time(fn, n_batches))
        print(f"repeat {rep + 1}: " + ", ".join(f"{k} {v[-1]:.2f} ms" for k, v in times.items()),
              flush=True)
    median = {name: float(np.median(v)) for name, v in times.items()}
    ratios = {
        "blas1/blas": median["blas1"] / median["blas"],
        "blas1/shards": median["blas1"] / median["shards"],
        "blas/shards": median["blas"] / median["shards"],
        "serial/prange": median["serial"] / median["prange"],
    }
    return times, median, ratios


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2,
                        help="BLAS threads, Numba threads and shards (default 2)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batches", type=int, default=100,
                        help="batches per timing (default 100)")
    parser.add_argument("--out", default=str(REPO_ROOT / "benchmarks" / "results" /
                                             "thread_pools.json"))
    args = parser.parse_args(argv)
    if args.threads < 2:
        parser.error("--threads must be at least 2: the question is how to use several cores")
    info = describe_machine()
    times, median, ratios = run(args.threads, args.repeats, args.batches)
    info["loadavg_after"] = loadavg()
    info["threadpools_after"] = machine_info()["threadpools"]
    info["numba_threading_layer"] = numba.threading_layer()
    print()
    for name, value in median.items():
        print(f"{name:8s} {value:7.2f} ms a batch (median of {args.repeats})")
    for name, value in ratios.items():
        print(f"{name:14s} {value:.2f}")
    record = {
        "question": "one SGD batch of 784-500-500-2000-10 at batch 100: OpenBLAS's threads "
                    "with serial kernels (the engine) against Numba-thread alternatives",
        "command": [Path(sys.executable).name] + sys.argv,
        "settings": {"sizes": SIZES, "batch_size": BATCH, "keep": KEEP,
                     "threads": args.threads, "repeats": args.repeats,
                     "batches_per_timing": args.batches},
        "times_ms": times,
        "median_ms": median,
        "ratios": ratios,
        "machine": info,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
