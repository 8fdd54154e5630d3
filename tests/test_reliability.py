"""Issue #25: nothing lost, nothing silently wrong. Each test replays cases of ``shared/reliability-cases.md`` (by
their id) and asserts what the issue asks: no traceback (``_run`` fails on one), no file the kit did not write is
changed, no mixed-model file, and one ``error:`` line naming the problem. The issue's numbered cases: 1 autograde
(here and tests/classroom), 2 outputs (gen16/17/18, exp07, as08), 3 provenance (mix01, metrics, local folders),
4 damaged caches (ad01-05, emb01-05, dcorr01/02, gen26/27), 5 task specs (s27/s28/s05e, s09b/c, s24, redos),
6 commonest mistakes (gen13-35, ev13-18, nodata, not-a-model folders, broken YAML, s05h, data07), 7 work lost
(ft13/ft14), 8 memory (gen34). Cases that need a model use the tiny random-weight ones (tests/conftest.py);
tests/reliability_replay.py replays the whole list through the command line and totals it."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from steer_lib import __main__ as steer

RECORD = {"index": 0, "text": "Is it?", "raw": "Is it?", "valid": True, "reason": "", "fields": {},
          "task": "hypotheses", "method": "top_k", "params": {"top_k": 10}, "seed": 0, "model": "m",
          "base_model": None, "kit_version": "0"}


def _run(argv: list[str], capsys) -> tuple[int, list[str], str]:
    """``python -m steer_lib ARGV`` in this process: exit code, its ``error:`` lines, all of stderr."""
    capsys.readouterr()
    rc = steer.main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    return rc, [line for line in err.splitlines() if line.startswith("error:")], err


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture()
def generations(tmp_path) -> Path:
    f = tmp_path / "g.jsonl"
    f.write_text("".join(json.dumps({**RECORD, "index": i}) + "\n" for i in range(2)))
    return f


# ---------------------------------------------------------------- 2. outputs never destroy what the kit did not write
def test_exp07_export_refuses_a_project_folder_without_force(generations, tmp_path, capsys):
    project = tmp_path / "myproject"
    project.mkdir()
    (project / "README.md").write_text("# my project\n")
    (project / "data.jsonl").write_text('{"mine": 1}\n')
    before = _snapshot(project)
    rc, err, _ = _run(["export", str(generations), "--out", str(project)], capsys)
    assert rc == 2 and len(err) == 1 and str(project) in err[0] and "did not write" in err[0] and "--force" in err[0]
    assert _snapshot(project) == before
    rc, err, _ = _run(["export", str(generations), "--out", str(project), "--force"], capsys)
    assert rc == 0 and (project / "README.md").read_text() != "# my project\n"
    rc, _, _ = _run(["export", str(generations), "--out", str(project)], capsys)  # the kit's export now: a rerun
    assert rc == 0


def test_export_out_dot_would_replace_the_checkouts_readme_and_is_refused_even_with_force(generations, capsys):
    from steer_lib import paths

    readme = (paths.root() / "README.md").read_bytes()
    for extra in ([], ["--force"]):
        rc, err, _ = _run(["export", str(generations), "--out", str(paths.root()), *extra], capsys)
        assert rc == 2 and len(err) == 1 and ("did not write" in err[0] or "checkout" in err[0])
    assert (paths.root() / "README.md").read_bytes() == readme


def test_as08_assignments_generate_refuses_a_folder_of_other_files(tmp_path, capsys):
    out = tmp_path / "release"
    out.mkdir()
    (out / "notes.txt").write_text("keep me\n")
    rc, err, _ = _run(["assignments", "generate", "--out", str(out)], capsys)
    assert rc == 2 and len(err) == 1 and "notes.txt" in err[0] and "--force" in err[0]
    assert _snapshot(out) == {"notes.txt": b"keep me\n"}


@pytest.mark.parametrize("content", [b"my notes\nline two\nline three\n", os.urandom(3000),
                                     b'{"index": 0, "text": "from another tool"}\n'],
                         ids=["gen16-text", "gen17-binary", "other-jsonl"])
def test_gen16_17_generate_out_refuses_a_file_it_did_not_write(content, tmp_path, tokenizer):
    from conftest import make_tiny_llama
    from steer_lib.decoding import writer

    out = tmp_path / "notes.jsonl"
    out.write_bytes(content)
    with pytest.raises(writer.ResumeError, match="is not a generations file written by the kit"):
        writer.generate_file("hypotheses", "top_k", 2, out, model=make_tiny_llama(len(tokenizer)),
                             tokenizer=tokenizer, max_new_tokens=2, progress=False, model_id="tiny")
    assert out.read_bytes() == content


def test_gen18_generate_out_a_folder_is_one_line(tmp_path, tokenizer):
    from steer_lib.decoding import writer

    with pytest.raises(writer.ResumeError, match="is a folder; give a file name"):
        writer.generate_file("hypotheses", "top_k", 2, tmp_path, model=None, tokenizer=tokenizer, progress=False)


# ---------------------------------------------------------------- 6. one error contract
def test_top_level_handler_turns_any_error_into_one_line_exit_2(monkeypatch, capsys):
    from steer_lib.cli import times

    def boom(argv):
        raise PermissionError(13, "Permission denied", "/ro/x")

    monkeypatch.setattr(times, "cli", boom)
    rc, err, _ = _run(["times"], capsys)
    assert rc == 2 and err == ["error: PermissionError: [Errno 13] Permission denied: '/ro/x'"]
    monkeypatch.setenv("STEER_DEBUG", "1")
    with pytest.raises(PermissionError):
        steer.main(["times"])


def test_as02_as03_as07_tm02_missing_and_non_json_files_are_one_line(tmp_path, capsys):
    text = tmp_path / "text.ipynb"
    text.write_text("not a notebook\n")
    binary = tmp_path / "timings.json"
    binary.write_bytes(os.urandom(200) + b"\xff\xfe")
    for argv in (["assignments", "validate", str(tmp_path / "nope.ipynb")],
                 ["assignments", "validate", str(text)],
                 ["assignments", "install-cell", "--check", str(text)]):
        rc, err, _ = _run(argv, capsys)
        assert rc in (1, 2) and len(err) == 1, argv
        assert argv[-1] in err[0] and ("no such notebook" in err[0] or "not a" in err[0]), err
    rc, err, _ = _run(["times", "--update", "--profile", "smoke", "--timings", str(binary)], capsys)
    assert rc == 2 and len(err) == 1 and "timings.json" in err[0], err


# ---------------------------------------------------------------- 6. arguments checked before a model is loaded
@pytest.mark.parametrize("extra, named", [
    (["--n", "-1"], "--n -1"), (["--max-new-tokens", "0"], "--max-new-tokens 0"),
    (["--batch-size", "0"], "--batch-size 0"), (["--k", "0"], "--k 0"), (["--k", "-1"], "--k -1"),
    (["--seed", "-1"], "--seed -1"), (["--device", "bogus"], "device='bogus'"),
    (["--batch-size", "100000000"], "--batch-size 100000000"),
    (["--gamma", "inf"], "gamma=inf"), (["--eta", "inf"], "eta=inf"),
    (["--method", "top_k", "--temperature", "inf"], "temperature=inf"),
    (["--profile", "smoke", "--n", "-1", "--batch-size", "0"], "--n -1"),  # gen35: no fine-tune first
], ids=["gen13", "gen14", "gen15", "gen29", "gen30", "gen31", "gen24", "gen33", "gen26", "gen27", "gen11", "gen35"])
def test_generate_checks_every_argument_before_loading_a_model(extra, named, monkeypatch, tmp_path, capsys):
    from steer_lib.cli import generate as generate_cli

    def must_not_load(args):
        raise AssertionError("a model was loaded before the arguments were checked")

    monkeypatch.setattr(generate_cli, "load_models", must_not_load)
    argv = ["generate", "--task", "hypotheses", "--n", "2", "--out", str(tmp_path / "g.jsonl")]
    if "--method" not in extra:
        argv += ["--method", "steer", "--gamma", "0.3", "--eta", "0.3"]
    rc, err, _ = _run(argv + extra, capsys)
    assert rc == 2 and len(err) == 1 and named in err[0], err
    assert not (tmp_path / "g.jsonl").exists()


def test_non_finite_scores_stop_generation_before_a_record_is_written(tmp_path, tokenizer):
    """ad02 (random bytes in the adapter's weights: NaN logits) and gen26/27: never an empty sample or Infinity."""
    import torch

    from conftest import make_tiny_llama
    from steer_lib.decoding import writer
    from steer_lib.decoding.logits_process import NonFiniteScoresError

    model = make_tiny_llama(len(tokenizer))
    with torch.no_grad():
        model.model.layers[0].mlp.up_proj.weight.fill_(float("nan"))
    out = tmp_path / "nan.jsonl"
    with pytest.raises(NonFiniteScoresError, match="not finite.*finetune --force"):
        writer.generate_file("hypotheses", "top_k", 2, out, model=model, tokenizer=tokenizer, max_new_tokens=3,
                             progress=False, model_id="tiny")
    assert not out.exists() or out.read_bytes() == b""
    with pytest.raises(ValueError, match=r"gamma=inf must be a number >= 0 \(and finite\)"):
        writer.generate_file("hypotheses", "steer", 2, out, model=model, tokenizer=tokenizer, gamma=float("inf"),
                             progress=False)


def test_gen34_max_new_tokens_beyond_memory_is_refused_before_allocating(tmp_path, tokenizer):
    from conftest import make_tiny_llama
    from steer_lib.decoding import writer
    from steer_lib.decoding.memory import MemoryBoundError

    out = tmp_path / "big.jsonl"
    with pytest.raises(MemoryBoundError, match=r"needs about [\d.]+ GiB.*lower --max-new-tokens or --batch-size"):
        writer.generate_file("hypotheses", "top_k", 2, out, model=make_tiny_llama(len(tokenizer)),
                             tokenizer=tokenizer, max_new_tokens=10**12, batch_size=2, progress=False)
    assert not out.exists() or out.read_bytes() == b""


# ---------------------------------------------------------------- 5. contained task specs
def _spec(folder: Path, **fields) -> Path:
    import yaml

    body = {"name": "mine", "prompt": "### Q:", "val_size": 1, "data": {"train": {"files": ["rows.csv"],
                                                                                  "text": "t"}}}
    body.update(fields)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rows.csv").write_text("t\nIs it one?\nIs it two?\nIs it three?\n")
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(body), encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["../../../../probe/ESCAPED", "/tmp/ABSNAME", {"a": 1}, "..", ".hidden", ""],
                         ids=["s27", "s28", "s05e", "dotdot", "hidden", "empty"])
