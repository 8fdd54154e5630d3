"""One experiment = (task, method, settings, seed) → synthetic samples → metrics, each cached.

The notebooks, the sweep and the downstream stage all ask for synthetic data through
this module, so a sample set generated once (for notebook 03) is the very set scored in
notebook 04, reused by the γ×η sweep at the same grid point, and trained on downstream.

- :func:`synthetic_records` / :func:`synthetic_texts`: fine-tune P_θ (cached), generate
  (resumable JSONL under ``runs/<profile>/generations/<task>/<tag>.jsonl``), return.
- :func:`evaluate_method`: score a set against the task's real data (cached JSON under
  ``runs/<profile>/metrics/<task>/<tag>.json``).
"""
from __future__ import annotations

import dataclasses
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

from .. import paths
from ..models import model_id
from ..config import Config, check_profile
from ..data.tasks import get_task
from ..decoding.methods import METHODS
from ..files import read_jsonl, sha256_file, write_json

GAMMA_ETA_METHODS = ("steer", "negative_only")


@dataclasses.dataclass(frozen=True)
class ExperimentConfig(Config):
    n_samples: int = 100  # synthetic samples per (task, method, grid point, seed)
    max_new_tokens: int = 0  # cap on new tokens; 0 = the task's own length (100 hypotheses, 75 others)
    batch_size: int = 16  # prompts decoded together
    # STEER's γ and η for the method comparison (notebooks 03/04, downstream): the kit's experiment setting, 0.3, not
    # the decoders' default (decoding.logits_process.STEER_GAMMA / STEER_ETA = 0.2, the seed authors'); the sets'
    # tags hold these values, so changing them names new sets
    gamma: float = 0.3
    eta: float = 0.3  # (and negative_only's η)
    k_neg: int = 10  # negative examples per sample (the paper's k)
    methods: tuple[str, ...] = METHODS  # methods compared in notebooks 03/04 and downstream
    grid_gammas: tuple[float, ...] = (0.0, 0.3, 0.6)  # γ values of the ablation sweep (notebook 05)
    grid_etas: tuple[float, ...] = (0.0, 0.3, 0.6)  # η values of the ablation sweep
    seeds: tuple[int, ...] = (0,)  # seeds of the sweep and the method comparison
    mauve_seeds: int = 3  # k-means seeds MAUVE is averaged over
    bootstrap: int = 200  # bootstrap resamples for confidence intervals (0 = off)
    reference_n: int = 0  # texts per side when notebook 07 scores the authors' released outputs (0 = all of them)
    base_model: str = ""  # "" = the embedded SmolLM2-135M; or any Hugging Face id / local folder (outputs get a folder each)

    PROFILES: ClassVar[dict[str, dict[str, Any]]] = {
        # CI: a handful of samples, just enough to run every stage end to end (64 new tokens: a
        # multiple-choice question needs about 40 to reach its answer key). Four methods cover
        # the three decoding paths (plain sampling, base-model contrast, negative prompts); every method is
        # also exercised by the unit tests. The grid shares its (0.3, 0.3) point with the steer run.
        "smoke": {"n_samples": 8, "max_new_tokens": 64, "batch_size": 8,
                  "methods": ("top_k", "contrastive_decoding", "negative_only", "steer"),
                  "grid_gammas": (0.0, 0.3), "grid_etas": (0.0, 0.3), "mauve_seeds": 1, "bootstrap": 20,
                  "reference_n": 40},
        # Sized for a 2-core CPU (`make reproduce`; the measurements behind it: docs/measurements.md). What bounds
        # it: STEER prefills each sample's k=10 negative prompt, and every η>0 set pays it. 40 samples × 8 methods
        # + a 2×3 grid (η, the costly axis, at three levels) per task variant fit; γ=0 grid points reuse
        # negative_only's set (the same samples). The authors' outputs are scored at 300 per side, not all of them.
        "quick": {"n_samples": 40, "batch_size": 20, "grid_gammas": (0.0, 0.3), "grid_etas": (0.0, 0.3, 0.6),
                  "reference_n": 300},
        # The paper's sizes, for a GPU.
        "paper": {"n_samples": 1000, "batch_size": 32, "grid_gammas": (0.0, 0.2, 0.4, 0.6, 0.8, 1.0),
                  "grid_etas": (0.0, 0.2, 0.4, 0.6, 0.8, 1.0), "seeds": (0, 1, 2), "mauve_seeds": 5,
                  "bootstrap": 1000},
    }

    def validate(self) -> None:
        for name in ("n_samples", "batch_size", "k_neg"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)!r} must be at least 1")
        for name in ("gamma", "eta", "max_new_tokens", "bootstrap", "reference_n"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}={getattr(self, name)!r} must not be negative")
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise ValueError(f"methods={unknown!r} are not among {METHODS}")


