"""Downstream utility: does a method's synthetic data train better models on held-out real data?

Two experiments, both text in → table out, both on frozen sentence embeddings so each
(method, setting, seed) cell is a fresh model trained in seconds:

- comments → toxicity classifier (:func:`toxicity_experiment`), scored on the held-out
  Jigsaw test pools (600 toxic + 600 clean): accuracy, F1, ROC-AUC;
- commonsense → multiple-choice QA (:func:`mcqa_experiment`), scored on CSQA dev
  (1,221 questions, chance 20 %): accuracy; invalid synthetic questions are counted.

Settings: real only (scarce real data), real + synthetic, synthetic only; mean ± sd over
seeds (:func:`summarise`), bar chart (:func:`plot`), files (:func:`save_outputs`).
:func:`run` wires these to the generation stage (``steer_lib.experiments.synthetic_texts``)
or, with ``reference=True``, to the authors' released outputs (a set-up sanity check).

CLI::

    python -m steer_lib downstream --task comments|commonsense --profile P [--methods m ...]
                                   [--reference] [--reuse-generation] [--set key=value ...]
                                   [--no-write] [--json]
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

import pandas as pd

from ..config import check_profile
from .common import DownstreamConfig, Embedder, embed_lookup, get_embedder  # noqa: F401 (API)
from .mcqa import CHANCE as MCQA_CHANCE
from .mcqa import Question, mcqa_experiment, parse_questions, real_questions  # noqa: F401 (API)
from .report import plot, records, reference_synthetic, save_outputs, summarise, to_markdown  # noqa: F401
from .toxicity import CLASSES, REAL_METHOD, real_pools, toxicity_experiment  # noqa: F401 (API)

TASKS = ("comments", "commonsense")
CHANCE = {"comments": 0.5, "commonsense": MCQA_CHANCE}  # accuracy of a coin flip / a blind guess


def check_task(task: str) -> str:
    task = {"csqa": "commonsense", "toxicity": "comments"}.get(task, task)
    if task not in TASKS:
        raise ValueError(f"task={task!r} is not one of {TASKS}")
    return task


def pipeline_synthetic(task: str, methods: list[str], profile: str,
                       vary_generation: bool = True, base_model: str = "") -> Callable[[int], dict]:
    """``seed -> synthetic data`` from the generation stage (fine-tunes, generates and caches on demand).

    comments: ``{method: {"toxic": comments-toxic samples, "non-toxic": comments-nontoxic samples}}``;
    commonsense: ``{method: samples}``. With ``vary_generation=False`` every seed reuses generation seed 0.
    """
    from ..experiments.experiment import synthetic_texts  # imported lazily: it pulls in the generation stack

    def for_seed(seed: int) -> dict:
        gen_seed = seed if vary_generation else 0
        if task == "commonsense":
            return {m: synthetic_texts("commonsense", m, profile=profile, seed=gen_seed, base_model=base_model) for m in methods}
        return {m: {"toxic": synthetic_texts("comments-toxic", m, profile=profile, seed=gen_seed, base_model=base_model),
                    "non-toxic": synthetic_texts("comments-nontoxic", m, profile=profile, seed=gen_seed, base_model=base_model)}
                for m in methods}
    return for_seed


def run_experiment(task: str, synthetic: Mapping | Callable[[int], Mapping], *, cfg: DownstreamConfig | None = None,
                   embedder: Embedder = None, **overrides: Any) -> pd.DataFrame:
    """Dispatch to :func:`toxicity_experiment` (``comments``) or :func:`mcqa_experiment` (``commonsense``)."""
    fn = toxicity_experiment if check_task(task) == "comments" else mcqa_experiment
    return fn(synthetic, cfg=cfg, embedder=embedder, **overrides)


def run(task: str, profile: str = "quick", *, methods: list[str] | None = None, reference: bool = False,
        cfg: DownstreamConfig | None = None, embedder: Embedder = None, write: bool = True,
        vary_generation: bool | None = None, base_model: str = "") -> tuple[pd.DataFrame, dict[str, Path]]:
    """The whole stage for one task: synthetic data → per-seed results → files. Returns (rows, paths).

    ``reference=True`` uses the authors' released outputs instead of this kit's generations and
    tags the files ``_reference`` so they never overwrite the kit's own results. ``base_model``: whose
    generations to train on ("" = the embedded default), and whose results folder to write.
    """
    task, profile = check_task(task), check_profile(profile)
    cfg = cfg or DownstreamConfig.for_profile(profile)
    if reference:
        synthetic: Any = reference_synthetic(task, methods)
    else:
        if not methods:
            from ..experiments.experiment import ExperimentConfig

            methods = list(cfg.methods or ExperimentConfig.for_profile(profile).methods)
        vary = (profile == "paper") if vary_generation is None else vary_generation
        synthetic = pipeline_synthetic(task, list(methods), profile, vary, base_model)
    df = run_experiment(task, synthetic, cfg=cfg, embedder=embedder)
    meta = {"source": "reference (authors' Falcon-7B outputs)" if reference else "kit generations",
            "config": cfg.to_dict(), "config_hash": cfg.hash()}
    if reference and task == "comments":
        meta["labels"] = ("the prompt each line was generated under: every released comments file holds a toxic and "
                          "a non-toxic run, split by line range (steer_lib.authors.outputs.PARTS)")
        meta["label_counts"] = {m: {c: len(v[c]) for c in CLASSES} for m, v in synthetic.items()}
    df.attrs.update(meta)
    paths = save_outputs(df, task, profile, tag="reference" if reference else "", chance=CHANCE[task],
                         meta=meta, base_model=base_model) if write else {}
    return df, paths
