"""Replay the cheap cases of ``shared/reliability-cases.md`` (issue #25) against the command line and total them.

    STEER_DATA=… python tests/reliability_replay.py [--json OUT.json]

Every case runs ``python -m steer_lib …`` *in this process* (``steer_lib.__main__.main``: one import of torch for
all of them), in a scratch folder, with every kit folder (``STEER_RUNS``, ``STEER_CACHE``, ``STEER_ROOT`` for
outputs) pointed into it. A case that would load or train a model, or generate, is not here: those are replayed
with tiny random-weight models by ``tests/test_reliability.py``. Verdicts, as in the issue:

- ``ok``: exit 0 where the case should work;
- ``clear``: one ``error:`` line (or argparse's usage error), exit ≠ 0, no traceback;
- ``traceback``: a Python traceback reached the user;
- ``silent``: exit 0 where the input is wrong;
- ``lost``: a file the kit did not write changed.

It is not a pytest module (no ``test_`` prefix): it reports, it does not assert.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RECORD = {"index": 0, "text": "Is it?", "raw": "Is it?", "valid": True, "reason": "", "fields": {},
          "task": "hypotheses", "method": "top_k", "params": {"top_k": 10}, "seed": 0, "model": "m",
          "base_model": None, "kit_version": "0"}


def scratch_files(d: Path) -> dict[str, Path]:
    """The inputs the cases use, written once into the scratch folder ``d``."""
    f = {}
    (d / "o").mkdir()
    f["notes"] = d / "o" / "notes.txt"
    f["notes"].write_text("my notes\nline two\nline three\n")
    f["binary"] = d / "o" / "binary.jsonl"
    f["binary"].write_bytes(os.urandom(3000))
    f["gen"] = d / "o" / "g.jsonl"
    f["gen"].write_text("".join(json.dumps({**RECORD, "index": i}) + "\n" for i in range(2)))
    f["empty"] = d / "o" / "empty.jsonl"
    f["empty"].write_text("")
    f["project"] = d / "myproject"
    f["project"].mkdir()
    (f["project"] / "README.md").write_text("# mine\n")
    (f["project"] / "data.jsonl").write_text('{"mine": 1}\n')
    f["afile"] = d / "o" / "a-file"
    f["afile"].write_text("x\n")
    f["text_nb"] = d / "o" / "text.ipynb"
    f["text_nb"].write_text("not a notebook\n")
    f["real"] = d / "real.txt"
    f["real"].write_text("Is it one?\nIs it two?\n")
    f["syn"] = d / "syn.txt"
    f["syn"].write_text("Is it three?\nIs it four?\n")
    f["sw_syntax"] = d / "sw_syntax.yaml"
    f["sw_syntax"].write_text("gammas: [0, 0.3\nn: 2\n")
    f["sw_python"] = d / "sw_python.yaml"
    f["sw_python"].write_text("x: !!python/object/apply:os.system [echo PWNED]\n")
    f["timings"] = d / "timings.json"
    f["timings"].write_bytes(os.urandom(100) + b"\xff")
    (d / "secret").mkdir()
    (d / "secret" / "creds.csv").write_text("username,password,api_key\nalice,hunter2,sk-SECRET-0001\n")
    (d / "spec").mkdir()
    (d / "spec" / "rows.csv").write_text("t\n" + "".join(f"Is it number {i}?\n" for i in range(5)))
    return f


def spec(d: Path, fname: str, **fields) -> str:
    import yaml

    body = {"name": "mine", "prompt": "### Q:", "data": {"train": {"files": ["rows.csv"], "text": "t"}}, **fields}
    path = d / "spec" / f"{fname}.yaml"
    path.write_text(yaml.safe_dump(body), encoding="utf-8")
    return str(path)


def cases(d: Path, f: dict[str, Path]) -> list[tuple[str, list[str], str]]:
    """``(id, argv, expected)`` with expected ``ok`` or ``error``."""
    gen = ["generate", "--task", "hypotheses", "--n", "2"]
    out = ["--out", str(d / "o" / "x.jsonl")]
    ev = ["evaluate", "--real", str(f["real"]), "--synthetic", str(f["syn"])]
    nomodel = [
        ("top01", [], "ok"), ("top02", ["frobnicate"], "error"), ("top03", ["--"], "ok"),
        ("top04", ["--version"], "error"), ("data01", ["data"], "error"),
        ("data03", ["data", "fetch", "--only", "nothing/"], "error"),
        ("data07", ["data", "fetch", "--only", "astro/hyp", "--dest", str(f["afile"] / "d")], "error"),
        ("gen01", ["generate"], "error"), ("gen02", ["generate", "--task", "nosuchtask", "--n", "2"], "error"),
        ("gen03", gen + ["--method", "bogus"], "error"), ("gen04", ["generate", "--task", "hypotheses", "--n", "abc"], "error"),
        ("gen05", gen + ["--gamma", "-1"] + out, "error"), ("gen06", gen + ["--method", "top_k", "--top-k", "0"] + out, "error"),
        ("gen07", gen + ["--method", "nucleus", "--top-p", "1.5"] + out, "error"),
        ("gen08", gen + ["--temperature", "0"] + out, "error"), ("gen09", gen + ["--method", "top_k", "--eta", "0.5"] + out, "error"),
        ("gen10", gen + ["--gamma", "nan"] + out, "error"), ("gen11", gen + ["--method", "top_k", "--temperature", "inf"] + out, "error"),
        ("gen13", ["generate", "--task", "hypotheses", "--n", "-1"] + out, "error"),
        ("gen14", gen + ["--max-new-tokens", "0"] + out, "error"), ("gen15", gen + ["--batch-size", "0"] + out, "error"),
        ("gen35", ["generate", "--task", spec(d, "gen35", name="gen35"), "--profile", "smoke", "--n", "-1",
                   "--batch-size", "0"] + out, "error"),
        ("gen29", gen + ["--k", "0"] + out, "error"), ("gen30", gen + ["--k", "-1"] + out, "error"),
        ("gen31", gen + ["--seed", "-1"] + out, "error"), ("gen26", gen + ["--gamma", "inf"] + out, "error"),
        ("gen27", gen + ["--eta", "inf"] + out, "error"),
        ("gen33", ["generate", "--task", "hypotheses", "--n", "100000000000", "--batch-size", "100000000"] + out, "error"),
        ("gen24", gen + ["--device", "bogus"] + out, "error"),
        ("gen16", gen + ["--out", str(f["notes"])], "error"), ("gen17", gen + ["--out", str(f["binary"])], "error"),
        ("gen18", gen + ["--out", str(d / "o")], "error"),
        ("exp01", ["export"], "error"), ("exp02", ["export", str(d / "o" / "missing.jsonl"), "--out", str(d / "e2")], "error"),
        ("exp03", ["export", str(f["empty"]), "--out", str(d / "e3")], "error"),
        ("exp04", ["export", str(f["binary"]), "--out", str(d / "e4")], "error"),
        ("exp07", ["export", str(f["gen"]), "--out", str(f["project"])], "error"),
        ("exp07-dot", ["export", str(f["gen"]), "--out", str(ROOT)], "error"),
        ("exp09", ["export", str(f["gen"]), "--out", str(f["afile"])], "error"),
        ("ev10", ev + ["--n", "0"], "error"), ("ev11", ev + ["--task", "nosuch"], "error"),
        ("ev13", ev + ["--mauve-seeds", "0"], "error"), ("ev14", ev + ["--bootstrap", "-5"], "error"),
        ("ev15", ev + ["--embedder", "/nonexistent"], "error"), ("ev16", ev + ["--tokenizer", "/nonexistent"], "error"),
        ("ev17", ev + ["--seed", "-1"], "error"),
        ("sw01", ["sweep", "--gamma", "abc", "--list"], "error"), ("sw02", ["sweep", "--gamma", "-1", "--list"], "error"),
        ("sw05", ["sweep", "--jobs", "0", "--list"], "error"), ("sw06", ["sweep", "--shard", "0/8", "--list"], "error"),
        ("sw09", ["sweep", "-f", str(d / "missing.yaml")], "error"), ("sw10", ["sweep", "-f", str(f["sw_python"])], "error"),
        ("sw12", ["sweep", "-f", str(f["sw_syntax"])], "error"), ("sw15", ["sweep", "--seeds", "-1", "--list"], "error"),
        ("sw18", ["sweep", "--profile", "smoke", "--task", "hypotheses", "--gamma", "nan", "--eta", "0", "--list"], "error"),
        ("as02", ["assignments", "validate", str(d / "o" / "nope.ipynb")], "error"),
        ("as03", ["assignments", "validate", str(f["text_nb"])], "error"),
        ("as07", ["assignments", "install-cell", "--check", str(f["text_nb"])], "error"),
        ("as08", ["assignments", "generate", "--out", str(f["project"])], "error"),
        ("st01", ["site", "--out", str(f["project"])], "error"),
        ("tm02", ["times", "--update", "--profile", "smoke", "--timings", str(f["timings"])], "error"),
        ("ft06", ["finetune", "--task", "hypotheses", "--profile", "smoke", "--set", "steps=0"], "error"),
        ("ft13", ["finetune", "--task", "hypotheses", "--profile", "smoke", "--set", "lr=inf"], "error"),
    ]
    specs = [  # task specs: each refused with its field named, before a model loads
        ("s05", {"max_new_tokens": "lots"}), ("s05b", {"stop_strings": 5}), ("s05c", {"val_size": -3}),
        ("s05d", {"data": {"train": {"files": 42, "text": "t"}}}), ("s05e", {"name": {"a": 1}}),
        ("s05g", {"max_new_tokens": -5}), ("s16b", {"stop_strings": ["re:(unclosed"]}),
        ("s09b", {"data": {"train": {"files": ["../secret/creds.csv"], "text": "nosuchcolumn"}}}),
        ("s09c", {"data": {"train": {"files": [str(d / "secret" / "creds.csv")], "text": "nosuchcolumn"}}}),
        ("s24", {"data": {"train": {"files": ["../secret/creds.csv"], "template": "{username} {password} {api_key}"}}}),
        ("s27", {"name": "../../../../probe/ESCAPED"}), ("s28", {"name": str(d / "ABSNAME")}),
    ]
    for cid, fields in specs:
        nomodel.append((cid, ["generate", "--task", spec(d, cid, **fields), "--method", "top_k", "--n", "1",
                              "--profile", "smoke"] + out, "error"))
    return nomodel


def run_case(argv: list[str]) -> tuple[int, str]:
    from steer_lib.__main__ import main

    err, std = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(std):
        try:
            rc = main(argv)
        except SystemExit as exc:  # argparse
            rc = exc.code if isinstance(exc.code, int) else 2
        except BaseException:  # noqa: BLE001 -- what would reach the user as a traceback
            traceback.print_exc()
            rc = 1
    return rc, err.getvalue()


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", type=Path, help="also write every case's verdict here")
    a = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="steer-replay-") as tmp:
        d = Path(tmp)
        os.environ.update(STEER_RUNS=str(d / "runs"), STEER_CACHE=os.environ.get("STEER_CACHE", str(Path.home() / ".cache" / "steer-kit")))
        files = scratch_files(d)
        theirs = {k: v for k, v in files.items() if k in ("notes", "binary", "project", "afile")}
        theirs["checkout README.md"] = ROOT / "README.md"  # `export --out .` once replaced it
        for cid, argv, expected in cases(d, files):
            before = {k: snapshot(v) if v.is_dir() else v.read_bytes() for k, v in theirs.items()}
            t0 = time.time()
            rc, err = run_case(argv)
            after = {k: snapshot(v) if v.is_dir() else v.read_bytes() for k, v in theirs.items()}
            errors = [line for line in err.splitlines() if line.startswith("error:") or ": error:" in line]
            changed = [k for k in theirs if before[k] != after[k]]
            if changed:
                verdict = "lost"
                err += f"\nchanged: {', '.join(changed)}"
            elif "Traceback (most recent call last)" in err:
                verdict = "traceback"
            elif expected == "ok":
                verdict = "ok" if rc == 0 else ("clear" if errors else "unclear")
            elif rc == 0:
                verdict = "silent"
            else:
                verdict = "clear" if len(errors) == 1 else "unclear"
            line = errors[0] if errors else err.strip().splitlines()[-1:] or [""]
            results.append({"id": cid, "verdict": verdict, "rc": rc, "seconds": round(time.time() - t0, 2),
                            "message": line if isinstance(line, str) else line[0]})
            print(f"{cid:<10} {verdict:<9} rc={rc} {results[-1]['message'][:150]}", flush=True)
    totals = {v: sum(r["verdict"] == v for r in results) for v in ("ok", "clear", "unclear", "traceback", "silent", "lost")}
    print(f"{len(results)} tried; " + ", ".join(f"{n} {v}" for v, n in totals.items()))
    if a.json:
        a.json.write_text(json.dumps({"totals": totals, "cases": results}, indent=1, ensure_ascii=False) + "\n")
    return 0 if totals["traceback"] == totals["silent"] == totals["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
