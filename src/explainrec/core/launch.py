"""Training stages over several processes with ``accelerate launch`` (the ``launch`` section of params.yaml).

``launcher: python`` (the default) runs a stage as DVC starts it: one process, every core through
torch's threads. ``launcher: accelerate`` with ``processes: N`` makes the stage start itself again
under ``accelerate launch --num_processes N`` (torchrun underneath when N > 1): N processes with
data parallelism, NCCL between GPUs, gloo on CPU. The global batch stays what the params say; each
process takes its share of every batch and the gradients are combined, so the loss curve keeps its
shape. Process 0 writes the outputs, the others only train (:func:`outputs`). SFT gets this from
transformers' Trainer; XRec's own loop from :func:`shard` and :func:`sum_gradients`.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from explainrec.core.config import check_choice, check_int
from explainrec.core.errors import ParamError

T = TypeVar("T")
LAUNCHERS = ("python", "accelerate")


@dataclass(frozen=True)
class LaunchConfig:
    """``launch``: how the training stages (sft, xrec_moe) start."""

    launcher: str = "python"
    processes: int = 1

    def __post_init__(self) -> None:
        check_choice(self.launcher, "launcher", LAUNCHERS)
        check_int(self.processes, "processes")
        if self.launcher == "python" and self.processes != 1:
            raise ParamError("launch.processes", "1 with launcher python (launcher accelerate starts several)",
                             self.processes)


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def is_main() -> bool:
    return rank() == 0


def launched() -> bool:
    """Whether this process was started by a launcher (torchrun / accelerate launch set ``LOCAL_RANK``)."""
    return "LOCAL_RANK" in os.environ or "ACCELERATE_LAUNCHED" in os.environ


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def accelerate_command(processes: int, script: str, args: Sequence[str]) -> list[str]:
    """``accelerate launch`` of ``script args`` over ``processes`` local processes (a free port for their
    rendezvous, so that experiments running side by side do not collide on the default 29500)."""
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_machines", "1", "--num_processes",
           str(processes), "--mixed_precision", "no", "--dynamo_backend", "no"]
    if processes > 1:
        cmd += ["--multi_gpu", "--main_process_port", str(_free_port())]  # torchrun: on CPU too (gloo)
    return [*cmd, script, *args]


def relaunch(config: LaunchConfig, argv: Sequence[str] | None = None) -> None:
    """With ``launcher: accelerate``, replace this process by ``accelerate launch`` of the same command line
    (``argv``, default ``sys.argv``); return at once when ``launcher: python`` or already launched."""
    if config.launcher == "python" or launched():
        return
    argv = list(sys.argv if argv is None else argv)
    cmd = accelerate_command(config.processes, argv[0], argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    env = {**os.environ, "ACCELERATE_LAUNCHED": "1"}
    os.execve(cmd[0], cmd, env)


@contextlib.contextmanager
def outputs(out: str | Path) -> Iterator[Path]:
    """Process 0: the stage's ``atomic_dir(out)``; any other process: a temporary folder dropped at the end,
    so that only one process writes the outputs."""
    from explainrec.core.io import atomic_dir

    if is_main():
        with atomic_dir(out) as tmp:
            yield tmp
    else:
        with tempfile.TemporaryDirectory(prefix=f"rank{rank()}-") as tmp:
            yield Path(tmp)


def init_process_group() -> None:
    """Join the launcher's process group (gloo on CPU, NCCL on GPUs); nothing with one process."""
    import torch

    if world_size() > 1 and not torch.distributed.is_initialized():
        from accelerate import PartialState

        PartialState(cpu=not torch.cuda.is_available())


def shard(batch: Sequence[T]) -> list[T]:
    """This process's share of a global batch (every ``world_size``-th item from ``rank``)."""
    return list(batch[rank()::world_size()])


def sum_gradients(parameters: Sequence[Any]) -> None:
    """Sum the gradients of ``parameters`` over the processes (a missing gradient counts as zeros); each
    process weights its loss by its share of the batch first, so the sum is the whole batch's gradient
    (what DDP's averaging gives for equal shares)."""
    import torch

    if world_size() == 1:
        return
    for p in parameters:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        torch.distributed.all_reduce(p.grad)


def all_sum(value: float) -> float:
    """``value`` summed over the processes (itself with one process)."""
    import torch

    if world_size() == 1:
        return value
    # NCCL (the GPU backend) reduces CUDA tensors only; gloo (the CPU one) takes CPU tensors
    nccl = torch.distributed.get_backend() == "nccl"
    device = torch.device("cuda", torch.cuda.current_device()) if nccl else torch.device("cpu")
    t = torch.tensor([float(value)], dtype=torch.float64, device=device)
    torch.distributed.all_reduce(t)
    return float(t.item())
