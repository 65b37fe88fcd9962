"""Model replies, whichever engine made them, reach the caller only as grounded, phone-length sentences."""

from __future__ import annotations

import asyncio
import dataclasses

from aiohttp.test_utils import TestServer, unused_port

from agent.config import Settings
from agent.dialog.business import load_business
from agent.dialog.chat import model_replier
from agent.dialog.grounded import MAX_REPLY_WORDS, SentenceGate
from agent.dialog.grounding import FALLBACK
from tests.conftest import REPO
from tests.fake_openai import FakeChatEndpoint

FACTS = load_business(REPO / "prompts", "example").system_prompt


def test_grounded_sentences_pass_as_they_complete() -> None:
    """A sentence is released once it ends, checked; the unfinished rest waits for more text."""
    gate = SentenceGate(FACTS)
    assert gate.feed("Happy to help! We open at 9 AM on Sat") == ["Happy to help! "]
    assert gate.feed("urday. See") == ["We open at 9 AM on Saturday. "]
    assert gate.finish() == ["See "]


def test_an_invented_fact_is_replaced_and_the_rest_dropped() -> None:
    """'We're here 24-7' (no such hours) becomes the honest fallback; nothing after it is spoken."""
    gate = SentenceGate(FACTS)
    out = gate.feed("Sure thing. We're here 24-7 for you. We also do ocean-view hotel stays. ")
    out += gate.finish()
    assert out == ["Sure thing. ", f"{FALLBACK} "]
    assert gate.rejected == ["We're here 24-7 for you."]
    assert SentenceGate(FACTS).feed("I've booked you in for Tuesday. ") == [f"{FALLBACK} "]


def test_a_long_reply_stops_at_phone_length() -> None:
    """A monologue ends at its last whole sentence within the word limit."""
    sentence = "Our team is friendly and we look forward to seeing you soon. "
    gate = SentenceGate(FACTS)
    out = gate.feed(sentence * 20) + gate.finish()
    assert 0 < sum(len(s.split()) for s in out) <= MAX_REPLY_WORDS
    assert all(s == sentence for s in out)


async def test_the_endpoint_path_of_agent_chat_is_grounded_over_the_real_wire() -> None:
    """Through the OpenAI client and a streaming endpoint, an invented closing time never comes back."""
    fake = FakeChatEndpoint("Sure! We're open until 10 PM tonight and every day, 24-7.")
    server = TestServer(fake.app(), host="127.0.0.1", port=unused_port())
    await server.start_server()
    try:
        url = f"http://127.0.0.1:{server.port}/v1"
        settings = dataclasses.replace(Settings(), llm_base_url=url, llm_model="m")
        business = load_business(REPO / "prompts", "example")
        replier = model_replier(settings, business)
        said = await asyncio.to_thread(replier, [{"role": "user", "content": "when do you close"}])
    finally:
        await server.close()
    assert said == f"Sure! {FALLBACK}"
    assert fake.requests[0]["messages"][0]["role"] == "system" and fake.requests[0]["stream"] is True
