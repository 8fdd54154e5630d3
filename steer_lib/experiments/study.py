"""The γ study: does contrastive expert guidance pay once P_θ is trained? (``make study``)

At ``quick`` P_θ has had 40 updates of 8 examples (a third of one pass over the data), so log P_θ − log P_φ — what
the γ term amplifies — is mostly noise plus the output format, and 40 samples a set cannot separate the differences
seen. This study is the fair test the findings need, sized for a 2-core CPU:

1. **P_θ trained to a plateau.** LoRA at a constant learning rate, the completion-only held-out loss measured every
   ``eval_every`` updates, an adapter kept at each of them, training stopped once ``patience`` evaluations in a row
   gain less than ``min_delta`` (or at ``max_steps``: the record says which).
2. **γ along P_θ's training.** At each checkpoint in ``checkpoints`` and the final one: STEER at η = 0 for each γ in
   ``gammas`` (γ = 0 is plain top-k sampling of P_θ at T = 1, the comparison point), and the same γ with the
   plausibility guard α = ``guard`` (``guarded_gammas``: tokens with P_θ < α·max P_θ are dropped before top-k, as
   contrastive decoding does — not in the paper). η = 0 isolates γ and skips the negative prompts, the costly part.
3. **The paper's setting at the final checkpoint.** STEER with negatives at η = ``eta`` for each γ in ``eta_gammas``
   (γ = 0 is negative prompting alone), γ > 0 guarded too; and the tuned baselines' grids (top-k over temperatures,
   nucleus over top-p), so the claims compare STEER with baselines given a comparable number of settings.

Every set has ``n_samples`` samples (≥ 150, so the intervals can separate differences of the size ``quick`` shows).
Each γ > 0 set is compared with its γ = 0 partner (same checkpoint, same η) by the kit's calibrated bootstrap
(:mod:`~steer_lib.experiments.significance`), on the coherence measures (MAUVE, adversarial AUROC, cosine) and the
diversity measures (3-grams, diversity). Everything is cached and resumable: the adapter and its checkpoints
(a rerun continues training where it stopped), each set's JSONL (batch by batch), each set's metrics (keyed by the
sha256 of the generations they scored). ``--shard I/N`` splits a task's sets over jobs; the summary
(``runs/study/study_<task>.json``) and the figure (``figures/study/study_gamma_<task>.png``) are written by
whichever job finds every set done (or by ``--report``).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import platform
import time
import warnings
from pathlib import Path
from typing import Any, ClassVar

from .. import paths, plots
from ..config import Config
from ..files import sha256_file as _sha256

SCOPE = "study"  # runs/study/, figures/study/
COHERENCE = {"mauve": +1, "adv_auroc": -1, "cosine": +1}  # +1: higher is better (AUROC: 0.5 = indistinguishable)
DIVERSITY = {"ngram3": +1, "diversity": +1}
TESTED = {**COHERENCE, **DIVERSITY}


@dataclasses.dataclass(frozen=True)
class StudyConfig(Config):
    tasks: tuple[str, ...] = ("hypotheses", "commonsense")  # run in this order; each is complete on its own
    # P_θ's training (the rest of FinetuneConfig is the quick profile's: batch 8 × ≤ 96 tokens, LoRA r = 16)
    max_steps: int = 320  # updates at most (about 2.8 passes over the hypotheses)
    lr: float = 1e-3  # constant after warmup, so the plateau is the data's, not the schedule's
    eval_every: int = 40  # held-out loss, and a kept checkpoint, every N updates
    patience: int = 2  # stop after this many evaluations in a row without progress ...
    min_delta: float = 0.02  # ... of at least this much completion-only held-out loss (nats/token)
    checkpoints: tuple[int, ...] = (40, 120)  # decode from P_θ after these many updates too (40 = quick's training)
    # decoding
    n_samples: int = 150  # per set
    batch_size: int = 25  # prompts decoded together
    max_new_tokens: int = 0  # cap on new tokens; 0 = the task's own (100 for hypotheses)
    top_k: int = 10  # STEER's and top-k's k
    gammas: tuple[float, ...] = (0.0, 0.3, 0.6, 1.0)  # γ at η = 0, at every checkpoint
    guard: float = 0.1  # the plausibility guard's α
    guarded_gammas: tuple[float, ...] = (0.3, 1.0)  # γ with the guard, at every checkpoint
    eta: float = 0.3  # η of the paper-setting sets (final checkpoint)
    eta_gammas: tuple[float, ...] = (0.0, 0.3)  # γ at that η (γ > 0 also guarded)
    k_neg: int = 10  # negative examples per sample (the paper's k)
    top_k_temperatures: tuple[float, ...] = (0.7, 0.85)  # top-k baseline grid (T = 1 is the γ = 0 set)
    nucleus_top_ps: tuple[float, ...] = (0.9, 0.95)  # nucleus baseline grid (at its preset T = 0.8)
    seed: int = 0
    reps: int = 100  # bootstrap replicates per comparison (the kit's calibrated schemes)
    base_model: str = ""  # "" = the embedded SmolLM2-135M; or any Hugging Face id / local folder (own folders)

    PROFILES: ClassVar[dict[str, dict[str, Any]]] = {}

    def validate(self) -> None:
        if self.max_new_tokens < 0:
            raise ValueError(f"max_new_tokens={self.max_new_tokens!r} must not be negative (0 = the task's own)")
        for name in ("max_steps", "eval_every", "n_samples", "batch_size", "top_k", "k_neg", "reps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)!r} must be at least 1")
        if not self.tasks:
            raise ValueError("tasks=() is empty: name at least one task")
        for name in ("gammas", "guarded_gammas", "eta_gammas"):
            if any(not math.isfinite(g) or g < 0 for g in getattr(self, name)):
                raise ValueError(f"{name}={getattr(self, name)!r}: every γ must be a finite number >= 0")
        if 0.0 not in self.gammas or 0.0 not in self.eta_gammas:
            raise ValueError("gammas and eta_gammas must include 0.0: every γ > 0 set is compared with γ = 0")
        if not 0 < self.guard <= 1:
            raise ValueError(f"guard={self.guard!r} must be in (0, 1]")
        if not (math.isfinite(self.eta) and self.eta > 0):
            raise ValueError(f"eta={self.eta!r} must be a finite number > 0")
        if any(c % self.eval_every for c in self.checkpoints):
            raise ValueError(f"checkpoints={self.checkpoints!r} must be multiples of eval_every={self.eval_every} "
                             "(adapters are kept at the evaluations)")

    def finetune_overrides(self) -> dict[str, Any]:
        """The :class:`~steer_lib.finetune.FinetuneConfig` settings on top of the quick profile."""
        return {"steps": self.max_steps, "lr": self.lr, "lr_schedule": "constant", "eval_every": self.eval_every,
                "checkpoint_every": self.eval_every, "keep_checkpoints": True, "patience": self.patience,
                "min_delta": self.min_delta}


@dataclasses.dataclass(frozen=True)
class SetSpec:
    """One sample set of the study: which P_θ (updates), which method and settings."""
    step: int
    method: str
    params: tuple[tuple[str, Any], ...]  # sorted (name, value) pairs for generate_file

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self.params)

    @property
    def tag(self) -> str:
        """File stem, e.g. ``steer_g0.3_e0_a0.1`` or ``top_k_T0.7``."""
        s = self.settings
        parts = [self.method]
        if self.method == "steer":
            parts += [f"g{s['gamma']:g}", f"e{s['eta']:g}"] + ([f"a{s['plausibility']:g}"] if "plausibility" in s else [])
        parts += [f"T{s['temperature']:g}"] if "temperature" in s and self.method != "steer" else []  # STEER: T = 1
        parts += [f"p{s['top_p']:g}"] if "top_p" in s else []
        return "_".join(parts)

    @property
    def partner(self) -> "SetSpec | None":
        """The γ = 0 set this one is compared with (same checkpoint, same η, no guard); None for baselines."""
        s = self.settings
        if self.method != "steer" or (s["gamma"] == 0 and "plausibility" not in s):
            return None
        base = {k: v for k, v in s.items() if k != "plausibility"} | {"gamma": 0.0}
        return SetSpec(self.step, "steer", tuple(sorted(base.items())))


def steer_spec(step: int, gamma: float, eta: float, cfg: StudyConfig, guard: float | None = None) -> SetSpec:
    p = {"gamma": float(gamma), "eta": float(eta), "top_k": cfg.top_k, "temperature": 1.0}
    p |= {"k": cfg.k_neg} if eta > 0 else {}
    p |= {"plausibility": guard} if guard is not None else {}
    return SetSpec(step, "steer", tuple(sorted(p.items())))


def plan(cfg: StudyConfig, final_step: int) -> list[SetSpec]:
    """Every set of one task, given where P_θ's training ended (cheap sets first, the costly η > 0 ones last)."""
    steps = sorted({c for c in cfg.checkpoints if c < final_step} | {final_step})
    specs = []
    for step in steps:
        specs += [steer_spec(step, g, 0.0, cfg) for g in cfg.gammas]
        specs += [steer_spec(step, g, 0.0, cfg, cfg.guard) for g in cfg.guarded_gammas if g > 0]
    specs += [SetSpec(final_step, "top_k", (("temperature", t), ("top_k", cfg.top_k))) for t in cfg.top_k_temperatures]
    specs += [SetSpec(final_step, "nucleus", (("top_p", p),)) for p in cfg.nucleus_top_ps]
    specs += [steer_spec(final_step, g, cfg.eta, cfg) for g in cfg.eta_gammas]
    specs += [steer_spec(final_step, g, cfg.eta, cfg, cfg.guard) for g in cfg.eta_gammas if g > 0]
    return specs


