"""Notebook 05's evidence on what γ does to the *content* of the samples, read from the sets already generated.

- :func:`domain_words`: the words with the largest ``log P_θ − log P_φ`` over real texts (what the γ term amplifies);
- :func:`content_sets`: the real set and each method's samples, by a label saying what varies (top-k, η only, γ only,
  γ = η), read from the cached generations (never generated here: missing ones are named);
- :func:`word_shares`: the share of each set's texts that contain each word;
- :func:`set_log_ratios`: each set's mean ``log P_θ − log P_φ`` per token, the very quantity the γ term rewards;
- :func:`centroid_shift`: each grid point's embedding centroid distance to the real set, as γ grows;
- :func:`negative_sources`: how many of the negatives N that each set drew were real examples and how many were
  earlier synthetic samples (from the ``negative_is_real`` the generation records carry).
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pandas as pd

from .. import paths
from ..config import check_profile
from ..data.tasks import get_task
from ..files import read_jsonl
from .experiment import ExperimentConfig, generation_path

# Real texts scored by P_θ and P_φ for :func:`domain_words`: two forward passes each, seconds on a CPU at smoke.
CONTENT_TEXTS = {"smoke": 48, "quick": 200, "paper": 1000}


def scored_tokens(task: str, profile: str) -> int:
    """How many tokens of each text the log-ratio measures score: the profile's generation budget for the task.

    A sample never runs past it, so real text is measured on the same stretch a sampler writes; it also keeps one
    2,000-token comment from costing as much as fifty short ones (notebook 05 spent most of its content section there).
    """
    return ExperimentConfig.for_profile(check_profile(profile)).max_new_tokens or get_task(task).max_new_tokens


def real_sample(task: str, n: int, split: str = "train", seed: int = 0) -> list[str]:
    """``n`` real texts of ``split`` drawn without replacement by a fixed seed (all of them when fewer)."""
    if n < 1:
        raise ValueError(f"n={n!r} must be at least 1")
    texts = get_task(task).real_texts(split)
    return random.Random(seed).sample(texts, min(n, len(texts)))


def domain_words(task: str, profile: str, base_model: str = "", *, n_texts: int | None = None,
                 min_share: float = 0.02, batch_size: int = 8) -> tuple[pd.DataFrame, float, int]:
    """The real corpus' words ranked by how much fine-tuning raised their log-probability (P_θ over P_φ).

    Scores the first :func:`scored_tokens` tokens of ``n_texts`` real training texts (default
    :data:`CONTENT_TEXTS` of the profile) with the task's cached P_θ; keeps words found in at least ``min_share`` of
    them (and at least two), so the top of the table is the domain's recurring vocabulary rather than one-off
    names. Returns ``(table, mean_log_ratio_per_token, texts_scored)``; the table's columns are those of
    :func:`steer_lib.metrics.contrast.word_log_ratios`.
    """
    from ..metrics.contrast import word_log_ratios
    from .experiment import cached_domain_model

    check_profile(profile)
    if not 0 <= min_share < 1:
        raise ValueError(f"min_share={min_share!r} must be in [0, 1)")
    texts = real_sample(task, n_texts or CONTENT_TEXTS[profile])
    model, tok = cached_domain_model(get_task(task).name, profile, base_model)
    min_texts = max(2, int(min_share * len(texts) + 0.999))
    table, mean_token = word_log_ratios(model, tok, texts, prompt=get_task(task).prompt, batch_size=batch_size,
                                        min_texts=min_texts, max_tokens=scored_tokens(task, profile))
    return table, mean_token, len(texts)


def _point_path(task: str, gamma: float, eta: float, *, profile: str, seed: int, base_model: str) -> Path:
    """Where the sweep keeps grid point (γ, η): STEER's file, or negative_only's (the same samples) at γ = 0."""
    steer = generation_path(task, "steer", profile=profile, seed=seed, gamma=gamma, eta=eta, base_model=base_model)
    if steer.is_file() or gamma != 0 or eta == 0:
        return steer
    return generation_path(task, "negative_only", profile=profile, seed=seed, eta=eta, base_model=base_model)


def _set_paths(task: str, profile: str, base_model: str, seed: int) -> dict[str, Path]:
    cfg = ExperimentConfig.for_profile(profile)
    g, e = cfg.gamma, cfg.eta
    kw = {"profile": profile, "seed": seed, "base_model": base_model}
    labels = set_labels(profile)
    return {labels["top_k"]: generation_path(task, "top_k", **kw),
            labels["none"]: _point_path(task, 0.0, 0.0, **kw),
            labels["eta"]: _point_path(task, 0.0, e, **kw),
            labels["gamma"]: _point_path(task, g, 0.0, **kw),
            labels["both"]: _point_path(task, g, e, **kw)}


def set_labels(profile: str) -> dict[str, str]:
    """What each compared set is called: the ``top_k`` baseline, and STEER at γ = η = 0, η only, γ only, both.

    >>> set_labels("quick")["both"], set_labels("quick")["gamma"]
    ('γ = η = 0.3', 'γ only (γ=0.3, η=0)')
    """
    cfg = ExperimentConfig.for_profile(check_profile(profile))
    g, e = cfg.gamma, cfg.eta
    return {"top_k": "top-k", "none": "γ = η = 0", "eta": f"η only (γ=0, η={e:g})",
            "gamma": f"γ only (γ={g:g}, η=0)", "both": f"γ = η = {g:g}" if g == e else f"γ={g:g}, η={e:g}"}


def gamma_pairs(profile: str) -> list[tuple[str, str]]:
    """The pairs of sets that differ only by γ (same sampler, same η): ``(with γ, without γ)`` labels."""
    labels = set_labels(profile)
    return [(labels["gamma"], labels["none"]), (labels["both"], labels["eta"])]


def content_sets(task: str, profile: str, base_model: str = "", seed: int = 0
                 ) -> tuple[dict[str, list[str]], list[str]]:
    """``({label: texts}, missing)``: a held-out real set of the profile's sample count, then each method's samples.

    The first set, ``real (validation)``, is as large as a synthetic set: it shows what sampling noise alone does
    to a share or a centroid. Sets not generated yet are listed in ``missing`` (run notebooks 03 and 05 first).
    """
    cfg = ExperimentConfig.for_profile(check_profile(profile))
    sets = {"real (validation)": real_sample(task, cfg.n_samples, split="val")}
    missing = []
    for label, path in _set_paths(task, profile, base_model, seed).items():
        if path.is_file():
            sets[label] = [r["text"] for r in read_jsonl(path)][: cfg.n_samples]
        else:
            missing.append(f"{label} ({path.name})")
    return sets, missing


def word_shares(sets: dict[str, list[str]], words: list[str]) -> pd.DataFrame:
    """One row per set, one column per word: the share of the set's texts containing the word; plus ``n``."""
    from ..metrics.contrast import share_containing

    if not words:
        raise ValueError("words is empty: name at least one word to count")
    rows = {label: {**share_containing(texts, words), "n": len(texts)} for label, texts in sets.items()}
    return pd.DataFrame.from_dict(rows, orient="index")[["n", *words]]


