"""Tables, Pareto fronts, the selection rule, the generated paragraph and the figures, on hand-made numbers."""
from __future__ import annotations

import json
import math

import matplotlib
import pandas as pd
import numpy as np
import pytest

from steer_lib import paths
from steer_lib.experiments import figures as ablation_plots
from steer_lib.experiments import tables
from steer_lib.decoding.methods import METHODS
from steer_lib.experiments.experiment import ExperimentConfig
from steer_lib.experiments.results import label

matplotlib.use("Agg")


def summary(**cols):
    return pd.DataFrame(cols, index=pd.Index(cols.pop("labels"), name="label"))


def test_markdown_bolds_the_best_in_the_right_direction():
    s = summary(labels=["top_k", "steer γ=0.3 η=0.3"], ngram3=[0.5, 0.8], ngram3_real=[0.9, 0.9],
                mauve=[0.7, 0.6], adv_auroc=[0.9, 0.8])
    md = tables.render(s, "md")
    head, _, top_k, steer = md.strip().splitlines()[:4]  # then the note on how bold was chosen
    assert "3-grams (syn) ↑" in head and "adv. AUROC ↓" in head and "3-grams (real) |" in head
    assert "**0.800**" in steer and "**0.700**" in top_k  # 3-grams: higher; MAUVE: higher
    assert "**0.800**" in steer.split("|")[-2]  # AUROC: lower is better
    assert "**0.900**" not in md  # the real-data reference column is never bold


def test_sd_shown_with_several_seeds_and_ties_all_bold():
    s = summary(labels=["a", "b"], mauve=[0.5, 0.5], mauve_sd=[0.01, float("nan")])
    md = tables.render(s, "md")
    assert "**0.500 ± 0.010**" in md and "| b | **0.500** |" in md


def test_latex_is_escaped_and_bold():
    s = summary(labels=["top_k", "steer γ=0.3 η=0.6"], mauve=[0.1, 0.2], adv_auroc=[0.9, float("nan")])
    tex = tables.render(s, "tex", caption="hypotheses & 50% done")
    assert r"top\_k" in tex and r"steer $\gamma$=0.3 $\eta$=0.6" in tex
    assert r"\textbf{0.200}" in tex and r"$\downarrow$" in tex and "–" in tex
    assert r"\caption{hypotheses \& 50\% done}" in tex and tex.count(r"\\") == 3  # header + 2 rows
    assert tables.latex_escape("a_b#c$d") == r"a\_b\#c\$d"
    with pytest.raises(ValueError, match="fmt='html'"):
        tables.render(s, "html")


def test_pareto_front_on_hand_made_points():
    xs = [0.1, 0.2, 0.3, 0.2, 0.05, float("nan"), 0.3]
    ys = [0.9, 0.8, 0.5, 0.7, 0.95, 1.0, 0.5]
    assert tables.pareto_front(xs, ys) == [True, True, True, False, True, False, True]  # equal points both stay
    assert tables.pareto_front([], []) == []
    with pytest.raises(ValueError, match="2 x values but 1"):
        tables.pareto_front([1, 2], [1])


def test_selection_rule_averages_seeds_and_breaks_ties_by_size():
    df = pd.DataFrame({"gamma": [0, 0, 0.6, 0.6, 0.3], "eta": [0.6, 0.6, 0, 0, 0], "seed": [0, 1, 0, 1, 0],
                       "val_mauve": [1.0, 0.2, 0.5, 0.5, 0.6], "ngram3": [0.9, 0.9, 0.9, 0.9, 0.9]})
    pick = tables.select_point(df)  # (0, 0.6): seed mean 0.6 × 0.9 = 0.54 ties (0.3, 0): smaller γ + η wins
    assert (pick["gamma"], pick["eta"]) == (0.3, 0.0) and pick["score"] == pytest.approx(0.54)
    assert "validation" in pick["rule"]
    with pytest.raises(ValueError, match="val_mauve"):
        tables.select_point(df.drop(columns="val_mauve"))


