"""Grading submitted assignment notebooks with nbgrader's autograder, into CSV files.

The course directory ``<out>/course`` is updated from the current ``notebooks/`` (see
:mod:`steer_lib.classroom.assignments`), the submissions are copied into its ``submitted/`` folder, and ``nbgrader
autograde`` restores the locked test cells and hidden tests from the gradebook before it executes each notebook.
CLI: ``python -m steer_lib assignments autograde``.

Nothing an instructor did is lost on a rerun (say, for a late submission): the course folder is updated in place,
never deleted, so the gradebook keeps its manual grades (nbgrader's autograder never overwrites a manual score) and
any file the instructor keeps there stays; the gradebook is also copied to ``gradebook.before-last-run.db`` first.
Every submission is read and checked before anything runs: the valid ones are graded, the invalid ones (not a
notebook, not JSON, no parameters cell, ...) are listed one line each, by student and file, in
``<out>/invalid_submissions.csv``.
"""
from __future__ import annotations

import csv
import io
import shutil
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Invalid:
    """A submission that cannot be graded: whose, which file, and why (one line)."""

    student: str
    assignment: str
    path: Path
    problem: str

    def line(self) -> str:
        return f"student {self.student}, {self.assignment}: {self.path}: {self.problem}"


def prepare_submission(nb_path: Path, profile: str | None, full: bool) -> nbformat.NotebookNode:
    """The notebook that will be graded: ``nb_path`` read, checked, with ``profile`` injected and (unless
    ``full``) cut after its last exercise. Any problem is an AssignmentError with a one-line reason."""
    try:
        nb = nbformat.read(nb_path, as_version=4)
        nbformat.validate(nb)
    except (OSError, UnicodeDecodeError) as exc:
        raise AssignmentError(f"cannot be read ({exc.__class__.__name__}: {exc})") from None
    except Exception as exc:  # noqa: BLE001 -- nbformat raises NotJSONError, ValidationError, KeyError, ...
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise AssignmentError(f"not a valid notebook ({exc.__class__.__name__}: {first})") from None
    if profile is not None:
        nb = set_parameters(nb, PROFILE=profile)
    return nb if full else up_to_last_exercise(nb)


def _write_invalid(out: Path, invalid: list[Invalid]) -> Path:
    path = out / "invalid_submissions.csv"
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["student", "assignment", "file", "problem"])
    writer.writerows([i.student, i.assignment, str(i.path), i.problem] for i in invalid)
    write_atomic(path, buf.getvalue())
    return path


def autograde(submissions: Path, out: Path, profile: str | None = "smoke", notebooks_dir: Path | None = None,
              timeout: int = DEFAULT_TIMEOUT, full: bool = False, isolate: bool = False,
              notebook_timeout: float | None = None) -> Path:
    """Grade every valid submitted notebook; write ``out/grades.csv`` (one row per student and assignment),
    ``out/grades_cells.csv`` (one row per graded cell), ``out/invalid_submissions.csv`` (the submissions that could
    not be graded, and why) and keep the nbgrader course in ``out/course`` (updated, never deleted: manual grades
    and the instructor's files there survive a rerun).

    The gradebook is rebuilt from the current sources, so grade with the same version of the kit you released
    from. ``profile`` (default ``smoke``) is written into each submission's parameters cell before it runs, so
    grading does not train or generate at the size the student chose; ``None`` keeps the student's choice.
    Manually graded cells (the reflection question) score 0 and are flagged until graded in nbgrader's formgrader.
    Unless ``full``, each submission runs only up to its last exercise cell (later cells cannot change a score).
    ``isolate``: each submission is graded in its own nbgrader run with a throw-away HOME, a filtered environment and
    no network where ``unshare -rn`` works, stopped after ``notebook_timeout`` seconds (default: ``timeout``, the
    per-cell limit); a submission that fails that way is listed as not graded, the others are graded.
    """
    out = Path(out).resolve()
    notebooks = assignment_notebooks(notebooks_dir)
    names = [p.stem for p in notebooks]
    found = collect_submissions(Path(submissions), names)
    ready, invalid = {}, []
    for (student, name), nb_path in found.items():  # every submission checked before anything is written
        try:
            ready[(student, name)] = prepare_submission(nb_path, profile, full)
        except AssignmentError as exc:
            invalid.append(Invalid(student, name, nb_path, str(exc)))
    out.mkdir(parents=True, exist_ok=True)
    _write_invalid(out, invalid)
    if not ready:
        raise AssignmentError(f"none of the {len(found)} submission(s) can be graded: "
                              + "; ".join(i.line() for i in invalid))
    course = out / "course"
    if (course / "gradebook.db").exists():  # a copy first: the gradebook holds the manual grades
        shutil.copyfile(course / "gradebook.db", course / "gradebook.before-last-run.db")
    write_course(course, notebooks, timeout=timeout)  # updates config and sources in place; deletes nothing
    run_nbgrader(course, "generate_assignment", "*", "--force")  # the gradebook: cells, points, hidden tests
    for (student, name), nb in ready.items():
        dest = course / "submitted" / student / name / f"{name}.ipynb"
        dest.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, dest)
    if isolate:  # one run per submission: its own time limit, and one student's failure stops no one else
        failed = []
        for (student, name), nb_path in ready.items():
            try:
                run_nbgrader(course, "autograde", name, f"--student={student}", "--force", isolate=True,
                             timeout=notebook_timeout or timeout)
            except AssignmentError as exc:
                failed.append(Invalid(student, name, nb_path, str(exc).splitlines()[0]))
        if failed:
            _write_invalid(out, invalid + failed)
        return write_grades(course, out)
    # One nbgrader run for everyone (it is slow to start). It regrades every copy in submitted/, including an earlier
    # valid copy of a submission that is invalid now: that reproduces the grade the gradebook already had.
    run_nbgrader(course, "autograde", "*", "--force")
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
