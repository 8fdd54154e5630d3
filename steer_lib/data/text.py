"""Text helpers every task shares: where a stop string matches, and whitespace normalised."""
from __future__ import annotations

import re


def find_stop(text: str, stop: str) -> tuple[int, int] | None:
    """(start, end) of the first match of a stop string; ``re:`` prefixes a regular expression."""
    if stop.startswith("re:"):
        m = re.search(stop[3:], text)
        return (m.start(), m.end()) if m else None
    i = text.find(stop)
    return (i, i + len(stop)) if i >= 0 else None


def normalise_whitespace(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()
