"""Synthetic sets out as Hugging Face datasets: rows, audit columns, the card, and the command line."""
from __future__ import annotations

import json

import datasets
import pytest
import yaml

from steer_lib.cli import export as export_cli
from steer_lib.decoding import generate_file
from steer_lib.experiments.export import ExportError, export


@pytest.fixture(scope="module")
def generations(tmp_path_factory, tokenizer):
    from conftest import add_nonzero_lora, make_tiny_llama

    model = add_nonzero_lora(make_tiny_llama(len(tokenizer)))
    out = tmp_path_factory.mktemp("gen") / "commonsense-steer.jsonl"
    generate_file("commonsense", "steer", 4, out, model=model, tokenizer=tokenizer, gamma=0.3, eta=0.3, k=2,
                  max_new_tokens=12, batch_size=2, progress=False)
    return out


def test_export_round_trips_and_writes_a_card(generations, tmp_path):
    metrics = {"mauve": 0.5, "ngram3": 0.9, "warnings": ["ignored: not a number"]}
    out = export(generations, tmp_path / "ds", metrics=metrics)
    ds = datasets.load_from_disk(str(out))
    records = [json.loads(line) for line in generations.read_text().splitlines()]
    assert len(ds) == 4 and ds["text"] == [r["text"] for r in records]
    assert ds["valid"] == [r["valid"] for r in records] and "reason" in ds.column_names
    assert datasets.Dataset.from_parquet(str(out / "data.parquet"))["text"] == ds["text"]
    assert [json.loads(x)["text"] for x in (out / "data.jsonl").read_text().splitlines()] == ds["text"]
    text = (out / "README.md").read_text()
    header = yaml.safe_load(text.split("---\n")[1])
    assert "synthetic" in header["tags"] and header["task"] == "commonsense" and header["method"] == "steer"
    assert header["settings"]["gamma"] == 0.3 and header["settings"]["eta"] == 0.3 and header["settings"]["k"] == 2
    assert header["num_samples"] == 4 and header["seed"] == 0 and header["kit_version"]
    assert header["metrics"] == {"mauve": 0.5, "ngram3": 0.9}
    assert "MIT" in text and "## How it was made" in text


def test_multiple_choice_fields_become_question_options_answer(tmp_path):
    rec = {"index": 0, "text": "Q? A. a B. b C. c D. d E. e Answer: B", "valid": True, "reason": "",
           "fields": {"stem": "Q?", "options": list("abcde"), "answer": "B", "repeated_option": False},
           "task": "commonsense", "method": "top_k", "params": {"top_k": 10}, "seed": 1}
    bad = {**rec, "index": 1, "valid": False, "reason": "option E is missing", "fields": {}}
    f = tmp_path / "g.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in (rec, bad)) + "\n")
    ds = datasets.load_from_disk(str(export(f, tmp_path / "out")))
    assert ds[0]["question"] == "Q?" and ds[0]["options"] == list("abcde") and ds[0]["answer"] == "B"
    assert ds[1]["question"] is None and ds[1]["reason"] == "option E is missing"
    assert not {"n_tokens", "stop", "negative_ids"} & set(ds.column_names)  # an older file: no invented columns


def test_bad_input_is_one_line(tmp_path, capsys):
    assert export_cli.cli([str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o")]) == 2
    assert "no such generations file" in capsys.readouterr().err
    (tmp_path / "x.jsonl").write_text('{"text": "ok"}\n{broken\n')
    with pytest.raises(ExportError, match=r"x.jsonl:2: not valid JSON"):
        export(tmp_path / "x.jsonl", tmp_path / "o")
