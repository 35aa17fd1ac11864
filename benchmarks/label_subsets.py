"""How much of the few-label error is the draw of the labelled images?

A study run draws its class-stratified labelled subset with the run's seed,
and the seed also picks the pretrained stack: a study cannot tell a better
stack from a luckier subset.  This script holds the stack fixed (the seed-0
validation stack of each pretraining length) and the fine-tuning's
``random_state`` fixed (0), and draws the subset with other seeds.  Each
row is one fine-tuning exactly as the study runs it (``dbn.study``'s run
function, the preset's settings at that label count), on the first 50,000
training images, its error measured on the last 10,000 (never the test
set).  Comparing pretraining lengths over the same subsets pairs them.

The stacks are read from ``--stacks-dir``, where ``python -m dbn study
--preset mnist-labels --validate --seeds 1 --set pretraining.n_iter=N
--pretrained-dir DIR`` leaves them (it pretrains them if missing; this
script does not).  Rows are appended to ``--out`` (JSON lines) as they
finish; a rerun skips the rows already there.

Run from the repository root::

    python benchmarks/label_subsets.py --stacks-dir DIR --subsets 0 1 2 3 \\
        --pretrain-epochs 50 100 200 --data-home ../shared/data/mnist \\
        --out benchmarks/results/label_subsets.jsonl
"""

import argparse
import json
import sys
from pathlib import Path

from _common import REPO_ROOT, default_data_home

sys.path.insert(0, str(REPO_ROOT))


def _done(path):
    """Keys of the rows already in ``path``."""
    try:
        lines = Path(path).read_text().splitlines()
    except FileNotFoundError:
        return set()
    rows = (json.loads(line) for line in lines if line.strip())
    return {(r["init"], r["labels"], r["pretrain_epochs"], r["subset"]) for r in rows}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stacks-dir", required=True,
                        help="folder holding the seed-0 validation stacks (--pretrained-dir)")
    parser.add_argument("--subsets", type=int, nargs="+", default=[0, 1, 2, 3],
                        help="seeds of the labelled subsets (0: the study's own)")
    parser.add_argument("--pretrain-epochs", type=int, nargs="+", default=[50],
                        help="pretraining epochs per layer of the stacks to compare")
    parser.add_argument("--inits", nargs="+", default=["dbn"])
    parser.add_argument("--labels", type=int, default=100)
    parser.add_argument("--data-home", default=default_data_home())
    parser.add_argument("--out", required=True, help="JSON-lines file the rows go to")
    args = parser.parse_args(argv)

    from dbn import study

    env = {"data_home": str(args.data_home), "download": False, "threads": 1,
           "checkpoint_dir": None, "checkpoint_every": None}
    done = _done(args.out)
    for n_iter in args.pretrain_epochs:
        runs = study.plan_study("mnist-labels", validate=True, seeds=1, inits=args.inits,
                                overrides={"labels": [args.labels],
                                           "pretraining.n_iter": n_iter})
        stack_configs, run_stack = study._stack_plan(runs)
        stacks = {}
        for run in runs:
            name = run_stack[run.key]
            if name not in stacks:
                # The study's own loader: None unless saved for these settings.
                stacks[name] = study._load_stack(Path(args.stacks_dir) / name,
                                                 stack_configs[name])
            if stacks[name] is None:
                raise SystemExit(f"{Path(args.stacks_dir) / name}: no such stack; pretrain it "
                                 f"with the study (--set pretraining.n_iter={n_iter} "
                                 f"--pretrained-dir).")
            for subset in args.subsets:
                if (run.init, args.labels, n_iter, subset) in done:
                    continue
                # Only the subset's seed changes: the classifier keeps
                # random_state 0, so rows differ by their subset alone.
                config = json.loads(json.dumps(run.config))
                config["seed"] = subset
                rec = study._run_task(run.key, config, env, stacks[name])
                curve = rec["eval_error_curve"]
                row = {"init": run.init, "labels": args.labels, "pretrain_epochs": n_iter,
                       "subset": subset, "stack": name,
                       "validation_error": rec["validation_error"],
                       "last10": sum(curve[-10:]) / len(curve[-10:]),
                       "finetune_time": rec["finetune_time"]}
                print(json.dumps(row), flush=True)
                with open(args.out, "a") as f:
                    f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
