"""The hosted-runtime install cell: one source, generated into every notebook.

Every notebook's first code cell installs the kit on a hosted runtime (Colab, Kaggle, ...) that has no checkout,
and does nothing where ``steer_lib`` is already importable (a local checkout, CI, papermill, nbval). Its text is
:data:`INSTALL_CELL`, written into the notebooks by :func:`sync` (``python -m steer_lib assignments install-cell``)
and checked against them by the tests, so there are no hand-kept copies.

The cell is short enough to read at a glance: it fetches the course's copy named by ONE variable, ``STEER_KIT``, into
``steer-kit/`` and runs that copy's installer, :mod:`steer_lib.install_kit` (standard library only, run by path,
since the kit is not installed yet), which keeps the runtime's torch, adds the ``gpu`` extra on a GPU and fetches
the data. ``STEER_KIT`` is one of

- a ``.tar.gz`` / ``.zip`` of the course's copy, e.g. the student copy's archive (``make student-repo ARCHIVE=...``),
  or a wheel of the kit (``.whl``): a path on the runtime or an https URL;
- the git URL of the course's copy.

The cell never fetches the kit from a default address: with ``STEER_KIT`` unset it stops with a message saying so.
The one exception is a student copy made with ``student-repo --url URL``: the instructor named the repository the
copy will live in, so :func:`cell` writes that URL into the copy's cells as the default (see
:mod:`steer_lib.classroom.student_repo`). A copy made by ``make student-repo`` carries :data:`STUDENT_MARKER`; the
installer says when the copy it installed does not (it may hold the solutions).
"""
from __future__ import annotations

from pathlib import Path

import nbformat

from .. import install_kit, paths

TAG = "install-kit"  # the cell's tag in every notebook
STUDENT_MARKER = install_kit.STUDENT_MARKER  # the installer looks for it; the student copy writes it
SOURCE = "STEER_KIT"  # the one variable that names the course's copy
SOURCES = (SOURCE,)  # (a cell of an older kit read STEER_KIT_WHEEL / _ARCHIVE / _REPO: "STEER_KIT" finds those too)

_KIT_LINE = 'KIT = os.environ.get("STEER_KIT", "").strip()'
INSTALL_CELL = '''\
# On a hosted runtime (Colab, Kaggle, ...) this cell installs the kit; where `steer_lib` already imports (a local
# checkout, CI) it does nothing. It installs the course's copy your instructor names, set in a cell above, e.g.
#   os.environ["STEER_KIT"] = "steer-kit-student.tar.gz"  # or a .zip, a .whl (path or https URL), or a git URL
# It fetches that copy into steer-kit/ and runs its steer_lib/install_kit.py: the kit's requirements without torch
# (the runtime's CUDA build stays), the `gpu` extra on a GPU, then the data. (From steer_lib/classroom/install_cell.py)
import glob, importlib.util, os, runpy, shutil, subprocess, urllib.request
KIT = os.environ.get("STEER_KIT", "").strip()
if importlib.util.find_spec("steer_lib") is None:
    if not KIT:
        raise RuntimeError("steer_lib is not installed and STEER_KIT is not set: ask your instructor which copy of the "
                           "kit to use, set os.environ['STEER_KIT'] to it in a cell above, and run this cell again.")
    if not os.path.isdir("steer-kit"):  # fetch the copy once: unpack an archive or a wheel, else clone a repository
        if KIT.split("?")[0].endswith((".tar.gz", ".tgz", ".zip", ".whl")):
            src = urllib.request.urlretrieve(KIT, os.path.basename(KIT.split("?")[0]))[0] if "://" in KIT else KIT
            shutil.unpack_archive(src, "steer-kit", "gztar" if src.endswith("gz") else "zip")
        else:
            subprocess.run(["git", "clone", "--depth", "1", KIT, "steer-kit"], check=True)
    installer = glob.glob("steer-kit/**/steer_lib/install_kit.py", recursive=True)
    if not installer:
        raise RuntimeError(f"STEER_KIT={KIT!r} is not a copy of the kit: it has no steer_lib/install_kit.py")
    runpy.run_path(installer[0])["install"](KIT)'''


def cell(kit_url: str | None = None) -> str:
    """The install cell's text: :data:`INSTALL_CELL`, or with ``kit_url`` (the git URL of a student copy, given to
    ``student-repo --url``) as the default of ``STEER_KIT``, so that a notebook opened from that repository (an
    "Open in Colab" link) installs its own course's copy with nothing to set."""
    if not kit_url:
        return INSTALL_CELL
    if any(c in kit_url for c in "\"'\n") or kit_url != kit_url.strip():
        raise ValueError(f"not a plain URL: {kit_url!r}")
    return INSTALL_CELL.replace(_KIT_LINE, f'{_KIT_LINE} or "{kit_url}"  # the course\'s copy', 1)


def find_install_cell(nb: nbformat.NotebookNode) -> int | None:
    """Index of the notebook's install cell: the code cell tagged :data:`TAG`, else (a notebook not yet synced)
    the first code cell that reads one of :data:`SOURCES`; None when there is neither."""
    for i, c in enumerate(nb.cells):
        if c.cell_type == "code" and TAG in c.metadata.get("tags", []):
            return i
    for i, c in enumerate(nb.cells):
        if c.cell_type == "code" and any(s in c.source for s in SOURCES):
            return i
    return None


def sync(notebooks: list[Path] | None = None, check: bool = False, kit_url: str | None = None) -> list[Path]:
    """Write the install cell (:func:`cell` of ``kit_url``, tagged :data:`TAG`) into each notebook whose install cell
    differs.

    ``notebooks`` defaults to every numbered notebook in ``notebooks/``. Returns the notebooks that differed
    (with ``check=True`` they are only reported, not written). A notebook with no install cell is an error.
    """
    text = cell(kit_url)
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
            raise ValueError(f"{path}: no install cell (a code cell tagged {TAG!r} or reading {SOURCE})")
        code = nb.cells[i]
        tags = code.metadata.get("tags", [])
        if code.source == text and TAG in tags:
            continue
        differ.append(path)
        if not check:
            code.source = text
            code.metadata["tags"] = [*tags, TAG] if TAG not in tags else tags
            nbformat.write(nb, path)
    return differ
