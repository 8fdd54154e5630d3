"""The STEER authors' released Falcon-7B outputs, cleaned, and the real set each is scored against.

Files (in the data manifest, fetched with ``python -m steer_lib data fetch``):

- ``reference/falcon-7b/{task}-falcon-7b-{method}.txt`` -- one sample per line; the comments
  lines are wrapped in ``### … ###`` and a few hypotheses/commonsense lines start with a
  ``### Background:``-style header. ``task`` is ``hypotheses``, ``comments`` (toxic) or
  ``commonsense``; ``method`` is one of :data:`KIT_METHOD`'s keys.
- ``reference/falcon-7b-grid/dataset_gamma_{γ}_eta_{η}.txt`` -- their γ×η ablation (hypotheses).

Cleaning (:func:`clean_line`) removes the ``###`` wrappers and normalises whitespace, and drops
lines left with no letter or digit (the ``###.`` fragments); it does *not* cut samples at the
task's stop rules or drop duplicates, so validity and duplicate rate describe what was released.

>>> clean_line("### FUCK   off ###"), clean_line(" ###."), clean_line("### Background: The?")
('FUCK off', '', 'Background: The?')
"""
from __future__ import annotations

import re

from .. import data
from ..data.tasks import get_task, normalise_whitespace

MODEL = "falcon-7b"
REF_DIR = f"reference/{MODEL}"
GRID_DIR = f"reference/{MODEL}-grid"
TASK_MAP = {"hypotheses": "hypotheses", "comments": "comments-toxic", "commonsense": "commonsense"}  # file -> kit
KIT_METHOD = {  # the authors' file names -> the kit's method names
    "beam": "beam",
    "contrastive": "contrastive_search",
    "greedy": "low_temperature",  # their "greedy" is sampling at T=0.5
    "no_steer": "top_k",  # their baseline: plain top-k sampling of the fine-tuned model (γ=η=0)
    "nucleus": "nucleus",
    "steer": "steer",
}
_FILE_RE = re.compile(rf"^{REF_DIR}/(?P<task>[a-z]+)-{MODEL}-(?P<method>[a-z_]+)\.txt$")
_GRID_RE = re.compile(rf"^{GRID_DIR}/dataset_gamma_(?P<g>[0-9.]+)_eta_(?P<e>[0-9.]+)\.txt$")


def ref_task(task: str) -> str:
    """The reference file's task name for a kit task or alias (``comments-toxic`` → ``comments``)."""
    kit = get_task(task).name
    for ref, k in TASK_MAP.items():
        if k == kit:
            return ref
    raise ValueError(f"the authors released no outputs for task {task!r}; tasks with outputs: {', '.join(TASK_MAP)}")


def _files() -> dict[tuple[str, str], str]:
    out = {}
    for e in data.manifest():
        if m := _FILE_RE.match(e.path):
            out[(m["task"], m["method"])] = e.path
    return out


def reference_tasks() -> list[str]:
    """Reference task names that have files (``hypotheses``, ``comments``, ``commonsense``)."""
    return sorted({t for t, _ in _files()})


def reference_methods(task: str) -> list[str]:
    """The authors' method names released for ``task`` (a reference or kit task name), sorted."""
    t = ref_task(task)
    return sorted(m for tt, m in _files() if tt == t)


def clean_line(line: str) -> str:
    """One released sample without its ``###`` wrappers; ``''`` when nothing textual is left."""
    text = normalise_whitespace(line)
    text = re.sub(r"^#{3,}\s*", "", text)
    text = re.sub(r"\s*#{3,}$", "", text)
    text = normalise_whitespace(text)
    return text if re.search(r"\w", text) else ""


def read_lines(relpath: str) -> tuple[list[str], int]:
    """Cleaned samples of one manifest file, and how many non-blank lines cleaning dropped."""
    raw = [ln for ln in data.require(relpath).read_text(encoding="utf-8").splitlines() if ln.strip()]
    cleaned = [clean_line(ln) for ln in raw]
    kept = [c for c in cleaned if c]
    return kept, len(raw) - len(kept)


def load_reference(task: str, method: str) -> list[str]:
    """The authors' cleaned samples for ``task`` (e.g. ``comments`` or ``comments-toxic``) and ``method``
    (their name, e.g. ``no_steer``, or the kit's, e.g. ``top_k``)."""
    t = ref_task(task)
    by_kit = {v: k for k, v in KIT_METHOD.items()}
    m = method if method in KIT_METHOD else by_kit.get(method, method)
    files = _files()
    if (t, m) not in files:
        raise ValueError(f"no released outputs for task {t!r} and method {method!r}; "
                         f"methods for {t}: {', '.join(reference_methods(t))}")
    return read_lines(files[(t, m)])[0]


def load_grid() -> dict[tuple[float, float], list[str]]:
    """The authors' γ×η ablation outputs (hypotheses task): ``{(gamma, eta): cleaned samples}``."""
    out = {}
    for e in data.manifest():
        if m := _GRID_RE.match(e.path):
            out[(float(m["g"]), float(m["e"]))] = read_lines(e.path)[0]
    if not out:
        raise ValueError(f"the data manifest lists no {GRID_DIR}/ files")
    return dict(sorted(out.items()))


def real_set(task: str) -> list[str]:
    """The real texts a task's synthetic outputs are scored against.

    hypotheses → all 1,000 questions; comments → the toxic Jigsaw training pool (the released
    comments are toxic); commonsense → CSQA train in the task's format. Any kit task name works.
    """
    return get_task(TASK_MAP.get(task, task)).real_texts("all")
