"""Synthetic data out as a Hugging Face dataset: ``datasets.Dataset`` on disk, Parquet, JSONL and a dataset card.

    from steer_lib.experiments.export import export
    export("runs/quick/generations/hypotheses/steer_g0.3_e0.3_k10_n40_t0_s0.jsonl", "out/hypotheses-steer")
    datasets.load_from_disk("out/hypotheses-steer")   # the same rows

One row per generated sample, with what a user needs to audit it: ``text``, ``valid`` (and ``reason`` when not),
the task's parsed fields (multiple choice: ``question``, ``options``, ``answer``), ``n_tokens``, ``stop`` (why it
ended: ``eos`` / ``stop`` / ``length``) and the negative prompt it was steered away from (``negative_ids``: indices
into the pool; ``negative_is_real``: whether each was a real example). Files generated before the kit recorded the
last three export without them (the columns are left out, not invented).

The card (``README.md``) follows the Hugging Face format: a YAML header (``tags: [synthetic]``, the task, the method
and its settings, the base model, the adapter, the kit version, the seed, the sample count, the metrics when they
have been computed), then how the data was made and the licence notes of the real data it was conditioned on.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .. import __version__
from ..data import get_task
from ..files import check_output_folder, jsonable, mark_output_folder, read_jsonl, write_atomic

AUDIT_KEYS = ("n_tokens", "stop", "negative_ids", "negative_is_real")  # recorded by generation since kit 0.2
# Licence notes of the real data each built-in task conditions on (from the data manifest's sources).
LICENCES = {
    "hypotheses": "astro-ph questions from the STEER authors' repository (charlieoneill11/diverse-llm); no licence "
                  "stated there; derived from arXiv metadata.",
    "comments-toxic": "Jigsaw Toxic Comment Classification: data CC0, comment text from Wikipedia talk pages "
                      "(CC BY-SA). Toxic content: read with care.",
    "comments-nontoxic": "Jigsaw Toxic Comment Classification: data CC0, comment text from Wikipedia talk pages "
                         "(CC BY-SA).",
    "commonsense": "CommonsenseQA (Talmor et al. 2019), MIT licence per its dataset card.",
}


class ExportError(ValueError):
    """A generations file that cannot be exported; the message names the file and the line."""


def read_generations(path: str | Path) -> list[dict]:
    p = Path(path)
    if not p.is_file():
        raise ExportError(f"{p}: no such generations file")
    try:  # a binary file is named as what it is, not as a JSON error in its "line 1"
        p.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ExportError(f"{p}: not a generations file (not UTF-8 text: byte {exc.object[exc.start]:#x} at offset "
                          f"{exc.start})") from None
    records = []
    for i, rec in read_jsonl(p, ExportError, numbered=True):
        if not isinstance(rec, dict) or "text" not in rec:
            raise ExportError(f"{p}:{i}: not a generation record (no 'text')")
        records.append(rec)
    if not records:
        raise ExportError(f"{p}: no records")
    return records


def _fields(rec: dict) -> dict[str, Any]:
    """The parsed fields as columns; multiple choice reads as question / options / answer."""
    f = dict(rec.get("fields") or {})
    if "stem" in f:
        f["question"] = f.pop("stem")
    return f


def rows(records: list[dict]) -> list[dict]:
    """One flat row per record: text, validity, parsed fields, and the audit columns the file has."""
    field_keys: list[str] = []
    for r in records:
        field_keys += [k for k in _fields(r) if k not in field_keys]
    audit = [k for k in AUDIT_KEYS if any(k in r for r in records)]
    out = []
    for r in records:
        f = _fields(r)
        row = {"index": r.get("index"), "text": r["text"], "valid": bool(r.get("valid")),
               "reason": r.get("reason") or ""}
        row.update({k: f.get(k) for k in field_keys})
        row.update({k: r.get(k) for k in audit})
        out.append(row)
    return out


def card(records: list[dict], *, metrics: dict | None, name: str) -> str:
    """The dataset card: a YAML header of the facts, then how the data was made."""
    import yaml

    first = records[0]
    params = first.get("params") or {}
    task = first.get("task", "")
    settings = {k: params.get(k) for k in ("gamma", "eta", "k", "top_k", "top_p", "temperature", "max_new_tokens")
                if params.get(k) is not None}
    valid = sum(bool(r.get("valid")) for r in records)
    header = {
        "tags": ["synthetic", "steer", "text-generation"],
        "pretty_name": name,
        "task": task,
        "method": first.get("method"),
        "settings": settings,
        "base_model": first.get("base_model") or first.get("model"),
        "model": first.get("model"),
        "adapter": first.get("adapter"),
        "kit_version": first.get("kit_version") or __version__,
        "seed": first.get("seed"),
        "num_samples": len(records),
        "num_valid": valid,
        "metrics": jsonable({k: v for k, v in (metrics or {}).items()
                             if isinstance(v, (int, float)) or v is None}) or None,
    }
    header = {k: v for k, v in header.items() if v not in (None, {}, "")}
    try:
        licence = LICENCES.get(get_task(task).name, "") if task else ""
    except ValueError:  # a task spec no longer at hand: the card still says what the records say
        licence = ""
    gamma, eta = settings.get("gamma", 0), settings.get("eta", 0)
    body = f"""
