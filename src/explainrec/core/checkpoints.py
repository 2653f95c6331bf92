"""Training checkpoints that survive a kill, kept outside DVC outputs (like the LLM response cache).

A training loop asks for ``Checkpoint(name, key)``: ``name`` says which training it is
(``sft``, ``xrec_moe/full``, ``lrrecsys_autoencoder``...) and ``key`` is a fingerprint of
everything its result depends on (config, seed, a digest of the data), so a changed input
never resumes from a stale state. The folder is
``$EXPLAINREC_CACHE/checkpoints/<name>/<key>/`` (else ``./.cache/explainrec/checkpoints/...``),
ignored by git and DVC. A loop saves its full state (weights, optimiser, every random
generator, the step it reached) with :meth:`Checkpoint.save`, which replaces the file
atomically, so a ``kill -9`` leaves the previous checkpoint intact; a rerun calls
:meth:`Checkpoint.load` and continues from there. Once the stage's outputs are written the
loop calls :meth:`Checkpoint.clear`.

Loops built on transformers' ``Trainer`` (SFT, GRPO) use :attr:`Checkpoint.folder` as the
trainer's ``output_dir`` and its own ``checkpoint-N`` folders instead of :meth:`save`.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

STATE_FILE = "state.pt"


def checkpoint_root() -> Path:
    """``$EXPLAINREC_CACHE/checkpoints``, else ``./.cache/explainrec/checkpoints``."""
    root = os.environ.get("EXPLAINREC_CACHE")
    base = Path(root) if root else Path.cwd() / ".cache" / "explainrec"
    return base / "checkpoints"


def fingerprint(*parts: Any) -> str:
    """A short sha256 of ``parts`` as canonical JSON (dataclasses and paths through ``str``)."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=_plain)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def array_digest(*arrays: Any) -> str:
    """sha256 of numpy arrays or torch tensors in order: each one's dtype, shape and bytes (None
    counts as itself). Checkpoint keys use it for data and weights."""
    h = hashlib.sha256()
    for t in arrays:
        if t is None:
            h.update(b"none;")
            continue
        a = np.ascontiguousarray(t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t))
        h.update(f"{a.dtype}{a.shape};".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def state_digest(state: Any) -> str | None:
    """sha256 of a state dict (its names and tensors, in name order); None for None."""
    if state is None:
        return None
    names = sorted(state)
    return fingerprint(names, array_digest(*(state[k] for k in names)))


def _plain(obj: Any) -> Any:
    import dataclasses

    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, np.ndarray):
        return hashlib.sha256(np.ascontiguousarray(obj).tobytes()).hexdigest() + str(obj.shape) + str(obj.dtype)
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=str)
    return str(obj)


