"""Repeated n-grams made visible: which words of a sample set belong to an n-gram the set uses more than once.

The normalised n-gram score counts repeats over the whole joined set; this marks them, on words (split on
whitespace, so a reader sees whole words), so a low score can be read off the samples themselves.
:class:`SideBySide` shows several methods' samples in columns: HTML with ``<mark>`` in a notebook, and a plain-text
fallback (``[[repeated words]]``) wherever HTML is not rendered.

>>> sorted(repeated_ngrams(["the cat sat", "the cat ran"], n=2))
[('the', 'cat')]
>>> marked_words("the cat sat", {("the", "cat")}, n=2)
[('the', True), ('cat', True), ('sat', False)]
"""
from __future__ import annotations

import html
from collections import Counter
from typing import Sequence


def _check_n(n: int) -> int:
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n={n!r} must be an integer >= 1")
    return n


def repeated_ngrams(texts: Sequence[str], n: int = 3) -> set[tuple[str, ...]]:
    """Word n-grams occurring at least twice in ``" ".join(texts)`` (across samples too, as the metric counts)."""
    _check_n(n)
    if isinstance(texts, str):
        raise ValueError("texts must be a list of texts, not one string")
    words = " ".join(texts).split()
    counts = Counter(zip(*(words[i:] for i in range(n))))
    return {g for g, c in counts.items() if c > 1}


def marked_words(text: str, repeated: set[tuple[str, ...]], n: int = 3) -> list[tuple[str, bool]]:
    """Each word of ``text`` and whether it lies inside one of the ``repeated`` n-grams."""
    _check_n(n)
    words = text.split()
    mark = [False] * len(words)
    for i in range(len(words) - n + 1):
        if tuple(words[i:i + n]) in repeated:
            mark[i:i + n] = [True] * n
    return list(zip(words, mark))


def _render(text: str, repeated: set, n: int, as_html: bool) -> str:
    out, run = [], []
    for word, hit in marked_words(text, repeated, n) + [("", False)]:
        if hit:
            run.append(word)
            continue
        if run:
            joined = " ".join(run)
            out.append(f"<mark>{html.escape(joined)}</mark>" if as_html else f"[[{joined}]]")
            run = []
        if word:
            out.append(html.escape(word) if as_html else word)
    return " ".join(out)


class SideBySide:
    """Samples of several methods in columns, repeated n-grams (within each method's whole set) marked.

    ``sets`` maps a method to all its samples (repeats are counted over all of them); ``rows`` are shown.
    """

    def __init__(self, sets: dict[str, Sequence[str]], *, n: int = 3, rows: int = 4, width: int = 240):
        self.n, self.rows, self.width = _check_n(n), int(rows), int(width)
        if not sets:
            raise ValueError("SideBySide: no sample sets given")
        self.sets = {m: list(t) for m, t in sets.items()}
        self.repeated = {m: repeated_ngrams(t, n) for m, t in self.sets.items()}

    def share_marked(self, method: str) -> float:
        """The share of the method's words that lie inside a repeated n-gram (over all its samples)."""
        marks = [hit for t in self.sets[method] for _, hit in marked_words(t, self.repeated[method], self.n)]
        return sum(marks) / len(marks) if marks else 0.0

    def _cut(self, text: str) -> str:
        return text if len(text) <= self.width else text[: self.width].rsplit(" ", 1)[0] + " …"

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(m)} ({self.share_marked(m):.0%} of words in repeats)</th>"
                       for m in self.sets)
        body = ""
        for i in range(self.rows):
            cells = "".join(
                f"<td style='vertical-align:top;text-align:left'>"
                f"{_render(self._cut(t[i]), self.repeated[m], self.n, True) if i < len(t) else ''}</td>"
                for m, t in self.sets.items())
            body += f"<tr>{cells}</tr>"
        return (f"<p>Repeated {self.n}-grams (within each method's set) are <mark>marked</mark>.</p>"
                f"<table style='font-size:85%'><tr>{head}</tr>{body}</table>")

    def __str__(self) -> str:
        lines = [f"repeated {self.n}-grams (within each method's set) in [[double brackets]]"]
        for m, t in self.sets.items():
            lines.append(f"\n== {m} ({self.share_marked(m):.0%} of words in repeats)")
            lines += [f"  {i + 1}. {_render(self._cut(x), self.repeated[m], self.n, False)}"
                      for i, x in enumerate(t[: self.rows])]
        return "\n".join(lines)

    __repr__ = __str__