def test_paragraph_states_front_and_rank_including_when_not():
    s = summary(labels=["top_k", "nucleus", "steer γ=0.3 η=0.3"], ngram3=[0.5, 0.9, 0.6],
                mauve=[0.9, 0.8, 0.7], adv_auroc=[0.6, 0.7, 0.9])
    text = tables.paragraph("hypotheses", s, "steer γ=0.3 η=0.3")
    assert "3rd of 3 on MAUVE" in text and "3rd of 3 on adversarial AUROC" in text and "2nd of 3 on normalised 3-grams" in text
    assert "**not** on the Pareto front of 3-grams vs MAUVE: dominated by nucleus" in text
    s.loc["steer γ=0.3 η=0.3", "mauve"] = 0.85
    text = tables.paragraph("hypotheses", s, "steer γ=0.3 η=0.3")
    assert "It is on the Pareto front of 3-grams vs MAUVE (with top_k, nucleus)" in text
    assert "no recorded result" in tables.paragraph("x", s, "steer γ=1 η=1")
    s.loc["steer γ=0.3 η=0.3", "mauve"] = float("nan")
    text = tables.paragraph("hypotheses", s, "steer γ=0.3 η=0.3")
    assert "front of 3-grams vs MAUVE is undefined" in text and "2nd of 3 on normalised 3-grams" in text


# Files are named for the smoke profile's sample size and token cap (e.g. "top_k_n8_t64_s0"); read them from the
# config so that resizing the smoke profile does not silently empty the tables under test.
SMOKE = ExperimentConfig.for_profile("smoke")
SIZE = f"n{SMOKE.n_samples}_t{SMOKE.max_new_tokens}"


def write_metric(runs, task, stem, **fields):
    f = runs / "smoke" / "metrics" / task / f"{stem}.json"
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(json.dumps(fields))


@pytest.fixture
def recorded(tmp_path, monkeypatch):
    """Fake recorded results for hypotheses at the smoke size: baselines over two seeds, a 2×2 sweep."""
    runs = tmp_path / "runs"
    monkeypatch.setenv("STEER_RUNS", str(runs))
    monkeypatch.setattr("steer_lib.paths.results_dir",
                        lambda profile, base_model="": tmp_path / "results" / paths.scope(profile, base_model))
    # The tables follow the profile's method list; these tests exercise all eight methods.
    monkeypatch.setitem(ExperimentConfig.PROFILES, "smoke", {**ExperimentConfig.PROFILES["smoke"], "methods": METHODS})
    for seed in (0, 1):
        for i, m in enumerate(["low_temperature", "beam", "top_k", "nucleus", "contrastive_search", "contrastive_decoding"]):
            write_metric(runs, "hypotheses", f"{m}_{SIZE}_s{seed}", method=m, seed=seed, ngram3=0.1 * i + 0.01 * seed,
                         mauve=0.9 - 0.1 * i, adv_auroc=0.6 + 0.05 * i, validity=1.0, cosine=0.3)
        write_metric(runs, "hypotheses", f"negative_only_e0.3_k10_{SIZE}_s{seed}", method="negative_only", eta=0.3,
                     seed=seed, ngram3=0.4, mauve=0.5, adv_auroc=0.8)
    write_metric(runs, "hypotheses", "top_k_n100_t0_s0", method="top_k", seed=0, ngram3=1.0, mauve=1.0)  # quick-sized: ignored
    points = runs / "smoke" / "sweeps" / "hypotheses" / "points"
    points.mkdir(parents=True)
    for g in (0.0, 0.3, 0.6):
        for e in (0.0, 0.3, 0.6):
            m = {"method": "steer", "gamma": g, "eta": e, "seed": 0, "ngram3": 0.5 + e / 2, "mauve": 0.8 - g / 4,
                 "adv_auroc": 0.7 + g / 10, "mauve_sd": 0.02, "adv_auroc_sd": 0.03}
            write_metric(runs, "hypotheses", f"steer_g{g:g}_e{e:g}_k10_{SIZE}_s0", **m)
            (points / f"g{g}_e{e}.json").write_text(json.dumps({
                "task": "hypotheses", "gamma": g, "eta": e, "seed": 0, "n_samples": 8, "status": "ran",
                "seconds": {"notebook": 1, "validation": 1}, "metrics": m, "val": {"mauve": 0.9 - g - e / 10}}))
    return runs


