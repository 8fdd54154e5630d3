"""Mutation testing of the graded exercises: proof that the real autograder gives full points to the solutions,
zero to the student stubs and less than full to plausible wrong answers.

For each notebook with autograded exercises, ``tests/classroom/mutants/<notebook>.yaml`` lists wrong answers per
exercise (``grade_id`` of the solution cell)::

    guided:
      - label: wrong sign of the γ term
        source: |
          def guided(logp_theta, logp_phi, gamma):
              return (1 + gamma) * logp_theta + gamma * logp_phi

From it and the source notebook this module builds *versions* of the notebook as a student would submit them —
``solution`` (the sources' answers), ``stub`` (nbgrader's own ClearSolutions, as released) and ``mutant_k`` (the
k-th wrong answer of *every* exercise that has one, the others answered correctly: one notebook per k, not per
mutant, since each run loads the models) — and the points each graded cell must then get. The autograding itself
is :func:`steer_lib.classroom.grading.autograde` (nbgrader, one course build for all versions); the mutation test
(tests/classroom/test_mutations.py) runs it and checks the grades with :func:`check_grades`.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from ..files import read_yaml
from .assignments import CODE_STUB, TEXT_STUB, AssignmentError

TEST_PREFIX = "test_"


@dataclass(frozen=True)
class Mutant:
    """One plausible wrong answer to an exercise: what it gets wrong (``label``) and the whole cell's source."""

    label: str
    source: str


@dataclass
class Expectation:
    """What the autograder must give each autograded test cell of one submitted version."""

    full: set[str] = field(default_factory=set)  # grade_ids that must score max_score
    zero: set[str] = field(default_factory=set)  # grade_ids that must score 0
    less: dict[str, str] = field(default_factory=dict)  # grade_id -> label of the mutant that must lose points


def _meta(cell: dict[str, Any]) -> dict[str, Any]:
    return cell.get("metadata", {}).get("nbgrader", {})


def autograded_exercises(nb: nbformat.NotebookNode) -> list[str]:
    """The grade_ids of the code solution cells (the answers the autograder scores through a ``test_`` cell), in order.

    A manually graded answer (solution *and* grade) is not one: a human scores it.

    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    >>> nb.cells[0].metadata["nbgrader"] = {"solution": True, "grade": False, "grade_id": "x"}
    >>> autograded_exercises(nb)
    ['x']
    """
    return [_meta(c)["grade_id"] for c in nb.cells
            if c.cell_type == "code" and _meta(c).get("solution") and not _meta(c).get("grade")]


def autograded_tests(nb: nbformat.NotebookNode) -> list[str]:
    """The grade_ids of the locked graded code cells (the tests that hold the automatic points), in order."""
    return [_meta(c)["grade_id"] for c in nb.cells
            if c.cell_type == "code" and _meta(c).get("grade") and not _meta(c).get("solution")]


def convention_problems(nb: nbformat.NotebookNode) -> list[str]:
    """Where the notebook breaks the contract "the graded test cell ``test_X`` comes right after solution cell ``X``"
    (next among the nbgrader cells); one line per problem, empty when it holds.

    >>> cells = [nbformat.v4.new_code_cell(s) for s in ("def f(): ...", "assert f() is None")]
    >>> cells[0].metadata["nbgrader"] = {"solution": True, "grade": False, "grade_id": "f"}
    >>> cells[1].metadata["nbgrader"] = {"solution": False, "grade": True, "grade_id": "check_f", "points": 1}
    >>> convention_problems(nbformat.v4.new_notebook(cells=cells))
    ["solution cell 'f' is followed by graded cell 'check_f', expected 'test_f'", "graded test cell 'check_f' is not named test_<exercise>"]
    """
    graded = [c for c in nb.cells if c.cell_type == "code" and (_meta(c).get("solution") or _meta(c).get("grade"))]
    problems = []
    for i, cell in enumerate(graded):
        gid, m = _meta(cell).get("grade_id", "?"), _meta(cell)
        if m.get("solution") and not m.get("grade"):
            nxt = graded[i + 1] if i + 1 < len(graded) else None
            nxt_id = _meta(nxt).get("grade_id") if nxt is not None else None
            if nxt is None or not _meta(nxt).get("grade") or nxt_id != TEST_PREFIX + gid:
                problems.append(f"solution cell {gid!r} is followed by "
                                + (f"graded cell {nxt_id!r}" if nxt is not None else "no graded cell")
                                + f", expected {TEST_PREFIX + gid!r}")
        elif m.get("grade") and not m.get("solution"):
            prev = graded[i - 1] if i > 0 else None
            if not gid.startswith(TEST_PREFIX):
                problems.append(f"graded test cell {gid!r} is not named {TEST_PREFIX}<exercise>")
            elif prev is None or _meta(prev).get("grade_id") != gid.removeprefix(TEST_PREFIX):
                problems.append(f"graded test cell {gid!r} does not come right after solution cell "
                                f"{gid.removeprefix(TEST_PREFIX)!r}")
    return problems


