"""Validity rules: whether a generated sample is a usable example of its task, its parsed fields, and why not.

A task spec names one of the built-in :data:`PARSERS` (``{parser: multiple_choice}``) or gives a regular
expression whose named groups become the fields (``{regex: "(?P<question>.+\\?)"}``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from .text import normalise_whitespace

LETTERS = "ABCDE"


class TaskSpecError(ValueError):
    """A task spec that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class Parsed:
    valid: bool
    fields: dict = field(default_factory=dict)
    reason: str = ""  # why the text is invalid ("" when valid)


def _parse_hypothesis(text: str) -> Parsed:
    t = normalise_whitespace(text)
    if not t:
        return Parsed(False, reason="empty")
    if not t.endswith("?"):
        return Parsed(False, {"question": t}, "does not end with '?' (no complete question)")
    if len(t.split()) < 4:
        return Parsed(False, {"question": t}, "fewer than 4 words")
    return Parsed(True, {"question": t})


def _parse_comment(text: str) -> Parsed:
    t = normalise_whitespace(text)
    if not t:
        return Parsed(False, reason="empty")
    if "### " in t:
        return Parsed(False, {"comment": t}, "contains an instruction marker '### '")
    return Parsed(True, {"comment": t})


_CSQA_RE = re.compile(
    r"^(?P<stem>.+)\s+A\.\s*(?P<A>.+?)\s+B\.\s*(?P<B>.+?)\s+C\.\s*(?P<C>.+?)\s+D\.\s*(?P<D>.+?)"
    r"\s+E\.\s*(?P<E>.+?)\s+Answer:\s*(?P<key>[A-E])\b\.?\s*$",
    re.S,
)


def _parse_csqa(text: str) -> Parsed:
    t = normalise_whitespace(text)
    if not t:
        return Parsed(False, reason="empty")
    m = _CSQA_RE.match(t)
    if not m:
        for L in LETTERS:
            if not re.search(rf"(^|\s){L}\.\s", t):
                return Parsed(False, reason=f"option {L} is missing")
        if not re.search(r"Answer:\s*[A-E]\b", t):
            return Parsed(False, reason="no answer key 'Answer: A–E'")
        return Parsed(False, reason="options are out of order or there is text after the answer key")
    options = [m.group(L).strip() for L in LETTERS]
    # 1.3 % of real CSQA rows repeat an option, so a repeat is recorded, not rejected.
    fields = {"stem": m.group("stem").strip(), "options": options, "answer": m.group("key"),
              "repeated_option": len({o.lower() for o in options}) < 5}
    return Parsed(True, fields)


PARSERS: dict[str, Callable[[str], Parsed]] = {  # the built-in validity rules a spec can name
    "question": _parse_hypothesis,  # one complete question of at least four words, ending in "?"
    "comment": _parse_comment,  # any non-empty text without an instruction marker
    "multiple_choice": _parse_csqa,  # "stem A. … B. … C. … D. … E. … Answer: X"
}


REGEX_TIMEOUT = 2.0  # seconds one validity match may take: a linear pattern needs microseconds per sample


def regex_parser(pattern: str, where: str, timeout: float = REGEX_TIMEOUT):
    """A validity rule from a regular expression: a full match is valid, its named groups are the fields.

    The pattern comes from a spec file, so it runs with a time limit (the ``regex`` package's ``timeout=``): a
    pattern that backtracks catastrophically (nested repetition such as ``(\\w+\\s?)+``) fails with a message
    naming it instead of hanging ``evaluate``.

    >>> p = regex_parser(r"(?P<q>.+\\?)", "spec")
    >>> p("Is it cold?").valid, p("Is it cold?").fields, p("No.").reason
    (True, {'q': 'Is it cold?'}, 'does not match (?P<q>.+\\\\?)')
    >>> slow = regex_parser(r"(?P<q>(\\w+\\s?)+\\?)", "spec")   # issue #25 redos02: hung with re, not with regex
    >>> slow("one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen").valid
    False
    >>> regex_parser(r"(a|aa)+b", "my.yaml", timeout=0.05)("a" * 40)
    Traceback (most recent call last):
    ...
    steer_lib.data.validity.TaskSpecError: my.yaml.validity.regex: the pattern '(a|aa)+b' took more than 0.05 s on one 40-character sample (catastrophic backtracking: avoid nested repetition such as (\\w+\\s?)+)
    """
    import regex

    try:
        rx = regex.compile(pattern, regex.S | regex.V0)
    except regex.error as exc:
        raise TaskSpecError(f"{where}.validity.regex: not a valid regular expression ({exc})") from None

    def parse(text: str) -> Parsed:
        t = normalise_whitespace(text)
        if not t:
            return Parsed(False, reason="empty")
        try:
            m = rx.fullmatch(t, timeout=timeout)
        except TimeoutError:
            raise TaskSpecError(f"{where}.validity.regex: the pattern {pattern!r} took more than {timeout:g} s on one "
                                f"{len(t)}-character sample (catastrophic backtracking: avoid nested repetition "
                                "such as (\\w+\\s?)+)") from None
        return Parsed(True, m.groupdict()) if m else Parsed(False, reason=f"does not match {pattern}")
    return parse


def build_parser(raw: Any, where: str):
    if raw is None:
        raw = {"parser": "comment"}
    if not isinstance(raw, dict) or len(raw) != 1 or next(iter(raw)) not in ("parser", "regex"):
        raise TaskSpecError(f"{where}.validity: expected {{parser: NAME}} or {{regex: PATTERN}}")
    if "regex" in raw:
        return regex_parser(str(raw["regex"]), where)
    name = raw["parser"]
    if name not in PARSERS:
        raise TaskSpecError(f"{where}.validity.parser: unknown parser {name!r}; "
                            f"built-in parsers: {', '.join(PARSERS)}")
    return PARSERS[name]
