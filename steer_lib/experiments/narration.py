"""The per-task sentences that state, from the numbers only, where STEER stands among the methods: its ranks, whether
the bootstrap tells it apart from its nearest baseline, and its place on the Pareto fronts."""
from __future__ import annotations

import math
import re

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


LABEL_RE = re.compile(r"^steer γ=(?P<g>[0-9.eE+-]+) η=(?P<e>[0-9.eE+-]+)$")


def same_set(lab: str) -> set[str]:
    """The row labels that name the same samples as ``lab``: STEER at γ = 0 *is* negative prompting at that η
    (the sweep reuses ``negative_only``'s set), so the two rows are one set under two names.

    >>> sorted(same_set("steer γ=0 η=0.3")), same_set("steer γ=0.3 η=0.3"), same_set("top_k")
    (['negative_only η=0.3'], set(), set())
    """
    m = LABEL_RE.match(str(lab))
    return {f"negative_only η={float(m['e']):g}"} if m and float(m["g"]) == 0 else set()


def is_negative_only(lab: str) -> bool:
    """Whether a STEER row label is γ = 0, i.e. negative prompting alone, not STEER's domain term.

    >>> is_negative_only("steer γ=0 η=0.3"), is_negative_only("steer γ=0.3 η=0"), is_negative_only("steer")
    (True, False, False)
    """
    m = LABEL_RE.match(str(lab))
    return bool(m) and float(m["g"]) == 0


def peers_of(summary: pd.DataFrame, steer_label: str) -> pd.DataFrame:
    """The rows ``steer_label`` is ranked against: every non-STEER method (other STEER rows would double-count it),
    less the rows that are its own samples under another name (a set compared with itself says nothing)."""
    twins = same_set(steer_label)
    return summary[[lab == steer_label or (not str(lab).startswith("steer") and lab not in twins)
                    for lab in summary.index]]


def _rank(peers: pd.DataFrame, lab: str, col: str, ascending: bool, name: str) -> str:
    """``'2nd of 7 on MAUVE'``, or ``'1st of 7 on MAUVE (tied with top_k)'`` when other rows hold the same value."""
    r = int(peers[col].rank(ascending=ascending, method="min")[lab])
    ties = [o for o in peers.index if o != lab and abs(peers.loc[o, col] - peers.loc[lab, col]) <= 1e-12]
    return f"{_ordinal(r)} of {len(peers)} on {name}" + (f" (tied with {', '.join(ties)})" if ties else "")


def _judge(summary: pd.DataFrame, lab: str, grid: pd.DataFrame | None, tests: dict | None,
           reported: bool = True) -> str:
    """Rank, separation and Pareto place of one row, as sentences (see :func:`paragraph`)."""
    peers = peers_of(summary, lab)
    ranks = [_rank(peers, lab, col, asc, name)
             for col, asc, name in (("mauve", False, "MAUVE"), ("adv_auroc", True, "adversarial AUROC"),
                                    ("ngram3", False, "normalised 3-grams"))
             if col in peers and not math.isnan(peers.loc[lab, col])]
    text = f"{lab} ranks " + ", ".join(ranks) + "." if ranks else f"{lab} has no defined measure to rank."
    text += _separation(tests, lab, summary)
    twins = same_set(lab)
    pts = summary.loc[[i for i in summary.index if i not in twins], ["ngram3", "mauve", "adv_auroc"]].copy()
    if grid is not None and not grid.empty:
        gm = grid.groupby(["gamma", "eta"])[["ngram3", "mauve", "adv_auroc"]].mean()
        gm.index = [f"steer γ={g:g} η={e:g}" for g, e in gm.index]
        pts = pd.concat([pts, gm[~gm.index.isin(pts.index) & ~gm.index.isin(list(twins))]])
    passed_over = False  # dominated by another STEER grid point
    for ycol, name in (("mauve", "3-grams vs MAUVE"), ("adv_auroc", "3-grams vs 1 − AUROC")):
        y = pts[ycol] if ycol == "mauve" else 1 - pts[ycol]
        if math.isnan(float(y[lab])) or math.isnan(float(pts.loc[lab, "ngram3"])):
            text += f" Its place on the front of {name} is undefined: a value is NaN (too few samples)."
            continue
        front = pd.Series(pareto_front(pts["ngram3"].tolist(), y.tolist()), index=pts.index)
        others = [o for o in front.index[front] if o != lab and not o.startswith("steer")]
        if front.get(lab, False):
            text += f" It is on the Pareto front of {name}" + (f" (with {', '.join(others)})." if others else ", alone.")
        else:  # dominated: at least as good on both axes and strictly better on one (an equal point is not)
            x0, y0 = pts.loc[lab, "ngram3"], y[lab]
            dom = [o for o in pts.index if o != lab and pts.loc[o, "ngram3"] >= x0 and y[o] >= y0
                   and (pts.loc[o, "ngram3"] > x0 or y[o] > y0)]
            dom = [o for o in dom if not same_set(o) & set(dom)]  # one set named twice is named once
            text += f" It is **not** on the Pareto front of {name}: dominated by {', '.join(dom[:4])}."
            passed_over = passed_over or any(str(o).startswith("steer") for o in dom)
    if passed_over and reported:  # the rule reads validation numbers, the front test numbers: why a beaten pick
        text += (" (The reported point can be beaten by another grid point on these test numbers: the selection rule "
                 "reads the validation numbers, and at this size the two often order grid points differently.)")
    return text


def paragraph(task: str, summary: pd.DataFrame, steer_label: str, *, grid: pd.DataFrame | None = None,
              context: str = "") -> str:
    """A few sentences, from the numbers only: how ``steer_label`` ranks among the rows of ``summary``
    (MAUVE, adversarial AUROC, 3-grams; ties named) and whether it is on the Pareto front of 3-grams vs MAUVE and
    vs 1 − AUROC, the front drawn over the rows plus the ``grid`` points (mean per γ, η) when given; dominated means
    beaten on one axis and matched or beaten on the other, so an identical point never dominates.

    When the judged row is γ = 0 it says so first: that is negative prompting alone, not STEER, and the row holding
    the same samples under the name ``negative_only`` is left out of the comparison (a set against itself). The
    STEER row with γ > 0 in the table (the comparison setting), if any, is then judged in the same words.
    """
    if steer_label not in summary.index:
        return f"**{task}**{context}: no recorded result for {steer_label}, so nothing can be said about STEER yet."
    text = f"**{task}**{context}: "
    if is_negative_only(steer_label):
        twins = [t for t in same_set(steer_label) if t in summary.index]
        text += (f"the selection rule picked γ = 0 ({steer_label}): that is **negative prompting alone, not STEER** "
                 "(no domain term)" + (f"; its samples are the {twins[0]} row's, so that row is left out of the "
                                       "comparison" if twins else "") + ". ")
    text += _judge(summary, steer_label, grid, summary.attrs.get("steer_vs"))
    if is_negative_only(steer_label):
        real = [lab for lab in summary.index if LABEL_RE.match(str(lab)) and not is_negative_only(lab)]
        if real:
            text += " STEER with γ > 0, at the comparison setting: " + _judge(summary, real[0], grid, None,
                                                                               reported=False)
        else:
            text += " No STEER row with γ > 0 is in this table, so this paragraph says nothing about STEER's γ term."
    return text
