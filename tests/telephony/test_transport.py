"""TwilioOutput: agent audio goes out as μ-law media with marks, a piece at a time."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from pipecat.frames.frames import OutputAudioRawFrame
from pipecat.tests.utils import run_test

from agent.telephony import transport
from agent.telephony.codec import StreamResampler, ulaw_encode
from agent.telephony.transport import MARK_EVERY_MS, PHONE_RATE, SEND_PIECE_MS, TwilioOutput

RATE = 22050  # the stock Piper voice's


async def test_a_sentence_in_one_frame_is_sent_from_its_first_piece_on_without_a_seam(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A 2.5 s TTS frame: the first media message leaves with at most SEND_PIECE_MS of the frame
    resampled, every message holds at most one mark's worth of audio, and the bytes are those of
    resampling the frame at once."""
    resampled: list[int] = []

    class Counting(StreamResampler):
        def process(self, pcm: bytes) -> bytes:
            resampled.append(len(pcm) // 2)
            return super().process(pcm)

    monkeypatch.setattr(transport, "StreamResampler", Counting)
    sent: list[dict[str, object]] = []
    seen_at_first_media: list[int] = []

    async def send(text: str) -> None:
        message = json.loads(text)
        if message["event"] == "media" and not seen_at_first_media:
            seen_at_first_media.append(sum(resampled))
        sent.append(message)

    rng = np.random.default_rng(7)
    pcm = (rng.standard_normal(int(2.5 * RATE)) * 3000).astype("<i2").tobytes()
    out = TwilioOutput(send, "MZ" + "0" * 32)
    await run_test(out, frames_to_send=[OutputAudioRawFrame(pcm, RATE, 1)])
    media = [base64.b64decode(m["media"]["payload"]) for m in sent if m["event"] == "media"]  # type: ignore[index]
    assert seen_at_first_media[0] <= RATE * SEND_PIECE_MS // 1000
    assert max(len(chunk) for chunk in media) <= PHONE_RATE * MARK_EVERY_MS // 1000
    assert b"".join(media) == ulaw_encode(StreamResampler(RATE, PHONE_RATE).process(pcm))
    assert sum(m["event"] == "mark" for m in sent) == len(media)
