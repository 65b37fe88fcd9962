"""The call page's view models: heard vs generated, partial transcripts, the waterfall, barge-in forensics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from agent.config import Settings
from agent.console import views


@dataclass
class T:
    seq: int
    speaker: str
    text: str
    start_s: float = 0.0
    end_s: float = 1.0
    heard_text: str | None = None
    interrupted: bool = False
    partials: list[Any] | None = None
    end_of_turn_ms: float | None = None
    stt_ms: float | None = None
    llm_first_token_ms: float | None = None
    tts_first_audio_ms: float | None = None
    transport_ms: float | None = None
    voice_to_voice_ms: float | None = None


@dataclass
class E:
    kind: str
    at_s: float
    turn_seq: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)


STAGES = views.governing_settings(Settings(vad_stop_secs=0.3, incomplete_turn_secs=1.5))


def reply(seq: int, eot: float, stt: float, llm: float, tts: float, transport: float) -> T:
    total = max(eot, stt) + llm + tts + transport
    return T(seq, "agent", "ok", 0.0, 1.0, None, False, None, eot, stt, llm, tts, transport, total)


class TestHeardSplit:
    def test_a_cut_reply_splits_at_the_last_heard_word(self) -> None:
        """The words after what the caller heard are the unheard part."""
        split = views.heard_split("On Saturday we're open from nine to one.", "On Saturday we're open")
        assert split == views.HeardSplit("On Saturday we're open", "from nine to one.")

    def test_a_reply_heard_in_full_has_no_unheard_part(self) -> None:
        """No heard text (or the same text) means everything was heard."""
        assert views.heard_split("Hello there.", None).unheard == ""
        assert views.heard_split("Hello there.", "Hello there.").unheard == ""

    def test_nothing_heard_leaves_all_of_it_unheard(self) -> None:
        """A reply cut before its first word was heard is struck through whole."""
        assert views.heard_split("Sure, one moment.", "") == views.HeardSplit("", "Sure, one moment.")


class TestPartialSteps:
    def test_each_hypothesis_marks_the_words_that_changed(self) -> None:
        """Words agreeing with the hypothesis before are kept; the rest are shown as changed."""
        steps = views.partial_steps(
            [
                {"at_s": 1.0, "text": "What time"},
                {"at_s": 1.5, "text": "What time do you often"},
                {"at_s": 2.0, "text": "What time do you open on Saturday?", "final": True},
            ]
        )
        assert [(s.kept, s.changed, s.final) for s in steps] == [
            ("", "What time", False),
            ("What time", "do you often", False),
            ("What time do you", "open on Saturday?", True),
        ]


class TestWaterfall:
    def test_segments_stack_to_the_voice_to_voice_wait(self) -> None:
        """STT shows only its time beyond end of turn, so the segments add up to the whole wait."""
        bar = views.waterfall(reply(3, 200, 350, 100, 150, 20), STAGES)
        assert bar is not None
        assert [(s.stage, s.ms, s.start_ms) for s in bar.segments] == [
            ("end_of_turn", 200, 0),
            ("stt", 150, 200),
            ("llm", 100, 350),
            ("tts", 150, 450),
            ("transport", 20, 600),
        ]
        assert bar.total_ms == 620

    def test_each_segment_names_the_setting_that_governs_it(self) -> None:
        """End of turn is labelled with the VAD stop time and the incomplete-turn wait, with their values."""
        bar = views.waterfall(reply(1, 200, 100, 100, 100, 10), STAGES)
        assert bar is not None
        assert (
            bar.segments[0].setting
            == "VAD_STOP_SECS=0.3, INCOMPLETE_TURN_SECS=1.5, UNDERSTOOD_TURN_SECS=0.25"
        )
        assert "WHISPER_MODEL" not in bar.segments[0].setting  # STT within end of turn adds no segment
        assert [s.stage for s in bar.segments] == ["end_of_turn", "llm", "tts", "transport"]

    def test_caller_turns_and_unmeasured_replies_have_no_bar(self) -> None:
        """The greeting (no latency) and a caller turn are left out."""
        assert views.waterfall(T(0, "agent", "Hello"), STAGES) is None
        assert views.waterfall(T(1, "caller", "Hi", end_of_turn_ms=200), STAGES) is None

    def test_the_call_summary_has_p50_p95_and_flags_slow_replies(self) -> None:
        """Of five replies the 2 s one is p95 and slow; the others are not."""
        turns = [reply(i, 200, 150, 100, 100, 10) for i in range(4)] + [reply(9, 200, 150, 1400, 400, 10)]
        summary = views.latency_summary(turns, STAGES)
        assert summary.p50_ms == 410 and summary.p95_ms == 2010 and summary.scale_ms == 2010
        assert [w.seq for w in summary.turns if w.slow] == [9]

    def test_percentile_is_nearest_rank(self) -> None:
        """p50 of 1..4 is 2, p95 is 4, and an empty list has none."""
        assert views.percentile([4, 1, 3, 2], 50) == 2
        assert views.percentile([4, 1, 3, 2], 95) == 4
        assert views.percentile([], 50) is None


class TestForensics:
    def test_a_barge_in_names_its_trigger_what_it_cut_and_a_clip_span(self) -> None:
        """The caller turn around it is its trigger; the agent turn's unheard words are what it cut."""
        turns = [
            T(
                1,
                "agent",
                "On Saturday we're open from nine to one.",
                2.6,
                4.5,
                "On Saturday we're open",
                True,
            ),
            T(2, "caller", "Sorry, what about Sunday?", 4.2, 5.5),
        ]
        events = [E("barge_in", 4.4, 1, {"treated_as": "interruption", "reaction_ms": 180.0})]
        (b,) = views.forensics(turns, events)
        assert (b.real, b.treated_as, b.reaction_ms) == (True, "interruption", 180.0)
        assert b.trigger == "Sorry, what about Sunday?" and b.cut_text == "from nine to one."
        assert b.clip_start_s == pytest.approx(2.4) and b.clip_end_s == pytest.approx(7.4)

    def test_a_backchannel_is_not_a_real_interruption(self) -> None:
        """A barge-in the agent took as a backchannel is marked so, and the clip never starts before zero."""
        turns = [T(0, "agent", "Hello, how can I help?", 0.2, 2.0), T(1, "caller", "Mm-hm.", 0.8, 1.1)]
        (b,) = views.forensics(turns, [E("barge_in", 0.9, 0, {"treated_as": "backchannel", "resumed": True})])
        assert not b.real and b.treated_as == "backchannel" and b.trigger == "Mm-hm." and b.clip_start_s == 0


