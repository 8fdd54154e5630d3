"""``python -m steer_lib evaluate`` / ``evaluate-reference``: input files, bad input, JSON output, resume."""
from __future__ import annotations

import csv
import json

import pytest

from conftest import bag_of_words
from steer_lib.metrics import evaluation as metrics
from steer_lib.metrics import embeddings
from steer_lib.cli import evaluate as evaluate_cli
from steer_lib.authors import outputs as reference
from steer_lib.metrics.embeddings import Embedder
from steer_lib.metrics.input_files import InputError, read_texts


@pytest.fixture()
def fake_embedder(monkeypatch):
    """Route every default embedder to the tiny bag-of-words one (the real one is tested elsewhere)."""
    fake = Embedder(bag_of_words, cache=False)
    # metrics binds as_embedder at import, so it is patched there too (imported above, before any patch)
    monkeypatch.setattr(metrics, "as_embedder", lambda e: fake)
    monkeypatch.setattr(embeddings, "as_embedder", lambda e: fake)
    return fake


def _strict(line: str) -> dict:
    def refuse(c):
        raise AssertionError(f"non-strict JSON constant {c}")
    return json.loads(line, parse_constant=refuse)


def test_read_texts(tmp_path):
    (tmp_path / "a.txt").write_text("one\n\n two \nthree\n", encoding="utf-8")
    assert read_texts(tmp_path / "a.txt") == ["one", "two", "three"]
    (tmp_path / "b.jsonl").write_text('{"text": "x y"}\n\n{"text": "z", "id": 2}\n', encoding="utf-8")
    assert read_texts(tmp_path / "b.jsonl") == ["x y", "z"]


@pytest.mark.parametrize("name,content,message", [
    ("missing.txt", None, "no such file"),
    ("empty.txt", b"\n  \n", "no examples"),
    ("latin1.txt", "caf\xe9\n".encode("latin-1"), "not valid UTF-8 (byte 0xe9 at offset 3)"),
    ("bad.jsonl", b'{"text": "ok"}\n{oops\n', "bad.jsonl:2: not valid JSON"),
    ("nofield.jsonl", b'{"body": "x"}\n', "nofield.jsonl:1: expected an object with a string field 'text'"),
    ("data.csv", b"text\nx\n", "unsupported file type '.csv'"),
])
def test_read_texts_errors(tmp_path, name, content, message):
    if content is not None:
        (tmp_path / name).write_bytes(content)
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_texts(tmp_path / name)


def test_cli_json_last_line(tmp_path, capsys, fake_embedder):
    real = reference.real_set("hypotheses")
    (tmp_path / "real.txt").write_text("\n".join(real[:80]), encoding="utf-8")
    (tmp_path / "syn.jsonl").write_text("\n".join(json.dumps({"text": t}) for t in real[100:160]), encoding="utf-8")
    rc = evaluate_cli.cli(["--real", str(tmp_path / "real.txt"), "--synthetic", str(tmp_path / "syn.jsonl"),
                           "--task", "hypotheses", "--json", "--mauve-seeds", "1"])
    out, err = capsys.readouterr()
    assert rc == 0
    res = _strict(out.strip().splitlines()[-1])
    first = list(evaluate_cli.JSON_KEYS) + list(evaluate_cli.DIVERSITY_KEYS)
    assert list(res)[:len(first)] == first
    assert res["vendi"] > 1 and res["compression_ratio"] > 1 and 0 <= res["self_bleu"] <= 1
    assert res["n"] == 60 and res["n_real_in"] == 80 and res["validity"] == 1.0
    assert "MAUVE is optimistic and noisy" in err


def test_cli_nan_is_null_with_a_warning(tmp_path, capsys, fake_embedder):
    (tmp_path / "r.txt").write_text("a b c d\ne f g h\ni j k l\n", encoding="utf-8")
    rc = evaluate_cli.cli(["--real", str(tmp_path / "r.txt"), "--synthetic", str(tmp_path / "r.txt"), "--json"])
    out, err = capsys.readouterr()
    res = _strict(out.strip().splitlines()[-1])
    assert rc == 0 and res["mauve"] is None and res["adv_auroc"] is None and "validity" not in res
    assert "warning: mauve: NaN because" in err and "warning: adv_auroc: NaN because" in err


