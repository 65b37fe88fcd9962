"""CI: `.ci/run` requires PostgreSQL and Chromium, so their tests fail with the reason instead of skipping."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, unavailable

PG_CASE = "tests/records/test_db.py::TestUpgrade::test_upgrade_creates_every_table_at_the_head_revision"
BROWSER_CASE = (
    "tests/console/test_browser.py::test_an_operator_finds_a_simulated_call_hears_it_and_handles_its_message"
)
AS_ROOT = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("runuser"), reason="needs root")


def pytest_run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    """Run pytest on this checkout in a child process with `env` over a clean copy of ours."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("REQUIRE_", "TEST_POSTGRES"))}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=REPO,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_ci_run_requires_postgres_and_the_browser_and_runs_make_test() -> None:
    """`.ci/run` exports REQUIRE_POSTGRES=1 and REQUIRE_BROWSER=1, then runs `make test`."""
    lines = (REPO / ".ci/run").read_text().splitlines()
    assert "export REQUIRE_POSTGRES=1 REQUIRE_BROWSER=1" in lines
    assert lines.index("export REQUIRE_POSTGRES=1 REQUIRE_BROWSER=1") < lines.index("make test")


class TestUnavailable:
    def test_skips_when_the_requirement_is_not_set(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without the requirement in the environment a missing dependency skips the test."""
        monkeypatch.delenv("REQUIRE_THING", raising=False)
        with pytest.raises(pytest.skip.Exception, match="no thing"):
            unavailable("no thing", "REQUIRE_THING")

    def test_fails_with_the_reason_when_the_requirement_is_set(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """With the requirement set the test fails, naming the reason and the variable."""
        monkeypatch.setenv("REQUIRE_THING", "1")
        with pytest.raises(pytest.fail.Exception, match=r"no thing \(REQUIRE_THING is set\)"):
            unavailable("no thing", "REQUIRE_THING")


class TestPostgresRequired:
    def test_postgres_cases_skip_locally_without_a_server(self) -> None:
        """With no TEST_POSTGRES_URL and no REQUIRE_POSTGRES the PostgreSQL case is skipped."""
        proc = pytest_run([f"{PG_CASE}[postgresql]", "-rs"], TEST_POSTGRES_URL="")
        assert proc.returncode == 0 and "1 skipped" in proc.stdout, proc.stdout + proc.stderr

    def test_postgres_cases_fail_with_the_reason_when_required(self) -> None:
        """Under REQUIRE_POSTGRES=1 a missing server fails the case and says why."""
        proc = pytest_run([f"{PG_CASE}[postgresql]"], TEST_POSTGRES_URL="", REQUIRE_POSTGRES="1")
        assert proc.returncode == 1 and "1 error" in proc.stdout, proc.stdout + proc.stderr
        assert "PostgreSQL is not available" in proc.stdout and "REQUIRE_POSTGRES is set" in proc.stdout

    @AS_ROOT
    def test_the_postgres_script_says_why_on_stderr_and_exits_1_when_required(self) -> None:
        """`.ci/postgres` run by a user who cannot start a server prints no URL, the reason on stderr."""
        for required, code in (("", 0), ("1", 1)):
            env = {"PATH": os.environ["PATH"], "REQUIRE_POSTGRES": required}
            proc = subprocess.run(
                ["runuser", "-u", "nobody", "--", "bash", str(REPO / ".ci/postgres")],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert (proc.returncode, proc.stdout) == (code, ""), proc.stderr
            assert "postgres: not root" in proc.stderr
            assert ("REQUIRE_POSTGRES is set" in proc.stderr) == bool(required)


class TestBrowserRequired:
    def no_browser_path(self, tmp_path: Path) -> str:
        """A PATH with make and a shell but no chromium or apt-get."""
        for name in ("make", "sh", "bash", "id"):
            found = shutil.which(name)
            if found is None:
                pytest.skip(f"{name} is not installed")
            (tmp_path / name).symlink_to(found)
        return str(tmp_path)

    def test_the_browser_test_skips_locally_without_chromium(self, tmp_path: Path) -> None:
        """Without chromium on PATH and without REQUIRE_BROWSER the browser test is skipped."""
        proc = pytest_run([BROWSER_CASE], PATH=self.no_browser_path(tmp_path))
        assert proc.returncode == 0 and "1 skipped" in proc.stdout, proc.stdout + proc.stderr

    def test_the_browser_test_fails_with_the_reason_when_required(self, tmp_path: Path) -> None:
        """Under REQUIRE_BROWSER=1 a missing Chromium fails the test (before loading models) and says why."""
        path = self.no_browser_path(tmp_path)
        proc = pytest_run([BROWSER_CASE], PATH=path, REQUIRE_BROWSER="1")
        assert proc.returncode == 1 and "1 error" in proc.stdout, proc.stdout + proc.stderr
        assert "headless Chromium is missing" in proc.stdout and "REQUIRE_BROWSER is set" in proc.stdout

    def test_make_chromium_fails_when_required_and_the_browser_cannot_be_had(self, tmp_path: Path) -> None:
        """`make chromium` warns and succeeds locally, but fails under REQUIRE_BROWSER=1."""
        path = self.no_browser_path(tmp_path)
        for required, code in (("", 0), ("1", 2)):
            proc = subprocess.run(
                ["make", "-s", "chromium"],
                cwd=REPO,
                env={"PATH": path, "REQUIRE_BROWSER": required},
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert proc.returncode == code, proc.stdout + proc.stderr
            assert "chromium is not installed" in proc.stderr
            assert ("REQUIRE_BROWSER is set" in proc.stderr) == bool(required)
