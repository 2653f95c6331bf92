"""Small text helpers shared by the prompt builders."""

from __future__ import annotations


def truncate(text: str, max_chars: int) -> str:
    """``text`` with whitespace collapsed, cut to at most ``max_chars`` characters
    (at a word break when possible) and ending in an ellipsis when cut."""
    text = " ".join(str(text).split())
    if len(text) <= max_chars:
        return text
    cut = text[: max(0, max_chars - 3)]
    if " " in cut[len(cut) // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip() + "..."
