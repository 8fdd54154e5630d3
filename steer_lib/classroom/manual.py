"""Manually graded (open) questions: the question with its mark scheme, and the answer cell with a model answer.

The contract, which nbgrader's own regions enforce in the student version:

- the **question** is a locked nbgrader *task* cell (markdown) with grade_id ``question_X`` and 0 points: the
  question's text, then the rubric between ``=== BEGIN MARK SCHEME ===`` and ``=== END MARK SCHEME ===`` (nbgrader's
  ClearMarkScheme removes that region from the student version; it accepts such a region only in a task cell);
- the **answer** cell comes right after it: a manually graded answer (markdown, ``grade`` and ``solution``) with
  grade_id ``X`` and the question's points, holding nothing but a model answer for the instructor between
  ``### BEGIN SOLUTION`` / ``### END SOLUTION`` (the student version has "YOUR ANSWER HERE" there).

So the rubric never sits in the cell the student overwrites, and the instructor grading in formgrader sees the
rubric above the student's answer. (The 0-point task cell is flagged "needs manual grade" like the answer; give it
0 when you grade the answer.)
"""
from __future__ import annotations

import re
from typing import Any

import nbformat

QUESTION_PREFIX = "question_"
BEGIN_MARK_SCHEME = "=== BEGIN MARK SCHEME ==="
END_MARK_SCHEME = "=== END MARK SCHEME ==="


def _meta(cell: dict[str, Any]) -> dict[str, Any]:
    return cell.get("metadata", {}).get("nbgrader", {})


def manual_answers(nb: nbformat.NotebookNode) -> list[str]:
    """grade_ids of the manually graded answer cells (markdown, graded and solution), in order."""
    return [_meta(c)["grade_id"] for c in nb.cells
            if c.cell_type == "markdown" and _meta(c).get("grade") and _meta(c).get("solution")]


def _region(source: str, begin: str, end: str) -> str | None:
    m = re.search(re.escape(begin) + r"\n(.*?)" + re.escape(end), source, re.S)
    return m.group(1) if m else None


def mark_scheme(source: str) -> str | None:
    """The text of the cell's mark-scheme region, or None when it has none.

    >>> mark_scheme("Why?\\n=== BEGIN MARK SCHEME ===\\n1 point: because.\\n=== END MARK SCHEME ===")
    '1 point: because.\\n'
    """
    return _region(source, BEGIN_MARK_SCHEME, END_MARK_SCHEME)


def model_answer(source: str) -> str | None:
    """The text of the cell's solution region (the model answer of an answer cell), or None."""
    return _region(source, "### BEGIN SOLUTION", "### END SOLUTION")


def problems(nb: nbformat.NotebookNode) -> list[str]:
    """Where the notebook's open questions break the contract above; one line each, empty when it holds."""
    graded = [c for c in nb.cells if _meta(c).get("grade") or _meta(c).get("solution") or _meta(c).get("task")]
    out = []
    for i, cell in enumerate(graded):
        m, gid = _meta(cell), _meta(cell).get("grade_id", "?")
        if cell.cell_type == "markdown" and m.get("grade") and m.get("solution"):
            prev = graded[i - 1] if i else None
            want = QUESTION_PREFIX + gid
            if prev is None or not _meta(prev).get("task") or _meta(prev).get("grade_id") != want:
                out.append(f"answer cell {gid!r}: the cell before it must be the task cell {want!r} (question + "
                           "mark scheme)")
            elif not (mark_scheme(prev.source) or "").strip():
                out.append(f"task cell {want!r} has no mark scheme ({BEGIN_MARK_SCHEME} ... {END_MARK_SCHEME})")
            elif _meta(prev).get("points", 0) != 0:
                out.append(f"task cell {want!r}: 0 points (the answer cell {gid!r} carries them), not "
                           f"{_meta(prev).get('points')}")
            answer = model_answer(cell.source)
            if not (answer or "").strip():
                out.append(f"answer cell {gid!r} has no model answer (### BEGIN SOLUTION ... ### END SOLUTION)")
            elif cell.source.strip() != f"### BEGIN SOLUTION\n{answer}### END SOLUTION":
                out.append(f"answer cell {gid!r}: only the model answer belongs in it (the question and the "
                           f"mark scheme go in {want!r})")
            if mark_scheme(cell.source) is not None:
                out.append(f"answer cell {gid!r} holds a mark scheme: it belongs in {want!r}")
        elif m.get("task"):
            nxt = graded[i + 1] if i + 1 < len(graded) else None
            if not gid.startswith(QUESTION_PREFIX):
                out.append(f"task cell {gid!r} is not named {QUESTION_PREFIX}<answer cell>")
            elif nxt is None or _meta(nxt).get("grade_id") != gid.removeprefix(QUESTION_PREFIX):
                out.append(f"task cell {gid!r} is not followed by its answer cell "
                           f"{gid.removeprefix(QUESTION_PREFIX)!r}")
    return out
