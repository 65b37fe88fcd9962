"""The console's business profile pages: editors change a profile (validated, audited, live for the next
call); viewers read it with numbers masked."""

from __future__ import annotations

import datetime as dt
import html
import re

import aiohttp
import pytest
import yaml

from agent.console import queries
from agent.dialog import profile_store
from agent.server import STATE
from tests.console.conftest import Seeded, csrf_of, log_in

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the store runs on both elsewhere
SATURDAY = 'saturday: "9:00-13:00"'


async def profile_page(http: aiohttp.ClientSession, console: Seeded) -> str:
    async with http.get(console.url("/console/businesses/example")) as r:
        assert r.status == 200
        return await r.text()


def textarea(page: str) -> str:
    start = page.index('<textarea name="document" id="document"')
    body = page[page.index(">", start) + 1 : page.index("</textarea>", start)]
    return html.unescape(body)


async def test_an_editor_changes_saturdays_hours_and_the_server_uses_them(
    console: Seeded, http: aiohttp.ClientSession
) -> None:
    """The edited YAML is saved at a new revision, the page shows the new hours in use at once, and the
    audit log holds the text before and after."""
    assert await log_in(http, console, "editor") == 200
    page = await profile_page(http, console)
    assert "Saturday" in page and "from 9 AM to 1 PM" in page
    document = textarea(page).replace(SATURDAY, 'saturday: "10:00-14:00"')
    form = {"csrf": csrf_of(page), "document": document}
    async with http.post(console.url("/console/businesses/example"), data=form) as r:
        assert r.status == 200 and "Saved as revision 2" in (saved := await r.text())
    assert "from 10 AM to 2 PM" in saved  # this server rebuilt its businesses on saving
    assert console.server.app[STATE].profiles_revision == 2
    (entry,) = [e for e in await queries.audit_log(console.db) if e.action == "profile_edit"]
    assert entry.operator == "editor" and entry.target == "business:example"
    assert SATURDAY in entry.detail["before"] and '"10:00-14:00"' in entry.detail["after"]


async def test_an_invalid_profile_is_refused_with_the_reason_and_nothing_changes(
    console: Seeded, http: aiohttp.ClientSession
) -> None:
    """Closing before opening is shown next to the form (422), the text kept for fixing, nothing saved."""
    assert await log_in(http, console, "editor") == 200
    page = await profile_page(http, console)
    bad = textarea(page).replace(SATURDAY, 'saturday: "13:00-9:00"')
    async with http.post(
        console.url("/console/businesses/example"), data={"csrf": csrf_of(page), "document": bad}
    ) as r:
        shown = await r.text()
        assert r.status == 422 and 'id="profile-errors"' in shown and "saturday" in shown
    assert textarea(shown) == bad
    assert await profile_store.revision(console.db) == 1


async def test_a_viewer_reads_the_profile_with_numbers_masked_and_cannot_save(
    console: Seeded, http: aiohttp.ClientSession
) -> None:
    """No form for a viewer, staff numbers masked in the YAML shown, and a forged save is refused."""
    assert await log_in(http, console, "viewer") == 200
    page = await profile_page(http, console)
    assert "<textarea" not in page and "saturday" in page
    stored = (await profile_store.documents(console.db))["example"]
    assert "+15550100010" in stored and "+15550100010" not in page
    form = {"csrf": csrf_of(page), "document": stored.replace(SATURDAY, 'saturday: "10:00-14:00"')}
    async with http.post(console.url("/console/businesses/example"), data=form) as r:
        assert r.status == 403
    async with http.get(console.url("/console/businesses")) as r:
        assert r.status == 200 and 'href="/console/businesses/example"' in await r.text()


async def test_the_try_box_answers_from_the_edited_profile_without_saving_it(
    console: Seeded, http: aiohttp.ClientSession
) -> None:
    """Lines tried against the text in the form get the new hours from the same dialog engine as a call;
    the stored profile, and so every caller, still has the old ones; an invalid text gets its problems."""
    assert await log_in(http, console, "editor") == 200
    page = await profile_page(http, console)
    draft = textarea(page).replace(SATURDAY, 'saturday: "10:00-14:00"')
    form = {"csrf": csrf_of(page), "document": draft, "lines": "Are you open on Saturday?\nThanks, bye!"}
    async with http.post(console.url("/console/businesses/example/try"), data=form) as r:
        assert r.status == 200
        turns = (await r.json())["turns"]
    assert [t["caller"] for t in turns] == ["Are you open on Saturday?", "Thanks, bye!"]
    assert turns[0]["intent"].startswith("hours") and "10 AM" in turns[0]["reply"], turns[0]
    assert turns[1]["action"] == {"type": "end_call"}
    assert await profile_store.revision(console.db) == 1
    bad = {**form, "document": draft.replace('"10:00-14:00"', '"14:00-10:00"')}
    async with http.post(console.url("/console/businesses/example/try"), data=bad) as r:
        assert r.status == 422 and any("saturday" in e for e in (await r.json())["errors"])
    async with http.post(console.url("/console/businesses/example/try"), data={**form, "csrf": "x"}) as r:
        assert r.status == 403


