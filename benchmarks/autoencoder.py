"""How well does the deep autoencoder reconstruct MNIST, beside PCA and random init?

Hinton & Salakhutdinov (2006), figure 2 and its text: a 784-1000-500-250-30
autoencoder, pretrained as a stack of RBMs (the 30 code units linear) and
fine-tuned by backpropagation, reconstructs MNIST's test images with an
average squared error of 3.00 per image, against 8.01 for logistic PCA and
13.87 for PCA with 30 components; without pretraining the same deep net
"always reconstructs the average of the training data".

The measure (the paper's, and ``-DBNAutoencoder.score``): for each test
image, the squared error summed over its 784 pixels (intensities scaled to
[0, 1]), averaged over the images.

Contenders, all in the same run on the same data:

pca
    ``sklearn.decomposition.PCA(30)`` fitted on the training images.
dbn (pretrained only)
    The pretrained stack unrolled, before fine-tuning: up through the
    recognition weights, down through the generative ones.
dbn
    ``dbn.DBNAutoencoder(hidden_layer_sizes=(1000, 500, 250, 30),
    init="dbn")``: RBMs with CD-1, batches of 100, learning rate 0.1 (code
    layer 0.001), momentum 0.5 then 0.9, weight cost 0.0002 (the paper's
    code), ``--pretrain-epochs`` each; then ``--epochs`` epochs of
    mini-batch SGD (batch 100, Nesterov momentum 0.9, ``--learning-rate``)
    on the cross-entropy of the logistic output units.  The paper
    fine-tuned with conjugate gradients on batches of 1000 for 200 epochs.
random
    The same net, optimiser, epochs and data order from random weights
    (``init="normal"``: N(0, 0.1^2), the scale of Hinton's code).

Run from the repository root::

    python benchmarks/autoencoder.py                  # the paper's setting: hours on 2 cores
    python benchmarks/autoencoder.py --quick          # a smoke run: minutes, meaningless numbers

An interrupted run resumes when started again with the same settings: the
finished RBMs and every ``--chunk`` epochs of fine-tuning are kept in
``--checkpoint-dir`` (the pretraining time then counts only what this
process did).

MNIST is read with ``dbn.datasets.load_mnist(data_home, download=False)`` from
``--data-home`` (default ``$DBN_DATA_HOME``, else ``../shared/data/mnist``
next to the repository).  The result goes to ``--out`` as JSON, with the
machine, the settings, the timings and an extrapolation of the full run's
time from this run's per-epoch costs.
"""

import argparse
import functools
import json
import os
import pickle
import sys
import time
import warnings
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# Benchmark the working tree, not whatever copy of dbn is installed.
sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402
import threadpoolctl  # noqa: E402
from _common import default_data_home, describe_machine, loadavg, machine_info  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from dbn import DBN, DBNAutoencoder  # noqa: E402
from dbn._io import write_atomic  # noqa: E402
from dbn.datasets import load_mnist  # noqa: E402

HIDDEN = (1000, 500, 250, 30)
#: Test-set average squared error per image, Hinton & Salakhutdinov (2006).
PAPER = {"autoencoder": 3.00, "logistic_pca": 8.01, "pca": 13.87}
FULL = {"n_train": 60_000, "n_test": 10_000, "pretrain_epochs": 50, "epochs": 200}
QUICK = {"n_train": 2_000, "n_test": 1_000, "pretrain_epochs": 1, "epochs": 2}


def squared_error_per_image(X_rec, X):
    """The paper's measure: squared error summed over pixels, averaged over images."""
    d = np.asarray(X_rec, dtype=np.float64) - X
    return float(np.einsum("ij,ij->i", d, d).mean())


def pretrained_reconstruction(stack, X):
    """Up through the stack's recognition weights, down through its generative ones."""
    codes = stack.transform(X)
    for rbm in reversed(stack.rbms_):
        codes = rbm.inverse_transform(codes)
    return codes


