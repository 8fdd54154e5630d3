"""The STEER authors' released outputs (Falcon-7B): cleaned, labelled, and scored with the kit's metrics.

- :mod:`.outputs`: the released files, what each one is, and the real set each is scored against;
- :mod:`.scoring`: :func:`run_reference`, every released file scored and cached by row.
"""
from .outputs import (  # noqa: F401
                      KIT_METHOD,
                      TASK_MAP,
                      load_grid,
                      load_reference,
                      read_lines,
                      real_set,
                      reference_methods,
                      reference_tasks,
)
from .scoring import rows_to_csv, run_reference, score_reference  # noqa: F401