def test_task_table_from_recorded_results(recorded):
    s, info = tables.task_table("hypotheses", "smoke")
    assert info["selected"]["gamma"] == 0.0 and info["selected"]["eta"] == 0.6  # 0.84 × 0.8 beats the rest
    assert info["steer_label"] == "steer γ=0 η=0.6" and list(s.index)[-2:] == ["steer γ=0.3 η=0.3", "steer γ=0 η=0.6"]
    assert s.loc["top_k", "seeds"] == 2 and s.loc["top_k", "ngram3"] == pytest.approx(0.205)
    assert s.loc["top_k", "ngram3_sd"] == pytest.approx(math.sqrt(0.00005))
    assert info["missing"] == []
    md = tables.render(s, "md")
    assert "**0.900 ± 0.000**" in md  # low_temperature's MAUVE, best over two seeds
    paths = tables.write_table(s, "table_hypotheses", "smoke", caption="t")
    assert paths["tex"].read_text().startswith(r"\begin{table}") and paths["md"].is_file()
    assert paths["md"].parent == recorded.parent / "results" / "smoke"
    text = tables.paragraph("hypotheses", s, info["steer_label"], grid=info["sweep"])
    assert "steer γ=0 η=0.6 ranks" in text and "of 8 on MAUVE" in text  # 7 other methods, one STEER row
    assert "Pareto front of 3-grams vs MAUVE" in text


def test_picked_point_comes_from_its_sweep_record(recorded):
    """The pick's row is the sweep's record of that point, under its STEER name: here a γ=0 point the sweep read from
    negative_only's set, so no STEER-named metrics file exists for it."""
    (recorded / "smoke" / "metrics" / "hypotheses" / f"steer_g0_e0.6_k10_{SIZE}_s0.json").unlink()
    write_metric(recorded, "hypotheses", f"negative_only_e0.6_k10_{SIZE}_s0", method="negative_only", eta=0.6, seed=0,
                 ngram3=0.77, mauve=0.66, adv_auroc=0.7)
    point = recorded / "smoke" / "sweeps" / "hypotheses" / "points" / "g0.0_e0.6.json"
    rec = json.loads(point.read_text())
    point.write_text(json.dumps({**rec, "status": "reused", "metrics": {**rec["metrics"], "ngram3": 0.77,
                                                                         "mauve": 0.66, "adv_auroc": 0.7}}))
    s, info = tables.task_table("hypotheses", "smoke")
    assert info["steer_label"] == "steer γ=0 η=0.6" and info["missing"] == []
    assert s.loc["steer γ=0 η=0.6", "ngram3"] == pytest.approx(0.77) and "negative_only η=0.6" not in s.index
    assert s.loc["steer γ=0 η=0.6", "mauve"] == pytest.approx(0.66)


def test_auroc_fallback_and_no_pick_when_validation_scores_are_nan(recorded):
    for f in (recorded / "smoke" / "sweeps" / "hypotheses" / "points").glob("*.json"):
        rec = json.loads(f.read_text())
        f.write_text(json.dumps({**rec, "val": {"mauve": None, "adv_auroc": 0.5 + rec["gamma"] / 2 + rec["eta"] / 4}}))
    s, info = tables.task_table("hypotheses", "smoke")  # (1 − AUROC) × 3-grams: 0.35 × 0.8 at (0, 0.6) beats 0.25, 0.276
    assert (info["selected"]["gamma"], info["selected"]["eta"]) == (0.0, 0.6)
    assert info["selected"]["fidelity"] == "(1 − validation AUROC)"
    for f in (recorded / "smoke" / "sweeps" / "hypotheses" / "points").glob("*.json"):
        f.write_text(json.dumps({**json.loads(f.read_text()), "val": {"mauve": None, "adv_auroc": None}}))
    s, info = tables.task_table("hypotheses", "smoke")
    assert info["selected"] is None and "NaN" in info["selection_note"] and info["steer_label"] == "steer γ=0.3 η=0.3"
    assert s.index[-1] == "steer γ=0.3 η=0.3"


