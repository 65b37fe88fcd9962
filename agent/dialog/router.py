"""The dialog engine: each caller turn routed to an answer from the profile, an action, or the model."""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from agent.dialog.actions import ANYTHING_ELSE, EndCall, Reply, TakeMessage, Transfer
from agent.dialog.answers import answer_address, answer_hours, answer_service, list_services
from agent.dialog.business import Business, Staff
from agent.dialog.dates import mentioned_days
from agent.dialog.embed import Encoder, load_encoder
from agent.dialog.hours import describe_now, describe_week
from agent.dialog.message_taking import FIELD_STEPS, MessageDraft, is_no, next_step, start_draft, take_answer
from agent.dialog.phrases import (
    AVAILABLE,
    BOOK,
    BYE,
    CANCEL,
    DURATION,
    HELLO,
    HOURS_WORDS,
    LEAVE_MESSAGE,
    MESSAGE,
    NOT_BOOKING,
    NOT_BYE,
    OPEN_NOW,
    PERSON,
    PRICE,
    QUESTION,
    REQUEST,
    SERVICE_LIST,
    SMALLTALK,
    START_OVER,
    YES,
    wants_booking,
)
from agent.dialog.questions import asks_question, question_parts
from agent.dialog.spoken import normalise
from agent.dialog.staff_lookup import (
    about_staff,
    booking_ref,
    booking_staff,
    named_in,
    staff_for,
    topic_staff,
)
from agent.dialog.understanding import Reading, Sense, Thresholds, Understanding

INFORM = ("hours", "address", "service", "faq")  # answers from the profile that take no action
# What a whole request can be read as ("I have a question" or a bare "hi" is followed by the request).
REQUESTS = frozenset({*INFORM, "booking", "transfer", "message", "goodbye", "thanks"})
MAX_ANSWERS = 2  # a phone caller can't skim: at most this many questions answered in one reply


# A question about the business itself ("are you ...", "you guys ..."), not about a person or a thing.
ABOUT_YOU = re.compile(r"\b(are|were|will) (you|ya|y'all)\b|\byou (guys|all|folks)\b")
UNKNOWN = (
    "I'm sorry, I don't have that information. I can take a message, or connect you with someone who "
    "can help. Which would you prefer?"
)


@dataclass(frozen=True)
class RouterState:
    """The router's dialog state between turns: what was said, a message being taken, what it asked."""

    history: list[str]
    draft: MessageDraft | None
    keep: MessageDraft | None
    clarify: tuple[Sense, ...]
    asked_anything_else: bool
    last_intent: str


