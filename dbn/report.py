"""The report of a study: tables, figures, and the published numbers beside ours.

:func:`write_report` reads the records that :func:`dbn.study.run_study`
wrote in a folder and writes, in the same folder,

- ``errors.csv``: one row per run;
- ``summary.csv``: one row per configuration (preset, split, init, depth,
  label count): mean, standard deviation, n, and the error of every seed;
- PNG figures (with matplotlib, the optional extra ``deepbelief[plot]``):
  error per configuration with every seed, box plots by depth and init, the
  label-count curve, the gradient norm of each layer over the first epochs of
  fine-tuning, and the learning curves;
- ``report.md``, which shows them with the settings of each preset and a
  table of our errors beside the published ones (:data:`PUBLISHED`).

Errors are in percent in the tables and figures (fractions in the records).
The figures are drawn by the ``plot_study_*`` functions of
:mod:`dbn.plotting`, which users can call on records themselves; this module
imports matplotlib only when it draws them.
"""

import csv
import datetime
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from .study import PRESETS, load_records

__all__ = [
    "PUBLISHED",
    "errors_table",
    "published_comparison",
    "summary_table",
    "write_report",
]

_HS2006 = ("G. E. Hinton and R. R. Salakhutdinov (2006). Reducing the dimensionality of data "
           "with neural networks. Science 313(5786), 504-507 (and its supporting online "
           "material).")
_HOT2006 = ("G. E. Hinton, S. Osindero and Y.-W. Teh (2006). A fast learning algorithm for deep "
            "belief nets. Neural Computation 18(7), 1527-1554.")
_THEANO = ("LISA lab, University of Montreal. Deep Learning Tutorials (Theano), "
           "http://deeplearning.net/tutorial/: 'Deep Belief Networks' (DBN.py) and "
           "'Multilayer Perceptron' (mlp.py).")
_YELL = ("yell (GitHub). boltzmann-machines, https://github.com/yell/boltzmann-machines, "
         "README, example #1 (RBM MNIST), the table of labelled data pairs; "
         "docs/rbm_discriminative.md.")
_SRIVASTAVA = ("N. Srivastava, G. Hinton, A. Krizhevsky, I. Sutskever and R. Salakhutdinov "
               "(2014). Dropout: a simple way to prevent neural networks from overfitting. "
               "JMLR 15, 1929-1958, Table 2.")
_ERHAN = ("D. Erhan, Y. Bengio, A. Courville, P.-A. Manzagol, P. Vincent and S. Bengio (2010). "
          "Why does unsupervised pre-training help deep learning? JMLR 11, 625-660, "
          "section 6.1.")


