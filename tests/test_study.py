"""Tests of dbn.study (the runner), dbn.report and the study/report subcommands."""

import contextlib
import csv
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from dbn import DBN, study
from dbn import _network as engine
from dbn.__main__ import main
from dbn._io import STALE_AFTER, write_atomic
from dbn.report import PUBLISHED, published_comparison, write_report
from dbn.study import PRESETS, comparable_record, load_records, plan_study, run_study

# A study small enough for a test: 2 depths x 2 label counts x 2 inits x 2
# seeds on 300 digits, one pretraining epoch, two fine-tuning epochs.
TINY = {
    "name": "tiny",
    "data": {"dataset": "digits", "n_train": 300},
    "width": 16,
    "depths": [1, 2],
    "labels": [60, "all"],
    "seeds": 2,
    "inits": {"dbn": {}, "normal": {}},
    "pretraining": {"n_iter": 1, "batch_size": 20},
    "finetuning": {"max_iter": 2, "batch_size": 20, "learning_rate_init": 0.1},
    "threads": 1,
}
N_RUNS = 16

RECORD_FIELDS = {
    "key", "config", "status", "test_error", "validation_error", "train_error", "loss_curve",
    "validation_scores", "gradient_norms", "n_iter", "pretraining_time", "pretraining_history",
    "finetune_time", "wall_time", "versions", "machine", "started", "finished", "gemm_gflops",
}


def _numba_cpu():
    """Numba's target in this process: CPU name and features ("host": all of this host's)."""
    import numba
    from llvmlite import binding

    features = numba.config.CPU_FEATURES
    return (numba.config.CPU_NAME or binding.get_host_cpu_name(),
            "host" if features is None else features)


def _blas_kernels():
    from threadpoolctl import threadpool_info

    return sorted({f"{i['internal_api']} {i['version']} {i['architecture']}"
                   for i in threadpool_info() if i["user_api"] == "blas"})


def test_the_record_names_the_cpu_numba_compiles_for(monkeypatch):
    # NUMBA_CPU_NAME (read into numba.config) changes the compiled kernels'
    # last bits, so the record must follow it, not the host's name.
    import numba

    monkeypatch.setattr(numba.config, "CPU_NAME", "haswell")
    monkeypatch.setattr(numba.config, "CPU_FEATURES", "+avx2")
    machine = study._machine()
    assert (machine["numba_cpu"], machine["numba_cpu_features"]) == ("haswell", "+avx2")
    monkeypatch.setattr(numba.config, "CPU_NAME", None)
    monkeypatch.setattr(numba.config, "CPU_FEATURES", None)
    machine = study._machine()
    assert (machine["numba_cpu"], machine["numba_cpu_features"]) == _numba_cpu()
    assert machine["numba_cpu_features"] == "host"


def _tmp_files(folder):
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    """The tiny study run once with n_jobs=1: (folder, records)."""
    out = tmp_path_factory.mktemp("tiny")
    records = run_study(TINY, out, report=False, verbose=False)
    return out, records


def test_plan_keys_and_grid():
    runs = plan_study(TINY)
    assert len(runs) == N_RUNS == len({r.key for r in runs})
    assert runs[0].key == "tiny__init=dbn__depth=1__labels=60__seed=0"
    assert {r.labels for r in runs} == {60, 300}
    # The same seed gives the same fine-tuning settings to both inits.
    a, b = [r for r in runs if r.depth == 2 and r.labels == 60 and r.seed == 1]
    assert {k: v for k, v in a.config["classifier"].items() if k != "init"} == \
        {k: v for k, v in b.config["classifier"].items() if k != "init"}
    assert b.config["pretraining"] is None and a.config["pretraining"]["random_state"] == 1


def test_plan_of_the_presets():
    assert len(plan_study("digits")) == 9
    labels = plan_study("mnist-labels")
    per_count = {n: len({r.seed for r in labels if r.labels == n}) for n in (100, 1000)}
    assert min(per_count.values()) >= 5
    assert {r.labels for r in labels} == {100, 1000, 10000, 60000}
    # --validate: the last 10,000 training images are held out.
    val = plan_study("mnist-labels", validate=True)
    assert {r.labels for r in val} == {100, 1000, 10000, 50000}
    assert all(r.key.endswith("__validate") and r.config["split"] == "validation" for r in val)
    depth = plan_study("mnist-depth")
    assert {r.depth for r in depth} == {1, 2, 3, 4, 5}
    assert plan_study("mnist", seeds=1, inits=["dbn"])[0].key == \
        "mnist__init=dbn__depth=3__labels=60000__seed=0"
    with pytest.raises(ValueError, match="no init"):
        plan_study("mnist", inits=["nope"])
    for preset in PRESETS.values():  # plain data, readable by the report
        json.dumps(preset)


def test_presets_share_their_common_runs():
    """mnist-labels' 60,000-label runs are the mnist and mnist-modern runs
    (--reuse takes them only if their configurations are equal)."""
    identity = study._run_identity
    labels = {(r.init, r.seed): identity(r.config) for r in plan_study("mnist-labels")
              if r.labels == 60000}
    others = plan_study("mnist") + plan_study("mnist-modern", inits=["dbn-dropout"])
    for run in others:
        assert labels[run.init, run.seed] == identity(run.config)
    assert {init for init, _ in labels} == {r.init for r in others}
    # At fewer labels the label count's batch size applies to every init.
    small = [r for r in plan_study("mnist-labels") if r.labels == 1000 and r.seed == 0]
    assert {r.config["classifier"]["batch_size"] for r in small} == {20}


def test_overrides_change_the_configuration():
    assert study.parse_overrides(["finetuning.max_iter=7", "seeds=1", "data.x=abc"]) == \
        {"finetuning.max_iter": 7, "seeds": 1, "data.x": "abc"}
    runs = plan_study("mnist", validate=True, inits=["dbn"],
                      overrides={"finetuning.learning_rate_init": 0.05, "seeds": 1,
                                 "pretraining.n_iter": 10})
    assert len(runs) == 1
    assert runs[0].config["classifier"]["learning_rate_init"] == 0.05
    assert runs[0].config["pretraining"]["n_iter"] == 10
    assert PRESETS["mnist"]["finetuning"]["learning_rate_init"] == 0.1  # unchanged
    with pytest.raises(ValueError, match="no section 'finetunig'"):
        plan_study("mnist", overrides={"finetunig.max_iter": 3})
    with pytest.raises(ValueError, match="no setting 'seed'"):
        plan_study("mnist", overrides={"seed": 3})


