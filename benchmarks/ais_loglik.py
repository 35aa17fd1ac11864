"""How good are dbn's RBMs as generative models of MNIST, in nats per test image?

Bernoulli RBMs with 500 hidden units are trained on binarised MNIST with CD-1,
CD-3, CD-25 and persistent CD-1 (PCD), and the average log-probability of the
10,000 test images (and of the 60,000 training images) is estimated with
annealed importance sampling (``dbn.ais``: Salakhutdinov & Murray 2008,
"On the quantitative analysis of deep belief networks", ICML; 100 chains,
their 14,501 inverse temperatures, base-rate model from the training
pixels' marginals).  The figures are printed beside the paper's Table 2.

Baseline, measured in the same run: the base-rate model itself (independent
pixels with the smoothed training marginals), whose log-probability is exact.
Sanity check, also in the same run: an RBM with 20 hidden units (``--exact-
hidden``) trained with CD-1, whose ``log Z`` AIS estimates and exact
enumeration over its 2**20 hidden states computes; the two must agree to
about 0.1 nats.

Data: the images are binarised *stochastically*, once, with a fixed seed
(``--binarize-seed``): pixel ``i`` is on with probability ``intensity / 255``,
as in Salakhutdinov & Murray (2008) (the data set of Murray & Salakhutdinov
2009).  ``--binarize threshold`` thresholds at 0.5 instead (easier data: the
figures are then not comparable with the paper's).  ``--train-data`` says
what the RBMs train on: those fixed binary images (``fixed``), a
fresh stochastic binarisation of the grey levels every epoch (``resample``:
the model cannot learn one draw's noise), or the grey levels themselves as
probabilities (``intensities``, the default, as Hinton's rbm.m does).  The log-probabilities
are always those of the fixed binarised images.

Reference figures (Salakhutdinov & Murray 2008, Table 2, MNIST, average
log-probability in nats, AIS with 100 runs; quoted from memory of the paper,
check them there before relying on them):

    model        test      train     ln Z
    CD1(500)   -125.53   -122.86   350.15
    CD3(500)   -105.50   -102.81   280.09
    CD25(500)   -86.34    -83.10   451.28

The paper has no PCD model; for scale, a mixture of 500 multivariate
Bernoullis scores -137.64 on the test set (Salakhutdinov & Hinton 2009, "Deep
Boltzmann machines", AISTATS, section 4).  The paper's training schedule is
not reproduced exactly (as we recall, its CD-T models had T increased
gradually during learning, for a number of epochs we do not know).  The
defaults here were chosen on validation (``benchmarks/results/ais-validate/``):
the RBMs train on the grey levels as probabilities (``--train-data
intensities``), 150 epochs, k raised linearly from 1 to the model's k
(``--k-ramp``), learning rate decaying geometrically from 0.02 to 0.001,
Hinton's momentum (0.5 for 5 epochs, then 0.9), weight decay 0.0002 and
mini-batches of 100.  On the fixed binary images the same CD-25 model only
reached about -100 nats on validation (it learns one draw's noise: 7 nats
between training and held-out images), against -85.9 on the grey levels.

Training settings are chosen with ``--validate`` (models trained on the first
50,000 training images, log-probabilities of the last 10,000: never the test
set); ``--k-ramp`` raises k of the CD-k models linearly from 1 to k over the
epochs, as the paper raised T for its CD-T models; ``--lr-final`` decays the
learning rate geometrically over the epochs; ``--curve E1 E2 ...`` also
estimates the log-probabilities after those epochs (the learning curve: CD
learning can lower the likelihood after a while, so the number of epochs is
a setting to choose on validation, like the learning rate).  A finished model is kept
in ``<out>.partial.json`` at once: rerunning the same command resumes, and the
file can be committed to carry a long run to another machine.

Run from the repository root::

    python benchmarks/ais_loglik.py                # full run: ~1 h idle (2 cores), 2-3 h on a busy machine
    python benchmarks/ais_loglik.py --quick        # smoke test: under a minute

On a machine whose cores are busy with other work, add ``--threads 1``:
BLAS threads waiting on each other made AIS up to 10 times slower here.

MNIST is read with ``dbn.datasets.load_mnist(data_home, download=False)``
from ``--data-home`` (default ``$DBN_DATA_HOME``, else ``../shared/data/mnist``
next to the repository).  Results go to ``--out`` as JSON (default
``benchmarks/results/ais_loglik.json``, or ``ais_loglik_quick.json`` with
``--quick``).
"""

