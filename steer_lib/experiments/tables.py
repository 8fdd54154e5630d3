"""The paper's tables from recorded results: Markdown and LaTeX, best values in bold, arrows for direction.

Also the two judgements the tables feed:

- :func:`pareto_front` -- which points no other point beats on both diversity and fidelity;
- :func:`select_point` -- the STEER (γ, η) to report, by :data:`SELECTION_RULE`, fixed before any result is seen;

and :func:`paragraph`, the per-task sentence that states, from the numbers, where STEER stands;
:func:`reference_table` is the authors' released outputs' table with its note; :func:`paper_section` puts one task's
tables, notes and paragraphs together the way notebook 07 shows them.

>>> pareto_front([0.9, 0.5, 0.4, 0.95], [0.3, 0.8, 0.7, 0.2])  # (0.4, 0.7) is beaten by (0.5, 0.8)
[True, True, False, True]
>>> latex_escape("top_k & 50% #1")
'top\\\\_k \\\\& 50\\\\% \\\\#1'
"""
from __future__ import annotations

import math
import re
from typing import NamedTuple, Sequence

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

SELECTION_RULE = ("The reported STEER point is the grid point (γ, η) with the highest MAUVE × normalised 3-grams × "
                  "validity, MAUVE measured against the real *validation* split (held out from the training pool "
                  "the test numbers use), validity the share of samples the task's parser accepts (only those are "
                  "usable as data), averaged over seeds; ties go to the smaller γ + η. When MAUVE is undefined at "
                  "every point (fewer than 20 samples, as at the smoke size), 1 − validation adversarial AUROC "
                  "takes its place.")


def latex_escape(text: str) -> str:
    """Escape LaTeX's special characters in a cell or label."""
    table = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
             "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
             "γ": r"$\gamma$", "η": r"$\eta$", "±": r"$\pm$"}
    return "".join(table.get(c, c) for c in str(text))


