"""The STEER authors' released outputs (Falcon-7B): cleaned, labelled for what they are, scored with the kit's metrics.

- :mod:`.outputs`: the released files, what each one is (:data:`~.outputs.PARTS`: the line ranges of
  the comments files' toxic and non-toxic runs, the hypotheses steer file's final-formula part), and the real
  pool each part is scored against;
- :mod:`.split_check`: the kit's own toxicity classifier checked against those line ranges;
- :mod:`.scoring`: :func:`run_reference`, every part of every released file scored and cached by row.
"""
from .outputs import (  # noqa: F401
                      KIT_METHOD,
                      KIT_TASKS,
                      LABELS,
                      PARTS,
                      Part,
                      label,
                      load_grid,
                      load_reference,
                      parts,
                      read_lines,
                      real_set,
                      reference_methods,
                      reference_tasks,
)
from .scoring import rows_to_csv, run_reference, score_reference  # noqa: F401
