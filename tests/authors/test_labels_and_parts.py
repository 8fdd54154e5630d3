"""The released files labelled for what they are: top-k, not contrastive search; two comments runs per file;
the hypotheses steer file's final-formula part; the split checked with the kit's toxicity classifier."""
from __future__ import annotations

import pytest

from conftest import bag_of_words
from steer_lib.authors import outputs as reference
from steer_lib.authors import split_check
from steer_lib.metrics.embeddings import Embedder


def test_their_contrastive_is_labelled_top_k_and_nothing_maps_to_contrastive_search():
    assert reference.label("contrastive") == "top-k (their 'contrastive')"
    assert reference.KIT_METHOD["contrastive"] == "top_k"
    for task in reference.reference_tasks():
        for method in reference.reference_methods(task):
            for part in reference.parts(task, method):
                lab = reference.label(method, part.name)
                assert reference.KIT_METHOD[method] != "contrastive_search" and "contrastive_search" not in lab
                assert "contrastive" not in lab or lab == "top-k (their 'contrastive')"
    # the label names one file: the kit's top_k is their no_steer, the quoted label their contrastive
    assert reference.method_name("top_k") == "no_steer"
    assert reference.method_name("top-k (their 'contrastive')") == "contrastive"


# (method, lines in the non-toxic run, lines in the toxic run), after cleaning
SPLIT = [("contrastive", 500, 499), ("greedy", 500, 502), ("no_steer", 500, 499), ("nucleus", 500, 490),
         ("steer", 200, 199)]


@pytest.mark.parametrize("method,n_ok,n_toxic", SPLIT)
def test_comments_files_split_into_two_runs(method, n_ok, n_toxic):
    parts = {p.name: p for p in reference.parts("comments", method)}
    assert set(parts) == {"toxic", "non-toxic"}
    assert parts["toxic"].kit_task == "comments-toxic" and parts["non-toxic"].kit_task == "comments-nontoxic"
    ok, toxic = reference.load_reference("comments-nontoxic", method), reference.load_reference("comments-toxic", method)
    assert (len(ok), len(toxic)) == (n_ok, n_toxic)
    whole = reference.load_reference("comments", method)  # the reference task name: the whole file
    assert sorted(ok + toxic) == sorted(whole)


def test_split_ranges_are_the_declared_ones():
    spans = {m: {p.name: p.span for p in reference.parts("comments", m)} for m, *_ in SPLIT}
    assert spans["steer"] == {"toxic": "1–100, 301–399", "non-toxic": "101–300"}
    assert all(spans[m] == {"non-toxic": "1–500", "toxic": "501–end"} for m in ("contrastive", "greedy", "no_steer",
                                                                                "nucleus"))
    assert all(p.source for m, *_ in SPLIT for p in reference.parts("comments", m))  # provenance stated


def test_hypotheses_steer_has_a_final_formula_part():
    names = [p.name for p in reference.parts("hypotheses", "steer")]
    assert names == ["", "final formula"]
    final = reference.load_reference("hypotheses", "steer", part="final formula")
    whole = reference.load_reference("hypotheses", "steer")
    assert len(whole) == 1000 and len(final) == 348 and final == whole[652:]  # lines 653–1000
    assert reference.label("steer", "final formula") == "steer (final formula)"
    assert [p.name for p in reference.parts("hypotheses", "beam")] == [""]  # every other file is one row
    with pytest.raises(ValueError, match="no part 'toxic'"):
        reference.load_reference("hypotheses", "steer", part="toxic")


def test_split_agreement_reports_every_part():
    res = split_check.split_agreement(Embedder(bag_of_words, cache=False), methods=["steer", "greedy"])
    assert 0.0 <= res["classifier_test_accuracy"] <= 1.0 and res["n_train_per_class"] == split_check.N_TRAIN
    assert set(res["parts"]) == {"steer", "greedy"}
    steer = res["parts"]["steer"]
    assert steer["toxic"]["n"] == 199 and steer["non-toxic"]["n"] == 200
    for got in (*steer.values(), *res["parts"]["greedy"].values()):
        assert 0.0 <= got["agreement"] <= 1.0 and 0.0 <= got["toxic_share"] <= 1.0
    assert steer["toxic"]["agreement"] == steer["toxic"]["toxic_share"]  # toxic part: agreeing = called toxic
    assert steer["non-toxic"]["agreement"] == pytest.approx(1 - steer["non-toxic"]["toxic_share"])
