"""Core receptionist intents, routed before any model: facts from the profile, actions by rule (pure)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from agent.dialog.business import Business, Staff
from agent.dialog.hours import WEEKDAYS, describe_day, describe_now, describe_week

ANYTHING_ELSE = "Is there anything else I can help you with?"
NUMBER_WORDS = {
    "zero": "0",
    "oh": "0",
    "o": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
_YES = re.compile(r"\b(yes|yeah|yep|yup|correct|right|sure|exactly|absolutely|ok|okay|please do|it is)\b")
_NO = re.compile(r"\b(no|nope|nah|not|wrong|incorrect|isn't|isnt)\b")
_BYE = re.compile(
    r"\b(bye|goodbye|good bye|that's all|that is all|that's it|that is it|nothing else|"
    r"no thanks|no thank you|have a (good|great|nice) (day|one|night)|hang up)\b"
)
_MESSAGE = re.compile(
    r"\b(leave|take|pass on|pass along|give \w+) (a |my )?message\b|\bcall me back\b|"
    r"\bcall back\b|\bhave (him|her|them|someone|somebody|\w+) (call|ring|phone)\b|"
    r"\bget back to me\b|\bvoicemail\b"
)
_TRANSFER = re.compile(
    r"\b(speak|talk|chat) (to|with)\b|\bconnect me\b|\btransfer\b|\bput me through\b|"
    r"\b(a|an actual|a real|real) (person|human|someone)\b|\bhuman\b|\brepresentative\b|"
    r"\boperator\b|\bsomeone\b|\bsomebody\b|\breach\b|\bget me\b|\bis \w+ (there|in|available)\b"
)
_OPEN_NOW = re.compile(
    r"\b(open|closed) (right )?now\b|\bstill open\b|\bopen at the moment\b|"
    r"\bare you (guys )?open\b|\bopen currently\b|\bcurrently open\b"
)
_HOURS = re.compile(
    r"\bhours\b|\bopen\b|\bopening\b|\bclose\b|\bclosing\b|\bwhat time\b|\bwhen do you\b|"
    r"\bwhen are you\b|\bschedule for\b"
)
_WHERE = re.compile(
    r"\bwhere\b|\baddress\b|\blocated\b|\blocation\b|\bdirections?\b|\bget (to|there)\b|"
    r"\bfind you\b|\bpark(ing)?\b"
)
_PRICE = re.compile(r"\bhow much\b|\bprices?\b|\bcosts?\b|\bcharge\b|\bfees?\b|\brates?\b")
_SERVICES = re.compile(r"\bservices\b|\bwhat do you (do|offer)\b|\bdo you (do|offer)\b|\btreatments\b")
_HELLO = re.compile(r"^(hi|hello|hey|good (morning|afternoon|evening)|hiya|howdy)( there)?$")
_SMALLTALK = re.compile(r"\bhow are you\b|\bhow's it going\b|\bhow is it going\b|\bhow are things\b")
_QUESTION = re.compile(
    r"^(do|does|did|can|could|will|would|is|are|was|were|what|when|where|who|whom|"
    r"which|why|how|should|have|has)\b"
)
_NAME = re.compile(
    r"\b(?:my name is|my name's|this is|it's|it is|i am|i'm|name is)\s+"
    r"([a-z][a-z'\-]*(?: [a-z][a-z'\-]*)?)"
)
_ABOUT = re.compile(r"\b(?:about|regarding|that|to say|saying|to tell (?:her|him|them))\s+(.{4,})$")
_URGENT = re.compile(r"\b(urgent|emergency|asap|as soon as possible|right away|immediately)\b")
_NOT_NAMES = {"calling", "looking", "wondering", "trying", "just", "not", "sorry", "fine", "good", "here"}
# Words speech recognition puts where a name it doesn't know was said ("Lisa Wong" → "Lisa One",
# "Ana Silva" → "On A"): a name made of them is worth spelling out.
_NAME_DOUBTS = {
    "a", "an", "and", "at", "be", "by", "for", "from", "in", "is", "it", "me", "my", "no", "of", "on",
    "or", "so", "the", "to", "too", "want", "what", "who", "won", "yes", "you", "your",
}  # fmt: skip


@dataclass(frozen=True)
class Transfer:
    """Move the live call to a staff member's number."""

    staff: Staff


