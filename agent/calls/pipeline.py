"""build_call_pipeline: the one place a call's graph of processors is written."""

from __future__ import annotations

from dataclasses import dataclass

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
from pipecat.turns.user_stop import TurnAnalyzerUserTurnStopStrategy
from pipecat.turns.user_turn_strategies import UserTurnStrategies

from agent.calls.timing import TurnTimingObserver
from agent.config import Settings
from agent.dialog.business import Business
from agent.dialog.llm import make_llm_service
from agent.models import Models
from agent.speech.stt import WhisperSTTService
from agent.telephony.transport import PIPELINE_IN_RATE, TwilioInput, TwilioOutput
from agent.voice.piper import PiperTTSService


@dataclass
class CallPipeline:
    """A built call: the worker to run, its context, and the timing observer."""

    worker: PipelineWorker
    context: LLMContext
    timing: TurnTimingObserver


def build_call_pipeline(
    settings: Settings,
    models: Models,
    business: Business,
    transport_in: TwilioInput,
    transport_out: TwilioOutput,
) -> CallPipeline:
    """Wire caller audio → VAD/turn → Whisper → reply model → voice → Twilio for one call."""
    context = LLMContext(messages=[{"role": "system", "content": business.system_prompt}])
    vad = SileroVADAnalyzer(params=VADParams(stop_secs=settings.vad_stop_secs))
    # smart-turn decides at each VAD stop; a turn it judges incomplete ends after this much silence.
    smart_turn = LocalSmartTurnAnalyzerV3(params=SmartTurnParams(stop_secs=settings.incomplete_turn_secs))
    strategies = UserTurnStrategies(stop=[TurnAnalyzerUserTurnStopStrategy(turn_analyzer=smart_turn)])
    user_agg, assistant_agg = LLMContextAggregatorPair(
        context, user_params=LLMUserAggregatorParams(vad_analyzer=vad, user_turn_strategies=strategies)
    )
    stt = WhisperSTTService(models.whisper, models.whisper_lock)
    llm = make_llm_service(settings, models.llm)
    tts = PiperTTSService(models.piper)
    timing = TurnTimingObserver(settings.vad_stop_secs)
    transport_out.on_first_audio = lambda _u: timing.audio_sent()
    pipeline = Pipeline([transport_in, stt, user_agg, llm, tts, transport_out, assistant_agg])
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(
            audio_in_sample_rate=PIPELINE_IN_RATE,
            audio_out_sample_rate=models.piper.config.sample_rate,
            enable_metrics=True,
        ),
        observers=[timing],
        idle_timeout_secs=None,
        enable_rtvi=False,
    )
    return CallPipeline(worker=worker, context=context, timing=timing)
