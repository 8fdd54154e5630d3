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
    ok = reference.load_reference("comments-nontoxic", method)
    toxic = reference.load_reference("comments-toxic", method)
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


def test_reference_table_rows_and_note(tmp_path, monkeypatch):
    """Notebook 07's authors' tables: split comments rows under each pool, both hypotheses steer rows, honest notes."""
    from steer_lib.authors.scoring import run_reference
    from steer_lib.experiments import results, tables
    from steer_lib.metrics import embeddings, evaluation

    fake = Embedder(bag_of_words, cache=False)
    monkeypatch.setattr(evaluation, "as_embedder", lambda e: fake)
    monkeypatch.setattr(embeddings, "as_embedder", lambda e: fake)
    prefix, rows = run_reference(20, out=tmp_path / "ref", tasks=["comments", "hypotheses"],
                                 methods=["contrastive", "steer"], mauve_seeds=1)
    src = prefix.with_suffix(".csv")
    import json

    meta = json.loads(prefix.with_suffix(".json").read_text(encoding="utf-8"))["meta"]
    assert set(meta["split_check"]["agreement"]) == {"contrastive non-toxic (1–500)", "contrastive toxic (501–end)",
                                                     "steer toxic (1–100, 301–399)", "steer non-toxic (101–300)"}
    assert len(rows) == 2 * 2 + 3  # comments: 2 files × 2 runs; hypotheses: contrastive, steer, steer (final formula)
    seen = []
    for task, labels in (("comments-toxic", ["top-k (their 'contrastive')", "steer"]),
                         ("comments-nontoxic", ["top-k (their 'contrastive')", "steer"]),
                         ("hypotheses", ["top-k (their 'contrastive')", "steer", "steer (final formula)"])):
        summary, caption, note = tables.reference_table(task, src)
        assert list(summary.index) == labels and task in caption
        seen.append(caption + note + tables.render(summary))
        assert "docs/fidelity.md" in note
    toxic_note, ok_note, hyp_note = seen
    assert "lines 1–100, 301–399 of their `steer` file (toxic run)" in toxic_note
    assert "lines 101–300 of their `steer` file (non-toxic run)" in ok_note
    assert "agrees with the line-range label" in ok_note
    assert "lines 653–end of their `steer` file (final formula)" in hyp_note and "4d55cf7" in hyp_note
    assert tables.steer_rows(tables.reference_table("hypotheses", src)[0]) == ["steer", "steer (final formula)"]
    for text in seen:  # never called contrastive search, except to say it is not
        assert text.lower().count("contrastive search") == text.lower().count("not contrastive search")
    assert results.load_reference("commonsense", src).empty  # not scored in this run


def test_an_old_one_row_per_file_csv_is_not_shown(tmp_path, monkeypatch):
    from steer_lib.experiments import results

    monkeypatch.setenv("STEER_RUNS", str(tmp_path))
    (tmp_path / "reference").mkdir()
    (tmp_path / "reference" / "falcon-7b.csv").write_text("task,kit_task,method,kit_method,n\ncomments,comments-toxic,"
                                                          "contrastive,contrastive_search,20\n", encoding="utf-8")
    assert results.reference_csv(min_n=0) is None  # it would call their top-k file contrastive search: rescored


def test_downstream_stand_in_uses_the_line_range_split():
    from steer_lib.downstream.report import reference_synthetic

    comments = reference_synthetic("comments")
    assert {c: len(v) for c, v in comments["steer"].items()} == {"toxic": 199, "non-toxic": 200}
    assert comments["top-k (their 'contrastive')"]["non-toxic"] == reference.load_reference("comments-nontoxic",
                                                                                           "contrastive")
