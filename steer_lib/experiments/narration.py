"""The per-task sentences that state, from the numbers only, where STEER stands among the methods: its ranks, whether
the bootstrap tells it apart from its nearest baseline, and its place on the Pareto fronts."""
from __future__ import annotations

import math

import pandas as pd

from .selection import pareto_front


def _ordinal(k: int) -> str:
    return f"{k}{'th' if 11 <= k % 100 <= 13 else {1: 'st', 2: 'nd', 3: 'rd'}.get(k % 10, 'th')}"


PARAGRAPH_COLUMNS = (("mauve", +1, "MAUVE"), ("adv_auroc", -1, "adversarial AUROC"),
                     ("ngram3", +1, "normalised 3-grams"))  # (column, better direction, name)


def _separation(tests: dict | None, steer_label: str, summary: pd.DataFrame) -> str:
    """Sentences saying, per paragraph metric, whether STEER is told apart from its nearest baseline (``tests``:
    :func:`significance.compare` with ``pairs``, STEER first), and plainly when it is not; "" when untested."""
    if not tests:
        return (" Whether these differences exceed the noise was not tested (no per-sample data recorded)."
                if tests is not None else "")
    n = summary.loc[steer_label, "n"] if "n" in summary and not pd.isna(summary.loc[steer_label].get("n")) else None
    size = f" at n={int(n)}" if n else " at this size"
    tied, said = [], []
    for col, _, name in PARAGRAPH_COLUMNS:
        r = tests.get(col)
        if r is None:
            continue
        other, (lo, hi) = r["runner_up"], r["ci"]
        if r.get("undefined") or not r["separated"]:
            tied.append(f"{other} on {name}")
        else:
            said.append(f"{'ahead of' if r['diff'] > 0 else 'behind'} {other} on {name} "
                        f"(bootstrap over the samples, 95 % interval of the difference {lo:+.3f} to {hi:+.3f})")
    out = (" It is " + "; ".join(said) + ".") if said else ""
    if tied:
        out += f" {steer_label} cannot be told apart{size} from " + ", ".join(tied) + \
            " (bootstrap over the samples, 95 %): those differences are within the noise."
    return out


def paragraph(task: str, summary: pd.DataFrame, steer_label: str, *, grid: pd.DataFrame | None = None,
              context: str = "") -> str:
    """A few sentences, from the numbers only: how ``steer_label`` ranks among the rows of ``summary``
    (MAUVE, adversarial AUROC, 3-grams) and whether it is on the Pareto front of 3-grams vs MAUVE and
    vs 1 − AUROC, the front drawn over the rows plus the ``grid`` points (mean per γ, η) when given."""
    if steer_label not in summary.index:
        return f"**{task}**{context}: no recorded result for {steer_label}, so nothing can be said about STEER yet."
    # ranked against the other methods only: other STEER rows (the comparison setting) would double-count it
    peers = summary[[lab == steer_label or not str(lab).startswith("steer") for lab in summary.index]]
    n = len(peers)
    ranks = []
    for col, asc, name in (("mauve", False, "MAUVE"), ("adv_auroc", True, "adversarial AUROC"),
                           ("ngram3", False, "normalised 3-grams")):
        if col in peers and not math.isnan(peers.loc[steer_label, col]):
            r = int(peers[col].rank(ascending=asc, method="min")[steer_label])
            ranks.append(f"{_ordinal(r)} of {n} on {name}")
    text = f"**{task}**{context}: {steer_label} ranks " + ", ".join(ranks) + "."
    text += _separation(summary.attrs.get("steer_vs"), steer_label, summary)
    pts = summary[["ngram3", "mauve", "adv_auroc"]].copy()
    if grid is not None and not grid.empty:
        gm = grid.groupby(["gamma", "eta"])[["ngram3", "mauve", "adv_auroc"]].mean()
        gm.index = [f"steer γ={g:g} η={e:g}" for g, e in gm.index]
        pts = pd.concat([pts, gm[~gm.index.isin(pts.index)]])
    for ycol, name in (("mauve", "3-grams vs MAUVE"), ("adv_auroc", "3-grams vs 1 − AUROC")):
        y = pts[ycol] if ycol == "mauve" else 1 - pts[ycol]
        if math.isnan(float(y[steer_label])) or math.isnan(float(pts.loc[steer_label, "ngram3"])):
            text += f" Its place on the front of {name} is undefined: a value is NaN (too few samples)."
            continue
        front = pd.Series(pareto_front(pts["ngram3"].tolist(), y.tolist()), index=pts.index)
        others = [lab for lab in front.index[front] if lab != steer_label and not lab.startswith("steer")]
        if front.get(steer_label, False):
            text += f" It is on the Pareto front of {name}" + (f" (with {', '.join(others)})." if others else ", alone.")
        else:
            x0, y0 = pts.loc[steer_label, "ngram3"], y[steer_label]
            dom = [lab for lab in pts.index if pts.loc[lab, "ngram3"] >= x0 and y[lab] >= y0 and lab != steer_label]
            text += f" It is **not** on the Pareto front of {name}: dominated by {', '.join(dom[:4])}."
    return text

