"""Supervised fine-tuning of the explanation generator on the Fig. 4 prompt (paper 000 §3.3).

    python stages/sft.py --profiles data/profiles --cpeg data/cpeg --splits data/splits --base data/assets/sft_base/model --out data/sft --metrics metrics/sft.json

Reads the ``sft`` section and ``seed`` from params.yaml (``sft.base_model`` belongs
to the assets stage and is ignored here); writes ``<out>/model/`` (a plain
transformers folder, LoRA merged), ``<out>/loss.csv`` (step, epoch, train_loss,
eval_loss) and the metrics (train/eval loss, examples, trainable parameters,
method, seconds).
"""

from __future__ import annotations

from pathlib import Path

import click

from common import load_params, one_line_errors, section

#: keys of the sft section that other stages read
FOREIGN_KEYS = ("base_model",)


@click.command()
@click.option("--params", "params_path", default="params.yaml", show_default=True)
@click.option("--profiles", type=click.Path(path_type=Path), default=Path("data/profiles"), show_default=True)
@click.option("--cpeg", type=click.Path(path_type=Path), default=Path("data/cpeg"), show_default=True)
@click.option("--splits", type=click.Path(path_type=Path), default=Path("data/splits"), show_default=True)
@click.option("--base", type=click.Path(path_type=Path), default=Path("data/assets/sft_base/model"), show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=Path("data/sft"), show_default=True)
@click.option("--metrics", type=click.Path(path_type=Path), default=Path("metrics/sft.json"), show_default=True)
@one_line_errors
def main(params_path: str, profiles: Path, cpeg: Path, splits: Path, base: Path, out: Path, metrics: Path) -> None:
    from explainrec.io import atomic_dir, write_json
    from explainrec.sft.train import SFTParams, run_sft

    params = load_params(params_path)
    cfg = SFTParams.from_dict({k: v for k, v in (section(params, "sft") or {}).items() if k not in FOREIGN_KEYS})
    with atomic_dir(out) as tmp:
        result = run_sft(profiles, cpeg, splits, base, tmp, cfg, int(section(params, "seed")))
    write_json(metrics, result)
    click.echo(f"sft ({cfg.method}): {result['examples']} examples, {result['steps']} steps, "
               f"train loss {_num(result['train_loss_first'])} -> {_num(result['train_loss'])}, "
               f"eval loss {_num(result['eval_loss_before'])} -> {_num(result['eval_loss'])}, {result['seconds']} s")


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


if __name__ == "__main__":
    main()