import argparse
import json
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# Benchmark the working tree, not whatever copy of dbn is installed.
sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402
import threadpoolctl  # noqa: E402
from _common import default_data_home, describe_machine, loadavg, machine_info  # noqa: E402

from dbn import BernoulliRBM, ais  # noqa: E402
from dbn._io import write_atomic  # noqa: E402
from dbn.datasets import load_mnist  # noqa: E402

#: name -> (k, persistent, paper's label)
MODELS = {
    "cd1": (1, False, "CD1(500)"),
    "cd3": (3, False, "CD3(500)"),
    "cd25": (25, False, "CD25(500)"),
    "pcd": (1, True, None),
}
#: Salakhutdinov & Murray (2008), Table 2 (MNIST): test, train, ln Z.
PAPER = {
    "CD1(500)": {"test": -125.53, "train": -122.86, "log_z": 350.15},
    "CD3(500)": {"test": -105.50, "train": -102.81, "log_z": 280.09},
    "CD25(500)": {"test": -86.34, "train": -83.10, "log_z": 451.28},
}
#: Salakhutdinov & Hinton (2009): mixture of 500 Bernoullis, test set.
MOB_500_TEST = -137.64


def binarize(X, how, seed):
    """Binary float32 images: stochastic (``P(on) = intensity``) or thresholded at 0.5."""
    if how == "threshold":
        return (X > 0.5).astype(np.float32)
    rng = np.random.RandomState(seed)
    return (rng.random_sample(X.shape) < X).astype(np.float32)


def base_rate_log_prob(X, X_base):
    """Exact mean log-probability of X under the independent-pixel base-rate model."""
    b = ais.base_rate_biases(X_base).astype(np.float64)
    return float(np.mean(X @ b) - np.logaddexp(0.0, b).sum())


def ramped_k(k, epoch, n_epochs):
    """Gibbs steps of ``epoch`` (0-based) when CD-k's k grows linearly from 1 to k."""
    if n_epochs <= 1:
        return k
    return int(round(1 + (k - 1) * epoch / (n_epochs - 1)))


def decayed_lr(start, final, epoch, n_epochs):
    """Learning rate of ``epoch`` (0-based) decaying geometrically from ``start`` to ``final``."""
    if n_epochs <= 1:
        return start
    return float(start * (final / start) ** (epoch / (n_epochs - 1)))


def epoch_data(X, X_grey, how, epoch, seed):
    """Training images of one epoch (0-based): the fixed binarisation ``X``, a
    fresh stochastic binarisation of the grey levels ``X_grey`` (seeded by
    ``seed`` and ``epoch``), or the grey levels themselves as probabilities."""
    if how == "fixed":
        return X
    if how == "intensities":
        return X_grey
    return binarize(X_grey, "stochastic", (seed, epoch))


def train(k, persistent, X, args, n_components, after_epoch=None, X_grey=None):
    """(fitted RBM, seconds of training); ``after_epoch(epoch, rbm)`` (1-based
    epoch) runs after each epoch, outside the timing.  ``X_grey`` (the grey
    levels of ``X``'s images) is needed unless ``args.train_data`` is "fixed"."""
    rbm = BernoulliRBM(
        n_components=n_components, learning_rate=args.learning_rate, batch_size=args.batch_size,
        n_iter=args.epochs, k=k, persistent=persistent, momentum="hinton",
        weight_decay=args.weight_decay, random_state=args.seed, verbose=args.verbose,
    )
    seconds = 0.0
    if ((args.k_ramp and k > 1) or after_epoch is not None or args.lr_final
            or args.train_data != "fixed"):
        # One epoch at a time: the paper's CD-T models had T raised gradually
        # during learning (k from 1 to the model's k), the learning rate may
        # decay, and the curve looks at the model between epochs.
        for epoch in range(args.epochs):
            if args.k_ramp:
                rbm.set_params(k=ramped_k(k, epoch, args.epochs))
            if args.lr_final:
                lr = decayed_lr(args.learning_rate, args.lr_final, epoch, args.epochs)
                rbm.set_params(learning_rate=lr)
            X_epoch = epoch_data(X, X_grey, args.train_data, epoch, args.binarize_seed + 1000)
            t = time.perf_counter()
            rbm.partial_fit(X_epoch)
            seconds += time.perf_counter() - t
            if after_epoch is not None:
                after_epoch(epoch + 1, rbm)
        rbm.set_params(k=k)
    else:
        t = time.perf_counter()
        rbm.fit(X)
        seconds = time.perf_counter() - t
    return rbm, seconds


