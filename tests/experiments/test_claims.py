"""The claims (steer_lib/experiments/claims.yaml): the verdict rule, equal tuning and the CLI, on constructed data.

The sets are random sentences over a small vocabulary; a bag-of-words embedder and ``str.split`` as tokenizer keep
every test free of models. The "real" texts are the same kind of sentences, so a set of them scores like real data.
"""
from __future__ import annotations

import json
import zlib

import numpy as np
import pytest

from steer_lib.__main__ import main
from steer_lib.experiments import claims as cl

VOCAB = [f"w{i}" for i in range(300)]


def sentences(n: int, seed: int, words: int = 8, vocab: int = 300) -> tuple[str, ...]:
    rng = np.random.default_rng(seed)
    # "What … ?": a valid question for the hypotheses task's parser (validity is a factor of the selection rule)
    return tuple("What " + " ".join(VOCAB[j] for j in rng.integers(0, vocab, words)) + "?" for _ in range(n))


def bag(texts):
    """Bag of hashed words: texts that share words embed close; "z" words (word salad) fill dimensions of their own."""
    out = np.zeros((len(texts), 128))
    for i, t in enumerate(texts):
        for w in t.split():
            out[i, zlib.crc32(w.encode()) % 64 + (64 if w.startswith("z") else 0)] += 1.0
    return out + 1e-3


REAL_VAL, REAL_TEST = sentences(100, 1), sentences(300, 2)


def source(*sets: cl.Sample, steer: str = "") -> cl.Source:
    return cl.Source(name="constructed", task="hypotheses", sets=sets, val=REAL_VAL, test=REAL_TEST, steer=steer)


def run(src: cl.Source, claims=("C3",), reps=40):
    return cl.evaluate_claims(src, claims=list(claims), reps=reps, embedder=bag, tokenizer=str.split)


def one(rows, metric, b=None):
    got = [r for r in rows if r.metric == metric and (b is None or r.b == b)]
    assert len(got) == 1, [(r.metric, r.b) for r in rows]
    return got[0]


def steer(texts, gamma=0.3, eta=0.3) -> cl.Sample:
    return cl.Sample(name=f"steer γ={gamma:g} η={eta:g}", method="steer", family="steer",
                     params=(("eta", eta), ("gamma", gamma)), texts=tuple(texts))


def base(name, texts, family=None, **params) -> cl.Sample:
    return cl.Sample(name=name, method=family or name, family=family or name, params=tuple(sorted(params.items())),
                     texts=tuple(texts))


REPETITIVE = sentences(5, 9) * 8  # 40 texts, 5 distinct: few unique 3-grams


def test_yaml_states_every_claim_and_the_rule():
    spec = cl.load_claims()
    assert [c["id"] for c in spec["claims"]] == [f"C{i}" for i in range(1, 8)]
    assert spec["rules"]["min_samples"] == 20 and spec["rules"]["level"] == 0.95
    shapes = {c["id"]: c["shape"] for c in spec["claims"]}
    assert shapes["C1"] == "pareto" and shapes["C6"] == "monotone" and shapes["C7"] == "downstream"
    assert spec["claims"][1]["metrics"] == {"mauve": 1, "adv_auroc": -1, "cosine": 1}


def test_supported_and_contradicted_follow_the_papers_direction():
    diverse, rep = sentences(40, 3), REPETITIVE
    r = one(run(source(steer(diverse), base("top_k", rep))), "ngram3")
    assert r.verdict == "supported" and r.diff > 0 and r.ci_low > 0 and (r.n_a, r.n_b) == (40, 40)
    r = one(run(source(steer(rep), base("top_k", diverse))), "ngram3")
    assert r.verdict == "contradicted" and r.diff < 0 and r.ci_high < 0
    # a lower-is-better metric: the difference is still reported in the paper's direction
    r = one(run(source(steer(diverse), base("top_k", rep))), "self_repetition")
    assert r.verdict == "supported" and r.diff > 0


def test_inconclusive_when_the_interval_contains_zero():
    r = one(run(source(steer(sentences(40, 4)), base("top_k", sentences(40, 5)))), "ngram3")
    assert r.verdict == "inconclusive" and r.ci_low <= 0 <= r.ci_high


def test_too_few_samples_and_identical_sets_are_not_judged():
    r = one(run(source(steer(sentences(12, 3)), base("top_k", REPETITIVE))), "ngram3")
    assert r.verdict == "not tested" and r.diff is None and "fewer than 20" in r.note
    same = sentences(40, 6)
    r = one(run(source(steer(same), base("top_k", same))), "ngram3")
    assert r.verdict == "identical sets" and r.ci_low is None
    assert "same texts" in cl.conclusion([r])[0]