# ---------------------------------------------------------------- the mutants files
def load_mutants(path: Path, exercises: list[str]) -> dict[str, list[Mutant]]:
    """Read and check ``path``: a list of at least one mutant for every exercise, nothing for any other id."""
    path = Path(path)
    if not path.exists():
        raise AssignmentError(f"{path}: missing; it must list wrong answers for the exercises {exercises}")
    data = read_yaml(path, AssignmentError)
    if not isinstance(data, dict):
        raise AssignmentError(f"{path}: expected a mapping grade_id -> list of {{label, source}}")
    missing = [x for x in exercises if not data.get(x)]
    if missing:
        raise AssignmentError(f"{path}: no mutant for the exercise(s) {missing}: add at least one wrong answer each")
    unknown = sorted(set(data) - set(exercises))
    if unknown:
        raise AssignmentError(f"{path}: {unknown} are not autograded exercises of the notebook (it has {exercises})")
    out: dict[str, list[Mutant]] = {}
    for gid in exercises:
        entries = data[gid]
        if not isinstance(entries, list):
            raise AssignmentError(f"{path}: {gid}: expected a list of {{label, source}}, got {type(entries).__name__}")
        for j, e in enumerate(entries, 1):
            if not isinstance(e, dict) or set(e) != {"label", "source"} or not all(
                    isinstance(e[k], str) and e[k].strip() for k in ("label", "source")):
                raise AssignmentError(f"{path}: {gid}, mutant {j}: needs exactly a non-empty 'label' and 'source'")
        out[gid] = [Mutant(e["label"], e["source"]) for e in entries]
    return out


# ---------------------------------------------------------------- the versions
def _copy(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    return nbformat.from_dict(json.loads(json.dumps(nb)))


def stub_version(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook as released to students: nbgrader's ClearSolutions with the course's stubs (a copy)."""
    from nbgrader.preprocessors import ClearSolutions

    out, _ = ClearSolutions(code_stub={"python": CODE_STUB}, text_stub=TEXT_STUB).preprocess(_copy(nb), {})
    return out


def mutant_version(nb: nbformat.NotebookNode, answers: dict[str, str]) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose solution cells named in ``answers`` (grade_id -> source) hold those sources."""
    out = _copy(nb)
    by_id = {_meta(c).get("grade_id"): c for c in out.cells if _meta(c).get("solution")}
    for gid, source in answers.items():
        if gid not in by_id:
            raise AssignmentError(f"no solution cell {gid!r} in the notebook (it has {sorted(by_id)})")
        by_id[gid].source = source
    return out


def write_submissions(notebooks: list[Path], mutants_dir: Path, out: Path) -> dict[tuple[str, str], Expectation]:
    """Write every version of every notebook as ``out/<version>/<notebook>.ipynb`` (one "student" per version);
    return ``{(version, notebook stem): Expectation}`` for :func:`check_grades`."""
    expected: dict[tuple[str, str], Expectation] = {}
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        exercises, tests = autograded_exercises(nb), autograded_tests(nb)
        mutants = load_mutants(Path(mutants_dir) / f"{path.stem}.yaml", exercises)
        versions = {"solution": (nb, Expectation(full=set(tests))),
                    "stub": (stub_version(nb), Expectation(zero=set(tests)))}
        for k in range(1, max(len(v) for v in mutants.values()) + 1):
            answers = {gid: ms[k - 1] for gid, ms in mutants.items() if len(ms) >= k}
            exp = Expectation(full=set(tests) - {TEST_PREFIX + g for g in answers},
                              less={TEST_PREFIX + g: m.label for g, m in answers.items()})
            versions[f"mutant_{k}"] = (mutant_version(nb, {g: m.source for g, m in answers.items()}), exp)
        for version, (v_nb, exp) in versions.items():
            dest = Path(out) / version / path.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(v_nb, dest)
            expected[(version, path.stem)] = exp
    return expected


def check_grades(grades_cells: Path, expected: dict[tuple[str, str], Expectation]) -> list[str]:
    """Compare nbgrader's per-cell grades (``grades_cells.csv`` of :func:`~steer_lib.classroom.grading.autograde`)
    with the expectations; one line per violation, empty when every version scored as it must."""
    scores: dict[tuple[str, str, str], tuple[float, float]] = {}
    with open(grades_cells, newline="") as f:
        for row in csv.DictReader(f):
            scores[(row["student"], row["assignment"], row["cell"])] = (float(row["score"] or 0),
                                                                         float(row["max_score"]))
    problems = []
    for (version, name), exp in sorted(expected.items()):
        def get(gid: str) -> tuple[float, float] | None:
            got = scores.get((version, name, gid))
            if got is None:
                problems.append(f"{name} [{version}] {gid}: no grade recorded")
            return got

        for gid in sorted(exp.full):
            if (got := get(gid)) and got[0] != got[1]:
                problems.append(f"{name} [{version}] {gid}: {got[0]:g}/{got[1]:g}, expected full points"
                                + (" (an unmutated exercise must not fail because another one is wrong)"
                                   if version.startswith("mutant") else ""))
        for gid in sorted(exp.zero):
            if (got := get(gid)) and got[0] != 0:
                problems.append(f"{name} [{version}] {gid}: {got[0]:g}/{got[1]:g} for the unanswered stub, expected 0")
        for gid, label in sorted(exp.less.items()):
            if (got := get(gid)) and got[0] >= got[1]:
                problems.append(f"{name} [{version}] {gid}: full points ({got[0]:g}) for the wrong answer "
                                f"{label!r}: the tests do not catch it")
    return problems
