"""Stage 3, evaluation: every measure in the paper, and :func:`evaluate`, which scores a synthetic set.

- :mod:`.text`: token-level measures (normalised n-grams, diversity, validity, duplicates);
- :mod:`.fidelity`: embedding-space measures (cosine, MAUVE, adversarial AUROC, precision/recall, bootstrap);
- :mod:`.set_diversity`: compression ratio, self-repetition, Self-BLEU, Vendi score, length (Shaib et al.);
- :mod:`.embeddings`: sentence embeddings with an on-disk cache;
- :mod:`.evaluation`: :func:`evaluate`, every measure on one (synthetic, real) pair;
- :mod:`.io`: reading text files to score, and the JSON result's keys.
"""
from .embeddings import Embedder, as_embedder  # noqa: F401
from .evaluation import evaluate, sample_pair  # noqa: F401
from .fidelity import PROTOCOLS, protocol_settings  # noqa: F401
from .io import DIVERSITY_KEYS, JSON_KEYS, METRICS_VERSION, InputError, read_texts  # noqa: F401
from .text import (MetricWarning, cut_joined, diversity, duplicate_rate, ngram_ratio, normalised_ngrams,  # noqa: F401
                   tokenize, validity_rate)
