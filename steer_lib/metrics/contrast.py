"""What STEER's γ term amplifies: the words P_θ likes more than P_φ does, and how far a set drifts from the real one.

The γ term adds ``γ·(log P_θ − log P_φ)`` to every token's score. On real text that difference is largest for the
domain's most typical words (fine-tuning made them likelier), so γ does not only sharpen P_θ: it pushes samples
towards the domain's favourite topics. This module measures that, on real texts, without decoding anything:

- :func:`token_log_ratios`: ``log P_θ(x_t | prompt, x_<t) − log P_φ(x_t | prompt, x_<t)`` for every token of each text
  (one forward pass with the adapter on, one with it off — the same weights);
- :func:`word_log_ratios`: those summed per word and averaged over the word's occurrences, one row per word;
- :func:`share_containing`: the share of texts that contain a word (how often a set mentions a topic);
- :func:`centroid_distance`: how far a set's mean embedding sits from the real set's (a drift to one side of the cloud).
"""
from __future__ import annotations

import re
from contextlib import nullcontext
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from ..models import base_view

WORD = re.compile(r"[A-Za-z][A-Za-z'-]*[A-Za-z]|[A-Za-z]")  # a word: letters, with inner ' or -


@torch.no_grad()
def _token_logprobs(model, rows: list[list[int]], n_prompt: int, pad_id: int, off: bool) -> list[np.ndarray]:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):  # right padding: every row's prompt starts at position 0
        ids[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = 1
    device = next(model.parameters()).device
    with base_view(model, strict=True) if off else nullcontext():  # P_φ: the same weights, adapter off
        logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float()
    logp = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, ids[:, 1:].to(device).unsqueeze(-1)).squeeze(-1)
    return [logp[i, n_prompt - 1: len(r) - 1].cpu().numpy() for i, r in enumerate(rows)]


