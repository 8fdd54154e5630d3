"""The training loop behind :func:`steer_lib.finetune.finetune` (LoRA / QLoRA, data-parallel).

A plain torch loop driven by accelerate's :class:`~accelerate.Accelerator`, which places the
model, wraps it for DDP under ``accelerate launch`` and applies autocast. Data parallelism is
done without a sampler: every process draws the *same* global batch from the same seed and
takes its own slice, and each slice's summed loss is divided by the token count of the whole
global batch (known to every process without communication). DDP averages gradients over
processes, so after multiplying by the process count the gradient is exactly that of the
per-token mean loss over the global batch -- one process or two give the same update.
"""
from __future__ import annotations

import contextlib
import math
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import torch
from torch import nn

from .. import models
from ..runtime import set_seed
from .dataset import Example, batch_stream, collate, count_targets, encode, eval_sums, length_batches, token_losses

if TYPE_CHECKING:
    from .config import FinetuneConfig


def lora_targets(model: nn.Module) -> list[str]:
    """Leaf names of every linear layer except the output head (Llama: q/k/v/o + gate/up/down).

    Derived from the modules rather than from a table of architectures, so any decoder
    (GPT-2's ``Conv1D`` included) gets its attention and MLP projections adapted.
    """
    from transformers.pytorch_utils import Conv1D

    head = model.get_output_embeddings()
    names = {name.rsplit(".", 1)[-1] for name, m in model.named_modules()
             if isinstance(m, (nn.Linear, Conv1D)) and m is not head and "." in name}
    if not names:
        raise ValueError(f"{type(model).__name__} has no linear layers LoRA could adapt; set target_modules")
    return sorted(names)


def make_accelerator(cfg: "FinetuneConfig"):
    """The run's :class:`~accelerate.Accelerator` (create it before anything else touches accelerate's state).

    Launched as several processes on a machine without CUDA (``torchrun``, or ``accelerate launch
    --multi_gpu``), the processes train data-parallel on the CPU with gloo: accelerate only does
    that when told ``cpu=True``. (``accelerate launch --cpu --num_processes N`` without an MPI
    hostfile starts a single process, so it is not a way to get CPU data parallelism.)
    """
    import os

    from accelerate import Accelerator

    cuda = torch.cuda.is_available() and os.environ.get("ACCELERATE_USE_CPU", "").lower() not in ("1", "true", "yes")
    cpu = not torch.cuda.is_available() and int(os.environ.get("WORLD_SIZE", "1")) > 1
    precision = cfg.mixed_precision
    if precision == "auto":  # bf16 (else fp16) autocast on CUDA; none on CPU/MPS, where it is slower or unsupported
        precision = ("bf16" if torch.cuda.is_bf16_supported() else "fp16") if cuda else "no"
    return Accelerator(cpu=cpu, mixed_precision=precision)


def qlora_fallback(cfg: "FinetuneConfig", device: torch.device) -> str | None:
    """Why a QLoRA request trains a plain LoRA on a full-precision base instead (None: no request, or 4-bit it is)."""
    import importlib.util

    if not cfg.qlora:
        return None
    if device.type != "cuda":
        return f"qlora=True asked for a 4-bit base, but the device is {device.type} (NF4 needs CUDA): plain LoRA instead"
    if importlib.util.find_spec("bitsandbytes") is None:
        return "qlora=True asked for a 4-bit base, but bitsandbytes is not installed: plain LoRA instead"
    return None


def _load_for_training(cfg: "FinetuneConfig", base: str | None, device: torch.device) -> tuple[nn.Module, bool]:
    """The base model, 4-bit NF4 when asked and possible (CUDA + bitsandbytes), else full precision."""
    want_4bit = cfg.qlora and qlora_fallback(cfg, device) is None
    if not want_4bit:
        model, _ = models.load_base(base, device=str(device), dtype=torch.float32 if device.type != "cuda" else None)
        return model, False
    from peft import prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    from ..runtime import default_dtype

    quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                               bnb_4bit_compute_dtype=default_dtype(device))
    gpu = device.index if device.index is not None else torch.cuda.current_device()  # this process's GPU
    model = AutoModelForCausalLM.from_pretrained(models.resolve_base(base), quantization_config=quant,
                                                 device_map={"": gpu}, dtype=default_dtype(device))
    model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=cfg.gradient_checkpointing)
    return model, True


def _lr_factor(cfg: "FinetuneConfig") -> Callable[[int], float]:
    warmup = math.ceil(cfg.warmup_ratio * cfg.steps)

    def factor(step: int) -> float:  # step = optimizer updates done so far
        if step < warmup:
            return (step + 1) / (warmup + 1)
        if cfg.lr_schedule == "constant":
            return 1.0
        frac = (step - warmup) / max(1, cfg.steps - warmup)
        if cfg.lr_schedule == "linear":
            return 1.0 - frac
        return 0.5 * (1.0 + math.cos(math.pi * frac))  # cosine
    return factor