def test_spec_name_must_be_a_safe_slug(name, tmp_path):
    from steer_lib.data import get_task
    from steer_lib.data.spec import TaskSpecError

    with pytest.raises(TaskSpecError, match=r"spec.yaml: name: .* must be 1-64 letters"):
        get_task(str(_spec(tmp_path / "s", name=name)))


def test_s09b_s09c_s24_files_outside_the_spec_folder_are_refused_without_echoing_them(tmp_path, monkeypatch):
    from steer_lib.data import get_task
    from steer_lib.data.spec import ALLOW_OUTSIDE, TaskSpecError

    secret = tmp_path / "secret" / "creds.csv"
    secret.parent.mkdir()
    secret.write_text("username,password,api_key\nalice,hunter2,sk-SECRET-0001\n")
    monkeypatch.delenv(ALLOW_OUTSIDE, raising=False)
    for ref in ("../secret/creds.csv", str(secret)):
        for fields in ({"text": "nosuchcolumn"}, {"template": "{username} {password} {api_key}"}):
            path = _spec(tmp_path / "spec", data={"train": {"files": [ref], **fields}})
            with pytest.raises(TaskSpecError) as exc:
                get_task(str(path)).real_texts("all")
            msg = str(exc.value)
            assert "is outside the spec's folder" in msg and ALLOW_OUTSIDE in msg and "\n" not in msg
            assert not {"username", "password", "api_key", "hunter2"} & set(msg.replace(",", " ").split())
    monkeypatch.setenv(ALLOW_OUTSIDE, "1")  # the documented way to allow it
    path = _spec(tmp_path / "spec", name="allowed", data={"train": {"files": [str(secret)], "text": "username"}})
    assert get_task(str(path)).real_texts("all") == ["alice"]


