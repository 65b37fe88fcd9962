"""EchoGate: inbound audio well below what we are playing is our own echo; the caller's voice is not."""

from __future__ import annotations

import numpy as np
import pytest

from agent.telephony.echo import (
    DELAYS,
    FRAME_S,
    LEARN_ABOVE,
    EchoGate,
    EchoPath,
    db,
    frame_levels,
    learn_echo_path,
    peak_level,
    rms,
)


def tone(level: float, n: int = 160) -> bytes:
    """A 16-bit sine at roughly `level` RMS."""
    t = np.arange(n)
    return (np.sin(2 * np.pi * 440 * t / 8000) * level * np.sqrt(2)).astype("<i2").tobytes()


def db_below(level: float, db: float) -> float:
    """`level` lowered by `db` decibels."""
    return level * 10 ** (-db / 20)


def speech_levels(n: int, level: float, seed: int = 0) -> list[float]:
    """A speech-like envelope: `n` frame levels varying over 30 dB around `level`."""
    rng = np.random.default_rng(seed)
    return [level * 10 ** (-rng.uniform(0, 30) / 20) for _ in range(n)]


def play_with_echo(
    gate: EchoGate, seconds: float, level: float, echo_db: float | None, delay_s: float = 0.08
) -> float:
    """Play `seconds` of speech-like audio in 100 ms chunks while the line returns it `echo_db` down.

    The echo arrives `delay_s` late; with `echo_db` None the line returns silence. Returns the end time.
    """
    levels = speech_levels(round(seconds / FRAME_S), level)
    t = 0.0
    for c in range(0, len(levels), 5):
        chunk = levels[c : c + 5]
        gate.now_playing(t, chunk)
        for k in range(5):
            at = t + k * FRAME_S
            source = round((at - delay_s) / FRAME_S)
            heard = levels[source] if echo_db is not None and source >= 0 else 0.0
            gate.is_echo(0.0 if echo_db is None else db_below(heard, echo_db), at=at)
        t += 0.1
        gate.played(t, chunk)
    gate.now_playing(None)
    return t


class TestLevels:
    def test_rms_measures_level(self) -> None:
        """A sine's RMS comes out near the level it was made at."""
        assert abs(rms(tone(1000, 800)) - 1000) < 20
        assert rms(b"") == 0.0

    def test_frame_levels_follow_the_envelope(self) -> None:
        """A chunk's frame levels follow its loudness 20 ms at a time; its peak is its loudest frame."""
        chunk = tone(100, 640) + tone(4000, 160)
        levels = frame_levels(chunk)
        assert len(levels) == 5
        assert levels[0] < 200 and levels[-1] > 3900
        assert peak_level(chunk) > 3900 > rms(chunk)


class TestBeforeLearning:
    def test_quiet_audio_while_we_play_is_echo(self) -> None:
        """A frame 15 dB below the chunk being played counts as echo."""
        gate = EchoGate(margin_db=10.0)
        gate.now_playing(0.9, [3000.0] * 5)
        assert gate.is_echo(db_below(3000.0, 15), at=1.0)
        assert gate.gated_frames == 1

    def test_the_caller_talking_over_us_is_not_echo(self) -> None:
        """A frame as loud as our playback passes: that is double talk, a real barge-in."""
        gate = EchoGate(margin_db=6.0)
        gate.now_playing(0.9, [3000.0] * 5)
        assert not gate.is_echo(3000.0, at=1.0)

    def test_nothing_is_echo_when_we_are_silent(self) -> None:
        """With nothing played recently, every inbound frame is the caller."""
        gate = EchoGate()
        assert not gate.is_echo(100.0, at=5.0)

    def test_echo_tail_is_covered_after_playback_ends(self) -> None:
        """Audio that finished playing still gates echo for `window_s`, then stops."""
        gate = EchoGate(margin_db=6.0, window_s=0.35)
        gate.played(at=10.0, levels=[3000.0] * 5)
        gate.now_playing(None)
        assert gate.is_echo(800.0, at=10.3)
        assert not gate.is_echo(800.0, at=10.5)

    def test_frames_not_yet_played_do_not_count(self) -> None:
        """Only the part of the playing chunk already played can echo: its loud end is not yet a reference."""
        chunk = [100.0, 100.0, 100.0, 3000.0, 3000.0]
        early, later = EchoGate(margin_db=10.0), EchoGate(margin_db=10.0)
        early.now_playing(1.0, chunk)
        later.now_playing(1.0, chunk)
        assert early.reference(1.03) == 100.0
        assert later.reference(1.07) == 3000.0
        assert later.is_echo(800.0, at=1.07)

    def test_once_the_caller_is_heard_their_quieter_syllables_pass_too(self) -> None:
        """After a frame louder than any echo, quieter frames pass for `hold_s` (so the VAD hears a word)."""
        gate = EchoGate(margin_db=10.0, hold_s=0.4)
        gate.now_playing(0.9, [3000.0] * 50)
        assert not gate.is_echo(2500.0, at=1.0)
        assert not gate.is_echo(2500.0, at=1.02)
        assert not gate.is_echo(300.0, at=1.3)
        assert gate.is_echo(300.0, at=1.5)

    def test_a_single_loud_frame_does_not_open_the_gate(self) -> None:
        """One frame above the echo threshold (a misplaced echo onset) is passed but holds nothing open."""
        gate = EchoGate(margin_db=10.0, open_frames=2)
        gate.now_playing(0.9, [3000.0] * 50)
        assert not gate.is_echo(2500.0, at=1.0)
        assert gate.is_echo(300.0, at=1.02)

    def test_zero_margin_turns_the_gate_off(self) -> None:
        """margin_db 0 disables the gate."""
        gate = EchoGate(margin_db=0.0)
        gate.now_playing(0.9, [3000.0] * 5)
        assert not gate.is_echo(10.0, at=1.0)


