"""A task the kit has never seen, from a CSV and a spec file written here, through every stage a user runs:
fine-tune (smoke) → generate (STEER) → evaluate → export, on a tiny random-weight base model in a local folder."""
from __future__ import annotations

import csv

import datasets
import pytest
import yaml

from conftest import make_tiny_llama



@pytest.mark.slow
def test_a_new_task_from_csv_through_every_stage(iso, tokenizer):
    from steer_lib.data import get_task
    from steer_lib.experiments import evaluate_method, generation_path, synthetic_records
    from steer_lib.experiments.export import export
    from steer_lib.finetune import finetune, read_record

    base = iso / "tiny-base"
    make_tiny_llama(len(tokenizer)).save_pretrained(base)
    tokenizer.save_pretrained(base)
    with open(iso / "tips.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "tip", "topic"])
        for i in range(60):
            w.writerow([i, f"Water tomato plant {i} before noon and check the soil.", "garden" if i % 4 else "kitchen"])
    spec = iso / "tips.yaml"
    spec.write_text(yaml.safe_dump({
        "name": "garden-tips", "prompt": "### Instruction: Write a gardening tip.\n ### Tip:", "max_new_tokens": 16,
        "stop_strings": ["\n", "###"], "validity": {"regex": "(?P<tip>[A-Z].*)"}, "val_size": 5, "test_size": 5,
        "data": {"train": {"files": ["tips.csv"], "text": "tip", "filter": {"topic": "garden"}}}}), encoding="utf-8")
    task = get_task(str(spec))
    assert task.name == "garden-tips" and len(task.real_texts("train")) == 45 - 10

    adapter = finetune(str(spec), "smoke", base=str(base), progress=False)
    assert read_record(adapter)["task"] == "garden-tips" and adapter.parent.name == "garden-tips"
    kw = dict(profile="smoke", gamma=0.3, eta=0.3, base_model=str(base))
    records = synthetic_records(str(spec), "steer", **kw)
    assert len(records) == 8 and all(r["task"] == "garden-tips" for r in records)
    gen = generation_path(str(spec), "steer", **kw)
    assert gen.parent.name == "garden-tips" and gen.parents[2].name.startswith("smoke@tiny-base-")
    scores = evaluate_method(str(spec), "steer", **kw)
    assert scores["n"] == 8 and scores["base_model"].startswith("local-sha256:") and 0 <= scores["validity"] <= 1

    out = export(gen, iso / "export")
    ds = datasets.load_from_disk(str(out))
    assert len(ds) == 8 and {"text", "valid", "n_tokens", "stop", "negative_ids", "negative_is_real"} <= set(ds.column_names)
    assert set(ds["stop"]) <= {"eos", "stop", "length"} and all(0 < n <= 64 for n in ds["n_tokens"])
    header = yaml.safe_load((out / "README.md").read_text().split("---\n")[1])
    assert header["task"] == "garden-tips" and header["num_samples"] == 8 and "synthetic" in header["tags"]
    assert header["metrics"]["n"] == 8  # the metrics the kit wrote beside the set
