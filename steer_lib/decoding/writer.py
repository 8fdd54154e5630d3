"""``python -m steer_lib generate``: synthetic samples to append-only, resumable JSONL.

Python API (the notebooks and the pipeline use this)::

    from steer_lib.decoding import generate_file
    path = generate_file("hypotheses", "steer", 100, "runs/quick/generations/hypotheses/steer.jsonl",
                         model=peft_model, tokenizer=tok, gamma=0.2, eta=0.2, k=10)

One JSON record per line, written a whole batch at a time (flushed and fsynced), so a killed
run loses at most the batch in flight. Calling again with the same arguments resumes: the
records already written are kept, a torn last batch is cut off, the negative pool is rebuilt
from the samples written so far, and generation continues at the next batch. Every batch's
randomness comes from (seed, batch index) and every sample's negatives from (seed, sample
index), so an interrupted-and-resumed file is byte-identical to an uninterrupted one.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

from .. import __version__
from ..data.tasks import Task, get_task
from ..locks import file_lock
from .methods import generate, resolve_params
from .negatives import NegativePool

RUN_KEYS = ("task", "method", "params", "seed", "model", "base_model")  # must match to resume a file


def _read_done(out: Path, batch_size: int, n: int) -> tuple[list[dict], list[dict], int]:
    """``(all complete records, records to keep, byte length of those kept)`` of ``out``.

    Records of a batch that did not finish writing (torn line, partial batch) are not kept.

    A short final batch is kept only when it completes the ``n`` asked for: asking for more
    later redoes it at full batch size, exactly as a fresh run with the larger ``n`` would.
    """
    if not out.exists():
        return [], [], 0
    records, ends = [], [0]  # ends[i] = byte offset after record i-1
    with open(out, "rb") as f:
        for line in f:
            if not line.endswith(b"\n"):
                break
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                break
            ends.append(ends[-1] + len(line))
    whole = len(records) - len(records) % batch_size  # a batch that did not finish writing is redone
    if len(records) == n:
        whole = n
    return records, records[:whole], ends[whole]


def _truncate(out: Path, size: int) -> None:
    """Cut ``out`` to ``size`` bytes atomically (temp file + replace), so a crash cannot lose more."""
    if out.exists() and out.stat().st_size != size:
        tmp = out.with_suffix(out.suffix + ".tmp")
        with open(out, "rb") as src, open(tmp, "wb") as dst:
            dst.write(src.read(size))
        os.replace(tmp, out)


def generate_file(task: str | Task, method: str, n: int, out: str | Path, *, model, tokenizer, base_model=None,
                  seed: int = 0, batch_size: int = 16, negatives_pool_texts: Sequence[str] | None = None,
                  model_id: str | None = None, base_model_id: str | None = None, progress: bool = True,
                  **params) -> Path:
    """Generate ``n`` samples of ``task`` with ``method`` into ``out`` (JSONL), resuming if it exists.

    ``params``: ``gamma``, ``eta``, ``top_k``, ``top_p``, ``temperature`` (see
    :func:`steer_lib.decoding.generate`; method presets apply), ``k`` (negatives per sample,
    default 10), ``grow`` (pool grows with finished samples, default True), ``max_new_tokens``
    (default the task's), ``max_negative_tokens`` (default 1024). ``negatives_pool_texts``:
    the real examples the pool starts from (default ``task.real_texts("train")``).

    Each record: ``index, text`` (= ``task.clean(raw)``), ``raw``, ``valid``, ``fields``,
    ``reason``, ``task, method, params`` (all effective settings), ``seed, model, base_model,
    kit_version``. Returns ``out``.
    """
    task = get_task(task) if isinstance(task, str) else task
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"n={n!r} must be a non-negative integer")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r} must be an integer >= 1")
    k = int(params.pop("k", 10))
    grow = bool(params.pop("grow", True))
    max_new = int(params.pop("max_new_tokens", task.max_new_tokens))
    max_neg = int(params.pop("max_negative_tokens", 1024))
    unknown = set(params) - {"gamma", "eta", "top_k", "top_p", "temperature"}
    if unknown:
        raise ValueError(f"unknown generation parameter(s) {sorted(unknown)}; "
                         "valid: gamma, eta, top_k, top_p, temperature, k, grow, max_new_tokens, max_negative_tokens")
    eff = resolve_params(method, **params)
    uses_neg = eff["eta"] > 0
    record_params = {**eff, "k": k if uses_neg else None, "grow": grow if uses_neg else None,
                     "max_new_tokens": max_new, "max_negative_tokens": max_neg, "batch_size": batch_size}
    run = {"task": task.name, "method": method, "params": record_params, "seed": seed,
           "model": model_id or _name(model),
           "base_model": base_model_id or (_name(base_model) if base_model else None)}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(out):  # a second writer of the same set waits here, then resumes after the first
        _generate_locked(task, method, n, out, run=run, eff=eff, k=k, grow=grow, max_new=max_new, max_neg=max_neg,
                         batch_size=batch_size, model=model, tokenizer=tokenizer, base_model=base_model, seed=seed,
                         negatives_pool_texts=negatives_pool_texts, progress=progress)
    return out


def _generate_locked(task: Task, method: str, n: int, out: Path, *, run: dict, eff: dict, k: int, grow: bool,
                     max_new: int, max_neg: int, batch_size: int, model, tokenizer, base_model, seed: int,
                     negatives_pool_texts, progress: bool) -> None:
    uses_neg = eff["eta"] > 0
    found, done, size = _read_done(out, batch_size, n)
    for r in found[:1]:  # check before touching the file: never cut someone else's records
        diff = [key for key in RUN_KEYS if r.get(key) != run[key]]
        if diff:
            raise ValueError(f"{out} was written with different settings ({', '.join(diff)}: "
                             f"{ {key: r.get(key) for key in diff} } vs { {key: run[key] for key in diff} }); "
                             "pass another out= or delete the file")
    _truncate(out, size)
    pool = None
    if uses_neg:
        texts = list(negatives_pool_texts) if negatives_pool_texts is not None else task.real_texts("train")
        pool = NegativePool(texts, k=k, grow=grow, seed=seed, clean=task.clean)
        pool.add([r["raw"] for r in done])  # the pool as it stood after the batches already written
    bar = None
    if progress and len(done) < n:
        from tqdm.auto import tqdm
        bar = tqdm(total=n, initial=len(done), unit="sample", desc=f"{task.name}/{method}", dynamic_ncols=True)
    gen_kw = {key: eff[key] for key in ("gamma", "eta", "top_k", "top_p", "temperature")}
    for start in range(len(done), n, batch_size):
        size = min(batch_size, n - start)
        raws = generate(model, tokenizer, [task.prompt] * size, method=method, negatives=pool, seed=seed,
                        batch_size=batch_size, batch_offset=start // batch_size, max_new_tokens=max_new,
                        stop_strings=task.stop_strings, base_model=base_model, max_negative_tokens=max_neg, **gen_kw)
        lines = []
        for j, raw in enumerate(raws):
            text = task.clean(raw)
            parsed = task.parse(text)
            rec = {"index": start + j, "text": text, "raw": raw, "valid": parsed.valid, "fields": parsed.fields,
                   "reason": parsed.reason, **run, "kit_version": __version__}
            lines.append(json.dumps(rec, ensure_ascii=False) + "\n")
        with open(out, "a", encoding="utf-8") as f:  # one write per batch, then fsync: all or (torn) nothing
            f.write("".join(lines))
            f.flush()
            os.fsync(f.fileno())
        if bar is not None:
            bar.update(size)
    if bar is not None:
        bar.close()


def _name(model) -> str | None:
    if model is None:
        return None
    from .engine import is_peft
    if is_peft(model):
        base = model.get_base_model().config._name_or_path
        return f"{base}+lora"
    return getattr(model.config, "_name_or_path", None) or type(model).__name__


def default_tag(method: str, seed: int, **params) -> str:
    """A file-name tag naming the method, the parameters that were set, and the seed.

    >>> default_tag("steer", 0, gamma=0.2, eta=0.2, k=10)
    'steer_gamma0.2_eta0.2_k10_seed0'
    """
    parts = [method] + [f"{key}{v}" for key, v in params.items() if v is not None] + [f"seed{seed}"]
    return "_".join(parts)
