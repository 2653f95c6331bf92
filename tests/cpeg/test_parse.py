"""Reading a small model's messy answers: every accepted form, and the failures."""

from __future__ import annotations

import pytest

from explainrec.cpeg.parse import parse_answer

TITLES = ["Toy Story (1995)", "Lion King, The (1994)", "Apollo 13 (1995)", "Alien (1979)", "Aliens (1986)", None]
WHY = "The user would interact with the item because they love space."


@pytest.mark.parametrize("text,choice,explanation", [
    (f"Answer: [3]\nExplanation: {WHY}", 3, WHY),
    (f"Answer: 3\nExplanation: {WHY}", 3, WHY),
    (f"answer:3 explanation: {WHY}", 3, WHY),
    (f"**Answer:** 3\n**Explanation:** {WHY}", 3, WHY),
    (f"### Answer: [3]\n\n*Explanation*: {WHY}", 3, WHY),
    (f"The answer is item 3.\nEXPLANATION - {WHY}", 3, WHY),
    (f"The answer is item 3.\nWhy: {WHY}", 3, f"Why: {WHY}"),
    (f"[3]\n{WHY}", 3, WHY),
    (f"Item 3\n{WHY}", 3, WHY),
    ("I choose item number 3 because they love space.", 3, "because they love space."),
    (f"I would pick option #3.\nExplanation: {WHY}", 3, WHY),
    (f"3. {WHY}", 3, WHY),
    (f"Apollo 13 (1995)\nExplanation: {WHY}", 3, WHY),
    (f"Answer: Apollo 13\nExplanation: {WHY}", 3, WHY),
    ("The user would watch The Lion King because it is a family film.", 2, "because it is a family film."),
    (f"The user would watch Aliens. {WHY}", 5, WHY),
    (f"Explanation: {WHY}\nAnswer: [4]", 4, f"{WHY} Answer: [4]"),
])
def test_accepted_forms(text, choice, explanation):
    p = parse_answer(text, TITLES)
    assert p.ok, p
    assert p.choice == choice
    assert p.explanation == explanation


@pytest.mark.parametrize("text,error", [
    (f"Answer: [9]\nExplanation: {WHY}", "not in 1..6"),
    (f"Answer: 0\nExplanation: {WHY}", "not in 1..6"),
    (f"Item 12 is best.\n{WHY}", "not in 1..6"),
    ("The user interacted with the item that has the profile of the user.", "no item number or title"),
    ("", "no item number or title"),
    ("!!!! ???", "no item number or title"),
    ("Answer: [2]", "empty explanation"),
    ("Answer: [2]\nExplanation:   ", "empty explanation"),
    ("**Answer:** 2\n**Explanation:**", "empty explanation"),
])
def test_failures(text, error):
    p = parse_answer(text, TITLES)
    assert not p.ok and error in p.error


def test_out_of_range_is_not_replaced_by_a_later_number():
    p = parse_answer(f"Answer: 7\nExplanation: unlike [2], {WHY}", TITLES)
    assert not p.ok and p.choice is None


def test_answer_line_before_explanation_wins():
    # a bracketed number inside the explanation does not override the answer
    p = parse_answer("Answer: 1\nExplanation: better than [2] for this user.", TITLES)
    assert p.choice == 1 and p.explanation == "better than [2] for this user."
