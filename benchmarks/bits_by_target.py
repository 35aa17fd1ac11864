"""Which per-processor choices change the last bits of a fit, and does pinning them keep them?

Two things are chosen for the processor at run time, beside the BLAS thread
count: the kernel OpenBLAS picks (``OPENBLAS_CORETYPE`` overrides it) and
the CPU Numba compiles the kernels for (``NUMBA_CPU_NAME`` overrides it; with
the kernels' ``reassoc``/``contract`` fastmath flags, the vector width and
FMA decide the order of the sums).  Each case runs in a fresh interpreter
with one BLAS thread and its own Numba cache, fits one epoch of a 784-500
``BernoulliRBM`` and of a ``DBNClassifier`` (Glorot's init, one hidden layer
of 500) on the first 10,000 MNIST training images, and prints a digest of
the weights.  Cases:

- ``default``: what this machine picks by itself;
- ``pinned``: ``OPENBLAS_CORETYPE=Haswell NUMBA_CPU_NAME=haswell
  NUMBA_CPU_FEATURES=+avx,+avx2,+fma`` (AVX2 with FMA: Intel since Haswell,
  AMD since Zen).  The features matter: with a CPU name alone Numba still
  adds every feature of the host, AVX-512 included;
- ``blas-sandybridge``: only OpenBLAS's kernel changed (AVX, no FMA);
- ``numba-generic``: only Numba's target changed (baseline x86-64, SSE2);
- ``numba-haswell-no-fma``: as ``pinned`` for Numba, less one feature (FMA):
  whether the features, not only the CPU name, change the bits.

The question for two machines is whether ``pinned`` gives the same digests
on both: run this script on each and compare.  On one machine it shows that
each choice changes the bits, and whether ``pinned`` equals ``default``
(it does where the machine picks Haswell-class code by itself).

Run from the repository root::

    python benchmarks/bits_by_target.py --data-home ../shared/data/mnist
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import REPO_ROOT, default_data_home, machine_info

CASES = {
    "default": {},
    "pinned": {"OPENBLAS_CORETYPE": "Haswell", "NUMBA_CPU_NAME": "haswell",
               "NUMBA_CPU_FEATURES": "+avx,+avx2,+fma"},
    "blas-sandybridge": {"OPENBLAS_CORETYPE": "Sandybridge"},
    "numba-generic": {"NUMBA_CPU_NAME": "generic"},
    "numba-haswell-no-fma": {"NUMBA_CPU_NAME": "haswell", "NUMBA_CPU_FEATURES": "+avx,+avx2,-fma"},
}

_CHILD = r"""
import hashlib, json, sys, warnings
import numpy as np
sys.path.insert(0, {root!r})
warnings.simplefilter("ignore")
from dbn import BernoulliRBM, DBNClassifier
from dbn.datasets import load_mnist
from dbn.study import _machine

data = load_mnist({data_home!r}, download=False)
X, y = data.data[:10000], data.target[:10000]
rbm = BernoulliRBM(n_components=500, n_iter=1, batch_size=100, learning_rate=0.1,
                   random_state=0).fit(X)
clf = DBNClassifier(hidden_layer_sizes=(500,), init="glorot", max_iter=1, batch_size=100,
                    random_state=0).fit(X, y)
digest = lambda a: hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16]
# What ran, as a study record names it: Numba's target and the OpenBLAS kernels.
machine = _machine()
print(json.dumps(dict(
    numba_cpu=machine["numba_cpu"], numba_cpu_features=machine["numba_cpu_features"],
    blas=machine["blas"], rbm=digest(rbm.components_), classifier=digest(clf.coefs_[0]))))
"""


def run_case(settings, data_home):
    code = _CHILD.format(root=str(REPO_ROOT), data_home=data_home)
    with tempfile.TemporaryDirectory() as cache:
        # A cache of its own: every case compiles for its own target.
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "NUMBA_CACHE_DIR": cache}
        for name in CASES["pinned"]:
            env.pop(name, None)
        env.update(settings)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=default_data_home())
    parser.add_argument("--out", default=str(REPO_ROOT / "benchmarks" / "results" /
                                             "bits_by_target.json"))
    args = parser.parse_args(argv)
    results = {}
    for name, settings in CASES.items():
        res = results[name] = {"settings": settings, **run_case(settings, args.data_home)}
        print(f"{name:21s} numba cpu {res['numba_cpu']:8s} {res['numba_cpu_features']:16s} "
              f"rbm {res['rbm']}  classifier {res['classifier']}  OpenBLAS {'; '.join(res['blas'])}")
    base = results["default"]
    for res in results.values():
        res["same_as_default"] = (res["rbm"], res["classifier"]) == (base["rbm"],
                                                                      base["classifier"])
    print("same bits as default: " + ", ".join(
        f"{name} {'yes' if res['same_as_default'] else 'no'}" for name, res in results.items()
        if name != "default"))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"question": __doc__.splitlines()[0], "command": " ".join(sys.argv),
                   "results": results, "machine": machine_info()}, f, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
