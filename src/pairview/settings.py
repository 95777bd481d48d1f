"""Settings for the server and the host app.

Every value comes from, in order of precedence: a command-line flag, an
environment variable (`PAIRVIEW_*` for the server, `PAIRVIEW_SHARE_*` for
the host app), a TOML file (tables `[server]` and `[share]`), or the
default. Values are validated at start-up and a bad one is reported with
the name a user can act on.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from pairview.errors import ConfigError

_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_BITRATE_UNITS = {"": 1, "k": 1_000, "m": 1_000_000}


def parse_duration(value: object) -> float:
    """Parse seconds given as a number or as text such as "90s", "15m", "24h" or "7d"."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 30s, 15m or 24h, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", value.lower())
        if match is None:
            raise ValueError(f"expected a duration such as 30s, 15m or 24h, got {value!r}")
        seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2) or "s"]
    else:
        raise ValueError(f"expected a duration such as 30s, 15m or 24h, got {value!r}")
    if seconds <= 0:
        raise ValueError(f"expected a positive duration, got {value!r}")
    return seconds


def parse_bitrate(value: object) -> int:
    """Parse bits per second given as a number or as text such as "2500k" or "8M"."""
    if isinstance(value, bool):
        raise ValueError(f"expected a bitrate such as 2500k or 8M, got {value!r}")
    if isinstance(value, int):
        bits = value
    elif isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([km]?)(?:bit/s|bps)?\s*", value.lower())
        if match is None:
            raise ValueError(f"expected a bitrate such as 2500k or 8M, got {value!r}")
        bits = int(float(match.group(1)) * _BITRATE_UNITS[match.group(2)])
    else:
        raise ValueError(f"expected a bitrate such as 2500k or 8M, got {value!r}")
    if bits <= 0:
        raise ValueError(f"expected a positive bitrate, got {value!r}")
    return bits


# The OWASP minimum for Argon2id: 19 MiB of memory, 2 iterations, 1 lane.
ARGON2_MIN_MEMORY_KIB = 19456
ARGON2_MIN_ITERATIONS = 2
ARGON2_MIN_PARALLELISM = 1


def parse_optional_port(value: object) -> object:
    """Read "off" (or "none", or an empty value) as no port at all."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("off", "none", "")):
        return None
    return value


_SIZE_UNITS = {
    "": 1,
    "k": 1000,
    "m": 1000**2,
    "g": 1000**3,
    "t": 1000**4,
    "ki": 1024,
    "mi": 1024**2,
    "gi": 1024**3,
    "ti": 1024**4,
}


def parse_size(value: object) -> int:
    """Parse bytes given as a number or as text such as "500M", "2G" or "1.5GiB"."""
    expected = f"expected a size such as 500M, 2G or 1GiB, got {value!r}"
    if isinstance(value, bool):
        raise ValueError(expected)
    if isinstance(value, int):
        size = value
    elif isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]i?)?b?\s*", value.lower())
        if match is None:
            raise ValueError(expected)
        size = int(float(match.group(1)) * _SIZE_UNITS[match.group(2) or ""])
    else:
        raise ValueError(expected)
    if size <= 0:
        raise ValueError(f"expected a positive size, got {value!r}")
    return size


Duration = Annotated[float, BeforeValidator(parse_duration)]
Size = Annotated[int, BeforeValidator(parse_size)]
Bitrate = Annotated[int, BeforeValidator(parse_bitrate)]
Port = Annotated[int, Field(ge=0, le=65535)]
OptionalPort = Annotated[Port | None, BeforeValidator(parse_optional_port)]
TurnTransport = Literal["udp", "tcp", "tls"]
TURN_TRANSPORTS: tuple[TurnTransport, ...] = ("udp", "tcp", "tls")

# TURN credentials stop working at their expiry, and coturn then refuses
# to refresh an allocation made with them; clients fetch fresh ones with a
# `refresh-ice` message. The cap bounds how long a leaked credential works.
MAX_TURN_CREDENTIAL_TTL = 24 * 3600


def default_data_dir() -> Path:
    """Return the per-user data directory, following the XDG base directory rules."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "pairview"


def default_config_dir() -> Path:
    """Return the per-user configuration directory, following the XDG rules."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "pairview"


def default_downloads_dir() -> Path:
    """Return the XDG download directory's Pairview folder, or ~/Downloads/Pairview."""
    home = Path.home()
    base = os.environ.get("XDG_DOWNLOAD_DIR") or _user_dirs_download(home)
    return Path(base or home / "Downloads") / "Pairview"


