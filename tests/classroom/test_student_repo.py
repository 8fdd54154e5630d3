"""`make student-repo`: the student copy holds no solution, no hidden test and no history, and still works."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import nbformat
import pytest

from steer_lib.classroom import assignments, install_cell, manual, student_repo
from steer_lib.classroom.assignments import AssignmentError
from steer_lib.classroom.install_cell import STUDENT_MARKER

ROOT = Path(__file__).resolve().parents[2]
NB_DIR = ROOT / "notebooks"
COURSE = "https://github.com/example-course/nlp-lab"  # (a made-up course repository: the copy is built with --url)
COLAB = "https://colab.research.google.com/github/"


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def copy(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("student")
    out = student_repo.build(tmp / "steer-kit-student", archive=tmp / "student.tar.gz", url=COURSE + ".git")
    return out, tmp / "student.tar.gz"


def test_markers_are_the_ones_nbgrader_uses():
    assert "BEGIN SOLUTION" in student_repo.MARKERS and "BEGIN HIDDEN TESTS" in student_repo.MARKERS
    assert "END MARK SCHEME" in student_repo.MARKERS and len(student_repo.MARKERS) == 6


def test_no_solution_and_no_hidden_test_in_the_tree(copy):
    out, _ = copy
    assert student_repo.find_markers(out) == []
    # the solution lines themselves (not just the markers) are not in the student notebooks
    students = "\n".join(c.source for p in (out / "notebooks").glob("*.ipynb")
                         for c in nbformat.read(p, as_version=4).cells)
    names = [p.stem for p in assignments.assignment_notebooks(NB_DIR)]
    # what any notebook shows students anyway (e.g. 02's visible `from steer_lib.classroom.forbid import forbid`)
    public = "\n".join(re.sub(r"### BEGIN (SOLUTION|HIDDEN TESTS).*?### END \1", "", "\n".join(
        c.source for c in nbformat.read(NB_DIR / f"{n}.ipynb", as_version=4).cells), flags=re.S) for n in names)
    for name in names:
        src = nbformat.read(NB_DIR / f"{name}.ipynb", as_version=4)
        for cell in src.cells:
            for region in ("SOLUTION", "HIDDEN TESTS"):
                body = re.findall(rf"### BEGIN {region}\n(.*?)### END {region}", cell.source, flags=re.S)
                for line in "\n".join(body).splitlines():
                    line = line.strip()
                    if line and not line.startswith("#") and line not in public:
                        assert line not in students, f"{name}: {line!r} is in the student copy"
        student = (out / "notebooks" / f"{name}.ipynb").read_text()
        assert "raise NotImplementedError()" in student or assignments.TEXT_STUB in student, f"{name}: no stub"


def _tree_text(tree: Path) -> str:
    return "\n".join(f.read_bytes().decode("utf-8", errors="replace") for f in sorted(tree.rglob("*"))
                     if f.is_file() and ".git" not in f.relative_to(tree).parts)


def test_no_mark_scheme_no_model_answer_and_no_answer_key_in_the_copy(copy):
    """Beyond the markers: the text of every mark scheme and model answer of the notebooks, and of the guide's
    instructor-only sections (the answer key, grading), is nowhere in the copy."""
    out, _ = copy
    everything = _tree_text(out)
    secrets = []
    for path in NB_DIR.glob("[0-9][0-9]_*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "markdown":
                secrets += [(path.name, t) for t in (manual.mark_scheme(cell.source), manual.model_answer(cell.source))
                            if t]
    sections = student_repo.guide_sections((ROOT / student_repo.GUIDE).read_text(encoding="utf-8"))
    instructor = [t for t in sections if t and t not in student_repo.STUDENT_SECTIONS]
    assert {"Answer key: the open exercises", "Assignments"} <= set(instructor)
    secrets += [(f"{student_repo.GUIDE} / {t}", sections[t].split("\n", 1)[1]) for t in instructor]
    assert any("05_ablation" in where for where, _ in secrets), "05's reflection has a mark scheme"
    for where, text in secrets:
        for line in text.splitlines():
            line = line.strip()
            if len(line) > 40:  # (short lines such as table rules or "1." may occur anywhere)
                assert line not in everything, f"{where}: {line[:80]!r} is in the student copy"


def test_every_relative_link_in_the_copy_resolves(copy):
    """The README (and every other shipped markdown file) links only to files the copy has."""
    out, _ = copy
    broken = []
    for md in sorted(out.rglob("*.md")):
        if ".git" in md.relative_to(out).parts:
            continue
        for target in re.findall(r"\]\(([^)\s]+)\)", md.read_text(encoding="utf-8")):
            path = target.split("#", 1)[0]
            if not path or re.match(r"[a-z]+:", path):
                continue
            if not (md.parent / path).exists():
                broken.append(f"{md.relative_to(out)} -> {target}")
    assert not broken, broken
    assert "(docs/teaching.md)" in (out / "README.md").read_text(encoding="utf-8")
    guide = (out / "docs" / "teaching.md").read_text(encoding="utf-8")
    assert "student edition" in guide and "## Prerequisites" in guide and "## Answer key" not in guide


def test_one_commit_and_no_other_object_holds_a_solution(copy):
    out, _ = copy
    assert _git(out, "rev-list", "--all").split() == [_git(out, "rev-parse", "HEAD").strip()]
    assert _git(out, "status", "--porcelain") == "", "everything is committed"
    everything = subprocess.run(["git", "cat-file", "--batch-all-objects", "--batch"], cwd=out,
                                capture_output=True, check=True).stdout.decode("utf-8", errors="replace")
    assert everything and not [m for m in student_repo.MARKERS if m in everything]


def test_every_student_notebook_has_the_one_install_cell(copy):
    """The copy was made with --url: its install cells default to the course's repository (https, no .git)."""
    out, _ = copy
    assert install_cell.sync(sorted((out / "notebooks").glob("*.ipynb")), check=True, kit_url=COURSE) == []


