"""The tasks: the paper's three (four variants) and any task of yours, each read from a YAML spec file.

The built-in specs are ``steer_lib/data/task_specs/*.yaml``; ``get_task("path/to/my_task.yaml")`` reads yours
(fields: :mod:`steer_lib.data.spec`). A :class:`Task` knows everything task-specific the rest of the kit needs:

- the instruction ``prompt`` that every generation starts from, and ``format(text)``
  that puts a real example in the same instruction format for fine-tuning;
- ``real_texts(split)``: the real examples, as bare text (no instruction);
- ``stop_strings`` / ``clean(continuation)``: where a generated sample ends;
- ``parse(text)``: whether a sample is a valid example of the task, and why not.

>>> t = get_task("hypotheses")
>>> t.clean(" Is dark matter cold? And more text")
'Is dark matter cold?'
>>> get_task("commonsense").parse("Where do fish live? A. sea B. tree C. sky D. car E. moon Answer: A").valid
True
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import spec, validity
from ..files import read_jsonl
from .download import require
from .text import cut_at_stop, normalise_whitespace
from .validity import LETTERS, PARSERS, Parsed  # noqa: F401 (API)

SPLITS = ("train", "val", "test", "all")
VAL_SEED = 1234  # fixes which real examples are held out for validation, independent of any run seed


@dataclass(frozen=True)
class Task:
    name: str
    prompt: str  # the instruction prompt; generation continues right after it
    answer_marker: str  # the "### X:" header the answer follows
    max_new_tokens: int
    stop_strings: tuple[str, ...]  # a sample ends at the first of these (kept if `keep_stop`)
    keep_stop: bool
    _loader: Callable[[], dict[str, list[str]]] = field(repr=False, compare=False)
    _parser: Callable[[str], Parsed] = field(repr=False, compare=False)
    label: str | None = None  # "toxic" / "non-toxic" for the comments variants
    val_size: int = 100  # real training examples held out for validation (eval loss, model selection)
    source: str = ""  # the spec file the task was read from
    aliases: tuple[str, ...] = ()  # other names get_task accepts (built-in tasks only)

    def format(self, text: str) -> str:
        """A real example in the instruction format used for fine-tuning (``prompt + ' ' + text``)."""
        return f"{self.prompt} {text}"

    def real_texts(self, split: str = "train") -> list[str]:
        """Real examples as bare text. ``train`` and ``val`` partition the training pool
        (``val`` = ``val_size`` examples fixed by ``VAL_SEED``); ``test`` is the task's held-out
        test pool when it has one (comments, commonsense); ``all`` = train + val."""
        if split not in SPLITS:
            raise ValueError(f"split={split!r} is not one of {SPLITS}")
        pools = _cached_pools(self)
        if split == "test":
            if not pools.get("test"):
                raise ValueError(f"task {self.name!r} has no test split; use 'val' for held-out examples")
            return list(pools["test"])
        pool = pools["train"]
        if split == "all":
            return list(pool)
        if split == "train" and self.val_size >= len(pool):  # else fine-tuning has nothing to learn from
            raise spec.TaskSpecError(f"{self.source or self.name}: val_size={self.val_size} holds out every one of "
                                     f"the {len(pool)} training examples; set val_size: below {len(pool)}")
        idx = list(range(len(pool)))
        random.Random(VAL_SEED).shuffle(idx)
        val = set(idx[: self.val_size])
        return [t for i, t in enumerate(pool) if (i in val) == (split == "val")]

    def clean(self, continuation: str) -> str:
        """Cut a generated continuation at the task's stop rule and tidy it."""
        text = cut_at_stop(continuation, self.stop_strings, keep=self.keep_stop)
        text = re.sub(r"\s*#{2,}\s*$", "", text)  # a trailing "###" the model may emit
        return normalise_whitespace(text)

    def parse(self, text: str) -> Parsed:
        return self._parser(text)


# ---------------------------------------------------------------- multiple choice
def format_csqa(stem: str, options: list[str], key: str) -> str:
    """``{stem} A. {a} B. {b} C. {c} D. {d} E. {e} Answer: {key}``"""
    opts = " ".join(f"{L}. {o}" for L, o in zip(LETTERS, options))
    return normalise_whitespace(f"{stem} {opts} Answer: {key}")


def csqa_records(relpath: str) -> list[dict]:
    """CommonsenseQA rows as ``{"stem", "options" (5, in A–E order), "answer" (letter or None)}``."""
    out = []
    for r in read_jsonl(require(relpath)):
        choices = sorted(r["question"]["choices"], key=lambda c: c["label"])
        out.append({"stem": normalise_whitespace(r["question"]["stem"]),
                    "options": [normalise_whitespace(c["text"]) for c in choices],
                    "answer": r.get("answerKey")})
    return out


_POOLS: dict[tuple, dict[str, tuple[str, ...]]] = {}  # (name, spec file, what they read) -> pools


