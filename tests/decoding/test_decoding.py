"""Exactness of the STEER engine against a naive, cache-free implementation (tiny random Llama).

The naive reference (:func:`steer_lib.decoding.reference.naive_steer`, the one oracle the tests, ``gpu-check`` and
notebook 02 share) recomputes all three full forwards (P_θ on prompt+x, P_φ on prompt+x,
P_θ on N+x) at every step, at batch size 1 — the seed authors' algorithm without any
caching — and takes the argmax of the STEER score. The engine must match it token for token
with batching, left padding, KV caches, mixed-adapter batches and prompt sharing.
"""
from __future__ import annotations

import pytest
import torch

from conftest import add_nonzero_lora, make_tiny_llama
from steer_lib.decoding.methods import generate
from steer_lib.decoding.logits_process import SteerLogitsProcessor
from steer_lib.decoding.negatives import NegativePool
from steer_lib.decoding.reference import naive_steer

PROMPTS = ["Hello there, how are", "A much longer prompt about astronomy, stars and the galaxies that", "x",
           "Hello there, how are"]
NEGS = ["Is dark matter cold?", "What are black holes made of, and why do they spin?"]
STEPS = 10


def naive(model, tok, prompt, neg_text, gamma, eta, steps, base=None) -> list[int]:
    """The library's cache-free oracle on text: greedy STEER, three full forwards per step."""
    return naive_steer(model, tok(prompt)["input_ids"], tok(neg_text)["input_ids"], gamma=gamma, eta=eta,
                       new_tokens=steps, base_model=base)


def varied_tiny(tok, seed=0):
    """A tiny model whose argmax continuations vary (not one repeated token), so cache bugs show."""
    m = make_tiny_llama(len(tok), seed=seed)
    with torch.no_grad():
        m.model.embed_tokens.weight.mul_(0.2)  # undo most of the fixture's sharpening: less echoing
    return m


@pytest.fixture(scope="module")
def lora(tokenizer):
    return add_nonzero_lora(varied_tiny(tokenizer))


def test_naive_reference_is_not_degenerate(lora, tokenizer):
    ids = naive(lora, tokenizer, PROMPTS[1], " ".join(NEGS), 0.5, 0.5, STEPS)
    assert len(set(ids)) >= 3, "the tiny model repeats one token; exactness tests would prove little"


@pytest.mark.parametrize("layout", ["split", "merged"])
def test_engine_matches_naive_adapter_off_base(lora, tokenizer, layout):
    out = generate(lora, tokenizer, PROMPTS, gamma=0.5, eta=0.7, negatives=NEGS, top_k=1, max_new_tokens=STEPS,
                   batch_size=3, layout=layout)
    ref = [tokenizer.decode(naive(lora, tokenizer, p, " ".join(NEGS), 0.5, 0.7, STEPS),
                            skip_special_tokens=True) for p in PROMPTS]
    assert out == ref


def test_engine_matches_naive_separate_base(tokenizer):
    ft, base = varied_tiny(tokenizer, seed=3), varied_tiny(tokenizer, seed=4)
    out = generate(ft, tokenizer, PROMPTS, gamma=0.4, eta=0.3, negatives=NEGS, top_k=1, max_new_tokens=STEPS,
                   base_model=base)
    ref = [tokenizer.decode(naive(ft, tokenizer, p, " ".join(NEGS), 0.4, 0.3, STEPS, base=base),
                            skip_special_tokens=True) for p in PROMPTS]
    assert out == ref


def test_pool_negatives_match_naive_per_sample(lora, tokenizer):
    pool = NegativePool(["alpha beta", "gamma delta epsilon", "zeta", "eta theta iota kappa"], k=2, grow=False,
                        seed=5)
    out = generate(lora, tokenizer, PROMPTS[:3], gamma=0.3, eta=0.6, negatives=pool, top_k=1,
                   max_new_tokens=STEPS)
    draws = [pool.draw(i) for i in range(3)]
    assert len({tuple(d) for d in draws}) > 1, "samples should draw different negatives"
    ref = [tokenizer.decode(naive(lora, tokenizer, p, " ".join(d), 0.3, 0.6, STEPS), skip_special_tokens=True)
           for p, d in zip(PROMPTS[:3], draws)]
    assert out == ref