@dataclass(frozen=True)
class EndCall:
    """Say goodbye, let it play, then hang up."""


@dataclass(frozen=True)
class TakeMessage:
    """Store a message for a staff member."""

    caller_name: str
    callback_number: str
    message: str
    urgent: bool
    recipient: str


Action = Transfer | EndCall | TakeMessage


@dataclass(frozen=True)
class Reply:
    """What to say, the action to take once it has played, and the intent that produced it."""

    text: str
    intent: str
    action: Action | None = None
    use_model: bool = False
    nudge: str = ""  # with no text: what to say if the caller then stays silent a moment


@dataclass
class _MessageDraft:
    recipient: str
    step: str = "name"
    name: str = ""
    number: str = ""
    partial: str = ""
    text: str = ""
    urgent: bool | None = None
    spelled: bool = False  # asked to spell the name once already


def normalise(text: str) -> str:
    """Lower-case, straighten quotes, and drop punctuation other than apostrophes and hyphens."""
    text = text.lower().replace("’", "'").replace("‘", "'")
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9'\-\+ ]", " ", text)).strip()


def extract_digits(text: str, min_len: int = 7) -> str:
    """Pull the longest run of digits (at least `min_len`) out of speech, digit words included."""
    tokens = re.findall(r"[a-z]+|\d+", text.lower())
    digits = []
    run: list[str] = []
    for tok in tokens:
        if tok.isdigit():
            run.append(tok)
        elif tok in NUMBER_WORDS and (run or tok not in {"o", "oh", "one"}):
            run.append(NUMBER_WORDS[tok])
        elif tok in {"double", "triple"} and run is not None:
            continue
        else:
            if len("".join(run)) >= min_len:
                digits.append("".join(run))
            run = []
    if len("".join(run)) >= min_len:
        digits.append("".join(run))
    return max(digits, key=len) if digits else ""


def doubtful_name(name: str) -> bool:
    """Whether a heard name looks misrecognised: a digit, a number word or a common short word in it."""
    words = normalise(name).split()
    return not words or any(
        w.isdigit() or w in NUMBER_WORDS or w in _NAME_DOUBTS or len(w) < 2 for w in words
    )


def spelled_words(text: str) -> list[str]:
    """The words a caller spelled letter by letter ("W, O, N, G.", "A N A. S I L V A"), title-cased.

    Letters run on across commas and hyphens; a full stop or a whole word ends a spelled word.
    """
    words = []
    for sentence in re.split(r"[.;!?]", text.lower().replace("’", "'")):
        run: list[str] = []
        for token in [*re.findall(r"[a-z']+", sentence), ""]:
            if len(token) == 1:
                run.append(token)
                continue
            if len(run) >= 2:
                words.append("".join(run).title())
            run = []
    return words


def repair_number(digits: str) -> str:
    """Undo speech recognition's habit of doubling a repeated digit, when a number is too long to be real.

    Whisper hears "five five five" as "5555" now and then. A callback number longer than ten digits
    (other than a 1 before ten) cannot be dialled here, so the longest run of one digit repeated three
    or more times is shortened until it fits: '55550199223' → '5550199223'. The read-back lets the
    caller correct a wrong guess.
    """
    while len(digits) > 10 and not (len(digits) == 11 and digits[0] == "1"):
        runs = [(m.end() - m.start(), m.start()) for m in re.finditer(r"(\d)\1{2,}", digits)]
        if not runs:
            break
        length, start = max(runs)
        digits = digits[: start + length - 1] + digits[start + length :]
    return digits


def say_digits(number: str) -> str:
    """Read a number back digit by digit in groups, every digit of it: '555 0100' → '5 5 5, 0 1 0 0'."""
    lead, d = (number[0], number[1:]) if len(number) == 11 and number[0] == "1" else ("", number)
    if len(d) > 10:
        groups: list[str] = []
        while len(d) > 5:
            groups.append(d[:3])
            d = d[3:]
        groups.append(d)
    else:
        groups = [d[:3], d[3:6], d[6:]] if len(d) == 10 else [d[:3], d[3:]]
    return ", ".join(" ".join(g) for g in [lead, *groups] if g)


