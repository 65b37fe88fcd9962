"""build_call_pipeline: the one place a call's graph of processors is written."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.audio.turn.smart_turn.base_smart_turn import SmartTurnParams
from pipecat.audio.vad.vad_analyzer import VADAnalyzer, VADParams
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.services.tts_service import TTSService
from pipecat.turns.empty_user_turn import EmptyUserTurnConfig
from pipecat.turns.user_turn_strategies import UserTurnStrategies

from agent.calls.timing import TurnTimingObserver
from agent.calls.turn_stop import AdaptiveTurnStop
from agent.config import Settings
from agent.dialog.business import Business
from agent.dialog.grounded import GroundedReplies
from agent.dialog.llm import make_llm_service
from agent.dialog.receptionist import EMPTY_TURN_PROMPT, CallContext, Receptionist
from agent.dialog.router import Router
from agent.models import Models
from agent.records.recorder import CallRecorder
from agent.speech.endpoint import HangoverParams
from agent.speech.onnx_sessions import SharedSmartTurn
from agent.speech.stt import WhisperSTTService
from agent.speech.vad import CallerVAD
from agent.telephony.transport import PHONE_RATE, PIPELINE_IN_RATE, HeardTextWriter, TwilioInput, TwilioOutput
from agent.voice.catalog import VoiceChoice, make_tts

log = structlog.get_logger(__name__)


@dataclass
class CallPipeline:
    """A built call: the worker to run, its context, and the timing observer."""

    worker: PipelineWorker
    context: LLMContext
    timing: TurnTimingObserver
    receptionist: Receptionist
    tts: TTSService | None = None  # the call's voice; `fallback_reason` on it says if it fell back to Piper


NUMBER_PAUSE_S = 0.8  # VAD stop while a caller may read out a phone number: groups stay one utterance


class _Follows(Protocol):
    vad_stop_secs: float


def caller_vad_params(settings: Settings) -> VADParams:
    """The VAD's settings for a caller: speech this long starts a turn, silence this long pauses it."""
    return VADParams(start_secs=settings.vad_start_secs, stop_secs=settings.vad_stop_secs)


def pause_for_numbers(router: Router, vad: VADAnalyzer, normal_s: float, followers: list[_Follows]) -> None:
    """Let the VAD wait longer while the caller may read out a number, so "two oh seven, five five five…"
    is one utterance decoded whole (short groups decoded alone come back as "5555"), then go back."""
    stop = NUMBER_PAUSE_S if router.expects_number else normal_s
    if vad.params.stop_secs == stop:
        return
    vad.set_params(vad.params.model_copy(update={"stop_secs": stop}))
    for follower in followers:
        follower.vad_stop_secs = stop
    log.info("vad_stop_changed", stop_secs=stop)


def build_call_pipeline(
    settings: Settings,
    models: Models,
    business: Business,
    transport_in: TwilioInput,
    transport_out: TwilioOutput,
    call: CallContext,
    recorder: CallRecorder | None = None,
    *,
    voice: VoiceChoice | None = None,
) -> CallPipeline:
    """Wire caller audio → VAD/turn → Whisper → receptionist → reply model → `voice` (or default) → Twilio."""
    receptionist = Receptionist(call, defer_unsure=settings.uses_endpoint, encoder=models.encoder)
    system: Any = {"role": "system", "content": business.system_prompt}
    context = LLMContext(messages=[system])
    if settings.uses_endpoint:
        context = LLMContext(messages=[system], tools=ToolsSchema(standard_tools=receptionist.tools()))
    vad = CallerVAD(params=caller_vad_params(settings))
    # smart-turn judges each stretch of speech; with the transcript it picks the silence that ends the turn.
    smart_turn = SharedSmartTurn(params=SmartTurnParams(stop_secs=30.0))
    hangovers = HangoverParams(
        incomplete_s=settings.incomplete_turn_secs, understood_s=settings.understood_turn_secs
    )
    # Words that are a whole request end the turn soon even when smart-turn doubts the voice's prosody.
    stop = AdaptiveTurnStop(smart_turn, hangovers, understood=receptionist.router.is_complete_request)
    strategies = UserTurnStrategies(stop=[stop])
    user_agg, assistant_agg = LLMContextAggregatorPair(
        context,
        user_params=LLMUserAggregatorParams(
            vad_analyzer=vad,
            user_turn_strategies=strategies,
            empty_user_turn=EmptyUserTurnConfig(interrupted_prompt=EMPTY_TURN_PROMPT),
        ),
    )
    stt = WhisperSTTService(
        models.stt,
        vocabulary=business.vocabulary,
        detail=models.stt_detail,
        wants_detail=lambda: receptionist.router.expects_details,
    )
    vad.quiet_listeners.append(stt.caller_quiet)  # the final decode starts before the VAD's stop
    llm = make_llm_service(settings, models.llm, business)
    voice = voice if voice is not None else models.voices.for_called("")
    tts = make_tts(
        voice, models.piper, call_id=call.call_sid, language=lambda: stt.language, sample_rate=PHONE_RATE
    )
    timing = TurnTimingObserver(settings.vad_stop_secs)
    # Both watch the call's frames and both place the caller's end of speech by the VAD stop time.
    watchers: list[TurnTimingObserver | CallRecorder] = [timing] if recorder is None else [timing, recorder]
    receptionist.on_routed = lambda: pause_for_numbers(
        receptionist.router, vad, settings.vad_stop_secs, list(watchers)
    )
    transport_out.on_first_audio = lambda _u: timing.audio_sent()
    transport_out.on_clear = timing.cleared
    if recorder is not None:
        recorder.attach(transport_out, timing)
    heard = HeardTextWriter(transport_out, context)
    # An endpoint model's replies pass the same grounding check as the embedded one's, a sentence at a time.
    grounded = [GroundedReplies(business.system_prompt)] if settings.uses_endpoint else []
    processors = [
        transport_in,
        stt,
        user_agg,
        receptionist,
        llm,
        *grounded,
        tts,
        transport_out,
        assistant_agg,
        heard,
    ]
    pipeline = Pipeline(processors)
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(
            audio_in_sample_rate=PIPELINE_IN_RATE,
            audio_out_sample_rate=models.piper.config.sample_rate,
            enable_metrics=True,
        ),
        observers=list(watchers),
        idle_timeout_secs=None,
        enable_rtvi=False,
        enable_tracing=settings.tracing,
        conversation_id=call.call_sid,
        additional_span_attributes={"call_sid": call.call_sid, "business": business.key},
    )
    return CallPipeline(worker=worker, context=context, timing=timing, receptionist=receptionist, tts=tts)