def test_bad_settings_fail_at_the_plan_naming_the_setting(tmp_path, capsys):
    # Checked when the study is planned, not hours later inside a task.
    with pytest.raises(ValueError, match=r"preset 'mnist', init 'dbn': The 'max_iter' "
                                         r"parameter of DBNClassifier must be an int"):
        plan_study("mnist", overrides={"finetuning.max_iter": -5})
    with pytest.raises(ValueError, match=r"init 'dbn': The 'momentum' parameter of DBN"):
        plan_study("mnist", overrides={"pretraining.momentum": "hello"})
    with pytest.raises(ValueError, match=r"init 'dbn': layer 2: The 'n_iter' parameter of "
                                         r"BernoulliRBM must be an int in the range \[0"):
        plan_study("mnist", overrides={"pretraining.n_iter": [10, -1, 10]})
    with pytest.raises(ValueError, match=r"init 'dbn': learning_rate has 2 entries but there are 3 hidden"):
        plan_study("mnist", overrides={"pretraining.learning_rate": [0.1, 0.1]})
    with pytest.raises(ValueError, match=r"DBNClassifier has no parameter 'nosuch'; its "
                                         r"parameters are activation, alpha"):
        plan_study("mnist", overrides={"finetuning.nosuch": 1})
    for kw in ({"seeds": 0}, {"seeds": []}, {"overrides": {"seeds": 0}}):
        with pytest.raises(ValueError, match="at least one seed"):
            plan_study("mnist", **kw)
    for kw in ({"n_jobs": 0}, {"n_jobs": 1.5}, {"threads": 0}):
        with pytest.raises(ValueError, match=list(kw)[0]):
            run_study(TINY, tmp_path, dry_run=True, verbose=False, **kw)
    # The command line: one line naming the problem, no traceback.
    with pytest.raises(SystemExit, match=r"error: preset 'digits', init 'dbn': The 'max_iter'"):
        main(["study", "--out", str(tmp_path), "--set", "finetuning.max_iter=-5", "--dry-run"])
    for args in (["--seeds", "0"], ["--n-jobs", "0"], ["--threads", "0"], ["--seeds", "x"]):
        with pytest.raises(SystemExit) as stop:
            main(["study", "--out", str(tmp_path), "--dry-run", *args])
        assert stop.value.code == 2 and f"argument {args[0]}:" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # nothing was planned to disk, let alone trained
    with pytest.raises(SystemExit, match="no such folder"):
        main(["report", str(tmp_path / "none")])
    with pytest.raises(SystemExit, match="no study records in it"):
        main(["report", str(tmp_path)])
    with pytest.raises(FileNotFoundError, match="no study records"):
        write_report(tmp_path)


def test_label_overrides_of_one_init():
    preset = {**TINY, "label_overrides": {
        "60": {"max_iter": 5, "inits": {"normal": {"learning_rate_init": 0.003}}}}}
    runs = plan_study(preset)
    lr = {(r.init, r.labels): r.config["classifier"]["learning_rate_init"] for r in runs}
    n_iter = {(r.init, r.labels): r.config["classifier"]["max_iter"] for r in runs}
    assert lr == {("dbn", 60): 0.1, ("normal", 60): 0.003, ("dbn", 300): 0.1,
                  ("normal", 300): 0.1}
    assert n_iter == {("dbn", 60): 5, ("normal", 60): 5, ("dbn", 300): 2, ("normal", 300): 2}
    assert preset["label_overrides"]["60"]["inits"]  # the preset itself is not changed
    bad = {**TINY, "label_overrides": {"60": {"inits": {"glorot": {"alpha": 0.1}}}}}
    with pytest.raises(ValueError, match=r"names inits \['glorot'\]"):
        plan_study(bad)


def test_records_have_the_documented_fields(tiny_study):
    out, records = tiny_study
    assert len(records) == N_RUNS
    files = sorted(p.name for p in out.glob("*.json"))
    assert files == sorted(r.key + ".json" for r in plan_study(TINY))
    for rec in load_records(out):
        assert RECORD_FIELDS <= set(rec)
        c = rec["config"]
        assert rec["status"] == "ok"
        assert 0.0 <= rec["test_error"] <= 1.0 and rec["validation_error"] is None
        assert rec["n_iter"] == len(rec["loss_curve"]) == 2
        norms = np.asarray(rec["gradient_norms"])
        assert norms.shape == (rec["n_iter"], c["depth"] + 1) and (norms > 0).all()
        assert set(rec["versions"]) >= {"dbn", "numpy", "scipy", "numba", "sklearn"}
        assert set(rec["machine"]) >= {"cpu_count", "platform"}
        assert (rec["machine"]["numba_cpu"], rec["machine"]["numba_cpu_features"]) == _numba_cpu()
        assert rec["machine"]["blas"] == _blas_kernels()
        assert rec["blas_threads"] == 1  # the preset's "threads"
        assert 0.1 < rec["gemm_gflops"] < 1e4  # GFLOP/s, not FLOP/s
        assert rec["started"] <= rec["finished"]
        assert c["classifier"]["hidden_layer_sizes"] == [16] * c["depth"]
        if c["init"] == "dbn":
            assert len(rec["pretraining_history"]) == c["depth"]
            assert rec["pretraining_time"] > 0
        else:
            assert rec["pretraining_history"] == [] and rec["pretraining_time"] == 0
    # One pretraining per seed, shared by both depths and both label counts.
    assert len(list((out / "pretrained").glob("*.pkl"))) == 2
    assert not _tmp_files(out)


def test_rerun_skips_finished_runs(tiny_study, monkeypatch):
    out, records = tiny_study

    def refit(*args, **kwargs):
        raise AssertionError("a finished run was fitted again")

    monkeypatch.setattr(study, "_run_task", refit)
    monkeypatch.setattr(study, "_pretrain_task", refit)
    again = run_study(TINY, out, report=False, verbose=False)
    assert again == records


