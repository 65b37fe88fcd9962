"""One Whisper pass over a short window: same words as the 30 s window, prefix forcing, loop guards."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agent.models import Models
from agent.simulate import read_wav_as_ulaw, ulaw_to_pcm16k
from agent.speech import decoder
from agent.speech.decoder import SAMPLE_RATE, collapse_repeats, max_new_tokens, window_frames


def phone_audio(path: Path) -> np.ndarray:
    """A test utterance as the server hears it: through 8 kHz μ-law, back at 16 kHz float."""
    pcm = ulaw_to_pcm16k(read_wav_as_ulaw(path))
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


class TestWindow:
    def test_window_is_the_audio_plus_a_second_within_bounds(self) -> None:
        """The encoder window covers the audio plus 1 s, never under 10 s nor over 30 s."""
        assert window_frames(200) == 1000
        assert window_frames(1250) == 1400
        assert window_frames(5000) == 3000
        assert window_frames(200, full_window=True) == 3000

    def test_output_is_capped_by_the_audio_length(self) -> None:
        """A one-second clip may produce a few words, not a paragraph."""
        assert max_new_tokens(1.0) == 14
        assert max_new_tokens(60.0) == decoder.MAX_NEW_TOKENS


class TestCollapseRepeats:
    def test_repeated_sentences_collapse_to_one(self) -> None:
        """A decoding loop that says the sentence again and again keeps it once."""
        looped = "What time do you open? What time do you open? What time do you open? What ti"
        assert collapse_repeats(looped) == "What time do you open?"

    def test_repeated_digits_are_kept(self) -> None:
        """'five five five' is a phone number, not a loop."""
        said = "My number is five five five, one two."
        assert collapse_repeats(said) == said

    def test_repeated_phrase_without_punctuation_collapses(self) -> None:
        """A three-word run said twice in a row is kept once."""
        assert collapse_repeats("book a cleaning book a cleaning please") == "book a cleaning please"


class TestDecode:
    def test_short_window_hears_what_the_full_window_hears(self, models: Models, speech_dir: Path) -> None:
        """Encoding only the audio plus padding gives the transcript the 30 s window gives."""
        audio = phone_audio(speech_dir / "long.wav")
        short = decoder.decode(models.whisper, audio)
        full = decoder.decode(models.whisper, audio, full_window=True)
        assert short.window_frames < full.window_frames == 3000
        assert short.text.lower().split()[:8] == full.text.lower().split()[:8]
        assert "cleaning" in short.text.lower()

    def test_forced_prefix_returns_only_the_continuation(self, models: Models, speech_dir: Path) -> None:
        """With the first words forced, the pass returns what follows them."""
        audio = phone_audio(speech_dir / "long.wav")
        whole = decoder.decode(models.whisper, audio).text.split()
        rest = decoder.decode(models.whisper, audio, prefix=" ".join(whole[:4])).text.split()
        assert rest and rest[0].lower().strip(",.") == whole[4].lower().strip(",.")

    def test_silence_scores_as_no_speech(self, models: Models) -> None:
        """A second of silence comes back with a high no-speech probability."""
        result = decoder.decode(models.whisper, np.zeros(SAMPLE_RATE, np.float32))
        assert result.no_speech_prob > 0.5

    def test_multilingual_model_detects_the_language(self, models: Models, speech_dir: Path) -> None:
        """The multilingual base model reports English, with its confidence, on English speech."""
        assert models.whisper_detail is not None
        result = decoder.decode(models.whisper_detail, phone_audio(speech_dir / "long.wav"))
        assert result.language == "en" and result.language_probability > 0.5

    def test_align_places_each_word_inside_the_audio_in_order(self, models: Models, speech_dir: Path) -> None:
        """Alignment gives non-decreasing word end times within the clip."""
        audio = phone_audio(speech_dir / "long.wav")
        words = decoder.align(models.whisper, audio, "I would like to book a cleaning")
        ends = [w.end for w in words]
        assert len(words) >= 7
        assert ends == sorted(ends) and 0 < ends[-1] < len(audio) / SAMPLE_RATE
