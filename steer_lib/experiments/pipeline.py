"""``make reproduce``: run the notebooks with papermill, in dependency order, for a profile.

Each notebook run is a *job*: one notebook with injected parameters, executed into
``runs/<profile>/executed/<notebook>__<params>.ipynb``. A job whose notebook source,
parameters and library source are unchanged since its last successful run is skipped
(a stamp beside the executed copy records that), and everything expensive inside the
notebooks -- adapters, generations, embeddings, metrics -- is cached by config hash in
the library. So a rerun after a failure resumes where it stopped, and a rerun with
nothing changed takes seconds.

    python -m steer_lib reproduce --profile quick [--tasks hypotheses commonsense] [--jobs 2]
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .. import paths
from ..config import check_profile
from ..data.tasks import task_names
from ..runtime import no_log
from . import timings

NOTEBOOKS_DIR = paths.root() / "notebooks"
DOWNSTREAM_TASKS = ("comments", "commonsense")


class PipelineError(RuntimeError):
    """A notebook failed; the message names the executed copy that shows the error."""


@dataclass(frozen=True)
class Job:
    notebook: str  # file name in notebooks/
    params: dict = field(default_factory=dict)  # injected into the `parameters` cell
    profile: str = "quick"

    @property
    def out(self) -> Path:
        suffix = "".join(f"__{v}" for k, v in sorted(self.params.items())
                         if k not in ("PROFILE", "SEED", "BASE_MODEL", "PRIMER"))  # the model names the folder
        folder = paths.profile_runs_dir(self.profile, self.params.get("BASE_MODEL", ""))
        return folder / "executed" / f"{Path(self.notebook).stem}{suffix}.ipynb"

    def stamp(self, library_digest: str) -> str:
        h = hashlib.sha256((NOTEBOOKS_DIR / self.notebook).read_bytes())
        h.update(json.dumps(self.params, sort_keys=True).encode())
        h.update(library_digest.encode())
        return h.hexdigest()


def library_digest() -> str:
    """Hash of the library's source: a code change re-runs the notebooks (their heavy work stays cached)."""
    h = hashlib.sha256()
    pkg = Path(__file__).resolve().parents[1]  # steer_lib/, every stage's package included
    for f in sorted(pkg.rglob("*.py")):
        h.update(f.relative_to(pkg).as_posix().encode() + f.read_bytes())
    return h.hexdigest()


def plan(profile: str, tasks: list[str] | None = None, methods: list[str] | None = None,
         base_model: str = "") -> list[list[Job]]:
    """The notebook jobs as stages: every job in a stage may run in parallel; stages run in order.

    ``base_model`` ("" = the embedded SmolLM2-135M) is injected into every notebook as ``BASE_MODEL``.
    """
    from .experiment import ExperimentConfig

    tasks = list(tasks or task_names())
    methods = list(methods or ExperimentConfig.for_profile(profile).methods)
    p = {"PROFILE": profile, "BASE_MODEL": base_model}
    downstream = [d for d in DOWNSTREAM_TASKS if any(t.startswith(d) for t in tasks)]
    return [
        [Job("00_welcome_and_data.ipynb", {**p}, profile)],
        [Job("01_finetune.ipynb", {**p, "TASK": t}, profile) for t in tasks],
        # At smoke (CI), 02 runs for every task, so a task-specific failure (e.g. N over its cap) shows there.
        [Job("02_steer_step_by_step.ipynb", {**p, "TASK": t}, profile) for t in (tasks if profile == "smoke" else [])]
        + ([] if profile == "smoke" else [Job("02_steer_step_by_step.ipynb", {**p}, profile)])
        # 03's decoding primer depends on the task only: the first method's copy shows it, the others skip it
        + [Job("03_generate.ipynb", {**p, "TASK": t, "METHOD": m, **({} if i == 0 else {"PRIMER": False})}, profile)
           for t in tasks for i, m in enumerate(methods)],
        [Job("04_evaluate.ipynb", {**p, "TASK": t}, profile) for t in tasks],
        [Job("05_ablation.ipynb", {**p, "TASK": t}, profile) for t in tasks],
        [Job("06_downstream.ipynb", {**p, "TASK": d}, profile) for d in downstream],
        [Job("07_paper_tables.ipynb", {**p}, profile)],
        [Job("08_findings.ipynb", {**p}, profile)],
    ]