def set_log_ratios(task: str, profile: str, sets: dict[str, list[str]], base_model: str = "",
                   batch_size: int = 8) -> pd.DataFrame:
    """One row per set: the mean ``log P_θ − log P_φ`` per token of its texts (``mean_log_ratio``), and ``tokens``.

    The γ term adds γ times this quantity to every token's score, so a set sampled with γ > 0 is expected to score
    higher than the same sampler at γ = 0; the real set shows what fine-tuning made of real text (its first
    :func:`scored_tokens` tokens, the stretch a sample can cover).
    """
    import numpy as np

    from ..metrics.contrast import token_log_ratios
    from .experiment import cached_domain_model

    t = get_task(task)
    model, tok = cached_domain_model(t.name, check_profile(profile), base_model)
    cap = scored_tokens(task, profile)
    rows = {}
    for label, texts in sets.items():
        texts = [x for x in texts if x.strip()]
        if not texts:
            rows[label] = {"mean_log_ratio": float("nan"), "tokens": 0}
            continue
        ratios = np.concatenate([r for _, r in token_log_ratios(model, tok, texts, prompt=t.prompt,
                                                                 batch_size=batch_size, max_tokens=cap)])
        rows[label] = {"mean_log_ratio": float(ratios.mean()) if len(ratios) else float("nan"), "tokens": len(ratios)}
    return pd.DataFrame.from_dict(rows, orient="index")


def centroid_shift(task: str, profile: str, base_model: str = "", seed: int = 0, embedder: Any = None
                   ) -> pd.DataFrame:
    """Each generated grid point's centroid distance to the real training set, one row per (η, γ).

    Columns: ``eta``, ``gamma``, ``n``, ``distance``. A row ``gamma = NaN`` per table is the noise floor: a held-out
    real set of the same size. Grid points not generated yet are left out.
    """
    from ..metrics.contrast import centroid_distance
    from ..metrics.embeddings import as_embedder

    cfg = ExperimentConfig.for_profile(check_profile(profile))
    emb = as_embedder(embedder)
    real = emb.encode(get_task(task).real_texts("train"))
    floor = real_sample(task, cfg.n_samples, split="val")
    rows = [{"eta": float("nan"), "gamma": float("nan"), "set": "real (validation)", "n": len(floor),
             "distance": centroid_distance(emb.encode(floor), real)}]
    for eta in cfg.grid_etas:
        for gamma in cfg.grid_gammas:
            path = _point_path(task, gamma, eta, profile=profile, seed=seed, base_model=base_model)
            if not path.is_file():
                continue
            texts = [r["text"] for r in read_jsonl(path)][: cfg.n_samples]
            texts = [t for t in texts if t.strip()] or ["(empty)"]
            rows.append({"eta": eta, "gamma": gamma, "set": f"γ={gamma:g}, η={eta:g}", "n": len(texts),
                         "distance": centroid_distance(emb.encode(texts), real)})
    return pd.DataFrame(rows, columns=["set", "eta", "gamma", "n", "distance"])


def negative_sources(task: str, profile: str, base_model: str = "") -> pd.DataFrame:
    """One row per generated set with negative prompts: how many negatives it drew, and the share that were real.

    Reads every ``runs/<profile>/generations/<task>/*.jsonl`` whose records carry ``negative_is_real`` (recorded
    since kit 0.2). N starts as the real pool and grows with each finished sample, but the real pool is far larger
    than a set of samples, so most draws are real examples.
    """
    folder = paths.profile_runs_dir(check_profile(profile), base_model) / "generations" / get_task(task).name
    rows = []
    for path in sorted(folder.glob("*.jsonl")):
        flags = [f for r in read_jsonl(path) for f in (r.get("negative_is_real") or [])]
        if flags:
            rows.append({"set": path.stem, "negatives_drawn": len(flags), "real": sum(flags),
                         "synthetic": len(flags) - sum(flags), "share_real": sum(flags) / len(flags)})
    return pd.DataFrame(rows, columns=["set", "negatives_drawn", "real", "synthetic", "share_real"])
