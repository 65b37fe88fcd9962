"""The scripted eval caller's reactions: spelling a name when asked, correcting a wrong read-back."""

from __future__ import annotations

from benchmarks.evaluation import Case, react, spell

MESSAGE = {
    "caller_name": "Lisa Wong",
    "callback_number": "2075550198",
    "recipient": "Maria Lopez",
    "urgent": False,
    "contains": "invoice",
}
CASE = Case(id="message-x", say=("Lisa Wong.", "2 0 7 5 5 5 0 1 9 8.", "Correct."), message=MESSAGE)


def test_a_caller_asked_to_spell_spells_the_name_they_gave() -> None:
    """Asked for the last name, the caller spells it; asked for the name, both words."""
    assert (
        react(CASE, "Thanks. Could you spell your last name for me, letter by letter?", None) == "W, O, N, G."
    )
    assert react(CASE, "Could you spell your name for me, letter by letter?", None) == spell(["Lisa", "Wong"])
    assert spell(["Lisa", "Wong"]) == "L, I, S, A. W, O, N, G."


def test_a_wrong_read_back_is_corrected_only_where_the_script_would_confirm_it() -> None:
    """A person corrects a wrong number instead of saying "Correct."; a right one is left to the script."""
    wrong = "I have 2 0 7, 0 1 9 8. Is that right?"
    assert react(CASE, wrong, "Correct.") == "No, it's 207 555 0198."
    assert react(CASE, "I have 2 0 7, 5 5 5, 0 1 9 8. Is that right?", "Correct.") is None
    assert react(CASE, wrong, "No, it's 207 555 0198.") is None  # the script corrects it itself
    assert react(Case(id="hours", say=("When do you open?",)), wrong, "Yes.") is None