# ---------------------------------------------------------------- where things live
def study_dir(base_model: str = "") -> Path:
    """``runs/study/`` (``runs/study@<model>-<hash>/`` for another base model)."""
    return paths.profile_runs_dir(SCOPE, base_model)


def generation_file(task: str, spec: SetSpec, cfg: StudyConfig) -> Path:
    name = f"{spec.tag}_n{cfg.n_samples}_s{cfg.seed}.jsonl"
    return study_dir(cfg.base_model) / "generations" / task / f"step{spec.step}" / name


def metrics_file(generation: Path, base_model: str = "") -> Path:
    rel = generation.relative_to(study_dir(base_model) / "generations")
    return study_dir(base_model) / "metrics" / rel.with_suffix(".json")


def summary_file(task: str, base_model: str = "") -> Path:
    return study_dir(base_model) / f"study_{task}.json"


def figure_file(task: str, base_model: str = "") -> Path:
    return paths.figures_dir(SCOPE, base_model) / f"study_gamma_{task}.png"


def is_complete(path: Path, n: int) -> bool:
    """Whether the generation file ``path`` holds at least ``n`` finished lines (records)."""
    if not path.is_file():
        return False
    with open(path, "rb") as f:
        return sum(1 for line in f if line.endswith(b"\n")) >= n


