"""Classroom assignments from the kit's own notebooks, with nbgrader: generate, validate, autograde.

The notebooks in ``notebooks/`` are the single source: their exercise cells carry nbgrader metadata
(``### BEGIN SOLUTION`` regions, graded test cells with points and ``### BEGIN HIDDEN TESTS`` blocks, a manually
graded reflection question). Student versions are *generated* from them on demand, never edited by hand, so they
cannot drift from the solutions; generation is deterministic (the tests check it byte for byte).

Every nbgrader run happens in a throw-away course directory built here (``source/<assignment>/<assignment>.ipynb``
plus an ``nbgrader_config.py``), one assignment per notebook, named after the notebook's stem. nbgrader runs as a
subprocess (``python -m nbgrader``) so it is headless and reads only that config.

    python -m steer_lib assignments generate --out assignments/release
    python -m steer_lib assignments validate notebooks/02_steer_step_by_step.ipynb [--invert]
    python -m steer_lib assignments autograde --submissions DIR --out assignments/grades [--profile smoke]

Grading itself lives in :mod:`steer_lib.classroom.grading`.
"""
from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import nbformat

from .. import paths
from ..files import check_output_folder, mark_output_folder, move_into_place, sha256_file, write_json

COURSE_ID = "steer-kit"
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
TEXT_STUB = "YOUR ANSWER HERE"
DEFAULT_TIMEOUT = 3600  # seconds per cell: the first run of 02 may fine-tune P_θ before it can continue


class AssignmentError(RuntimeError):
    """nbgrader failed, or the inputs (notebooks, submissions) are not what an assignment needs."""


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """``path`` as a notebook, or AssignmentError naming the file and what is wrong (missing, not JSON, ...)."""
    path = Path(path)
    if not path.is_file():
        raise AssignmentError(f"{path}: no such notebook")
    try:
        return nbformat.read(path, as_version=4)
    except Exception as exc:  # noqa: BLE001 -- nbformat raises NotJSONError, UnicodeDecodeError, KeyError, ...
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise AssignmentError(f"{path}: not a valid notebook ({exc.__class__.__name__}: {first})") from None


# ---------------------------------------------------------------- which notebooks are assignments
def is_nbgrader_cell(cell: dict[str, Any]) -> bool:
    """True for solution cells and graded cells (the ones nbgrader changes or scores).

    >>> is_nbgrader_cell({"metadata": {"nbgrader": {"solution": True, "grade": False}}})
    True
    >>> is_nbgrader_cell({"metadata": {"tags": ["parameters"]}})
    False
    """
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("solution") or meta.get("grade"))


def assignment_notebooks(notebooks_dir: Path | None = None) -> list[Path]:
    """The numbered notebooks that contain at least one exercise, in order."""
    nb_dir = Path(notebooks_dir or paths.root() / "notebooks")
    found = [p for p in sorted(nb_dir.glob("[0-9][0-9]_*.ipynb"))
             if any(is_nbgrader_cell(c) for c in nbformat.read(p, as_version=4).cells)]
    if not found:
        raise AssignmentError(f"no notebook in {nb_dir} has nbgrader exercise cells")
    return found


