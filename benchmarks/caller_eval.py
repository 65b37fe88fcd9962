"""The understanding eval: caller cases over several profiles, a caller who answers back, scores (pure)."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agent.dialog.actions import EndCall, Reply, TakeMessage, Transfer
from agent.dialog.spoken import extract_digits
from benchmarks.evaluation import spell, squash

DEFAULT_AT = "2026-12-02T10:30"  # a Wednesday morning, in each business's own zone
MAX_TURNS = 16
# Intents the engine reports, folded into the labels the cases use.
INTENT_LABELS = {
    "open_now": "hours",
    "staff": "transfer",
    "services": "service",
    "message_taken": "message",
    "message_listening": "message",
    "message_keep": "message",
}
_DONT_KNOW = re.compile(
    r"don't have that|don't see|not sure|don't know|can't find|couldn't find|no information"
)
_READ_BACK = re.compile(r"(?:I have|So that's) ([0-9 ,]+)\. Is that right\?")


@dataclass(frozen=True)
class CallerCase:
    """One call from the understanding eval: what the caller says and what a good receptionist does."""

    id: str
    business: str
    say: tuple[str, ...]
    intent: str
    at: str = DEFAULT_AT
    facts: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()
    transfer: str | None = None
    end: bool = False
    unknown: bool = False
    caller: dict[str, Any] | None = None
    message: dict[str, Any] | None = None
    interrupt: tuple[dict[str, Any], ...] = ()
    after: tuple[str, ...] = ()

    @property
    def trade(self) -> str:
        """The trade, from the id's prefix (dental, plumbing, salon)."""
        return self.id.split("-")[0]

    def moment(self, tz: dt.tzinfo) -> dt.datetime:
        """The case's local time in the business's zone."""
        return dt.datetime.fromisoformat(self.at).replace(tzinfo=tz)


def load_caller_cases(path: Path) -> list[CallerCase]:
    """Read a split's YAML case list."""
    out = []
    for c in yaml.safe_load(path.read_text()):
        tuples = {k: tuple(c.get(k) or ()) for k in ("say", "facts", "absent", "interrupt", "after")}
        out.append(CallerCase(**{**c, **tuples, "at": str(c.get("at") or DEFAULT_AT)}))
    return out


@dataclass
class Played:
    """One played case: every line each side said, the actions, and each turn's intent."""

    turns: list[tuple[str, str]] = field(default_factory=list)  # (caller, agent)
    intents: list[str] = field(default_factory=list)
    transfers: list[str] = field(default_factory=list)
    messages: list[TakeMessage] = field(default_factory=list)
    ended: bool = False

    def add(self, said: str, reply: Reply) -> None:
        """Record one exchange."""
        self.turns.append((said, reply.text or reply.nudge))
        self.intents.append(INTENT_LABELS.get(reply.intent, reply.intent))
        if isinstance(reply.action, Transfer):
            self.transfers.append(reply.action.staff.name)
        elif isinstance(reply.action, TakeMessage):
            self.messages.append(reply.action)
            self.ended = self.ended or reply.action.end_call
        elif isinstance(reply.action, EndCall):
            self.ended = True

    @property
    def first_intent(self) -> str:
        """The intent of the first turn that was more than a hello."""
        return next(
            (i for i in self.intents if i not in ("hello", "chat")), self.intents[-1] if self.intents else ""
        )


_CLARIFY = re.compile(r"Just to be sure: (.+), or (.+)\?$")


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.lower()) if len(w) > 2}


def clarification_answer(case: CallerCase, agent: str) -> str | None:
    """Asked "A, or B?", the caller names the option sharing more words with what they asked, else the first.

    The caller knows what they meant, not what the right answer is: only their own words are used.
    """
    m = _CLARIFY.search(agent)
    if m is None:
        return None
    asked = _words(" ".join(case.say))
    options = [m.group(1), m.group(2)]
    best = max(options, key=lambda o: len(_words(o) & asked))  # ties: the first option
    return f"{best[:1].upper()}{best[1:]}."


def caller_answer(case: CallerCase, agent: str, answered: int) -> str | None:
    """What the case's caller says back to a message question in `agent`'s reply, or None if it asked none."""
    c = case.caller or {}
    if not c:
        return None
    name, number = str(c["name"]), str(c["number"])
    low = agent.lower()
    if "spell your last name" in low:
        return spell(name.split()[-1:])
    if "spell your name" in low:
        return spell(name.split())
    if "your name" in low:
        return (f"It's {name}.", f"{name}.", f"Yeah, this is {name}.")[answered % 3]
    read_back = _READ_BACK.search(agent)
    if read_back:
        if extract_digits(read_back.group(1)) == number:
            return "Yes, that's right."
        return f"No, it's {number[:3]} {number[3:6]} {number[6:]}."
    if "number" in low and (
        "call you back" in low or "rest" in low or "right number" in low or "catch" in low
    ):
        return f"{number[:3]} {number[3:6]} {number[6:]}."
    if "would you like me to tell" in low:
        return str(c["message"])
    if "is this urgent" in low:
        return "Yes, it's urgent." if c.get("urgent") else "No, not really."
    if "shall i pass on what i have" in low:
        return "No, that's okay."
    return None