def evaluate(rbm, X_train, X_test, args, seed):
    """AIS estimate of log Z and the train / test log-probabilities under it."""
    t = time.perf_counter()
    est = ais.log_partition(rbm, X_train, betas=args.betas, n_chains=args.n_chains, random_state=seed)
    t_ais = time.perf_counter() - t
    test = ais.log_likelihood(rbm, X_test, log_z=est)
    train_ll = ais.log_likelihood(rbm, X_train, log_z=est)
    return {
        "log_z": est.log_z,
        "log_z_low": est.log_z_low,
        "log_z_high": est.log_z_high,
        "log_z_std_error": est.std_error,
        "log_z_base": est.log_z_base,
        "effective_sample_size": est.effective_sample_size,
        "test": test.mean,
        "test_low": test.low,
        "test_high": test.high,
        "train": train_ll.mean,
        "ais_s": t_ais,
    }


def _settings(args):
    return {key: getattr(args, key) for key in (
        "models", "n_components", "epochs", "learning_rate", "weight_decay", "batch_size", "n_chains",
        "betas", "exact_hidden", "binarize", "binarize_seed", "seed", "quick", "n_train", "n_test",
        "k_ramp", "validate", "curve", "lr_final", "train_data")}


def _load_partial(path, args):
    """Results of models finished by an interrupted run with the same settings."""
    if not path.exists():
        return {}
    saved = json.loads(path.read_text())
    if saved.get("settings") != json.loads(json.dumps(_settings(args))):
        return {}
    print(f"resuming: {', '.join(saved['results'])} already done ({path})", flush=True)
    return saved["results"]


def _save_partial(path, args, results):
    data = (json.dumps({"settings": _settings(args), "results": results}, indent=2) + "\n").encode()
    write_atomic(path, lambda f: f.write(data))


def run(args, X_train, X_test, partial=None, X_grey=None):
    """Train and evaluate every model; each finished one is saved to ``partial``
    at once, and a rerun with the same settings skips it."""
    done = _load_partial(partial, args) if partial is not None else {}

    def finished(name, res):
        results[name] = res
        if partial is not None:
            _save_partial(partial, args, results)

    results = {"base_rate": {"test": base_rate_log_prob(X_test, X_train),
                             "train": base_rate_log_prob(X_train, X_train)}}
    print(f"base-rate model (independent pixels): test {results['base_rate']['test']:.2f}, "
          f"train {results['base_rate']['train']:.2f} nats (exact)\n", flush=True)

    if args.exact_hidden and f"cd1_h{args.exact_hidden}" in done:
        results[f"cd1_h{args.exact_hidden}"] = done[f"cd1_h{args.exact_hidden}"]
    elif args.exact_hidden:
        rbm, t_fit = train(1, False, X_train, args, args.exact_hidden, X_grey=X_grey)
        t = time.perf_counter()
        exact = ais.log_partition_exact(rbm)
        t_exact = time.perf_counter() - t
        res = evaluate(rbm, X_train, X_test, args, args.seed)
        res.update(exact_log_z=exact, exact_s=t_exact, fit_s=t_fit, k=1, persistent=False,
                   n_components=args.exact_hidden, label=f"CD1({args.exact_hidden})",
                   exact_test=ais.log_likelihood(rbm, X_test, log_z=exact).mean)
        finished(f"cd1_h{args.exact_hidden}", res)
        print(f"CD1({args.exact_hidden}) check: AIS log Z {res['log_z']:.3f} "
              f"[{res['log_z_low']:.3f}, {res['log_z_high']:.3f}], exact {exact:.3f} "
              f"(error {res['log_z'] - exact:+.3f}); test {res['test']:.2f} vs exact "
              f"{res['exact_test']:.2f} nats; fit {t_fit:.0f} s, AIS {res['ais_s']:.0f} s, "
              f"enumeration {t_exact:.0f} s\n", flush=True)

    for i, name in enumerate(args.models):
        k, persistent, label = MODELS[name]
        if name in done:
            results[name] = done[name]
            continue
        print(f"training {name}: k={k}, persistent={persistent}, {args.epochs} epoch(s) ...", flush=True)
        curve = []

        def after(epoch, rbm, i=i, curve=curve):
            if epoch not in args.curve or epoch == args.epochs:
                return
            # The same AIS seed at every point: the curve's steps are the model's.
            point = evaluate(rbm, X_train, X_test, args, args.seed + 1 + i)
            curve.append({"epoch": epoch, "k": rbm.k, **point})
            print(f"  epoch {epoch} (k={rbm.k}): log Z {point['log_z']:.2f}, ESS "
                  f"{point['effective_sample_size']:.1f}; test {point['test']:.2f}, "
                  f"train {point['train']:.2f} nats (AIS {point['ais_s']:.0f} s)", flush=True)

        rbm, t_fit = train(k, persistent, X_train, args, args.n_components,
                           after if args.curve else None, X_grey)
        res = evaluate(rbm, X_train, X_test, args, args.seed + 1 + i)
        if args.curve:
            res["curve"] = [*curve, {"epoch": args.epochs, "k": rbm.k, **res}]
        own = f"{'PCD' if persistent else 'CD'}{k}({args.n_components})"
        paper = PAPER.get(label) if args.n_components == 500 else None
        res.update(fit_s=t_fit, k=k, persistent=persistent, n_components=args.n_components,
                   label=own, paper_label=label if paper else None, paper=paper)
        finished(name, res)
        print(f"  fit {t_fit:.0f} s, AIS {res['ais_s']:.0f} s: log Z {res['log_z']:.2f} "
              f"[{res['log_z_low']:.2f}, {res['log_z_high']:.2f}], ESS {res['effective_sample_size']:.1f}; "
              f"test {res['test']:.2f}, train {res['train']:.2f} nats\n", flush=True)
    return results


