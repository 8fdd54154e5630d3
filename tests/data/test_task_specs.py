"""Tasks from YAML spec files: the built-in ones, one of your own, and the errors a bad spec gets."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from steer_lib.data import get_task, tasks
from steer_lib.data.spec import SPEC_DIR, TaskSpecError


def write_csv(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


@pytest.fixture()
def recipes(tmp_path) -> Path:
    rows = [{"id": i, "dish": f"dish {i}", "step": f"Stir pot {i} slowly.", "kind": "soup" if i % 3 else "cake"}
            for i in range(40)]
    write_csv(tmp_path / "recipes.csv", rows)
    return tmp_path


def spec(folder: Path, name: str = "recipes", **overrides) -> Path:
    body = {"name": name, "prompt": "### Instruction: Write a recipe step.\n ### Step:", "max_new_tokens": 20,
            "stop_strings": ["\n", "###"], "validity": {"regex": r"(?P<step>[A-Z].+\.)"}, "val_size": 5,
            "test_size": 5, "data": {"train": {"files": ["recipes.csv"], "template": "{dish}: {step}",
                                               "filter": {"kind": "soup"}}}}
    body.update(overrides)
    path = folder / f"{name}.yaml"
    import yaml
    path.write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
    return path


def test_builtin_tasks_are_specs():
    assert sorted(p.stem for p in SPEC_DIR.glob("*.yaml")) == sorted(tasks.BUILTIN)
    assert all(Path(get_task(n).source).parent == SPEC_DIR for n in tasks.BUILTIN)
    assert get_task("csqa").name == "commonsense" and get_task("comments").label == "toxic"


def test_commonsense_template_reproduces_format_csqa():
    rec = tasks.csqa_records("csqa/dev_rand_split.jsonl")[0]
    assert get_task("commonsense").real_texts("test")[0] == tasks.format_csqa(rec["stem"], rec["options"],
                                                                               rec["answer"])


def test_a_task_of_your_own_from_csv(recipes):
    t = get_task(str(spec(recipes)))
    kept = [i for i in range(40) if i % 3]  # the filter keeps the soups
    assert t.name == "recipes" and t.answer_marker == "### Step:" and t.source.endswith("recipes.yaml")
    train, val, test = t.real_texts("train"), t.real_texts("val"), t.real_texts("test")
    assert len(train) + len(val) + len(test) == len(kept) and (len(val), len(test)) == (5, 5)
    assert set(train + val + test) == {f"dish {i}: Stir pot {i} slowly." for i in kept}
    assert t.parse("Add salt.").valid and t.parse("Add salt.").fields == {"step": "Add salt."}
    assert not t.parse("add salt").valid
    assert get_task("recipes") is t  # registered under its own name for the rest of the run


@pytest.mark.parametrize("change, message", [
    ({"name": None}, "missing required field 'name'"),
    ({"colour": "red"}, "unknown field(s) colour"),
    ({"data": {"train": {"files": ["recipes.csv"], "text": "body"}}}, "data.train.text: column(s) 'body' not in "
                                                                     "the data; columns: id, dish, step, kind"),
    ({"data": {"train": {"files": ["recipes.csv"], "text": "step", "filter": {"kind": "pie"}}}},
     "data.train.filter: {'kind': 'pie'} leaves no rows of 40"),
    ({"data": {"train": {"files": ["nope.csv"], "text": "step"}}}, "data file 'nope.csv' not found"),
    ({"validity": {"parser": "poem"}}, "unknown parser 'poem'; built-in parsers: question, comment, multiple_choice"),
    ({"validity": {"regex": "(unclosed"}}, "validity.regex: not a valid regular expression"),
    ({"name": "hypotheses"}, "'hypotheses' is already the name of a built-in task"),
    # issue #25 s05, s05b, s05c, s05d, s05g, s05h, s16b: each names its field, none is accepted or a traceback
    ({"max_new_tokens": "lots"}, "max_new_tokens: 'lots' must be an integer >= 1"),
    ({"max_new_tokens": -5}, "max_new_tokens: -5 must be an integer >= 1"),
    ({"stop_strings": 5}, "stop_strings: 5 must be a list of non-empty strings"),
    ({"stop_strings": ["re:(unclosed"]}, "stop_strings: 're:(unclosed' is not a valid regular expression"),
    ({"val_size": -3}, "val_size: -3 must be an integer >= 0"),
    ({"val_size": 100}, "val_size=100 holds out every one of the 21 training examples; set val_size: below 21"),
    ({"data": {"train": {"files": 42, "text": "step"}}}, "data.train.files: expected a file name or a list"),
    ({"data": {"train": {"files": ["../outside.csv"], "text": "step"}}},
     "data file '../outside.csv' is outside the spec's folder"),
    ({"data": {"train": {"files": ["/etc/hosts.csv"], "text": "step"}}},
     "data file '/etc/hosts.csv' is outside the spec's folder"),
])
def test_bad_specs_name_the_file_and_the_field(recipes, change, message):
    body = {k: v for k, v in change.items() if v is not None}
    path = spec(recipes, **{"name": "bad", **body})
    if change.get("name", "") is None:
        import yaml
        raw = yaml.safe_load(path.read_text())
        raw.pop("name")
        path.write_text(yaml.safe_dump(raw))
    with pytest.raises(TaskSpecError) as exc:
        get_task(str(path)).real_texts("train")
    assert str(path) in str(exc.value) and message in str(exc.value)


def test_unreadable_json_names_the_line(tmp_path):
    (tmp_path / "data.jsonl").write_text(json.dumps({"t": "a fine line"}) + "\n{broken\n", encoding="utf-8")
    path = spec(tmp_path, name="broken", data={"train": {"files": ["data.jsonl"], "text": "t"}}, test_size=0)
    with pytest.raises(TaskSpecError, match=r"data.jsonl line 2: "):
        get_task(str(path)).real_texts("train")


def test_unknown_task_says_a_spec_path_works():
    with pytest.raises(ValueError, match="or a path to a task spec .yaml"):
        get_task("poems")


def test_the_worked_example_spec_loads_real_data():
    t = get_task(str(Path(__file__).resolve().parents[2] / "examples" / "tasks" / "abstracts.yaml"))
    train, val, test = t.real_texts("train"), t.real_texts("val"), t.real_texts("test")
    assert (len(train), len(val), len(test)) == (850, 50, 100) and not set(test) & set(train)
    assert sum(t.parse(x).valid for x in train) / len(train) > 0.9
