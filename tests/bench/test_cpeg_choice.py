"""bench/cpeg_choice.py on the tiny model: both choice modes on the same pairs, figures printed and
written, and a clear message when the pipeline's outputs are missing."""

from __future__ import annotations

import json

import pandas as pd
import yaml
from click.testing import CliRunner

from explainrec.llm import LLMSpec
from tests.bench import load_script
from tests.cpeg import make_world, write_world


def test_both_modes_on_the_same_pairs(tiny_model_dir, tmp_path):
    bench = load_script("cpeg_choice")
    world = make_world(n_users=4)
    write_world(world, tmp_path)
    seen = world.interactions.groupby("user_id")["item_id"].apply(set).to_dict()
    train = world.splits["train"].groupby("user_id").head(1)
    rows = []
    for u, i in zip(train.user_id, train.item_id):
        free = [x for x in sorted(world.item_profiles) if x not in seen[u]]
        rows.append({"split": "train", "user_id": u, "item_id": i, "hard": free[:2], "random": free[4:6]})
    (tmp_path / "data/negatives").mkdir()
    pd.DataFrame(rows).to_parquet(tmp_path / "data/negatives/negatives.parquet", index=False)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"seed": 1, "cpeg": {"max_retries": 1, "max_new_tokens": 6}}))
    spec = LLMSpec(name="tiny", backend="transformers", model=str(tiny_model_dir), dtype="float32", threads=1)
    (tmp_path / "llm.json").write_text(json.dumps(spec.to_dict()))

    out = CliRunner().invoke(bench.main, ["--root", str(tmp_path), "--llm", str(tmp_path / "llm.json"),
                                          "--pairs", "3", "--json", str(tmp_path / "r.json")])
    assert out.exit_code == 0, out.output
    assert "3 pairs, up to 2 tries each" in out.output and "seconds likelihood / generate:" in out.output
    res = {r["mode"]: r for r in json.loads((tmp_path / "r.json").read_text())}
    assert set(res) == {"generate", "likelihood"}
    assert res["likelihood"]["readable_share"] == 1.0 and res["likelihood"]["pairs"] == res["generate"]["pairs"] == 3
    for r in res.values():
        assert r["seconds"] > 0 and r["first_try"]["chance"] == 0.2 and r["machine"]["dtype"] == "float32"

    missing = CliRunner().invoke(bench.main, ["--root", str(tmp_path / "nowhere"), "--llm", str(tmp_path / "llm.json")])
    assert missing.exit_code != 0 and "no params.yaml in" in str(missing.exception)
    (tmp_path / "data/negatives/negatives.parquet").unlink()
    gone = CliRunner().invoke(bench.main, ["--root", str(tmp_path), "--llm", str(tmp_path / "llm.json")])
    assert gone.exit_code != 0 and "run `dvc repro negatives` first" in str(gone.exception)
