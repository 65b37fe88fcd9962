"""Business profiles from prompts/: schema, validation with file/field errors, and the system prompt."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from agent.dialog.hours import WEEKDAYS, Hours, HoursError, Special, describe_week, parse_spans

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
KEY_ACTIONS = ("transfer", "hours", "address", "message")
DEFAULT_DISCLOSURE = "I'm an automated assistant."
DEFAULT_RECORDING = "This call is recorded."


class ProfileError(ValueError):
    """One or more invalid business profiles; each line names the file, the field and the problem."""


@dataclass(frozen=True)
class Service:
    """Something the business offers, with its price as it should be said."""

    name: str
    price: str = ""
    description: str = ""
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Faq:
    """A question the business has a ready answer to."""

    question: str
    answer: str
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Staff:
    """A person or desk that calls can be transferred to, and the topics they take."""

    name: str
    role: str
    number: str
    takes: tuple[str, ...] = ()
    operator: bool = False


@dataclass(frozen=True)
class KeyAction:
    """What a keypad digit does: transfer (to a staff name or 'operator'), hours, address, message."""

    action: str
    to: str | None = None


@dataclass(frozen=True)
class Behaviour:
    """Call-handling limits: silence re-prompts, maximum call length, transfer ring time."""

    silence_reprompt_secs: float = 8.0
    silence_max_reprompts: int = 2
    max_call_minutes: float = 15.0
    transfer_timeout_secs: int = 20


@dataclass(frozen=True)
class Business:
    """A validated business profile plus the persona-based system prompt built from it."""

    key: str
    name: str
    numbers: tuple[str, ...]
    greeting: str
    ai_disclosure: str
    timezone: ZoneInfo
    hours: Hours
    address: str
    directions: str
    services: tuple[Service, ...]
    faq: tuple[Faq, ...]
    staff: tuple[Staff, ...]
    message_recipient: str
    dtmf: dict[str, KeyAction]
    closing: str
    behaviour: Behaviour
    recording_announcement: str = ""
    system_prompt: str = ""
    source: str = ""

    @property
    def opening_line(self) -> str:
        """The greeting, followed by the AI disclosure when one is configured."""
        return f"{self.greeting} {self.ai_disclosure}".strip()

    @property
    def call_opening(self) -> str:
        """What a new call hears first: the opening line, then the recording announcement if any."""
        return f"{self.opening_line} {self.recording_announcement}".strip()

    @property
    def operator(self) -> Staff:
        """The staff member that 0 and 'a person' reach."""
        return next((s for s in self.staff if s.operator), self.staff[0])

    @property
    def vocabulary(self) -> str:
        """Names and terms callers will say, as a prompt that steers speech recognition's spelling."""
        terms = [self.name, *(s.name for s in self.staff), *(s.name for s in self.services)]
        terms += [w.strip(".,") for f in self.faq for w in f.answer.split()[1:] if w[:1].isupper()]
        return ", ".join(dict.fromkeys(terms)) + "."

    def now(self) -> dt.datetime:
        """The current time in the business's time zone."""
        return dt.datetime.now(self.timezone)

    def staff_named(self, name: str) -> Staff | None:
        """Find a staff member by name (case-insensitive), or 'operator'."""
        if name.lower() == "operator":
            return self.operator
        return next((s for s in self.staff if s.name.lower() == name.lower()), None)


