"""Word error rate over normalised words, so that how a number is written doesn't count as an error.

`normalise` lower-cases, drops punctuation and spells every number one digit word per digit, whether it
was written in digits or said in words:

    normalise("Call 555-0134 at 2:30 p.m.")
    == normalise("call five five five, oh one three four at two thirty pm")
    == ["call", "five", "five", "five", "zero", "one", "three", "four", "at", "two", "three", "zero", "pm"]

`word_error_rate(reference, hypothesis)` aligns the two word lists (Levenshtein) and counts the edits.
Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
UNITS = {word: value for value, word in enumerate(DIGIT_WORDS)}
_TEEN_WORDS = ("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen")
TEENS = {word: value for value, word in enumerate((*_TEEN_WORDS, "eighteen", "nineteen"), start=10)}
_TENS_WORDS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
TENS = {word: value for value, word in zip(range(20, 100, 10), _TENS_WORDS, strict=True)}
ORDINALS = {
    "first": "one",
    "second": "two",
    "third": "three",
    "fourth": "four",
    "fifth": "five",
    "sixth": "six",
    "seventh": "seven",
    "eighth": "eight",
    "ninth": "nine",
    "tenth": "ten",
    "eleventh": "eleven",
    "twelfth": "twelve",
    "thirteenth": "thirteen",
    "fourteenth": "fourteen",
    "fifteenth": "fifteen",
    "sixteenth": "sixteen",
    "seventeenth": "seventeen",
    "eighteenth": "eighteen",
    "nineteenth": "nineteen",
    "twentieth": "twenty",
    "thirtieth": "thirty",
}
# Written forms that mean the same word.
SPELLINGS = {"dr": "doctor", "mr": "mister", "mrs": "missus", "ok": "okay"}
_SCALES = ("hundred", "thousand")
_REPEAT = {"double": 2, "triple": 3}


@dataclass(frozen=True)
class WerResult:
    """The edits that turn the reference's words into the hypothesis's; results add up over a corpus."""

    substitutions: int
    deletions: int
    insertions: int
    reference_words: int

    @property
    def errors(self) -> int:
        """Substitutions, deletions and insertions together."""
        return self.substitutions + self.deletions + self.insertions

    @property
    def wer(self) -> float:
        """Errors per reference word (an empty reference counts as one word, so insertions still count)."""
        return self.errors / max(1, self.reference_words)

    def __add__(self, other: WerResult) -> WerResult:
        """Pool two results: the sum's `wer` is total errors over total reference words."""
        return WerResult(
            self.substitutions + other.substitutions,
            self.deletions + other.deletions,
            self.insertions + other.insertions,
            self.reference_words + other.reference_words,
        )


NO_ERRORS = WerResult(0, 0, 0, 0)


def _rewrite(text: str) -> str:
    """Text-level rewrites: abbreviations, times, money, ordinals and digits glued to letters."""
    text = text.lower().replace("’", "'")
    text = re.sub(r"\b(\d+)(?:st|nd|rd|th)\b", r"\1", text)
    text = re.sub(r"(?<=\d)(?=[a-z])|(?<=[a-z])(?=\d)", " ", text)
    text = re.sub(r"\b([ap])\.\s?m\b\.?", r"\1m", text)
    text = re.sub(r"\bo'?\s?clock\b", " ", text)
    text = re.sub(r"\$(\d[\d,]*(?:\.\d+)?)", r"\1 dollars", text)
    text = text.replace("%", " percent").replace("&", " and ")
    text = re.sub(r"\b(\d{1,2})[:.](\d{2})\b", lambda m: m[1] if m[2] == "00" else f"{m[1]} {m[2]}", text)
    text = re.sub(r"\b([a-z])\.", r"\1 ", text)  # "J.O.H.N." spells letters
    return text


def _is_numeric(token: str) -> bool:
    return token.isdigit() or token in UNITS or token in TEENS or token in TENS


def _hour(token: str) -> int | None:
    value = int(token) if token.isdigit() else UNITS.get(token, TEENS.get(token))
    return value if value is not None and 1 <= value <= 12 else None


