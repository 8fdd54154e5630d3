"""The files a user hands ``python -m steer_lib evaluate`` to score: ``.txt`` (one example per line; blank lines are
skipped) or ``.jsonl`` (one object per line with a string field ``text``), read with one-line errors; and how the
command line prints a metric."""
from __future__ import annotations

import math
from pathlib import Path

from ..files import read_jsonl


class InputError(ValueError):
    """An input file is missing, empty, not UTF-8, or malformed."""


def read_texts(path: str | Path) -> list[str]:
    """Examples from a ``.txt`` (one per line) or ``.jsonl`` (field ``text``) file, or an InputError."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such file")
    if p.suffix not in (".txt", ".jsonl"):
        raise InputError(f"{p}: unsupported file type {p.suffix!r}; "
                         "use .txt (one example per line) or .jsonl (field 'text')")
    texts: list[str] = []
    if p.suffix == ".jsonl":
        for i, obj in read_jsonl(p, InputError, numbered=True):
            if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                raise InputError(f"{p}:{i}: expected an object with a string field 'text'")
            texts.append(obj["text"])
    else:
        raw = p.read_bytes()
        try:
            content = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"{p}: not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
                             "re-save the file as UTF-8") from None
        texts = [line.strip() for line in content.splitlines() if line.strip()]
    if not texts:
        raise InputError(f"{p}: no examples (the file is empty or blank)")
    return texts


def format_value(v) -> str:
    """A metric as the command line prints it: 4 decimals, ``nan`` for NaN.

    >>> format_value(0.123456), format_value(float("nan")), format_value(8)
    ('0.1235', 'nan', '8')
    """
    return "nan" if isinstance(v, float) and math.isnan(v) else (f"{v:.4f}" if isinstance(v, float) else str(v))
