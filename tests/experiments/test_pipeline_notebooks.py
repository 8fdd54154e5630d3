"""Notebook hygiene (parameters cell, no outputs, narration) and the papermill pipeline's skip/fail logic."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import nbformat
import papermill
import pytest

from steer_lib.experiments import pipeline

NB_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = sorted(NB_DIR.glob("[0-9][0-9]_*.ipynb"))


def test_notebooks_exist_and_are_numbered_in_order():
    names = [p.name[:2] for p in NOTEBOOKS]
    assert names == [f"{i:02d}" for i in range(len(names))] and len(names) == 9, names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{path.name}: clear outputs before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_cell_has_a_stable_unique_id(path):
    """Without an id, nbformat invents a random one on every read: student versions would differ run to run."""
    import json

    ids = [c.get("id") for c in json.loads(path.read_text(encoding="utf-8"))["cells"]]
    assert None not in ids and len(set(ids)) == len(ids), f"{path.name}: give every cell its own fixed id"


def _is_setup_only(source: str) -> bool:
    """Imports (and the inert hosted-runtime install cell) may come before the parameters cell."""
    tree = ast.parse(source)
    return all(isinstance(node, (ast.Import, ast.ImportFrom)) for node in tree.body) or "find_spec(\"steer_lib\")" in source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_cell_is_first_after_imports_and_flat(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    tagged = [i for i, c in enumerate(code) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: needs exactly one cell tagged 'parameters' (papermill)"
    assert all(_is_setup_only(c.source) for c in code[: tagged[0]]), f"{path.name}: only imports before parameters"
    assert tagged[0] >= 1, f"{path.name}: the imports cell comes first"
    params = papermill.inspect_notebook(str(path))
    assert "PROFILE" in params, f"{path.name}: every notebook takes PROFILE"
    assert "smoke | quick | paper" in params["PROFILE"]["help"]
    for stmt in ast.parse(code[tagged[0]].source).body:
        assert isinstance(stmt, ast.AnnAssign), f"{path.name}: one typed assignment per line (NAME: type = literal)"
        ast.literal_eval(stmt.value)  # a literal: nothing derived in the parameters cell
    for name, p in params.items():
        assert p["help"].strip(), f"{path.name}: parameter {name} needs a comment saying what it is"
        assert p["inferred_type_name"] in ("str", "int", "float", "bool", "list"), (name, p)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_narration_opens_with_goals_and_ends_with_summary_and_exercises(path):
    nb = nbformat.read(path, as_version=4)
    first, last = nb.cells[0], nb.cells[-1]
    assert first.cell_type == "markdown" and "What you will learn" in first.source
    assert "**Time" in first.source, f"{path.name}: say how long it takes at each profile"
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "## Summary" in text and "Exercises" in last.source


def test_plan_covers_every_notebook_in_dependency_order():
    stages = pipeline.plan("smoke")
    order = [j.notebook[:2] for stage in stages for j in stage]
    assert sorted(set(order)) == [p.name[:2] for p in NOTEBOOKS]
    firsts = [min(i for i, o in enumerate(order) if o == nb) for nb in sorted(set(order))]
    assert firsts == sorted(firsts)
    outs = [j.out for stage in stages for j in stage]
    assert len(outs) == len(set(outs)), "two jobs would write the same executed copy"
    assert all(j.params["PROFILE"] == "smoke" for stage in stages for j in stage)


@pytest.fixture()
def toy_notebooks(tmp_path, monkeypatch):
    nb_dir = tmp_path / "notebooks"
    nb_dir.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("X = 1  # a number"), nbformat.v4.new_code_cell(
        "assert X != 13, 'unlucky'\nprint(X * 2)")]
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, nb_dir / "toy.ipynb")
    monkeypatch.setattr(pipeline, "NOTEBOOKS_DIR", nb_dir)
    monkeypatch.setenv("STEER_RUNS", str(tmp_path / "runs"))
    return nb_dir


def test_pipeline_job_runs_injects_parameters_and_then_skips(toy_notebooks):
    job = pipeline.Job("toy.ipynb", {"PROFILE": "smoke", "X": 21}, "smoke")
    assert pipeline.run_job(job, "digest") == "ran"
    out = nbformat.read(job.out, as_version=4)
    assert "42" in json.dumps(out.cells[-1].outputs)  # the injected X=21 was used, not the default
    assert pipeline.run_job(job, "digest") == "cached"
    assert pipeline.run_job(job, "another-library-version") == "ran"  # code changed: re-execute
    changed = pipeline.Job("toy.ipynb", {"PROFILE": "smoke", "X": 5}, "smoke")
    assert changed.out != job.out


def test_pipeline_failure_names_the_executed_copy(toy_notebooks):
    job = pipeline.Job("toy.ipynb", {"PROFILE": "smoke", "X": 13}, "smoke")
    with pytest.raises(pipeline.PipelineError) as exc:
        pipeline.run_job(job, "digest")
    assert str(job.out) in str(exc.value) and job.out.exists()
    assert "unlucky" in job.out.read_text()
    assert not job.out.with_suffix(".stamp").exists()  # a failed job is retried next time


def test_smoke_runs_notebook_02_for_every_task_and_quick_once():
    """CI (smoke) runs 02 per task so a task-specific failure shows; the other profiles run it once."""
    smoke = [j for stage in pipeline.plan("smoke") for j in stage if j.notebook.startswith("02_")]
    assert sorted(j.params["TASK"] for j in smoke) == sorted(pipeline.task_names())
    assert len({j.out for j in smoke}) == len(smoke)
    quick = [j for stage in pipeline.plan("quick") for j in stage if j.notebook.startswith("02_")]
    assert len(quick) == 1 and "TASK" not in quick[0].params


def test_the_decoding_primer_runs_once_per_task():
    for profile in ("smoke", "quick"):
        gen = [j for stage in pipeline.plan(profile) for j in stage if j.notebook.startswith("03_")]
        for task in {j.params["TASK"] for j in gen}:
            with_primer = [j for j in gen if j.params["TASK"] == task and j.params.get("PRIMER", True)]
            assert len(with_primer) == 1, (profile, task, with_primer)
        assert len({j.out for j in gen}) == len(gen), "PRIMER must not change an executed copy's name"
        assert not any("PRIMER" in j.out.name or "False" in j.out.name for j in gen)


def test_executed_copies_carry_no_progress_bars(toy_notebooks):
    nb = nbformat.read(toy_notebooks / "toy.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "from steer_lib.runtime import progress_bar\nfrom transformers.utils import logging as hf_logging\n"
        "for _ in progress_bar(range(3), desc='fine-tune'):\n    pass\n"
        "for _ in hf_logging.tqdm(range(3), desc='Loading weights'):\n    pass\nprint('done')"))
    nbformat.write(nb, toy_notebooks / "bars.ipynb")
    job = pipeline.Job("bars.ipynb", {"PROFILE": "smoke", "X": 1}, "smoke")
    assert pipeline.run_job(job, "digest") == "ran"
    saved = json.dumps(nbformat.read(job.out, as_version=4).cells[-1].outputs)
    assert "done" in saved and "%|" not in saved  # a saved bar would read "0%|"
    assert "fine-tune" not in saved and "Loading weights" not in saved  # the kit's bars and transformers' alike