#: Published MNIST results, test error in percent.  ``match`` names the
#: runs of ours to set beside each (preset, inits and, where it matters, the
#: label count); None where we have no comparable run.  A list of presets
#: means the first of them with matching runs: mnist-modern's ``dbn`` runs
#: are the mnist preset's (the same configuration, taken with ``--reuse``),
#: so a report of both folders must not count them twice.
PUBLISHED = [
    {"source": "Hinton & Salakhutdinov 2006", "reference": _HS2006,
     "model": "784-500-500-2000-10 DBN, pretrained then fine-tuned by backpropagation",
     "labels": 60000, "test_error": 1.2,
     "match": {"preset": ["mnist", "mnist-modern"], "init": ["dbn"]}},
    {"source": "Hinton & Salakhutdinov 2006", "reference": _HS2006,
     "model": "best randomly initialised network trained by backpropagation",
     "labels": 60000, "test_error": 1.6,
     "match": {"preset": "mnist", "init": ["normal", "glorot"]}},
    {"source": "Hinton, Osindero & Teh 2006", "reference": _HOT2006,
     "model": "784-500-500-2000 DBN with labels at the top, up-down (generative) fine-tuning",
     "labels": 60000, "test_error": 1.25, "match": None,
     "note": "not a study run: 1.27% (median of 3 seeds: 1.27, 1.33, 1.22) measured by "
             "benchmarks/up_down.py, DBN(joint_labels=True, "
             "k=[1, 1, 10], up_down_n_iter=15, up_down_learning_rate=0.03) (README)"},
    {"source": "Theano tutorial (deeplearning.net)", "reference": _THEANO,
     "model": "DBN 784-1000-1000-1000-10, pretrained then fine-tuned",
     "labels": 50000, "test_error": 1.34,
     "match": {"preset": ["mnist", "mnist-modern"], "init": ["dbn"]}},
    {"source": "Theano tutorial (deeplearning.net)", "reference": _THEANO,
     "model": "MLP 784-500-10, tanh, random init",
     "labels": 50000, "test_error": 1.65,
     "match": {"preset": "mnist", "init": ["glorot"]}},
    *[
        # Their accuracies; their label counts are train + validation pairs
        # (60k = 55k + 5k, ..., 100 = 90 + 10).
        {"source": "yell/boltzmann-machines", "reference": _YELL,
         "model": what, "labels": labels, "test_error": round(100.0 - accuracy, 2),
         "match": {"preset": "mnist-labels", "init": inits, "labels": labels}}
        for labels, dbn_acc, random_acc in [(60000, 98.73, 98.20), (10000, 97.27, 94.73),
                                            (1000, 93.65, 88.71), (100, 81.70, 76.02)]
        for what, accuracy, inits in [
            ("784-1024-10, one RBM pretrained, fine-tuned (labels: train + val)", dbn_acc,
             ["dbn", "dbn-dropout"]),
            ("the same MLP from random init (labels: train + val)", random_acc, ["glorot"])]
    ],
    {"source": "Srivastava et al. 2014", "reference": _SRIVASTAVA,
     "model": "784-500-500-2000 DBN, dropout fine-tuning", "labels": 60000, "test_error": 0.92,
     "match": {"preset": "mnist-modern", "init": ["dbn-dropout", "dbn-dropout-long"]}},
    {"source": "Srivastava et al. 2014", "reference": _SRIVASTAVA,
     "model": "ReLU net, random init, dropout + max-norm (3 layers of 1024-2048 units: "
              "1.06-1.04)", "labels": 60000, "test_error": 1.05,
     "match": {"preset": "mnist-modern", "init": ["he-relu-dropout", "glorot-relu-dropout"]}},
    {"source": "Erhan et al. 2010", "reference": _ERHAN,
     "model": "1 to 5 hidden layers, with and without pretraining",
     "labels": None, "test_error": None,
     "finding": "without pretraining, the test error and its spread across seeds grow with "
                "depth; with pretraining they stay low",
     "match": {"preset": "mnist-depth"}},
]


# --------------------------------------------------------------------------- #
# Tables
# --------------------------------------------------------------------------- #
def _error(record):
    """Error of a run (fraction) on its split, None if it did not finish well."""
    if record.get("status") != "ok":
        return None
    split = record["config"]["split"]
    return record["validation_error"] if split == "validation" else record["test_error"]


def _config_key(record):
    c = record["config"]
    return (c["preset"], c["split"], c["init"], c["depth"], c["labels"])


def _pct(x, digits=3):
    return None if x is None else round(100.0 * x, digits)


def errors_table(records):
    """One row per run (errors in percent).

    Parameters
    ----------
    records : list of dict
        Records of :func:`dbn.study.run_study`.

    Returns
    -------
    rows : list of dict
    """
    rows = []
    for rec in sorted(records, key=lambda r: (_config_key(r), r["config"]["seed"])):
        c = rec["config"]
        rows.append({
            "key": rec["key"], "preset": c["preset"], "split": c["split"], "init": c["init"],
            "depth": c["depth"], "labels": c["labels"], "seed": c["seed"],
            "status": rec["status"], "error_pct": _pct(_error(rec)),
            "train_error_pct": _pct(rec.get("train_error")), "n_iter": rec["n_iter"],
            "pretraining_time_s": round(rec["pretraining_time"], 2),
            "finetune_time_s": round(rec["finetune_time"], 2),
            "wall_time_s": round(rec["wall_time"], 2),
        })
    return rows


def _groups(records):
    """{configuration key: [records sorted by seed]}, in sorted order."""
    groups = defaultdict(list)
    for rec in records:
        groups[_config_key(rec)].append(rec)
    return {k: sorted(v, key=lambda r: r["config"]["seed"]) for k, v in sorted(groups.items())}


