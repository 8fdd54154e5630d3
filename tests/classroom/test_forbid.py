"""forbid(): a hidden test's guard against an exercise that returns the library function it should reimplement."""
import pytest

import steer_lib.metrics as metrics
from steer_lib.classroom.forbid import DelegationError, forbid
from steer_lib.metrics import text as metrics_text


def test_every_reference_raises_inside_and_is_restored_after():
    original = metrics.ngram_ratio
    ns = {"nr": metrics.ngram_ratio, "other": len}

    def delegating(tokens, n):
        return metrics.ngram_ratio(tokens, n)

    def aliased(tokens, n):
        return ns["nr"](tokens, n)

    def own(tokens, n):
        grams = [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
        return len(set(grams)) / len(grams)

    with forbid("steer_lib.metrics.ngram_ratio", namespace=ns):
        for f in (delegating, aliased):
            with pytest.raises(DelegationError, match="steer_lib.metrics.ngram_ratio"):
                f(list("abab"), 2)
        defining = [m for m in (metrics_text,) if getattr(m, "ngram_ratio", None) is not None]
        for m in defining:
            with pytest.raises(DelegationError):
                m.ngram_ratio(list("abab"), 2)
        assert own(list("abab"), 2) == 2 / 3  # an own implementation is unaffected
        assert ns["other"] is len
    assert metrics.ngram_ratio is original and ns["nr"] is original
    assert metrics.ngram_ratio(list("abab"), 2) == 2 / 3


def test_restored_even_when_the_block_fails():
    original = metrics.ngram_ratio
    with pytest.raises(ZeroDivisionError):
        with forbid("steer_lib.metrics.ngram_ratio"):
            1 / 0
    assert metrics.ngram_ratio is original


@pytest.mark.parametrize("bad, msg", [("ngram_ratio", "dotted name"), ("steer_lib.nope.f", "cannot be imported"),
                                      ("steer_lib.metrics.nope", "no attribute 'nope'")])
def test_bad_target_names_the_problem(bad, msg):
    with pytest.raises(ValueError, match=msg):
        with forbid(bad):
            pass
