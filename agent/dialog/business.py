"""Load the receptionist persona and a business profile from prompts/ into a system prompt."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


class ProfileError(ValueError):
    """A business profile that is missing or invalid; the message names the file and field."""


@dataclass(frozen=True)
class Business:
    """A business the agent answers for: its name, greeting, closing and the system prompt."""

    key: str
    name: str
    greeting: str
    closing: str
    system_prompt: str
    profile: dict[str, Any]


def _describe(profile: dict[str, Any]) -> str:
    lines = [f"Name: {profile['name']}"]
    hours = profile.get("hours") or {}
    if hours:
        lines.append("Opening hours: " + "; ".join(f"{d.title()} {h}" for d, h in hours.items()))
    for key in ("address", "directions"):
        if profile.get(key):
            lines.append(f"{key.title()}: {profile[key]}")
    services = profile.get("services") or []
    if services:
        lines.append("Services: " + "; ".join(f"{s['name']} ({s.get('price', 'ask')})" for s in services))
    return "\n".join(lines)


def load_business(prompts_dir: Path, key: str) -> Business:
    """Read prompts/persona.md and prompts/businesses/<key>.yaml; raise ProfileError if invalid."""
    path = prompts_dir / "businesses" / f"{key}.yaml"
    try:
        profile = yaml.safe_load(path.read_text())
        persona = (prompts_dir / "persona.md").read_text()
    except OSError as exc:
        raise ProfileError(f"{exc.filename}: cannot read ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(profile, dict):
        raise ProfileError(f"{path}: must be a mapping of fields")
    for field_name in ("name", "greeting"):
        if not isinstance(profile.get(field_name), str) or not profile[field_name].strip():
            raise ProfileError(f"{path}: field '{field_name}' is required (a non-empty string)")
    system_prompt = persona.format(business_name=profile["name"], profile=_describe(profile))
    return Business(
        key=key,
        name=profile["name"],
        greeting=profile["greeting"],
        closing=str(profile.get("closing") or f"Thanks for calling {profile['name']}. Goodbye!"),
        system_prompt=system_prompt,
        profile=profile,
    )