def summary_table(records):
    """One row per configuration: mean, sd, n and every seed's error (percent).

    Parameters
    ----------
    records : list of dict

    Returns
    -------
    rows : list of dict
        ``seed_<s>`` holds the error of seed s (None where it was not run
        or did not finish); ``sd_error_pct`` is the sample standard
        deviation (None for a single seed).
    """
    seeds = sorted({r["config"]["seed"] for r in records})
    rows = []
    for (preset, split, init, depth, labels), recs in _groups(records).items():
        errors = [_error(r) for r in recs]
        ok = np.array([e for e in errors if e is not None], dtype=float) * 100.0
        row = {
            "preset": preset, "split": split, "init": init, "depth": depth, "labels": labels,
            "n": len(ok), "n_failed": len(errors) - len(ok),
            "mean_error_pct": round(float(ok.mean()), 3) if len(ok) else None,
            "sd_error_pct": round(float(ok.std(ddof=1)), 3) if len(ok) > 1 else None,
            "min_error_pct": round(float(ok.min()), 3) if len(ok) else None,
            "max_error_pct": round(float(ok.max()), 3) if len(ok) else None,
            "mean_finetune_time_s": round(float(np.mean([r["finetune_time"] for r in recs])), 2),
        }
        by_seed = {r["config"]["seed"]: _pct(e) for r, e in zip(recs, errors, strict=True)}
        row.update({f"seed_{s}": by_seed.get(s) for s in seeds})
        rows.append(row)
    return rows


def _study_groups(records):
    """{(preset, split): records}: the report has one section per preset and split."""
    groups = defaultdict(list)
    for rec in records:
        groups[(rec["config"]["preset"], rec["config"]["split"])].append(rec)
    return dict(sorted(groups.items()))


def write_csv(rows, path):
    """Write rows (dicts with the same keys) as CSV; None becomes an empty cell."""
    fields = list(rows[0]) if rows else []
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})


