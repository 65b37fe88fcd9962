"""Backchannel detection: acknowledgements are not requests."""

from __future__ import annotations

import pytest

from agent.dialog.backchannel import is_backchannel


@pytest.mark.parametrize(
    "text", ["Uh-huh.", "Mm-hmm.", "Okay.", "Yeah, yeah.", "Right.", "I see.", "Oh, okay."]
)
def test_acknowledgements_are_backchannels(text: str) -> None:
    """What a listener says to show they follow counts as a backchannel."""
    assert is_backchannel(text)


@pytest.mark.parametrize(
    "text", ["", "Okay, can I speak to Maria?", "Yes, I'd like to leave a message.", "No.", "Wait, what?"]
)
def test_requests_and_refusals_are_not_backchannels(text: str) -> None:
    """Anything that asks, refuses or says more than an acknowledgement takes the turn."""
    assert not is_backchannel(text)
