"""The comments split (:data:`~.outputs.PARTS`) checked with the kit's own toxicity signal.

The line ranges come from reading the authors' history; this module asks the data whether they hold.
A logistic regression on the kit's sentence embeddings (the same frozen embedder the metrics use,
so the vectors come from its on-disk cache) is fitted on the real Jigsaw *training* pools
(:data:`N_TRAIN` toxic + :data:`N_TRAIN` non-toxic comments), its accuracy measured on the held-out
*test* pools, and then it labels every line of every released comments file. Per part:

- ``agreement``: the share of the part's lines the classifier puts in the part's class;
- ``toxic_share``: the share it calls toxic.

Generated "toxic" comments are often not toxic at all (a toxic prompt makes toxicity likelier, not
certain), so a toxic part's agreement sits well below 1; what confirms the split is the gap in
``toxic_share`` between a file's two parts.
"""
from __future__ import annotations

import numpy as np

from ..data.tasks import get_task
from ..metrics.embeddings import as_embedder
from . import outputs

N_TRAIN = 1000  # real comments per class the classifier is fitted on: plenty for a linear probe, cheap to embed
POOLS = {"toxic": "comments-toxic", "non-toxic": "comments-nontoxic"}


def _pool(label: str, split: str, n: int | None, seed: int) -> list[str]:
    texts = get_task(POOLS[label]).real_texts(split)
    if n is None or n >= len(texts):
        return texts
    idx = np.random.default_rng([seed, len(label)]).permutation(len(texts))[:n]
    return [texts[i] for i in sorted(idx)]


def fit_classifier(embedder=None, *, n_train: int = N_TRAIN, seed: int = 0):
    """A toxic (1) vs non-toxic (0) probe on embeddings of the real training pools, and its held-out accuracy.

    Returns ``(model, emb, test_accuracy)``; ``emb`` is the embedder used (reuse it for the lines to label).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    emb = as_embedder(embedder)

    def xy(split: str, n: int | None):
        tox, ok = _pool("toxic", split, n, seed), _pool("non-toxic", split, n, seed)
        return emb.encode(tox + ok), np.r_[np.ones(len(tox)), np.zeros(len(ok))].astype(int)

    x, y = xy("train", n_train)
    # standardised: unit-norm embeddings have tiny coordinates; balanced: the pools differ in size
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, class_weight="balanced",
                                                               random_state=seed)).fit(x, y)
    x_test, y_test = xy("test", None)
    return model, emb, float((model.predict(x_test) == y_test).mean())


def split_agreement(embedder=None, *, methods=None, seed: int = 0) -> dict:
    """How well the line-range labels of the released comments agree with the classifier, per part.

    Returns ``{"classifier_test_accuracy": a, "n_train_per_class": N, "parts": {method: {part: {"n", "agreement",
    "toxic_share"}}}}``, ``methods`` defaulting to every released comments file.
    """
    model, emb, acc = fit_classifier(embedder, seed=seed)
    out: dict = {}
    for method in methods or outputs.reference_methods("comments"):
        rel = outputs.file_path("comments", method)
        out[method] = {}
        for part in outputs.parts("comments", method):
            texts = outputs.read_lines(rel, part)[0]
            toxic = model.predict(emb.encode(texts)).astype(bool)
            want = part.name == "toxic"
            out[method][part.name] = {"n": len(texts), "agreement": float((toxic == want).mean()),
                                      "toxic_share": float(toxic.mean())}
    return {"classifier_test_accuracy": acc, "n_train_per_class": N_TRAIN, "parts": out}


def block_toxic_share(method: str, embedder=None, *, block: int = 100, seed: int = 0) -> list[tuple[str, float]]:
    """The classifier's toxic share per ``block`` raw lines of one released comments file: where the runs change."""
    model, emb, _ = fit_classifier(embedder, seed=seed)
    rows = [(i, t) for i, t in outputs.numbered_lines(outputs.file_path("comments", method)) if t]
    toxic = model.predict(emb.encode([t for _, t in rows])).astype(bool)
    out = []
    for start in range(1, rows[-1][0] + 1, block):
        sel = [k for k, (i, _) in enumerate(rows) if start <= i < start + block]
        out.append((f"{start}–{min(start + block - 1, rows[-1][0])}", float(toxic[sel].mean())))
    return out
