"""Generation over two processes (gloo on CPU) writes the file one process writes, byte for byte.

The model is a tiny random-weight Llama saved to a folder with a non-zero LoRA adapter, loaded by
the ``generate`` command itself under the kit's ``launch`` (torchrun with the command line passed
on untouched, ``--n`` included) and under ``accelerate launch``; ``generate_file`` runs under stock
torchrun with a pool of four texts, so each batch's samples change the next batch's negatives.
The batch size (3) does not divide the sample count (8), so the ranks get uneven rows and a short
last batch.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import add_nonzero_lora, make_tiny_llama

from steer_lib.cli import generate as generate_cli
from steer_lib.decoding import distributed

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def folders(tokenizer, tmp_path_factory):
    """``(base folder, adapter folder)`` of a tiny model whose samples differ from each other."""
    d = tmp_path_factory.mktemp("tiny")
    base = make_tiny_llama(len(tokenizer))
    base.model.embed_tokens.weight.data.mul_(0.2)  # less peaked than conftest's: diverse samples, not one repeated
    base.save_pretrained(d / "base")
    tokenizer.save_pretrained(d / "base")
    add_nonzero_lora(base).save_pretrained(d / "adapter")
    return d / "base", d / "adapter"


def _args(folders, method: str, out) -> list[str]:
    base, adapter = folders
    return ["generate", "--task", "hypotheses", "--method", method, "--n", "8", "--batch-size", "3", "--k", "2",
            "--max-new-tokens", "8", "--seed", "5", "--model", str(adapter), "--base", str(base), "--device", "cpu",
            "--no-progress", "--out", str(out)]


def _one_process(folders, method, out):
    assert generate_cli.cli(_args(folders, method, out)[1:]) == 0
    return out.read_bytes()


@pytest.fixture(scope="module")
def steer_one(folders, tmp_path_factory):
    return _one_process(folders, "steer", tmp_path_factory.mktemp("one") / "steer.jsonl")


def _launch(cmd: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": ROOT, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    for v in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(v, None)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


POOL = ["Is dark matter cold?", "Do black holes spin?", "Can stars form in voids?", "Why is the sky dark?"]
KW = dict(seed=3, batch_size=3, negatives_pool_texts=POOL, k=2, max_new_tokens=8, progress=False,
          model_id="tiny", base_model_id="tiny")  # a pool of 4: every batch's samples change the next one's N
_CHILD = """
import os, signal, sys
sys.path[:0] = [{root!r}]
from peft import PeftModel
from steer_lib.decoding import writer
from steer_lib.models import load_base
real = writer.generate_part
def dying(*a, **kw):  # rank 1 is killed in the middle of batch KILL_AT (before its rows are back)
    if os.environ["RANK"] == "1" and kw["batch_offset"] == int(os.environ.get("KILL_AT", -1)):
        os.kill(os.getpid(), signal.SIGKILL)
    return real(*a, **kw)
writer.generate_part = dying
base, tok = load_base({base!r}, device="cpu")
writer.generate_file("hypotheses", "steer", 8, sys.argv[1], model=PeftModel.from_pretrained(base, {adapter!r}).eval(),
                     tokenizer=tok, **{kw!r})
