"""End-of-turn hangover: the words so far and smart-turn's verdict decide how long silence must last."""

from __future__ import annotations

from agent.speech.endpoint import HangoverParams, hangover, is_continuing, trailing_digits

P = HangoverParams(complete_s=0.0, question_s=0.15, incomplete_s=1.0, continuing_s=2.0)


class TestHangover:
    def test_a_complete_question_ends_fast_even_if_smart_turn_is_unsure(self) -> None:
        """'What time do you close?' ends after a short silence whatever smart-turn thought."""
        assert hangover("What time do you close on Saturday?", False, P).seconds == 0.15

    def test_smart_turn_complete_ends_at_once(self) -> None:
        """A statement smart-turn judged complete ends as soon as its transcript is in."""
        decision = hangover("I'd like to book a cleaning.", True, P)
        assert decision.seconds == 0.0 and decision.reason == "smart_turn_complete"

    def test_a_whole_request_smart_turn_doubted_ends_after_a_short_silence(self) -> None:
        """Words read as a whole request cut the doubted turn's wait to the understood-request silence;
        words that clearly go on still wait, understood or not."""
        decision = hangover("I'd like to book a cleaning.", False, P, understood=True)
        assert (decision.seconds, decision.reason) == (P.understood_s, "understood_request")
        assert hangover("I'd like to book a cleaning and", False, P, understood=True).seconds == 2.0
        assert hangover("I'd like to book a cleaning.", True, P, understood=True).seconds == 0.0
        short = HangoverParams(incomplete_s=0.1)
        assert hangover("I'd like to book a cleaning.", False, short, understood=True).seconds == 0.1

    def test_smart_turn_incomplete_waits_the_incomplete_hangover(self) -> None:
        """A statement smart-turn judged unfinished waits the configured incomplete silence."""
        assert hangover("I'd like to book a cleaning", False, P).seconds == 1.0

    def test_a_yes_or_an_okay_ends_at_once_even_if_smart_turn_is_unsure(self) -> None:
        """Smart-turn often calls a lone "Okay." unfinished; an acknowledgement ends the turn at once anyway.

        Measured: "Okay." said over the agent was judged incomplete in 3 of 6 calls, which held the
        agent silent a second longer before it went on (1.3 s instead of 0.7 s).
        """
        for said in ("Okay.", "Yes.", "Uh-huh.", "Yeah, right."):
            decision = hangover(said, False, P)
            assert decision.seconds == 0.0 and decision.reason == "acknowledgement", said
        assert hangover("Okay, so I wanted to ask", False, P).seconds == 1.0

    def test_a_part_read_phone_number_waits_longest_even_if_smart_turn_says_complete(self) -> None:
        """'my number is five five five' is going on: the caller is reading digits."""
        decision = hangover("My number is five five five.", True, P)
        assert decision.seconds == 2.0 and decision.reason.startswith("partial_number")

    def test_a_full_phone_number_is_not_held(self) -> None:
        """Ten digits read out is a whole number: no extra wait."""
        assert hangover("My number is 617 555 0100.", True, P).seconds == 0.0

    def test_a_hanging_word_waits_longest(self) -> None:
        """A turn ending on 'and' or 'my name is' is not over."""
        assert hangover("I need to cancel and", True, P).reason == "hanging_word:and"
        assert hangover("Hi, my name is", True, P).seconds == 2.0

    def test_no_words_waits_the_incomplete_hangover(self) -> None:
        """Without a transcript there is nothing to answer yet."""
        assert hangover("", True, P).reason == "no_words"


def test_trailing_digits_count_digit_words_and_numerals() -> None:
    """Digits at the end are counted whether Whisper wrote them as numerals or words."""
    assert trailing_digits("my number is five five five, oh one") == 5
    assert trailing_digits("call 617-555") == 6
    assert trailing_digits("no numbers here") == 0


def test_trailing_comma_means_continuing() -> None:
    """Whisper's trailing comma marks an unfinished clause."""
    assert is_continuing("So I was wondering,") == "trailing_comma"
    assert is_continuing("Thanks, bye.") is None
