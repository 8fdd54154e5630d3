"""The paper's tables as text: Markdown and LaTeX, best values in bold, ≈ where the bootstrap cannot separate the
best from the runner-up, arrows for direction; and the atomic write of a table's files.

Rendering reads only ``summary`` (and the test results :mod:`steer_lib.experiments.table_tests` kept in its
``attrs``): it never embeds, tests or selects.

>>> latex_escape("top_k & 50% #1")
'top\\\\_k \\\\& 50\\\\% \\\\#1'
"""
from __future__ import annotations

import math
from typing import Sequence

import pandas as pd

# (column, better direction: +1 higher, -1 lower, 0 = reference value, never bold), in table order
COLUMNS = (("ngram3", +1), ("ngram3_real", 0), ("diversity", +1), ("cosine", +1), ("mauve", +1),
           ("adv_auroc", -1), ("validity", +1))
# the second, compact table: the diversity measures since the paper (more diverse = better), lengths beside them
DIVERSITY_COLUMNS = (("compression_ratio", -1), ("compression_ratio_real", 0), ("self_repetition", -1),
                     ("self_bleu", -1), ("vendi", +1), ("vendi_real", 0), ("mean_length", 0), ("length_sd", 0),
                     ("mean_length_real", 0))
HEADERS = {"ngram3": "3-grams (syn)", "ngram3_real": "3-grams (real)", "diversity": "diversity",
           "cosine": "cosine", "mauve": "MAUVE", "adv_auroc": "adv. AUROC", "validity": "validity",
           "compression_ratio": "compr. ratio", "compression_ratio_real": "compr. (real)",
           "self_repetition": "self-rep.", "self_bleu": "Self-BLEU", "vendi": "Vendi", "vendi_real": "Vendi (real)",
           "mean_length": "length", "length_sd": "length sd", "mean_length_real": "length (real)"}
TIE = "≈"  # marks a best and runner-up the bootstrap (experiments.significance) cannot separate
TEX_TIE = r"$\approx$"
ARROW = {+1: "↑", -1: "↓", 0: ""}
TEX_ARROW = {+1: r"$\uparrow$", -1: r"$\downarrow$", 0: ""}


def latex_escape(text: str) -> str:
    """Escape LaTeX's special characters in a cell or label."""
    table = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
             "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
             "γ": r"$\gamma$", "η": r"$\eta$", "±": r"$\pm$"}
    return "".join(table.get(c, c) for c in str(text))



def summarise(df: pd.DataFrame, by: str = "label", keys: Sequence[str] | None = None) -> pd.DataFrame:
    """Mean and sd over seeds per row label: columns ``<key>``, ``<key>_sd`` (NaN with one seed), ``seeds``.

    Row order follows the first appearance of each label.
    """
    keys = [k for k in (keys or [c for c, _ in COLUMNS + DIVERSITY_COLUMNS]) if k in df]
    g = df.groupby(by, sort=False)
    out = g[keys].mean()
    sd = g[keys].std(ddof=1).add_suffix("_sd")
    out = pd.concat([out, sd], axis=1)
    out["seeds"] = g.size()
    return out


def best_labels(summary: pd.DataFrame, col: str, direction: int) -> set:
    """Row labels holding the best value of ``col`` (several on ties); none for a reference column."""
    if direction == 0 or col not in summary or summary[col].isna().all():
        return set()
    best = summary[col].max() if direction > 0 else summary[col].min()
    return set(summary.index[(summary[col] - best).abs() <= 1e-12])


def _cell(mean: float, sd: float | None, digits: int) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    s = f"{mean:.{digits}f}"
    return s + (f" ± {sd:.{digits}f}" if sd is not None and not math.isnan(sd) else "")


def marks(summary: pd.DataFrame, cols, significance: dict | None) -> tuple[dict, dict, list[str]]:
    """Which cells are bold and which carry :data:`TIE`, per column, and the note that says how they were chosen.

    A column the bootstrap tested (``significance[col]``, from :func:`significance.compare`) bolds its best
    only when separated from the runner-up at 95 %, and marks both with ≈ otherwise. An untested column (no
    per-sample data) bolds the best value(s), and the note says that this is not a test.

    >>> s = pd.DataFrame({"mauve": [0.7, 0.6, 0.2]}, index=["a", "b", "c"])
    >>> sig = {"mauve": {"best": "a", "runner_up": "b", "separated": False, "ci": [-0.1, 0.3], "reps": 100}}
    >>> bold, tie, _ = marks(s, [("mauve", +1)], sig); bold["mauve"], sorted(tie["mauve"])
    (set(), ['a', 'b'])
    """
    from .significance import TESTABLE

    significance = significance or {}
    bold, tie, untested, tested, never = {}, {}, [], [], []
    for c, d in cols:
        best, t = best_labels(summary, c, d), set()
        if c not in TESTABLE and d != 0 and best:  # no calibrated test exists (Vendi): never bold
            never.append(c)
            best = set()
        elif c in significance and d != 0:
            r = significance[c]
            tested.append(c)
            if not r["separated"]:  # every row sharing the best value, and the runner-up
                best, t = set(), best | {r["best"], r["runner_up"]}
        elif best and d != 0:
            untested.append(c)
        bold[c], tie[c] = best, t
    notes = []
    if tested:
        reps = max(significance[c]["reps"] for c in tested)
        notes.append(f"Bold: the best, separated from the runner-up by a bootstrap over the samples (95 %, up to "
                     f"{reps} replicates); {TIE}: best and runner-up cannot be told apart at this size.")
    if untested:
        names = ", ".join(HEADERS.get(c, c) for c in untested)
        notes.append(f"Not tested ({names}; no per-sample data recorded): bold marks the best value only.")
    if never:
        names = ", ".join(HEADERS.get(c, c) for c in never)
        notes.append(f"Never bold ({names}): no resampling test of it held its 5 % level in calibration.")
    return bold, tie, notes


