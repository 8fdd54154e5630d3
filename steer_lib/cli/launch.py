"""``python -m steer_lib launch [torchrun options] <command> [options]``: torchrun for the kit's commands.

    python -m steer_lib launch --nproc_per_node 2 generate --task hypotheses --n 8 --profile quick

is ``torchrun --nproc_per_node 2 -m steer_lib generate …`` with the kit's command line passed on
untouched. Plain torchrun stops on ``--n`` ("ambiguous option: --n could match --nnodes,
--nproc-per-node, …") because its parser expands abbreviations of its own options over the
whole command line, the script's options included. This runs the same launcher
(:mod:`torch.distributed.run`) with abbreviations off, so its options must be spelt in full and
everything from the kit's command on belongs to the kit.
"""
from __future__ import annotations

import sys


def cli(argv: list[str]) -> int:
    from torch.distributed import run as torchrun

    parser = torchrun.get_args_parser()
    parser.prog, parser.allow_abbrev = "python -m steer_lib launch", False
    args = parser.parse_args(argv)  # the command (e.g. generate) lands where torchrun's script would be
    nproc = str(args.nproc_per_node)
    if not (nproc.isdigit() and int(nproc) >= 1) and nproc not in ("auto", "cpu", "gpu", "xpu"):
        print(f"error: --nproc_per_node {nproc}: must be an integer >= 1 (or auto, cpu, gpu)", file=sys.stderr)
        return 2
    args.training_script_args = [args.training_script, *args.training_script_args]
    args.training_script, args.module, args.no_python = "steer_lib", True, False
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    try:
        torchrun.run(args)
    except ChildFailedError as exc:  # torchrun has logged which rank failed; the ranks printed their errors
        _, first = exc.get_first_failure()
        return first.exitcode if first.exitcode and first.exitcode > 0 else 1
    return 0
