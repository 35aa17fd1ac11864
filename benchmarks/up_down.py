"""Up-down fine-tuning of a DBN with labels at the top, on MNIST.

Hinton, Osindero & Teh (2006): a 784-500-500-2000 DBN whose top RBM also
models ten label units, trained greedily, then fine-tuned by the up-down
algorithm (contrastive wake-sleep) for 300 epochs, classifies MNIST's test
images with 1.25% error (section 6; about a week of training in 2006).
This script measures, in one run on the same data and stack:

greedy
    ``dbn.DBN(hidden_layer_sizes=(500, 500, 2000), joint_labels=True)``
    trained layer by layer with the ``mnist`` study preset's pretraining
    (CD-1, 50 epochs a layer, batches of 100, learning rate 0.1, momentum
    0.5 then 0.9, weight cost 0.0002), classifying by the top RBM's free
    energy of each label.
up-down
    The same stack (loaded from the checkpoint, not retrained) fine-tuned
    by ``up_down_n_iter`` epochs of up-down, for each learning rate given.

Run from the repository root::

    python benchmarks/up_down.py --validate --learning-rates 0.01 0.03 0.1 0.3   # choose the rate
    python benchmarks/up_down.py --learning-rates 0.1                              # the test figure
    python benchmarks/up_down.py --learning-rates 0.1 --up-down-epochs 60          # a longer run
    python benchmarks/up_down.py --learning-rates 0.03 --top-k 10                  # CD-10 in the top RBM

(about 17 minutes of pretraining, then 12 minutes for 15 epochs of up-down
at one thread, 45 for 60: the Gibbs steps grow from 3 to 10.)

``--top-k K`` pretrains the top RBM (the associative memory of the
penultimate features and the labels) with CD-K instead of CD-1; the two
layers below are the CD-1 stack's (the same checkpoints, reused when
present). The top RBM's free-energy classification gains much from it
(on the 60,000 images the top layer took 16 minutes at K = 3 and 46 at
K = 10, one thread beside another job).

``--validate`` trains on the first 50,000 training images and measures on
the last 10,000 (never on the test set). An interrupted run resumes: the
layers and the up-down progress are kept in ``--checkpoint-dir``.

Speed::

    python benchmarks/up_down.py --speed --threads 2

times one epoch of the up-down kernel (on the first ``--speed-rows``
training images, batches of 100, ``--k`` Gibbs steps, random weights of the
784-500-500-2000 net) against its "GEMM floor": the same matrix products
(the 14 + 2k of each mini-batch) through NumPy's ``@``, the same BLAS
library, and nothing else.  Alternated, medians over ``--repeats``.
"""

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import threadpoolctl
from _common import REPO_ROOT, default_data_home, describe_machine

from dbn import DBN
from dbn import _up_down_kernels as UK
from dbn._blas import BLAS_KIND
from dbn.datasets import load_mnist
from dbn.rbm import kernel_data

PRETRAINING = dict(n_iter=50, batch_size=100, learning_rate=0.1, k=1, momentum="hinton",
                   weight_decay=0.0002)


def _error(model, X, y):
    return float(np.mean(model.predict(X) != y))


def _random_net(rng, sizes, n_top, n_labels):
    f32 = np.float32
    Rs = [(0.05 * rng.standard_normal((hi, lo))).astype(f32) for lo, hi in zip(sizes[:-1], sizes[1:])]
    return dict(
        R=np.concatenate([a.ravel() for a in Rs]), G=np.concatenate([a.ravel() for a in Rs]),
        r_b=np.zeros(sum(sizes[1:]), f32), g_b=np.zeros(sum(sizes[:-1]), f32),
        W=(0.05 * rng.standard_normal((n_top, sizes[-1] + n_labels))).astype(f32),
        b_h=np.zeros(n_top, f32), b_v=np.zeros(sizes[-1] + n_labels, f32))


def kernel_epoch(X, labels, k, batch_size=100, n_top=2000, seed=0):
    """Seconds of one epoch of :func:`dbn._up_down_kernels.up_down_epoch` on ``X``."""
    f32 = np.float32
    sizes = np.array([X.shape[1], 500, 500], np.int64)
    p = _random_net(np.random.default_rng(seed), list(sizes), n_top, 10)
    B = batch_size
    n_vis = p["W"].shape[1]
    args = (np.zeros(n_top, f32), np.zeros(n_vis, f32), np.empty((1, 1), f32), k, 0.01, 0.0,
            np.array([seed + 1], np.uint64), np.empty(B * sizes.sum(), f32), np.empty(B * sizes.sum(), f32),
            np.empty(B * sizes.max(), f32), np.empty((2 * B, n_vis), f32), np.empty((2 * B, n_top), f32),
            np.empty((B, n_top), f32), np.zeros(2))
    order = np.arange(X.shape[0], dtype=np.int64)
    t = time.perf_counter()
    UK.up_down_epoch(BLAS_KIND, *kernel_data(X), order, B, labels, p["R"], p["r_b"], p["G"], p["g_b"], sizes,
                     p["W"], p["b_h"], p["b_v"], *args)
    return time.perf_counter() - t


