"""Real data: a checksummed manifest, a resumable fetch, and one way to ask for a file.

The manifest (``steer_lib/data/MANIFEST.tsv``) lists every file the kit reads with its
size, sha256 and the commit-pinned public URL it comes from. ``fetch`` downloads
each from that URL -- or from a mirror: a local folder or an http(s) base URL laid
out like the manifest paths -- verifies the hash, and writes atomically, so a
killed download never leaves a file that looks finished.

    python -m steer_lib data fetch [--mirror SRC] [--dest DIR]
"""
from __future__ import annotations

import csv
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .. import paths
from ..files import sha256_file as sha256_of  # noqa: F401  (data.sha256_of: the public name)
from ..files import temp_beside
from ..runtime import no_log

FETCH_HINT = "python -m steer_lib data fetch"  # the command every "file missing" error names


@dataclass(frozen=True)
class Entry:
    path: str  # relative path, e.g. "astro/hypotheses.json"
    bytes: int
    sha256: str
    url: str


class DataError(RuntimeError):
    """A data file is missing, corrupt, or could not be fetched."""


def manifest() -> list[Entry]:
    with open(paths.package_file("data/MANIFEST.tsv"), newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [Entry(r["path"], int(r["bytes"]), r["sha256"], r["url"]) for r in rows]


def is_valid(path: Path, entry: Entry) -> bool:
    return path.is_file() and path.stat().st_size == entry.bytes and sha256_of(path) == entry.sha256


def _source_url(entry: Entry, mirror: str | None) -> str:
    if not mirror:
        return entry.url
    if mirror.startswith(("http://", "https://")):
        return mirror.rstrip("/") + "/" + entry.path
    return str(Path(mirror).expanduser() / entry.path)


def _download(src: str, out, bar) -> None:
    if src.startswith(("http://", "https://")):
        with urllib.request.urlopen(src, timeout=60) as r:
            while block := r.read(1 << 16):
                out.write(block)
                bar.update(len(block))
    else:
        with open(src, "rb") as r:
            while block := r.read(1 << 20):
                out.write(block)
                bar.update(len(block))


def fetch(mirror: str | None = None, dest: str | Path | None = None, only: list[str] | None = None,
          progress: bool = True, log: Callable[[str], None] = no_log) -> Path:
    """Fetch every manifest file (or those whose path starts with one of ``only``) into ``dest``.

    Files already present with the right hash are skipped. A file whose download is
    missing, truncated or has the wrong hash is refused -- never written -- and the
    call ends with a :class:`DataError` naming every such file. ``log`` receives a one-line summary.
    """
    mirror = mirror if mirror is not None else os.environ.get("STEER_DATA_MIRROR") or None
    if mirror and "://" in mirror and not mirror.startswith(("http://", "https://")):  # not a folder path either
        raise DataError(f"mirror {mirror!r}: only a local folder or an http(s):// base URL can be read (from --mirror "
                        "or STEER_DATA_MIRROR)")
    dest = Path(dest) if dest else paths.data_dir()
    entries = [e for e in manifest() if not only or any(e.path.startswith(p) for p in only)]
    if not entries:
        raise DataError(f"no manifest entry matches only={only!r}")
    from ..runtime import progress_bar

    todo = [e for e in entries if not is_valid(dest / e.path, e)]
    skipped = len(entries) - len(todo)
    problems: list[str] = []
    fetched = 0
    # one bar for the whole fetch; tqdm hides it when stderr is not a terminal
    bar = progress_bar(total=sum(e.bytes for e in todo), unit="B", unit_scale=True, desc="data fetch",
                       disable=None if (progress and todo) else True)
    for e in todo:
        target = dest / e.path
        target.parent.mkdir(parents=True, exist_ok=True)
        src = _source_url(e, mirror)
        fd, tmp = temp_beside(target, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as out:
                _download(src, out, bar)
            tmp_path = Path(tmp)
            size = tmp_path.stat().st_size
            if size != e.bytes:
                problems.append(f"{e.path}: size {size} bytes, expected {e.bytes} (from {src})")
            elif (digest := sha256_of(tmp_path)) != e.sha256:
                problems.append(f"{e.path}: sha256 {digest[:12]}… does not match the manifest's {e.sha256[:12]}… (from {src})")
            else:
                os.replace(tmp, target)  # atomic: a file at `target` is always a verified one
                fetched += 1
                continue
        except (OSError, ValueError) as exc:  # URLError is an OSError
            problems.append(f"{e.path}: could not read {src}: {exc}")
        Path(tmp).unlink(missing_ok=True)
    bar.close()
    log(f"data: {fetched} fetched, {skipped} already present and valid, {len(problems)} failed -> {dest}")
    if problems:
        raise DataError("these files are missing or corrupt and were not written:\n  " + "\n  ".join(problems))
    return dest


def verify(dest: str | Path | None = None) -> list[str]:
    """Return the manifest paths that are absent or invalid under ``dest`` (empty list = all good)."""
    dest = Path(dest) if dest else paths.data_dir()
    return [e.path for e in manifest() if not is_valid(dest / e.path, e)]


_VERIFIED: dict[tuple[str, int, int], bool] = {}  # (path, mtime_ns, size) -> sha256 matched: hashed once a process


def require(relpath: str) -> Path:
    """Path of a manifest file on disk, verified, or a :class:`DataError` saying how to fetch it.

    Checked on every use, not only at fetch: the size on every call (free), the sha256 once per process and file
    version (cached by path, mtime and size), so a truncated or edited file is never read as real data.
    """
    target = paths.data_dir() / relpath
    entries = {e.path: e for e in manifest()}
    if relpath not in entries:
        raise DataError(f"{relpath!r} is not in the data manifest")
    if target.is_file():
        entry, st = entries[relpath], target.stat()
        if st.st_size != entry.bytes:
            raise DataError(f"data file {target} has {st.st_size} bytes, not the {entry.bytes} of the manifest: it is "
                            f"damaged or was edited; restore it with:  {FETCH_HINT} --only {relpath}")
        key = (str(target.resolve()), st.st_mtime_ns, st.st_size)
        if key not in _VERIFIED:
            _VERIFIED[key] = sha256_of(target) == entry.sha256
        if not _VERIFIED[key]:
            raise DataError(f"data file {target} does not match the sha256 of the manifest: it is damaged or was "
                            f"edited; restore it with:  {FETCH_HINT} --only {relpath}")
        return target
    raise DataError(
        f"data file {relpath} is missing from {paths.data_dir()}; "
        f"fetch it with:  {FETCH_HINT}   (offline: {FETCH_HINT} --mirror /path/to/shared/data, "
        f"or set STEER_DATA_MIRROR)"
    )
