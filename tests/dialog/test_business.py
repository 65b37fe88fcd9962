"""Loading the persona and business profile from prompts/."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.dialog.business import ProfileError, load_business
from tests.conftest import REPO


def test_example_business_builds_a_grounded_system_prompt() -> None:
    """The shipped example profile yields a greeting and a prompt holding its facts."""
    biz = load_business(REPO / "prompts", "example")
    assert biz.name == "Harbor Dental"
    assert "virtual receptionist" in biz.greeting
    for fact in ("42 Wharf Street", "Saturday 9:00-13:00", "Teeth whitening ($250)"):
        assert fact in biz.system_prompt


def test_invalid_profile_errors_name_the_file_and_field(tmp_path: Path) -> None:
    """A profile missing its greeting is refused with the file and the field named."""
    (tmp_path / "businesses").mkdir()
    (tmp_path / "persona.md").write_text("{business_name} {profile}")
    (tmp_path / "businesses" / "x.yaml").write_text("name: X\n")
    with pytest.raises(ProfileError, match=r"x\.yaml: field 'greeting'"):
        load_business(tmp_path, "x")
    with pytest.raises(ProfileError, match=r"nope\.yaml"):
        load_business(tmp_path, "nope")
