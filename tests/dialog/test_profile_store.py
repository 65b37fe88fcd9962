"""Business profiles in the database: seeded from the files, validated like them, imported and exported as
YAML, and applied to the next call without a restart while a call in progress keeps its own."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent.cli import build_parser
from agent.config import Settings
from agent.dialog import profile_cli, profile_store
from agent.dialog.business import ProfileError
from agent.records.db import Database, open_database

SATURDAY = 'saturday: "9:00-13:00"'


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = open_database(settings.db_url)
    await database.upgrade()
    yield database
    await database.dispose()


def example(prompts_dir: Path) -> str:
    text = (prompts_dir / "businesses" / "example.yaml").read_text()
    assert SATURDAY in text
    return text


async def test_an_empty_database_is_seeded_from_the_files_once(db: Database, prompts_dir: Path) -> None:
    """The first start imports prompts/businesses/*.yaml; later starts import nothing, so console edits
    stay; each save takes the next revision."""
    seeded = await profile_store.seed(db, prompts_dir)
    assert "example" in seeded and await profile_store.revision(db) == 1
    assert (await profile_store.documents(db))["example"] == example(prompts_dir)
    assert await profile_store.seed(db, prompts_dir) == []
    edited = example(prompts_dir).replace(SATURDAY, 'saturday: "10:00-14:00"')
    assert await profile_store.save(db, {"example": edited}, by="ana") == 2
    assert profile_store.differing_files(await profile_store.documents(db), prompts_dir) == ["example"]


def test_a_stored_profile_is_validated_as_the_files_are(prompts_dir: Path) -> None:
    """check() applies the loader's validation to the profiles with the change, naming the problem."""
    stored = {"example": example(prompts_dir)}
    bad = example(prompts_dir).replace(SATURDAY, 'saturday: "13:00-9:00"')
    with pytest.raises(ProfileError, match="saturday"):
        profile_store.check(stored, {"example": bad}, prompts_dir, "example")
    with pytest.raises(ProfileError, match="invalid YAML"):
        profile_store.check(stored, {"example": "greeting: [unclosed"}, prompts_dir, "example")
    good = example(prompts_dir).replace(SATURDAY, 'saturday: "10:00-14:00"')
    directory = profile_store.check(stored, {"example": good}, prompts_dir, "example")
    assert directory.businesses["example"].hours


def cli(settings: Settings, *argv: str) -> tuple[int, str]:
    import io

    out = io.StringIO()
    args: argparse.Namespace = build_parser().parse_args(["businesses", *argv])
    return profile_cli.run(args, settings, out), out.getvalue()


def test_businesses_export_then_import_round_trips_and_refuses_an_invalid_file(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`agent businesses export` writes the stored YAML; an edited file imports at a new revision; an
    invalid one is refused with the reason and stores nothing."""
    status, _ = cli(settings, "export", "--out", str(tmp_path / "out"), "example")
    exported = tmp_path / "out" / "example.yaml"
    assert status == 0 and exported.read_text() == example(settings.prompts_dir)
    exported.write_text(exported.read_text().replace(SATURDAY, 'saturday: "10:00-14:00"'))
    status, said = cli(settings, "import", str(exported))
    assert status == 0 and "revision 2" in said
    exported.write_text("greeting: [unclosed")
    status, _ = cli(settings, "import", str(exported))
    assert status == 1 and "invalid YAML" in capsys.readouterr().err
    status, listed = cli(settings, "list")
    assert status == 0 and "revision 2" in listed and "agent businesses import" in listed
