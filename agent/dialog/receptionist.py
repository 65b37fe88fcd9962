"""The receptionist in the call: core intents before the model, actions, keypad, silence and time limits."""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    CancelFrame,
    EndFrame,
    Frame,
    InputDTMFFrame,
    InterruptionFrame,
    LLMContextFrame,
    StartFrame,
    TTSSpeakFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.llm_service import FunctionCallParams

from agent.calls.messages import MessageStore
from agent.dialog.actions import Action, EndCall, Reply, TakeMessage, Transfer
from agent.dialog.backchannel import is_backchannel
from agent.dialog.business import Business
from agent.dialog.continuation import LastTurn, merged_messages
from agent.dialog.dates import mentioned_days
from agent.dialog.embed import Encoder
from agent.dialog.hours import describe_day, describe_now, describe_week
from agent.dialog.router import Router, RouterState
from agent.telephony.control import CallControl

log = structlog.get_logger(__name__)
STILL_THERE = "Are you still there? How can I help you?"
TIME_LIMIT = "I'm sorry, we've reached the time limit for this call."
NUDGE_SECS = 2.0


@dataclass
class Outcome:
    """How the call ended, for the call log: completed, transferred, message_taken, caller_hung_up."""

    outcome: str = "caller_hung_up"
    detail: str = ""
    messages: int = 0


@dataclass
class CallContext:
    """What the receptionist needs from the call around it."""

    call_sid: str
    business: Business
    control: CallControl | None
    messages: MessageStore
    dial_action_url: str
    wait_spoken: Callable[[int], Awaitable[bool]]
    utterances_started: Callable[[], int]
    end_call: Callable[[str], Awaitable[None]]
    stop_grace_s: float = 5.0
    take_unheard: Callable[[], str] = lambda: ""
    note: Callable[[str, dict[str, Any]], None] = lambda kind, detail: None  # an event for the call log


# The user aggregator adds this for a turn that interrupted the agent but had no words (a cough, noise).
EMPTY_TURN_PROMPT = "The caller made a sound while you were speaking, but said nothing recognisable."


def last_user_text(frame: LLMContextFrame) -> str:
    """The most recent caller message in a context, as plain text."""
    for message in reversed(list(frame.context.get_messages())):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