def run(args, X, X_test):
    results = {}
    t = time.perf_counter()
    pca = PCA(HIDDEN[-1], random_state=args.seed).fit(X)
    results["pca"] = {
        "test_error": squared_error_per_image(pca.inverse_transform(pca.transform(X_test)), X_test),
        "seconds": time.perf_counter() - t,
    }
    print(f"PCA({HIDDEN[-1]}): {results['pca']['test_error']:.2f}", flush=True)

    t = time.perf_counter()
    # checkpoint_dir: each finished RBM is kept, so a rerun resumes after it.
    stack = DBN(hidden_layer_sizes=HIDDEN, n_iter=args.pretrain_epochs, batch_size=100, learning_rate=0.1,
                momentum="hinton", weight_decay=0.0002, top_layer="linear", verbose=args.verbose,
                random_state=args.seed, checkpoint_dir=os.fspath(args.checkpoint_dir / "stack")).fit(X)
    pretrain_s = time.perf_counter() - t
    results["dbn_pretrained_only"] = {
        "test_error": squared_error_per_image(pretrained_reconstruction(stack, X_test), X_test),
        "seconds": pretrain_s,
        "layer_seconds": stack.fit_time_,
        "rbm_reconstruction_error": [h["reconstruction_error"] for h in stack.history_],
        "cd_epoch_seconds": [h["time"] for h in stack.history_],
    }
    print(f"pretrained stack, unrolled, before fine-tuning: "
          f"{results['dbn_pretrained_only']['test_error']:.2f} ({pretrain_s:.0f} s)", flush=True)

    inits = {"dbn": stack} if args.skip_random else {"dbn": stack, "random": "normal"}
    for name, init in inits.items():
        ae, seconds = fine_tune(name, init, X, args)
        results[name] = {
            "test_error": -ae.score(X_test),
            "train_error": -ae.score(X[: len(X_test)]),
            "seconds": seconds,
            "seconds_per_epoch": seconds / max(ae.n_iter_, 1),
            "epochs": ae.n_iter_,
            "loss_curve": ae.loss_curve_,
        }
        print(f"{name}: test {results[name]['test_error']:.2f}, train {results[name]['train_error']:.2f} "
              f"({seconds:.0f} s, {results[name]['seconds_per_epoch']:.1f} s per epoch)", flush=True)
    results["pretrain_seconds"] = pretrain_s
    return results


def _checkpoint_settings(args):
    return {key: getattr(args, key) for key in (
        "n_train", "pretrain_epochs", "epochs", "learning_rate", "seed", "chunk")}


def fine_tune(name, init, X, args):
    """(fitted DBNAutoencoder, seconds): ``args.epochs`` epochs in chunks of ``args.chunk``.

    The model is pickled after every chunk, so an interrupted run resumes
    at its last chunk.  Each chunk is a ``warm_start`` fit (the data order
    goes on from the epochs done; the momentum restarts), and an
    uninterrupted run is chunked the same way, so both give the same model.
    """
    path = args.checkpoint_dir / f"{name}.pkl"
    settings = _checkpoint_settings(args)
    ae, seconds = None, 0.0
    if path.exists():
        with open(path, "rb") as f:
            saved = pickle.load(f)
        if saved["settings"] == settings:
            ae, seconds = saved["model"], saved["seconds"]
            print(f"{name}: resuming after epoch {ae.n_iter_} ({path})", flush=True)
    if ae is None:
        ae = DBNAutoencoder(HIDDEN, init=init, batch_size=100, learning_rate_init=args.learning_rate,
                            momentum=0.9, tol=0.0, n_iter_no_change=args.epochs,
                            random_state=args.seed, verbose=args.verbose, warm_start=True)
    while getattr(ae, "n_iter_", 0) < args.epochs:
        ae.set_params(max_iter=min(args.chunk, args.epochs - getattr(ae, "n_iter_", 0)))
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            ae.fit(X)
        seconds += time.perf_counter() - t
        path.parent.mkdir(parents=True, exist_ok=True)
        saved = {"settings": settings, "model": ae, "seconds": seconds}
        write_atomic(path, functools.partial(pickle.dump, saved, protocol=pickle.HIGHEST_PROTOCOL))
    return ae, seconds


