"""UtteranceStream: pass cadence, interim partials, finals, stale results and buffer trimming."""

from __future__ import annotations

import numpy as np

from agent.speech.decoder import SAMPLE_RATE, AlignedWord, Pass
from agent.speech.streaming import StreamParams, UtteranceStream


def decoded(text: str, no_speech: float = 0.05) -> Pass:
    """A pass result as the decoder returns it."""
    return Pass(text, "en", 1.0, no_speech, -0.2, 1.0, 1000)


def seconds(s: float) -> np.ndarray:
    """`s` seconds of quiet noise at 16 kHz."""
    return np.full(int(s * SAMPLE_RATE), 0.01, np.float32)


class TestCadence:
    def test_no_pass_before_speech_starts(self) -> None:
        """Audio between utterances never triggers a pass; only the pre-roll is kept."""
        stream = UtteranceStream(StreamParams(step_s=0.5, preroll_s=0.6))
        stream.feed(seconds(3))
        assert stream.next_pass() is None
        stream.open()
        stream.feed(seconds(0.5))
        request = stream.next_pass()
        assert request is not None
        assert len(request.audio) == int(1.1 * SAMPLE_RATE)

    def test_no_preroll_keeps_nothing_from_before_speech(self) -> None:
        """With a zero pre-roll, audio before the VAD start is not decoded."""
        stream = UtteranceStream(StreamParams(step_s=0.5, preroll_s=0.0))
        stream.feed(seconds(2))
        stream.open()
        stream.feed(seconds(0.5))
        request = stream.next_pass()
        assert request is not None and len(request.audio) == int(0.5 * SAMPLE_RATE)

    def test_passes_come_every_step_of_new_audio(self) -> None:
        """A pass is due after each `step_s` of new speech, not on every frame."""
        stream = UtteranceStream(StreamParams(step_s=0.5))
        stream.open()
        stream.feed(seconds(0.3))
        assert stream.next_pass() is None
        stream.feed(seconds(0.3))
        assert stream.next_pass() is not None
        assert stream.next_pass() is None

    def test_a_quiet_pass_covers_everything_heard_and_restarts_the_cadence(self) -> None:
        """When the caller goes quiet a pass over all the audio so far is due at once (marked quiet), the
        next interim waits a whole step after it; none with nothing new or no utterance open."""
        stream = UtteranceStream(StreamParams(step_s=0.5, preroll_s=0.0))
        assert stream.quiet_pass() is None
        stream.open()
        stream.feed(seconds(0.7))
        assert stream.next_pass() is not None  # at 0.7 s
        stream.feed(seconds(0.2))
        quiet = stream.quiet_pass()
        assert quiet is not None and quiet.quiet and not quiet.final
        assert len(quiet.audio) == int(0.9 * SAMPLE_RATE) and quiet.end_sample == stream.total_samples
        assert stream.quiet_pass() is None  # nothing new since
        stream.feed(seconds(0.4))
        assert stream.next_pass() is None
        stream.feed(seconds(0.1))
        assert stream.next_pass() is not None
        stream.close()
        stream.feed(seconds(0.2))
        assert stream.quiet_pass() is None