def test_figures_draw_from_recorded_results(recorded):
    s, info = tables.task_table("hypotheses", "smoke")
    fig = ablation_plots.heatmaps(info["sweep"], "hypotheses")
    assert len(fig.axes) == 6  # three heatmaps and their colour bars
    assert "sd over k-means seeds" in fig.axes[2].get_title() or "k-means" in " ".join(a.get_title() for a in fig.axes)
    pts = ablation_plots.pareto_points(info["metrics"], list(s.index), info["sweep"])
    assert (pts["kind"] == "grid").sum() == 9 and (pts["kind"] == "baseline").sum() == 7  # each STEER point once
    fig = ablation_plots.pareto_plot(pts, "hypotheses", highlight=info["steer_label"])
    assert len(fig.axes) == 2 and any("Pareto front" in t.get_text() for t in fig.legends[0].get_texts())


def test_grid_stats_uses_seed_spread_when_there_are_seeds():
    df = pd.DataFrame({"gamma": [0, 0, 0.6, 0.6], "eta": [0, 0, 0, 0], "seed": [0, 1, 0, 1], "mauve": [0.5, 0.7, 0.2, 0.2]})
    mean, spread, what = ablation_plots.grid_stats(df, "mauve")
    assert what == "sd over 2 seeds" and mean.loc[0, 0] == pytest.approx(0.6) and spread.loc[0.6, 0] == 0
    assert label("steer", 0.0, 0.6) == "steer γ=0 η=0.6"


# ------------------------------------------------------------------ statistical honesty: paired bootstrap
from steer_lib.experiments import significance  # noqa: E402
from steer_lib.metrics import set_diversity  # noqa: E402


def _set(rng, n=40, d=32, shift=0.0):
    """n random unit embeddings; the real texts' lie around axis 0, and ``shift`` pulls the set towards them."""
    real = rng.normal(size=(n, d)) + 2.0 * np.eye(d)[0]
    emb = rng.normal(size=(n, d)) + shift * np.eye(d)[0]
    unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
    return significance.SampleSet(texts=[f"t{i}" for i in range(n)], real=[f"r{i}" for i in range(n)], emb=unit(emb),
                                  real_emb=unit(real))


def test_bootstrap_separates_a_real_gap_and_not_noise():
    rng = np.random.default_rng(0)
    a, b = _set(rng), _set(rng)
    b.real_emb = a.real_emb
    same = significance.bootstrap_test([a], [b], "cosine", +1, seed=1)  # two draws of one distribution
    assert not same["separated"] and same["ci"][0] < same["diff"] < same["ci"][1] and same["scheme"] == "half"
    far = _set(rng, shift=1.5)  # nearer the real texts: a clearly higher cosine
    far.real_emb = a.real_emb  # both scored against the same real draw, as in the kit
    gap = significance.bootstrap_test([far], [a], "cosine", +1, seed=1)
    assert gap["separated"] and gap["ci"][0] > 0
    assert gap == significance.bootstrap_test([far], [a], "cosine", +1, seed=1)  # fixed seed: the same answer
    with pytest.raises(ValueError, match="col='nope'"):
        significance.bootstrap_test([a], [b], "nope", +1)
    with pytest.raises(ValueError, match="one set per seed"):
        significance.bootstrap_test([a], [b, b], "cosine", +1)
    with pytest.raises(ValueError, match="scheme='jackknife'"):
        significance.bootstrap_test([a], [b], "cosine", +1, scheme="jackknife")


def test_vendi_is_never_tested_so_never_bold():
    assert "vendi" not in significance.TESTABLE  # no redraw scheme held its level in the calibration
    s = summary(labels=["a", "b"], vendi=[30.0, 10.0])
    assert significance.compare(s, tables.DIVERSITY_COLUMNS, {}, "hypotheses") == {}
    md = tables.render(s, "md", columns=tables.DIVERSITY_COLUMNS)
    assert "**" not in md and "Never bold (Vendi)" in md


