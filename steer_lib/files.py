"""Reading and writing files safely: atomic writes (a reader never sees half a file), strict-JSON values, and
JSON Lines / YAML read with a one-line error that names the file and line.

Every JSON file the kit writes goes through :func:`write_json` and every JSON Lines file it reads through
:func:`read_jsonl`, so "a killed run never leaves half a record" and "a damaged line names itself" hold everywhere.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from pathlib import Path


def jsonable(obj):
    """NaN/inf → None, numpy scalars → Python numbers, recursively (strict JSON)."""
    if isinstance(obj, dict):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def temp_beside(target: Path, prefix: str = ".tmp-", suffix: str = "") -> tuple[int, str]:
    """A temp file in ``target``'s folder, for an atomic ``os.replace`` onto ``target``: ``(fd, path)``.

    ``tempfile.mkstemp`` creates it readable by its owner only (0600), and the replace would hand that mode to the
    finished file; it gets the mode any new file gets here instead (0666 less the umask), so a record, a cached
    embedding or a fetched data file is as readable as the user's other files.
    """
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=target.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)
    return fd, tmp


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_beside(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def move_into_place(src: Path, dest: Path) -> None:
    """Move a finished file or folder into place, replacing an old one (never leaves a half-written ``dest``)."""
    if dest.is_dir():
        old = dest.with_name(f".{dest.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(dest, old)
        os.replace(src, dest)
        shutil.rmtree(old)
    else:
        os.replace(src, dest)


def write_json(path: Path, obj, *, strict: bool = True, **dumps_kwargs) -> None:
    """``obj`` as JSON in ``path``, atomically (temp file + replace: a killed run never leaves half a file).

    ``strict`` (default) stores NaN/inf as null and numpy scalars as numbers (:func:`jsonable`), so any JSON reader
    parses the file; ``strict=False`` keeps Python's ``NaN`` spelling, for caches read back by Python only.
    ``dumps_kwargs`` go to :func:`json.dumps` (``indent`` defaults to 1). The file ends with a newline.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "sub" / "x.json"
    >>> write_json(p, {"a": float("nan")}); p.read_text()
    '{\\n "a": null\\n}\\n'
    """
    dumps_kwargs.setdefault("indent", 1)
    if strict:
        obj = jsonable(obj)
        dumps_kwargs.setdefault("allow_nan", False)
    write_atomic(Path(path), json.dumps(obj, **dumps_kwargs) + "\n")


def read_jsonl(path: Path, error: type[Exception] = ValueError, *, numbered: bool = False) -> list:
    """Every non-blank line of a JSON Lines file, parsed, in order.

    A line that is not JSON (or a file that is not UTF-8) raises ``error("<path>:<line>: not valid JSON (...)")``:
    one line that names the place, no traceback. ``error`` defaults to ``ValueError`` (callers pass their own
    exception type to turn it into their command's ``error:`` line). ``numbered``: ``(line number, value)`` pairs,
    for callers whose own checks of a record name its line.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.jsonl"
    >>> _ = p.write_text('{"a": 1}\\n\\n{"a": 2}\\n', encoding="utf-8"); read_jsonl(p)
    [{'a': 1}, {'a': 2}]
    >>> _ = p.write_text('{"a": 1}\\n{"a": \\n', encoding="utf-8"); read_jsonl(p)
    Traceback (most recent call last):
    ...
    ValueError: ...x.jsonl:2: not valid JSON (Expecting value)
    """
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
                    "re-save the file as UTF-8") from None
    out = []
    # split at "\n" only: ensure_ascii=False records may hold U+2028 and friends, which splitlines() would cut at
    for i, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise error(f"{path}:{i}: not valid JSON ({exc.msg})") from None
        out.append((i, value) if numbered else value)
    return out


def sha256_file(path: Path) -> str:
    """The sha256 of a file's bytes, read in blocks (what a cache records to know the exact input it was made from)."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_yaml(path: Path, error: type[Exception]):
    """``path``'s YAML, or ``error("<path>:<line>: not valid YAML (<problem>)")`` — one line, no traceback.

    The caller checks that the file exists first (its message says what the file is for).
    """
    import yaml

    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise error(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None


class OutputExistsError(FileExistsError):
    """An output folder holds files the kit did not write (see :func:`check_output_folder`)."""


OUTPUT_MARKER = ".steer-kit-output"  # written into every folder a command fills (export, site, assignments)


def check_output_folder(out: Path, kind: str, force: bool = False, also_ours=None,
                        force_does: str = "write into it anyway") -> None:
    """Refuse to write a ``kind`` of output into ``out`` when it is a non-empty folder the kit did not fill.

    A folder the kit filled before carries :data:`OUTPUT_MARKER` naming its ``kind`` (or passes ``also_ours``, a
    check for outputs written before the marker existed): a rerun may replace it. Anything else -- a project
    folder, a home directory, ``.`` -- needs ``force``; even then the kit's own checkout and its parents are refused.
    Raises :class:`OutputExistsError` (a ``FileExistsError``) with one line saying which folder and what to do.

    >>> import tempfile; d = Path(tempfile.mkdtemp()); (d / "README.md").write_text("mine")
    4
    >>> check_output_folder(d, "export")
    Traceback (most recent call last):
    ...
    steer_lib.files.OutputExistsError: --out ... is a folder that holds files the kit did not write (README.md); choose a new or empty folder, or pass --force to write into it anyway
    >>> check_output_folder(d, "export", force=True); mark_output_folder(d, "export"); check_output_folder(d, "export")
    """
    from . import paths

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f"--out {out} is a file, not a folder; choose a new or empty folder")
    if not out.is_dir():
        return
    entries = sorted(p.name for p in out.iterdir())
    if not entries:
        return
    marker = out / OUTPUT_MARKER
    if marker.is_file() and marker.read_text(encoding="utf-8").strip() == kind:
        return
    if also_ours is not None and also_ours(out):
        return
    root = paths.root().resolve()
    if out.resolve() == root or out.resolve() in root.parents:
        raise OutputExistsError(f"--out {out} is the kit's checkout or a folder above it; choose a new or empty folder")
    if not force:
        shown = ", ".join(entries[:3]) + (f", … ({len(entries)} entries)" if len(entries) > 3 else "")
        raise OutputExistsError(f"--out {out} is a folder that holds files the kit did not write ({shown}); choose a "
                              f"new or empty folder, or pass --force to {force_does}")


def mark_output_folder(out: Path, kind: str) -> None:
    """Record that the kit filled ``out`` with ``kind`` output (see :func:`check_output_folder`)."""
    (Path(out) / OUTPUT_MARKER).write_text(kind + "\n", encoding="utf-8")
