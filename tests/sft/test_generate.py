"""Generating explanations for the test pairs through the LLM layer."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from explainrec.core.config import from_section
from explainrec.core.errors import InputError, ParamError
from explainrec.core.explanation_prompt import build_prompt, chat_request, has_two_openings
from explainrec.sft.generate import explain_with_model, open_model_llm, run_generate
from explainrec.sft.params import SFTGenerateConfig
from tests.sft import pair_rows, write_cpeg, write_items, write_profiles, write_splits


@pytest.fixture
def folders(tmp_path: Path) -> dict[str, Path]:
    train, test = pair_rows("train", 4), pair_rows("test", 5, start=4)
    test[4]["verified"] = False  # not a reference: left out like in training
    return {"profiles": write_profiles(tmp_path / "profiles"), "cpeg": write_cpeg(tmp_path / "cpeg", train + test),
            "splits": write_splits(tmp_path / "splits", train, test)}


PARAMS = SFTGenerateConfig(max_new_tokens=6, batch_size=4, threads=1)


def test_one_row_per_test_pair_and_cached_rerun(tiny_model_dir, folders, tmp_path):
    cache = tmp_path / "cache" / "responses.sqlite"
    args = (tiny_model_dir, folders["profiles"], folders["cpeg"])
    m1 = run_generate(*args, tmp_path / "out1", PARAMS, "cpeg", cache_path=cache, progress=False)
    table = pd.read_parquet(tmp_path / "out1" / "explanations.parquet")
    assert list(table.columns) == ["user_id", "item_id", "explanation", "reference"]
    assert len(table) == 4 == m1["pairs"]
    assert table.reference.iloc[0] == "they love comedy films."  # pair (u0, i4), as CPEG wrote it
    assert m1["llm"]["llm_calls"] == 4 and m1["llm"]["cache_hits"] == 0

    m2 = run_generate(*args, tmp_path / "out2", PARAMS, "cpeg", cache_path=cache, progress=False)
    assert m2["llm"]["llm_calls"] == 0 and m2["llm"]["cache_hits"] == 4
    assert pd.read_parquet(tmp_path / "out2" / "explanations.parquet").equals(table)
    assert m1["two_openings"] == int(table.explanation.map(has_two_openings).sum())

    # with the items table the prompts name the items: new prompts, so nothing comes from the cache
    items = write_items(tmp_path / "items.parquet")
    m3 = run_generate(*args, tmp_path / "out3", PARAMS, "cpeg", cache_path=cache, progress=False, items=items)
    assert m3["llm"]["llm_calls"] == 4 and m3["data"]["item_names"] is True


def test_prompt_is_the_training_prompt(tiny_model_dir, tmp_path):
    llm = open_model_llm(tiny_model_dir, PARAMS, tmp_path / "c.sqlite", progress=False)
    prompt = build_prompt("likes jazz", "a jazz film", "Round Midnight")
    pairs = pd.DataFrame({"user_id": ["u"], "item_id": ["i"], "user_profile": ["likes jazz"],
                          "item_profile": ["a jazz film"], "prompt": [prompt], "reference": ["r"]})
    table = explain_with_model(llm, pairs, max_new_tokens=3)
    assert len(table) == 1 and llm.stats.llm_calls == 1
    rendered = llm.backend.render(chat_request(prompt))
    assert rendered == f"user: {prompt} [SEP] assistant:"  # tiny chat template
    assert llm.identity.startswith("local:")  # keyed by the folder's content


def test_no_test_pairs_and_bad_params(tiny_model_dir, folders, tmp_path):
    write_cpeg(folders["cpeg"], pair_rows("train", 4))
    with pytest.raises(InputError, match="test pair"):
        run_generate(tiny_model_dir, folders["profiles"], folders["cpeg"],
                     tmp_path / "o", PARAMS, "cpeg", cache_path=tmp_path / "c.sqlite", progress=False)
    with pytest.raises(ParamError, match="generate.max_new_token"):
        from_section(SFTGenerateConfig, {"max_new_token": 5}, "generate")
    with pytest.raises(ParamError, match="generate.batch_size"):
        from_section(SFTGenerateConfig, {"batch_size": 0}, "generate")
    with pytest.raises(InputError, match="config.json"):
        open_model_llm(tmp_path, PARAMS)


def test_the_fine_tuned_model_generates_in_float32_by_default(tiny_model_dir, monkeypatch):
    """One numeric mode: even where the CPU has AMX (``dtype: auto`` would pick bfloat16 there) the
    generate stage runs float32 unless params.yaml says otherwise."""
    import explainrec.llm.local as local

    monkeypatch.setattr(local, "cpu_has_amx_bf16", lambda: True)
    assert SFTGenerateConfig().dtype == "float32"
    llm = open_model_llm(tiny_model_dir, PARAMS, None, progress=False, use_cache=False)
    assert llm.stats.machine["dtype"] == "float32" and llm.stats.machine["device"] == "cpu"
    auto = open_model_llm(tiny_model_dir, SFTGenerateConfig(max_new_tokens=6, batch_size=4, threads=1, dtype="auto",
                                                         device="cpu"), None, progress=False, use_cache=False)
    assert auto.stats.machine["dtype"] == "bfloat16"
    with pytest.raises(ParamError, match="generate.device': expected auto, cpu, mps, cuda or cuda:N, got 'gpu'"):
        from_section(SFTGenerateConfig, {"device": "gpu"}, "generate")
    with pytest.raises(ParamError, match="generate.dtype"):
        from_section(SFTGenerateConfig, {"dtype": "float64"}, "generate")
