"""The instructor pack in docs/teaching.md: the students' prerequisites agree with the top of notebook 00, the
schedule covers every notebook, and the answer key has an entry for every open exercise of every notebook."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
NB_DIR = ROOT / "notebooks"
GUIDE = (ROOT / "docs" / "teaching.md").read_text(encoding="utf-8")
NOTEBOOKS = sorted(NB_DIR.glob("[0-9][0-9]_*.ipynb"))


def _flat(text: str) -> str:
    return " ".join(text.split())


def _section(title: str) -> str:
    start = GUIDE.index(f"## {title}")
    end = GUIDE.find("\n## ", start + 1)
    return GUIDE[start: end if end > 0 else None]


def test_the_students_prerequisites_are_the_same_in_notebook_00_and_the_guide():
    first = nbformat.read(NB_DIR / "00_welcome_and_data.ipynb", as_version=4).cells[0].source
    block = re.search(r"\*\*Before you start\.\*\*.*?(?=\n\n\*\*|\Z)", first, re.S)
    assert block, "notebook 00 states the prerequisites at the top"
    assert "Content note" in block.group(0)
    assert _flat(block.group(0)) in _flat(_section("Prerequisites"))


def test_the_schedule_covers_every_notebook():
    schedule = _section("A two-week schedule")
    for path in NOTEBOOKS:
        assert re.search(rf"\| {path.name[:2]}\b", schedule), f"{path.name} has no session in the schedule"


def test_the_answer_key_answers_every_open_exercise():
    key = _section("Answer key: the open exercises")
    for path in NOTEBOOKS:
        last = nbformat.read(path, as_version=4).cells[-1].source
        exercises = last.split("## Exercises", 1)[1]
        numbers = re.findall(r"^(\d+)\. ", exercises, re.M)
        assert numbers, f"{path.name}: no open exercises found"
        for n in numbers:
            assert f"**{path.name[:2]}.{n}**" in key, f"no answer for exercise {path.name[:2]}.{n}"


def test_the_glossary_and_the_content_note_are_there():
    glossary = _section("Glossary")
    for term in ("STEER", "P_θ", "P_φ", "γ", "η", "MAUVE", "Adversarial AUROC", "LoRA", "Profile", "hidden test"):
        assert term in glossary, term
    assert "toxic" in _section("Content note: the toxic-comment data")