def test_a_family_is_tuned_by_the_selection_rule_on_validation():
    # top-k at two settings: one like the real data, one more diverse word salad far from it; the rule
    # (validation MAUVE × 3-grams × validity) must pick the first whatever the order they are listed in
    good = base("top_k T=1", sentences(40, 7), family="top_k", temperature=1.0)
    salad = base("top_k T=0.5", tuple("What " + " ".join(f"z{i}" for i in np.random.default_rng(s).integers(0, 999, 8))
                                      + "?" for s in range(40)), family="top_k", temperature=0.5)
    for cands in ([good, salad], [salad, good]):
        scorer = cl._Scorer(source(steer(sentences(40, 3)), *cands), embedder=bag, tokenizer=str.split)
        assert cl.pick(cands, scorer).name == "top_k T=1"
    # and a claim row records how many settings each side was picked from, and says when they differ
    src = source(steer(sentences(40, 3)), good, salad)
    r = one(run(src), "ngram3")
    assert (r.settings_a, r.settings_b) == (1, 2) and r.b == "top_k T=1"
    assert "unequal tuning: the baseline picked from 2 settings, STEER had 1" in r.note


def test_a_gamma_zero_pick_is_called_negative_prompting():
    src = source(steer(sentences(40, 3), gamma=0.0, eta=0.3), base("top_k", REPETITIVE))
    r = one(run(src), "ngram3")
    assert "γ = 0: negative prompting alone" in r.note
    assert "negative prompting, not STEER with γ > 0" in cl.conclusion([r])[0]
    # the grid's γ = 0 point read from the negative_only set (as the sweep reuses it) is called so too
    reused = cl.Sample(name="steer γ=0 η=0.3", method="negative_only", family="steer",
                       params=(("eta", 0.3), ("gamma", 0.0)), texts=tuple(sentences(40, 3)))
    r = one(run(source(reused, steer(sentences(40, 4)), base("top_k", REPETITIVE))), "ngram3", b="top_k")
    assert r.a == "steer γ=0 η=0.3" and "γ = 0: negative prompting alone" in r.note


def test_gamma_pays_compares_at_the_same_eta_and_monotone_needs_three_points():
    grid = [steer(sentences(30, 10 + i), gamma=g, eta=e) for i, (g, e) in
            enumerate([(0, 0.3), (0.3, 0.3), (0.6, 0.3)])]
    rows = run(source(*grid), claims=("C4", "C6"), reps=20)
    c4 = [r for r in rows if r.claim == "C4"]
    assert {r.b for r in c4} == {"steer γ=0 η=0.3"} and {r.settings_a for r in c4} == {2}
    assert {r.metric for r in c4} == {"mauve", "adv_auroc", "cosine"}
    c6 = {r.metric: r for r in rows if r.claim == "C6"}
    assert c6["Spearman ρ(gamma, cosine)"].verdict in ("supported", "contradicted", "inconclusive")
    assert c6["Spearman ρ(eta, ngram3)"].verdict == "not tested"  # one η value: no axis to correlate along


def test_monotone_rule_on_a_constructed_trend():
    # diversity rises with η by construction: each cell draws from a larger vocabulary
    grid = [steer(sentences(30, 20 + i, vocab=v), gamma=0.3, eta=e) for i, (e, v) in
            enumerate([(0.0, 3), (0.3, 6), (0.6, 300)])]
    r = one(run(source(*grid), claims=("C6",), reps=30), "Spearman ρ(eta, ngram3)")
    assert r.verdict == "supported" and r.diff == pytest.approx(1.0)


def test_downstream_rows_read_the_recorded_intervals():
    ds = {"task": "comments", "file": "x.json", "rows": [
        {"method": "steer", "setting": "synthetic", "diff": 0.10, "ci_lo": 0.06, "ci_hi": 0.14, "seeds": 3},
        {"method": "top_k", "setting": "synthetic", "diff": 0.00, "ci_lo": -0.03, "ci_hi": 0.03, "seeds": 3},
        {"method": "nucleus", "setting": "synthetic", "diff": 0.09, "ci_lo": 0.05, "ci_hi": 0.13, "seeds": 3}]}
    src = cl.dataclasses.replace(source(steer(REPETITIVE)), task="comments-toxic", downstream=ds)
    rows = {r.b: r for r in cl._downstream_rows(src)}
    assert rows["top_k (synthetic)"].verdict == "supported" and rows["top_k (synthetic)"].ci_low == pytest.approx(0.03)
    assert rows["nucleus (synthetic)"].verdict == "inconclusive"
    none = cl._downstream_rows(cl.dataclasses.replace(src, downstream=None, downstream_note="no downstream results"))
    assert [r.verdict for r in none] == ["not tested"] and none[0].note == "no downstream results"


