"""One frozen settings tree, read from environment variables over an optional TOML file."""

from __future__ import annotations

import json
import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

EMBEDDED = "embedded"
DEV_ACCOUNT_SID = "AC" + "0" * 32


class ConfigError(ValueError):
    """A setting that is missing or has an invalid value."""


COMPUTE_TYPES = (
    "default", "auto", "int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16", "float16",
    "bfloat16", "float32",
)  # fmt: skip
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def _one_of(default: str, *choices: str) -> Any:
    """A text setting that takes one of `choices`."""
    return field(default=default, metadata={"choices": choices})


def _within(default: float, low: float, high: float | None = None) -> Any:
    """A number setting that must lie in [low, high] (no upper bound without `high`)."""
    return field(default=default, metadata={"low": low, "high": high})


def _url(default: str = "", *schemes: str) -> Any:
    """A URL setting, empty or starting with one of `schemes` (http and https unless given)."""
    return field(default=default, metadata={"schemes": schemes or ("http://", "https://")})


@dataclass(frozen=True)
class Settings:
    """Everything the server needs, passed down explicitly; secrets are kept out of repr."""

    host: str = "127.0.0.1"
    port: int = _within(8080, 1, 65535)
    public_base_url: str = _url("http://127.0.0.1:8080")
    twilio_account_sid: str = DEV_ACCOUNT_SID
    twilio_auth_token: str = field(default="", repr=False)
    auth_token_file: str | None = None
    data_dir: Path = Path(".agent")
    prompts_dir: Path = Path("prompts")
    business: str = "example"
    whisper_model: str = EMBEDDED
    whisper_detail_model: str = "embedded-base"
    whisper_compute_type: str = _one_of("int8", *COMPUTE_TYPES)
    whisper_threads: int = _within(2, 1)
    llm_base_url: str = _url()
    llm_model: str = ""
    llm_api_key: str = field(default="", repr=False)
    llm_model_path: str = EMBEDDED
    llm_threads: int = _within(2, 1)
    llm_max_tokens: int = _within(80, 1)
    llm_temperature: float = _within(0.2, 0, 2)  # a receptionist repeats the profile; it doesn't improvise
    understanding_model: str = "wordllama"  # the sentence encoder: wordllama, minilm, or a BERT folder
    tts_voice: str = EMBEDDED
    voices_dir: Path = Path("voices")
    voice_default: str = EMBEDDED  # a voice in voices_dir, or "embedded" (the stock Piper voice)
    voices_by_number: str = ""  # JSON {"+15550100": "acme"} (or a TOML table): the voice per called number
    xtts_model_dir: str = ""  # an XTTS-v2 checkpoint directory; empty: cloned voices fall back to Piper
    xtts_replicas: int = _within(1, 1)
    xtts_workers: str = _one_of("process", "process", "thread")  # each replica in a process, or a thread
    vad_start_secs: float = _within(0.2, 0, 5)
    vad_stop_secs: float = _within(0.2, 0, 5)
    echo_margin_db: float = 10.0
    incomplete_turn_secs: float = _within(1.0, 0, 10)
    understood_turn_secs: float = _within(
        0.25, 0, 10
    )  # ...unless the words are a whole request (INCOMPLETE_TURN_SECS: off)
    token_ttl_seconds: float = _within(60.0, 1)
    stream_idle_secs: float = _within(
        10.0, 1
    )  # Twilio sends media every 20 ms: a stream silent this long is dropped
    twilio_api_base_url: str = _url()
    twilio_stop_grace_secs: float = _within(5.0, 0)
    max_calls: int = _within(0, 0)  # 0: from `agent calibrate` (DATA_DIR/capacity.json), else 4
    drain_deadline_secs: float = _within(960.0, 0)
    fallback_number: str = ""
    busy_message: str = "Sorry, all our lines are busy right now. Please call back in a few minutes."
    otel_exporter_otlp_endpoint: str = _url()
    otel_service_name: str = "phone-agent"
    pod_name: str = ""
    pod_namespace: str = ""
    kube_api_url: str = _url("https://kubernetes.default.svc")
    kube_token_file: Path = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
    kube_ca_file: Path = Path("/var/run/secrets/kubernetes.io/serviceaccount/ca.crt")
    log_level: str = _one_of("info", *LOG_LEVELS)
    database_url: str = field(  # empty: an SQLite file under data_dir
        default="", repr=False, metadata={"schemes": ("sqlite", "postgres")}
    )
    database_password: str = field(default="", repr=False)  # for a DATABASE_URL without one
    recordings_dir: str = ""  # empty: data_dir/recordings (with STORAGE_URL: where live calls spool)
    storage_url: str = _url("", "s3://")  # empty: recordings stay in recordings_dir; s3://bucket/prefix
    s3_endpoint_url: str = _url()  # an S3-compatible server other than AWS (MinIO, Ceph, R2)
    retention_days: int = _within(90, 0)  # 0 keeps calls forever
    post_call_webhook_url: str = _url()
    post_call_webhook_secret: str = field(default="", repr=False)
    metrics_token: str = field(default="", repr=False)  # empty: /metrics is off (404)

    @property
    def tracing(self) -> bool:
        """Whether spans are exported (OTEL_EXPORTER_OTLP_ENDPOINT is set)."""
        return bool(self.otel_exporter_otlp_endpoint)

    @property
    def db_url(self) -> str:
        """The call log's database URL: DATABASE_URL, else an SQLite file under the data directory."""
        return self.database_url or f"sqlite+aiosqlite:///{(self.data_dir / 'calls.db').resolve()}"

    @property
    def recordings_path(self) -> Path:
        """Where call recordings are written."""
        return Path(self.recordings_dir) if self.recordings_dir else self.data_dir / "recordings"

    @property
    def voice_map(self) -> dict[str, str]:
        """VOICES_BY_NUMBER parsed: called number → voice name."""
        try:
            mapping = json.loads(self.voices_by_number or "{}")
        except json.JSONDecodeError as exc:
            raise ConfigError(f"VOICES_BY_NUMBER is not JSON: {exc}") from exc
        if not isinstance(mapping, dict):
            raise ConfigError("VOICES_BY_NUMBER must map called numbers to voice names")
        return {str(k): str(v) for k, v in mapping.items()}

    def voice_for(self, called: str) -> str:
        """The voice a call to `called` speaks in (VOICE_DEFAULT unless VOICES_BY_NUMBER names one)."""
        return self.voice_map.get(called, self.voice_default)

    @property
    def uses_endpoint(self) -> bool:
        """Whether replies come from an OpenAI-compatible endpoint rather than the embedded model."""
        return bool(self.llm_base_url)


