"""The pipeline's generation step resumes strictly: damage in a generations file stops it (no model runs here)."""
from __future__ import annotations

import json

import pytest

from steer_lib.decoding import writer
from steer_lib.experiments import experiment


@pytest.fixture
def calls(tmp_path, monkeypatch):
    monkeypatch.setenv("STEER_RUNS", str(tmp_path / "runs"))
    monkeypatch.setattr(experiment, "_domain_model", lambda task, profile, base_model="": (None, None))
    seen = []

    def fake_generate_file(task, method, n, out, **kw):
        seen.append(kw)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("".join(json.dumps({"index": i, "text": f"q{i}?"}) + "\n" for i in range(n)))
        return out

    monkeypatch.setattr(writer, "generate_file", fake_generate_file)
    return seen


def test_pipeline_generates_strictly(calls):
    recs = experiment.synthetic_records("hypotheses", "top_k", profile="smoke")
    assert calls and calls[0]["strict"] is True and len(recs) == experiment.ExperimentConfig.for_profile("smoke").n_samples


def test_a_torn_file_goes_to_the_writer_instead_of_failing_to_parse(calls):
    out = experiment.generation_path("hypotheses", "top_k", profile="smoke")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"index": 0, "text": "q0?"}) + '\n{"index": 1, "te')  # a killed run's torn line
    experiment.synthetic_records("hypotheses", "top_k", profile="smoke")
    assert len(calls) == 1 and calls[0]["strict"] is True
