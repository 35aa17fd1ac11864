"""Command line: ``python -m dbn`` runs the demo on scikit-learn's digits.

The demo needs no download. On the 8x8 digits that ship with scikit-learn it

1. trains an RBM and compares a logistic regression on its features with one
   on the raw pixels (scikit-learn's own BernoulliRBM beside ours);
2. trains the same deep network from DBN pretraining and from random
   initialisations, beside scikit-learn's MLPClassifier, over several seeds.
"""

import argparse
import sys
import time


def _demo(args):
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import BernoulliRBM as SkBernoulliRBM
    from sklearn.pipeline import make_pipeline

    from . import BernoulliRBM, __version__
    from ._blas import BLAS_LIBRARY

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=args.seed, stratify=y
    )
    print(f"dbn {__version__}: RBM features on scikit-learn's digits "
          f"({len(X_train)} train / {len(X_test)} test images, 8x8 pixels)")
    print(f"BLAS: {BLAS_LIBRARY}\n")

    t0 = time.perf_counter()
    BernoulliRBM(n_components=8, n_iter=1, random_state=0).fit(X_train[:50])
    print(f"numba kernels ready in {time.perf_counter() - t0:.1f} s (compiled once, then cached)\n")

    rbm_kw = dict(n_components=args.n_components, learning_rate=0.06, batch_size=10,
                  n_iter=args.n_iter, random_state=args.seed)
    rows = []
    contenders = [
        ("logistic regression on raw pixels", None),
        ("dbn.BernoulliRBM + logistic regression", BernoulliRBM(**rbm_kw, momentum="hinton")),
        ("sklearn BernoulliRBM + logistic regression", SkBernoulliRBM(**rbm_kw)),
    ]
    for name, rbm in contenders:
        clf = LogisticRegression(C=args.C, max_iter=5000)
        model = clf if rbm is None else make_pipeline(rbm, clf)
        t = time.perf_counter()
        if rbm is not None:
            rbm.fit(X_train)
        t_rbm = time.perf_counter() - t
        feats_train = X_train if rbm is None else rbm.transform(X_train)
        clf.fit(feats_train, y_train)
        acc = model.score(X_test, y_test)
        rows.append((name, acc, t_rbm))
    width = max(len(r[0]) for r in rows)
    print(f"{'model':<{width}}  test accuracy  RBM training time")
    for name, acc, t in rows:
        t_txt = "-" if t < 1e-3 else f"{t:.2f} s"
        print(f"{name:<{width}}  {acc:13.4f}  {t_txt:>17}")
    print(f"\n{args.n_components} hidden units, {args.n_iter} epochs of CD-1, batch 10, "
          f"learning rate 0.06, seed {args.seed}.")
    _pretraining_vs_random(args, X_train, X_test, y_train, y_test)
    return 0


def _pretraining_vs_random(args, X_train, X_test, y_train, y_test):
    import warnings

    import numpy as np
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    from . import DBNClassifier

    sizes = tuple(args.hidden_layer_sizes)
    print(f"\nPretraining versus random initialisation: the same {len(sizes)}-hidden-layer "
          f"network {(64, *sizes, 10)}, logistic units, SGD with Nesterov momentum, "
          f"seeds 0..{args.seeds - 1}")
    contenders = [
        ("DBNClassifier init='dbn' (pretrained)", lambda s: DBNClassifier(sizes, init="dbn", random_state=s)),
        ("DBNClassifier init='glorot'", lambda s: DBNClassifier(sizes, init="glorot", random_state=s)),
        ("DBNClassifier init='normal' (0.1*randn)", lambda s: DBNClassifier(sizes, init="normal", random_state=s)),
        ("MLPClassifier (relu, adam; sklearn defaults)",
         lambda s: MLPClassifier(sizes, random_state=s)),
    ]
    rows = []
    for name, make in contenders:
        accs, t = [], time.perf_counter()
        for seed in range(args.seeds):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                accs.append(make(seed).fit(X_train, y_train).score(X_test, y_test))
        rows.append((name, np.mean(accs), np.std(accs), (time.perf_counter() - t) / args.seeds))
    width = max(len(r[0]) for r in rows)
    print(f"{'model':<{width}}  test error (mean +- sd)  time per fit")
    for name, acc, sd, t in rows:
        print(f"{name:<{width}}  {100 * (1 - acc):6.2f}% +- {100 * sd:4.2f}%     {t:8.2f} s")


def main(argv=None):
    """Entry point of ``python -m dbn`` and of the ``dbn`` script."""
    parser = argparse.ArgumentParser(prog="python -m dbn", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser("demo", help="RBM features on digits (the default)")
    for p in (parser, demo):
        p.add_argument("--n-components", type=int, default=200, help="hidden units (default 200)")
        p.add_argument("--n-iter", type=int, default=20, help="epochs (default 20)")
        p.add_argument("--C", type=float, default=10.0, help="inverse L2 strength of the classifier")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--seeds", type=int, default=3, help="seeds of the pretraining comparison")
        p.add_argument("--hidden-layer-sizes", type=int, nargs="+", default=[256, 256],
                       help="hidden layers of the pretraining comparison (default 256 256)")
    args = parser.parse_args(argv)
    return _demo(args)


if __name__ == "__main__":
    sys.exit(main())