def test_redos_validity_regex_fails_with_a_message_naming_the_pattern(tmp_path):
    from steer_lib.data import get_task
    from steer_lib.data import validity
    from steer_lib.data.spec import TaskSpecError

    t = get_task(str(_spec(tmp_path / "r", name="redos", validity={"regex": "(a|aa)+b"})))
    with pytest.raises(TaskSpecError, match=r"validity.regex: the pattern '\(a\|aa\)\+b' took more than"):
        validity.regex_parser("(a|aa)+b", t.source, timeout=0.05)("a" * 40)
    t2 = get_task(str(_spec(tmp_path / "r2", name="redos2", validity={"regex": r"(?P<q>(\w+\s?)+\?)"})))
    assert not t2.parse(" ".join(["word"] * 16)).valid  # redos02's pattern and line: answered, not a hang


# ---------------------------------------------------------------- 3, 4. provenance, verified on use
def test_mix01_a_file_of_another_adapter_is_refused_naming_the_run_that_made_it(tmp_path, tokenizer):
    from conftest import add_nonzero_lora, make_tiny_llama
    from steer_lib.decoding import writer

    model = add_nonzero_lora(make_tiny_llama(len(tokenizer)))
    kw = dict(model=model, tokenizer=tokenizer, max_new_tokens=2, batch_size=2, progress=False, model_id="t/smoke+lora")
    out = tmp_path / "mix.jsonl"
    model.steer_adapter = {"key": "aaaa", "weights_sha256": "1" * 64}
    writer.generate_file("hypotheses", "top_k", 2, out, **kw)
    assert json.loads(out.read_text().splitlines()[0])["adapter"] == {"key": "aaaa", "weights_sha256": "1" * 64}
    before = out.read_bytes()
    model.steer_adapter = {"key": "bbbb", "weights_sha256": "2" * 64}  # the CSV was edited: a new P_θ
    with pytest.raises(writer.ResumeError, match=r"was made by adapter aaaa with weights 111111111111…, not by this "
                                                 r"run's adapter bbbb.*mix two models"):
        writer.generate_file("hypotheses", "top_k", 4, out, **kw)
    assert out.read_bytes() == before
    del model.steer_adapter


