"""The ablation figures: γ×η heatmaps (the paper's figure) and the diversity–fidelity Pareto scatter.

Both take the tables :mod:`steer_lib.experiments.sweep` and :mod:`steer_lib.experiments.results` return and draw only;
saving goes through :func:`steer_lib.plots.savefig` (PNG + PDF under ``figures/<profile>/``).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .selection import pareto_front

HEATMAP_METRICS = (("adv_auroc", "adversarial AUROC ↓", "viridis_r"), ("ngram3", "normalised 3-grams ↑", "viridis"),
                   ("mauve", "MAUVE ↑", "viridis"))
# Any recorded metric can be drawn: name it in ``heatmaps(metrics=[...])`` and it takes its title and colour map
# from here (bright = better; "cividis" for a value with no better direction, such as length).
HEATMAP_STYLES = {c: (name, cmap) for c, name, cmap in HEATMAP_METRICS} | {
    "diversity": ("diversity ↑", "viridis"), "cosine": ("cosine ↑", "viridis"), "validity": ("validity ↑", "viridis"),
    "alpha_precision": ("α-precision ↑", "viridis"), "beta_recall": ("β-recall ↑", "viridis"),
    "compression_ratio": ("compression ratio ↓", "viridis_r"), "self_repetition": ("self-repetition ↓", "viridis_r"),
    "self_bleu": ("Self-BLEU ↓", "viridis_r"), "vendi": ("Vendi score ↑", "viridis"),
    "mean_length": ("mean length (tokens)", "cividis"), "length_sd": ("length sd (tokens)", "cividis")}
DIVERSITY_HEATMAPS = ("compression_ratio", "self_bleu", "vendi", "mean_length")  # the set_diversity measures
OWN_SPREAD = {"mauve": "mauve_sd", "adv_auroc": "adv_auroc_sd"}  # a single run's own spread (k-means seeds, CV folds); colour maps: bright = better


def grid_stats(df: pd.DataFrame, metric: str, seed_word: str = "seeds") -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Mean and spread of ``metric`` as γ (rows) × η (columns) tables, and what the spread is.

    The spread is the sd over seeds when any point has two or more; with one seed it is the
    metric's own sd (``mauve_sd`` over k-means seeds, ``adv_auroc_sd`` over CV folds) when recorded.
    """
    g = df.groupby(["gamma", "eta"])[metric]
    mean = g.mean().unstack("eta").sort_index()
    if g.size().max() > 1:
        sd = g.std(ddof=1).unstack("eta").reindex_like(mean)
        if (sd.fillna(0).abs() < 1e-12).all().all():  # e.g. 3-grams of a fixed set: only the real draw varies
            return mean, sd * np.nan, f"identical over {int(g.size().max())} {seed_word}"
        return mean, sd, f"sd over {int(g.size().max())} {seed_word}"
    one = f"1 {seed_word[:-1] if seed_word.endswith('s') else seed_word}"  # "1 seed", "1 scoring seed"
    own = OWN_SPREAD.get(metric)
    if own and own in df and df[own].notna().any():
        what = "k-means seeds" if metric == "mauve" else "CV folds"
        return mean, df.groupby(["gamma", "eta"])[own].mean().unstack("eta").reindex_like(mean), f"{one}; sd over {what}"
    return mean, mean * np.nan, f"{one}; no spread"


def heatmap_spec(metric) -> tuple[str, str, str]:
    """``(column, title, colour map)`` of a heatmap: a tuple as given, or a column name looked up in
    :data:`HEATMAP_STYLES` (any other column gets its name as title).

    >>> heatmap_spec("vendi"), heatmap_spec(("mauve", "M", "magma"))[2], heatmap_spec("n")[1]
    (('vendi', 'Vendi score ↑', 'viridis'), 'magma', 'n')
    """
    if isinstance(metric, str):
        return (metric, *HEATMAP_STYLES.get(metric, (metric, "cividis")))
    if len(metric) != 3:
        raise ValueError(f"metric={metric!r} must be a column name or a (column, title, colour map) tuple")
    return tuple(metric)


