"""``python -m steer_lib <command> ...`` -- the kit's command line.

Each command is a thin module in :mod:`steer_lib.cli`; this file only dispatches,
importing the module on demand so ``--help`` and ``data fetch`` start fast.

One error contract: whatever a command raises (a kit error, an ``OSError`` such as an unwritable folder, a model
that does not load, a damaged file) ends in one ``error:`` line on stderr and exit code 2, never a traceback;
``STEER_DEBUG=1`` shows the traceback instead. Ctrl-C still stops with Python's usual ``KeyboardInterrupt``.
"""
from __future__ import annotations

import importlib
import os
import sys

COMMANDS = {  # command -> (module, function taking argv, one-line help)
    "data": ("steer_lib.cli.data", "cli", "fetch / verify the real data (checksummed)"),
    "finetune": ("steer_lib.cli.finetune", "cli", "fine-tune the domain model P_θ for a task (LoRA), cached"),
    "generate": ("steer_lib.cli.generate", "cli", "generate synthetic samples to JSONL (resumable)"),
    "launch": ("steer_lib.cli.launch", "cli", "torchrun for a kit command: launch --nproc_per_node N generate ..."),
    "bench": ("steer_lib.cli.bench", "cli", "throughput benchmark: STEER vs plain sampling, the authors' loop, the HF CFG peer"),
    "gpu-check": ("steer_lib.cli.gpu_check", "cli", "GPU code paths on random-weight models: speed, memory, exactness"),
    "bench-metrics": ("steer_lib.cli.bench_metrics", "cli", "metrics benchmark: 1,000 vs 1,000 texts, cold and warm cache"),
    "export": ("steer_lib.cli.export", "cli", "a generations file as a Hugging Face dataset with its card"),
    "evaluate": ("steer_lib.cli.evaluate", "cli", "score a synthetic set against a real set"),
    "evaluate-reference": ("steer_lib.cli.evaluate", "cli_reference", "score the authors' released outputs"),
    "downstream": ("steer_lib.cli.downstream", "cli", "train downstream models on real vs synthetic data"),
    "reproduce": ("steer_lib.cli.reproduce", "cli", "run the notebooks with papermill for a profile"),
    "sweep": ("steer_lib.cli.sweep", "cli", "γ×η grid sweeps"),
    "study": ("steer_lib.cli.study", "cli", "the γ study: does γ pay once P_θ is trained? (make study; resumable)"),
    "assignments": ("steer_lib.cli.assignments", "cli", "nbgrader: student versions, validation, autograding"),
    "site": ("steer_lib.cli.site", "cli", "the course as a static HTML site (nbconvert), in course order"),
    "times": ("steer_lib.cli.times", "cli", "measured time per notebook (docs/notebook_times.json); --update"),
    "claims": ("steer_lib.cli.claims", "cli", "the paper's claims C1–C7, a verdict each, on the authors' or the kit's runs"),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--"]:  # `python -m steer_lib -- generate …`: the form torchrun needs (see the README)
        argv = argv[1:]
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m steer_lib <command> [options]\n\ncommands:")
        for name, (_, _, help_) in COMMANDS.items():
            print(f"  {name:<20} {help_}")
        return 0
    cmd, rest = argv[0], argv[1:]
    if cmd not in COMMANDS:
        print(f"error: unknown command {cmd!r}; valid commands: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    module, func, _ = COMMANDS[cmd]
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        from .extras import EXTRA, MissingExtra

        top = (e.name or "").split(".")[0]
        if isinstance(e, MissingExtra) or top in EXTRA:  # an optional dependency: name the extra that brings it
            print(f"error: {e if isinstance(e, MissingExtra) else MissingExtra(top, repr(cmd))}", file=sys.stderr)
            return 2
        if e.name not in (module, "steer_lib.classroom"):
            raise
        # the student copy (make student-repo) leaves out the instructor's tools
        print(f"error: {cmd!r} is not part of this copy of the kit (a student copy has no instructor tools)",
              file=sys.stderr)
        return 2
    try:
        return int(getattr(mod, func)(rest) or 0)
    except Exception as exc:  # noqa: BLE001 -- the one top-level handler (see the module docstring)
        if os.environ.get("STEER_DEBUG", "") not in ("", "0"):
            raise
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 2


def one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line: its first non-blank line, prefixed by the type for foreign errors.

    The kit's own messages already say what is wrong and what to do; an error from a library (a model folder
    transformers cannot read, a damaged safetensors file, a permission error) keeps its type name so it can be
    looked up, and the hint says how to see the rest.

    >>> one_line(ValueError("n=-1 must be a non-negative integer"))
    'n=-1 must be a non-negative integer'
    >>> one_line(PermissionError(13, "Permission denied", "/ro/x.jsonl"))
    "PermissionError: [Errno 13] Permission denied: '/ro/x.jsonl'"
    >>> one_line(RuntimeError("first line\\nsecond line"))
    'RuntimeError: first line (1 more line(s); STEER_DEBUG=1 shows the traceback)'
    """
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()] or [repr(exc)]
    more = f" ({len(lines) - 1} more line(s); STEER_DEBUG=1 shows the traceback)" if len(lines) > 1 else ""
    text = lines[0] + more
    own = type(exc).__module__.startswith("steer_lib") or type(exc) is ValueError
    return text if own else f"{type(exc).__name__}: {text}"


if __name__ == "__main__":
    sys.exit(main())
