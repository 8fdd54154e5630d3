"""Generation over several processes: who this process is, and the collectives the writer needs.

Launched by ``torchrun --nproc_per_node N`` or ``accelerate launch --multi_gpu --num_processes N``,
every process sees ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``; :func:`setup` then joins the
process group (NCCL when every process on the machine has a GPU of its own, gloo otherwise). With ``WORLD_SIZE``
unset or 1 nothing is initialised and every helper is a no-op on one process, so single-process
code paths stay exactly as they were.

Only Python objects travel (the finished texts of a batch, the records a resume keeps), never
tensors: the collectives are ``all_gather_object`` / ``broadcast_object_list``.

>>> shard_rows(5, 0, 2), shard_rows(5, 1, 2), shard_rows(1, 0, 2)  # a rank may get no rows
((0, 2), (2, 5), (0, 0))
"""
from __future__ import annotations

import datetime
import os
from typing import Any

TIMEOUT = datetime.timedelta(minutes=60)  # a collective waits this long for the slowest rank (one batch)


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def rank() -> int:
    """This process's rank (0 on one process, before and after :func:`setup`)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", "0") or 0)


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0") or 0)


def is_main() -> bool:
    """Whether this process is the one that writes files and reports (rank 0)."""
    return rank() == 0


def setup() -> tuple[int, int]:
    """``(rank, world size)``, joining the process group first when launched with ``WORLD_SIZE > 1``."""
    if world_size() <= 1:
        return 0, 1
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        nccl = _gpu_each()  # the same answer on every rank of a machine: one backend for all
        if nccl:
            torch.cuda.set_device(local_rank())  # object collectives on NCCL go through the current device
        dist.init_process_group("nccl" if nccl else "gloo", timeout=TIMEOUT)
    return dist.get_rank(), dist.get_world_size()


def _gpu_each() -> bool:
    """Whether every process on this machine has a GPU of its own (NCCL needs that)."""
    import torch

    local = int(os.environ.get("LOCAL_WORLD_SIZE", "0") or 0) or world_size()
    return torch.cuda.is_available() and torch.cuda.device_count() >= local


def teardown() -> None:
    """Leave the process group (if one was joined); call once, when the process is done."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def device_for_rank(device: str) -> str:
    """``"auto"``/``"cuda"`` → this rank's GPU, ``cuda:LOCAL_RANK`` (shared round-robin when ranks outnumber GPUs)."""
    import torch

    if world_size() > 1 and device in ("auto", "cuda") and torch.cuda.is_available():
        return f"cuda:{local_rank() % torch.cuda.device_count()}"
    return device


def shard_rows(n: int, rank: int, world: int) -> tuple[int, int]:
    """Rows ``[a, b)`` of a batch of ``n`` that ``rank`` decodes: contiguous, in rank order, sizes differ by ≤ 1."""
    return rank * n // world, (rank + 1) * n // world


def all_gather(obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order (``[obj]`` on one process)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast(obj: Any, src: int = 0) -> Any:
    """Rank ``src``'s ``obj`` on every rank (``obj`` itself on one process)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def barrier() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier()
