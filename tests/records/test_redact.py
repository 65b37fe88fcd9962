"""Card-like numbers are cut from stored text; other numbers are kept."""

from __future__ import annotations

from agent.records.redact import (
    DIGITS_REDACTED,
    REDACTED,
    RedactedTurn,
    luhn_valid,
    redact_cards,
    redact_turn,
    redact_value,
)


class TestRedactCards:
    def test_spaced_dashed_and_plain_card_numbers_are_removed(self) -> None:
        """16-digit Visa (spaced), 15-digit Amex (dashed) and a plain 16-digit Mastercard are redacted."""
        text = "visa 4111 1111 1111 1111, amex 3782-822463-10005, mc 5500005555555559."
        assert redact_cards(text) == f"visa {REDACTED}, amex {REDACTED}, mc {REDACTED}."

    def test_numbers_failing_the_luhn_check_are_kept(self) -> None:
        """A 16-digit number whose checksum is wrong is not a card number."""
        assert redact_cards("order 4111 1111 1111 1112") == "order 4111 1111 1111 1112"

    def test_phone_numbers_and_short_numbers_are_kept(self) -> None:
        """Phone numbers (10–11 digits) and amounts are left alone."""
        text = "call me on 617 555 0100 or +1 617-555-0100 about the $120 cleaning"
        assert redact_cards(text) == text

    def test_too_long_digit_runs_are_not_cut_into_a_card(self) -> None:
        """A 20-digit run is not a card number, even though 16 of its digits might pass the check."""
        assert redact_cards("ref 41111111111111110000") == "ref 41111111111111110000"

    def test_nested_values_are_redacted(self) -> None:
        """Partials (lists of dicts) are redacted string by string."""
        value = [{"text": "it's 4111111111111111", "at_s": 1.0}]
        assert redact_value(value) == [{"text": f"it's {REDACTED}", "at_s": 1.0}]

    def test_luhn(self) -> None:
        """The Luhn check accepts valid card numbers and rejects a changed digit."""
        assert luhn_valid("79927398713") and not luhn_valid("79927398710")

    def test_card_groups_separated_by_commas_or_full_stops_are_removed(self) -> None:
        """Speech-to-text writes a card read in groups as '4111, 1111, …' or as sentences; both are cut."""
        assert redact_cards("it's 4111, 1111, 1111, 1111, thanks") == f"it's {REDACTED}, thanks"
        assert redact_cards("4111 1111. 1111 1111.") == f"{REDACTED}."

    def test_a_card_after_a_stray_digit_is_still_found(self) -> None:
        """A digit said just before a card does not hide it: any 13–19 digits of consecutive groups count."""
        assert redact_cards("option 2 4111 1111 1111 1111") == f"option {REDACTED}"


def partial(text: str, final: bool = False) -> dict[str, object]:
    """A partial transcript as the recorder stores it."""
    return {"at_s": 1.0, "text": text, **({"final": True} if final else {})}


def digits_left(turn: RedactedTurn) -> str:
    """Every digit still anywhere in a redacted turn."""
    strings = [turn.text, turn.heard_text or "", *(str(p["text"]) for p in turn.partials or [])]
    return "".join(ch for s in strings for ch in s if ch.isdigit())


class TestRedactTurn:
    def test_a_card_split_across_finals_is_cut_from_the_text_and_every_partial(self) -> None:
        """Two finals of 8 digits each make a card in the turn's text: neither final keeps its half."""
        partials = [
            partial("my card is 4111"),
            partial("my card is 4111 1111.", final=True),
            partial("1111"),
            partial("1111 1111.", final=True),
        ]
        turn = redact_turn("my card is 4111 1111. 1111 1111.", partials)
        assert digits_left(turn) == "" and turn.text == f"my card is {REDACTED}."
        assert [p["text"] for p in turn.partials or []][1] == f"my card is {DIGITS_REDACTED}."
        assert [p.get("final") for p in turn.partials or []] == [None, True, None, True]

    def test_growing_hypotheses_lose_the_fragments_the_final_completed(self) -> None:
        """Each interim is the hypothesis so far: its first 4, 8 or 12 digits of the card go too."""
        partials = [
            partial("my card is 4111"),
            partial("my card is 4111 1111 1111"),
            partial("my card is 4111 1111 1111 1111", final=True),
        ]
        turn = redact_turn("my card is 4111 1111 1111 1111", partials)
        assert digits_left(turn) == ""
        assert [p["text"] for p in turn.partials or []][:2] == [f"my card is {DIGITS_REDACTED}"] * 2

    def test_a_card_split_between_hypotheses_with_no_final_between_is_found(self) -> None:
        """A hypothesis that was never finalized, then a new one: read together they hold a card."""
        partials = [partial("it's 4111 1111 1111"), partial("1111 thanks"), partial("1111 thanks", True)]
        turn = redact_turn("1111 thanks", partials)
        assert digits_left(turn) == "" and turn.text == f"{DIGITS_REDACTED} thanks"

    def test_a_card_only_an_interim_heard_clears_the_final_too(self) -> None:
        """An interim heard the whole card and the final misheard a digit: the final's digits go as well."""
        partials = [partial("4111 1111 1111 1111"), partial("4111 1111 1111 1112", final=True)]
        turn = redact_turn("4111 1111 1111 1112", partials)
        assert digits_left(turn) == "" and turn.text == DIGITS_REDACTED

    def test_the_rest_of_a_turn_that_gave_a_card_loses_its_digits(self) -> None:
        """Expiry and security code said with the card go too; the words around them stay."""
        turn = redact_turn("card 4111 1111 1111 1111 expires 12 27 code 123")
        assert turn.text == f"card {REDACTED} expires {DIGITS_REDACTED} code {DIGITS_REDACTED}"

    def test_a_turn_without_a_card_keeps_its_numbers_and_partials(self) -> None:
        """A phone number read out in growing hypotheses, and a time, are stored as said."""
        partials = [
            partial("call me on 617"),
            partial("call me on 617 555"),
            partial("call me on 617 555 0100 at 10:30", final=True),
            partial("or 4 pm.", final=True),
        ]
        text = "call me on 617 555 0100 at 10:30 or 4 pm."
        turn = redact_turn(text, partials, heard_text=None)
        assert turn.text == text and turn.partials == partials and turn.heard_text is None

    def test_an_agent_turn_that_read_a_card_back_loses_it_from_its_heard_text(self) -> None:
        """The heard part of a reply is redacted with its text: a cut-off read-back keeps no fragment."""
        turn = redact_turn("I have 4111 1111 1111 1111, is that right?", heard_text="I have 4111 1111")
        assert turn.heard_text == f"I have {DIGITS_REDACTED}" and digits_left(turn) == ""
