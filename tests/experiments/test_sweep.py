"""The γ×η sweep: YAML/CLI parsing, skipping finished points, recording, failures (stand-ins for the model here),
and, at the end, a real sweep on a tiny random-weight model whose worker processes keep P_θ loaded."""
from __future__ import annotations

import json

import pytest

from steer_lib.experiments import pipeline
from steer_lib.experiments import sweep
from steer_lib.cli import sweep as sweep_cli
from steer_lib.experiments import sweep_config


@pytest.fixture
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv("STEER_RUNS", str(tmp_path / "runs"))
    return tmp_path / "runs"


@pytest.fixture
def fake_notebook(monkeypatch):
    """Stand-in for a point's work -- papermill running notebook 03 (``--notebooks``) or the library calls (the
    default, in this process at jobs=1): writes the samples and metrics a real run writes. ``calls[i]["via"]`` says
    which form ran."""
    calls = []

    def execute(notebook, params, out, *, threads=None, timeout=0):
        calls.append({**params, "via": "notebook"})
        if params["GAMMA"] == 9.0:
            raise pipeline.PipelineError(f"{notebook} {params} failed")
        p = sweep.point_paths(params["TASK"], params["GAMMA"], params["ETA"], params["SEED"], params["PROFILE"],
                         params["N_SAMPLES"])
        p["generation"].parent.mkdir(parents=True, exist_ok=True)
        p["generation"].write_text("".join(json.dumps({"text": f"q{i}?"}) + "\n" for i in range(params["N_SAMPLES"])))
        p["metrics"].parent.mkdir(parents=True, exist_ok=True)
        p["metrics"].write_text(json.dumps({"method": "steer", "gamma": params["GAMMA"], "eta": params["ETA"],
                                            "seed": params["SEED"], "n": params["N_SAMPLES"], "ngram3": 0.5 + params["ETA"],
                                            "mauve": None if params["ETA"] == 0.6 == params["GAMMA"] else 0.9 - params["GAMMA"],
                                            "adv_auroc": 0.7, "seconds": {"total": 1.0}}))
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("{}")

    def generate_point(task, gamma, eta, seed, *, profile, n, base_model=""):
        p = sweep.point_paths(task, gamma, eta, seed, profile, n, base_model)
        execute(sweep.NOTEBOOK, {"PROFILE": profile, "TASK": task, "GAMMA": gamma, "ETA": eta, "SEED": seed,
                                 "N_SAMPLES": n}, p["notebook"])
        p["notebook"].unlink()  # the library form writes no notebook
        calls[-1]["via"] = "library"

    monkeypatch.setattr(pipeline, "execute", execute)
    monkeypatch.setattr(sweep, "generate_point", generate_point)
    monkeypatch.setattr(sweep, "validation_scores", lambda task, texts, **kw: {"mauve": 0.5, "n": len(texts)})
    return calls


