"""Rendering a chat as one prompt string for a model whose tokenizer has no chat template.

The local backend feeds this text to such a model at inference, and SFT trains
on the same text, so a model fine-tuned without a template is prompted exactly
as it was trained.
"""

from __future__ import annotations

from collections.abc import Sequence


def plain_prompt(messages: Sequence[tuple[str, str]]) -> str:
    """``System:/User:/Assistant:`` lines, ending with the cue for the answer; a last
    assistant turn is the answer's opening, which the model continues."""
    lines = [f"{role.capitalize()}: {content}" for role, content in messages]
    if messages and messages[-1][0] == "assistant":
        return "\n".join(lines)
    return "\n".join(lines) + "\nAssistant:"
