"""The embedded default models load offline; the GGUF conversion keeps every weight."""
from __future__ import annotations

import os

import pytest
import torch

from steer_lib import models

pytestmark = pytest.mark.slow


def test_default_base_loads_offline_with_batching_tokenizer():
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    model, tok = models.load_base(device="cpu")
    assert model.config.model_type == "llama" and model.dtype == torch.float32
    assert 130e6 < model.num_parameters() < 140e6  # SmolLM2-135M
    assert tok.pad_token is not None and tok.padding_side == "left"
    batch = tok(["### Instruction: hi", "### Instruction: a longer prompt here"], return_tensors="pt", padding=True)
    assert batch.input_ids[0, 0] == tok.pad_token_id  # left-padded
    with torch.no_grad():
        logits = model(**batch).logits
    assert logits.shape[-1] >= len(tok) and torch.isfinite(logits).all()
    assert models.default_model_cached()
    converted = models.resolve_base(None)
    stamp = os.path.getmtime(os.path.join(converted, "config.json"))
    models.load_base(device="cpu")
    assert os.path.getmtime(os.path.join(converted, "config.json")) == stamp  # second load reads the cached copy


def test_conversion_preserves_the_gguf_weights(tmp_path):
    from transformers import AutoModelForCausalLM

    gguf = models.default_gguf()
    out = models.convert_gguf(gguf, tmp_path / "converted")
    assert (out / "model.safetensors").is_file() and not list(tmp_path.glob(".convert-*"))
    a = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32).eval()
    b = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    ids = torch.tensor([[1, 2, 3, 400, 5000]])
    with torch.no_grad():
        assert torch.equal(a(ids).logits, b(ids).logits)


def test_embedder_is_embedded_and_normalises():
    emb = models.load_embedder(device="cpu")
    v = emb.encode(["a star", "a galaxy"], normalize_embeddings=True)
    assert v.shape == (2, 384)
    assert abs(float((v[0] ** 2).sum()) - 1) < 1e-4


def test_missing_model_path_is_a_clear_error(tmp_path):
    with pytest.raises(Exception) as exc:
        models.load_base(str(tmp_path / "no-such-model"), device="cpu")
    assert "no-such-model" in str(exc.value)
