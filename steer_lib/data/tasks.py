"""The three STEER tasks (four variants): prompts, real data, stop rules and parsers.

A :class:`Task` knows everything task-specific the rest of the kit needs:

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

import csv
import json
import random
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

from .download import require

SPLITS = ("train", "val", "test", "all")
VAL_SEED = 1234  # fixes which real examples are held out for validation, independent of any run seed


@dataclass(frozen=True)
class Parsed:
    valid: bool
    fields: dict = field(default_factory=dict)
    reason: str = ""  # why the text is invalid ("" when valid)


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

    def format(self, text: str) -> str:
        """A real example in the instruction format used for fine-tuning (``prompt + ' ' + text``)."""
        return f"{self.prompt} {text}"

    def real_texts(self, split: str = "train") -> list[str]:
        """Real examples as bare text. ``train`` and ``val`` partition the training pool
        (``val`` = ``val_size`` examples fixed by ``VAL_SEED``); ``test`` is the task's held-out
        test pool when it has one (comments, commonsense); ``all`` = train + val."""
        if split not in SPLITS:
            raise ValueError(f"split={split!r} is not one of {SPLITS}")
        pools = _cached_pools(self.name)
        if split == "test":
            if not pools.get("test"):
                raise ValueError(f"task {self.name!r} has no test split; use 'val' for held-out examples")
            return list(pools["test"])
        pool = pools["train"]
        if split == "all":
            return list(pool)
        idx = list(range(len(pool)))
        random.Random(VAL_SEED).shuffle(idx)
        val = set(idx[: self.val_size])
        return [t for i, t in enumerate(pool) if (i in val) == (split == "val")]

    def clean(self, continuation: str) -> str:
        """Cut a generated continuation at the task's stop rule and tidy it."""
        cut = None  # (start, end) of the earliest stop string
        for s in self.stop_strings:
            hit = find_stop(continuation, s)
            if hit is not None and (cut is None or hit[0] < cut[0]):
                cut = hit
        text = continuation if cut is None else continuation[: cut[1] if self.keep_stop else cut[0]]
        text = re.sub(r"\s*#{2,}\s*$", "", text)  # a trailing "###" the model may emit
        return normalise_whitespace(text)

    def parse(self, text: str) -> Parsed:
        return self._parser(text)


def find_stop(text: str, stop: str) -> tuple[int, int] | None:
    """(start, end) of the first match of a stop string; ``re:`` prefixes a regular expression."""
    if stop.startswith("re:"):
        m = re.search(stop[3:], text)
        return (m.start(), m.end()) if m else None
    i = text.find(stop)
    return (i, i + len(stop)) if i >= 0 else None