def print_table(results):
    header = (f"{'model':>10} {'test':>9} {'[low, high]':>20} {'train':>9} {'ln Z':>9} "
              f"{'paper test':>11} {'diff':>7} {'paper ln Z':>11}")
    print(header)
    print("-" * len(header))
    base = results["base_rate"]
    print(f"{'base-rate':>10} {base['test']:>9.2f} {'(exact)':>20} {base['train']:>9.2f}")
    for name, res in results.items():
        if name == "base_rate":
            continue
        paper = res.get("paper")
        interval = f"[{res['test_low']:.2f}, {res['test_high']:.2f}]"
        line = (f"{res['label']:>10} {res['test']:>9.2f} {interval:>20} {res['train']:>9.2f} "
                f"{res['log_z']:>9.2f}")
        if paper:
            line += f" {paper['test']:>11.2f} {res['test'] - paper['test']:>+7.2f} {paper['log_z']:>11.2f}"
        elif "exact_log_z" in res:
            line += f"   exact ln Z {res['exact_log_z']:.2f}, exact test {res['exact_test']:.2f}"
        print(line)
    print(f"\nreference: mixture of 500 Bernoullis, test {MOB_500_TEST:.2f} "
          "(Salakhutdinov & Hinton 2009)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-home", default=default_data_home())
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--n-components", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--learning-rate", type=float, default=0.02)
    parser.add_argument("--lr-final", type=float, default=0.001,
                        help="decay the learning rate geometrically, epoch by epoch, from "
                             "--learning-rate to this in the last epoch (0 or equal to "
                             "--learning-rate: constant)")
    parser.add_argument("--weight-decay", type=float, default=2e-4)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--n-chains", type=int, default=100, help="AIS runs per model")
    parser.add_argument("--betas", type=int, default=None,
                        help="number of evenly spaced inverse temperatures (default: the paper's 14,501)")
    parser.add_argument("--exact-hidden", type=int, default=20,
                        help="hidden units of the CD-1 model checked against exact enumeration "
                             "(0: skip; 20 costs about a minute of enumeration)")
    parser.add_argument("--binarize", choices=["stochastic", "threshold"], default="stochastic")
    parser.add_argument("--binarize-seed", type=int, default=0)
    parser.add_argument("--train-data", choices=["fixed", "resample", "intensities"],
                        default="intensities",
                        help="what the RBMs train on: the fixed binarised images, a fresh "
                             "stochastic binarisation every epoch, or the grey levels as "
                             "probabilities (default); the log-probabilities are always those of the fixed "
                             "binarised images")
    parser.add_argument("--k-ramp", action=argparse.BooleanOptionalAction, default=True,
                        help="CD-k models (k > 1) raise k linearly from 1 to k over the epochs, "
                             "as the paper's CD-T models raised T gradually")
    parser.add_argument("--curve", type=int, nargs="+", default=None, metavar="EPOCH",
                        help="also estimate the log-probabilities after these epochs (AIS each "
                             "time, ~40 s for 500 hidden units): the learning curve, to choose "
                             "--epochs with --validate")
    parser.add_argument("--validate", action="store_true",
                        help="hold out the last 10,000 training images and report their "
                             "log-probability instead of the test set's (to choose the training "
                             "settings; never choose them on the test set)")
    parser.add_argument("--n-train", type=int, default=None, help="use the first N training images")
    parser.add_argument("--n-test", type=int, default=None, help="use the first N test images")
    parser.add_argument("--seed", type=int, default=0, help="random_state of the RBMs and of AIS")
    parser.add_argument("--verbose", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None,
                        help="limit BLAS to this many threads (default: leave as is)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 3,000 training and 1,000 test images, 1 epoch, 50 hidden "
                             "units, 500 betas, 20 chains, a 10-hidden-unit exact check")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.n_train = args.n_train or 3000
        args.n_test = args.n_test or 1000
        args.epochs, args.n_components, args.betas, args.n_chains = 1, 50, 500, 20
        args.exact_hidden = min(args.exact_hidden, 10)
    stem = "ais_loglik" + ("_validate" if args.validate else "") + ("_quick" if args.quick else "")
    out = Path(args.out) if args.out else REPO_ROOT / "benchmarks" / "results" / f"{stem}.json"

    out.parent.mkdir(parents=True, exist_ok=True)  # the first finished model is saved at once
    partial = out.with_name(out.stem + ".partial.json")
    mnist = load_mnist(args.data_home, download=False)
    X_all = binarize(mnist.data, args.binarize, args.binarize_seed)
    if args.validate:
        # The same binarised images as a test run trains on; the last 10,000
        # are held out and play the test set's part.
        X_train, X_test = X_all[:-10000][: args.n_train], X_all[-10000:][: args.n_test]
        X_grey = mnist.data[:-10000][: args.n_train]
    else:
        X_train = X_all[: args.n_train]
        X_grey = mnist.data[: args.n_train]
        X_test = binarize(mnist.data_test[: args.n_test], args.binarize, args.binarize_seed + 1)
    split = "validation (last 10,000 training images)" if args.validate else "test"
    print(f"MNIST binarised ({args.binarize}): train {X_train.shape}, {split} {X_test.shape}, "
          f"mean pixel {X_train.mean():.3f}")
    info = describe_machine()

    t0 = time.perf_counter()
    if args.threads is not None:
        with threadpoolctl.threadpool_limits(limits=args.threads):
            results = run(args, X_train, X_test, partial, X_grey)
    else:
        results = run(args, X_train, X_test, partial, X_grey)
    total = time.perf_counter() - t0
    info["loadavg_after"] = loadavg()
    info["threadpools_after"] = machine_info()["threadpools"]
    print_table(results)
    if args.validate:
        print("(--validate: the 'test' columns hold the held-out training images' figures)")
    print(f"\ntotal {total / 60:.1f} min")

    settings = {**_settings(args), "threads": args.threads}
    settings.update(momentum="hinton", n_train=int(X_train.shape[0]), n_test=int(X_test.shape[0]),
                    n_betas=int(len(ais._check_betas(args.betas))))
    record = {
        "question": "average test log-probability (nats) of CD-1/CD-3/CD-25/PCD RBMs with "
                    f"{args.n_components} hidden units on binarised MNIST, by AIS, beside "
                    "Salakhutdinov & Murray (2008), Table 2",
        "split": "validation: last 10,000 training images" if args.validate else "test",
        "command": [Path(sys.executable).name] + sys.argv,
        "settings": settings,
        "paper": {"source": "Salakhutdinov & Murray (2008), Table 2 (quoted from memory)", "models": PAPER,
                  "mob_500_test": MOB_500_TEST},
        "machine": info,
        "results": results,
        "total_s": total,
    }
    out.write_text(json.dumps(record, indent=2) + "\n")
    partial.unlink(missing_ok=True)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
