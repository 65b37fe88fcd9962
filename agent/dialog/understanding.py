"""Read a caller turn by meaning: nearest intents and profile entries in sentence-embedding space (pure)."""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass

import numpy as np

from agent.dialog.business import Business, Directory
from agent.dialog.dates import MONTHS
from agent.dialog.embed import Encoder, Vectors, load_encoder
from agent.dialog.hours import WEEKDAYS
from agent.dialog.phrases import EXAMPLES, INTENT_WORDS, with_equivalents

KEYWORD_BOOST = 0.25  # a profile keyword said as a whole word: strong evidence for its entry
NAME_BOOST = 0.3  # a staff member's name said
EXTRA_KEYWORD = 0.05  # each further keyword of the same entry (up to two more)
_SERVICE_VERBS = (
    r"(do|does|offer|offers|provide|provides|handle|handles|fix|fixes|repair|repairs|install|installs|"
    r"put in|puts in|pump|pumps|clean|cleans|sell|sells|carry|carries|work on|works on|service|services)"
)
_ASKS_SERVICE = re.compile(
    r"\b((do|does|can|could|would) (you|y'all|ya|your \w+)( guys| folks| all)?( also| even| ever)?|"
    r"(anyone|anybody|someone|somebody)( there| here| at your \w+)?( who)?( also| even)?) "
    rf"{_SERVICE_VERBS}\b (?P<thing>.+)"
)
_THING_END = re.compile(r"\b(?:or|and|there|for|on|in|at|here|too|also|like|as well)\b|[,.?!]")
_CALENDAR = re.compile(
    rf"(?i)^({'|'.join(WEEKDAYS)}|{'|'.join(MONTHS)}|christmas|easter|thanksgiving|halloween|new|eve)s?$"
)
_NOT_NAMES = {"I", "Dr", "Mr", "Ms", "Mrs", "Doctor", "Hi", "Hey", "Hello", "Yeah", "Yes", "No", "Okay", "OK"}
_PLACE_WORDS = {"street", "avenue", "road", "unit", "suite", "floor", "parkway", "drive", "lane", "boulevard"}
BOOKING_WORDS = {"appointment", "appointments", "book", "booking", "schedule", "reschedule", "cancel"}


@dataclass(frozen=True)
class Thresholds:
    """Where a reading is trusted, calibrated per encoder on the dev split (benchmarks/understanding)."""

    min_score: float = 0.4  # below this nothing the profile holds was asked about
    strong: float = 0.55  # a match by meaning alone this close needs no keyword to back it
    clarify_margin: float = 0.02  # two different readings closer than this: ask which one was meant
    clarify_min: float = 0.55  # ...when both are at least this good
    offered: float = 0.6  # "do you do X?": X is one of our services when this close to one of its examples


# Swept on the dev split by benchmarks.understanding_encoders (and `offered` by hand, 0.5–0.8).
CALIBRATED = {
    "all-MiniLM-L6-v2": Thresholds(min_score=0.4, strong=0.55),
    "wordllama-l2-256": Thresholds(min_score=0.3, strong=0.55),
}


@dataclass(frozen=True)
class Sense:
    """One thing a caller can mean: an intent, and for profile entries which one (a name or question)."""

    intent: str
    ref: str = ""


@dataclass(frozen=True)
class Reading:
    """A caller turn's senses, best first, with their scores (cosine similarity plus keyword evidence)."""

    ranked: tuple[tuple[Sense, float], ...]
    cosine: dict[Sense, float]
    evidence: frozenset[Sense]  # senses a keyword of their own was said for

    def sure(self, sense: Sense, strong: float, floor: float) -> bool:
        """Whether a sense is well supported: a strong match by meaning, or a keyword and a fair match."""
        score = dict(self.ranked).get(sense, -1.0)
        return self.cosine.get(sense, -1.0) >= strong or (sense in self.evidence and score >= floor)

    @property
    def best(self) -> Sense:
        """The most likely sense."""
        return self.ranked[0][0]

    @property
    def score(self) -> float:
        """The best sense's score."""
        return self.ranked[0][1]

    def top(self, intent: str) -> tuple[Sense, float] | None:
        """The best-scoring sense with this intent, if any."""
        return next(((s, v) for s, v in self.ranked if s.intent == intent), None)

    def runner_up(self) -> tuple[Sense, float] | None:
        """The best sense that is not the best one's entry."""
        return next(((s, v) for s, v in self.ranked[1:] if s != self.best), None)