def _respell(name: str, said: str) -> str:
    """The name with what the caller spelled: the last name if one word was spelled, else the whole name.

    Said rather than spelled ("It's Wong."), one or two words replace the last name; nothing usable keeps
    the name as heard.
    """
    spelled = spelled_words(said)
    heard = name.split()
    if not spelled:
        words = [w for w in normalise(said).split() if w not in {"it's", "its", "it", "is", "that's", "my"}]
        if not 1 <= len(words) <= 2 or any(w in NUMBER_WORDS or w.isdigit() for w in words):
            return name
        spelled = [w.title() for w in words]
    if len(spelled) == 1 and heard and not doubtful_name(heard[0]):
        return " ".join([*heard[:-1], spelled[0]] if len(heard) >= 2 else [heard[0], spelled[0]])
    return " ".join(spelled)  # asked for the whole name (the first one was doubtful too): keep none of it


def _weekday_mentions(text: str, today: dt.date) -> list[tuple[dt.date, str]]:
    days: list[tuple[dt.date, str]] = []
    if re.search(r"\btoday\b|\btonight\b|\bthis (morning|afternoon|evening)\b", text):
        days.append((today, "today"))
    if re.search(r"\btomorrow\b", text):
        days.append((today + dt.timedelta(days=1), "tomorrow"))
    if re.search(r"\bweekends?\b", text):
        for name in ("saturday", "sunday"):
            days.append(_next_weekday(today, name))
    for name in WEEKDAYS:
        if re.search(rf"\b{name}s?\b", text):
            days.append(_next_weekday(today, name))
    return days


def _next_weekday(today: dt.date, name: str) -> tuple[dt.date, str]:
    ahead = (WEEKDAYS.index(name) - today.weekday()) % 7
    return today + dt.timedelta(days=ahead), f"on {name.title()}"


