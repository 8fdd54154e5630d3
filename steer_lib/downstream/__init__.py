"""Stage 5, downstream utility: does a method's synthetic data train better models on held-out real data?

- :mod:`.common`: the config, sentence embeddings, input checks;
- :mod:`.toxicity`: comments → toxicity classifier;
- :mod:`.mcqa`: commonsense → multiple-choice QA;
- :mod:`.report`: tables and figures;
- :mod:`.run`: :func:`run`, the experiments wired to the generation stage or to the authors' outputs.
"""
from .common import DownstreamConfig, embed_lookup, get_embedder  # noqa: F401
from .mcqa import CHANCE as MCQA_CHANCE  # noqa: F401
from .mcqa import Question, mcqa_experiment, parse_questions, real_questions  # noqa: F401
from .report import plot, records, reference_synthetic, save_outputs, summarise, to_markdown  # noqa: F401
from .report import power_line, vs_real_markdown  # noqa: F401
from .runner import CHANCE, TASKS, check_task, run, run_experiment  # noqa: F401
from .toxicity import CLASSES, REAL_METHOD, real_pools, toxicity_experiment  # noqa: F401