def test_from_generations_groups_settings_and_pools_seeds(tmp_path):
    def write(name, method, seed, texts, **params):
        with open(tmp_path / name, "w", encoding="utf-8") as f:
            for t in texts:
                f.write(json.dumps({"task": "hypotheses", "method": method, "params": params, "seed": seed,
                                    "model": "m", "text": t}) + "\n")
            f.write('{"task": "hypo')  # a torn last line (an interrupted run) is skipped
    write("a.jsonl", "top_k", 0, sentences(5, 1), temperature=0.85, top_k=10, batch_size=4)
    write("b.jsonl", "top_k", 1, sentences(5, 2), temperature=0.85, top_k=10, batch_size=8)
    write("c.jsonl", "top_k", 0, sentences(5, 3), temperature=1.0, top_k=10)
    write("d.jsonl", "negative_only", 0, sentences(5, 4), gamma=0.0, eta=0.3)
    src = cl.from_generations(tmp_path, "hypotheses")
    names = {s.name: s for s in src.sets}
    assert set(names) == {"top_k T=0.85", "top_k T=1", "steer γ=0 η=0.3"}
    assert len(names["top_k T=0.85"].texts) == 10 and names["steer γ=0 η=0.3"].family == "steer"
    assert len(src.val) > 0 and len(src.test) > 0


def test_cli_missing_input_is_one_error_line(iso, capsys):
    assert main(["claims", "--profile", "smoke", "--tasks", "hypotheses"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: no generations for hypotheses at profile smoke")
    assert "make reproduce" in err and "Traceback" not in err
    assert main(["claims", "--generations", str(iso / "nowhere"), "--task", "hypotheses"]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert main(["claims", "--authors", "--reps", "1"]) == 2
    assert capsys.readouterr().err.strip() == "error: --reps 1: must be at least 2"


@pytest.mark.slow
def test_authors_json_end_to_end(capsys):
    """The issue's "done when", at a reduced size (one task, few replicates); the full run is docs/findings_authors.json."""
    assert main(["claims", "--authors", "--tasks", "hypotheses", "--claims", "C2,C5", "--reps", "5", "--json"]) == 0
    blob = json.loads(capsys.readouterr().out)
    assert {"source", "date", "machine", "rows", "conclusion"} <= set(blob)
    rows = blob["rows"]
    assert {r["claim"] for r in rows} == {"C2", "C5"}
    assert all({"claim", "a", "b", "metric", "diff", "ci_low", "ci_high", "n_a", "n_b", "verdict"} <= set(r)
               for r in rows)
    assert {r["a"] for r in rows if r["claim"] == "C2"} == {"steer (final formula)"}
    top_k = [r for r in rows if r["claim"] == "C2" and r["b"] in ("top_k", "top-k (their 'contrastive')")]
    assert len(top_k) == 3 and {r["settings_b"] for r in top_k} == {2}  # their two top-k files: one family, tuned
    assert all(r["verdict"] in cl.VERDICTS for r in rows)


def test_study_section_falls_back_to_every_recorded_task(iso):
    """No study run here: 08 reads one recorded file per task the study ran (docs/findings_study*.json)."""
    from pathlib import Path

    real = Path(__file__).resolve().parents[2] / "docs" / "findings_study.json"
    blob = json.loads(real.read_text())
    (iso / "docs").mkdir()
    (iso / "docs" / "findings_study.json").write_text(json.dumps(blob))
    other = dict(blob, rows=[dict(r, task="commonsense") for r in blob["rows"][:3]])
    (iso / "docs" / "findings_study_commonsense.json").write_text(json.dumps(other))
    lines = []
    rows = cl.study_section(reps=2, log=lines.append)
    assert [r.task for r in rows] == ["hypotheses"] * len(blob["rows"]) + ["commonsense"] * 3
    assert len(lines) == 2 and all("as recorded" in line for line in lines)
    assert cl.study_section("some/other-model", reps=2, log=lines.append) is None  # records are the embedded model's


def test_cached_rows_are_keyed_by_the_sets_the_rules_and_the_code_that_judged_them(tmp_path, monkeypatch):
    import steer_lib.metrics.keys as keys

    folder = tmp_path / "generations"
    folder.mkdir()
    (folder / "steer.jsonl").write_text('{"text": "a"}\n')
    key = cl._source_key(folder, None, None, 0)
    assert key == cl._source_key(folder, None, None, 0)  # nothing changed: the cached rows are read
    assert key != cl._source_key(folder, 20, None, 0)  # another setting
    (folder / "steer.jsonl").write_text('{"text": "a"}\n{"text": "b"}\n')
    assert cl._source_key(folder, None, None, 0) != key  # another set
    key = cl._source_key(folder, None, None, 0)
    monkeypatch.setattr(keys, "METRICS_VERSION", f"{keys.METRICS_VERSION}-next")
    assert cl._source_key(folder, None, None, 0) != key  # metrics defined anew
    monkeypatch.undo()
    rules = tmp_path / "claims.yaml"
    rules.write_bytes(cl.CLAIMS_FILE.read_bytes() + b"\n# edited\n")
    monkeypatch.setattr(cl, "CLAIMS_FILE", rules)
    assert cl._source_key(folder, None, None, 0) != key  # the claims file edited
