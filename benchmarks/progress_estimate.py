"""How far off is a study's estimate of the time left?

Replays each committed MNIST study (``benchmarks/results/study-*``) on
``--workers`` workers, every task lasting as long as its record says (a
run: its ``wall_time`` less its stack's ``pretraining_time``; a stack: the
largest ``pretraining_time`` of the runs on it), in the order and the
phases :func:`dbn.study.run_study` hands them out.  At every progress line
it compares with the true time left:

- ``old``: the time so far divided by the tasks done, times the tasks left
  (the estimate before 2026-12-07);
- ``new``: :class:`dbn.study._Progress`, the tasks left played through the
  same schedule, each timed by the finished tasks of its settings or kind.
  Lines where it is a lower bound (a kind not timed yet) count too.

The records' times come from runs made at different times on a shared
host (the same run's time varies up to 15x across seeds in
``study-mnist-depth``), so the replay also measures how an estimate copes
with noisy task times.

Usage::

    python benchmarks/progress_estimate.py [--workers 2] [--lines]

writes ``benchmarks/results/progress_estimate.json`` (every line's figures).
"""

import argparse
import glob
import json
import os

import numpy as np

from dbn import study

STUDIES = {"mnist": "study-mnist", "mnist-labels": "study-mnist-labels",
           "mnist-depth": "study-mnist-depth", "mnist-modern": "study-mnist-modern"}
RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def _records(folder):
    records = {}
    for path in glob.glob(os.path.join(RESULTS, folder, "*.json")):
        with open(path) as f:
            record = json.load(f)
        if isinstance(record, dict) and "key" in record:
            records[record["key"]] = record
    return records


def replay(preset, folder, workers):
    """[(line, true seconds left, old estimate, new estimate, lower bound)], total seconds."""
    records = _records(folder)
    runs = [r for r in study.plan_study(preset) if r.key in records]
    stacks, run_stack = study._stack_plan(runs)
    seconds = {r.key: records[r.key]["wall_time"] - (records[r.key].get("pretraining_time") or 0)
               for r in runs}
    for key, name in run_stack.items():
        seconds[name] = max(seconds.get(name, 0.0), records[key]["pretraining_time"])
    phases = study._phases(study._waves(runs, list(stacks), run_stack, set(), workers), stacks)
    clock = [0.0]
    progress = study._Progress(phases, workers, verbose=False, clock=lambda: clock[0])
    events, end = [], 0.0
    for phase in phases:  # the workers take the tasks in order, each as soon as it is free
        free, ends = [end] * workers, []
        for task, _, _ in phase:
            i = int(np.argmin(free))
            free[i] += seconds[task]
            ends.append((free[i], task))
        events.append((end, None))
        events += sorted(ends)
        end = max(free) if phase else end
    rows, total = [], sum(map(len, phases))
    for when, task in events:
        clock[0] = when
        if task is None:
            progress.start_phase()
            continue
        progress("", task, seconds[task])
        new, untimed = progress.left(when)
        done = progress.done
        rows.append((done, end - when, when / done * (total - done), new, bool(untimed)))
    return rows, end


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--lines", action="store_true", help="print every line's estimates")
    args = parser.parse_args()
    summary = {"workers": args.workers}
    print(f"{'study':<13} {'tasks':>5} {'hours':>5}  |estimate - truth| / truth, median (max)")
    for preset, folder in STUDIES.items():
        rows, end = replay(preset, folder, args.workers)
        rows_left = [r for r in rows if r[1] > 0]
        old = np.array([abs(o - t) / t for _, t, o, _, _ in rows_left])
        new = np.array([abs(n - t) / t for _, t, _, n, _ in rows_left])
        print(f"{preset:<13} {len(rows):>5} {end / 3600:>5.1f}  old {100 * np.median(old):4.0f}% "
              f"({100 * old.max():.0f}%)   new {100 * np.median(new):4.0f}% ({100 * new.max():.0f}%)"
              f"   new a lower bound on {sum(r[4] for r in rows_left)} lines")
        summary[preset] = {
            "tasks": len(rows), "hours": end / 3600,
            "old_median": float(np.median(old)), "old_max": float(old.max()),
            "new_median": float(np.median(new)), "new_max": float(new.max()),
            "lines": [dict(zip(("done", "left", "old", "new", "lower_bound"), r)) for r in rows]}
        if args.lines:
            for done, true, o, n, lower in rows:
                print(f"  [{done}/{len(rows)}] left {true / 60:7.1f} min   old {o / 60:7.1f}   "
                      f"new {'>' if lower else ' '}{n / 60:7.1f}")
    with open(os.path.join(RESULTS, "progress_estimate.json"), "w") as f:
        json.dump(summary, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
