"""Text helpers every task shares: where a sample ends at its stop strings, and whitespace normalised.

The one stop-string rule of the kit (the engine, the baselines, the writer's stats and ``Task.clean`` all use it):
a sample ends at the *earliest* match of any of its stop strings (at one start, the shortest match);
``re:`` prefixes a regular expression.
"""
from __future__ import annotations

import re
from typing import Sequence


def find_stop(text: str, stop: str) -> tuple[int, int] | None:
    """(start, end) of the first match of a stop string; ``re:`` prefixes a regular expression."""
    if stop.startswith("re:"):
        m = re.search(stop[3:], text)
        return (m.start(), m.end()) if m else None
    i = text.find(stop)
    return (i, i + len(stop)) if i >= 0 else None


def first_stop(text: str, stops: Sequence[str]) -> tuple[int, int] | None:
    """(start, end) of the earliest match of any of ``stops`` (at one start, the shortest); ``None`` if none matches.

    >>> first_stop("Why? Because.\\nNext", ("\\n", "?"))
    (3, 4)
    >>> first_stop("no stop here", ("?",)) is None
    True
    """
    hits = [h for h in (find_stop(text, s) for s in stops) if h is not None]
    return min(hits) if hits else None


def cut_at_stop(text: str, stops: Sequence[str], keep: bool = True) -> str:
    """``text`` up to the earliest stop string, which is kept (``keep``) or dropped; unchanged if none occurs.

    >>> cut_at_stop("Is it cold? Yes", ("?", "\\n")), cut_at_stop("Is it cold? Yes", ("?",), keep=False)
    ('Is it cold?', 'Is it cold')
    """
    hit = first_stop(text, stops)
    return text if hit is None else text[: hit[1] if keep else hit[0]]


def normalise_whitespace(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()
