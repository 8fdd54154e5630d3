"""One cross-process lock for files that several processes may write (a generation set, a sweep point).

Why: two processes asked for the same sample set (two notebooks, a sweep and a notebook, a rerun in
another terminal) would otherwise both append to one JSONL. With the lock the second waits, then
finds the samples written and generates nothing. POSIX ``flock``: released when the holder exits,
even when it is killed, so a crash never leaves a stale lock.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def file_lock(target: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on ``<target>.lock`` for the duration of the ``with`` block.

    >>> import tempfile, pathlib
    >>> with file_lock(pathlib.Path(tempfile.mkdtemp()) / "set.jsonl"):
    ...     pass
    """
    lock = Path(str(target) + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as fh:
        try:
            import fcntl
        except ImportError:  # not POSIX (Windows): no cross-process lock; run one writer per file
            yield
            return
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield
