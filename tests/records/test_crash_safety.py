"""`kill -9` of a real server mid-call loses no finished turn: on restart the call is closed as interrupted,
with its turns and its recording up to the crash."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import threading
import time
import wave
from pathlib import Path

from agent.records.recorder import SETTLE_S, SPILL_EVERY_S
from agent.simulate import place_call
from agent.voice.piper import load_piper, write_wav
from benchmarks.server_process import agent_serve
from benchmarks.soak import brief_prompts


def caller_lines(tmp_path: Path) -> list[str]:
    """A caller with three questions, so the call is still going when the server dies."""
    piper = load_piper("embedded")
    lines = ["What time do you open on Saturday?", "Where are you located?", "Is parking available?"]
    return [str(write_wav(piper, line, tmp_path / f"q{i}.wav")) for i, line in enumerate(lines)]


def stored(db: Path) -> tuple[list[tuple[str, str, float]], tuple[str | None, str | None]]:
    """The one call's turns (speaker, text, end) and its (outcome, recording), read as a stranger would."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as con:
        turns = con.execute("SELECT speaker, text, end_s FROM turns ORDER BY seq").fetchall()
        row = con.execute("SELECT outcome, recording FROM calls").fetchone()
    return turns, (row[0], row[1]) if row else (None, None)


def test_a_server_killed_mid_call_keeps_the_calls_turns_and_audio(tmp_path: Path) -> None:
    """After the agent has answered once, SIGKILL the server; the next start closes the call as interrupted
    with every turn stored before the kill and a playable recording that reaches within a few seconds of
    the last one."""
    wavs = caller_lines(tmp_path)
    db = tmp_path / "data" / "calls.db"
    env = {"PROMPTS_DIR": str(brief_prompts(tmp_path))}  # a greeting of a few words

    with agent_serve(tmp_path, env) as served:

        def call() -> None:
            with contextlib.suppress(Exception):  # the server vanishes under it
                asyncio.run(place_call(served.url, served.token, wavs, hold_s=30))

        caller = threading.Thread(target=call, daemon=True)
        caller.start()
        deadline = time.monotonic() + 90
        before: list[tuple[str, str, float]] = []
        while time.monotonic() < deadline:
            time.sleep(0.25)
            if db.exists():
                before = stored(db)[0]
                if [s for s, _, _ in before].count("agent") >= 2 and "caller" in {s for s, _, _ in before}:
                    break
        time.sleep(SETTLE_S + SPILL_EVERY_S + 0.5)  # let the recording reach the answer's end
        before = stored(db)[0]
        os.kill(served.process.pid, signal.SIGKILL)
        served.process.wait(timeout=10)
        caller.join(timeout=60)
    speakers = [s for s, _, _ in before]
    assert speakers.count("agent") >= 2 and "caller" in speakers, before
    assert stored(db)[1][0] is None, "the call was closed before the kill"

    with agent_serve(tmp_path, env) as served:
        turns, (outcome, recording) = stored(db)
    assert outcome == "interrupted"
    assert turns[: len(before)] == before
    assert recording is not None
    with wave.open(str(tmp_path / "data" / "recordings" / recording), "rb") as wav:
        assert (wav.getnchannels(), wav.getframerate()) == (2, 8000)
        seconds = wav.getnframes() / 8000
    last_end = max(end for _, _, end in before)
    assert seconds >= last_end - SETTLE_S - SPILL_EVERY_S, (seconds, before)
    assert "Traceback" not in served.log.read_text()
