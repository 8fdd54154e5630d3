"""Stage 3, evaluation: every measure in the paper, and :func:`evaluate`, which scores a synthetic set.

- :mod:`.text`: token-level measures (normalised n-grams, diversity, validity, duplicates);
- :mod:`.fidelity`: embedding-space measures (cosine, MAUVE, adversarial AUROC, precision/recall, bootstrap);
- :mod:`.set_diversity`: compression ratio, self-repetition, Self-BLEU, Vendi score, length (Shaib et al.);
- :mod:`.embeddings`: sentence embeddings with an on-disk cache;
- :mod:`.evaluation`: :func:`evaluate`, every measure on one (synthetic, real) pair;
- :mod:`.input_files`: reading the text files a user hands the command line to score;
- :mod:`.keys`: the keys of the JSON result and the version of the metric definitions.
"""
from .embeddings import Embedder, as_embedder  # noqa: F401
from .evaluation import evaluate, sample_pair  # noqa: F401
from .fidelity import PROTOCOLS, protocol_settings  # noqa: F401
from .input_files import InputError, read_texts  # noqa: F401
from .keys import DIVERSITY_KEYS, JSON_KEYS, METRICS_VERSION  # noqa: F401
from .text import (MetricWarning, cut_joined, diversity, duplicate_rate, ngram_ratio, normalised_ngrams,  # noqa: F401
                   tokenize, validity_rate)
