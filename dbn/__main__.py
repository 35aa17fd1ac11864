"""Command line: ``python -m dbn`` runs the default study on scikit-learn's digits.

With no subcommand it runs the ``digits`` preset of the pretraining study
(the same 64-256-256-10 logistic network fine-tuned from DBN pretraining and
from two random initialisations, 3 seeds each; no download), writes one
record per run and the report to ``results/digits`` (``--out``), and prints
the comparison table.  Run again, it reuses the finished runs.

Subcommands: ``python -m dbn study --preset NAME --out DIR`` runs any preset
(MNIST ones included: pretraining vs random init over depths, label counts
and seeds), one JSON record per run, resumable; ``python -m dbn report DIR``
writes the tables, figures and report.md of a study; ``python -m dbn demo``
compares RBM features with raw pixels (and scikit-learn's BernoulliRBM) and
the inits beside scikit-learn's MLPClassifier.
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
        ("DBNClassifier init='normal' (0.1*randn)",
         lambda s: DBNClassifier(sizes, init="normal", random_state=s)),
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


def _default_study(args):
    """The main job: the digits study, then its comparison table."""
    from . import __version__
    from .report import summary_table
    from .study import PRESETS, run_study

    print(f"dbn {__version__}: pretraining versus random initialisation on scikit-learn's digits")
    print(PRESETS["digits"]["description"] + "\n", flush=True)
    t0 = time.perf_counter()
    records = run_study("digits", args.out, report=not args.no_report)
    rows = summary_table(records)
    seeds = sorted({r["config"]["seed"] for r in records})
    print(f"\nTest error of the same network, fine-tuned from each initialisation "
          f"(seeds {', '.join(map(str, seeds))}):")
    width = max(len(r["init"]) for r in rows)
    print(f"  {'init':<{width}}  mean +- sd       every seed (%)          fine-tuning")
    for row in sorted(rows, key=lambda r: r["mean_error_pct"]):
        each = ", ".join(f"{row[f'seed_{s}']:.2f}" for s in seeds if row.get(f"seed_{s}") is not None)
        sd = row["sd_error_pct"] if row["sd_error_pct"] is not None else float("nan")
        print(f"  {row['init']:<{width}}  {row['mean_error_pct']:5.2f}% +- {sd:4.2f}   "
              f"{each:<22}  {row['mean_finetune_time_s']:5.1f} s")
    print(f"\n'dbn': greedy RBM pretraining, then backpropagation; 'normal': 0.1 * randn; "
          f"'glorot': scikit-learn's MLP init. {time.perf_counter() - t0:.0f} s in all.")
    print("More: python -m dbn study --help (MNIST presets), python -m dbn demo.")
    return 0


def _study_epilog():
    import textwrap

    from .study import PRESETS

    lines = ["presets:"]
    for name, preset in PRESETS.items():
        lines.append(f"  {name}")
        lines += textwrap.wrap(preset["description"], 76, initial_indent="      ",
                               subsequent_indent="      ")
    lines += [
        "",
        "Each finished run is written at once to OUT/<key>.json; running the same",
        "command again skips them, and finishes a run in progress from its last",
        "checkpoint (OUT/partial, every --checkpoint-minutes). Pretrained stacks are",
        "kept in OUT/pretrained (or --pretrained-dir, which studies can share). At the",
        "end, OUT/report.md.",
    ]
    return "\n".join(lines)


def _add_study_parser(sub):
    import os

    from .study import PRESETS

    study = sub.add_parser(
        "study", help="run a study (a grid of runs), resumable",
        description="Run a study: a grid of (init, depth, label count, seed) runs of a preset, "
                    "each written as one JSON record as soon as it finishes.",
        epilog=_study_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    study.add_argument("--preset", choices=list(PRESETS), default="digits",
                       help="which study (default: digits; see below)")
    study.add_argument("--out", default=None,
                       help="output folder (default: results/PRESET, results/PRESET-validate "
                            "with --validate)")
    study.add_argument("--data-home", default=os.environ.get("DBN_DATA_HOME"),
                       help="folder of the MNIST IDX files (default: $DBN_DATA_HOME)")
    study.add_argument("--download", action="store_true",
                       help="fetch MNIST from OpenML if it is not in --data-home")
    study.add_argument("--validate", action="store_true",
                       help="hold out the last training images (10,000 for MNIST) and report "
                            "validation error instead of test error, to choose hyperparameters")
    study.add_argument("--seeds", type=_int_at_least(1), default=None,
                       help="run seeds 0..N-1 instead of the preset's number")
    study.add_argument("--inits", nargs="+", default=None, metavar="INIT",
                       help="run only these inits of the preset")
    study.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                       dest="overrides",
                       help="change a setting of the preset, e.g. --set "
                            "finetuning.learning_rate_init=0.05 --set pretraining.n_iter=10 "
                            "(for hyperparameter search with --validate; use a new --out); "
                            "one init's or one label count's own: --set "
                            "inits.dbn.pretraining.n_iter=200, --set "
                            "label_overrides.100.max_iter=500")
    study.add_argument("--n-jobs", type=_nonzero_int, default=1,
                       help="runs in parallel (joblib; default 1: on 2 cores one run already "
                            "uses both BLAS threads)")
    study.add_argument("--threads", type=_int_at_least(1), default=None,
                       help="BLAS threads per run (default: the preset's; digits: 1, "
                            "MNIST: all)")
    study.add_argument("--backend", choices=["joblib", "dask"], default="joblib",
                       help="joblib (local processes) or dask (pip install 'deepbelief[dask]')")
    study.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="Dask scheduler address, e.g. tcp://host:8786 (default with "
                            "--backend dask: a LocalCluster of --n-jobs workers)")
    study.add_argument("--pretrained-dir", default=None,
                       help="where pretrained stacks are kept (default OUT/pretrained)")
    study.add_argument("--reuse", nargs="+", default=None, metavar="DIR",
                       help="folders of other studies whose records count for this study when "
                            "they are the same run (same data, settings and seed): e.g. the "
                            "mnist preset's runs for mnist-labels' 60,000 labels")
    study.add_argument("--rerun-changed", action="store_true",
                       help="run again the runs whose record has another configuration")
    study.add_argument("--checkpoint-minutes", type=float, default=5.0, metavar="M",
                       help="minutes of fine-tuning between checkpoints of a run in progress "
                            "(OUT/partial; the same command finishes it exactly from there; "
                            "default 5; 0: after every epoch; not with --scheduler)")
    study.add_argument("--no-report", action="store_true", help="do not write the report")
    study.add_argument("--dry-run", action="store_true",
                       help="print the plan (finished and pending runs) and stop")
    report = sub.add_parser("report", help="write report.md, CSV tables and figures of a study",
                            description="Write RESULTS_DIR/report.md, errors.csv, summary.csv "
                                        "and PNG figures (matplotlib) from a study's records.")
    report.add_argument("results_dir", metavar="RESULTS_DIR", help="folder of a study")
    report.add_argument("--no-figures", action="store_true", help="tables only")


def _int_at_least(low):
    def parse(text):
        value = int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"{text}: must be an int >= {low}")
        return value

    parse.__name__ = "int"  # argparse's "invalid int value: 'x'"
    return parse


def _nonzero_int(text):
    value = int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("0: must be a nonzero int (-1: every core)")
    return value


_nonzero_int.__name__ = "int"


def _study(args):
    from .study import parse_overrides, plan_study, run_study

    if args.backend != "dask" and args.scheduler is not None:
        raise SystemExit("--scheduler needs --backend dask")
    if not args.checkpoint_minutes >= 0:
        raise SystemExit(f"--checkpoint-minutes must be >= 0; got {args.checkpoint_minutes}")
    try:
        overrides = parse_overrides(args.overrides)
    except ValueError as exc:
        raise SystemExit(f"--set: {exc}") from None
    try:  # the grid and every run's settings, checked before anything trains
        plan_study(args.preset, validate=args.validate, seeds=args.seeds, inits=args.inits,
                   overrides=overrides)
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    run_study(args.preset, args.out, data_home=args.data_home, download=args.download,
              validate=args.validate, seeds=args.seeds, inits=args.inits, overrides=overrides,
              n_jobs=args.n_jobs, threads=args.threads, backend=args.backend,
              scheduler=args.scheduler,
              pretrained_dir=args.pretrained_dir, reuse=args.reuse, rerun_changed=args.rerun_changed,
              report=not args.no_report, dry_run=args.dry_run,
              checkpoint_every=60.0 * args.checkpoint_minutes)
    return 0


def _report(args):
    from .report import write_report

    try:
        print(write_report(args.results_dir, figures=not args.no_figures))
    except FileNotFoundError as exc:  # no such folder, or no records in it
        raise SystemExit(f"error: {exc}") from None
    return 0


def main(argv=None):
    """Entry point of ``python -m dbn`` and of the ``dbn`` script."""
    parser = argparse.ArgumentParser(prog="python -m dbn", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="results/digits",
                        help="folder of the default study's records and report "
                             "(default results/digits)")
    parser.add_argument("--no-report", action="store_true",
                        help="do not write the default study's report")
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser("demo", help="RBM features and inits on digits, beside scikit-learn")
    demo.add_argument("--n-components", type=int, default=200, help="hidden units (default 200)")
    demo.add_argument("--n-iter", type=int, default=20, help="epochs (default 20)")
    demo.add_argument("--C", type=float, default=10.0, help="inverse L2 strength of the classifier")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--seeds", type=int, default=3, help="seeds of the pretraining comparison")
    demo.add_argument("--hidden-layer-sizes", type=int, nargs="+", default=[256, 256],
                      help="hidden layers of the pretraining comparison (default 256 256)")
    _add_study_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "report":
        return _report(args)
    if args.command == "demo":
        return _demo(args)
    from .study import _Terminated

    try:
        return _study(args) if args.command == "study" else _default_study(args)
    except KeyboardInterrupt as exc:
        # The study has said what it kept and how to go on (the same command
        # again); a traceback would bury that line.  The shell's exit codes:
        # 128 + the signal's number.
        sigterm = isinstance(exc, _Terminated)
        print(f"stopped by {'SIGTERM' if sigterm else 'Ctrl-C'}", file=sys.stderr)
        return 143 if sigterm else 130


if __name__ == "__main__":
    sys.exit(main())
