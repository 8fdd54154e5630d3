"""Data-parallel fine-tuning under ``accelerate launch`` with two CPU processes (tiny random Llama).

``accelerate launch --cpu --num_processes 2`` starts ONE process in accelerate 1.x unless an MPI
hostfile is given, so the two processes are started the torchrun way (``--multi_gpu``); on a
machine without CUDA ``finetune`` then trains data-parallel on the CPU (gloo).

Both processes draw the same global batch and each trains on its half, with the loss of each
half divided by the token count of the whole batch; so two processes must take the same
steps as one. The test runs the CLI under accelerate and compares it with an in-process run.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from steer_lib.finetune import domain_model as ft
from steer_lib import paths

from test_finetune import TINY  # (iso and tiny_base are conftest fixtures)

DDP = {**TINY, "lora_dropout": 0.0}  # dropout masks differ per process; without it the runs must agree


def test_two_processes_train_like_one(iso, tiny_base, tmp_path):  # noqa: F811
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(paths.root()), os.environ.get("PYTHONPATH", "")]),
           "STEER_RUNS": str(tmp_path / "runs-ddp"), "STEER_THREADS": "1", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "steer_lib", "finetune", "--task", "hypotheses",
           "--profile", "smoke", "--base", tiny_base, "--json", "--no-progress"]
    cmd += [a for k, v in DDP.items() for a in ("--set", f"{k}={v}")]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])  # only the main process prints
    assert out["num_processes"] == 2 and out["cached"] is False
    assert out["eval_loss"] < out["base_eval_loss"]
    two = ft.read_record(out["adapter_path"])
    assert two["num_processes"] == 2 and ft.is_finished(out["adapter_path"])

    one = ft.read_record(ft.finetune("hypotheses", "smoke", base=tiny_base, progress=False, **DDP))
    assert one["num_processes"] == 1 and one["key"] == two["key"]  # the process count is not a setting
    assert [h["loss"] for h in two["history"]] == pytest.approx([h["loss"] for h in one["history"]], rel=1e-3)
    assert two["eval"]["loss"] == pytest.approx(one["eval"]["loss"], rel=1e-3)
    assert two["eval"]["base_loss"] == pytest.approx(one["eval"]["base_loss"], rel=1e-6)