def pareto_front(xs: Sequence[float], ys: Sequence[float]) -> list[bool]:
    """``True`` where no other point is at least as high on both axes and strictly higher on one (maximise both).

    NaN points are never on the front and never dominate.
    """
    if len(xs) != len(ys):
        raise ValueError(f"pareto_front: {len(xs)} x values but {len(ys)} y values")
    pts = [(float(x), float(y)) for x, y in zip(xs, ys)]
    ok = [not (math.isnan(x) or math.isnan(y)) for x, y in pts]
    out = []
    for i, (x, y) in enumerate(pts):
        out.append(ok[i] and not any(ok[j] and xj >= x and yj >= y and (xj > x or yj > y)
                                     for j, (xj, yj) in enumerate(pts) if j != i))
    return out


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
    ``significance`` defaults to ``summary.attrs["significance"]``, which :func:`task_table` fills."""
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


def select_point(sweep: pd.DataFrame) -> dict:
    """The STEER grid point to report, by :data:`SELECTION_RULE` (validation MAUVE × 3-grams × validity, mean
    over seeds). A missing or NaN validity (a task with no parser) counts as 1.

    >>> df = pd.DataFrame({"gamma": [0, 0, .3], "eta": [0, .3, 0], "seed": 0,
    ...                    "val_mauve": [.9, .8, .9], "ngram3": [.5, .7, .5], "validity": [1, 1, 1]})
    >>> select_point(df)["gamma"], select_point(df)["eta"]
    (0.0, 0.3)
    >>> select_point(df.assign(validity=[1, .5, 1]))["eta"]  # 0.8 × 0.7 × 0.5 = 0.28 < 0.45
    0.0
    """
    need = {"gamma", "eta", "val_mauve", "ngram3"}
    if sweep.empty or not need <= set(sweep.columns):
        raise ValueError(f"select_point needs sweep rows with columns {sorted(need)}; got {sorted(sweep.columns)}")
    fidelity, used = sweep["val_mauve"].astype(float), "validation MAUVE"
    if fidelity.isna().all() and "val_adv_auroc" in sweep:  # the rule's stated fallback
        fidelity, used = 1 - sweep["val_adv_auroc"].astype(float), "(1 − validation AUROC)"
    validity = sweep["validity"].astype(float).fillna(1.0) if "validity" in sweep else 1.0
    g = sweep.assign(score=fidelity * sweep["ngram3"] * validity).groupby(["gamma", "eta"], as_index=False)["score"].mean()
    g = g.dropna(subset=["score"])
    if g.empty:
        raise ValueError("select_point: every grid point's validation score (MAUVE and AUROC) is NaN")
    # rounded so float noise in a seed mean cannot break a tie the rule settles by γ + η
    g = g.assign(total=g["gamma"] + g["eta"], key=g["score"].round(9))
    g = g.sort_values(["key", "total"], ascending=[False, True])
    top = g.iloc[0]
    return {"gamma": float(top["gamma"]), "eta": float(top["eta"]), "score": float(top["score"]),
            "fidelity": used, "rule": SELECTION_RULE}


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


def _peers(summary: pd.DataFrame, steer_label: str) -> pd.DataFrame:
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


def _judge(summary: pd.DataFrame, lab: str, grid: pd.DataFrame | None, tests: dict | None) -> str:
    """Rank, separation and Pareto place of one row, as sentences (see :func:`paragraph`)."""
    peers = _peers(summary, lab)
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
            text += " STEER with γ > 0, at the comparison setting: " + _judge(summary, real[0], grid, None)
        else:
            text += " No STEER row with γ > 0 is in this table, so this paragraph says nothing about STEER's γ term."
    return text


def _sources(rows: pd.DataFrame, task: str, profile: str, n: int, base_model: str = "") -> dict[str, list]:
    """``label → [(generation JSONL, seed), …]``: where each row's sample sets are (sweep points via the sweep)."""
    from .. import paths
    from ..data.tasks import get_task
    from .sweep import _paths

    folder = paths.profile_runs_dir(profile, base_model) / "generations" / get_task(task).name
    out: dict[str, list] = {}
    for _, r in rows.iterrows():
        if isinstance(r.get("tag"), str):
            gen = folder / f"{r['tag']}.jsonl"
        else:  # a sweep record: the sweep knows where its set is (γ = 0 reuses negative_only's)
            gen = _paths(task, float(r["gamma"]), float(r["eta"]), int(r["seed"]), profile, n,
                         base_model)["generation"]
        out.setdefault(r["label"], []).append((gen, int(r["seed"])))
    return out


def _attach_tests(summary: pd.DataFrame, rows: pd.DataFrame, task: str, profile: str, cfg, steer_label: str,
                  embedder, base_model: str = "") -> None:
    """Fill ``summary.attrs``: ``significance`` (best vs runner-up per column, both tables) and ``steer_vs``
    (STEER vs its nearest baseline on the paragraph's measures), from the recorded sample sets."""
    from . import significance

    sources, memo = _sources(rows, task, profile, cfg.n_samples, base_model), {}  # memo: STEER's pairs are often the table's
    summary.attrs["significance"] = significance.compare(summary, COLUMNS + DIVERSITY_COLUMNS, sources, task,
                                                         n=cfg.n_samples, embedder=embedder, memo=memo)
    if steer_label not in summary.index:
        return
    peers = _peers(summary, steer_label)  # never its own samples under another name
    pairs = {}
    for col, d, _ in PARAGRAPH_COLUMNS:
        if col not in peers or peers[col].notna().sum() < 2 or pd.isna(peers.loc[steer_label, col]):
            continue
        order = peers[col].dropna().sort_values(ascending=d < 0).index.tolist()
        others = [lab for lab in order if lab != steer_label]
        pairs[col] = (steer_label, others[0])  # the best baseline, or the runner-up when STEER is best
    summary.attrs["steer_vs"] = significance.compare(summary, [(c, d) for c, d, _ in PARAGRAPH_COLUMNS], sources,
                                                     task, n=cfg.n_samples, embedder=embedder, pairs=pairs, memo=memo)


