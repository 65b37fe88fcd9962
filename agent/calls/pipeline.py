"""build_call_pipeline: the one place a call's graph of processors is written."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.audio.turn.smart_turn.base_smart_turn import SmartTurnParams
from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams
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
from agent.dialog.llm import make_llm_service
from agent.dialog.receptionist import EMPTY_TURN_PROMPT, CallContext, Receptionist
from agent.models import Models
from agent.records.recorder import CallRecorder
from agent.speech.endpoint import HangoverParams
from agent.speech.stt import WhisperSTTService
from agent.telephony.transport import PHONE_RATE, PIPELINE_IN_RATE, HeardTextWriter, TwilioInput, TwilioOutput
from agent.voice.catalog import make_tts


@dataclass
class CallPipeline:
    """A built call: the worker to run, its context, and the timing observer."""

    worker: PipelineWorker
    context: LLMContext
    timing: TurnTimingObserver
    receptionist: Receptionist
    tts: TTSService | None = None  # the call's voice; `fallback_reason` on it says if it fell back to Piper


def build_call_pipeline(
    settings: Settings,
    models: Models,
    business: Business,
    transport_in: TwilioInput,
    transport_out: TwilioOutput,
    call: CallContext,
    recorder: CallRecorder | None = None,
    *,
    called: str = "",
) -> CallPipeline:
    """Wire caller audio → VAD/turn → Whisper → receptionist → reply model → voice → Twilio."""
    receptionist = Receptionist(call, route_intents=not settings.uses_endpoint)
    system: Any = {"role": "system", "content": business.system_prompt}
    context = LLMContext(messages=[system])
    if settings.uses_endpoint:
        context = LLMContext(messages=[system], tools=ToolsSchema(standard_tools=receptionist.tools()))
    vad = SileroVADAnalyzer(params=VADParams(stop_secs=settings.vad_stop_secs))
    # smart-turn judges each stretch of speech; with the transcript it picks the silence that ends the turn.
    smart_turn = LocalSmartTurnAnalyzerV3(params=SmartTurnParams(stop_secs=30.0))
    hangovers = HangoverParams(incomplete_s=settings.incomplete_turn_secs)
    strategies = UserTurnStrategies(stop=[AdaptiveTurnStop(smart_turn, hangovers)])
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
    llm = make_llm_service(settings, models.llm, business)
    voice = models.voices.for_called(called)
    tts = make_tts(
        voice, models.piper, call_id=call.call_sid, language=lambda: stt.language, sample_rate=PHONE_RATE
    )
    timing = TurnTimingObserver(settings.vad_stop_secs)
    transport_out.on_first_audio = lambda _u: timing.audio_sent()
    transport_out.on_clear = timing.cleared
    if recorder is not None:
        recorder.attach(transport_out, timing)
    heard = HeardTextWriter(transport_out, context)
    processors = [transport_in, stt, user_agg, receptionist, llm, tts, transport_out, assistant_agg, heard]
    pipeline = Pipeline(processors)
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(
            audio_in_sample_rate=PIPELINE_IN_RATE,
            audio_out_sample_rate=models.piper.config.sample_rate,
            enable_metrics=True,
        ),
        observers=[timing] if recorder is None else [timing, recorder],
        idle_timeout_secs=None,
        enable_rtvi=False,
        enable_tracing=settings.tracing,
        conversation_id=call.call_sid,
        additional_span_attributes={"call_sid": call.call_sid, "business": business.key},
    )
    return CallPipeline(worker=worker, context=context, timing=timing, receptionist=receptionist, tts=tts)