# ---------------------------------------------------------------- the stages
def train(task: str, cfg: StudyConfig, progress: bool = True) -> tuple[Path, dict[str, Any]]:
    """P_θ trained to its plateau (cached; a rerun resumes an interrupted run); its folder and record."""
    from ..finetune.domain_model import adapter_dir, finetune, read_record
    from ..locks import file_lock

    path_kw = cfg.finetune_overrides()
    base = cfg.base_model or None
    with file_lock(adapter_dir(task, "quick", base, **path_kw)):  # two shards: one trains, the other then finds it
        path = finetune(task, "quick", base, progress=progress, **path_kw)
    return path, read_record(path)


def generate_sets(task: str, cfg: StudyConfig, specs: list[SetSpec], final_step: int,
                  progress: bool = True) -> dict[str, float]:
    """Generate (or resume) each set in ``specs``; seconds spent per set generated now.

    ``final_step``: where P_θ's training ended (its record's ``steps_trained``): sets at that step decode from the
    finished adapter, the others from the checkpoint kept at their step. It is passed, never inferred from
    ``specs``: a shard or a partial rerun may hold only earlier steps, which must not get the final adapter.
    """
    from ..decoding.writer import generate_file
    from ..finetune.domain_model import load_domain_model

    spent: dict[str, float] = {}
    final = final_step
    for step in sorted({s.step for s in specs}):
        todo = [s for s in specs if s.step == step and not is_complete(generation_file(task, s, cfg), cfg.n_samples)]
        if not todo:
            continue
        model, tok = load_domain_model(task, "quick", cfg.base_model or None,
                                       checkpoint=None if step == final else step, **cfg.finetune_overrides())
        for spec in todo:
            out = generation_file(task, spec, cfg)
            t0 = time.perf_counter()
            generate_file(task, spec.method, cfg.n_samples, out, model=model, tokenizer=tok, seed=cfg.seed,
                          batch_size=cfg.batch_size, progress=progress, strict=True,
                          model_id=f"{task}/study+lora@{step}", **spec.settings,
                          **({"max_new_tokens": cfg.max_new_tokens} if cfg.max_new_tokens else {}))
            spent[str(out.relative_to(study_dir(cfg.base_model)))] = round(time.perf_counter() - t0, 1)
            _record_seconds(task, cfg, spent)  # as it goes: an interrupted run keeps the times of the sets it made
    return spent