# {name}

{len(records)} synthetic samples ({valid} valid) of the task `{task}`, generated with steer-kit {header['kit_version']}
by `{header.get('method')}` decoding from the domain model `{header.get('model')}` (a LoRA adapter on
`{header.get('base_model')}`), seed {header.get('seed')}.

## How it was made

STEER (O'Neill et al., arXiv 2308.07645) reshapes the domain model's log-probabilities at every step:
`s = (1+γ)·log P_θ(x|prompt) − γ·log P_φ(x|prompt) − η·log P_θ(x|N)`, then samples top-k. Here γ = {gamma:g}
and η = {eta:g}; N is a fresh random draw of {settings.get('k', 0) or 0} examples from a pool that starts as the
real data and grows with every finished sample (`negative_ids`, `negative_is_real` record each sample's N, when
the file recorded them). `valid` says whether the text parses as an example of the task; only valid samples are
usable training data.

## Source data and licence

{licence or 'See the real data this task was built from.'}

Synthetic text can reproduce biases and errors of the models and of the real data it was conditioned on.
"""
    return "---\n" + yaml.safe_dump(header, sort_keys=False, allow_unicode=True) + "---\n" + body


def export(generations: str | Path, out: str | Path, *, metrics: str | Path | dict | None = None,
           push_to_hub: str | None = None, force: bool = False) -> Path:
    """Write ``generations`` (the kit's JSONL) to ``out``: ``datasets.save_to_disk``, ``data.parquet``,
    ``data.jsonl`` and ``README.md`` (the card). ``metrics``: a metrics JSON (default: the one the kit wrote beside
    the set, when it exists). ``push_to_hub``: also ``Dataset.push_to_hub`` to that repo id (needs the hub).
    ``out`` must be new, empty or an earlier export: a folder holding other files (a project's README.md,
    its data.jsonl) is refused unless ``force`` (:func:`steer_lib.files.check_output_folder`)."""
    import datasets

    from .experiment import metrics_path

    gen = Path(generations)
    check_output_folder(Path(out), "export", force,
                        force_does="write data.jsonl, data.parquet and README.md into it, replacing those")
    records = read_generations(gen)
    if metrics is None and metrics_path(gen).is_file():
        metrics = metrics_path(gen)
    if isinstance(metrics, (str, Path)):
        metrics = json.loads(Path(metrics).read_text(encoding="utf-8"))
    ds = datasets.Dataset.from_list(rows(records))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ds.save_to_disk(str(out))
    ds.to_parquet(str(out / "data.parquet"))
    ds.to_json(str(out / "data.jsonl"), lines=True, force_ascii=False)
    text = card(records, metrics=metrics, name=gen.stem)
    write_atomic(out / "README.md", text)
    mark_output_folder(out, "export")
    if push_to_hub:
        ds.push_to_hub(push_to_hub)
        from huggingface_hub import DatasetCard

        DatasetCard(text).push_to_hub(push_to_hub)
    return out
