"""The fine-tuning settings of the domain model P_θ: a typed config with per-profile defaults."""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from ..config import Config


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
    checkpoint_every: int = 0  # save a resumable state every N steps (a rerun continues there); 0 = none
    keep_checkpoints: bool = False  # keep each checkpoint's adapter in the finished folder (checkpoints/step-N/)
    patience: int = 0  # stop once `patience` evaluations in a row improve the completion-only held-out loss by
    #                    less than `min_delta` (a plateau; needs eval_every); 0 = always train all `steps`
    min_delta: float = 0.01  # nats/token: the improvement that counts as progress for `patience`
    seed: int = 0  # LoRA init and batch order

    PROFILES: ClassVar[dict[str, dict[str, Any]]] = {
        # CI: ≤ 2 min per task on a 2-core CPU, model load and both evaluations included (docs/measurements.md).
        "smoke": {"steps": 12, "batch_size": 8, "max_length": 72, "lr": 2e-3, "eval_examples": 32,
                  "eval_max_length": 128},
        # The README's main job: ≤ 6 min per task on a 2-core CPU (docs/measurements.md).
        "quick": {"steps": 40, "batch_size": 8, "max_length": 96, "lr": 2e-3, "eval_every": 10},
        # The STEER authors' settings (QLoRA on a GPU).
        "paper": {"steps": 2000, "batch_size": 16, "grad_accum": 4, "max_length": 512, "lr": 2e-4,
                  "lr_schedule": "constant", "warmup_ratio": 0.03, "max_grad_norm": 0.3, "lora_r": 64,
                  "lora_alpha": 16, "lora_dropout": 0.1, "qlora": True, "eval_max_length": 512,
                  "eval_every": 200, "checkpoint_every": 200},
    }

    # Settings that do not change the trained weights, or that were added after adapters were cached: left out of
    # the adapter's cache key at these values, so adapters trained before they existed keep their folders.
    KEY_NEUTRAL: ClassVar[dict[str, Any]] = {"checkpoint_every": None, "keep_checkpoints": False, "patience": 0,
                                            "min_delta": 0.01}

    def key_dict(self) -> dict[str, Any]:
        """The settings the adapter's cache key hashes (``to_dict`` minus :data:`KEY_NEUTRAL` at neutral values).

        ``checkpoint_every`` never changes the weights (always left out); ``min_delta`` only matters with patience.
        """
        d = self.to_dict()
        for name, neutral in self.KEY_NEUTRAL.items():
            if neutral is None or d[name] == neutral or (name == "min_delta" and not self.patience):
                d.pop(name)
        return d

    def validate(self) -> None:
        positive = ("steps", "batch_size", "grad_accum", "max_length", "lora_r", "lora_alpha",
                    "eval_examples", "eval_max_length", "eval_batch_size")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)!r} must be at least 1")
        for name in ("eval_every", "checkpoint_every", "patience", "min_delta", "max_train_examples", "seed",
                     "weight_decay", "max_grad_norm"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}={getattr(self, name)!r} must not be negative")
        if not 0 < self.lr < float("inf"):  # inf trains a NaN adapter
            raise ValueError(f"lr={self.lr!r} must be positive and finite")
        if not 0 <= self.warmup_ratio < 1:
            raise ValueError(f"warmup_ratio={self.warmup_ratio!r} must be in [0, 1)")
        if not 0 <= self.lora_dropout < 1:
            raise ValueError(f"lora_dropout={self.lora_dropout!r} must be in [0, 1)")
        if self.lr_schedule not in ("constant", "linear", "cosine"):
            raise ValueError(f"lr_schedule={self.lr_schedule!r} is not one of constant, linear, cosine")
        if self.mixed_precision not in ("auto", "no", "bf16", "fp16"):
            raise ValueError(f"mixed_precision={self.mixed_precision!r} is not one of auto, no, bf16, fp16")
        if self.patience and not self.eval_every:
            raise ValueError(f"patience={self.patience} needs eval_every > 0 (the plateau is read off the evaluations)")
        if self.keep_checkpoints and not self.checkpoint_every:
            raise ValueError("keep_checkpoints=True needs checkpoint_every > 0")
        if self.batch_size % self.grad_accum:
            raise ValueError(f"batch_size={self.batch_size} is not divisible by grad_accum={self.grad_accum}")
