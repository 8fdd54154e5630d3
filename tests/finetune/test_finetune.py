"""Fine-tuning P_θ: learning, caching, atomic saves, clear errors (tiny random Llama; one real-model test)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from steer_lib import models, paths
from steer_lib.cli import finetune as finetune_cli
from steer_lib.finetune import domain_model as ft
from steer_lib.finetune.dataset import collate, count_targets, encode, eval_sums, token_losses
from steer_lib.finetune.train import lora_targets
from steer_lib.data.tasks import get_task

from conftest import make_tiny_llama

# A few seconds per run on the tiny model: small batches of short sequences, a high rate.
TINY = dict(steps=6, batch_size=4, max_length=40, lr=5e-2, lora_r=8, lora_alpha=16, max_train_examples=64,
            eval_examples=12, eval_max_length=48)
LLAMA_LINEARS = ["down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"]




@pytest.fixture()
def steps_run(monkeypatch) -> list[int]:
    """Records every optimizer step taken (empty after a cache hit)."""
    seen: list[int] = []
    monkeypatch.setattr(ft, "_on_step", lambda step, loss: seen.append(step))
    return seen


def test_training_lowers_heldout_loss_and_saves_everything(iso, tiny_base, tokenizer):
    path = ft.finetune("hypotheses", "smoke", base=tiny_base, progress=False, **TINY)
    assert path.parent == iso / "runs" / "models" / "hypotheses" and ft.is_finished(path)
    rec = ft.read_record(path)
    assert len(rec["history"]) == TINY["steps"] and rec["config"]["steps"] == TINY["steps"]
    assert rec["eval"]["loss"] < rec["eval"]["base_loss"] - 0.5  # random base: it must learn quickly
    assert rec["history"][-1]["loss"] < rec["history"][0]["loss"]
    assert rec["target_modules"] == LLAMA_LINEARS
    assert rec["base_model"] == models.local_identity(tiny_base)  # a local folder: named by its files' hash
    assert rec["num_processes"] == 1 and rec["n_val"] == TINY["eval_examples"]
    figures = iso / "figures" / paths.scope("smoke", tiny_base)  # another base model: its own figure folder
    assert (figures / "01_finetune_loss_hypotheses.png").stat().st_size > 0
    assert (figures / "01_finetune_loss_hypotheses.pdf").stat().st_size > 0

    # The recorded base loss is the base model's own loss (adapter off == untouched weights).
    task = get_task("hypotheses")
    base = make_tiny_llama(len(tokenizer))
    val = encode(tokenizer, task.prompt, task.real_texts("val")[: TINY["eval_examples"]], TINY["eval_max_length"])
    sums = eval_sums(base, [val[:6], val[6:]], tokenizer.pad_token_id, torch.device("cpu"))
    assert float(sums[0] / sums[1]) == pytest.approx(rec["eval"]["base_loss"], rel=1e-4)

    # load_domain_model: the cached adapter, unmerged, named "default", in eval mode; adapter-off = base.
    model, tok = ft.load_domain_model("hypotheses", "smoke", base=tiny_base, device="cpu", **TINY)
    assert not model.training and model.active_adapter == "default" and tok.pad_token_id == tokenizer.pad_token_id
    ids = torch.tensor([val[0].ids])
    with torch.no_grad():
        on = model(input_ids=ids).logits
        with model.disable_adapter():
            off = model(input_ids=ids).logits
        assert torch.allclose(off, base(input_ids=ids).logits, atol=1e-5)
    assert not torch.allclose(on, off, atol=1e-3)


def test_second_call_hits_the_cache_and_force_retrains(iso, tiny_base, steps_run):
    path = ft.finetune("hypotheses", "smoke", base=tiny_base, progress=False, **TINY)
    first = ft.read_record(path)
    assert steps_run == list(range(1, TINY["steps"] + 1))
    assert ft.adapter_dir("hypotheses", "smoke", base=tiny_base, **TINY) == path

    steps_run.clear()
    assert ft.finetune("hypotheses", "smoke", base=tiny_base, progress=False, **TINY) == path
    assert steps_run == [] and ft.read_record(path)["created"] == first["created"]

    assert ft.finetune("hypotheses", "smoke", base=tiny_base, progress=False, force=True, **TINY) == path
    assert steps_run == list(range(1, TINY["steps"] + 1))
    assert ft.is_finished(path) and ft.read_record(path)["total_seconds"] != first["total_seconds"]
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp or old folders left behind

    # A different setting is a different adapter.
    other = ft.adapter_dir("hypotheses", "smoke", base=tiny_base, **{**TINY, "completion_only": True})
    assert other != path and other.parent == path.parent


def test_interrupted_run_leaves_nothing_that_looks_finished(iso, tiny_base, monkeypatch):
    def interrupt(step, loss):
        if step == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(ft, "_on_step", interrupt)
    with pytest.raises(KeyboardInterrupt):
        ft.finetune("hypotheses", "smoke", base=tiny_base, progress=False, **TINY)
    path = ft.adapter_dir("hypotheses", "smoke", base=tiny_base, **TINY)
    assert not path.exists() and not ft.is_finished(path)


def test_failed_save_keeps_the_previous_adapter_and_no_temp(tmp_path):
    final = tmp_path / "abc"
    final.mkdir()
    (final / ft.WEIGHTS).write_text("old weights")
    (final / ft.RECORD).write_text("{}")

    class Broken:
        def save_pretrained(self, d):
            Path(d).mkdir(parents=True)
            (Path(d) / ft.WEIGHTS).write_text("half")
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        ft._save(Broken(), {"x": 1}, final)
    assert (final / ft.WEIGHTS).read_text() == "old weights" and [p.name for p in tmp_path.iterdir()] == ["abc"]


def test_half_written_folder_is_retrained(iso, tiny_base, steps_run):
    path = ft.adapter_dir("hypotheses", "smoke", base=tiny_base, **TINY)
    path.mkdir(parents=True)
    (path / ft.WEIGHTS).write_bytes(b"truncated")  # weights but no record: a crash from an older writer
    (path.parent / f".tmp-{path.name}-99999").mkdir()  # a temp folder left by a killed run
    assert not ft.is_finished(path)
    assert ft.finetune("hypotheses", "smoke", base=tiny_base, progress=False, **TINY) == path
    assert len(steps_run) == TINY["steps"] and ft.is_finished(path)
    assert ft.read_record(path)["history"]


@pytest.mark.parametrize("overrides, message", [
    ({"stepz": 3}, "no setting 'stepz'"),
    ({"steps": 0}, "steps=0"),
    ({"lr": "fast"}, "lr='fast'"),
    ({"lr_schedule": "cyclic"}, "lr_schedule='cyclic'"),
    ({"batch_size": 6, "grad_accum": 4}, "batch_size=6"),
    ({"mixed_precision": "fp8"}, "mixed_precision='fp8'"),
])
def test_bad_overrides_are_named(iso, overrides, message):
    with pytest.raises(ValueError, match=message):
        ft.finetune("hypotheses", "smoke", progress=False, **overrides)


def test_bad_task_profile_and_length_are_named(iso, tiny_base):
    with pytest.raises(ValueError, match="unknown task 'astro'"):
        ft.finetune("astro", "smoke")
    with pytest.raises(ValueError, match="profile='fast'"):
        ft.adapter_dir("hypotheses", "fast")
    with pytest.raises(ValueError, match="max_length=12"):
        ft.finetune("hypotheses", "smoke", base=tiny_base, progress=False, **{**TINY, "max_length": 12})


def test_cli_json_reports_and_then_hits_the_cache(iso, tiny_base, capsys):
    argv = ["--task", "commonsense", "--profile", "smoke", "--base", tiny_base, "--json", "--no-progress"]
    argv += [a for k, v in TINY.items() for a in ("--set", f"{k}={v}")]
    assert finetune_cli.cli(argv) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["cached"] is False and out["steps"] == TINY["steps"] and out["eval_loss"] < out["base_eval_loss"]
    assert Path(out["adapter_path"]).parent.name == "commonsense" and out["train_seconds"] > 0
    assert finetune_cli.cli(argv) == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert again["cached"] is True and again["adapter_path"] == out["adapter_path"]
    assert finetune_cli.cli(["--task", "commonsense", "--set", "stepz=2"]) == 2
    assert "stepz" in capsys.readouterr().err


def test_loss_normaliser_counts_exactly_the_labelled_tokens(tokenizer):
    task = get_task("commonsense")
    exs = encode(tokenizer, task.prompt, task.real_texts("train")[:5], max_length=40)
    assert any(e.ids[-1] != tokenizer.eos_token_id for e in exs)  # some were cut (so have no EOS)
    for completion_only in (False, True):
        b = collate(exs, tokenizer.pad_token_id, completion_only)
        _, valid = token_losses(torch.zeros(*b.input_ids.shape, len(tokenizer)), b.labels)
        assert int(valid.sum()) == count_targets(exs, completion_only)


def test_encode_matches_generation_time_prompt_and_appends_eos(tokenizer):
    task = get_task("hypotheses")
    text = task.real_texts("train")[0]
    (ex,) = encode(tokenizer, task.prompt, [text], max_length=512)
    assert list(ex.ids[: ex.n_prompt]) == tokenizer(task.prompt).input_ids
    assert ex.ids[-1] == tokenizer.eos_token_id
    assert tokenizer.decode(ex.ids[:-1]) == task.format(text)


def test_lora_targets_are_derived_from_the_architecture(tokenizer):
    from transformers import GPT2Config, GPT2LMHeadModel

    assert lora_targets(make_tiny_llama(len(tokenizer))) == LLAMA_LINEARS
    gpt2 = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=50))
    assert lora_targets(gpt2) == ["c_attn", "c_fc", "c_proj"]  # Conv1D layers; lm_head excluded


@pytest.mark.slow
def test_smoke_profile_on_the_real_model_learns_hypotheses(iso):
    path = ft.finetune("hypotheses", "smoke", progress=False)
    rec = ft.read_record(path)
    # Held-out per-token loss (prompt included) must drop well beyond noise in a smoke run.
    assert rec["eval"]["loss"] < 0.85 * rec["eval"]["base_loss"], rec["eval"]
    assert rec["eval"]["loss_completion"] < rec["eval"]["base_loss_completion"]
    assert rec["target_modules"] == LLAMA_LINEARS and rec["base_model"] == "smollm2-135m-instruct"


def test_interrupted_run_resumes_from_its_checkpoint_bit_for_bit(iso, tiny_base, monkeypatch):
    """Ctrl-C after 5 updates with a checkpoint every 2: the rerun trains 4 → 6 only, and ends with exactly the
    weights, losses and held-out evaluations of an uninterrupted run (same batches, learning rate and dropout)."""
    from safetensors.torch import load_file

    kw = dict(TINY, lora_dropout=0.1, checkpoint_every=2, eval_every=2, keep_checkpoints=True)
    whole = ft.finetune("hypotheses", "smoke", base=tiny_base, progress=False, **kw)
    reference = load_file(str(whole / ft.WEIGHTS))
    ref_rec = ft.read_record(whole)
    assert sorted(ft.checkpoint_dirs(whole)) == [2, 4, 6]
    import shutil
    shutil.rmtree(whole)

    def interrupt(step, loss):
        if step == 5:
            raise KeyboardInterrupt
    monkeypatch.setattr(ft, "_on_step", interrupt)
    with pytest.raises(KeyboardInterrupt):
        ft.finetune("hypotheses", "smoke", base=tiny_base, progress=False, **kw)
    assert not ft.is_finished(whole) and (ft.state_dir(whole) / "state.pt").is_file()
    seen: list[int] = []
    monkeypatch.setattr(ft, "_on_step", lambda step, loss: seen.append(step))
    again = ft.finetune("hypotheses", "smoke", base=tiny_base, progress=False, **kw)
    assert again == whole and seen == [5, 6]  # resumed after the checkpoint at 4
    rec = ft.read_record(again)
    assert rec["resumed_from"] == 4 and not ft.state_dir(whole).exists()
    assert [h["loss"] for h in rec["history"]] == [h["loss"] for h in ref_rec["history"]]
    assert [e["loss"] for e in rec["evals"]] == [e["loss"] for e in ref_rec["evals"]]
    got = load_file(str(again / ft.WEIGHTS))
    assert got.keys() == reference.keys() and all(torch.equal(got[k], reference[k]) for k in got)
    assert sorted(ft.checkpoint_dirs(again)) == [2, 4, 6]
    model, _ = ft.load_domain_model("hypotheses", "smoke", base=tiny_base, device="cpu", checkpoint=2, **kw)
    assert model.active_adapter == "default"
    with pytest.raises(ValueError, match="checkpoint=3"):
        ft.load_domain_model("hypotheses", "smoke", base=tiny_base, device="cpu", checkpoint=3, **kw)


def test_plateau_stops_training_early_and_says_so(iso, tiny_base):
    """min_delta larger than any possible gain: the first evaluation already counts as stalled (patience 1)."""
    path = ft.finetune("hypotheses", "smoke", base=tiny_base, progress=False,
                       **dict(TINY, eval_every=2, patience=1, min_delta=100.0))
    rec = ft.read_record(path)
    assert rec["stopped_early"] and rec["steps_trained"] == 2 and len(rec["history"]) == 2
    assert [e["step"] for e in rec["evals"]] == [2]


def test_settings_that_leave_the_weights_alone_keep_the_adapters_key(iso, tiny_base):
    """Adapters cached before checkpointing existed keep their folder: checkpoint_every is not in the key."""
    assert ft.adapter_dir("hypotheses", "smoke", tiny_base, **TINY) == \
        ft.adapter_dir("hypotheses", "smoke", tiny_base, checkpoint_every=3, **TINY)
    assert ft.adapter_dir("hypotheses", "smoke", tiny_base, **TINY) != \
        ft.adapter_dir("hypotheses", "smoke", tiny_base, eval_every=2, patience=2, **TINY)
