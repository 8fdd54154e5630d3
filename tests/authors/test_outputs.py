"""The authors' released outputs: file discovery, cleaning, the γ×η grid and the real sets."""
from __future__ import annotations

import pytest

from steer_lib.authors import outputs as reference


def test_methods_and_task_names():
    assert reference.reference_tasks() == ["comments", "commonsense", "hypotheses"]
    assert reference.reference_methods("hypotheses") == ["beam", "contrastive", "greedy", "no_steer", "nucleus",
                                                         "steer"]
    assert reference.reference_methods("comments-toxic") == ["contrastive", "greedy", "no_steer", "nucleus", "steer"]
    assert reference.ref_task("csqa") == "commonsense"
    assert reference.ref_task("comments-nontoxic") == reference.ref_task("comments-toxic") == "comments"


def test_clean_line():
    assert reference.clean_line("###  You   are wrong ###") == "You are wrong"
    assert reference.clean_line("### I am back ###### more ###") == "I am back ###### more"
    assert reference.clean_line(" ###.") == ""
    csqa = "What? A. a B. b C. c D. d E. e Answer: A."
    assert reference.clean_line(csqa) == csqa


def test_load_reference_cleans_and_keeps_duplicates():
    comments = reference.load_reference("comments", "steer")
    assert len(comments) == 399 and not any(c.startswith("#") or c.endswith("###") for c in comments)
    beam = reference.load_reference("hypotheses", "beam")
    assert len(beam) == 998 and len(set(beam)) == 54  # beam search repeats itself; kept for duplicate rate
    assert reference.load_reference("commonsense", "top_k") == reference.load_reference("commonsense", "no_steer")
    assert len(reference.load_reference("commonsense", "beam")) == 8
    texts, dropped = reference.read_lines("reference/falcon-7b/commonsense-falcon-7b-steer.txt")
    assert dropped == 4 and len(texts) == 562  # the four "###." fragments
    with pytest.raises(ValueError, match="methods for comments: contrastive"):
        reference.load_reference("comments", "beam")


def test_grid():
    grid = reference.load_grid()
    assert len(grid) == 36 and (0.0, 0.0) in grid and (1.0, 1.0) in grid
    assert all(len(v) >= 20 for v in grid.values())
    assert all(t.endswith("?") for t in grid[(0.0, 0.0)][:5])


def test_real_sets():
    assert len(reference.real_set("hypotheses")) == 1000
    comments = reference.real_set("comments")
    assert len(comments) == 3000 and comments == reference.real_set("comments-toxic")
    cs = reference.real_set("commonsense")
    assert len(cs) == 9741 and " Answer: " in cs[0] and " E. " in cs[0]
