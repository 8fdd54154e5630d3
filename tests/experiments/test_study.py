"""The γ study on a tiny random-weight model: the plan, the whole run, resuming, the summary, the CLI's errors."""
from __future__ import annotations

import json

import pytest

from steer_lib.cli import study as study_cli
from steer_lib.experiments import study

TINY = dict(tasks=("hypotheses",), lr=5e-2, max_steps=4, eval_every=2, patience=0, checkpoints=(2,), n_samples=24,
            batch_size=12, gammas=(0.0, 0.5), guarded_gammas=(0.5,), eta_gammas=(0.0, 0.5), k_neg=2,
            top_k_temperatures=(0.7,), nucleus_top_ps=(0.9,), reps=6, max_new_tokens=16)


def test_plan_pairs_every_gamma_with_its_gamma_zero_partner():
    cfg = study.StudyConfig()
    specs = study.plan(cfg, final_step=200)
    tags = {(s.step, s.tag) for s in specs}
    assert len(tags) == len(specs), "two sets of the plan would share a file"
    assert sorted({s.step for s in specs}) == [40, 120, 200]  # the kept checkpoints below the final one, and it
    for s in specs:
        if s.partner is not None:
            assert (s.partner.step, s.partner.tag) in tags and s.partner.settings["gamma"] == 0
            assert s.partner.settings["eta"] == s.settings["eta"] and "plausibility" not in s.partner.settings
    guarded = [s for s in specs if "plausibility" in s.settings]
    assert guarded and all(s.settings["plausibility"] == cfg.guard and s.partner is not None for s in guarded)
    assert study.steer_spec(40, 0.3, 0.3, cfg, 0.1).tag == "steer_g0.3_e0.3_a0.1"
    assert {s.tag for s in specs if s.method != "steer"} == {"top_k_T0.7", "top_k_T0.85", "nucleus_p0.9",
                                                               "nucleus_p0.95"}
    # a plateau before a requested checkpoint drops it instead of asking for an adapter that was never kept
    assert sorted({s.step for s in study.plan(cfg, final_step=80)}) == [40, 80]


@pytest.mark.parametrize("bad, word", [(dict(gammas=(0.3,)), "include 0.0"), (dict(guard=0.0), "guard"),
                                       (dict(checkpoints=(30,)), "multiples"), (dict(eta=float("inf")), "eta"),
                                       (dict(gammas=(0.0, -1.0)), "gammas"), (dict(n_samples=0), "n_samples")])
def test_bad_settings_are_named(bad, word):
    with pytest.raises(ValueError, match=word):
        study.StudyConfig().replace(**bad)


def test_the_whole_study_runs_resumes_and_reads_without_prose(iso, tiny_base, capsys):
    cfg = study.StudyConfig().replace(base_model=tiny_base, **TINY)
    done = study.run(cfg, progress=False)
    summary = done["hypotheses"]
    assert summary == json.loads(study.summary_file("hypotheses", tiny_base).read_text())
    assert study.figure_file("hypotheses", tiny_base).stat().st_size > 10_000
    steps = [e["step"] for e in summary["training"]["evals"]]
    assert steps == [0, 2, 4] and summary["training"]["steps_trained"] == 4
    specs = study.plan(cfg, 4)
    assert len(summary["sets"]) == len(specs)
    for row in summary["sets"]:
        records = [json.loads(x) for x in open(study.study_dir(tiny_base) / row["generations"])]
        assert len(records) == cfg.n_samples
        assert records[0]["params"]["gamma"] == row.get("gamma", records[0]["params"]["gamma"])
        if row.get("plausibility"):
            assert records[0]["params"]["plausibility"] == row["plausibility"]
        if row["method"] == "steer" and row["gamma"] > 0:
            assert row["vs"] == study.steer_spec(row["step"], 0.0, row["eta"], cfg).tag
            for col in study.TESTED:
                d = row["diff"][col]
                assert d["ci"][0] is None or d["ci"][0] <= d["diff"] <= d["ci"][1]  # null only when undefined
    # step 2's sets were decoded by the checkpoint kept after 2 updates, step 4's by the final adapter
    models = {row["step"]: json.loads(open(study.study_dir(tiny_base) / row["generations"]).readline())["model"]
              for row in summary["sets"]}
    assert models == {2: "hypotheses/study+lora@2", 4: "hypotheses/study+lora@4"}
    table = study.markdown(summary)
    assert table.count("\n") == 2 + sum("diff" in r for r in summary["sets"]) - 1 and "| 4 | 0.3 | 0.5 | 0.1 |" in table
    lines = study.conclusion(summary)
    assert lines[0].startswith("hypotheses: P_θ trained 4 updates") and any("After 4 updates, η=0.3: γ=0.5" in x for x in lines)

    # Generating only the step-2 sets (a shard, a partial rerun) still decodes them from the step-2 checkpoint,
    # never from the final adapter: the files come out as the whole run made them.
    import shutil
    step2 = study.study_dir(tiny_base) / "generations" / "hypotheses" / "step2"
    before = {p.name: p.read_bytes() for p in step2.glob("*.jsonl")}
    step4 = {p.name: p.read_bytes() for p in (step2.parent / "step4").glob("*.jsonl")}
    assert any(before[k].replace(b"@2", b"") != step4[k].replace(b"@4", b"") for k in before), \
        "the step-2 and final adapters decode alike here: this check could not tell them apart"
    shutil.rmtree(step2)
    study.generate_sets("hypotheses", cfg, [s for s in specs if s.step == 2], 4, progress=False)
    assert {p.name: p.read_bytes() for p in step2.glob("*.jsonl")} == before

    # A rerun generates nothing and rescores nothing; a changed generations file is rescored.
    mtimes = {p: p.stat().st_mtime_ns for p in (study.study_dir(tiny_base) / "metrics").rglob("*.json")}
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert strip(study.run(cfg, progress=False)["hypotheses"]["sets"]) == strip(summary["sets"])
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes
    gen = study.study_dir(tiny_base) / summary["sets"][0]["generations"]
    lines_ = gen.read_text().splitlines(keepends=True)
    gen.write_text("".join(lines_[:-12]))  # the last batch lost (a killed run): regenerated, identically
    again = study.run(cfg, progress=False)["hypotheses"]
    assert gen.read_text() == "".join(lines_)
    assert strip(again["sets"]) == strip(summary["sets"])  # the same samples, scores and intervals


def test_cli_errors_are_one_line(iso, capsys):
    assert study_cli.cli(["--tasks", "no-such-task", "--list"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "no-such-task" in err and err.count("\n") == 1
    assert study_cli.cli(["--set", "guard=2", "--list"]) == 2
    assert "guard=2" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        study_cli.cli(["--shard", "3/2"])
    assert "--shard" in capsys.readouterr().err


def test_cli_list_shows_the_plan_without_running(iso, capsys):
    assert study_cli.cli(["--tasks", "hypotheses", "--list"]) == 0
    out = capsys.readouterr().out
    assert "P_θ to train" in out and out.count("todo") == len(study.plan(study.StudyConfig(), 320))
