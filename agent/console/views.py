"""Pure view models for the call page: heard vs generated, the latency waterfall, barge-in forensics.

No I/O: each builder takes stored rows (or anything shaped like them) and returns plain dataclasses.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol
from urllib.parse import urlsplit

from agent.config import Settings
from agent.logs import mask_phone

SLOW_MS = 1500.0  # a reply slower than this is flagged whatever the call's own spread
CLIP_BEFORE_S = 2.0
CLIP_AFTER_S = 3.0
_PHONE_LIKE = re.compile(r"\+?\d[\d\s().-]{5,}\d")
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>()]+")
KEYPAD_MASK = "•"


class TurnLike(Protocol):
    """What the builders read from a stored turn."""

    seq: int
    speaker: str
    text: str
    heard_text: str | None
    interrupted: bool
    start_s: float
    end_s: float
    partials: list[Any] | None
    end_of_turn_ms: float | None
    stt_ms: float | None
    llm_first_token_ms: float | None
    tts_first_audio_ms: float | None
    transport_ms: float | None
    voice_to_voice_ms: float | None


class EventLike(Protocol):
    """What the builders read from a stored event."""

    kind: str
    at_s: float
    turn_seq: int | None
    detail: dict[str, Any]


def mask_number(value: str) -> str:
    """A phone number cut to its last two digits ('***00'); empty stays empty."""
    return mask_phone(value) if value else value


def has_phone_number(text: str) -> bool:
    """Whether `text` holds a phone-number-like run of digits (what `mask_text` would mask)."""
    return _PHONE_LIKE.search(text) is not None


def mask_text(text: str) -> str:
    """Free text with every phone-number-like run of digits masked to its last two digits."""
    return _PHONE_LIKE.sub(lambda m: mask_phone(m.group(0)), text)


def mask_url(url: str) -> str:
    """A URL cut to its scheme and host ('https://hooks.example.com/…'): a path or query can be a secret."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return "…"
    return f"{parts.scheme}://{host}/…" if host else "…"


def _mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(_URL.sub(lambda m: mask_url(m.group(0)), value))
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return mask_text(str(value)) if has_phone_number(str(value)) else value
    if isinstance(value, list):
        return [_mask_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _mask_value(v) for k, v in value.items()}
    return value


def mask_detail(kind: str, detail: dict[str, Any] | None) -> dict[str, Any]:
    """An event's detail as a viewer sees it: keypad digits hidden, URLs cut to their host, numbers masked.

    Each keypress is its own `dtmf` event, so the digits a caller keys in (an account or card number) read
    as one KEYPAD_MASK each: a viewer sees that and when keys were pressed, not which.
    """
    if kind == "dtmf":
        return {k: KEYPAD_MASK * len(v) if isinstance(v, str) else v for k, v in (detail or {}).items()}
    return {k: _mask_value(v) for k, v in (detail or {}).items()}


# -- heard vs generated -----------------------------------------------------------------------------


@dataclass(frozen=True)
class HeardSplit:
    """An agent turn's text: the part the caller heard, and the generated part a barge-in cut."""

    heard: str
    unheard: str


def heard_split(text: str, heard: str | None) -> HeardSplit:
    """Split generated `text` at the end of what was `heard` (word by word; None means all heard)."""
    if heard is None or heard.strip() == text.strip():
        return HeardSplit(text.strip(), "")
    words, said = text.split(), heard.split()
    n = 0
    while n < min(len(words), len(said)) and words[n] == said[n]:
        n += 1
    return HeardSplit(" ".join(words[:n]), " ".join(words[n:]))


@dataclass(frozen=True)
class PartialStep:
    """One transcript hypothesis of a caller turn: words kept from the one before, and those changed."""

    at_s: float
    kept: str
    changed: str
    final: bool


def partial_steps(partials: Sequence[dict[str, Any]] | None) -> list[PartialStep]:
    """How a caller turn's partial transcripts became its final: each step against the one before."""
    steps: list[PartialStep] = []
    before: list[str] = []
    for p in partials or ():
        words = str(p.get("text", "")).split()
        n = 0
        while n < min(len(words), len(before)) and words[n].lower() == before[n].lower():
            n += 1
        steps.append(
            PartialStep(
                float(p.get("at_s", 0.0)), " ".join(words[:n]), " ".join(words[n:]), bool(p.get("final"))
            )
        )
        before = words
    return steps


# -- latency waterfall ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """One stage of a reply's wait: its name, how long it added, and the setting that governs it."""

    stage: str
    label: str
    ms: float
    setting: str
    start_ms: float = 0.0


@dataclass(frozen=True)
class Waterfall:
    """An agent turn's wait as stacked stages (any unmeasured rest last), its total, and if it is slow."""

    seq: int
    start_s: float
    segments: list[Segment]
    total_ms: float
    slow: bool = False
    stt_within_ms: float | None = None  # speech to text when it finished inside end of turn (no segment)


@dataclass(frozen=True)
class LatencySummary:
    """Every agent turn's waterfall, the call's p50 and p95, and the widest bar (the chart's scale)."""

    turns: list[Waterfall] = field(default_factory=list)
    p50_ms: float | None = None
    p95_ms: float | None = None
    scale_ms: float = 1.0


