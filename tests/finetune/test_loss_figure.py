"""The loss figure that fine-tuning saves must not switch matplotlib's backend: a notebook that trains P_θ on the
fly (02 on a cold cache) would lose the inline plots of every later cell."""
from __future__ import annotations

import matplotlib

from steer_lib.finetune import domain_model


def test_saving_the_loss_figure_leaves_the_backend_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("STEER_ROOT", str(tmp_path))
    before = matplotlib.get_backend()
    matplotlib.use("svg")  # stands in for a notebook's inline backend
    try:
        record = {"task": "hypotheses", "profile": "smoke", "evals": [],
                  "history": [{"step": 1, "loss": 3.0}, {"step": 2, "loss": 2.5}],
                  "eval": {"base_loss": 4.0, "loss": 2.4}}
        domain_model._save_figure(record, "smoke", "hypotheses")
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(before)
    for ext in ("png", "pdf"):
        assert (tmp_path / "figures" / "smoke" / f"01_finetune_loss_hypotheses.{ext}").stat().st_size > 0


def test_the_loss_figure_draws_only_measured_held_out_points(tmp_path):
    """Two evaluations are two markers, never a line between them; the completion-only loss is drawn and labelled
    as the measure; with eval_every's extra evaluations the markers are joined."""
    from matplotlib.figure import Figure

    record = {"task": "hypotheses", "profile": "quick", "history": [{"step": s, "loss": 3.0 - s / 20} for s in range(1, 41)],
              "eval": {"base_loss": 4.39, "base_loss_completion": 3.96, "loss": 2.16, "loss_completion": 3.08},
              "evals": [{"step": 40, "loss": 2.16, "loss_completion": 3.08}]}
    ax = domain_model.plot_loss(record, ax=Figure().subplots())
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    measure = next(ln for lab, ln in lines.items() if lab.startswith("held-out, text only (the measure): 3.96"))
    assert list(measure.get_xdata()) == [0, 40] and list(measure.get_ydata()) == [3.96, 3.08]
    assert measure.get_linestyle() == "None"  # markers only: nothing was measured between them
    assert any(lab.startswith("held-out, prompt included: 4.39 (P_φ) → 2.16") for lab in lines)
    record["evals"] = [{"step": s, "loss": 2.0, "loss_completion": 3.0 + s / 100} for s in (10, 20, 30, 40)]
    ax = domain_model.plot_loss(record, ax=Figure().subplots())
    measure = next(ln for ln in ax.get_lines() if ln.get_label().startswith("held-out, text only"))
    assert len(measure.get_xdata()) == 5 and measure.get_linestyle() == "-"
    assert domain_model.heldout_points({"eval": {"base_loss": 4.0}, "evals": [{"step": 5, "loss": 3.0}]}, False) == \
        [(0, 4.0), (5, 3.0)]
    assert domain_model.heldout_points({"eval": {"base_loss": 4.0}, "evals": [{"step": 5, "loss": 3.0}]}) == []  # old record
