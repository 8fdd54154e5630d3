"""Grading submitted assignment notebooks with nbgrader's autograder, into CSV files.

The course directory is rebuilt from the current ``notebooks/`` (see :mod:`steer_lib.classroom.assignments`), the submissions
are copied into its ``submitted/`` folder, and ``nbgrader autograde`` restores the locked test cells and hidden tests
from the gradebook before it executes each notebook. CLI: ``python -m steer_lib assignments autograde``.
"""
from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import nbformat

from ..files import write_atomic
from .assignments import (
    DEFAULT_TIMEOUT,
    AssignmentError,
    assignment_notebooks,
    run_nbgrader,
    set_parameters,
    up_to_last_exercise,
    write_course,
)


def collect_submissions(submissions: Path, assignments: list[str]) -> dict[tuple[str, str], Path]:
    """``{(student, assignment): notebook}`` from ``DIR/<student>/[<assignment>/]<notebook>.ipynb``.

    The assignment is recognised by the notebook's file name (as released); folders starting with ``.`` or ``_``
    and Jupyter checkpoints are ignored.
    """
    submissions = Path(submissions)
    if not submissions.is_dir():
        raise AssignmentError(f"SUBMISSIONS={submissions}: not a folder")
    found: dict[tuple[str, str], Path] = {}
    for nb in sorted(submissions.rglob("*.ipynb")):
        rel = nb.relative_to(submissions)
        if any(part.startswith((".", "_")) for part in rel.parts) or ".ipynb_checkpoints" in rel.parts:
            continue
        if len(rel.parts) < 2:
            raise AssignmentError(f"{nb}: put each student's notebooks in a folder named with the student's id")
        if nb.stem not in assignments:
            raise AssignmentError(f"{nb}: {nb.name} is not an assignment notebook (expected one of {assignments})")
        key = (rel.parts[0], nb.stem)
        if key in found:
            raise AssignmentError(f"two submissions of {nb.stem} for student {rel.parts[0]}: {found[key]} and {nb}")
        found[key] = nb
    if not found:
        raise AssignmentError(f"no submitted notebooks under {submissions}")
    return found


def autograde(submissions: Path, out: Path, profile: str | None = "smoke", notebooks_dir: Path | None = None,
              timeout: int = DEFAULT_TIMEOUT, full: bool = False) -> Path:
    """Grade every submitted notebook; write ``out/grades.csv`` (one row per student and assignment),
    ``out/grades_cells.csv`` (one row per graded cell) and keep the nbgrader course in ``out/course``.

    The gradebook is rebuilt from the current sources, so grade with the same version of the kit you released
    from. ``profile`` (default ``smoke``) is written into each submission's parameters cell before it runs, so
    grading does not train or generate at the size the student chose; ``None`` keeps the student's choice.
    Manually graded cells (the reflection question) score 0 and are flagged until graded in nbgrader's formgrader.
    Unless ``full``, each submission runs only up to its last exercise cell (later cells cannot change a score).
    """
    out = Path(out).resolve()
    notebooks = assignment_notebooks(notebooks_dir)
    names = [p.stem for p in notebooks]
    found = collect_submissions(Path(submissions), names)
    course = out / "course"
    shutil.rmtree(course, ignore_errors=True)
    write_course(course, notebooks, timeout=timeout)
    run_nbgrader(course, "generate_assignment", "*", "--force")  # the gradebook: cells, points, hidden tests
    for (student, name), nb_path in found.items():
        nb = nbformat.read(nb_path, as_version=4)
        if profile is not None:
            nb = set_parameters(nb, PROFILE=profile)
        if not full:
            nb = up_to_last_exercise(nb)
        dest = course / "submitted" / student / name / f"{name}.ipynb"
        dest.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, dest)
    run_nbgrader(course, "autograde", "*", "--force")  # every assignment and student found in submitted/
    return write_grades(course, out)


def write_grades(course: Path, out: Path) -> Path:
    """Read the course's gradebook into ``out/grades.csv`` and ``out/grades_cells.csv``; return the first."""
    from nbgrader.api import Gradebook

    rows, cells = [], []
    with Gradebook("sqlite:///" + str(course / "gradebook.db")) as gb:
        for assignment in sorted(gb.assignments, key=lambda a: a.name):
            for sub in sorted(assignment.submissions, key=lambda s: s.student.id):
                rows.append({"student": sub.student.id, "assignment": assignment.name, "score": sub.score,
                             "max_score": sub.max_score, "needs_manual_grade": bool(sub.needs_manual_grade)})
                for nb in sub.notebooks:
                    for g in sorted(nb.grades, key=lambda g: g.name):
                        cells.append({"student": sub.student.id, "assignment": assignment.name, "cell": g.name,
                                      "score": g.score, "max_score": g.max_score,
                                      "needs_manual_grade": bool(g.needs_manual_grade)})
    if not rows:
        raise AssignmentError(f"the gradebook in {course} has no graded submissions")
    for fname, table in (("grades.csv", rows), ("grades_cells.csv", cells)):
        buf = io.StringIO(newline="")
        writer = csv.DictWriter(buf, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
        write_atomic(out / fname, buf.getvalue())
    return out / "grades.csv"
