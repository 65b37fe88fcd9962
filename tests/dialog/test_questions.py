"""Which parts of a caller's turn are questions of their own."""

from __future__ import annotations

from agent.dialog.questions import question_parts, split_questions


def test_a_titles_dot_does_not_end_the_question() -> None:
    """ "Is Dr. Patel in today?" is one question (it was two, and the answer came twice); sentences split."""
    assert split_questions("Is Dr. Patel in today?") == ["Is Dr. Patel in today?"]
    assert split_questions("Is Mrs. Lee there? Where are you?") == ["Is Mrs. Lee there?", "Where are you?"]
    assert split_questions("We got a drip. What do you charge?") == ["We got a drip.", "What do you charge?"]


def test_and_joined_questions_are_parts_of_their_own() -> None:
    """ "Where are you, and how late are you open?" holds two questions; a statement is not one."""
    assert question_parts("Where are you, and how late are you open?") == [
        "Where are you",
        "how late are you open?",
    ]
    assert question_parts("We got a drip. What do you charge?") == ["What do you charge?"]
