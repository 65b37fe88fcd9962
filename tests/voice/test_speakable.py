"""speakable(): reply text rewritten so a voice reads numbers, times, money and abbreviations correctly."""

from __future__ import annotations

import pytest

from agent.config import EMBEDDED
from agent.speech.wer import normalise
from agent.speech.whisper import EMBEDDED_BASE, load_whisper, transcribe
from agent.telephony.codec import StreamResampler
from agent.voice.piper import load_piper, synthesize_pcm
from agent.voice.speakable import say_clock, speakable


class TestSpeakable:
    @pytest.mark.parametrize(
        ("text", "said"),
        [
            ("Call 617-555-0100.", "Call six one seven, five five five, zero one zero zero."),
            ("(617) 555-0100", "six one seven, five five five, zero one zero zero"),
            ("+1 617 555 0100", "six one seven, five five five, zero one zero zero"),
            ("or 555-0199.", "or five five five, zero one nine nine."),
        ],
    )
    def test_phone_numbers_are_read_digit_by_digit_in_groups(self, text: str, said: str) -> None:
        """Phone numbers come out digit by digit in their usual groups, never as hundreds."""
        assert speakable(text) == said

    @pytest.mark.parametrize(
        ("text", "said"),
        [
            ("before 5:30 pm.", "before five thirty p.m."),
            ("at 9 a.m. Tomorrow", "at nine a.m. Tomorrow"),
            ("until 12 p.m. sharp", "until noon sharp"),
            ("at 17:00", "at five p.m."),
            ("at 8:05 am", "at eight oh five a.m."),
            ("Mon–Fri 8:30 am–5 pm", "Monday to Friday eight thirty a.m. to five p.m."),
            ("Open 9-5", "Open nine to five"),
        ],
    )
    def test_times_are_said_as_a_receptionist_says_them(self, text: str, said: str) -> None:
        """Clock times, 24-hour times and ranges become words; a sentence ending in 'p.m.' still ends."""
        assert speakable(text) == said

    @pytest.mark.parametrize(
        ("text", "said"),
        [
            ("$120", "one hundred and twenty dollars"),
            ("$1", "one dollar"),
            ("$45.50", "forty-five dollars and fifty cents"),
            ("$1,200", "one thousand two hundred dollars"),
            ("20% off", "twenty percent off"),
        ],
    )
    def test_money_and_percentages_have_their_units(self, text: str, said: str) -> None:
        """Money is said with dollars and cents; percentages with 'percent'; no stray commas."""
        assert speakable(text) == said

    @pytest.mark.parametrize(
        ("text", "said"),
        [
            ("Dr. Lee is in.", "Doctor Lee is in."),
            ("at 12 Main St, Suite 4", "at twelve Main Street, Suite four"),
            ("Ste 200", "Suite two hundred"),
            ("closed Dec 24 and December 31.", "closed December twenty-fourth and December thirty-first."),
            ("the 1st and 22nd", "the first and twenty-second"),
            ("Sat-Sun", "Saturday to Sunday"),
            ("e.g. fillings & crowns", "for example fillings and crowns"),
            ("we answer 24/7", "we answer twenty-four seven"),
        ],
    )
    def test_abbreviations_and_dates_are_expanded(self, text: str, said: str) -> None:
        """Titles, street words, months, weekdays, ordinals and common abbreviations are said in full."""
        assert speakable(text) == said

    @pytest.mark.parametrize(
        ("text", "said"),
        [
            ("Account 1234567", "Account one two three four five six seven"),
            ("zip 02139", "zip zero two one three nine"),
            ("since 1998", "since nineteen ninety-eight"),
            ("3.5 stars", "three point five stars"),
            ("room 12", "room twelve"),
        ],
    )
    def test_other_numbers(self, text: str, said: str) -> None:
        """Long digit strings are read digit by digit, years as years, decimals with 'point'."""
        assert speakable(text) == said

    def test_other_languages_are_left_as_written(self) -> None:
        """Only English is rewritten: a Spanish reply reaches the voice unchanged."""
        assert speakable("Abrimos a las 9:30.", "es") == "Abrimos a las 9:30."

    def test_text_without_numbers_is_unchanged(self) -> None:
        """Plain sentences pass through untouched, punctuation included."""
        text = "Sure, I can take a message. What's your name?"
        assert speakable(text) == text

    def test_noon_and_midnight(self) -> None:
        """Twelve o'clock is 'noon' or 'midnight' when the meridiem says which."""
        assert say_clock(12, 0, "p") == "noon"
        assert say_clock(0, 0, "a") == "midnight"


@pytest.mark.models
def test_the_stock_voice_reads_a_rewritten_phone_number_back_correctly() -> None:
    """Piper speaking the rewritten reply is transcribed by Whisper base with every digit of the number."""
    voice = load_piper(EMBEDDED)
    whisper = load_whisper(EMBEDDED_BASE)
    text = speakable("Your number is 617-555-0142, and we open at 9:30 am.")
    resampler = StreamResampler(voice.config.sample_rate, 16000)
    pcm = b"".join(resampler.process(chunk) for chunk in synthesize_pcm(voice, text)) + resampler.flush()
    heard = transcribe(whisper, pcm, language="en").text
    assert " ".join(normalise("six one seven five five five zero one four two")) in " ".join(
        normalise(heard)
    ), heard
