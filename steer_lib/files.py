"""Reading and writing files safely: atomic writes (a reader never sees half a file), strict-JSON values, and
YAML read with a one-line error that names the file and line."""
from __future__ import annotations

import math
import os
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


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, obj, indent: int | None = 1) -> None:
    """``obj`` as strict JSON (NaN/inf → null), written atomically."""
    import json

    write_atomic(Path(path), json.dumps(jsonable(obj), indent=indent, ensure_ascii=False) + "\n")


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
