"""Business profiles: the shipped example, validation errors naming file and field, number routing."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agent.dialog.business import ProfileError, load_business, load_directory
from tests.conftest import REPO

MINIMAL = {
    "name": "Corner Cafe",
    "greeting": "Corner Cafe, how can I help?",
    "timezone": "Europe/London",
    "hours": {"monday": "7:00-15:00"},
    "staff": [{"name": "Ann", "role": "owner", "number": "+441234567890"}],
}


def write(tmp_path: Path, key: str, data: object) -> None:
    (tmp_path / "businesses").mkdir(exist_ok=True)
    (tmp_path / "persona.md").write_text("You answer for {business_name}.\n{profile}")
    (tmp_path / "businesses" / f"{key}.yaml").write_text(yaml.safe_dump(data))


def test_example_business_builds_a_grounded_system_prompt() -> None:
    """The shipped example profile yields its greeting, disclosure and a prompt holding its facts."""
    biz = load_business(REPO / "prompts", "example")
    assert biz.name == "Harbor Dental"
    assert biz.opening_line.endswith("I'm an automated assistant.")
    for fact in ("42 Wharf Street", "Saturday from 9 AM to 1 PM", "Teeth whitening ($250)", "Maria Lopez"):
        assert fact in biz.system_prompt
    assert biz.operator.name == "Maria Lopez"
    assert biz.dtmf["0"].action == "transfer"


def test_a_minimal_profile_gets_defaults(tmp_path: Path) -> None:
    """Unset fields get defaults: AI disclosure on, closing line, keypad 0 to the operator."""
    write(tmp_path, "cafe", MINIMAL)
    biz = load_business(tmp_path, "cafe")
    assert biz.ai_disclosure == "I'm an automated assistant."
    assert biz.closing == "Thanks for calling Corner Cafe. Goodbye!"
    assert biz.dtmf["0"].to == "operator"
    assert biz.hours.weekly["sunday"] == ()


def test_disclosure_can_be_turned_off(tmp_path: Path) -> None:
    """ai_disclosure: false leaves the greeting alone."""
    write(tmp_path, "cafe", {**MINIMAL, "ai_disclosure": False})
    assert load_business(tmp_path, "cafe").opening_line == MINIMAL["greeting"]


def test_the_recording_announcement_is_said_by_default_after_the_disclosure(tmp_path: Path) -> None:
    """Without the field a call opens with the greeting, the disclosure, then "This call is recorded."."""
    write(tmp_path, "cafe", MINIMAL)
    biz = load_business(tmp_path, "cafe")
    assert biz.call_opening == f"{biz.opening_line} This call is recorded."


def test_the_recording_announcement_can_be_turned_off_or_reworded(tmp_path: Path) -> None:
    """false says nothing more; a sentence replaces the default; a number is refused."""
    write(tmp_path, "cafe", {**MINIMAL, "recording_announcement": False})
    assert load_business(tmp_path, "cafe").call_opening == load_business(tmp_path, "cafe").opening_line
    write(tmp_path, "cafe", {**MINIMAL, "recording_announcement": "Calls are recorded for training."})
    assert load_business(tmp_path, "cafe").call_opening.endswith(
        "assistant. Calls are recorded for training."
    )
    write(tmp_path, "cafe", {**MINIMAL, "recording_announcement": 3})
    with pytest.raises(ProfileError, match="recording_announcement: must be a sentence, or false"):
        load_business(tmp_path, "cafe")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"greeting": ""}, r"cafe\.yaml: greeting: required"),
        ({"timezone": "Mars/Olympus"}, "timezone: unknown time zone 'Mars/Olympus'"),
        ({"hours": {"monday": "9-5pm"}}, "hours.monday: '9-5pm' is not 'HH:MM-HH:MM'"),
        ({"hours": {"monday": "17:00-09:00"}}, "hours.monday: '17:00-09:00' closes before it opens"),
        ({"hours": {"funday": "9:00-10:00"}}, "hours.funday: not a weekday name"),
        ({"numbers": ["555-1234"]}, "numbers: '555-1234' is not an E.164 number"),
        ({"staff": [{"name": "Ann", "number": "12"}]}, r"staff\[0\]\.number: '12' is not an E\.164"),
        ({"staff": []}, "staff: at least one"),
        ({"dtmf": {"5": {"action": "dance"}}}, "dtmf.5.action: action must be one of"),
        ({"dtmf": {"55": {"action": "hours"}}}, "dtmf.55: keys must be single keypad digits"),
        ({"services": [{"price": "$5"}]}, r"services\[0\]\.name: required"),
        ({"faq": [{"question": "Why?", "answer": " "}]}, r"faq\[0\]\.answer: required"),
        ({"staff": [{"number": "+15550100010"}]}, r"staff\[0\]\.name: required"),
        ({"dtmf": {"5": {"action": "transfer", "to": "Bob"}}}, "dtmf.5.to: 'Bob' is not"),
        ({"holidays": [{"name": "x"}]}, r"holidays\[0\]\.date: required"),
        ({"behaviour": {"silence_secs": 3}}, r"behaviour\.silence_secs: not a setting \(one of silence_"),
        ({"behaviour": {"max_call_minutes": "ten"}}, "behaviour.max_call_minutes: 'ten' is not a number"),
        ({"behaviour": {"silence_max_reprompts": 1.5}}, "silence_max_reprompts: 1.5 is not a whole"),
        ({"behaviour": {"transfer_timeout_secs": 0}}, "behaviour.transfer_timeout_secs: 0 is not a whole"),
        ({"behaviour": [3]}, "behaviour: must be a mapping"),
    ],
)
def test_invalid_fields_are_named_with_file_field_and_problem(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    """Each invalid field is reported as 'file: field: problem'."""
    write(tmp_path, "cafe", {**MINIMAL, **change})
    with pytest.raises(ProfileError, match=message):
        load_business(tmp_path, "cafe")


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    """A profile with several problems lists every one of them."""
    write(tmp_path, "cafe", {**MINIMAL, "greeting": "", "timezone": "Nowhere/X"})
    with pytest.raises(ProfileError) as err:
        load_business(tmp_path, "cafe")
    assert len(str(err.value).splitlines()) == 2


def test_directory_picks_the_business_by_called_number(tmp_path: Path) -> None:
    """The called number selects the business; unknown numbers reach the default."""
    write(tmp_path, "cafe", {**MINIMAL, "numbers": ["+15550000001"]})
    write(tmp_path, "bakery", {**MINIMAL, "name": "Bakery", "numbers": ["+15550000002"]})
    directory = load_directory(tmp_path, "cafe")
    assert directory.for_called("+15550000002").name == "Bakery"
    assert directory.for_called("+15559999999").name == "Corner Cafe"


def test_directory_refuses_duplicate_numbers_and_a_missing_default(tmp_path: Path) -> None:
    """Two profiles claiming one number, or no profile for BUSINESS, stop the server starting."""
    write(tmp_path, "cafe", {**MINIMAL, "numbers": ["+15550000001"]})
    write(tmp_path, "bakery", {**MINIMAL, "numbers": ["+15550000001"]})
    with pytest.raises(ProfileError, match=r"numbers: \+15550000001 is also listed"):
        load_directory(tmp_path, "cafe")
    with pytest.raises(ProfileError, match="the default business"):
        load_directory(tmp_path, "nope")
