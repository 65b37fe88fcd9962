"""Settings from environment variables over a TOML file, and the local development auth token."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import ConfigError, load_settings


class TestLoadSettings:
    def test_environment_overrides_toml(self, tmp_path: Path) -> None:
        """A TOML file sets values; environment variables override them, with types coerced."""
        toml = tmp_path / "agent.toml"
        toml.write_text('port = 9000\nhost = "0.0.0.0"\nvad_stop_secs = 0.3\n')
        s = load_settings(
            {"AGENT_CONFIG": str(toml), "PORT": "9100", "TWILIO_AUTH_TOKEN": "t", "DATA_DIR": str(tmp_path)}
        )
        assert (s.port, s.host, s.vad_stop_secs) == (9100, "0.0.0.0", 0.3)

    def test_unknown_toml_key_is_an_error(self, tmp_path: Path) -> None:
        """A misspelt setting in the file is reported with the file name and key."""
        toml = tmp_path / "agent.toml"
        toml.write_text("prot = 1\n")
        with pytest.raises(ConfigError, match="unknown setting 'prot'"):
            load_settings({"AGENT_CONFIG": str(toml)})

    def test_bad_values_are_reported_by_variable_name(self) -> None:
        """A non-numeric PORT or a base URL without a scheme is a clear error."""
        with pytest.raises(ConfigError, match="PORT"):
            load_settings({"PORT": "eighty", "TWILIO_AUTH_TOKEN": "t"})
        with pytest.raises(ConfigError, match="PUBLIC_BASE_URL"):
            load_settings({"PUBLIC_BASE_URL": "example.com", "TWILIO_AUTH_TOKEN": "t"})

    def test_an_empty_variable_means_empty_not_the_default(self, tmp_path: Path) -> None:
        """WHISPER_DETAIL_MODEL= turns the detail model off (its default is embedded-base), even over the
        TOML file; an empty number is an error naming the variable."""
        toml = tmp_path / "agent.toml"
        toml.write_text('whisper_detail_model = "embedded-base"\n')
        env = {"AGENT_CONFIG": str(toml), "TWILIO_AUTH_TOKEN": "t", "DATA_DIR": str(tmp_path)}
        assert load_settings(env).whisper_detail_model == "embedded-base"
        assert load_settings({**env, "WHISPER_DETAIL_MODEL": ""}).whisper_detail_model == ""
        with pytest.raises(ConfigError, match="MAX_CALLS is set but empty"):
            load_settings({**env, "MAX_CALLS": ""})

    def test_dev_auth_token_is_created_once_private_and_reused(self, tmp_path: Path) -> None:
        """Without TWILIO_AUTH_TOKEN a random token is stored (mode 600) and reused next time."""
        first = load_settings({"DATA_DIR": str(tmp_path)})
        second = load_settings({"DATA_DIR": str(tmp_path)})
        path = Path(str(first.auth_token_file))
        assert path.stat().st_mode & 0o777 == 0o600
        assert len(first.twilio_auth_token) == 32
        assert first.twilio_auth_token == second.twilio_auth_token

    def test_configured_token_is_used_and_never_in_repr(self, tmp_path: Path) -> None:
        """A configured auth token wins over the dev file and never appears in repr()."""
        s = load_settings(
            {"TWILIO_AUTH_TOKEN": "supersecret", "LLM_API_KEY": "sk-abc", "DATA_DIR": str(tmp_path)}
        )
        assert s.twilio_auth_token == "supersecret" and s.auth_token_file is None
        assert "supersecret" not in repr(s) and "sk-abc" not in repr(s)

    def test_metrics_token_comes_from_a_file_and_stays_out_of_repr(self, tmp_path: Path) -> None:
        """METRICS_TOKEN_FILE is read like every secret, and the token never appears in repr()."""
        (tmp_path / "metrics-token").write_text("scrape-me-123\n")
        env = {"METRICS_TOKEN_FILE": str(tmp_path / "metrics-token"), "DATA_DIR": str(tmp_path)}
        s = load_settings(env)
        assert s.metrics_token == "scrape-me-123" and "scrape-me-123" not in repr(s)
