"""``python -m steer_lib bench-metrics``: how long scoring 1,000 vs 1,000 texts takes, cold and warm.

The target (metrics issue): every metric of :func:`steer_lib.metrics.evaluate` on 1,000 synthetic vs
1,000 real texts in ≤ 60 s on a laptop CPU once the embedding cache is warm. Both runs happen in one
process on the same inputs, so the ratio holds on a shared machine:

- ``cold_s``: an empty embedding cache (a fresh temporary folder) -- embeds every distinct text of the
  2,000 (``cold_embedded``; 1,883 for the default inputs), including loading the embedder;
- ``warm_s``: the same call again through a *new* :class:`~steer_lib.metrics.Embedder` on that
  folder, so every embedding comes from disk, not from the first run's memory;
- ``warm_vs_target = target_s / warm_s`` (≥ 1 meets the target) and ``embed_share_cold``, the share
  of the cold run spent embedding;
- ``cold_diversity_s`` / ``warm_diversity_s``: the part of each run spent on the diversity measures since the paper
  (compression ratio, self-repetition, Self-BLEU, Vendi; ``seconds["diversity"]`` of evaluate), and
  ``diversity_breakdown_s``: each of them timed alone, both sides (self-repetition includes its tokenising).

Inputs: the authors' released Falcon-7B STEER hypotheses (synthetic) and the 1,000 real hypotheses,
so the numbers are for real text lengths. ``--n`` scores fewer (the tests use a handful).
"""
from __future__ import annotations

import tempfile
import time

TARGET_S = 60.0  # the budget for a warm 1,000 vs 1,000 evaluate()


def run_bench_metrics(synthetic: list[str], real: list[str], *, n: int = 1000, embedder_model=None,
                      model_id: str | None = None, mauve_seeds: int = 3, seed: int = 0,
                      target_s: float = TARGET_S) -> dict:
    """Time :func:`~steer_lib.metrics.evaluate` with an empty, then a warm embedding cache.

    ``embedder_model``: a sentence-transformers name/path (default all-MiniLM-L6-v2), or a function
    ``list[str] -> array`` named by ``model_id`` (so that its embeddings can be cached)."""
    from ..metrics.embeddings import Embedder
    from ..metrics.evaluation import evaluate
    from ..metrics.text import tokenize

    if n < 1:
        raise ValueError(f"n={n!r} must be >= 1")
    tokenize("warm up", None)  # the n-gram tokenizer is loaded once per process by any caller; not scoring work
    res: dict = {}
    with tempfile.TemporaryDirectory(prefix="steer-bench-emb-") as cache:
        for run in ("cold", "warm"):
            emb = Embedder(embedder_model, model_id=model_id, cache_dir=cache)
            t0 = time.perf_counter()
            out = evaluate(synthetic, real, n=n, seed=seed, embedder=emb, mauve_seeds=mauve_seeds)
            res[f"{run}_s"] = time.perf_counter() - t0
            res[f"{run}_embedded"] = emb.stats["computed"]
            res[f"{run}_from_disk"] = emb.stats["disk"]
            res[f"{run}_diversity_s"] = out["seconds"]["diversity"]
            if run == "cold":
                res["embed_share_cold"] = out["seconds"]["embed"] / res["cold_s"]
        res["diversity_breakdown_s"] = diversity_breakdown(synthetic, real, n=n, seed=seed,
                                                           embedder=Embedder(embedder_model, model_id=model_id,
                                                                             cache_dir=cache))
    res["n"] = out["n"]
    res["mauve_seeds"] = mauve_seeds
    res["target_s"] = target_s
    res["warm_vs_target"] = target_s / res["warm_s"]
    res["cold_vs_warm"] = res["cold_s"] / res["warm_s"]
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in res.items()}


def diversity_breakdown(synthetic: list[str], real: list[str], *, n: int, seed: int = 0, embedder=None) -> dict:
    """Seconds per new diversity measure (both sides each), on the same down-sampled sets ``evaluate`` scores.

    Timed one by one outside :func:`~steer_lib.metrics.evaluate` (whose ``seconds["diversity"]`` is their sum); Vendi's embeddings
    come from ``embedder``'s cache, so its time is the eigen-decomposition only."""
    from ..metrics import set_diversity as sd
    from ..metrics.embeddings import as_embedder
    from ..metrics.evaluation import sample_pair
    from ..metrics.text import tokenize

    syn, rea = sample_pair(synthetic, real, n, seed)
    emb = as_embedder(embedder)
    e_syn, e_real = emb.encode(syn), emb.encode(rea)
    steps = {"compression_ratio": lambda xs, e: sd.compression_ratio([" ".join(xs)]),
             "self_repetition": lambda xs, e: sd.self_repetition_tokens([tokenize(x) for x in xs]),
             "self_bleu": lambda xs, e: sd.self_bleu(xs, seed=seed),
             "vendi": lambda xs, e: sd.vendi_score(e)}
    out = {}
    for name, fn in steps.items():
        t0 = time.perf_counter()
        fn(syn, e_syn), fn(rea, e_real)
        out[name] = round(time.perf_counter() - t0, 3)
    return out
