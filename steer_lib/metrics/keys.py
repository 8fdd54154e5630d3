"""What a metrics record holds: the keys of the JSON result (in the order the command line prints them) and the
version of the metric definitions, which invalidates every cache of scores when it changes."""
from __future__ import annotations

JSON_KEYS = ("n", "ngram3", "ngram3_real", "diversity", "diversity_real", "cosine", "cosine_centroid", "mauve",
             "mauve_sd", "adv_auroc", "alpha_precision", "beta_recall", "validity")
# the diversity measures since the paper (set_diversity), next in the JSON line, each beside its real-side value
DIVERSITY_KEYS = ("compression_ratio", "compression_ratio_real", "self_repetition", "self_repetition_real",
                  "self_bleu", "self_bleu_real", "vendi", "vendi_real", "mean_length", "mean_length_real",
                  "length_sd", "length_sd_real")
# bump when a metric is added or its definition changes: invalidates evaluate-reference's row cache, the authors'
# grid cache and the experiments' metrics files (3: the set_diversity measures)
METRICS_VERSION = 3
