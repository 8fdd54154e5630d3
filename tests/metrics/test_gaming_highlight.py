"""The gamed sets and the repeated-n-gram highlighter."""
import pytest

from steer_lib.metrics import diversity
from steer_lib.metrics.gaming import gamed_sets
from steer_lib.metrics.highlight import SideBySide, marked_words, repeated_ngrams

REAL = ["the red star is hot", "a cold cloud of gas collapses", "the galaxy spins fast today", "dust hides the core"]


def test_gamed_sets_do_what_they_say():
    before = list(REAL)
    sets = gamed_sets(REAL, vocabulary=REAL * 2, seed=1)
    assert REAL == before
    assert sets["copies"] == REAL and sets["copies"] is not REAL
    assert sets["one_repeated"] == [REAL[0]] * len(REAL)
    vocab = {w for t in REAL for w in t.split()}
    assert all(set(t.split()) <= vocab for t in sets["word_salad"])
    assert diversity(sets["one_repeated"], tokenizer=str.split) < diversity(REAL, tokenizer=str.split)
    assert gamed_sets(REAL, seed=1) == gamed_sets(REAL, seed=1)


def test_gamed_sets_reject_bad_input():
    with pytest.raises(ValueError, match="non-empty list"):
        gamed_sets("one text")
    with pytest.raises(ValueError, match="vocabulary"):
        gamed_sets(REAL, vocabulary="words")


def test_repeats_are_counted_across_samples():
    reps = repeated_ngrams(["a b c d", "x a b c"], n=3)
    assert reps == {("a", "b", "c")}
    assert [hit for _, hit in marked_words("x a b c", reps, 3)] == [False, True, True, True]


def test_side_by_side_marks_in_html_and_text():
    view = SideBySide({"m1": ["a b c a b c", "q r s"], "m2": ["u v w", "x y z"]}, n=3, rows=2)
    assert "<mark>a b c a b c</mark>" in view._repr_html_()
    assert "[[a b c a b c]]" in str(view)
    assert view.share_marked("m2") == 0.0 and view.share_marked("m1") == pytest.approx(6 / 9)
    assert "&lt;b&gt;" in SideBySide({"m": ["<b> x"]})._repr_html_()  # samples are escaped
    with pytest.raises(ValueError, match="n=0"):
        SideBySide({"m": ["a"]}, n=0)


def test_the_salad_draws_alphabetic_words_only():
    """"!!!!" or "haha," tokenise into repeated sub-words: a salad of them repeats n-grams inside one word."""
    salad = gamed_sets(["wow !!!!!! nice,", "so ...... good"], seed=1)["word_salad"]
    assert {w for t in salad for w in t.split()} <= {"wow", "so", "good"}
    assert gamed_sets(["!!! ???"], seed=0)["word_salad"][0].split()[0] in {"!!!", "???"}  # nothing alphabetic: all words
