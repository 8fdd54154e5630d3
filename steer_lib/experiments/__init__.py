"""Stage 4, experiments: (task, method, seed) → cached samples → cached metrics, and what is built on them.

- :mod:`.experiment`: :class:`ExperimentConfig` and one experiment's cached samples and metrics;
- :mod:`.sweep_config` / :mod:`.sweep`: the γ×η ablation grid;
- :mod:`.results`: recorded results read back (the kit's and the authors');
- :mod:`.selection`: the rule that picks the reported STEER point, and the Pareto front;
- :mod:`.tables` (one task's table; :mod:`.table_render` writes it, :mod:`.narration` says what it shows,
  :mod:`.table_tests` runs the bootstraps behind its marks) / :mod:`.figures`: the paper's tables, heatmaps and
  Pareto fronts;
- :mod:`.pipeline`: ``make reproduce``, the notebooks run in order with papermill.
"""
from .experiment import (  # noqa: F401
                         ExperimentConfig,
                         evaluate_method,
                         generation_path,
                         real_reference,
                         synthetic_records,
                         synthetic_texts,
)
from .sweep import load_sweep, run_sweep  # noqa: F401
from .sweep_config import SweepConfig, load_config  # noqa: F401
