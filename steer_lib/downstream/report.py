"""Downstream results as tables and figures, and the authors' outputs as stand-in synthetic data.

- :func:`summarise`: mean ± sd over seeds per (method, setting);
- :func:`to_markdown`, :func:`plot` (grouped bars with sd error bars);
- :func:`save_outputs`: ``results/<profile>/downstream_<task>{.csv,.md,_seeds.csv,.json}`` and
  ``figures/<profile>/06_downstream_<task>.{png,pdf}`` (the name notebook 06 uses), written atomically;
- :func:`reference_synthetic`: the authors' released Falcon-7B samples (comments split into their toxic and
  non-toxic runs by line range) in the shape the
  experiments take -- a sanity check of the set-up, not a result of this kit's generators.

>>> df = pd.DataFrame({"method": ["real-only"] * 2, "setting": ["real"] * 2, "seed": [0, 1],
...                    "accuracy": [0.5, 0.7], "n_train": [10, 10]})
>>> s = summarise(df); float(s.accuracy_mean[0]), round(float(s.accuracy_sd[0]), 3), int(s.n_seeds[0])
(0.6, 0.141, 2)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .. import paths
from ..files import write_atomic, write_json

METRICS = ("accuracy", "f1", "roc_auc")
SETTING_ORDER = ("real", "real+synthetic", "synthetic")
COUNTS = ("n_train", "n_real", "n_synth", "n_generated", "n_accepted", "n_rejected")
# The authors released 8 beam-search questions: too few to train on, so the stand-in skips them.
REFERENCE_SKIP = {"commonsense": ("beam",)}


def _check(df: pd.DataFrame) -> list[str]:
    if not isinstance(df, pd.DataFrame) or df.empty:
        raise ValueError("expected a non-empty DataFrame from toxicity_experiment / mcqa_experiment")
    missing = [c for c in ("method", "setting", "seed") if c not in df.columns]
    metrics = [m for m in METRICS if m in df.columns]
    if missing or not metrics:
        raise ValueError(f"results lack columns {missing or list(METRICS)}; got {list(df.columns)}")
    return metrics


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (method, setting): ``<metric>_mean``, ``<metric>_sd`` (ddof=1; NaN for one seed),
    ``n_seeds`` and the mean of each count column; real-only first, then methods as they came."""
    metrics = _check(df)
    order = {m: i for i, m in enumerate(dict.fromkeys(df["method"]))}
    counts = [c for c in COUNTS if c in df.columns]
    g = df.groupby(["method", "setting"], sort=False)
    out = g[metrics].agg(["mean", "std"])
    out.columns = [f"{m}_{'sd' if s == 'std' else s}" for m, s in out.columns]
    out["n_seeds"] = g["seed"].nunique()
    for c in counts:
        out[c] = g[c].mean().round(1)
    out = out.reset_index()
    key = out["method"].map(lambda m: (m != "real-only", order[m]))
    out = out.assign(_k=key, _s=out["setting"].map(SETTING_ORDER.index)).sort_values(["_k", "_s"])
    return out.drop(columns=["_k", "_s"]).reset_index(drop=True)


def to_markdown(summary: pd.DataFrame) -> str:
    """A GitHub table with ``mean ± sd`` cells (sd shown as – for a single seed)."""
    metrics = [m for m in METRICS if f"{m}_mean" in summary.columns]
    counts = [c for c in COUNTS if c in summary.columns]
    head = ["method", "setting", *metrics, "seeds", *counts]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, r in summary.iterrows():
        cells = [str(r["method"]), str(r["setting"])]
        for m in metrics:
            sd = r[f"{m}_sd"]
            cells.append(f"{r[f'{m}_mean']:.3f} ± {'–' if pd.isna(sd) else f'{sd:.3f}'}")
        cells.append(str(int(r["n_seeds"])))
        cells += [f"{r[c]:g}" for c in counts]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def vs_real_markdown(rows: list[dict] | None) -> str:
    """The accuracy differences from real-only (``df.attrs["vs_real"]``) as a small table; "" when there are none.

    >>> print(vs_real_markdown([{"method": "m", "setting": "synthetic", "diff": 0.01, "ci_lo": -0.02,
    ...                          "ci_hi": 0.04, "separated": False, "seeds": 3}]).strip())
    Accuracy minus real-only (paired bootstrap over the held-out items, 95 %):
    <BLANKLINE>
    | method | setting | difference | 95 % interval | told apart |
    |---|---|---|---|---|
    | m | synthetic | +0.010 | −0.020 to +0.040 | no |
    """
    if not rows:
        return ""
    fmt = lambda v: f"{v:+.3f}".replace("-", "−")  # noqa: E731
    lines = ["", "Accuracy minus real-only (paired bootstrap over the held-out items, 95 %):", "",
             "| method | setting | difference | 95 % interval | told apart |", "|---|---|---|---|---|"]
    lines += [f"| {r['method']} | {r['setting']} | {fmt(r['diff'])} | {fmt(r['ci_lo'])} to {fmt(r['ci_hi'])} | "
              f"{'yes' if r['separated'] else 'no'} |" for r in rows]
    return "\n".join(lines) + "\n"