def _freshness(task: Task) -> tuple:
    """What a task's pools were read from, cheaply: the data folder, and for a spec of one's own the size and mtime
    of the files beside it (its CSVs), so a notebook that edits them (or moves STEER_DATA) reads them again."""
    from .. import paths

    key: tuple = (str(paths.data_dir()),)
    src = Path(task.source) if task.source else None
    if src is not None and src.parent != spec.SPEC_DIR.resolve() and src.parent.is_dir():
        key += tuple(sorted((f.name, st.st_size, st.st_mtime_ns) for f in src.parent.iterdir()
                            if f.is_file() and not f.name.startswith(".") for st in (f.stat(),)))
    return key


def _cached_pools(task: Task) -> dict[str, tuple[str, ...]]:
    key = (task.name, task.source, _freshness(task))
    if key not in _POOLS:
        _POOLS[key] = {k: tuple(v) for k, v in task._loader().items()}
    return _POOLS[key]


# ---------------------------------------------------------------- registry
def _split_off(texts: list[str], n: int, seed: int) -> tuple[list[str], list[str]]:
    """``(rest, held_out)``: ``n`` texts held out at positions fixed by ``seed``, order kept in both."""
    idx = list(range(len(texts)))
    random.Random(seed).shuffle(idx)
    out = set(idx[:n])
    return [t for i, t in enumerate(texts) if i not in out], [t for i, t in enumerate(texts) if i in out]


TEST_SEED = 4321  # fixes which real examples form the test pool of a task whose data has no test split


def load_task_spec(path: str | Path) -> Task:
    """The :class:`Task` a YAML spec file describes (see :mod:`steer_lib.data.spec` for the fields).

    >>> t = load_task_spec(spec.SPEC_DIR / "hypotheses.yaml")
    >>> t.name, t.max_new_tokens, t.stop_strings
    ('hypotheses', 100, ('?', '\\n', '###'))
    """
    path = Path(path)
    raw = spec.read_spec(path)
    where = str(path)
    sources = {split: spec.parse_source(src, f"{where}: data.{split}") for split, src in raw["data"].items()}
    test_size = int(raw.get("test_size", 0))
    if test_size and "test" in sources:
        raise spec.TaskSpecError(f"{where}: test_size: the data has a test split already; drop one of them")
    base = path.resolve().parent

    def load() -> dict[str, list[str]]:
        pools = {split: spec.source_texts(src, base, f"{where}: data.{split}") for split, src in sources.items()}
        if test_size:
            if test_size >= len(pools["train"]):
                raise spec.TaskSpecError(f"{where}: test_size={test_size} leaves no training examples "
                                         f"of {len(pools['train'])}")
            pools["train"], pools["test"] = _split_off(pools["train"], test_size, TEST_SEED)
        return pools

    prompt = str(raw["prompt"])
    marker = raw.get("answer_marker") or prompt.strip().splitlines()[-1].strip()
    try:
        return Task(name=str(raw["name"]), prompt=prompt, answer_marker=str(marker),
                    max_new_tokens=int(raw.get("max_new_tokens", 75)),
                    stop_strings=tuple(str(x) for x in raw.get("stop_strings", ("\n", "###"))),
                    keep_stop=bool(raw.get("keep_stop", False)), _loader=load,
                    _parser=validity.build_parser(raw.get("validity"), where), label=raw.get("label"),
                    val_size=int(raw.get("val_size", 100)), source=str(path.resolve()),
                    aliases=tuple(str(a) for a in raw.get("aliases", ())))
    except (TypeError, ValueError) as exc:
        if isinstance(exc, spec.TaskSpecError):
            raise
        raise spec.TaskSpecError(f"{where}: {exc}") from None


def _builtin() -> tuple[dict[str, Task], dict[str, str]]:
    tasks, aliases = {}, {}
    for f in sorted(spec.SPEC_DIR.glob("*.yaml")):
        t = load_task_spec(f)
        tasks[t.name] = t
        aliases.update({a: t.name for a in t.aliases})
    return tasks, aliases


TASKS, ALIASES = _builtin()
BUILTIN = tuple(TASKS)  # the spec files' tasks (alphabetical by file)
PIPELINE_ORDER = ("hypotheses", "comments-toxic", "comments-nontoxic", "commonsense")  # the paper's order


def task_names() -> list[str]:
    """The built-in tasks, in the order the pipeline runs them (a spec file added later comes last)."""
    return sorted(BUILTIN, key=lambda n: PIPELINE_ORDER.index(n) if n in PIPELINE_ORDER else len(PIPELINE_ORDER))


def is_spec_path(name: str) -> bool:
    return name.endswith((".yaml", ".yml")) or ("/" in name and Path(name).is_file())


def get_task(name: str) -> Task:
    """The task called ``name`` (aliases: comments → comments-toxic, csqa → commonsense), or the task a YAML
    spec file describes when ``name`` is a path to one (it is then registered under its own name)."""
    if is_spec_path(name):
        t = load_task_spec(name)
        if t.name in BUILTIN:
            raise spec.TaskSpecError(f"{name}: name: {t.name!r} is already the name of a built-in task; rename it")
        TASKS[t.name] = t  # the latest file read under a name wins (a moved or edited spec in the same session)
        _POOLS.pop((t.name, t.source), None)
        return t
    key = ALIASES.get(name, name)
    if key not in TASKS:
        raise ValueError(f"unknown task {name!r}; valid tasks: {', '.join(TASKS)} (or a path to a task spec .yaml)")
    return TASKS[key]
