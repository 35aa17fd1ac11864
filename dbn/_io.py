"""Atomic file writes: a crash or a kill never leaves half a file.

Every long-running writer of dbn (a study's records and pretrained stacks,
a DBN's per-layer checkpoints, the resumable benchmarks) goes through
:func:`write_atomic`, so that a reader finds either the old file or the
whole new one.
"""

import os
import time
from pathlib import Path

#: Seconds after which a temporary file is taken for a killed writer's: a
#: record is written in milliseconds, a stack or a layer in seconds.
STALE_AFTER = 600.0


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
    the two leaves it behind; :func:`remove_stale_temporaries` removes such
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


def remove_stale_temporaries(folder, older_than=STALE_AFTER):
    """Remove the temporary files that killed writers left in a folder.

    Only those older than ``older_than`` seconds: another process writing
    to the same folder may be mid-write.  A missing folder is no error.
    """
    now = time.time()
    for tmp in Path(folder).glob(".*.tmp"):
        try:
            if now - tmp.stat().st_mtime > older_than:
                tmp.unlink()
        except FileNotFoundError:  # renamed or removed meanwhile
            pass
