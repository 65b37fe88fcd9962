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

    def test_a_value_outside_what_a_setting_takes_names_the_variable_and_what_it_takes(self) -> None:
        """Choices, ranges and URL schemes are checked at start, from the environment and the TOML file."""
        cases = {
            "LOG_LEVEL": ("verbose", "not one of debug, info, warning, error, critical"),
            "WHISPER_COMPUTE_TYPE": ("int4", "not one of default, auto, int8,"),
            "PORT": ("70000", "out of range; it takes from 1 to 65535"),
            "MAX_CALLS": ("-1", "out of range; it takes 0 or more"),
            "LLM_TEMPERATURE": ("2.5", "from 0 to 2"),
            "LLM_BASE_URL": ("localhost:8000/v1", "must start with http:// or https://"),
        }
        for name, (value, message) in cases.items():
            with pytest.raises(ConfigError) as caught:
                load_settings({name: value, "TWILIO_AUTH_TOKEN": "t"})
            assert str(caught.value).startswith(f"{name}: ") and message in str(caught.value), caught.value
        assert load_settings({"LOG_LEVEL": "debug", "PORT": "65535", "TWILIO_AUTH_TOKEN": "t"}).port == 65535

    def test_toml_values_are_checked_as_the_environment_is(self, tmp_path: Path) -> None:
        """A TOML file's out-of-range number is the same error as the variable's."""
        toml = tmp_path / "agent.toml"
        toml.write_text("xtts_replicas = 0\n")
        with pytest.raises(ConfigError, match="XTTS_REPLICAS: 0 is out of range; it takes 1 or more"):
            load_settings({"AGENT_CONFIG": str(toml), "TWILIO_AUTH_TOKEN": "t"})

    def test_a_secret_setting_with_a_bad_value_is_not_echoed_in_the_error(self) -> None:
        """DATABASE_URL holds a password: the error says what it must start with, not what it was."""
        with pytest.raises(ConfigError) as caught:
            load_settings({"DATABASE_URL": "mysql://app:hunter2@db/calls", "TWILIO_AUTH_TOKEN": "t"})
        assert "DATABASE_URL" in str(caught.value) and "sqlite or postgres" in str(caught.value)
        assert "hunter2" not in str(caught.value)

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