def _user_dirs_download(home: Path) -> str | None:
    """Read XDG_DOWNLOAD_DIR from user-dirs.dirs, as xdg-user-dirs writes it."""
    config = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / "user-dirs.dirs"
    try:
        text = config.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    for line in text.splitlines():
        match = re.fullmatch(r'\s*XDG_DOWNLOAD_DIR\s*=\s*"(.*)"\s*', line)
        if match:
            value = match.group(1).replace("$HOME", str(home))
            # xdg-user-dirs sets a directory to $HOME itself to disable it.
            return value if value and Path(value) != home else None
    return None


class IceServer(BaseModel):
    """One entry of an RTCConfiguration's iceServers list."""

    urls: list[str] = Field(min_length=1)
    username: str | None = None
    credential: SecretStr | None = None

    @field_validator("urls", mode="before")
    @classmethod
    def _one_url_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("urls")
    @classmethod
    def _stun_or_turn(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if not re.match(r"^(stun|stuns|turn|turns):", url):
                raise ValueError(f"expected a stun:, stuns:, turn: or turns: URL, got {url!r}")
        return urls


_config_file: ContextVar[Path | None] = ContextVar("pairview_config_file", default=None)


class _TomlTableSource(PydanticBaseSettingsSource):
    """Reads one table of the TOML configuration file, if a file was given."""

    def __init__(self, settings_cls: type[BaseSettings], table: str) -> None:
        super().__init__(settings_cls)
        self._values: dict[str, Any] = {}
        path = _config_file.get()
        if path is None:
            return
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise ConfigError(f"Cannot read configuration file {path}: {error.strerror}") from None
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"Invalid TOML in configuration file {path}: {error}") from None
        _check_tables(document, path)
        section = document.get(table, {})
        if not isinstance(section, dict):
            raise ConfigError(f"Configuration file {path}: [{table}] must be a table")
        unknown = [key for key in section if key not in settings_cls.model_fields]
        if unknown:
            lines = [_describe_unknown_key(settings_cls, key) for key in unknown]
            raise _unknown_error("key", lines, f"the [{table}] table of configuration file {path}")
        self._values = section

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._values)


def _check_tables(document: dict[str, Any], path: Path) -> None:
    """Raise ConfigError for a top-level key that is not one of the known tables."""
    tables = sorted(cls.toml_table for cls in (ServerSettings, ShareSettings))
    unknown = [key for key in document if key not in tables]
    if not unknown:
        return
    choices = " or ".join(f"[{table}]" for table in tables)
    lines = []
    for key in unknown:
        matches = difflib.get_close_matches(key, tables, n=1)
        hint = f"Did you mean [{matches[0]}]?" if matches else f"Settings go in {choices}."
        lines.append(f"{key!r} is not a table of Pairview's settings. {hint}")
    raise _unknown_error("table", lines, f"configuration file {path}")


def _unknown_error(kind: str, lines: list[str], place: str) -> ConfigError:
    """Build the error for unknown keys or tables in `place`, one explanation a line."""
    noun = kind if len(lines) == 1 else f"{kind}s"
    return ConfigError("\n".join([f"Unknown {noun} in {place}:", *(f"  {line}" for line in lines)]))


def _describe_unknown_key(settings_cls: type[BaseSettings], key: str) -> str:
    """Explain a key that the table does not have, naming the likely intended one."""
    # `pairview share` reads both tables, so a server key in [share] is a likely slip.
    for other in (ServerSettings, ShareSettings):
        if other is not settings_cls and key in other.model_fields:
            return f"{key!r} belongs in the [{other.toml_table}] table."
    known = sorted(settings_cls.model_fields)
    matches = difflib.get_close_matches(key, known, n=1)
    if matches:
        return f"{key!r} is not a setting. Did you mean {matches[0]!r}?"
    return f"{key!r} is not a setting. The known keys are: {', '.join(known)}."


class _Settings(BaseSettings):
    toml_table: ClassVar[str] = ""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlTableSource(settings_cls, cls.toml_table))


