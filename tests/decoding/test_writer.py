"""generate_file / the generate command: records, resume after interruption and after SIGKILL."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import add_nonzero_lora, make_tiny_llama
from steer_lib.decoding import writer
from steer_lib.data.tasks import get_task

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POOL = ["Is dark matter cold?", "Do black holes spin?", "Can stars form in voids?", "Why is the sky dark?"]
KW = dict(seed=3, batch_size=2, negatives_pool_texts=POOL, k=2, max_new_tokens=6, progress=False,
          model_id="tiny", base_model_id="tiny")


@pytest.fixture(scope="module")
def model(tokenizer):
    return add_nonzero_lora(make_tiny_llama(len(tokenizer)))


def test_records_and_byte_identical_rerun(model, tokenizer, tmp_path):
    a = writer.generate_file("hypotheses", "steer", 5, tmp_path / "a.jsonl", model=model, tokenizer=tokenizer,
                                   **KW)
    recs = [json.loads(line) for line in a.read_text().splitlines()]
    assert [r["index"] for r in recs] == list(range(5))
    task = get_task("hypotheses")
    for r in recs:
        assert r["text"] == task.clean(r["raw"]) and r["valid"] == task.parse(r["text"]).valid
        assert r["method"] == "steer" and r["seed"] == 3 and r["params"]["gamma"] == 0.2 and r["params"]["k"] == 2
        assert r["model"] == "tiny" and r["kit_version"]
    b = writer.generate_file("hypotheses", "steer", 5, tmp_path / "b.jsonl", model=model, tokenizer=tokenizer,
                                   **KW)
    assert a.read_bytes() == b.read_bytes()
    before = a.read_bytes()  # re-running a finished file is a no-op
    writer.generate_file("hypotheses", "steer", 5, a, model=model, tokenizer=tokenizer, **KW)
    assert a.read_bytes() == before


def test_records_name_the_negatives_each_sample_was_steered_from(model, tokenizer, tmp_path):
    from steer_lib.decoding import NegativePool

    out = writer.generate_file("hypotheses", "steer", 6, tmp_path / "n.jsonl", model=model, tokenizer=tokenizer,
                               gamma=0.2, eta=0.3, **KW)
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    # The same pool, rebuilt as the writer grew it: each record's ids must name what its sample drew.
    pool = NegativePool(POOL, k=KW["k"], seed=KW["seed"], clean=get_task("hypotheses").clean)
    for b in range(0, 6, KW["batch_size"]):
        batch = recs[b:b + KW["batch_size"]]
        for r in batch:
            assert r["negative_ids"] == pool.draw_indices(r["index"]) and len(r["negative_ids"]) == KW["k"]
            assert r["negative_is_real"] == [i < len(POOL) for i in r["negative_ids"]]
        pool.add([r["raw"] for r in batch])
    assert all(all(r["negative_is_real"]) for r in recs[:KW["batch_size"]])  # the first batch sees real data only
    top = writer.generate_file("hypotheses", "top_k", 2, tmp_path / "t.jsonl", model=model, tokenizer=tokenizer,
                               **KW)
    assert "negative_ids" not in json.loads(top.read_text().splitlines()[0])  # no N, no columns


def test_records_say_how_many_tokens_and_why_each_sample_ended(model, tokenizer, tmp_path):
    from steer_lib.decoding import generate

    for method in ("top_k", "beam"):
        out = writer.generate_file("hypotheses", method, 4, tmp_path / f"{method}.jsonl", model=model,
                                   tokenizer=tokenizer, **KW)
        for r in (json.loads(line) for line in out.read_text().splitlines()):
            assert r["stop"] in ("eos", "stop", "length") and 0 <= r["n_tokens"] <= KW["max_new_tokens"]
            if r["stop"] == "stop":
                assert any(s in r["raw"] for s in get_task("hypotheses").stop_strings)
    # The engine's counts: forced to the full length, every sample says so.
    res = generate(model, tokenizer, ["A prompt"] * 3, method="top_k", max_new_tokens=5, ignore_eos=True)
    assert res.stats == [{"n_tokens": 5, "stop": "length"}] * 3
    assert [len(ids) for ids in res.token_ids] == [5] * 3
    assert res == [tokenizer.decode(ids, skip_special_tokens=True) for ids in res.token_ids]


def test_resume_after_interrupt_and_torn_write(model, tokenizer, tmp_path, monkeypatch):
    full = writer.generate_file("hypotheses", "steer", 7, tmp_path / "full.jsonl", model=model,
                                      tokenizer=tokenizer, **KW).read_bytes()
    real, calls = writer.generate_part, []

    def flaky(*a, **kw):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*a, **kw)
    monkeypatch.setattr(writer, "generate_part", flaky)
    out = tmp_path / "resumed.jsonl"
    with pytest.raises(KeyboardInterrupt):
        writer.generate_file("hypotheses", "steer", 7, out, model=model, tokenizer=tokenizer, **KW)
    monkeypatch.setattr(writer, "generate_part", real)
    assert len(out.read_text().splitlines()) == 4  # two whole batches survived
    with open(out, "ab") as f:  # a torn write of the next batch: one whole line and half of another
        lines = full.splitlines(keepends=True)
        f.write(lines[4] + lines[5][:20])
    writer.generate_file("hypotheses", "steer", 7, out, model=model, tokenizer=tokenizer, **KW)
    assert out.read_bytes() == full


def test_second_writer_waits_for_the_first_and_adds_nothing(model, tokenizer, tmp_path, monkeypatch):
    """Two processes asking for the same set: the second blocks on the lock, then finds it complete."""
    full = writer.generate_file("hypotheses", "steer", 4, tmp_path / "full.jsonl", model=model,
                                      tokenizer=tokenizer, **KW).read_bytes()
    out = tmp_path / "shared.jsonl"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import fcntl, time
        f = open({str(out) + '.lock'!r}, "w"); fcntl.flock(f, fcntl.LOCK_EX)
        print("locked", flush=True); time.sleep(1.0)
        open({str(out)!r}, "wb").write({full!r})
    """)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    calls = []
    monkeypatch.setattr(writer, "generate_part", lambda *a, **kw: calls.append(1) or [])
    t = time.perf_counter()
    writer.generate_file("hypotheses", "steer", 4, out, model=model, tokenizer=tokenizer, **KW)
    holder.wait()
    assert time.perf_counter() - t > 0.5 and calls == [] and out.read_bytes() == full


