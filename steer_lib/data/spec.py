"""Tasks as declarative files: a YAML spec says everything task-specific, one loader builds the :class:`Task`.

The kit's four built-in tasks are such specs (``steer_lib/data/task_specs/*.yaml``), so a task of your own is
written the same way. A spec's fields::

    name: my-task                 # required: used in output paths and cache keys
    prompt: "### Instruction: …\\n ### Answer:"   # required: generation continues right after it
    answer_marker: "### Answer:"  # the header the answer follows (default: the prompt's last line)
    max_new_tokens: 75
    stop_strings: ["\\n", "###"]  # a sample ends at the first; "re:…" is a regular expression
    keep_stop: false              # keep the stop string in the sample
    validity: {parser: comment}   # or {regex: "^(?P<question>.+\\?)$"}: a full match is valid, groups = fields
    val_size: 100                 # real training examples held out for validation
    test_size: 0                  # real training examples held out as the test pool, when data has no test split
    label: null                   # free text (the comments tasks say "toxic" / "non-toxic")
    data:
      train:                      # required; "test" is optional and takes the same keys
        files: [my_data.csv]      # local CSV / JSON / JSONL / Parquet, relative to the spec file, or a path in
                                  # the kit's data manifest (fetched and checksummed)
        # hub: user/dataset       # … or a Hugging Face dataset id (with split:), when online
        text: comment             # the column holding the text, or:
        template: "{q} Answer: {a}"   # a template over several columns
        filter: {label: 1}        # keep rows whose columns equal these values
        strip_prefix: "### A:"    # keep what follows this marker in each text
        replace: {"\\n": " "}     # literal substrings replaced in each text (e.g. escaped newlines)

Every error names the file and the field (``my.yaml: data.train.text: column 'body' is not in the data;
columns: id, comment``), and a file that does not parse names the line.
"""
from __future__ import annotations

import json
import os
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..files import read_jsonl, read_yaml
from .text import normalise_whitespace
from .validity import TaskSpecError

SPEC_DIR = Path(__file__).resolve().parent / "task_specs"
FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}
FIELDS = {"name", "aliases", "prompt", "answer_marker", "max_new_tokens", "stop_strings", "keep_stop", "validity",
          "val_size", "test_size", "label", "data", "description"}
SOURCE_FIELDS = {"files", "hub", "split", "text", "template", "filter", "strip_prefix", "reader", "replace"}




@dataclass(frozen=True)
class Source:
    """Where one split's real texts come from, and how a row becomes a text."""
    files: tuple[str, ...] = ()
    hub: str | None = None
    split: str = "train"
    text: str | None = None
    template: str | None = None
    filter: tuple[tuple[str, Any], ...] = ()
    strip_prefix: str | None = None
    reader: str | None = None
    replace: tuple[tuple[str, str], ...] = ()


def _err(where: str, msg: str) -> TaskSpecError:
    return TaskSpecError(f"{where}: {msg}")


def read_spec(path: str | Path) -> dict[str, Any]:
    """The spec file as a dict (YAML), checked for unknown and missing fields."""
    p = Path(path)
    if not p.is_file():
        raise TaskSpecError(f"{p}: no such task spec file")
    try:
        raw = read_yaml(p, TaskSpecError)
    except UnicodeDecodeError as exc:
        raise _err(str(p), f"not valid UTF-8 (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); re-save "
                           "the spec as UTF-8") from None
    if not isinstance(raw, dict):
        raise _err(str(p), f"expected a mapping of fields, got {type(raw).__name__}")
    unknown = sorted(set(raw) - FIELDS)
    if unknown:
        raise _err(str(p), f"unknown field(s) {', '.join(unknown)}; valid fields: {', '.join(sorted(FIELDS))}")
    for key in ("name", "prompt", "data"):
        if key not in raw:
            raise _err(str(p), f"missing required field {key!r}")
    if not isinstance(raw["data"], dict) or "train" not in raw["data"]:
        raise _err(str(p), "data: needs a 'train' source (and optionally 'test')")
    bad = sorted(set(raw["data"]) - {"train", "test"})
    if bad:
        raise _err(str(p), f"data: unknown split(s) {', '.join(bad)}; use train and test")
    check_fields(raw, str(p))
    return raw


NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # the name is a folder in runs/: one safe path part
INTS = {"max_new_tokens": 1, "val_size": 0, "test_size": 0}  # integer fields and their smallest value


