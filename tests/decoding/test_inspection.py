"""Notebook 02's inspection helpers: the dissection table, entropy, η crossings, copy steps, the γ/η grid."""
from __future__ import annotations

import math
import warnings

import pytest
import torch

from conftest import add_nonzero_lora, make_tiny_llama
from steer_lib.decoding import inspection
from steer_lib.decoding.logits_process import SteerCombine
from steer_lib.decoding.negatives import negative_ids

A = torch.log(torch.tensor([0.40, 0.30, 0.20, 0.08, 0.02]))
B = torch.log(torch.tensor([0.50, 0.30, 0.10, 0.02, 0.08]))
C = torch.log(torch.tensor([0.70, 0.20, 0.05, 0.04, 0.01]))


def test_entropy_ignores_filtered_tokens_and_normalises():
    assert inspection.entropy_of_scores(torch.zeros(4)) == pytest.approx(math.log(4))
    assert inspection.entropy_of_scores(torch.tensor([3.0, 3.0, float("-inf")])) == pytest.approx(math.log(2))
    assert inspection.entropy_of_scores(A + 7.0) == pytest.approx(inspection.entropy_of_scores(A))


def test_rank_and_topk():
    assert [inspection.rank_of(A, i) for i in range(5)] == [1, 2, 3, 4, 5]
    p = inspection.topk_logprobs(A, 2).exp()
    assert p[:2].sum() == pytest.approx(1.0) and p[2:].sum() == 0
    with pytest.raises(ValueError, match="token=9"):
        inspection.rank_of(A, 9)


def test_dissect_covers_the_union_and_sums_to_one():
    s = inspection.steer_scores(A, B, C, 2.0, 0.0)  # ' magnetar' (P_θ's 4th) wins
    table = inspection.dissect(A, s, lambda i: f"t{i}", top=2)
    assert list(table["id"][:-1]) == inspection.union_top(2, A, s)
    assert set(table["id"][:-1]) == {0, 1, 2, 3}
    assert table["P_θ"].sum() == pytest.approx(1.0) and table["P_STEER"].sum() == pytest.approx(1.0)
    row = table[table["id"] == 3].iloc[0]
    assert (row["rank_θ"], row["rank_STEER"], row["Δrank"]) == (4, 1, 3)
    a0 = A.clone()
    inspection.dissect(A, s, str, top=2, k=2)
    assert torch.equal(A, a0)
    with pytest.raises(ValueError, match="differ in shape"):
        inspection.dissect(A, s[:3], str)


def test_overtake_eta_matches_the_closed_form():
    g = 0.5
    closed = ((1 + g) * (A[0] - A[1]) - g * (B[0] - B[1])) / (C[0] - C[1])
    assert inspection.overtake_eta(A, B, C, g, 0, 1) == pytest.approx(float(closed), abs=1e-6)  # fp32 scores
    with pytest.raises(ValueError, match="not ahead"):
        inspection.overtake_eta(A, B, C, g, 1, 0)
    with pytest.raises(ValueError, match="does not overtake"):
        inspection.overtake_eta(A, B, C.flip(0), 0.0, 0, 1)  # N favours the leader: the gap only grows


def test_steer_scores_follow_the_formula():
    """s = (1 + γ) log P_θ − γ log P_φ − η log P_θ(·|N), written out from the probabilities A, B, C were made from."""
    g, e = 0.3, 0.7
    pa, pb, pc = [.40, .30, .20, .08, .02], [.50, .30, .10, .02, .08], [.70, .20, .05, .04, .01]
    want = [(1 + g) * math.log(a) - g * math.log(b) - e * math.log(c) for a, b, c in zip(pa, pb, pc)]
    s = inspection.steer_scores(A, B, C, g, e)
    assert s.tolist() == pytest.approx(want, abs=1e-5)
    assert s.tolist()[0] == pytest.approx(-0.73356, abs=1e-4)  # the first token's score, worked by hand
    # logits, not log-probabilities: each vector is normalised first, so shifting one by a constant changes nothing
    assert torch.allclose(inspection.steer_scores(A + 3.0, B - 2.0, C + 1.0, g, e), s, atol=1e-5)
    assert torch.allclose(inspection.steer_scores(A, B, C, 0.0, 0.0), A, atol=1e-6)  # no knobs: P_θ itself
    assert torch.allclose(s, SteerCombine(g, e)(A[None], B[None], C[None])[0])  # and it is the engine's combine