def test_every_student_notebook_opens_with_an_open_in_colab_link_to_itself(copy):
    out, _ = copy
    for path in sorted((out / "notebooks").glob("*.ipynb")):
        cells = nbformat.read(path, as_version=4).cells
        first = next(c for c in cells if c.cell_type == "markdown")
        badge = f"[![Open In Colab]({student_repo.COLAB_BADGE})]({COLAB}example-course/nlp-lab/blob/main/notebooks/{path.name})"
        assert first.source.startswith(badge + "\n\n# "), f"{path.name}: {first.source[:200]!r}"
        assert "\n".join(c.source for c in cells).count(COLAB) == 1, f"{path.name}: one link, to itself"
    assert COURSE in (out / STUDENT_MARKER).read_text(encoding="utf-8")


def test_the_kit_s_own_notebooks_have_no_launch_link_and_no_default_source():
    """Without the course's URL there is nothing a link could honestly point to: only the student copy, made with
    --url, gets one."""
    for path in sorted(NB_DIR.glob("[0-9][0-9]_*.ipynb")):
        text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
        assert "colab.research.google.com" not in text and "open in colab" not in text.lower(), path.name


def test_launch_lines_only_for_github_and_clone_urls_a_runtime_can_use(tmp_path):
    assert student_repo.launch_line("git@github.com:o/r.git", "00_a.ipynb") == (
        f"[![Open In Colab]({student_repo.COLAB_BADGE})]({COLAB}o/r/blob/main/notebooks/00_a.ipynb)")
    assert student_repo.launch_line("https://gitlab.example.edu/course/lab.git", "00_a.ipynb") is None
    assert student_repo.clone_url("git@github.com:o/r.git") == "https://github.com/o/r"
    assert student_repo.clone_url("https://github.com/o/r/") == "https://github.com/o/r"
    assert student_repo.clone_url("https://gitlab.example.edu/course/lab.git") == "https://gitlab.example.edu/course/lab.git"
    for bad in ("git@gitlab.example.edu:course/lab.git", 'https://x.example.edu/a"b', "file:///srv/lab"):
        with pytest.raises(AssignmentError, match="https URL"):
            student_repo.clone_url(bad)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_markdown_cell("# 00 · A")]
    for name in ("00_a.ipynb", "01_b.ipynb"):
        nbformat.write(nb, tmp_path / name)
    paths = sorted(tmp_path.glob("*.ipynb"))
    assert student_repo.stamp_launch_lines(paths, "https://gitlab.example.edu/course/lab") == 0
    assert nbformat.read(paths[0], as_version=4).cells[1].source == "# 00 · A", "no link where Colab cannot open it"
    assert student_repo.stamp_launch_lines(paths, "https://github.com/o/r") == 2
    cells = nbformat.read(paths[1], as_version=4).cells
    assert cells[0].source == "x = 1" and cells[1].source == (
        f"[![Open In Colab]({student_repo.COLAB_BADGE})]({COLAB}o/r/blob/main/notebooks/01_b.ipynb)\n\n# 00 · A")


def test_what_the_copy_contains_and_leaves_out(copy):
    out, archive = copy
    files = set(_git(out, "ls-files").split())
    assert {"pyproject.toml", "Makefile", "README.md", "steer_lib/data/MANIFEST.tsv", "steer_lib/decoding/engine.py",
            "data/README.md", "docs/metrics.md", "tests/test_layout.py", STUDENT_MARKER} <= files
    assert sorted(f for f in files if f.startswith("notebooks/")) == sorted(
        f"notebooks/{p.name}" for p in NB_DIR.glob("[0-9][0-9]_*.ipynb"))
    for rel in files:
        assert not student_repo.instructor_only(rel) or rel.startswith("notebooks/") or rel == student_repo.GUIDE, rel
    assert not any(f.startswith(("tests/classroom/", "steer_lib/classroom/")) for f in files)
    assert "docs/teaching.md" in files, "the student edition of the guide (the README links to it)"
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert "steer-kit/pyproject.toml" in names and f"steer-kit/{STUDENT_MARKER}" in names
    assert not any("classroom" in n for n in names)


def test_the_copy_imports_and_its_layout_test_passes(copy):
    out, _ = copy
    env = {**os.environ, "PYTHONPATH": str(out)}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--override-ini=addopts=",
                           "tests/test_layout.py"], cwd=out, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:]
    proc = subprocess.run([sys.executable, "-m", "steer_lib", "assignments", "generate"], cwd=out, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "not part of this copy" in proc.stderr


def test_refuses_a_non_empty_folder_and_a_folder_inside_the_checkout(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "f").write_text("")
    with pytest.raises(AssignmentError, match="not empty"):
        student_repo.build(tmp_path / "x")
    with pytest.raises(AssignmentError, match="inside the kit"):
        student_repo.build(ROOT / "student")


def test_a_solution_outside_the_notebooks_fails_closed(tmp_path):
    """A marker in a file that would ship is an error that names the file, not a silent leak."""
    tree = tmp_path / "t"
    (tree / "tests").mkdir(parents=True)
    (tree / "tests" / "test_x.py").write_text("# ### BEGIN " + "SOLUTION\n")
    assert student_repo.find_markers(tree) == ["tests/test_x.py: BEGIN SOLUTION"]
