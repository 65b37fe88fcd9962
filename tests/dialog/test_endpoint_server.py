"""The LLM_BASE_URL path against a real llama.cpp OpenAI-compatible server process on the embedded GGUF."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp.test_utils import unused_port
from openai import OpenAI

from agent.config import Settings
from agent.dialog.business import load_business
from agent.dialog.chat import LOST_REPLY, model_replier
from agent.dialog.grounded import MAX_REPLY_WORDS, SentenceGate
from agent.dialog.grounding import FALLBACK, ungrounded_claims
from agent.dialog.llm import embedded_gguf_path
from tests.conftest import REPO

BUSINESS = load_business(REPO / "prompts", "example")
# Questions the profile can't answer, on which the 135M model makes up numbers (prices, hours, a fax).
TEMPTING = ["How much is a root canal?", "What's your fax number?", "What time do you close on Sundays?"]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m llama_cpp.server` on the embedded SmolLM2 GGUF, on a free port; its /v1 URL."""
    port = unused_port()
    log = (tmp_path_factory.mktemp("llama") / "server.log").open("w")  # llama.cpp logs a lot: not a pipe
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "llama_cpp.server", "--model", str(embedded_gguf_path()),
            "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--n_threads", "2",
        ],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 90
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited {proc.returncode}: see {log.name}")
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def endpoint_settings(url: str) -> Settings:
    """Settings that send free replies to `url`, greedy so the model's words are repeatable."""
    return dataclasses.replace(Settings(), llm_base_url=url, llm_model="smollm2", llm_temperature=0.0)


def test_agent_chat_answers_the_profile_itself_and_the_rest_through_the_server(llama_server: str) -> None:
    """`agent chat` with LLM_BASE_URL: the closing time comes from the profile, the rest from the model,
    grounded and at phone length."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLM_")}
    env |= {"LLM_BASE_URL": llama_server, "LLM_MODEL": "smollm2", "LLM_TEMPERATURE": "0"}
    lines = ["What time do you close today?", "I just moved to the area.", *TEMPTING]
    proc = subprocess.run(
        [sys.executable, "-m", "agent", "chat", "--at", "2026-12-02T10:30"],
        input="\n".join(lines) + "\n", capture_output=True, text=True, env=env, cwd=REPO, timeout=180,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(out) == len(lines), proc.stdout
    assert out[0]["intent"] == "hours" and "5 PM" in out[0]["reply"], out[0]
    assert out[1]["intent"] == "chat" and out[1]["reply"], out[1]  # the model's own words
    for said in out[1:]:
        assert not ungrounded_claims(said["reply"], BUSINESS.system_prompt), said
        assert len(said["reply"].split()) <= MAX_REPLY_WORDS + len(FALLBACK.split()), said


async def test_what_the_model_invents_never_reaches_the_caller(llama_server: str) -> None:
    """Streamed from the real server, the model's made-up prices and hours are cut at the first such
    sentence; what the caller hears holds none of them."""
    client = OpenAI(base_url=llama_server, api_key="none")
    invented = 0
    for question in TEMPTING:
        gate, raw, heard = SentenceGate(BUSINESS.system_prompt), [], []
        stream = await asyncio.to_thread(
            client.chat.completions.create,
            model="smollm2",
            messages=[
                {"role": "system", "content": BUSINESS.system_prompt},
                {"role": "user", "content": question},
            ],
            max_tokens=80,
            temperature=0,
            stream=True,
        )
        for chunk in stream:
            piece = chunk.choices[0].delta.content or "" if chunk.choices else ""
            raw.append(piece)
            heard += gate.feed(piece)
        heard += gate.finish()
        said = "".join(heard)
        if ungrounded_claims("".join(raw), BUSINESS.system_prompt):
            invented += 1
            assert FALLBACK in said, (question, "".join(raw), said)
        assert not ungrounded_claims(said, BUSINESS.system_prompt), (question, said)
    assert invented >= 2, "the model made nothing up: pick questions it invents answers to"


async def cut_proxy(upstream_port: int, cut_after: int) -> AsyncIterator[int]:
    """A TCP proxy to the server that drops each connection after `cut_after` bytes of its response."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream_port)

        async def to_server() -> None:
            while data := await reader.read(65536):
                up_writer.write(data)
                await up_writer.drain()

        forward = asyncio.create_task(to_server())
        sent = 0
        while sent < cut_after and (data := await up_reader.read(256)):
            writer.write(data)
            await writer.drain()
            sent += len(data)
        forward.cancel()
        writer.transport.abort()
        up_writer.transport.abort()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


async def test_a_reply_cut_off_mid_stream_ends_with_an_apology(llama_server: str) -> None:
    """The connection to the model dropping mid-reply: the sentences already said stand, then an
    honest way on (a message or a person) instead of an error."""
    upstream = int(llama_server.rsplit(":", 1)[1].split("/")[0])
    proxy = cut_proxy(upstream, cut_after=1500)  # the headers and a few tokens
    port = await anext(proxy)
    try:
        replier = model_replier(endpoint_settings(f"http://127.0.0.1:{port}/v1"), BUSINESS)
        history = [{"role": "user", "content": "I just moved to the area."}]
        said = await asyncio.to_thread(replier, history)
    finally:
        await proxy.aclose()
    assert said.endswith(LOST_REPLY), said
    whole = await asyncio.to_thread(model_replier(endpoint_settings(llama_server), BUSINESS), history)
    assert not whole.endswith(LOST_REPLY) and len(whole) > len(said) - len(LOST_REPLY), whole
