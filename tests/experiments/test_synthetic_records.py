"""The pipeline's generation step resumes strictly, on real files written by the real writer (a tiny random-weight
model decodes): a torn last batch is redone, damage inside the file stops the pipeline and leaves the file as it was."""
from __future__ import annotations

import json

import pytest

from conftest import add_nonzero_lora, make_tiny_llama
from steer_lib.decoding import writer
from steer_lib.experiments import experiment

SMALL = {"n_samples": 4, "batch_size": 2, "max_new_tokens": 4}  # two batches of two, four new tokens each


@pytest.fixture
def tiny(tmp_path, monkeypatch, tokenizer):
    monkeypatch.setenv("STEER_RUNS", str(tmp_path / "runs"))
    model = add_nonzero_lora(make_tiny_llama(len(tokenizer)))
    loads = []

    def domain_model(task, profile, base_model=""):
        loads.append(task)
        return model, tokenizer

    monkeypatch.setattr(experiment, "cached_domain_model", domain_model)
    return loads


def _generate():
    return experiment.synthetic_records("hypotheses", "top_k", profile="smoke", **SMALL)


def test_a_finished_set_is_read_not_regenerated(tiny):
    first = _generate()
    out = experiment.generation_path("hypotheses", "top_k", profile="smoke", **SMALL)
    assert [r["index"] for r in first] == [0, 1, 2, 3] and len(out.read_text().splitlines()) == 4
    assert _generate() == first and len(tiny) == 1  # the second call never asked for the model


def test_a_torn_last_batch_is_redone_and_the_rest_kept(tiny):
    first = _generate()
    out = experiment.generation_path("hypotheses", "top_k", profile="smoke", **SMALL)
    lines = out.read_text().splitlines(keepends=True)
    out.write_text("".join(lines[:3]) + lines[3][: len(lines[3]) // 2])  # a killed run's torn line
    again = _generate()
    assert [r["index"] for r in again] == [0, 1, 2, 3] and again[:2] == first[:2]  # the whole first batch kept
    assert len(out.read_text().splitlines()) == 4 and json.loads(out.read_text().splitlines()[-1])["index"] == 3


def test_damage_inside_the_file_stops_the_pipeline_and_keeps_the_file(tiny):
    _generate()
    out = experiment.generation_path("hypotheses", "top_k", profile="smoke", **SMALL)
    lines = out.read_text().splitlines(keepends=True)
    out.write_text(lines[0] + "{not json\n" + "".join(lines[2:]))  # line 2 of 4 damaged, whole lines after it
    before = out.read_bytes()
    with pytest.raises(writer.ResumeError, match=r"line 2 of 4 is damaged.*refusing to resume \(strict\)"):
        _generate()
    assert out.read_bytes() == before  # nothing cut, nothing regenerated
