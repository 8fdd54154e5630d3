"""Mutation tests: the kit's real autograder (nbgrader, through steer_lib.classroom.grading) on the real notebooks at
the smoke profile gives the solutions full points, the student stubs zero, and every listed wrong answer
(tests/classroom/mutants/<notebook>.yaml) less than full, while the exercises it does not touch keep full points."""
from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest

from steer_lib.classroom import assignments, grading, mutations
from steer_lib.classroom.assignments import AssignmentError

NB_DIR = Path(__file__).resolve().parents[2] / "notebooks"
MUTANTS = Path(__file__).resolve().parent / "mutants"


def _graded_notebooks() -> list[Path]:
    """Every source notebook with at least one autograded exercise (code solution cell)."""
    return [p for p in assignments.assignment_notebooks(NB_DIR)
            if mutations.autograded_exercises(nbformat.read(p, as_version=4))]


GRADED = _graded_notebooks()


def test_there_are_notebooks_with_autograded_exercises():
    assert {"02_steer_step_by_step", "04_evaluate"} <= {p.stem for p in GRADED}


@pytest.mark.parametrize("path", GRADED, ids=lambda p: p.stem)
def test_each_test_cell_follows_its_exercise(path):
    """The contract: graded test cell `test_X` is the next nbgrader cell after solution cell `X`."""
    problems = mutations.convention_problems(nbformat.read(path, as_version=4))
    assert not problems, f"{path.name}: " + "; ".join(problems)


@pytest.mark.parametrize("path", GRADED, ids=lambda p: p.stem)
def test_every_autograded_exercise_has_mutants(path):
    exercises = mutations.autograded_exercises(nbformat.read(path, as_version=4))
    mutants = mutations.load_mutants(MUTANTS / f"{path.stem}.yaml", exercises)  # raises naming what is missing
    assert list(mutants) == exercises
    solutions = {mutations._meta(c)["grade_id"]: c.source for c in nbformat.read(path, as_version=4).cells
                 if mutations._meta(c).get("solution")}
    for gid, ms in mutants.items():
        labels = [m.label for m in ms]
        assert len(labels) == len(set(labels)), f"{path.name}: {gid}: two mutants with one label"
        for m in ms:
            assert m.source.strip() != solutions[gid].strip(), f"{path.name}: {gid}: {m.label!r} is the solution"
            compile(m.source, f"{path.stem}:{gid}:{m.label}", "exec")  # a wrong answer, not a syntax error


def test_load_mutants_names_what_is_missing_or_unknown(tmp_path):
    f = tmp_path / "nb.yaml"
    with pytest.raises(AssignmentError, match=r"nb.yaml: missing; .*\['a'\]"):
        mutations.load_mutants(f, ["a"])
    f.write_text("a:\n  - {label: x, source: 'y = 1'}\n")
    with pytest.raises(AssignmentError, match=r"no mutant for the exercise\(s\) \['b'\]"):
        mutations.load_mutants(f, ["a", "b"])
    with pytest.raises(AssignmentError, match=r"\['a'\] are not autograded exercises"):
        mutations.load_mutants(f, [])
    f.write_text("a:\n  - {label: x}\n")
    with pytest.raises(AssignmentError, match="a, mutant 1: needs exactly"):
        mutations.load_mutants(f, ["a"])
    f.write_text("a: [\n")
    with pytest.raises(AssignmentError, match="not valid YAML"):
        mutations.load_mutants(f, ["a"])


def test_versions_substitute_the_kth_mutant_of_every_exercise(tmp_path):
    mutants = tmp_path / "mutants"
    mutants.mkdir()
    path = next(p for p in GRADED if p.stem == "04_evaluate")
    (mutants / "04_evaluate.yaml").write_text(
        "ngram_ratio:\n  - {label: a, source: 'def ngram_ratio(t, n): return 1'}\n"
        "  - {label: b, source: 'def ngram_ratio(t, n): return 2'}\n"
        "diversity:\n  - {label: c, source: 'def diversity(x): return 3'}\n"
        "diversity_by_hand:\n  - {label: d, source: 'JOIN_TRAP = [\"a b c d\", \"e f g h\"]'}\n")
    expected = mutations.write_submissions([path], mutants, tmp_path / "subs")
    assert sorted(expected) == [(v, "04_evaluate") for v in ("mutant_1", "mutant_2", "solution", "stub")]
    assert expected[("mutant_2", "04_evaluate")].less == {"test_ngram_ratio": "b"}
    assert expected[("mutant_2", "04_evaluate")].full == {"test_diversity", "test_diversity_by_hand"}, \
        "unmutated: keeps full points"
    assert expected[("stub", "04_evaluate")].zero == {"test_ngram_ratio", "test_diversity", "test_diversity_by_hand"}
    src = {c.get("id"): c.source for c in nbformat.read(path, as_version=4).cells}
    for version, answers in {"mutant_1": ("return 1", "return 3"), "mutant_2": ("return 2", None),
                             "stub": ("raise NotImplementedError()", "raise NotImplementedError()")}.items():
        nb = nbformat.read(tmp_path / "subs" / version / path.name, as_version=4)
        by_id = {mutations._meta(c).get("grade_id"): c.source for c in nb.cells}
        for gid, ans in zip(("ngram_ratio", "diversity"), answers):
            assert (ans or "### BEGIN SOLUTION") in by_id[gid], (version, gid)
        others = [c.source == src[c.get("id")] for c in nb.cells if not mutations._meta(c).get("solution")]
        assert all(others), f"{version}: only solution cells change"


@pytest.mark.slow
def test_autograder_scores_solutions_full_stubs_zero_and_mutants_less(tmp_path):
    """One nbgrader course for all versions of all notebooks (one "student" per version); each notebook runs
    at PROFILE=smoke up to its last exercise (grading's default)."""
    expected = mutations.write_submissions(GRADED, MUTANTS, tmp_path / "submissions")
    t0 = time.perf_counter()
    csv_path = grading.autograde(tmp_path / "submissions", tmp_path / "grades", profile="smoke", notebooks_dir=NB_DIR)
    seconds = time.perf_counter() - t0
    problems = mutations.check_grades(csv_path.with_name("grades_cells.csv"), expected)
    assert not problems, f"{len(problems)} grading problem(s):\n" + "\n".join(problems)
    print(f"autograded {len(expected)} notebook versions in {seconds:.0f} s")
