"""Sets written before ``DecodingConfig`` existed still resume: same settings, same records, no regeneration.

The fixtures in ``fixtures/legacy_*.jsonl`` were written by the kit at commit 2c73433 (before the decoding
settings type) with the tiny LoRA of ``test_writer.py``: 4 samples each, batch 2. Resuming one to 6 samples
must keep its 4 records byte for byte and append records with the same ``params``.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import add_nonzero_lora, make_tiny_llama
from steer_lib.decoding import writer

FIXTURES = Path(__file__).parent / "fixtures"
POOL = ["Is dark matter cold?", "Do black holes spin?", "Can stars form in voids?", "Why is the sky dark?"]
KW = dict(seed=3, batch_size=2, negatives_pool_texts=POOL, k=2, max_new_tokens=6, progress=False,
          model_id="tiny", base_model_id="tiny")
CASES = {  # fixture name -> how it was generated
    "steer": dict(method="steer"),
    "steer_gamma0.3_eta0.3": dict(method="steer", gamma=0.3, eta=0.3),
    "steer_plausibility0.1": dict(method="steer", plausibility=0.1),
    "negative_only": dict(method="negative_only", eta=0.3),
    "top_k": dict(method="top_k"),
    "nucleus": dict(method="nucleus"),
    "low_temperature": dict(method="low_temperature"),
    "contrastive_decoding": dict(method="contrastive_decoding"),
}


@pytest.fixture(scope="module")
def model(tokenizer):
    return add_nonzero_lora(make_tiny_llama(len(tokenizer)))


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_set_written_before_the_settings_type_resumes(name, model, tokenizer, tmp_path):
    src = FIXTURES / f"legacy_{name}.jsonl"
    out = tmp_path / src.name
    shutil.copy(src, out)
    old = src.read_bytes()
    args = dict(CASES[name])
    method = args.pop("method")
    writer.generate_file("hypotheses", method, 6, out, model=model, tokenizer=tokenizer, strict=True, **KW, **args)
    new = out.read_bytes()
    assert new.startswith(old), "the records already written were changed or cut"
    recs = [json.loads(line) for line in new.decode().splitlines()]
    assert [r["index"] for r in recs] == list(range(6))
    assert all(r["params"] == recs[0]["params"] for r in recs[4:])  # same settings, so the same set
    assert all(r[key] == recs[0][key] for r in recs[4:] for key in writer.RUN_KEYS)
