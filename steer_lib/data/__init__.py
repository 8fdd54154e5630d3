"""Stage 0, the real data: a checksummed manifest and fetch (:mod:`.fetch`) and the tasks (:mod:`.tasks`).

>>> from steer_lib.data import get_task
>>> get_task("hypotheses").name
'hypotheses'
"""
from .download import FETCH_HINT, DataError, Entry, fetch, manifest, require, sha256_of, verify  # noqa: F401
from .tasks import (  # noqa: F401
                    LETTERS,
                    Parsed,
                    Task,
                    csqa_records,
                    find_stop,
                    format_csqa,
                    get_task,
                    normalise_whitespace,
                    task_names,
)
