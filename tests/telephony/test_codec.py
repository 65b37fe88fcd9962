"""μ-law bit-exactness with audioop and the streaming resampler's continuity, delay and filtering."""

from __future__ import annotations

import audioop

import numpy as np
import pytest

from agent.telephony.codec import StreamResampler, ulaw_decode, ulaw_encode


class TestUlaw:
    def test_encode_matches_audioop_on_every_int16(self) -> None:
        """Encoding every 16-bit value gives exactly audioop.lin2ulaw's codes."""
        pcm = np.arange(-32768, 32768, dtype="<i2").tobytes()
        assert ulaw_encode(pcm) == audioop.lin2ulaw(pcm, 2)

    def test_decode_matches_audioop_on_every_code(self) -> None:
        """Decoding all 256 codes gives exactly audioop.ulaw2lin's samples."""
        codes = bytes(range(256))
        assert ulaw_decode(codes) == audioop.ulaw2lin(codes, 2)

    def test_round_trip_error_is_within_one_quantisation_step(self) -> None:
        """Encode then decode stays within μ-law's step size (about 3 % of the value)."""
        x = (np.linspace(-1, 1, 4001) * 30000).astype("<i2")
        y = np.frombuffer(ulaw_decode(ulaw_encode(x.tobytes())), dtype="<i2").astype(float)
        assert np.all(np.abs(y - x) <= np.maximum(8, 0.035 * np.abs(x)))


def _tone(rate: int, hz: float, seconds: float = 1.0, amp: float = 8000.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * hz * t)).astype("<i2")


RATES = [(8000, 16000), (16000, 8000), (22050, 8000), (24000, 8000), (44100, 8000)]


class TestStreamResampler:
    @pytest.mark.parametrize(("rate_in", "rate_out"), RATES)
    def test_chunked_output_equals_whole_output(self, rate_in: int, rate_out: int) -> None:
        """Feeding 20 ms chunks gives the same samples as resampling the whole signal at once."""
        x = _tone(rate_in, 440)
        whole = StreamResampler(rate_in, rate_out).process(x.tobytes())
        r = StreamResampler(rate_in, rate_out)
        step = rate_in // 50
        chunked = b"".join(r.process(x[i : i + step].tobytes()) for i in range(0, len(x), step))
        assert chunked == whole
        assert len(whole) // 2 == rate_out

    @pytest.mark.parametrize(("rate_in", "rate_out"), RATES)
    def test_delay_is_under_ten_ms(self, rate_in: int, rate_out: int) -> None:
        """An impulse comes out within 10 ms, as the filter's stated group delay says."""
        x = np.zeros(rate_in // 10, dtype="<i2")
        x[rate_in // 20] = 30000
        r = StreamResampler(rate_in, rate_out)
        y = np.frombuffer(r.process(x.tobytes()) + r.flush(), dtype="<i2").astype(float)
        peak_s = int(np.argmax(np.abs(y))) / rate_out
        delay = peak_s - (rate_in // 20) / rate_in
        assert 0 <= delay <= 0.010
        assert abs(delay - r.delay_seconds) <= 1.5 / rate_out

    @pytest.mark.parametrize(("rate_in", "rate_out"), RATES)
    def test_passband_tone_keeps_its_level(self, rate_in: int, rate_out: int) -> None:
        """A 1 kHz tone comes out at the same level (within 0.5 dB)."""
        y = np.frombuffer(StreamResampler(rate_in, rate_out).process(_tone(rate_in, 1000).tobytes()), "<i2")
        rms_in = 8000 / np.sqrt(2)
        rms_out = np.sqrt(np.mean(y[rate_out // 10 :].astype(float) ** 2))
        assert abs(20 * np.log10(rms_out / rms_in)) < 0.5

    @pytest.mark.parametrize(("rate_in", "hz"), [(22050, 6000), (24000, 7000), (16000, 5500)])
    def test_tones_above_phone_band_are_rejected(self, rate_in: int, hz: float) -> None:
        """Energy that would alias into an 8 kHz stream is attenuated by at least 45 dB."""
        y = np.frombuffer(StreamResampler(rate_in, 8000).process(_tone(rate_in, hz).tobytes()), "<i2")
        rms_out = np.sqrt(np.mean(y[800:].astype(float) ** 2)) + 1e-9
        assert 20 * np.log10(rms_out / (8000 / np.sqrt(2))) < -45

    def test_reset_forgets_history(self) -> None:
        """After reset, output matches a fresh resampler's."""
        r = StreamResampler(22050, 8000)
        r.process(_tone(22050, 300).tobytes())
        r.reset()
        x = _tone(22050, 700, 0.2)
        assert r.process(x.tobytes()) == StreamResampler(22050, 8000).process(x.tobytes())
