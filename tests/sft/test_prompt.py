"""The Fig. 4 prompt and the normalisation of targets."""

from __future__ import annotations

import pytest

from explainrec.sft.prompt import (INSTRUCTION, RESPONSE_PREFIX, build_prompt, chat_request, normalise_target,
                                   prompt_messages, strip_prefix)


def test_prompt_exact_text():
    expected = (
        "You are an AI assistant specialized in understanding user profile and item profile. Based on the given "
        "user profile and item profile, generate a reason why this user would interact with this item.\n"
        "User Profile:\nLikes space operas.\n"
        "Item Profile:\nA space opera from 1977.\n"
        "Reason for Interaction:"
    )
    assert build_prompt("  Likes space operas.\n", "A space opera from 1977.") == expected
    assert build_prompt("a", "b").startswith(INSTRUCTION + "\nUser Profile:\n")


def test_prompt_as_request_and_messages():
    req = chat_request("U", "I", max_new_tokens=5)
    assert req.messages == (("user", build_prompt("U", "I")),)  # no system turn, as in training
    assert req.params.max_new_tokens == 5 and req.params.greedy
    assert prompt_messages("U", "I") == [{"role": "user", "content": build_prompt("U", "I")}]


@pytest.mark.parametrize("raw, expected", [
    ("He loves jazz.", f"{RESPONSE_PREFIX} he loves jazz."),
    ("Star Wars fans like it.", f"{RESPONSE_PREFIX} Star Wars fans like it."),
    ("because  it is\na western.", f"{RESPONSE_PREFIX} it is a western."),
    ("The user would interact with the item because it is funny.", f"{RESPONSE_PREFIX} it is funny."),
    ("the user would interacted with this item, because The Godfather is a classic.",
     f"{RESPONSE_PREFIX} The Godfather is a classic."),
    ("   ", ""),
])
def test_normalise_target(raw, expected):
    assert normalise_target(raw) == expected


def test_normalise_is_idempotent_and_strip_prefix_inverts_it():
    once = normalise_target("They like westerns.")
    assert normalise_target(once) == once
    assert strip_prefix(once) == "they like westerns."
    assert strip_prefix("no prefix here") == "no prefix here"