def form_fields(page: str) -> dict[str, str]:
    """Every field of the profile form with its value, as a browser would submit it: inputs, ticked boxes,
    text areas and each select's chosen option."""
    start = page.index('id="profile-form"')
    form = page[start : page.index("</form>", start)]
    fields = {}
    for tag in re.findall(r"<input [^>]*>", form):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name and ('type="checkbox"' not in tag or " checked" in tag):
            fields[name.group(1)] = html.unescape(value.group(1)) if value else ""
    for name, body in re.findall(r'<textarea name="([^"]+)"[^>]*>(.*?)</textarea>', form, re.S):
        fields[name] = html.unescape(body)
    for name, options in re.findall(r'<select name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r"<option selected>([^<]*)<", options) or re.search(r"<option>([^<]*)<", options)
        fields[name] = html.unescape(chosen.group(1)) if chosen else ""
    return fields


async def test_the_form_changes_a_weekday_and_adds_a_holiday_with_errors_beside_fields(
    console: Seeded, http: aiohttp.ClientSession
) -> None:
    """Saturday typed as 10:00-14:00 and a new dated row with no hours (a holiday) are saved into the
    profile; a closing time before opening is shown next to Saturday's field and nothing is saved."""
    assert await log_in(http, console, "editor") == 200
    page = await profile_page(http, console)
    fields = form_fields(page)
    assert fields["hours.saturday"] == "9:00-13:00" and fields["hours.sunday"] == "closed"
    empty = max(int(k.split(".")[1]) for k in fields if k.startswith("special."))
    assert fields[f"special.{empty}.date"] == ""
    bad = {**fields, "hours.saturday": "13:00-9:00"}
    async with http.post(console.url("/console/businesses/example/form"), data=bad) as r:
        shown = await r.text()
        assert r.status == 422
    row = shown[shown.index('id="hours-saturday"') : shown.index("</tr>", shown.index('id="hours-saturday"'))]
    assert 'class="error field-error">' in row and "13:00-9:00" in row and "</td>" in row
    assert re.search(r'field-error">[^<]+</td>', row), row
    assert await profile_store.revision(console.db) == 1
    good = {**fields, "hours.saturday": "10:00-14:00", f"special.{empty}.date": "2026-07-04"}
    good[f"special.{empty}.name"] = "Independence Day"
    async with http.post(console.url("/console/businesses/example/form"), data=good) as r:
        assert r.status == 200 and "Saved as revision 2" in await r.text()
    stored = yaml.safe_load((await profile_store.documents(console.db))["example"])
    assert stored["hours"]["saturday"] == "10:00-14:00"
    assert {"date": dt.date(2026, 7, 4), "name": "Independence Day"} in stored["holidays"]
    assert any(e["name"] == "Christmas Eve" for e in stored["exceptions"])  # rows not touched stay


async def test_the_form_edits_an_faq_answer_and_staff_with_the_problem_beside_the_field(
    console: Seeded, http: aiohttp.ClientSession
) -> None:
    """The try box answers from the form's fields before saving; a new staff row with a bad number is
    refused with the problem in that row's number cell and the typed rows kept; fixed, it is saved."""
    assert await log_in(http, console, "editor") == 200
    page = await profile_page(http, console)
    fields = form_fields(page)
    insurance = next(k for k, v in fields.items() if k.startswith("faq.") and v == "Do you take insurance?")
    answer = insurance.replace(".question", ".answer")
    fields[answer] = "We take Delta Dental only, not Cigna."
    tried = {**fields, "lines": "Do you take insurance?"}
    async with http.post(console.url("/console/businesses/example/try"), data=tried) as r:
        assert r.status == 200
        (turn,) = (await r.json())["turns"]
    assert "Delta Dental only" in turn["reply"], turn
    spare = max(int(k.split(".")[1]) for k in fields if k.startswith("staff."))
    fields |= {f"staff.{spare}.name": "Billing Desk", f"staff.{spare}.number": "555-0199"}
    fields[f"staff.{spare}.takes"] = "billing, invoices"
    async with http.post(console.url("/console/businesses/example/form"), data=fields) as r:
        shown = await r.text()
        assert r.status == 422
    assert await profile_store.revision(console.db) == 1
    again = form_fields(shown)
    assert again[answer] == "We take Delta Dental only, not Cigna."  # nothing typed is lost
    row = next(k for k, v in again.items() if v == "Billing Desk").split(".")[1]
    cell = shown[shown.index(f'name="staff.{row}.number"') :]
    cell = cell[: cell.index("</td>")]
    assert "is not an E.164 number" in cell and 'class="error field-error"' in cell, cell
    again[f"staff.{row}.number"] = "+15550100019"
    async with http.post(console.url("/console/businesses/example/form"), data=again) as r:
        assert r.status == 200 and "Saved as revision 2" in await r.text()
    stored = yaml.safe_load((await profile_store.documents(console.db))["example"])
    added = {"name": "Billing Desk", "number": "+15550100019", "takes": ["billing", "invoices"]}
    assert stored["staff"][-1] == added
    assert any(f["answer"] == "We take Delta Dental only, not Cigna." for f in stored["faq"])