def _fake_adapter(folder: Path, weights: bytes = b"weights") -> Path:
    import hashlib

    folder.mkdir(parents=True)
    (folder / "adapter_model.safetensors").write_bytes(weights)
    (folder / "adapter_config.json").write_text("{}")
    (folder / "record.json").write_text(json.dumps({"weights_sha256": hashlib.sha256(weights).hexdigest()}))
    return folder


def test_ad01_ad02_ad03_ad05_damaged_adapters_are_refused_on_load_saying_to_retrain(tmp_path):
    from steer_lib.finetune.domain_model import AdapterError, adapter_identity, read_record

    good = _fake_adapter(tmp_path / "good")
    assert adapter_identity(good)["key"] == "good"
    bytes_changed = _fake_adapter(tmp_path / "ad02")
    (bytes_changed / "adapter_model.safetensors").write_bytes(b"weightz")  # same size, other bytes
    truncated = _fake_adapter(tmp_path / "ad01")
    (truncated / "adapter_model.safetensors").write_bytes(b"wei")
    for folder in (bytes_changed, truncated):
        with pytest.raises(AdapterError, match=r"do not match the sha256 saved when it was trained.*finetune .*--force"):
            adapter_identity(folder)
    bad_config = _fake_adapter(tmp_path / "ad03")
    (bad_config / "adapter_config.json").write_text("{not json")
    bad_record = _fake_adapter(tmp_path / "ad05")
    (bad_record / "record.json").write_text("{not json")
    for folder in (bad_config, bad_record):
        with pytest.raises(AdapterError, match=r"is damaged.*--force"):
            adapter_identity(folder)
    with pytest.raises(AdapterError, match=r"record .* is damaged"):
        read_record(bad_record)


def test_dcorr01_dcorr02_real_data_is_verified_on_every_read(tmp_path, monkeypatch):
    from steer_lib import paths
    from steer_lib.data import download

    rel = "astro/hypotheses.json"
    original = (paths.data_dir() / rel).read_bytes()
    data = tmp_path / "data"
    (data / "astro").mkdir(parents=True)
    monkeypatch.setenv("STEER_DATA", str(data))
    (data / rel).write_bytes(original)
    assert download.require(rel) == data / rel
    tampered = original.replace(b"?", b"!", 1)  # valid JSON, same size: what dcorr01 did
    assert len(tampered) == len(original) and tampered != original
    (data / rel).write_bytes(tampered)
    os.utime(data / rel, ns=(1, 1))  # another mtime: a new version of the file is hashed again
    with pytest.raises(download.DataError, match=r"does not match the sha256 of the manifest.*data fetch --only"):
        download.require(rel)
    (data / rel).write_bytes(original[:-10])
    with pytest.raises(download.DataError, match=r"has \d+ bytes, not the \d+ of the manifest"):
        download.require(rel)


def test_a_metrics_file_is_rescored_when_its_generations_change(tmp_path, monkeypatch):
    from steer_lib.experiments import experiment

    monkeypatch.setenv("STEER_RUNS", str(tmp_path / "runs"))
    calls = []
    monkeypatch.setattr("steer_lib.metrics.evaluation.evaluate",
                        lambda texts, real, **kw: calls.append(list(texts)) or {"n": len(texts)})
    n = experiment.ExperimentConfig.for_profile("smoke").n_samples
    gen = experiment.generation_path("hypotheses", "top_k", profile="smoke")
    gen.parent.mkdir(parents=True)
    gen.write_text("".join(json.dumps({"text": f"Is galaxy {i} barred?"}) + "\n" for i in range(n)))
    first = experiment.evaluate_method("hypotheses", "top_k", profile="smoke")
    assert len(calls) == 1 and len(first["generations_sha256"]) == 64
    experiment.evaluate_method("hypotheses", "top_k", profile="smoke")
    assert len(calls) == 1  # unchanged samples: the cached metrics
    gen.write_text("".join(json.dumps({"text": f"Is star {i} variable?"}) + "\n" for i in range(n)))
    second = experiment.evaluate_method("hypotheses", "top_k", profile="smoke")
    assert len(calls) == 2 and calls[1][0] == "Is star 0 variable?"
    assert second["generations_sha256"] != first["generations_sha256"]