class TestPartialsAndFinals:
    def test_partials_commit_what_two_passes_agree_on(self) -> None:
        """The second pass commits the shared words; later requests carry them for trimming."""
        stream = UtteranceStream(StreamParams(step_s=0.5), vocabulary="Harbor Dental.")
        stream.open()
        stream.feed(seconds(0.6))
        first = stream.next_pass()
        assert first is not None and first.committed == "" and first.prompt == "Harbor Dental."
        assert stream.apply(first, decoded("I'd like a")) is not None
        stream.feed(seconds(0.6))
        second = stream.next_pass()
        assert second is not None
        partial = stream.apply(second, decoded("I'd like an appointment"))
        assert partial is not None
        assert partial.committed == "I'd like" and partial.tentative == "an appointment"
        stream.feed(seconds(0.6))
        third = stream.next_pass()
        assert third is not None and third.committed == "I'd like"

    def test_final_is_the_final_pass_over_the_whole_utterance(self) -> None:
        """The final transcript is the last pass's words; partials show how it got there."""
        stream = UtteranceStream(StreamParams(step_s=0.5))
        stream.open()
        stream.feed(seconds(0.6))
        r1 = stream.next_pass()
        assert r1 is not None
        stream.apply(r1, decoded("I'd like"))
        stream.feed(seconds(0.6))
        r2 = stream.next_pass()
        assert r2 is not None
        stream.apply(r2, decoded("I'd like to book"))
        closing = stream.close()
        assert closing is not None and closing.final and closing.committed == "I'd like"
        final = stream.finish(closing, decoded("I'd like to book a cleaning."))
        assert final.text == "I'd like to book a cleaning."
        assert final.partials == ("I'd like", "I'd like to book")
        assert not stream.speaking

    def test_a_final_pass_that_repeats_its_sentence_keeps_it_once(self) -> None:
        """A decoding loop in the final pass ('Do you take…? Do you take…?') is collapsed."""
        stream = UtteranceStream(StreamParams(step_s=0.5))
        stream.open()
        for text in ("Do you take", "Do you take signatures?"):
            stream.feed(seconds(0.6))
            request = stream.next_pass()
            assert request is not None
            stream.apply(request, decoded(text))
        closing = stream.close()
        assert closing is not None
        final = stream.finish(closing, decoded("Do you take signatures? Do you take signatures?"))
        assert final.text == "Do you take signatures?"

    def test_final_after_close_is_prompted_with_earlier_utterances(self) -> None:
        """The next utterance's passes are prompted with what the caller said before."""
        stream = UtteranceStream(StreamParams(step_s=0.5))
        stream.open()
        stream.feed(seconds(0.6))
        closing = stream.close()
        assert closing is not None
        stream.finish(closing, decoded("This is John Smith."))
        stream.open()
        stream.feed(seconds(0.6))
        request = stream.next_pass()
        assert request is not None and request.prompt == "This is John Smith."

    def test_close_without_an_open_utterance_has_no_final(self) -> None:
        """A VAD stop with no utterance open asks for no pass."""
        assert UtteranceStream().close() is None

    def test_stale_result_from_a_closed_utterance_is_ignored(self) -> None:
        """An interim pass that returns after the utterance closed changes nothing."""
        stream = UtteranceStream(StreamParams(step_s=0.5))
        stream.open()
        stream.feed(seconds(0.6))
        request = stream.next_pass()
        assert request is not None
        stream.close()
        assert stream.apply(request, decoded("hello")) is None

    def test_audio_after_close_starts_a_fresh_buffer(self) -> None:
        """The next utterance does not carry the previous one's audio."""
        stream = UtteranceStream(StreamParams(step_s=0.5, preroll_s=0.6))
        stream.open()
        stream.feed(seconds(2))
        stream.close()
        stream.feed(seconds(0.1))
        stream.open()
        stream.feed(seconds(0.5))
        request = stream.next_pass()
        assert request is not None and len(request.audio) == int(0.6 * SAMPLE_RATE)


class TestGuards:
    def test_phantom_interim_is_not_committed(self) -> None:
        """A pass that looks like silence ('thanks for watching') commits nothing and clears the tail."""
        stream = UtteranceStream(StreamParams(step_s=0.5))
        stream.open()
        for _ in range(2):
            stream.feed(seconds(0.6))
            request = stream.next_pass()
            assert request is not None
            assert stream.apply(request, decoded("Thanks for watching!", no_speech=0.5)) is None

    def test_final_from_silence_is_empty_with_the_reason(self) -> None:
        """A final pass rejected by the guards gives no text and says why."""
        stream = UtteranceStream()
        stream.open()
        stream.feed(seconds(1))
        closing = stream.close()
        assert closing is not None
        final = stream.finish(closing, Pass("you", "en", 1.0, 0.9, -1.2, 0.5, 1000))
        assert final.text == "" and final.rejected is not None


class TestTrimming:
    def test_long_utterance_is_trimmed_at_the_committed_words(self) -> None:
        """Past `trim_s`, a pass also aligns the committed words and the buffer is cut where they end."""
        stream = UtteranceStream(StreamParams(step_s=0.5, trim_s=2.0, preroll_s=0.0))
        stream.open()
        stream.feed(seconds(1.0))
        r1 = stream.next_pass()
        assert r1 is not None and not r1.align
        stream.apply(r1, decoded("one two"))
        stream.feed(seconds(1.0))
        r2 = stream.next_pass()
        assert r2 is not None
        stream.apply(r2, decoded("one two three"))
        stream.feed(seconds(1.0))
        r3 = stream.next_pass()
        assert r3 is not None and r3.align and r3.committed == "one two"
        aligned = [AlignedWord("one", 0.5), AlignedWord("two", 1.0)]
        partial = stream.apply(r3, decoded("one two three four"), aligned)
        assert partial is not None and partial.committed == "one two three"
        stream.feed(seconds(0.5))
        r4 = stream.next_pass()
        assert r4 is not None
        assert r4.committed == "three"
        assert len(r4.audio) == int(2.5 * SAMPLE_RATE)
        assert r4.prompt == "one two"
        assert stream.apply(r4, decoded("three four five")) is not None
        closing = stream.close()
        assert closing is not None
        assert stream.finish(closing, decoded("three four five")).text == "one two three four five"