def test_steer_at_gamma_zero_is_negative_only_sample_for_sample(lora, tokenizer):
    """The sweep reuses negative_only's set for its γ=0 points: the two must be the same samples."""
    def pool():
        return NegativePool(NEGS + ["alpha beta", "gamma delta"], k=2, seed=3)
    kw = dict(eta=0.6, max_new_tokens=STEPS, batch_size=2, seed=7)
    steer = generate(lora, tokenizer, PROMPTS, gamma=0.0, negatives=pool(), method="steer", **kw)
    neg_only = generate(lora, tokenizer, PROMPTS, negatives=pool(), method="negative_only", **kw)
    assert steer == neg_only and len(set(steer)) > 1


def test_gamma_eta_zero_argmax_equals_greedy_generate(lora, tokenizer):
    out = generate(lora, tokenizer, PROMPTS, gamma=0.0, eta=0.0, top_k=1, max_new_tokens=STEPS)
    for p, text in zip(PROMPTS, out):
        ids = torch.tensor([tokenizer(p)["input_ids"]])
        g = lora.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False,
                          max_new_tokens=STEPS, pad_token_id=tokenizer.pad_token_id)
        assert text == tokenizer.decode(g[0, ids.shape[1]:], skip_special_tokens=True)


def test_logits_processor_matches_engine(lora, tokenizer):
    prompt = PROMPTS[1]
    ids = torch.tensor([tokenizer(prompt)["input_ids"]])
    neg = torch.tensor(tokenizer(" ".join(NEGS))["input_ids"])
    proc = SteerLogitsProcessor(lora, neg, ids.shape[1], gamma=0.5, eta=0.7)
    g = lora.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=STEPS,
                      logits_processor=[proc], pad_token_id=tokenizer.pad_token_id)
    out = generate(lora, tokenizer, [prompt], gamma=0.5, eta=0.7, negatives=NEGS, top_k=1, max_new_tokens=STEPS)
    assert out[0] == tokenizer.decode(g[0, ids.shape[1]:], skip_special_tokens=True)


def test_seeds(lora, tokenizer):
    kw = dict(negatives=NEGS, max_new_tokens=8, top_k=50, batch_size=2)
    a = generate(lora, tokenizer, PROMPTS, seed=1, **kw)
    assert a == generate(lora, tokenizer, PROMPTS, seed=1, **kw)
    assert a != generate(lora, tokenizer, PROMPTS, seed=2, **kw)
    # the two identical prompts (0 and 3) still get different samples
    assert a[0] != a[3]


def test_stop_strings_and_regex(lora, tokenizer):
    free = generate(lora, tokenizer, [PROMPTS[1]], eta=0.0, gamma=0.0, top_k=1, max_new_tokens=STEPS)[0]
    word = free.split()[1]
    cut = generate(lora, tokenizer, [PROMPTS[1]], eta=0.0, gamma=0.0, top_k=1, max_new_tokens=STEPS,
                   stop_strings=[word])[0]
    assert cut.endswith(word) and free.startswith(cut) and len(cut) < len(free)
    cut_re = generate(lora, tokenizer, [PROMPTS[1]], eta=0.0, gamma=0.0, top_k=1, max_new_tokens=STEPS,
                      stop_strings=["re:" + word[:2]])[0]
    assert cut_re.endswith(word[:2]) and free.startswith(cut_re)


def test_finished_rows_are_dropped_without_changing_others(lora, tokenizer):
    """Rows that stop early are compacted away; the other rows' samples must not change."""
    kw = dict(negatives=NEGS, max_new_tokens=STEPS, top_k=20, seed=3, batch_size=4)
    free = generate(lora, tokenizer, PROMPTS, **kw)
    stop = free[2].split()[0]  # ends row 2 right away, maybe others too
    stopped = generate(lora, tokenizer, PROMPTS, stop_strings=[stop], **kw)
    for f, s in zip(free, stopped):
        assert f.startswith(s)
        if stop not in f:
            assert f == s
    assert len(stopped[2]) < len(free[2])


