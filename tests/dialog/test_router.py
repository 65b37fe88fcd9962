"""The routing core: intents answered from the profile, message taking, keypad, and the text eval."""

from __future__ import annotations

import datetime as dt

import pytest

from agent.dialog.actions import EndCall, TakeMessage, Transfer
from agent.dialog.business import Business, load_business
from agent.dialog.grounding import FALLBACK, make_guard, ungrounded_claims
from agent.dialog.router import Router
from agent.dialog.spoken import doubtful_name, extract_digits, repair_number, say_digits, spelled_words
from benchmarks.receptionist_eval import CASES, evaluate_text, load_cases
from tests.conftest import REPO


@pytest.fixture(scope="module")
def business() -> Business:
    return load_business(REPO / "prompts", "example")


def router_at(business: Business, *when: int) -> Router:
    now = dt.datetime(*when, tzinfo=business.timezone)
    return Router(business, clock=lambda: now)


class TestIntents:
    def test_hours_for_a_named_day_come_from_the_profile(self, business: Business) -> None:
        """'What time do you open on Saturday?' gets Saturday's opening time, then an offer of more help."""
        reply = router_at(business, 2026, 11, 27, 10).handle("What time do you open on Saturday?")
        assert reply.intent == "hours"
        assert reply.text.startswith("On Saturday, we open at 9 AM.")

    def test_open_now_uses_the_business_time_zone(self, business: Business) -> None:
        """Friday 4 PM in Portland is after Friday's 3 PM close: closed, reopening Saturday."""
        reply = router_at(business, 2026, 11, 27, 16).handle("Are you open right now?")
        assert "We're closed right now. We open again tomorrow at 9 AM." in reply.text

    def test_unknown_questions_are_not_answered_but_offered_a_person(self, business: Business) -> None:
        """Something the profile doesn't cover gets an honest don't-know and an offer."""
        reply = Router(business).handle("Do you validate parking tickets for the mall?")
        assert reply.intent in {"address", "unknown"}
        reply = Router(business).handle("Do you sell gift cards?")
        assert reply.intent == "unknown" and "take a message" in reply.text and reply.action is None

    def test_topic_and_name_pick_the_staff_member(self, business: Business) -> None:
        """Billing goes to the office manager, a name goes to that person, 'a person' to the operator."""
        for text, who in [
            ("I have a question about my invoice, can I talk to someone?", "Maria Lopez"),
            ("Put me through to Doctor Lee", "Dr. Sam Lee"),
            ("Can I speak to a human", "Maria Lopez"),
        ]:
            action = Router(business).handle(text).action
            assert isinstance(action, Transfer) and action.staff.name == who, text

    def test_goodbye_after_anything_else_ends_the_call(self, business: Business) -> None:
        """'No thanks' after 'anything else?' ends the call with the closing line."""
        router = Router(business)
        router.handle("Where are you?")
        reply = router.handle("no thanks")
        assert isinstance(reply.action, EndCall) and reply.text == business.closing

    def test_statements_without_an_intent_go_to_the_model(self, business: Business) -> None:
        """Small statements the core doesn't handle are left to the model (behind the guard)."""
        assert Router(business).handle("I just moved to the area").use_model