def rng_state() -> dict[str, Any]:
    """The global generators: Python's ``random``, numpy's legacy one and torch's CPU (and CUDA) ones."""
    import torch

    state: dict[str, Any] = {"python": random.getstate(), "numpy": np.random.get_state(),
                             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class Checkpoint:
    """One training's resumable state: ``<root>/<name>/<key>/state.pt``."""

    def __init__(self, name: str, key: str, root: str | Path | None = None) -> None:
        self.name = name
        self.key = key
        self.folder = Path(root or checkpoint_root()) / name / key

    @property
    def path(self) -> Path:
        return self.folder / STATE_FILE

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> dict[str, Any] | None:
        """The saved state, or None when there is none (or it cannot be read: it is set aside)."""
        import torch

        if not self.path.exists():
            return None
        try:
            return torch.load(self.path, map_location="cpu", weights_only=False)
        except Exception as exc:  # noqa: BLE001 - a damaged checkpoint means "start again", said once
            warnings.warn(f"{self.path}: unreadable checkpoint ({type(exc).__name__}); training starts again",
                          stacklevel=2)
            self.clear()
            return None

    def save(self, state: dict[str, Any]) -> None:
        """Write ``state`` atomically: a kill during the write leaves the previous checkpoint.

        No ``fsync``: a killed process's writes are in the page cache and survive it, and the
        rename is atomic; only a power cut could leave an unreadable file, which :meth:`load`
        sets aside (training starts again). Skipping it makes a save of the LR-Recsys fits'
        60 KB state several times cheaper than the epoch it follows."""
        import torch

        self.folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".state.tmp-", dir=self.folder)
        try:
            with os.fdopen(fd, "wb") as f:
                torch.save(state, f)
            os.replace(name, self.path)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise

    def clear(self) -> None:
        """Remove this training's checkpoints (and its name folder when nothing else is left in it)."""
        shutil.rmtree(self.folder, ignore_errors=True)
        try:
            self.folder.parent.rmdir()
        except OSError:
            pass

    def discard(self, exc: BaseException, clear: bool = True) -> None:
        """Say once that the saved state cannot be used (``exc``, say weights of a model the code now
        builds otherwise) and remove it (unless ``clear`` is false: another process does): training
        starts again."""
        warnings.warn(f"{self.path}: a checkpoint this training cannot use ({type(exc).__name__}: {exc}); "
                      "it starts again", stacklevel=3)
        if clear:
            self.clear()

    def __repr__(self) -> str:
        return f"Checkpoint({self.folder})"


#: what :func:`restore_fit` may raise on a saved state this code cannot use
UNUSABLE = (KeyError, TypeError, ValueError, RuntimeError)


def restore_fit(saved: dict[str, Any], model: Any, optimizer: Any, shuffle: Any) -> None:
    """Put a fit back where :meth:`Checkpoint.save` left it: the weights (``saved["model"]``), the
    optimiser, the batch-order ``torch.Generator`` (``"shuffle"``) and the global RNGs (``"rng"``).
    Raises one of :data:`UNUSABLE` when the state does not fit ``model``."""
    model.load_state_dict(saved["model"])
    optimizer.load_state_dict(saved["optimizer"])
    shuffle.set_state(saved["shuffle"])
    set_rng_state(saved["rng"])


TRAINER_STATE_FILE = "trainer_state.json"


def last_trainer_checkpoint(folder: str | Path, processes: int = 1, prune: bool = False) -> Path | None:
    """The newest complete ``checkpoint-<step>`` folder that transformers' ``Trainer`` wrote in ``folder``, or None.

    Trainer (5.x, ``_save_checkpoint``) writes a checkpoint in place, no temporary folder and no
    rename, its ``trainer_state.json`` last and with a plain ``write``: a kill during a save leaves a
    folder without that file, or with a truncated one. Complete means a ``trainer_state.json`` that
    parses and names the folder's step (and, with ``processes`` > 1, a readable ``rng_state_<i>.pth``
    of every process, which each process writes itself). With ``prune`` (the main process only) the
    incomplete folders are removed, so that none is ever taken for a newer checkpoint.
    """
    import re

    folder = Path(folder)
    if not folder.is_dir():
        return None
    found: list[tuple[int, Path]] = []
    for path in folder.iterdir():
        m = re.fullmatch(r"checkpoint-(\d+)", path.name)
        if m and path.is_dir():
            found.append((int(m.group(1)), path))
    best: Path | None = None
    for step, path in sorted(found, reverse=True):
        if best is None and _complete_trainer_checkpoint(path, step, processes):
            best = path
        elif best is None and prune:
            shutil.rmtree(path, ignore_errors=True)
    return best


def _complete_trainer_checkpoint(path: Path, step: int, processes: int) -> bool:
    try:
        state = json.loads((path / TRAINER_STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(state, dict) or state.get("global_step") != step:
        return False
    if processes > 1:  # torch.save writes a zip archive, its central directory last: a cut file is no zip
        import zipfile

        return all(zipfile.is_zipfile(path / f"rng_state_{i}.pth") for i in range(processes))
    return True