def token_log_ratios(model, tokenizer, texts: Sequence[str], *, prompt: str = "", batch_size: int = 8,
                     max_tokens: int | None = None) -> list[tuple[list[tuple[int, int]], np.ndarray]]:
    """Per text: the character span of each token of ``" " + text`` and its ``log P_θ − log P_φ`` (nats).

    The text is conditioned on ``prompt`` tokenised on its own, then ``" " + text``, exactly as fine-tuning
    saw it (prompt + " " + text), so the ratios are those the γ term adds while writing that text.
    Spans index into ``" " + text``. ``max_tokens`` scores only each text's first tokens: set it to the generation
    budget to measure real text on the stretch a sampler can write (a sample never runs past it), which also keeps
    a 2,000-token comment from costing as much as fifty short ones.
    """
    texts = list(texts)
    if not texts:
        raise ValueError("texts is empty: nothing to score")
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r} must be at least 1")
    if max_tokens is not None and max_tokens < 1:
        raise ValueError(f"max_tokens={max_tokens!r} must be at least 1 (or None: every token)")
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError("the tokenizer must be a fast tokenizer (it maps tokens to characters)")
    prompt_ids = list(tokenizer(prompt).input_ids) if prompt else []
    if not prompt_ids:  # the first text token needs something to be predicted from
        prompt_ids = [tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    was_training = model.training
    model.eval()
    enc = [tokenizer(" " + t, add_special_tokens=False, return_offsets_mapping=True) for t in texts]
    enc = [{"input_ids": list(e["input_ids"])[:max_tokens], "offset_mapping": list(e["offset_mapping"])[:max_tokens]}
           for e in enc]
    # Batches of similar length: every row of a batch is padded to its longest, and real comments run from a few
    # tokens to thousands, so batching in text order spent most of the forward passes on padding. Padding is on the
    # right under a causal mask, so a row's log-probabilities do not depend on its batch-mates.
    order = sorted(range(len(texts)), key=lambda i: len(enc[i]["input_ids"]))
    out: list = [None] * len(texts)
    try:
        for start in range(0, len(order), batch_size):
            idx = order[start: start + batch_size]
            rows = [prompt_ids + list(enc[i]["input_ids"]) for i in idx]
            on = _token_logprobs(model, rows, len(prompt_ids), pad, off=False)
            off = _token_logprobs(model, rows, len(prompt_ids), pad, off=True)
            for i, a, b in zip(idx, on, off):
                out[i] = ([tuple(s) for s in enc[i]["offset_mapping"]], a - b)
    finally:
        model.train(was_training)
    return out


def _word_tokens(spans: list[tuple[int, int]], start: int, end: int, starts: np.ndarray, ends: np.ndarray,
                 monotonic: bool) -> list[int]:
    """The tokens whose span overlaps characters ``[start, end)``. When the spans are in order (a fast tokenizer's
    are) a binary search finds the candidates, so scoring a text is linear in its length, not quadratic; otherwise
    every token is checked. The overlap test is the same either way.

    >>> sp = [(0, 1), (1, 4), (4, 6), (6, 6), (6, 9)]
    >>> st, en = np.array([a for a, _ in sp]), np.array([b for _, b in sp])
    >>> _word_tokens(sp, 1, 6, st, en, True), _word_tokens(sp, 1, 6, st, en, False)
    ([1, 2], [1, 2])
    """
    lo, hi = (int(np.searchsorted(ends, start, side="right")), int(np.searchsorted(starts, end, side="left"))) \
        if monotonic else (0, len(spans))
    return [k for k in range(lo, hi) if spans[k][0] < end and spans[k][1] > start]


def word_log_ratios(model, tokenizer, texts: Sequence[str], *, prompt: str = "", batch_size: int = 8,
                    min_texts: int = 2, max_tokens: int | None = None) -> tuple[pd.DataFrame, float]:
    """One row per word of the real ``texts``: how much more P_θ than P_φ expects it, and how common it is.

    A word's log-ratio in one occurrence is the sum over its tokens (the log-ratio of the whole word); the table
    averages it over the word's occurrences (lower-cased). Columns: ``word``, ``mean_log_ratio``, ``count``
    (occurrences), ``texts`` (texts containing it), ``real_share`` (``texts`` / number of texts). Only words in at
    least ``min_texts`` texts are kept (one-off names would otherwise top the list); sorted by ``mean_log_ratio``,
    largest first. Also returns the mean log-ratio per token over every token of every text: the average
    log-likelihood gain fine-tuning gave the real corpus (positive when fine-tuning fitted it). With ``max_tokens``
    (see :func:`token_log_ratios`) only the words wholly inside each text's scored tokens are counted.
    """
    if min_texts < 1:
        raise ValueError(f"min_texts={min_texts!r} must be at least 1")
    texts = list(texts)
    scored = token_log_ratios(model, tokenizer, texts, prompt=prompt, batch_size=batch_size, max_tokens=max_tokens)
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    docs: dict[str, int] = {}
    every = []
    for text, (spans, ratios) in zip(texts, scored):
        every.append(ratios)
        seen = set()
        starts, ends = np.array([s for s, _ in spans], dtype=np.int64), np.array([e for _, e in spans], dtype=np.int64)
        monotonic = bool(np.all(np.diff(starts) >= 0) and np.all(np.diff(ends) >= 0))
        full = " " + text
        region = full if max_tokens is None or not len(ends) else full[: int(ends.max())]  # what the tokens cover
        for m in WORD.finditer(region):  # one binary search per word, not a scan of every token
            if len(region) < len(full) and WORD.match(full, m.start()).end() != m.end():
                continue  # a word the token cap cut in two: its log-ratio would be a part's
            at = _word_tokens(spans, m.start(), m.end(), starts, ends, monotonic)
            if not at:
                continue
            inside = ratios[np.array(at, dtype=np.int64)]
            w = m.group().lower()
            sums[w] = sums.get(w, 0.0) + float(np.sum(inside))
            counts[w] = counts.get(w, 0) + 1
            if w not in seen:
                docs[w] = docs.get(w, 0) + 1
                seen.add(w)
    rows = [{"word": w, "mean_log_ratio": sums[w] / counts[w], "count": counts[w], "texts": docs[w],
             "real_share": docs[w] / len(texts)} for w in sums if docs[w] >= min_texts]
    table = pd.DataFrame(rows, columns=["word", "mean_log_ratio", "count", "texts", "real_share"])
    table = table.sort_values(["mean_log_ratio", "word"], ascending=[False, True], ignore_index=True)
    mean_token = float(np.mean(np.concatenate(every))) if any(len(r) for r in every) else float("nan")
    return table, mean_token


def share_containing(texts: Sequence[str], words: Sequence[str]) -> dict[str, float]:
    """For each word, the share of ``texts`` that contain it as a whole word (case-insensitive).

    >>> share_containing(["Globular clusters", "a cluster", "no"], ["globular", "cluster"])
    {'globular': 0.3333333333333333, 'cluster': 0.3333333333333333}
    """
    texts = list(texts)
    if not texts:
        raise ValueError("texts is empty: a share of nothing is undefined")
    bags = [{m.group().lower() for m in WORD.finditer(t)} for t in texts]
    return {w: sum(w.lower() in b for b in bags) / len(texts) for w in words}


def centroid_distance(feats: np.ndarray, real_feats: np.ndarray) -> float:
    """Euclidean distance between the mean embedding of ``feats`` and that of ``real_feats``.

    A set spread evenly over the real cloud has a small distance (sampling noise only); a set pulled to one side
    of it — towards a few topics — a larger one.

    >>> centroid_distance(np.array([[1.0, 0.0], [3.0, 0.0]]), np.array([[0.0, 0.0]]))
    2.0
    """
    a, b = np.asarray(feats, dtype=float), np.asarray(real_feats, dtype=float)
    if a.ndim != 2 or b.ndim != 2 or not len(a) or not len(b) or a.shape[1] != b.shape[1]:
        raise ValueError(f"feats {a.shape} and real_feats {b.shape} must be non-empty (n, dim) arrays of one dim")
    return float(np.linalg.norm(a.mean(axis=0) - b.mean(axis=0)))
