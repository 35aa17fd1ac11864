"""Atomic file writes: a crash or a kill never leaves half a file.

Every long-running writer of dbn (a study's records and pretrained stacks,
a DBN's per-layer checkpoints, the resumable benchmarks) goes through
:func:`write_atomic`, so that a reader finds either the old file or the
whole new one.
"""

import os
from pathlib import Path


def write_atomic(path, write):
    """Write a file through a temporary file in its folder, then rename it.

    Parameters
    ----------
    path : str or path-like
        The file to write.  Its folder must exist.
    write : callable
        ``write(f)`` writes the contents to ``f``, a file opened in binary
        mode.

    Notes
    -----
    The temporary file is ``.<name>.<pid>.tmp`` in the same folder (one
    file system, so :func:`os.replace` is atomic; the pid keeps two
    processes writing the same file apart).  It is flushed to disk before
    the rename and removed if ``write`` raises.  A writer killed between
    the two leaves it behind; :func:`dbn.study.run_study` removes such
    leftovers once they are old.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