def test_yaml_file_parses_and_flags_override(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("profile: smoke\ntask: commonsense\ngammas: [0, 0.6]\netas: [0.3]\nseeds: [0, 1]\nn: 4\n")
    cfg = sweep_config.load_config(f, jobs=2, n=None)
    assert (cfg.profile, cfg.tasks, cfg.gammas, cfg.etas, cfg.seeds, cfg.n, cfg.jobs) == \
        ("smoke", ("commonsense",), (0.0, 0.6), (0.3,), (0, 1), 4, 2)
    assert sweep_config.load_config(f, gammas="0.2,0.4").gammas == (0.2, 0.4)  # CLI strings are coerced


@pytest.mark.parametrize("text, message", [("gama: [0]\n", "no setting 'gama'"), ("gammas: [-1]\n", "must not be negative"),
                                           ("- 1\n", "expected a mapping"), ("tasks: [nope]\n", "nope"),
                                           ("jobs: 0\n", "jobs=0"),
                                           # issue #25 sw12, sw10, sw15, sw18: one line, never a traceback
                                           ("gammas: [0, 0.3\nn: 2\n", r"bad.yaml:\d+: not valid YAML"),
                                           ("x: !!python/object/apply:os.system [echo]\n", "not valid YAML"),
                                           ("seeds: [-1]\n", "seeds must not be negative"),
                                           ("gammas: [.nan]\n", "must be finite"),
                                           ("etas: [.inf]\n", "must be finite")])
def test_yaml_errors_name_the_problem(tmp_path, text, message):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(ValueError, match=message):
        sweep_config.load_config(f)


def test_shipped_configs_match_the_profiles():
    from steer_lib import paths

    from steer_lib.experiments.experiment import ExperimentConfig

    for profile in ("smoke", "quick", "paper"):
        cfg = sweep_config.load_config(paths.root() / "configs" / f"sweep_{profile}.yaml").resolved()
        exp = ExperimentConfig.for_profile(profile)
        assert cfg.profile == profile and (cfg.gammas, cfg.etas, cfg.seeds) == (exp.grid_gammas, exp.grid_etas, exp.seeds)
        assert len(cfg.tasks) == 4


@pytest.mark.parametrize("notebooks", [False, True])
def test_sweep_runs_missing_points_only(runs, fake_notebook, notebooks):
    df = sweep.run_sweep("hypotheses", [0, 0.6], [0, 0.6], [0], profile="smoke", n=3, log=lambda s: None,
                         notebooks=notebooks)
    assert len(fake_notebook) == 4 and len(df) == 4
    assert {c["via"] for c in fake_notebook} == {"notebook" if notebooks else "library"}
    assert {(r.gamma, r.eta) for r in df.itertuples()} == {(0, 0), (0, 0.6), (0.6, 0), (0.6, 0.6)}
    assert set(df["status"]) == {"ran"} and (df["n_samples"] == 3).all() and (df["val_n"] == 3).all()
    sweeps = runs / "smoke" / "sweeps" / "hypotheses"
    rec = json.loads(next((sweeps / "points").glob("*g0.6_e0_*.json")).read_text())
    assert rec["metrics"]["mauve"] == pytest.approx(0.3) and rec["seconds"]["point"] >= 0 and rec["seed"] == 0
    assert rec["runner"] == ("notebook" if notebooks else "library")
    assert (rec["notebook"] is not None) == notebooks == any((sweeps / "executed").glob("*.ipynb"))
    assert df["mauve"].isna().sum() == 1  # a NaN metric (stored as null) stays NaN
    # rerun, with one more seed: only the new seed's points run
    df = sweep.run_sweep("hypotheses", [0, 0.6], [0, 0.6], [0, 1], profile="smoke", n=3, log=lambda s: None,
                         notebooks=notebooks)
    assert len(fake_notebook) == 8 and len(df) == 8
    assert sorted(p["SEED"] for p in fake_notebook[4:]) == [1, 1, 1, 1]


def test_records_from_before_the_library_runner_still_load(runs, fake_notebook):
    sweep.run_sweep("hypotheses", [0.6], [0], [0], profile="smoke", n=3, log=lambda s: None)
    f = next((runs / "smoke" / "sweeps" / "hypotheses" / "points").glob("*.json"))
    rec = json.loads(f.read_text())
    rec["seconds"] = {"notebook": 7.0, "validation": 2.0, "metrics": 1.0}  # the older key
    f.write_text(json.dumps(rec))
    assert sweep.load_sweep("hypotheses", "smoke")["seconds"].tolist() == [9.0]


def test_point_with_existing_metrics_is_recorded_without_running(runs, fake_notebook):
    params = {"TASK": "hypotheses", "GAMMA": 0.3, "ETA": 0.3, "SEED": 0, "PROFILE": "smoke", "N_SAMPLES": 2}
    p = sweep.point_paths("hypotheses", 0.3, 0.3, 0, "smoke", 2)
    pipeline.execute("03_generate.ipynb", params, p["notebook"])  # as notebook 03 in the pipeline would
    rec = sweep.run_point("hypotheses", 0.3, 0.3, 0, profile="smoke", n=2)
    assert rec["status"] == "reused" and len(fake_notebook) == 1
    assert sweep.run_point("hypotheses", 0.3, 0.3, 0, profile="smoke", n=2)["status"] == "cached"


def test_gamma_zero_point_reuses_the_negative_only_set(runs, fake_notebook):
    from steer_lib.experiments.experiment import generation_path, metrics_path

    gen = generation_path("hypotheses", "negative_only", profile="smoke", eta=0.3, n_samples=2)
    metrics = metrics_path(gen)
    for f, text in ((gen, '{"text": "a?"}\n{"text": "b?"}\n'),
                    (metrics, json.dumps({"method": "negative_only", "eta": 0.3, "ngram3": 0.7}))):
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    rec = sweep.run_point("hypotheses", 0.0, 0.3, 0, profile="smoke", n=2)
    assert rec["status"] == "reused" and not fake_notebook and rec["metrics"]["method"] == "negative_only"
    assert (rec["gamma"], rec["eta"], rec["n_samples"]) == (0.0, 0.3, 2)
    sweep.run_point("hypotheses", 0.0, 0.6, 0, profile="smoke", n=2)  # no negative_only set at η=0.6: runs
    assert [(c["GAMMA"], c["ETA"]) for c in fake_notebook] == [(0.0, 0.6)]


@pytest.mark.parametrize("notebooks, jobs", [(True, 2), (False, 1)])  # library jobs>1: the tiny-model test below
def test_failed_point_is_reported_and_others_kept(runs, fake_notebook, notebooks, jobs):
    with pytest.raises(RuntimeError, match="γ=9 η=0 seed=0"):
        sweep.run_sweep("hypotheses", [0, 9], [0], [0], profile="smoke", n=2, jobs=jobs, log=lambda s: None,
                        notebooks=notebooks)
    df = sweep.load_sweep("hypotheses", "smoke")
    assert df[["gamma", "eta"]].values.tolist() == [[0.0, 0.0]]


def test_cli_list_and_bad_flag(runs, fake_notebook, capsys):
    assert sweep_cli.cli(["--profile", "smoke", "--task", "hypotheses", "--gamma", "0,0.6", "--eta", "0", "--list"]) == 0
    out = capsys.readouterr().out
    assert out.count("to run") == 2 and "γ=0.6" in out
    assert sweep_cli.cli(["--profile", "smoke", "--task", "hypotheses", "--eta=-0.5", "--list"]) == 2
    assert "must not be negative" in capsys.readouterr().err


def test_load_sweep_of_nothing_is_empty(runs):
    df = sweep.load_sweep("commonsense", "smoke")
    assert df.empty and "mauve" in df.columns


def test_second_process_waits_for_a_point_in_progress(runs, fake_notebook, tmp_path):
    import subprocess
    import sys
    import textwrap

    p = sweep.point_paths("hypotheses", 0.0, 0.0, 0, "smoke", 2)
    p["record"].parent.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import fcntl, sys, time
        f = open({str(p['record']) + '.lock'!r}, "w"); fcntl.flock(f, fcntl.LOCK_EX)
        print("locked", flush=True); time.sleep(1.5)
        open({str(p['record'])!r}, "w").write('{{"task": "hypotheses", "status": "ran", "by": "other"}}')
    """)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    rec = sweep.run_point("hypotheses", 0.0, 0.0, 0, profile="smoke", n=2)  # blocks until the other finishes
    holder.wait()
    assert rec["by"] == "other" and rec["status"] == "cached" and fake_notebook == []


def test_shards_split_the_plan_disjointly_and_cover_it():
    tasks, g, e, s = ["hypotheses", "commonsense"], [0, 0.3, 0.6], [0, 0.3], [0, 1]
    plan = sweep.sweep_plan(tasks, g, e, s)
    assert len(plan) == 24
    for n in (1, 4, 5, 24, 30):
        slices = [sweep.sweep_plan(tasks, g, e, s, shard=(i, n)) for i in range(1, n + 1)]
        assert sorted(pt for sl in slices for pt in sl) == sorted(plan)  # disjoint and complete
        sizes = [len(sl) for sl in slices]
        assert max(sizes) - min(sizes) <= 1
    assert {t for t, *_ in sweep.sweep_plan(tasks, g, e, s, shard=(1, 5))} == set(tasks)  # interleaved, not by task
    assert sweep.sweep_plan(tasks, g, e, s, shard=(2, 4)) == sweep.sweep_plan(tasks, g, e, s, shard=(2, 4))


@pytest.mark.parametrize("text, message", [("0/4", "between 1 and N=4"), ("5/4", "between 1 and N=4"),
                                           ("1/0", "N must be at least 1"), ("2", "expected I/N"),
                                           ("a/b", "expected I/N"), ("-1/4", "expected I/N")])
def test_bad_shard_is_a_clear_error(runs, capsys, text, message):
    assert sweep_cli.cli(["--profile", "smoke", "--task", "hypotheses", f"--shard={text}", "--list"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: shard") and message in err[0]


def test_shards_run_only_their_points_and_together_the_grid(runs, fake_notebook, capsys):
    args = ["--profile", "smoke", "--task", "hypotheses,commonsense", "--gamma", "0,0.6", "--eta", "0,0.3",
            "--seeds", "0", "--n", "2"]
    assert sweep_cli.cli(args + ["--shard", "2/3", "--list"]) == 0
    out = capsys.readouterr().out
    assert "shard 2/3: 3 of 8 point(s)" in out and out.count("to run") == 3 and not fake_notebook
    ran = []
    for i in (1, 2, 3):
        assert sweep_cli.cli(args + ["--shard", f"{i}/3"]) == 0
        ran.append({(c["TASK"], c["GAMMA"], c["ETA"]) for c in fake_notebook[len(set().union(*ran)):]})
    assert [len(r) for r in ran] == [3, 3, 2] and len(set().union(*ran)) == 8 == len(fake_notebook)
    assert {t for t, *_ in ran[0]} == {"hypotheses", "commonsense"}
    assert sweep_cli.cli(args + ["--shard", "1/3"]) == 0 and len(fake_notebook) == 8  # done points are skipped


def _tiny_task(folder, tokenizer):
    """A 35-text task of the kit's spec format and a 2-layer random Llama in a folder: a real sweep in seconds."""
    import csv

    import yaml

    from conftest import make_tiny_llama

    base = folder / "tiny-base"
    make_tiny_llama(len(tokenizer)).save_pretrained(base)
    tokenizer.save_pretrained(base)
    with open(folder / "tips.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "tip"])
        w.writerows([i, f"Water tomato plant {i} before noon and check the soil."] for i in range(45))
    spec = folder / "tips.yaml"
    spec.write_text(yaml.safe_dump({
        "name": "garden-tips", "prompt": "### Instruction: Write a gardening tip.\n ### Tip:", "max_new_tokens": 12,
        "stop_strings": ["\n", "###"], "validity": {"regex": "(?P<tip>[A-Z].*)"}, "val_size": 5, "test_size": 5,
        "data": {"train": {"files": ["tips.csv"], "text": "tip"}}}), encoding="utf-8")
    return str(spec), str(base)


@pytest.mark.slow
def test_library_sweep_loads_the_model_once_per_process(iso, tokenizer):
    import os

    from steer_lib.experiments.experiment import generation_path
    from steer_lib.files import read_jsonl
    from steer_lib.finetune import finetune

    spec, base = _tiny_task(iso, tokenizer)
    finetune(spec, "smoke", base=base, progress=False)  # the adapter is cached; the points only load it

    def records():  # runs/smoke@tiny-base-<hash>/sweeps/garden-tips/points/*.json
        files = sorted((iso / "runs").glob("smoke@*/sweeps/garden-tips/points/*.json"))
        return {(r["gamma"], r["seed"]): r for r in (json.loads(f.read_text()) for f in files)}

    lines = []
    # two worker processes, four points: each worker loads P_θ for its first point only
    df = sweep.run_sweep(spec, [0.0, 0.3], [0.0], [0, 1], profile="smoke", n=4, jobs=2, base_model=base,
                         log=lines.append)
    recs = records()
    assert len(df) == 4 == len(recs) and {r["status"] for r in recs.values()} == {"ran"}, lines
    assert {r["runner"] for r in recs.values()} == {"library"} and not list((iso / "runs").glob("**/executed/*.ipynb"))
    pids = {r["pid"] for r in recs.values()}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    for pid in pids:
        assert [r["loaded_model"] for r in recs.values() if r["pid"] == pid].count(True) == 1
    for (g, s), r in recs.items():
        gen = generation_path(spec, "steer", profile="smoke", seed=s, gamma=g, eta=0.0, n_samples=4, base_model=base)
        assert len(read_jsonl(gen)) == 4 and r["metrics"]["n"] == 4 and r["val"]["n"] == 4 and r["n_samples"] == 4
    # jobs=1: the points run in this process, and the second reuses the model the first loaded
    sweep.run_sweep(spec, [0.0, 0.3], [0.0], [2], profile="smoke", n=4, jobs=1, base_model=base)
    here = [records()[(g, 2)] for g in (0.0, 0.3)]
    assert [r["pid"] for r in here] == [os.getpid()] * 2 and [r["loaded_model"] for r in here] == [True, False]


def test_cli_runs_library_calls_unless_notebooks_is_asked(runs, fake_notebook):
    args = ["--profile", "smoke", "--task", "hypotheses", "--eta", "0", "--seeds", "0", "--n", "2"]
    assert sweep_cli.cli(args + ["--gamma", "0.6"]) == 0
    assert sweep_cli.cli(args + ["--gamma", "0.3", "--notebooks"]) == 0
    assert [(c["GAMMA"], c["via"]) for c in fake_notebook] == [(0.6, "library"), (0.3, "notebook")]