"""


@pytest.fixture(scope="module")
def lib(folders, tmp_path_factory):
    """``(one-process file bytes, model, tokenizer, child script)`` of generate_file with the small pool."""
    from peft import PeftModel

    from steer_lib.decoding.writer import generate_file
    from steer_lib.models import load_base

    d = tmp_path_factory.mktemp("lib")
    base, tok = load_base(str(folders[0]), device="cpu")
    model = PeftModel.from_pretrained(base, str(folders[1])).eval()
    one = generate_file("hypotheses", "steer", 8, d / "one.jsonl", model=model, tokenizer=tok, **KW).read_bytes()
    script = d / "child.py"
    script.write_text(_CHILD.format(root=ROOT, base=str(folders[0]), adapter=str(folders[1]), kw=KW))
    return one, model, tok, script


def test_steer_two_processes_resume_a_torn_file_to_the_one_process_bytes(lib, tmp_path):
    """generate_file under stock torchrun; the file already holds one batch and half a line; the pool grows."""
    one, _, _, script = lib
    lines = one.splitlines(keepends=True)
    assert len(lines) == 8 and len(set(line.split(b'"raw"')[0] for line in lines)) > 4  # diverse samples
    two = tmp_path / "two.jsonl"
    two.write_bytes(b"".join(lines[:3]) + lines[3][:25])  # a run killed while writing its second batch
    _launch([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", str(script), str(two)])
    assert two.read_bytes() == one


def test_a_rank_killed_mid_batch_leaves_the_last_whole_batch(lib, tmp_path):
    from steer_lib.decoding.writer import generate_file

    one, model, tok, script = lib
    out = tmp_path / "killed.jsonl"
    env = {**os.environ, "PYTHONPATH": ROOT, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "KILL_AT": "2"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", str(script),
                           str(out)], env=env, capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert proc.returncode != 0
    assert out.read_bytes() == b"".join(one.splitlines(keepends=True)[:6])  # batches 0 and 1, nothing of 2
    generate_file("hypotheses", "steer", 8, out, model=model, tokenizer=tok, **KW)  # one process resumes it
    assert out.read_bytes() == one


def test_stock_torchrun_passes_the_command_line_on_after_a_double_dash(tmp_path):
    """``torchrun … -m steer_lib -- generate … --n 8`` reaches the kit (without ``--`` torchrun's parser stops)."""
    env = {**os.environ, "PYTHONPATH": ROOT, "HF_HUB_OFFLINE": "1"}
    run = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "1", "-m", "steer_lib"]
    bare = subprocess.run(run + ["generate", "--task", "nope", "--n", "8"], env=env, capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert bare.returncode != 0 and "ambiguous option: --n" in bare.stderr  # torchrun's own parser, not ours
    dashed = subprocess.run(run + ["--", "generate", "--task", "nope", "--n", "8"], env=env, capture_output=True,
                            text=True, timeout=120, cwd=ROOT)
    assert dashed.returncode != 0 and "error: unknown task 'nope'" in dashed.stderr


def test_top_k_two_processes_via_launch_with_n_unchanged(folders, tmp_path):
    """``python -m steer_lib launch --nproc_per_node 2 generate … --n 8``: torchrun without its abbreviations."""
    one = _one_process(folders, "top_k", tmp_path / "one.jsonl")
    two = tmp_path / "two.jsonl"
    _launch([sys.executable, "-m", "steer_lib", "launch", "--nproc_per_node", "2", *_args(folders, "top_k", two)])
    assert two.read_bytes() == one


def test_steer_two_processes_under_accelerate_launch(folders, steer_one, tmp_path):
    one = steer_one
    two = tmp_path / "two.jsonl"
    _launch([sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
             "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "steer_lib",
             *_args(folders, "steer", two)])
    assert two.read_bytes() == one


def test_shard_rows_cover_the_batch_in_order():
    for n in range(0, 9):
        for world in range(1, 5):
            rows = [distributed.shard_rows(n, r, world) for r in range(world)]
            assert rows[0][0] == 0 and rows[-1][1] == n
            assert all(a[1] == b[0] for a, b in zip(rows, rows[1:]))
            assert max(b - a for a, b in rows) - min(b - a for a, b in rows) <= 1


def test_helpers_are_no_ops_on_one_process(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert distributed.setup() == (0, 1) and distributed.is_main()
    assert distributed.all_gather("x") == ["x"] and distributed.broadcast(3) == 3
    distributed.barrier()
    assert distributed.device_for_rank("auto") == "auto"


def test_rows_of_a_batch_are_those_rows_of_the_whole_batch(tokenizer):
    """In one process: decoding a batch in row slices (one empty) gives the whole batch's texts."""
    from steer_lib.decoding.methods import generate_part
    from steer_lib.decoding.negatives import NegativePool

    base = make_tiny_llama(len(tokenizer))
    base.model.embed_tokens.weight.data.mul_(0.2)
    model = add_nonzero_lora(base)
    prompt = "Write a question:"
    for method in ("steer", "top_k"):
        kw = dict(method=method, seed=4, batch_size=5, max_new_tokens=10, batch_offset=3)

        def pool(method=method):
            return {"negatives": NegativePool(POOL, k=2, seed=4)} if method == "steer" else {}  # a fresh pool
        whole = generate_part(model, tokenizer, [prompt] * 5, **kw, **pool())
        assert len(set(whole)) > 2
        parts = [generate_part(model, tokenizer, [prompt] * 5, rows=r, **kw, **pool())
                 for r in ((0, 0), (0, 2), (2, 5))]
        assert parts[0] == [] and parts[1] + parts[2] == whole


def test_one_process_takes_the_same_double_dash_command_line(capsys):
    from steer_lib.__main__ import main

    assert main(["--", "generate", "--task", "nope", "--n", "8"]) == 2
    assert "error: unknown task 'nope'" in capsys.readouterr().err
