"""Figures carry alt text built from what they draw (issue #26): :func:`steer_lib.plots.describe` on the kit's own
figures (the γ × η heatmaps, the Pareto scatter, a bar chart, the loss curve), stored in the saved PNG and PDF, and
attached to every figure a notebook shows inline (its output's ``image/png`` metadata)."""
from __future__ import annotations

import matplotlib
import pandas as pd
import pytest

from steer_lib import paths, plots
from steer_lib.experiments import figures as ablation_plots

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _sweep() -> pd.DataFrame:
    return pd.DataFrame({"gamma": [0, 0, 0.3, 0.3], "eta": [0, 0.3, 0, 0.3], "seed": 0,
                         "ngram3": [0.70, 0.86, 0.75, 0.82], "mauve": [0.90, 0.93, 0.60, float("nan")],
                         "adv_auroc": [0.80, 0.79, 0.90, 0.94]})


def test_a_heatmap_figure_is_described_by_its_title_grid_axes_and_values():
    fig = ablation_plots.heatmaps(_sweep(), "hypotheses: STEER over γ × η")
    alt = plots.describe(fig)
    assert alt.startswith("hypotheses: STEER over γ × η. 3 panels, heatmaps of 2 × 2 cells; rows: γ (contrastive "
                          "expert guidance) (0, 0.3); columns: η (negative prompting) (0, 0.3). Panel 1, adversarial "
                          "AUROC ↓"), "the colour bars are not panels; the shared grid is said once"
    assert alt.count("rows:") == 1 and "Panel 3, MAUVE ↑" in alt
    assert "values from 0.7 at γ 0, η 0 to 0.86 at γ 0, η 0.3" in alt  # 3-grams: lowest and highest cell
    assert "(1 cell empty)" in alt and len(alt) <= plots.MAX_ALT


def test_a_scatter_with_error_bars_a_bar_chart_and_a_line_plot():
    pts = pd.DataFrame({"label": ["top_k", "negative_only η=0.3", "steer γ=0.3 η=0.3"],
                        "kind": ["baseline", "baseline", "grid"], "ngram3": [0.5, 0.86, 0.82],
                        "mauve": [0.9, 0.93, 0.51], "adv_auroc": [0.6, 0.79, 0.94], "seeds": 1})
    alt = plots.describe(ablation_plots.pareto_plot(pts, "hypotheses", highlight="steer γ=0.3 η=0.3"))
    assert alt.startswith("hypotheses intervals: 1 seed") and "2 panels" in alt
    assert "points with error bars (baselines, STEER grid (γ, η))" in alt and "Pareto front" in alt
    assert "x axis: normalised 3-grams ↑ (diversity)" in alt and "y axis: MAUVE ↑ (fidelity)" in alt
    assert alt.endswith("Legend: Pareto front, reported (star): steer γ=0.3 η=0.3, baselines, STEER grid (γ, η)."), \
        "the legend both panels share, said once at the end"

    fig, ax = plt.subplots()
    ax.bar(["greedy", "top_k", "steer"], [0.12, 0.81, 0.86])
    ax.set(title="3-grams by method", ylabel="normalised 3-grams")
    assert plots.describe(fig) == ("Figure, 1 panel. 3-grams by method: bar chart of 3 bars: greedy 0.12, "
                                   "top_k 0.81, steer 0.86; y axis: normalised 3-grams.")

    fig, ax = plt.subplots()
    ax.plot([0, 10, 20], [4.0, 3.1, 2.2], label="training loss")
    ax.plot([0, 20], [3.96, 3.08], "o", label="held-out")
    ax.set(xlabel="step", ylabel="loss")
    ax.legend()
    alt = plots.describe(fig)
    assert "line plot: training loss from 4 to 2.2 over 3 points, held-out: 2 marked points" in alt
    assert "x axis: step; y axis: loss" in alt and "legend" not in alt, "the legend is already in the text"


