"""How much memory does fitting a DBNClassifier on full MNIST take?

The target (issue "Reliability"): the peak memory of ``DBNClassifier.fit`` on
the 60,000 MNIST training images stays under 1.5 x (the float32 data + the
model + buffers of the order of a mini-batch), and no float64 copy of X is
ever made.

Method: each case runs in a fresh interpreter.  It imports dbn, warms the
Numba kernels up on a tiny fit (so compiled code is resident), and reads its
resident set size: the *baseline*.  It then loads MNIST as float32, fits
784-500-500-2000-10 with one pretraining epoch per layer and one fine-tuning
epoch (memory does not grow with the number of epochs), and samples its
resident set size every 2 ms during the fit.  The figure is

    (peak RSS during the fit - baseline) / (X bytes + y bytes + model bytes + batch buffers)

against the bound 1.5.  Cases: ``init="glorot"`` (fine-tuning only) and
``init="dbn"`` (greedy pretraining, then fine-tuning).

Run from the repository root::

    python benchmarks/memory.py --data-home ../shared/data/mnist
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

from _common import REPO_ROOT, default_data_home, loadavg, machine_info

BOUND = 1.5
HIDDEN = (500, 500, 2000)
BATCH = 100

_CHILD = r"""
import json, sys, threading, time, warnings
import numpy as np
sys.path.insert(0, {root!r})
warnings.simplefilter("ignore")
import dbn
from dbn.datasets import load_mnist

def rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0

kw = dict(hidden_layer_sizes={hidden!r}, init={init!r}, batch_size={batch}, pretrain_batch_size={batch},
          pretrain_n_iter=1, max_iter=1, random_state=0)
Xw = np.random.default_rng(0).random((50, 784), dtype=np.float32)
dbn.DBNClassifier(**{{**kw, "hidden_layer_sizes": (8, 8, 8)}}).fit(Xw, np.arange(50) % 10)
baseline = rss()
data = load_mnist({data_home!r}, download=False)
X, y = data.data, data.target
del data
after_load = rss()
peak = [after_load]
stop = threading.Event()
def sample():
    while not stop.is_set():
        peak[0] = max(peak[0], rss())
        time.sleep(0.002)
t = threading.Thread(target=sample, daemon=True)
t.start()
t0 = time.perf_counter()
clf = dbn.DBNClassifier(**kw).fit(X, y)
wall = time.perf_counter() - t0
stop.set(); t.join()
peak[0] = max(peak[0], rss())
model = sum(c.nbytes for c in clf.coefs_) + sum(b.nbytes for b in clf.intercepts_)
print(json.dumps(dict(baseline=baseline, after_load=after_load, peak=peak[0], X_bytes=X.nbytes,
                      X_dtype=str(X.dtype), y_bytes=y.nbytes, model_bytes=model, fit_s=wall)))
"""


def run_case(init, data_home):
    code = _CHILD.format(root=str(REPO_ROOT), hidden=HIDDEN, init=init, batch=BATCH,
                         data_home=data_home)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    sizes = [784, *HIDDEN, 10]
    # Mini-batch buffers: activations and deltas of a batch, the gradient of
    # one layer, a batch of RBM statistics; generously, 10 x one batch of the
    # widest layer plus one weight matrix of the widest layer pair.
    buffers = 4 * (10 * BATCH * max(sizes) + max(a * b for a, b in zip(sizes, sizes[1:])))
    res["buffer_bytes"] = buffers
    budget = res["X_bytes"] + res["y_bytes"] + res["model_bytes"] + buffers
    res["fit_extra_bytes"] = res["peak"] - res["baseline"]
    res["ratio"] = res["fit_extra_bytes"] / budget
    res["met"] = res["ratio"] <= BOUND
    return res


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=default_data_home())
    parser.add_argument("--inits", nargs="+", default=["glorot", "dbn"])
    parser.add_argument("--out", default=str(REPO_ROOT / "benchmarks" / "results" / "memory.json"))
    args = parser.parse_args(argv)
    results = {}
    for init in args.inits:
        res = run_case(init, args.data_home)
        results[init] = res
        mb = 1 / 2**20
        print(f"init={init!r}: baseline {res['baseline'] * mb:.0f} MiB, peak during fit "
              f"{res['peak'] * mb:.0f} MiB; fit used {res['fit_extra_bytes'] * mb:.0f} MiB for "
              f"X {res['X_bytes'] * mb:.0f} MiB ({res['X_dtype']}) + model {res['model_bytes'] * mb:.1f} MiB "
              f"+ buffers {res['buffer_bytes'] * mb:.1f} MiB: ratio {res['ratio']:.2f} "
              f"({'met' if res['met'] else 'NOT met'}, bound {BOUND}); fit {res['fit_s']:.1f} s")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"question": __doc__.splitlines()[0], "command": " ".join(sys.argv),
                   "bound": BOUND, "results": results, "machine": machine_info(),
                   "load_average": loadavg()}, f, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
