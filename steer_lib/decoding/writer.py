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

Damage is never silent: a line in the *middle* of the file that is not a whole record (a torn
last batch is normal and is redone quietly) makes the resume warn, naming the file, the line
and how many records it regenerates; with ``strict=True`` (``--strict``, and always under the
pipeline) it refuses instead (:class:`ResumeError`, as it does for a file of other settings).

Sharded (``torchrun`` / ``accelerate launch``, :mod:`steer_lib.decoding.distributed`): every
global batch is split over the ranks, each rank decodes its rows with the draws and negatives
they get on one process, the finished texts are gathered in sample order and added to every
rank's pool, and rank 0 alone holds the lock, reads the file (broadcasting what it kept) and
writes each batch once all its rows are back. So the file is byte-identical to a one-process
run with the same arguments and batch size, resumes the same way, and a rank that dies
mid-batch leaves it at the last whole batch.
"""
from __future__ import annotations

import contextlib
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .. import __version__
from ..data.tasks import Task, get_task
from ..locks import file_lock
from . import distributed
from .config import DecodingConfig
from .memory import check_fits
from .methods import SHARDABLE, generate_part
from .negatives import NegativePool

RUN_KEYS = ("task", "method", "params", "seed", "model", "base_model")  # must match to resume a file


class ResumeError(ValueError):
    """An existing generations file cannot be resumed as asked (other settings, or damage under ``strict``)."""


@dataclass
class _Scan:
    found: list[dict]  # the whole records before the first bad line
    keep: int  # how many of them are kept (whole batches, or the n asked for)
    size: int  # byte length of the kept records
    lines: int  # lines in the file (a torn last line counts)
    damage: tuple[int, str] | None  # (1-based line, what is wrong) of a bad line that is not a torn last line


def _scan(out: Path, batch_size: int, n: int, clean=None) -> _Scan:
    """What of ``out`` a resume keeps: whole batches of whole, in-order records before the first bad line.

    A last line without its newline is a torn write (the batch in flight when a run was killed):
    it is redone without comment. Any other bad line (not JSON, not a record, out of order) is
    damage. A short final batch is kept only when it completes the ``n`` asked for: asking for more
    later redoes it at full batch size, exactly as a fresh run with the larger ``n`` would. With ``clean`` (the
    task's), a record whose ``text`` is not ``clean(raw)`` -- edited by hand or by another tool -- is damage too.
    """
    if not out.exists():
        return _Scan([], 0, 0, 0, None)
    with open(out, "rb") as f:
        lines = list(f)  # split at b"\n" only
    records, ends, damage = [], [0], None  # ends[i] = byte offset after record i-1
    for i, line in enumerate(lines):
        if not line.endswith(b"\n"):
            break  # only the last line can lack its newline: a torn write
        try:
            rec = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            damage = (i + 1, "not a JSON record")
            break
        if not isinstance(rec, dict) or rec.get("index") != i:
            got = rec.get("index") if isinstance(rec, dict) else type(rec).__name__
            damage = (i + 1, f"record index {got!r} where {i} was expected")
            break
        if clean is not None and isinstance(rec.get("raw"), str) and rec.get("text") != clean(rec["raw"]):
            damage = (i + 1, "its text is not the cleaned raw sample: edited after it was written")
            break
        records.append(rec)
        ends.append(ends[-1] + len(line))
    whole = len(records) - len(records) % batch_size  # a batch that did not finish writing is redone
    if len(records) == n:
        whole = n
    return _Scan(records, whole, ends[whole], len(lines), damage)


KIT_PREFIX = b'{"index": 0, "text": '  # how the kit's first record starts (json.dumps of the record, keys in order)


def _check_kit_file(out: Path, scan: _Scan) -> None:
    """Refuse a non-empty ``out`` whose first line is not a record the kit wrote: it is someone else's file.

    A kit file starts with the first record's ``{"index": 0, "text": `` (even when that line was torn by a killed
    run) and its records carry ``kit_version``; anything else -- a text file, a binary, another tool's JSONL -- is
    left untouched rather than "resumed" (which would cut it to nothing and write samples over it).
    """
    if scan.lines == 0:
        return
    with open(out, "rb") as f:
        head = f.read(len(KIT_PREFIX))
    first = scan.found[0] if scan.found else None
    if head != KIT_PREFIX or (first is not None and not {"kit_version", "raw", "method"} <= set(first)):
        raise ResumeError(f"{out} exists and is not a generations file written by the kit (its first line is not "
                          "a kit record); nothing was changed: pass another --out, or move the file away")


def check_out(out: str | Path) -> None:
    """Refuse, before any model is loaded, an ``out`` that is a folder or a file the kit did not write."""
    out = Path(out)
    if out.is_dir():
        raise ResumeError(f"out={str(out)!r} is a folder; give a file name such as {str(out / 'samples.jsonl')!r}")
    if out.is_file() and out.stat().st_size:
        with open(out, "rb") as f:
            first = f.readline()
        lines = 1 if first else 0
        found = []
        if first.endswith(b"\n"):
            try:
                rec = json.loads(first)
                found = [rec] if isinstance(rec, dict) else []
            except (json.JSONDecodeError, UnicodeDecodeError):
                pass
        _check_kit_file(out, _Scan(found, 0, 0, lines, None))


def _check_resumable(out: Path, scan: _Scan, run: dict, n: int, batch_size: int, strict: bool) -> None:
    """Refuse a file the kit did not write, or of other settings (and, with ``strict``, a damaged one); warn about
    damage otherwise."""
    _check_kit_file(out, scan)
    for r in scan.found[:1]:  # a file of another P_θ (retrained on edited data, or damaged and retrained)
        if run.get("adapter") is not None and r.get("adapter") != run["adapter"]:
            made = r.get("adapter")
            by = (f"adapter {made.get('key')} with weights {str(made.get('weights_sha256'))[:12]}…"
                  if isinstance(made, dict) else f"a model the kit did not identify (kit {r.get('kit_version')})")
            raise ResumeError(f"{out} was made by {by}, not by this run's adapter {run['adapter']['key']} with "
                              f"weights {run['adapter']['weights_sha256'][:12]}…; resuming would mix two models' "
                              "samples in one file: pass another --out, or move the file away to regenerate it")
    for r in scan.found[:1]:  # check before touching the file: never cut someone else's records
        diff = [key for key in RUN_KEYS if r.get(key) != run[key]]
        if diff:
            local = any(str(v).startswith("local-sha256:") for key in diff if key in ("model", "base_model")
                        for v in (r.get(key), run[key]))
            why = ("; a local model folder is named by the sha256 of its files, so its files changed (or it is "
                   "another folder), and resuming would mix two models' samples" if local else "")
            raise ResumeError(f"{out} was written with different settings ({', '.join(diff)}: "
                              f"{ {key: r.get(key) for key in diff} } vs { {key: run[key] for key in diff} }){why}; "
                              "pass another out= (--out) or delete the file")
    if scan.damage is None:
        return
    line, what = scan.damage
    dropped = scan.lines - scan.keep
    redone = max(0, min(n, scan.lines) - scan.keep)
    where = (f"{out}: line {line} of {scan.lines} is damaged ({what}), and it is not a torn last batch "
             f"({scan.lines - line} line(s) follow it)")
    cut = (f"resuming cuts the file to its first {scan.keep} record(s) (the whole batches of {batch_size} before "
           f"the damage), dropping {dropped} line(s), and regenerates {redone} record(s) that were in it")
    if strict:
        raise ResumeError(f"{where}; refusing to resume (strict), since {cut}. Repair or move the file, or rerun "
                          "without strict (--strict) to regenerate them")
    warnings.warn(f"{where}; {cut}", stacklevel=5)


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
                  strict: bool = False, **params) -> Path:
    """Generate ``n`` samples of ``task`` with ``method`` into ``out`` (JSONL), resuming if it exists.

    ``params``: ``gamma``, ``eta``, ``top_k``, ``top_p``, ``temperature`` (see
    :func:`steer_lib.decoding.generate`; method presets apply), ``k`` (negatives per sample,
    default 10), ``grow`` (pool grows with finished samples, default True), ``max_new_tokens``
    (default the task's), ``max_negative_tokens`` (default 1024). ``negatives_pool_texts``:
    the real examples the pool starts from (default ``task.real_texts("train")``).

    Each record: ``index, text`` (= ``task.clean(raw)``), ``raw``, ``valid``, ``fields``,
    ``reason``, ``task, method, params`` (all effective settings), ``seed, model, base_model,
    kit_version``, ``n_tokens`` and ``stop`` (why the sample ended: ``eos``, a ``stop`` string, or ``length``),
    and for methods with negatives ``negative_ids`` (the pool positions N was drawn from, in
    order; N keeps them in that order, dropping whole examples from the end past ``max_negative_tokens``) and
    ``negative_is_real`` (each one a real example, or a finished synthetic sample). Returns ``out``.

    Resuming a file of other settings raises :class:`ResumeError`; so does a damaged one with
    ``strict=True`` (without it: a warning, and the records from the damage on are regenerated).
    Under ``torchrun`` / ``accelerate launch`` (``WORLD_SIZE > 1``) every rank calls this with the
    same arguments; see the module docstring.
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
    unknown = set(params) - {"gamma", "eta", "top_k", "top_p", "temperature", "plausibility"}
    if unknown:
        raise ValueError(f"unknown generation parameter(s) {sorted(unknown)}; valid: gamma, eta, top_k, top_p, "
                         "temperature, plausibility, k, grow, max_new_tokens, max_negative_tokens")
    decoding = DecodingConfig.for_method(method, **params)  # every value given is used as given
    eff = decoding.params()
    uses_neg = eff["eta"] > 0
    record_params = {**eff, "k": k if uses_neg else None, "grow": grow if uses_neg else None,
                     "max_new_tokens": max_new, "max_negative_tokens": max_neg, "batch_size": batch_size}
    run = {"task": task.name, "method": method, "params": record_params, "seed": seed,
           "model": model_id or _name(model),
           "base_model": base_model_id or (_name(base_model) if base_model else None)}
    adapter = getattr(model, "steer_adapter", None)  # set by load_domain_model: the adapter's key and weights' sha256
    if adapter is not None:
        run["adapter"] = dict(adapter)
    out = Path(out)
    check_out(out)
    rank, world = distributed.setup()
    if rank == 0:
        out.parent.mkdir(parents=True, exist_ok=True)
    # Rank 0 alone holds the lock (a second job writing the same set waits on it) and reads the file;
    # the other ranks wait for what it broadcasts. One flock per rank would deadlock them on one machine.
    with file_lock(out) if rank == 0 else contextlib.nullcontext():
        _generate_locked(task, decoding, n, out, run=run, k=k, grow=grow, max_new=max_new, max_neg=max_neg,
                         batch_size=batch_size, model=model, tokenizer=tokenizer, base_model=base_model, seed=seed,
                         negatives_pool_texts=negatives_pool_texts, progress=progress and rank == 0,
                         strict=strict, rank=rank, world=world)
    distributed.barrier()  # every rank returns once the file is complete
    return out


def _resume_point(out: Path, *, run: dict, n: int, batch_size: int, strict: bool, rank: int,
                  clean=None) -> list[str]:
    """The raw texts of the records kept (rank 0 reads, checks and cuts the file; every rank gets them)."""
    kept, error = None, None
    if rank == 0:
        try:
            scan = _scan(out, batch_size, n, clean)
            _check_resumable(out, scan, run, n, batch_size, strict)
            _truncate(out, scan.size)
            kept = [r["raw"] for r in scan.found[:scan.keep]]
        except Exception as exc:  # every rank raises it, so none waits for batches that never come
            error = exc
    kept, error = distributed.broadcast((kept, error))
    if error is not None:
        raise error
    return kept


def _generate_locked(task: Task, decoding: DecodingConfig, n: int, out: Path, *, run: dict, k: int, grow: bool,
                     max_new: int, max_neg: int, batch_size: int, model, tokenizer, base_model, seed: int,
                     negatives_pool_texts, progress: bool, strict: bool, rank: int, world: int) -> None:
    method, uses_neg, eff = decoding.method, decoding.eta > 0, decoding.params()
    done = _resume_point(out, run=run, n=n, batch_size=batch_size, strict=strict, rank=rank, clean=task.clean)
    if len(done) < n:  # fail fast, before the first batch, when the KV caches cannot fit
        prompt = len(tokenizer(task.prompt)["input_ids"])
        streams = [prompt] + ([prompt] if eff["gamma"] > 0 else []) + ([prompt + max_neg] if uses_neg else [])
        check_fits(model, streams, min(batch_size, n) * max(1, int(eff.get("num_beams") or 1)), max_new)
    pool = None
    if uses_neg:
        texts = list(negatives_pool_texts) if negatives_pool_texts is not None else task.real_texts("train")
        pool = NegativePool(texts, k=k, grow=grow, seed=seed, clean=task.clean)
        pool.add(done)  # the pool as it stood after the batches already written
    bar = None
    if progress and len(done) < n:
        from ..runtime import progress_bar
        bar = progress_bar(total=n, initial=len(done), unit="sample", desc=f"{task.name}/{method}", dynamic_ncols=True)
    for start in range(len(done), n, batch_size):
        size = min(batch_size, n - start)
        kw = dict(decoding=decoding, negatives=pool, seed=seed, batch_size=batch_size, batch_offset=start // batch_size,
                  max_new_tokens=max_new, stop_strings=task.stop_strings, base_model=base_model,
                  max_negative_tokens=max_neg)
        prompts = [task.prompt] * size
        # Each sample's N as it is drawn now, before the batch grows the pool (generate draws the same indices).
        drawn = [pool.draw_indices(start + j) for j in range(size)] if pool is not None else None
        # stats, per sample: tokens generated and why it ended (eos / stop / length)
        if world == 1:
            res = generate_part(model, tokenizer, prompts, **kw)  # grows the pool itself
            raws, stats = list(res), res.stats
        elif method in SHARDABLE:
            mine = generate_part(model, tokenizer, prompts, rows=distributed.shard_rows(size, rank, world), **kw)
            parts = distributed.all_gather((list(mine), mine.stats))  # rank order = sample order
            raws = [raw for texts, _ in parts for raw in texts]
            stats = [st for _, sts in parts for st in sts]
            if pool is not None:
                pool.add(raws)
        else:  # beam / contrastive search do not run in the engine: rank 0 decodes the batch, the others wait
            res = generate_part(model, tokenizer, prompts, **kw) if rank == 0 else None
            raws, stats = distributed.broadcast((list(res), res.stats) if rank == 0 else None)
        if rank == 0:
            _append(out, task, start, raws, run, stats, drawn, pool.n_real if pool is not None else 0)
        if bar is not None:
            bar.update(size)
    if bar is not None:
        bar.close()


def _append(out: Path, task: Task, start: int, raws: list[str], run: dict, stats: list[dict],
            drawn: list[list[int]] | None = None, n_real: int = 0) -> None:
    lines = []
    for j, raw in enumerate(raws):
        text = task.clean(raw)
        parsed = task.parse(text)
        rec = {"index": start + j, "text": text, "raw": raw, "valid": parsed.valid, "fields": parsed.fields,
               "reason": parsed.reason, **stats[j], **run, "kit_version": __version__}
        if drawn is not None:  # which pool examples formed this sample's negative prompt N, and which were real
            rec.update(negative_ids=drawn[j], negative_is_real=[i < n_real for i in drawn[j]])
        lines.append(json.dumps(rec, ensure_ascii=False) + "\n")
    with open(out, "a", encoding="utf-8") as f:  # one write per batch, then fsync: all or (torn) nothing
        f.write("".join(lines))
        f.flush()
        os.fsync(f.fileno())


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
