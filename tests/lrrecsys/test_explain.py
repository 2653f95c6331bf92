"""LR-Recsys explanations through the LLM layer: prompts per pair, positives before negatives, cached."""

from __future__ import annotations

import pandas as pd
import pytest

from explainrec.core.domain_prompts import ExplainConfig, item_texts
from explainrec.core.domain_prompts import DOMAINS
from explainrec.core.errors import InputError, ParamError
from explainrec.llm import LLM, Completion, ResponseCache
from explainrec.lrrecsys.explain import explain_pairs


class Reasoner:
    """Answers with a fixed reason; records the batches."""

    identity = "fake:reasoner"
    preferred_batch = 8

    def __init__(self):
        self.batches = []

    def generate(self, batch):
        self.batches.append(list(batch))
        return [Completion(" the consumer likes films, and the movie is one", 10, 9) for _ in batch]


ITEMS = pd.DataFrame({"item_id": ["1", "2", "3"], "title": ["Alpha (1990)", None, "Gamma"],
                      "description": [None] * 3, "categories": [None] * 3})
PAIRS = pd.DataFrame({"pair_id": ["train:u:1", "test:u:3"], "split": ["train", "test"], "item_id": ["1", "3"],
                      "history": [["2"], ["1", "2"]]})


def test_item_texts_with_and_without_profiles():
    profiles = {"1": "A long   profile of alpha.", "2": "Beta profile"}
    with_p = item_texts(ITEMS, profiles, ExplainConfig(max_profile_chars=None))
    assert with_p == {"1": "Alpha (1990): A long profile of alpha.", "2": "item 2: Beta profile", "3": "Gamma"}
    assert item_texts(ITEMS, profiles, ExplainConfig(profile_augmentation=False))["1"] == "Alpha (1990)"


def test_explanations_are_one_sentence_and_cached(tmp_path):
    be = Reasoner()
    llm = LLM(be, ResponseCache(tmp_path / "cache"), progress=False)
    table, m = explain_pairs(PAIRS, ITEMS, {}, llm, ExplainConfig(), DOMAINS["movie"])
    assert table["positive"][0] == "The consumer watched this movie because the consumer likes films, and the movie is one."
    assert table["negative"][1].startswith("The consumer did not watch this movie because")
    assert m["pairs"] == 2 and m["empty"] == {"positive": 0, "negative": 0}
    # positives first (a negative reuses its positive's prefix), then negatives
    assert [len(b) for b in be.batches] == [2, 2]
    assert all("watched the following" in r.messages[0][1] for r in be.batches[0])
    assert all(r.messages[-1] == ("assistant", "The consumer did not watch this movie because") for r in be.batches[1])
    assert be.batches[0][0].params.stop == (".", "\n")
    # a rerun asks the model nothing
    again = LLM(be, ResponseCache(tmp_path / "cache"), progress=False)
    explain_pairs(PAIRS, ITEMS, {}, again, ExplainConfig(), DOMAINS["movie"])
    assert len(be.batches) == 2 and again.stats.cache_hits == 4


def test_bad_input():
    llm = LLM(Reasoner(), None, progress=False)
    with pytest.raises(InputError, match="item_id"):
        explain_pairs(PAIRS.assign(item_id=["1", "9"]), ITEMS, {}, llm, ExplainConfig(), DOMAINS["movie"])
    with pytest.raises(ParamError, match="style"):
        ExplainConfig(style="chain")
