"""Fine-tune the domain model P_θ for a task: a LoRA adapter on the base model P_φ, cached.

STEER contrasts a domain model P_θ (the base model fine-tuned on a task's real examples)
with the base model P_φ. Here P_θ is a LoRA adapter, kept *unmerged*, so the decoding
engine can run P_φ by switching the adapter off on the very same weights.

- :func:`finetune` trains on ``task.format(text)`` for the task's real training texts (plus
  EOS, so P_θ learns to stop) and saves the adapter under
  ``runs/models/<task>/<key>/`` with its config, data hashes, base-model id, loss history
  and held-out losses; ``key`` hashes all of these inputs, so a second call with the same
  settings returns the folder without training.
- :func:`load_domain_model` returns ``(peft_model, tokenizer)`` ready for
  ``steer_lib.decoding.generate`` (training first if needed).
- ``python -m steer_lib finetune --task T --profile P [--json] [--set k=v ...] [--force]``.

The same code runs data-parallel under ``accelerate launch`` (see :mod:`steer_lib.finetune_train`);
on a CPU-only machine use ``accelerate launch --multi_gpu --num_processes 2 -m steer_lib finetune ...``
(or ``torchrun --nproc_per_node 2 -m steer_lib finetune ...``): ``--cpu --num_processes 2`` starts
one process unless accelerate is given an MPI hostfile.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, ClassVar

from . import models, paths
from .config import Config, check_profile, parse_sets
from .finetune_data import texts_sha256
from .runtime import configure_threads
from .tasks import Task, get_task

RECORD = "record.json"  # written last: its presence (with the weights) marks a finished adapter
WEIGHTS = "adapter_model.safetensors"


@dataclasses.dataclass(frozen=True)
class FinetuneConfig(Config):
    steps: int = 60  # optimizer updates
    batch_size: int = 8  # examples per update, over all processes and micro-batches together
    grad_accum: int = 1  # micro-batches per update (saves memory; the maths is the same)
    max_length: int = 96  # tokens per training example (prompt + text + EOS); longer ones are cut, without EOS
    lr: float = 1e-3  # AdamW peak learning rate (LoRA tolerates far higher rates than full fine-tuning)
    lr_schedule: str = "cosine"  # after warmup: constant | linear | cosine (decay to 0 at `steps`)
    warmup_ratio: float = 0.03  # fraction of steps with a linear warmup
    weight_decay: float = 0.0  # AdamW weight decay on the LoRA matrices
    max_grad_norm: float = 1.0  # gradient clipping; 0 turns it off
    lora_r: int = 16  # LoRA rank
    lora_alpha: int = 32  # LoRA scale numerator (the update is scaled by alpha / r)
    lora_dropout: float = 0.05  # dropout on the LoRA branch's input
    target_modules: tuple[str, ...] = ()  # layers to adapt; empty = every linear layer but the output head
    completion_only: bool = False  # train on the text + EOS only (the prompt is then context, not target)
    qlora: bool = False  # 4-bit NF4 base when CUDA and bitsandbytes are present (else plain LoRA; record says)
    gradient_checkpointing: bool = False  # trade compute for memory (long sequences on small GPUs)
    mixed_precision: str = "auto"  # auto (bf16/fp16 on CUDA, none on CPU) | no | bf16 | fp16
    max_train_examples: int = 0  # use only the first N training texts; 0 = all
    eval_examples: int = 100  # held-out (val) texts for the before/after loss
    eval_max_length: int = 256  # tokens per held-out example (a separate cap, so profiles compare)
    eval_batch_size: int = 16  # held-out texts per forward pass
    eval_every: int = 0  # also evaluate every N steps (0 = only before and after training)
    seed: int = 0  # LoRA init and batch order

    PROFILES: ClassVar[dict[str, dict[str, Any]]] = {
        # CI: ≤ 2 min per task on a 2-core CPU, model load and both evaluations included.
        # Measured (hypotheses): held-out loss 4.36 -> 2.39 per token; 154 CPU-s on one busy thread in all.
        "smoke": {"steps": 12, "batch_size": 8, "max_length": 72, "lr": 2e-3, "eval_examples": 32,
                  "eval_max_length": 128},
        # The README's main job: ≤ 6 min per task on a 2-core CPU (≈ 5.7 s per step of 8 × ≤ 96 tokens there).
        "quick": {"steps": 40, "batch_size": 8, "max_length": 96, "lr": 2e-3},
        # The STEER authors' settings (QLoRA on a GPU).
        "paper": {"steps": 2000, "batch_size": 16, "grad_accum": 4, "max_length": 512, "lr": 2e-4,
                  "lr_schedule": "constant", "warmup_ratio": 0.03, "max_grad_norm": 0.3, "lora_r": 64,
                  "lora_alpha": 16, "lora_dropout": 0.1, "qlora": True, "eval_max_length": 512,
                  "eval_every": 200},
    }

    def validate(self) -> None:
        positive = ("steps", "batch_size", "grad_accum", "max_length", "lora_r", "lora_alpha",
                    "eval_examples", "eval_max_length", "eval_batch_size")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)!r} must be at least 1")
        for name in ("eval_every", "max_train_examples", "seed", "weight_decay", "max_grad_norm"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}={getattr(self, name)!r} must not be negative")
        if not self.lr > 0:
            raise ValueError(f"lr={self.lr!r} must be positive")
        if not 0 <= self.warmup_ratio < 1:
            raise ValueError(f"warmup_ratio={self.warmup_ratio!r} must be in [0, 1)")
        if not 0 <= self.lora_dropout < 1:
            raise ValueError(f"lora_dropout={self.lora_dropout!r} must be in [0, 1)")
        if self.lr_schedule not in ("constant", "linear", "cosine"):
            raise ValueError(f"lr_schedule={self.lr_schedule!r} is not one of constant, linear, cosine")
        if self.mixed_precision not in ("auto", "no", "bf16", "fp16"):
            raise ValueError(f"mixed_precision={self.mixed_precision!r} is not one of auto, no, bf16, fp16")
        if self.batch_size % self.grad_accum:
            raise ValueError(f"batch_size={self.batch_size} is not divisible by grad_accum={self.grad_accum}")


# ---------------------------------------------------------------- where adapters live
def _task(task: str | Task) -> Task:
    return task if isinstance(task, Task) else get_task(task)


def _data(task: Task, cfg: FinetuneConfig) -> tuple[list[str], list[str]]:
    train = task.real_texts("train")
    if cfg.max_train_examples:
        train = train[: cfg.max_train_examples]
    return train, task.real_texts("val")[: cfg.eval_examples]


def _inputs(task: Task, cfg: FinetuneConfig, base: str | None) -> dict[str, Any]:
    """Everything the adapter depends on; its hash names the cache folder."""
    train, val = _data(task, cfg)
    return {"task": task.name, "prompt": task.prompt, "base_model": models.model_id(base), "config": cfg.to_dict(),
            "train_sha256": texts_sha256(train), "val_sha256": texts_sha256(val)}


def _key(inputs: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()[:12]


def adapter_dir(task: str | Task, profile: str = "quick", base: str | None = None, **overrides: Any) -> Path:
    """Where the adapter for these settings is (or would be) cached: ``runs/models/<task>/<key>/``."""
    t = _task(task)
    cfg = FinetuneConfig.for_profile(check_profile(profile), **overrides)
    return paths.runs_dir() / "models" / t.name / _key(_inputs(t, cfg, base))


def is_finished(path: Path) -> bool:
    """A folder counts as a trained adapter only when its weights and its record (written last) exist."""
    return (Path(path) / RECORD).is_file() and (Path(path) / WEIGHTS).is_file()


def read_record(path: str | Path) -> dict[str, Any]:
    """The saved record of an adapter: config, inputs, loss history, held-out losses, timings."""
    p = Path(path)
    p = p / RECORD if p.is_dir() else p
    if not p.is_file():
        raise FileNotFoundError(f"no fine-tuning record at {p}; train it with steer_lib.finetune.finetune(...)")
    return json.loads(p.read_text(encoding="utf-8"))


# ---------------------------------------------------------------- training and loading
def finetune(task: str | Task, profile: str = "quick", base: str | None = None, force: bool = False,
             progress: bool = True, **overrides: Any) -> Path:
    """Train (or find cached) the LoRA adapter of P_θ for ``task``; return its folder.

    ``overrides`` are :class:`FinetuneConfig` settings (strings are coerced, as from the CLI).
    """
    t = _task(task)
    cfg = FinetuneConfig.for_profile(check_profile(profile), **overrides)
    inputs = _inputs(t, cfg, base)
    final = paths.runs_dir() / "models" / t.name / _key(inputs)
    if is_finished(final) and not force:
        return final

    from .finetune_train import make_accelerator, train

    accelerator = make_accelerator(cfg)
    if os.environ.get("STEER_THREADS") or os.environ.get("OMP_NUM_THREADS"):
        configure_threads()
    else:  # data-parallel processes on one machine share its cores
        configure_threads(max(1, (os.cpu_count() or 1) // accelerator.num_processes))
    t_start, c_start = time.perf_counter(), time.process_time()
    train_texts, val_texts = _data(t, cfg)
    out = train(accelerator, cfg, base, train_texts, val_texts, t.prompt, progress=progress, on_step=_on_step)
    model = out.pop("model")
    if accelerator.is_main_process:
        record = {**inputs, "profile": profile, "key": final.name, **out,
                  "total_seconds": time.perf_counter() - t_start, "total_cpu_seconds": time.process_time() - c_start,
                  "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                  "versions": _versions()}
        _save(model, record, final)
        _save_figure(record, profile, t.name)
    accelerator.wait_for_everyone()
    return final


def _on_step(step: int, loss: float) -> None:
    """Hook called after every optimizer update (a seam for tests that interrupt training)."""


def _save(model, record: dict[str, Any], final: Path) -> None:
    """Write into a hidden temp folder, then rename: a crash never leaves a finished-looking folder."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".tmp-{final.name}-{os.getpid()}"
    old = final.parent / f".old-{final.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        model.save_pretrained(str(tmp))
        (tmp / RECORD).write_text(json.dumps(record, indent=1, default=str), encoding="utf-8")
        if final.exists():  # force=True, or an unfinished folder from elsewhere: set it aside first
            os.replace(final, old)
        os.replace(tmp, final)
    finally:
        if old.exists() and not final.exists():  # the swap failed half-way: put the previous adapter back
            os.replace(old, final)
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def _versions() -> dict[str, str]:
    import accelerate
    import peft
    import torch
    import transformers

    return {m.__name__: m.__version__ for m in (torch, transformers, peft, accelerate)}


