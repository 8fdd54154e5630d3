"""Classroom assignments: exercises marked in the sources, student versions without solutions, reproducible
generation, solutions pass / student versions fail their graded cells, autograding to CSV."""
from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import nbformat
import pytest

from steer_lib.classroom import assignments
from steer_lib.classroom import grading as autograde
from steer_lib.classroom.assignments import AssignmentError
from steer_lib.files import sha256_file

NB_DIR = Path(__file__).resolve().parents[2] / "notebooks"
# What issue #9 asks for, by grade_id of the solution cells.
REQUIRED = {
    # the winner rule (graded on unseen toys), the entropy cases (built by the student), η*, one step
    "02_steer_step_by_step": {"predict_winner", "predict_entropy", "eta_cross", "steer_step"},
    # 2 implementations (delegation forbidden), 1 set built to trap diversity; the gamed-set guess is ungraded
    "04_evaluate": {"ngram_ratio", "diversity", "diversity_by_hand"},
    "05_ablation": {"reflection"},  # manually graded question on the heatmaps (markdown)
}
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "BEGIN MARK SCHEME")


def _meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def _solution_lines(source: str, begin: str, end: str) -> list[str]:
    """The meaningful lines between begin/end markers (what must not leak into a student version)."""
    lines, inside = [], False
    for line in source.splitlines():
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside and line.strip() and not line.strip().startswith("#"):
            lines.append(line.strip())
    return lines


def _public(source: str) -> str:
    return re.sub(r"### BEGIN (SOLUTION|HIDDEN TESTS).*?### END \1", "", source, flags=re.S)


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    out = tmp_path_factory.mktemp("release")
    return out, assignments.generate(out, NB_DIR)


# ---------------------------------------------------------------- the sources
@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_required_exercises_are_marked_in_the_sources(name):
    path = NB_DIR / f"{name}.ipynb"
    assert path.exists(), f"{path.name} does not exist yet: its exercises {sorted(REQUIRED[name])} are required"
    nb = nbformat.read(path, as_version=4)
    solutions = {_meta(c)["grade_id"]: c for c in nb.cells if _meta(c).get("solution")}
    assert REQUIRED[name] <= set(solutions), f"{path.name}: missing exercises {REQUIRED[name] - set(solutions)}"
    grade_ids = [_meta(c)["grade_id"] for c in nb.cells if assignments.is_nbgrader_cell(c)]
    assert len(grade_ids) == len(set(grade_ids)), f"{path.name}: duplicate grade_id"
    for gid, cell in solutions.items():
        if cell.cell_type == "code":
            assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source, gid
        else:  # a manually graded written answer
            assert _meta(cell).get("grade") and _meta(cell).get("points", 0) > 0, f"{gid}: needs points"
    tests = [c for c in nb.cells if _meta(c).get("grade") and c.cell_type == "code"]
    if any(c.cell_type == "code" for c in solutions.values()):
        assert tests and all(_meta(c).get("points", 0) > 0 and _meta(c).get("locked") for c in tests)
        assert any("### BEGIN HIDDEN TESTS" in c.source for c in tests), f"{path.name}: no hidden tests"


def test_assignment_notebooks_are_the_ones_with_exercises():
    found = [p.stem for p in assignments.assignment_notebooks(NB_DIR)]
    assert found == sorted(found) and {"02_steer_step_by_step", "04_evaluate"} <= set(found)
    assert "00_welcome_and_data" not in found and "01_finetune" not in found


def test_set_parameters_changes_only_the_literal():
    nb = nbformat.read(NB_DIR / "02_steer_step_by_step.ipynb", as_version=4)
    new = assignments.set_parameters(nb, PROFILE="smoke", N_TOKENS=4)
    old_cell, new_cell = ([c for c in n.cells if "parameters" in c.metadata.get("tags", [])][0] for n in (nb, new))
    assert 'PROFILE: str = "quick"  # smoke | quick | paper' in old_cell.source, "the caller's notebook is untouched"
    assert "PROFILE: str = 'smoke'  # smoke | quick | paper" in new_cell.source
    assert re.search(r"^N_TOKENS: int = 4  # ", new_cell.source, re.M)
    assert len(old_cell.source.splitlines()) == len(new_cell.source.splitlines())
    with pytest.raises(AssignmentError, match="no NOT_A_PARAM"):
        assignments.set_parameters(nb, NOT_A_PARAM=1)