def execute(notebook: str, params: dict, out: Path, *, threads: int | None = None, timeout: int = 4 * 3600) -> None:
    """Run one notebook with papermill in a fresh process (kernel ``python3``, cwd ``notebooks/``).

    The executed copy is written to ``out`` even when the notebook fails, so the error can be read there.
    """
    from ..extras import check

    check("papermill", "running the notebooks")  # one line naming the extra, not a subprocess's traceback
    out.parent.mkdir(parents=True, exist_ok=True)
    # An executed copy is read, not watched: a progress bar saved into it is a frozen "0%|" widget. The kit's bars
    # (runtime.progress_bar) read TQDM_DISABLE; transformers' (weights, GGUF conversion) follow huggingface_hub's switch.
    env = {**os.environ, "TQDM_DISABLE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
    if threads:
        # Parallel jobs split the cores: torch reads OMP_NUM_THREADS at start-up, and an oversubscribed
        # OpenMP pool on a busy CPU is not a little slower but tens of times slower (measured here).
        env.update(STEER_THREADS=str(threads), OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    cmd = [sys.executable, "-m", "papermill", str(NOTEBOOKS_DIR / notebook), str(out), "-k", "python3",
           "--cwd", str(NOTEBOOKS_DIR), "-y", json.dumps(params), "--no-progress-bar", "--log-level", "WARNING"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or "").strip().splitlines()[-15:])
        raise PipelineError(f"{notebook} {params} failed.\nExecuted copy with the error: {out}\n{tail}")


def run_job(job: Job, digest: str, threads: int | None = None, force: bool = False) -> str:
    stamp_file = job.out.with_suffix(".stamp")
    stamp = job.stamp(digest)
    if not force and job.out.exists() and stamp_file.exists() and stamp_file.read_text() == stamp:
        return "cached"
    stamp_file.unlink(missing_ok=True)
    execute(job.notebook, job.params, job.out, threads=threads)
    stamp_file.write_text(stamp)
    return "ran"


def reproduce(profile: str = "quick", tasks: list[str] | None = None, jobs: int = 1, force: bool = False,
              only: list[str] | None = None, log: Callable[[str], None] = no_log,
              base_model: str = "") -> list[tuple[Job, str, float]]:
    """Run every stage of :func:`plan`; stop at the first failure (with the path of its executed copy).

    ``log`` receives a line per notebook as it finishes, and a summary at the end.
    """
    check_profile(profile)
    from .. import data

    data.fetch(progress=False)  # verified and skipped when present; fetched (or mirrored) otherwise
    digest = library_digest()
    threads = max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else None
    done: list[tuple[Job, str, float]] = []
    t_all = time.time()
    for stage in plan(profile, tasks, base_model=base_model):
        stage = [j for j in stage if not only or any(j.notebook.startswith(o) for o in only)]

        def one(job: Job) -> tuple[Job, str, float]:
            t0 = time.time()
            status = run_job(job, digest, threads, force)
            log(f"[{time.time() - t_all:7.0f}s] {status:>6} {time.time() - t0:6.1f}s  {job.out.name}")
            return job, status, time.time() - t0

        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            done += list(pool.map(one, stage))  # the first exception propagates after the stage's running jobs end
    command = " ".join(["python -m steer_lib reproduce --profile", profile, f"--jobs {jobs}"]
                       + (["--tasks", *tasks] if tasks else []) + (["--only", *only] if only else []))
    timings.record_run(profile, done, jobs, base_model, command)  # runs/<profile>/timings.json (times --update)
    log(f"reproduce --profile {profile}: {len(done)} notebooks, {sum(s == 'ran' for _, s, _ in done)} ran, "
        f"{time.time() - t_all:.0f}s. Figures: {paths.figures_dir(profile, base_model)}  "
        f"tables: {paths.results_dir(profile, base_model)}")
    return done