def test_emb01_emb02_emb03_emb05_damaged_cached_embeddings_are_recomputed(tmp_path):
    import numpy as np

    from steer_lib.metrics.embeddings import Embedder

    def encode(texts):
        return np.array([[len(t), 1.0, 2.0] for t in texts], dtype=np.float32)

    texts = ["a", "bb", "ccc", "dddd"]
    e = Embedder(encode, model_id="toy", cache_dir=tmp_path)
    want = e.encode(texts)
    paths = [e._path(k) for k in map(__import__("steer_lib.metrics.embeddings", fromlist=["x"]).text_key, texts)]
    raw = paths[0].read_bytes()
    paths[0].write_bytes(raw[:-12] + np.array([np.nan, np.inf, 1], dtype=np.float32).tobytes())  # emb01: bytes
    np.save(paths[1], np.full(3, np.nan, dtype=np.float32))  # emb02: a valid .npy of NaN
    np.save(paths[2], np.ones(7, dtype=np.float32))  # emb03: a valid .npy of another shape
    plausible = np.load(paths[3])
    plausible[:3] = np.array([0.6, 0.0, 0.8], dtype=np.float32)  # emb05: finite, the right shape, another vector
    np.save(paths[3], plausible)
    fresh = Embedder(encode, model_id="toy", cache_dir=tmp_path)
    got = fresh.encode(texts)
    assert np.array_equal(got, want) and fresh.stats["damaged"] == 4 and fresh.stats["computed"] == 4
    again = Embedder(encode, model_id="toy", cache_dir=tmp_path)  # the recomputed files are whole again
    assert np.array_equal(again.encode(texts), want) and again.stats == {"memory": 0, "disk": 4, "computed": 0}


def test_ft13_ft14_finetune_checks_lr_and_writability_before_training(tmp_path, monkeypatch, capsys):
    from steer_lib.cli import finetune as finetune_cli

    def must_not_train(*a, **k):
        raise AssertionError("training started before the checks")

    monkeypatch.setattr(finetune_cli, "finetune", must_not_train)
    blocker = tmp_path / "runs-is-a-file"
    blocker.write_text("not a folder\n")
    monkeypatch.setenv("STEER_RUNS", str(blocker))
    rc, err, _ = _run(["finetune", "--task", "hypotheses", "--profile", "smoke"], capsys)
    assert rc == 2 and len(err) == 1 and "cannot save the adapter under" in err[0] and "nothing was trained" in err[0]
    assert blocker.read_text() == "not a folder\n"
    monkeypatch.setenv("STEER_RUNS", str(tmp_path / "runs"))
    rc, err, _ = _run(["finetune", "--task", "hypotheses", "--profile", "smoke", "--set", "lr=inf"], capsys)
    assert rc == 2 and len(err) == 1 and "lr=inf must be positive and finite" in err[0]


@pytest.mark.parametrize("extra, named", [
    (["--mauve-seeds", "0"], "--mauve-seeds 0"), (["--bootstrap", "-5"], "--bootstrap -5"),
    (["--seed", "-1"], "--seed -1"), (["--embedder", "/nonexistent"], "--embedder /nonexistent"),
    (["--tokenizer", "/nonexistent"], "--tokenizer /nonexistent"),
], ids=["ev13", "ev14", "ev17", "ev15", "ev16"])
def test_evaluate_checks_its_numbers_and_folders_before_scoring(extra, named, tmp_path, monkeypatch, capsys):
    import steer_lib.metrics.evaluation as evaluation

    monkeypatch.setattr(evaluation, "evaluate", lambda *a, **k: (_ for _ in ()).throw(AssertionError("scored")))
    (tmp_path / "real.txt").write_text("Is it one?\nIs it two?\n")
    (tmp_path / "syn.txt").write_text("Is it three?\nIs it four?\n")
    rc, err, _ = _run(["evaluate", "--real", str(tmp_path / "real.txt"), "--synthetic", str(tmp_path / "syn.txt"),
                       *extra], capsys)
    assert rc == 2 and len(err) == 1 and named in err[0], err