def check_fields(raw: dict[str, Any], where: str) -> None:
    """The scalar fields' types and ranges, each error naming its field.

    >>> check_fields({"name": "../../x"}, "my.yaml")
    Traceback (most recent call last):
    ...
    steer_lib.data.validity.TaskSpecError: my.yaml: name: '../../x' must be 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit (it names a folder under runs/)
    >>> check_fields({"name": "t", "val_size": -3}, "my.yaml")
    Traceback (most recent call last):
    ...
    steer_lib.data.validity.TaskSpecError: my.yaml: val_size: -3 must be an integer >= 0
    """
    name = raw.get("name")
    if not isinstance(name, str) or not NAME_RE.fullmatch(name) or ".." in name:
        raise _err(where, f"name: {name!r} must be 1-64 letters, digits, '-', '_' or '.', starting with a letter "
                          "or digit (it names a folder under runs/)")
    for key, low in INTS.items():
        value = raw.get(key, low)
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise _err(where, f"{key}: {value!r} must be an integer >= {low}")
    stops = raw.get("stop_strings", [])
    if not isinstance(stops, list) or not all(isinstance(x, str) and x for x in stops):
        raise _err(where, f"stop_strings: {stops!r} must be a list of non-empty strings")
    for x in stops:
        if x.startswith("re:"):
            try:
                re.compile(x[3:])
            except re.error as exc:
                raise _err(where, f"stop_strings: {x!r} is not a valid regular expression ({exc})") from None
    for key in ("prompt", "answer_marker", "label", "description"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise _err(where, f"{key}: expected text, got {type(raw[key]).__name__}")


def parse_source(raw: Any, where: str) -> Source:
    if not isinstance(raw, dict):
        raise _err(where, f"expected a mapping, got {type(raw).__name__}")
    unknown = sorted(set(raw) - SOURCE_FIELDS)
    if unknown:
        raise _err(where, f"unknown field(s) {', '.join(unknown)}; valid: {', '.join(sorted(SOURCE_FIELDS))}")
    files = raw.get("files", [])
    files = [files] if isinstance(files, str) else files
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise _err(f"{where}.files", f"expected a file name or a list of file names, got {files!r}")
    if bool(files) == bool(raw.get("hub")):
        raise _err(where, "give exactly one of 'files' (local or manifest paths) and 'hub' (a dataset id)")
    if bool(raw.get("text")) == bool(raw.get("template")):
        raise _err(where, "give exactly one of 'text' (a column) and 'template' (over several columns)")
    flt = raw.get("filter") or {}
    if not isinstance(flt, dict):
        raise _err(f"{where}.filter", "expected a mapping of column: value")
    replace = raw.get("replace") or {}
    if not isinstance(replace, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in replace.items()):
        raise _err(f"{where}.replace", "expected a mapping of text: replacement (both strings)")
    reader = raw.get("reader")
    if reader is not None and reader not in READERS:
        raise _err(f"{where}.reader", f"unknown reader {reader!r}; built-in readers: {', '.join(READERS)}")
    return Source(files=tuple(str(f) for f in files), hub=raw.get("hub"), split=str(raw.get("split", "train")),
                  text=raw.get("text"), template=raw.get("template"), filter=tuple(sorted(flt.items())),
                  strip_prefix=raw.get("strip_prefix"), reader=reader, replace=tuple(replace.items()))


# ---------------------------------------------------------------- reading rows
def _csqa_rows(rows: list[dict]) -> list[dict]:
    """CommonsenseQA's nested records flattened: ``stem``, ``A``–``E`` (options in label order), ``answer``."""
    out = []
    for r in rows:
        choices = sorted(r["question"]["choices"], key=lambda c: c["label"])
        out.append({"stem": r["question"]["stem"], **{c["label"]: c["text"] for c in choices},
                    "answer": r.get("answerKey")})
    return out


READERS: dict[str, Callable[[list[dict]], list[dict]]] = {"csqa": _csqa_rows}


ALLOW_OUTSIDE = "STEER_ALLOW_OUTSIDE"  # =1: a spec may read data files outside its own folder


def _resolve(file: str, base: Path | None, where: str) -> Path:
    """A local path inside the spec's folder, or a path in the kit's data manifest.

    A spec is a file someone may have sent you: a data file outside its folder (``../secret.csv``, an absolute
    path, ``~``) is refused unless ``STEER_ALLOW_OUTSIDE=1`` is set, so a spec cannot read (and echo the columns
    of, or train on) any file on the machine.
    """
    from .download import manifest, require

    p = Path(file).expanduser()
    full = p if p.is_absolute() else (base or Path.cwd()) / p
    inside = base is None or full.resolve().is_relative_to(base.resolve())
    if inside and full.exists():
        return full
    if file in {e.path for e in manifest()}:
        return require(file)
    if not inside and os.environ.get(ALLOW_OUTSIDE) != "1":
        raise _err(where, f"data file {file!r} is outside the spec's folder {base}; move it there, or set "
                          f"{ALLOW_OUTSIDE}=1 to let this spec read it")
    if full.exists():
        return full
    raise _err(where, f"data file {file!r} not found (looked in {base or Path.cwd()} and the data manifest)")


def _json_error_line(path: Path) -> str:
    """Where a JSON / JSONL file stops parsing, as 'line N: message' ('' when it parses)."""
    if path.suffix == ".jsonl":
        try:
            read_jsonl(path)
        except ValueError as exc:  # "<path>:<line>: <problem>" (or "<path>: not valid UTF-8 ...")
            where = str(exc)[len(str(path)) + 1:].lstrip()
            return f"line {where}" if where[:1].isdigit() else where
        return ""
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return f"line {exc.lineno}: {exc.msg}"
    return ""


def _load_rows(src: Source, base: Path | None, where: str) -> list[dict]:
    import datasets

    kwargs: dict[str, Any] = {}
    if src.hub:
        args: tuple = (src.hub,)
        kwargs["split"] = src.split
        shown = f"hub dataset {src.hub!r}"
    else:
        paths = [_resolve(f, base, f"{where}.files") for f in src.files]
        kinds = {FORMATS.get(p.suffix.lower()) for p in paths}
        if None in kinds or len(kinds) != 1:
            raise _err(f"{where}.files", f"use files of one kind: {', '.join(sorted(FORMATS))} "
                       f"(got {', '.join(p.name for p in paths)})")
        kind = kinds.pop()
        args = (kind,)
        kwargs.update(data_files=[str(p) for p in paths], split="train")
        if kind == "csv":
            kwargs["keep_default_na"] = False  # "NA" or "null" is a comment, not a missing value
        shown = ", ".join(str(p) for p in paths)
    was_on = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()  # a spec is read on every run: no "Generating train split" noise
    try:
        ds = datasets.load_dataset(*args, **kwargs)
    except Exception as exc:  # datasets raises many types; the user needs the file and the line
        detail = ""
        if not src.hub:
            detail = "; ".join(f"{p.name} {line}" for p in paths if p.suffix in (".json", ".jsonl")
                               and (line := _json_error_line(p)))
        raise _err(where, f"could not read {shown}: {detail or _cause(exc)}") from None
    finally:
        if was_on:
            datasets.enable_progress_bars()
    rows = ds.to_list()
    return READERS[src.reader](rows) if src.reader else rows


def _cause(exc: BaseException) -> str:
    """What went wrong, in one line: datasets wraps the reader's error ("An error occurred while generating the
    dataset"); the one inside says it (not UTF-8, an empty file, columns that differ between files)."""
    inner = exc
    while inner.__cause__ is not None or (inner.__context__ is not None and not inner.__suppress_context__):
        inner = inner.__cause__ or inner.__context__
    if isinstance(inner, UnicodeDecodeError):
        return f"not valid UTF-8 (byte 0x{inner.object[inner.start]:02x} at offset {inner.start}); re-save it as UTF-8"
    text = (str(inner).strip().splitlines() or [type(inner).__name__])[0]
    if inner is not exc:
        text = f"{type(inner).__name__}: {text}" if type(inner).__name__ not in text else text
    low = text.lower()
    if "column names don't match" in str(inner).lower() or ("columns" in low and "match" in low):
        text = f"the files' columns differ ({text[:200]})"
    elif type(inner).__name__ == "EmptyDataError":
        text = "the file is empty (not even a header row)"
    elif "utf8" in low or "utf-8" in low:
        text = f"not valid UTF-8 ({text[:160]}); re-save it as UTF-8"
    return text[:300]


def _template_fields(template: str) -> list[str]:
    return [f for _, f, _, _ in string.Formatter().parse(template) if f]


def source_texts(src: Source, base: Path | None, where: str) -> list[str]:
    """The texts of one split: rows read, filtered, turned into text, stripped and whitespace-normalised."""
    rows = _load_rows(src, base, where)
    columns = list(rows[0]) if rows else []
    needed = [c for c, _ in src.filter] + ([src.text] if src.text else _template_fields(src.template or ""))
    missing = [c for c in needed if c not in columns]
    if missing:
        field = "text" if src.text in missing else ("filter" if any(c in missing for c, _ in src.filter)
                                                     else "template")
        raise _err(f"{where}.{field}", f"column(s) {', '.join(map(repr, missing))} not in the data; "
                   f"columns: {', '.join(columns) or '(no rows)'}")
    kept = [r for r in rows if all(r.get(c) == v for c, v in src.filter)]
    if not kept:
        raise _err(f"{where}.filter", f"{dict(src.filter)} leaves no rows of {len(rows)}")
    out = []
    for r in kept:
        text = r[src.text] if src.text else src.template.format(**{k: ("" if v is None else v) for k, v in r.items()})
        if text is None:
            continue
        text = str(text)
        if src.strip_prefix:
            i = text.find(src.strip_prefix)
            text = text[i + len(src.strip_prefix):] if i >= 0 else text
        for old, new in src.replace:
            text = text.replace(old, new)
        text = normalise_whitespace(text)
        if text:
            out.append(text)
    return out


