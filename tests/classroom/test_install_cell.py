"""The hosted-runtime install cell: one source in every notebook, short enough to read at a glance, a no-op where the
kit is importable, a clear stop with no source set, and never a default repository address anywhere (notebooks, docs,
tests); the installer it runs (steer_lib/install_kit.py) keeps every step the long cell had."""
from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import nbformat
import pytest

from steer_lib.classroom import install_cell
from steer_lib.classroom.install_cell import INSTALL_CELL, SOURCE, SOURCES, STUDENT_MARKER, TAG

ROOT = Path(__file__).resolve().parents[2]
INSTALLER = ROOT / "steer_lib" / "install_kit.py"
COURSE = "https://github.com/example-course/nlp-lab"  # (a made-up course repository)
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _param(path: Path):
    return pytest.param(path, id=path.stem)


@pytest.mark.parametrize("path", [_param(p) for p in NOTEBOOKS])
def test_every_notebook_carries_the_one_install_cell(path):
    nb = nbformat.read(path, as_version=4)
    i = install_cell.find_install_cell(nb)
    assert i is not None, f"{path.name}: no install cell"
    first_code = next(j for j, c in enumerate(nb.cells) if c.cell_type == "code")
    assert i == first_code, f"{path.name}: the install cell must be the first code cell"
    assert TAG in nb.cells[i].metadata.get("tags", [])
    assert nb.cells[i].source == INSTALL_CELL, f"{path.name}: run `python -m steer_lib assignments install-cell`"


def test_sync_writes_the_cell_and_then_finds_nothing_to_do(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# t"),
                nbformat.v4.new_code_cell('import os\nrepo = os.environ.get("STEER_KIT_REPO")'),  # an older kit's cell
                nbformat.v4.new_code_cell("x = 1")]
    path = tmp_path / "00_t.ipynb"
    nbformat.write(nb, path)
    assert install_cell.sync([path], check=True) == [path]
    assert nbformat.read(path, as_version=4).cells[1].source != INSTALL_CELL, "check only reports"
    assert install_cell.sync([path]) == [path]
    cells = nbformat.read(path, as_version=4).cells
    assert cells[1].source == INSTALL_CELL and cells[1].metadata["tags"] == [TAG] and cells[2].source == "x = 1"
    assert install_cell.sync([path]) == []
    nbformat.write(nbformat.v4.new_notebook(), path)
    with pytest.raises(ValueError, match="no install cell"):
        install_cell.sync([path])


def test_no_default_repository_address_anywhere():
    """No notebook, doc or test names a default address for the kit (one the project does not control)."""
    owner = "steer-kit" + "/steer-kit"  # (built from parts so this file does not name it either)
    default = re.compile(r"environ\.get\(\s*['\"]STEER_KIT\w*['\"]\s*,\s*['\"][^'\"]+['\"]|STEER_KIT\w*['\"]\s*,"
                         r"\s*['\"]['\"]\s*\)(?:\.strip\(\))?\s*or\s*['\"]")
    # any URL of a repository or archive of the kit must be a placeholder on a reserved example domain (RFC 2606)
    kit_url = re.compile(r"(?:https?|git|ssh)://[^\s\"'<>)]*steer[-_]?kit[^\s\"'<>)]*|git@[\w.-]+:[^\s\"']*steer[-_]?kit",
                         re.I)
    example = re.compile(r"^(?:https?|git|ssh)://(?:[\w-]+\.)*example\.(?:com|org|net|edu)(?:[:/]|$)", re.I)
    files = [*NOTEBOOKS, *ROOT.glob("docs/**/*.md"), *ROOT.glob("tests/**/*.py"), ROOT / "README.md",
             *ROOT.glob("steer_lib/**/*.py"), *ROOT.glob("tests/**/*.yaml"), *ROOT.glob("examples/**/*"),
             *ROOT.glob(".ci/**/*"), ROOT / "Makefile", ROOT / "pyproject.toml", *ROOT.glob("*.yml")]
    offenders = []
    for f in files:
        if not f.is_file():
            continue
        text = f.read_text(encoding="utf-8", errors="replace")
        if owner in text or default.search(text):
            offenders.append(str(f.relative_to(ROOT)))
        offenders += [f"{f.relative_to(ROOT)}: {u}" for u in kit_url.findall(text) if not example.match(u)]
    assert offenders == []
    real = "https://github.com/someone/" + "steer" + "-kit"  # (from parts, so this file passes its own check)
    assert kit_url.findall(f"git clone {real}") == [real] and not example.match(real), "it finds a real address"
    assert example.match("https://git.example.edu/course/steer-kit-student.git")
    assert not default.search(INSTALL_CELL) and "github.com" not in INSTALL_CELL
    # only a student copy made with `student-repo --url` gets a default: the course's own repository
    assert default.search(install_cell.cell(COURSE)) and COURSE in install_cell.cell(COURSE)