@pytest.mark.parametrize("kw, arg", [
    (dict(gamma=-0.1), "gamma"), (dict(eta=-1.0), "eta"), (dict(top_k=0), "top_k"), (dict(top_p=1.5), "top_p"),
    (dict(top_p=0.0), "top_p"), (dict(temperature=0.0), "temperature"), (dict(method="greedy"), "method"),
    (dict(negatives=None), "eta"), (dict(prompts=[]), "prompts"), (dict(method="top_k", gamma=0.5), "gamma"),
])
def test_validation_names_argument(lora, tokenizer, kw, arg):
    args = dict(prompts=["hi"], negatives=NEGS)
    args.update(kw)
    with pytest.raises(ValueError, match=arg):
        generate(lora, tokenizer, **args)


def test_plain_model_without_base_warns_and_gamma_cancels(tokenizer):
    plain = varied_tiny(tokenizer, seed=5)
    with pytest.warns(UserWarning, match="P_θ = P_φ"):
        out = generate(plain, tokenizer, PROMPTS[:2], gamma=0.5, eta=0.3, negatives=NEGS, top_k=1,
                       max_new_tokens=STEPS)
    assert out == generate(plain, tokenizer, PROMPTS[:2], gamma=0.0, eta=0.3, negatives=NEGS, top_k=1,
                           max_new_tokens=STEPS)


def test_plausibility_guard_one_keeps_only_p_theta_argmax(lora, tokenizer):
    """α = 1 keeps only P_θ's own favourite: STEER at any γ, η then writes P_θ's greedy text, sampled or not."""
    guarded = generate(lora, tokenizer, PROMPTS, gamma=2.0, eta=0.7, negatives=NEGS, plausibility=1.0,
                       max_new_tokens=STEPS, seed=3)
    greedy = generate(lora, tokenizer, PROMPTS, method="top_k", top_k=1, max_new_tokens=STEPS)
    unguarded = generate(lora, tokenizer, PROMPTS, gamma=2.0, eta=0.7, negatives=NEGS, max_new_tokens=STEPS, seed=3)
    assert guarded == greedy and unguarded != greedy


def test_plausibility_guard_matches_naive_mask(lora, tokenizer):
    """The engine's guarded argmax equals the naive loop with the mask applied by hand (α = 0.05)."""
    import math

    out = generate(lora, tokenizer, PROMPTS[:2], gamma=1.5, eta=0.5, negatives=NEGS, plausibility=0.05, top_k=1,
                   max_new_tokens=STEPS)
    n = tokenizer(" ".join(NEGS))["input_ids"]

    def guarded(lf, lb, ln):  # STEER's score, the guard's mask applied by hand
        return int((2.5 * lf - 1.5 * lb - 0.5 * ln).masked_fill(lf < lf.max() + math.log(0.05), float("-inf")).argmax())

    for prompt, text in zip(PROMPTS[:2], out):
        x = naive_steer(lora, tokenizer(prompt)["input_ids"], n, new_tokens=STEPS, pick=guarded)
        assert text == tokenizer.decode(x, skip_special_tokens=True)


@pytest.mark.parametrize("kw", [dict(plausibility=0.0), dict(plausibility=1.5), dict(method="top_k", plausibility=0.1)])
def test_plausibility_validation_names_it(lora, tokenizer, kw):
    with pytest.raises(ValueError, match="plausibility"):
        generate(lora, tokenizer, ["hi"], negatives=NEGS, **kw)


@pytest.mark.parametrize("layout", ["split", "merged"])
def test_batched_prefill_equals_one_prefill_per_prefix(lora, tokenizer, layout):
    """Prefixes of different lengths in one right-padded forward give the caches and first logits of batch-1 prefills."""
    from steer_lib.decoding import engine

    ids = [tokenizer(p)["input_ids"] for p in PROMPTS]
    negs = [tokenizer(t)["input_ids"] for t in NEGS + [" ".join(NEGS), NEGS[0]]]
    streams = [engine.Stream("ft", lora, "default", ids), engine.Stream("base", lora, "__base__", ids),
               engine.Stream("neg", lora, "default", negs)]
    for ss in ([streams[:2], streams[2:]] if layout == "split" else [streams]):
        one = engine.Group(ss, 4, max_pad=0.0)  # every distinct length alone: no padding at all
        padded = engine.Group(ss, 4, max_pad=float("inf"))  # everything in one padded forward
        assert len(engine.buckets(sorted({len(p) for s in ss for p in s.prefixes}), max_pad=float("inf"))) == 1
        assert torch.allclose(one.first_logits, padded.first_logits, atol=1e-5, rtol=0)
        for a, b in zip(one.cache.layers, padded.cache.layers):
            assert torch.allclose(a.kbuf, b.kbuf, atol=1e-5, rtol=0)
            assert torch.allclose(a.vbuf, b.vbuf, atol=1e-5, rtol=0)
            pad = ~one.mask[:, :one.prefix]  # the padding slots stay zero (masked, never read as numbers)
            assert (b.kbuf[:, :, :one.prefix].permute(0, 2, 1, 3)[pad] == 0).all()


