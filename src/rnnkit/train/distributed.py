"""Data-parallel training over several processes with :mod:`torch.distributed` (gloo on the
CPU, NCCL on GPUs).

Launched the standard way, ``torchrun --nproc_per_node N -m rnnkit train TASK ...`` (one machine
or several: docs/DEVICES.md), or with ``rnnkit train TASK ... --nproc N``, which starts the N
processes itself (:func:`launch`). Either way each process finds its rank in the environment
(``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``) and
:func:`init_distributed` joins the group.

How a step is shared (:class:`Dist`):

* every process draws the same global batch (the tasks' batch order is seeded, the same on
  every rank) and keeps its part of it: the rows along the task's ``batch_dim`` (:func:`shard`;
  text: the parallel streams of truncated BPTT, ``(T, B)`` split along ``B``; sequence tasks:
  the batch rows);
* each computes its mean loss over its ``n`` units and its gradients; one all-reduce adds
  ``n * grad``, ``n * loss`` and ``n`` over the ranks and every rank divides by the total
  (:meth:`Dist.reduce_gradients`): the gradient of the global batch's mean loss, as one
  process would compute it (up to float summation order), also when the parts are unequal;
* clipping and the Adam step then run identically on every rank, so the weights stay equal;
* the clock, the evaluation time and Ctrl-C are agreed on once per step (:meth:`Dist.agree`), so
  every rank stops at the same step; only rank 0 writes the run directory and shows progress.

Checkpoints hold what one process would hold: the task's per-row tensors (text: the carried
state of each stream) are gathered from every rank before saving (:meth:`Dist.gather_rows`) and
split again on resume (:func:`shard`), so a run resumes with the same or another number of
processes. A rank that dies ends the job: torchrun, or :func:`launch`, stops the others, and a
rank that hangs makes the collectives of the others time out (``--dist-timeout``) with a
message.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from ..errors import UserError

__all__ = ["SINGLE", "Dist", "available_slots", "init_distributed", "launch", "shard"]

ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclass
class Dist:
    """This process's place in the job: ``rank`` of ``world`` (``world == 1``: no group)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    owner: bool = False  # this Dist started the process group (and ends it)

    @property
    def main(self) -> bool:
        """Rank 0: the one that writes the run directory and shows progress."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def broadcast_model(self, model: nn.Module) -> None:
        """Make every rank's weights rank 0's (they are already equal when seeded alike)."""
        if self.active:
            for t in model.state_dict().values():
                dist.broadcast(t, src=0)

    def reduce_gradients(
        self, params: Sequence[nn.Parameter], loss: float, n: int
    ) -> tuple[float, int]:
        """Average the gradients over the ranks, each rank weighted by its units ``n``; return
        ``(loss, n)`` of the whole global batch. One all-reduce."""
        if not self.active:
            return loss, n
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([g.reshape(-1).float() * n for g in grads]
                         + [torch.tensor([loss * n, float(n)], device=self.device)])  # fmt: skip
        dist.all_reduce(flat)
        total = float(flat[-1])
        if total > 0:
            flat /= total
        offset = 0
        for p, g in zip(params, grads, strict=True):
            size = g.numel()
            p.grad = flat[offset : offset + size].view_as(p).to(p.dtype)
            offset += size
        return (float(flat[-2]) if total > 0 else 0.0), round(total)

    def agree(self, elapsed: float, eval_seconds: float, stop: bool) -> tuple[float, float, bool]:
        """Rank 0's clock and last evaluation time, and whether any rank was asked to stop."""
        if not self.active:
            return elapsed, eval_seconds, stop
        mine = [elapsed, eval_seconds] if self.main else [0.0, 0.0]
        t = torch.tensor([*mine, float(stop)], dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return float(t[0]), float(t[1]), bool(t[2] > 0)

    def gather_rows(self, state: dict[str, Any], dim: int) -> dict[str, Any]:
        """The task's state with each tensor concatenated along ``dim`` over the ranks (in rank
        order; parts may differ in size). JSON values are the same on every rank: rank 0's."""
        if not self.active:
            return state
        out = dict(state)
        for key in sorted(k for k, v in state.items() if isinstance(v, Tensor)):
            t = state[key].to(self.device).contiguous()
            sizes = [
                torch.zeros(1, dtype=torch.int64, device=self.device) for _ in range(self.world)
            ]
            dist.all_gather(sizes, torch.tensor([t.shape[dim]], device=self.device))
            top = int(max(int(s) for s in sizes))
            pad = list(t.shape)
            pad[dim] = top - t.shape[dim]
            padded = torch.cat([t, t.new_zeros(pad)], dim=dim)
            parts = [torch.empty_like(padded) for _ in range(self.world)]
            dist.all_gather(parts, padded)
            out[key] = torch.cat(
                [p.narrow(dim, 0, int(s)) for p, s in zip(parts, sizes, strict=True)], dim=dim
            ).cpu()
        return out

    def on_main(self, fn: Callable[[], Any]) -> int:
        """``int(fn())`` run on rank 0 only (it writes the run directory), its value given to
        every rank; a :class:`UserError` there stops every rank."""
        if not self.active:
            return int(fn())
        value, error = 0, None
        if self.main:
            try:
                value = int(fn())
            except UserError as e:
                value, error = -1, e
        t = torch.tensor([value], dtype=torch.int64, device=self.device)
        dist.broadcast(t, src=0)
        if error is not None:
            raise error
        if int(t) == -1:
            raise UserError("rank 0 stopped before training (its message says why)")
        return int(t)

    def close(self) -> None:
        if self.owner and dist.is_initialized():
            dist.destroy_process_group()


SINGLE = Dist()


def shard(value: Any, dim: int, rank: int, world: int) -> Any:
    """Rank ``rank``'s part of ``value``: every tensor inside (dataclasses, tuples, lists, dicts)
    split into ``world`` parts along ``dim``, as :func:`torch.tensor_split` does (the first
    ``size % world`` parts one larger). Tensors with fewer dimensions, and other values, are
    left whole.

    >>> shard(torch.arange(10).view(2, 5), 1, 1, 2).tolist()
    [[3, 4], [8, 9]]
    """
    if world == 1:
        return value
    if isinstance(value, Tensor):
        return value.tensor_split(world, dim)[rank] if value.dim() > dim else value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: shard(getattr(value, f.name), dim, rank, world)
                   for f in dataclasses.fields(value)}  # fmt: skip
        return dataclasses.replace(value, **changes)
    if isinstance(value, tuple):
        parts = (shard(v, dim, rank, world) for v in value)
        return type(value)(*parts) if hasattr(value, "_fields") else tuple(parts)
    if isinstance(value, list):
        return [shard(v, dim, rank, world) for v in value]
    if isinstance(value, dict):
        return {k: shard(v, dim, rank, world) for k, v in value.items()}
    return value


