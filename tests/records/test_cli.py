"""`agent calls list | show | export | retention` against a real database."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path

import pytest

from agent.cli import main
from agent.records.db import open_database
from tests.records.helpers import seed_call

SID = "CA" + "1" * 32


def seeded(db_url: str, **kwargs: object) -> None:
    async def go() -> None:
        db = open_database(db_url)
        await db.upgrade()
        await seed_call(db, SID, **kwargs)  # type: ignore[arg-type]
        await db.dispose()

    asyncio.run(go())


@pytest.fixture
def env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "test-token")
    return db_url


class TestCallsCli:
    def test_list_shows_each_call_with_its_outcome_and_a_masked_number(
        self, env: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """One line per call: its sid, business, outcome and turns; the caller's number masked."""
        seeded(env)
        assert main(["calls", "list"]) == 0
        out = capsys.readouterr().out
        assert SID in out and "completed" in out and "2 turns" in out
        assert "+15550100001" not in out and "***01" in out

    def test_show_prints_the_transcript_heard_text_latency_and_events(
        self, env: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The transcript with offsets, what the caller heard of a cut reply, the latency split and events."""
        seeded(env)
        assert main(["calls", "show", SID]) == 0
        out = capsys.readouterr().out
        assert "caller: What time do you open on Saturday?" in out
        assert "agent: On Saturday we're open from nine to one. (interrupted)" in out
        assert "heard: On Saturday we're open" in out
        assert "end_of_turn 210" in out and "voice_to_voice 640" in out
        assert "barge_in" in out

    def test_show_gives_the_local_operator_the_recording_file_and_its_console_url(
        self, env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`calls show` runs on the server: it prints the file under RECORDINGS_DIR and the console URL."""
        seeded(env, recording="2026/11/01/CA1111.wav")
        assert main(["calls", "show", SID]) == 0
        out = capsys.readouterr().out
        path = tmp_path / "data" / "recordings" / "2026/11/01/CA1111.wav"
        assert f"recording {path} (console: http://127.0.0.1:8080/console/recordings/" in out

    def test_show_of_an_unknown_call_fails(self, env: str, capsys: pytest.CaptureFixture[str]) -> None:
        """An unknown CallSid exits 1 with a message."""
        assert main(["calls", "show", "CAnope"]) == 1
        assert "no call CAnope" in capsys.readouterr().err

    def test_export_json_holds_calls_with_turns_and_events(
        self, env: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """JSON export: a list of calls, each with its turns (partials included) and events."""
        seeded(env)
        assert main(["calls", "export", "--format", "json"]) == 0
        (call,) = json.loads(capsys.readouterr().out)
        assert call["call_sid"] == SID and call["outcome"] == "completed"
        assert [t["speaker"] for t in call["turns"]] == ["caller", "agent"]
        assert call["turns"][0]["partials"][0]["text"] == "What time"
        assert call["events"][0]["kind"] == "barge_in"
        assert (call["has_recording"], call["recording_url"]) == (False, None) and "recording" not in call

    def test_export_links_a_recording_by_its_console_url_not_its_file(
        self, env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """JSON and CSV exports carry `has_recording` and the console URL, not the recording's file name."""
        monkeypatch.setenv("PUBLIC_BASE_URL", "https://agent.example.com")
        seeded(env, recording="2026/11/01/CA1111.wav")
        for fmt in ("json", "csv"):
            out = tmp_path / f"calls.{fmt}"
            assert main(["calls", "export", "--format", fmt, "--out", str(out)]) == 0
            text = out.read_text()
            assert "CA1111.wav" not in text and "2026/11/01" not in text, fmt
            assert "https://agent.example.com/console/recordings/" in text, fmt
        (row,) = list(csv.DictReader(io.StringIO((tmp_path / "calls.csv").read_text())))
        assert row["has_recording"] == "True" and "recording" not in row

    def test_export_csv_has_one_row_per_call_with_its_transcript(self, env: str, tmp_path: Path) -> None:
        """CSV export to a file: a header and one row per call, the transcript as heard."""
        seeded(env)
        out = tmp_path / "calls.csv"
        assert main(["calls", "export", "--format", "csv", "--out", str(out)]) == 0
        (row,) = list(csv.DictReader(io.StringIO(out.read_text())))
        assert row["call_sid"] == SID and row["turns"] == "2"
        assert row["transcript"].endswith("agent: On Saturday we're open")

    def test_retention_deletes_old_calls(self, env: str, capsys: pytest.CaptureFixture[str]) -> None:
        """`calls retention --days 1` deletes a call from weeks ago."""
        seeded(env)
        assert main(["calls", "retention", "--days", "1"]) == 0
        assert "deleted 1 calls" in capsys.readouterr().out
        assert main(["calls", "list"]) == 0
        assert "no calls" in capsys.readouterr().out
