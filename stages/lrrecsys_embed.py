"""LR-Recsys explanation embeddings: the text autoencoder (paper 003 §3.4.2, App. A.1), or raw LLM /
sentence-encoder embeddings for Ablation 2.

    python stages/lrrecsys_embed.py --name main --explanations data/lrrecsys/explanations/main --llm data/assets/llm/llm.json --encoder data/assets/encoder --out data/lrrecsys/embed/main --metrics metrics/lrrecsys_inputs/embed_main.json

Reads ``lrrecsys.embeddings.<name>`` (explanations, encoder) and ``lrrecsys.autoencoder``. For
the llm and sentence encoders it writes ``<out>/embeddings.parquet`` (pair_id, split,
positive, negative: float32 vectors). For the autoencoder it fits nothing: each
lrrecsys_train run fits it per model seed on its own train pairs' explanations, so this
stage writes the explanations (``<out>/texts.parquet``) and the settings
(``<out>/autoencoder.json``); the runs' metrics hold the fits' reconstruction accuracies.
"""

from __future__ import annotations

from pathlib import Path

import click

from common import ENCODER, EXPLANATIONS, LLM, METRICS, OUT, load_params, one_line_errors, params_option, read_section


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
    from explainrec.core.io import atomic_dir, write_json
    from explainrec.core.recommender.autoencoder import AutoencoderConfig
    from explainrec.llm.factory import load_spec
    from explainrec.lrrecsys.embeddings import EmbedConfig, embed_explanations, save_embedded
    from explainrec.lrrecsys.explain import read_explanations

    params = load_params(params_path)
    config = read_section(params, f"lrrecsys.embeddings.{name}", EmbedConfig)
    ae = read_section(params, "lrrecsys.autoencoder", AutoencoderConfig)
    table = read_explanations(explanations)
    spec = load_spec(llm_json) if config.encoder == "llm" else None
    local = spec.model if spec is not None and spec.backend == "transformers" else None
    result = embed_explanations(table, config, autoencoder=ae, llm_model=local, encoder_folder=encoder)
    with atomic_dir(out) as tmp:
        save_embedded(result, tmp)
    write_json(metrics, result.metrics)
    m = result.metrics
    line = f"lrrecsys_embed@{name}: {m['pairs']} pairs, {config.encoder} ({m['dim']} dims)"
    if config.encoder == "autoencoder":
        line += (f"; texts and settings only: each lrrecsys_train run fits the autoencoder per seed on its "
                 f"train pairs ({m['train_pairs']} here, vocabulary {m['train_vocabulary']})")
    click.echo(line)


if __name__ == "__main__":
    main()