def test_ragged_prefill_is_causal_unmasked_and_projects_last_positions_only(lora, tokenizer):
    """The ragged bucket's forward gets no attention mask (so attention may skip the causal triangle) and the
    vocabulary projection sees one position per row: each row's last real token, not the pads after it."""
    from steer_lib.decoding import engine

    prefixes = [tokenizer(t)["input_ids"] for t in NEGS + [PROMPTS[1]]]
    assert len({len(p) for p in prefixes}) == 3
    seen = {}
    head = lora.get_output_embeddings()
    hooks = [lora.register_forward_pre_hook(lambda m, a, kw: seen.update(mask=kw.get("attention_mask")),
                                            with_kwargs=True),
             head.register_forward_hook(lambda m, a, o: seen.update(head_in=tuple(a[0].shape)))]
    try:
        logits, kv = engine.prefill(lora, prefixes, None, None, "cpu")
    finally:
        for h in hooks:
            h.remove()
    assert seen["mask"] is None and seen["head_in"] == (3, 1, head.in_features)
    for p, row in zip(prefixes, logits):
        alone = lora(input_ids=torch.tensor([p])).logits[0, -1]
        assert torch.allclose(row, alone, atol=1e-5, rtol=0)
    assert [k.shape[2] for k, _ in kv] == [max(map(len, prefixes))] * len(kv)


def test_ragged_prefill_without_a_callable_output_embedding_gathers_full_logits(lora, tokenizer, monkeypatch):
    """A model that projects without calling its output-embedding module: every position is projected, the
    right ones are gathered afterwards, and the numbers are the same."""
    from steer_lib.decoding import engine

    prefixes = [tokenizer(t)["input_ids"] for t in NEGS]
    want, _ = engine.prefill(lora, prefixes, None, None, "cpu")
    monkeypatch.setattr(type(lora), "get_output_embeddings", lambda self: torch.nn.Linear(2, 2),
                        raising=False)  # a module the forward never calls
    got, _ = engine.prefill(lora, prefixes, None, None, "cpu")
    assert torch.allclose(got, want, atol=1e-5, rtol=0)


def _explicit_values():
    """Per knob, two values to give explicitly: the method's own preset and STEER's signature default of old."""
    return {"temperature": (1.0, 0.85, 0.8, 0.5, 0.94), "top_k": (10, 4, 1), "top_p": (0.92, 0.5)}


@pytest.mark.parametrize("method", ["steer", "negative_only", "top_k", "nucleus", "low_temperature", "beam",
                                    "contrastive_search", "contrastive_decoding"])
def test_an_explicit_value_is_honoured_even_when_it_equals_a_default(method):
    """The old resolve_params took 'equal to the signature default' for 'not given' (top_k at T=1.0 gave 0.85)."""
    from steer_lib.decoding.config import PRESETS, DecodingConfig
    from steer_lib.decoding.methods import resolve_params

    for knob, values in _explicit_values().items():
        for v in values:
            assert resolve_params(method, **{knob: v})[knob] == v, (method, knob, v)
            assert getattr(DecodingConfig.for_method(method, **{knob: v}), knob) == v
        assert resolve_params(method)[knob] == PRESETS[method][knob]  # unset: the preset
    assert resolve_params(method, top_k=None)["top_k"] is None  # given as None: no top-k
    if method in ("steer", "negative_only"):
        for knob in ("gamma", "eta") if method == "steer" else ("eta",):
            for v in (0.0, 0.2, 0.3):
                assert resolve_params(method, **{knob: v})[knob] == v, (method, knob, v)
        assert resolve_params(method, plausibility=0.1)["plausibility"] == 0.1
    assert "plausibility" not in resolve_params(method)  # recorded only when set