def test_changed_configuration_is_not_skipped(tiny_study, tmp_path):
    out, _ = tiny_study
    keys = [r.key for r in plan_study(TINY, seeds=[0], inits=["normal"])]
    for key in keys:
        shutil.copy(out / f"{key}.json", tmp_path)
    changed = {**TINY, "finetuning": {**TINY["finetuning"], "max_iter": 1}}
    with pytest.raises(ValueError, match="another configuration"):
        run_study(changed, tmp_path, seeds=[0], inits=["normal"], report=False, verbose=False)
    records = run_study(changed, tmp_path, seeds=[0], inits=["normal"], rerun_changed=True,
                        report=False, verbose=False)
    assert [r["n_iter"] for r in records] == [1] * len(keys)


def test_an_init_with_its_own_pretraining_gets_its_own_stack(tmp_path):
    preset = {**TINY, "depths": [2], "labels": ["all"], "seeds": 1,
              "inits": {"dbn": {}, "dbn-long": {"init": "dbn", "pretraining": {"n_iter": 3}},
                        "normal": {}}}
    runs = {r.init: r for r in plan_study(preset)}
    short, long_ = runs["dbn"].config, runs["dbn-long"].config
    assert (short["pretraining"]["n_iter"], long_["pretraining"]["n_iter"]) == (1, 3)
    # Nothing else differs, in pretraining or fine-tuning.
    assert {**long_["pretraining"], "n_iter": 1} == short["pretraining"]
    assert long_["classifier"] == short["classifier"]
    assert "pretraining" not in long_["classifier"] and runs["normal"].config["pretraining"] is None
    # As --set gives the whole preset's pretraining: the same configuration.
    by_set = plan_study(preset, inits=["dbn"], overrides={"pretraining.n_iter": 3})[0]
    assert study._same_config(by_set.config, {**long_, "init": "dbn"})
    stacks, run_stack = study._stack_plan(list(runs.values()))
    assert len(stacks) == 2 and run_stack[runs["dbn"].key] != run_stack[runs["dbn-long"].key]

    records = {r["config"]["init"]: r for r in run_study(preset, tmp_path, report=False,
                                                         verbose=False)}
    assert [len(h) for h in (records["dbn"]["pretraining_history"][0]["reconstruction_error"],
                             records["dbn-long"]["pretraining_history"][0]["reconstruction_error"])
            ] == [1, 3]
    assert len(list((tmp_path / "pretrained").glob("*.pkl"))) == 2

    bad = {**TINY, "inits": {"normal": {"pretraining": {"n_iter": 3}}}}
    with pytest.raises(ValueError, match=r"init 'normal'.*only for a pretrained init"):
        plan_study(bad)
    bad = {**TINY, "inits": {"dbn": {"pretraining": {"n_itr": 3}}}}
    with pytest.raises(ValueError, match=r"init 'dbn'.*DBN has no parameter 'n_itr'"):
        plan_study(bad)
    bad = {**TINY, "inits": {"dbn": {"pretraining": 3}}}
    with pytest.raises(ValueError, match=r"'pretraining' in the init's settings must be a dict"):
        plan_study(bad)


def test_a_label_count_may_change_its_pretrained_inits_pretraining():
    # label_overrides[count]["pretraining"] is for that count's pretrained
    # inits (random ones have none); label_overrides[count]["inits"][name]
    # ["pretraining"] for one init; settings merge key by key, the more
    # specific last.
    preset = {**TINY, "depths": [2], "labels": [20, "all"], "seeds": 1,
              "inits": {"dbn": {"pretraining": {"n_iter": 3}}, "normal": {}},
              "label_overrides": {20: {"pretraining": {"n_iter": 2, "batch_size": 7},
                                       "inits": {"dbn": {"pretraining": {"k": 2}}}}}}
    runs = {(r.init, r.labels): r.config for r in plan_study(preset)}
    n_all = max(labels for _, labels in runs)
    pre = {labels: runs["dbn", labels]["pretraining"] for labels in (20, n_all)}
    # The init's own n_iter wins over the count's; the count's batch size
    # and its per-init k apply at 20 labels only.
    assert (pre[20]["n_iter"], pre[20]["batch_size"], pre[20]["k"]) == (3, 7, 2)
    assert (pre[n_all]["n_iter"], pre[n_all]["batch_size"], pre[n_all]["k"]) == (
        3, TINY["pretraining"]["batch_size"], DBN().k)
    assert runs["normal", 20]["pretraining"] is None
    assert "pretraining" not in runs["dbn", 20]["classifier"]
    assert runs["dbn", 20]["classifier"] == {**runs["normal", 20]["classifier"], "init": "dbn"}

    bad = {**preset, "label_overrides": {20: {"inits": {"normal": {"pretraining": {"k": 2}}}}}}
    with pytest.raises(ValueError, match=r"init 'normal'.*label_overrides\[20\]\['inits'\]"
                                         r"\['normal'\] is only for a pretrained init"):
        plan_study(bad)
    bad = {**preset, "label_overrides": {20: {"pretraining": [2]}}}
    with pytest.raises(ValueError, match=r"'pretraining' in label_overrides\[20\] must be a dict"):
        plan_study(bad)


def test_set_may_add_the_sections_a_preset_names_and_no_others():
    # --set adds missing sections only where the preset fixes their names (a
    # label count, an init, "inits", "pretraining"), so that
    # label_overrides.100.pretraining.n_iter=200 works and typos still fail.
    runs = plan_study("mnist-labels", overrides={
        "label_overrides.100.inits.dbn.pretraining.n_iter": 200,
        "inits.dbn-dropout.pretraining.batch_size": 10,
        "label_overrides.all.max_iter": 7})
    n_iter = {(r.init, r.labels): r.config["pretraining"]["n_iter"]
              for r in runs if r.config["pretraining"]}
    assert {k: v for k, v in n_iter.items() if v != 50} == {("dbn", 100): 200}
    assert {r.config["pretraining"]["batch_size"] for r in runs if r.init == "dbn-dropout"} == {10}
    # (dbn-dropout's own max_iter goes over a label count's, as before.)
    assert {r.config["classifier"]["max_iter"] for r in runs
            if r.labels == 60000 and r.init != "dbn-dropout"} == {7}
    assert PRESETS["mnist-labels"]["inits"]["dbn"] == {}  # the preset itself is untouched
    for path, section in [("label_overrides.60.max_iter", "60"),
                          ("label_overrides.100.init.dbn.max_iter", "init"),
                          ("label_overrides.100.inits.dbm.max_iter", "dbm"),
                          ("inits.dbm.pretraining.n_iter", "dbm"),
                          ("inits.dbn.pretrain.n_iter", "pretrain"),
                          ("finetuning.pretraining.n_iter", "pretraining")]:
        with pytest.raises(ValueError, match=rf"cannot set '{path}'.*no section '{section}'"):
            plan_study("mnist-labels", overrides={path: 1})
    with pytest.raises(ValueError, match=r"its label counts: 100, 1000, 10000, all"):
        plan_study("mnist-labels", overrides={"label_overrides.60.max_iter": 1})
    # A custom preset without label_overrides gets one.
    custom = {k: v for k, v in TINY.items() if k != "label_overrides"}
    runs = plan_study(custom, overrides={"label_overrides.60.max_iter": 9})
    assert {(r.labels, r.config["classifier"]["max_iter"]) for r in runs} == {(60, 9), (300, 2)}


