"""Measured notebook times have one source, docs/notebook_times.json: the pipeline records what it ran, `times
--update` takes it in and regenerates the docs' tables, and the tables in docs/teaching.md and the README agree."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from steer_lib.experiments import timings
from steer_lib.experiments.pipeline import Job

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(p.name[:2] for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_the_docs_tables_are_the_committed_times():
    assert timings.stale_docs(ROOT) == [], "run `python -m steer_lib times --update` (or --check to see why)"
    for rel in timings.DOCS:
        assert timings.block(ROOT) in (ROOT / rel).read_text(encoding="utf-8")


def test_every_measured_profile_covers_every_notebook_and_names_its_run():
    data = timings.load(ROOT)["profiles"]
    assert {"smoke", "quick"} <= set(data)
    for profile, entry in data.items():
        # every notebook is measured, or named as added since the run (its line then says 'not measured yet')
        assert sorted(set(entry["notebooks"]) | set(entry.get("not_measured", []))) == NOTEBOOKS, profile
        assert not set(entry["notebooks"]) & set(entry.get("not_measured", [])), profile
        assert entry["source"] and entry["date"] and entry["machine"], f"{profile}: which run, when, where"
        for k, nb in entry["notebooks"].items():
            lo, hi = nb["minutes"]
            assert hi > 0 and (lo is None or 0 < lo <= hi), (profile, k)
        if "jobs" in entry:  # a summary of recorded jobs: it must be what they summarise to
            assert {k: {"minutes": v["minutes"], "per": v["per"]} for k, v in entry["notebooks"].items()} == {
                k: {"minutes": v["minutes"], "per": v["per"]} for k, v in timings.summarise(
                    {s: {"notebook": s.split("__")[0], "seconds": sec} for s, sec in entry["jobs"].items()}).items()}


def _job(nb, **params):
    return Job(nb, {"PROFILE": "smoke", **params}, "smoke")


def test_a_run_records_what_it_ran_and_update_takes_it_into_the_docs(iso):
    root = iso
    (root / "docs").mkdir()
    shutil.copy(ROOT / timings.TIMES_FILE, root / timings.TIMES_FILE)
    for rel in timings.DOCS:
        (root / rel).write_text(f"# x\n\n{timings.BEGIN}\nold\n{timings.END}\n\nrest\n", encoding="utf-8")
    done = [(_job("00_welcome_and_data.ipynb"), "ran", 12.0), (_job("01_finetune.ipynb", TASK="hypotheses"), "cached", 0.1),
            (_job("03_generate.ipynb", TASK="hypotheses", METHOD="steer"), "ran", 90.0)]
    path = timings.record_run("smoke", done, jobs=2, command="reproduce --profile smoke")
    assert path == root / "runs" / "smoke" / "timings.json"
    jobs = json.loads(path.read_text())["jobs"]
    assert sorted(jobs) == ["00_welcome_and_data", "03_generate__steer__hypotheses"], "a cached job is no measurement"
    timings.record_run("smoke", [(_job("00_welcome_and_data.ipynb"), "ran", 20.0)], jobs=1)
    jobs = json.loads(path.read_text())["jobs"]
    assert jobs["00_welcome_and_data"]["seconds"] == 20.0 and "03_generate__steer__hypotheses" in jobs, "merged"
    assert timings.record_run("smoke", [(_job("00_welcome_and_data.ipynb"), "cached", 0.0)], jobs=1) is None

    timings.update("smoke", source="a test run", root=root)
    entry = timings.load(root)["profiles"]["smoke"]
    assert entry["notebooks"] == {"00": {"minutes": [0.33, 0.33], "per": "", "runs": 1},
                                  "03": {"minutes": [1.5, 1.5], "per": "per task and method", "runs": 1}}
    assert entry["source"] == "a test run" and "quick" in timings.load(root)["profiles"], "other profiles kept"
    for rel in timings.DOCS:
        text = (root / rel).read_text(encoding="utf-8")
        assert "| 03 | 1.5 min per task and method |" in text and "old" not in text and text.endswith("rest\n")
    assert timings.stale_docs(root) == []
    assert timings.describe("03_generate", "smoke", root).startswith(
        "notebook 03 at profile 'smoke' took 1.5 min per task and method (")


def test_describe_never_raises(tmp_path):
    assert "not measured yet" in timings.describe("02", "paper", ROOT)
    assert "no measured times in this copy" in timings.describe("02", "quick", tmp_path)
    assert timings.describe("02_steer_step_by_step", "smoke", ROOT).startswith("notebook 02 at profile 'smoke' took ")
    assert "(" not in timings.describe("02", "smoke", ROOT, cite=False)
    assert timings.run_of("smoke", ROOT).startswith("measured at 'smoke': ")
    assert "not measured yet" in timings.run_of("paper", ROOT) and "missing" in timings.run_of("quick", tmp_path)


def test_bad_inputs_are_one_line_errors(iso):
    with pytest.raises(timings.TimingsError, match="profile 'fast'"):
        timings.update("fast", root=iso)
    with pytest.raises(timings.TimingsError, match=r"timings.json: missing; run `python -m steer_lib reproduce"):
        timings.update("smoke", root=iso)
    (iso / "README.md").write_text("no block\n")
    with pytest.raises(timings.TimingsError, match="README.md: no generated times block"):
        timings._replace_block("no block\n", "x", "README.md")


def test_cli_prints_the_table_and_checks_the_docs():
    proc = subprocess.run([sys.executable, "-m", "steer_lib", "times", "--check"], cwd=ROOT, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run([sys.executable, "-m", "steer_lib", "times"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("| # | `smoke` | `quick` |")
    proc = subprocess.run([sys.executable, "-m", "steer_lib", "times", "--update", "--profile", "smoke",
                           "--timings", "/nonexistent/timings.json"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.startswith("error: /nonexistent/timings.json: missing")


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.stem[:2])
def test_notebooks_print_their_times_instead_of_typing_them(path):
    """Every notebook prints its measured time from the one source (00 prints all of them); no narration types one."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    typed = [t for c in nb.cells if c.cell_type == "markdown" for t in timings.typed_times(c.source)]
    assert typed == [], f"{path.name} types times in its narration: {typed}"
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    own = "timings.describe(k, PROFILE" if path.stem.startswith("00") else f'timings.describe("{path.stem[:2]}", PROFILE)'
    assert own in code, f"{path.name} does not print its measured time with {own}...)"