def gemm_floor(X, k, batch_size=100, n_top=2000, seed=0):
    """Seconds of the matrix products of one up-down epoch, and nothing else."""
    f32 = np.float32
    rng = np.random.default_rng(seed)
    n0, n1, n2, nl = X.shape[1], 500, 500, 10
    B = batch_size
    R0, R1, G0, G1 = ((0.05 * rng.standard_normal(s)).astype(f32) for s in
                      [(n1, n0), (n2, n1), (n1, n0), (n2, n1)])
    W = (0.05 * rng.standard_normal((n_top, n2 + nl))).astype(f32)
    R0T, R1T, WT = R0.T, R1.T, W.T

    def buf(*shape):
        return (0.01 * rng.standard_normal(shape)).astype(f32)

    s1, s2, p0, q1, q2 = buf(B, n1), buf(B, n2), buf(B, n0), buf(B, n1), buf(B, n2)
    v, h, HH, VV = buf(B, n2 + nl), buf(B, n_top), buf(2 * B, n_top), buf(2 * B, n2 + nl)
    # The chain's products read fixed inputs: fed back without the
    # sigmoids, the values would overflow (or underflow to slow denormals).
    v_out, h_out = np.empty_like(v), np.empty_like(h)
    gW, gG0, gG1 = np.empty_like(W), np.empty_like(G0), np.empty_like(G1)
    t = time.perf_counter()
    for start in range(0, X.shape[0], B):
        x = X[start:start + B]
        m = x.shape[0]
        a1, a2, a0 = s1[:m], s2[:m], p0[:m]
        np.matmul(x, R0T, out=a1)                # wake
        np.matmul(a1, R1T, out=a2)
        np.matmul(v[:m], WT, out=h_out[:m])      # top: positive phase
        for _ in range(k):                       # top: Gibbs steps
            np.matmul(h[:m], W, out=v_out[:m])
            np.matmul(v[:m], WT, out=h_out[:m])
        np.matmul(a2, G1, out=q1[:m])            # sleep
        np.matmul(q1[:m], G0, out=a0)
        np.matmul(a1, G0, out=a0)                # generative predictions
        np.matmul(a2, G1, out=q1[:m])
        np.matmul(a0, R0T, out=q1[:m])           # recognition predictions
        np.matmul(a1, R1T, out=q2[:m])
        np.matmul(a1.T, a0, out=gG0)             # updates
        np.matmul(a2.T, q1[:m], out=gG1)
        np.matmul(q1[:m].T, a0, out=gG0)
        np.matmul(q2[:m].T, a1, out=gG1)
        np.matmul(HH[:2 * m].T, VV[:2 * m], out=gW)
    return time.perf_counter() - t