def test_the_cell_reads_at_a_glance():
    """Issue #26: the old cell was about sixty lines of install logic at the top of every notebook; the logic now
    lives in steer_lib/install_kit.py, and the cell only fetches the copy and runs that file."""
    lines = INSTALL_CELL.splitlines()
    assert len(lines) <= 22 and max(map(len, lines)) <= 120
    assert sum(1 for line in lines if line.strip() and not line.lstrip().startswith("#")) <= 16
    assert 'os.environ["STEER_KIT"]' in INSTALL_CELL and "install_kit.py" in INSTALL_CELL
    compile(install_cell.cell(COURSE), "<stamped cell>", "exec")
    for bad in ('https://x/"; import os', "https://x/\nimport os", " https://x/"):
        with pytest.raises(ValueError):
            install_cell.cell(bad)


def test_the_installer_needs_only_the_standard_library():
    """It runs before anything of the kit is installed (and is never imported by the kit's own stages)."""
    import ast

    tree = ast.parse(INSTALLER.read_text(encoding="utf-8"))
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert names - {"__future__"} <= set(sys.stdlib_module_names), names - set(sys.stdlib_module_names)
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level], "no relative import"


# ---------------------------------------------------------------- running the cell (pip, git, downloads faked)
@pytest.fixture()
def runtime(monkeypatch, tmp_path):
    """A fake hosted runtime: steer_lib not importable, every subprocess recorded instead of run."""
    calls: list[tuple[list[str], dict]] = []
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "steer_lib" else real(name, *a))
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append((list(cmd), kw)))
    monkeypatch.setattr(sys, "path", list(sys.path))
    for k in (*SOURCES, "STEER_KIT_WHEEL", "STEER_KIT_ARCHIVE", "STEER_KIT_REPO"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.chdir(tmp_path)
    return calls


def _run_cell(text: str = INSTALL_CELL):
    exec(compile(text, "<install cell>", "exec"), {"__name__": "__main__"})


def _kit(folder: Path) -> None:
    """A minimal copy of the kit: its pyproject.toml and the real installer."""
    (folder / "steer_lib").mkdir(parents=True)
    (folder / "pyproject.toml").write_text('[project]\nname = "steer-kit"\ndependencies = ["torch>=2", "numpy>=2"]\n'
                                           '[project.optional-dependencies]\ngpu = ["bitsandbytes>=0.45"]\n')
    shutil.copyfile(INSTALLER, folder / "steer_lib" / "install_kit.py")


def test_the_cell_does_nothing_where_the_kit_is_importable(monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    monkeypatch.delenv(SOURCE, raising=False)
    _run_cell()
    monkeypatch.setenv(SOURCE, COURSE)
    _run_cell()
    assert calls == []


def test_with_no_source_set_the_cell_stops_and_says_how_to_install(runtime, tmp_path):
    with pytest.raises(RuntimeError) as e:
        _run_cell()
    msg = str(e.value)
    assert SOURCE in msg and "instructor" in msg
    assert runtime == [] and list(tmp_path.iterdir()) == [], "nothing cloned, downloaded or installed"


def test_an_archive_of_the_student_copy_is_unpacked_and_installed(runtime, tmp_path, monkeypatch, capsys):
    kit = tmp_path / "src" / "steer-kit"
    _kit(kit)
    (kit / STUDENT_MARKER).write_text("student copy")
    with tarfile.open(tmp_path / "course.tar.gz", "w:gz") as tar:
        tar.add(kit, arcname="steer-kit")
    monkeypatch.setenv(SOURCE, str(tmp_path / "course.tar.gz"))
    _run_cell()
    cmds = [c for c, _ in runtime]
    assert (tmp_path / "steer-kit" / "pyproject.toml").exists() and not (tmp_path / "steer-kit.unpacked").exists()
    assert not any("git" in c for c in cmds)
    assert cmds[0][-1] == "numpy>=2" and not any(d.startswith("torch") for d in cmds[0][5:]), "the runtime's torch stays"
    assert cmds[1][-2:] == ["-e", "steer-kit"] and "--no-deps" in cmds[1]
    assert cmds[2][-2:] == ["data", "fetch"] and runtime[2][1]["cwd"] == "steer-kit"
    assert sys.path[0] == str(tmp_path / "steer-kit"), "importable in this kernel, before a restart"
    out = capsys.readouterr().out
    assert "not a student copy" not in out and "Installed." in out


def test_an_archive_at_a_url_is_downloaded_once_whatever_its_top_folder(runtime, tmp_path, monkeypatch):
    """A .zip from a course site (e.g. a forge's "download" link: one top folder named after the repository)."""
    _kit(tmp_path / "src" / "nlp-lab-main")
    shutil.make_archive(str(tmp_path / "served"), "zip", tmp_path / "src")
    fetched = []

    def urlretrieve(url, filename):
        fetched.append((url, filename))
        shutil.copyfile(tmp_path / "served.zip", filename)
        return filename, None

    monkeypatch.setattr("urllib.request.urlretrieve", urlretrieve)
    monkeypatch.setenv(SOURCE, "https://course.example.edu/files/nlp-lab.zip?download=1")
    _run_cell()
    assert fetched == [("https://course.example.edu/files/nlp-lab.zip?download=1", "nlp-lab.zip")]
    assert (tmp_path / "steer-kit" / "steer_lib" / "install_kit.py").exists()
    assert [c for c, _ in runtime][1][-2:] == ["-e", "steer-kit"]


def test_a_repository_url_is_cloned_only_when_the_instructor_sets_it(runtime, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(SOURCE, "https://git.example.edu/course/steer-kit-student.git")
    _kit(tmp_path / "steer-kit")  # (the fake `git clone` does nothing: the folder is already there)
    _run_cell()
    cmds = [c for c, _ in runtime]
    assert not any(c[0] == "git" for c in cmds), "an existing steer-kit/ folder is reused"
    assert cmds[1][-2:] == ["-e", "steer-kit"]
    assert "not a student copy" in capsys.readouterr().out, "a copy without the student marker is flagged"
    runtime.clear()
    shutil.rmtree(tmp_path / "steer-kit")
    with pytest.raises(RuntimeError, match="not a copy of the kit"):  # the fake clone wrote nothing
        _run_cell()
    assert runtime == [(["git", "clone", "--depth", "1", "https://git.example.edu/course/steer-kit-student.git",
                         "steer-kit"], {"check": True})]


def test_a_student_copy_made_with_its_url_installs_itself_with_nothing_set(runtime, tmp_path):
    """The cell `student-repo --url` writes: opened from that repository (Colab), it clones the course's copy."""
    with pytest.raises(RuntimeError, match="not a copy of the kit"):  # (the fake clone wrote nothing)
        _run_cell(install_cell.cell(COURSE))
    assert runtime[0][0] == ["git", "clone", "--depth", "1", COURSE, "steer-kit"]


def test_a_wheel_is_installed_with_its_requirements_but_not_torch(runtime, tmp_path, monkeypatch):
    wheel = tmp_path / "dist" / "steer_kit-0.1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("steer_kit-0.1.0.dist-info/METADATA",
                   "Metadata-Version: 2.1\nName: steer-kit\nRequires-Dist: torch>=2.13.0\nRequires-Dist: numpy>=2.4\n"
                   'Requires-Dist: pytest>=9; extra == "dev"\nRequires-Dist: bitsandbytes>=0.45; extra == "gpu"\n')
        z.write(INSTALLER, "steer_lib/install_kit.py")
    monkeypatch.setenv(SOURCE, str(wheel))
    monkeypatch.setattr("shutil.which", lambda name: "/usr/bin/nvidia-smi" if name == "nvidia-smi" else None)
    _run_cell()
    cmds = [c for c, _ in runtime]
    assert cmds[0][5:] == ["numpy>=2.4", "bitsandbytes>=0.45"]
    assert cmds[1][-1] == str(wheel) and "--no-deps" in cmds[1] and "-e" not in cmds[1]
    assert runtime[2][1]["cwd"] == "."
    assert not (tmp_path / "steer-kit").exists(), "the unpacked wheel is removed once installed"