def seconds_file(task: str, base_model: str = "") -> Path:
    """The wall-clock seconds each set took to generate (the runs that made them; a resumed set: its last run)."""
    return study_dir(base_model) / f"generation_seconds_{task}.json"


def _record_seconds(task: str, cfg: StudyConfig, spent: dict[str, float]) -> None:
    from ..files import write_json

    path = seconds_file(task, cfg.base_model)
    known = json.loads(path.read_text()) if path.is_file() else {}
    write_json(path, {**known, **spent})


def score(task: str, generation: Path, cfg: StudyConfig) -> dict[str, Any]:
    """Every metric of one set against the real training pool (cached; recomputed when the generations change)."""
    from ..files import write_json
    from ..metrics.evaluation import evaluate
    from ..files import read_jsonl
    from .experiment import real_reference

    out, sha = metrics_file(generation, cfg.base_model), _sha256(generation)
    if out.is_file():
        cached = json.loads(out.read_text())
        if cached.get("generations_sha256") == sha:
            return cached
    from ..metrics.text import MetricWarning

    texts = [r["text"] for r in read_jsonl(generation)][: cfg.n_samples]
    with warnings.catch_warnings():  # the same caveat for every set (n = 150 < 1000 for MAUVE): say it once, not 25×
        warnings.simplefilter("once", MetricWarning)
        result = evaluate(texts, real_reference(task), task=task, seed=cfg.seed)
    result = {"generations": str(generation.relative_to(study_dir(cfg.base_model))), "generations_sha256": sha,
              **result}
    write_json(out, result)
    return result


def compare(task: str, a: Path, b: Path, cfg: StudyConfig, memo: dict) -> dict[str, dict[str, Any]]:
    """``a − b`` with its 95 % bootstrap interval for every tested measure (raw difference, not 'better').

    Cached under ``comparisons/`` by the two files' sha256 and the bootstrap's settings (the MAUVE and AUROC
    replicates refit their models: minutes a pair), so a rerun or a report after more sets arrive costs nothing.
    """
    from ..files import write_json
    from ..metrics.embeddings import as_embedder
    from .significance import bootstrap_test, load_set

    key = hashlib.sha256(json.dumps([_sha256(a), _sha256(b), cfg.reps, cfg.seed, cfg.n_samples, sorted(TESTED)])
                         .encode()).hexdigest()[:16]
    cache = study_dir(cfg.base_model) / "comparisons" / task / f"{key}.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    if "__embedder__" not in memo:
        memo["__embedder__"] = as_embedder(None)
    for p in (a, b):
        if p not in memo:
            memo[p] = load_set(p, task, cfg.seed, n=cfg.n_samples, embedder=memo["__embedder__"])
    sets = [memo[a], memo[b]]
    out = {}
    for col in TESTED:
        r = bootstrap_test([sets[0]], [sets[1]], col, +1, reps=cfg.reps, seed=cfg.seed)
        out[col] = {"diff": r["diff"], "ci": r["ci"], "separated": r["separated"]}
    write_json(cache, out)
    return json.loads(cache.read_text())  # as a rerun reads it (NaN as null), so both runs summarise alike


