"""Spoken details: digits and names as heard, read back, and spelled letter by letter (pure)."""

from __future__ import annotations

import re

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
NOT_NAMES = {
    "calling", "looking", "wondering", "trying", "just", "not", "sorry", "fine", "good", "here", "kind",
    "sort",
    "really", "very", "quite", "about", "regarding", "urgent", "important", "a", "the", "my", "so", "pretty",
    "an", "for", "ok", "okay", "still", "me", "that", "actually", "been", "going", "having", "kinda",
    "sorta", "gonna", "wanna", "with", "from", "also", "quick",
}  # fmt: skip
# Words speech recognition puts where a name it doesn't know was said ("Lisa Wong" → "Lisa One",
# "Ana Silva" → "On A"): a name made of them is worth spelling out.
_NAME_DOUBTS = {
    "a", "an", "and", "at", "be", "by", "for", "from", "in", "is", "it", "me", "my", "no", "of", "on",
    "or", "so", "the", "to", "too", "want", "what", "who", "won", "yes", "you", "your",
}  # fmt: skip


# Spellings that typed and recognised speech use for everyday words.
SLIPS = {
    "tonite": "tonight", "nite": "night", "tomorow": "tomorrow", "tommorow": "tomorrow",
    "tommorrow": "tomorrow", "tmrw": "tomorrow", "thru": "through", "wknd": "weekend", "pls": "please",
    "plz": "please", "appt": "appointment", "appts": "appointments", "yall": "y'all", "ya'll": "y'all",
    "wat": "what", "wen": "when", "adress": "address", "satuday": "saturday",
}  # fmt: skip
SLIPS.update(
    {"a point meant": "appointment", "appoint meant": "appointment", "you're a dress": "your address"}
)
_SLIPS = re.compile(rf"\b({'|'.join(SLIPS)})\b")


def normalise(text: str) -> str:
    """Lower-case, straighten quotes, and drop punctuation other than apostrophes and hyphens."""
    text = text.lower().replace("’", "'").replace("‘", "'")
    text = re.sub(r"\s+", " ", re.sub(r"[^a-z0-9'\-\+ ]", " ", text)).strip()
    return _SLIPS.sub(lambda m: SLIPS[m.group(0)], text)


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
    return max(reversed(digits), key=len) if digits else ""  # of equal ones the last: a correction


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


def respell(name: str, said: str) -> str:
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