def time_speed(X, labels, k, repeats):
    """Kernel epoch against its floor, alternated; medians."""
    kernel_epoch(X[:1000], labels[:1000], k)  # compile
    gemm_floor(X[:1000], k)
    runs = {"kernel": [], "floor": []}
    for r in range(repeats):
        runs["kernel"].append(kernel_epoch(X, labels, k))
        runs["floor"].append(gemm_floor(X, k))
        print(f"  repeat {r + 1}/{repeats}: kernel {runs['kernel'][-1]:.3f} s, "
              f"floor {runs['floor'][-1]:.3f} s", flush=True)
    med = {name: float(np.median(v)) for name, v in runs.items()}
    return {"runs": runs, "median": med, "kernel_over_floor": med["kernel"] / med["floor"]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-home", default=default_data_home())
    parser.add_argument("--validate", action="store_true",
                        help="train on the first 50,000 training images, measure on the last 10,000")
    parser.add_argument("--n-train", type=int, default=None, help="first N training images only")
    parser.add_argument("--pretrain-epochs", type=int, default=PRETRAINING["n_iter"])
    parser.add_argument("--top-k", type=int, default=PRETRAINING["k"],
                        help="CD steps of the top RBM's greedy pretraining (the layers below keep CD-1)")
    parser.add_argument("--up-down-epochs", type=int, default=15)
    parser.add_argument("--learning-rates", type=float, nargs="*", default=[0.1],
                        help="up-down learning rates to run (none: the greedy stack only)")
    parser.add_argument("--k", default="hinton", help="Gibbs steps in the top RBM: an int or 'hinton'")
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--checkpoint-dir", default=None,
                        help="default: benchmarks/results/.up_down_checkpoints/<split>-seed<seed>")
    parser.add_argument("--out", default=None, help="JSON results (default: benchmarks/results/up_down.json)")
    parser.add_argument("--speed", action="store_true", help="time the kernel against its GEMM floor only")
    parser.add_argument("--speed-rows", type=int, default=10000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    k = args.k if args.k == "hinton" else int(args.k)
    if args.speed:
        info = describe_machine()
        X_train, y_train, _, _ = load_mnist(args.data_home, download=False, return_X_y=True)
        X = np.ascontiguousarray(X_train[:args.speed_rows], dtype=np.float32)
        labels = y_train[:args.speed_rows].astype(np.int64)
        command = "python benchmarks/up_down.py " + " ".join(sys.argv[1:] if argv is None else argv)
        result = {"command": command, "rows": len(X), "machine": info, "threads": args.threads, "speed": {}}
        with threadpoolctl.threadpool_limits(args.threads):
            for steps in ((3, 10) if k == "hinton" else (k,)):
                print(f"k = {steps}:", flush=True)
                result["speed"][f"k={steps}"] = res = time_speed(X, labels, steps, args.repeats)
                print(f"  kernel {res['median']['kernel']:.3f} s, floor {res['median']['floor']:.3f} s: "
                      f"{res['kernel_over_floor']:.2f}x", flush=True)
        out = Path(args.out or REPO_ROOT / "benchmarks" / "results" / "up_down_speed.json")
        out.write_text(json.dumps(result, indent=1, default=float))
        print(f"wrote {out}")
        return

    info = describe_machine()
    X_train, y_train, X_test, y_test = load_mnist(args.data_home, download=False, return_X_y=True)
    split = "test"
    if args.validate:
        X_train, y_train, X_test, y_test = X_train[:50000], y_train[:50000], X_train[50000:], y_train[50000:]
        split = "validate"
    if args.n_train:
        X_train, y_train = X_train[:args.n_train], y_train[:args.n_train]
    ckpt = Path(args.checkpoint_dir or REPO_ROOT / "benchmarks" / "results" / ".up_down_checkpoints"
                / f"{split}-n{len(X_train)}-pre{args.pretrain_epochs}-seed{args.seed}")
    pretraining = dict(PRETRAINING, n_iter=args.pretrain_epochs)
    top = ""
    if args.top_k != PRETRAINING["k"]:
        # The layers below are those of the CD-1 stack (the same checkpoints);
        # only the top RBM is trained anew, in a folder of its own.
        pretraining["k"] = [PRETRAINING["k"], PRETRAINING["k"], args.top_k]
        top = f"-topk{args.top_k}"
    stack_folder = ckpt / f"stack{top}"
    stack_folder.mkdir(parents=True, exist_ok=True)
    for name in ("layer_0.pkl", "layer_1.pkl"):
        if top and (ckpt / "stack" / name).exists() and not (stack_folder / name).exists():
            shutil.copy(ckpt / "stack" / name, stack_folder / name)
    base = dict(hidden_layer_sizes=(500, 500, 2000), joint_labels=True, random_state=args.seed,
                verbose=1, **pretraining)
    result = {
        "command": "python benchmarks/up_down.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "split": split, "n_train": len(X_train), "n_eval": len(X_test), "pretraining": base,
        "machine": info, "runs": [],
    }
    out = Path(args.out or REPO_ROOT / "benchmarks" / "results" / "up_down.json")
    with threadpoolctl.threadpool_limits(args.threads):
        t0 = time.perf_counter()
        stack = DBN(**base, checkpoint_dir=str(stack_folder)).fit(X_train, y_train)
        result["greedy"] = {"error": _error(stack, X_test, y_test),
                            "train_error": _error(stack, X_train, y_train),
                            "pretraining_time": sum(stack.fit_time_),
                            "wall_time": time.perf_counter() - t0}
        print(f"greedy: {split} error {100 * result['greedy']['error']:.2f}%", flush=True)
        for lr in args.learning_rates:
            folder = ckpt / f"lr{lr}-k{k}-wd{args.weight_decay}-ud{args.up_down_epochs}{top}"
            folder.mkdir(parents=True, exist_ok=True)
            for layer in sorted(stack_folder.glob("layer_*.pkl")):
                if not (folder / layer.name).exists():
                    shutil.copy(layer, folder / layer.name)
            t0 = time.perf_counter()
            model = DBN(**base, up_down_n_iter=args.up_down_epochs, up_down_learning_rate=lr, up_down_k=k,
                        up_down_weight_decay=args.weight_decay, checkpoint_dir=str(folder))
            model.fit(X_train, y_train)
            h = model.up_down_history_
            run = {"learning_rate": lr, "k": k, "weight_decay": args.weight_decay,
                   "epochs": args.up_down_epochs, "error": _error(model, X_test, y_test),
                   "train_error": _error(model, X_train, y_train), "up_down_time": float(sum(h["time"])),
                   "history": h}
            result["runs"].append(run)
            print(f"up-down lr {lr}: {split} error {100 * run['error']:.2f}% "
                  f"(train {100 * run['train_error']:.2f}%), {run['up_down_time']:.0f} s", flush=True)
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_suffix(".tmp")
            tmp.write_text(json.dumps(result, indent=1, default=float))
            os.replace(tmp, out)
    if not result["runs"]:
        out.write_text(json.dumps(result, indent=1, default=float))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
