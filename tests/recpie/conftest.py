"""Tiny models for the RecPIE tests: a word-level tokenizer over a few dozen words and a
2-layer, 32-wide Llama built from a config (nothing downloads). One torch thread, as in the
LR-Recsys tests (see tests/lrrecsys/conftest.py)."""

from __future__ import annotations

import pytest

from tests.lrrecsys.conftest import one_thread  # noqa: F401  (an autouse fixture, registered by the import)

WORDS = ("the user watched did not watch this movie because likes and is a fun dark long funny drama comedy "
         "action romance story actors music great boring given profiles of history can you provide reason why "
         "following recommended with profile answer one sentence format none").split()
CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }} : {{ m['content'] }}{% if not loop.last %} [SEP] {% endif %}{% endfor %}"
    "{% if add_generation_prompt %} [SEP] assistant :{% endif %}"
)


def tiny_tokenizer():
    """A whitespace word-level fast tokenizer: [PAD] [UNK] [SEP] and :data:`WORDS`, with a chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(dict.fromkeys(["[PAD]", "[UNK]", "[SEP]", ":", ".", "?", ",", "|",
                                                        "(", ")", "...", "user", "assistant", *WORDS]))}
    core = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    core.decoder = decoders.WordPiece(prefix="##")
    tok = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="[PAD]", unk_token="[UNK]", eos_token="[SEP]",
                                  model_input_names=["input_ids", "attention_mask"])
    tok.chat_template = CHAT_TEMPLATE
    return tok


def tiny_model(vocab_size: int, seed: int = 0, sharp: bool = False):
    """``sharp``: untied output embeddings and 10 times the usual initialisation scale, so that what the
    soft prompt changes in the hidden states reaches the sampled and greedy tokens (the default tiny
    model, tied and near-uniform, repeats the prompt's last word whatever the prefix)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                      intermediate_size=64, vocab_size=vocab_size, max_position_embeddings=512,
                      eos_token_id=2, pad_token_id=0, bos_token_id=None, tie_word_embeddings=not sharp,
                      initializer_range=0.2 if sharp else 0.02)
    model = LlamaForCausalLM(cfg)
    model.generation_config.eos_token_id = 2
    model.generation_config.pad_token_id = 0
    return model


def tiny_backend(folder, sharp: bool = False, device: str = "cpu"):
    """The project's local backend (float32, ``device``, one thread) on a fresh tiny model saved in ``folder``."""
    from explainrec.llm.local import TransformersBackend
    from explainrec.llm.spec import LLMSpec

    tok = tiny_tokenizer()
    model = tiny_model(len(tok), sharp=sharp)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    spec = LLMSpec(name="tiny", backend="transformers", model=str(folder), dtype="float32", device=device, threads=1,
                   batch_size=8, prefix_cache_mb=64, identity="tiny-llama-sharp" if sharp else "tiny-llama")
    return TransformersBackend(spec)


@pytest.fixture
def tiny(tmp_path):
    """A :class:`~explainrec.llm.local.TransformersBackend` on a fresh tiny causal LM."""
    return tiny_backend(tmp_path / "tiny-model")


class HashingEncoder:
    """A stand-in sentence encoder: bag of words hashed into 16 dims (what ``encode_texts`` calls)."""

    def encode(self, texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False):
        import hashlib

        import numpy as np

        out = np.zeros((len(texts), 16), np.float32)
        for r, t in enumerate(texts):
            for w in t.lower().split():
                out[r, int(hashlib.md5(w.encode()).hexdigest(), 16) % 16] += 1.0
        return out


def tiny_pairs():
    """Six users, eight items, 12 train and 4 test pairs in the LR-Recsys pairs format, and item texts."""
    import pandas as pd

    words = ["fun drama", "dark comedy", "long action", "funny romance", "great story", "boring music",
             "drama actors", "comedy story"]
    texts = {f"i{k}": w for k, w in enumerate(words)}
    rows = []
    for n in range(16):
        u, i = f"u{n % 6}", f"i{n % 8}"
        split = "train" if n < 12 else "test"
        rows.append({"pair_id": f"{split}:{u}:{i}", "split": split, "user_id": u, "item_id": i,
                     "rating": float(1 + (n * 7) % 5), "timestamp": n,
                     "history": [f"i{(n + 1) % 8}", f"i{(n + 3) % 8}"]})
    return pd.DataFrame(rows), texts
