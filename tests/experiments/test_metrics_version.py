"""A metrics file from an older METRICS_VERSION is rescored from its generations; a current one is kept."""
from __future__ import annotations

import json

from steer_lib.experiments import experiment
from steer_lib.metrics.keys import METRICS_VERSION


def test_stale_metrics_file_is_rescored(tmp_path, monkeypatch):
    monkeypatch.setenv("STEER_RUNS", str(tmp_path / "runs"))
    calls = []

    def fake_evaluate(texts, real, **kw):
        calls.append(len(texts))
        return {"ngram3": 0.9, "n": len(texts)}

    monkeypatch.setattr("steer_lib.metrics.evaluation.evaluate", fake_evaluate)
    n = experiment.ExperimentConfig.for_profile("smoke").n_samples
    gen = experiment.generation_path("hypotheses", "top_k", profile="smoke")
    gen.parent.mkdir(parents=True)
    gen.write_text("".join(json.dumps({"text": f"Does galaxy {i} host a bar?"}) + "\n" for i in range(n)))
    out = experiment.metrics_path(gen)
    out.parent.mkdir(parents=True)
    out.write_text(json.dumps({"method": "top_k", "ngram3": 0.123, "metrics_version": METRICS_VERSION - 1}))
    res = experiment.evaluate_method("hypotheses", "top_k", profile="smoke")
    assert calls == [n] and res["ngram3"] == 0.9 and res["metrics_version"] == METRICS_VERSION
    assert json.loads(out.read_text())["metrics_version"] == METRICS_VERSION
    assert experiment.evaluate_method("hypotheses", "top_k", profile="smoke")["ngram3"] == 0.9 and calls == [n]
    gen.unlink()  # no generations to rescore from: the old file is still what there is
    out.write_text(json.dumps({"method": "top_k", "ngram3": 0.5}))
    assert experiment.evaluate_method("hypotheses", "top_k", profile="smoke")["ngram3"] == 0.5 and calls == [n]