def test_engine_cap_is_read_from_the_engine():
    import inspect as stdlib_inspect

    from steer_lib.decoding import generate

    cap = inspection.ENGINE_MAX_NEGATIVE_TOKENS
    assert cap == stdlib_inspect.signature(generate).parameters["max_negative_tokens"].default
    assert isinstance(cap, int) and cap >= 1


def test_engine_cap_bites_on_a_long_n(tokenizer):
    """An N built with the cap is cut to whole examples within it: the cap a hand-written loop copies is a real one."""
    cap = inspection.ENGINE_MAX_NEGATIVE_TOKENS
    example = "Is dark matter made of primordial black holes or of weakly interacting particles?"
    one = len(tokenizer(" " + example)["input_ids"])
    examples = [example] * (2 * cap // one + 2)  # about twice the cap
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # it warns once per cap and process; the length is the point here
        ids = negative_ids(tokenizer, examples, cap)
    assert cap - one - 1 <= len(ids) <= cap < len(tokenizer(" ".join(examples))["input_ids"])


def test_copy_steps_give_the_three_distributions_of_each_step(tokenizer):
    model = add_nonzero_lora(make_tiny_llama(len(tokenizer)))
    prompt = tokenizer("Write a question:")["input_ids"]
    examples = ["Is dark matter cold?", "Why is the night sky dark?"]
    neg = negative_ids(tokenizer, examples, 1024)
    steps = inspection.copy_steps(model, tokenizer, prompt, neg, examples, min_prefix=2, max_prefix=4)
    assert steps and {st.example for st in steps} <= set(examples)
    st = steps[0]
    e = tokenizer(" " + st.example)["input_ids"]
    assert st.prefix == e[:2] and st.copy == e[2]
    with torch.no_grad():
        want = torch.log_softmax(model(torch.tensor([neg + st.prefix])).logits[0, -1].float(), -1)
        with model.disable_adapter():
            phi = torch.log_softmax(model(torch.tensor([prompt + st.prefix])).logits[0, -1].float(), -1)
    assert torch.allclose(st.logp_neg, want, atol=1e-5) and torch.allclose(st.logp_phi, phi, atol=1e-5)
    assert inspection.copy_steps(model, tokenizer, prompt, neg, ["not in N at all"]) == []
    with pytest.raises(ValueError, match="min_prefix"):
        inspection.copy_steps(model, tokenizer, prompt, neg, examples, min_prefix=5, max_prefix=2)


def test_widget_frontend_is_off_outside_a_notebook_front_end(monkeypatch):
    monkeypatch.delenv("STEER_WIDGETS", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert inspection.widget_frontend()[0] is False  # pytest is no Jupyter kernel
    monkeypatch.setenv("STEER_WIDGETS", "1")
    assert inspection.widget_frontend() == (True, "STEER_WIDGETS=1")


def test_grid_has_one_panel_per_setting():
    import matplotlib

    matplotlib.use("Agg")
    fig, ent = inspection.plot_topk_grid(A, B, C, [0.0, 2.0], [0.0, 0.5, 0.9], [0, 1, 2], ["a", "b", "c"], 3)
    assert len(fig.axes) == 6 and set(ent) == {(g, e) for g in (0.0, 2.0) for e in (0.0, 0.5, 0.9)}
    assert ent[(0.0, 0.0)] == pytest.approx(inspection.entropy_of_scores(inspection.topk_logprobs(A, 3)))
    with pytest.raises(ValueError, match="non-empty"):
        inspection.plot_topk_grid(A, B, C, [], [0.0], [0], ["a"], 3)
