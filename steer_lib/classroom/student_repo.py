"""The student copy of the kit: the library, the student versions of the notebooks, the data manifest, the docs and
the tests, without solutions, hidden tests, mark schemes, answer keys or the history that holds them.

    python -m steer_lib assignments student-repo --out DIR [--archive FILE.tar.gz] [--url URL]
                                                                      (make student-repo OUT=DIR [URL=...])

The copy is built from the files of the kit's checkout (``git ls-files``: tracked files, plus new files git does not
ignore, so build products never travel), minus the instructor's material (:data:`INSTRUCTOR_ONLY`): the solution
notebooks (replaced by nbgrader's student versions, :func:`~steer_lib.classroom.assignments.generate`), the
classroom tests (they read the solutions), the classroom code (it generates and grades from the solutions), the
teaching guide (it holds the answer key; the copy gets its student edition, :func:`student_guide`). Every file that goes in is then scanned for nbgrader's region markers
(:data:`MARKERS`); one found is an error, so a solution added somewhere new fails closed instead of shipping. The
result is a fresh git repository with a single commit, so no earlier version of any file is in it.

With ``--url`` (the git repository the instructor will push the copy to), the copy's notebooks install that
repository by default (their install cell's ``STEER_KIT``, :func:`~steer_lib.classroom.install_cell.cell`), and, for a
GitHub repository, each notebook's first cell opens with an "Open in Colab" link to that notebook in that repository
(:func:`launch_line`): one click opens it on a hosted runtime and its first cell installs the course's copy. Colab
opens notebooks from GitHub only, so another host gets the default but no link; without ``--url`` the copy gets
neither, since a link to a repository that does not exist would be a broken promise.

The library itself stays: it is what the students use, so an exercise that re-implements a library function can be
compared with the library's code by a student who looks (see docs/teaching.md, "Solutions and the library").
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Callable

from .. import paths
from ..files import move_into_place
from ..runtime import no_log
from .assignments import AssignmentError, generate
from . import install_cell
from .install_cell import STUDENT_MARKER

# Path prefixes (relative to the kit's root) that stay with the instructor.
INSTRUCTOR_ONLY = (
    "notebooks/",                    # the solution notebooks: the student versions replace them
    "tests/classroom/",              # they read the solutions and the hidden tests
    "steer_lib/classroom/",          # generating and grading need the solutions anyway
    "steer_lib/cli/assignments.py",  # the command line of the above
    "docs/teaching.md",              # the instructor guide, with the answer key of the open exercises
    ".ci/",                          # the kit's own CI
)
# nbgrader's region markers, built from parts so that this file can be scanned like any other.
MARKERS = tuple(f"{kind} {region}" for region in ("SOLUTION", "HIDDEN TESTS", "MARK SCHEME")
                for kind in ("BEGIN", "END"))
AUTHOR = ("steer-kit course", "course@localhost")
GUIDE = "docs/teaching.md"
# The sections of the teaching guide that students get (docs/teaching.md in the copy, so the README's link to it
# resolves). An allowlist, not a blocklist: a section added to the guide stays with the instructor until it is
# named here. Left out: "Assignments" (grading, hidden tests) and "Answer key: the open exercises".
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
_GITHUB = re.compile(r"^(?:https://github\.com/|git@github\.com:|ssh://git@github\.com/)([\w.-]+)/([\w.-]+?)(?:\.git)?/?$")
STUDENT_SECTIONS = ("Prerequisites", "Content note: the toxic-comment data", "The notebooks", "A two-week schedule",
                    "Running the notebooks", "Glossary", "Suggested extra exercises")


def guide_sections(text: str) -> dict[str, str]:
    """``{title: text}`` of the guide's ``## `` sections (each with its heading; the text before the first is ``""``).

    >>> list(guide_sections("# T\\nintro\\n## A\\na\\n### A.1\\nb\\n## B\\nc\\n"))
    ['', 'A', 'B']
    """
    sections: dict[str, str] = {}
    title, lines = "", []
    for line in text.splitlines(keepends=True):
        if line.startswith("## "):
            sections[title] = "".join(lines)
            title, lines = line[3:].strip(), []
        lines.append(line)
    sections[title] = "".join(lines)
    return sections


def student_guide(text: str) -> str:
    """The students' edition of the teaching guide: a new introduction and the :data:`STUDENT_SECTIONS` only."""
    sections = guide_sections(text)
    missing = [t for t in STUDENT_SECTIONS if t not in sections]
    if missing:
        raise AssignmentError(f"{GUIDE} has no section(s) {missing}: update STUDENT_SECTIONS in {__name__}")
    intro = ("# steer-kit: the course guide (student edition)\n\n"
             "What each notebook teaches and how long it takes, what you need to know first, the schedule, how to run "
             "the notebooks, and a glossary. This is the part of the instructor's guide made for students: the "
             "grading details and the answer key of the open exercises stay with your instructor.\n\n")
    return intro + "".join(sections[t] for t in sections if t in STUDENT_SECTIONS)