_ENV_NAMES = {f.name: f.name.upper() for f in fields(Settings)}


def _coerce(name: str, raw: Any) -> Any:
    kind = {f.name: f.type for f in fields(Settings)}[name]
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "Path":
            return Path(str(raw))
        if isinstance(raw, dict):  # a TOML table kept as JSON (VOICES_BY_NUMBER)
            return json.dumps(raw)
    except ValueError as exc:
        raise ConfigError(f"{_ENV_NAMES[name]}: {raw!r} is not a valid {kind}") from exc
    return str(raw)


def _check(name: str, value: Any) -> None:
    """Raise ConfigError naming the variable and what it accepts if `value` is outside a setting's range."""
    spec = {f.name: f for f in fields(Settings)}[name]
    meta, env_name = spec.metadata, _ENV_NAMES[name]
    shown = repr(value) if spec.repr else "the value"  # a secret's value stays out of the message
    if "choices" in meta and value not in meta["choices"]:
        raise ConfigError(f"{env_name}: {shown} is not one of {', '.join(meta['choices'])}")
    if "low" in meta:
        low, high = meta["low"], meta["high"]
        if value < low or (high is not None and value > high):
            accepted = f"from {low:g} to {high:g}" if high is not None else f"{low:g} or more"
            raise ConfigError(f"{env_name}: {shown} is out of range; it takes {accepted}")
    if "schemes" in meta and value and not value.startswith(meta["schemes"]):
        raise ConfigError(f"{env_name}: {shown} must start with {' or '.join(meta['schemes'])}")


def _empty(name: str) -> str:
    """An empty value for a text setting; a number or a path has none, so that is an error naming it."""
    kind = {f.name: f.type for f in fields(Settings)}[name]
    if kind in ("int", "float", "Path"):
        raise ConfigError(f"{_ENV_NAMES[name]} is set but empty: give it a {kind} value, or unset it")
    return ""


def dev_auth_token(data_dir: Path) -> tuple[str, Path]:
    """Return the local development auth token, creating it (mode 600) on first use, and its path."""
    path = data_dir / "dev-auth-token"
    if path.exists():
        return path.read_text().strip(), path
    data_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(16)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    return token, path


def load_settings(env: Mapping[str, str] | None = None, toml_path: str | Path | None = None) -> Settings:
    """Build settings from a TOML file (AGENT_CONFIG) overlaid by environment variables."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    toml_file = toml_path or env.get("AGENT_CONFIG")
    if toml_file:
        try:
            data = tomllib.loads(Path(toml_file).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {toml_file}: {exc}") from exc
        for key, value in data.items():
            if key not in _ENV_NAMES:
                raise ConfigError(f"{toml_file}: unknown setting {key!r}")
            values[key] = _coerce(key, value)
    for name, env_name in _ENV_NAMES.items():
        if env.get(env_name):
            values[name] = _coerce(name, env[env_name])
        elif env.get(f"{env_name}_FILE"):  # secrets mounted as files (Docker/Kubernetes secrets)
            try:
                values[name] = _coerce(name, Path(env[f"{env_name}_FILE"]).read_text().strip())
            except OSError as exc:
                raise ConfigError(f"{env_name}_FILE: cannot read {exc.filename}") from exc
        elif env_name in env:  # set and empty: empty, not the default (WHISPER_DETAIL_MODEL= turns it off)
            values[name] = _empty(name)
    for name, value in values.items():
        _check(name, value)
    settings = Settings(**values)
    settings.voice_map  # noqa: B018 - fail at startup on a malformed VOICES_BY_NUMBER
    if settings.post_call_webhook_url and not settings.post_call_webhook_secret:
        raise ConfigError("POST_CALL_WEBHOOK_SECRET is required to sign what POST_CALL_WEBHOOK_URL receives")
    if not settings.twilio_auth_token:
        token, path = dev_auth_token(settings.data_dir)
        settings = Settings(
            **{**_as_dict(settings), "twilio_auth_token": token, "auth_token_file": str(path)}
        )
    return settings


def _as_dict(settings: Settings) -> dict[str, Any]:
    return {f.name: getattr(settings, f.name) for f in fields(Settings)}
