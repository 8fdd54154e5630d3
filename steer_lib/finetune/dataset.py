"""Training data for the domain model P_θ: token ids, padded batches, per-token losses.

Three choices here matter for what P_θ learns:

- An example is the prompt's ids followed by the ids of ``" " + text`` and one EOS token.
  The prompt is tokenised on its own because that is exactly what the decoding engine
  feeds the model; the EOS teaches P_θ to stop after one example.
- The default tokenizer's pad token *is* its EOS (``<|im_end|>``), so labels are masked by
  each row's length, never by comparing ids with ``pad_token_id`` (which would also mask
  the EOS we want learned).
- Examples longer than ``max_length`` are cut and get no EOS: teaching the model to stop
  mid-sentence would be worse than not teaching it to stop on that example.

>>> ex = Example(ids=(5, 6, 7, 2), n_prompt=2)
>>> b = collate([ex, Example(ids=(5, 9), n_prompt=1)], pad_id=2)
>>> b.input_ids.tolist(), b.attention_mask.tolist()
([[5, 6, 7, 2], [5, 9, 2, 2]], [[1, 1, 1, 1], [1, 1, 0, 0]])
>>> b.labels.tolist()  # padding masked by length: the real EOS in row 0 stays a label
[[5, 6, 7, 2], [5, 9, -100, -100]]
>>> collate([ex], pad_id=2, completion_only=True).labels.tolist()
[[-100, -100, 7, 2]]
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Iterator, Sequence

import torch
import torch.nn.functional as F

IGNORE = -100  # the label value cross-entropy skips


@dataclass(frozen=True)
class Example:
    ids: tuple[int, ...]  # prompt ids + text ids (+ EOS when the example fits)
    n_prompt: int  # how many leading ids are the instruction prompt


@dataclass
class Batch:
    input_ids: torch.Tensor  # (B, T), right-padded
    attention_mask: torch.Tensor  # (B, T), 1 on real tokens
    labels: torch.Tensor  # (B, T), IGNORE on padding (and on the prompt if completion-only)
    completion: torch.Tensor  # (B, T) bool, True on tokens after the prompt (for completion-only metrics)

    def to(self, device: torch.device) -> "Batch":
        return Batch(*(t.to(device) for t in (self.input_ids, self.attention_mask, self.labels, self.completion)))


def encode(tokenizer, prompt: str, texts: Sequence[str], max_length: int) -> list[Example]:
    """Token ids of ``prompt + " " + text + EOS`` for each text, cut at ``max_length``."""
    if tokenizer.eos_token_id is None:
        raise ValueError("the tokenizer has no eos_token; P_θ could not learn where an example ends")
    prompt_ids = list(tokenizer(prompt).input_ids)  # may include a BOS, as at generation time
    if len(prompt_ids) + 1 >= max_length:
        raise ValueError(f"max_length={max_length} leaves no room for text after the {len(prompt_ids)}-token prompt")
    bodies = tokenizer([" " + t for t in texts], add_special_tokens=False).input_ids
    out = []
    for body in bodies:
        ids = prompt_ids + list(body) + [tokenizer.eos_token_id]
        out.append(Example(tuple(ids[:max_length]), len(prompt_ids)))
    return out


def collate(examples: Sequence[Example], pad_id: int, completion_only: bool = False) -> Batch:
    """Right-pad to the longest example; labels masked by length (pad may equal EOS)."""
    if not examples:
        raise ValueError("collate needs at least one example")
    width = max(len(e.ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    completion = torch.zeros_like(ids, dtype=torch.bool)
    for i, e in enumerate(examples):
        ids[i, : len(e.ids)] = torch.tensor(e.ids)
        mask[i, : len(e.ids)] = 1
        completion[i, e.n_prompt: len(e.ids)] = True
    keep = completion if completion_only else mask.bool()
    labels = ids.masked_fill(~keep, IGNORE)
    return Batch(ids, mask, labels, completion)


def token_losses(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-position next-token cross-entropy (B, T-1) and the mask of positions that count.

    The first token of each row has no prediction, so it never counts (this is the usual
    shift; "prompt included" losses therefore start at the prompt's second token).
    """
    target = labels[:, 1:]
    valid = target != IGNORE
    ce = F.cross_entropy(logits[:, :-1].float().transpose(1, 2), target.clamp_min(0), reduction="none")
    return ce * valid, valid


def count_targets(examples: Sequence[Example], completion_only: bool) -> int:
    """How many tokens a set of examples contributes to the loss (the normaliser of a global batch)."""
    if completion_only:
        return sum(len(e.ids) - max(e.n_prompt, 1) for e in examples)
    return sum(len(e.ids) - 1 for e in examples)


def batch_stream(n: int, batch_size: int, generator: torch.Generator) -> Iterator[list[int]]:
    """Endless batches of example indices: shuffled epochs, every index once per epoch.

    Every process draws the same stream from the same seed, so data-parallel ranks agree on
    the global batch and each takes its own slice of it.

    >>> g = torch.Generator().manual_seed(0); s = batch_stream(5, 2, g)
    >>> sorted(sum([next(s) for _ in range(2)], []) + next(s)[:1]) == list(range(5))
    True
    """
    if n < 1:
        raise ValueError(f"no training examples (n={n})")
    buf: list[int] = []
    while True:
        while len(buf) < batch_size:
            buf += torch.randperm(n, generator=generator).tolist()
        yield buf[:batch_size]
        buf = buf[batch_size:]


def length_batches(examples: Sequence[Example], batch_size: int) -> list[list[Example]]:
    """Batches of similar length (sorted), so evaluation wastes little compute on padding."""
    order = sorted(examples, key=lambda e: len(e.ids))
    return [order[i: i + batch_size] for i in range(0, len(order), batch_size)]


@torch.no_grad()
def eval_sums(model, batches: Sequence[Sequence[Example]], pad_id: int, device: torch.device) -> torch.Tensor:
    """``[loss sum, tokens, completion loss sum, completion tokens]`` over the batches (all labels)."""
    totals = torch.zeros(4, dtype=torch.float64)
    for exs in batches:
        b = collate(exs, pad_id).to(device)
        logits = model(input_ids=b.input_ids, attention_mask=b.attention_mask).logits
        ce, valid = token_losses(logits, b.labels)
        comp = b.completion[:, 1:] & valid
        totals += torch.tensor([ce.sum().item(), valid.sum().item(), (ce * comp).sum().item(), comp.sum().item()],
                               dtype=torch.float64)
    return totals


def texts_sha256(texts: Sequence[str]) -> str:
    """A stable fingerprint of a list of texts (order matters: it fixes the batches)."""
    return hashlib.sha256(json.dumps(list(texts), ensure_ascii=False).encode("utf-8")).hexdigest()