def test_up_to_last_exercise_keeps_every_graded_cell_and_nothing_after():
    nb = nbformat.read(NB_DIR / "02_steer_step_by_step.ipynb", as_version=4)
    cut = assignments.up_to_last_exercise(nb)
    assert _meta(cut.cells[-1]).get("grade_id") == "test_steer_step"
    assert [c.source for c in cut.cells] == [c.source for c in nb.cells[: len(cut.cells)]]
    assert len(cut.cells) < len(nb.cells), "02's decoding demos come after the exercises"
    with pytest.raises(AssignmentError, match="no solution or graded cell"):
        assignments.up_to_last_exercise(nbformat.read(NB_DIR / "00_welcome_and_data.ipynb", as_version=4))


# ---------------------------------------------------------------- generated student versions
def test_student_versions_have_no_solutions_and_keep_the_visible_tests(release):
    out, generated = release
    assert set(generated) == {p.stem for p in assignments.assignment_notebooks(NB_DIR)}
    assert (out / "gradebook.db").stat().st_size > 0
    for name, student_path in generated.items():
        source = nbformat.read(NB_DIR / f"{name}.ipynb", as_version=4)
        student = nbformat.read(student_path, as_version=4)
        text = student_path.read_text()
        for marker in MARKERS:
            assert marker not in text, f"{name}: {marker!r} left in the student version"
        assert [_meta(c).get("grade_id") for c in source.cells] == [_meta(c).get("grade_id") for c in student.cells]
        public = "\n".join(_public(c.source) for c in source.cells)  # the source with every region cut out
        student_text = "\n".join(c.source for c in student.cells)
        for src, stu in zip(source.cells, student.cells):
            secret = (_solution_lines(src.source, "BEGIN SOLUTION", "END SOLUTION")
                      + _solution_lines(src.source, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"))
            for line in secret:
                if line not in public:  # (a line that also appears outside any region may stay)
                    assert line not in student_text, f"{name}/{_meta(src).get('grade_id')}: leaked {line!r}"
            if _meta(src).get("solution"):
                stub = "raise NotImplementedError()" if src.cell_type == "code" else assignments.TEXT_STUB
                assert stub in stu.source, f"{name}/{_meta(src)['grade_id']}: no stub"
            if _meta(src).get("grade") and src.cell_type == "code":
                visible = src.source.split("### BEGIN HIDDEN TESTS")[0].strip()
                assert stu.source.strip() == visible, "the visible tests stay, unchanged"
                assert _meta(stu).get("locked") and _meta(stu).get("checksum"), "graded cells are locked"
            assert not src.get("outputs") and not stu.get("outputs")


def test_generation_is_reproducible_from_the_sources(release, tmp_path):
    """Student versions are generated on demand (never committed): the same sources give the same bytes, and the
    manifest ties each one to the SHA-256 of the source it came from, so a stale copy is detectable."""
    out, generated = release
    again = assignments.generate(tmp_path / "again", NB_DIR)
    assert again.keys() == generated.keys()
    for name in generated:
        assert again[name].read_bytes() == generated[name].read_bytes(), f"{name}: generation is not deterministic"
    manifest = __import__("json").loads((out / "MANIFEST.json").read_text())
    for name, entry in manifest["assignments"].items():
        assert entry["source_sha256"] == sha256_file(NB_DIR / f"{name}.ipynb")
        assert entry["student_sha256"] == sha256_file(generated[name])


# ---------------------------------------------------------------- autograding, on a toy course (no model)
TOY_SOLUTION = {"grade": False, "grade_id": "double", "locked": False, "schema_version": 3, "solution": True,
                "task": False}
TOY_TEST = {"grade": True, "grade_id": "test_double", "locked": True, "points": 3, "schema_version": 3,
            "solution": False, "task": False}
TOY_ESSAY = {"grade": True, "grade_id": "essay", "locked": False, "points": 2, "schema_version": 3,
             "solution": True, "task": False}


@pytest.fixture()
def toy_course(tmp_path):
    nb_dir = tmp_path / "notebooks"
    nb_dir.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cells = [
        ("code", 'PROFILE: str = "quick"  # smoke | quick | paper', {"tags": ["parameters"]}),
        ("code", 'print(f"profile={PROFILE}")', {}),
        ("code", "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION", {"nbgrader": TOY_SOLUTION}),
        ("code", "assert double(2) == 4\n### BEGIN HIDDEN TESTS\nassert double(5) == 10\n### END HIDDEN TESTS",
         {"nbgrader": TOY_TEST}),
        ("markdown", "Why?\n\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION", {"nbgrader": TOY_ESSAY}),
        ("code", 'print("the rest of the lesson")', {}),  # after the last exercise: not run when grading
    ]
    for kind, src, meta in cells:
        cell = nbformat.v4.new_code_cell(src) if kind == "code" else nbformat.v4.new_markdown_cell(src)
        cell.metadata.update(meta)
        nb.cells.append(cell)
    nbformat.write(nb, nb_dir / "01_toy.ipynb")
    return nb_dir


def test_autograde_scores_restores_hidden_tests_and_flags_manual_cells(toy_course, tmp_path):
    student = assignments.generate(tmp_path / "release", toy_course)["01_toy"]
    assert "raise NotImplementedError()" in student.read_text() and "double(5)" not in student.read_text()
    subs = tmp_path / "submissions"
    for who, body in {"alice": "return 2 * x", "bob": None, "carol": "return 4 if x == 2 else 0"}.items():
        nb = nbformat.read(student, as_version=4)
        if body:  # carol passes the visible test only: the hidden one must catch her
            nb.cells[2].source = f"def double(x):\n    {body}"
        if who == "alice":  # only a changed answer needs a human; an untouched stub scores 0 automatically
            nb.cells[4].source = "Why?\n\nBecause it doubles."
        (subs / who).mkdir(parents=True)
        nbformat.write(nb, subs / who / "01_toy.ipynb")
    csv_path = autograde.autograde(subs, tmp_path / "grades", profile="smoke", notebooks_dir=toy_course)
    rows = {r["student"]: r for r in csv.DictReader(open(csv_path))}
    assert {s: float(r["score"]) for s, r in rows.items()} == {"alice": 3.0, "bob": 0.0, "carol": 0.0}
    assert all(float(r["max_score"]) == 5.0 for r in rows.values())
    assert {s: r["needs_manual_grade"] for s, r in rows.items()} == {"alice": "True", "bob": "False", "carol": "False"}
    cells = list(csv.DictReader(open(csv_path.with_name("grades_cells.csv"))))
    assert {(c["student"], c["cell"]): (float(c["score"]), float(c["max_score"])) for c in cells} == {
        ("alice", "essay"): (0.0, 2.0), ("alice", "test_double"): (3.0, 3.0), ("bob", "essay"): (0.0, 2.0),
        ("bob", "test_double"): (0.0, 3.0), ("carol", "essay"): (0.0, 2.0), ("carol", "test_double"): (0.0, 3.0)}
    graded = nbformat.read(tmp_path / "grades/course/autograded/alice/01_toy/01_toy.ipynb", as_version=4)
    assert "profile=smoke" in str(graded.cells[1].outputs), "the grading profile was injected"
    assert len(graded.cells) == 5, "grading stops at the last exercise"
    assert nbformat.read(subs / "alice" / "01_toy.ipynb", as_version=4).cells[0].source.count('"quick"') == 1


def test_autograde_rerun_keeps_manual_grades_and_lists_invalid_submissions(toy_course, tmp_path, capsys,
                                                                           monkeypatch):
    """Issue #25 case 1 (grade01): a rerun for a late submission must not erase the course folder or the manual
    grades in its gradebook, and a submission that is not a notebook is listed by student and file, not fatal."""
    from nbgrader.api import Gradebook

    from steer_lib.cli import assignments as assignments_cli

    student = assignments.generate(tmp_path / "release", toy_course)["01_toy"]
    subs, out = tmp_path / "submissions", tmp_path / "grades"
    nb = nbformat.read(student, as_version=4)
    nb.cells[2].source = "def double(x):\n    return 2 * x"
    nb.cells[4].source = "Why?\n\nBecause it doubles."
    (subs / "alice").mkdir(parents=True)
    nbformat.write(nb, subs / "alice" / "01_toy.ipynb")
    autograde.autograde(subs, out, profile="smoke", notebooks_dir=toy_course)
    notes = out / "course" / "feedback_notes.txt"  # the instructor's own file in the course folder
    notes.write_text("alice: good reasoning\n")
    db = "sqlite:///" + str(out / "course" / "gradebook.db")
    with Gradebook(db) as gb:  # what formgrader does when the instructor grades the essay by hand
        gb.find_grade("essay", "01_toy", "01_toy", "alice").manual_score = 1.5
        gb.db.commit()
    # the rerun: a late submission from bob, and one from eve that is not a notebook at all
    (subs / "bob").mkdir()
    nbformat.write(nbformat.read(student, as_version=4), subs / "bob" / "01_toy.ipynb")
    (subs / "eve").mkdir()
    (subs / "eve" / "01_toy.ipynb").write_text("this is not JSON")
    capsys.readouterr()
    monkeypatch.setenv("STEER_ROOT", str(toy_course.parent))  # the command reads <root>/notebooks: the toy course
    rc = assignments_cli.cli(["autograde", "--submissions", str(subs), "--out", str(out)])
    captured = capsys.readouterr()
    assert rc == 1 and "Traceback" not in captured.err
    not_graded = [line for line in captured.err.splitlines() if line.startswith("not graded:")]
    assert len(not_graded) == 1 and "student eve" in not_graded[0] and "01_toy.ipynb" in not_graded[0]
    assert "not a valid notebook" in not_graded[0]
    assert notes.read_text() == "alice: good reasoning\n", "the instructor's file survived the rerun"
    assert (out / "course" / "gradebook.before-last-run.db").exists()
    with Gradebook(db) as gb:
        assert gb.find_grade("essay", "01_toy", "01_toy", "alice").manual_score == 1.5
    rows = {r["student"]: r for r in csv.DictReader(open(out / "grades.csv"))}
    assert set(rows) == {"alice", "bob"} and float(rows["alice"]["score"]) == 3.0 + 1.5
    invalid = list(csv.DictReader(open(out / "invalid_submissions.csv")))
    assert [(r["student"], r["assignment"]) for r in invalid] == [("eve", "01_toy")]


def test_isolated_autograde_runs_student_code_with_a_throwaway_home_and_a_time_limit(toy_course, tmp_path):
    """Issue #25 grade02: students' code runs as the instructor; --isolate gives it a temporary HOME, a filtered
    environment (no secrets) and no network where unshare works, and a time limit per notebook."""
    student = assignments.generate(tmp_path / "release", toy_course)["01_toy"]
    nb = nbformat.read(student, as_version=4)
    nb.cells[2].source = ("import os, pathlib\n"
                          "(pathlib.Path.home() / 'STUDENT_WAS_HERE').write_text('x')\n"
                          "print('home=' + str(pathlib.Path.home()), 'secret=' + os.environ.get('MY_SECRET_TOKEN', '-'))\n"
                          "def double(x):\n    return 2 * x")
    (tmp_path / "subs" / "mallory").mkdir(parents=True)
    nbformat.write(nb, tmp_path / "subs" / "mallory" / "01_toy.ipynb")
    real_home = Path.home()
    os.environ["MY_SECRET_TOKEN"] = "sk-instructor"
    try:
        csv_path = autograde.autograde(tmp_path / "subs", tmp_path / "grades", profile="smoke",
                                       notebooks_dir=toy_course, isolate=True, notebook_timeout=1800)
    finally:
        del os.environ["MY_SECRET_TOKEN"]
    rows = {r["student"]: r for r in csv.DictReader(open(csv_path))}
    assert float(rows["mallory"]["score"]) == 3.0
    graded = nbformat.read(tmp_path / "grades/course/autograded/mallory/01_toy/01_toy.ipynb", as_version=4)
    printed = str(graded.cells[2].outputs)
    assert "home=" in printed and "secret=-" in printed and f"home={real_home} " not in printed and "steer-grading-home-" in printed
    assert not (real_home / "STUDENT_WAS_HERE").exists()
    with pytest.raises(AssignmentError, match="ran past its time limit of 0.001 s"):
        assignments.run_nbgrader(tmp_path, "--version", isolate=True, timeout=0.001)


def test_collect_submissions_names_bad_layouts(toy_course, tmp_path):
    subs = tmp_path / "subs"
    (subs / "dan" / "01_toy").mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    nbformat.write(nb, subs / "dan" / "01_toy" / "01_toy.ipynb")
    (subs / "_grading").mkdir()
    nbformat.write(nb, subs / "_grading" / "01_toy.ipynb")  # ignored: not a student folder
    assert autograde.collect_submissions(subs, ["01_toy"]) == {("dan", "01_toy"): subs / "dan/01_toy/01_toy.ipynb"}
    nbformat.write(nb, subs / "01_toy.ipynb")
    with pytest.raises(AssignmentError, match="folder named with the student's id"):
        autograde.collect_submissions(subs, ["01_toy"])
    (subs / "01_toy.ipynb").unlink()
    nbformat.write(nb, subs / "dan" / "homework.ipynb")
    with pytest.raises(AssignmentError, match="not an assignment notebook"):
        autograde.collect_submissions(subs, ["01_toy"])
    with pytest.raises(AssignmentError, match="not a folder"):
        autograde.collect_submissions(tmp_path / "missing", ["01_toy"])


# ---------------------------------------------------------------- the real notebooks, executed at PROFILE=smoke
CODE_EXERCISES = ["02_steer_step_by_step", "04_evaluate"]


@pytest.mark.slow
@pytest.mark.parametrize("name", CODE_EXERCISES)
def test_solutions_pass_and_student_versions_fail(name, release):
    """nbgrader's Validator, not `nbgrader validate` (which exits 0 even when tests fail)."""
    _, generated = release
    source = NB_DIR / f"{name}.ipynb"
    assert assignments.validate(source, PROFILE="smoke") == {}, f"{name}: a solution fails its graded cells"
    result = assignments.validate(generated[name], PROFILE="smoke")
    n_tests = sum(1 for c in nbformat.read(source, as_version=4).cells if _meta(c).get("grade") and
                  c.cell_type == "code")
    assert set(result) == {"failed"} and len(result["failed"]) == n_tests, result.keys()
    assert all("NotImplementedError" in f["raw_error"] for f in result["failed"])


# ---------------------------------------------------------------- the teaching guide
def test_teaching_guide_matches_the_notebooks():
    """docs/teaching.md has a row per notebook and names every graded exercise with its points (read from the
    sources, so adding, renaming or re-weighting an exercise without updating the guide fails here)."""
    guide = (NB_DIR.parent / "docs" / "teaching.md").read_text(encoding="utf-8")
    rows: dict[str, str] = {}
    for line in guide.splitlines():  # the first table with a row per notebook is the learning-goals one
        if re.match(r"\| \d\d \| ", line):
            rows.setdefault(line.split("|")[1].strip(), line)
    notebooks = sorted(NB_DIR.glob("[0-9][0-9]_*.ipynb"))
    assert sorted(rows) == [p.name[:2] for p in notebooks], "one learning-goals row per notebook, no more"
    for path in notebooks:
        row = rows[path.name[:2]]
        graded = {}
        for c in nbformat.read(path, as_version=4).cells:
            m = _meta(c)
            if m.get("grade"):  # a test cell `test_<id>` scores exercise <id>; a graded answer cell scores itself
                graded[m["grade_id"].removeprefix("test_")] = m["points"]
        for exercise, points in graded.items():
            assert re.search(rf"`{exercise}`[^|]*?\b{points:g} pts?\b", row), \
                f"docs/teaching.md, row {path.name[:2]}: exercise `{exercise}` ({points:g} pts) is missing or mis-scored"
        if not graded:
            assert row.rstrip().endswith("| — |"), f"docs/teaching.md row {path.name[:2]} lists exercises it does not have"