def summarise(task: str, cfg: StudyConfig, record: dict[str, Any], spent: dict[str, float]) -> dict[str, Any]:
    """Score every set, compare each γ > 0 set with its γ = 0 partner, write ``study_<task>.json`` and the figure."""
    from ..files import write_json

    final = record["steps_trained"]
    specs = plan(cfg, final)
    missing = [generation_file(task, s, cfg) for s in specs
               if not is_complete(generation_file(task, s, cfg), cfg.n_samples)]
    if missing:
        raise FileNotFoundError(f"the study of {task} has {len(missing)} set(s) still to generate (first: "
                                f"{missing[0]}); run `python -m steer_lib study --tasks {task}` to finish them")
    where = study_dir(cfg.base_model)
    recorded = seconds_file(task, cfg.base_model)
    seconds = {**(json.loads(recorded.read_text()) if recorded.is_file() else {}), **spent}
    memo: dict = {}
    rows = []
    for spec in specs:
        gen = generation_file(task, spec, cfg)
        m = score(task, gen, cfg)
        row = {"step": spec.step, "method": spec.method, "tag": spec.tag, **spec.settings,
               "generations": str(gen.relative_to(where)), "seconds": seconds.get(str(gen.relative_to(where))),
               "metrics": {k: m.get(k) for k in ("mauve", "adv_auroc", "cosine", "ngram3", "diversity", "validity",
                                                  "self_bleu", "compression_ratio", "mean_length")}}
        if spec.partner is not None:
            row["vs"] = spec.partner.tag
            row["diff"] = compare(task, gen, generation_file(task, spec.partner, cfg), cfg, memo)
        rows.append(row)
    evals = [{"step": 0, "loss_completion": record["eval"]["base_loss_completion"], "loss": record["eval"]["base_loss"]}]
    evals += [{"step": e["step"], "loss_completion": e["loss_completion"], "loss": e["loss"]} for e in record["evals"]]
    summary = {"task": task, "config": cfg.to_dict(), "created": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               "machine": f"{platform.machine()}, {__import__('os').cpu_count()} CPU(s)",
               "training": {"steps_trained": final, "stopped_early": record.get("stopped_early", False),
                            "max_steps": cfg.max_steps, "evals": evals, "train_seconds": record["train_seconds"],
                            "adapter": record["key"]},
               "generation_seconds": seconds, "sets": rows}
    write_json(summary_file(task, cfg.base_model), summary)
    summary = load_summary(task, cfg.base_model)  # as a reader gets it (strict JSON: lists, null for NaN)
    plot(summary, save=True)
    return summary


def run(cfg: StudyConfig, shard: tuple[int, int] = (1, 1), progress: bool = True,
        report_only: bool = False) -> dict[str, dict[str, Any]]:
    """The whole study, task by task (resumable); the summaries of the tasks whose sets are all done."""
    i, n = shard
    done = {}
    for task in cfg.tasks:
        _, record = train(task, cfg, progress=progress)
        specs = plan(cfg, record["steps_trained"])
        spent = {} if report_only else generate_sets(task, cfg, specs[i - 1::n], record["steps_trained"],
                                                     progress=progress)
        if all(is_complete(generation_file(task, s, cfg), cfg.n_samples) for s in specs):
            done[task] = summarise(task, cfg, record, spent)
    return done


# ---------------------------------------------------------------- reading it
def load_summary(task: str, base_model: str = "") -> dict[str, Any] | None:
    p = summary_file(task, base_model)
    return json.loads(p.read_text()) if p.is_file() else None