def render(summary: pd.DataFrame, fmt: str = "md", *, caption: str = "", digits: int = 3,
           columns=COLUMNS, significance: dict | None = None) -> str:
    """The table as Markdown (``fmt="md"``) or a LaTeX ``tabular`` (``"tex"``): one row per label,
    ``mean ± sd`` when there are several seeds, arrows in the header, and the best per column in bold when a
    bootstrap over the samples separates it from the runner-up (:func:`marks`; ≈ marks the two otherwise), a note under the table.

    ``columns``: :data:`COLUMNS` (the paper's measures) or :data:`DIVERSITY_COLUMNS` (the compact second table).
    ``significance`` defaults to ``summary.attrs["significance"]``, which
    :func:`~steer_lib.experiments.tables.task_table` fills (with ``test=True``)."""
    if fmt not in ("md", "tex"):
        raise ValueError(f"fmt={fmt!r} must be 'md' or 'tex'")
    if significance is None:
        significance = summary.attrs.get("significance")
    cols = [(c, d) for c, d in columns if c in summary]
    if not cols:  # results recorded before these measures existed: say so rather than draw an empty table
        text = "none of these measures is recorded for these rows (they predate them; rescore to add them)"
        return (f"{caption}\n\n" if caption else "") + (f"_{text}_\n" if fmt == "md" else f"% {text}\n")
    bold, tie, notes = marks(summary, cols, significance)
    rows = []
    for lab, r in summary.iterrows():
        cells = []
        for c, _ in cols:
            text = _cell(r[c], r.get(f"{c}_sd"), digits)
            text = text + f" {TIE}" if lab in tie[c] else text
            if fmt == "tex":
                text = latex_escape(text).replace(TIE, TEX_TIE)
            if lab in bold[c]:
                text = f"**{text}**" if fmt == "md" else rf"\textbf{{{text}}}"
            cells.append(text)
        rows.append([latex_escape(lab) if fmt == "tex" else str(lab)] + cells)
    if fmt == "md":
        head = ["method"] + [f"{HEADERS[c]} {ARROW[d]}".strip() for c, d in cols]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        foot = ("\n" + " ".join(notes) + "\n") if notes else ""
        return (f"{caption}\n\n" if caption else "") + "\n".join(lines) + "\n" + foot
    head = ["method"] + [f"{latex_escape(HEADERS[c])} {TEX_ARROW[d]}".strip() for c, d in cols]
    lines = [r"\begin{table}[t]", r"\centering", r"\small", r"\begin{tabular}{l" + "r" * len(cols) + "}",
             r"\toprule", " & ".join(head) + r" \\", r"\midrule"]
    lines += [" & ".join(r) + r" \\" for r in rows]
    lines += [r"\bottomrule", r"\end{tabular}"]
    if notes:  # under the table, not in the caption, so a list of tables stays short
        note = latex_escape(" ".join(notes)).replace(TIE, TEX_TIE)
        lines.append(rf"{{\footnotesize {note}\par}}")
    lines += [rf"\caption{{{latex_escape(caption)}}}"] if caption else []
    return "\n".join(lines + [r"\end{table}"]) + "\n"



def write_table(summary: pd.DataFrame, stem: str, profile: str, caption: str, note: str = "",
                base_model: str = "") -> dict:
    """``results/<profile>/<stem>.md`` and ``.tex`` (atomic writes), and the compact diversity table
    ``<stem>_diversity.md`` / ``.tex`` when those measures are recorded; returns the paths (``md``, ``tex``,
    ``diversity_md``, ``diversity_tex``). ``note`` (Markdown, e.g. :func:`~steer_lib.experiments.tables.reference_table`'s) follows the
    Markdown table, so the file says what its rows are."""
    from ..files import write_atomic
    from ..paths import results_dir

    out = {fmt: results_dir(profile, base_model) / f"{stem}.{fmt}" for fmt in ("md", "tex")}
    for fmt, path in out.items():
        write_atomic(path, render(summary, fmt, caption=caption) + (f"\n{note}" if note and fmt == "md" else ""))
    if any(c in summary and summary[c].notna().any() for c, d in DIVERSITY_COLUMNS if d):
        for fmt in ("md", "tex"):
            out[f"diversity_{fmt}"] = results_dir(profile, base_model) / f"{stem}_diversity.{fmt}"
            write_atomic(out[f"diversity_{fmt}"], render(summary, fmt, columns=DIVERSITY_COLUMNS,
                                                         caption=f"{caption} Diversity measures (Shaib et al.)."))
    return out
