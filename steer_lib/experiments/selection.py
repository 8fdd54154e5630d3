"""Which STEER point to report, and which points nobody beats: the two judgements the tables and figures share.

- :data:`SELECTION_RULE` / :func:`select_point` -- the STEER (γ, η) to report, by a rule fixed before any result is
  seen, scored on the *validation* split;
- :func:`pareto_front` -- which points no other point beats on both diversity and fidelity.

Pure functions of recorded numbers: nothing here reads files, embeds texts or draws.

>>> pareto_front([0.9, 0.5, 0.4, 0.95], [0.3, 0.8, 0.7, 0.2])  # (0.4, 0.7) is beaten by (0.5, 0.8)
[True, True, False, True]
"""
from __future__ import annotations

import math
from typing import Sequence

import pandas as pd

SELECTION_RULE = ("The reported STEER point is the grid point (γ, η) with the highest MAUVE × normalised 3-grams × "
                  "validity, MAUVE measured against the real *validation* split (held out from the training pool "
                  "the test numbers use), validity the share of samples the task's parser accepts (only those are "
                  "usable as data), averaged over seeds; ties go to the smaller γ + η. When MAUVE is undefined at "
                  "every point (fewer than 20 samples, as at the smoke size), 1 − validation adversarial AUROC "
                  "takes its place.")



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

