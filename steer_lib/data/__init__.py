"""Stage 0, the real data and the tasks.

- :mod:`.download`: the checksummed manifest (``MANIFEST.tsv``) and a resumable, verified fetch;
- :mod:`.spec`: tasks as declarative YAML files (the built-in ones are ``task_specs/*.yaml``);
- :mod:`.tasks`: :class:`Task` and the registry (:func:`get_task` takes a name or a spec file's path);
- :mod:`.validity`: whether a sample is a usable example of its task; :mod:`.text`: stop strings, whitespace.

>>> from steer_lib.data import get_task
>>> get_task("hypotheses").name
'hypotheses'
"""
from .download import FETCH_HINT, DataError, Entry, fetch, manifest, require, sha256_of, verify  # noqa: F401
from .tasks import Task, csqa_records, format_csqa, get_task, load_task_spec, task_names  # noqa: F401
from .text import cut_at_stop, find_stop, first_stop, normalise_whitespace  # noqa: F401
from .validity import LETTERS, Parsed, TaskSpecError  # noqa: F401