def task_table(task: str, profile: str, base_model: str = "", *, test: bool = True,
               embedder=None) -> tuple[pd.DataFrame, dict]:
    """The method table of one task from recorded results, and what it was built from.

    Rows: every baseline at its preset, ``negative_only`` and ``steer`` at the method-comparison
    settings (``ExperimentConfig.gamma/eta``), and the STEER point :func:`select_point` picks from the
    sweep (when a sweep is recorded). ``info``: ``steer_label`` (the row the paragraph judges: the pick,
    else the comparison setting), ``selected`` (the rule's pick or None), ``selection_note`` (why there
    is no pick), ``sweep`` (the sweep's rows), ``metrics`` (every recorded row), ``missing`` (rows not recorded).

    ``test``: run the paired bootstraps of :mod:`.significance` on the recorded sample sets (best vs runner-up per
    column, STEER vs its nearest baseline), kept in ``summary.attrs`` for :func:`render` and :func:`paragraph`;
    ``embedder`` embeds them (default: the cached all-MiniLM-L6-v2, warm after scoring).
    """
    from .experiment import ExperimentConfig
    from .results import label, load_metrics
    from .sweep import load_sweep

    cfg = ExperimentConfig.for_profile(profile)
    metrics = load_metrics(task, profile, base_model=base_model)
    sweep = load_sweep(task, profile, n=cfg.n_samples, base_model=base_model)
    wanted = [label(m, cfg.gamma if m == "steer" else None, cfg.eta if m in ("steer", "negative_only") else None)
              for m in cfg.methods]
    selected, note = None, "no sweep recorded yet"
    if not sweep.empty:
        try:
            selected, note = select_point(sweep), ""
        except ValueError as exc:  # e.g. smoke: 8 samples are too few for MAUVE, so the rule cannot choose
            note = str(exc)
    steer_label = label("steer", cfg.gamma, cfg.eta)
    if selected:
        steer_label = label("steer", selected["gamma"], selected["eta"])
        wanted.append(steer_label) if steer_label not in wanted else None
        # The pick's numbers come from the sweep's own records, filed under the STEER name and every seed the
        # sweep ran (however the sweep obtained the samples), not from whichever metrics files happen to exist.
        at = (sweep["gamma"] == selected["gamma"]) & (sweep["eta"] == selected["eta"])
        picked = sweep[at].assign(method="steer", label=steer_label)
        kept = metrics[metrics["label"] != steer_label] if not metrics.empty else metrics
        metrics = pd.concat([df for df in (kept, picked) if not df.empty], ignore_index=True)
    rows = metrics[metrics["label"].isin(wanted)] if not metrics.empty else metrics
    summary = summarise(rows) if not rows.empty else pd.DataFrame(columns=[c for c, _ in COLUMNS])
    summary = summary.reindex([w for w in wanted if w in summary.index])
    if test and len(summary) >= 2:
        _attach_tests(summary, rows, task, profile, cfg, steer_label, embedder, base_model)
    return summary, {"steer_label": steer_label, "selected": selected, "selection_note": note, "sweep": sweep,
                     "metrics": metrics,
                     "missing": [w for w in wanted if w not in summary.index]}


