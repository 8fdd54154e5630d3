"""Narration never states a sample count or a seed count the profiles do not have.

Notebook markdown is read by people running any profile, so counts that depend on the profile must be printed by a
cell. What this test still finds in prose is checked against the profiles read from the kit's configs:

- a count bound to a profile (``100 samples at `quick```, ```paper` (1,000 samples)``, ``at quick, one seed``) must
  be that profile's value;
- an unbound count (``8 samples``, ``three seeds``) must be some profile's value (the sentence is true of a run);
- not a claim: approximations and ranges (``~1,000 samples per side``, ``25–48 samples``), indices (``seed 0``),
  ordinals (``a second seed``), counts of other things (``3 scoring seeds``, ``10 tokens``), code (inline and fenced).

A count binds to the nearest profile named in its clause (clauses end at ``.``, ``;`` and paragraph breaks); a
profile is named as `` `smoke` ``/`` `quick` ``/`` `paper` ``, ``at quick``, or ``quick profile``. The bare word
*paper* is the publication ("the paper's 1,000"), never the profile.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from steer_lib.config import PROFILES
from steer_lib.downstream.common import DownstreamConfig
from steer_lib.experiments.experiment import ExperimentConfig

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
WORDS = {"one": 1, "a single": 1, "single": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
         "eight": 8, "nine": 9, "ten": 10, "twelve": 12, "twenty": 20, "forty": 40, "hundred": 100}
# Words that may stand between the count and its noun and keep it a count of the profile's samples / seeds.
ADJECTIVES = {"synthetic", "generated", "new", "more", "random", "sampling", "generation"}
# A clause that opens with one of these tells the reader what to do ("Read ten samples …", "Generate the set with two
# different seeds"): an exercise, not a statement of what the profile ran.
IMPERATIVES = {"read", "generate", "add", "pick", "take", "compare", "run", "try", "print", "look", "draw", "use",
               "change", "rerun", "sample", "plot", "count", "write", "score", "repeat", "fix", "set", "train"}
COUNT = re.compile(
    r"(?P<num>\d{1,3}(?:,\d{3})+|\d+|" + "|".join(sorted(map(re.escape, WORDS), key=len, reverse=True)) + r")"
    r"(?P<between>(?:[\s-]+[A-Za-z-]+?){0,2}?)[\s-]+(?P<noun>samples?|seeds?)\b", re.I)
PROFILE = re.compile(r"`(?P<a>smoke|quick|paper)`|\bat (?P<b>smoke|quick)\b|\b(?P<c>smoke|quick|paper) profile\b"
                     r"|\bprofile (?P<d>smoke|quick|paper)\b", re.I)


def profile_counts(notebook: str) -> dict[str, dict[str, set[int]]]:
    """``{profile: {"samples": {...}, "seeds": {...}}}`` for a notebook: the experiment config's sizes, and for the
    downstream notebook also its own seeds (06 trains each classifier over DownstreamConfig's seeds)."""
    out = {}
    for p in PROFILES:
        cfg = ExperimentConfig.for_profile(p)
        seeds = {len(cfg.seeds)}
        if notebook.startswith("06"):
            seeds.add(len(DownstreamConfig.for_profile(p).seeds))
        out[p] = {"samples": {cfg.n_samples}, "seeds": seeds}
    return out


def prose(markdown: str) -> str:
    """The markdown with code removed: fenced blocks and inline spans, except a profile's name in backticks."""
    text = re.sub(r"```.*?```", " ", markdown, flags=re.S)
    return re.sub(r"`([^`\n]*)`", lambda m: m.group(0) if m.group(1) in PROFILES else " code ", text)


def clauses(text: str) -> list[str]:
    return [c for c in re.split(r"(?<=[.!?])\s+|;|\n\s*\n|\n\s*[-*\d]+[.)]?\s", text) if c.strip()]


def claims(markdown: str) -> list[tuple[str, int, str, str | None]]:
    """Every count claim as ``(kind, value, clause, bound profile or None)``."""
    found = []
    for clause in clauses(prose(markdown)):
        profiles = [(m.start(), next(g for g in m.groups() if g).lower()) for m in PROFILE.finditer(clause)]
        for m in COUNT.finditer(clause):
            before = clause[: m.start()]
            if re.search(r"[~≈]\s*$|\d\s*[–-]\s*$|\b(?:about|around|roughly|up to|under|over|some)\s+$", before, re.I):
                continue  # an approximation or the end of a range: not a statement of the profile's size
            first = re.match(r"[\s*_>#(\d.)]*([A-Za-z]+)\b[^,:—–]*$", before)
            if first and first.group(1).lower() in IMPERATIVES:
                continue  # the object of an instruction to the reader, not a statement of the profile's size
            between = [w.lower() for w in re.split(r"[\s-]+", m.group("between")) if w]
            if any(w not in ADJECTIVES for w in between):
                continue  # "3 scoring seeds", "10 k-means seeds": counts of something else
            num = m.group("num").lower()
            value = WORDS[num] if num in WORDS else int(num.replace(",", ""))
            kind = "samples" if m.group("noun").lower().startswith("sample") else "seeds"
            bound = min(profiles, key=lambda p: abs(p[0] - m.start()))[1] if profiles else None
            found.append((kind, value, clause.strip(), bound))
    return found


def violations(markdown: str, counts: dict[str, dict[str, set[int]]]) -> list[str]:
    bad = []
    for kind, value, clause, bound in claims(markdown):
        allowed = counts[bound][kind] if bound else set().union(*(c[kind] for c in counts.values()))
        if value not in allowed:
            where = f"at `{bound}`" if bound else "at any profile"
            bad.append(f"{value} {kind} ({where} it is {sorted(allowed)}): {clause[:160]!r}")
    return bad


# ---------------------------------------------------------------- the checker itself
COUNTS = {"smoke": {"samples": {8}, "seeds": {1}}, "quick": {"samples": {40}, "seeds": {1}},
          "paper": {"samples": {1000}, "seeds": {3}}}


@pytest.mark.parametrize("text", [
    "Notebooks 03 and 04 draw 100 samples at `quick`.",
    "`quick` (2×3 grid, 100 samples, one seed) takes 15 minutes.",
    "At `paper`, 3 seeds × 100 generated samples.",
    "At quick, three seeds.",
    "Compare the methods, keeping the error bars in mind — with 100 samples at `quick` the sd is small.",
    "Each sample of the 100 samples at `quick` is scored.",
    "With 100 samples the MAUVE is noisy.",  # unbound, but no profile draws 100
    "`smoke` uses two seeds.",
])
def test_stale_counts_fail(text):
    assert violations(text, COUNTS), text


@pytest.mark.parametrize("text", [
    "The paper's 1,000 samples per method at `paper`; `quick` draws 40 samples.",
    "`smoke` (2×2 grid, 8 samples) a few minutes; `quick` (2×3 grid, 40 samples, one seed); `paper` (6×6 grid × "
    "3 seeds × 1,000 samples).",
    "Under ~1,000 samples per side MAUVE is optimistic; each file holds only ~25–48 samples.",
    "on a CPU, `smoke` and `quick` reuse generation seed 0; add a second seed",
    "the spread is over 3 scoring seeds and 10 k-means seeds; keep the top 10 tokens",
    "Then `python -m steer_lib generate --n 100 --seeds 0,1` writes the file.",
    "3. Read ten samples of the file; generate the same set with two different seeds.",
    "```\nsweep --n 100 samples\n```",
    "A toy vocabulary of five tokens, by hand.",
])
def test_honest_text_passes(text):
    assert violations(text, COUNTS) == [], text


def test_claims_bind_to_the_nearest_profile_in_their_clause():
    got = claims("`smoke` draws 8 samples; 40 samples at `quick`. The quick profile has one seed.")
    assert [(k, v, b) for k, v, _, b in got] == [("samples", 8, "smoke"), ("samples", 40, "quick"),
                                                 ("seeds", 1, "quick")]


def test_the_profiles_are_read_from_the_configs():
    counts = profile_counts("05_ablation.ipynb")
    assert counts["quick"]["samples"] == {ExperimentConfig.for_profile("quick").n_samples}
    assert counts["paper"]["seeds"] == {len(ExperimentConfig.for_profile("paper").seeds)}
    assert len(DownstreamConfig.for_profile("quick").seeds) in profile_counts("06_downstream.ipynb")["quick"]["seeds"]


# ---------------------------------------------------------------- the notebooks
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_no_markdown_cell_states_a_count_the_profiles_do_not_have(path):
    counts = profile_counts(path.name)
    bad = []
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] == "markdown":
            bad += [f"{path.name} cell {cell.get('id')}: {v}" for v in violations("".join(cell["source"]), counts)]
    assert bad == []