def play(case: CallerCase, handle: Any, key: Any | None = None) -> Played:
    """Play one case against a dialog engine's `handle(text) -> Reply`."""
    played = Played()
    script = list(case.say)
    interrupts = {int(i["after"]): str(i["say"]) for i in case.interrupt}
    after = list(case.after)
    answered = 0
    reply: Reply | None = None
    for _ in range(MAX_TURNS):
        if played.ended or played.transfers:
            break
        line: str | None = None
        if script:
            line = script.pop(0)
        elif reply is not None and (clarified := clarification_answer(case, reply.text)) is not None:
            line = clarified
        elif reply is not None:
            answer = caller_answer(case, reply.text or reply.nudge, answered)
            if answer is not None:
                line = interrupts.pop(answered, None) or answer
                answered += 1
            elif after:
                line = after.pop(0)
        if line is None:
            break
        reply = handle(line)
        played.add(line, reply)
    return played


def score_case(case: CallerCase, played: Played) -> list[str]:
    """The problems with a played case (an empty list means it passed)."""
    problems = []
    said = squash(" ".join(agent for _, agent in played.turns))
    for fact in case.facts:
        if squash(fact) not in said:
            problems.append(f"missing {fact!r}")
    for word in case.absent:
        if squash(word) in said:
            problems.append(f"said {word!r}")
    if case.transfer and played.transfers != [case.transfer]:
        problems.append(f"transferred to {played.transfers}, wanted {case.transfer}")
    if not case.transfer and played.transfers:
        problems.append(f"unexpected transfer to {played.transfers}")
    if case.message:
        if len(played.messages) != 1:
            problems.append(f"{len(played.messages)} messages taken, wanted 1")
        else:
            got = played.messages[0]
            want = {**case.message, "caller_name": (case.caller or {}).get("name", "")}
            want["callback_number"] = (case.caller or {}).get("number", "")
            for k in ("caller_name", "callback_number", "recipient", "urgent"):
                if squash(str(getattr(got, k))) != squash(str(want[k])):
                    problems.append(f"message {k} {getattr(got, k)!r}, wanted {want[k]!r}")
            if squash(str(case.message.get("contains", ""))) not in squash(got.message):
                problems.append(f"message {got.message!r} lacks {case.message.get('contains')!r}")
    elif played.messages:
        problems.append("unexpected message taken")
    if case.end and not played.ended:
        problems.append("call not ended")
    if case.unknown and not _DONT_KNOW.search(" ".join(a for _, a in played.turns).lower()):
        problems.append("did not say it doesn't know")
    return problems


@dataclass
class SplitReport:
    """Scores for one split: per case problems, intents expected and read, per-turn times."""

    cases: list[CallerCase]
    problems: dict[str, list[str]]
    read_as: dict[str, str]
    turn_ms: list[float] = field(default_factory=list)

    def accuracy(self, subset: list[CallerCase] | None = None) -> float:
        """The share of (these) cases with no problems."""
        chosen = self.cases if subset is None else subset
        return sum(not self.problems[c.id] for c in chosen) / max(1, len(chosen))

    def lines(self, title: str) -> list[str]:
        """The report as markdown: per trade, per intent, a confusion table and the failures."""
        out = [f"### {title}", "", "| trade | correct | cases |", "|---|---:|---:|"]
        by_trade: dict[str, list[CallerCase]] = defaultdict(list)
        by_intent: dict[str, list[CallerCase]] = defaultdict(list)
        for c in self.cases:
            by_trade[c.trade].append(c)
            by_intent[c.intent].append(c)
        for trade, cs in sorted(by_trade.items()):
            out.append(f"| {trade} | {100 * self.accuracy(cs):.1f} % | {len(cs)} |")
        out.append(f"| **all** | **{100 * self.accuracy():.1f} %** | {len(self.cases)} |")
        out += ["", "| intent | correct | cases |", "|---|---:|---:|"]
        for intent, cs in sorted(by_intent.items()):
            out.append(f"| {intent} | {100 * self.accuracy(cs):.0f} % | {len(cs)} |")
        labels = sorted({c.intent for c in self.cases} | set(self.read_as.values()))
        counts = Counter((c.intent, self.read_as.get(c.id, "")) for c in self.cases)
        out += ["", "Confusion (rows: the case's intent; columns: the engine's first reading):", ""]
        out.append("| | " + " | ".join(labels) + " |")
        out.append("|---|" + "---:|" * len(labels))
        for want in sorted({c.intent for c in self.cases}):
            out.append(f"| {want} | " + " | ".join(str(counts[(want, got)] or "") for got in labels) + " |")
        if self.turn_ms:
            ms = sorted(self.turn_ms)
            p50, p95 = ms[len(ms) // 2], ms[min(len(ms) - 1, int(0.95 * len(ms)))]
            out += [
                "",
                f"Per turn (engine, text in, reply out): p50 {p50:.1f} ms, p95 {p95:.1f} ms, "
                f"{len(ms)} turns.",
            ]
        failed = [f"- `{cid}`: {'; '.join(p)}" for cid, p in self.problems.items() if p]
        return [*out, "", *(["Failures:", *failed] if failed else ["No failures."]), ""]
