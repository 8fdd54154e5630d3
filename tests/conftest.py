"""Shared fixtures: tiny random-weight models for the logic, the real tokenizer for realism.

Logic tests run on a 2-layer Llama with the default model's tokenizer (so prompts,
stop strings and padding behave as they do for real) and a LoRA adapter whose
weights are non-zero (a fresh LoRA is a no-op, which would hide bugs).
"""
from __future__ import annotations

import hashlib
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

# The local data mirror: STEER_DATA_MIRROR when it names a folder (CI sets it), else ../shared/data beside the checkout.
_MIRROR = os.environ.get("STEER_DATA_MIRROR", "")
SHARED_DATA = os.path.abspath(_MIRROR if os.path.isdir(_MIRROR) else
                              os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))


@pytest.fixture(scope="session")
def tokenizer():
    from steer_lib.models import load_tokenizer

    return load_tokenizer()


def make_tiny_llama(vocab_size: int, seed: int = 0, layers: int = 2):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=layers,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                      tie_word_embeddings=True)
    model = LlamaForCausalLM(cfg).eval()
    # Random init is close to uniform; sharpen it so argmax decoding is not decided by float noise.
    with torch.no_grad():
        model.model.embed_tokens.weight.mul_(25.0)
    return model


def add_nonzero_lora(model, seed: int = 1, r: int = 4):
    from peft import LoraConfig, get_peft_model

    peft_model = get_peft_model(model, LoraConfig(r=r, lora_alpha=2 * r, target_modules=["q_proj", "v_proj", "up_proj"],
                                                  lora_dropout=0.0))
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    return peft_model.eval()


def make_soft_lora(vocab_size: int):
    """A tiny Llama with a non-zero LoRA and *soft* logits (embeddings scaled down): sampling, not argmax, decides."""
    m = make_tiny_llama(vocab_size)
    with torch.no_grad():
        m.model.embed_tokens.weight.mul_(0.2)
    return add_nonzero_lora(m)


@pytest.fixture()
def iso(tmp_path, monkeypatch):
    """Runs, results and figures go to a temp folder; the real data is still read from the checkout."""
    from steer_lib import paths

    monkeypatch.setenv("STEER_DATA", str(paths.data_dir()))
    monkeypatch.setenv("STEER_ROOT", str(tmp_path))
    monkeypatch.setenv("STEER_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("STEER_THREADS", os.environ.get("STEER_THREADS", "1"))
    return tmp_path


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory, tokenizer) -> str:
    """A 2-layer random Llama with the real tokenizer, saved so it can be passed as ``base=``."""
    d = tmp_path_factory.mktemp("tiny-base")
    make_tiny_llama(len(tokenizer)).save_pretrained(d)
    tokenizer.save_pretrained(d)
    return str(d)


@pytest.fixture()
def tiny_llama(tokenizer):
    return make_tiny_llama(len(tokenizer))


@pytest.fixture()
def tiny_lora(tokenizer):
    return add_nonzero_lora(make_tiny_llama(len(tokenizer)))


@pytest.fixture(scope="session")
def shared_data():
    if not os.path.isdir(SHARED_DATA):
        pytest.skip(f"no local mirror at {SHARED_DATA}")  # only on machines without ../shared; CI has it
    return SHARED_DATA


def bag_of_words(texts):
    """A tiny deterministic embedder: hashed word counts in 64 dims (texts sharing no word are orthogonal-ish)."""
    out = np.zeros((len(texts), 64), dtype=np.float32)
    for i, t in enumerate(texts):
        for w in t.lower().split():
            out[i, int(hashlib.md5(w.encode()).hexdigest(), 16) % 64] += 1.0
        out[i, 63] += 0.01  # never the zero vector
    return out