class _Check:
    """Collects validation problems for one file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[str] = []

    def fail(self, where: str, problem: str) -> None:
        self.problems.append(f"{self.path}: {where}: {problem}")

    def text(
        self, data: dict[str, Any], key: str, required: bool = True, default: str = "", where: str = ""
    ) -> str:
        value = data.get(key, default)
        if value is None:
            value = default
        if not isinstance(value, str) or (required and not value.strip()):
            problem = "required, a non-empty string" if required else "must be a string"
            self.fail(f"{where}.{key}" if where else key, problem)
            return default
        return value.strip()

    def line(self, data: dict[str, Any], key: str, default: str, off: str) -> str:
        """An optional spoken line: a sentence, `false` for none, or the default when absent."""
        value = data.get(key, default)
        if value is False:
            return ""
        if not isinstance(value, str):
            self.fail(key, f"must be a sentence, or false to {off}")
            return default
        return value

    def words(self, data: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
        value = data.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(f"{where}.{key}", "must be a list of strings")
            return ()
        return tuple(v.lower().strip() for v in value)

    def items(self, data: dict[str, Any], key: str) -> list[dict[str, Any]]:
        value = data.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.fail(key, "must be a list of mappings")
            return []
        return value


def _hours(check: _Check, data: dict[str, Any]) -> Hours:
    raw = data.get("hours")
    weekly: dict[str, tuple[Any, ...]] = {d: () for d in WEEKDAYS}
    if not isinstance(raw, dict):
        check.fail("hours", "required, a mapping of weekday to 'HH:MM-HH:MM' or 'closed'")
        return Hours(weekly)
    for key in raw:
        if str(key).lower() not in WEEKDAYS:
            check.fail(f"hours.{key}", "not a weekday name")
    for day in WEEKDAYS:
        try:
            weekly[day] = parse_spans(raw.get(day, "closed"), f"hours.{day}")
        except HoursError as exc:
            check.fail(f"hours.{day}", str(exc).split(": ", 1)[1])
    specials: dict[dt.date, Special] = {}
    for kind in ("holidays", "exceptions"):
        for i, item in enumerate(check.items(data, kind)):
            where = f"{kind}[{i}]"
            date: object = item.get("date")
            if not isinstance(date, dt.date):
                check.fail(f"{where}.date", "required, a date as YYYY-MM-DD")
                continue
            try:
                spans = () if kind == "holidays" else parse_spans(item.get("hours"), f"{where}.hours")
            except HoursError as exc:
                check.fail(f"{where}.hours", str(exc).split(": ", 1)[1])
                continue
            specials[date] = Special(date, str(item.get("name", "")), spans)
    return Hours(weekly, specials)


def _behaviour(check: _Check, raw: object) -> Behaviour:
    """The behaviour settings: known names only, each a number above 0 (whole numbers where the default is
    one; re-prompts may be 0)."""
    if not isinstance(raw, dict):
        check.fail("behaviour", "must be a mapping of setting to number")
        return Behaviour()
    defaults = Behaviour()
    values: dict[str, Any] = {}
    for key, value in raw.items():
        where = f"behaviour.{key}"
        if key not in defaults.__dataclass_fields__:
            check.fail(where, f"not a setting (one of {', '.join(defaults.__dataclass_fields__)})")
        elif isinstance(getattr(defaults, key), int):
            least = 0 if "reprompts" in key else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                check.fail(where, f"{value!r} is not a whole number of at least {least}")
            else:
                values[key] = value
        elif isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            check.fail(where, f"{value!r} is not a number above 0")
        else:
            values[key] = float(value)
    return Behaviour(**values)


def parse_business(key: str, data: object, path: Path, persona: str) -> Business:
    """Validate one profile's data; raise ProfileError listing every problem found."""
    check = _Check(path)
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: must be a mapping of fields")
    name = check.text(data, "name")
    greeting = check.text(data, "greeting")
    disclosure = check.line(data, "ai_disclosure", DEFAULT_DISCLOSURE, "turn it off")
    recording = check.line(data, "recording_announcement", DEFAULT_RECORDING, "turn recording off")
    tz_name = check.text(data, "timezone")
    try:
        tz = ZoneInfo(tz_name) if tz_name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        check.fail("timezone", f"unknown time zone {tz_name!r}")
        tz = ZoneInfo("UTC")
    numbers = tuple(str(n) for n in data.get("numbers") or [])
    for n in numbers:
        if not E164.match(n):
            check.fail("numbers", f"{n!r} is not an E.164 number like +15551234567")
    hours = _hours(check, data)
    services = tuple(
        Service(
            check.text(s, "name", where=f"services[{i}]"),
            str(s.get("price", "")),
            str(s.get("description", "")),
            check.words(s, "keywords", f"services[{i}]"),
        )
        for i, s in enumerate(check.items(data, "services"))
    )
    faq = tuple(
        Faq(
            check.text(f, "question", where=f"faq[{i}]"),
            check.text(f, "answer", where=f"faq[{i}]"),
            check.words(f, "keywords", f"faq[{i}]"),
        )
        for i, f in enumerate(check.items(data, "faq"))
    )
    staff = []
    for i, s in enumerate(check.items(data, "staff")):
        number = str(s.get("number", ""))
        if not E164.match(number):
            check.fail(f"staff[{i}].number", f"{number!r} is not an E.164 number like +15551234567")
        staff.append(
            Staff(
                check.text(s, "name", where=f"staff[{i}]"),
                str(s.get("role", "")),
                number,
                check.words(s, "takes", f"staff[{i}]"),
                bool(s.get("operator", False)),
            )
        )
    if not staff:
        check.fail("staff", "at least one person or desk to transfer to is required")
    staff_names = {s.name.lower() for s in staff}
    recipient = str((data.get("messages") or {}).get("recipient", staff[0].name if staff else ""))
    if staff and recipient.lower() not in staff_names:
        check.fail("messages.recipient", f"{recipient!r} is not in staff")
    dtmf: dict[str, KeyAction] = {}
    raw_keys = data.get("dtmf") or {}
    if not isinstance(raw_keys, dict):
        check.fail("dtmf", "must map keypad digits to actions")
        raw_keys = {}
    for digit, spec in raw_keys.items():
        where = f"dtmf.{digit}"
        if str(digit) not in "0123456789*#" or len(str(digit)) != 1:
            check.fail(where, "keys must be single keypad digits, * or #")
            continue
        if not isinstance(spec, dict) or spec.get("action") not in KEY_ACTIONS:
            check.fail(f"{where}.action", f"action must be one of {', '.join(KEY_ACTIONS)}")
            continue
        to = spec.get("to")
        if spec["action"] == "transfer" and (
            not isinstance(to, str) or (to.lower() != "operator" and to.lower() not in staff_names)
        ):
            check.fail(f"{where}.to", f"{to!r} is not 'operator' or a staff name")
            continue
        dtmf[str(digit)] = KeyAction(spec["action"], to)
    dtmf.setdefault("0", KeyAction("transfer", "operator"))
    behaviour = _behaviour(check, data.get("behaviour") or {})
    if check.problems:
        raise ProfileError("\n".join(check.problems))
    business = Business(
        key=key,
        name=name,
        numbers=numbers,
        greeting=greeting,
        ai_disclosure=str(disclosure).strip(),
        timezone=tz,
        hours=hours,
        address=check.text(data, "address", required=False),
        directions=check.text(data, "directions", required=False),
        services=services,
        faq=faq,
        staff=tuple(staff),
        message_recipient=recipient,
        dtmf=dtmf,
        closing=check.text(data, "closing", required=False, default=f"Thanks for calling {name}. Goodbye!"),
        behaviour=behaviour,
        recording_announcement=str(recording).strip(),
        source=str(path),
    )
    prompt = persona.format(business_name=name, profile=describe_profile(business))
    return Business(**{**business.__dict__, "system_prompt": prompt})


