"""EchoGate: inbound audio well below what we are playing is our own echo; the caller's voice is not."""

from __future__ import annotations

import numpy as np

from agent.telephony.echo import EchoGate, peak_level, rms


def tone(level: float, n: int = 160) -> bytes:
    """A 16-bit sine at roughly `level` RMS."""
    t = np.arange(n)
    return (np.sin(2 * np.pi * 440 * t / 8000) * level * np.sqrt(2)).astype("<i2").tobytes()


class TestEchoGate:
    def test_rms_measures_level(self) -> None:
        """A sine's RMS comes out near the level it was made at."""
        assert abs(rms(tone(1000, 800)) - 1000) < 20
        assert rms(b"") == 0.0

    def test_quiet_audio_while_we_play_is_echo(self) -> None:
        """A frame 15 dB below the chunk being played counts as echo."""
        gate = EchoGate(margin_db=10.0)
        gate.now_playing(3000.0)
        assert gate.is_echo(3000.0 * 10 ** (-15 / 20), at=1.0)
        assert gate.gated_frames == 1

    def test_the_caller_talking_over_us_is_not_echo(self) -> None:
        """A frame as loud as our playback passes: that is double talk, a real barge-in."""
        gate = EchoGate(margin_db=6.0)
        gate.now_playing(3000.0)
        assert not gate.is_echo(3000.0, at=1.0)

    def test_nothing_is_echo_when_we_are_silent(self) -> None:
        """With nothing played recently, every inbound frame is the caller."""
        gate = EchoGate()
        assert not gate.is_echo(100.0, at=5.0)

    def test_echo_tail_is_covered_after_playback_ends(self) -> None:
        """Audio that finished playing still gates echo for `window_s`, then stops."""
        gate = EchoGate(margin_db=6.0, window_s=0.5)
        gate.played(at=10.0, level=3000.0)
        gate.now_playing(0.0)
        assert gate.is_echo(800.0, at=10.3)
        assert not gate.is_echo(800.0, at=10.6)

    def test_once_the_caller_is_heard_their_quieter_syllables_pass_too(self) -> None:
        """After a frame louder than any echo, quieter frames pass for `hold_s` (so the VAD hears a word)."""
        gate = EchoGate(margin_db=10.0, hold_s=0.4)
        gate.now_playing(3000.0)
        assert not gate.is_echo(2500.0, at=1.0)
        assert not gate.is_echo(300.0, at=1.3)
        assert gate.is_echo(300.0, at=1.5)

    def test_chunk_level_is_its_loudest_frame(self) -> None:
        """A chunk's level for the gate is its loudest 20 ms, not its average."""
        chunk = tone(100, 640) + tone(4000, 160)
        assert peak_level(chunk) > 3900 > rms(chunk)

    def test_zero_margin_turns_the_gate_off(self) -> None:
        """margin_db 0 disables the gate."""
        gate = EchoGate(margin_db=0.0)
        gate.now_playing(3000.0)
        assert not gate.is_echo(10.0, at=1.0)
