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