def governing_settings(settings: Settings) -> dict[str, str]:
    """The settings behind each stage, with their current values, as the chart labels them."""
    llm = "LLM_BASE_URL, LLM_MODEL" if settings.llm_base_url else "LLM_MODEL_PATH, LLM_MAX_TOKENS"
    return {
        "end_of_turn": f"VAD_STOP_SECS={settings.vad_stop_secs}, "
        f"INCOMPLETE_TURN_SECS={settings.incomplete_turn_secs}, "
        f"UNDERSTOOD_TURN_SECS={settings.understood_turn_secs}",
        "stt": f"WHISPER_MODEL={settings.whisper_model}, WHISPER_THREADS={settings.whisper_threads}",
        "llm": f"{llm}, LLM_THREADS={settings.llm_threads}",
        "tts": f"VOICE_DEFAULT={settings.voice_default}, XTTS_REPLICAS={settings.xtts_replicas}",
        "transport": "network and Twilio (MAX_CALLS sets how many calls share the CPU)",
    }


UNMEASURED = "no timestamp recorded for this part of the wait"
STAGES = (
    ("end_of_turn", "end of turn"),
    ("stt", "speech to text"),
    ("llm", "first LLM token"),
    ("tts", "first TTS audio"),
    ("transport", "transport"),
)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank `q`th percentile (0-100) of `values`, None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def waterfall(turn: TurnLike, settings: dict[str, str]) -> Waterfall | None:
    """A reply's stacked wait; None for a turn with no measured latency (the greeting, a caller turn).

    Speech to text runs beside end-of-turn detection from the end of speech, so its segment is only
    the time it took beyond end of turn; the stacked segments then add up to the voice-to-voice wait.
    """
    eot, stt = turn.end_of_turn_ms or 0.0, turn.stt_ms or 0.0
    durations = {
        "end_of_turn": eot,
        "stt": max(0.0, stt - eot),
        "llm": turn.llm_first_token_ms or 0.0,
        "tts": turn.tts_first_audio_ms or 0.0,
        "transport": turn.transport_ms or 0.0,
    }
    if turn.speaker != "agent" or not any(durations.values()):
        return None
    segments, at = [], 0.0
    for stage, label in STAGES:
        ms = round(durations[stage], 1)
        if ms > 0:
            segments.append(Segment(stage, label, ms, settings[stage], at))
            at += ms
    total = turn.voice_to_voice_ms if turn.voice_to_voice_ms is not None else at
    if total - at >= 1.0:  # a stage that left no timestamp: show the gap rather than hide it
        segments.append(Segment("other", "unmeasured", round(total - at, 1), UNMEASURED, at))
    parallel = stt if 0 < stt <= eot else None
    return Waterfall(turn.seq, turn.start_s, segments, round(max(total, at), 1), stt_within_ms=parallel)


def latency_summary(
    turns: Iterable[TurnLike], settings: dict[str, str], slow_ms: float = SLOW_MS
) -> LatencySummary:
    """Every reply's waterfall with the call's p50/p95; replies over `slow_ms` or at p95 of 3+ are slow."""
    bars = [w for w in (waterfall(t, settings) for t in turns) if w is not None]
    totals = [w.total_ms for w in bars]
    p50, p95 = percentile(totals, 50), percentile(totals, 95)

    def slow(w: Waterfall) -> bool:
        at_tail = len(bars) >= 3 and p50 is not None and p95 is not None and w.total_ms >= p95 > 1.5 * p50
        return w.total_ms > slow_ms or at_tail

    flagged = [replace(w, slow=slow(w)) for w in bars]
    return LatencySummary(flagged, p50, p95, max(totals, default=1.0) or 1.0)


# -- tools under their turn ---------------------------------------------------------------------------

TOOL_KINDS = ("tool", "transfer")


def tools_by_turn(events: Iterable[EventLike]) -> dict[int, list[EventLike]]:
    """Tool calls and transfers grouped under the caller turn that triggered them."""
    grouped: dict[int, list[EventLike]] = {}
    for e in events:
        if e.kind in TOOL_KINDS and e.turn_seq is not None:
            grouped.setdefault(e.turn_seq, []).append(e)
    return grouped


# -- interruption forensics ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BargeIn:
    """One barge-in: when, the agent turn it cut, what the caller said, how it was taken, the clip's span."""

    at_s: float
    treated_as: str
    real: bool
    reaction_ms: float | None
    agent_seq: int | None
    cut_text: str
    trigger: str
    clip_start_s: float
    clip_end_s: float


def _trigger(turns: Sequence[TurnLike], at_s: float) -> str:
    """What the caller said around `at_s`: the caller turn that began closest before it (or just after)."""
    near = [t for t in turns if t.speaker == "caller" and t.start_s <= at_s + 1.0 and t.end_s >= at_s - 1.0]
    if not near:
        return ""
    return min(near, key=lambda t: abs(t.start_s - at_s)).text


def forensics(turns: Sequence[TurnLike], events: Iterable[EventLike]) -> list[BargeIn]:
    """Every barge-in on the call, in time order, with its trigger, treatment and a clip span around it."""
    by_seq = {t.seq: t for t in turns}
    found = []
    for e in sorted((e for e in events if e.kind == "barge_in"), key=lambda e: e.at_s):
        treated = str(e.detail.get("treated_as", "interruption"))
        agent = by_seq.get(e.turn_seq) if e.turn_seq is not None else None
        cut = heard_split(agent.text, agent.heard_text).unheard if agent and agent.speaker == "agent" else ""
        reaction = e.detail.get("reaction_ms")
        found.append(
            BargeIn(
                at_s=e.at_s,
                treated_as=treated,
                real=treated == "interruption",
                reaction_ms=float(reaction) if isinstance(reaction, int | float) else None,
                agent_seq=agent.seq if agent else None,
                cut_text=cut,
                trigger=_trigger(turns, e.at_s),
                clip_start_s=max(0.0, e.at_s - CLIP_BEFORE_S),
                clip_end_s=e.at_s + CLIP_AFTER_S,
            )
        )
    return found