class TestMessages:
    def test_message_flow_reads_the_number_back_and_stores_every_field(self, business: Business) -> None:
        """Name, number (read back and confirmed), message and urgency become one stored message."""
        r = Router(business)
        assert "name" in r.handle("I'd like to leave a message for Dr. Lee").text
        assert "number" in r.handle("Sam Green").text
        assert r.handle("two oh seven, five five five, oh one four three").text == (
            "I have 2 0 7, 5 5 5, 0 1 4 3. Is that right?"
        )
        assert "tell Dr. Sam Lee" in r.handle("yes").text
        assert r.handle("My crown came loose, it's urgent").intent == "message_taken"

    def test_a_wrong_number_can_be_corrected(self, business: Business) -> None:
        """Saying 'no' to the read-back asks again; the corrected number is what gets stored."""
        r = Router(business)
        r.handle("take a message please, this is Ann Lee, my number is 555 123 4567")
        assert "What's the right number" in r.handle("no").text
        assert "5 5 5, 1 2 3, 9 9 9 9" in r.handle("555 123 9999").text
        r.handle("yes")
        r.handle("Call me about my bill")
        action = r.handle("no").action
        assert isinstance(action, TakeMessage) and action.callback_number == "5551239999"

    def test_a_number_said_in_groups_is_collected_across_turns(self, business: Business) -> None:
        """'617' … '555' … '0100' said as separate turns: the agent listens, then reads all ten back."""
        r = Router(business)
        r.handle("leave a message please")
        r.handle("Kim Park")
        assert r.handle("my number is 617").text == ""
        assert r.handle("555").text == ""
        assert r.handle("0100").text == "I have 6 1 7, 5 5 5, 0 1 0 0. Is that right?"

    def test_a_whole_number_after_a_broken_one_replaces_it(self, business: Business) -> None:
        """Six digits that went wrong, then "No, it's 555 010 0222": the new number alone is read back."""
        r = Router(business)
        r.handle("I want to leave a message")
        r.handle("Bob Stone")
        assert r.handle("525 122").text == ""  # too short: the agent keeps listening
        assert r.handle("No, it's 555 010 0222.").text == "I have 5 5 5, 0 1 0, 0 2 2 2. Is that right?"

    def test_a_doubtful_last_name_is_spelled_and_the_spelling_is_stored(self, business: Business) -> None:
        """ "Lisa Wong" heard as "Lisa 1": the agent asks for the last name letter by letter and keeps it."""
        r = Router(business)
        r.handle("Can I leave a message for Maria?")
        assert r.handle("Lisa 1.").text == "Thanks. Could you spell your last name for me, letter by letter?"
        assert r.expects_number  # spelled letters come with pauses: the VAD waits longer
        assert r.handle("W-O-N-G.").text == "Thanks, Lisa. What's the best number to call you back on?"
        r.handle("207 555 0198")
        r.handle("yes")
        r.handle("Please send me a copy of my invoice.")
        action = r.handle("no").action
        assert isinstance(action, TakeMessage) and action.caller_name == "Lisa Wong"

    def test_a_doubtful_first_name_asks_for_the_whole_name_spelled(self, business: Business) -> None:
        """ "Ana Silva" heard as "On A": the whole name is asked for, and two spelled words replace it."""
        r = Router(business)
        reply = r.handle("Please take a message. This is on a, my number is 617 555 0100.")
        assert reply.text.endswith("Could you spell your name for me, letter by letter?"), reply.text
        assert "5 5 5" in r.handle("A N A. S I L V A.").text
        r.handle("yes")
        r.handle("Call me about my cleaning.")
        action = r.handle("no").action
        assert isinstance(action, TakeMessage) and action.caller_name == "Ana Silva"
        assert action.callback_number == "6175550100"

    def test_a_whole_name_spelled_as_one_run_replaces_a_doubtful_first_name(self, business: Business) -> None:
        """ "On A" spelled back as one run of letters keeps nothing of the misheard name."""
        r = Router(business)
        r.handle("Please take a message. This is on a, my number is 617 555 0100.")
        r.handle("A-N-A-S-I-L-D-A.")
        assert r._draft is not None and r._draft.name == "Anasilda"

    def test_a_clear_name_is_not_spelled_and_a_name_is_spelled_at_most_once(self, business: Business) -> None:
        """ "Jane Doe" goes straight to the number; an unusable spelling keeps the name and moves on."""
        r = Router(business)
        r.handle("I'd like to leave a message.")
        assert "number" in r.handle("My name is Jane Doe.").text
        r = Router(business)
        r.handle("I'd like to leave a message.")
        assert "spell" in r.handle("Tom 2.").text
        assert "number" in r.handle("Uh, the usual spelling.").text
        assert r._draft is not None and r._draft.name == "Tom 2"

    def test_a_question_instead_of_a_name_is_answered_and_the_message_dropped(
        self, business: Business
    ) -> None:
        """Offered a message after a failed transfer, the caller asks the hours: that is no name."""
        r = Router(business)
        r.handle("Can I speak to someone about my bill?")
        assert "your name" in r.resume_after_failed_transfer("Maria Lopez").text
        reply = r.handle("Are you open on Sunday?")
        assert reply.intent == "hours" and not r.expects_number, reply
        assert "Thanks, Are" not in reply.text

    def test_doubtful_names_and_spelled_words(self) -> None:
        """Digits, number words and short common words make a name doubtful; letters make spelled words."""
        assert doubtful_name("Lisa 1") and doubtful_name("Lisa One") and doubtful_name("On A")
        assert not doubtful_name("Jane Doe") and not doubtful_name("Kevin Nguyen")
        assert spelled_words("W-O-N-G.") == ["Wong"] == spelled_words("W, O, N, G,")
        assert spelled_words("A-N-A. S-I-L-V-A.") == ["Ana", "Silva"]
        assert spelled_words("It's W O N G, Wong.") == ["Wong"]
        assert spelled_words("I said Wong") == []

    def test_digits_are_extracted_from_spoken_numbers(self) -> None:
        """Digits, digit words and 'oh' all become a phone number; short runs are ignored."""
        assert extract_digits("it's five five five oh one two three four five six") == "5550123456"
        assert extract_digits("call 617-555-0100 after 5") == "6175550100"
        assert extract_digits("I have 2 kids") == ""
        assert say_digits("6175550100") == "6 1 7, 5 5 5, 0 1 0 0"

    def test_a_digit_heard_twice_too_many_is_repaired_and_every_stored_digit_is_read_back(
        self, business: Business
    ) -> None:
        """Whisper's "5555019-9223" is read back and kept as 10 digits."""
        assert repair_number("55550199223") == "5550199223"
        assert repair_number("617555550100") == "6175550100"
        assert repair_number("55501002222") == "5550100222"
        assert repair_number("5555555555") == "5555555555"  # ten digits: a real number, left alone
        assert repair_number("16175550100") == "16175550100"  # a 1 before ten digits is dialable
        assert repair_number("61705501234") == "61705501234"  # no run to blame: left for the caller to hear
        assert say_digits("61705501234") == "6 1 7, 0 5 5, 0 1 2 3 4"  # every digit, none dropped
        assert say_digits("16175550100") == "1, 6 1 7, 5 5 5, 0 1 0 0"
        r = Router(business)
        r.handle("Can Doctor Lee call me back?")
        r.handle("This is Tom Baker.")
        assert r.handle("5555019-9223.").text == "I have 5 5 5, 0 1 9, 9 2 2 3. Is that right?"
        r.handle("Yes.")
        r.handle("My filling fell out.")
        action = r.handle("Yes.").action
        assert isinstance(action, TakeMessage) and action.callback_number == "5550199223"