def _evaluate(accelerator, model, examples: list[Example], cfg: "FinetuneConfig", pad_id: int) -> dict[str, float]:
    """Per-token held-out loss (prompt included) and completion-only loss, summed over all processes."""
    mine = length_batches(examples, cfg.eval_batch_size)[accelerator.process_index::accelerator.num_processes]
    was_training = model.training
    model.eval()
    sums = eval_sums(model, mine, pad_id, accelerator.device).to(accelerator.device)
    model.train(was_training)
    sums = accelerator.reduce(sums, reduction="sum").cpu()
    return {"loss": float(sums[0] / sums[1]), "loss_completion": float(sums[2] / sums[3]), "tokens": int(sums[1])}


STATE = "state.pt"  # in a run's state folder: optimizer, scheduler, RNG, step, history (beside latest/, the adapter)


def save_state(state_dir: Path, raw, optimizer, scheduler, step: int, history: list, evals: list,
               base_eval: dict, plateau: dict, keep: bool) -> None:
    """A resumable checkpoint after ``step`` updates, written whole or not at all (temp folder, then rename).

    ``latest/`` holds the adapter and ``state.pt`` the rest; with ``keep`` the adapter is also kept as
    ``checkpoints/step-NNNNNN/`` (loadable like a finished adapter), e.g. to decode from P_θ along its training.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    tmp = state_dir / f".tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    raw.save_pretrained(str(tmp / "latest"))
    torch.save({"step": step, "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "rng": torch.get_rng_state(), "history": history, "evals": evals, "base_eval": base_eval,
                "plateau": plateau}, tmp / STATE)
    if keep:
        shutil.copytree(tmp / "latest", state_dir / "checkpoints" / f"step-{step:06d}", dirs_exist_ok=True)
    # Swap in: the old state.pt goes first, so a crash in between leaves no state.pt beside a newer adapter
    # (load_state then finds no checkpoint, or the previous one whole, never a mismatched pair).
    (state_dir / STATE).unlink(missing_ok=True)
    shutil.rmtree(state_dir / "latest", ignore_errors=True)
    os.replace(tmp / "latest", state_dir / "latest")
    os.replace(tmp / STATE, state_dir / STATE)
    shutil.rmtree(tmp, ignore_errors=True)


def load_state(state_dir: Path | None) -> dict[str, Any] | None:
    """The last checkpoint's state (``None`` when there is none, or it is incomplete)."""
    if state_dir is None or not (state_dir / STATE).is_file() or not (state_dir / "latest").is_dir():
        return None
    return torch.load(state_dir / STATE, weights_only=False)


def _plateaued(plateau: dict, loss: float, cfg: "FinetuneConfig") -> bool:
    """Update the plateau counter with a new completion-only held-out loss; True once `patience` evals stalled."""
    if loss < plateau["best"] - cfg.min_delta:
        plateau.update(best=loss, stale=0)
    else:
        plateau.update(best=min(plateau["best"], loss), stale=plateau["stale"] + 1)
    return bool(cfg.patience) and plateau["stale"] >= cfg.patience


