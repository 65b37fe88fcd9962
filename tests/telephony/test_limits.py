"""A media-stream connection's message budget: Twilio's rate passes, a flood is skipped, then closed;
skipped messages are logged without flooding the log."""

from __future__ import annotations

from structlog.testing import capture_logs

from agent.telephony.limits import MessageBudget, SkipLog


def test_twilios_own_rate_always_passes() -> None:
    """50 media messages a second plus marks, for ten minutes, are never skipped."""
    budget = MessageBudget()
    assert all(budget.take(i / 60) for i in range(60 * 600))
    assert budget.skipped == 0 and not budget.flooding


def test_a_flood_is_skipped_and_then_called_a_flood() -> None:
    """Thousands of messages in a moment: the burst passes, the rest are skipped, and it is a flood."""
    budget = MessageBudget()
    passed = sum(budget.take(1.0 + i * 1e-6) for i in range(5000))
    assert passed < budget.burst + 5
    assert budget.skipped >= budget.flood_after and budget.flooding


def test_a_burst_after_a_stall_passes_and_calm_resets_the_count() -> None:
    """A second of messages held up by the network arrives at once and passes; calm forgets the skips."""
    budget = MessageBudget()
    assert all(budget.take(0.0) for _ in range(60))
    budget.take(0.001)
    for _ in range(int(budget.burst)):
        budget.take(0.002)
    assert budget.skipped > 0
    assert budget.take(100.0) and budget.skipped == 0


def test_a_connection_sending_junk_logs_a_few_skips_then_every_hundredth_then_the_total() -> None:
    """1,000 skipped messages write 10 + 10 lines and a total, not 1,000 lines."""
    with capture_logs() as logs:
        skipped = SkipLog()
        for _ in range(1000):
            skipped.note("malformed JSON")
        skipped.close()
    lines = [e for e in logs if e["event"] == "message_skipped"]
    assert len(lines) == SkipLog.FIRST + 10
    assert [e["skipped"] for e in lines[-2:]] == [900, 1000]
    assert [e["total"] for e in logs if e["event"] == "messages_skipped"] == [1000]