def test_cli_bad_input_exits_2(tmp_path, capsys):
    (tmp_path / "ok.txt").write_text("x\n", encoding="utf-8")
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00bad")
    assert evaluate_cli.cli(["--real", str(tmp_path / "ok.txt"), "--synthetic", str(tmp_path / "nope.txt")]) == 2
    assert "nope.txt: no such file" in capsys.readouterr().err
    assert evaluate_cli.cli(["--real", str(tmp_path / "bin.txt"), "--synthetic", str(tmp_path / "ok.txt")]) == 2
    assert "not valid UTF-8" in capsys.readouterr().err
    assert evaluate_cli.cli(["--real", str(tmp_path / "ok.txt"), "--synthetic", str(tmp_path / "ok.txt"),
                             "--task", "poems"]) == 2
    assert "unknown task 'poems'" in capsys.readouterr().err


def test_evaluate_reference_all_files_small_n_and_resume(tmp_path, capsys, fake_embedder):
    out = tmp_path / "ref"
    assert evaluate_cli.cli_reference(["--n", "20", "--out", str(out), "--mauve-seeds", "1"]) == 0
    rows = list(csv.DictReader(open(out.with_suffix(".csv"), encoding="utf-8")))
    # 6 hypotheses files + the steer file's final-formula part, 5 comments files × (toxic, non-toxic), 6 commonsense
    assert len(rows) == 23
    assert {(r["kit_task"], r["label"]) for r in rows} >= {("comments-nontoxic", "steer"), ("hypotheses", "top_k"),
                                                          ("hypotheses", "steer (final formula)")}
    beam = next(r for r in rows if (r["task"], r["method"]) == ("commonsense", "beam"))
    assert beam["n"] == "8" and beam["mauve"] == "nan" and "MAUVE needs at least 20" in beam["warnings"]
    data = _strict(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert data["meta"]["n"] == 20 and len(data["rows"]) == 23 and data["meta"]["protocol"] == "kit"
    capsys.readouterr()
    # a rerun reads every finished row back instead of scoring it again
    assert evaluate_cli.cli_reference(["--n", "20", "--out", str(out), "--mauve-seeds", "1"]) == 0
    assert capsys.readouterr().err.count("(cached)") == 23


@pytest.mark.slow
def test_evaluate_reference_real_embedder(tmp_path, monkeypatch, capsys):
    """The CI-sized run with the real all-MiniLM-L6-v2 (one small file, so it stays quick)."""
    monkeypatch.setattr(embeddings, "cache_root", lambda: tmp_path / "emb")
    monkeypatch.setenv("STEER_RUNS", str(tmp_path / "runs"))
    assert evaluate_cli.cli_reference(["--n", "20", "--tasks", "commonsense", "--methods", "beam"]) == 0
    rows = _strict((tmp_path / "runs" / "reference" / "falcon-7b-n20.json").read_text(encoding="utf-8"))["rows"]
    (row,) = rows
    assert row["embedder"] == "all-MiniLM-L6-v2" and row["n"] == 8
    assert 0.0 < row["cosine"] < 1.0 and 0.0 <= row["adv_auroc"] <= 1.0 and row["validity"] == 1.0
    assert len(list((tmp_path / "emb").rglob("*.npy"))) == 16


def test_ensure_reference_computes_once_and_prefers_a_larger_run(tmp_path, monkeypatch, fake_embedder):
    """Notebook 07's path: a missing authors' table is scored at the profile's n; any run at least that large is
    used as it is; a full run beats every sized one; the kit never picks a smaller run than asked for."""
    from steer_lib.experiments import results

    monkeypatch.setenv("STEER_RUNS", str(tmp_path / "runs"))
    folder = tmp_path / "runs" / "reference"
    assert results.reference_csv(min_n=20) is None
    logged: list[str] = []
    src = results.ensure_reference(20, log=logged.append)
    assert src == folder / "falcon-7b-n20.csv" and len(logged) == 23  # every part of every released file scored
    assert results.ensure_reference(20, log=logged.append) == src and len(logged) == 23  # second call: nothing run
    assert results.ensure_reference(10, log=logged.append) == src  # a larger run serves a smaller ask
    assert results.reference_csv(min_n=21) is None and results.reference_csv(min_n=0) is None  # 0 = full only
    assert set(results.load_reference("hypotheses", src)["label"]) >= {"steer", "top_k", "nucleus"}
    (folder / "falcon-7b-n20-seed1.csv").write_text(src.read_text())  # another seed's run is not a size
    (folder / "falcon-7b.csv").write_text(src.read_text())
    assert results.reference_csv(min_n=0) == folder / "falcon-7b.csv" == results.ensure_reference(500)
    with pytest.raises(ValueError, match="n=-1"):
        results.ensure_reference(-1)


# ------------------------------------------------------------------ --protocol authors
def test_evaluate_protocol_authors_changes_classifier_cv_and_buckets(tmp_path, capsys, fake_embedder):
    real = reference.real_set("hypotheses")
    (tmp_path / "real.txt").write_text("\n".join(real[:400]), encoding="utf-8")
    (tmp_path / "syn.txt").write_text("\n".join(real[500:900]), encoding="utf-8")
    base = ["--real", str(tmp_path / "real.txt"), "--synthetic", str(tmp_path / "syn.txt"), "--n", "300", "--json"]
    got = {}
    for protocol in ("kit", "authors"):
        assert evaluate_cli.cli(base + ["--protocol", protocol]) == 0
        got[protocol] = _strict(capsys.readouterr().out.strip().splitlines()[-1])
    kit, authors = got["kit"], got["authors"]
    assert (kit["protocol"], kit["classifier"], kit["mauve_seeds"], kit["mauve_buckets"]) == ("kit", "logreg", 3, 25)
    # the authors' code: default XGBoost, one MAUVE run, mauve-text's num_buckets='auto' = n/10
    assert (authors["protocol"], authors["classifier"], authors["mauve_seeds"], authors["mauve_buckets"]) == (
        "authors", "xgboost", 1, 30)
    assert authors["adv_auroc"] != kit["adv_auroc"] and authors["mauve_sd"] == 0.0
    assert authors["ngram3"] == kit["ngram3"] and authors["cosine"] == kit["cosine"]  # only the learned measures move


def test_protocol_authors_refuses_settings_it_fixes(tmp_path, capsys):
    (tmp_path / "r.txt").write_text("a b\nc d\n", encoding="utf-8")
    args = ["--real", str(tmp_path / "r.txt"), "--synthetic", str(tmp_path / "r.txt"), "--protocol", "authors"]
    assert evaluate_cli.cli(args + ["--classifier", "logreg"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: protocol='authors' fixes") and "classifier='logreg'" in err
    assert len(err.splitlines()) == 1
    assert evaluate_cli.cli_reference(["--n", "20", "--protocol", "authors", "--mauve-seeds", "3"]) == 2
    assert "drop mauve_seeds=3" in capsys.readouterr().err
    with pytest.raises(ValueError, match="protocol='paper' is not one of"):
        metrics.evaluate(["a b"], ["c d"], protocol="paper")


def test_evaluate_reference_protocol_is_in_the_file_name_and_row_cache(tmp_path, monkeypatch, capsys, fake_embedder):
    monkeypatch.setenv("STEER_RUNS", str(tmp_path / "runs"))
    folder = tmp_path / "runs" / "reference"
    args = ["--n", "20", "--tasks", "commonsense", "--methods", "steer", "no_steer"]
    assert evaluate_cli.cli_reference(args + ["--mauve-seeds", "1"]) == 0
    assert evaluate_cli.cli_reference(args + ["--protocol", "authors"]) == 0
    err = capsys.readouterr().err
    assert "(cached)" not in err  # a kit row is never read back for the authors' protocol
    kit = _strict((folder / "falcon-7b-n20.json").read_text(encoding="utf-8"))
    authors = _strict((folder / "falcon-7b-n20-authors.json").read_text(encoding="utf-8"))
    assert kit["meta"]["protocol"] == "kit" and authors["meta"]["protocol"] == "authors"
    assert {r["classifier"] for r in authors["rows"]} == {"xgboost"} and {r["protocol"] for r in authors["rows"]} == {
        "authors"}
    from steer_lib.experiments import results

    assert results.reference_csv(min_n=20) == folder / "falcon-7b-n20.csv"  # the notebook shows the kit's protocol
