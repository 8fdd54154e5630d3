"""The ``custom_generate`` entry point: ``model.generate(custom_generate=<folder>, trust_remote_code=True, ...)``.

Loaded by transformers from the local folder (``steer_lib/decoding/hf_method``), with transformers' own argument
names, it must give the kit's tokens (greedy), honour stop strings through ``tokenizer=``, and be reproducible
under ``torch.manual_seed`` when sampling.
"""
from __future__ import annotations

import pytest
import torch

from conftest import make_soft_lora
from steer_lib.data.text import cut_at_stop
from steer_lib.decoding.hf_method import FOLDER
from steer_lib.decoding.methods import generate

PROMPTS = ["Hello there, how are", "A much longer prompt about astronomy, stars and the galaxies that", "x"]
NEGS = ["Is dark matter cold?", "What are black holes made of, and why do they spin?"]
STEPS = 6


@pytest.fixture(scope="module")
def lora(tokenizer):
    return make_soft_lora(len(tokenizer))


def left_padded(tok, texts):
    rows = [tok(t)["input_ids"] for t in texts]
    width = max(map(len, rows))
    ids = torch.full((len(rows), width), tok.pad_token_id)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for r, row in enumerate(rows):
        ids[r, width - len(row):], mask[r, width - len(row):] = torch.tensor(row), 1
    return ids, mask


def steer_generate(model, tok, **kw):
    ids, mask = left_padded(tok, PROMPTS)
    n_ids, n_mask = left_padded(tok, [" ".join(NEGS)])
    out = model.generate(input_ids=ids, attention_mask=mask, custom_generate=FOLDER, trust_remote_code=True,
                         negative_prompt_ids=n_ids, negative_prompt_attention_mask=n_mask, max_new_tokens=STEPS,
                         return_dict_in_generate=True, pad_token_id=tok.pad_token_id, **kw)
    return out, ids.shape[1]


def texts_of(tok, out, width):
    return [tok.decode(row, skip_special_tokens=True) for row in out.sequences[:, width:].tolist()]


def test_folder_form_gives_the_kits_tokens(lora, tokenizer):
    out, width = steer_generate(lora, tokenizer, do_sample=False, steer_gamma=0.5, steer_eta=0.7)
    want = generate(lora, tokenizer, PROMPTS, gamma=0.5, eta=0.7, negatives=NEGS, top_k=1, max_new_tokens=STEPS)
    assert texts_of(tokenizer, out, width) == want


def test_folder_form_defaults_to_the_steer_preset(lora, tokenizer):
    """steer_gamma / steer_eta left unset take the steer preset (STEER_GAMMA, STEER_ETA), as generate() does."""
    out, width = steer_generate(lora, tokenizer, do_sample=False)
    want = generate(lora, tokenizer, PROMPTS, negatives=NEGS, top_k=1, max_new_tokens=STEPS)
    assert texts_of(tokenizer, out, width) == want


def test_folder_form_stop_strings_need_the_tokenizer(lora, tokenizer):
    kw = dict(do_sample=False, steer_gamma=0.5, steer_eta=0.7, stop_strings=[" "])
    out, width = steer_generate(lora, tokenizer, tokenizer=tokenizer, **kw)
    want = generate(lora, tokenizer, PROMPTS, gamma=0.5, eta=0.7, negatives=NEGS, top_k=1, max_new_tokens=STEPS,
                    stop_strings=[" "])
    got = texts_of(tokenizer, out, width)
    # Token sequences end with the token that completed the stop string (as transformers' stop_strings do);
    # the kit's texts are cut inside it.
    assert [cut_at_stop(t, (" ",)) for t in got] == want
    assert out.sequences.shape[1] < width + STEPS  # every row stopped early
    with pytest.raises(ValueError, match="tokenizer"):
        steer_generate(lora, tokenizer, **kw)


def test_folder_form_sampling_is_seeded_by_torch(lora, tokenizer):
    kw = dict(do_sample=True, temperature=0.9, top_k=20, top_p=0.95, steer_gamma=0.2, steer_eta=0.2)
    torch.manual_seed(3)
    a, width = steer_generate(lora, tokenizer, **kw)
    torch.manual_seed(3)
    b, _ = steer_generate(lora, tokenizer, **kw)
    assert torch.equal(a.sequences, b.sequences) and a.sequences.shape[1] > width


def test_unsupported_arguments_are_refused(lora, tokenizer):
    with pytest.raises(ValueError, match="logits_processor"):
        steer_generate(lora, tokenizer, do_sample=False, logits_processor=[lambda i, s: s])
