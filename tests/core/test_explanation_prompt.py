"""The Fig. 4 prompt and the normalisation of targets."""

from __future__ import annotations

import pytest

from explainrec.core.explanation_prompt import (INSTRUCTION, RESPONSE_PREFIX, build_prompt, chat_request, has_two_openings,
                                   normalise_target, prompt_messages, strip_prefix)


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


def test_prompt_names_the_item_when_given():
    prompt = build_prompt("Likes space operas.", "A space opera.", " Star Wars (1977) ", "Action, Sci-Fi")
    assert prompt.endswith("User Profile:\nLikes space operas.\nItem Title:\nStar Wars (1977)\n"
                           "Item Categories:\nAction, Sci-Fi\nItem Profile:\nA space opera.\nReason for Interaction:")
    assert build_prompt("U", "I", "Dune") == build_prompt("U", "I", "Dune", None)
    assert "Item Categories" not in build_prompt("U", "I", "Dune") and "Item Title" not in build_prompt("U", "I")
    # a missing or blank title or category is left out: the prompt is then Fig. 4's
    assert build_prompt("U", "I", float("nan"), "  ") == build_prompt("U", "I")


def test_prompt_as_request_and_messages():
    req = chat_request(build_prompt("U", "I"), max_new_tokens=5)
    assert req.messages == (("user", build_prompt("U", "I")),)  # no system turn, as in training
    assert req.params.max_new_tokens == 5 and req.params.greedy
    assert prompt_messages("P") == [{"role": "user", "content": "P"}]


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
    assert normalise_target(raw) == expected == normalise_target(raw, "fig4")


# the openings of XRec's three released tables (amazon, google, yelp), and texts without one
XREC = [
    "The user would buy the book because they enjoyed the previous one.",
    "The user would enjoy the business because it offers the best tacos in Los Angeles.",
    "The user would enjoy Taco Riendo because it is open late.",
    "You would enjoy this business for its cozy atmosphere.",
    "The user, a long-time fan of SciFi and Fantasy, would buy the book because of its world.",
    "Fans of the series will appreciate the character development.",
]


@pytest.mark.parametrize("raw", XREC)
def test_as_written_keeps_a_reference_s_own_opening(raw):
    assert normalise_target(raw) == raw
    assert not has_two_openings(normalise_target(raw)) and not has_two_openings(normalise_target(raw, "fig4"))


@pytest.mark.parametrize("raw, fig4", [
    (XREC[0], f"{RESPONSE_PREFIX} they enjoyed the previous one."),
    (XREC[1], f"{RESPONSE_PREFIX} it offers the best tacos in Los Angeles."),
    (XREC[2], f"{RESPONSE_PREFIX} it is open late."),
    (XREC[4], f"{RESPONSE_PREFIX} of its world."),
    (XREC[3], XREC[3]),  # no "because": the prefix in front would make two openings, so kept
    (XREC[5], XREC[5]),
])
def test_fig4_replaces_an_opening_that_ends_in_because(raw, fig4):
    assert normalise_target(raw, "fig4") == fig4


@pytest.mark.parametrize("form", ["as_written", "fig4"])
def test_cpeg_answers_and_bare_reasons_get_the_prefix_once(form):
    cpeg = f"{RESPONSE_PREFIX} it is a space opera like the ones they rate highly."  # what CPEG writes
    assert normalise_target(cpeg, form) == cpeg
    assert normalise_target("Because it is a western.", form) == f"{RESPONSE_PREFIX} it is a western."
    assert normalise_target("The book offers a thrilling plot.", form) == f"{RESPONSE_PREFIX} the book offers a thrilling plot."
    doubled = f"{RESPONSE_PREFIX} the user would buy the book because it is a thriller."
    assert has_two_openings(doubled)
    once = normalise_target(doubled, form)  # the inner opening is the text's own
    assert not has_two_openings(once)
    assert once == ("The user would buy the book because it is a thriller." if form == "as_written"
                    else f"{RESPONSE_PREFIX} it is a thriller.")


def test_two_openings_is_what_the_issue_saw():
    assert has_two_openings("The user would interact with the item because the user would buy the book because it is fun")
    assert has_two_openings("the user would enjoy the business because You would enjoy the business for its food")
    assert not has_two_openings("The user would buy the book because he would love the jazz in it.")
    assert not has_two_openings("The book is great.")


def test_unknown_form():
    with pytest.raises(ValueError, match="as_written, fig4"):
        normalise_target("x", "fig5")


def test_normalise_is_idempotent_and_strip_prefix_inverts_it():
    once = normalise_target("They like westerns.")
    assert normalise_target(once) == once
    assert strip_prefix(once) == "they like westerns."
    assert strip_prefix("no prefix here") == "no prefix here"


def test_strip_prefix_takes_only_the_prefix_the_pipeline_adds():
    """score_without_prefix cuts Fig. 4's prefix, which SFT adds; a text's own opening, kept as
    written in training, is the model's and the reference's own words, and is scored."""
    own = "The user would buy the book because the plot is tight."
    assert normalise_target(own) == own and strip_prefix(own) == own
    added = normalise_target("Because the plot is tight.")
    assert strip_prefix(added) == "the plot is tight."