def test_a_histogram_with_a_marker_line():
    """Notebook 00's lengths figure: a histogram per task and a vertical line at the generation budget."""
    fig, ax = plt.subplots()
    ax.hist([10, 12, 12, 30, 31, 31, 31, 50], bins=4)
    ax.axvline(48, color="k", ls="--", label="max new tokens")
    ax.set(title="hypotheses", xlabel="tokens", ylabel="examples")
    assert plots.describe(fig) == ("Figure, 1 panel. hypotheses: histogram of 4 bins from 10 to 50, the tallest 4 at "
                                   "30–40; a vertical line at 48 (max new tokens); x axis: tokens; y axis: examples.")


def test_one_heatmap_says_its_grid_and_a_panel_with_only_text_says_it():
    alt = plots.describe(ablation_plots.heatmaps(_sweep(), "t", metrics=["ngram3"]))
    assert alt.startswith("t. 1 panel. normalised 3-grams ↑ (1 seed; no spread): heatmap of 2 × 2 cells; rows: γ")

    fig, ax = plt.subplots()
    ax.text(0.5, 0.5, "MAUVE: NaN at every point\n(too few samples)")
    ax.set_axis_off()
    assert plots.describe(fig) == "Figure, 1 panel. text: MAUVE: NaN at every point (too few samples)."


def test_savefig_stores_the_description_in_the_png_and_the_pdf(tmp_path, monkeypatch):
    monkeypatch.setenv("STEER_ROOT", str(tmp_path))
    fig = ablation_plots.heatmaps(_sweep(), "hypotheses")
    png = plots.savefig(fig, "05_heatmaps_hypotheses", "smoke")
    assert png == paths.figures_dir("smoke") / "05_heatmaps_hypotheses.png"
    assert plots.saved_description(png) == plots.describe(fig), "γ, η and ↑ survive (an iTXt chunk)"
    assert b"/Subject" in png.with_suffix(".pdf").read_bytes()
    assert plots.saved_description(plots.savefig(fig, "x", "smoke", alt="my words")) == "my words"
    (tmp_path / "not.png").write_bytes(b"no png")
    assert plots.saved_description(tmp_path / "not.png") == ""


def test_file_metadata_and_a_figure_the_reader_cannot_read(monkeypatch):
    fig, ax = plt.subplots()
    ax.set_title("loss")
    assert plots.file_metadata(fig, ".png") == {"Description": plots.describe(fig)}
    assert plots.file_metadata(fig, "pdf", "x") == {"Subject": "x"} and plots.file_metadata(fig, "svg") == {}

    def broken(fig):
        raise AttributeError("an artist the reader does not know")

    monkeypatch.setattr(plots, "describe_parts", broken)
    assert plots.describe(fig) == "Figure: loss.", "saving or showing a figure never fails for its description"


def test_figures_shown_inline_carry_their_description():
    """What the inline backend shows in a notebook: the same PNG, with ``alt`` in its output's metadata."""
    from functools import partial

    from IPython.core.formatters import DisplayFormatter
    from IPython.core.pylabtools import print_figure
    from matplotlib.figure import Figure

    class Shell:  # the part of an IPython shell the inline backend configures
        display_formatter = DisplayFormatter()

    shell = Shell()
    assert plots.describe_inline_figures(shell) is False, "no PNG formatter for figures: nothing to describe"
    base = partial(print_figure, fmt="png", base64=True)
    shell.display_formatter.formatters["image/png"].for_type(Figure, base)
    assert plots.describe_inline_figures(shell) and plots.describe_inline_figures(shell), "twice: wrapped once"
    fig, ax = plt.subplots()
    ax.bar(["a", "b"], [1, 2])
    data, md = shell.display_formatter.format(fig)
    assert data["image/png"] == base(fig)
    assert md["image/png"] == {plots.ALT_KEY: plots.describe(fig)} and "bar chart of 2 bars" in md["image/png"]["alt"]
    assert plots.describe_inline_figures(None) is False, "outside IPython: nothing"
