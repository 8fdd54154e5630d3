"""Can the best method be told apart from the runner-up? A bootstrap over the recorded sample sets.

The metrics files hold one number per set, so the test goes back to the sets themselves (the JSONL generations
under ``runs/``), and only for the two rows it compares, so a table costs seconds, not a rescoring.

**The test.** Each replicate redraws the samples of both methods and the real texts they are scored against (the
same real redraw for both: each method is compared with the same real data), recomputes the metric for both and
records the difference ``d_b``. The replicates are centred, because set measures also move with the set's size and
duplicates: the 95 % interval of the difference is ``d_obs + quantiles(d_b − mean(d_b), 2.5 %, 97.5 %)``, ``d_obs``
the recorded difference, and the best is *separated* when that interval excludes 0. With several seeds each
replicate averages the per-seed differences. The redraw is per column (:data:`SCHEME`), chosen by calibration:

- ``"half"``: half of the samples without replacement (McCarthy's half-sampling; for a mean its spread equals the
  full set's, ``σ²/(n/2) · (1 − 1/2) = σ²/n``). No duplicates, which the set measures would otherwise count;
- ``"replace"``: the ordinary bootstrap, n with replacement.

Calibration (``docs/metrics.md``): two disjoint random draws of 40 real hypotheses (one distribution, so every
"separated" is a false positive), 60 pairs, 100 replicates. False-positive rates, half / replace: cosine 0.03 /
0.07, self-repetition 0.03 / 0.25, compression ratio 0.10 / 0.00, 3-grams 0.13 / 0.00,
MAUVE 0.02 / 0.00, Self-BLEU 0.05 / – and AUROC 0.03 / – (40 pairs), Vendi 0.37 / 0.12. So each column uses the scheme that is at or under 5 %, and the **Vendi score is not tested**
(neither scheme held its level: the table never bolds it). The samples of two methods are redrawn independently:
sharing indices ("paired") made the set measures' two redraws alike and their difference falsely narrow, and
the kit's methods share no per-sample prompt that pairing could exploit (every sample uses the task's one prompt).
MAUVE, AUROC and Self-BLEU are re-run in every replicate (k-means seed, CV folds, BLEU subsample varying with it,
so their own noise counts); Self-BLEU uses a smaller subsample there (noisier: more ties, never fewer).

>>> rng = np.random.default_rng(0)
>>> a = SampleSet(texts=["x"] * 40, valid=(rng.random(40) < 0.75).astype(float))
>>> b = SampleSet(texts=["x"] * 40, valid=(rng.random(40) < 0.65).astype(float))
>>> r = bootstrap_test([a], [b], "validity", +1, seed=0)
>>> round(r["diff"], 3), r["separated"]  # 40 samples per side: within the noise
(0.025, False)
>>> a, b = SampleSet(texts=["x"] * 400, valid=np.ones(400)), SampleSet(texts=["x"] * 400, valid=np.zeros(400))
>>> bootstrap_test([a], [b], "validity", +1)["separated"]
True
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

LEVEL = 0.95
REPS = 200  # replicates; MAUVE, AUROC and Self-BLEU get EXPENSIVE_REPS (each replicate refits them)
EXPENSIVE_REPS = 100
EXPENSIVE = ("mauve", "adv_auroc", "self_bleu")
BOOT_BLEU = {"samples": 50, "refs": 10}  # Self-BLEU's subsample inside a replicate (the table's value: 200 × 50)


@dataclasses.dataclass
class SampleSet:
    """One scored set as ``evaluate`` saw it: synthetic texts, the real draw, unit embeddings, tokens, validity."""
    texts: list[str]
    real: list[str] = dataclasses.field(default_factory=list)
    emb: np.ndarray | None = None  # (n, d), unit rows
    real_emb: np.ndarray | None = None
    tokens: list[list] | None = None  # per synthetic text
    valid: np.ndarray | None = None  # 0/1 per synthetic text (a task with a parser)


def _concat(tokens: list[list], idx: np.ndarray) -> list:
    # the joined text's tokens, approximated by concatenating per-text tokens (a boundary token may differ from
    # tokenising the joined string; the same for both methods, and only the replicates use it)
    return [t for i in idx for t in tokens[i]]


def _ngram(s: SampleSet, idx, ridx, rep) -> float:
    from ..metrics.text import ngram_ratio

    return ngram_ratio(_concat(s.tokens, idx), 3)


def _diversity(s: SampleSet, idx, ridx, rep) -> float:
    from ..metrics.text import ngram_ratio

    toks = _concat(s.tokens, idx)
    return math.prod(ngram_ratio(toks, n) for n in (2, 3, 4))


def _mauve(s: SampleSet, idx, ridx, rep) -> float:
    from ..metrics import fidelity

    return fidelity.mauve_score(s.real_emb[ridx], s.emb[idx], num_buckets=fidelity.mauve_buckets(len(idx)),
                                seeds=1, seed=rep).mean


def _auroc(s: SampleSet, idx, ridx, rep) -> float:
    from ..metrics import fidelity

    return fidelity.adversarial_auroc(s.real_emb[ridx], s.emb[idx], seed=rep).mean


def stat_functions() -> dict[str, Callable[[SampleSet, np.ndarray, np.ndarray, int], float]]:
    """Per metric, the statistic of one bootstrap resample: ``f(sample set, sample rows, real rows, rep) -> value``."""
    from ..metrics import set_diversity as sd

    return {
        "ngram3": _ngram, "diversity": _diversity,
        "cosine": lambda s, i, r, rep: float(s.emb[i].mean(0) @ s.real_emb[r].mean(0)),
        "mauve": _mauve, "adv_auroc": _auroc,
        "validity": lambda s, i, r, rep: float(s.valid[i].mean()),
        "compression_ratio": lambda s, i, r, rep: sd.compression_ratio([s.texts[j] for j in i]),
        "self_repetition": lambda s, i, r, rep: sd.self_repetition_tokens([s.tokens[j] for j in i]),
        "self_bleu": lambda s, i, r, rep: sd.self_bleu([s.texts[j] for j in i], seed=rep, **BOOT_BLEU),
        "vendi": lambda s, i, r, rep: sd.vendi_score(s.emb[i]),
    }


# per column, by the calibration in the module docstring; "half" for the rest (means: calibrated by theory)
SCHEME: dict[str, str] = {"ngram3": "replace", "diversity": "replace", "compression_ratio": "replace"}

# "vendi" has a statistic above but no calibrated test, so it is left out: tables never bold it
TESTABLE = ("ngram3", "diversity", "cosine", "mauve", "adv_auroc", "validity", "compression_ratio",
            "self_repetition", "self_bleu")


def bootstrap_test(a: Sequence[SampleSet], b: Sequence[SampleSet], col: str, direction: int, *,
                observed: float | None = None, reps: int | None = None, seed: int = 0,
                level: float = LEVEL, scheme: str | None = None, pair: bool = False) -> dict[str, Any]:
    """Bootstrap interval of ``direction × (col(a) − col(b))``, one :class:`SampleSet` per seed on each side.

    ``observed``: the recorded difference (default: recomputed on the full sets). ``scheme``: ``"half"`` or
    ``"replace"`` (default :data:`SCHEME`). ``pair``: share the sample indices of the two sides (off: see the module
    docstring). Returns ``diff``, ``ci`` (its ``level`` interval), ``separated`` (the interval excludes 0),
    ``reps``, ``scheme``, ``paired`` and ``undefined`` (the metric was NaN on most redraws: never separated).
    """
    stats = stat_functions()
    if col not in stats:
        raise ValueError(f"col={col!r} has no bootstrap; testable columns: {TESTABLE}")
    # (vendi has a statistic, for experiments such as the calibration, but compare() never tests it)
    if direction not in (+1, -1):
        raise ValueError(f"direction={direction!r} must be +1 (higher is better) or -1 (lower is better)")
    if not a or len(a) != len(b):
        raise ValueError(f"bootstrap_test needs one set per seed on each side; got {len(a)} and {len(b)}")
    reps = reps or (EXPENSIVE_REPS if col in EXPENSIVE else REPS)
    if reps < 2:
        raise ValueError(f"reps={reps!r} must be >= 2")
    raw = stats[col]

    def stat(x, i, r, rep) -> float:
        try:
            return raw(x, i, r, rep)
        except ValueError:  # too small a half-sample for this metric (e.g. MAUVE under 20 per side): NaN
            return math.nan
    if observed is None:
        observed = float(np.mean([stat(x, np.arange(len(x.texts)), np.arange(len(x.real)), seed) -
                                  stat(y, np.arange(len(y.texts)), np.arange(len(y.real)), seed)
                                  for x, y in zip(a, b)])) * direction
    scheme = scheme or SCHEME.get(col, "half")
    if scheme not in ("half", "replace"):
        raise ValueError(f"scheme={scheme!r} must be 'half' (half-samples) or 'replace' (resampling with replacement)")
    rng = np.random.default_rng([seed, 18])

    def draw(k: int) -> np.ndarray:
        if scheme == "replace":
            return rng.integers(0, k, k)
        return rng.permutation(k)[: max(2, k // 2)]

    paired = pair and all(len(x.texts) == len(y.texts) for x, y in zip(a, b))
    diffs = []
    for rep in range(reps):
        per_seed = []
        for x, y in zip(a, b):
            ix = draw(len(x.texts))
            iy = ix if paired else draw(len(y.texts))
            rx = draw(len(x.real)) if x.real else ix
            ry = rx if len(y.real) == len(x.real) else draw(len(y.real))
            per_seed.append(stat(x, ix, rx, rep) - stat(y, iy, ry, rep))
        diffs.append(direction * float(np.mean(per_seed)))
    d = np.asarray(diffs)
    d = d[~np.isnan(d)]
    if len(d) < max(2, reps // 2):  # the metric is undefined on most half-samples (e.g. MAUVE under 20 per side)
        return {"diff": observed, "ci": [math.nan, math.nan], "separated": False, "reps": int(len(d)),
                "paired": paired, "undefined": True}
    alpha = (1 - level) / 2
    lo, hi = observed + np.quantile(d - d.mean(), [alpha, 1 - alpha])
    return {"diff": observed, "ci": [float(lo), float(hi)], "separated": bool(lo > 1e-12 or hi < -1e-12),
            "reps": int(len(d)), "scheme": scheme, "paired": paired, "undefined": False}


def load_set(generation: Path, task: str, seed: int, *, n: int | None = None, embedder=None,
             tokenizer=None) -> SampleSet:
    """A recorded set as ``experiment.evaluate_method`` scored it: the JSONL's texts (first ``n``), the real
    training pool drawn down by :func:`~steer_lib.metrics.sample_pair` with ``seed``, embeddings from the cache."""
    from ..data.tasks import get_task
    from ..metrics.embeddings import as_embedder
    from ..metrics.evaluation import sample_pair
    from ..metrics.text import tokenize
    from ..files import read_jsonl
    from .experiment import real_reference

    if not generation.is_file():
        raise FileNotFoundError(f"{generation}: no generations recorded for this row")
    texts = [r["text"] for r in read_jsonl(generation)][:n]
    syn, real = sample_pair(texts, real_reference(task), None, seed)
    emb = as_embedder(embedder)
    unit = lambda e: e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)  # noqa: E731
    t = get_task(task)
    return SampleSet(texts=syn, real=real, emb=unit(emb.encode(syn).astype(np.float64)),
                     real_emb=unit(emb.encode(real).astype(np.float64)), tokens=[tokenize(x, tokenizer) for x in syn],
                     valid=np.array([t.parse(x).valid for x in syn], dtype=float))


def compare(summary, columns, sources: dict[str, list[tuple[Path, int]]], task: str, *, n: int | None = None,
            embedder=None, tokenizer=None, seed: int = 0, pairs: dict[str, tuple[str, str]] | None = None,
            memo: dict | None = None) -> dict:
    """For each ``(col, direction)`` of ``columns``: best vs runner-up of ``summary`` by :func:`bootstrap_test`.

    ``sources[label]``: ``(generation file, seed)`` per seed. ``pairs`` (col → (a, b)) tests given rows instead of
    best vs runner-up. Returns ``{col: {"best", "runner_up", "diff", "ci", "separated", "reps", ...}}``; a
    column whose rows have no recorded sets is left out (nothing is claimed about it). Sets load once, lazily;
    pass one ``memo`` dict to several calls to share the loaded sets and the tests already run.
    """
    import warnings

    from ..metrics import MetricWarning
    from ..metrics.embeddings import as_embedder

    memo = {} if memo is None else memo
    cache: dict[str, list[SampleSet] | None] = memo.setdefault("sets", {})
    done: dict[tuple, dict] = memo.setdefault("tests", {})
    embedder = as_embedder(embedder)  # one embedder (and its in-memory cache) for every set

    def sets(lab: str):
        if lab not in cache:
            try:
                cache[lab] = [load_set(p, task, s, n=n, embedder=embedder, tokenizer=tokenizer)
                              for p, s in sources.get(lab, [])] or None
            except FileNotFoundError:
                cache[lab] = None
        return cache[lab]

    out = {}
    for col, direction in columns:
        if direction == 0 or col not in TESTABLE or col not in summary or summary[col].notna().sum() < 2:
            continue
        if pairs is not None:
            if col not in pairs:
                continue
            best, runner = pairs[col]
        else:
            order = summary[col].dropna().sort_values(ascending=direction < 0)
            best, runner = order.index[0], order.index[1]
        diff = direction * float(summary.loc[best, col] - summary.loc[runner, col])
        if abs(diff) <= 1e-12:  # equal values: a tie without a test
            out[col] = {"best": best, "runner_up": runner, "diff": 0.0, "ci": [0.0, 0.0], "separated": False,
                        "reps": 0, "paired": True, "undefined": False}
            continue
        a, b = sets(best), sets(runner)
        if a is None or b is None or len(a) != len(b):
            continue
        key, flipped = (col, best, runner, seed), (col, runner, best, seed)
        if key not in done and flipped in done:  # the same two rows the other way round: the mirrored interval
            r = done[flipped]
            done[key] = {**r, "diff": -r["diff"], "ci": [-r["ci"][1], -r["ci"][0]]}
        if key not in done:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", MetricWarning)
                done[key] = bootstrap_test(a, b, col, direction, observed=diff, seed=seed)
        out[col] = {"best": best, "runner_up": runner, **done[key]}
    return out