class Receptionist(FrameProcessor):
    """Sits between the user aggregator and the LLM; answers what the profile answers, runs actions."""

    def __init__(self, call: CallContext, defer_unsure: bool = False, encoder: Encoder | None = None) -> None:
        """Answer from the profile first; `defer_unsure` passes what it isn't sure of to an endpoint model."""
        super().__init__(name="receptionist")
        self.call = call
        self.router = Router(call.business, encoder=encoder, defer_unsure=defer_unsure)
        self.outcome = Outcome()
        self._silence_task: asyncio.Task[None] | None = None
        self._limit_task: asyncio.Task[None] | None = None
        self._reprompts = 0
        self._user_speaking = False
        self._ending = False
        self._key_reply = False  # a keypress's reply is queued or playing
        self._key_action: asyncio.Task[None] | None = None  # its action
        self._acting: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()  # actions past _heard
        self.on_routed: Callable[[], None] | None = None  # after each utterance or key is routed
        self._last_turn: LastTurn | None = None  # the caller's last routed turn, while they may go on with it
        self._turn_action: asyncio.Task[None] | None = None  # its action

    def _routed(self) -> None:
        if self.on_routed is not None:
            self.on_routed()

    # -- frames -------------------------------------------------------------------------------------

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Route caller turns and keypresses; watch speaking frames for silence."""
        await super().process_frame(frame, direction)
        if isinstance(frame, StartFrame):
            await self.push_frame(frame, direction)
            minutes = self.call.business.behaviour.max_call_minutes
            self._limit_task = self.create_task(self._time_limit(minutes * 60), name="call-limit")
            return
        if isinstance(frame, (EndFrame, CancelFrame)):
            await self._cancel_timers()
            await self.push_frame(frame, direction)
            return
        turn = self._last_turn
        if isinstance(frame, UserStartedSpeakingFrame):
            if turn is not None and turn.resumed_at is None:
                turn.resumed_at = time.monotonic()
            self._user_speaking = True
            self._reprompts = 0
            await self._cancel_silence()
        elif isinstance(frame, UserStoppedSpeakingFrame):
            self._user_speaking = False
            self._arm_silence()
        elif isinstance(frame, BotStartedSpeakingFrame):
            await self._cancel_silence()
        elif isinstance(frame, InterruptionFrame) and turn is not None and not turn.heard:
            turn.cut = True
        elif isinstance(frame, BotStoppedSpeakingFrame) and direction == FrameDirection.UPSTREAM:
            if turn is not None and not turn.cut:
                turn.heard = True
            self._key_reply = False
            if not self._user_speaking:
                self._arm_silence()
        if isinstance(frame, InputDTMFFrame):
            self._last_turn = None
            await self.push_frame(frame, direction)
            reply = self.router.handle_key(frame.button.value)
            self._routed()
            log.info("dtmf_routed", digit=frame.button.value, intent=reply and reply.intent)
            if reply is not None:
                await self._drop_key_reply()
                self._key_action = await self.respond(reply)
                self._key_reply = bool(reply.text)
            return
        if (
            isinstance(frame, LLMContextFrame)
            and direction == FrameDirection.DOWNSTREAM
            and await self._resumed(frame)
        ):
            return
        if isinstance(frame, LLMContextFrame):
            utterance, before = await self._continued(frame, last_user_text(frame))
            reply = await asyncio.to_thread(self.router.handle, utterance)  # the encoder runs there
            self._routed()
            log.info(
                "intent", intent=reply.intent, action=type(reply.action).__name__ if reply.action else None
            )
            self._turn_action = None
            if reply.use_model:
                await self.push_frame(frame, direction)
            else:
                self._turn_action = await self.respond(reply)
            self._last_turn = LastTurn(utterance, before, time.monotonic())
            return
        await self.push_frame(frame, direction)

    async def _continued(self, frame: LLMContextFrame, text: str) -> tuple[str, RouterState]:
        """The words to route and the dialog state before them: when the caller went on with their last
        turn over its reply (that turn ended in a pause), both turns as one, from before the first (its
        reply and any action not yet begun are dropped, and the context holds one caller message)."""
        turn, action = self._last_turn, self._turn_action
        begun = action is not None and (action.done() or action in self._acting)  # too late to drop it
        if turn is None or begun or not turn.continued_by():
            return text, self.router.snapshot()
        joined = f"{turn.text} {text}"
        messages = merged_messages(list(frame.context.get_messages()), joined)
        if messages is None:
            return text, self.router.snapshot()
        frame.context.set_messages(messages)
        if action is not None:
            await self.cancel_task(action)
        self.router.restore(turn.before)
        gap_ms = round(((turn.resumed_at or turn.ended_at) - turn.ended_at) * 1000)
        log.info("turn_continued", text=joined, gap_ms=gap_ms)
        self.call.note("turn_continued", {"text": joined, "gap_ms": gap_ms})
        return joined, turn.before

    async def _resumed(self, frame: LLMContextFrame) -> bool:
        """After a barge-in that was only a backchannel or a cough, say the rest of the cut reply.

        Returns whether the turn was handled that way (the model is not asked).
        """
        messages = list(frame.context.get_messages())
        last: Any = messages[-1] if messages else None
        empty_turn = isinstance(last, dict) and last.get("content") == EMPTY_TURN_PROMPT
        if empty_turn:
            frame.context.set_messages(messages[:-1])
        unheard = self.call.take_unheard()
        listening = not empty_turn and bool(unheard) and is_backchannel(last_user_text(frame))
        if not (empty_turn or listening):
            return False  # a real request, or "okay" when nothing was cut: the caller's answer
        kind = "empty" if empty_turn else "backchannel"
        self._last_turn = None  # the reply goes on: what follows answers it
        log.info("barge_in_not_a_turn", kind=kind, resumed=bool(unheard))
        self.call.note("barge_in_handled", {"treated_as": kind, "resumed": bool(unheard)})
        if unheard:
            await self.push_frame(TTSSpeakFrame(unheard))
        return True

    async def _drop_key_reply(self) -> None:
        """A key pressed while the last key's reply is still queued or playing replaces it, as a phone
        menu does: that reply is cut (an interruption) and its action, not yet begun, is dropped; so a
        caller mashing keys hears one answer, and a stream of keypresses can't queue minutes of speech."""
        action, self._key_action = self._key_action, None
        if action is not None and not action.done() and action not in self._acting:
            await self.cancel_task(action)
        if self._key_reply:
            self._key_reply = False
            await self.broadcast_interruption()  # type: ignore[no-untyped-call]

    async def respond(self, reply: Reply) -> asyncio.Task[None] | None:
        """Speak a reply, then carry out its action once the caller has heard it (the task doing that)."""
        before = self.call.utterances_started()
        log.info(
            "agent_reply",
            intent=reply.intent,
            text=reply.text,
            action=type(reply.action).__name__ if reply.action else None,
        )
        if reply.intent.startswith("hours") or reply.intent == "open_now":
            self.call.note("tool", {"name": "hours", "intent": reply.intent})
        if reply.text:
            await self.push_frame(TTSSpeakFrame(reply.text))
        elif reply.nudge:
            await self._cancel_silence()
            self._arm_silence(NUDGE_SECS, reply.nudge)
        if reply.action is not None:
            return self.create_task(self._act(reply.action, before), name="receptionist-action")
        return None

    # -- actions ------------------------------------------------------------------------------------

    async def _act(self, action: Action, utterances_before: int) -> None:
        if isinstance(action, TakeMessage):
            await self.store_message(action)
            if action.end_call:
                await self._heard(utterances_before)
                await self.hang_up()
        elif isinstance(action, Transfer):
            await self._heard(utterances_before)
            await self.transfer(action.staff.name, action.staff.number)
        elif isinstance(action, EndCall):
            await self._heard(utterances_before)
            await self.hang_up()

    async def _heard(self, utterances_before: int) -> None:
        """Wait until the reply has been heard; until then the action may still be dropped."""
        await self.call.wait_spoken(utterances_before)
        task = asyncio.current_task()
        if task is not None:
            self._acting.add(task)

    async def store_message(self, m: TakeMessage) -> None:
        """Store a message with the call and note it in the outcome."""
        stored = await self.call.messages.add(
            self.call.call_sid,
            self.call.business.key,
            m.recipient,
            m.caller_name,
            m.callback_number,
            m.message,
            m.urgent,
        )
        self.outcome.messages += 1
        if self.outcome.outcome == "caller_hung_up":
            self.outcome = Outcome("message_taken", stored.id, self.outcome.messages)
        log.info("message_taken", message_id=stored.id, recipient=m.recipient, urgent=m.urgent)
        self.call.note("tool", {"name": "take_message", "message_id": stored.id, "recipient": m.recipient})

    async def transfer(self, staff_name: str, number: str) -> None:
        """Move the live call to `number`; on failure apologise and offer to take a message."""
        if self._ending:
            return
        control = self.call.control
        result = (
            await control.transfer(
                self.call.call_sid,
                number,
                f"{self.call.dial_action_url}&staff={staff_name}",
                self.call.business.behaviour.transfer_timeout_secs,
            )
            if control
            else None
        )
        if result is None or not result.ok:
            log.warning("transfer_failed", staff=staff_name, code=result and result.code)
            self.call.note("transfer", {"staff": staff_name, "ok": False, "code": result and result.code})
            await self.respond(self.router.resume_after_failed_transfer(staff_name))
            return
        self._ending = True
        self.outcome = Outcome("transferred", staff_name, self.outcome.messages)
        log.info("call_transferred", staff=staff_name)
        self.call.note("transfer", {"staff": staff_name, "ok": True})
        await asyncio.sleep(self.call.stop_grace_s)  # Twilio's stop normally ends the stream first
        await self.call.end_call("transferred")

    async def hang_up(self) -> None:
        """Hang the call up through Twilio, then end our side of the stream."""
        if self._ending:
            return
        self._ending = True
        if self.outcome.outcome == "caller_hung_up":
            self.outcome = Outcome("completed", "", self.outcome.messages)
        if self.call.control is not None:
            await self.call.control.hang_up(self.call.call_sid)
        log.info("call_hung_up_by_agent")
        await self.call.end_call("agent hung up")

    # -- timers -------------------------------------------------------------------------------------

    def _arm_silence(self, secs: float | None = None, nudge: str = "") -> None:
        if self._silence_task is None and not self._ending:
            secs = secs or self.call.business.behaviour.silence_reprompt_secs
            self._silence_task = self.create_task(self._on_silence(secs, nudge), name="silence")

    async def _cancel_silence(self) -> None:
        task, self._silence_task = self._silence_task, None
        if task is not None and task is not asyncio.current_task():
            await self.cancel_task(task)

    async def _cancel_timers(self) -> None:
        await self._cancel_silence()
        task, self._limit_task = self._limit_task, None
        if task is not None:
            await self.cancel_task(task)

    async def _on_silence(self, secs: float, nudge: str) -> None:
        await asyncio.sleep(secs)
        self._silence_task = None
        if nudge:
            await self.respond(Reply(nudge, "nudge"))
            return
        self._reprompts += 1
        if self._reprompts > self.call.business.behaviour.silence_max_reprompts:
            log.info("silence_hang_up", reprompts=self._reprompts - 1)
            await self.respond(Reply(self.call.business.closing, "silence", EndCall()))
        else:
            log.info("silence_reprompt", attempt=self._reprompts)
            await self.respond(Reply(STILL_THERE, "silence"))

    async def _time_limit(self, secs: float) -> None:
        await asyncio.sleep(secs)
        log.info("call_time_limit")
        await self.respond(Reply(f"{TIME_LIMIT} {self.call.business.closing}", "time_limit", EndCall()))

    # -- tools for an endpoint model -----------------------------------------------------------------

    def tools(self) -> list[FunctionSchema]:
        """The same actions as function-calling tools, for an OpenAI-compatible model."""
        b = self.call.business
        staff_names = [s.name for s in b.staff]

        async def business_hours(params: FunctionCallParams) -> None:
            day = str(params.arguments.get("day") or "").lower()
            self.call.note("tool", {"name": "hours", "tool": "business_hours", "day": day})
            days = mentioned_days(day, b.now().date(), b.hours)
            if days:
                text = " ".join(describe_day(b.hours, d.date, d.label) for d in days)
            else:
                text = f"Regular hours: {describe_week(b.hours)}"
            await params.result_callback({"hours": text})

        async def open_now(params: FunctionCallParams) -> None:
            self.call.note("tool", {"name": "hours", "tool": "open_now"})
            await params.result_callback({"status": describe_now(b.hours, b.now())})

        async def take_message(params: FunctionCallParams) -> None:
            a = params.arguments
            await self.store_message(
                TakeMessage(
                    str(a.get("caller_name", "")),
                    str(a.get("callback_number", "")),
                    str(a.get("message", "")),
                    bool(a.get("urgent", False)),
                    str(a.get("recipient") or b.message_recipient),
                )
            )
            await params.result_callback({"stored": True})

        async def transfer_call(params: FunctionCallParams) -> None:
            staff = b.staff_named(str(params.arguments.get("staff_name", ""))) or b.operator
            before = self.call.utterances_started()
            await params.result_callback(
                {"transferring_to": staff.name, "instruction": "Tell the caller you are connecting them now."}
            )
            self.create_task(self._act(Transfer(staff), before), name="receptionist-action")

        async def end_call(params: FunctionCallParams) -> None:
            before = self.call.utterances_started()
            await params.result_callback({"instruction": f"Say exactly: {b.closing}"})
            self.create_task(self._act(EndCall(), before), name="receptionist-action")

        return [
            FunctionSchema(
                "business_hours",
                "Opening hours for a day (a weekday, today, tomorrow, a date or a holiday's name), "
                "computed from the business profile in its time zone.",
                {"day": {"type": "string", "description": "a weekday, today, tomorrow, a date or a holiday"}},
                [],
                handler=business_hours,
            ),
            FunctionSchema("open_now", "Whether the business is open right now.", {}, [], handler=open_now),
            FunctionSchema(
                "take_message",
                "Store a message after confirming the callback number.",
                {
                    "caller_name": {"type": "string"},
                    "callback_number": {"type": "string"},
                    "message": {"type": "string"},
                    "urgent": {"type": "boolean"},
                    "recipient": {"type": "string", "enum": staff_names},
                },
                ["caller_name", "callback_number", "message"],
                handler=take_message,
            ),
            FunctionSchema(
                "transfer_call",
                "Transfer the caller to a staff member.",
                {"staff_name": {"type": "string", "enum": staff_names}},
                ["staff_name"],
                handler=transfer_call,
            ),
            FunctionSchema("end_call", "End the call after saying goodbye.", {}, [], handler=end_call),
        ]