def _words(text: str) -> str:
    """The text's words, then each pair of neighbours joined ("check ups" also as "checkups")."""
    words = re.sub(r"[^a-z0-9' ]", " ", text.lower().replace("-", " ")).split()
    joined = [a + b for a, b in itertools.pairwise(words)]
    return " " + " ".join(words) + " | " + " ".join(joined) + " "


def profile_examples(b: Business) -> list[tuple[Sense, str]]:
    """Example phrasings the profile itself supplies: each service, FAQ entry, staff topic, the address."""
    out: list[tuple[Sense, str]] = []
    for s in b.services:
        sense = Sense("service", s.name)
        out += [
            (sense, s.name),
            (sense, f"how much is {s.name.lower()}"),
            (sense, f"do you do {s.name.lower()}"),
        ]
        out += [(sense, k) for k in s.keywords]
        if s.description:
            out.append((sense, s.description))
    for f in b.faq:
        sense = Sense("faq", f.question)
        out += [(sense, f.question), (sense, f.answer.split(". ")[0])]
        out += [(sense, k) for k in f.keywords]
    for st in b.staff:
        books = bool(BOOKING_WORDS & set(st.takes))
        sense = Sense("transfer", st.name)
        out.append((sense, f"a question for the {st.role}"))  # names are matched as words, not by meaning
        out += [
            (Sense("booking", st.name) if t in BOOKING_WORDS else sense, f"about my {t}") for t in st.takes
        ]
        if books:
            out.append((Sense("booking", st.name), "I need an appointment"))
    for text in (b.address, *re.split(r"(?<=[.!?])\s+", b.directions)):
        if text.strip():
            out.append((Sense("address"), text.strip()))
    return out


@dataclass
class _Index:
    senses: list[Sense]
    vectors: Vectors


_GENERIC: dict[str, _Index] = {}
_PROFILES: dict[tuple[str, str], _Index] = {}
_LOCK = threading.Lock()


def _generic_index(encoder: Encoder) -> _Index:
    with _LOCK:
        if encoder.name not in _GENERIC:
            pairs = [(Sense(intent), text) for intent, texts in EXAMPLES.items() for text in texts]
            _GENERIC[encoder.name] = _Index([s for s, _ in pairs], encoder.encode([t for _, t in pairs]))
        return _GENERIC[encoder.name]


def _profile_index(encoder: Encoder, b: Business) -> _Index:
    pairs = profile_examples(b)
    key = (encoder.name, repr([(s, t) for s, t in pairs]))
    with _LOCK:
        if key not in _PROFILES:
            _PROFILES[key] = _Index([s for s, _ in pairs], encoder.encode([t for _, t in pairs]))
        return _PROFILES[key]


