"""Open (manually graded) questions: the mark scheme sits in nbgrader's mark-scheme region of the question's task
cell, apart from the answer cell, which holds a model answer; the student version and the student copy keep neither."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from steer_lib.classroom import assignments, manual, student_repo

NB_DIR = Path(__file__).resolve().parents[2] / "notebooks"
WITH_OPEN_QUESTIONS = [p for p in sorted(NB_DIR.glob("[0-9][0-9]_*.ipynb"))
                       if manual.manual_answers(nbformat.read(p, as_version=4))]
QUESTION = {"grade": False, "grade_id": "question_essay", "locked": True, "points": 0, "schema_version": 3,
            "solution": False, "task": True}
ANSWER = {"grade": True, "grade_id": "essay", "locked": False, "points": 2, "schema_version": 3, "solution": True,
          "task": False}


def _toy(question: str, answer: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for src, meta in ((question, QUESTION), (answer, ANSWER)):
        cell = nbformat.v4.new_markdown_cell(src)
        cell.metadata["nbgrader"] = dict(meta)
        nb.cells.append(cell)
    return nb


GOOD_Q = f"Why?\n\n{manual.BEGIN_MARK_SCHEME}\n1 point: names the cause.\n{manual.END_MARK_SCHEME}"
GOOD_A = "### BEGIN SOLUTION\nBecause the cause causes it.\n### END SOLUTION"


def test_the_real_open_questions_follow_the_contract():
    assert "05_ablation" in [p.stem for p in WITH_OPEN_QUESTIONS]
    for path in WITH_OPEN_QUESTIONS:
        problems = manual.problems(nbformat.read(path, as_version=4))
        assert not problems, f"{path.name}: " + "; ".join(problems)


@pytest.mark.parametrize("question, answer, message", [
    (GOOD_Q, f"### BEGIN SOLUTION\nModel.\n{manual.BEGIN_MARK_SCHEME}\nx\n{manual.END_MARK_SCHEME}\n### END SOLUTION",
     "holds a mark scheme"),
    ("Why?", GOOD_A, "has no mark scheme"),
    (GOOD_Q, "Why?\n\n### BEGIN SOLUTION\nModel.\n### END SOLUTION", "only the model answer belongs in it"),
    (GOOD_Q, "### BEGIN SOLUTION\n\n### END SOLUTION", "has no model answer"),
])
def test_problems_names_what_is_wrong(question, answer, message):
    found = manual.problems(_toy(question, answer))
    assert any(message in p for p in found), found


def test_an_answer_without_its_question_cell_is_named():
    nb = _toy(GOOD_Q, GOOD_A)
    nb.cells = nb.cells[1:]
    assert manual.problems(nb) == ["answer cell 'essay': the cell before it must be the task cell 'question_essay' "
                                   "(question + mark scheme)"]
    assert manual.problems(_toy(GOOD_Q, GOOD_A)) == []


def test_student_version_drops_the_mark_scheme_and_the_model_answer(tmp_path):
    nb_dir = tmp_path / "notebooks"
    nb_dir.mkdir()
    nbformat.write(_toy(GOOD_Q, GOOD_A), nb_dir / "01_toy.ipynb")
    path = assignments.generate(tmp_path / "release", nb_dir)["01_toy"]
    student = nbformat.read(path, as_version=4)
    assert student.cells[0].source.strip() == "Why?", "the question stays, its mark scheme goes"
    assert student.cells[1].source == assignments.TEXT_STUB
    assert student_repo.find_markers(path.parent) == []  # (the instructor's gradebook.db keeps both)


@pytest.mark.slow
def test_real_student_versions_keep_no_rubric_or_model_answer(tmp_path):
    released = assignments.generate(tmp_path / "release", NB_DIR)
    for path in WITH_OPEN_QUESTIONS:
        source = nbformat.read(path, as_version=4)
        student_text = "\n".join(c.source for c in nbformat.read(released[path.stem], as_version=4).cells)
        for cell in source.cells:
            secret = manual.mark_scheme(cell.source) or manual.model_answer(cell.source) or ""
            if cell.cell_type != "markdown" or not secret:
                continue
            for line in secret.splitlines():
                if len(line.strip()) > 20:  # (short lines like "1." may occur elsewhere)
                    assert line.strip() not in student_text, f"{path.name}: {line.strip()!r} is in the student version"
