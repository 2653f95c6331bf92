"""Explainers whose texts are the same word for word (paper 001's ablations can generate identical texts).

:func:`identical_texts` compares every two explainers' explanations on the ``(user_id, item_id)``
pairs they share; :func:`identical_note` is the line the eval table (``eval_summary``) and XRec's
table print under their rows. Only pandas: the XRec report imports it without the metric stack.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from explainrec.core.errors import InputError


def _words(text: Any) -> str:
    return " ".join(str(text).split())


def identical_texts(texts: Mapping[str, pd.DataFrame]) -> dict[str, dict[str, int]]:
    """``{name: {other: shared pairs}}``: for every explainer (``texts``: tables with user_id, item_id,
    explanation, in display order), the others whose explanation is the same word for word
    (whitespace aside) on every ``(user_id, item_id)`` pair the two share, and how many pairs they
    share. Two explainers with no pair in common are never identical; a pair given twice counts once
    (its first row). Symmetric; every name is a key."""
    keyed = {}
    for name, df in texts.items():
        for col in ("user_id", "item_id", "explanation"):
            if col not in df.columns:
                raise InputError(f"texts of {name}", col, "a column of the explanations or scores table")
        s = pd.Series([_words(t) for t in df["explanation"]],
                      index=pd.MultiIndex.from_arrays([df["user_id"].astype(str), df["item_id"].astype(str)]))
        keyed[name] = s[~s.index.duplicated()]
    out: dict[str, dict[str, int]] = {name: {} for name in keyed}
    names = list(keyed)
    for k, a in enumerate(names):
        for b in names[k + 1:]:
            shared = keyed[a].index.intersection(keyed[b].index)
            if len(shared) and (keyed[a].loc[shared].to_numpy() == keyed[b].loc[shared].to_numpy()).all():
                out[a][b] = out[b][a] = int(len(shared))
    return out


def identical_note(same: Mapping[str, Mapping[str, int]], unchecked: Sequence[str] = ()) -> str:
    """One line naming the groups of explainers whose texts are identical (:func:`identical_texts`),
    or saying there are none; ``unchecked``: explainers whose texts were not available."""
    groups: list[list[str]] = []
    for name, others in same.items():
        if not others or any(name in g for g in groups):
            continue
        group, todo = [name], list(others)
        while todo:  # the explainers reached through identical pairs, in display order
            n = todo.pop(0)
            if n not in group:
                group.append(n)
                todo += [m for m in same.get(n, {}) if m not in group]
        groups.append(sorted(group, key=list(same).index))
    if groups:
        parts = []
        for g in groups:
            shared = sorted({same[a][b] for a in g for b in g if b in same[a]})
            count = f"{shared[0]}" if len(shared) == 1 else f"{shared[0]}-{shared[-1]}"
            parts.append(", ".join(f"`{n}`" for n in g) + f" (all {count} pairs they share)")
        text = ("**Identical texts:** " + "; ".join(parts) + ": the same explanations word for word, so their rows "
                "score one set of texts more than once.")
    elif len(same) > 1:
        text = ("Identical texts: none (no two explainers give the same explanation word for word on every pair "
                "they share).")
    else:
        text = "Identical texts: not checked (fewer than two explainers' texts)."
    if unchecked:
        text += (" Not checked: " + ", ".join(f"`{n}`" for n in unchecked) + " (a score table without the "
                 "explanation column; rerun its evaluate stage).")
    return text