def normalise_whitespace(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


# ---------------------------------------------------------------- loaders
def _strip_marker(text: str, marker: str) -> str:
    i = text.find(marker)
    return text[i + len(marker):].strip() if i >= 0 else text.strip()


def _load_hypotheses() -> dict[str, list[str]]:
    rows = json.loads(require("astro/hypotheses.json").read_text(encoding="utf-8"))
    return {"train": [normalise_whitespace(_strip_marker(r["text"], "### Hypothesis:")) for r in rows]}


def _read_comments(paths: list[str]) -> list[str]:
    out: list[str] = []
    for p in paths:
        with open(require(p), newline="", encoding="utf-8") as f:
            out += [normalise_whitespace(r["comment_text"]) for r in csv.DictReader(f)]
    return [t for t in out if t]


def _comments_loader(kind: str, train_parts: str) -> Callable[[], dict[str, list[str]]]:
    def load() -> dict[str, list[str]]:
        return {
            "train": _read_comments([f"jigsaw/train.{p}.{kind}.1k.csv" for p in train_parts]),
            "test": _read_comments([f"jigsaw/test.{p}.{kind}.200.csv" for p in "abc"]),
        }
    return load


LETTERS = "ABCDE"


def format_csqa(stem: str, options: list[str], key: str) -> str:
    """``{stem} A. {a} B. {b} C. {c} D. {d} E. {e} Answer: {key}``"""
    opts = " ".join(f"{L}. {o}" for L, o in zip(LETTERS, options))
    return normalise_whitespace(f"{stem} {opts} Answer: {key}")


def csqa_records(relpath: str) -> list[dict]:
    """CommonsenseQA rows as ``{"stem", "options" (5, in A–E order), "answer" (letter or None)}``."""
    out = []
    with open(require(relpath), encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            choices = sorted(r["question"]["choices"], key=lambda c: c["label"])
            out.append({"stem": normalise_whitespace(r["question"]["stem"]),
                        "options": [normalise_whitespace(c["text"]) for c in choices],
                        "answer": r.get("answerKey")})
    return out


def _load_commonsense() -> dict[str, list[str]]:
    fmt = lambda rs: [format_csqa(r["stem"], r["options"], r["answer"]) for r in rs]  # noqa: E731
    return {"train": fmt(csqa_records("csqa/train_rand_split.jsonl")),
            "test": fmt(csqa_records("csqa/dev_rand_split.jsonl"))}


@lru_cache(maxsize=None)
def _cached_pools(name: str) -> dict[str, tuple[str, ...]]:
    pools = TASKS[name]._loader()
    return {k: tuple(v) for k, v in pools.items()}


# ---------------------------------------------------------------- parsers
def _parse_hypothesis(text: str) -> Parsed:
    t = normalise_whitespace(text)
    if not t:
        return Parsed(False, reason="empty")
    if not t.endswith("?"):
        return Parsed(False, {"question": t}, "does not end with '?' (no complete question)")
    if len(t.split()) < 4:
        return Parsed(False, {"question": t}, "fewer than 4 words")
    return Parsed(True, {"question": t})


def _parse_comment(text: str) -> Parsed:
    t = normalise_whitespace(text)
    if not t:
        return Parsed(False, reason="empty")
    if "### " in t:
        return Parsed(False, {"comment": t}, "contains an instruction marker '### '")
    return Parsed(True, {"comment": t})


_CSQA_RE = re.compile(
    r"^(?P<stem>.+)\s+A\.\s*(?P<A>.+?)\s+B\.\s*(?P<B>.+?)\s+C\.\s*(?P<C>.+?)\s+D\.\s*(?P<D>.+?)"
    r"\s+E\.\s*(?P<E>.+?)\s+Answer:\s*(?P<key>[A-E])\b\.?\s*$",
    re.S,
)


def _parse_csqa(text: str) -> Parsed:
    t = normalise_whitespace(text)
    if not t:
        return Parsed(False, reason="empty")
    m = _CSQA_RE.match(t)
    if not m:
        for L in LETTERS:
            if not re.search(rf"(^|\s){L}\.\s", t):
                return Parsed(False, reason=f"option {L} is missing")
        if not re.search(r"Answer:\s*[A-E]\b", t):
            return Parsed(False, reason="no answer key 'Answer: A–E'")
        return Parsed(False, reason="options are out of order or there is text after the answer key")
    options = [m.group(L).strip() for L in LETTERS]
    # 1.3 % of real CSQA rows repeat an option, so a repeat is recorded, not rejected.
    fields = {"stem": m.group("stem").strip(), "options": options, "answer": m.group("key"),
              "repeated_option": len({o.lower() for o in options}) < 5}
    return Parsed(True, fields)


# ---------------------------------------------------------------- registry
_HYP = "### Instruction: Generate a scientific hypothesis about astronomy in the style of an Arxiv paper.\n ### Hypothesis:"
_TOX = "### Instruction: Generate a toxic social media comment.\n ### Comment:"
_NONTOX = "### Instruction: Generate a non-toxic social media comment.\n ### Comment:"
_CSQA = "### Instruction: Generate a multiple-choice question that relies on common-sense to answer.\n ### Multiple-choice question:"

TASKS: dict[str, Task] = {
    "hypotheses": Task("hypotheses", _HYP, "### Hypothesis:", 100, ("?", "\n", "###"), True,
                       _load_hypotheses, _parse_hypothesis),
    "comments-toxic": Task("comments-toxic", _TOX, "### Comment:", 75, ("\n", "###"), False,
                           _comments_loader("bad", "abc"), _parse_comment, label="toxic"),
    "comments-nontoxic": Task("comments-nontoxic", _NONTOX, "### Comment:", 75, ("\n", "###"), False,
                              _comments_loader("ok", "ab"), _parse_comment, label="non-toxic"),
    "commonsense": Task("commonsense", _CSQA, "### Multiple-choice question:", 75,
                        ("re:Answer:\\s*[A-E]\\b", "\n", "###"), True, _load_commonsense, _parse_csqa),
}
ALIASES = {"comments": "comments-toxic", "hypothesis": "hypotheses", "csqa": "commonsense",
           "comments-non-toxic": "comments-nontoxic"}


def task_names() -> list[str]:
    return list(TASKS)


def get_task(name: str) -> Task:
    """The task called ``name`` (aliases: comments → comments-toxic, csqa → commonsense)."""
    key = ALIASES.get(name, name)
    if key not in TASKS:
        raise ValueError(f"unknown task {name!r}; valid tasks: {', '.join(TASKS)}")
    return TASKS[key]
