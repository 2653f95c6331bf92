"""The LR-Recsys text autoencoder (App. A.1): vocabulary, tied architecture, training, determinism, saving."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from explainrec.core.errors import ExplainrecError, ParamError
from explainrec.core.recommender.autoencoder import (
    AutoencoderConfig,
    AutoencoderFit,
    TextAutoencoder,
    Vocabulary,
    embed,
    load_autoencoder,
    reconstruction_accuracy,
    save_autoencoder,
    train_autoencoder,
)

SUBJECTS = ["the user", "she", "he", "the viewer", "this fan"]
VERBS = ["likes", "enjoys", "loves", "prefers", "avoids", "dislikes"]
OBJECTS = ["quiet jazz", "loud rock", "old westerns", "space operas", "cooking shows", "crime novels",
           "folk songs", "war films"]
WHEN = ["on weekends", "after work", "with friends", "at night", "for relaxing", ""]
SMALL = AutoencoderConfig(max_len=10, epochs=100, batch_size=8)


def corpus(n: int = 32) -> list[str]:
    """``n`` distinct short sentences that mix the word lists above (3 to 7 words each)."""
    return [" ".join(w for w in (SUBJECTS[i % 5], VERBS[i * 7 % 6], OBJECTS[i * 3 % 8], WHEN[i * 5 % 6]) if w)
            for i in range(n)]


@pytest.fixture(scope="module")
def fit() -> AutoencoderFit:
    return train_autoencoder(corpus(), SMALL, seed=0, progress=False)


def test_vocabulary_order_and_ids() -> None:
    vocab = Vocabulary.build(["b a b", "C c c, a!"])
    assert vocab.words == ("c", "a", "b")  # by count, the tie a/b alphabetical, lower-cased, punctuation gone
    assert len(vocab) == 5  # padding, unknown and three words
    assert vocab.encode(["a b c", "b"], max_len=4).tolist() == [[3, 4, 2, 0], [4, 0, 0, 0]]
    assert Vocabulary.build(["b a b", "c"], min_count=2).words == ("b",)
    assert Vocabulary.from_json(vocab.to_json()) == vocab


def test_vocabulary_from_train_only_pads_and_truncates() -> None:
    vocab = Vocabulary.build(["one two three"])
    ids = vocab.encode(["three unseen one", "", "one two three one two three"], max_len=4)
    assert ids.dtype == np.int64 and ids.shape == (3, 4)
    assert ids[0].tolist() == [vocab.encode(["three"], 1)[0, 0], 1, vocab.encode(["one"], 1)[0, 0], 0]
    assert ids[1].tolist() == [0, 0, 0, 0]  # empty text: all padding
    assert ids[2].tolist() == vocab.encode(["one two three one"], 4)[0].tolist()  # the first max_len words


def test_parameter_count_matches_the_paper() -> None:
    model = TextAutoencoder(1000)
    assert model.mlp_parameter_count() == 400 * 64 + 64 * 8 + 8 * 64 + 64 * 400 == 52224
    assert model.parameter_count() == 52224 + 1000 * 8
    assert all(p.dim() == 2 and p.shape[0] != 1000 for name, p in model.named_parameters()
               if not name.startswith("embedding"))  # no bias, no separate vocabulary output layer


def test_logits_are_tied_to_the_embedding_table() -> None:
    torch.manual_seed(0)
    model = TextAutoencoder(30, SMALL)
    ids = torch.randint(0, 29, (4, SMALL.max_len))  # never word 29
    with torch.no_grad():
        code = model.decoder(model.encode(ids)).view(4, SMALL.max_len, SMALL.word_dim)
        torch.testing.assert_close(model(ids), code @ model.embedding.weight.T)
        before = model(ids)
        model.embedding.weight[29] += 1.0  # a word absent from ids: only the output side can see it
        after = model(ids)
    torch.testing.assert_close(after[..., :29], before[..., :29])
    assert (after[..., 29] - before[..., 29]).abs().max() > 1e-3


def test_shapes() -> None:
    model = TextAutoencoder(17)
    ids = torch.zeros(3, 50, dtype=torch.int64)
    assert model(ids).shape == (3, 50, 17)
    assert model.encode(ids).shape == (3, 8)


def test_reconstructs_a_tiny_corpus(fit: AutoencoderFit) -> None:
    texts = corpus()
    assert fit.losses[-1] < fit.losses[0] / 5
    assert fit.token_accuracy > 0.8 and fit.token_accuracy > 3 * fit.chance_accuracy
    words = [w for t in texts for w in t.lower().split()[:SMALL.max_len]]  # the corpus is plain lower-case words
    assert fit.chance_accuracy == pytest.approx(max(words.count(w) for w in set(words)) / len(words))
    assert fit.token_accuracy == reconstruction_accuracy(fit.model, fit.vocab.encode(texts, SMALL.max_len))
    untrained = TextAutoencoder(len(fit.vocab), SMALL)
    assert reconstruction_accuracy(untrained, fit.vocab.encode(texts, SMALL.max_len)) < 0.5


def test_embed_new_text(fit: AutoencoderFit) -> None:
    out = embed(fit, None, ["she likes quiet jazz", "a sentence of entirely new words", ""])
    assert out.dtype == np.float32 and out.shape == (3, 8) and np.isfinite(out).all()
    np.testing.assert_array_equal(out, embed(fit.model, fit.vocab, ["she likes quiet jazz", "a b c d e f", ""], SMALL))
    with pytest.raises(ParamError, match="vocab"):
        embed(fit.model, None, ["she"])


def test_same_seed_same_embeddings_different_seed_different(fit: AutoencoderFit) -> None:
    texts = corpus()
    again = train_autoencoder(texts, SMALL, seed=0, progress=False)
    other = train_autoencoder(texts, SMALL, seed=1, progress=False)
    assert again.losses == fit.losses
    np.testing.assert_array_equal(embed(again, None, texts), embed(fit, None, texts))
    assert not np.array_equal(embed(other, None, texts), embed(fit, None, texts))


def test_save_load_round_trip(fit: AutoencoderFit, tmp_path: Path) -> None:
    save_autoencoder(fit, tmp_path / "ae")
    loaded = load_autoencoder(tmp_path / "ae")
    texts = [*corpus(), "an unseen sentence"]
    assert loaded.vocab == fit.vocab and loaded.config == fit.config and loaded.losses == fit.losses
    assert loaded.token_accuracy == fit.token_accuracy and loaded.chance_accuracy == fit.chance_accuracy
    np.testing.assert_array_equal(embed(loaded, None, texts), embed(fit, None, texts))
    with pytest.raises(ExplainrecError, match="not a saved autoencoder"):
        load_autoencoder(tmp_path)


@pytest.mark.parametrize(("field", "value"), [("max_len", 0), ("word_dim", 2.5), ("epochs", True),
                                              ("learning_rate", 0), ("optimizer", "rmsprop"), ("min_count", -1)])
def test_bad_config_names_the_field(field: str, value: object) -> None:
    with pytest.raises(ParamError) as info:
        AutoencoderConfig(**{field: value})
    assert info.value.param == field


def test_empty_corpus_is_a_clear_error() -> None:
    with pytest.raises(ExplainrecError, match="empty"):
        train_autoencoder([], SMALL, seed=0, progress=False)
    with pytest.raises(ExplainrecError, match="no word"):
        train_autoencoder(["", "  !"], SMALL, seed=0, progress=False)


def test_train_autoencoder_logs_one_row_per_epoch(tmp_path) -> None:
    from dataclasses import replace

    from explainrec.core.curves import curves
    from tests.core.test_curves import tsv

    with curves(tmp_path / "c") as live:
        fit = train_autoencoder(corpus(8), replace(SMALL, epochs=3), seed=0, progress=False, live=live, prefix="ae/")
    curve = tsv(tmp_path / "c", "ae/train/loss")
    assert curve["step"].tolist() == [1, 2, 3]
    assert curve["loss"].tolist() == pytest.approx(fit.losses)
