"""The install: every dependency bounded, every one locked, and every pip install constrained by the lock."""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import REPO


def _requirements() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"].values()
    named = [*project["dependencies"], *(d for extra in extras for d in extra)]
    return [Requirement(r) for r in named if not r.startswith("phone-agent")]


def _locked() -> dict[str, str]:
    lines = (REPO / "requirements.lock").read_text().splitlines()
    pins = [line.split("==") for line in lines if line and not line.startswith("#")]
    assert all(len(p) == 2 for p in pins), "every lock line is name==version"
    return {canonicalize_name(name): version for name, version in pins}


def test_every_dependency_has_an_upper_bound_or_a_pin() -> None:
    """No dependency is open-ended: each is pinned (==) or capped (<)."""
    open_ended = [
        str(r) for r in _requirements() if not any(s.operator in ("==", "<", "~=") for s in r.specifier)
    ]
    assert not open_ended


def test_the_lock_pins_every_dependency_within_its_bounds() -> None:
    """Each dependency pyproject.toml names is in requirements.lock at a version its specifier allows."""
    locked = _locked()
    for r in _requirements():
        name = canonicalize_name(r.name)
        assert name in locked, f"{r.name} is not in requirements.lock (make setup lock)"
        assert r.specifier.contains(locked[name].split("+")[0], prereleases=True), (r, locked[name])


def test_every_pip_install_goes_through_the_lock() -> None:
    """make setup and both images install with the lock as constraints (pip's own upgrade aside)."""
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^PIP\s*:=.*pip install .*-c \$\(LOCK\)", makefile, re.M)
    assert not re.findall(r"^\t.*pip install(?! -q --upgrade pip$)", makefile, re.M)
    for name in ("Dockerfile", "Dockerfile.cuda"):
        text = (REPO / "deploy" / name).read_text()
        installs = [i for i in re.findall(r"pip install [^\\\n]*", text) if "--upgrade pip" not in i]
        assert installs and all(" -c " in i for i in installs), (name, installs)


def test_the_voice_extra_holds_torch_and_the_base_install_does_not() -> None:
    """A Piper-only install (no extra) leaves out torch and coqui-tts; the voice extra brings them."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    base = {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}
    voice = {canonicalize_name(Requirement(r).name) for r in project["optional-dependencies"]["voice"]}
    assert {"torch", "coqui-tts", "transformers"} <= voice
    assert not base & {"torch", "torchaudio", "coqui-tts", "transformers"}
