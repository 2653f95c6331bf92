"""XRec's inputs: the zero-shot users, the Fig. 2 prompts, the training targets and the buckets.

* **Pairs.** XRec's train and test pairs are the SFT explainer's
  (:func:`explainrec.core.explanation_pairs.load_sft_data`: the same targets file, profiles and
  references), so ``evaluate@xrec`` scores XRec against the references the SFT
  explainer is scored against. The train pairs of zero-shot users are dropped.
* **Targets** (``xrec.explainer.targets``): ``rewrite`` is paper 001's Eq. 14, the LLM's
  rewrite of the pair's own review (the ``gt_rewrite`` prompt; pairs without a review are
  left out); ``cpeg`` and ``reference`` are the targets the SFT explainer learns (the
  CPEG explanations, or the dataset's own reference explanations, e.g. XRec's released
  tables); ``auto`` takes ``rewrite`` when the train pairs have reviews, else ``sft.targets``.
* **Zero-shot users** (§4.4, :mod:`explainrec.xrec.gnn_tables`): never trained on, by LightGCN
  or the adapters; their test pairs form the zero-shot set. ``zero_shot: held_out`` holds a
  seeded share of the users out on purpose; ``test_only`` (XRec's issue #6) takes the users
  who have no interaction in the graph's splits, those that appear only in the test data.
* **Buckets** (§4.4, Fig. 4): the other test pairs, by their user's number of train
  interactions, in ``buckets`` groups, tst1 the rarest; a user's pairs never straddle two
  groups. ``buckets_by: users`` (XRec's issue #6) gives each group the same number of users,
  ``pairs`` about the same number of test pairs (:func:`assign_buckets`).
* **Prompt** (Fig. 2, as XRec's code writes it): the system turn "Explain why the user
  would enjoy the {item} within 50 words."; the user turn "user record: <USER_EMBED>
  {item} record: <ITEM_EMBED> {item} name: {title} user profile: ... {item} profile: ..."
  (the profiles left out with ``profiles: false``), then ``<EXPLAIN_POS>``, as XRec's code
  ends its test prompts; the explanation is the assistant turn of the model's own chat
  template. XRec's code trains with the explanation inside the user turn, after
  ``<EXPLAIN_POS>``, and tests with it cut off there; here training and test prompts are
  the same up to the answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from explainrec.core.config import check_bool, check_choice, check_int
from explainrec.core.domain_prompts import DOMAINS, resolve_domain
from explainrec.llm.types import ChatRequest
from explainrec.xrec.inject import EXPLAIN_TOKEN, ITEM_TOKEN, USER_TOKEN

TARGETS = ("auto", "rewrite", "cpeg", "reference")


@dataclass(frozen=True)
class ExplainerConfig:
    """``xrec.explainer`` (merged with ``xrec.variants.<name>``): the prompt and what is injected."""

    targets: str = "auto"
    domain: str = "auto"
    profiles: bool = True
    inject_all_layers: bool = True
    max_profile_chars: int | None = 240

    def __post_init__(self) -> None:
        check_choice(self.targets, "targets", TARGETS)
        check_choice(self.domain, "domain", ("auto", *DOMAINS))
        check_bool(self.profiles, "profiles")
        check_bool(self.inject_all_layers, "inject_all_layers")
        check_int(self.max_profile_chars, "max_profile_chars", none_ok=True)


BUCKETS_BY = ("users", "pairs")


def assign_buckets(test: pd.DataFrame, train_counts: dict[str, int], zero_shot: set[str], buckets: int,
                   by: str = "users") -> pd.Series:
    """``tst1``..``tst<buckets>`` for the test pairs of seen users, and ``zero_shot`` for the others.

    The seen users are ranked by their number of train interactions (ties by user id; tst1 the
    rarest) and cut into ``buckets`` consecutive groups; a user's pairs always share one bucket.
    ``by="users"`` (XRec's issue #6): groups of (near) equal numbers of users. ``by="pairs"``:
    groups of near equal numbers of test pairs, each user going to the group that holds the
    middle of its run of pairs (a user with many pairs can leave a neighbouring group empty)."""
    check_choice(by, "buckets_by", BUCKETS_BY)
    check_int(buckets, "buckets")
    out = pd.Series("zero_shot", index=test.index, dtype=object)
    seen = test[~test["user_id"].isin(zero_shot)]
    if seen.empty:
        return out
    sizes = seen.groupby("user_id", sort=False).size()
    order = sorted(sizes.index, key=lambda u: (train_counts.get(u, 0), str(u)))
    n = np.array([sizes[u] for u in order], dtype=np.int64)
    if by == "users":
        group = np.zeros(len(order), dtype=np.int64)
        for b, idx in enumerate(np.array_split(np.arange(len(order)), min(buckets, len(order)))):
            group[idx] = b
    else:
        middle = np.cumsum(n) - n / 2.0
        group = np.minimum((middle * buckets / n.sum()).astype(np.int64), buckets - 1)
    label = {u: f"tst{g + 1}" for u, g in zip(order, group)}
    out.loc[seen.index] = seen["user_id"].map(label).to_numpy()
    return out


def _cut(text: str, limit: int | None) -> str:
    text = " ".join(str(text).split())
    return text if limit is None or len(text) <= limit else text[:limit].rstrip() + "..."


def xrec_request(config: ExplainerConfig, dataset_format: str | None, title: str | None, user_profile: str,
                 item_profile: str, max_new_tokens: int = 128) -> ChatRequest:
    """The Fig. 2 prompt of one pair, ending with ``<EXPLAIN_POS>``; the answer is the assistant turn."""
    d = resolve_domain(config.domain, dataset_format).item
    system = f"Explain why the user would enjoy the {d} within 50 words."
    user = f"user record: {USER_TOKEN} {d} record: {ITEM_TOKEN} {d} name: {title or 'unknown'}"
    if config.profiles:
        user += (f" user profile: {_cut(user_profile, config.max_profile_chars)}"
                 f" {d} profile: {_cut(item_profile, config.max_profile_chars)}")
    return ChatRequest.of(system, f"{user} {EXPLAIN_TOKEN}", max_new_tokens=max_new_tokens)


def resolve_targets(targets: str, sft_targets: str, has_reviews: bool) -> str:
    """``auto`` -> ``rewrite`` when the train pairs have reviews, else the SFT explainer's targets."""
    if targets != "auto":
        return targets
    return "rewrite" if has_reviews else sft_targets


def review_table(splits: str | Path) -> dict[tuple[str, str], str]:
    """``{(user_id, item_id): review}`` of the train split's non-empty reviews."""
    from explainrec.core.io import read_table

    df = read_table(Path(splits) / "train.parquet", "train split", "the split stage", ("user_id", "item_id"))
    if "review" not in df.columns:
        return {}
    keep = df["review"].astype("string").fillna("").str.strip() != ""
    return {(str(u), str(i)): str(r) for u, i, r in df.loc[keep, ["user_id", "item_id", "review"]].itertuples(index=False)}