def extrapolate(results, n_train):
    """Seconds of the full run (FULL) from this run's costs, scaled linearly in samples and epochs.

    Pretraining: the CD epochs' own times (without the per-epoch monitors,
    whose cost does not grow with the data); fine-tuning: whole fits per
    epoch.  A busy machine, or a run so small that fixed costs dominate,
    makes it an overestimate.
    """
    cd_epochs = results["dbn_pretrained_only"]["cd_epoch_seconds"]
    per_pretrain = sum(float(np.mean(t)) for t in cd_epochs) / n_train
    per_finetune = [results[k]["seconds"] / max(results[k]["epochs"] * n_train, 1)
                    for k in ("dbn", "random") if k in results]
    return (per_pretrain * FULL["pretrain_epochs"] * FULL["n_train"]
            + sum(p * FULL["epochs"] * FULL["n_train"] for p in per_finetune))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-home", default=default_data_home())
    parser.add_argument("--out", default=None,
                        help="JSON result (default benchmarks/results/autoencoder[_quick].json)")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: {QUICK} unless given explicitly")
    parser.add_argument("--n-train", type=int, default=None,
                        help=f"training images (full: {FULL['n_train']})")
    parser.add_argument("--n-test", type=int, default=None, help=f"test images (full: {FULL['n_test']})")
    parser.add_argument("--pretrain-epochs", type=int, default=None,
                        help=f"epochs per RBM (full: {FULL['pretrain_epochs']}, the paper's; its code: 10)")
    parser.add_argument("--epochs", type=int, default=None,
                        help=f"fine-tuning epochs (full: {FULL['epochs']}, the paper's)")
    parser.add_argument("--learning-rate", type=float, default=0.01, help="fine-tuning learning rate")
    parser.add_argument("--skip-random", action="store_true", help="leave out the random-init net")
    parser.add_argument("--chunk", type=int, default=10,
                        help="fine-tuning epochs between checkpoints (part of the result: each "
                             "chunk restarts the momentum)")
    parser.add_argument("--checkpoint-dir", type=Path, default=None,
                        help="where the finished RBMs and fine-tuning chunks are kept, so that "
                             "rerunning the same command resumes (default "
                             "benchmarks/results/tmp/autoencoder[_quick])")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None,
                        help="limit BLAS, OpenMP and Numba to this many threads (default: leave as is)")
    parser.add_argument("--verbose", type=int, default=1, help="per-epoch progress lines (0: quiet)")
    args = parser.parse_args(argv)
    preset = QUICK if args.quick else FULL
    for key in ("n_train", "n_test", "pretrain_epochs", "epochs"):
        if getattr(args, key) is None:
            setattr(args, key, preset[key])
        if getattr(args, key) < 1:
            parser.error(f"--{key.replace('_', '-')} must be positive")
    out = Path(args.out or REPO_ROOT / "benchmarks" / "results"
               / ("autoencoder_quick.json" if args.quick else "autoencoder.json"))
    if args.checkpoint_dir is None:
        args.checkpoint_dir = (REPO_ROOT / "benchmarks" / "results" / "tmp"
                               / ("autoencoder_quick" if args.quick else "autoencoder"))

    mnist = load_mnist(args.data_home, download=False)
    X = np.ascontiguousarray(mnist.data[: args.n_train], dtype=np.float32)
    X_test = np.ascontiguousarray(mnist.data_test[: args.n_test], dtype=np.float32)
    if X.min() < 0 or X.max() > 1:
        raise SystemExit("expected MNIST intensities scaled to [0, 1]")
    print(f"MNIST: train {X.shape}, test {X_test.shape}, {X.dtype}, from {args.data_home}")
    print(f"settings: {HIDDEN}, {args.pretrain_epochs} pretraining epochs per RBM, {args.epochs} "
          f"fine-tuning epochs, learning rate {args.learning_rate}" + (" (--quick)" if args.quick else ""))
    info = describe_machine()

    t0 = time.perf_counter()
    if args.threads is not None:
        import numba

        numba.set_num_threads(args.threads)
        with threadpoolctl.threadpool_limits(limits=args.threads):
            results = run(args, X, X_test)
    else:
        results = run(args, X, X_test)
    total = time.perf_counter() - t0
    info["threadpools_after"] = machine_info()["threadpools"]
    info["loadavg_after"] = loadavg()
    full_s = extrapolate(results, X.shape[0])

    print("\nAverage squared reconstruction error per test image (sum over 784 pixels):")
    print(f"  {'method':32s} {'this run':>9s} {'paper':>7s}")
    rows = [("PCA, 30 components", "pca", PAPER["pca"]),
            ("logistic PCA (not run)", None, PAPER["logistic_pca"]),
            ("pretrained stack, no fine-tuning", "dbn_pretrained_only", None),
            ("autoencoder, DBN init", "dbn", PAPER["autoencoder"]),
            ("autoencoder, random init", "random", None)]
    for label, key, paper in rows:
        got = f"{results[key]['test_error']:9.2f}" if key in results else f"{'-':>9s}"
        print(f"  {label:32s} {got} {'-' if paper is None else format(paper, '.2f'):>7s}")
    if "dbn" in results:
        print(f"\nratio dbn / PCA: {results['dbn']['test_error'] / results['pca']['test_error']:.3f} "
              f"(paper: {PAPER['autoencoder'] / PAPER['pca']:.3f})")
    print(f"this run: {total:.0f} s; the full run ({FULL}) extrapolated from it: "
          f"{full_s / 3600:.1f} h")

    out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "question": "average squared reconstruction error per MNIST test image of the 784-1000-500-250-30 "
                    "deep autoencoder (DBN init and random init) beside PCA(30)",
        "measure": "per test image, squared error summed over the 784 pixels (in [0, 1]); mean over images",
        "command": [Path(sys.executable).name] + sys.argv,
        "quick": args.quick,
        "settings": {
            "hidden_layer_sizes": list(HIDDEN),
            "n_train": int(X.shape[0]),
            "n_test": int(X_test.shape[0]),
            "pretrain_epochs": args.pretrain_epochs,
            "epochs": args.epochs,
            "learning_rate": args.learning_rate,
            "batch_size": 100,
            "chunk": args.chunk,
            "seed": args.seed,
            "threads": args.threads,
        },
        "paper": PAPER,
        "results": results,
        "seconds": total,
        "full_run_seconds_extrapolated": full_s,
        "machine": info,
    }
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