class ServerSettings(_Settings):
    """Settings of `pairview server`, and of the server that `pairview share` embeds."""

    model_config = SettingsConfigDict(env_prefix="PAIRVIEW_", extra="forbid")
    toml_table: ClassVar[str] = "server"

    data_dir: Path = Field(default_factory=default_data_dir)
    host: str = "127.0.0.1"
    port: Port = 8800
    tls_cert: Path | None = None
    tls_key: Path | None = None
    insecure_http: bool = False
    public_url: str | None = None
    allowed_origins: list[str] = Field(default_factory=list)
    ice_servers: list[IceServer] = Field(default_factory=list)
    database_url: str | None = None
    invite_ttl: Duration = 24 * 3600
    max_invite_ttl: Duration = 30 * 86400
    room_creation_token: SecretStr | None = None
    secret_key: SecretStr | None = None
    signaling_max_message_bytes: int = Field(default=64 * 1024, ge=1024, le=1024 * 1024)
    signaling_rate: float = Field(default=20.0, gt=0)
    signaling_burst: int = Field(default=200, ge=1)
    signaling_join_timeout: Duration = 10
    reconnect_grace: Duration = 20
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    stun_port: OptionalPort = 3478
    stun_host: str | None = None
    ice_host: str | None = None
    turn_secret: SecretStr | None = None
    turn_host: str | None = None
    turn_port: Port = 3478
    turn_tls_port: Port = 5349
    turn_transports: list[TurnTransport] = Field(
        default_factory=lambda: list(TURN_TRANSPORTS), min_length=1
    )
    turn_credential_ttl: Duration = 6 * 3600
    turn_realm: str = Field(default="pairview", min_length=1, max_length=127, pattern=r"^[!-~]+$")

    @field_validator("turn_credential_ttl")
    @classmethod
    def _capped_ttl(cls, value: float) -> float:
        if value > MAX_TURN_CREDENTIAL_TTL:
            raise ValueError(
                f"expected at most {MAX_TURN_CREDENTIAL_TTL // 3600} hours, got {value:g} seconds"
            )
        return value

    @field_validator("turn_secret")
    @classmethod
    def _strong_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("expected a TURN secret of at least 16 characters")
        return value

    @field_validator("stun_host", "ice_host", "turn_host")
    @classmethod
    def _host_name(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9.:\-\[\]]+", value):
            raise ValueError(f"expected a host name or IP address, got {value!r}")
        return value

    # Accounts: sign-in, contacts and invitations. When off, anyone who reaches
    # the server (or has room_creation_token, when set) may create rooms.
    accounts: bool = False
    session_ttl: Duration = 30 * 86400
    argon2_memory_kib: int = Field(default=65536, ge=ARGON2_MIN_MEMORY_KIB, le=4 * 1024 * 1024)
    argon2_iterations: int = Field(default=3, ge=ARGON2_MIN_ITERATIONS, le=100)
    argon2_parallelism: int = Field(default=4, ge=ARGON2_MIN_PARALLELISM, le=64)
    signin_failures_per_account: int = Field(default=5, ge=1, le=1000)
    signin_failures_per_address: int = Field(default=20, ge=1, le=10000)
    signin_throttle_window: Duration = 15 * 60
    mail_token_ttl: Duration = 24 * 3600
    invitation_ttl: Duration = 24 * 3600
    max_contacts: int = Field(default=1000, ge=1, le=100_000)
    smtp_host: str | None = None
    smtp_port: Port = 587
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    mail_from: str = "Pairview <pairview@localhost>"
    github_client_id: str | None = None
    github_client_secret: SecretStr | None = None
    github_url: str = "https://github.com"
    github_api_url: str = "https://api.github.com"
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    slack_url: str = "https://slack.com"
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_name: str = Field(default="single sign-on", min_length=1, max_length=64)

    # Usage statistics, the audit log, backups and metrics. Raw usage events
    # older than `usage_retention` are folded into daily counts and deleted.
    usage_retention: Duration = 90 * 86400
    audit_retention: Duration = 365 * 86400
    backup_dir: Path | None = None
    backup_retention: Duration = 15 * 86400
    metrics_token: SecretStr | None = None
    metrics_host: str = "127.0.0.1"
    metrics_port: OptionalPort = None
    admin_webhook_url: str | None = None
    admin_webhook_secret: SecretStr | None = None
    admin_webhook_timeout: Duration = 5
    admin_webhook_retries: int = Field(default=3, ge=0, le=10)

    @field_validator(
        "github_url", "github_api_url", "slack_url", "oidc_issuer", "admin_webhook_url"
    )
    @classmethod
    def _provider_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        # Plain http only to this machine, where no one can read the codes in transit.
        loopback = r"^http://(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?(/\S*)?$"
        if not re.match(r"^https://[^\s/]+(/\S*)?$", value) and not re.match(loopback, value):
            raise ValueError(f"expected an https:// URL, got {value!r}")
        return value.rstrip("/")

    @field_validator("usage_retention", "audit_retention")
    @classmethod
    def _whole_days(cls, value: float) -> float:
        # Events are folded into daily counts one whole UTC day at a time.
        if value < 86400:
            raise ValueError(f"expected at least 1 day, such as 90d, got {value:g} seconds")
        return value

    @field_validator("metrics_token")
    @classmethod
    def _strong_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("expected a metrics token of at least 16 characters")
        return value

    @field_validator("metrics_host")
    @classmethod
    def _metrics_host(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9.:\-\[\]]+", value):
            raise ValueError(f"expected a host name or IP address, got {value!r}")
        return value

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.match(r"^https?://[^/\s]+$", value.rstrip("/")):
            raise ValueError(f"expected an http:// or https:// URL with no path, got {value!r}")
        return value.rstrip("/")

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, values: list[str]) -> list[str]:
        for value in values:
            if not re.match(r"^https?://[^/\s]+$", value):
                raise ValueError(f"expected origins such as https://example.com, got {value!r}")
        return values

    @property
    def resolved_backup_dir(self) -> Path:
        """The backups directory, defaulting to `backups` inside the data directory."""
        return self.backup_dir if self.backup_dir is not None else self.data_dir / "backups"

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to SQLite inside the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'pairview.db'}"