def test_other_settings_refuse_to_resume(model, tokenizer, tmp_path):
    out = writer.generate_file("hypotheses", "steer", 2, tmp_path / "x.jsonl", model=model,
                                     tokenizer=tokenizer, **KW)
    before = out.read_bytes()
    with pytest.raises(ValueError, match="different settings"):
        writer.generate_file("hypotheses", "steer", 4, out, model=model, tokenizer=tokenizer,
                                   **{**KW, "gamma": 0.5})
    assert out.read_bytes() == before


def test_baseline_methods_write_records(model, tokenizer, tmp_path):
    for method in ("top_k", "nucleus", "low_temperature", "contrastive_decoding", "negative_only", "beam",
                   "contrastive_search"):
        out = writer.generate_file("commonsense", method, 2, tmp_path / f"{method}.jsonl", model=model,
                                         tokenizer=tokenizer, **KW)
        recs = [json.loads(line) for line in out.read_text().splitlines()]
        assert len(recs) == 2 and all(r["method"] == method for r in recs)
        assert recs[0]["params"]["k"] == (2 if method == "negative_only" else None)


_CHILD = textwrap.dedent("""
    import sys, time
    sys.path[:0] = [{root!r}, {tests!r}]
    from conftest import make_tiny_llama, add_nonzero_lora
    from steer_lib.decoding import writer
    from steer_lib.models import load_tokenizer
    tok = load_tokenizer()
    model = add_nonzero_lora(make_tiny_llama(len(tok)))
    real = writer.generate_part
    def slow(*a, **kw):
        out = real(*a, **kw)
        time.sleep(float(sys.argv[2]))  # time for the parent to kill us between batches
        return out
    writer.generate_part = slow
    writer.generate_file("hypotheses", "steer", 8, sys.argv[1], model=model, tokenizer=tok, **{kw!r})
""")


