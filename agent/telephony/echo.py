"""Echo gate: the caller's audio that is just our own voice leaking back is silenced, not heard as speech.

Phone calls have no echo cancellation on our side. A speakerphone or a poor handset returns the agent's
own voice, some milliseconds later and some decibels down; counted as the caller, it would interrupt the
agent. The gate keeps a timeline of what was playing, 20 ms frame by frame (placed by Twilio's returned
marks), and the recent inbound frame levels. It finds the line's echo delay by lining the two up: at the
true delay, "inbound minus playback" is nearly constant (the echo return loss), at any other delay it
scatters. Then each inbound frame is compared with the playback frame it would be the echo of: a frame
that is no louder than that echo (plus `guard_db`) is echo. A line with no echo learns a return loss of
40 dB or more, so a caller's quiet "yes" said over our voice passes; a line that returns us 15 dB down
gates frames below about 9 dB under our playback. Until it has learned, it compares with the loudest
frame played in the last `window_s` and uses `margin_db`. Once a frame is louder than the threshold, the
caller is talking over us and everything passes for `hold_s`, so their quieter syllables reach the VAD.
Pure: the transport feeds it times and levels.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

AUDIBLE = 50.0  # a 16-bit level below this is line hiss, not worth counting as echo
FRAME_S = 0.02
LEARN_ABOVE = 300.0  # learn from frames whose playback was clearly audible
STEADY_DB = 3.0  # an echo path is trusted when inbound-minus-playback scatters less than this at its delay
NO_ECHO_DB = -35.0  # a line whose inbound sits this far below our playback returns no echo worth gating
INBOUND_FRAMES = 150  # learn the echo path from the last 3 s of inbound audio
DELAYS = tuple(k * FRAME_S for k in range(21))  # echo delays considered: 0–400 ms


def rms(pcm16: bytes) -> float:
    """Root-mean-square level of little-endian 16-bit PCM."""
    samples = np.frombuffer(pcm16, dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(np.square(samples)))) if len(samples) else 0.0


def frame_levels(pcm16: bytes, frame_bytes: int = 320) -> list[float]:
    """RMS level of each 20 ms frame (at 8 kHz) of a chunk: its envelope as the echo will follow it."""
    return [rms(pcm16[i : i + frame_bytes]) for i in range(0, len(pcm16), frame_bytes)]


def peak_level(pcm16: bytes, frame_bytes: int = 320) -> float:
    """The loudest 20 ms (at 8 kHz) RMS in a chunk."""
    return max(frame_levels(pcm16, frame_bytes), default=0.0)


def db(level: float) -> float:
    """A 16-bit level in decibels (levels below 1 count as 1, i.e. 0 dB)."""
    return 20 * math.log10(max(level, 1.0))


@dataclass(frozen=True)
class EchoPath:
    """The learned echo: how late (s) and how far down (dB, negative) our voice comes back, and how surely."""

    delay_s: float
    loss_db: float
    spread_db: float  # median absolute deviation of inbound-minus-playback at that delay


def _slot(t: float) -> int:
    return round(t / FRAME_S)


def learn_echo_path(
    inbound: Sequence[tuple[float, float]], played: dict[int, float], min_frames: int = 40
) -> EchoPath | None:
    """Line inbound frame levels up with playback at each candidate delay; the steadiest loss wins.

    Runs every 200 ms of every call on the event loop, so it reads the whole window as arrays: playback
    as a dense slot-indexed array, each delay one shifted index into it.
    """
    if not inbound or not played:
        return None
    slots = np.fromiter(played.keys(), dtype=np.int64, count=len(played))
    levels = np.fromiter(played.values(), dtype=np.float64, count=len(played))
    if levels.max() < LEARN_ABOVE:
        return None
    first = int(slots.min())
    timeline = np.zeros(int(slots.max()) - first + 2)  # its last cell stays 0: "nothing played"
    timeline[slots - first] = levels
    pairs = np.asarray(inbound, dtype=np.float64)
    inbound_db = 20 * np.log10(np.maximum(pairs[:, 1], 1.0))
    at = np.rint(pairs[:, 0] / FRAME_S).astype(np.int64) - first
    best: EchoPath | None = None
    for k, delay in enumerate(DELAYS):
        index = at - k
        index[(index < 0) | (index >= len(timeline))] = len(timeline) - 1
        refs = timeline[index]
        mask = refs >= LEARN_ABOVE
        if np.count_nonzero(mask) < min_frames:
            continue
        losses = inbound_db[mask] - 20 * np.log10(refs[mask])
        median = float(np.median(losses))
        spread = float(np.median(np.abs(losses - median)))
        if best is None or spread < best.spread_db:
            best = EchoPath(delay, median, spread)
    return best


@dataclass
class EchoGate:
    """Remembers our playback frame by frame and judges inbound frames against it (`margin_db` 0: off)."""

    margin_db: float = 10.0  # until the echo path is learned, frames this far below playback are echo
    window_s: float = 0.4  # until then, any audio played this recently may be echoing back
    hold_s: float = 0.4  # once the caller is heard over us, let everything through this long
    guard_db: float = 6.0  # a frame must be this much louder than the learned echo to be the caller
    min_margin_db: float = 6.0  # never gate a frame less than this far below our playback
    open_frames: int = 2  # this many frames in a row louder than echo open the hold (one may be a misfit)
    learn_every: int = 10  # re-learn the echo path every this many inbound frames
    gated_frames: int = 0
    path: EchoPath | None = None
    _played: dict[int, float] = field(default_factory=dict)  # 20 ms slot → level of our audio in it
    _playing: tuple[float, list[float]] | None = None  # start and frame levels of the chunk playing now
    _inbound: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=INBOUND_FRAMES))
    _heard: int = 0
    _louder: int = 0
    _caller_until: float = -1.0
    _last_slot: int = -(2**62)  # the latest slot any finished chunk of ours covered

    def played(self, at: float, levels: Sequence[float]) -> None:
        """A chunk of our audio with these 20 ms frame levels finished playing at time `at`."""
        n = len(levels)
        for k, level in enumerate(levels):
            slot = _slot(at - (n - k) * FRAME_S)
            self._played[slot] = max(level, self._played.get(slot, 0.0))
            self._last_slot = max(self._last_slot, slot)

    def now_playing(self, since: float | None, levels: Sequence[float] = ()) -> None:
        """The chunk Twilio is playing now began about `since`, with these frame levels (None: nothing)."""
        self._playing = None if since is None else (since, list(levels))

    def _forget_before(self, t: float) -> None:
        oldest = _slot(t)
        for slot in [s for s in self._played if s < oldest]:
            del self._played[slot]

    def _level_at(self, t: float) -> float:
        level = self._played.get(_slot(t), 0.0)
        if self._playing is not None:
            since, playing = self._playing
            k = _slot(t - since)
            if 0 <= k < len(playing):
                level = max(level, playing[k])
        return level

    def reference(self, at: float) -> float:
        """The loudest of our frames that this inbound frame at `at` could be the echo of."""
        earliest = at - (self.path.delay_s + 2 * FRAME_S if self.path is not None else self.window_s)
        if self._playing is None and _slot(earliest) - 1 > self._last_slot:
            return 0.0  # nothing of ours played that recently (most of the time the caller speaks)
        if self.path is not None:
            centre = at - self.path.delay_s
            return max(self._level_at(centre + d * FRAME_S) for d in range(-2, 3))
        steps = round(self.window_s / FRAME_S)
        return max(self._level_at(at - k * FRAME_S) for k in range(steps + 1))

    def threshold_db(self) -> float:
        """How far (dB, negative) below our playback an inbound frame must be to count as echo."""
        if self.path is None:
            return -self.margin_db
        return min(self.path.loss_db + self.guard_db, -self.min_margin_db)

    def _learn(self) -> None:
        """Adopt a steady echo path; take "no echo" only while no echo has been found on this line."""
        found = learn_echo_path(self._inbound, self._played)
        if found is None:
            return
        quiet = found.loss_db <= NO_ECHO_DB and (self.path is None or self.path.loss_db <= NO_ECHO_DB)
        if found.spread_db <= STEADY_DB or quiet:
            self.path = found

    def is_echo(self, level: float, at: float) -> bool:
        """Whether an inbound frame at `level` is likely our own voice coming back, not the caller."""
        if self.margin_db <= 0:
            return False
        self._inbound.append((at, level))
        self._heard += 1
        if self._heard % self.learn_every == 0:
            self._forget_before(at - 2 * INBOUND_FRAMES * FRAME_S)
            self._learn()
        reference = self.reference(at)
        if reference <= AUDIBLE:
            return False
        if db(level) - db(reference) >= self.threshold_db():
            self._louder += 1
            if self._louder >= self.open_frames:
                self._caller_until = at + self.hold_s  # double talk: the caller is louder than any echo
            return False
        self._louder = 0
        if at < self._caller_until:
            return False
        if level > AUDIBLE:
            self.gated_frames += 1
        return True
