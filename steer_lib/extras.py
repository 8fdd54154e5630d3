"""Optional dependencies: which extra of the kit brings each one, and a one-line error naming it when it is missing.

``pip install steer-kit`` is enough to fine-tune, generate and score (``generate()``, the metrics, the experiments as
library calls). Running notebooks, teaching with them and testing need more, in extras that ``make install`` puts in
(``.[dev]`` holds them all):

- ``notebooks``: papermill, nbformat, nbclient, ipykernel, jupyterlab, ipywidgets -- ``reproduce``, ``sweep --notebooks``;
- ``classroom``: nbgrader, nbformat, jupyter-server-mathjax -- ``assignments``, ``site``;
- ``dev``: both, and pytest, nbval, xgboost, vendi-score -- ``make test``.

>>> EXTRA["nbgrader"], EXTRA["papermill"]
('classroom', 'notebooks')
>>> str(MissingExtra("papermill", "the notebook pipeline"))
"the notebook pipeline needs papermill, which this install lacks: pip install 'steer-kit[notebooks]' (or make install)"
"""
from __future__ import annotations

import importlib
import importlib.util

# import name -> the extra that installs it
EXTRA = {"papermill": "notebooks", "nbclient": "notebooks", "ipykernel": "notebooks", "jupyterlab": "notebooks",
         "ipywidgets": "notebooks", "nbformat": "classroom", "nbgrader": "classroom",
         "jupyter_server_mathjax": "classroom", "nbval": "dev", "pytest": "dev"}


class MissingExtra(ModuleNotFoundError):
    """An optional dependency is not installed; the message names the extra that brings it."""

    def __init__(self, module: str, purpose: str):
        self.module = module
        super().__init__(f"{purpose} needs {module}, which this install lacks: "
                         f"pip install 'steer-kit[{EXTRA.get(module, 'dev')}]' (or make install)", name=module)


def require(module: str, purpose: str):
    """``import module`` for ``purpose`` (said in the error), or :class:`MissingExtra` naming the extra to install."""
    if importlib.util.find_spec(module) is None:
        raise MissingExtra(module, purpose)
    return importlib.import_module(module)


def check(module: str, purpose: str) -> None:
    """Raise :class:`MissingExtra` unless ``module`` is installed (without importing it: e.g. run as a subprocess)."""
    if importlib.util.find_spec(module) is None:
        raise MissingExtra(module, purpose)
