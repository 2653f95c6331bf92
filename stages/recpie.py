"""RecPIE: recommender and explainer trained in alternation, the explainer by RL (paper 002 §2, App. A.1).

    python stages/recpie.py --pairs data/lrrecsys/pairs --filtered data/filtered --profiles data/profiles --llm data/assets/llm/llm.json --encoder data/assets/encoder --out data/recpie --metrics metrics/recpie.json --curves metrics/curves/recpie

Reads ``recpie`` (with ``recpie.explainer`` and ``recpie.rl``), the LR-Recsys sections it shares
(``lrrecsys.model``, ``lrrecsys.train``, ``lrrecsys.pairs.history``, ``lrrecsys.explain`` for
the prompt style, wording, domain and item texts, ``lrrecsys.autoencoder`` for
``recpie.encoder: autoencoder``), ``dataset`` and ``seed``; the filtered interactions' reviews,
where the dataset has them, for Coverage's aspect terms. Writes ``<out>/explanations.parquet``
(the last round's pair_id, split, positive, negative), ``<out>/aspects.json`` (the derived aspect
terms per test pair), ``<out>/predictions.parquet`` (per test pair: pair_id, rating, the
recommender's prediction_round_0 and prediction_last on the 1..5 scale), ``<out>/rounds.csv`` (round, RMSE, MAE, reward, KL, coverage, the recommender's
best epoch and weight change, the clipped share of the RL step: what ``dvc plots show``'s
``recpie_rounds`` draws; inside the cached output, so the stage has a run-cache entry) and the metrics
file (per-round figures; round 0 and the last round). The GRPO steps of every round go to ``<curves>``
(DVCLive: ``plots/metrics/rl/{loss,reward,reward_std,kl,clip_ratio,round}.tsv``, steps numbered on
across rounds). Each round's state lives under
``$EXPLAINREC_CACHE/recpie`` (else ``.cache/explainrec/recpie``), outside DVC's outputs, so a
killed run continues at the round it was in.
"""

from __future__ import annotations

from pathlib import Path

import click

from common import (CURVES, ENCODER, FILTERED, LLM, METRICS, OUT, PAIRS, PROFILES, dataset_format, load_params, number,
                   one_line_errors, params_option, read_section, seed, section)


@click.command()
@params_option
@PAIRS
@FILTERED
@PROFILES
@LLM
@ENCODER
@OUT
@METRICS
@CURVES
@one_line_errors
def main(params_path: str, pairs: Path, filtered: Path, profiles: Path, llm_json: Path, encoder: Path, out: Path,
         metrics: Path, curves: Path) -> None:
    import json
    import time

    from explainrec.core.curves import curves as open_curves

    from explainrec.core.config import check_int
    from explainrec.core.domain_prompts import ExplainConfig, item_texts
    from explainrec.core.domain_prompts import resolve_domain
    from explainrec.core.encoder import load_encoder
    from explainrec.core.io import atomic_dir, read_table, write_json
    from explainrec.core.profile_store import read_profile_table, select_layer
    from explainrec.core.recommender.autoencoder import AutoencoderConfig
    from explainrec.core.recommender.model import ModelConfig
    from explainrec.core.recommender.pair_table import read_pairs
    from explainrec.core.recommender.train import TrainConfig
    from explainrec.llm import open_llm
    from explainrec.llm.cache import default_cache_path
    from explainrec.llm.factory import load_spec, require_local
    from explainrec.recpie.aspects import pair_reviews
    from explainrec.recpie.config import RecPIEConfig
    from explainrec.recpie.loop import RecPIEData, run_recpie, rounds_metrics, write_outputs
    from explainrec.recpie.recommender import TextEmbedder

    t0 = time.perf_counter()
    params = load_params(params_path)
    config = read_section(params, "recpie", RecPIEConfig)
    # the pairs table is lrrecsys_pairs' (its params are checked there); its history length sizes the model
    history = check_int(section(params, "lrrecsys.pairs.history"), "lrrecsys.pairs.history")
    model_config = read_section(params, "lrrecsys.model", ModelConfig, history=history)
    train_config = read_section(params, "lrrecsys.train", TrainConfig)
    explain = read_section(params, "lrrecsys.explain", ExplainConfig)
    autoencoder = read_section(params, "lrrecsys.autoencoder", AutoencoderConfig)
    spec = load_spec(llm_json)
    require_local(spec, "RecPIE trains a soft prompt and LoRA weights inside the model")
    items = read_table(filtered / "items.parquet", "items")
    item_profiles = select_layer(read_profile_table(profiles, "item"), "item_id", explain.profile_layer)
    pair_table = read_pairs(pairs)
    reviews = pair_reviews(pair_table, read_table(filtered / "interactions.parquet", "interactions"))
    data = RecPIEData(pair_table, item_texts(items, item_profiles, explain), resolve_domain(explain.domain, dataset_format(params)),
                      explain.style, explain.prompt, reviews)
    llm = open_llm(spec, desc="recpie aspects")
    backend = llm.backend
    embedder = TextEmbedder(config.encoder, load_encoder(encoder), autoencoder, seed=seed(params))
    encoder_identity = (json.loads((encoder / "encoder.json").read_text()).get("identity", str(encoder))
                        if (encoder / "encoder.json").exists() else str(encoder))
    result = run_recpie(data, backend, embedder, config, model_config, train_config, seed(params), default_cache_path().parent.parent / "recpie", llm=llm,
                        encoder_identity=f"{config.encoder}:{encoder_identity}")
    m = rounds_metrics(result, config)
    m.update({"machine": backend.machine, "llm": llm.stats.as_metrics(), "seconds": round(time.perf_counter() - t0, 2)})
    with atomic_dir(out) as tmp, open_curves(curves) as live:
        write_outputs(result, m, tmp, live)
    write_json(metrics, m)
    first, last = m["round_0"], m["last"]
    click.echo(f"recpie: {len(m['rounds'])} rounds, RMSE {number(first['rmse'], 4)} -> {number(last['rmse'], 4)}, "
               f"reward {number(first['reward'], 4)} -> {number(last['reward'], 4)}, KL {number(last['kl'], 4)}, "
               f"coverage {number(last['coverage'], 3)} (0-1 scale); {m['seconds']} s")


if __name__ == "__main__":
    main()