def load_domain_model(task: str | Task, profile: str = "quick", base: str | None = None, device: str = "auto",
                      **overrides: Any):
    """``(peft_model, tokenizer)``: P_θ with its adapter ``"default"`` unmerged, in eval mode.

    Trains first if the adapter is not cached. ``peft_model.disable_adapter()`` gives P_φ.
    """
    from peft import PeftModel

    path = finetune(task, profile=profile, base=base, **overrides)
    model, tokenizer = models.load_base(base, device=device)
    peft_model = PeftModel.from_pretrained(model, str(path), adapter_name="default", is_trainable=False)
    return peft_model.eval(), tokenizer


# ---------------------------------------------------------------- figure
def plot_loss(record: dict[str, Any], ax=None):
    """Training loss per step (and its running mean) with the held-out loss before and after."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.6))
    steps = [h["step"] for h in record["history"]]
    losses = [h["loss"] for h in record["history"]]
    w = max(1, len(losses) // 10)
    smooth = [sum(losses[max(0, i - w + 1): i + 1]) / len(losses[max(0, i - w + 1): i + 1]) for i in range(len(losses))]
    ax.plot(steps, losses, color="tab:blue", alpha=0.35 if w > 1 else 1.0, lw=1, label="training loss (per step)")
    if w > 1:
        ax.plot(steps, smooth, color="tab:blue", lw=2, label=f"training loss (mean of {w})")
    ev = record["eval"]
    ax.axhline(ev["base_loss"], color="tab:gray", ls="--", label=f"held-out, base P_φ: {ev['base_loss']:.2f}")
    points = [(0, ev["base_loss"])] + [(e["step"], e["loss"]) for e in record["evals"]]  # step 0 = base
    ax.plot(*zip(*points), "o-", color="tab:red", label=f"held-out, P_θ: {ev['loss']:.2f}")
    ax.set(xlabel="optimizer step", ylabel="loss (nats / token)",
           title=f"Fine-tuning P_θ: {record['task']} ({record.get('profile', '?')})")
    ax.legend(fontsize=8)
    return ax


def _save_figure(record: dict[str, Any], profile: str, task: str) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    out = paths.figures_dir(profile)
    out.mkdir(parents=True, exist_ok=True)
    ax = plot_loss(record)
    ax.figure.tight_layout()
    for ext in ("png", "pdf"):
        ax.figure.savefig(out / f"01_finetune_loss_{task}.{ext}", dpi=150)  # the name notebook 01 saves under
    plt.close(ax.figure)


# ---------------------------------------------------------------- CLI
def cli(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m steer_lib finetune", description=__doc__.split("\n")[0])
    p.add_argument("--task", required=True, help="hypotheses | comments-toxic | comments-nontoxic | commonsense")
    p.add_argument("--profile", default="quick", help="smoke | quick | paper (default: quick)")
    p.add_argument("--base", default=None, help="base model id or path (default: the embedded SmolLM2-135M)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a FinetuneConfig setting")
    p.add_argument("--force", action="store_true", help="retrain even if a cached adapter exists")
    p.add_argument("--json", action="store_true", help="print a JSON summary as the last line")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    try:
        overrides = parse_sets(args.set)
        path = adapter_dir(args.task, args.profile, args.base, **overrides)
        cached = is_finished(path) and not args.force
        path = finetune(args.task, args.profile, args.base, force=args.force, progress=not args.no_progress,
                        **overrides)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if int(os.environ.get("RANK", "0")) != 0:  # under a multi-process launch only the main process reports
        return 0
    rec = read_record(path)
    ev = rec["eval"]
    summary = {"adapter_path": str(path), "task": rec["task"], "profile": args.profile, "cached": cached,
               "base_eval_loss": ev["base_loss"], "eval_loss": ev["loss"],
               "base_eval_loss_completion": ev["base_loss_completion"], "eval_loss_completion": ev["loss_completion"],
               "train_seconds": rec["train_seconds"], "total_seconds": rec["total_seconds"],
               "steps": rec["config"]["steps"], "num_processes": rec["num_processes"],
               "final_train_loss": rec["history"][-1]["loss"]}
    print(f"{rec['task']}: held-out loss {ev['base_loss']:.3f} (base) -> {ev['loss']:.3f} (P_θ) per token; "
          f"completion only {ev['base_loss_completion']:.3f} -> {ev['loss_completion']:.3f}; "
          f"{summary['steps']} steps in {rec['train_seconds']:.0f} s{' (cached)' if cached else ''}\nadapter: {path}")
    if args.json:
        print(json.dumps(summary))
    return 0