def test_older_or_other_adapter_sets_are_moved_aside_and_regenerated_never_deleted(tmp_path, monkeypatch):
    from steer_lib.decoding import writer
    from steer_lib.experiments import experiment

    monkeypatch.setenv("STEER_RUNS", str(tmp_path / "runs"))
    ident = {"key": "k1", "weights_sha256": "a" * 64}
    monkeypatch.setattr(experiment, "cached_adapter", lambda task, profile, base_model="": ident)
    monkeypatch.setattr(experiment, "cached_domain_model", lambda task, profile, base_model="": (None, None))
    made = []

    def fake_generate_file(task, method, n, out, **kw):
        made.append(n)
        out.write_text("".join(json.dumps({**RECORD, "index": i, "adapter": ident}) + "\n" for i in range(n)))
        return out

    monkeypatch.setattr(writer, "generate_file", fake_generate_file)
    n = experiment.ExperimentConfig.for_profile("smoke").n_samples
    out = experiment.generation_path("hypotheses", "top_k", profile="smoke")
    out.parent.mkdir(parents=True)
    legacy = "".join(json.dumps({**RECORD, "index": i}) + "\n" for i in range(n))  # complete, but no adapter named
    out.write_text(legacy)
    with pytest.warns(UserWarning, match="made by another P_θ"):
        recs = experiment.synthetic_records("hypotheses", "top_k", profile="smoke")
    assert made == [n] and all(r["adapter"] == ident for r in recs)
    aside = out.with_name(f"{out.stem}.other-model-unidentified.jsonl")
    assert aside.read_text() == legacy  # kept, not deleted
    assert experiment.synthetic_records("hypotheses", "top_k", profile="smoke") == recs and made == [n]  # reused


def test_exp04_a_binary_generations_file_is_named(tmp_path):
    from steer_lib.experiments.export import ExportError, read_generations

    f = tmp_path / "bin2.jsonl"
    f.write_bytes(b"\x98\x00binary")
    with pytest.raises(ExportError, match=r"bin2.jsonl: not a generations file \(not UTF-8 text: byte 0x98 at offset 0\)"):
        read_generations(f)


# ---------------------------------------------------------------- 3. a local model is keyed by its contents, not its path
def _flip_a_weight_byte(folder: Path) -> None:
    """One byte of the tensor data changed in place (same size; the header is untouched, so it still loads)."""
    weights = folder / "model.safetensors"
    with open(weights, "r+b") as f:
        f.seek(-100, os.SEEK_END)
        b = f.read(1)
        f.seek(-100, os.SEEK_END)
        f.write(bytes([b[0] ^ 0x01]))


def test_a_local_base_is_keyed_by_its_files_not_its_path(tmp_path, tokenizer, monkeypatch, capsys):
    import shutil

    from conftest import make_tiny_llama
    from steer_lib import models
    from steer_lib.finetune import domain_model as ft

    a = tmp_path / "a" / "tiny"
    make_tiny_llama(len(tokenizer)).save_pretrained(a)
    tokenizer.save_pretrained(a)
    b = tmp_path / "b" / "other-name"
    shutil.copytree(a, b)
    (b / "README.md").write_text("# notes about this copy\n")  # documentation is not the model
    ident = models.model_id(str(a))
    assert ident.startswith("local-sha256:") and ident == models.model_id(str(b)) and str(a) not in ident
    assert ft.adapter_dir("hypotheses", "smoke", base=str(a)) == ft.adapter_dir("hypotheses", "smoke", base=str(b))
    # the embedded default keeps its name, so the `quick` caches made with it keep their keys
    assert models.model_id(None) == models.model_id("") == models.DEFAULT_BASE
    assert ft._inputs(ft._task("hypotheses"), ft.FinetuneConfig.for_profile("smoke"), None)["base_model"] == \
        models.DEFAULT_BASE

    out = tmp_path / "g.jsonl"
    argv = ["generate", "--task", "hypotheses", "--method", "top_k", "--max-new-tokens", "2", "--batch-size", "2",
            "--device", "cpu", "--no-progress", "--out", str(out)]
    rc, err, _ = _run(argv + ["--n", "2", "--model", str(a)], capsys)
    assert rc == 0 and not err
    first = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(first) == 2 and first[0]["model"] == ident
    made = out.read_bytes()
    rc, err, _ = _run(argv + ["--n", "2", "--model", str(b)], capsys)  # the same files at another path: the same run
    assert rc == 0 and not err and out.read_bytes() == made

    _flip_a_weight_byte(a)  # one byte of one weight: another model
    changed = models.model_id(str(a))
    assert changed.startswith("local-sha256:") and changed != ident
    assert ft.adapter_dir("hypotheses", "smoke", base=str(a)) != ft.adapter_dir("hypotheses", "smoke", base=str(b))
    rc, err, _ = _run(argv + ["--n", "4", "--model", str(a)], capsys)
    assert rc == 2 and len(err) == 1 and str(out) in err[0] and "model" in err[0], err
    assert "named by the sha256 of its files" in err[0] and "mix two models" in err[0]
    assert out.read_bytes() == made  # refused before anything was cut or appended: no mixed-model file