def set_parameters(nb: nbformat.NotebookNode, **values: Any) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose papermill ``parameters`` cell assigns ``values`` (``NAME: type = value  # help``).

    Only the literal changes, so the cell keeps its types and comments; an unknown name is an error rather than a
    silently ignored setting.
    """
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))  # deep copy: never edit the caller's notebook
    cell = next((c for c in nb.cells if "parameters" in c.metadata.get("tags", [])), None)
    if cell is None:
        raise AssignmentError("the notebook has no cell tagged 'parameters'")
    lines = cell.source.splitlines()
    for name, value in values.items():
        for stmt in ast.parse(cell.source).body:
            if isinstance(stmt, ast.AnnAssign) and getattr(stmt.target, "id", None) == name:
                line = lines[stmt.lineno - 1]
                v = stmt.value
                lines[stmt.lineno - 1] = line[: v.col_offset] + repr(value) + line[v.end_col_offset:]
                break
        else:
            raise AssignmentError(f"parameter {name}={value!r}: the parameters cell has no {name}")
        cell.source = "\n".join(lines)
    return nb


def up_to_last_exercise(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` without the cells after its last solution or graded cell.

    Cells run in order, so later cells cannot change a grade; dropping them makes validating and grading cost the
    exercises, not the whole lesson (02's decoding demos, 04's comparison of all methods). The full notebooks run
    in the pipeline (``make reproduce`` / ``make test``) anyway.
    """
    last = max((i for i, c in enumerate(nb.cells) if is_nbgrader_cell(c)), default=None)
    if last is None:
        raise AssignmentError("the notebook has no solution or graded cell")
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    nb.cells = nb.cells[: last + 1]
    return nb


# ---------------------------------------------------------------- the course directory
def write_course(course: Path, notebooks: list[Path], timeout: int = DEFAULT_TIMEOUT) -> list[str]:
    """Lay out an nbgrader course directory (config + ``source/``); return the assignment names."""
    course.mkdir(parents=True, exist_ok=True)
    config = f"""# Written by steer_lib.classroom.assignments: regenerated on every run, do not edit.
c = get_config()
c.CourseDirectory.course_id = {COURSE_ID!r}
c.CourseDirectory.root = {str(course)!r}
c.CourseDirectory.db_url = {"sqlite:///" + str(course / "gradebook.db")!r}
c.ClearSolutions.code_stub = {{"python": {CODE_STUB!r}}}
c.ClearSolutions.text_stub = {TEXT_STUB!r}
c.Execute.timeout = {int(timeout)}
"""
    (course / "nbgrader_config.py").write_text(config)
    names = []
    for nb_path in notebooks:
        name = nb_path.stem
        dest = course / "source" / name
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(nb_path, dest / nb_path.name)
        names.append(name)
    return names


_ISOLATED_ENV = ("STEER_", "HF_", "TOKENIZERS_", "OMP_", "MKL_", "LANG", "LC_", "TZ", "CUDA_")  # passed on


# A new network namespace starts with its loopback down, and Jupyter kernels talk to nbgrader over 127.0.0.1: bring
# lo up inside it (the namespace has no other interface, so loopback is all the network there is).
_LO_UP = ["sh", "-c", 'ip link set lo up && exec "$@"', "sh"]


def no_network_prefix() -> list[str]:
    """``unshare -rn`` (a user and network namespace with only loopback, up) where that works here (Linux, ``ip``
    present), else ``[]``."""
    try:
        ok = subprocess.run(["unshare", "-rn", *_LO_UP, "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        ok = False
    return ["unshare", "-rn", *_LO_UP] if ok else []


def run_nbgrader(course: Path, *args: str, isolate: bool = False, timeout: float | None = None) -> str:
    """``python -m nbgrader ARGS`` in ``course``; its output, or AssignmentError with the output's tail.

    ``isolate`` (for grading students' code): a throw-away HOME, only the kit's and the libraries' settings from the
    environment (no tokens, no SSH agent, no cloud credentials), and no network where ``unshare -rn`` works.
    ``timeout``: seconds for the whole call, then it is killed (AssignmentError).
    """
    cmd = [sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={course}"]
    # nbgrader shells out to `alembic` (the gradebook's schema tool): find it next to this Python even when the
    # virtualenv is not activated (as under `make`)
    path_var = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {**os.environ, "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1"), "PATH": path_var}
    with tempfile.TemporaryDirectory(prefix="steer-grading-home-") as home:
        if isolate:
            env = {k: v for k, v in os.environ.items() if k.startswith(_ISOLATED_ENV)}
            env.update(PATH=path_var, HOME=home, HF_HUB_OFFLINE="1", STEER_DATA=str(paths.data_dir()),
                       STEER_RUNS=str(paths.runs_dir()), STEER_CACHE=str(paths.cache_dir()))
            cmd = no_network_prefix() + cmd
        try:
            proc = subprocess.run(cmd, cwd=course, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssignmentError(f"`nbgrader {' '.join(args)}` ran past its time limit of {timeout:g} s and was "
                                  "stopped") from None
    out = proc.stdout + proc.stderr
    # nbgrader logs failures at ERROR level but may still exit 0 (e.g. a notebook it could not process)
    if proc.returncode != 0 or "| ERROR]" in out:
        raise AssignmentError(f"`nbgrader {' '.join(args)}` failed in {course}:\n{out[-4000:]}")
    return out


# ---------------------------------------------------------------- generate
def generate(out: Path, notebooks_dir: Path | None = None, force: bool = False) -> dict[str, Path]:
    """Student versions of every assignment notebook, plus the gradebook and a manifest, in ``out``.

    ``out/<assignment>/<notebook>.ipynb`` is what students get (solutions replaced by ``raise
    NotImplementedError()`` / "YOUR ANSWER HERE", hidden tests removed, test cells locked and checksummed);
    ``out/gradebook.db`` records the graded cells; ``out/MANIFEST.json`` the SHA-256 of every source and student
    notebook. Returns ``{assignment: student notebook path}``. An ``out`` holding files the kit did not write is
    refused unless ``force`` (an earlier release, with its ``MANIFEST.json``, is replaced assignment by assignment).
    """
    out = Path(out).resolve()
    notebooks = assignment_notebooks(notebooks_dir)
    check_output_folder(out, "assignments", force, also_ours=_is_release,
                        force_does="write the release into it, replacing its gradebook.db, MANIFEST.json and "
                                   "assignment folders")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".steer-assign-", dir=out) as tmp:
        course = Path(tmp) / "course"
        names = write_course(course, notebooks)
        run_nbgrader(course, "generate_assignment", "*", "--force")  # one run for all: nbgrader is slow to import
        manifest = {"course_id": COURSE_ID, "nbgrader": _nbgrader_version(), "assignments": {}}
        result = {}
        for name, src in zip(names, notebooks):
            student = course / "release" / name / src.name
            if not student.exists():
                raise AssignmentError(f"nbgrader wrote no student version of {src.name}")
            manifest["assignments"][name] = {"source": f"notebooks/{src.name}", "source_sha256": sha256_file(src),
                                             "student_sha256": sha256_file(student)}
            move_into_place(course / "release" / name, out / name)
            result[name] = out / name / src.name
        move_into_place(course / "gradebook.db", out / "gradebook.db")
        write_json(course / "MANIFEST.json", manifest, sort_keys=True)
        move_into_place(course / "MANIFEST.json", out / "MANIFEST.json")
    mark_output_folder(out, "assignments")
    return result


def _is_release(folder: Path) -> bool:
    """A release the kit wrote before the output marker existed: its MANIFEST.json names the kit's course."""
    try:
        return json.loads((folder / "MANIFEST.json").read_text(encoding="utf-8")).get("course_id") == COURSE_ID
    except (OSError, ValueError, AttributeError):
        return False


def _nbgrader_version() -> str:
    import nbgrader

    return nbgrader.__version__


# ---------------------------------------------------------------- validate
def validate(notebook: Path, invert: bool = False, timeout: int = DEFAULT_TIMEOUT, full: bool = False,
             **params: Any) -> dict[str, Any]:
    """Execute ``notebook`` (a copy, with ``params`` injected) and check its graded cells with nbgrader's Validator.

    Unless ``full``, the copy stops at the last exercise cell (:func:`up_to_last_exercise`).

    Returns the Validator's result: ``{}`` when every graded cell passes (with ``invert=True``: when every graded
    cell *fails*, as in a student version); else ``{"failed": [...]}`` / ``{"passed": [...]}`` / ``{"changed": [...]}``.
    Unlike ``nbgrader validate`` (which exits 0 either way) the caller sees the outcome.
    """
    from nbgrader.validator import Validator
    from traitlets.config import Config

    notebook = Path(notebook)
    nb = read_notebook(notebook)
    nb = set_parameters(nb, **params) if params else nb
    nb = nb if full else up_to_last_exercise(nb)
    with tempfile.TemporaryDirectory(prefix="steer-validate-") as tmp:
        copy = Path(tmp) / notebook.name
        nbformat.write(nb, copy)
        cfg = Config({"Execute": {"timeout": int(timeout)}, "Validator": {"invert": invert}})
        return Validator(config=cfg).validate(str(copy))
