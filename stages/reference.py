"""The dataset's own reference explanations as SFT targets (``sft.targets: reference``).

    python stages/reference.py --splits data/splits --out data/reference --metrics metrics/reference.json

Reads no params. Writes ``<out>/explanations.parquet`` (split, user_id, item_id,
explanation, verified: the columns of the cpeg stage's table) from the
``explanation`` column of the train and test splits, and the counts. A dataset
without reference explanations (MovieLens) gives an empty table; the sft stage
says so if ``sft.targets`` asks for it. The sft, generate and ablation stages
read ``data/${sft.targets}``, so with references no CPEG runs for them.
"""

from __future__ import annotations

from pathlib import Path

import click

from common import METRICS, OUT, SPLITS, one_line_errors


@click.command()
@SPLITS
@OUT
@METRICS
@one_line_errors
def main(splits: Path, out: Path, metrics: Path) -> None:
    from explainrec.core.explanation_pairs import TARGETS_FILE
    from explainrec.core.io import atomic_dir, write_json, write_parquet
    from explainrec.data.references import reference_table

    table, stats = reference_table(splits)
    with atomic_dir(out) as tmp:
        write_parquet(table, tmp / TARGETS_FILE)
    write_json(metrics, stats)
    click.echo("reference: " + ", ".join(f"{s} {v['with_reference']} of {v['pairs']} pairs" for s, v in stats.items()))


if __name__ == "__main__":
    main()