def test_a_local_embedder_folder_is_keyed_by_its_files_not_its_path(tmp_path):
    import shutil

    from steer_lib.metrics.embeddings import Embedder, model_slug

    a = tmp_path / "enc-a"
    (a / "1_Pooling").mkdir(parents=True)
    (a / "config.json").write_text('{"hidden_size": 4}')
    (a / "1_Pooling" / "config.json").write_text('{"pooling_mode_mean_tokens": true}')
    (a / "model.safetensors").write_bytes(bytes(range(256)) * 4)
    b = tmp_path / "elsewhere" / "enc-b"
    shutil.copytree(a, b)
    ea, eb = Embedder(str(a), cache_dir=tmp_path / "c"), Embedder(str(b), cache_dir=tmp_path / "c")
    assert ea.identity.startswith("local-sha256:") and ea.cache_folder == eb.cache_folder
    assert ea.model_id == str(a)  # what the results report: the name the user gave
    _flip_a_weight_byte(b)
    assert Embedder(str(b), cache_dir=tmp_path / "c").cache_folder != ea.cache_folder
    (b / "1_Pooling" / "config.json").write_text('{"pooling_mode_cls_token": true}')  # a config in a sub-folder counts
    assert len({Embedder(str(p), cache_dir=tmp_path / "c").identity for p in (a, b)}) == 2
    assert Embedder(None).identity == model_slug("all-MiniLM-L6-v2") == "all-MiniLM-L6-v2"  # the default: unchanged


# ---------------------------------------------------------------- found by the replay (tests/reliability_replay.py)
def test_data09_a_mirror_url_of_another_scheme_is_named_not_read_as_a_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STEER_DATA_MIRROR", "ftp://x")
    rc, err, _ = _run(["data", "fetch", "--only", "astro/hyp", "--dest", str(tmp_path / "d")], capsys)
    assert rc in (1, 2) and len(err) == 1 and "'ftp://x'" in err[0] and "http(s)" in err[0], err
    assert not (tmp_path / "d").exists() or not any((tmp_path / "d").rglob("*.json"))


def test_res03_res04_a_record_edited_after_it_was_written_is_damage_not_a_sample(tmp_path, tokenizer):
    from conftest import make_tiny_llama
    from steer_lib.decoding import writer

    kw = dict(model=make_tiny_llama(len(tokenizer)), tokenizer=tokenizer, max_new_tokens=3, batch_size=2,
              progress=False, model_id="tiny")
    ref = tmp_path / "ref.jsonl"
    writer.generate_file("hypotheses", "top_k", 4, ref, **kw)
    lines = ref.read_bytes().splitlines(keepends=True)
    rec = json.loads(lines[2])
    rec["text"] = "An altered text?"  # still valid JSON, still a record: only text == clean(raw) shows it
    edited = b"".join(lines[:2] + [(json.dumps(rec, ensure_ascii=False) + "\n").encode()] + lines[3:])
    out = tmp_path / "edited.jsonl"
    out.write_bytes(edited)
    with pytest.raises(writer.ResumeError, match=r"line 3 of 4 is damaged \(its text is not the cleaned raw"):
        writer.generate_file("hypotheses", "top_k", 4, out, strict=True, **kw)
    assert out.read_bytes() == edited  # strict: refused, untouched
    with pytest.warns(UserWarning, match="line 3 of 4 is damaged"):
        writer.generate_file("hypotheses", "top_k", 4, out, **kw)
    assert out.read_bytes() == ref.read_bytes()  # without: the edited record and what follows are regenerated


# ---------------------------------------------------------------- 6. the commonest mistakes: one line, nothing changed
def test_nodata01_nodata02_s21_forgetting_data_fetch_is_one_line_saying_how(tmp_path, monkeypatch, capsys):
    from steer_lib.cli import finetune as finetune_cli
    from steer_lib.cli import generate as generate_cli

    monkeypatch.setattr(finetune_cli, "finetune", lambda *a, **k: (_ for _ in ()).throw(AssertionError("trained")))
    monkeypatch.setattr(generate_cli, "load_models", lambda a: (_ for _ in ()).throw(AssertionError("loaded")))
    empty = tmp_path / "data"
    empty.mkdir()
    monkeypatch.setenv("STEER_DATA", str(empty))
    monkeypatch.setenv("STEER_RUNS", str(tmp_path / "runs"))
    spec = _spec(tmp_path / "s21", name="s21", data={"train": {"files": ["astro/abstracts.json"], "text": "t"}})
    for argv in (["finetune", "--task", "hypotheses", "--profile", "smoke"],
                 ["generate", "--task", "hypotheses", "--n", "2", "--out", str(tmp_path / "g.jsonl")],
                 ["generate", "--task", str(spec), "--n", "1", "--profile", "smoke", "--out", str(tmp_path / "s.jsonl")]):
        rc, err, _ = _run(argv, capsys)
        assert rc == 2 and len(err) == 1 and "data fetch" in err[0], (argv, err)
    assert list(empty.iterdir()) == [] and not (tmp_path / "g.jsonl").exists()