def method_settings(method: str, cfg: ExperimentConfig, gamma: float | None = None,
                    eta: float | None = None) -> dict[str, Any]:
    """The γ/η/k settings a method runs with in an experiment (the method's presets do the rest)."""
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not one of {METHODS}")
    if method == "steer":
        return {"gamma": cfg.gamma if gamma is None else gamma, "eta": cfg.eta if eta is None else eta,
                "k_neg": cfg.k_neg}
    if method == "negative_only":
        return {"eta": cfg.eta if eta is None else eta, "k_neg": cfg.k_neg}
    if gamma not in (None, 0) or eta not in (None, 0):
        raise ValueError(f"gamma/eta given for method={method!r}, which does not use them")
    return {}


def tag(method: str, settings: dict[str, Any], seed: int, n: int, max_new_tokens: int) -> str:
    """File stem naming a sample set, e.g. ``steer_g0.3_e0.3_k10_n100_t0_s0``."""
    parts = [method]
    parts += [f"g{settings['gamma']:g}"] if "gamma" in settings else []
    parts += [f"e{settings['eta']:g}"] if "eta" in settings else []
    parts += [f"k{settings['k_neg']}"] if "k_neg" in settings else []
    return "_".join(parts + [f"n{n}", f"t{max_new_tokens}", f"s{seed}"])


def generation_path(task: str, method: str, *, profile: str, seed: int = 0, gamma: float | None = None,
                    eta: float | None = None, **overrides: Any) -> Path:
    cfg = ExperimentConfig.for_profile(check_profile(profile), **overrides)
    t = get_task(task)
    name = tag(method, method_settings(method, cfg, gamma, eta), seed, cfg.n_samples, cfg.max_new_tokens)
    return paths.profile_runs_dir(profile, cfg.base_model) / "generations" / t.name / f"{name}.jsonl"


def metrics_path(generation: Path) -> Path:
    """Where the metrics of a sample set live: ``runs/<profile>/metrics/<task>/<tag>.json`` beside its generations."""
    return generation.parent.parent.parent / "metrics" / generation.parent.name / f"{generation.stem}.json"


@lru_cache(maxsize=2)
def cached_domain_model(task: str, profile: str, base_model: str = ""):
    """Keep the last loaded P_θ in memory: a notebook asks for several methods in a row."""
    from ..finetune.domain_model import load_domain_model

    return load_domain_model(task, profile, base=base_model or None)


def cached_adapter(task: str, profile: str, base_model: str = "") -> dict[str, str] | None:
    """The identity (key, weights' sha256) of the P_θ this experiment generates with, verified; None when it is not
    trained yet (nothing is trained here: a complete set is then checked once the model is loaded)."""
    from ..finetune.domain_model import adapter_dir, adapter_identity, is_finished

    path = adapter_dir(task, profile, base=base_model or None)
    return adapter_identity(path) if is_finished(path) else None


def _first_record(path: Path) -> dict | None:
    with open(path, encoding="utf-8", errors="replace") as f:
        line = f.readline()
    try:
        rec = json.loads(line)
    except ValueError:
        return None
    return rec if isinstance(rec, dict) else None


def _set_aside(out: Path, first: dict) -> Path:
    """Move a sample set made by another P_θ out of the way (never deleted) so that it is regenerated.

    Sets written before records named their adapter (kit versions before the provenance fields) take this path
    too: nothing shows which P_θ made them, so they are regenerated rather than trusted.
    """
    import warnings

    made = first.get("adapter") or {}
    aside = out.with_name(f"{out.stem}.other-model-{made.get('key', 'unidentified')}.jsonl")
    n = 1
    while aside.exists():
        n += 1
        aside = out.with_name(f"{out.stem}.other-model-{made.get('key', 'unidentified')}-{n}.jsonl")
    os.replace(out, aside)
    warnings.warn(f"{out} was made by another P_θ ({made.get('key', 'not recorded')}); moved to {aside.name} and "
                  "regenerating", stacklevel=3)
    return aside