def rows_of(value: Any, dim: int) -> int | None:
    """The size along ``dim`` of the first tensor in ``value`` (``None``: no tensor)."""
    if isinstance(value, Tensor):
        return value.shape[dim] if value.dim() > dim else None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = [getattr(value, f.name) for f in dataclasses.fields(value)]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (tuple, list)):
        for v in value:
            found = rows_of(v, dim)
            if found is not None:
                return found
    return None


def init_distributed(device: torch.device, timeout: float) -> Dist:
    """Join the process group described by the environment (torchrun's or :func:`launch`'s);
    without ``WORLD_SIZE > 1``: one process, no group.

    Raises:
        UserError: the other processes did not join within ``timeout`` seconds.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist(device=device)
    rank = int(os.environ["RANK"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    if device.type == "cuda":
        torch.cuda.set_device(device)
    else:  # the processes on this machine share its cores
        local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world))
        torch.set_num_threads(max(1, available_slots("cpu")[0] // local_world))
    backend = "nccl" if device.type == "cuda" else "gloo"
    where = f"{os.environ.get('MASTER_ADDR', '?')}:{os.environ.get('MASTER_PORT', '?')}"
    if dist.is_initialized():  # joined already (by code that runs several trainings)
        return Dist(rank, world, local, device)
    try:
        dist.init_process_group(
            backend, rank=rank, world_size=world, timeout=timedelta(seconds=timeout)
        )
        # the first collective completes the rendezvous of every rank
        dist.barrier()
    except (RuntimeError, TimeoutError, ValueError) as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(
            f"distributed training: the {world} processes did not all meet at {where} "
            f"within --dist-timeout {timeout:g} s (rank {rank}: {reason})"
        ) from e
    return Dist(rank, world, local, device, owner=True)


def available_slots(device_kind: str) -> tuple[int, str]:
    """How many processes one machine can run: its GPUs (``cuda``) or its CPU cores."""
    if device_kind == "cuda":
        return torch.cuda.device_count(), "CUDA GPUs"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return int(cores or 1), "CPU cores"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker(
    local_rank: int, nproc: int, port: int, errors: Any, fn: Callable[..., Any], args: tuple
) -> None:
    os.environ.update(RANK=str(local_rank), LOCAL_RANK=str(local_rank), WORLD_SIZE=str(nproc),
                      LOCAL_WORLD_SIZE=str(nproc), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))  # fmt: skip
    try:
        fn(*args)
    except UserError as e:
        errors.put((local_rank, str(e)))
        sys.stdout.flush()
        sys.exit(2)


def launch(nproc: int, device_kind: str, fn: Callable[..., Any], args: tuple) -> None:
    """Run ``fn(*args)`` in ``nproc`` new processes on this machine, ranks 0 to ``nproc - 1``
    (``--nproc N``: what ``torchrun --standalone --nproc_per_node N`` does). ``fn`` must be
    importable (a module-level function) and its arguments picklable.

    Raises:
        UserError: ``nproc`` exceeds the machine's cores (GPUs), or a process failed: its own
            message, or how it died (the others are stopped).
    """
    slots, what = available_slots(device_kind)
    if nproc > slots:
        raise UserError(f"--nproc {nproc}: this machine has {slots} {what}")
    import torch.multiprocessing as mp

    ctx = mp.get_context("spawn")
    errors = ctx.SimpleQueue()
    try:
        mp.start_processes(_worker, args=(nproc, _free_port(), errors, fn, args), nprocs=nproc,
                           join=True, start_method="spawn")  # fmt: skip
    except mp.ProcessExitedException as e:
        reported = []
        while not errors.empty():
            reported.append(errors.get())
        if reported:
            rank, message = min(reported)
            raise UserError(message if nproc == 1 else f"rank {rank}: {message}") from None
        how = f"signal {e.signal_name}" if e.signal_name else f"exit code {e.exit_code}"
        raise UserError(
            f"--nproc {nproc}: process {e.error_index} died ({how}); the job was "
            "stopped (the last checkpoint is intact: continue with --resume)"
        ) from None
    except mp.ProcessRaisedException as e:
        last = str(e).strip().splitlines()[-1]
        raise UserError(f"--nproc {nproc}: a process failed: {last}; the job was stopped") from None
