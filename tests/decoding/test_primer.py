"""The decoding primer: each method's transform of one next-token distribution, and the two look-ahead rules."""
import pytest
import torch

from steer_lib.decoding import primer
from steer_lib.decoding.baselines import contrastive_search_one


def _logits(seed=0, vocab=50):
    return torch.randn(vocab, generator=torch.Generator().manual_seed(seed)) * 2


def test_each_transform_does_what_the_method_says():
    ft, base = _logits(0), _logits(1)
    p = torch.softmax(ft, -1)
    greedy = primer.method_distribution("greedy", ft)
    assert (greedy > 0).sum() == 1 and greedy.argmax() == ft.argmax()
    assert primer.entropy_of_probs(primer.method_distribution("low_temperature", ft)) < primer.entropy_of_probs(p)
    top = primer.method_distribution("top_k", ft)
    assert int((top > 0).sum()) == 10 and set(top.topk(10).indices.tolist()) == set(ft.topk(10).indices.tolist())
    nuc = primer.method_distribution("nucleus", ft)
    tempered = torch.softmax(ft / 0.8, -1)
    kept = nuc > 0
    assert tempered[kept].sum() >= 0.92 > tempered[kept].sum() - tempered[kept].min()
    cd = primer.method_distribution("contrastive_decoding", ft, base)
    assert bool(((cd > 0) <= (p >= 0.1 * p.max())).all())
    assert ft.equal(_logits(0))  # inputs untouched


def test_bad_method_and_missing_amateur():
    with pytest.raises(ValueError, match="beam"):
        primer.method_distribution("beam", _logits())
    with pytest.raises(ValueError, match="base_logits"):
        primer.method_distribution("contrastive_decoding", _logits())


def test_look_ahead_rules_on_a_tiny_model(tiny_llama, tokenizer):
    model, tok = tiny_llama.eval(), tokenizer
    beams, greedy = primer.beam_two_steps(model, tok, "hello world", num_beams=3)
    assert len(beams) == 3 and beams[0].logprob >= greedy.logprob - 1e-6
    step = primer.contrastive_search_step(model, tok, "hello world", k=4, alpha=0.6)
    first = contrastive_search_one(model, tok, "hello world", k=4, alpha=0.6, max_new_tokens=1, stops=(), eos=set())
    assert step.choice in step.tokens and first == tok.decode([step.choice], skip_special_tokens=True)
