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

The same code runs data-parallel under ``accelerate launch`` (see :mod:`steer_lib.finetune.train`);
on a CPU-only machine use ``accelerate launch --multi_gpu --num_processes 2 -m steer_lib finetune ...``
(or ``torchrun --nproc_per_node 2 -m steer_lib finetune ...``): ``--cpu --num_processes 2`` starts
one process unless accelerate is given an MPI hostfile.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
from pathlib import Path
from typing import Any

from .. import models, paths, plots
from ..config import check_profile
from ..files import sha256_file, write_json
from ..data.tasks import Task, get_task
from ..runtime import configure_threads
from .config import FinetuneConfig
from .dataset import texts_sha256

RECORD = "record.json"  # written last: its presence (with the weights) marks a finished adapter
WEIGHTS = "adapter_model.safetensors"


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
    return {"task": task.name, "prompt": task.prompt, "base_model": models.model_id(base), "config": cfg.key_dict(),
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
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AdapterError(f"the fine-tuning record {p} is damaged ({exc.__class__.__name__}); rerun `python -m "
                           f"steer_lib finetune ... --force` (or delete {p.parent})") from None


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

    from .train import make_accelerator, train

    accelerator = make_accelerator(cfg)
    if os.environ.get("STEER_THREADS") or os.environ.get("OMP_NUM_THREADS"):
        configure_threads()
    else:  # data-parallel processes on one machine share its cores
        configure_threads(max(1, (os.cpu_count() or 1) // accelerator.num_processes))
    t_start, c_start = time.perf_counter(), time.process_time()
    train_texts, val_texts = _data(t, cfg)
    state = state_dir(final)
    if force and accelerator.is_main_process:
        shutil.rmtree(state, ignore_errors=True)  # --force trains from scratch, not from an old checkpoint
    accelerator.wait_for_everyone()
    out = train(accelerator, cfg, base, train_texts, val_texts, t.prompt, progress=progress, on_step=_on_step,
                state_dir=state)
    model = out.pop("model")
    loss = out.get("eval", {}).get("loss")
    if isinstance(loss, float) and not math.isfinite(loss):  # a diverged adapter is never cached as P_θ
        raise ValueError(f"fine-tuning {t.name} diverged: held-out loss {loss} after {cfg.steps} steps; nothing was "
                         f"saved (lower lr={cfg.lr:g})")
    if accelerator.is_main_process:
        record = {**inputs, "settings": cfg.to_dict(), "profile": profile, "key": final.name, **out,
                  "total_seconds": time.perf_counter() - t_start, "total_cpu_seconds": time.process_time() - c_start,
                  "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                  "versions": _versions()}
        _save(model, record, final, checkpoints=state / "checkpoints" if cfg.keep_checkpoints else None)
        shutil.rmtree(state, ignore_errors=True)  # the finished folder has what was kept
        _save_figure(record, profile, t.name, "" if models.model_id(base) == models.DEFAULT_BASE else str(base))
    accelerator.wait_for_everyone()
    return final


def _on_step(step: int, loss: float) -> None:
    """Hook called after every optimizer update (a seam for tests that interrupt training)."""


def state_dir(final: Path) -> Path:
    """Where a run's checkpoints live while it trains (``.partial-<key>/`` beside the finished folder)."""
    return final.parent / f".partial-{final.name}"


def checkpoint_dirs(path: str | Path) -> dict[int, Path]:
    """``{step: folder}`` of the adapters a finished run kept along its training (``keep_checkpoints=True``)."""
    root = Path(path) / "checkpoints"
    found = sorted(root.glob("step-*")) if root.is_dir() else []
    return {int(p.name.split("-")[1]): p for p in found if (p / WEIGHTS).is_file()}


def _save(model, record: dict[str, Any], final: Path, checkpoints: Path | None = None) -> None:
    """Write into a hidden temp folder, then rename: a crash never leaves a finished-looking folder."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".tmp-{final.name}-{os.getpid()}"
    old = final.parent / f".old-{final.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        model.save_pretrained(str(tmp))
        if checkpoints is not None and checkpoints.is_dir():
            shutil.copytree(checkpoints, tmp / "checkpoints")
        record = {**record, "weights_sha256": _sha256_file(tmp / WEIGHTS)}  # checked on every load
        write_json(tmp / RECORD, record, strict=False, default=str)
        if final.exists():  # force=True, or an unfinished folder from elsewhere: set it aside first
            os.replace(final, old)
        os.replace(tmp, final)
    finally:
        if old.exists() and not final.exists():  # the swap failed half-way: put the previous adapter back
            os.replace(old, final)
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


_SHA_CACHE: dict[tuple[str, int, int], str] = {}  # (path, mtime_ns, size) -> sha256: each file hashed once a process


def _sha256_file(path: Path) -> str:
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    if key not in _SHA_CACHE:
        _SHA_CACHE[key] = sha256_file(path)
    return _SHA_CACHE[key]


class AdapterError(ValueError):
    """A cached adapter that is damaged (unreadable record or config, weights that do not match their checksum)."""


def adapter_identity(path: str | Path) -> dict[str, str]:
    """``{"key": <folder name>, "weights_sha256": ...}`` of a finished adapter, verified: the weights' sha256 must
    equal the one its record saved at training time, else :class:`AdapterError` saying to retrain.

    The key hashes everything the adapter was trained from (task data's sha256, config, base model); the weights'
    hash tells two trainings of one key apart. Adapters saved before the record held the hash carry over: their
    weights are hashed now (they cannot be checked against training time, only identified).
    """
    path = Path(path)
    fix = f"rerun `python -m steer_lib finetune --task <task> --profile <profile> --force` (or delete {path})"
    try:
        record = json.loads((path / RECORD).read_text(encoding="utf-8"))
        json.loads((path / "adapter_config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AdapterError(f"the cached adapter {path} is damaged ({exc.__class__.__name__}: {exc}); {fix}") from None
    actual = _sha256_file(path / WEIGHTS)
    expected = record.get("weights_sha256") if isinstance(record, dict) else None
    if expected is not None and expected != actual:
        raise AdapterError(f"the cached adapter's weights {path / WEIGHTS} do not match the sha256 saved when it was "
                           f"trained ({actual[:12]}… vs {str(expected)[:12]}…): the file is damaged; {fix}")
    return {"key": path.name, "weights_sha256": actual}


def _versions() -> dict[str, str]:
    import accelerate
    import peft
    import torch
    import transformers

    return {m.__name__: m.__version__ for m in (torch, transformers, peft, accelerate)}


def load_domain_model(task: str | Task, profile: str = "quick", base: str | None = None, device: str = "auto",
                      checkpoint: int | None = None, **overrides: Any):
    """``(peft_model, tokenizer)``: P_θ with its adapter ``"default"`` unmerged, in eval mode.

    Trains first if the adapter is not cached. ``models.base_view(peft_model)`` (peft's ``disable_adapter()``) gives P_φ. ``checkpoint=N``:
    P_θ as it was after N updates (a run with ``keep_checkpoints=True``).
    """
    from peft import PeftModel

    path = finetune(task, profile=profile, base=base, **overrides)
    identity = adapter_identity(path)  # verified before it is used: a damaged file never yields NaN samples
    if checkpoint is not None:
        kept = checkpoint_dirs(path)
        if checkpoint not in kept:
            raise ValueError(f"checkpoint={checkpoint!r}: the run in {path} kept no adapter after that many updates; "
                             f"kept: {sorted(kept) or 'none (train with keep_checkpoints=True)'}")
        path = kept[checkpoint]  # its own identity: the records then say which point of the training made them
        identity = {"key": f"{identity['key']}@{checkpoint}", "weights_sha256": _sha256_file(path / WEIGHTS)}
    model, tokenizer = models.load_base(base, device=device)
    with models.quiet_known_noise():  # peft reads a transformers attribute deprecated in v5 (a FutureWarning per load)
        peft_model = PeftModel.from_pretrained(model, str(path), adapter_name="default", is_trainable=False)
    peft_model.steer_adapter = identity  # the writer records it in every sample: which P_θ made it
    return peft_model.eval(), tokenizer


# ---------------------------------------------------------------- figure
def heldout_points(record: dict[str, Any], completion: bool = True) -> list[tuple[int, float]]:
    """The measured held-out losses as ``(step, loss)``, step 0 being the base model P_φ: completion-only (the text
    after the fixed prompt, the measure) or with the prompt's tokens included. Only evaluations that ran are listed,
    so a figure drawn from them shows no point that was not measured.

    >>> heldout_points({"eval": {"base_loss": 4.4, "base_loss_completion": 4.0},
    ...                 "evals": [{"step": 20, "loss": 3.0, "loss_completion": 3.5},
    ...                           {"step": 40, "loss": 2.2, "loss_completion": 3.1}]})
    [(0, 4.0), (20, 3.5), (40, 3.1)]
    """
    key = "loss_completion" if completion else "loss"
    base = record["eval"].get(f"base_{key}")
    points = [(0, base)] + [(e["step"], e.get(key)) for e in record.get("evals", [])]
    return [(st, float(v)) for st, v in points if v is not None]


def plot_loss(record: dict[str, Any], ax=None):
    """Training loss per step (and its running mean) with the measured held-out losses: completion-only (the
    measure: the text after the prompt) and with the prompt included, each evaluation a marker. The markers are
    joined only when there are three or more of them (``eval_every``): two points joined would read as a curve."""
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
    for completion, color, what in ((True, "tab:red", "held-out, text only (the measure)"),
                                    (False, "salmon", "held-out, prompt included")):
        pts = heldout_points(record, completion)
        if not pts:
            continue
        style = "o-" if len(pts) >= 3 else "o"
        ax.plot(*zip(*pts), style, color=color, ms=6, lw=1.2,
                label=f"{what}: {pts[0][1]:.2f} (P_φ) → {pts[-1][1]:.2f}")
    ax.set(xlabel="optimizer step (0 = base model P_φ)", ylabel="loss (nats / token)",
           title=f"Fine-tuning P_θ: {record['task']} ({record.get('profile', '?')})")
    ax.legend(fontsize=7)
    return ax


def _save_figure(record: dict[str, Any], profile: str, task: str, base_model: str = "") -> None:
    # A bare Figure, outside pyplot: no backend is touched. (Switching to Agg here, as this once did, turned off the
    # inline plots of every later cell in a notebook that trained P_θ on the fly, e.g. 02 on a cold cache.)
    from matplotlib.figure import Figure

    out = paths.figures_dir(profile, base_model)  # beside the other figures of this base model
    out.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(6, 3.6))
    plot_loss(record, ax=fig.subplots())
    fig.tight_layout()
    for ext in ("png", "pdf"):  # (the name notebook 01 saves under; with the figure's description, as plots.savefig)
        fig.savefig(out / f"01_finetune_loss_{task}.{ext}", dpi=150, metadata=plots.file_metadata(fig, ext))
