"""Card-like numbers are cut from stored text; other numbers are kept."""

from __future__ import annotations

from agent.records.redact import REDACTED, luhn_valid, redact_cards, redact_value


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