def test_ties_are_marked_and_only_a_separated_best_is_bold():
    s = summary(labels=["a", "b", "c"], mauve=[0.7, 0.65, 0.2], adv_auroc=[0.6, 0.9, 0.95], ngram3=[0.5, 0.5, 0.4])
    s.attrs["significance"] = {
        "mauve": {"best": "a", "runner_up": "b", "diff": 0.05, "ci": [-0.1, 0.2], "separated": False, "reps": 100},
        "adv_auroc": {"best": "a", "runner_up": "b", "diff": 0.3, "ci": [0.1, 0.5], "separated": True, "reps": 100},
        "ngram3": {"best": "a", "runner_up": "b", "diff": 0.0, "ci": [0, 0], "separated": False, "reps": 0}}
    md = tables.render(s, "md")
    rows = {line.split("|")[1].strip(): line for line in md.splitlines()[2:5]}
    assert "0.700 ≈" in rows["a"] and "0.650 ≈" in rows["b"] and "**0.700" not in md  # MAUVE: a tie, not bold
    assert "**0.600**" in rows["a"]  # AUROC: separated, bold
    assert rows["a"].count("0.500 ≈") == 1 and rows["b"].count("0.500 ≈") == 1  # an exact tie: both marked
    assert "bootstrap over the samples" in md and "cannot be told apart" in md
    tex = tables.render(s, "tex")
    assert r"0.700 $\approx$" in tex and r"\textbf{0.600}" in tex


