"""One caller's streaming transcription state: audio buffer, pass cadence, agreement, trimming (pure, no I/O).

The service feeds audio and VAD edges in; `next_pass()` says when a Whisper pass is due and over what;
`apply()` and `finish()` take a pass's result back. Decoding itself happens elsewhere, in a worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from agent.speech.agreement import LocalAgreement, split_words
from agent.speech.decoder import SAMPLE_RATE, AlignedWord, Pass, collapse_repeats
from agent.speech.whisper import guard


@dataclass(frozen=True)
class StreamParams:
    """How often to re-decode, how much audio to keep before speech starts, and when to trim."""

    step_s: float = 0.5  # new audio between interim passes
    preroll_s: float = 0.6  # audio kept from before the VAD reported speech
    trim_s: float = 12.0  # trim the utterance buffer at a committed word once it grows past this
    prompt_chars: int = 200  # recent committed text each pass is prompted with


@dataclass(frozen=True)
class PassRequest:
    """A pass to run: the audio, its prompt, the words committed so far, and where it ends in the stream."""

    audio: np.ndarray
    prompt: str | None
    committed: str
    final: bool
    utterance: int
    end_sample: int
    align: bool = False  # also find where the committed words end, to trim the buffer
    language: str | None = None  # decode in this language (None: the model's own choice)
    quiet: bool = False  # started because the caller went quiet: the final's likely source


@dataclass(frozen=True)
class Partial:
    """An interim transcript: the committed words (stable) and the tentative tail."""

    committed: str
    tentative: str
    newly_committed: tuple[str, ...]

    @property
    def text(self) -> str:
        """Committed and tentative words together."""
        return f"{self.committed} {self.tentative}".strip()


@dataclass(frozen=True)
class Final:
    """The settled transcript of one utterance, how it got there, and what the guards threw away."""

    text: str
    language: str
    language_probability: float
    audio_seconds: float
    partials: tuple[str, ...]
    rejected: str | None = None
    trimmed_words: int = 0  # words whose audio was cut from the buffer while the caller spoke


@dataclass
class _Utterance:
    """What one open utterance has gathered: agreement state, partials shown, words trimmed off the buffer."""

    number: int
    agreement: LocalAgreement = field(default_factory=LocalAgreement)
    partials: list[str] = field(default_factory=list)
    trimmed: list[str] = field(default_factory=list)


@dataclass
class UtteranceStream:
    """Buffers one caller's audio and turns Whisper passes into interim and final transcripts."""

    params: StreamParams = field(default_factory=StreamParams)
    vocabulary: str | None = None
    _buffer: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    _pending: list[np.ndarray] = field(default_factory=list)  # fed during an utterance, not yet joined
    _total: int = 0  # samples fed since the call began
    _buffer_start: int = 0  # stream sample at which the buffer begins
    _last_pass_end: int = 0
    _count: int = 0
    _current: _Utterance | None = None
    _closing: dict[int, _Utterance] = field(default_factory=dict)
    _history: str = ""

    @property
    def speaking(self) -> bool:
        """Whether an utterance is open (the VAD said the caller started and hasn't stopped)."""
        return self._current is not None

    @property
    def total_samples(self) -> int:
        """Samples fed since the call began."""
        return self._total

    def feed(self, pcm: np.ndarray) -> None:
        """Append 16 kHz float audio; between utterances keep only the pre-roll."""
        self._total += len(pcm)
        if self._current is not None:
            self._pending.append(pcm.astype(np.float32, copy=False))  # joined once per pass, not per frame
            return
        keep = int(self.params.preroll_s * SAMPLE_RATE)
        joined = np.concatenate([self._buffer, pcm.astype(np.float32, copy=False)])
        self._buffer = joined[max(0, len(joined) - keep) :]
        self._buffer_start = self._total - len(self._buffer)

    def _join(self) -> None:
        """Append the audio fed since the last pass to the buffer."""
        if self._pending:
            self._buffer = np.concatenate([self._buffer, *self._pending])
            self._pending = []

    def open(self) -> None:
        """Start an utterance: the VAD heard speech begin."""
        if self._current is None:
            self._count += 1
            self._current = _Utterance(self._count)
            self._last_pass_end = self._total

    def _prompt(self, utterance: _Utterance) -> str | None:
        context = f"{self._history} {' '.join(utterance.trimmed)}"
        recent = context[-self.params.prompt_chars :].strip()
        return " ".join(p for p in (self.vocabulary, recent) if p) or None

    def _request(self, utterance: _Utterance, final: bool, align: bool = False) -> PassRequest:
        self._join()
        return PassRequest(
            audio=self._buffer.copy(),
            prompt=self._prompt(utterance),
            committed=utterance.agreement.committed_text,
            final=final,
            utterance=utterance.number,
            end_sample=self._total,
            align=align,
        )

    def next_pass(self) -> PassRequest | None:
        """Return the interim pass now due (enough new speech since the last one), or None."""
        u = self._current
        if u is None or self._total - self._last_pass_end < self.params.step_s * SAMPLE_RATE:
            return None
        self._last_pass_end = self._total
        self._join()
        grown = len(self._buffer) > self.params.trim_s * SAMPLE_RATE
        return self._request(u, final=False, align=grown and bool(u.agreement.committed))

    def quiet_pass(self) -> PassRequest | None:
        """The pass to run when the caller goes quiet mid-utterance, over everything heard so far (so the
        final can reuse it if they don't go on), or None with no utterance open or no audio since the last."""
        u = self._current
        if u is None or self._total == self._last_pass_end:
            return None
        self._last_pass_end = self._total
        return replace(self._request(u, final=False), quiet=True)

    def apply(
        self, request: PassRequest, result: Pass, aligned: list[AlignedWord] | None = None
    ) -> Partial | None:
        """Take an interim pass's result; return the new partial, or None if it is stale or rejected."""
        u = self._current
        if u is None or request.utterance != u.number:
            return None
        if guard(result.text, result.no_speech_prob, result.avg_logprob, result.compression_ratio):
            u.agreement.tentative = []
            return None
        agreed = u.agreement.insert(split_words(result.text))
        committed = split_words(request.committed)
        if aligned and committed and u.agreement.committed[: len(committed)] == committed:
            self._trim(u, request, len(committed), aligned[-1].end)
        partial = Partial(
            committed=" ".join([*u.trimmed, *u.agreement.committed]),
            tentative=" ".join(u.agreement.tentative),
            newly_committed=tuple(agreed),
        )
        u.partials.append(partial.text)
        return partial

    def _trim(self, u: _Utterance, request: PassRequest, words: int, end_s: float) -> None:
        """Cut the buffer where the request's committed words ended; they leave the buffer's transcript."""
        cut = int(end_s * SAMPLE_RATE)
        if cut <= 0 or cut >= len(request.audio):
            return
        u.trimmed.extend(u.agreement.drop_committed(words))
        self._join()
        shift = max(0, (request.end_sample - len(request.audio)) + cut - self._buffer_start)
        self._buffer = self._buffer[shift:]
        self._buffer_start += shift

    def close(self) -> PassRequest | None:
        """End the utterance (the VAD said the caller stopped) and return its final pass, if one was open."""
        u = self._current
        if u is None:
            return None
        request = self._request(u, final=True)
        self._closing[u.number] = u
        self._current = None
        self._buffer = self._buffer[:0]
        self._buffer_start = self._total
        return request

    def finish(self, request: PassRequest, result: Pass) -> Final:
        """Settle a closed utterance from its final pass over the buffer (after any trimmed words)."""
        u = self._closing.pop(request.utterance, None) or _Utterance(request.utterance)
        rejected = guard(result.text, result.no_speech_prob, result.avg_logprob, result.compression_ratio)
        heard = [] if rejected else split_words(result.text)
        u.agreement.complete()
        text = collapse_repeats(" ".join([*u.trimmed, *heard]))
        if text and rejected is None:
            rejected = guard(text, result.no_speech_prob, result.avg_logprob, result.compression_ratio)
            if rejected:
                text = ""
        self._history = f"{self._history} {text}".strip()[-4 * self.params.prompt_chars :]
        return Final(
            text=text,
            language=result.language,
            language_probability=result.language_probability,
            audio_seconds=len(request.audio) / SAMPLE_RATE,
            partials=tuple(u.partials),
            rejected=rejected,
            trimmed_words=len(u.trimmed),
        )
