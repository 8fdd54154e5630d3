"""STEER through transformers' stock machinery, and the engine's batch invariance (tiny random Llama, fp32).

- the HF CFG peer (:mod:`steer_lib.decoding.hf_cfg`): two chained stock CFG processors + temperature
  T/(1−η) + top-k give the same next-token distribution as the kit's SteerCombine → Temperature → TopK,
  at every step, for every row of a batched, left-padded ``generate``;
- :class:`SteerLogitsProcessor` on ``generate``'s sampling path (custom processors run before
  transformers' temperature and top-k warpers);
- a sample decoded alone equals the same sample inside a batch of others, for all three streams.
"""
from __future__ import annotations

import pytest
import torch

from conftest import add_nonzero_lora, make_tiny_llama
from steer_lib.decoding import engine
from steer_lib.decoding.hf_cfg import hf_cfg_generate
from steer_lib.decoding.logits_process import SteerCombine, SteerLogitsProcessor, Temperature, TopK
from steer_lib.decoding.negatives import NegativePool, negative_ids

PROMPTS = ["Hello there, how are", "A much longer prompt about astronomy, stars and the galaxies that", "x"]
POOL = ["Is dark matter cold?", "What are black holes made of, and why do they spin?", "Can stars form in voids?",
        "Why is the night sky dark?"]
GAMMA, ETA, T, K, STEPS = 0.5, 0.3, 0.9, 5, 5


@pytest.fixture(scope="module")
def lora(tokenizer):
    m = make_tiny_llama(len(tokenizer))
    with torch.no_grad():
        m.model.embed_tokens.weight.mul_(0.2)  # flatter distributions: top-k sets of several tokens
    return add_nonzero_lora(m)


def last_logits(model, ids: list[int], adapter: bool = True) -> torch.Tensor:
    with torch.no_grad():
        if adapter:
            return model(torch.tensor([ids])).logits[0, -1]
        with model.disable_adapter():
            return model(torch.tensor([ids])).logits[0, -1]


def test_hf_cfg_matches_kit_scores(lora, tokenizer):
    pool = NegativePool(POOL, k=2, seed=0)
    negs = [negative_ids(tokenizer, pool.draw(i), 1024) for i in range(len(PROMPTS))]
    assert len({len(n) for n in negs}) > 1, "rows' N should differ in length (left padding)"
    texts, [(seqs, scores)] = hf_cfg_generate(lora, tokenizer, PROMPTS, negatives=pool, gamma=GAMMA, eta=ETA,
                                              top_k=K, temperature=T, max_new_tokens=STEPS, batch_size=8,
                                              ignore_eos=True, return_scores=True)
    assert len(texts) == len(PROMPTS) and len(scores) == STEPS
    eos = lora.generation_config.eos_token_id
    eos = [eos] if isinstance(eos, int) else list(eos or [])
    width = seqs.shape[1] - STEPS
    worst = 0.0
    for r, prompt in enumerate(PROMPTS):
        p = tokenizer(prompt)["input_ids"]
        for t in range(STEPS):
            x = seqs[r, width:width + t].tolist()
            kit = SteerCombine(GAMMA, ETA)(last_logits(lora, p + x)[None], last_logits(lora, p + x, False)[None],
                                          last_logits(lora, negs[r] + x)[None])
            kit[:, eos] = float("-inf")  # min_new_tokens bans EOS (ignore_eos); a row constant elsewhere
            kit = TopK(K)(Temperature(T)(kit))
            hf = scores[t][r:r + 1].float()
            assert torch.equal(kit.isfinite(), hf.isfinite()), (r, t)
            worst = max(worst, float((torch.softmax(kit, -1) - torch.softmax(hf, -1)).abs().max()))
            assert hf[0, seqs[r, width + t]].isfinite()  # the sampled token is in the top-k set
    assert worst < 1e-5


def test_hf_cfg_rejects_eta_one(lora, tokenizer):
    with pytest.raises(ValueError, match="eta"):
        hf_cfg_generate(lora, tokenizer, PROMPTS[:1], negatives=POOL, eta=1.0, max_new_tokens=2)


def test_steer_logits_processor_sampling_path(lora, tokenizer):
    """do_sample=True, temperature, top_k: transformers runs the custom processor first, then its warpers."""
    ids = torch.tensor([tokenizer(PROMPTS[1])["input_ids"]])
    neg = negative_ids(tokenizer, POOL[:2], 1024)
    proc = SteerLogitsProcessor(lora, torch.tensor(neg), ids.shape[1], gamma=GAMMA, eta=ETA)
    torch.manual_seed(0)
    out = lora.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=True, temperature=T, top_k=K,
                        max_new_tokens=STEPS, logits_processor=[proc], pad_token_id=tokenizer.pad_token_id,
                        return_dict_in_generate=True, output_scores=True)
    p, gen = ids[0].tolist(), out.sequences[0, ids.shape[1]:].tolist()
    assert len(gen) == len(out.scores)
    for t, hf in enumerate(out.scores):
        x = gen[:t]
        kit = TopK(K)(Temperature(T)(SteerCombine(GAMMA, ETA)(
            last_logits(lora, p + x)[None], last_logits(lora, p + x, False)[None], last_logits(lora, neg + x)[None])))
        assert torch.equal(kit.isfinite(), hf.isfinite())
        assert torch.allclose(torch.softmax(kit, -1), torch.softmax(hf.float(), -1), atol=1e-5)
        assert hf[0, gen[t]].isfinite()
    # Had temperature run before the processor, the log-softmax inside it would differ from log_softmax(l)/T:
    lf = last_logits(lora, p)[None]
    assert not torch.allclose(torch.log_softmax(lf / T, -1), torch.log_softmax(lf, -1) / T, atol=1e-3)


