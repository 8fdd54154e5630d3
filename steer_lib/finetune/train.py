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
import time
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


def train(accelerator, cfg: "FinetuneConfig", base: str | None, train_texts: list[str], val_texts: list[str],
          prompt: str, progress: bool = True, on_step: Callable[[int, float], None] | None = None) -> dict[str, Any]:
    """Train a LoRA adapter; return ``{"model", "history", "eval", ...}`` (see :func:`make_accelerator`).

    ``on_step(step, loss)`` is called after every optimizer update (tests use it to interrupt).
    """
    from peft import LoraConfig, get_peft_model
    from tqdm.auto import tqdm

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

    with raw.disable_adapter():  # the base model P_φ, from the very same weights
        base_eval = _evaluate(accelerator, raw, val_ex, cfg, pad_id)

    stream = batch_stream(len(train_ex), cfg.batch_size, torch.Generator().manual_seed(cfg.seed))
    micro = cfg.batch_size // cfg.grad_accum
    history: list[dict[str, float]] = []
    evals: list[dict[str, float]] = []
    bar = tqdm(range(cfg.steps), desc="fine-tune", disable=not (progress and accelerator.is_main_process))
    model.train()
    t0, c0 = time.perf_counter(), time.process_time()  # wall and CPU time (CPU time is robust to a busy machine)
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
        if on_step is not None:
            on_step(step + 1, step_loss)
    train_seconds, train_cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    bar.close()
    final = _evaluate(accelerator, raw, val_ex, cfg, pad_id)
    evals.append({"step": cfg.steps, **final})
    return {"model": raw, "history": history, "evals": evals,
            "eval": {"base_loss": base_eval["loss"], "base_loss_completion": base_eval["loss_completion"],
                     "loss": final["loss"], "loss_completion": final["loss_completion"], "tokens": final["tokens"]},
            "train_seconds": train_seconds, "train_cpu_seconds": train_cpu_seconds, "load_seconds": load_seconds,
            "target_modules": targets,
            "quantized_4bit": quantized, "qlora_fallback": qlora_fallback(cfg, accelerator.device),
            "num_processes": world, "device": str(accelerator.device),
            "mixed_precision": accelerator.mixed_precision, "threads": torch.get_num_threads(),
            "n_train": len(train_ex), "n_val": len(val_ex),
            "truncated": sum(e.ids[-1] != tokenizer.eos_token_id for e in train_ex)}