def power_line(df: pd.DataFrame) -> str:
    """What a run could tell apart: held-out items, synthetic examples per setting, and the paired intervals' widths.

    A paired interval's half-width is about the smallest accuracy difference from real-only the run could detect, so
    this says before any bar is read which differences are within reach ("" when the run recorded no comparison).

    >>> df = pd.DataFrame({"method": ["real-only", "m", "m"], "setting": ["real", "synthetic", "real+synthetic"],
    ...                    "seed": [0, 0, 0], "n_synth": [0, 40, 40]})
    >>> df.attrs["test_correct"] = {("real-only", "real", 0): [1, 0] * 100}
    >>> df.attrs["vs_real"] = [{"ci_lo": -0.05, "ci_hi": 0.03, "separated": False},
    ...                        {"ci_lo": 0.01, "ci_hi": 0.07, "separated": True}]
    >>> print(power_line(df))
    200 held-out items, 40 synthetic examples per setting, 1 seed(s): the 95 % intervals reach ±0.030 to ±0.040 around each difference, so a setting has to move accuracy by about that much before this run can tell it from real-only; 1 of 2 settings were told apart.
    """
    rows = df.attrs.get("vs_real") or []
    hits = df.attrs.get("test_correct") or df.attrs.get("dev_correct") or {}
    if not rows or not hits:
        return ""
    items = len(next(iter(hits.values())))
    half = [(r["ci_hi"] - r["ci_lo"]) / 2 for r in rows]
    synth = sorted({int(n) for n in df.loc[df["n_synth"] > 0, "n_synth"]}) if "n_synth" in df else []
    per = (f"{synth[0]}" if len(synth) == 1 else f"{synth[0]}–{synth[-1]}") if synth else "no"
    return (f"{items} held-out items, {per} synthetic examples per setting, {df['seed'].nunique()} seed(s): the 95 % "
            f"intervals reach ±{min(half):.3f} to ±{max(half):.3f} around each difference, so a setting has to move "
            f"accuracy by about that much before this run can tell it from real-only; "
            f"{sum(bool(r['separated']) for r in rows)} of {len(rows)} settings were told apart.")


def plot(df: pd.DataFrame, ax=None, metric: str = "accuracy", chance: float | None = None):
    """Grouped bars: one group per method, one bar per setting, error bars = sd over seeds."""
    import matplotlib.pyplot as plt

    if metric not in _check(df):
        raise ValueError(f"metric={metric!r} is not in the results; available: {_check(df)}")
    s = summarise(df)
    if ax is None:
        _, ax = plt.subplots(figsize=(max(5.0, 1.1 * s["method"].nunique() + 2), 3.6))
    methods = list(dict.fromkeys(s["method"]))
    settings = [x for x in SETTING_ORDER if x in set(s["setting"])]
    width = 0.8 / len(settings)
    for j, setting in enumerate(settings):
        sub = s[s["setting"] == setting].set_index("method")
        xs = [i + (j - (len(settings) - 1) / 2) * width for i, m in enumerate(methods) if m in sub.index]
        ms = [m for m in methods if m in sub.index]
        ax.bar(xs, sub.loc[ms, f"{metric}_mean"], width, yerr=sub.loc[ms, f"{metric}_sd"].fillna(0),
               capsize=3, label=setting)
    if chance is not None:
        ax.axhline(chance, color="grey", ls="--", lw=1, label=f"chance ({chance:.0%})")
    zero = df.attrs.get("zero_shot") if metric == "accuracy" else None
    if zero is not None:  # the untrained embedder's own score (QA: most similar option)
        ax.axhline(zero, color="black", ls=":", lw=1, label=f"zero-shot similarity ({zero:.1%})")
    ax.set_xticks(range(len(methods)), methods, rotation=30, ha="right")
    ax.set_ylabel(f"{metric} (held-out)")
    lo = np.nanmin(s[f"{metric}_mean"] - s[f"{metric}_sd"].fillna(0))
    ax.set_ylim(max(0.0, min(lo, chance if chance is not None else lo) - 0.05), None)
    ax.legend(fontsize=8, frameon=False)
    return ax


