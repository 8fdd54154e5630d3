"""Known library noise is silenced where it arises, narrowly, and the kit's own MetricWarning still reaches the reader.

- transformers 5 warns (FutureWarning) that ``is_gradient_checkpointing`` is deprecated on every PEFT wrap, which
  peft does on each model load and each fine-tuning;
- faiss's k-means prints "please provide at least N training points" to the C stderr once per MAUVE seed at the
  kit's sample sizes.
"""
from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

from steer_lib import models
from steer_lib.metrics import MetricWarning, fidelity
from steer_lib.authors import outputs
from steer_lib.metrics.embeddings import Embedder
from steer_lib.metrics.evaluation import evaluate
from conftest import bag_of_words, make_tiny_llama


def _future_warnings(record) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, FutureWarning)]


def test_loading_a_domain_model_emits_no_future_warning(iso, tiny_base):
    from steer_lib.finetune import domain_model as ft

    tiny = dict(steps=2, batch_size=4, max_length=32, max_train_examples=8, eval_examples=4, eval_max_length=32)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        ft.finetune("hypotheses", "smoke", base=tiny_base, progress=False, **tiny)  # get_peft_model
        ft.load_domain_model("hypotheses", "smoke", base=tiny_base, device="cpu", **tiny)  # PeftModel.from_pretrained
    assert _future_warnings(record) == []


def test_the_filter_is_narrow(tokenizer):
    from peft import LoraConfig, get_peft_model

    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        get_peft_model(make_tiny_llama(len(tokenizer)), LoraConfig(r=2, target_modules=["q_proj"]))
    if not any("is_gradient_checkpointing" in m for m in _future_warnings(record)):
        pytest.fail("peft/transformers no longer warn about is_gradient_checkpointing: drop it from KNOWN_NOISE")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        with models.quiet_known_noise():
            warnings.warn("`is_gradient_checkpointing` is deprecated and will be removed in v6.", FutureWarning)
            warnings.warn("something else is deprecated", FutureWarning)  # not ours to hide
            warnings.warn("`is_gradient_checkpointing` is deprecated", UserWarning)  # another category
    assert [str(w.message) for w in record] == ["something else is deprecated", "`is_gradient_checkpointing` is deprecated"]


def test_small_n_mauve_prints_nothing(capfd):
    x = np.random.default_rng(0).normal(size=(60, 8))
    capfd.readouterr()
    res = fidelity.mauve_score(x, x + 0.1, seeds=3)  # 120 points into 6 buckets: faiss would complain 3 times
    out, err = capfd.readouterr()
    assert 0 <= res.mean <= 1 and len(res.scores) == 3
    assert out == "" and "training points" not in err and err == ""


def test_other_stderr_lines_survive_the_redirect(capfd):
    capfd.readouterr()
    with fidelity.without_faiss_size_note():
        os.write(2, b"WARNING clustering 54 points to 2 centroids: please provide at least 78 training points\n")
        os.write(2, b"something the reader should see\n")
    assert capfd.readouterr().err == "something the reader should see\n"


def test_small_n_evaluate_still_warns_metric_warning(capfd):
    hyp = outputs.real_set("hypotheses")
    capfd.readouterr()
    with pytest.warns(MetricWarning, match="MAUVE is optimistic and noisy"):
        res = evaluate(hyp[:40], hyp[100:140], embedder=Embedder(bag_of_words, cache=False), mauve_seeds=3)
    out, err = capfd.readouterr()
    assert not np.isnan(res["mauve"])
    assert "training points" not in out + err


def test_model_loads_show_no_progress_bar_and_restore_the_setting():
    """transformers' "Loading weights" bar was saved as an empty 0 % widget in every executed notebook."""
    from transformers.utils import logging as hf_logging

    assert hf_logging.is_progress_bar_enabled()
    with models.quiet_known_noise():
        assert not hf_logging.is_progress_bar_enabled()
    assert hf_logging.is_progress_bar_enabled(), "the caller's setting comes back"
    hf_logging.disable_progress_bar()
    try:
        with models.quiet_known_noise():
            pass
        assert not hf_logging.is_progress_bar_enabled(), "a caller who turned bars off keeps them off"
    finally:
        hf_logging.enable_progress_bar()