def test_gen21_gen25_ft11_ev18_a_folder_that_is_not_a_model_is_one_line_naming_it(tmp_path, monkeypatch, capsys):
    from steer_lib.cli import finetune as finetune_cli

    folder = tmp_path / "notamodel"
    folder.mkdir()
    (folder / "README.md").write_text("my notes\n")
    (folder / "config.json").write_text('{"hello": 1}\n')
    before = _snapshot(folder)
    monkeypatch.setattr(finetune_cli, "finetune", lambda *a, **k: (_ for _ in ()).throw(AssertionError("trained")))
    monkeypatch.setenv("STEER_RUNS", str(tmp_path / "runs"))
    (tmp_path / "real.txt").write_text("Is it one?\nIs it two?\n")
    (tmp_path / "syn.txt").write_text("Is it three?\nIs it four?\n")
    out = ["--out", str(tmp_path / "g.jsonl")]
    for argv in (["generate", "--task", "hypotheses", "--n", "1", "--device", "cpu", "--base", str(folder)] + out,
                 ["generate", "--task", "hypotheses", "--n", "1", "--device", "cpu", "--model", str(folder)] + out,
                 ["finetune", "--task", "hypotheses", "--profile", "smoke", "--base", str(folder)],
                 ["evaluate", "--real", str(tmp_path / "real.txt"), "--synthetic", str(tmp_path / "syn.txt"),
                  "--embedder", str(folder)]):
        rc, err, _ = _run(argv, capsys)
        assert rc == 2 and len(err) == 1 and str(folder) in err[0], (argv, err)
    assert _snapshot(folder) == before and not (tmp_path / "g.jsonl").exists()


def test_sw10_sw12_s05h_data07_broken_yaml_a_tiny_csv_and_an_unwritable_folder_are_one_line(tmp_path, monkeypatch,
                                                                                           capsys):
    from steer_lib.cli import generate as generate_cli

    monkeypatch.setattr(generate_cli, "load_models", lambda a: (_ for _ in ()).throw(AssertionError("loaded")))
    syntax, python = tmp_path / "sw_syntax.yaml", tmp_path / "sw_python.yaml"
    syntax.write_text("gammas: [0, 0.3\nn: 2\n")
    python.write_text(f"x: !!python/object/apply:os.system [touch {tmp_path}/PWNED]\n")
    for f in (syntax, python):
        rc, err, _ = _run(["sweep", "-f", str(f)], capsys)
        assert rc == 2 and len(err) == 1 and str(f) in err[0] and "not valid YAML" in err[0], err
    assert not (tmp_path / "PWNED").exists()
    small = _spec(tmp_path / "s05h", name="small")  # 3 rows and the default val_size would leave none to train on
    body = (tmp_path / "s05h" / "spec.yaml").read_text().replace("val_size: 1\n", "")
    (tmp_path / "s05h" / "spec.yaml").write_text(body)
    rc, err, _ = _run(["generate", "--task", str(small), "--n", "1", "--profile", "smoke",
                       "--out", str(tmp_path / "s.jsonl")], capsys)
    assert rc == 2 and len(err) == 1 and "val_size" in err[0] and "spec.yaml" in err[0], err
    blocker = tmp_path / "a-file"
    blocker.write_text("x\n")
    rc, err, _ = _run(["data", "fetch", "--only", "astro/hyp", "--dest", str(blocker / "d")], capsys)
    assert rc == 2 and len(err) == 1 and "a-file" in err[0], err
    assert blocker.read_text() == "x\n"


# ---------------------------------------------------------------- 1. the autograder never deletes, and names who
def test_grade01_an_invalid_submission_is_named_and_the_course_folder_is_kept(tmp_path, capsys):
    """The cheap half of grade01 (tests/classroom grades a whole toy course): every submission is checked before
    anything is written, the one that is not a notebook is named by student and file, and the instructor's files in
    <out>/course survive."""
    subs = tmp_path / "subs" / "alice"
    subs.mkdir(parents=True)
    (subs / "04_evaluate.ipynb").write_text("not json {\n")
    notes = tmp_path / "grades" / "course" / "feedback_notes.txt"
    notes.parent.mkdir(parents=True)
    notes.write_text("alice: good question framing\n")
    before = _snapshot(tmp_path)
    rc, err, _ = _run(["assignments", "autograde", "--submissions", str(tmp_path / "subs"),
                       "--out", str(tmp_path / "grades")], capsys)
    assert rc in (1, 2) and len(err) == 1 and "alice" in err[0] and "04_evaluate" in err[0], err
    after = _snapshot(tmp_path)
    assert {k: v for k, v in after.items() if k in before} == before  # nothing of theirs changed or went away
    assert set(after) - set(before) <= {"grades/invalid_submissions.csv"}  # the only new file: the list of them