class TestKeypad:
    def test_keys_follow_the_profile_map(self, business: Business) -> None:
        """0 reaches the operator, 2 the front desk, 3 starts a message, 9 does nothing."""
        r = Router(business)
        zero, two = r.handle_key("0"), r.handle_key("2")
        assert zero and isinstance(zero.action, Transfer) and zero.action.staff.name == "Maria Lopez"
        assert two and isinstance(two.action, Transfer) and two.action.staff.name == "Front Desk"
        three = r.handle_key("3")
        assert three is not None and "name" in three.text
        assert r.handle_key("9") is None


class TestGrounding:
    def test_invented_numbers_days_and_promises_are_caught(self, business: Business) -> None:
        """Numbers, weekdays or bookings the profile doesn't hold are flagged."""
        facts = business.system_prompt
        assert ungrounded_claims("We open at 10am on Saturday.", facts) == ["10am"]
        assert ungrounded_claims("We open at 9 AM on Saturday.", facts) == []
        assert ungrounded_claims("I've booked you in for a cleaning.", facts) == ["i've booked"]
        assert ungrounded_claims("A cleaning is $120.", facts) == []

    def test_guard_replaces_ungrounded_replies(self, business: Business) -> None:
        """The guard passes grounded replies and swaps the rest for an honest fallback."""
        guard = make_guard(business.system_prompt)
        assert guard("Happy to help!") == "Happy to help!"
        assert guard("We close at 9pm.") == FALLBACK


def test_text_evaluation_scores_at_least_ninety_percent(business: Business) -> None:
    """The scripted caller requests (47 cases) are handled correctly at least 90 % of the time."""
    cases = load_cases(CASES)
    results = evaluate_text(cases, business)
    assert len(cases) >= 40
    passed = [cid for cid, problems in results.items() if not problems]
    assert len(passed) / len(cases) >= 0.9, {k: v for k, v in results.items() if v}


class TestCompleteRequest:
    def test_whole_requests_are_read_as_complete(self, business: Business) -> None:
        """Requests the receptionist can act on as they stand are complete, however they were phrased."""
        router = Router(business)
        for said in (
            "I'd like to book a cleaning.",
            "What are your hours on Saturday.",
            "Where is your office.",
            "Can I talk to Dr. Lee.",
            "I'd like to leave a message for Dr. Lee.",
        ):
            assert router.is_complete_request(said), said

    def test_openers_small_talk_and_message_details_are_not(self, business: Business) -> None:
        """A greeting, 'I have a question', chat and the pieces of a message being taken wait for more."""
        router = Router(business)
        for said in ("Hi.", "I have a question.", "I just moved to the area.", ""):
            assert not router.is_complete_request(said), said
        router.handle("I'd like to leave a message for Dr. Lee")
        assert not router.is_complete_request(
            "What are your hours on Saturday."
        )  # a name or number may follow


def test_a_snapshot_brings_back_the_dialog_as_it_was(business: Business) -> None:
    """A turn that started a message, undone by restoring the snapshot taken before it: no message is
    being taken, the history is as it was, and the same words route the same way again."""
    r = router_at(business, 2026, 11, 27, 10)
    r.handle("Hi there.")
    before = r.snapshot()
    first = r.handle("I'd like to leave a message for Dr. Lee")
    assert r.expects_details
    r.restore(before)
    assert not r.expects_details and r.history == before.history and len(before.history) == 1
    assert r.handle("I'd like to leave a message for Dr. Lee").text == first.text