def train(accelerator, cfg: "FinetuneConfig", base: str | None, train_texts: list[str], val_texts: list[str],
          prompt: str, progress: bool = True, on_step: Callable[[int, float], None] | None = None,
          state_dir: Path | None = None) -> dict[str, Any]:
    """Train a LoRA adapter; return ``{"model", "history", "eval", ...}`` (see :func:`make_accelerator`).

    ``on_step(step, loss)`` is called after every optimizer update (tests use it to interrupt).
    ``state_dir``: where checkpoints go every ``cfg.checkpoint_every`` updates; a run that finds one there
    continues from it with the same batches, learning rate and dropout draws as an uninterrupted run.
    Training stops early at a plateau of the held-out loss when ``cfg.patience`` is set (``stopped_early``).
    """
    from peft import LoraConfig, get_peft_model
    from ..runtime import progress_bar

    world, rank = accelerator.num_processes, accelerator.process_index
    if cfg.batch_size % (cfg.grad_accum * world):
        raise ValueError(f"batch_size={cfg.batch_size} must be divisible by grad_accum={cfg.grad_accum} "
                         f"× processes={world}")
    tokenizer = models.load_tokenizer(base)
    pad_id = tokenizer.pad_token_id
    train_ex = encode(tokenizer, prompt, train_texts, cfg.max_length)
    val_ex = encode(tokenizer, prompt, val_texts[: cfg.eval_examples], cfg.eval_max_length)

    t_load = time.perf_counter()
    set_seed(cfg.seed)  # same LoRA init on every process
    model, quantized = _load_for_training(cfg, base, accelerator.device)
    targets = list(cfg.target_modules) or lora_targets(model)
    lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=targets, task_type="CAUSAL_LM")
    with models.quiet_known_noise():  # peft reads a transformers attribute deprecated in v5 (a FutureWarning)
        model = get_peft_model(model, lora)  # adapter name "default"
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    load_seconds = time.perf_counter() - t_load

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_factor(cfg))  # stepped by us, once per update
    model, optimizer = accelerator.prepare(model, optimizer)
    raw = accelerator.unwrap_model(model)

    stream = batch_stream(len(train_ex), cfg.batch_size, torch.Generator().manual_seed(cfg.seed))
    resumed = load_state(state_dir if cfg.checkpoint_every else None)
    if resumed is not None:  # continue an interrupted run exactly where its last checkpoint left it
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        set_peft_model_state_dict(raw, load_file(str(state_dir / "latest" / "adapter_model.safetensors")))
        optimizer.load_state_dict(resumed["optimizer"])
        scheduler.load_state_dict(resumed["scheduler"])
        torch.set_rng_state(resumed["rng"])
        for _ in range(resumed["step"]):  # the same batches as an uninterrupted run from here on
            next(stream)
        start, base_eval = resumed["step"], resumed["base_eval"]
        history, evals, plateau = resumed["history"], resumed["evals"], resumed["plateau"]
    else:
        with models.base_view(raw, strict=True):  # the base model P_φ, from the very same weights
            base_eval = _evaluate(accelerator, raw, val_ex, cfg, pad_id)
        start, history, evals = 0, [], []
        plateau = {"best": base_eval["loss_completion"], "stale": 0}
    micro = cfg.batch_size // cfg.grad_accum
    bar = progress_bar(range(start, cfg.steps), desc="fine-tune", initial=start, total=cfg.steps,
                       disable=not (progress and accelerator.is_main_process))
    model.train()
    stopped_early = False
    t0, c0 = time.perf_counter(), time.process_time()  # wall and CPU time (CPU time is robust to a busy machine)
    t0 -= history[-1]["seconds"] if history else 0.0  # a resumed run's clocks continue
    c0 -= history[-1]["cpu_seconds"] if history else 0.0
    for step in bar:
        batch = [train_ex[i] for i in next(stream)]
        n_tokens = count_targets(batch, cfg.completion_only)  # the whole global batch's normaliser
        loss_sum = 0.0
        for k in range(cfg.grad_accum):
            part = batch[k * micro:(k + 1) * micro][rank::world]
            b = collate(part, pad_id, cfg.completion_only).to(accelerator.device)
            sync = contextlib.nullcontext() if k == cfg.grad_accum - 1 else accelerator.no_sync(model)
            with sync:
                logits = model(input_ids=b.input_ids, attention_mask=b.attention_mask).logits
                ce, _ = token_losses(logits, b.labels)
                loss = ce.sum() / n_tokens
                accelerator.backward(loss * world)  # DDP averages over processes; undo that to get a sum
            loss_sum += loss.item()
        if cfg.max_grad_norm > 0:
            accelerator.clip_grad_norm_(params, cfg.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step_loss = float(accelerator.reduce(torch.tensor([loss_sum], device=accelerator.device), "sum").item())
        history.append({"step": step + 1, "loss": step_loss, "lr": scheduler.get_last_lr()[0],
                        "seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0})
        bar.set_postfix(loss=f"{step_loss:.3f}")
        if cfg.eval_every and (step + 1) % cfg.eval_every == 0 and step + 1 < cfg.steps:
            evals.append({"step": step + 1, **_evaluate(accelerator, raw, val_ex, cfg, pad_id)})
            stopped_early = _plateaued(plateau, evals[-1]["loss_completion"], cfg)
        if cfg.checkpoint_every and ((step + 1) % cfg.checkpoint_every == 0 or stopped_early):
            if accelerator.is_main_process:
                save_state(state_dir, raw, optimizer, scheduler, step + 1, history, evals, base_eval, plateau,
                           cfg.keep_checkpoints)
            accelerator.wait_for_everyone()
        if on_step is not None:
            on_step(step + 1, step_loss)
        if stopped_early:
            break
    train_seconds, train_cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    bar.close()
    last = history[-1]["step"] if history else 0
    if evals and evals[-1]["step"] == last:  # stopped at an evaluation: that is the final one
        final = {k: v for k, v in evals[-1].items() if k != "step"}
    else:
        final = _evaluate(accelerator, raw, val_ex, cfg, pad_id)
        evals.append({"step": last, **final})
    return {"model": raw, "history": history, "evals": evals,
            "eval": {"base_loss": base_eval["loss"], "base_loss_completion": base_eval["loss_completion"],
                     "loss": final["loss"], "loss_completion": final["loss_completion"], "tokens": final["tokens"]},
            "train_seconds": train_seconds, "train_cpu_seconds": train_cpu_seconds, "load_seconds": load_seconds,
            "steps_trained": last, "stopped_early": stopped_early, "resumed_from": resumed["step"] if resumed else 0,
            "target_modules": targets,
            "quantized_4bit": quantized, "qlora_fallback": qlora_fallback(cfg, accelerator.device),
            "num_processes": world, "device": str(accelerator.device),
            "mixed_precision": accelerator.mixed_precision, "threads": torch.get_num_threads(),
            "n_train": len(train_ex), "n_val": len(val_ex),
            "truncated": sum(e.ids[-1] != tokenizer.eos_token_id for e in train_ex)}