def test_task_table_tests_the_recorded_sets(recorded):
    """Generations recorded for two rows: their columns are tested; the rest say they were not."""
    from conftest import bag_of_words
    from steer_lib.authors.outputs import real_set
    from steer_lib.metrics.embeddings import Embedder

    hyp = real_set("hypotheses")
    sets = {"low_temperature": hyp[:SMOKE.n_samples], "beam": [hyp[0]] * SMOKE.n_samples}
    gen = recorded / "smoke" / "generations" / "hypotheses"
    gen.mkdir(parents=True)
    for seed in (0, 1):
        for m, texts in sets.items():
            (gen / f"{m}_{SIZE}_s{seed}.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
            f = recorded / "smoke" / "metrics" / "hypotheses" / f"{m}_{SIZE}_s{seed}.json"
            rec = json.loads(f.read_text())
            f.write_text(json.dumps({**rec, "self_bleu": set_diversity.self_bleu(texts, seed=seed), "n": 8}))
    s, info = tables.task_table("hypotheses", "smoke", test=True, embedder=Embedder(bag_of_words, cache=False))
    sig = s.attrs["significance"]
    assert sig["self_bleu"]["best"] == "low_temperature" and sig["self_bleu"]["runner_up"] == "beam"
    assert sig["self_bleu"]["separated"]  # distinct texts vs one text repeated
    assert sig["mauve"]["best"] == "low_temperature" and not sig["mauve"]["separated"]  # MAUVE: NaN on 4 per side
    assert "ngram3" not in sig  # its best (contrastive_decoding) has no recorded generations: untested
    md = tables.render(s, "md", columns=tables.DIVERSITY_COLUMNS)
    assert "**0." in md.split("low_temperature")[1].split("\n")[0] and "Self-BLEU ↓" in md
    main = tables.render(s, "md")
    assert "0.900 ± 0.000 ≈" in main and "Not tested (3-grams (syn)" in main
    paths = tables.write_table(s, "table_hypotheses", "smoke", caption="t")
    assert paths["diversity_md"].read_text() == tables.render(s, "md", columns=tables.DIVERSITY_COLUMNS,
                                                              caption="t Diversity measures (Shaib et al.).")
    text = tables.paragraph("hypotheses", s, info["steer_label"], grid=info["sweep"])
    assert "was not tested (no per-sample data recorded)" in text  # the picked STEER point has no generations


def test_heatmaps_draw_any_metric_by_name():
    df = pd.DataFrame({"gamma": [0, 0, 0.3, 0.3], "eta": [0, 0.3, 0, 0.3], "seed": 0,
                       "vendi": [10.0, 12.0, 11.0, 13.0], "self_bleu": [0.3, 0.2, 0.25, 0.15]})
    fig = ablation_plots.heatmaps(df, "t", metrics=["vendi", "self_bleu"])
    titles = " ".join(a.get_title() for a in fig.axes)
    assert "Vendi score ↑" in titles and "Self-BLEU ↓" in titles
    with pytest.raises(ValueError, match=r"no column \['mauve'\]"):
        ablation_plots.heatmaps(df, "t", metrics=["mauve"])


def test_a_table_of_measures_the_rows_lack_says_so():
    s = pd.DataFrame({"mauve": [0.5, 0.6]}, index=["top_k", "steer"])
    for fmt in ("md", "tex"):
        out = tables.render(s, fmt, columns=tables.DIVERSITY_COLUMNS, caption="c")
        assert "none of these measures is recorded" in out and "|" not in out and "tabular" not in out


def test_paper_section_is_notebook_07s_view_of_one_task(recorded, tmp_path):
    """Notebook 07's per-task glue, in the library: both tables written and shown, one paragraph per STEER row."""
    ref = tmp_path / "falcon-7b-n40.csv"
    rows = [{"kit_task": "hypotheses", "label": lab, "method": meth, "part": part, "lines": lines, "n": 40,
             "ngram3": ng, "mauve": mv, "adv_auroc": au, "validity": 1.0, "cosine": 0.3, "protocol": "kit"}
            for lab, meth, part, lines, ng, mv, au in [
                ("top-k (their 'contrastive')", "contrastive", "", "1–1000", 0.8, 0.9, 0.7),
                ("steer", "steer", "", "1–1000", 0.85, 0.8, 0.75),
                ("steer (final formula)", "steer", "final formula", "653–1000", 0.9, 0.85, 0.72)]]
    pd.DataFrame(rows).to_csv(ref, index=False)
    sec = tables.paper_section("hypotheses", "smoke", ref)
    assert not sec.kit_missing and sec.markdown.startswith("### hypotheses\n")
    assert "table_hypotheses.md" in sec.markdown and "the authors' Falcon-7B outputs scored by the kit" in sec.markdown
    assert "lines 653–1000 of their `steer` file (final formula)" in sec.markdown  # the reference note
    results = recorded.parent / "results" / "smoke"
    assert (results / "table_hypotheses.tex").is_file() and (results / "table_hypotheses_falcon-7b.md").is_file()
    assert len(sec.paragraphs) == 3  # the kit's STEER row, the authors' whole steer file and its final-formula part
    assert "(kit, SmolLM2-135M-Instruct, smoke, n=8)" in sec.paragraphs[0]
    assert all("(authors' Falcon-7B outputs)" in p for p in sec.paragraphs[1:])
    empty = tables.paper_section("commonsense", "smoke", ref)  # nothing recorded, nothing released in the CSV
    assert empty.kit_missing and empty.paragraphs == [] and "_No kit results recorded for commonsense" in empty.markdown


def test_building_a_table_runs_no_bootstrap_unless_asked(recorded, monkeypatch):
    """The tests re-embed every sample set (minutes): task_table only runs them with test=True."""
    from steer_lib.experiments import significance

    def compare(*a, **k):
        raise AssertionError("significance.compare ran")

    monkeypatch.setattr(significance, "compare", compare)
    s, info = tables.task_table("hypotheses", "smoke")
    assert "significance" not in s.attrs and info["steer_label"] == "steer γ=0 η=0.6"
    with pytest.raises(AssertionError, match="compare ran"):
        tables.task_table("hypotheses", "smoke", test=True)


def test_figures_and_selection_do_not_import_the_renderer():
    import subprocess
    import sys

    code = ("import sys; import steer_lib.experiments.figures, steer_lib.experiments.selection; "
            "print(sorted(m for m in ('steer_lib.experiments.table_render', 'steer_lib.experiments.tables', "
            "'steer_lib.experiments.significance') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_paragraph_says_gamma_zero_is_negative_prompting_and_never_compares_a_set_with_itself():
    """The quick hypotheses case: the rule picks γ = 0, η = 0.3 (= the negative_only η=0.3 set). The paragraph must
    say that is not STEER, leave the twin row out of ranks and fronts, and judge the γ > 0 row too."""
    s = summary(labels=["top_k", "negative_only η=0.3", "steer γ=0.3 η=0.3", "steer γ=0 η=0.3"],
                ngram3=[0.5, 0.858, 0.819, 0.858], mauve=[0.9, 0.928, 0.508, 0.928],
                adv_auroc=[0.6, 0.787, 0.944, 0.787])
    text = tables.paragraph("hypotheses", s, "steer γ=0 η=0.3")
    assert "negative prompting alone, not STEER" in text
    pick, real = text.split("STEER with γ > 0, at the comparison setting: ")
    assert "ranks 1st of 2 on MAUVE" in pick and "2nd of 2 on adversarial AUROC" in pick  # twin left out: 2 rows
    assert "dominated by negative_only" not in pick and "tied with negative_only" not in pick
    assert "steer γ=0.3 η=0.3 ranks 3rd of 3 on MAUVE, 3rd of 3 on adversarial AUROC" in real
    assert "**not** on the Pareto front of 3-grams vs MAUVE: dominated by negative_only η=0.3." in real  # named once
    # a γ > 0 pick carries no such note and no second judgement
    text = tables.paragraph("hypotheses", s, "steer γ=0.3 η=0.3")
    assert "not STEER" not in text and "comparison setting" not in text


def test_paragraph_says_why_a_grid_point_the_rule_passed_over_can_beat_the_pick():
    """The quick comments-toxic case: the rule (validation numbers) picked γ = 0, η = 0.6, and on the test numbers the
    grid point γ = 0.3, η = 0.6 dominates it. The paragraph names the dominating point and says why once, for the
    reported point only."""
    s = summary(labels=["nucleus", "negative_only η=0.3", "steer γ=0.3 η=0.3", "steer γ=0 η=0.6"],
                ngram3=[0.812, 0.916, 0.914, 0.966], mauve=[0.592, 0.392, 0.589, 0.637],
                adv_auroc=[0.891, 0.866, 0.891, 0.900])
    grid = pd.DataFrame({"gamma": [0.0, 0.3], "eta": [0.6, 0.6], "ngram3": [0.966, 0.986],
                         "mauve": [0.637, 0.767], "adv_auroc": [0.900, 0.831]})
    text = tables.paragraph("comments-toxic", s, "steer γ=0 η=0.6", grid=grid)
    pick, real = text.split("STEER with γ > 0, at the comparison setting: ")
    assert "dominated by steer γ=0.3 η=0.6" in pick and pick.count("the selection rule reads the validation") == 1
    assert "the selection rule reads the validation" not in real  # the comparison setting is not a pick
    plain = tables.paragraph("comments-toxic", s, "steer γ=0 η=0.6")  # no grid: no grid point can dominate
    assert "the selection rule reads the validation" not in plain


def test_paragraph_is_correct_on_ties_and_identical_points():
    s = summary(labels=["top_k", "nucleus", "steer γ=0.3 η=0.3"], ngram3=[0.6, 0.6, 0.6],
                mauve=[0.7, 0.9, 0.7], adv_auroc=[0.8, 0.7, 0.8])
    text = tables.paragraph("hypotheses", s, "steer γ=0.3 η=0.3")
    assert "2nd of 3 on MAUVE (tied with top_k)" in text and "1st of 3 on normalised 3-grams (tied with top_k, nucleus)" in text
    assert "dominated by nucleus." in text  # an identical point (top_k) does not dominate; a strictly better one does
    s.loc["nucleus", "mauve"] = 0.7
    s.loc["nucleus", "adv_auroc"] = 0.8  # now all three points coincide: nobody dominates anybody
    assert "It is on the Pareto front of 3-grams vs MAUVE (with top_k, nucleus)." in tables.paragraph("h", s, "steer γ=0.3 η=0.3")


def test_same_set_names_the_twin_of_a_gamma_zero_point_only():
    assert tables.same_set("steer γ=0 η=0.6") == {"negative_only η=0.6"}
    assert tables.same_set("steer γ=0.3 η=0") == set() and tables.same_set("negative_only η=0.3") == set()
    assert tables.is_negative_only("steer γ=0 η=0") and not tables.is_negative_only("steer (final formula)")


def test_pareto_plot_names_points_at_one_place_once_and_says_what_a_gamma_zero_star_is():
    pts = pd.DataFrame({"label": ["top_k", "negative_only η=0.3", "steer γ=0 η=0.3", "steer γ=0.3 η=0.3"],
                        "kind": ["baseline", "baseline", "grid", "grid"], "ngram3": [0.5, 0.86, 0.86, 0.82],
                        "mauve": [0.9, 0.93, 0.93, 0.51], "adv_auroc": [0.6, 0.79, 0.79, 0.94], "seeds": 1})
    fig = ablation_plots.pareto_plot(pts, "hypotheses", highlight="steer γ=0 η=0.3")
    names = [t.get_text() for t in fig.axes[0].texts]
    assert "negative_only η=0.3 = γ=0 η=0.3" in names and len(names) == 3  # no two labels printed on one spot
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "reported (star): steer γ=0 η=0.3 = negative prompting alone" in legend
