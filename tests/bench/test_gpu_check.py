"""``make gpu-check`` end to end on CPU (tiny shapes), in a process where the kit's heavy packages cannot be imported.

A GPU machine has torch, transformers, peft and accelerate only: the check must not import gguf, mauve,
papermill, sentence-transformers or datasets, even indirectly. The subprocess installs a ``sys.meta_path``
finder that raises on any of them, then runs ``python -m steer_lib gpu-check --tiny``.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BLOCKED = ("gguf", "mauve", "papermill", "sentence_transformers", "datasets")
RUNNER = """
import runpy, sys
BLOCKED = {blocked!r}
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"gpu-check must not import {{name}} (blocked by the test)")
        return None
sys.meta_path.insert(0, Block())
sys.argv = ["steer_lib"] + {argv!r}
try:
    runpy.run_module("steer_lib", run_name="__main__")
finally:
    leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    assert not leaked, leaked
"""

SHAPE_KEYS = {"architecture", "params_m", "negative_tokens_k10", "negative_tokens_k2", "exactness_fp32", "bf16",
              "peak_memory_mb", "seconds"}
BF16_KEYS = {"plain_tok_s", "steer_k10_split_tok_s", "steer_k10_merged_tok_s", "steer_k2_split_tok_s",
             "steer_k2_merged_tok_s", "hf_cfg_tok_s", "reference_tok_s", "steer_k10_split_vs_plain",
             "steer_k2_split_vs_plain", "merged_vs_split_k10", "merged_vs_split_k2", "steer_vs_reference",
             "steer_vs_hf_cfg", "best_layout_k10"}


def run_blocked(argv: list[str], timeout: int = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, "-c", RUNNER.format(blocked=BLOCKED, argv=argv)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_gpu_check_tiny_end_to_end_without_heavy_packages(tmp_path):
    out = tmp_path / "gpu_check.json"
    p = run_blocked(["gpu-check", "--tiny", "--out", str(out)])
    assert p.returncode == 0, p.stderr[-3000:]
    line = p.stdout.strip().splitlines()[-1]
    res = json.loads(line)
    assert out.read_text(encoding="utf-8").strip() == line  # one JSON line, printed and written
    # Under a minute is the target (≈ 30 s measured on a busy 2-core CPU); 90 s leaves room for a busier one.
    assert res["ok"] is True and res["complete"] is True and res["tiny"] is True and res["device"] == "cpu"
    assert res["seconds"] < 90
    assert {"python", "torch", "transformers", "peft", "accelerate", "bitsandbytes", "cuda"} <= set(res["versions"])
    assert res["apis"]["LlamaForCausalLM.cache_kwarg"] in ("cache", "past_key_values")
    assert res["dtype"] == "bfloat16" and res["exactness_dtype"] == "float32"
    assert res["lengths"]["prompt"] == 30
    assert set(res["shapes"]) == {"smollm2-135m", "smollm2-1.7b", "falcon-7b"}
    for name, shape in res["shapes"].items():
        assert set(shape) - {"peak_memory_fp32_mb"} == SHAPE_KEYS, name  # the fp32 peak: CUDA only
        assert set(shape["bf16"]) == BF16_KEYS, name
        assert all(shape["bf16"][k] > 0 for k in BF16_KEYS - {"best_layout_k10"}), name
        assert shape["negative_tokens_k10"] > 3 * shape["negative_tokens_k2"]
        for layout in ("split", "merged"):
            ex = shape["exactness_fp32"][layout]
            assert ex["max_abs_diff_scores"] < 1e-4 and ex["token_agreement"] == 1.0 and ex["steps"] > 0, (name, layout)
    assert res["shapes"]["falcon-7b"]["architecture"] == "FalconForCausalLM"
    assert "skipped" in res["qlora"]  # no CUDA here: a stated skip


def test_full_shapes_are_the_real_ones():
    from steer_lib.bench.gpu_check import load_config

    small, mid, falcon = (load_config(s, tiny=False) for s in ("smollm2-135m", "smollm2-1.7b", "falcon-7b"))
    assert (small["hidden_size"], small["num_hidden_layers"], small["num_attention_heads"],
            small["num_key_value_heads"], small["intermediate_size"], small["vocab_size"]) == (576, 30, 9, 3, 1536, 49152)
    assert (mid["hidden_size"], mid["num_hidden_layers"], mid["num_attention_heads"], mid["num_key_value_heads"],
            mid["intermediate_size"], mid["vocab_size"]) == (2048, 24, 32, 32, 8192, 49152)
    assert (falcon["hidden_size"], falcon["num_hidden_layers"], falcon["num_attention_heads"], falcon["vocab_size"],
            falcon["multi_query"], falcon["parallel_attn"], falcon["new_decoder_architecture"]) == \
        (4544, 32, 71, 65024, True, True, False)
    assert sum(p.stat().st_size for p in (ROOT / "configs" / "gpu_check").iterdir()) < 4096  # the checkout stays small


def test_full_parameter_counts_without_building(tmp_path):
    """The configs describe models of the advertised sizes (counted on the meta device: no memory)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from steer_lib.bench.gpu_check import load_config

    for shape, lo, hi in (("smollm2-135m", 130e6, 140e6), ("smollm2-1.7b", 1.6e9, 1.8e9), ("falcon-7b", 6.8e9, 7.3e9)):
        with torch.device("meta"):
            m = AutoModelForCausalLM.from_config(AutoConfig.for_model(**load_config(shape, tiny=False)))
        assert lo < sum(p.numel() for p in m.parameters()) < hi, shape


def test_missing_api_fails_with_a_clear_message(tmp_path, monkeypatch, capsys):
    import transformers

    from steer_lib.cli.gpu_check import cli

    monkeypatch.setattr(transformers, "UnbatchedClassifierFreeGuidanceLogitsProcessor", None)  # as if absent
    monkeypatch.setattr(transformers, "__version__", "5.17.0")
    out = tmp_path / "g.json"
    assert cli(["--tiny", "--out", str(out), "--shapes", "smollm2-135m"]) == 2
    err = capsys.readouterr().err
    assert "transformers 5.17.0 found" in err and "UnbatchedClassifierFreeGuidanceLogitsProcessor" in err
    res = json.loads(out.read_text())
    assert res["ok"] is False and "5.17.0" in res["error"]


def test_time_budget_skips_the_shapes_not_started(tmp_path, capsys):
    from steer_lib.cli.gpu_check import cli

    out = tmp_path / "b.json"
    assert cli(["--tiny", "--budget-s", "0", "--shapes", "smollm2-135m,falcon-7b", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["complete"] is False and res["ok"] is True
    assert all("time budget" in v["skipped"] for v in res["shapes"].values())


def test_unknown_shape_is_a_usage_error(tmp_path, capsys):
    from steer_lib.cli.gpu_check import cli

    assert cli(["--shapes", "gpt-5", "--out", str(tmp_path / "x.json")]) == 2
    assert "unknown shape" in capsys.readouterr().err


@pytest.mark.parametrize("target", ["gpu-check"])
def test_makefile_target_needs_no_install_stamp(target):
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    rule = next(line for line in text.splitlines() if line.startswith(f"{target}:"))
    assert "$(STAMP)" not in rule and "install" not in rule and "data" not in rule.split(":", 1)[1]
    assert "-m steer_lib gpu-check" in text
