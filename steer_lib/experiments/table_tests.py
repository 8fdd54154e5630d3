"""The bootstrap tests behind a table's bold and ≈ marks and the paragraph's "cannot be told apart": they re-embed
every recorded sample set (minutes at ``quick``), so only a caller that asks for them runs them
(:func:`steer_lib.experiments.tables.task_table` with ``test=True``, notebook 07's :func:`~steer_lib.experiments.tables.paper_section`)."""
from __future__ import annotations

import pandas as pd

from .narration import PARAGRAPH_COLUMNS, peers_of
from .table_render import COLUMNS, DIVERSITY_COLUMNS


def _sources(rows: pd.DataFrame, task: str, profile: str, n: int, base_model: str = "") -> dict[str, list]:
    """``label → [(generation JSONL, seed), …]``: where each row's sample sets are (sweep points via the sweep)."""
    from .. import paths
    from ..data.tasks import get_task
    from .sweep import point_paths

    folder = paths.profile_runs_dir(profile, base_model) / "generations" / get_task(task).name
    out: dict[str, list] = {}
    for _, r in rows.iterrows():
        if isinstance(r.get("tag"), str):
            gen = folder / f"{r['tag']}.jsonl"
        else:  # a sweep record: the sweep knows where its set is (γ = 0 reuses negative_only's)
            gen = point_paths(task, float(r["gamma"]), float(r["eta"]), int(r["seed"]), profile, n,
                         base_model)["generation"]
        out.setdefault(r["label"], []).append((gen, int(r["seed"])))
    return out


def attach_tests(summary: pd.DataFrame, rows: pd.DataFrame, task: str, profile: str, cfg, steer_label: str,
                 embedder, base_model: str = "") -> None:
    """Fill ``summary.attrs``: ``significance`` (best vs runner-up per column, both tables) and ``steer_vs``
    (STEER vs its nearest baseline on the paragraph's measures), from the recorded sample sets."""
    from . import significance

    sources, memo = _sources(rows, task, profile, cfg.n_samples, base_model), {}  # memo: STEER's pairs are often the table's
    summary.attrs["significance"] = significance.compare(summary, COLUMNS + DIVERSITY_COLUMNS, sources, task,
                                                         n=cfg.n_samples, embedder=embedder, memo=memo)
    if steer_label not in summary.index:
        return
    peers = peers_of(summary, steer_label)  # never its own samples under another name
    pairs = {}
    for col, d, _ in PARAGRAPH_COLUMNS:
        if col not in peers or peers[col].notna().sum() < 2 or pd.isna(peers.loc[steer_label, col]):
            continue
        order = peers[col].dropna().sort_values(ascending=d < 0).index.tolist()
        others = [lab for lab in order if lab != steer_label]
        pairs[col] = (steer_label, others[0])  # the best baseline, or the runner-up when STEER is best
    summary.attrs["steer_vs"] = significance.compare(summary, [(c, d) for c, d, _ in PARAGRAPH_COLUMNS], sources,
                                                     task, n=cfg.n_samples, embedder=embedder, pairs=pairs, memo=memo)

