"""`agent chat`: caller lines in, one JSON line out each, in a separate process as an operator runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

AGENT = [sys.executable, "-m", "agent"]


def chat(lines: list[str], *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLM_")}
    return subprocess.run(
        [*AGENT, "chat", *args], input="\n".join(lines) + "\n", capture_output=True, text=True,
        env=env, cwd=cwd, timeout=120,
    )  # fmt: skip


def test_chat_answers_keys_and_a_whole_message_as_json_lines() -> None:
    """Each caller line gets {reply, intent, action}; '#1' presses 1; a message ends in its action."""
    proc = chat(
        [
            "hi, are you guys open saturday morning?",
            "#1",
            "A message, please.",
            "Jane Doe",
            "207 555 0143",
            "yes",
            "please call me about my crown",
            "no",
            "nope, that's all, bye",
        ],
        "--business", "example", "--at", "2026-12-02T10:30",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) == 9 and all(set(r) == {"reply", "intent", "action"} for r in rows)
    assert rows[0]["intent"] == "hours" and "9 AM to 1 PM" in rows[0]["reply"]
    assert "open right now, until 5 PM" in rows[1]["reply"]  # key 1 says the hours, at the --at time
    assert rows[7]["action"] == {
        "type": "message",
        "caller_name": "Jane Doe",
        "callback_number": "2075550143",
        "recipient": "Maria Lopez",
        "urgent": False,
        "text": "please call me about my crown",
    }
    assert rows[8]["action"] == {"type": "end_call"}


def test_chat_reads_another_prompts_folder_and_transfers(tmp_path: Path) -> None:
    """--prompts points at another folder; a transfer is an action naming the staff member."""
    (tmp_path / "businesses").mkdir()
    (tmp_path / "persona.md").write_text((REPO / "prompts" / "persona.md").read_text())
    plumbing = (REPO / "prompts" / "businesses" / "plumbing.yaml").read_text()
    (tmp_path / "businesses" / "shop.yaml").write_text(plumbing)
    proc = chat(["can I talk to Dana about my invoice"], "--prompts", str(tmp_path), "--business", "shop")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["action"] == {"type": "transfer", "to": "Dana Wu"}


def test_chat_refuses_a_bad_time_or_profile_clearly() -> None:
    """A malformed --at and an unknown business exit 2 with the reason on stderr."""
    bad_time = chat(["hi"], "--at", "next tuesday")
    assert bad_time.returncode == 2 and "--at" in bad_time.stderr
    missing = chat(["hi"], "--business", "nowhere")
    assert missing.returncode == 2 and "nowhere.yaml" in missing.stderr
