"""Taking a message: name (spelled when doubtful), callback number read back, the message, urgency (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.dialog.actions import ANYTHING_ELSE, Reply, TakeMessage
from agent.dialog.phrases import MESSAGE, NO, URGENT, YES
from agent.dialog.spoken import (
    NOT_NAMES,
    doubtful_name,
    extract_digits,
    normalise,
    repair_number,
    respell,
    say_digits,
)

NAME = re.compile(
    r"\b(?:my name is|my name's|this is|it's|it is|i am|i'm|name is|name's)\s+"
    r"([a-z][a-z'\-]*(?: [a-z][a-z'\-]*)?)"
)
ABOUT = re.compile(r"\b(?:about|regarding|that|to say|saying|to tell (?:her|him|them))\s+(.{4,})$")
FIELD_STEPS = ("name", "spell", "number", "confirm")  # steps where the caller reads out exact details


@dataclass
class MessageDraft:
    """A message being taken, and the detail asked for last."""

    recipient: str
    step: str = "name"
    name: str = ""
    number: str = ""
    partial: str = ""
    text: str = ""
    urgent: bool | None = None
    spelled: bool = False  # asked to spell the name once already
    offered: bool = False  # we offered it (a transfer failed); the caller didn't ask for it

    @property
    def has_details(self) -> bool:
        """Whether the caller has given anything worth keeping (a name, a number or the message)."""
        return bool(self.name or self.number or self.partial or self.text)

    def as_message(self) -> TakeMessage:
        """What was taken so far, as a message to store."""
        return TakeMessage(
            self.name, self.number or self.partial, self.text, bool(self.urgent), self.recipient
        )


def start_draft(recipient: str, utterance: str) -> MessageDraft:
    """A new draft holding whatever the caller already said: name, number, what it's about, urgency."""
    draft = MessageDraft(recipient=recipient)
    text = normalise(utterance)
    if (m := NAME.search(text)) and m.group(1).split()[0] not in NOT_NAMES:
        # After "I'm" or "it's" only a capitalised word is a name ("I'm Ana Silva", not "I'm stuck").
        weak = re.match(r"i'm|i am|it's|it is", m.group(0))
        if not weak or m.group(1).split()[0].title() in utterance.split():
            draft.name = m.group(1).title()
    draft.number = repair_number(extract_digits(text))
    if (m := ABOUT.search(text)) and not MESSAGE.search(m.group(1)):
        about = m.group(1)
        # "call me back about that": the message is what the caller said before it.
        if len(re.findall(r"[a-z]{2,}", about)) >= 2 or not extract_digits(about):
            draft.text = about if len(about.split()) >= 3 else utterance.strip()
    if URGENT.search(text):
        draft.urgent = True
    return draft


def take_answer(d: MessageDraft, raw: str, text: str) -> Reply | None:
    """Fill the asked-for detail from the caller's answer; a reply when the step must be asked again."""
    if d.step == "spell":
        d.name, d.spelled = respell(d.name, raw), True
    elif d.step == "name":
        m = NAME.search(text)
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
                "Sorry, I didn't catch the number. Could you say it again, one digit at a time?", "message"
            )
        if len(number) >= 10 or re.match(r"\s*(no|sorry|actually|wait)\b", text):
            d.partial = number  # a whole number, or a correction: it replaces what came before
        else:
            d.partial = d.partial + number  # a number said in groups: add this group
        if len(d.partial) < 10 and not (len(d.partial) >= 7 and len(number) >= 7):
            return Reply("", "message_listening", nudge="Go on, I'm listening. What's the rest?")
        d.number, d.partial = repair_number(d.partial[-15:]), ""
    elif d.step == "confirm":
        corrected = repair_number(extract_digits(text))
        if corrected and corrected != d.number:
            d.number = corrected
            return Reply(f"Thanks. So that's {say_digits(d.number)}. Is that right?", "message")
        if YES.search(text) and not re.search(r"\b(no|nope|wrong|incorrect)\b", text):
            d.step = "confirmed"
        else:
            d.number = ""
            return Reply("Sorry about that. What's the right number?", "message")
    elif d.step == "text":
        d.text = raw.strip()
        if URGENT.search(text):
            d.urgent = True
    elif d.step == "urgent":
        d.urgent = bool(YES.search(text) or URGENT.search(text)) and not re.search(r"\b(no|not)\b", text)
    return None


def next_step(d: MessageDraft, lead: str) -> tuple[Reply, bool]:
    """Ask for the next missing detail, or take the message; the flag says whether the draft is done."""
    lead = f"{lead} " if lead else ""
    if not d.name:
        d.step = "name"
        return Reply(f"{lead}May I have your name, please?", "message"), False
    if not d.spelled and doubtful_name(d.name):
        d.step, d.spelled = "spell", True
        which = "your last name" if not doubtful_name(d.name.split()[0]) else "your name"
        return Reply(f"{lead}Thanks. Could you spell {which} for me, letter by letter?", "message"), False
    first = d.name.split()[0]
    if not d.number:
        d.step = "number"
        if d.partial:  # the name came with the start of a number: listen for the rest
            nudge = f"Thanks, {first}. What's the rest of the number?"
            return Reply("", "message_listening", nudge=nudge), False
        return Reply(f"{lead}Thanks, {first}. What's the best number to call you back on?", "message"), False
    if d.step not in ("confirmed", "text", "urgent"):
        d.step = "confirm"
        return Reply(f"{lead}I have {say_digits(d.number)}. Is that right?", "message"), False
    if not d.text:
        d.step = "text"
        return Reply(f"{lead}And what would you like me to tell {d.recipient}?", "message"), False
    if d.urgent is None:
        d.step = "urgent"
        return Reply(f"{lead}Got it. Is this urgent?", "message"), False
    when = "as soon as possible" if d.urgent else "soon"
    reply = Reply(
        f"{lead}Thank you, {first}. I've passed your message to {d.recipient}, who will call you "
        f"back at {say_digits(d.number)} {when}. {ANYTHING_ELSE}",
        "message_taken",
        d.as_message(),
    )
    return reply, True


def is_no(text: str) -> bool:
    """A plain no ('no', 'nope', 'no thanks', 'don't bother')."""
    if re.match(r"(no|nope|nah|not really|no thanks|don't|dont)\b", text):
        return True
    return bool(NO.search(text)) and not YES.search(text)
