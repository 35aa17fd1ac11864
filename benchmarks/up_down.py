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

    python benchmarks/up_down.py --validate --learning-rates 0.01 0.03 0.1   # choose the rate
    python benchmarks/up_down.py --learning-rates 0.03                        # the test figure

``--validate`` trains on the first 50,000 training images and measures on
the last 10,000 (never on the test set). An interrupted run resumes: the
layers and the up-down progress are kept in ``--checkpoint-dir``.
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
from dbn.datasets import load_mnist

PRETRAINING = dict(n_iter=50, batch_size=100, learning_rate=0.1, k=1, momentum="hinton",
                   weight_decay=0.0002)


def _error(model, X, y):
    return float(np.mean(model.predict(X) != y))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-home", default=default_data_home())
    parser.add_argument("--validate", action="store_true",
                        help="train on the first 50,000 training images, measure on the last 10,000")
    parser.add_argument("--n-train", type=int, default=None, help="first N training images only")
    parser.add_argument("--pretrain-epochs", type=int, default=PRETRAINING["n_iter"])
    parser.add_argument("--up-down-epochs", type=int, default=30)
    parser.add_argument("--learning-rates", type=float, nargs="*", default=[0.01],
                        help="up-down learning rates to run (none: the greedy stack only)")
    parser.add_argument("--k", default="hinton", help="Gibbs steps in the top RBM: an int or 'hinton'")
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--checkpoint-dir", default=None,
                        help="default: benchmarks/results/.up_down_checkpoints/<split>-seed<seed>")
    parser.add_argument("--out", default=None, help="JSON results (default: benchmarks/results/up_down.json)")
    args = parser.parse_args(argv)
    k = args.k if args.k == "hinton" else int(args.k)

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
    base = dict(hidden_layer_sizes=(500, 500, 2000), joint_labels=True, random_state=args.seed,
                verbose=1, **dict(PRETRAINING, n_iter=args.pretrain_epochs))
    result = {
        "command": "python benchmarks/up_down.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "split": split, "n_train": len(X_train), "n_eval": len(X_test), "pretraining": base,
        "machine": info, "runs": [],
    }
    out = Path(args.out or REPO_ROOT / "benchmarks" / "results" / "up_down.json")
    with threadpoolctl.threadpool_limits(args.threads):
        t0 = time.perf_counter()
        stack = DBN(**base, checkpoint_dir=str(ckpt / "stack")).fit(X_train, y_train)
        result["greedy"] = {"error": _error(stack, X_test, y_test),
                            "train_error": _error(stack, X_train, y_train),
                            "pretraining_time": sum(stack.fit_time_),
                            "wall_time": time.perf_counter() - t0}
        print(f"greedy: {split} error {100 * result['greedy']['error']:.2f}%", flush=True)
        for lr in args.learning_rates:
            folder = ckpt / f"lr{lr}-k{k}-wd{args.weight_decay}-ud{args.up_down_epochs}"
            folder.mkdir(parents=True, exist_ok=True)
            for layer in sorted((ckpt / "stack").glob("layer_*.pkl")):
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