def test_a_set_asked_at_temperature_one_on_top_k_records_one(lora, tokenizer, tmp_path):
    """What ``generate --method top_k --temperature 1.0`` writes: the record says 1.0 (the old code decoded at 0.85)."""
    import json

    from steer_lib.decoding import writer

    out = writer.generate_file("hypotheses", "top_k", 2, tmp_path / "t.jsonl", model=lora, tokenizer=tokenizer,
                               temperature=1.0, max_new_tokens=3, batch_size=2, progress=False)
    assert json.loads(out.read_text().splitlines()[0])["params"]["temperature"] == 1.0


def test_a_set_asked_without_top_k_decodes_without_top_k(lora, tokenizer, tmp_path):
    """top_k=None given to the writer means no top-k (not 'unset'): the record and the decoding agree."""
    import json

    from steer_lib.decoding import writer
    from steer_lib.decoding.config import DecodingConfig

    out = writer.generate_file("hypotheses", "steer", 2, tmp_path / "s.jsonl", model=lora, tokenizer=tokenizer,
                               top_k=None, max_new_tokens=4, batch_size=2, progress=False, seed=5,
                               negatives_pool_texts=NEGS, k=1)
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert recs[0]["params"]["top_k"] is None
    from steer_lib.decoding.negatives import NegativePool
    from steer_lib.data.tasks import get_task
    task = get_task("hypotheses")
    pool = NegativePool(NEGS, k=1, seed=5, clean=task.clean)
    raw = generate(lora, tokenizer, [task.prompt] * 2, decoding=DecodingConfig.for_method("steer", top_k=None),
                   negatives=pool, max_new_tokens=4, batch_size=2, seed=5, stop_strings=task.stop_strings)
    assert [r["raw"] for r in recs] == raw
    with pytest.raises(ValueError, match="decoding="):
        generate(lora, tokenizer, ["hi"], decoding=DecodingConfig.for_method("top_k"), top_k=3)


def test_sample_picks_the_token_whose_cdf_interval_holds_the_uniform():
    from steer_lib.decoding.logits_process import sample

    scores = torch.log(torch.tensor([[0.1, 0.2, 0.7]])).repeat(5, 1)
    u = torch.tensor([0.05, 0.15, 0.29, 0.31, 0.999])
    assert sample(scores, u).tolist() == [0, 1, 1, 2, 2]
    masked = torch.tensor([[float("-inf"), 0.0, float("-inf"), 0.0]]).repeat(3, 1)  # zero-probability tokens 0 and 2
    assert sample(masked, torch.tensor([0.0, 0.49, 0.999999])).tolist() == [1, 1, 3]
    assert sample(scores, u, greedy=True).tolist() == [2] * 5


@pytest.mark.parametrize("method, knobs", [("steer", {}), ("steer", dict(temperature=0.7, top_k=5)),
                                           ("negative_only", dict(top_k=3)), ("top_k", {})])
def test_top_k_fast_path_samples_the_generic_chains_distribution(method, knobs):
    """MethodScorer.sample's top-k shortcut (softmax over the k best only) vs combine → T → top-k → sample.

    The two order tokens differently, so one uniform may pick different tokens; over a fine grid of
    uniforms each token is picked as often by both (to ±2 of M = 4000: inverse-CDF counts are p·M ± 1).
    """
    from steer_lib.decoding.logits_process import sample
    from steer_lib.decoding.methods import MethodScorer, resolve_params

    g = torch.Generator().manual_seed(0)
    by_stream = {name: torch.randn(2, 50, generator=g) for name in ("ft", "base", "neg")}
    scorer = MethodScorer(method, resolve_params(method, **knobs))
    M = 4000
    u = (torch.arange(M) + 0.5) / M
    for row in range(2):
        one = {k: v[row:row + 1].expand(M, -1) for k, v in by_stream.items()}
        fast = torch.bincount(scorer.sample(one, u, False), minlength=50)
        generic = torch.bincount(sample(scorer(one), u), minlength=50)
        assert (fast - generic).abs().max() <= 2, (fast, generic)
        assert int((fast > 0).sum()) == scorer.top_k.top_k  # only the k best are ever drawn
