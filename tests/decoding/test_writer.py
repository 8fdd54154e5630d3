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


def test_resume_after_interrupt_and_torn_write(model, tokenizer, tmp_path, monkeypatch):
    full = writer.generate_file("hypotheses", "steer", 7, tmp_path / "full.jsonl", model=model,
                                      tokenizer=tokenizer, **KW).read_bytes()
    real, calls = writer.generate, []

    def flaky(*a, **kw):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*a, **kw)
    monkeypatch.setattr(writer, "generate", flaky)
    out = tmp_path / "resumed.jsonl"
    with pytest.raises(KeyboardInterrupt):
        writer.generate_file("hypotheses", "steer", 7, out, model=model, tokenizer=tokenizer, **KW)
    monkeypatch.setattr(writer, "generate", real)
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
    monkeypatch.setattr(writer, "generate", lambda *a, **kw: calls.append(1) or [])
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
    real = writer.generate
    def slow(*a, **kw):
        out = real(*a, **kw)
        time.sleep(float(sys.argv[2]))  # time for the parent to kill us between batches
        return out
    writer.generate = slow
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
