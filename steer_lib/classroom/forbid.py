"""Hidden tests that forbid delegation: while they run, the library function an exercise reimplements raises.

A graded exercise such as "write ``ngram_ratio``" is worthless if ``return metrics.ngram_ratio(tokens, n)`` earns
full points. The hidden test compares the student's function with the library's *outside* the block, then calls the
student's function again inside ``with forbid("steer_lib.metrics.ngram_ratio"): ...``, where every reference to that
library object the notebook can reach — the defining module's attribute, each ``steer_lib`` package that re-exports
it, and names bound to it in the notebook's own namespace (``from steer_lib.metrics import ngram_ratio as f``) —
is swapped for a function that raises :class:`DelegationError`. Everything is restored on exit, even on error.

>>> import steer_lib.metrics as m
>>> original = m.ngram_ratio
>>> with forbid("steer_lib.metrics.ngram_ratio"):
...     m.ngram_ratio(["a", "b"], 1)
Traceback (most recent call last):
...
steer_lib.classroom.forbid.DelegationError: this exercise must be written here: it may not call steer_lib.metrics.ngram_ratio
>>> m.ngram_ratio is original
True
"""
from __future__ import annotations

import importlib
import sys
from contextlib import contextmanager
from types import ModuleType
from typing import Iterator


class DelegationError(AssertionError):
    """Raised by a forbidden library function: an AssertionError, so nbgrader scores the test cell zero."""


def _resolve(target: str) -> object:
    module_name, _, attr = target.rpartition(".")
    if not module_name or not attr:
        raise ValueError(f"forbid({target!r}): expected a dotted name such as 'steer_lib.metrics.ngram_ratio'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(f"forbid({target!r}): module {module_name!r} cannot be imported ({err})") from None
    if not hasattr(module, attr):
        raise ValueError(f"forbid({target!r}): {module_name} has no attribute {attr!r}")
    return getattr(module, attr)


def _holders(obj: object, namespaces: list[dict]) -> list[tuple[dict, str]]:
    """Every (namespace dict, name) that binds ``obj``: loaded steer_lib modules and the given namespaces."""
    spaces = [vars(mod) for name, mod in list(sys.modules.items())
              if isinstance(mod, ModuleType) and (name == "steer_lib" or name.startswith("steer_lib."))]
    spaces += namespaces
    found, seen = [], set()
    for space in spaces:
        if id(space) in seen:
            continue
        seen.add(id(space))
        found += [(space, name) for name, value in list(space.items()) if value is obj]
    return found


@contextmanager
def forbid(*targets: str, namespace: dict | None = None) -> Iterator[None]:
    """Within the block, each dotted library name in ``targets`` raises :class:`DelegationError` when called.

    ``namespace`` is the notebook's globals; by default ``__main__``'s, which is the user namespace in a Jupyter
    kernel. Compute any reference answer with the library *before* entering the block.
    """
    if not targets:
        raise ValueError("forbid(): name at least one library function, e.g. 'steer_lib.metrics.ngram_ratio'")
    spaces = [namespace] if namespace is not None else []
    main = sys.modules.get("__main__")
    if main is not None and vars(main) is not namespace:
        spaces.append(vars(main))
    patched: list[tuple[dict, str, object]] = []
    try:
        for target in targets:
            obj = _resolve(target)

            def blocked(*args, _name=target, **kwargs):
                raise DelegationError(f"this exercise must be written here: it may not call {_name}")

            for space, name in _holders(obj, spaces):
                patched.append((space, name, obj))
                space[name] = blocked
        yield
    finally:
        for space, name, obj in reversed(patched):
            space[name] = obj