Codec = Literal["vp8", "h264"]
EventLoop = Literal["uvloop", "asyncio"]


class ShareSettings(_Settings):
    """Settings of `pairview share`, the host app."""

    model_config = SettingsConfigDict(env_prefix="PAIRVIEW_SHARE_", extra="forbid")
    toml_table: ClassVar[str] = "share"

    server: str | None = None
    server_token: SecretStr | None = None
    cafile: Path | None = None
    bind: str = "127.0.0.1"
    port: Port = 0
    monitor: int = Field(default=1, ge=0)
    codec: Codec = "vp8"
    fps: int = Field(default=30, ge=1, le=60)
    max_bitrate: Bitrate = 8_000_000
    min_bitrate: Bitrate = 300_000
    invite_ttl: Duration = 24 * 3600
    name: str = Field(default="Host", min_length=1, max_length=64)
    allow_control: bool = False
    control_request_timeout: Duration = 60.0
    downloads_dir: Path = Field(default_factory=default_downloads_dir)
    max_file_size: Size = 2 * 1000**3
    # A PulseAudio source name, "default", or "none" for no microphone.
    microphone: str = Field(default="default", min_length=1, max_length=256)
    # A PulseAudio sink name, "default", or "none" to not play guests' voices.
    speaker: str = Field(default="default", min_length=1, max_length=256)
    system_audio: bool = False
    event_loop: EventLoop = "uvloop"

    @field_validator("server")
    @classmethod
    def _server_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.match(r"^https?://[^/\s]+$", value.rstrip("/")):
            raise ValueError(f"expected the server's http:// or https:// URL, got {value!r}")
        return value.rstrip("/")


def _flag_and_variable(settings_cls: type[BaseSettings], field: str) -> str:
    """Return the flag and environment variable that set `field`, as "--port / PAIRVIEW_PORT"."""
    prefix = str(settings_cls.model_config.get("env_prefix", ""))
    flag = "--" + field.replace("_", "-")
    return f"{flag} / {prefix}{field.upper()}"


def invalid_setting(settings_cls: type[BaseSettings], field: str, message: str) -> ConfigError:
    """Build the error for a setting found bad after loading, worded as load_settings words it."""
    where = _flag_and_variable(settings_cls, field)
    return ConfigError(f"Invalid settings:\n  {field} ({where}): {message}")


def _describe_error(settings_cls: type[BaseSettings], error: ErrorDetails) -> str:
    location = [str(part) for part in error["loc"]]
    field = location[0] if location else "?"
    where = _flag_and_variable(settings_cls, field)
    detail = ".".join(location[1:])
    value = error.get("input")
    field_info = settings_cls.model_fields.get(field)
    secret = field_info is not None and "SecretStr" in str(field_info.annotation)
    shown = "" if isinstance(value, dict) or secret else f" {value!r}:"
    suffix = f" (at {detail})" if detail else ""
    # pydantic prefixes the text of a ValueError raised by a validator with "Value error, ".
    message = error["msg"].removeprefix("Value error, ")
    return f"  {field}{suffix} ({where}):{shown} {message}"


SettingsT = TypeVar("SettingsT", bound=_Settings)


def load_settings(
    settings_cls: type[SettingsT], config_file: Path | None = None, **overrides: Any
) -> SettingsT:
    """Build settings from flags, environment and TOML file, or raise ConfigError.

    `overrides` are the command-line flags; a flag left as None is not set.
    """
    flags = {key: value for key, value in overrides.items() if value is not None}
    token = _config_file.set(config_file)
    try:
        return settings_cls(**flags)
    except ValidationError as error:
        lines = [_describe_error(settings_cls, item) for item in error.errors()]
        raise ConfigError("Invalid settings:\n" + "\n".join(lines)) from None
    finally:
        _config_file.reset(token)
