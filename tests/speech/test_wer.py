"""Word error rate: normalisation of numbers, times and spellings, and the edit counts of the alignment."""

from __future__ import annotations

import pytest

from agent.speech.wer import NO_ERRORS, WerResult, align, normalise, word_error_rate


def same(*texts: str) -> bool:
    first = normalise(texts[0])
    return all(normalise(t) == first for t in texts[1:])


class TestNormalise:
    def test_case_and_punctuation_are_dropped(self) -> None:
        """Upper-case letters are lowered and punctuation goes; apostrophes join their word."""
        assert normalise("Hi! I'd like a Cleaning, please.") == [
            "hi",
            "id",
            "like",
            "a",
            "cleaning",
            "please",
        ]

    def test_digit_runs_become_one_word_per_digit(self) -> None:
        """Each digit of a written number becomes its own digit word."""
        assert normalise("Room 42") == ["room", "four", "two"]

    def test_phone_numbers_agree_however_they_are_grouped(self) -> None:
        """'five five five, 0134', '555 0134', '5550134' and '555-0134' give the same words."""
        assert same(
            "five five five, 0134", "555 0134", "5550134", "555-0134", "five five five oh one three four"
        )

    def test_digit_words_of_a_spoken_number_match_its_digits(self) -> None:
        """'oh' and 'o' next to numbers are zero; 'double'/'triple' repeat the next digit."""
        assert same("617-555-0100", "six one seven, five five five, oh one double oh")
        assert same("555 0111", "double five five, zero triple one")

    def test_number_words_are_read_as_numbers(self) -> None:
        """Tens and units, hundreds and thousands combine as they are said."""
        assert same("23", "twenty three", "twenty-three")
        assert same("120 dollars", "$120", "one hundred twenty dollars", "a hundred and twenty dollars")
        assert same("2100", "twenty one hundred")
        assert same("2300", "two thousand three hundred")
        assert same("1986", "nineteen eighty six")
        assert same("0100", "zero one hundred")

    def test_a_number_said_in_groups_matches_its_digits(self) -> None:
        """'five fifty five' is 555, and 'two thirty' is 2:30."""
        assert same("555", "five fifty five")
        assert same("2:30", "two thirty")

    def test_times_agree_in_every_written_form(self) -> None:
        """'2:30 pm', 'two thirty p.m.', '2.30pm', 'half past two PM' and 'two thirty p m' are equal."""
        assert same("2:30 pm", "two thirty p.m.", "2.30pm", "half past two PM", "two thirty p m", "2:30 P.M.")

    def test_quarter_past_and_to_become_minutes(self) -> None:
        """'(a) quarter to eleven' is 10:45 and 'quarter past nine' is 9:15."""
        assert same("at 10:45", "at a quarter to eleven", "at quarter to 11")
        assert same("9:15", "quarter past nine")

    def test_whole_hours_drop_o_clock_and_zero_minutes(self) -> None:
        """'two o'clock', '2:00', '2 o'clock' and 'two' are the same."""
        assert same("two o'clock", "2:00", "2 o'clock", "two")
        assert same("2:00pm", "two p.m.", "2 PM", "2pm")

    def test_am_and_pm_are_one_word(self) -> None:
        """'a.m.', 'AM', 'a m' after a number, and 'am' are all 'am'."""
        assert normalise("9 a.m.")[-1] == "am"
        assert same("9 AM", "nine a m", "9am", "nine a.m.", "9a.m.")

    def test_ordinals_read_as_their_number(self) -> None:
        """'14th' and 'fourteenth', '22nd' and 'twenty second', '3rd' and 'third' agree."""
        assert same("March 14th", "march fourteenth")
        assert same("the 22nd of April", "the twenty second of april")
        assert same("the 3rd", "the third")

    def test_spelled_letters_are_separate_words(self) -> None:
        """A name spelled with hyphens, commas, spaces or dots gives one word per letter."""
        assert normalise("J-O-H-N") == ["j", "o", "h", "n"]
        assert same("J-O-H-N", "J, O, H, N", "J O H N", "J.O.H.N.")

    def test_letter_o_between_letters_stays_a_letter(self) -> None:
        """Only an 'o' beside a number reads as zero."""
        assert normalise("S-O-N") == ["s", "o", "n"]

    def test_titles_and_okay_have_one_spelling(self) -> None:
        """'Dr.' is 'doctor', 'OK' is 'okay'."""
        assert same("Dr. Lee, OK", "doctor lee okay")

    def test_other_words_with_numbers_around_them_are_kept(self) -> None:
        """'and' stays a word unless it sits inside a number ('a hundred and five')."""
        assert normalise("five and six") == ["five", "and", "six"]
        assert normalise("double trouble") == ["double", "trouble"]


class TestWordErrorRate:
    def test_identical_texts_have_no_errors(self) -> None:
        """A transcript equal to its reference scores 0."""
        result = word_error_rate("Do you take Delta Dental?", "do you take delta dental")
        assert result == WerResult(0, 0, 0, 5)
        assert result.wer == 0.0

    def test_substitution_deletion_and_insertion_are_counted(self) -> None:
        """Each kind of edit is counted separately and WER is errors over reference words."""
        assert align(["a", "b", "c"], ["a", "x", "c"]) == WerResult(1, 0, 0, 3)
        assert align(["a", "b", "c"], ["a", "c"]) == WerResult(0, 1, 0, 3)
        assert align(["a", "b", "c"], ["a", "b", "c", "d"]) == WerResult(0, 0, 1, 3)
        assert align(["a", "b", "c", "d"], ["x", "a", "b", "d"]).wer == pytest.approx(0.5)

    def test_alignment_is_minimal(self) -> None:
        """A shifted word costs one deletion and one insertion, not a run of substitutions."""
        result = align(["a", "b", "c", "d", "e"], ["b", "c", "d", "e", "f"])
        assert result.errors == 2
        assert (result.deletions, result.insertions) == (1, 1)

    def test_dropped_repeated_digit_is_one_deletion(self) -> None:
        """'555' heard as '55' costs exactly one deletion over the number's seven digit words."""
        result = word_error_rate("617-555-0134", "617-55-0134")
        assert result == WerResult(0, 1, 0, 10)

    def test_digit_groups_said_or_written_score_perfect(self) -> None:
        """A phone number written in digit groups scores 0 against the same number said digit by digit."""
        assert (
            word_error_rate(
                "My number is 617-555-0134.", "My number is six one seven, five five five, oh one three four"
            ).wer
            == 0
        )

    def test_empty_reference_counts_insertions(self) -> None:
        """Words from nothing are insertions; nothing from nothing is perfect."""
        assert word_error_rate("", "thanks for watching") == WerResult(0, 0, 3, 0)
        assert word_error_rate("", "").wer == 0.0
        assert word_error_rate("", "you").wer == 1.0

    def test_results_pool_over_a_corpus(self) -> None:
        """Adding results sums edits and reference words, so the sum's WER is corpus WER."""
        total = sum([WerResult(1, 0, 0, 4), WerResult(0, 1, 1, 6)], NO_ERRORS)
        assert total == WerResult(1, 1, 1, 10)
        assert total.wer == pytest.approx(0.3)


def test_a_compound_written_apart_is_not_an_error() -> None:
    """'callback' against 'call back' (and back) scores no errors; a real extra word still counts."""
    assert word_error_rate("my callback number", "my call back number").wer == 0
    assert word_error_rate("please call back later", "please callback later").wer == 0
    assert word_error_rate("call me back", "call me right back").insertions == 1