def test_shared_stack_is_the_shallower_stack():
    # Depths share one pretraining: the first d layers of the deeper stack
    # are what fitting d layers gives.
    X = study._load_data(*study._data_args(plan_study(TINY)[0].config["data"],
                                           {"data_home": None, "download": False}))[0]
    deep = DBN((16, 12, 8), n_iter=2, random_state=3).fit(X)
    for depth in (1, 2):
        sub = study._truncated(deep, depth)
        direct = DBN((16, 12, 8)[:depth], n_iter=2, random_state=3).fit(X)
        np.testing.assert_array_equal(sub.transform(X), direct.transform(X))
        assert len(sub.rbms_) == depth and len(deep.rbms_) == 3


def _stat(pid):
    """Fields of /proc/PID/stat after the command name (state, parent, ...); None: gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _alive(pid):
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def _children(pid):
    """Pids of the live processes whose parent is ``pid`` (Linux /proc)."""
    stats = {int(p): _stat(p) for p in os.listdir("/proc") if p.isdigit()}
    return [p for p, fields in stats.items()
            if fields is not None and fields[0] != "Z" and int(fields[1]) == pid]


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:  # gone meanwhile
        return b""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigterm_stops_the_worker_processes_too(tmp_path):
    # A study stopped with SIGTERM (kill, timeout, a batch system) stops its
    # joblib workers as Ctrl-C does; Python's default would exit at once and
    # leave them running their runs (here: 100,000 epochs).
    preset = {**TINY, "depths": [1], "labels": ["all"], "inits": {"normal": {}},
              "finetuning": {**TINY["finetuning"], "max_iter": 100000,
                             "n_iter_no_change": 100000}}
    script = ("from dbn.study import run_study\n"
              f"run_study({preset!r}, {str(tmp_path)!r}, n_jobs=2, report=False, verbose=False)")
    proc = subprocess.Popen([sys.executable, "-c", script])
    workers = []
    try:
        deadline = time.monotonic() + 120
        while len(workers) < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
            workers = [p for p in _children(proc.pid) if b"popen_loky" in _cmdline(p)]
        assert len(workers) == 2
        time.sleep(3)  # into their runs
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) != 0
        deadline = time.monotonic() + 30
        while any(map(_alive, workers)) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not any(map(_alive, workers))
        assert not list(tmp_path.glob("*.json"))
    finally:
        proc.kill()
        for pid in workers:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def test_interrupted_study_keeps_finished_records(tmp_path, monkeypatch, interrupt_on_call):
    # Ctrl-C in the 3rd fine-tuning: the classifier catches it and keeps a
    # partial model; the study must stop without recording that model.
    interrupt_on_call(engine, "train", 3)
    with pytest.raises(KeyboardInterrupt):
        run_study(TINY, tmp_path, report=False, verbose=False)
    first = {p.name: p.read_bytes() for p in tmp_path.glob("*.json")}
    assert len(first) == 2
    assert all(json.loads(b)["status"] == "ok" for b in first.values())
    assert not _tmp_files(tmp_path)

    monkeypatch.undo()  # no more Ctrl-C
    records = run_study(TINY, tmp_path, report=False, verbose=False)
    assert len(records) == N_RUNS == len(list(tmp_path.glob("*.json")))
    assert all((tmp_path / name).read_bytes() == data for name, data in first.items())



def test_a_run_in_progress_finishes_from_its_checkpoint(tmp_path, monkeypatch, interrupt_on_call):
    # Checkpoints after every epoch, Ctrl-C in the 4th epoch of the first
    # run: the same study run again finishes that run from epoch 3 and
    # records what the uninterrupted study records.
    preset = {**TINY, "depths": [2], "labels": ["all"],
              "finetuning": {**TINY["finetuning"], "max_iter": 6, "dropout": 0.2,
                             "learning_rate": "exponential", "learning_rate_decay": 0.8}}
    kw = dict(seeds=[0], report=False, verbose=False)
    whole = run_study(preset, tmp_path / "whole", **kw)
    assert not (tmp_path / "whole" / "partial").exists()  # none due, the layers' removed
    cut = tmp_path / "cut"
    interrupt_on_call(engine.SGDTrainer, "epoch", 4)
    with pytest.raises(KeyboardInterrupt):
        run_study(preset, cut, checkpoint_every=0.0, **kw)
    assert not list(cut.glob("*.json"))
    path, = (cut / "partial").iterdir()
    assert path.name == "tiny__init=normal__depth=2__labels=300__seed=0.pkl"
    checkpoint = path.read_bytes()
    monkeypatch.undo()
    again = run_study(preset, cut, checkpoint_every=0.0, **kw)
    assert {r["config"]["init"]: r["resumed_at_epochs"] for r in again} == {"dbn": [],
                                                                             "normal": [3]}
    assert [comparable_record(r) for r in again] == [comparable_record(r) for r in whole]
    assert all(r["n_iter"] == 6 and len(r["eval_error_curve"]) == 6 for r in again)
    assert not (cut / "partial").exists()
    (cut / "partial").mkdir()
    # Only a checkpoint of the very same configuration is resumed from.
    path.write_bytes(checkpoint)
    config = next(r["config"] for r in again if r["config"]["init"] == "normal")
    assert study._load_checkpoint(path, config)["estimator"].n_iter_ == 3
    changed = {**config, "classifier": {**config["classifier"], "max_iter": 5}}
    assert study._load_checkpoint(path, changed) is None
    path.write_bytes(checkpoint[:100])
    with pytest.warns(RuntimeWarning, match="cannot resume from this checkpoint"):
        assert study._load_checkpoint(path, config) is None
    with pytest.raises(ValueError, match="checkpoint_every must be"):
        run_study(preset, cut, checkpoint_every=-1, **kw)
    # A resumed run's start is its first part's, and its wall time counts
    # the earlier parts' fine-tuning (here made to look long).
    state = pickle.loads(checkpoint)
    assert next(r for r in again if r["config"]["init"] == "normal")["started"] == state["started"]
    state.update(started="2000-01-01T00:00:00+00:00", finetune_time=1000.0)
    (tmp_path / "old" / "partial").mkdir(parents=True)
    (tmp_path / "old" / "partial" / path.name).write_bytes(pickle.dumps(state))
    old = {r["config"]["init"]: r for r in run_study(preset, tmp_path / "old", **kw)}
    assert old["normal"]["resumed_at_epochs"] == [3]
    assert old["normal"]["started"] == "2000-01-01T00:00:00+00:00"
    assert old["normal"]["finetune_time"] > 1000.0
    assert old["normal"]["wall_time"] > old["normal"]["finetune_time"]
    assert old["dbn"]["started"] > "2000-01-01T00:00:00+00:00"


def test_an_interrupted_pretraining_resumes_after_its_last_finished_layer(
        tiny_study, tmp_path, monkeypatch, interrupt_on_call):
    from dbn import rbm as rbm_module

    _, whole = tiny_study
    # One epoch a layer: the 2nd epoch is seed 0's layer 2.
    interrupt_on_call(rbm_module._BaseRBM, "_run_epoch", 2)
    with pytest.raises(KeyboardInterrupt):
        run_study(TINY, tmp_path, report=False, verbose=False)
    layers = sorted((tmp_path / "partial").glob("*/layer_*.pkl"))
    assert [p.name for p in layers] == ["layer_0.pkl"] and "seed=0" in layers[0].parent.name
    monkeypatch.undo()
    epochs, original = [], rbm_module._BaseRBM._run_epoch
    monkeypatch.setattr(rbm_module._BaseRBM, "_run_epoch",
                        lambda *a, **k: (epochs.append(1), original(*a, **k))[1])
    again = run_study(TINY, tmp_path, report=False, verbose=False)
    assert len(epochs) == 3  # seed 0's layer 2, seed 1's two layers
    assert [comparable_record(r) for r in again] == [comparable_record(r) for r in whole]
    assert not (tmp_path / "partial").exists()
    with open(next((tmp_path / "pretrained").glob("*seed=0*.pkl")), "rb") as f:
        assert pickle.load(f)["stack"].checkpoint_dir is None

def test_each_stack_is_fine_tuned_before_the_next_is_pretrained(tmp_path, monkeypatch):
    # With one job, a long study records whole runs as it goes: seed 0's DBN
    # runs are on disk before seed 1's stack starts pretraining.
    seen = []
    original = study._pretrain_task

    def pretrain(config, env):
        seen.append((config["dbn"]["random_state"],
                     sorted(p.name for p in tmp_path.glob("*init=dbn*.json"))))
        return original(config, env)

    monkeypatch.setattr(study, "_pretrain_task", pretrain)
    run_study(TINY, tmp_path, report=False, verbose=False)
    assert [s for s, _ in seen] == [0, 1]
    assert seen[0][1] == []
    assert seen[1][1] and all("seed=0" in name for name in seen[1][1])
    assert len(seen[1][1]) == 4  # 2 depths x 2 label counts of seed 0


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _config(labels, max_iter=10, seed=0):
    return {"seed": seed, "labels": labels, "data": {"n_train": 60000},
            "classifier": {"max_iter": max_iter, "random_state": seed}}


def _stack_config(seed, n_iter=50):
    return {"data": {"n_train": 60000},
            "dbn": {"n_iter": n_iter, "hidden_layer_sizes": [5, 5], "random_state": seed}}


def test_progress_estimate_follows_the_phases_of_the_study(capsys):
    # mnist-modern's shape on 2 workers: two stacks, their two fine-tunings,
    # then the third stack alone and its fine-tuning.
    clock = _Clock()
    progress = study._Progress(
        [[("P0", "pretraining", _stack_config(0)), ("P1", "pretraining", _stack_config(1))],
         [("R0", "run", _config(600, seed=0)), ("R1", "run", _config(600, seed=1))],
         [("P2", "pretraining", _stack_config(2))], [("R2", "run", _config(600, seed=2))]],
        workers=2, verbose=True, clock=clock)
    progress.start_phase()
    clock.now = 100.0
    progress("P0 done", "P0", 100.0)
    assert progress.left(clock.now) == (pytest.approx(100.0), {"run"})  # P1 still running
    clock.now = 101.0
    progress("P1 done", "P1", 100.0)
    # Only the third stack can be timed yet: a lower bound, and said so.
    assert progress.left(clock.now) == (pytest.approx(100.0), {"run"})
    assert capsys.readouterr().out.splitlines()[-1] == (
        "[2/6] P1 done; elapsed 1m41s, more than 1m40s left (no runs timed yet)")
    progress.start_phase()
    clock.now = 701.0
    progress("R0 done", "R0", 600.0)
    # R1 started with R0 and should end now; then 100 s of P2 and 600 of R2.
    assert progress.left(clock.now) == (pytest.approx(700.0), set())
    clock.now = 731.0
    progress("R1 done", "R1", 630.0)
    assert progress.left(clock.now) == (pytest.approx(100.0 + 615.0), set())
    progress.start_phase()
    clock.now = 781.0
    assert progress.left(clock.now) == (pytest.approx(50.0 + 615.0), set())  # P2 half done
    progress("P2 done", "P2", 50.0)
    progress.start_phase()
    clock.now = 1381.0
    progress("R2 done", "R2", 600.0)
    assert progress.left(clock.now) == (0.0, set())
    assert capsys.readouterr().out.splitlines()[-1] == (
        "[6/6] R2 done; elapsed 23m01s, about 0s left")


def test_progress_estimate_of_more_tasks_than_workers():
    # Three tasks of 10 s on two workers: the third starts when the first ends.
    clock = _Clock()
    tasks = [(f"R{s}", "run", _config(100, seed=s)) for s in range(3)]
    progress = study._Progress([tasks], workers=2, verbose=False, clock=clock)
    progress.start_phase()
    assert progress.left(clock.now) == (0.0, {"run"})
    clock.now = 10.0
    progress("", "R0", 10.0)
    assert progress.left(clock.now)[0] == pytest.approx(10.0)  # R1 ends now, R2 in 10 s
    clock.now = 14.0
    assert progress.left(clock.now)[0] == pytest.approx(6.0)
    # One worker: the tasks one after the other.
    progress = study._Progress([tasks], workers=1, verbose=False, clock=clock)
    progress.start_phase()
    clock.now += 10.0
    progress("", "R0", 10.0)
    assert progress.left(clock.now)[0] == pytest.approx(20.0)


def test_progress_estimate_of_other_settings_scales_with_epochs_and_images():
    # A run's epoch: its labelled images, and a third of each held-out one.
    def config(labels, max_iter=10, seed=0):
        return {**_config(labels, max_iter, seed), "data": {"n_train": 60000, "n_eval": 3000}}

    def units(labels, max_iter=10):
        return max_iter * (labels + 3000 / 3)

    clock = _Clock()
    progress = study._Progress(
        [[("A", "run", config(100)), ("B", "run", config(1000)),
          ("C", "run", config(1000, max_iter=30)), ("D", "run", config(100, seed=1))]],
        workers=1, verbose=False, clock=clock)
    progress.start_phase()
    clock.now = 2.0
    progress("", "A", 2.0)
    # B and C at A's rate; D has A's settings but for the seed: A's time.
    rate = 2.0 / units(100)
    assert progress.left(clock.now)[0] == pytest.approx(
        rate * units(1000) + rate * units(1000, 30) + 2.0)
    clock.now = 32.0
    progress("", "B", 30.0)  # slower than its images said: C at the rate of A and B
    rate = (2.0 + 30.0) / (units(100) + units(1000))
    assert progress.left(clock.now)[0] == pytest.approx(rate * units(1000, 30) + 2.0)


def test_progress_of_a_resumed_study_starts_from_the_tasks_finished_before(tmp_path, capsys):
    clock = _Clock()
    progress = study._Progress([[("R1", "run", _config(100, seed=1))]], workers=1,
                               verbose=False, timed=[("run", _config(100, seed=0), 7.0)],
                               clock=clock)
    progress.start_phase()
    assert progress.left(clock.now) == (pytest.approx(7.0), set())
    # A real study: seed 0's runs recorded, then both seeds asked for.
    run_study(TINY, tmp_path, seeds=1, report=False, verbose=False)
    run_study(TINY, tmp_path, seeds=2, report=False)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[")]
    assert len(lines) == 9 and "pretrained" in lines[0]  # seed 1's stack, then its 8 runs
    assert "timed yet" not in lines[0] and "about" in lines[0]


def test_progress_credits_what_checkpoints_hold(tmp_path):
    clock = _Clock()
    tasks = [("R0", "run", _config(100, seed=0)), ("R1", "run", _config(100, seed=1))]
    progress = study._Progress([tasks], workers=1, verbose=False,
                               timed=[("run", _config(100, seed=2), 10.0)],
                               done_before={"R1": 4.0, "R0": 30.0}, clock=clock)
    progress.start_phase()
    assert progress.left(clock.now)[0] == pytest.approx(0.0 + 6.0)  # R0 is past its estimate
    # Where the study finds those seconds: a run's checkpoint of its very
    # settings, and the layers saved of a stack in training.
    runs = plan_study(TINY)
    stacks, run_stack = study._stack_plan(runs)
    env = {"checkpoint_dir": str(tmp_path)}
    run, other = runs[0], runs[1]
    study._save_pickle(study._checkpoint_path(env, run.key),
                       {"config": run.config, "finetune_time": 12.5})
    study._save_pickle(study._checkpoint_path(env, other.key),  # another run's settings
                       {"config": run.config, "finetune_time": 99.0})
    name = run_stack[runs[4].key]
    layers = Path(study._stack_checkpoint_dir(env, stacks[name]))
    study._save_pickle(layers / "layer_0.pkl", {"seconds": 5.0})
    study._save_pickle(layers / "layer_1.partial.pkl", {"seconds": 2.25})
    (layers / "layer_2.pkl").write_bytes(b"truncated")
    done = study._checkpointed_seconds(env, runs, list(stacks), stacks)
    assert done == {run.key: 12.5, name: 7.25, **{f: 0.0 for f in stacks if f != name}}


def test_progress_lines_follow_the_tasks_as_they_run(tmp_path, monkeypatch, capsys):
    # Every task finishes in the phase the estimate has it in, one line each.
    original = study._Progress.__call__
    phases = []

    def call(self, what, task, seconds=None):
        assert task in self.phases[self.phase]
        phases.append(self.phase)
        assert seconds is not None and seconds > 0
        return original(self, what, task, seconds)

    monkeypatch.setattr(study._Progress, "__call__", call)
    run_study(TINY, tmp_path, report=False, n_jobs=1)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[")]
    assert [line.split("]")[0] for line in lines] == [f"[{i:>2}/18" for i in range(1, 19)]
    # After seed 0's stack (a fraction of a second here), no run is timed yet.
    assert lines[0].endswith(" left (no runs timed yet)") or lines[0].endswith(
        "time left unknown (no runs timed yet)")
    assert "timed yet" not in lines[1]
    assert lines[-1].endswith("about 0s left")
    # Seed 0's stack beside half the random-init runs, its DBN runs, then seed 1's.
    assert phases == [0] * 5 + [1] * 4 + [2] * 5 + [3] * 4


def test_reuse_takes_the_same_runs_from_another_study(tiny_study, tmp_path, monkeypatch):
    # Another preset with the same settings under another name, plus a label
    # count the tiny study lacks: only the new runs are run.
    folder, records = tiny_study
    other = {**TINY, "name": "other", "labels": [30, 60, "all"]}
    ran = []
    original = study._run_task
    monkeypatch.setattr(study, "_run_task",
                        lambda key, *a, **k: (ran.append(key), original(key, *a, **k))[1])
    got = run_study(other, tmp_path, reuse=[folder], report=False, verbose=False)
    assert len(got) == N_RUNS + 8
    assert sorted(ran) == sorted(r["key"] for r in got if "labels=30__" in r["key"])
    by_key = {r["key"]: r for r in records}
    for rec in got:
        if "labels=30__" in rec["key"]:
            assert "reused_from" not in rec
            continue
        source = by_key[rec["reused_from"]]
        assert rec["key"] == source["key"].replace("tiny__", "other__")
        assert rec["config"]["preset"] == "other"
        assert rec["test_error"] == source["test_error"]
        assert rec["loss_curve"] == source["loss_curve"]
        assert json.loads((tmp_path / f"{rec['key']}.json").read_text()) == rec
    # A run with another setting is not taken.
    changed = {**other, "finetuning": {**TINY["finetuning"], "max_iter": 3}}
    plan = run_study(changed, tmp_path / "changed", reuse=[folder], dry_run=True,
                     verbose=False)
    assert plan == []


def test_diverged_run_is_recorded_as_such(tmp_path):
    bad = {**TINY, "finetuning": {**TINY["finetuning"], "learning_rate_init": 1e12}}
    records = run_study(bad, tmp_path, seeds=[0], inits=["normal"], report=False,
                        verbose=False)
    assert {r["status"] for r in records} == {"diverged"}
    assert all(r["test_error"] is None and "non-finite" in r["message"] for r in records)
    text = write_report(tmp_path, figures=False).read_text()
    assert "did not finish (4)" in text


def test_atomic_write_leaves_no_partial_file(tmp_path):
    def write(f):
        f.write(b'{"key": ')
        raise OSError("disk full")

    with pytest.raises(OSError):
        write_atomic(tmp_path / "run.json", write)
    assert list(tmp_path.iterdir()) == []


def test_start_removes_only_old_temporary_files(tmp_path):
    """A killed writer's leftovers go; a live writer's file (another study
    writing to the same folder) stays."""
    old, fresh = tmp_path / ".a.json.1.tmp", tmp_path / ".b.json.2.tmp"
    for f in (old, fresh):
        f.write_bytes(b"{")
    past = old.stat().st_mtime - STALE_AFTER - 1
    os.utime(old, (past, past))
    run_study(TINY, tmp_path, seeds=[0], inits=["normal"],
              overrides={"depths": [1], "labels": [60]}, report=False, verbose=False)
    assert not old.exists() and fresh.exists()
    assert len(list(tmp_path.glob("*.json"))) == 1


_CURVES = ("loss_curve", "gradient_norms", "validation_scores")


def _assert_same_records(a, b):
    """Same runs, same settings and results; curves equal to float32 rounding.

    In a fresh CI environment the curves of DBN-initialised runs once
    differed between processes in the 9th significant digit (BLAS threads
    were 1 in both); the errors and everything else were identical.
    """
    assert [r["key"] for r in a] == [r["key"] for r in b]
    for ra, rb in zip(a, b, strict=True):
        ca, cb = comparable_record(ra), comparable_record(rb)
        for name in _CURVES:
            if ca.get(name) is not None or cb.get(name) is not None:
                np.testing.assert_allclose(np.asarray(ca.pop(name), dtype=float),
                                           np.asarray(cb.pop(name), dtype=float),
                                           rtol=1e-6, err_msg=f"{ra['key']}: {name}")
        assert ca == cb, ra["key"]


def test_joblib_parallel_gives_the_same_records(tiny_study, tmp_path):
    _, records = tiny_study
    # Seed 0 only: starting the worker processes is most of the time.
    parallel = run_study(TINY, tmp_path, seeds=[0], n_jobs=2, report=False, verbose=False)
    _assert_same_records([r for r in records if r["config"]["seed"] == 0], parallel)


def test_dask_local_cluster_gives_the_same_records(tiny_study, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    _, records = tiny_study
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            got = run_study(TINY, tmp_path, seeds=[0], backend="dask",
                            scheduler=client.scheduler.address, report=False, verbose=False)
    _assert_same_records([r for r in records if r["config"]["seed"] == 0], got)


def test_dask_missing_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with pytest.raises(ImportError, match=r"deepbelief\[dask\]"):
        study._dask_client(None, 1)


def test_report_writes_tables_and_figures(tiny_study, tmp_path):
    out, records = tiny_study
    for p in out.glob("*.json"):
        shutil.copy(p, tmp_path)
    path = write_report(tmp_path)
    assert path == tmp_path / "report.md"
    with open(tmp_path / "errors.csv") as f:
        errors = list(csv.DictReader(f))
    assert len(errors) == N_RUNS
    with open(tmp_path / "summary.csv") as f:
        summary = list(csv.DictReader(f))
    assert len(summary) == N_RUNS // 2  # configurations: 2 seeds each
    assert all(row["n"] == "2" and row["seed_0"] and row["seed_1"] for row in summary)
    row = summary[0]
    seeds = [float(row["seed_0"]), float(row["seed_1"])]
    assert float(row["mean_error_pct"]) == pytest.approx(np.mean(seeds), abs=1e-3)
    assert float(row["sd_error_pct"]) == pytest.approx(np.std(seeds, ddof=1), abs=1e-3)
    for name in ("errors", "depth", "labels", "gradients", "learning"):
        assert (tmp_path / f"{name}_tiny.png").stat().st_size > 1000
    text = path.read_text()
    assert "errors_tiny.png" in text and "Hinton & Salakhutdinov 2006" in text
    speeds = sorted(r["gemm_gflops"] for r in records)
    assert (f"GEMM speed after each run, at its BLAS threads (`gemm_gflops`, {N_RUNS} runs): "
            f"{speeds[0]:.0f} to "
            f"{speeds[-1]:.0f} GFLOP/s") in text


def test_gemm_speed_counts_the_flops_of_the_rounds_it_timed(monkeypatch):
    # A clock read at each burst's start and after each round of the three
    # 100x500x2000 products.  Steps of 0.1 s: one burst of 0.25 s takes 3
    # rounds in 0.3 s.
    clock = iter(np.arange(100) * 0.1)
    monkeypatch.setattr(study.time, "perf_counter", lambda: float(next(clock)))
    flops = 3 * 2 * 100 * 500 * 2000
    assert study._gemm_gflops(seconds=0.25, bursts=1) == pytest.approx(3 * flops / 0.3 / 1e9)
    # Three bursts of 0.125 s whose one round took 0.125, 0.5 (a neighbour)
    # and 0.25 s: the median burst's speed (steps exact in binary).
    clock = iter([0.0, 0.125, 0.125, 0.625, 0.625, 0.875])
    assert study._gemm_gflops(seconds=0.375, bursts=3) == pytest.approx(flops / 0.25 / 1e9)


def test_report_without_matplotlib(tiny_study, tmp_path, monkeypatch):
    out, _ = tiny_study
    for p in list(out.glob("*.json"))[:3]:
        shutil.copy(p, tmp_path)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    text = write_report(tmp_path).read_text()
    assert "matplotlib is not installed" in text
    assert not list(tmp_path.glob("*.png"))
    assert (tmp_path / "summary.csv").exists()


def test_published_numbers():
    yell = [p for p in PUBLISHED if p["source"] == "yell/boltzmann-machines"]
    assert {(p["labels"], p["test_error"]) for p in yell} >= {(100, 18.3), (100, 23.98)}
    assert all(p["reference"] for p in PUBLISHED)


def test_published_rows_take_the_first_preset_with_runs():
    def rec(preset, error):
        return {"status": "ok", "test_error": error, "validation_error": None,
                "config": {"preset": preset, "split": "test", "init": "dbn", "depth": 3,
                           "labels": 60000}}

    def hinton_row(records):
        rows = published_comparison(records)
        return next(r for r in rows if r["source"] == "Hinton & Salakhutdinov 2006"
                    and r["published"] == "1.20")["ours"]

    modern = [rec("mnist-modern", e) for e in (0.0136, 0.0130)]
    assert hinton_row(modern) == "dbn: 1.33 ± 0.04 (n=2)"
    # The same runs in both folders (--reuse) are counted once, the mnist preset's.
    mnist = [rec("mnist", e) for e in (0.0136, 0.0130, 0.0127)]
    assert hinton_row(mnist + modern) == "dbn: 1.31 ± 0.05 (n=3)"
    assert hinton_row([]) == "not run (preset mnist or mnist-modern)"


def test_cli_study_help_lists_presets(capsys):
    with pytest.raises(SystemExit):
        main(["study", "--help"])
    text = capsys.readouterr().out
    for name in PRESETS:
        assert name in text
    assert "--n-jobs" in text and "--validate" in text and "--scheduler" in text
    assert "--checkpoint-minutes" in text
    with pytest.raises(SystemExit, match="--checkpoint-minutes must be >= 0; got -1.0"):
        main(["study", "--checkpoint-minutes", "-1", "--dry-run"])


def test_cli_study_dry_run(tmp_path, capsys):
    assert main(["study", "--preset", "digits", "--out", str(tmp_path), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "9 runs, 0 finished, 9 to run" in text
    assert "digits__init=glorot__depth=2__labels=1257__seed=2" in text


def test_cli_report_of_a_folder_of_studies(tiny_study, tmp_path, capsys):
    out, _ = tiny_study
    (tmp_path / "tiny").mkdir()
    for p in list(out.glob("*.json"))[:4]:
        shutil.copy(p, tmp_path / "tiny")
    assert main(["report", str(tmp_path), "--no-figures"]) == 0
    assert (tmp_path / "report.md").exists() and not list(tmp_path.glob("*.png"))
    with open(tmp_path / "errors.csv") as f:
        assert len(list(csv.DictReader(f))) == 4


def test_bare_command_runs_the_digits_study_and_prints_the_table(monkeypatch, tmp_path, capsys):
    import dbn.__main__ as cli
    import dbn.study

    errors = {"dbn": [0.01, 0.02, 0.03], "normal": [0.04, 0.05, 0.09], "glorot": [0.05, 0.05, 0.05]}
    calls = []

    def fake_run_study(preset, out, **kw):
        calls.append((preset, out, kw))
        return [{"key": r.key, "status": "ok", "config": r.config, "finetune_time": 2.0,
                 "test_error": errors[r.init][r.seed], "validation_error": None}
                for r in plan_study(preset)]

    monkeypatch.setattr(dbn.study, "run_study", fake_run_study)
    assert main(["--out", str(tmp_path), "--no-report"]) == 0
    assert calls == [("digits", str(tmp_path), {"report": False})]
    lines = capsys.readouterr().out.splitlines()
    table = [line.split() for line in lines if line.startswith("  ") and line.split()[0] in errors]
    # Sorted by mean error, with the mean, the sample sd and every seed.
    assert [row[0] for row in table] == ["dbn", "glorot", "normal"]
    assert table[0][1:5] == ["2.00%", "+-", "1.00", "1.00,"]
    assert table[2][1] == "6.00%" and table[2][3] == f"{100 * np.std([.04, .05, .09], ddof=1):.2f}"

    seen = []
    monkeypatch.setattr(cli, "_demo", lambda args: seen.append(args) or 0)
    assert main(["demo", "--n-iter", "3", "--seeds", "2"]) == 0
    assert seen[-1].n_iter == 3 and seen[-1].seeds == 2


@pytest.mark.skipif(signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL,
                    reason="SIGTERM has a handler here: the study would leave it alone")
def test_cli_stopped_study_exits_with_the_signals_code_not_a_traceback(monkeypatch, tmp_path,
                                                                        capsys):
    # The study prints what it kept and how to go on; the CLI then exits as a
    # shell expects (128 + the signal) instead of raising KeyboardInterrupt.
    import dbn.study

    def stopped_by(sig, caught=False):
        def fake_run_study(*args, **kw):
            with dbn.study._SigtermInterrupts():  # what run_study does
                try:
                    if sig == signal.SIGINT:
                        raise KeyboardInterrupt
                    os.kill(os.getpid(), sig)
                    time.sleep(30)  # the handler raises here
                except KeyboardInterrupt as exc:
                    if caught:  # as an estimator's fit does, then the study
                        raise dbn.study._Interrupted("interrupted by user") from exc
                    raise
            raise AssertionError("not stopped")
        return fake_run_study

    def cli(argv):
        try:
            return main(argv)
        except KeyboardInterrupt as exc:  # else pytest would stop the session
            pytest.fail(f"the CLI raised {exc!r}")

    argv = ["study", "--preset", "digits", "--out", str(tmp_path)]
    for caught in (False, True):
        monkeypatch.setattr(dbn.study, "run_study", stopped_by(signal.SIGTERM, caught))
        assert cli(argv) == 143
        assert capsys.readouterr().err == "stopped by SIGTERM\n"
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    monkeypatch.setattr(dbn.study, "run_study", stopped_by(signal.SIGINT))
    assert cli(argv) == 130
    assert cli(["--out", str(tmp_path)]) == 130  # the default study too
    assert capsys.readouterr().err == "stopped by Ctrl-C\n" * 2