def _mean_sd(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    mean = float(np.mean(values))
    sd = float(np.std(values, ddof=1)) if len(values) > 1 else None
    return mean, sd, len(values)


def _fmt_mean_sd(stats):
    if stats is None:
        return "not run"
    mean, sd, n = stats
    return f"{mean:.2f} ± {sd:.2f} (n={n})" if sd is not None else f"{mean:.2f} (n={n})"


def published_comparison(records):
    """:data:`PUBLISHED` with our matching test errors beside (percent).

    Parameters
    ----------
    records : list of dict

    Returns
    -------
    rows : list of dict
        source, model, labels, published (test error %), ours (text).
    """
    test = [r for r in records if r["config"]["split"] == "test"]
    rows = []
    for pub in PUBLISHED:
        match = pub["match"]
        if match is None:
            ours = pub.get("note", "no comparable run")
        elif pub["test_error"] is None:
            ours = _depth_finding([r for r in test if r["config"]["preset"] == match["preset"]])
        else:
            presets = match["preset"]
            presets = [presets] if isinstance(presets, str) else presets
            parts = []
            for preset in presets:
                for init in match["init"]:
                    sel = [r for r in test if r["config"]["preset"] == preset
                           and r["config"]["init"] == init
                           and ("labels" not in match
                                or r["config"]["labels"] == match["labels"])]
                    if sel:
                        stats = _mean_sd([_pct(_error(r)) for r in sel])
                        parts.append(f"{init}: {_fmt_mean_sd(stats)}")
                if parts:
                    break
            ours = ("; ".join(parts) if parts
                    else f"not run (preset {' or '.join(presets)})")
        rows.append({
            "source": pub["source"], "model": pub["model"],
            "labels": "" if pub["labels"] is None else pub["labels"],
            "published": pub.get("finding") if pub["test_error"] is None
            else f"{pub['test_error']:.2f}",
            "ours": ours,
        })
    return rows


def _depth_finding(records):
    """Our errors at the smallest and largest depth, per init, as text."""
    if not records:
        return "not run (preset mnist-depth)"
    top = max(r["config"]["labels"] for r in records)
    records = [r for r in records if r["config"]["labels"] == top]
    parts = []
    for init in sorted({r["config"]["init"] for r in records}):
        sel = [r for r in records if r["config"]["init"] == init]
        depths = sorted({r["config"]["depth"] for r in sel})
        cells = []
        for d in (depths[0], depths[-1]) if len(depths) > 1 else depths:
            stats = _mean_sd([_pct(_error(r)) for r in sel if r["config"]["depth"] == d])
            cells.append(f"depth {d}: {_fmt_mean_sd(stats)}")
        parts.append(f"{init}: " + ", ".join(cells))
    return "; ".join(parts)


# --------------------------------------------------------------------------- #
# Figures (drawn by dbn.plotting, imported only when figures are asked for)
# --------------------------------------------------------------------------- #
#: The study figures that moved to :mod:`dbn.plotting`: old name -> new name.
_MOVED = {
    "plot_errors": "plot_study_errors",
    "plot_depth": "plot_study_depth",
    "plot_label_curve": "plot_study_label_curve",
    "plot_gradient_norms": "plot_study_gradient_norms",
    "plot_learning_curves": "plot_study_learning_curves",
}


def __getattr__(name):
    # The figures used to live here; the old names still work (with matplotlib).
    if name in _MOVED:
        from . import plotting

        return getattr(plotting, _MOVED[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _figures(records):
    """[(file stem, caption, function)] for one preset and split."""
    from . import plotting

    out = [("errors", "Error of every configuration: each seed (dots), mean ± sd.",
            plotting.plot_study_errors)]
    if len({r["config"]["depth"] for r in records}) > 1:
        out.append(("depth", "Error by depth and init (box plots; dots: seeds).",
                    plotting.plot_study_depth))
    if len({r["config"]["labels"] for r in records}) > 1:
        out.append(("labels", "Error by number of labelled images (mean ± sd).",
                    plotting.plot_study_label_curve))
    if any(r["gradient_norms"] for r in records):
        out.append(("gradients", "Gradient norm per layer over the first epochs of "
                    "fine-tuning (mean over seeds; band: min to max).",
                    plotting.plot_study_gradient_norms))
    if any(r["loss_curve"] for r in records):
        out.append(("learning", "Learning curves of fine-tuning (every seed).",
                    plotting.plot_study_learning_curves))
    return out


# --------------------------------------------------------------------------- #
# The report
# --------------------------------------------------------------------------- #
def _md_table(rows, columns):
    lines = ["| " + " | ".join(title for _, title in columns) + " |",
             "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        cells = []
        for key, _ in columns:
            v = row[key] if not callable(key) else key(row)
            cells.append("" if v is None else str(v).replace("|", "\\|").replace("\n", " "))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _fmt(x):
    return "" if x is None else f"{x:.2f}"


def _seed_cells(row):
    return ", ".join(f"{k[5:]}: {v:.2f}" for k, v in row.items()
                     if k.startswith("seed_") and v is not None)


def _settings_lines(records):
    """The settings of a preset's runs: what all inits share, then each init's own."""
    per_run = ("hidden_layer_sizes", "random_state")
    by_init = {}
    for r in records:
        by_init.setdefault(r["config"]["init"], r["config"])
    clf = {name: {k: v for k, v in c["classifier"].items() if k not in per_run}
           for name, c in by_init.items()}
    common = {k: v for k, v in next(iter(clf.values())).items()
              if all(k in c and c[k] == v for c in clf.values())}
    sizes = sorted({tuple(c["classifier"]["hidden_layer_sizes"]) for c in by_init.values()},
                   key=len)
    lines = ["Hidden layers: " + ", ".join("-".join(map(str, s)) for s in sizes) + ".", "",
             f"Fine-tuning (DBNClassifier), all inits: `{json.dumps(common)}`.", ""]
    for name, c in clf.items():
        own = {k: v for k, v in c.items() if k not in common}
        lines.append(f"- `{name}`: `{json.dumps(own)}`")
    lines.append("")
    pre = next((c["pretraining"] for c in by_init.values() if c["pretraining"]), None)
    if pre is not None:
        pre = {k: v for k, v in pre.items() if k not in per_run}
        lines += [f"Pretraining (DBN, one per seed, shared): `{json.dumps(pre)}`.", ""]
    return lines


def _preset_section(preset, records):
    validation = records[0]["config"]["split"] == "validation"
    lines = [f"## Preset `{preset}`" + (" (validation runs)" if validation else ""), ""]
    settings = PRESETS.get(preset)
    if settings is not None:
        lines += [settings["description"] + ".", ""]
        if settings.get("notes"):
            lines += [f"**Note.** {settings['notes']}", ""]
    data = records[0]["config"]["data"]
    lines += [f"Data: {data['dataset']}, {data['n_train']} training images"
              + (" (a subset)" if settings and settings["data"].get("n_train") else "")
              + f", error measured on {data['n_eval']} "
              + ("held-out training images (validation)" if data["validate"] else "test images")
              + ".", ""]
    lines += _settings_lines(records)
    if settings is not None and settings.get("label_overrides"):
        lines += [f"Per label count: `{json.dumps(settings['label_overrides'])}`.", ""]
    return lines


def write_report(results_dir, *, figures=True):
    """Write ``report.md``, ``errors.csv``, ``summary.csv`` and the figures.

    Parameters
    ----------
    results_dir : str or path-like
        Folder of a study's records; everything is written there.
    figures : bool, default=True
        Draw the PNG figures (needs matplotlib; without it the report says
        so and has tables only).

    Returns
    -------
    path : pathlib.Path
        Path of ``report.md``.
    """
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise FileNotFoundError(f"{results_dir}: no such folder.")
    records = load_records(results_dir)
    if not records:
        raise FileNotFoundError(
            f"{results_dir}: no study records in it or its subfolders (the JSON files "
            "that python -m dbn study writes, one per finished run).")
    write_csv(errors_table(records), results_dir / "errors.csv")
    summary = summary_table(records)
    write_csv(summary, results_dir / "summary.csv")

    lines = ["# Study report", "",
             f"{len(records)} runs in `{results_dir}`, report written "
             f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC. "
             "Errors in percent; tables: `errors.csv` (one row per run), `summary.csv` "
             "(one row per configuration, with every seed).", ""]
    if not records:
        lines += ["No records yet."]
    plot_note = None
    if figures and records:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            plot_note = ("matplotlib is not installed: figures skipped, tables only "
                         "(pip install 'deepbelief[plot]').")
            figures = False
    elif not figures:
        plot_note = "Figures not requested."
    if plot_note:
        lines += [f"**{plot_note}**", ""]

    for (preset, split), recs in _study_groups(records).items():
        lines += _preset_section(preset, recs)
        rows = [r for r in summary if r["preset"] == preset and r["split"] == split]
        err = "validation" if split == "validation" else "test"
        lines += [f"{err.capitalize()} error (%) per configuration:", "",
                  _md_table(rows, [("init", "init"), ("depth", "depth"), ("labels", "labels"),
                                   ("n", "n"), (lambda r: _fmt(r["mean_error_pct"]), "mean"),
                                   (lambda r: _fmt(r["sd_error_pct"]), "sd"),
                                   (_seed_cells, "every seed"),
                                   ("mean_finetune_time_s", "fine-tuning s")]), ""]
        failed = [r["key"] for r in recs if r["status"] != "ok"]
        if failed:
            lines += [f"Runs that did not finish ({len(failed)}): "
                      + ", ".join(f"`{k}` ({r['status']})" for k, r in
                                  ((r["key"], r) for r in recs if r["status"] != "ok")), ""]
        if figures:
            stem = preset + ("-validation" if split == "validation" else "")
            for name, caption, plot in _figures(recs):
                fig = plot(recs)
                fname = f"{name}_{stem}.png"
                fig.savefig(results_dir / fname, dpi=110)
                lines += [f"![{caption}]({fname})", "", f"*{caption}*", ""]

    lines += ["## Beside the published numbers", "",
              "MNIST test error (%). Ours: mean ± sd over seeds (test split only).", "",
              _md_table(published_comparison(records),
                        [("source", "source"), ("model", "model"), ("labels", "labels"),
                         ("published", "published"), ("ours", "ours")]), "",
              "References:", ""]
    for ref in dict.fromkeys(p["reference"] for p in PUBLISHED):
        lines.append(f"- {ref}")
    lines.append("")

    if records:
        versions = {json.dumps(r.get("versions"), sort_keys=True) for r in records}
        machines = {json.dumps(r.get("machine"), sort_keys=True) for r in records}
        total = sum(r["finetune_time"] for r in records)
        lines += ["## Machine and versions", "",
                  f"Fine-tuning time, all runs: {total / 60:.1f} min.", ""]
        lines += [f"- versions: `{v}`" for v in sorted(versions)]
        lines += [f"- machine: `{m}`" for m in sorted(machines)]
        speeds = sorted(r["gemm_gflops"] for r in records if r.get("gemm_gflops"))
        if speeds:
            # Hosts of one machine type differ by up to 2x at the products:
            # the times above are read beside this.
            lines.append(f"- float32 GEMM speed after each run, at its BLAS threads "
                         f"(`gemm_gflops`, {len(speeds)} runs): {speeds[0]:.0f} to "
                         f"{speeds[-1]:.0f} GFLOP/s, median {float(np.median(speeds)):.0f}")
        lines.append("")
    path = results_dir / "report.md"
    path.write_text("\n".join(lines))
    return path
