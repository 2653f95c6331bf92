"""Fine-tuning a tiny random Llama (built from a config, nothing downloads) on a few pairs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from explainrec.core.config import from_section
from explainrec.core.errors import LLMUnavailable, ParamError
from explainrec.core.explanation_pairs import build_pairs, split_targets
from explainrec.core.explanation_prompt import chat_request
from explainrec.llm import LLMSpec
from explainrec.llm.local import TransformersBackend
from explainrec.sft.params import SFTTrainConfig
from explainrec.sft.train import make_trainer, sample_pairs, train_sft
from tests.sft import ITEMS, USERS, pair_rows

FAST = dict(epochs=6, batch_size=4, eval_batch_size=8, logging_steps=2, max_length=256, threads=1, warmup=0.0)


@pytest.fixture(scope="module")
def pairs() -> tuple[pd.DataFrame, pd.DataFrame]:
    by_split = split_targets(pd.DataFrame(pair_rows("train", 8) + pair_rows("test", 4, start=8)))
    return build_pairs(by_split["train"], USERS, ITEMS)[0], build_pairs(by_split["test"], USERS, ITEMS)[0]


@pytest.fixture(scope="module")
def lora_run(tiny_model_dir, pairs, tmp_path_factory) -> tuple[Path, dict]:
    from explainrec.core.curves import curves

    out = tmp_path_factory.mktemp("sft-lora")
    params = from_section(SFTTrainConfig, {**FAST, "method": "lora", "lora_r": 8, "learning_rate": 3e-2}, "sft")
    with curves(out / "curves") as live:
        return out, train_sft(pairs[0], pairs[1], tiny_model_dir, out, params, seed=0, progress=False, live=live)


def test_lora_loss_goes_down(lora_run):
    out, m = lora_run
    assert m["method"] == "lora" and m["examples"] == 8 and m["eval_examples"] == 4
    assert m["train_loss"] < m["train_loss_first"]
    assert m["eval_loss"] < m["eval_loss_before"]
    assert 0 < m["trainable_params"] < m["total_params"] / 5
    assert not (out / "loss.csv").exists()  # the curves are DVCLive's, outside the output folder
    from tests.core.test_curves import tsv

    train_curve, eval_curve = tsv(out / "curves", "loss"), tsv(out / "curves", "eval/loss")
    assert eval_curve["step"].tolist() == [0, 2, 4, 6, 8, 10, 12]  # before training (eval on start) and per epoch
    assert eval_curve["loss"].iloc[0] == pytest.approx(m["eval_loss_before"])
    assert eval_curve["loss"].iloc[-1] == pytest.approx(m["eval_loss"])
    assert train_curve["step"].tolist() == [1, *range(2, m["steps"] + 1, 2)]  # the first step, then every 2nd
    assert train_curve["loss"].iloc[0] == pytest.approx(m["train_loss_first"])
    assert train_curve["loss"].iloc[-1] == pytest.approx(m["train_loss"])


def test_output_reloads_as_a_plain_model_and_generates(lora_run):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = lora_run[0] / "model"
    assert not (folder / "adapter_config.json").exists()  # merged, not an adapter
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    assert not any("lora" in name for name, _ in model.named_parameters())
    ids = tok("user: hello [SEP] assistant:", return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=4, do_sample=False, pad_token_id=tok.pad_token_id)
    assert out.shape[1] > ids["input_ids"].shape[1]


def test_full_fine_tuning_runs_and_learns(tiny_model_dir, pairs, tmp_path):
    params = from_section(SFTTrainConfig, {**FAST, "method": "full", "learning_rate": 1e-2, "eval_on_start": False, "epochs": 4}, "sft")
    m = train_sft(pairs[0], None, tiny_model_dir, tmp_path, params, seed=0, progress=False)
    assert m["method"] == "full" and m["trainable_params"] == m["total_params"]
    assert m["train_loss"] < m["train_loss_first"] and m["eval_loss"] is None
    assert (tmp_path / "model" / "config.json").exists()


def test_loss_on_the_completion_only(tiny_model_dir, pairs, tmp_path):
    trainer = make_trainer(pairs[0], None, tiny_model_dir, from_section(SFTTrainConfig, FAST, "sft"), seed=0, work_dir=tmp_path)
    batch = next(iter(trainer.get_train_dataloader()))
    tok = trainer.processing_class
    # the prompt ids the generate stage feeds the model (LLM layer, same chat template): training must match them
    backend = TransformersBackend(LLMSpec(name="t", backend="transformers", model=str(tiny_model_dir), threads=1))
    by_prompt = {tuple(backend.token_ids(chat_request(p))): t for p, t in zip(pairs[0].prompt, pairs[0].target)}
    for ids, labels, mask in zip(batch["input_ids"], batch["labels"], batch["attention_mask"]):
        ids, labels = ids[mask.bool()].tolist(), labels[mask.bool()].tolist()
        n_prompt = next(i for i, lab in enumerate(labels) if lab != -100)
        assert all(lab == -100 for lab in labels[:n_prompt]) and all(lab != -100 for lab in labels[n_prompt:])
        assert labels[n_prompt:] == ids[n_prompt:]
        target = by_prompt[tuple(ids[:n_prompt])]  # the masked part is exactly the inference prompt
        expected = tok(target, add_special_tokens=False)["input_ids"] + [tok.sep_token_id]  # the answer and its EOS
        assert labels[n_prompt:] == expected


def test_same_seed_same_result_and_fractional_epochs(tiny_model_dir, pairs, tmp_path):
    params = from_section(SFTTrainConfig, {**FAST, "epochs": 1.5, "eval_on_start": False, "learning_rate": 1e-2}, "sft")
    from explainrec.core.curves import curves
    from tests.core.test_curves import tsv

    with curves(tmp_path / "curves") as live:
        a = train_sft(pairs[0], pairs[1], tiny_model_dir, tmp_path / "a", params, seed=3, progress=False, live=live)
    b = train_sft(pairs[0], pairs[1], tiny_model_dir, tmp_path / "b", params, seed=3, progress=False)
    assert a["train_loss"] == b["train_loss"] and a["eval_loss"] == b["eval_loss"]
    assert a["steps"] == 3 and a["eval_loss_before"] is None
    # after epoch 1 (step 2) and at the end of the half epoch (step 3)
    assert tsv(tmp_path / "curves", "eval/loss")["step"].tolist() == [2, 3]


def test_params_validation(tiny_model_dir, pairs, tmp_path):
    with pytest.raises(ParamError, match="sft.method"):
        from_section(SFTTrainConfig, {"method": "qlora"}, "sft")
    with pytest.raises(ParamError, match="sft.epoch"):
        from_section(SFTTrainConfig, {"epoch": 1}, "sft")
    with pytest.raises(ParamError, match="sft.learning_rate"):
        from_section(SFTTrainConfig, {"learning_rate": 5}, "sft")
    assert from_section(SFTTrainConfig, {"method": "full"}, "sft").lr == 1e-5 and from_section(SFTTrainConfig, {}, "sft").lr == 1e-3
    assert from_section(SFTTrainConfig, {"target_modules": "q_proj, v_proj"}, "sft").target_modules == ("q_proj", "v_proj")
    with pytest.raises(ParamError, match=r"sft.target_form': expected one of as_written, fig4, got 'fig5'"):
        from_section(SFTTrainConfig, {"target_form": "fig5"}, "sft")
    with pytest.raises(ParamError, match="sft.item_title"):
        from_section(SFTTrainConfig, {"item_title": "yes"}, "sft")
    assert from_section(SFTTrainConfig, {}, "sft").item_names("items.parquet") == "items.parquet"  # titles by default
    assert from_section(SFTTrainConfig, {"item_title": False}, "sft").item_names("items.parquet") is None
    with pytest.raises(ParamError, match="sft.target_modules"):
        make_trainer(pairs[0], None, tiny_model_dir, from_section(SFTTrainConfig, {**FAST, "target_modules": ["nope_proj"]}, "sft"), 0,
                     tmp_path)
    with pytest.raises(LLMUnavailable, match="no config.json"):
        make_trainer(pairs[0], None, tmp_path, from_section(SFTTrainConfig, FAST, "sft"), 0, tmp_path)


def test_sample_pairs_is_seeded(pairs):
    df = pd.concat([pairs[0]] * 5, ignore_index=True)
    a, b = sample_pairs(df, 7, seed=1), sample_pairs(df, 7, seed=1)
    assert len(a) == 7 and a.equals(b) and not a.equals(sample_pairs(df, 7, seed=2))
    assert len(sample_pairs(df, None, 0)) == len(df) == len(sample_pairs(df, 1000, 0))
