"""Fine-tuning and generating on a CUDA GPU (marked ``gpu``: skipped with the reason where there is none)."""

from __future__ import annotations

import pytest

from explainrec.core.config import from_section
from explainrec.sft.generate import explain_with_model, open_model_llm
from explainrec.sft.params import SFTGenerateConfig, SFTTrainConfig
from explainrec.sft.train import train_sft
from tests.sft.test_train import FAST, pairs  # noqa: F401  (the module fixture)

pytestmark = pytest.mark.gpu


def test_a_lora_step_on_the_gpu_learns_and_the_merged_model_generates_there(tiny_model_dir, pairs, tmp_path):
    params = from_section(SFTTrainConfig, {**FAST, "method": "lora", "lora_r": 8, "learning_rate": 3e-2}, "sft")
    m = train_sft(pairs[0], pairs[1], tiny_model_dir, tmp_path, params, seed=0, progress=False)
    assert m["machine"]["device"].startswith("cuda")
    assert m["train_loss"] < m["train_loss_first"] and m["eval_loss"] < m["eval_loss_before"]
    llm = open_model_llm(tmp_path / "model", SFTGenerateConfig(max_new_tokens=6, batch_size=4, device="cuda"), None,
                         progress=False, use_cache=False)
    assert llm.stats.machine["device"].startswith("cuda") and llm.stats.machine["dtype"] == "float32"
    table = explain_with_model(llm, pairs[1], max_new_tokens=6)
    assert len(table) == len(pairs[1]) and table["explanation"].str.len().gt(0).all()