def test_sigkill_mid_run_loses_nothing(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(_CHILD.format(root=ROOT, tests=os.path.join(ROOT, "tests"), kw=KW))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    full, killed = tmp_path / "full.jsonl", tmp_path / "killed.jsonl"
    subprocess.run([sys.executable, str(script), str(full), "0"], check=True, env=env, timeout=300)
    proc = subprocess.Popen([sys.executable, str(script), str(killed), "1.0"], env=env)
    deadline = time.time() + 240
    while time.time() < deadline and (not killed.exists() or len(killed.read_bytes().splitlines()) < 2):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    n_before = len(killed.read_bytes().splitlines())
    assert 2 <= n_before < 8, "the child should have been killed mid-run"
    subprocess.run([sys.executable, str(script), str(killed), "0"], check=True, env=env, timeout=300)
    assert killed.read_bytes() == full.read_bytes()


def _damage_middle(path, line_no: int) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    lines[line_no - 1] = b'{"index": 4, "te\n'  # a corrupt line that is not the last one
    path.write_bytes(b"".join(lines))


def test_damage_in_the_middle_warns_with_file_line_and_count_then_regenerates(model, tokenizer, tmp_path):
    full = writer.generate_file("hypotheses", "steer", 7, tmp_path / "full.jsonl", model=model,
                                tokenizer=tokenizer, **KW).read_bytes()
    out = tmp_path / "damaged.jsonl"
    out.write_bytes(full)
    _damage_middle(out, 5)  # record 4 (line 5): batches of 2 keep lines 1-4, cut 3 lines, regenerate 3
    with pytest.warns(UserWarning) as rec:
        writer.generate_file("hypotheses", "steer", 7, out, model=model, tokenizer=tokenizer, **KW)
    msg = str(rec[0].message)
    assert str(out) in msg and "line 5 of 7" in msg and "not a JSON record" in msg
    assert "first 4 record(s)" in msg and "regenerates 3 record(s)" in msg
    assert out.read_bytes() == full


def test_damage_in_the_middle_with_strict_refuses_and_leaves_the_file(model, tokenizer, tmp_path):
    out = writer.generate_file("hypotheses", "steer", 6, tmp_path / "x.jsonl", model=model, tokenizer=tokenizer, **KW)
    lines = out.read_bytes().splitlines(keepends=True)
    lines[2] = lines[3]  # a duplicated record: index 3 on line 3
    out.write_bytes(b"".join(lines))
    before = out.read_bytes()
    with pytest.raises(writer.ResumeError, match=r"line 3 of 6 is damaged \(record index 3 where 2 was expected\)"):
        writer.generate_file("hypotheses", "steer", 6, out, model=model, tokenizer=tokenizer, strict=True, **KW)
    assert out.read_bytes() == before


def test_a_torn_last_line_is_resumed_quietly_even_with_strict(model, tokenizer, tmp_path, recwarn):
    full = writer.generate_file("hypotheses", "steer", 4, tmp_path / "full.jsonl", model=model,
                                tokenizer=tokenizer, **KW).read_bytes()
    out = tmp_path / "torn.jsonl"
    out.write_bytes(full[: len(full) - 30])
    writer.generate_file("hypotheses", "steer", 4, out, model=model, tokenizer=tokenizer, strict=True, **KW)
    assert out.read_bytes() == full and not [w for w in recwarn if "damaged" in str(w.message)]


def _cli_args(base, adapter, out, *extra):
    return ["--task", "hypotheses", "--n", "2", "--batch-size", "2", "--k", "2", "--max-new-tokens", "4",
            "--model", str(adapter), "--base", str(base), "--device", "cpu", "--no-progress", "--out", str(out),
            *extra]


@pytest.fixture(scope="module")
def saved(tokenizer, tmp_path_factory):
    d = tmp_path_factory.mktemp("saved")
    base = make_tiny_llama(len(tokenizer))
    base.save_pretrained(d / "base")
    tokenizer.save_pretrained(d / "base")
    add_nonzero_lora(base).save_pretrained(d / "adapter")
    return d / "base", d / "adapter"


def _error_lines(capsys) -> list[str]:
    err = capsys.readouterr().err  # besides transformers' "Loading weights" bars: one error line, no traceback
    assert "Traceback" not in err
    return [line for line in err.splitlines() if line.startswith("error:")]


def test_cli_errors_are_one_line_exit_2(saved, tmp_path, capsys):
    from steer_lib.cli import generate as generate_cli

    base, adapter = saved
    out = tmp_path / "set.jsonl"
    assert generate_cli.cli(_cli_args(base, adapter, out)) == 0
    capsys.readouterr()
    # resuming with other settings
    assert generate_cli.cli(_cli_args(base, adapter, out, "--gamma", "0.5")) == 2
    err = _error_lines(capsys)
    assert len(err) == 1 and "different settings" in err[0]
    # damage in the middle under --strict
    lines = out.read_bytes().splitlines(keepends=True)
    out.write_bytes(lines[0] + b"garbage\n" + lines[1])
    assert generate_cli.cli(_cli_args(base, adapter, out, "--strict")) == 2
    err = _error_lines(capsys)
    assert len(err) == 1 and "line 2 of 3 is damaged" in err[0] and "refusing to resume (strict)" in err[0]
    # a first line that is not a kit record: someone else's file, refused even without --strict, left untouched
    out.write_bytes(b"garbage\n" + lines[1])
    before = out.read_bytes()
    assert generate_cli.cli(_cli_args(base, adapter, out)) == 2
    err = _error_lines(capsys)
    assert len(err) == 1 and "not a generations file written by the kit" in err[0] and out.read_bytes() == before
    # a base folder that does not exist
    assert generate_cli.cli(_cli_args(tmp_path / "no" / "such", adapter, tmp_path / "fresh.jsonl")) == 2
    err = _error_lines(capsys)
    assert len(err) == 1 and "model folder" in err[0] and "does not exist" in err[0] and "no/such" in err[0]


def test_uncached_hub_id_offline_is_a_clear_error(monkeypatch):
    from steer_lib import models

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(models.ModelNotFoundError, match="no-such-model.*not.*in the local cache.*HF_HUB_OFFLINE=1.*HF_HUB_OFFLINE=0"):
        models.resolve_base("steer-kit-test/no-such-model")
    with pytest.raises(models.ModelNotFoundError, match="does not exist"):
        models.resolve_base("/no/such/folder")
