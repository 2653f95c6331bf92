"""What the kill-and-resume tests (``tests/*/test_resume.py``) and the jobs they kill
(``tests/*/resume_job.py``) share.

In one process :func:`interrupt_after` (any torch optimiser) and :func:`stop_callback` (a
transformers ``Trainer``) raise :class:`Interrupted` where a kill would stop a training. Across
processes :func:`run_and_kill` starts a job, waits until it has saved enough and ends it with a real
``SIGKILL``; :func:`saved_number` and :func:`trainer_step` read how far a job got. The jobs read
their command line with :func:`job_args` and slow themselves down with :class:`SlowCheckpoint` or
:func:`sleep_callback`, so that the test can kill them half-way.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from explainrec.core.checkpoints import Checkpoint, last_trainer_checkpoint

REPO = Path(__file__).resolve().parents[1]
#: how much of a killed job's log a failure message shows
LOG_TAIL_CHARS = 2000


class Interrupted(Exception):
    """Stands in for a kill: raised before an optimiser step, or at the end of a trainer's step."""


@contextlib.contextmanager
def interrupt_after(steps: int) -> Iterator[None]:
    """Any optimiser raises :class:`Interrupted` instead of taking its ``steps + 1``-th step."""
    from torch.optim.optimizer import register_optimizer_step_pre_hook

    count = 0

    def hook(optimizer, args, kwargs):
        nonlocal count
        if count >= steps:
            raise Interrupted
        count += 1

    handle = register_optimizer_step_pre_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def stop_callback(step: int | None) -> Any:
    """A transformers ``TrainerCallback`` that raises :class:`Interrupted` at the end of optimiser step
    ``step`` (None: at the end of training, after its last checkpoint), as a kill would stop the trainer."""
    from transformers import TrainerCallback

    class Stop(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == step:
                raise Interrupted(step)

        def on_train_end(self, args, state, control, **kwargs):
            if step is None:
                raise Interrupted("end")

    return Stop()


def sleep_callback(sleep_s: float) -> Any:
    """A transformers ``TrainerCallback`` that sleeps after each optimiser step (a stand-in for a slow model)."""
    from transformers import TrainerCallback

    class Sleep(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            time.sleep(sleep_s)

    return Sleep()


class SlowCheckpoint(Checkpoint):
    """Sleeps after each save (a stand-in for a slow training)."""

    def __init__(self, name: str, key: str, root: str | Path, sleep_s: float) -> None:
        super().__init__(name, key, root)
        self.sleep_s = sleep_s

    def save(self, state: dict[str, Any]) -> None:
        super().save(state)
        time.sleep(self.sleep_s)


def job_args(*positional: str) -> argparse.Namespace:
    """A resume job's command line: the ``positional`` arguments, then ``--sleep S`` (seconds to sleep
    after each step or save, 0 by default)."""
    ap = argparse.ArgumentParser()
    for name in positional:
        ap.add_argument(name)
    ap.add_argument("--sleep", type=float, default=0.0)
    return ap.parse_args()


def saved_number(path: Path, field: str) -> int:
    """``field`` (``"epoch"``, ``"step"``) of the state that :meth:`Checkpoint.save` wrote at ``path``;
    0 while there is none, or while it is being written."""
    import torch

    try:
        return int(torch.load(path, weights_only=False)[field])
    except (FileNotFoundError, EOFError, RuntimeError):
        return 0


def trainer_step(folder: Path) -> int:
    """The step of the newest complete ``checkpoint-<step>`` that a ``Trainer`` wrote in ``folder``; 0 if none."""
    last = last_trainer_checkpoint(folder)
    return 0 if last is None else int(last.name.split("-")[1])


def log_tail(path: Path) -> str:
    """The last :data:`LOG_TAIL_CHARS` characters of a job's log, for a failure message."""
    try:
        return Path(path).read_text(errors="replace")[-LOG_TAIL_CHARS:]
    except FileNotFoundError:
        return "(no log)"


def run_and_kill(argv: Sequence[str], ready: Callable[[], bool], log_path: Path, *, cwd: Path | None = REPO,
                 env: Mapping[str, str] | None = None, timeout: float = 120.0, poll: float = 0.01,
                 what: str = "sign of progress") -> None:
    """Start ``argv`` (stdout and stderr into ``log_path``), call ``ready()`` every ``poll`` seconds until
    it is true, then kill the job with ``SIGKILL`` and wait for it. Fails, with the log's tail, when the
    job ends before that, when ``ready()`` is still false after ``timeout`` seconds (``what`` says what
    it waits for: "no {what} within {timeout} s"), or when the job did not die of the ``SIGKILL``.
    ``env`` None: the job inherits this process's environment."""
    log_path = Path(log_path)
    with log_path.open("w") as log:
        proc = subprocess.Popen(list(argv), cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                env=None if env is None else dict(env))
        deadline = time.monotonic() + timeout
        try:
            while not ready():
                assert proc.poll() is None, \
                    f"the job ended (exit code {proc.returncode}) before it was killed; its log:\n{log_tail(log_path)}"
                assert time.monotonic() < deadline, f"no {what} within {timeout:g} s; the job's log:\n{log_tail(log_path)}"
                time.sleep(poll)
            proc.send_signal(signal.SIGKILL)
        finally:
            if proc.poll() is None:  # a failed assertion above: leave no job running
                proc.kill()
            proc.wait(30)
    assert proc.returncode == -signal.SIGKILL, \
        f"the job ended with {proc.returncode}, not killed by SIGKILL; its log:\n{log_tail(log_path)}"