def heatmaps(df: pd.DataFrame, title: str, metrics=HEATMAP_METRICS, seed_word: str = "seeds"):
    """One heatmap per metric over (γ, η): cell = mean, with ± spread written under it.

    ``metrics``: column names (e.g. :data:`DIVERSITY_HEATMAPS`) or ``(column, title, colour map)`` tuples.
    ``seed_word`` names what the seeds vary (``"scoring seeds"`` for a fixed set scored several times).
    """
    import matplotlib.pyplot as plt

    metrics = [heatmap_spec(m) for m in metrics]
    missing = [c for c, _, _ in metrics if c not in df]
    if missing:
        raise ValueError(f"heatmaps: no column {missing} in the sweep (recorded before METRICS_VERSION 3?); "
                         f"columns: {sorted(df.columns)}")
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.6 * len(metrics), 4.0))
    for ax, (col, name, cmap) in zip(np.atleast_1d(axes), metrics):
        mean, spread, what = grid_stats(df, col, seed_word)
        if mean.isna().all().all():  # e.g. MAUVE at the smoke size: say so instead of an empty square
            ax.text(0.5, 0.5, f"{name}: NaN at every point\n(too few samples for this metric)", ha="center",
                    va="center", transform=ax.transAxes, fontsize=9)
            ax.set_axis_off()
            continue
        im = ax.imshow(mean.values.astype(float), cmap=cmap, origin="lower", aspect="auto")
        for i in range(mean.shape[0]):
            for j in range(mean.shape[1]):
                m, s = mean.values[i, j], spread.values[i, j]
                if math.isnan(m):
                    continue
                txt = f"{m:.3f}" + (f"\n±{s:.3f}" if not math.isnan(s) else "")
                rgb = im.cmap(im.norm(m))[:3]
                ax.text(j, i, txt, ha="center", va="center", fontsize=8,
                        color="white" if sum(rgb) < 1.5 else "black")
        ax.set_xticks(range(mean.shape[1]), [f"{e:g}" for e in mean.columns])
        ax.set_yticks(range(mean.shape[0]), [f"{g:g}" for g in mean.index])
        ax.set_xlabel("η (negative prompting)")
        ax.set_ylabel("γ (contrastive expert guidance)")
        ax.set_title(f"{name}\n({what})", fontsize=9)
        ax.grid(False)
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.suptitle(title, y=1.02)
    fig.tight_layout()
    return fig


AUTHORS_GRID_TITLE = "hypotheses: the authors' Falcon-7B γ × η grid, scored by the kit"


def authors_grid_heatmaps(df: pd.DataFrame):
    """The authors' released grid scored by the kit (:func:`~steer_lib.experiments.results.score_authors_grid`).

    Notebook 05 draws it, and the README's copy (``docs/img/authors_grid_heatmaps.png``) is this figure at the
    ``quick`` setting, every scoring seed of ``results.GRID_SEEDS``: each panel's subtitle says how many seeds the
    cells average, so the caption cannot drift from the data.
    """
    return heatmaps(df, AUTHORS_GRID_TITLE, seed_word="scoring seeds")


def _err(df: pd.DataFrame, col: str) -> np.ndarray | None:
    """Error-bar half-widths: seed sd if present, else the bootstrap CI (``<col>_ci``), else the metric's own sd."""
    if f"{col}_sd_seeds" in df and df[f"{col}_sd_seeds"].notna().any():
        return df[f"{col}_sd_seeds"].fillna(0).to_numpy(float)
    if f"{col}_ci" in df and df[f"{col}_ci"].notna().any():
        ci = df[f"{col}_ci"].apply(lambda v: v if isinstance(v, (list, tuple)) else (np.nan, np.nan))
        lo, hi = np.array([c[0] for c in ci], float), np.array([c[1] for c in ci], float)
        return np.nan_to_num((hi - lo) / 2)
    own = OWN_SPREAD.get(col)
    if own and own in df and df[own].notna().any():
        return df[own].fillna(0).to_numpy(float)
    return None


