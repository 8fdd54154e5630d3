"""The data manifest and the checksummed fetch: dir mirror, HTTP mirror, corrupt, truncated, missing."""
from __future__ import annotations

import functools
import http.server
import shutil
import threading
from pathlib import Path

import pytest

from steer_lib.cli import data as data_cli
from steer_lib.data import download as data

SMALL = ["astro/hypotheses.json", "jigsaw/test.a.bad.200.csv"]  # two real files keep the fetch tests fast


def test_manifest_lists_every_shared_file_with_matching_size_and_hash(shared_data):
    entries = {e.path: e for e in data.manifest()}
    on_disk = {str(p.relative_to(shared_data)) for p in Path(shared_data).rglob("*")
               if p.is_file() and p.name not in ("MANIFEST.tsv", "README.md")}
    assert on_disk == set(entries), f"manifest and mirror differ: {on_disk ^ set(entries)}"
    for path, e in entries.items():
        f = Path(shared_data) / path
        assert f.stat().st_size == e.bytes, path
        assert data.sha256_of(f) == e.sha256, path
        assert e.url.startswith("https://raw.githubusercontent.com/") and len(e.url.split("/")[5]) == 40, \
            f"{path}: URL is not pinned to a commit: {e.url}"


def test_fetch_from_dir_mirror_verifies_and_skips_valid_files(shared_data, tmp_path, capsys):
    dest = data.fetch(shared_data, tmp_path / "raw", only=SMALL, progress=True)
    for p in SMALL:
        assert data.sha256_of(dest / p) == next(e.sha256 for e in data.manifest() if e.path == p)
    mtimes = {p: (dest / p).stat().st_mtime_ns for p in SMALL}
    lines: list[str] = []
    data.fetch(shared_data, dest, only=SMALL, progress=True, log=lines.append)
    assert {p: (dest / p).stat().st_mtime_ns for p in SMALL} == mtimes  # nothing re-downloaded
    assert len(lines) == 1 and "0 fetched, 2 already present" in lines[0]
    assert not list(dest.rglob(".part-*")), "temporary files left behind"


def _corrupt_mirror(shared_data, tmp_path, how: str) -> Path:
    mirror = tmp_path / "mirror"
    for p in SMALL:
        (mirror / p).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(Path(shared_data) / p, mirror / p)
    victim = mirror / SMALL[1]
    raw = bytearray(victim.read_bytes())
    if how == "flip":
        raw[100] ^= 0x01  # one byte changed, same size
        victim.write_bytes(bytes(raw))
    elif how == "truncate":
        victim.write_bytes(bytes(raw[: len(raw) // 2]))
    elif how == "missing":
        victim.unlink()
    return mirror


@pytest.mark.parametrize("how, words", [("flip", "sha256"), ("truncate", "size"), ("missing", "could not read")])
def test_corrupt_truncated_or_missing_mirror_is_refused_naming_the_file(shared_data, tmp_path, how, words):
    mirror = _corrupt_mirror(shared_data, tmp_path, how)
    dest = tmp_path / "raw"
    with pytest.raises(data.DataError) as exc:
        data.fetch(str(mirror), dest, only=SMALL, progress=False)
    msg = str(exc.value)
    assert SMALL[1] in msg and words in msg
    assert SMALL[0] not in msg  # the good file is not blamed...
    assert (dest / SMALL[0]).is_file()  # ...and is kept
    assert not (dest / SMALL[1]).exists(), "a corrupt file was written"
    assert not list(dest.rglob(".part-*"))


def test_corrupt_file_already_at_dest_is_replaced(shared_data, tmp_path):
    dest = tmp_path / "raw"
    data.fetch(shared_data, dest, only=SMALL[:1], progress=False)
    (dest / SMALL[0]).write_text("garbage")
    data.fetch(shared_data, dest, only=SMALL[:1], progress=False)
    assert data.verify(dest) == [e.path for e in data.manifest() if e.path != SMALL[0]]


@pytest.fixture()
def http_mirror(shared_data):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=shared_data)
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_fetch_over_http_mirror(http_mirror, tmp_path):
    dest = data.fetch(http_mirror, tmp_path / "raw", only=SMALL, progress=False)
    assert data.verify(dest) == [e.path for e in data.manifest() if e.path not in SMALL]


def test_http_404_is_named(http_mirror, tmp_path, monkeypatch):
    bad = [data.Entry("astro/nope.json", 10, "0" * 64, "https://example.invalid/x")]
    monkeypatch.setattr(data, "manifest", lambda: bad)
    with pytest.raises(data.DataError, match=r"astro/nope.json: could not read .*404"):
        data.fetch(http_mirror, tmp_path, progress=False)


def test_mirror_from_environment(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("STEER_DATA_MIRROR", shared_data)
    dest = data.fetch(dest=tmp_path, only=SMALL[:1], progress=False)
    assert (dest / SMALL[0]).is_file()


def test_require_names_file_and_fetch_command(tmp_path, monkeypatch):
    monkeypatch.setenv("STEER_DATA", str(tmp_path))
    with pytest.raises(data.DataError) as exc:
        data.require("csqa/dev_rand_split.jsonl")
    assert "csqa/dev_rand_split.jsonl" in str(exc.value) and "python -m steer_lib data fetch" in str(exc.value)
    with pytest.raises(data.DataError, match="not in the data manifest"):
        data.require("csqa/unknown.jsonl")


def test_cli_fetch_exit_code_and_message(shared_data, tmp_path, capsys):
    mirror = _corrupt_mirror(shared_data, tmp_path, "flip")
    rc = data_cli.cli(["fetch", "--mirror", str(mirror), "--dest", str(tmp_path / "raw"), "--only", *SMALL])
    assert rc == 1
    assert SMALL[1] in capsys.readouterr().err
