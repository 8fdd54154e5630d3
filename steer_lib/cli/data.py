"""``python -m steer_lib data``: fetch, verify or list the real data (every file checked against its sha256).

    python -m steer_lib data fetch [--mirror SRC] [--dest DIR] [--only PREFIX ...]
    python -m steer_lib data verify [--dest DIR]
    python -m steer_lib data list

A mirror is a local folder or an http(s) base URL laid out like the manifest paths (env ``STEER_DATA_MIRROR``).
"""
from __future__ import annotations

import sys

from .. import paths
from ..data.download import DataError, fetch, manifest, verify


def cli(argv: list[str]) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m steer_lib data", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fetch", help="download and verify every manifest file")
    f.add_argument("--mirror", help="local folder or http(s) base URL laid out like the manifest (env STEER_DATA_MIRROR)")
    f.add_argument("--dest", help=f"where to write (default {paths.data_dir()})")
    f.add_argument("--only", nargs="*", help="path prefixes to fetch, e.g. astro/ csqa/")
    v = sub.add_parser("verify", help="check files on disk against the manifest")
    v.add_argument("--dest")
    sub.add_parser("list", help="print the manifest")
    a = p.parse_args(argv)
    if a.cmd == "fetch":
        try:
            fetch(a.mirror, a.dest, a.only, log=lambda line: print(line, file=sys.stderr))
        except DataError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0
    if a.cmd == "verify":
        bad = verify(a.dest)
        for b in bad:
            print(f"missing or invalid: {b}", file=sys.stderr)
        print(f"{len(manifest()) - len(bad)}/{len(manifest())} files valid")
        return 1 if bad else 0
    for e in manifest():
        print(f"{e.bytes:>10}  {e.path}")
    return 0