class Recorder:
    """A score function that keeps every step's per-stream logits and picks the STEER argmax."""

    def __init__(self):
        self.steps: list[dict[str, torch.Tensor]] = []
        self.combine = SteerCombine(GAMMA, ETA)

    def __call__(self, by_stream):
        self.steps.append({k: v.detach().clone() for k, v in by_stream.items()})
        return self.combine(by_stream["ft"], by_stream.get("base"), by_stream["neg"])


def decode(model, tok, prompts, negs, layout):
    adapter = engine.active_adapter(model)
    p_ids = [tok(t)["input_ids"] for t in prompts]
    streams = [engine.Stream("ft", model, adapter, p_ids), engine.Stream("base", model, "__base__", p_ids),
               engine.Stream("neg", model, adapter, negs)]
    rec = Recorder()
    engine.run(streams, tok, rec, max_new_tokens=STEPS + 1, generator=torch.Generator().manual_seed(0), greedy=True,
               ignore_eos=True, layout=layout)
    return rec.steps


@pytest.mark.parametrize("layout", ["split", "merged"])
def test_sample_alone_equals_sample_in_batch(lora, tokenizer, layout):
    """Batch invariance, fp32: row 1 of a padded batch (other prompt and N lengths around it) vs row 1 alone."""
    negs = [negative_ids(tokenizer, POOL[i:i + 2], 1024) for i in range(len(PROMPTS))]
    batch = decode(lora, tokenizer, PROMPTS, negs, layout)
    alone = decode(lora, tokenizer, PROMPTS[1:2], negs[1:2], layout)
    assert len(batch) == len(alone) == STEPS + 1
    for t, (b, a) in enumerate(zip(batch, alone)):
        for name in ("ft", "base", "neg"):
            assert torch.allclose(b[name][1], a[name][0], atol=1e-4, rtol=0), (layout, t, name)
        assert int(SteerCombine(GAMMA, ETA)(b["ft"], b["base"], b["neg"])[1].argmax()) == \
            int(SteerCombine(GAMMA, ETA)(a["ft"], a["base"], a["neg"])[0].argmax())


class _Out:
    def __init__(self, logits, past_key_values):
        self.logits, self.past_key_values = logits, past_key_values


class OldForward(torch.nn.Module):
    """A stand-in for a transformers release whose forward takes ``past_key_values=`` (not ``cache=``).

    It wraps a real model and refuses ``cache=``, so the engine must detect the name and use it.
    """

    def __init__(self, real):
        super().__init__()
        self.real = real

    def forward(self, input_ids=None, attention_mask=None, position_ids=None, past_key_values=None, use_cache=None,
                logits_to_keep=0):
        out = self.real(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                        cache=past_key_values, use_cache=use_cache, logits_to_keep=logits_to_keep)
        return _Out(out.logits, out.cache)


class NewForward(OldForward):
    def forward(self, input_ids=None, attention_mask=None, position_ids=None, cache=None, use_cache=None,
                logits_to_keep=0):
        out = self.real(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                        cache=cache, use_cache=use_cache, logits_to_keep=logits_to_keep)
        return out


def test_engine_passes_the_cache_by_the_name_the_forward_takes(tokenizer):
    from steer_lib.decoding.kv import cache_kwarg
    from steer_lib.decoding.methods import generate

    real = make_tiny_llama(len(tokenizer))
    old, new = OldForward(real).eval(), NewForward(real).eval()
    assert cache_kwarg(old) == "past_key_values" and cache_kwarg(new) == "cache" and cache_kwarg(real) == "cache"
    kw = dict(gamma=0.0, eta=0.4, negatives=POOL[:2], top_k=1, max_new_tokens=6, ignore_eos=True)
    want = generate(real, tokenizer, PROMPTS, **kw)
    assert generate(old, tokenizer, PROMPTS, **kw) == want == generate(new, tokenizer, PROMPTS, **kw)


def test_cache_kwarg_names_the_problem():
    from steer_lib.decoding.kv import cache_kwarg

    class NoCache(torch.nn.Module):
        def forward(self, input_ids):
            return input_ids

    with pytest.raises(TypeError, match="neither cache= nor past_key_values="):
        cache_kwarg(NoCache())