def _clock_phrases(tokens: list[str]) -> list[str]:
    """'(a) half/quarter past X' and '(a) quarter to X' become an hour and minutes."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        j = i + 1 if tokens[i] == "a" else i
        if (
            j + 2 < len(tokens)
            and tokens[j] in ("half", "quarter")
            and tokens[j + 1] in ("past", "to")
            and (hour := _hour(tokens[j + 2])) is not None
        ):
            minutes = 30 if tokens[j] == "half" else 15
            if tokens[j + 1] == "to":
                hour, minutes = (hour - 2) % 12 + 1, 60 - minutes
            out += [str(hour), str(minutes)]
            i = j + 3
        else:
            out.append(tokens[i])
            i += 1
    return out


def _numbers(tokens: list[str]) -> list[str]:
    """Join number words into numbers ('twenty three' → '23', 'five hundred' → '500'); others pass."""
    out: list[str] = []
    big = small = 0
    last: str | None = None  # kind of the previous number word; None outside a number

    def flush() -> None:
        nonlocal big, small, last
        if last is not None:
            out.append(str(big + small))
        big = small = 0
        last = None

    for i, tok in enumerate(tokens):
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        prev = tokens[i - 1] if i else ""
        if tok in ("oh", "o") and (_is_numeric(prev) or _is_numeric(nxt) or prev in _REPEAT):
            tok = "zero"
        elif tok == "a" and nxt in _SCALES:
            tok = "one"
        elif tok == "and" and last in _SCALES and _is_numeric(nxt) and not nxt.isdigit():
            continue  # "a hundred and twenty"
        if tok in UNITS:
            value = UNITS[tok]
            if value and last in ("tens", "hundred", "thousand"):
                small += value
            else:
                flush()
                small = value
            last = "unit"
        elif tok in TEENS or tok in TENS:
            if last not in ("hundred", "thousand"):
                flush()
            small += TEENS.get(tok, TENS.get(tok, 0))
            last = "teen" if tok in TEENS else "tens"
        elif tok == "hundred":
            if last in ("unit", "teen", "tens") and small < 100:
                small *= 100
            else:
                flush()
                small = 100
            last = "hundred"
        elif tok == "thousand":
            if last is not None and last != "thousand" and big == 0:
                big, small = (small or 1) * 1000, 0
            else:
                flush()
                big = 1000
            last = "thousand"
        else:
            flush()
            out.append(tok)
    flush()
    return out


def _repeats(tokens: list[str]) -> list[str]:
    """'double five' → '5 5', 'triple zero' → '0 0 0' (only before a single digit)."""
    out: list[str] = []
    for i, tok in enumerate(tokens):
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if i and tokens[i - 1] in _REPEAT and len(tok) == 1 and tok.isdigit():
            out += [tok] * (_REPEAT[tokens[i - 1]] - 1)
        if not (tok in _REPEAT and len(nxt) == 1 and nxt.isdigit()):
            out.append(tok)
    return out


def normalise(text: str) -> list[str]:
    """Words for scoring: lower-case, no punctuation, every number spelled one digit word per digit.

    Digits and number words meet in one form ("555 0134", "5550134" and "five five five, oh one three
    four" agree), as do times ("2:30 pm", "two thirty p.m.", "half past two PM"), "o'clock" (dropped, as
    is ":00"), ordinals ("14th", "fourteenth") and "Dr."/"doctor".
    """
    tokens = [t.replace("'", "") for t in re.findall(r"[a-z0-9']+", _rewrite(text))]
    tokens = [ORDINALS.get(t, t) for t in tokens if t]
    tokens = [SPELLINGS.get(t, t) for t in tokens]
    tokens = _repeats(_numbers(_clock_phrases(tokens)))
    words: list[str] = []
    for i, tok in enumerate(tokens):
        if tok.isdigit():
            words += [DIGIT_WORDS[int(c)] for c in tok]
        elif tok == "m" and words and words[-1] in ("a", "p") and i >= 2 and tokens[i - 2].isdigit():
            words[-1] += "m"  # "2 p m" → "pm"
        else:
            words.append(tok)
    return words


def align(reference: list[str], hypothesis: list[str]) -> WerResult:
    """Count the fewest substitutions, deletions and insertions that turn `reference` into `hypothesis`."""
    n, m = len(reference), len(hypothesis)
    # cost[i][j] = (edits, substitutions, deletions, insertions) for reference[:i] → hypothesis[:j]
    prev = [(j, 0, 0, j) for j in range(m + 1)]
    for i in range(1, n + 1):
        row = [(i, 0, i, 0)]
        for j in range(1, m + 1):
            e, s, d, ins = prev[j - 1]
            same = reference[i - 1] == hypothesis[j - 1]
            best = (e, s, d, ins) if same else (e + 1, s + 1, d, ins)
            e, s, d, ins = prev[j]
            best = min(best, (e + 1, s, d + 1, ins))
            e, s, d, ins = row[j - 1]
            best = min(best, (e + 1, s, d, ins + 1))
            row.append(best)
        prev = row
    _, s, d, ins = prev[m]
    return WerResult(substitutions=s, deletions=d, insertions=ins, reference_words=n)


def join_compounds(words: list[str], other: list[str]) -> list[str]:
    """Join neighbours that the other text writes as one word ("call back" where it has "callback")."""
    single = set(other)
    out: list[str] = []
    for word in words:
        if out and out[-1] + word in single and not (out[-1] in single and word in single):
            out[-1] += word
        else:
            out.append(word)
    return out


def word_error_rate(reference: str, hypothesis: str) -> WerResult:
    """Score a transcript against its reference text, both normalised with `normalise`.

    A compound written as one word on one side and two on the other ("callback", "call back") is the
    same words, not a substitution and an insertion.
    """
    ref, hyp = normalise(reference), normalise(hypothesis)
    return align(join_compounds(ref, hyp), join_compounds(hyp, ref))