def pareto_points(metrics: pd.DataFrame, baselines: list[str], sweep: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per point to plot: the labelled baseline rows and every grid point, seeds averaged.

    Columns: label, kind (``baseline``, or ``grid`` for any STEER point), ngram3, mauve, adv_auroc, their ``*_sd_seeds``
    (sd over seeds, NaN with one seed), the metrics' own ``mauve_sd`` / ``adv_auroc_sd``, and seeds.
    """
    cols = ["ngram3", "mauve", "adv_auroc", "mauve_sd", "adv_auroc_sd"]
    parts = []
    base = metrics[metrics["label"].isin(baselines)]
    if not base.empty:
        parts.append(base.groupby("label", sort=False).agg(**{c: (c, "mean") for c in cols},
                                                             **{f"{c}_sd_seeds": (c, "std") for c in cols[:3]},
                                                             seeds=("ngram3", "size")))
        parts[-1]["kind"] = ["grid" if lab.startswith("steer") else "baseline" for lab in parts[-1].index]
    if sweep is not None and not sweep.empty:
        g = sweep.groupby(["gamma", "eta"]).agg(**{c: (c, "mean") for c in cols},
                                                **{f"{c}_sd_seeds": (c, "std") for c in cols[:3]},
                                                seeds=("ngram3", "size"))
        g.index = [f"steer γ={a:g} η={b:g}" for a, b in g.index]
        parts.append(g[~g.index.isin(base["label"])].assign(kind="grid"))
    out = pd.concat(parts) if parts else pd.DataFrame(columns=cols + ["kind"])
    return out.rename_axis("label").reset_index()


def _as_share(values: np.ndarray):
    """A function mapping a value to its place in the finite range of ``values`` (0 at the least, 1 at the most)."""
    finite = values[np.isfinite(values)]
    lo = float(finite.min()) if len(finite) else 0.0
    span = (float(finite.max()) - lo) if len(finite) else 0.0
    return lambda v: (v - lo) / (span or 1.0)


def pareto_plot(points: pd.DataFrame, title: str, highlight: str | None = None):
    """Diversity (3-grams) against MAUVE and against 1 − AUROC, intervals on both axes, fronts drawn."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    x, xerr = points["ngram3"].to_numpy(float), _err(points, "ngram3")
    for ax, col, name in ((axes[0], "mauve", "MAUVE ↑"), (axes[1], "adv_auroc", "1 − adversarial AUROC ↑")):
        y = points[col].to_numpy(float)
        y = 1 - y if col == "adv_auroc" else y
        yerr = _err(points, col)
        for kind, marker, color in (("baseline", "o", "tab:blue"), ("grid", "s", "tab:purple")):
            m = (points["kind"] == kind).to_numpy()
            if m.any():
                ax.errorbar(x[m], y[m], xerr=None if xerr is None else xerr[m], yerr=None if yerr is None else yerr[m],
                            fmt=marker, color=color, ms=5, capsize=2, lw=0.8, alpha=0.85,
                            label="baselines" if kind == "baseline" else "STEER grid (γ, η)")
        hl = {highlight, highlight.replace("steer ", "")} if highlight else set()
        names: dict[tuple, list] = {}  # one label per position: points at the same place (a γ = 0 grid point and
        for lab, xi, yi, kind in zip(points["label"], x, y, points["kind"]):  # negative_only, one set) are named once
            names.setdefault((round(float(xi), 9), round(float(yi), 9)), []).append(
                lab.replace("steer ", "") if kind == "grid" else lab)
        placed: list[tuple[float, float]] = []  # label anchors so far, as shares of the axes' ranges
        share_x, share_y = _as_share(x), _as_share(y)
        for (xi, yi), labs in sorted(names.items(), key=lambda kv: (-kv[0][1], kv[0][0])):
            if not (math.isnan(xi) or math.isnan(yi)):
                u, v = share_x(xi), share_y(yi)
                crowded = any(abs(u - a) < 0.12 and abs(v - b) < 0.05 for a, b in placed)
                placed.append((u, v))  # a label next to another's goes below its point, not on top of it
                ax.annotate(" = ".join(labs), (xi, yi), fontsize=6.5, xytext=(3, -9 if crowded else 3),
                            textcoords="offset points", weight="bold" if hl & set(labs) else "normal")
        front = np.array(pareto_front(x.tolist(), y.tolist()))
        if front.any():  # a staircase through the front points, each ringed (a one-point front stays visible)
            order = np.argsort(x[front])
            ax.plot(x[front][order], y[front][order], "--", color="tab:red", lw=1.2, drawstyle="steps-post",
                    marker="o", ms=9, mfc="none", mec="tab:red", label="Pareto front")
        if highlight is not None and (points["label"] == highlight).any():
            i = int(np.flatnonzero(points["label"].to_numpy() == highlight)[0])
            ax.scatter([x[i]], [y[i]], s=260, marker="*", facecolors="none", edgecolors="black", lw=1.0,
                       label=f"reported (star): {highlight}" + (" = negative prompting alone"
                                                                if highlight.startswith("steer γ=0 ") else ""), zorder=5)
        ax.set_xlabel("normalised 3-grams ↑ (diversity)")
        ax.set_ylabel(name + " (fidelity)")
    # one legend for both panels, below them: inside a panel it covered points and their labels
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=min(4, len(handles)), fontsize=8, frameon=False)
    seeds = int(points["seeds"].max()) if "seeds" in points and len(points) else 1
    how = f"sd over {seeds} seeds" if seeds > 1 else "1 seed: MAUVE sd over k-means seeds, AUROC sd over CV folds"
    fig.suptitle(f"{title}\nintervals: {how}", y=1.03, fontsize=10)
    fig.tight_layout(rect=(0, 0.07 if handles else 0, 1, 1))
    return fig
