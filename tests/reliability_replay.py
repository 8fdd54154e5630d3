"""Replay ``shared/reliability-cases.md`` (issue #25) against the command line and total the verdicts.

    STEER_DATA=… PYTHONPATH=. python tests/reliability_replay.py [--out REPORT.md] [--json OUT.json] [--only ID ...]

Every case runs ``python -m steer_lib …`` *in this process* (``steer_lib.__main__.main``: one import of torch for
all of them), in a scratch folder, with the kit's folders (``STEER_RUNS``; per case ``STEER_DATA``, ``STEER_CACHE``,
``STEER_ROOT``) pointed into it. Cases that need a model use two tiny random-weight Llamas saved there (the default
tokenizer, 2 layers of width 32), so a fine-tune (the ``smoke`` profile) takes seconds; the evaluate cases use the
default embedder with a scratch embedding cache. A damage case prepares its damage (``setup``) and may check what it
left (``check``: byte-identical to a reference, a file untouched). Each case has ``CASE_TIMEOUT`` seconds (SIGALRM),
the whole replay takes about 10 minutes on one core. Verdicts, as in the issue:

- ``ok``: exit 0 where the case should work (and its check holds);
- ``clear``: one ``error:`` line (or argparse's usage error), exit ≠ 0, no traceback;
- ``unclear``: an error, but not one line (or not naming what the case says it must: the file, the cause);
- ``failed``: a case that should work exited with an error;
- ``traceback``: a Python traceback reached the user;
- ``silent``: exit 0 where the input is wrong, or a check found a wrong result;
- ``lost``: a file the kit did not write changed;
- ``hang``: still running after ``CASE_TIMEOUT`` seconds.

Cases that cannot be replayed here (a second process killed at the right moment, a GPU, hours of compute) are listed
in ``NOT_REPLAYED`` with the reason and where they are tested instead. It is not a pytest module (no ``test_``
prefix): it reports, it does not assert; the exit code is 1 when any case is a traceback, silent, lost or a hang.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CASE_TIMEOUT = 300

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


@dataclass
class Case:
    id: str
    argv: list[str]
    expected: str  # "ok" or "error"
    env: dict[str, str] = field(default_factory=dict)  # set for this case only
    setup: Callable[[], None] | None = None  # prepares the damage
    check: Callable[[int, str, str], str | None] | None = None  # (rc, stderr, stdout) -> a problem, or None
    theirs: list[Path] = field(default_factory=list)  # files/folders the kit did not write: must not change
    ok_rc: tuple[int, ...] = (0,)  # the exit codes of a case that works (`data verify` exits 1 when it lists some)
    names: tuple[str, ...] = ()  # what the error line must name to be clear (the file, the cause)


# Cases of shared/reliability-cases.md that this script does not replay, and why (each is tested elsewhere).
NOT_REPLAYED = {
    "kill9": "SIGKILL of a second process after its first batch: timing-dependent; the resume it exercises (a torn "
             "last batch redone, byte-identical) is replayed by res02, and tests/decoding/test_writer.py kills a run",
    "conc": "two processes started together on one --out: timing-dependent; tests/decoding/test_writer.py runs two "
            "writers on one file under the lock",
    "ctrlc1": "SIGINT 45 s into a fine-tune: timing-dependent; checkpoints and resume after an interrupt are tested "
              "in tests/finetune/test_finetune.py (an interrupted training resumes from its checkpoint)",
    "grade02": "runs a student's notebook through nbgrader (minutes) and --isolate needs user namespaces; the trust "
               "boundary is documented and --isolate is tested in tests/classroom",
}


def tiny_models(d: Path) -> dict[str, Path]:
    """Two tiny random Llamas with the default tokenizer (P_θ and P_φ stand-ins) and a folder that is not a model."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from steer_lib.models import load_tokenizer

    tok = load_tokenizer()
    out = {}
    for name, seed in (("tiny", 0), ("tiny2", 1)):
        torch.manual_seed(seed)
        cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                          num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True)
        model = LlamaForCausalLM(cfg).eval()
        with torch.no_grad():
            model.model.embed_tokens.weight.mul_(25.0)
        out[name] = d / "models" / name
        model.save_pretrained(out[name])
        tok.save_pretrained(out[name])
    out["notamodel"] = d / "models" / "notamodel"
    out["notamodel"].mkdir()
    (out["notamodel"] / "README.md").write_text("not a model\n")
    (out["notamodel"] / "config.json").write_text('{"hello": 1}\n')
    return out


def data_farm(d: Path, name: str) -> Path:
    """A data folder of symlinks to the real data (so that damage to one file never touches the real one)."""
    from steer_lib import paths

    real = paths.data_dir()
    farm = d / name
    for f in real.rglob("*"):
        if f.is_file():
            (farm / f.relative_to(real)).parent.mkdir(parents=True, exist_ok=True)
            (farm / f.relative_to(real)).symlink_to(f)
    return farm


def own_copy(farm: Path, rel: str) -> Path:
    """Replace the symlink ``farm/rel`` by a real copy that can be damaged."""
    f = farm / rel
    data = f.read_bytes()
    f.unlink()
    f.write_bytes(data)
    return f