@dataclass
class Understanding:
    """Matches caller turns against generic intents and one business profile's own entries."""

    business: Business
    encoder: Encoder
    calibration: Thresholds | None = None  # none: the encoder's own calibration, or the defaults

    def __post_init__(self) -> None:
        self.thresholds = self.calibration or CALIBRATED.get(self.encoder.name, Thresholds())
        generic, profile = _generic_index(self.encoder), _profile_index(self.encoder, self.business)
        self._senses = generic.senses + profile.senses
        self._vectors = np.vstack([generic.vectors, profile.vectors])
        self._keywords = self._keyword_table()
        self._profile_text = self.business.system_prompt.lower() + " " + self.business.name.lower()

    def _keyword_table(self) -> list[tuple[str, Sense, float]]:
        b = self.business
        table: list[tuple[str, Sense, float]] = []
        for s in b.services:
            table += [(k, Sense("service", s.name), KEYWORD_BOOST) for k in (*s.keywords, s.name.lower())]
        for f in b.faq:
            table += [(k, Sense("faq", f.question), KEYWORD_BOOST) for k in f.keywords]
        for st in b.staff:
            for t in st.takes:
                intent = "booking" if t in BOOKING_WORDS else "transfer"
                table.append((t, Sense(intent, st.name), KEYWORD_BOOST))
            parts = [p for p in re.sub(r"[^a-z ]", " ", st.name.lower()).split() if p not in {"dr", "the"}]
            table += [(p, Sense("transfer", st.name), NAME_BOOST) for p in parts if len(p) > 2]
        place = re.sub(r"[^a-z ]", " ", b.address.lower()).split()
        table += [(w, Sense("address"), KEYWORD_BOOST) for w in place if len(w) > 3 and w not in _PLACE_WORDS]
        return table

    def offered(self, text: str) -> tuple[str, bool] | None:
        """For "do you do X?": X, and whether a service of the profile is X by meaning (blocking)."""
        m = _ASKS_SERVICE.search(text.lower())
        if m is None:
            return None
        thing = _THING_END.split(m.group("thing"))[0].strip()
        if not thing or thing in {"that", "it", "this", "those", "them"}:
            return None
        rows = [i for i, s in enumerate(self._senses) if s.intent == "service"]
        if not rows:
            return thing, False
        best = float(np.max(self._vectors[rows] @ self.encoder.encode([thing])[0]))
        return thing, best >= self.thresholds.offered

    def unlisted_names(self, raw: str) -> list[str]:
        """Capitalised names the caller used (not first in a sentence) that the profile never mentions."""
        out = []
        for m in re.finditer(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-zA-Z]+)\b", raw.strip()):
            word = m.group(1)
            if (
                word.lower() not in self._profile_text
                and word not in _NOT_NAMES
                and not _CALENDAR.match(word)
            ):
                out.append(word)
        return list(dict.fromkeys(out))

    def read(self, text: str) -> Reading:
        """Score every sense for one caller turn (blocking: runs the encoder)."""
        text = with_equivalents(text)
        vector = self.encoder.encode([text])[0]
        sims = self._vectors @ vector
        best: dict[Sense, float] = {}
        for sense, sim in zip(self._senses, sims.tolist(), strict=True):
            if sim > best.get(sense, -1.0):
                best[sense] = sim
        cosine = dict(best)
        words = _words(text)
        boosts: dict[Sense, float] = {}
        hits: dict[Sense, int] = {}
        for keyword, sense, boost in self._keywords:
            spaced, squashed = keyword.replace("-", " "), re.sub(r"[\s-]", "", keyword)
            said = re.search(rf"\b({re.escape(spaced)}|{re.escape(squashed)})s?\b", words)
            if said and sense in best:
                boosts[sense] = max(boosts.get(sense, 0.0), boost)
                hits[sense] = hits.get(sense, 0) + 1
        for sense, count in hits.items():
            boosts[sense] += EXTRA_KEYWORD * min(count - 1, 2)  # "a pipe ... dripping": two of its words
        for intent, pattern in INTENT_WORDS.items():
            if pattern.search(words):
                boosts[Sense(intent)] = KEYWORD_BOOST
        for sense, boost in boosts.items():
            best[sense] = best.get(sense, 0.0) + boost
        ranked = tuple(sorted(best.items(), key=lambda kv: -kv[1]))
        return Reading(ranked, cosine, frozenset(boosts))


def warm_understanding(directory: Directory, encoder: Encoder | None) -> None:
    """Embed every business's profile entries ahead of the first call (blocking)."""
    for business in directory.businesses.values():
        Understanding(business, encoder or load_encoder())