@dataclass
class Router:
    """Routes each caller utterance to an answer from the profile, a dialog step, or the model."""

    business: Business
    clock: Callable[[], dt.datetime] | None = None
    _draft: _MessageDraft | None = None
    _asked_anything_else: bool = False
    history: list[str] = field(default_factory=list)

    @property
    def expects_details(self) -> bool:
        """Whether the caller is now giving details that must be heard exactly (a message's fields)."""
        return self._draft is not None

    @property
    def expects_number(self) -> bool:
        """Whether the caller may now read out a number or spell a name (steps that need longer pauses)."""
        return self._draft is not None and self._draft.step in ("name", "spell", "number", "confirm")

    def now(self) -> dt.datetime:
        """The current time in the business's zone (or the injected clock's)."""
        return self.clock() if self.clock else self.business.now()

    def handle(self, utterance: str) -> Reply:
        """Decide the reply to one caller utterance."""
        text = normalise(utterance)
        self.history.append(text)
        if self._draft is not None:
            return self._continue_message(utterance, text)
        reply = self._route(utterance, text)
        self._asked_anything_else = reply.text.endswith(ANYTHING_ELSE)
        return reply

    def handle_key(self, digit: str) -> Reply | None:
        """Decide what a keypad digit does, from the profile's dtmf map."""
        key = self.business.dtmf.get(digit)
        if key is None:
            return None
        self._draft = None
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
            return self._address()
        return self.start_message(self.business.message_recipient, "")

    def start_message(self, recipient: str, utterance: str, lead: str = "") -> Reply:
        """Begin taking a message for `recipient`, keeping whatever the caller already said."""
        draft = _MessageDraft(recipient=recipient)
        text = normalise(utterance)
        if (m := _NAME.search(text)) and m.group(1).split()[0] not in _NOT_NAMES:
            draft.name = m.group(1).title()
        draft.number = repair_number(extract_digits(text))
        if (m := _ABOUT.search(text)) and not _MESSAGE.search(m.group(1)):
            draft.text = m.group(1)
        if _URGENT.search(text):
            draft.urgent = True
        self._draft = draft
        intro = lead or f"Sure, I can take a message for {recipient}."
        return self._next_message_step(intro)

    def resume_after_failed_transfer(self, staff_name: str) -> Reply:
        """After a transfer nobody answered: apologise and offer to take a message for them."""
        return self.start_message(
            staff_name,
            "",
            lead=f"I'm sorry, {staff_name} isn't available right now. "
            f"I can take a message and have them call you back.",
        )

    # -- routing ------------------------------------------------------------------------------------

    def _route(self, raw: str, text: str) -> Reply:
        b = self.business
        if not text:
            return self._say("Sorry, I didn't catch that. Could you say it again?", "unclear", follow=False)
        if _BYE.search(text) or (
            self._asked_anything_else
            and re.fullmatch(
                r"(no|nope|nah|no that's (all|it)|i'm good|i'm fine|that's fine)( thanks?( you)?)?", text
            )
        ):
            return Reply(b.closing, "goodbye", EndCall())
        if _MESSAGE.search(text):
            staff = self._staff_mentioned(text)
            return self.start_message(staff.name if staff else b.message_recipient, raw)
        staff = self._staff_mentioned(text)
        days = _weekday_mentions(text, self.now().date())
        if _TRANSFER.search(text) and not (days and _HOURS.search(text)):
            return self._transfer(staff or b.operator)
        if _OPEN_NOW.search(text) and not days:
            return self._say(describe_now(b.hours, self.now()), "open_now")
        if _HOURS.search(text) and not _PRICE.search(text):
            return self._hours(days)
        if _WHERE.search(text):
            return self._address()
        service = self._service_mentioned(text)
        if service is not None:
            price = f" is {service.price}" if service.price else " is something we offer"
            return self._say(f"{service.name}{price}.", "services")
        faq = self._faq_mentioned(text)
        if faq is not None:
            return self._say(faq.answer, "faq")
        if _PRICE.search(text) or _SERVICES.search(text):
            listed = "; ".join(
                f"{s.name.lower()}, {s.price}" if s.price else s.name.lower() for s in b.services
            )
            return self._say(f"We offer {listed}.", "services")
        if staff is not None:
            return self._transfer(staff)
        if _SMALLTALK.search(text):
            return self._say(
                "I'm doing well, thank you for asking! How can I help you today?", "hello", follow=False
            )
        if _HELLO.match(text):  # callers often pause after "hi": listen on, nudge if nothing follows
            return Reply("", "hello", nudge="Hi there! How can I help you today?")
        if _QUESTION.match(text) or raw.strip().endswith("?"):
            return self._say(
                "I'm sorry, I don't have that information. I can take a message, or "
                "connect you with someone who can help. Which would you prefer?",
                "unknown",
                follow=False,
            )
        return Reply("", "chat", use_model=True)

    def _say(self, text: str, intent: str, follow: bool = True) -> Reply:
        return Reply(f"{text} {ANYTHING_ELSE}" if follow else text, intent)

    def _transfer(self, staff: Staff) -> Reply:
        role = f", our {staff.role}" if staff.role and staff.role.lower() != staff.name.lower() else ""
        return Reply(
            f"Sure, I'll connect you with {staff.name}{role}. One moment please.", "transfer", Transfer(staff)
        )

    def _address(self) -> Reply:
        b = self.business
        if not b.address:
            return self._say("I'm sorry, I don't have our address to hand.", "address")
        return self._say(f"We're at {b.address}. {b.directions}".strip(), "address")

    def _hours(self, days: list[tuple[dt.date, str]]) -> Reply:
        b = self.business
        if not days:
            return self._say(f"Our hours are {describe_week(b.hours)}", "hours")
        return self._say(" ".join(describe_day(b.hours, d, label) for d, label in days[:2]), "hours")

    def _staff_mentioned(self, text: str) -> Staff | None:
        for s in self.business.staff:
            parts = [p for p in normalise(s.name).split() if p not in {"dr", "the"}]
            if any(re.search(rf"\b{re.escape(p)}\b", text) for p in parts if len(p) > 2):
                return s
        for s in self.business.staff:
            if any(re.search(rf"\b{re.escape(t)}s?\b", text) for t in (*s.takes, normalise(s.role)) if t):
                return s
        return None

    def _service_mentioned(self, text: str):  # type: ignore[no-untyped-def]
        for s in self.business.services:
            names = (*s.keywords, normalise(s.name))
            if any(re.search(rf"\b{re.escape(k)}\b", text) for k in names if k):
                return s
        return None

    def _faq_mentioned(self, text: str):  # type: ignore[no-untyped-def]
        for f in self.business.faq:
            if any(re.search(rf"\b{re.escape(k)}\b", text) for k in f.keywords):
                return f
        return None

    # -- message taking -----------------------------------------------------------------------------

    def _continue_message(self, raw: str, text: str) -> Reply:
        d = self._draft
        assert d is not None
        if re.search(r"\b(never ?mind|cancel that|forget it)\b", text):
            self._draft = None
            return self._say("No problem, I won't take a message.", "message_cancelled")
        if d.step in ("name", "spell") and (_QUESTION.match(text) or raw.strip().endswith("?")):
            # Asked for a name, the caller asks something else instead: answer that, drop the message.
            self._draft = None
            return self._route(raw, text)
        if d.step == "spell":
            d.name, d.spelled = _respell(d.name, raw), True
        elif d.step == "name":
            m = _NAME.search(text)
            name = m.group(1) if m else " ".join(text.split()[:2])
            d.name = name.title()
            rest = text[m.end() :] if m else " ".join(text.split()[2:])  # a digit in the name is no number
            if not d.number:
                d.number = repair_number(extract_digits(text))
                d.partial = "" if d.number else extract_digits(rest, min_len=1)
        elif d.step == "number":
            number = extract_digits(text, min_len=1)
            if not number and not d.partial:
                return Reply(
                    "Sorry, I didn't catch the number. Could you say it again, one digit at a time?",
                    "message",
                )
            if len(number) >= 10 or re.match(r"\s*(no|sorry|actually|wait)\b", text):
                d.partial = number  # a whole number, or a correction: it replaces what came before
            else:
                d.partial = d.partial + number  # a number said in groups: add this group
            if len(d.partial) < 10 and not (len(d.partial) >= 7 and len(number) >= 7):
                # A number said in groups: keep listening.
                return Reply("", "message_listening", nudge="Go on, I'm listening. What's the rest?")
            d.number, d.partial = repair_number(d.partial[-15:]), ""
        elif d.step == "confirm":
            corrected = repair_number(extract_digits(text))
            if corrected and corrected != d.number:
                d.number = corrected
                return Reply(f"Thanks. So that's {say_digits(d.number)}. Is that right?", "message")
            if _YES.search(text) and not re.search(r"\b(no|nope|wrong|incorrect)\b", text):
                d.step = "confirmed"
            else:
                d.number = ""
                return Reply("Sorry about that. What's the right number?", "message")
        elif d.step == "text":
            d.text = raw.strip()
            if _URGENT.search(text):
                d.urgent = True
        elif d.step == "urgent":
            d.urgent = bool(_YES.search(text)) and not re.search(r"\b(no|not)\b", text)
        return self._next_message_step("")

    def _next_message_step(self, lead: str) -> Reply:
        d = self._draft
        assert d is not None
        lead = f"{lead} " if lead else ""
        if not d.name:
            d.step = "name"
            return Reply(f"{lead}May I have your name, please?", "message")
        if not d.spelled and doubtful_name(d.name):
            d.step, d.spelled = "spell", True
            which = "your last name" if not doubtful_name(d.name.split()[0]) else "your name"
            return Reply(f"{lead}Thanks. Could you spell {which} for me, letter by letter?", "message")
        first = d.name.split()[0]
        if not d.number:
            d.step = "number"
            if d.partial:  # the name came with the start of a number: listen for the rest
                return Reply(
                    "", "message_listening", nudge=f"Thanks, {first}. What's the rest of the number?"
                )
            return Reply(f"{lead}Thanks, {first}. What's the best number to call you back on?", "message")
        if d.step not in ("confirmed", "text", "urgent"):
            d.step = "confirm"
            return Reply(f"{lead}I have {say_digits(d.number)}. Is that right?", "message")
        if not d.text:
            d.step = "text"
            return Reply(f"{lead}And what would you like me to tell {d.recipient}?", "message")
        if d.urgent is None:
            d.step = "urgent"
            return Reply(f"{lead}Got it. Is this urgent?", "message")
        self._draft = None
        message = TakeMessage(d.name, d.number, d.text, bool(d.urgent), d.recipient)
        when = "as soon as possible" if d.urgent else "soon"
        return Reply(
            f"Thank you, {first}. I've passed your message to {d.recipient}, who will call you "
            f"back at {say_digits(d.number)} {when}. {ANYTHING_ELSE}",
            "message_taken",
            message,
        )