def github_repo(url: str) -> str | None:
    """``owner/name`` of a GitHub repository URL (https or ssh), else None.

    >>> github_repo("https://github.com/example-course/nlp-lab.git"), github_repo("git@github.com:o/r.git")
    ('example-course/nlp-lab', 'o/r')
    >>> github_repo("https://gitlab.example.edu/course/nlp-lab") is None
    True
    """
    m = _GITHUB.match(url.strip())
    return f"{m.group(1)}/{m.group(2)}" if m else None


def clone_url(url: str) -> str:
    """The URL a hosted runtime clones: a GitHub repository over https (a runtime has no ssh key), else ``url``."""
    repo = github_repo(url)
    if repo:
        return f"https://github.com/{repo}"
    if not re.match(r"^https?://[^\s\"'<>]+$", url):
        raise AssignmentError(f"--url {url!r}: give the https URL students can clone (a runtime has no ssh key)")
    return url


def launch_line(url: str, notebook: str, branch: str = "main") -> str | None:
    """The "Open in Colab" badge of ``notebooks/<notebook>`` in the student copy at ``url``; None where Colab cannot
    open it (not on GitHub)."""
    repo = github_repo(url)
    if repo is None:
        return None
    target = f"https://colab.research.google.com/github/{repo}/blob/{branch}/notebooks/{notebook}"
    return f"[![Open In Colab]({COLAB_BADGE})]({target})"


def stamp_launch_lines(notebooks: list[Path], url: str) -> int:
    """Put :func:`launch_line` at the top of each notebook's first markdown cell; returns how many got one."""
    import nbformat

    stamped = 0
    for path in notebooks:
        line = launch_line(url, path.name)
        if line is None:
            continue
        nb = nbformat.read(path, as_version=4)
        first = next((c for c in nb.cells if c.cell_type == "markdown"), None)
        if first is None:
            first = nbformat.v4.new_markdown_cell("")
            nb.cells.insert(0, first)
        first.source = f"{line}\n\n{first.source}" if first.source else line
        nbformat.write(nb, path)
        stamped += 1
    return stamped


def source_files(root: Path) -> list[str]:
    """The kit's files that a copy may contain: tracked, or new and not ignored (relative POSIX paths, sorted)."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                             capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise AssignmentError(f"{root} is not a git checkout of the kit (needed to know which files are its own): {e}")
    return sorted(p for p in set(out.decode().split("\0")) if p and (root / p).is_file())


def instructor_only(rel: str) -> bool:
    return any(rel == p or (p.endswith("/") and rel.startswith(p)) for p in INSTRUCTOR_ONLY)


def find_markers(tree: Path) -> list[str]:
    """``"path: marker"`` for every file under ``tree`` (``.git`` aside) that contains one of :data:`MARKERS`."""
    found = []
    for f in sorted(tree.rglob("*")):
        if not f.is_file() or ".git" in f.relative_to(tree).parts:
            continue
        text = f.read_bytes().decode("utf-8", errors="replace")
        found += [f"{f.relative_to(tree).as_posix()}: {m}" for m in MARKERS if m in text]
    return found


def _git(repo: Path, *args: str, env: dict | None = None) -> str:
    proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise AssignmentError(f"git {' '.join(args)} failed in {repo}: {proc.stderr.strip()}")
    return proc.stdout


def _source_commit(root: Path) -> tuple[str, str]:
    """(commit, date) of the kit's checkout, or ("unknown", "") outside git."""
    try:
        commit, date = _git(root, "log", "-1", "--format=%H %cI").split()
        return commit, date
    except AssignmentError:
        return ("unknown", "")


