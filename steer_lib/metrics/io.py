"""``python -m steer_lib evaluate`` and ``evaluate-reference``: the metrics from the command line.

    python -m steer_lib evaluate --real REAL.txt --synthetic SYN.jsonl [--task T] [--n N] [--json] [--protocol authors]
    python -m steer_lib evaluate-reference [--n N] [--out runs/reference/falcon-7b] [--protocol authors]

Input files are ``.txt`` (one example per line; blank lines are skipped) or ``.jsonl`` (one
object per line with a string field ``text``). With ``--json`` the last stdout line is one
JSON object (NaN is written as ``null``; ``warnings`` says why).
"""
from __future__ import annotations

import math
from pathlib import Path

from ..files import read_jsonl

JSON_KEYS = ("n", "ngram3", "ngram3_real", "diversity", "diversity_real", "cosine", "cosine_centroid", "mauve",
             "mauve_sd", "adv_auroc", "alpha_precision", "beta_recall", "validity")
# the diversity measures since the paper (set_diversity), next in the JSON line, each beside its real-side value
DIVERSITY_KEYS = ("compression_ratio", "compression_ratio_real", "self_repetition", "self_repetition_real",
                  "self_bleu", "self_bleu_real", "vendi", "vendi_real", "mean_length", "mean_length_real",
                  "length_sd", "length_sd_real")
# bump when a metric is added or its definition changes: invalidates evaluate-reference's row cache, the authors'
# grid cache and the experiments' metrics files (3: the set_diversity measures)
METRICS_VERSION = 3


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


def _fmt(v) -> str:
    return "nan" if isinstance(v, float) and math.isnan(v) else (f"{v:.4f}" if isinstance(v, float) else str(v))
