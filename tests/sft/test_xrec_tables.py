"""The target forms and the item names on XRec's three released tables (skipped when they are absent)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from explainrec.core.explanation_pairs import build_pairs, item_names
from explainrec.core.explanation_prompt import RESPONSE_PREFIX, has_two_openings, normalise_target
from explainrec.data.adapters.precomputed import load


def test_no_target_has_two_openings_in_either_form(xrec_table: Path):
    refs = pd.read_parquet(xrec_table)["explanation"].astype(str)
    written = refs.map(normalise_target)
    fig4 = refs.map(lambda r: normalise_target(r, "fig4"))
    assert not written.map(has_two_openings).any() and not fig4.map(has_two_openings).any()
    assert not written.str.startswith(f"{RESPONSE_PREFIX} the user would").any()
    # nearly every XRec reference has its own opening ("The user would buy the book because", "You would
    # enjoy ..."); as_written keeps those unchanged and prefixes only the few bare ones
    kept = (written == refs.map(lambda r: " ".join(r.split()))).mean()
    assert kept > 0.97, kept
    # fig4 rewrites the openings that end in "because" (most amazon ones) and keeps the rest as written
    assert (fig4.str.startswith(RESPONSE_PREFIX) | (fig4 == written)).all()


def test_prompts_name_the_item(xrec_table: Path):
    data = load(xrec_table)
    names = item_names(data.items)
    inter = data.interactions.head(50)
    users = dict(zip(data.users.user_id, data.users.profile))
    items = dict(zip(data.items.item_id, data.items.profile))
    pairs, counts = build_pairs(inter[["user_id", "item_id", "explanation"]], users, items, names)
    assert len(pairs) == 50 and counts["two_openings"] == 0
    titles = pd.read_parquet(xrec_table).head(50)["title"]
    assert all(f"Item Title:\n{' '.join(t.split())}\n" in p for t, p in zip(titles, pairs.prompt))
    assert "Item Categories" not in "".join(pairs.prompt)  # XRec's tables have no categories