def records(df: pd.DataFrame) -> list[dict]:
    """Rows as dicts with NaN (the sd of a single seed) as None, so JSON output is strict JSON."""
    return [{k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
            for r in df.to_dict(orient="records")]


def save_outputs(df: pd.DataFrame, task: str, profile: str, *, tag: str = "", chance: float | None = None,
                 meta: dict | None = None, base_model: str = "") -> dict[str, Path]:
    """Write the summary (csv, md, json), the per-seed rows and the bar chart; return their paths."""
    import matplotlib.pyplot as plt

    from ..plots import savefig

    name = f"downstream_{task}{'_' + tag if tag else ''}"
    out = paths.results_dir(profile, base_model)
    s = summarise(df)
    written = {"csv": out / f"{name}.csv", "md": out / f"{name}.md", "seeds_csv": out / f"{name}_seeds.csv",
               "json": out / f"{name}.json"}
    write_atomic(written["csv"], s.to_csv(index=False))
    write_atomic(written["seeds_csv"], df.to_csv(index=False))
    notes = "".join(f"\n{k.replace('_', ' ')}: {df.attrs[k]:.3f}\n" for k in ("zero_shot",) if k in df.attrs)
    notes += vs_real_markdown(df.attrs.get("vs_real"))
    write_atomic(written["md"], to_markdown(s) + notes)
    extra = {"rejections": df.attrs.get("rejections", {}), "zero_shot": df.attrs.get("zero_shot"),
             "vs_real": df.attrs.get("vs_real", []), **(meta or {})}
    blob = {"task": task, "profile": profile, "base_model": base_model, "tag": tag, **extra, "summary": records(s)}
    write_json(written["json"], blob, strict=False, default=str)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * s["method"].nunique() + 2), 3.6))
    plot(df, ax=ax, chance=chance)
    model = f", {base_model}" if base_model else ""
    ax.set_title(f"Downstream {task}{' (' + tag + ')' if tag else ''}{model}: held-out accuracy, mean ± sd over "
                 "seeds", fontsize=9)
    written["png"] = savefig(fig, f"06_{name}", profile, base_model)  # the name notebook 06 saves its figure under
    written["pdf"] = written["png"].with_suffix(".pdf")
    plt.close(fig)
    return written


def reference_synthetic(task: str, methods: list[str] | None = None) -> dict:
    """The authors' released samples per row label (``top_k``, ``top-k (their 'contrastive')``, …), shaped for
    the experiments.

    ``commonsense``: ``{label: texts}``. ``comments``: ``{label: {"toxic": [...], "non-toxic": [...]}}``, each
    class the lines of the run generated under that prompt (every released comments file holds one toxic and
    one non-toxic run; the line ranges are :data:`steer_lib.authors.outputs.PARTS`).
    """
    from ..authors.outputs import label, load_reference, method_name, reference_methods

    if task not in ("comments", "commonsense"):
        raise ValueError(f"task={task!r} is not one of ('comments', 'commonsense')")
    theirs = [m for m in reference_methods(task) if m not in REFERENCE_SKIP.get(task, ())]
    by_label = {label(m): m for m in theirs}
    methods = list(methods or by_label)
    unknown = [m for m in methods if method_name(m) not in theirs]
    if unknown:
        raise ValueError(f"no released outputs for {unknown}; available: {', '.join(by_label)}")
    names = {label(method_name(m)): method_name(m) for m in methods}
    if task == "commonsense":
        return {lab: load_reference(task, m) for lab, m in names.items()}
    return {lab: {"toxic": load_reference("comments-toxic", m), "non-toxic": load_reference("comments-nontoxic", m)}
            for lab, m in names.items()}