class TestLearnedEchoPath:
    def test_on_a_line_without_echo_a_quiet_answer_over_our_voice_passes(self) -> None:
        """After a few seconds of playback with no echo, a "yes" 12 dB below our voice is the caller.

        This is the answer said over the agent's next words that a fixed 10 dB margin silenced.
        """
        gate = EchoGate(margin_db=10.0)
        end = play_with_echo(gate, 3.0, 3000.0, echo_db=None)
        assert gate.path is not None and gate.path.loss_db < -40
        gate.now_playing(end, [3000.0] * 5)
        assert not gate.is_echo(db_below(3000.0, 12), at=end + 0.04)
        assert gate.gated_frames == 0

    def test_on_an_echoing_line_the_delay_and_loss_are_learned(self) -> None:
        """A line returning our voice 15 dB down, 80 ms late, is learned as such; its echo stays gated."""
        gate = EchoGate(margin_db=10.0)
        play_with_echo(gate, 3.0, 3000.0, echo_db=15)
        assert gate.path is not None
        assert gate.path.delay_s == pytest.approx(0.08)
        assert gate.path.loss_db == pytest.approx(-15, abs=0.5)
        assert gate.threshold_db() == pytest.approx(-9, abs=0.5)
        assert gate._caller_until < 0  # no echo frame was ever taken for the caller

    def test_on_an_echoing_line_the_caller_still_barges_in(self) -> None:
        """On the echoing line, the caller speaking 6 dB under our voice still passes."""
        gate = EchoGate(margin_db=10.0)
        end = play_with_echo(gate, 3.0, 3000.0, echo_db=15)
        gate.now_playing(end, [3000.0] * 5)
        assert not gate.is_echo(db_below(3000.0, 6), at=end + 0.1)

    def test_caller_speech_does_not_unlearn_a_found_echo(self) -> None:
        """Once an echo path is found, seconds of the caller talking alone do not make it "no echo"."""
        gate = EchoGate(margin_db=10.0)
        end = play_with_echo(gate, 3.0, 3000.0, echo_db=15)
        for k, level in enumerate(speech_levels(150, 3000.0, seed=1)):
            gate.is_echo(level, at=end + k * FRAME_S)
        assert gate.path is not None and gate.path.loss_db == pytest.approx(-15, abs=0.5)

    def test_a_loud_echo_never_lowers_the_bar_below_min_margin(self) -> None:
        """On a line echoing us only 2 dB down, frames within `min_margin_db` of us still pass."""
        gate = EchoGate(margin_db=10.0, min_margin_db=6.0)
        end = play_with_echo(gate, 3.0, 3000.0, echo_db=2)
        assert gate.threshold_db() == -6.0
        gate.now_playing(end, [3000.0] * 5)
        assert not gate.is_echo(db_below(3000.0, 5), at=end + 0.1)


def frame_by_frame(inbound: list[tuple[float, float]], played: dict[int, float]) -> EchoPath | None:
    """The echo path read one frame and one delay at a time (what `learn_echo_path` computes as arrays)."""
    best: EchoPath | None = None
    for delay in DELAYS:
        losses = []
        for t, level in inbound:
            ref = played.get(round((t - delay) / FRAME_S), 0.0)
            if ref >= LEARN_ABOVE:
                losses.append(db(level) - db(ref))
        if len(losses) < 40:
            continue
        median = float(np.median(losses))
        spread = float(np.median(np.abs(np.array(losses) - median)))
        if best is None or spread < best.spread_db:
            best = EchoPath(delay, median, spread)
    return best


class TestLearning:
    @pytest.mark.parametrize("seed", range(6))
    def test_the_array_reading_finds_the_same_path_as_frame_by_frame(self, seed: int) -> None:
        """On random playback echoed at a random delay and loss (jittered clocks), both readings agree."""
        rng = np.random.default_rng(seed)
        start = rng.uniform(0, 100)
        played = {round(start / FRAME_S) + k: float(rng.uniform(0, 4000)) for k in range(200)}
        delay = int(rng.integers(0, 20))
        inbound = [
            (
                (slot + delay) * FRAME_S + rng.uniform(-0.004, 0.004),
                level * 10 ** (-rng.uniform(10, 20) / 20) + rng.uniform(0, 30),
            )
            for slot, level in list(played.items())[-150:]
        ]
        expected = frame_by_frame(inbound, played)
        found = learn_echo_path(inbound, played)
        assert expected is not None and found is not None
        assert found.delay_s == expected.delay_s == DELAYS[delay]
        assert found.loss_db == pytest.approx(expected.loss_db)
        assert found.spread_db == pytest.approx(expected.spread_db)

    def test_nothing_audible_played_learns_nothing(self) -> None:
        """Without playback above the learning level there is no path to learn."""
        inbound = [(k * FRAME_S, 1000.0) for k in range(150)]
        assert learn_echo_path(inbound, {k: 100.0 for k in range(150)}) is None
        assert learn_echo_path(inbound, {}) is None
