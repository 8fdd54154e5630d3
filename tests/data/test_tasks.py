"""Each task's real data, formatting, stop rule and parser, on real rows."""
from __future__ import annotations

import pytest

from steer_lib.data.tasks import csqa_records, get_task, task_names


def test_unknown_task_lists_valid_names():
    with pytest.raises(ValueError) as exc:
        get_task("hypothesis-typo")
    for name in task_names():
        assert name in str(exc.value)


def test_aliases():
    assert get_task("comments").name == "comments-toxic"
    assert get_task("csqa").name == "commonsense"


@pytest.mark.parametrize("name, n_all, n_test", [("hypotheses", 1000, None), ("comments-toxic", 3000, 600),
                                                 ("comments-nontoxic", 2000, 600), ("commonsense", 9741, 1221)])
def test_real_splits_sizes_and_disjointness(name, n_all, n_test):
    t = get_task(name)
    train, val, all_ = t.real_texts("train"), t.real_texts("val"), t.real_texts("all")
    assert len(all_) == n_all and len(val) == t.val_size and len(train) + len(val) == n_all
    assert sorted(train + val) == sorted(all_)
    assert t.real_texts("val") == val  # the held-out split is fixed, not drawn per call
    if n_test is None:
        with pytest.raises(ValueError, match="no test split"):
            t.real_texts("test")
    else:
        assert len(t.real_texts("test")) == n_test
    with pytest.raises(ValueError, match="split='dev'"):
        t.real_texts("dev")


def test_hypotheses_real_rows_are_valid_questions_and_format_matches_source():
    t = get_task("hypotheses")
    texts = t.real_texts("all")
    assert all(t.parse(x).valid for x in texts)
    assert t.format(texts[0]).startswith("### Instruction: Generate a scientific hypothesis about astronomy")
    assert "\n ### Hypothesis: Is there" in t.format(texts[0])
    assert t.max_new_tokens == 100


def test_hypothesis_stop_rule_and_parser():
    t = get_task("hypotheses")
    assert t.clean(" Do magnetars power FRBs? Yes, because") == "Do magnetars power FRBs?"
    assert t.clean(" Do pulsars\n### Instruction") == "Do pulsars"
    assert t.parse("Do pulsars").reason.startswith("does not end with '?'")
    assert not t.parse("Why?").valid
    assert t.parse("").reason == "empty"


def test_comments_keep_text_but_normalise_whitespace():
    tox, ok = get_task("comments-toxic"), get_task("comments-nontoxic")
    assert tox.label == "toxic" and ok.label == "non-toxic" and tox.max_new_tokens == 75
    assert all("\n" not in x and "  " not in x and x == x.strip() for x in tox.real_texts("all"))
    assert "non-toxic" in ok.prompt and "non-toxic" not in tox.prompt
    assert tox.clean(" you are  wrong\n### Comment: next") == "you are wrong"
    assert tox.clean(" stop it ###") == "stop it"
    assert tox.parse("### Comment: hi").reason.startswith("contains an instruction marker")


def test_every_csqa_train_row_round_trips_through_format_and_parse():
    t = get_task("commonsense")
    records = csqa_records("csqa/train_rand_split.jsonl")
    assert len(records) == 9741
    for r, text in zip(records, t.real_texts("all")):
        p = t.parse(text)
        assert p.valid, (text, p.reason)
        assert p.fields["stem"] == r["stem"] and p.fields["options"] == r["options"] and p.fields["answer"] == r["answer"]


@pytest.mark.parametrize("text, reason", [
    ("Where is it? A. a B. b C. c D. d Answer: A", "option E is missing"),
    ("Where is it? A. a B. b C. c D. d E. e", "no answer key"),
    ("Where is it? A. a B. b C. c D. d E. e Answer: A and then more", "text after the answer key"),
])
def test_csqa_parser_says_why(text, reason):
    p = get_task("commonsense").parse(text)
    assert not p.valid and reason in p.reason


def test_csqa_stop_rule_keeps_answer_key_and_accepts_authors_trailing_period():
    t = get_task("commonsense")
    out = t.clean(" What melts? A. ice B. rock C. iron D. wood E. sand Answer: A. What else")
    assert out == "What melts? A. ice B. rock C. iron D. wood E. sand Answer: A"
    assert t.parse(out).fields["answer"] == "A"
    assert t.parse("What melts? A. ice B. rock C. iron D. wood E. sand Answer: A.").valid