RECORDED = "docs/study"  # the summaries of the run the README reports, committed (runs/ is a build product)


def find_summary(task: str, base_model: str = "") -> tuple[dict[str, Any] | None, str]:
    """This machine's summary (``runs/study/``) if there is one, else the recorded run's (``docs/study/``, embedded
    model only), with a line saying which it is; ``(None, why)`` when neither exists."""
    mine = load_summary(task, base_model)
    if mine is not None:
        return mine, f"this machine's run ({summary_file(task, base_model)}, {mine['created']})"
    recorded = paths.root() / RECORDED / f"study_{task}.json"
    if not base_model and recorded.is_file():
        rec = json.loads(recorded.read_text())
        return rec, f"the recorded run ({RECORDED}/study_{task}.json: {rec['created']}, {rec['machine']})"
    return None, f"{task}: the γ study has not been run here (`make study`, or `python -m steer_lib study --tasks {task}`)"


def plot(summary: dict[str, Any], save: bool = False, metrics: tuple[str, ...] = ("mauve", "adv_auroc", "ngram3")):
    """P_θ's held-out loss along training, and each γ's effect on each metric (vs γ = 0, 95 % interval)."""
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2 * (len(metrics) + 1), 3.6)) if save else plt.figure(figsize=(4.2 * (len(metrics) + 1), 3.6))
    axes = fig.subplots(1, len(metrics) + 1)
    ev = summary["training"]["evals"]
    axes[0].plot([e["step"] for e in ev], [e["loss_completion"] for e in ev], "o-", color="tab:red")
    axes[0].set(xlabel="P_θ's updates", ylabel="held-out loss (completion, nats/token)",
                title=f"{summary['task']}: P_θ's training")
    names = {"mauve": "MAUVE (higher = closer to real)", "adv_auroc": "adversarial AUROC (lower = harder to tell)",
             "ngram3": "3-grams (higher = more diverse)", "cosine": "cosine to real (higher)",
             "diversity": "diversity (higher)"}
    eta0 = [r for r in summary["sets"] if r["method"] == "steer" and r["eta"] == 0 and "diff" in r]
    lines = sorted({(r["gamma"], r.get("plausibility")) for r in eta0}, key=lambda x: (x[1] is not None, x[0]))
    colors = plt.get_cmap("viridis")
    gmax = max([g for g, _ in lines] or [1.0])
    for ax, col in zip(axes[1:], metrics):
        for j, (g, a) in enumerate(lines):
            pts = sorted((r["step"], r["diff"][col]) for r in eta0 if r["gamma"] == g and r.get("plausibility") == a)
            x = [s + (j - len(lines) / 2) * 2 for s, _ in pts]  # a small offset so intervals do not hide each other
            y = [_num(d["diff"]) for _, d in pts]
            err = [[_num(d["diff"]) - _num(d["ci"][0]) for _, d in pts], [_num(d["ci"][1]) - _num(d["diff"]) for _, d in pts]]
            ax.errorbar(x, y, yerr=err, marker="o" if a is None else "s", ls="-" if a is None else "--", capsize=3,
                        color=colors(0.15 + 0.7 * g / gmax), label=f"γ={g:g}" + (f", guard α={a:g}" if a else ""))
        ax.axhline(0, color="gray", lw=1)
        ax.set(xlabel="P_θ's updates", ylabel="Δ vs γ = 0 (η = 0)", title=names.get(col, col))
    axes[1].legend(fontsize=7)
    fig.suptitle(f"Does γ pay as P_θ trains? {summary['task']}, {summary['config']['n_samples']} samples a set "
                 f"(bars: 95 % bootstrap interval; {summary['created']})", fontsize=9)
    fig.tight_layout()
    if save:
        out = figure_file(summary["task"], summary["config"].get("base_model", ""))
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=130, metadata=plots.file_metadata(fig, out.suffix))  # (with its description)
        fig.savefig(out.with_suffix(".pdf"), metadata=plots.file_metadata(fig, "pdf"))
    return fig