def synthetic_records(task: str, method: str, *, profile: str, seed: int = 0, gamma: float | None = None,
                      eta: float | None = None, progress: bool = False, **overrides: Any) -> list[dict]:
    """The sample records of one experiment, generating whatever is missing (resumes a partial file)."""
    from ..decoding.writer import generate_file

    cfg = ExperimentConfig.for_profile(check_profile(profile), **overrides)
    t = get_task(task)
    out = generation_path(t.name, method, profile=profile, seed=seed, gamma=gamma, eta=eta, **overrides)
    if out.exists():
        try:
            records = read_jsonl(out)
        except ValueError:  # a torn last line (a killed run) or damage: generate_file resumes or refuses, below
            records = []
        expected = cached_adapter(t.name, profile, cfg.base_model)
        if records and expected is not None and records[0].get("adapter") != expected:
            _set_aside(out, records[0])  # another P_θ made it (or an older kit that did not say which)
        elif len(records) >= cfg.n_samples:
            return records[: cfg.n_samples]
    settings = method_settings(method, cfg, gamma, eta)
    if "k_neg" in settings:
        settings["k"] = settings.pop("k_neg")  # generate_file's name for the negatives per sample
    model, tok = cached_domain_model(t.name, profile, cfg.base_model)
    made_by = getattr(model, "steer_adapter", None)  # the adapter may have been trained just now
    if made_by is not None and out.exists():
        first = _first_record(out)
        if first is not None and first.get("adapter") != made_by:
            _set_aside(out, first)
    generate_file(t.name, method, cfg.n_samples, out, model=model, tokenizer=tok, seed=seed,
                  batch_size=cfg.batch_size, max_new_tokens=cfg.max_new_tokens or t.max_new_tokens,
                  progress=progress, strict=True, **settings)  # the pipeline never regenerates past damage
    return read_jsonl(out)[: cfg.n_samples]


def synthetic_texts(task: str, method: str, *, profile: str, seed: int = 0, n: int | None = None,
                    **kwargs: Any) -> list[str]:
    """Cleaned synthetic texts of one experiment (``n`` = at most that many)."""
    texts = [r["text"] for r in synthetic_records(task, method, profile=profile, seed=seed, **kwargs)]
    return texts[:n] if n else texts


def real_reference(task: str) -> list[str]:
    """The real set synthetic data is scored against: the training pool the generator learnt from."""
    return get_task(task).real_texts("train")


def evaluate_method(task: str, method: str, *, profile: str, seed: int = 0, gamma: float | None = None,
                    eta: float | None = None, force: bool = False, **overrides: Any) -> dict[str, Any]:
    """Every metric of one sample set against the real data (cached beside the generations)."""
    from ..metrics.evaluation import evaluate
    from ..metrics.keys import METRICS_VERSION

    cfg = ExperimentConfig.for_profile(check_profile(profile), **overrides)
    gen = generation_path(task, method, profile=profile, seed=seed, gamma=gamma, eta=eta, **overrides)
    out = metrics_path(gen)
    if out.exists() and not force:
        try:
            cached = json.loads(out.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError):
            cached = {}  # damaged: rescored below
        # a file from an older metric definition lacks measures (or holds old ones): rescore, the texts are on disk;
        # so is one that scored other samples than the file now holds (regenerated, or edited)
        if not gen.exists() and cached:
            return cached
        if cached.get("metrics_version") == METRICS_VERSION and cached.get("generations_sha256") == _sha256(gen):
            return cached
    texts = synthetic_texts(task, method, profile=profile, seed=seed, gamma=gamma, eta=eta, **overrides)
    result = evaluate(texts, real_reference(task), task=task, seed=seed, mauve_seeds=cfg.mauve_seeds,
                      bootstrap=cfg.bootstrap)
    result = {"task": get_task(task).name, "method": method, "seed": seed, "profile": profile,
              "base_model": model_id(cfg.base_model or None),
              **method_settings(method, cfg, gamma, eta), "metrics_version": METRICS_VERSION,
              "generations_sha256": _sha256(gen), **result}
    write_json(out, result, strict=False, default=float)  # NaN stays NaN: the readers are this module's callers
    return result


def _sha256(path: Path) -> str:
    """The sha256 of a generations file: the metrics JSON names the exact samples it scored."""
    return sha256_file(Path(path))