class TestToolsAndMasking:
    def test_tool_calls_are_grouped_under_the_turn_that_triggered_them(self) -> None:
        """Tools and transfers go under their caller turn; other events do not."""
        events = [E("tool", 3.0, 1, {"name": "hours"}), E("dtmf", 3.1, 1), E("transfer", 9.0, 4)]
        grouped = views.tools_by_turn(events)
        assert {k: [e.kind for e in v] for k, v in grouped.items()} == {1: ["tool"], 4: ["transfer"]}

    def test_numbers_in_fields_and_in_free_text_are_masked(self) -> None:
        """A number keeps its last two digits, in a field or inside a sentence; other digits are kept."""
        assert views.mask_number("+16175550100") == "***00"
        assert views.mask_text("Call me on 617 555 0100 after 5.") == "Call me on ***00 after 5."

    def test_a_viewer_sees_an_events_keypad_digits_urls_and_numbers_masked(self) -> None:
        """A keypress shows as '•', a URL as its host, a number in any field as its last two digits."""
        assert views.mask_detail("dtmf", {"digit": "4"}) == {"digit": "•"}
        webhook = {"url": "https://user:pw@hooks.example.com/T01/s3cret?token=abc", "attempt": 1, "ok": True}
        assert views.mask_detail("webhook", webhook) == {
            "url": "https://hooks.example.com/…",
            "attempt": 1,
            "ok": True,
        }
        failed = {"error": "could not dial +1 617 555 0100 (POST https://api.twilio.com/x?To=+16175550100)"}
        assert views.mask_detail("error", failed) == {
            "error": "could not dial ***00 (POST https://api.twilio.com/…)"
        }
        assert views.mask_detail("transfer", {"to": 16175550100, "ok": False, "code": 480}) == {
            "to": "***00",
            "ok": False,
            "code": 480,
        }


class TestWaterfallGaps:
    def test_an_unmeasured_rest_of_the_wait_is_shown_not_hidden(self) -> None:
        """A wait of 640 ms with only 210 ms split ends in a 430 ms 'unmeasured' segment."""
        turn = T(1, "agent", "ok", end_of_turn_ms=210, stt_ms=150, voice_to_voice_ms=640)
        bar = views.waterfall(turn, STAGES)
        assert bar is not None
        assert [(s.stage, s.ms, s.start_ms) for s in bar.segments] == [
            ("end_of_turn", 210, 0),
            ("other", 430, 210),
        ]
        assert bar.stt_within_ms == 150 and bar.total_ms == 640