@dataclass
class Router:
    """Routes each caller utterance to an answer from the profile, a dialog step, or the model."""

    business: Business
    clock: Callable[[], dt.datetime] | None = None
    understanding: Understanding | None = None
    encoder: Encoder | None = None  # none: the default encoder
    defer_unsure: bool = False  # an endpoint model answers what the profile doesn't answer for sure
    history: list[str] = field(default_factory=list)
    last_reading: Reading | None = None
    _draft: MessageDraft | None = None
    _keep: MessageDraft | None = None  # asked whether to pass on a half-taken message before goodbye
    _clarify: tuple[Sense, ...] = ()
    _asked_anything_else: bool = False
    _last_intent: str = ""

    def reader(self) -> Understanding:
        """The understanding layer, built on first use (blocking: may load the encoder, embed the profile)."""
        if self.understanding is None:
            self.understanding = Understanding(self.business, self.encoder or load_encoder())
        return self.understanding

    @property
    def _t(self) -> Thresholds:
        return self.reader().thresholds

    @property
    def expects_details(self) -> bool:
        """Whether the caller is now giving details that must be heard exactly (a message's fields)."""
        return self._draft is not None

    @property
    def expects_number(self) -> bool:
        """Whether the caller may now read out a number or spell a name (steps that need longer pauses)."""
        return self._draft is not None and self._draft.step in FIELD_STEPS

    def now(self) -> dt.datetime:
        """The current time in the business's zone (or the injected clock's)."""
        return self.clock() if self.clock else self.business.now()

    def is_complete_request(self, utterance: str) -> bool:
        """Whether the words are a whole request the receptionist can act on: one sure reading of an intent
        in REQUESTS, and no message being taken (its names and numbers come in pieces). Blocking: encoder."""
        if self._draft is not None or self._keep is not None or not utterance.strip():
            return False
        reading = self.reader().read(normalise(utterance))
        best = reading.best
        return best.intent in REQUESTS and reading.sure(best, self._t.strong, self._t.min_score)

    def snapshot(self) -> RouterState:
        """The dialog state as it is now, to go back to if this turn turns out to have been cut short."""
        return RouterState(
            list(self.history), copy.deepcopy(self._draft), copy.deepcopy(self._keep), self._clarify,
            self._asked_anything_else, self._last_intent,
        )  # fmt: skip

    def restore(self, state: RouterState) -> None:
        """Go back to a snapshot's dialog state (what the turns since did is forgotten)."""
        self.history = list(state.history)
        self._draft, self._keep = copy.deepcopy(state.draft), copy.deepcopy(state.keep)
        self._clarify, self._asked_anything_else = state.clarify, state.asked_anything_else
        self._last_intent = state.last_intent

    def handle(self, utterance: str) -> Reply:
        """Decide the reply to one caller utterance (blocking: reads it with the sentence encoder)."""
        text = normalise(utterance)
        self.history.append(text)
        if self._keep is not None:
            return self._after_keep_question(text)
        if self._draft is not None:
            return self._continue_message(utterance, text)
        reply = self._route(utterance, text)
        if reply.intent in INFORM and reply.action is None:
            reply = self._answer_the_rest(utterance, reply)
        self._asked_anything_else = reply.text.endswith(ANYTHING_ELSE)
        self._last_intent = reply.intent
        return reply

    def handle_key(self, digit: str) -> Reply | None:
        """Decide what a keypad digit does, from the profile's dtmf map."""
        key = self.business.dtmf.get(digit)
        if key is None:
            return None
        self._draft = self._keep = None
        if key.action == "transfer" and key.to:
            staff = self.business.staff_named(key.to) or self.business.operator
            return self._transfer(staff)
        if key.action == "hours":
            return self._say(
                f"{describe_now(self.business.hours, self.now())} "
                f"Our regular hours are {describe_week(self.business.hours)}",
                "hours",
            )
        if key.action == "address":
            return self._say(answer_address(self.business, ""), "address")
        return self.start_message(self.business.message_recipient, "")

    def start_message(self, recipient: str, utterance: str, lead: str = "", offered: bool = False) -> Reply:
        """Begin taking a message for `recipient`, keeping whatever the caller already said."""
        self._draft = start_draft(recipient, utterance)
        self._draft.offered = offered
        return self._next_message_step(lead or f"Sure, I can take a message for {recipient}.")

    def resume_after_failed_transfer(self, staff_name: str) -> Reply:
        """After a transfer nobody answered: apologise and offer to take a message for them."""
        return self.start_message(
            staff_name,
            "",
            lead=f"I'm sorry, {staff_name} isn't available right now. "
            f"I can take a message and have them call you back.",
            offered=True,
        )

    # -- routing ------------------------------------------------------------------------------------

    def _route(self, raw: str, text: str) -> Reply:
        b = self.business
        if not text:
            return self._say("Sorry, I didn't catch that. Could you say it again?", "unclear", follow=False)
        if self._is_goodbye(text):
            return Reply(b.closing, "goodbye", EndCall())
        if (CANCEL.search(text) or START_OVER.search(text)) and len(text.split()) <= 5:
            self._clarify = ()
            return self._say("Sure, no problem. What can I help you with?", "start_over", follow=False)
        named = named_in(self.business, text)
        if not LEAVE_MESSAGE.search(text) and (PERSON.search(text) or (named and AVAILABLE.search(text))):
            return self._transfer(
                named or staff_for(self.business, text, self.reader().read(text), self._t) or b.operator
            )
        if MESSAGE.search(text):
            staff = named_in(self.business, text)
            return self.start_message(staff.name if staff else b.message_recipient, raw)
        reading = self.last_reading = self.reader().read(text)
        if self._clarify:
            chosen = self._resolve_clarify(reading, text)
            if chosen is not None:
                return self._answer(chosen, raw, text, reading)
        sure = [(s, v) for s, v in reading.ranked if reading.sure(s, self._t.strong, self._t.min_score)]
        if NOT_BOOKING.search(text):  # "what if I cancel?", "before I book": a question, not a booking
            sure = [(s, v) for s, v in sure if s.intent != "booking"]
        faq = next((s for s, _ in sure if s.intent == "faq" and s in reading.evidence), None)
        asks = asks_question(raw)
        if (
            wants_booking(text)
            and not PRICE.search(text)
            and not (faq is not None and asks and not BOOK.search(text))
        ):
            return self._answer(Sense("booking", booking_ref(self.business, reading)), raw, text, reading)
        if self._about_hours(text, reading):
            return self._say(answer_hours(b, text, self.now()), "hours")
        if SERVICE_LIST.search(text) and not self._entry(reading, ("service",), 0.7):
            return self._say(list_services(b), "service")
        topic = topic_staff(self.business, text, reading, self._t.min_score)
        if topic is not None and not asks and REQUEST.search(text):
            return self._transfer(topic)  # "a complaint about my haircut": the person who takes complaints
        if not sure:
            return self._fallback(raw, text)
        (best, score), rival = sure[0], (sure[1] if len(sure) > 1 else None)
        if rival is not None and asks and not PERSON.search(text):
            # Asked a question that a profile entry answers: answer it rather than pass the caller on.
            kinds = {best.intent, rival[0].intent}
            close = score - rival[1] < (0.35 if PRICE.search(text) else 0.15)
            if kinds & {"transfer", "booking"} and kinds & {"faq", "service"} and close:
                best, score = (best, score) if best.intent in ("faq", "service") else rival
                rival = None
        if (
            rival is not None
            and score - rival[1] < self._t.clarify_margin
            and rival[1] >= self._t.clarify_min
            and self._distinct(best, rival[0])
        ):
            if self.defer_unsure:
                return Reply("", "chat", use_model=True)
            self._clarify = (best, rival[0])
            return Reply(
                f"Just to be sure: {self._describe(best)}, or {self._describe(rival[0])}?", "clarify"
            )
        return self._answer(best, raw, text, reading)

    def _answer(self, sense: Sense, raw: str, text: str, reading: Reading) -> Reply:
        b = self.business
        self._clarify = ()
        intent = sense.intent
        if intent == "question":
            entry = self._entry(reading, ("service", "faq"), self._t.min_score)
            if entry is None:
                return self._fallback(raw, text)
            sense, intent = entry, entry.intent
        if intent in ("service", "faq") and re.search(
            r"\b(make|book|schedule|set up|get) (an? |my )?app", text
        ):
            intent = "booking"
        if intent == "hours":
            return self._say(answer_hours(b, text, self.now()), "hours")
        if intent == "address":
            return self._say(answer_address(b, text), "address")
        if intent == "booking":
            staff = b.staff_named(sense.ref) if sense.ref else None
            return self._transfer(staff or booking_staff(self.business) or b.operator, "booking")
        if intent == "transfer":
            staff = b.staff_named(sense.ref) if sense.ref else named_in(self.business, text)
            if staff is not None and not PERSON.search(text) and about_staff(text, staff):
                role = (
                    f", our {staff.role}" if staff.role and staff.role.lower() != staff.name.lower() else ""
                )
                return self._say(
                    f"I'm not sure I can answer that myself. That's {staff.name}{role}: I can connect you, "
                    "or take a message for them.",
                    "staff",
                    follow=False,
                )
            return self._transfer(staff or b.operator)
        if intent == "message":
            staff = named_in(self.business, text)
            return self.start_message(staff.name if staff else b.message_recipient, raw)
        if intent == "goodbye":
            return Reply(b.closing, "goodbye", EndCall())
        if intent == "service" and sense.ref:
            asked = self.reader().offered(text)
            if asked is not None and not asked[1]:
                return self._not_offered(asked[0])
            service = next(s for s in b.services if s.name == sense.ref)
            if DURATION.search(text) and not re.search(r"\b(minutes?|hours?)\b", service.description):
                return self._say(
                    f"I'm not sure how long the {service.name.lower()} takes. I can take a message, or "
                    "connect you with someone who can tell you.",
                    "unknown",
                    follow=False,
                )
            return self._say(self._hedged(raw, answer_service(service)), "service")
        if intent == "faq":
            faq = next(f for f in b.faq if f.question == sense.ref)
            return self._say(self._hedged(raw, faq.answer), "faq")
        if intent == "start_over":
            return self._say("Sure. What can I help you with?", "start_over", follow=False)
        if intent == "thanks":
            return self._say("You're welcome!", "thanks")
        if SMALLTALK.search(text):
            return self._say(
                "I'm doing well, thank you for asking! How can I help you today?", "hello", follow=False
            )
        if HELLO.match(text) or intent == "hello":  # callers often pause after "hi": listen on
            return Reply("", "hello", nudge="Hi there! How can I help you today?")
        return self._fallback(raw, text)

    def _answer_the_rest(self, raw: str, first: Reply) -> Reply:
        """Two questions in one breath ("where are you, and how late are you open?"): answer each part."""
        parts = question_parts(raw)
        if len(parts) < 2:
            return first
        answers = [first.text.removesuffix(ANYTHING_ELSE).strip()]
        saved = (self._clarify, self._last_intent, self._draft, self._keep)
        for part in parts:
            reply = self._route(part, normalise(part))
            said = reply.text.removesuffix(ANYTHING_ELSE).strip()
            repeated = any(said in a or a in said for a in answers) or (
                # "Sundays? Are you even open?": the same hours question again, with no day of its own
                reply.intent == first.intent == "hours"
                and not mentioned_days(normalise(part), self.now().date(), self.business.hours)
            )
            if reply.intent in INFORM and reply.action is None and said and not repeated:
                answers.append(said)
            # Only answers are taken from the parts: a part that would start a message changes nothing.
            self._clarify, self._last_intent, self._draft, self._keep = saved
            if len(answers) == MAX_ANSWERS:
                break
        if len(answers) == 1:
            return first
        return self._say(" ".join(answers), first.intent)

    def _hedged(self, raw: str, answer: str) -> str:
        """The answer, plus "not sure about X" for a name the caller used that the profile never mentions."""
        unknown = [w for w in self.reader().unlisted_names(raw) if w.lower() not in answer.lower()]
        if not unknown:
            return answer
        return (
            f"{answer} I'm not sure about {' or '.join(unknown[:2])} specifically; I can take a message, "
            "or connect you with someone who can check."
        )

    def _not_offered(self, thing: str) -> Reply:
        return self._say(
            f"I'm sorry, I don't see {thing} among our services. I can take a message, or connect you with "
            "someone who can help.",
            "unknown",
            follow=False,
        )

    def _fallback(self, raw: str, text: str) -> Reply:
        """Nothing the profile holds: a question gets an honest don't-know (`defer_unsure`: the model)."""
        asked = self.reader().offered(text)
        if asked is not None and not asked[1]:
            return self._not_offered(asked[0])
        asks = asks_question(raw) or PRICE.search(text)
        days = mentioned_days(text, self.now().date(), self.business.hours)
        if asks and days and ABOUT_YOU.search(text) and not PRICE.search(text):
            # A question about the business whose only clear word is a day ("are you guy moping on Monday?",
            # as Whisper heard "you guys open"): that day's hours are what it can be asking.
            return self._say(answer_hours(self.business, text, self.now()), "hours")
        if asks and not self.defer_unsure:
            return self._say(UNKNOWN, "unknown", follow=False)
        if SMALLTALK.search(text):
            return self._say(
                "I'm doing well, thank you for asking! How can I help you today?", "hello", follow=False
            )
        if HELLO.match(text):
            return Reply("", "hello", nudge="Hi there! How can I help you today?")
        return Reply("", "chat", use_model=True)  # the model, with the profile and its tools

    def _is_goodbye(self, text: str) -> bool:
        if BYE.search(text) and not NOT_BYE.search(text) and not QUESTION.match(text):
            return True
        plain_no = re.fullmatch(
            r"(no|nope|nah|no that's (all|it)|i'm good|i'm fine|that's fine|not really|all good)"
            r"( thanks?( you)?| thank you)?",
            text,
        )
        return self._asked_anything_else and plain_no is not None

    def _about_hours(self, text: str, reading: Reading) -> bool:
        if OPEN_NOW.search(text):
            return True
        days = mentioned_days(text, self.now().date(), self.business.hours)
        if not days or wants_booking(text) or MESSAGE.search(text):
            return False
        if self._last_intent == "hours" and len(text.split()) <= 6:
            return True  # "and on Saturday?" after an answer about hours
        if HOURS_WORDS.search(text):
            return True
        entry = self._entry(reading, ("faq", "service"), self._t.min_score)
        if entry is not None and entry in reading.evidence:
            return False  # "can I drop in on Saturday?": the profile's own entry (walk-ins) answers it
        hours = reading.top("hours")
        return hours is not None and hours[1] >= self._t.min_score

    @staticmethod
    def _entry(reading: Reading, intents: tuple[str, ...], floor: float) -> Sense | None:
        """The best profile entry of these kinds, if it scores at least `floor`."""
        for sense, score in reading.ranked:
            if sense.intent in intents and sense.ref:
                return sense if score >= floor else None
        return None

    def _distinct(self, a: Sense, b: Sense) -> bool:
        """Whether two readings lead to different answers (a profile entry against another, or an action)."""
        generic = {"question", "hello", "thanks", "goodbye"}
        if a.intent in generic or b.intent in generic:
            return False
        if {a.intent, b.intent} <= {"transfer", "booking"} and (not a.ref or not b.ref):
            return False
        if a.intent == b.intent and (not a.ref or not b.ref):
            return False
        return a != b

    def _describe(self, s: Sense) -> str:
        """A sense as a short choice in a clarifying question."""
        if s.intent == "service":
            return f"{s.ref.lower()}"
        if s.intent == "faq":
            return f"{s.ref[0].lower()}{s.ref[1:].rstrip('?')}"
        if s.intent in ("transfer", "booking"):
            staff = self.business.staff_named(s.ref) if s.ref else None
            who = staff.name if staff else "someone"
            return "to book a visit" if s.intent == "booking" else f"to speak to {who}"
        return {"hours": "our opening hours", "address": "where we are", "message": "to leave a message"}.get(
            s.intent, s.intent
        )

    def _resolve_clarify(self, reading: Reading, text: str) -> Sense | None:
        options, self._clarify = self._clarify, ()
        if re.search(r"\b(first|former|the first one)\b", text):
            return options[0]
        if re.search(r"\b(second|latter|the other one|the last one)\b", text):
            return options[1]
        scores = {s: v for s, v in reading.ranked}
        ranked = sorted(options, key=lambda s: -scores.get(s, -1.0))
        if YES.search(text) and len(text.split()) <= 2:
            return options[0]
        return ranked[0] if scores.get(ranked[0], -1.0) >= self._t.min_score else None

    def _say(self, text: str, intent: str, follow: bool = True) -> Reply:
        return Reply(f"{text} {ANYTHING_ELSE}" if follow else text, intent)

    def _transfer(self, staff: Staff, intent: str = "transfer") -> Reply:
        role = f", our {staff.role}" if staff.role and staff.role.lower() != staff.name.lower() else ""
        return Reply(
            f"Sure, I'll connect you with {staff.name}{role}. One moment please.", intent, Transfer(staff)
        )

    # -- message taking -----------------------------------------------------------------------------

    def _continue_message(self, raw: str, text: str) -> Reply:
        d = self._draft
        assert d is not None
        short = len(text.split()) <= 6
        if CANCEL.search(text) and BYE.search(text) and d.step != "text":
            self._draft = None  # "never mind, bye": nothing to keep
            return Reply(self.business.closing, "goodbye", EndCall())
        if BYE.search(text) and not NOT_BYE.search(text) and (d.step != "text" or short):
            self._draft = None
            if not d.has_details:
                return Reply(self.business.closing, "goodbye", EndCall())
            self._keep = d
            return Reply(
                f"Before you go, shall I pass on what I have so far to {d.recipient}?", "message_keep"
            )
        if CANCEL.search(text) and d.step != "text":
            self._draft = None
            return self._say("No problem, I won't take a message.", "message_cancelled")
        if START_OVER.search(text):
            return self.start_message(d.recipient, "", lead="Sure, let's start again.")
        if d.step in ("name", "spell") and (QUESTION.match(text) or raw.strip().endswith("?")):
            # Asked for a name, the caller asks something else: answer it, then come back to a message they
            # asked to leave (one we only offered is dropped: they want something else).
            self._draft = None
            reply = self._route(raw, text)
            if reply.action is not None or reply.use_model or self._draft is not None or d.offered:
                return reply
            self._draft = d
            answer = reply.text.removesuffix(ANYTHING_ELSE).strip()
            back, _ = next_step(d, "")
            return Reply(f"{answer} Now, for your message: {back.text}".strip(), reply.intent)
        retry = take_answer(d, raw, text)
        return retry if retry is not None else self._next_message_step("")

    def _next_message_step(self, lead: str) -> Reply:
        assert self._draft is not None
        reply, done = next_step(self._draft, lead)
        if done:
            self._draft = None
            self._asked_anything_else = True
        return reply

    def _after_keep_question(self, text: str) -> Reply:
        draft, self._keep = self._keep, None
        assert draft is not None
        closing = self.business.closing
        if YES.search(text) and not is_no(text):
            m = draft.as_message()
            kept = TakeMessage(
                m.caller_name, m.callback_number, m.message, m.urgent, m.recipient, end_call=True
            )
            return Reply(f"Okay, I'll pass that on to {draft.recipient}. {closing}", "message_taken", kept)
        return Reply(closing, "goodbye", EndCall())
