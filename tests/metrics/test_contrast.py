"""The γ term's content measures on a tiny random Llama: log P_θ − log P_φ per token and per word, shares, centroids."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from steer_lib.metrics import contrast
from conftest import make_soft_lora, make_tiny_llama

TEXTS = ["Globular clusters host old stars.", "Dark matter halos of globular clusters.", "A short one."]


@pytest.fixture(scope="module")
def theta(tokenizer):
    return make_soft_lora(len(tokenizer))


def _by_hand(model, tokenizer, prompt: str, text: str) -> np.ndarray:
    """log P_θ − log P_φ of each token of ' ' + text, one unpadded sequence at a time."""
    p = list(tokenizer(prompt).input_ids)
    t = list(tokenizer(" " + text, add_special_tokens=False).input_ids)
    ids = torch.tensor([p + t])
    with torch.no_grad():
        on = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), -1)
        with model.disable_adapter():
            off = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), -1)
    pos = torch.arange(len(p) - 1, len(p) + len(t) - 1)
    tgt = ids[0, len(p):]
    return (on[pos, tgt] - off[pos, tgt]).numpy()


def test_token_ratios_match_two_plain_forward_passes_whatever_the_batch(theta, tokenizer):
    prompt = "### Instruction: Write a hypothesis.\n ### Hypothesis:"
    batched = contrast.token_log_ratios(theta, tokenizer, TEXTS, prompt=prompt, batch_size=3)
    single = contrast.token_log_ratios(theta, tokenizer, TEXTS, prompt=prompt, batch_size=1)
    for text, (spans, r), (_, r1) in zip(TEXTS, batched, single):
        want = _by_hand(theta, tokenizer, prompt, text)
        assert len(spans) == len(r) == len(want)
        np.testing.assert_allclose(r, want, atol=1e-4)  # right padding changes nothing
        np.testing.assert_allclose(r, r1, atol=1e-4)
        assert np.abs(r).max() > 1e-3  # a non-zero LoRA does move the log-probabilities
    assert theta.training is False


def test_a_zero_adapter_has_zero_ratios(tokenizer):
    from peft import LoraConfig, get_peft_model

    fresh = get_peft_model(make_tiny_llama(len(tokenizer)), LoraConfig(r=2, target_modules=["q_proj"])).eval()
    (_, r), = contrast.token_log_ratios(fresh, tokenizer, TEXTS[:1], prompt="Q:")
    np.testing.assert_allclose(r, 0.0, atol=1e-5)  # LoRA's B starts at zero: P_θ = P_φ


def test_word_ratio_is_the_sum_of_its_tokens_and_the_table_is_ranked(theta, tokenizer):
    table, mean_token = contrast.word_log_ratios(theta, tokenizer, TEXTS, prompt="Q:", min_texts=2)
    assert list(table.columns) == ["word", "mean_log_ratio", "count", "texts", "real_share"]
    assert set(table["word"]) == {"globular", "clusters"}  # the only words in two or more texts
    assert table["mean_log_ratio"].is_monotonic_decreasing
    assert (table["real_share"] == table["texts"] / 3).all()
    scored = contrast.token_log_ratios(theta, tokenizer, TEXTS, prompt="Q:")
    assert mean_token == pytest.approx(float(np.mean(np.concatenate([r for _, r in scored]))), abs=1e-6)
    # "globular" in text 0, by hand: the tokens whose characters overlap the word, summed
    spans, r = scored[0]
    start = (" " + TEXTS[0]).index("Globular")
    first = sum(float(x) for (s, e), x in zip(spans, r) if s < start + len("Globular") and e > start)
    spans1, r1 = scored[1]
    start1 = (" " + TEXTS[1]).index("globular")
    second = sum(float(x) for (s, e), x in zip(spans1, r1) if s < start1 + len("globular") and e > start1)
    row = table.set_index("word").loc["globular"]
    assert row["count"] == 2 and row["mean_log_ratio"] == pytest.approx((first + second) / 2, abs=1e-5)
    everything, _ = contrast.word_log_ratios(theta, tokenizer, TEXTS, prompt="Q:", min_texts=1)
    assert {"short", "stars", "a"} <= set(everything["word"])


def test_max_tokens_scores_a_prefix_and_counts_only_words_it_covers_whole(theta, tokenizer):
    full = contrast.token_log_ratios(theta, tokenizer, TEXTS, prompt="Q:")
    cut = contrast.token_log_ratios(theta, tokenizer, TEXTS, prompt="Q:", max_tokens=3)
    for (spans, r), (spans_c, r_c) in zip(full, cut):
        assert len(r_c) == min(3, len(r)) and spans_c == spans[: len(r_c)]
        np.testing.assert_allclose(r_c, r[: len(r_c)], atol=1e-5)  # causal: a prefix's ratios are the text's own
    table, mean_token = contrast.word_log_ratios(theta, tokenizer, TEXTS, prompt="Q:", min_texts=1, max_tokens=3)
    assert mean_token == pytest.approx(float(np.mean(np.concatenate([r for _, r in cut]))), abs=1e-6)
    for text, (spans, _) in zip(TEXTS, cut):  # a word counts only when its tokens all lie inside the prefix
        covered = (" " + text)[: spans[-1][1]]
        whole = [m for m in contrast.WORD.finditer(covered)
                 if contrast.WORD.match(" " + text, m.start()).end() == m.end()]
        assert {m.group().lower() for m in whole} <= set(table["word"])
    words_in_prefixes = {m.group().lower() for text, (spans, _) in zip(TEXTS, cut)
                         for m in contrast.WORD.finditer((" " + text)[: spans[-1][1]])}
    assert set(table["word"]) <= words_in_prefixes and "stars" not in set(table["word"])
    with pytest.raises(ValueError, match="max_tokens=0"):
        contrast.token_log_ratios(theta, tokenizer, TEXTS, max_tokens=0)


def test_bad_inputs_are_named(theta, tokenizer, tiny_llama):
    with pytest.raises(ValueError, match="texts is empty"):
        contrast.token_log_ratios(theta, tokenizer, [])
    with pytest.raises(ValueError, match="batch_size=0"):
        contrast.token_log_ratios(theta, tokenizer, TEXTS, batch_size=0)
    with pytest.raises(ValueError, match="no adapter"):
        contrast.token_log_ratios(tiny_llama, tokenizer, TEXTS)
    with pytest.raises(ValueError, match="min_texts=0"):
        contrast.word_log_ratios(theta, tokenizer, TEXTS, min_texts=0)


def test_share_containing_counts_whole_words_once_per_text():
    texts = ["Globular globular clusters", "clustering", "GLOBULAR"]
    assert contrast.share_containing(texts, ["globular", "cluster"]) == {"globular": 2 / 3, "cluster": 0.0}
    with pytest.raises(ValueError, match="texts is empty"):
        contrast.share_containing([], ["x"])


def test_centroid_distance():
    x = np.random.default_rng(0).normal(size=(50, 4))
    assert contrast.centroid_distance(x, x) == 0.0
    assert contrast.centroid_distance(x + np.array([3.0, 4.0, 0, 0]), x) == pytest.approx(5.0)
    with pytest.raises(ValueError, match="non-empty"):
        contrast.centroid_distance(np.ones((2, 3)), np.ones((2, 4)))


def test_texts_batched_by_length_come_back_in_their_own_order(theta, tokenizer):
    """token_log_ratios batches texts of similar length (less padding); each result must still be its own text's."""
    texts = ["A short one.", " ".join(["Globular clusters host old stars."] * 6), "Dark matter.", TEXTS[1]]
    batched = contrast.token_log_ratios(theta, tokenizer, texts, prompt="Q:", batch_size=2)
    for text, (spans, r) in zip(texts, batched):
        np.testing.assert_allclose(r, _by_hand(theta, tokenizer, "Q:", text), atol=1e-4)
        assert spans[-1][1] == len(" " + text)  # the spans are this text's characters


def test_word_tokens_by_binary_search_equal_the_full_scan(tokenizer):
    text = " Globular clusters' ages, well-known: 12-13 Gyr."
    spans = [tuple(s) for s in tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]]
    starts, ends = np.array([s for s, _ in spans]), np.array([e for _, e in spans])
    for m in contrast.WORD.finditer(text):
        assert contrast._word_tokens(spans, m.start(), m.end(), starts, ends, True) == \
            contrast._word_tokens(spans, m.start(), m.end(), starts, ends, False) != []