def write_table(summary: pd.DataFrame, stem: str, profile: str, caption: str, note: str = "",
                base_model: str = "") -> dict:
    """``results/<profile>/<stem>.md`` and ``.tex`` (atomic writes), and the compact diversity table
    ``<stem>_diversity.md`` / ``.tex`` when those measures are recorded; returns the paths (``md``, ``tex``,
    ``diversity_md``, ``diversity_tex``). ``note`` (Markdown, e.g. :func:`reference_table`'s) follows the
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


def reference_table(task: str, src=None) -> tuple[pd.DataFrame, str, str]:
    """The authors' table for ``task``: ``(summary, caption, note)``, one row per part of each released file
    scored against ``task``'s real pool (:func:`~.results.load_reference`); an empty summary when there is none."""
    from ..data.tasks import get_task
    from .results import load_reference, reference_note

    ref = load_reference(task, src)
    if ref.empty:
        return pd.DataFrame(), "", ""
    caption = (f"{task}: the authors' Falcon-7B outputs scored by the kit against the {get_task(task).name} "
               f"real pool, n={int(ref['n'].min())}–{int(ref['n'].max())}")
    return summarise(ref), caption, reference_note(ref)


def steer_rows(summary: pd.DataFrame) -> list[str]:
    """The STEER rows of an authors' table (``steer``, ``steer (final formula)``): each gets its own paragraph."""
    return [lab for lab in summary.index if str(lab) == "steer" or str(lab).startswith("steer (")]


class PaperSection(NamedTuple):
    markdown: str  # the task's heading, tables, notes and what is missing, as notebook 07 displays it
    paragraphs: list[str]  # what the numbers say: the kit's STEER row, then each of the authors' STEER rows
    kit_missing: bool  # no kit results are recorded for the task at this profile


def paper_section(task: str, profile: str, ref_src=None, base_model: str = "") -> PaperSection:
    """One task of notebook 07: the kit's table (written to ``results/<profile>/table_<task>.md``/``.tex``), the
    authors' outputs' table scored from ``ref_src`` (``table_<task>_falcon-7b.*``), the diversity tables under
    each, and the generated paragraphs. Reads recorded results only; what is not recorded is named in the text.
    """
    from ..models import short_name
    from .experiment import ExperimentConfig

    cfg = ExperimentConfig.for_profile(profile)
    model = short_name(base_model)
    summary, info = task_table(task, profile, base_model)
    md, paragraphs = f"### {task}\n\n", []
    if summary.empty:
        md += f"_No kit results recorded for {task} at `{profile}` yet (notebooks 03–05 record them)._\n"
    else:
        caption = f"{task}: kit ({model} + LoRA), {profile}, n={cfg.n_samples}, {len(cfg.seeds)} seed(s)"
        written = write_table(summary, f"table_{task}", profile, caption, base_model=base_model)
        md += render(summary, "md", caption=f"*{caption}* — `{written['md'].name}`, `.tex`")
        md += "\n" + render(summary, "md", columns=DIVERSITY_COLUMNS,
                            caption=f"*{task}: the diversity measures of current work (Shaib et al.)*")
        paragraphs.append(paragraph(task, summary, info["steer_label"], grid=info["sweep"],
                                    context=f" (kit, {model}, {profile}, n={cfg.n_samples})"))
    ref_summary, ref_caption, ref_note = reference_table(task, ref_src)  # one row per part of each file
    if not ref_summary.empty:
        write_table(ref_summary, f"table_{task}_falcon-7b", profile, ref_caption, note=ref_note,
                    base_model=base_model)
        md += "\n" + render(ref_summary, "md", caption=f"*{ref_caption}*") + "\n" + ref_note
        md += "\n" + render(ref_summary, "md", columns=DIVERSITY_COLUMNS,
                            caption=f"*{task}, the authors' outputs: the diversity measures of current work*")
        for steer_row in steer_rows(ref_summary):  # the whole steer file, and its final-formula part
            paragraphs.append(paragraph(task, ref_summary, steer_row, context=" (authors' Falcon-7B outputs)"))
    if not info["selected"]:
        md += f"\n_No STEER point selected from the sweep ({info['selection_note']}); steer is judged at {info['steer_label']}._\n"
    if info["missing"]:
        md += f"\n_not recorded yet: {', '.join(info['missing'])}_\n"
    return PaperSection(md, paragraphs, summary.empty)
