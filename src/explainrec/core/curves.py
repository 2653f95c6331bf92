"""Training curves through DVCLive, written outside the stages' cached outputs.

A training stage opens :func:`curves` on its folder under ``metrics/curves/<stage>/`` and hands the
:class:`dvclive.Live` it yields to the library's training loop (an optional ``live`` argument; None
logs nothing, as in most tests). The loop calls :func:`log_step` once per epoch or step. The folder
holds DVCLive's ``metrics.json`` (the last value of each metric, ``dvc exp show`` / ``dvc metrics show``)
and ``plots/metrics/<name>.tsv`` (``step`` and the value, no timestamp; ``dvc plots show``); dvc.yaml
declares both with ``cache: false``.

Everything in DVCLive that needs git, DVC's repository or the network is off: no experiment saved,
no ``dvc.yaml`` written, no report, no system monitor, no Studio (``DVC_STUDIO_OFFLINE`` while it
starts, and no repository for it to read a token from), and no repository opened at all (DVCLive
3.49 otherwise opens one, or even initialises DVC in a bare git repository). The folder is written
in a temporary sibling and renamed into place when the block ends without an error
(:func:`explainrec.core.io.atomic_dir`), so a killed stage leaves no half folder for DVC to commit.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

#: the metrics summary and the plots folder inside a Live folder (what dvc.yaml declares)
METRICS_FILE, PLOTS_DIR = "metrics.json", "plots"
#: the one curve of a run that logged nothing: its training steps, 0
UNTRAINED = "trained_steps"


def _live_class() -> type:
    from dvclive import Live

    class LocalLive(Live):
        """A ``Live`` that never opens a DVC repository or git, nor signals DVC's VS Code extension."""

        def _init_dvc(self) -> None:
            self._dvc_file = "dvc.yaml"  # unused: dvcyaml is None

        def next_step(self) -> None:
            if self._step is None:
                self._step = 0
            self.sync()
            self.step += 1

        def end(self) -> None:
            if self._inside_with:
                return
            if "step" in self.summary:
                self.step = self.summary["step"]
            self.sync()

    return LocalLive


def open_live(folder: str | Path | None) -> Any:
    """A :class:`dvclive.Live` writing into ``folder`` (emptied of earlier DVCLive files), everything that
    needs git or the network off; None for None."""
    if folder is None:
        return None
    previous = os.environ.get("DVC_STUDIO_OFFLINE")
    os.environ["DVC_STUDIO_OFFLINE"] = "true"
    try:
        return _live_class()(dir=str(folder), resume=False, report=None, save_dvc_exp=False, dvcyaml=None,
                             cache_images=False, monitor_system=False)
    finally:
        if previous is None:
            del os.environ["DVC_STUDIO_OFFLINE"]
        else:
            os.environ["DVC_STUDIO_OFFLINE"] = previous


@contextlib.contextmanager
def curves(folder: str | Path | None) -> Iterator[Any]:
    """Yield a Live writing into a temporary sibling of ``folder`` that replaces ``folder`` when the block
    succeeds (nothing appears after an error or a kill); yield None, writing nothing, for None."""
    if folder is None:
        yield None
        return
    from explainrec.core.io import atomic_dir

    with atomic_dir(folder) as tmp:
        live = open_live(tmp)
        yield live
        if not any((tmp / PLOTS_DIR / "metrics").rglob("*.tsv")):
            # a run that trained nothing (e.g. the ablation without SFT) says so in one point, so the
            # plots folder dvc.yaml declares is not empty (git keeps no empty folder: a fresh clone
            # would see the output deleted and rerun the stage)
            log_step(live, {UNTRAINED: 0}, 0)
        live.make_summary()


def log_step(live: Any, values: Mapping[str, Any], step: int | None = None) -> None:
    """Log ``values`` (name -> number; None values are skipped) at ``step`` (default: the Live's next step)
    and close the step. Nothing for ``live`` None."""
    if live is None:
        return
    if step is not None:
        live.step = int(step)
    for name, value in values.items():
        if value is not None:
            live.log_metric(name, float(value))
    live.next_step()