def describe_profile(b: Business) -> str:
    """The profile's facts as plain lines for the system prompt."""
    lines = [f"Name: {b.name}", f"Opening hours: {describe_week(b.hours)}"]
    if b.address:
        lines.append(f"Address: {b.address}")
    if b.directions:
        lines.append(f"Directions: {b.directions}")
    if b.services:
        lines.append(
            "Services: " + "; ".join(f"{s.name} ({s.price or 'ask for a quote'})" for s in b.services)
        )
    for f in b.faq:
        lines.append(f"Q: {f.question} A: {f.answer}")
    lines.append("Staff: " + "; ".join(f"{s.name}, {s.role}" for s in b.staff))
    return "\n".join(lines)


def read_persona(prompts_dir: Path) -> str:
    """prompts/persona.md, the receptionist's persona every profile is spoken with."""
    path = prompts_dir / "persona.md"
    try:
        return path.read_text()
    except OSError as exc:
        raise ProfileError(f"{exc.filename}: cannot read ({exc.strerror})") from exc


def parse_document(key: str, text: str, source: Path, persona: str) -> Business:
    """Validate one profile's YAML text (a file's, or the database's); raise ProfileError if invalid."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ProfileError(f"{source}: invalid YAML: {exc}") from exc
    return parse_business(key, data, source, persona)


def load_business(prompts_dir: Path, key: str) -> Business:
    """Read prompts/persona.md and prompts/businesses/<key>.yaml; raise ProfileError if invalid."""
    path = prompts_dir / "businesses" / f"{key}.yaml"
    persona = read_persona(prompts_dir)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ProfileError(f"{exc.filename}: cannot read ({exc.strerror})") from exc
    return parse_document(key, text, path, persona)


@dataclass
class Directory:
    """Every business this server answers for, found by the number that was called."""

    businesses: dict[str, Business]
    default: str
    by_number: dict[str, str] = field(default_factory=dict)

    def for_called(self, number: str) -> Business:
        """The business whose profile lists `number`, else the default one."""
        return self.businesses[self.by_number.get(number, self.default)]


def load_directory(prompts_dir: Path, default: str) -> Directory:
    """Load and validate every profile in prompts/businesses; raise ProfileError with all problems."""
    files = sorted((prompts_dir / "businesses").glob("*.yaml"))
    documents = {}
    for path in files:
        try:
            documents[path.stem] = path.read_text()
        except OSError as exc:
            raise ProfileError(f"{exc.filename}: cannot read ({exc.strerror})") from exc
    return directory_of(documents, read_persona(prompts_dir), default, prompts_dir / "businesses")


def directory_of(documents: dict[str, str], persona: str, default: str, where: Path) -> Directory:
    """Validate every profile's YAML text (named as if in `where`) into a directory; raise ProfileError
    with all the problems at once."""
    problems: list[str] = []
    businesses: dict[str, Business] = {}
    for key, text in sorted(documents.items()):
        try:
            businesses[key] = parse_document(key, text, where / f"{key}.yaml", persona)
        except ProfileError as exc:
            problems.append(str(exc))
    if default not in businesses and not problems:
        problems.append(f"{where / (default + '.yaml')}: the default business (BUSINESS) has no profile")
    by_number: dict[str, str] = {}
    for key, b in businesses.items():
        for number in b.numbers:
            if number in by_number:
                problems.append(f"{b.source}: numbers: {number} is also listed by {by_number[number]}")
            by_number[number] = key
    if problems:
        raise ProfileError("\n".join(problems))
    return Directory(businesses, default, by_number)
