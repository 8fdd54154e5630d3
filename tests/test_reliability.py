"""Issue #25: nothing lost, nothing silently wrong. Each test replays cases of ``shared/reliability-cases.md`` (by
their id) and asserts what the issue asks: no traceback, no file the kit did not write is changed, a clear line
naming the problem. Cases that need a model use the tiny random-weight ones (tests/conftest.py)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from steer_lib import __main__ as steer
from steer_lib.files import OutputExistsError

RECORD = {"index": 0, "text": "Is it?", "raw": "Is it?", "valid": True, "reason": "", "fields": {},
          "task": "hypotheses", "method": "top_k", "params": {"top_k": 10}, "seed": 0, "model": "m",
          "base_model": None, "kit_version": "0"}


def _run(argv: list[str], capsys) -> tuple[int, list[str], str]:
    """``python -m steer_lib ARGV`` in this process: exit code, its ``error:`` lines, all of stderr."""
    capsys.readouterr()
    rc = steer.main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    return rc, [line for line in err.splitlines() if line.startswith("error:")], err


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture()
def generations(tmp_path) -> Path:
    f = tmp_path / "g.jsonl"
    f.write_text("".join(json.dumps({**RECORD, "index": i}) + "\n" for i in range(2)))
    return f


# ---------------------------------------------------------------- 2. outputs never destroy what the kit did not write
def test_exp07_export_refuses_a_project_folder_without_force(generations, tmp_path, capsys):
    project = tmp_path / "myproject"
    project.mkdir()
    (project / "README.md").write_text("# my project\n")
    (project / "data.jsonl").write_text('{"mine": 1}\n')
    before = _snapshot(project)
    rc, err, _ = _run(["export", str(generations), "--out", str(project)], capsys)
    assert rc == 2 and len(err) == 1 and str(project) in err[0] and "did not write" in err[0] and "--force" in err[0]
    assert _snapshot(project) == before
    rc, err, _ = _run(["export", str(generations), "--out", str(project), "--force"], capsys)
    assert rc == 0 and (project / "README.md").read_text() != "# my project\n"
    rc, _, _ = _run(["export", str(generations), "--out", str(project)], capsys)  # the kit's export now: a rerun
    assert rc == 0


def test_export_out_dot_would_replace_the_checkouts_readme_and_is_refused_even_with_force(generations, capsys):
    from steer_lib import paths

    readme = (paths.root() / "README.md").read_bytes()
    for extra in ([], ["--force"]):
        rc, err, _ = _run(["export", str(generations), "--out", str(paths.root()), *extra], capsys)
        assert rc == 2 and len(err) == 1 and ("did not write" in err[0] or "checkout" in err[0])
    assert (paths.root() / "README.md").read_bytes() == readme


def test_as08_assignments_generate_refuses_a_folder_of_other_files(tmp_path, capsys):
    out = tmp_path / "release"
    out.mkdir()
    (out / "notes.txt").write_text("keep me\n")
    rc, err, _ = _run(["assignments", "generate", "--out", str(out)], capsys)
    assert rc == 2 and len(err) == 1 and "notes.txt" in err[0] and "--force" in err[0]
    assert _snapshot(out) == {"notes.txt": b"keep me\n"}


@pytest.mark.parametrize("content", [b"my notes\nline two\nline three\n", os.urandom(3000),
                                     b'{"index": 0, "text": "from another tool"}\n'],
                         ids=["gen16-text", "gen17-binary", "other-jsonl"])
def test_gen16_17_generate_out_refuses_a_file_it_did_not_write(content, tmp_path, tokenizer):
    from conftest import make_tiny_llama
    from steer_lib.decoding import writer

    out = tmp_path / "notes.jsonl"
    out.write_bytes(content)
    with pytest.raises(writer.ResumeError, match="is not a generations file written by the kit"):
        writer.generate_file("hypotheses", "top_k", 2, out, model=make_tiny_llama(len(tokenizer)),
                             tokenizer=tokenizer, max_new_tokens=2, progress=False, model_id="tiny")
    assert out.read_bytes() == content


def test_gen18_generate_out_a_folder_is_one_line(tmp_path, tokenizer):
    from steer_lib.decoding import writer

    with pytest.raises(writer.ResumeError, match="is a folder; give a file name"):
        writer.generate_file("hypotheses", "top_k", 2, tmp_path, model=None, tokenizer=tokenizer, progress=False)


# ---------------------------------------------------------------- 6. one error contract
def test_top_level_handler_turns_any_error_into_one_line_exit_2(monkeypatch, capsys):
    from steer_lib.cli import times

    def boom(argv):
        raise PermissionError(13, "Permission denied", "/ro/x")

    monkeypatch.setattr(times, "cli", boom)
    rc, err, _ = _run(["times"], capsys)
    assert rc == 2 and err == ["error: PermissionError: [Errno 13] Permission denied: '/ro/x'"]
    monkeypatch.setenv("STEER_DEBUG", "1")
    with pytest.raises(PermissionError):
        steer.main(["times"])


def test_as02_as03_as07_tm02_missing_and_non_json_files_are_one_line(tmp_path, capsys):
    text = tmp_path / "text.ipynb"
    text.write_text("not a notebook\n")
    binary = tmp_path / "timings.json"
    binary.write_bytes(os.urandom(200) + b"\xff\xfe")
    for argv in (["assignments", "validate", str(tmp_path / "nope.ipynb")],
                 ["assignments", "validate", str(text)],
                 ["assignments", "install-cell", "--check", str(text)]):
        rc, err, _ = _run(argv, capsys)
        assert rc in (1, 2) and len(err) == 1, argv
        assert argv[-1] in err[0] and ("no such notebook" in err[0] or "not a" in err[0]), err
    rc, err, _ = _run(["times", "--update", "--profile", "smoke", "--timings", str(binary)], capsys)
    assert rc == 2 and len(err) == 1 and "timings.json" in err[0], err
