"""LR-Recsys explanation embeddings: the text autoencoder (paper 003 §3.4.2, App. A.1), or raw LLM /
sentence-encoder embeddings for Ablation 2.

    python stages/lrrecsys_embed.py --name main --explanations data/lrrecsys/explanations/main --llm data/assets/llm/llm.json --encoder data/assets/encoder --out data/lrrecsys/embed/main --metrics metrics/lrrecsys_inputs/embed_main.json

Reads ``lrrecsys.embeddings.<name>`` (explanations, encoder), ``lrrecsys.autoencoder`` and
``seed``; writes ``<out>/embeddings.parquet`` (pair_id, split, positive, negative) and, for
the autoencoder, ``<out>/autoencoder/`` (weights, vocabulary, settings); the metrics file
holds the reconstruction accuracies against chance, the vocabulary and parameter counts.
"""

from __future__ import annotations

from pathlib import Path

import click

from common import ENCODER, LLM, METRICS, OUT, load_params, one_line_errors, params_option, read_section, seed
from lrrecsys_common import EXPLANATIONS


@click.command()
@params_option
@click.option("--name", required=True, help="the lrrecsys.embeddings entry")
@EXPLANATIONS
@LLM
@ENCODER
@OUT
@METRICS
@one_line_errors
def main(params_path: str, name: str, explanations: Path, llm_json: Path, encoder: Path, out: Path,
         metrics: Path) -> None:
    from explainrec.io import atomic_dir, write_json, write_parquet
    from explainrec.llm.factory import load_spec
    from explainrec.lrrecsys.autoencoder import AutoencoderConfig, save_autoencoder
    from explainrec.lrrecsys.embeddings import FILE, EmbedConfig, embed_explanations
    from explainrec.lrrecsys.explain import read_explanations

    params = load_params(params_path)
    config = read_section(params, f"lrrecsys.embeddings.{name}", EmbedConfig)
    ae = read_section(params, "lrrecsys.autoencoder", AutoencoderConfig)
    table = read_explanations(explanations)
    spec = load_spec(llm_json) if config.encoder == "llm" else None
    local = spec.model if spec is not None and spec.backend == "transformers" else None
    result = embed_explanations(table, config, seed(params), autoencoder=ae, llm_model=local, encoder_folder=encoder)
    with atomic_dir(out) as tmp:
        write_parquet(result.table, tmp / FILE)
        if result.fit is not None:
            save_autoencoder(result.fit, tmp / "autoencoder")
    write_json(metrics, result.metrics)
    m = result.metrics
    line = f"lrrecsys_embed@{name}: {m['pairs']} pairs, {config.encoder} ({m['dim']} dims)"
    if config.encoder == "autoencoder":
        line += (f"; token accuracy train {m['train_token_accuracy']} / test {m['test_token_accuracy']} "
                 f"(chance {m['chance_token_accuracy']}), vocabulary {m['vocabulary']}, "
                 f"{m['mlp_parameters']} MLP parameters")
    click.echo(line)


if __name__ == "__main__":
    main()