def build(out: Path, root: Path | None = None, archive: Path | None = None, force: bool = False,
          log: Callable[[str], None] = no_log, url: str | None = None) -> Path:
    """Write the student copy to ``out`` (a new git repository, one commit); optionally also ``archive``
    (a ``.tar.gz`` with a top folder ``steer-kit/``, one of what the install cell's ``STEER_KIT`` takes).

    ``url``: the git repository the copy will be pushed to (its ``main`` branch): the notebooks install it by
    default and, on GitHub, open with an "Open in Colab" link (see the module's docstring).

    ``out`` must not exist, or be empty, unless ``force`` (then it is replaced). Returns ``out``.
    """
    root = Path(root or paths.root()).resolve()
    out = Path(out).resolve()
    if out == root or root in out.parents:
        raise AssignmentError(f"--out {out} is inside the kit's checkout: choose a folder outside it")
    if out.exists() and any(out.iterdir()) and not force:
        raise AssignmentError(f"{out} exists and is not empty (use --force to replace it)")
    kit_url = clone_url(url) if url else None
    commit, date = _source_commit(root)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".steer-student-", dir=out.parent) as tmp:
        copy = Path(tmp) / "copy"
        copy.mkdir()
        files = [f for f in source_files(root) if not instructor_only(f)]
        for rel in files:
            (copy / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / rel, copy / rel)
        log(f"copied {len(files)} files of the kit")
        # the notebooks: student versions of the assignments, the other lessons as they are
        nb_dir = root / "notebooks"
        students = generate(Path(tmp) / "release", nb_dir)
        (copy / "notebooks").mkdir()
        for nb in sorted(nb_dir.glob("[0-9][0-9]_*.ipynb")):
            shutil.copyfile(students.get(nb.stem, nb), copy / "notebooks" / nb.name)
        # the one install cell, whatever the sources hold (a notebook not yet synced never ships an old one)
        shipped = sorted((copy / "notebooks").glob("*.ipynb"))
        install_cell.sync(shipped, kit_url=kit_url)
        log(f"notebooks: student versions of {', '.join(sorted(students))}; the others as they are")
        if kit_url:
            n = stamp_launch_lines(shipped, kit_url)
            log(f"notebooks install {kit_url} by default; " + (f"{n} open with an 'Open in Colab' link" if n else
                "no 'Open in Colab' link (Colab opens notebooks from GitHub only)"))
        (copy / STUDENT_MARKER).write_text(_student_readme(commit, sorted(students), kit_url), encoding="utf-8")
        guide = root / GUIDE
        if guide.exists():
            (copy / GUIDE).parent.mkdir(parents=True, exist_ok=True)
            (copy / GUIDE).write_text(student_guide(guide.read_text(encoding="utf-8")), encoding="utf-8")
        leaks = find_markers(copy)
        if leaks:
            raise AssignmentError("the student copy would contain solution or hidden-test regions:\n  "
                                  + "\n  ".join(leaks))
        env = {**os.environ, "GIT_AUTHOR_NAME": AUTHOR[0], "GIT_AUTHOR_EMAIL": AUTHOR[1],
               "GIT_COMMITTER_NAME": AUTHOR[0], "GIT_COMMITTER_EMAIL": AUTHOR[1]}
        if date:  # the source commit's date: the same sources give the same commit
            env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
        _git(copy, "init", "-q", "-b", "main")
        _git(copy, "add", "-A")
        _git(copy, "commit", "-q", "--no-gpg-sign", "-m", f"steer-kit, student copy (from {commit[:12]})", env=env)
        if archive:
            archive = Path(archive).resolve()
            archive.parent.mkdir(parents=True, exist_ok=True)
            _git(copy, "archive", "--format=tar.gz", "--prefix=steer-kit/", "-o", str(archive), "HEAD")
            log(f"archive: {archive}")
        if out.exists() and not any(out.iterdir()):
            out.rmdir()
        move_into_place(copy, out)  # (replaces an old copy only under --force, checked above)
    log(f"student copy: {out} (one commit)")
    return out


def _student_readme(commit: str, assignments: list[str], kit_url: str | None = None) -> str:
    hosted = ("on a hosted runtime (Colab, Kaggle, ...) through the notebooks' first cell, with the copy your "
              "instructor names (set `STEER_KIT` as that cell says)")
    if kit_url:
        hosted = (f"on a hosted runtime (Colab, Kaggle, ...) through the notebooks' first cell, which installs this "
                  f"copy ({kit_url}) by itself")
        if github_repo(kit_url):
            hosted += ": open a notebook with the \"Open in Colab\" link at its top, and run it"
    return f"""# steer-kit: the student copy

This is a copy of steer-kit made for a course by `make student-repo` (from commit `{commit[:12]}` of the kit).
The notebooks that hold graded exercises ({", ".join(f"`{a}`" for a in assignments)}) are the student versions:
write your answers in the cells that say `YOUR CODE HERE` / `YOUR ANSWER HERE`. The visible tests below each
exercise tell you whether you are on the right track; your instructor grades with more tests.

Left out of this copy: the solution notebooks, the hidden tests, the grading tools (`python -m steer_lib
assignments` is not available here), the instructor's parts of the course guide (`docs/teaching.md` here is the
student edition: prerequisites, schedule, how to run the notebooks, glossary) and the kit's history.

Install it as the README says (`make data`, then `jupyter lab notebooks/`), or {hosted}. `make test` runs the
notebooks too, so it passes only once the exercises are solved.
"""