def _num(x) -> float:
    """A number from the summary (JSON writes NaN as null)."""
    return math.nan if x is None else float(x)


def _interval(d: dict[str, Any]) -> str:
    lo, hi = (_num(v) for v in d["ci"])
    return f"{_num(d['diff']):+.3f} [{lo:+.3f}, {hi:+.3f}]" if lo == lo else f"{_num(d['diff']):+.3f} [no interval]"


def verdict(d: dict[str, Any], direction: int) -> str:
    """'helps' / 'hurts' / 'no clear effect' for one difference, reading its interval and the metric's direction."""
    lo, hi = (_num(v) for v in d["ci"])
    if math.isnan(lo) or math.isnan(hi):
        return "cannot be measured"
    if lo > 0 or hi < 0:
        return "helps" if (lo > 0) == (direction > 0) else "hurts"
    return "no clear effect"


def conclusion(summary: dict[str, Any]) -> list[str]:
    """Plain sentences, printed from the numbers: what γ does at the first and the final checkpoint."""
    sets = [r for r in summary["sets"] if "diff" in r]
    tr = summary["training"]
    out = [f"{summary['task']}: P_θ trained {tr['steps_trained']} updates "
           f"({'stopped at the plateau' if tr['stopped_early'] else 'the budget ran out before a plateau'}); held-out "
           f"completion loss {tr['evals'][0]['loss_completion']:.2f} → {tr['evals'][-1]['loss_completion']:.2f}."]
    steps = sorted({r["step"] for r in sets})
    for r in sorted(sets, key=lambda r: (r["eta"], r["step"], r.get("plausibility") or 0, r["gamma"])):
        if r["step"] not in (steps[0], steps[-1]) and r["eta"] == 0:
            continue
        effects = {col: verdict(r["diff"][col], TESTED[col]) for col in ("mauve", "adv_auroc", "ngram3")}
        coh = [effects["mauve"], effects["adv_auroc"]]
        word = ("cannot be judged on coherence (no interval: too few distinct samples)"
                if all(c == "cannot be measured" for c in coh) else
                "pays on coherence" if "helps" in coh and "hurts" not in coh else
                "costs coherence" if "hurts" in coh and "helps" not in coh else
                "has mixed effects on coherence" if "helps" in coh else "makes no measurable difference to coherence")
        guard = f" with the guard α={r['plausibility']:g}" if r.get("plausibility") else ""
        out.append(f"After {r['step']} updates, η={r['eta']:g}: γ={r['gamma']:g}{guard} {word} "
                   f"(MAUVE {_interval(r['diff']['mauve'])}, AUROC {_interval(r['diff']['adv_auroc'])}); "
                   f"diversity (3-grams): {effects['ngram3']}.")
    return out


def markdown(summary: dict[str, Any]) -> str:
    """The study's comparisons as a Markdown table (each γ > 0 set minus its γ = 0 partner, 95 % interval)."""
    head = ("| P_θ updates | η | γ | guard α | MAUVE Δ | AUROC Δ (lower = better) | 3-grams Δ | cosine Δ | γ on coherence |\n"
            "|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    for r in sorted((r for r in summary["sets"] if "diff" in r),
                    key=lambda r: (r["eta"], r["step"], r.get("plausibility") or 0, r["gamma"])):
        d = r["diff"]
        coh = [verdict(d[c], TESTED[c]) for c in ("mauve", "adv_auroc")]
        word = ("cannot be judged" if all(c == "cannot be measured" for c in coh) else
                "helps" if "helps" in coh and "hurts" not in coh else "hurts" if "hurts" in coh and "helps" not in coh
                else "mixed" if "helps" in coh else "no clear effect")
        lines.append(f"| {r['step']} | {r['eta']:g} | {r['gamma']:g} | {r.get('plausibility') or '—'} | "
                     f"{_interval(d['mauve'])} | {_interval(d['adv_auroc'])} | {_interval(d['ngram3'])} | "
                     f"{_interval(d['cosine'])} | {word} |")
    return "\n".join(lines)