def write_spec(folder: Path, name: str, csv_rows: list[str], **fields) -> str:
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rows.csv").write_text("t\n" + "".join(r + "\n" for r in csv_rows))
    body = {"name": name, "prompt": "### Q:", "val_size": 2, "test_size": 0,
            "data": {"train": {"files": ["rows.csv"], "text": "t"}}, **fields}
    (folder / "spec.yaml").write_text(yaml.safe_dump(body), encoding="utf-8")
    return str(folder / "spec.yaml")


def more_cases(d: Path, f: dict[str, Path], m: dict[str, Path]) -> list[Case]:
    """The cases not in ``cases``: damaged data, caches and resumes, models, and every other command's arguments."""
    import numpy as np

    tiny, tiny2, nam = str(m["tiny"]), str(m["tiny2"]), str(m["notamodel"])
    o = d / "o"
    ev = ["evaluate", "--real", str(f["real"]), "--synthetic", str(f["syn"])]
    gen = ["generate", "--task", "hypotheses", "--n", "2", "--max-new-tokens", "4", "--batch-size", "2",
           "--no-progress", "--device", "cpu"]
    tb = ["--base", tiny]
    C: list[Case] = []

    def with_opt(argv: list[str], opt: str, value: str) -> list[str]:
        argv = list(argv)
        argv[argv.index(opt) + 1] = value
        return argv

    def add(cid, argv, expected, **kw):
        C.append(Case(cid, argv, expected, **kw))

    def same_as(path: Path, ref: Path) -> Callable[[int, str, str], str | None]:
        return lambda rc, err, out: None if path.read_bytes() == ref.read_bytes() else f"{path.name} != {ref.name}"

    def untouched(path: Path) -> Callable[[int, str, str], str | None]:
        before = {}

        def setup():
            before["b"] = path.read_bytes()

        def check(rc, err, out):
            return None if path.read_bytes() == before["b"] else f"{path.name} was changed"
        return setup, check

    # ------------------------------------------------------------ data: fetch, verify, damaged and missing data
    empty_data = d / "empty-data"
    empty_data.mkdir()
    mirror = d / "mirror" / "astro"
    mirror.mkdir(parents=True)
    from steer_lib import paths
    hyp = (paths.data_dir() / "astro" / "hypotheses.json").read_bytes()
    (d / "mirror-flip" / "astro").mkdir(parents=True)
    (mirror / "hypotheses.json").write_bytes(hyp[:1000])
    flipped = bytearray(hyp)
    flipped[500] ^= 0x01
    (d / "mirror-flip" / "astro" / "hypotheses.json").write_bytes(bytes(flipped))
    fetch = ["data", "fetch", "--only", "astro/hyp"]
    add("data02", fetch + ["--mirror", "/nonexistent", "--dest", str(d / "dd02")], "error",
        check=lambda rc, err, out: "written" if (d / "dd02" / "astro" / "hypotheses.json").exists() else None)
    add("data04", ["data", "verify", "--dest", "/nonexistent"], "ok", ok_rc=(1,),
        check=lambda rc, err, out: None if rc == 1 and "0/" in out + err else f"rc={rc}")  # exit 1 by design
    add("data05", fetch + ["--mirror", str(d / "mirror"), "--dest", str(d / "dd05")], "error",
        check=lambda rc, err, out: "written" if (d / "dd05" / "astro" / "hypotheses.json").exists() else None)
    add("data06", fetch + ["--mirror", str(d / "mirror-flip"), "--dest", str(d / "dd06")], "error",
        check=lambda rc, err, out: "written" if (d / "dd06" / "astro" / "hypotheses.json").exists() else None)
    add("data08", fetch + ["--mirror", "http://127.0.0.1:9/", "--dest", str(d / "dd08")], "error")
    add("data09", fetch + ["--dest", str(d / "dd09")], "error", env={"STEER_DATA_MIRROR": "ftp://x"}, names=("ftp://x",),
        check=lambda rc, err, out: None if "ftp://x" in err and "ftp:/x/" not in err else "the URL is misread")
    dd10 = d / "dd10" / "astro"

    def tamper10():
        dd10.mkdir(parents=True, exist_ok=True)
        (dd10 / "hypotheses.json").write_bytes(hyp.replace(b"?", b"!", 1))
    add("data10", fetch + ["--mirror", str(paths.data_dir()), "--dest", str(d / "dd10")], "ok", setup=tamper10,
        check=lambda rc, err, out: None if (dd10 / "hypotheses.json").read_bytes() == hyp else "not replaced")
    farm = data_farm(d, "data-tampered")
    own_copy(farm, "astro/hypotheses.json").write_bytes(hyp.replace(b"?", b"!", 1))
    add("dcorr00", ["data", "verify", "--dest", str(farm)], "ok", ok_rc=(1,),
        check=lambda rc, err, out: None if rc == 1 and "astro/hypotheses.json" in out + err else f"rc={rc}")
    add("dcorr01", gen + tb + ["--method", "negative_only", "--out", str(o / "dcorr01.jsonl")], "error",
        env={"STEER_DATA": str(farm)})
    farm2 = data_farm(d, "data-truncated")
    own_copy(farm2, "astro/hypotheses.json").write_bytes(hyp[:-200])
    add("dcorr02", gen + tb + ["--out", str(o / "dcorr02.jsonl")], "error", env={"STEER_DATA": str(farm2)})
    add("nodata01", ["finetune", "--task", "hypotheses", "--profile", "smoke"] + tb, "error",
        env={"STEER_DATA": str(empty_data)})
    add("nodata02", gen + tb + ["--out", str(o / "nodata02.jsonl")], "error", env={"STEER_DATA": str(empty_data)})

    # ------------------------------------------------------------ generate with a (tiny) model
    add("gen12", gen[:3] + ["--n", "0"] + gen[5:] + tb + ["--out", str(o / "n0.jsonl")], "ok")
    add("gen32", gen + tb + ["--method", "top_k", "--top-k", "1000000", "--out", str(o / "g32.jsonl")], "ok")
    add("gen28", gen + ["--model", tiny2] + tb + ["--gamma", "0.3", "--eta", "5", "--out", str(o / "g28.jsonl")], "ok")
    add("gen20", gen + tb + ["--out", str(o / "new" / "deeper" / "x.jsonl")], "ok")
    add("gen19", gen + tb + ["--out", str(f["afile"] / "x.jsonl")], "error")  # root ignores modes: a file as folder
    add("gen21", gen + ["--base", nam, "--out", str(o / "g21.jsonl")], "error")
    add("gen22", gen + ["--base", str(d / "nonexistent_folder"), "--out", str(o / "g22.jsonl")], "error")
    add("gen23", gen + ["--base", "someorg/not-a-model", "--out", str(o / "g23.jsonl")], "error")
    add("gen25", gen + ["--model", nam] + tb + ["--out", str(o / "g25.jsonl")], "error")
    add("gen34", with_opt(gen, "--max-new-tokens", "1000000000") + tb + ["--out", str(o / "g34.jsonl")], "error",
        names=("--max-new-tokens",))

    # ------------------------------------------------------------ resume: a reference, then damaged copies of it
    res = ["generate", "--task", "hypotheses", "--method", "steer", "--model", tiny2, "--base", tiny, "--n", "6",
           "--batch-size", "2", "--max-new-tokens", "8", "--no-progress", "--device", "cpu"]
    ref = o / "res-ref.jsonl"
    add("res00", res + ["--out", str(ref)], "ok",
        check=lambda rc, err, out: None if len(ref.read_text().splitlines()) == 6 else "not 6 records")

    def damaged_copy(name: str, how: Callable[[list[bytes]], list[bytes]]) -> Callable[[], None]:
        def setup():
            lines = ref.read_bytes().splitlines(keepends=True)
            (o / name).write_bytes(b"".join(how(lines)))
        return setup

    def torn(lines):
        return lines[:-1] + [lines[-1][:-100]]

    def broken3(lines):
        return lines[:2] + [b"{not json\n"] + lines[3:]

    def edited3(lines):
        rec = json.loads(lines[2])
        rec["text"] = "An altered text?"
        return lines[:2] + [(json.dumps(rec, ensure_ascii=False) + "\n").encode()] + lines[3:]

    add("res02", res + ["--out", str(o / "res02.jsonl")], "ok", setup=damaged_copy("res02.jsonl", torn),
        check=same_as(o / "res02.jsonl", ref))
    before05 = {}

    def setup05():
        damaged_copy("res05.jsonl", broken3)()
        before05["b"] = (o / "res05.jsonl").read_bytes()
    add("res05", res + ["--strict", "--out", str(o / "res05.jsonl")], "error", setup=setup05,
        check=lambda rc, err, out: None if (o / "res05.jsonl").read_bytes() == before05["b"] else "changed")
    add("res06", res + ["--out", str(o / "res06.jsonl")], "ok", setup=damaged_copy("res06.jsonl", broken3),
        check=same_as(o / "res06.jsonl", ref))
    before03 = {}

    def setup03():
        damaged_copy("res03.jsonl", edited3)()
        before03["b"] = (o / "res03.jsonl").read_bytes()
    add("res03", res + ["--strict", "--out", str(o / "res03.jsonl")], "error", setup=setup03,
        check=lambda rc, err, out: None if (o / "res03.jsonl").read_bytes() == before03["b"] else "changed")
    add("res04", res + ["--out", str(o / "res04.jsonl")], "ok", setup=damaged_copy("res04.jsonl", edited3),
        check=same_as(o / "res04.jsonl", ref))
    add("gen36", with_opt(res, "--n", "4") + ["--out", str(ref)], "ok",
        setup=lambda: shutil.copyfile(ref, o / "res-ref.copy"), check=same_as(ref, o / "res-ref.copy"))

    # ------------------------------------------------------------ fine-tuning (tiny base, smoke) and its adapters
    ft = ["finetune", "--task", "hypotheses", "--profile", "smoke", "--no-progress"]
    add("ft03", ["finetune"], "error")
    add("ft04", ["finetune", "--task", "nosuch", "--profile", "smoke"], "error")
    add("ft05", ["finetune", "--task", "hypotheses", "--profile", "turbo"], "error")
    add("ft07", ft + ["--set", "steps=-1"], "error")
    add("ft08", ft + ["--set", "lr=abc"], "error")
    add("ft09", ft + ["--set", "nosuch=1"], "error")
    add("ft10", ft + ["--set", "steps"], "error")
    add("ft11", ft + ["--base", nam], "error")
    add("ft12", ft + ["--base", str(d / "nonexistent")], "error")
    add("ft14", ft + tb, "error", env={"STEER_RUNS": str(f["afile"])})
    add("ft01", ft + tb, "ok")  # trains the adapter the next cases damage (not a case of the list: their setup)
    add("ft02", ft + tb, "ok", check=lambda rc, err, out: None if "cached" in out + err else "retrained")

    def adapter() -> Path:
        from steer_lib.finetune.domain_model import adapter_dir
        return adapter_dir("hypotheses", "smoke", base=tiny)

    saved: dict[str, bytes] = {}

    def damage(fname: str, how: Callable[[bytes], bytes]) -> Callable[[], None]:
        def setup():
            for name in ("adapter_model.safetensors", "adapter_config.json", "record.json"):
                p = adapter() / name
                saved.setdefault(name, p.read_bytes())
                p.write_bytes(saved[name])  # undo the previous case's damage
            p = adapter() / fname
            p.write_bytes(how(p.read_bytes()))
        return setup

    def random_middle(b: bytes) -> bytes:
        n = min(4 << 20, len(b) // 2)
        return b[:len(b) // 4] + os.urandom(n) + b[len(b) // 4 + n:]

    pgen = gen + ["--profile", "smoke"] + tb + ["--method", "top_k"]
    add("ad01", pgen + ["--out", str(o / "ad01.jsonl")], "error",
        setup=damage("adapter_model.safetensors", lambda b: b[:len(b) // 2]))
    add("ad02", pgen + ["--out", str(o / "ad02.jsonl")], "error", setup=damage("adapter_model.safetensors", random_middle))
    add("ad03", pgen + ["--out", str(o / "ad03.jsonl")], "error", setup=damage("adapter_config.json", lambda b: b"{nope"))
    add("ad04", pgen + ["--out", str(o / "ad04.jsonl")], "error", setup=damage("record.json", lambda b: b"{nope"))
    add("ad05", ft + tb, "error", setup=damage("record.json", lambda b: b"{nope"))
    add("ad-restored", pgen + ["--out", str(o / "ad-ok.jsonl")], "ok", setup=damage("record.json", lambda b: b))

    # mix01/02: a custom task's file, then its CSV edited (a new P_θ): the old file must not be resumed
    mixspec = write_spec(d / "mix", "mixtask", [f"Is galaxy {i} barred?" for i in range(12)])
    mgen = ["generate", "--task", mixspec, "--method", "top_k", "--profile", "smoke", "--base", tiny,
            "--max-new-tokens", "4", "--batch-size", "2", "--no-progress", "--device", "cpu"]
    mix = o / "mix.jsonl"
    add("mix01", mgen + ["--n", "2", "--out", str(mix)], "ok")
    before_mix = {}

    def edit_csv():
        before_mix["b"] = mix.read_bytes()
        write_spec(d / "mix", "mixtask", [f"Is star {i} variable?" for i in range(12)])
    add("mix02", mgen + ["--n", "4", "--out", str(mix)], "error", setup=edit_csv,
        check=lambda rc, err, out: None if mix.read_bytes() == before_mix["b"] else "the old file was resumed")

    # ------------------------------------------------------------ evaluate: files, and a damaged embedding cache
    ecache = d / "cache"
    (ecache / "models").parent.mkdir(parents=True, exist_ok=True)
    (ecache / "models").symlink_to(paths.cache_dir() / "models")
    eenv = {"STEER_CACHE": str(ecache)}
    for name, content in (("empty.txt", b""), ("blank.txt", b"  \n\t\n"), ("latin.txt", "caf\xe9?\n".encode("latin-1")),
                          ("bin.txt", os.urandom(200) + b"\xff"), ("real5.csv", b"t\nIs it?\n"),
                          ("notext.jsonl", b'{"question": "Is it?"}\n')):
        (d / name).write_bytes(content)
    add("ev01", ["evaluate"], "error")
    add("ev02", ["evaluate", "--real", str(d / "nope.txt"), "--synthetic", str(f["syn"])], "error")
    for cid, name, side in (("ev03", "empty.txt", "--real"), ("ev04", "blank.txt", "--real"),
                            ("ev05", "latin.txt", "--real"), ("ev06", "bin.txt", "--real"),
                            ("ev07", "real5.csv", "--real"), ("ev08", "bin.txt", "--synthetic"),
                            ("ev09", "notext.jsonl", "--synthetic")):
        argv = ["evaluate", "--real", str(f["real"]), "--synthetic", str(f["syn"])]
        argv[argv.index(side) + 1] = str(d / name)
        add(cid, argv, "error")
    add("ev12", ev + ["--classifier", "bogus"], "error")
    add("ev18", ev + ["--embedder", nam], "error")
    add("emb-ref", ev + ["--json"], "ok", env=eenv)
    syn0 = f["syn"].read_text().splitlines()[0]
    import hashlib
    h = hashlib.sha256(syn0.encode()).hexdigest()
    vec = ecache / "embeddings" / "all-MiniLM-L6-v2" / h[:2] / f"{h}.npy"
    reference_out: dict[str, str] = {}

    def metrics(out: str) -> dict:
        last = out.strip().splitlines()[-1] if out.strip() else "{}"
        return {k: v for k, v in json.loads(last).items() if k not in ("seconds", "warnings")}

    def keep_reference(rc, err, out):
        reference_out["out"] = metrics(out)
        return None if vec.is_file() else f"no cached vector at {vec}"
    C[-1].check = keep_reference

    def emb_damage(how: Callable[[np.ndarray, bytes], None]) -> Callable[[], None]:
        def setup():
            good = saved.setdefault("vec", vec.read_bytes())
            vec.write_bytes(good)
            how(np.load(vec), good)
        return setup

    def same_numbers(rc, err, out):
        got, want = metrics(out), reference_out.get("out", {})
        diff = sorted(k for k in want if got.get(k) != want[k])
        return None if not diff else f"differs from the undamaged run in {', '.join(diff[:6])}"

    add("emb04", ev + ["--json"], "ok", env=eenv, setup=emb_damage(lambda v, b: vec.write_bytes(b[:len(b) - 40])),
        check=same_numbers)
    add("emb01", ev + ["--json"], "ok", env=eenv, check=same_numbers, setup=emb_damage(
        lambda v, b: vec.write_bytes(b[:-12] + np.array([np.nan, np.inf, 1], dtype=np.float32).tobytes())))
    add("emb02", ev + ["--json"], "ok", env=eenv, check=same_numbers,
        setup=emb_damage(lambda v, b: np.save(vec, np.full_like(v, np.nan))))

    def plausible(v, b):
        rng = np.random.default_rng(0)
        w = rng.normal(size=v.shape).astype(np.float32)
        np.save(vec, w / np.linalg.norm(w))
    add("emb05", ev + ["--json"], "ok", env=eenv, check=same_numbers, setup=emb_damage(plausible))
    add("emb03", ev + ["--json"], "ok", env=eenv, check=same_numbers,
        setup=emb_damage(lambda v, b: np.save(vec, np.ones(7, dtype=np.float32))))
    redos = write_spec(d / "redos", "redostask", ["Is it one?", "Is it two?", "Is it three?", "Is it four?"],
                       validity={"regex": r"(?P<q>(\w+\s?)+\?)"})
    (d / "real5.txt").write_text("".join(f"Is galaxy {i} barred?\n" for i in range(5)))
    (d / "syn2.txt").write_text("Is it?\n" + " ".join(["word"] * 16) + "\n")
    add("redos02", ["evaluate", "--task", redos, "--real", str(d / "real5.txt"), "--synthetic", str(d / "syn2.txt")],
        "ok", env=eenv)
    add("redos01", ["generate", "--task", redos, "--method", "top_k", "--n", "1", "--max-new-tokens", "4",
                    "--no-progress", "--device", "cpu", "--base", tiny, "--out", str(o / "redos01.jsonl")], "ok")
    add("er01", ["evaluate-reference", "--n", "0"], "error")
    add("er02", ["evaluate-reference", "--n", "2", "--tasks", "bogus"], "error")
    add("er03", ["evaluate-reference", "--n", "2", "--tasks", "hypotheses", "--methods", "bogus"], "error")

    # ------------------------------------------------------------ export
    (o / "notext.jsonl").write_text('{"question": "Is it?"}\n')
    (o / "list.jsonl").write_text('[1, 2]\n')
    add("exp05", ["export", str(o / "notext.jsonl"), "--out", str(d / "e5")], "error")
    add("exp06", ["export", str(o / "list.jsonl"), "--out", str(d / "e6")], "error")
    add("exp08", ["export", str(f["gen"]), "--out", str(f["afile"] / "exp")], "error")

    # ------------------------------------------------------------ task specs (each refused before a model loads)
    sp = d / "specs"

    def bad_spec(cid, body=None, raw: bytes | None = None, csv: bytes | None = None, extra=None) -> str:
        import yaml

        folder = sp / cid
        folder.mkdir(parents=True)
        (folder / "rows.csv").write_bytes(csv if csv is not None else
                                          b"t\n" + b"".join(f"Is it number {i}?\n".encode() for i in range(5)))
        for name, content in (extra or {}).items():
            (folder / name).write_bytes(content)
        path = folder / f"{cid}.yaml"
        path.write_bytes(raw if raw is not None else yaml.safe_dump(body).encode())
        return str(path)

    base_body = {"name": "mine", "prompt": "### Q:", "val_size": 1, "test_size": 0,
                 "data": {"train": {"files": ["rows.csv"], "text": "t"}}}

    def without(key):
        return {k: v for k, v in base_body.items() if k != key}
    specs = {
        "s01": bad_spec("s01", without("name")), "s02": bad_spec("s02", without("prompt")),
        "s03": bad_spec("s03", without("data")),
        "s04": bad_spec("s04", {**base_body, "data": {"test": {"files": ["rows.csv"], "text": "t"}}}),
        "s05h": bad_spec("s05h", without("val_size")),
        "s06": bad_spec("s06", base_body, csv=b"t\n"), "s06b": bad_spec("s06b", base_body, csv=b""),
        "s07": bad_spec("s07", base_body, csv=b"t\n" + "Caf\xe9 ou th\xe9?\n".encode("latin-1") * 5),
        "s23": bad_spec("s23", raw=b"name: mine\xff\xfe\nprompt: x\n"),
        "s10": bad_spec("s10", raw=f'name: !!python/object/apply:os.system ["touch {d}/PWNED"]\n'.encode()),
        "s11": bad_spec("s11", raw=b"name: mine\nprompt: x\ndata: [1, 2\n"),
        "s12": bad_spec("s12", raw=b""),
        "s14": bad_spec("s14", {**base_body, "name": "hypotheses"}),
        "s16": bad_spec("s16", {**base_body, "validity": {"regex": "(unclosed"}}),
        "s17": bad_spec("s17", {**base_body, "promt": "x"}),
        "s18": bad_spec("s18", {**base_body, "data": {"train": {"files": ["rows.csv"], "text": "t",
                                                                "filter": {"stars": 7}}}}),
        "s19": bad_spec("s19", {**base_body, "test_size": 50}),
        "s20": bad_spec("s20", {**base_body, "data": {"train": {"hub": "someuser/somedataset", "text": "t"}}}),
        "s21": bad_spec("s21", {**base_body, "data": {"train": {"files": ["astro/abstracts.json"], "text": "t"}}}),
        "s22": bad_spec("s22", {**base_body, "data": {"train": {"files": ["rows.csv", "other.csv"], "text": "t"}}},
                        extra={"other.csv": b"u,v\n1,2\n"}),
        "s09": bad_spec("s09", {**base_body, "data": {"train": {"files": ["../../etc/passwd"], "text": "t"}}}),
        "s09d": bad_spec("s09d", {**base_body, "data": {"train": {"files": ["../../../etc/passwd"], "text": "t"}}}),
    }
    NAMES = {"s06b": ("s06b.yaml", "rows.csv", "empty"), "s07": ("s07.yaml", "UTF-8"),
             "s22": ("s22.yaml", "columns"), "s21": ("astro/abstracts.json", "data fetch")}
    for cid, path in specs.items():
        add(cid, ["generate", "--task", path, "--method", "top_k", "--n", "1", "--profile", "smoke", "--base", tiny,
                  "--no-progress", "--device", "cpu", "--out", str(o / f"{cid}.jsonl")], "error",
            env={"STEER_DATA": str(empty_data)} if cid == "s21" else {},
            names=NAMES.get(cid, (f"{cid}.yaml",)),
            check=(lambda rc, err, out: "PWNED" if (d / "PWNED").exists() else None) if cid == "s10" else None)

    # ------------------------------------------------------------ sweep, downstream, reproduce
    add("sw03", ["sweep", "--eta", "5", "--list"], "ok")
    add("sw04", ["sweep", "--n", "0", "--list"], "ok")
    add("sw07", ["sweep", "--shard", "9/8", "--list"], "error")
    add("sw08", ["sweep", "--shard", "x", "--list"], "error")
    (d / "sw_unknown.yaml").write_text("bogus_key: 1\n")
    add("sw11", ["sweep", "-f", str(d / "sw_unknown.yaml")], "error")
    add("sw13", ["sweep", "--task", "nosuch", "--list"], "error")
    add("sw14", ["sweep", "--profile", "bogus", "--list"], "error")
    add("sw17", ["sweep", "--n", "-5", "--list"], "error")
    add("ds01", ["downstream"], "error")
    add("ds02", ["downstream", "--task", "bogus"], "error")
    add("ds03", ["downstream", "--task", "comments", "--profile", "bogus"], "error")
    add("ds04", ["downstream", "--task", "comments", "--set", "nosuch=1"], "error")
    add("ds05", ["downstream", "--task", "comments", "--profile", "smoke", "--methods", "bogus_method", "--no-write"],
        "error")
    add("rp01", ["reproduce", "--profile", "bogus"], "error")
    add("rp02", ["reproduce", "--tasks", "nosuch"], "error")
    add("rp03", ["reproduce", "--jobs", "0"], "error")
    add("rp04", ["reproduce", "--base", "/nonexistent"], "error")
    add("rp05", ["reproduce", "--tasks", spec(d, "rp05", name="rp05", data={"train": {"files": 42, "text": "t"}})],
        "error")
    add("rp06", ["reproduce", "--profile", "smoke", "--only", "99", "--tasks", "hypotheses"], "ok",
        env={"STEER_ROOT": str(d / "root")})

    # ------------------------------------------------------------ assignments, site, times
    subs = d / "subs1" / "alice"
    subs.mkdir(parents=True)
    (subs / "04_evaluate.ipynb").write_text("not json {\n")
    notes = d / "gradeout" / "course" / "feedback_notes.txt"
    notes.parent.mkdir(parents=True)
    notes.write_text("alice: good question framing; -1 for the plot\n")
    (d / "emptysubs").mkdir()
    add("as01", ["assignments"], "error")
    add("as04", ["assignments", "autograde", "--submissions", "/nonexistent", "--out", str(d / "g4")], "error")
    add("as05", ["assignments", "autograde", "--submissions", str(d / "emptysubs"), "--out", str(d / "g5")], "error")
    add("as06", ["assignments", "student-repo", "--out", str(ROOT / "student-copy-replay")], "error",
        check=lambda rc, err, out: "written" if (ROOT / "student-copy-replay").exists() else None)
    add("grade01", ["assignments", "autograde", "--submissions", str(d / "subs1"), "--out", str(d / "gradeout")],
        "error", theirs=[notes, subs / "04_evaluate.ipynb"],
        check=lambda rc, err, out: None if "alice" in err and "04_evaluate" in err else "student/file not named")
    add("asg01", ["assignments", "generate", "--out", str(d / "release")], "ok")
    add("st02", ["site", "--profiles", "bogus", "--out", str(d / "site1")], "ok")
    add("tm01", ["times", "--update", "--profile", "smoke", "--timings", str(d / "missing.json")], "error",
        env={"STEER_ROOT": str(d / "root")})
    add("tm03", ["times", "--profile", "bogus"], "error")

    # ------------------------------------------------------------ bench, bench-metrics, gpu-check, launch
    add("bn01", ["bench", "--batch-size", "0", "--new-tokens", "4"], "error")
    add("bn02", ["bench", "--new-tokens", "0", "--batch-size", "1"], "error")
    add("bn03", ["bench", "--model", nam, "--base", tiny, "--batch-size", "1", "--new-tokens", "2"], "error")
    add("bn04", ["bench", "--layout", "bogus"], "error")
    add("bm01", ["bench-metrics", "--n", "0"], "error")
    add("bm02", ["bench-metrics", "--n", "-5"], "error")
    add("gc01", ["gpu-check", "--shapes", "bogus"], "error")
    add("gc02", ["gpu-check", "--device", "bogus", "--tiny"], "error")
    add("gc03", ["gpu-check", "--tiny", "--shapes", "llama", "--out", str(f["afile"] / "gc.json")], "error")
    add("la01", ["launch"], "error")
    add("la02", ["launch", "--nproc_per_node", "0", "generate", "--task", "hypotheses", "--n", "1"], "error",
        names=("--nproc_per_node 0",))
    add("la03", ["launch", "--nproc_per_node", "1", "bogus"], "error", names=("bogus",))
    return C


@contextlib.contextmanager
def fd_capture(fd: int):
    """What child processes (``launch``'s ranks) write to ``fd``: collected in a temp file, given at exit."""
    got: list[str] = []
    with tempfile.TemporaryFile() as tmp:
        saved = os.dup(fd)
        os.dup2(tmp.fileno(), fd)
        try:
            yield got
        finally:
            os.dup2(saved, fd)
            os.close(saved)
            tmp.seek(0)
            got.append(tmp.read().decode("utf-8", "replace"))


def run_case(argv: list[str]) -> tuple[int, str, str]:
    from steer_lib.__main__ import main

    err, std = io.StringIO(), io.StringIO()
    sys.stdout.flush(), sys.stderr.flush()
    with fd_capture(2) as child_err, fd_capture(1) as child_out:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(std):
            try:
                rc = main(argv)
            except SystemExit as exc:  # argparse
                rc = exc.code if isinstance(exc.code, int) else 2
            except CaseTimeout:
                raise
            except BaseException:  # noqa: BLE001 -- what would reach the user as a traceback
                traceback.print_exc()
                rc = 1
    return rc, err.getvalue() + "".join(child_err), std.getvalue() + "".join(child_out)


class CaseTimeout(BaseException):
    pass


def _alarm(signum, frame):
    raise CaseTimeout()


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def signature(folder: Path) -> dict[str, tuple[int, int]]:
    """Size and mtime of every file under ``folder`` (the real data: too large to hold in memory)."""
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}


@contextlib.contextmanager
def environ(extra: dict[str, str]):
    old = {k: os.environ.get(k) for k in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def verdict_of(case: Case, rc: int, err: str, changed: list[str], problem: str | None, timed_out: bool) -> str:
    errors = [line for line in err.splitlines() if line.startswith("error:") or ": error:" in line]
    if timed_out:
        return "hang"
    if changed:
        return "lost"
    if "Traceback (most recent call last)" in err:
        return "traceback"
    if problem is not None:
        return "silent"
    if case.expected == "ok":
        return "ok" if rc in case.ok_rc else "failed"  # a case that should work and did not
    if rc == 0:
        return "silent"
    return "clear" if len(errors) == 1 and all(n in errors[0] for n in case.names) else "unclear"


def markdown(results: list[dict], totals: dict[str, int], seconds: float) -> str:
    lines = ["# Replay of shared/reliability-cases.md (issue #25)", "",
             f"{len(results)} inputs tried in {seconds:.0f} s; " + ", ".join(f"{n} {v}" for v, n in totals.items())
             + f"; {len(NOT_REPLAYED)} cases not replayed (below).", "",
             "| id | verdict | rc | s | message |", "|---|---|---|---|---|"]
    for r in results:
        msg = r["message"].replace("|", "\\|").replace("\n", " ")[:220]
        lines.append(f"| {r['id']} | {r['verdict']} | {r['rc']} | {r['seconds']} | {msg} |")
    lines += ["", "## Not replayed", ""] + [f"- **{k}**: {v}" for k, v in NOT_REPLAYED.items()]
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", type=Path, help="also write every case's verdict here")
    ap.add_argument("--out", type=Path, help="also write a Markdown report here")
    ap.add_argument("--only", nargs="*", help="replay only these case ids (their setup cases still run first)")
    a = ap.parse_args()
    from steer_lib import paths

    results = []
    t_start = time.time()
    real_data = paths.data_dir()
    real_before = signature(real_data)
    with tempfile.TemporaryDirectory(prefix="steer-replay-") as tmp:
        d = Path(tmp)
        os.environ.update(STEER_RUNS=str(d / "runs"), STEER_THREADS="1",
                          STEER_CACHE=os.environ.get("STEER_CACHE", str(Path.home() / ".cache" / "steer-kit")))
        (d / "root").mkdir()
        files = scratch_files(d)
        models = tiny_models(d)
        theirs = {k: v for k, v in files.items() if k in ("notes", "binary", "project", "afile", "real", "syn")}
        theirs["checkout README.md"] = ROOT / "README.md"  # `export --out .` once replaced it
        all_cases = [Case(cid, argv, exp) for cid, argv, exp in cases(d, files)] + more_cases(d, files, models)
        needed = {"res00", "ft01", "emb-ref", "mix01"}  # what later cases damage or compare with
        for case in all_cases:
            if a.only and case.id not in a.only and case.id not in needed:
                continue
            watch = {**theirs, **{str(p): p for p in case.theirs}}
            before = {k: snapshot(v) if v.is_dir() else v.read_bytes() for k, v in watch.items()}
            t0 = time.time()
            timed_out, problem = False, None
            with environ(case.env):
                try:
                    if case.setup:
                        case.setup()
                    signal.signal(signal.SIGALRM, _alarm)
                    signal.alarm(CASE_TIMEOUT)
                    try:
                        rc, err, out = run_case(case.argv)
                    finally:
                        signal.alarm(0)
                    if case.check:
                        problem = case.check(rc, err, out)
                except CaseTimeout:
                    timed_out, rc, err, out = True, -1, f"still running after {CASE_TIMEOUT} s", ""
            after = {k: snapshot(v) if v.is_dir() else v.read_bytes() for k, v in watch.items()}
            changed = [k for k in watch if before[k] != after[k]]
            verdict = verdict_of(case, rc, err, changed, problem, timed_out)
            errors = [line for line in err.splitlines() if line.startswith("error:") or ": error:" in line]
            msg = (f"changed: {', '.join(changed)}" if changed else f"check: {problem}" if problem else
                   errors[0] if errors else (err.strip().splitlines() or out.strip().splitlines() or [""])[-1])
            results.append({"id": case.id, "verdict": verdict, "rc": rc, "seconds": round(time.time() - t0, 2),
                            "message": msg})
            print(f"{case.id:<11} {verdict:<9} rc={rc} {results[-1]['seconds']:>6}s {msg[:140]}", flush=True)
    if signature(real_data) != real_before:
        results.append({"id": "real-data", "verdict": "lost", "rc": 0, "seconds": 0,
                        "message": f"a file under {real_data} changed during the replay"})
    totals = {v: sum(r["verdict"] == v for r in results)
              for v in ("ok", "clear", "unclear", "failed", "traceback", "silent", "lost", "hang")}
    seconds = time.time() - t_start
    print(f"{len(results)} tried in {seconds:.0f} s; " + ", ".join(f"{n} {v}" for v, n in totals.items())
          + f"; {len(NOT_REPLAYED)} not replayed: {', '.join(NOT_REPLAYED)}")
    if a.json:
        a.json.write_text(json.dumps({"totals": totals, "seconds": round(seconds), "cases": results,
                                      "not_replayed": NOT_REPLAYED}, indent=1, ensure_ascii=False) + "\n")
    if a.out:
        a.out.write_text(markdown(results, totals, seconds), encoding="utf-8")
    return 0 if totals["traceback"] == totals["silent"] == totals["lost"] == totals["hang"] == totals["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
