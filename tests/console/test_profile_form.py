"""The business page's form: every profile section as fields and back, and the profile check's problems
keyed by the field they belong to."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agent.console.profile_form import TABLES, ProfileForm, apply_form, field_errors, form_of
from agent.dialog.business import ProfileError, parse_document, read_persona
from tests.conftest import REPO

PROFILES = sorted((REPO / "prompts" / "businesses").glob("*.yaml"))
PERSONA = read_persona(REPO / "prompts")
SOURCE = Path("businesses/example.yaml")


def submitted(form: ProfileForm) -> dict[str, str]:
    """The form as a browser submits it unchanged: every field, ticked boxes only."""
    fields = {key: value for key, value in form.details.items()}
    fields |= {f"hours.{day}": value for day, value in form.hours.weekly.items()}
    for i, special in enumerate(form.hours.specials):
        fields |= {f"special.{i}.date": special.date, f"special.{i}.name": special.name}
        fields[f"special.{i}.hours"] = special.hours
    for table in TABLES:
        for i, row in enumerate(form.rows[table.key]):
            for column in table.columns:
                value = row[column.key] or ("transfer" if column.kind == "choice" else "")
                if column.kind != "check" or value:
                    fields[f"{table.key}.{i}.{column.key}"] = value
    fields |= {f"behaviour.{key}": value for key, value in form.behaviour.items()}
    return fields


def example() -> str:
    return (REPO / "prompts" / "businesses" / "example.yaml").read_text()


def problems_of(document: str) -> list[str]:
    with pytest.raises(ProfileError) as raised:
        parse_document("example", document, SOURCE, PERSONA)
    return str(raised.value).splitlines()


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.stem)
def test_the_form_submitted_unchanged_gives_the_same_profile(path: Path) -> None:
    """Every shipped profile, shown as the form and submitted untouched, parses to the same business (the
    empty row each table offers adds nothing)."""
    text = path.read_text()
    again, problems = apply_form(text, submitted(form_of(text)))
    assert problems == {}
    assert parse_document(path.stem, again, path, PERSONA) == parse_document(path.stem, text, path, PERSONA)


def test_each_section_edited_in_the_form_lands_in_the_profile() -> None:
    """A new greeting, a changed FAQ answer, a new service row, a removed staff row with the operator box
    moved, a keypad key retargeted and a behaviour setting all reach the YAML; an empty disclosure is off."""
    form = form_of(example())
    fields = submitted(form)
    fields["greeting"] = "Harbor Dental, good day!"
    fields["ai_disclosure"] = ""
    fields["faq.0.answer"] = "We take Delta Dental only."
    services = len(form.rows["services"]) - 1
    fields |= {f"services.{services}.name": "Braces", f"services.{services}.keywords": "braces, aligners"}
    staff = [row["name"] for row in form.rows["staff"]]
    fields["staff.0.remove"] = "1"  # Maria Lopez: the operator, and the message recipient
    fields[f"staff.{staff.index('Front Desk')}.operator"] = "1"
    fields["messages.recipient"] = "Front Desk"
    digit = [row["digit"] for row in form.rows["dtmf"]].index("2")
    fields[f"dtmf.{digit}.to"] = "Dr. Sam Lee"
    fields["behaviour.max_call_minutes"] = "20"
    text, problems = apply_form(example(), fields)
    assert problems == {}
    business = parse_document("example", text, SOURCE, PERSONA)
    assert business.greeting == "Harbor Dental, good day!" and business.ai_disclosure == ""
    assert business.faq[0].answer == "We take Delta Dental only."
    assert business.services[-1].name == "Braces" and business.services[-1].keywords == ("braces", "aligners")
    assert [s.name for s in business.staff] == ["Dr. Sam Lee", "Front Desk"]
    assert business.operator.name == "Front Desk" and business.message_recipient == "Front Desk"
    assert business.dtmf["2"].to == "Dr. Sam Lee" and business.behaviour.max_call_minutes == 20
    assert yaml.safe_load(text)["ai_disclosure"] is False


def test_fields_the_form_does_not_show_stay_with_their_row() -> None:
    """A staff member's `email` kept in the YAML survives an edit of that row, and a removal of the row
    before it."""
    data = yaml.safe_load(example())
    data["staff"][1]["email"] = "sam@example.com"
    text = yaml.safe_dump(data, sort_keys=False)
    fields = submitted(form_of(text)) | {"staff.1.role": "dentist and owner", "staff.0.remove": "1"}
    fields["messages.recipient"] = "Front Desk"
    fields["staff.2.operator"] = "1"
    after, problems = apply_form(text, fields)
    assert problems == {}
    (sam,) = [s for s in yaml.safe_load(after)["staff"] if s["name"] == "Dr. Sam Lee"]
    assert sam["email"] == "sam@example.com" and sam["role"] == "dentist and owner"


def test_sections_the_form_does_not_carry_are_left_alone() -> None:
    """Only the hours fields: services, staff, keypad and behaviour stay exactly as they were."""
    before = yaml.safe_load(example())
    text, _ = apply_form(example(), {"hours.saturday": "10:00-14:00"})
    after = yaml.safe_load(text)
    assert after["hours"]["saturday"] == "10:00-14:00"
    for key in ("services", "faq", "staff", "dtmf", "behaviour", "greeting", "numbers"):
        assert after[key] == before[key], key


def test_the_checks_problems_are_keyed_by_the_field_they_belong_to() -> None:
    """A bad staff number, an empty FAQ answer, a key transferring to nobody, a recipient not on the staff,
    a bad number, a non-number setting and a bad date each land next to their own field."""
    form = form_of(example())
    fields = submitted(form)
    fields |= {"staff.1.number": "555-0100", "faq.2.answer": " ", "behaviour.max_call_minutes": "soon"}
    digit = [row["digit"] for row in form.rows["dtmf"]].index("2")
    fields |= {f"dtmf.{digit}.to": "Nobody", "messages.recipient": "Bob", "numbers": "+15550100002, 12"}
    fields["special.0.date"] = "2026-02-30"
    text, problems = apply_form(example(), fields)
    assert problems == {}
    errors = field_errors(problems_of(text), text)
    assert "is not an E.164 number" in errors["staff.1.number"]
    assert errors["faq.2.answer"].startswith("required")
    assert "'Nobody' is not 'operator' or a staff name" in errors[f"dtmf.{digit}.to"]
    assert "'Bob' is not in staff" in errors["messages.recipient"]
    assert "'12' is not an E.164" in errors["numbers"]
    assert "'soon' is not a number" in errors["behaviour.max_call_minutes"]
    shown = form_of(text)
    bad = [i for i, s in enumerate(shown.hours.specials) if s.date == "2026-02-30"]
    assert bad and errors[f"special.{bad[0]}"].startswith("required, a date"), errors


def test_a_key_used_twice_is_a_problem_beside_the_first_row() -> None:
    """Two keypad rows for the same key can't both be kept: the form says so next to the row shown."""
    form = form_of(example())
    fields = submitted(form)
    last = len(form.rows["dtmf"]) - 1
    fields |= {f"dtmf.{last}.digit": "1", f"dtmf.{last}.action": "address"}
    text, problems = apply_form(example(), fields)
    row = [r["digit"] for r in form_of(text).rows["dtmf"]].index("1")
    assert problems == {f"dtmf.{row}.digit": "key 1 is used twice"}


def test_an_empty_table_row_is_ignored_and_an_emptied_required_field_is_named() -> None:
    """The spare row left blank adds nothing; a service whose name was cleared but price kept is refused
    with the field named."""
    form = form_of(example())
    fields = submitted(form)
    fields["services.1.name"] = ""
    text, _ = apply_form(example(), fields)
    assert field_errors(problems_of(text), text) == {"services.1.name": "required, a non-empty string"}
