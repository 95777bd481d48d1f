"""Settings from flags, environment and TOML, and the errors for bad values."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pairview.errors import ConfigError
from pairview.settings import (
    ServerSettings,
    ShareSettings,
    default_downloads_dir,
    invalid_setting,
    load_settings,
    parse_bitrate,
    parse_duration,
    parse_size,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (90, 90.0),
        ("90", 90.0),
        ("30s", 30.0),
        ("15m", 900.0),
        ("24h", 86400.0),
        ("7d", 604800.0),
        ("1.5h", 5400.0),
    ],
)
def test_duration_forms(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "3 weeks", "-5s", "0", True, [1]])
def test_duration_rejects_with_value(text: object) -> None:
    with pytest.raises(ValueError, match="duration") as raised:
        parse_duration(text)

    assert repr(text) in str(raised.value) or "positive" in str(raised.value)


@pytest.mark.parametrize(
    ("text", "bits"),
    [
        (500_000, 500_000),
        ("2500k", 2_500_000),
        ("8M", 8_000_000),
        ("1.5m", 1_500_000),
        ("6Mbps", 6_000_000),
    ],
)
def test_bitrate_forms(text: object, bits: int) -> None:
    assert parse_bitrate(text) == bits


@pytest.mark.parametrize("text", ["fast", "8G", "", "-1k", 0])
def test_bitrate_rejects(text: object) -> None:
    with pytest.raises(ValueError, match="bitrate"):
        parse_bitrate(text)


@pytest.mark.parametrize(
    ("text", "size"),
    [(1234, 1234), ("500M", 500_000_000), ("2G", 2_000_000_000), ("1GiB", 2**30), ("64kib", 65536)],
)
def test_size_forms(text: object, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["huge", "-1M", "0", "2 GBs", True])
def test_size_rejects_with_value(text: object) -> None:
    with pytest.raises(ValueError, match="size") as raised:
        parse_size(text)
    assert repr(text) in str(raised.value)


def test_max_file_size_error_names_flag() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(ShareSettings, None, max_file_size="lots")
    assert "--max-file-size / PAIRVIEW_SHARE_MAX_FILE_SIZE" in str(raised.value)
    assert "'lots'" in str(raised.value)


def test_invalid_setting_worded_as_loading() -> None:
    error = invalid_setting(ShareSettings, "downloads_dir", "/srv/x is a file, not a folder")

    assert str(error) == (
        "Invalid settings:\n"
        "  downloads_dir (--downloads-dir / PAIRVIEW_SHARE_DOWNLOADS_DIR): "
        "/srv/x is a file, not a folder"
    )


def test_downloads_dir_follows_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_DOWNLOAD_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert default_downloads_dir() == tmp_path / "Downloads" / "Pairview"
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "user-dirs.dirs").write_text(
        'XDG_DOWNLOAD_DIR="$HOME/Téléchargements"\n'
    )
    assert default_downloads_dir() == tmp_path / "Téléchargements" / "Pairview"


def test_flag_beats_environment_beats_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "pairview.toml"
    config.write_text(
        '[server]\nport = 9001\nhost = "0.0.0.0"\npublic_url = "https://file.example"\n'
    )
    monkeypatch.setenv("PAIRVIEW_PORT", "9002")

    from_file_and_env = load_settings(ServerSettings, config)
    with_flag = load_settings(ServerSettings, config, port=9003, host=None)

    assert from_file_and_env.port == 9002
    assert from_file_and_env.host == "0.0.0.0"
    assert from_file_and_env.public_url == "https://file.example"
    assert with_flag.port == 9003
    assert with_flag.host == "0.0.0.0"


def test_share_table_read(tmp_path: Path) -> None:
    config = tmp_path / "pairview.toml"
    config.write_text('[share]\nfps = 15\nmax_bitrate = "4M"\n')

    settings = load_settings(ShareSettings, config)

    assert settings.fps == 15
    assert settings.max_bitrate == 4_000_000


def test_errors_name_setting_flag_variable_and_value() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(ServerSettings, port=70000, invite_ttl="3 weeks")

    message = str(raised.value)
    assert "port (--port / PAIRVIEW_PORT): 70000" in message
    assert "invite_ttl (--invite-ttl / PAIRVIEW_INVITE_TTL): '3 weeks'" in message


def test_unknown_setting_in_file_rejected(tmp_path: Path) -> None:
    config = tmp_path / "pairview.toml"
    config.write_text("[server]\nprot = 80\n")

    with pytest.raises(ConfigError, match="prot"):
        load_settings(ServerSettings, config)


def test_unknown_key_names_file_not_flag(tmp_path: Path) -> None:
    config = tmp_path / "pairview.toml"
    config.write_text("[share]\nbogus = 1\n")

    with pytest.raises(ConfigError) as raised:
        load_settings(ShareSettings, config)

    message = str(raised.value)
    assert f"Unknown key in the [share] table of configuration file {config}" in message
    assert "'bogus' is not a setting" in message
    assert "--bogus" not in message
    assert "PAIRVIEW_SHARE_BOGUS" not in message
    assert "The known keys are: allow_control, bind, cafile," in message
    assert "downloads_dir" in message


def test_unknown_key_suggests_close_match(tmp_path: Path) -> None:
    config = tmp_path / "pairview.toml"
    config.write_text("[server]\nprot = 80\nhost = '0.0.0.0'\n")

    with pytest.raises(ConfigError) as raised:
        load_settings(ServerSettings, config)

    message = str(raised.value)
    assert "'prot' is not a setting. Did you mean 'port'?" in message
    assert "The known keys are" not in message
    assert "'host'" not in message


def test_unknown_keys_listed_together(tmp_path: Path) -> None:
    config = tmp_path / "pairview.toml"
    config.write_text("[share]\nfsp = 15\ndata_dir = '/srv/pairview'\n")

    with pytest.raises(ConfigError) as raised:
        load_settings(ShareSettings, config)

    lines = str(raised.value).splitlines()
    assert lines[0] == f"Unknown keys in the [share] table of configuration file {config}:"
    assert lines[1] == "  'fsp' is not a setting. Did you mean 'fps'?"
    assert lines[2] == "  'data_dir' belongs in the [server] table."
    assert len(lines) == 3


@pytest.mark.parametrize("content", ["[server\nport = 1", "server = 5"])
def test_broken_file_reported(tmp_path: Path, content: str) -> None:
    config = tmp_path / "pairview.toml"
    config.write_text(content)

    with pytest.raises(ConfigError, match=re.escape(str(config))):
        load_settings(ServerSettings, config)


def test_missing_file_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Cannot read"):
        load_settings(ServerSettings, tmp_path / "absent.toml")


def test_ice_servers_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAIRVIEW_ICE_SERVERS", '[{"urls": "stun:stun.internal:3478"}]')

    settings = load_settings(ServerSettings)

    assert settings.ice_servers[0].urls == ["stun:stun.internal:3478"]


def test_ice_server_url_scheme_checked() -> None:
    with pytest.raises(ConfigError, match=re.escape("http://example.com")):
        load_settings(ServerSettings, ice_servers=[{"urls": "http://example.com"}])


def test_credentials_hidden_when_printed() -> None:
    settings = load_settings(
        ServerSettings,
        ice_servers=[{"urls": "turn:t.internal", "username": "u", "credential": "hunter2"}],
    )

    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings.ice_servers)


def test_default_database_in_data_dir(tmp_path: Path) -> None:
    settings = load_settings(ServerSettings, data_dir=tmp_path)

    assert settings.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path / 'pairview.db'}"


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"usage_retention": "12h"}, ["usage_retention", "'12h'", "at least 1 day"]),
        ({"audit_retention": "soon"}, ["audit_retention", "'soon'", "duration"]),
        ({"backup_retention": "0"}, ["backup_retention", "'0'", "positive"]),
        ({"metrics_token": "short-secret"}, ["metrics_token", "at least 16 characters"]),
        ({"metrics_port": "70000"}, ["metrics_port", "'70000'"]),
        ({"metrics_host": "a b"}, ["metrics_host", "'a b'"]),
        ({"admin_webhook_url": "http://hooks.example.com/x"}, ["admin_webhook_url", "https://"]),
        ({"admin_webhook_retries": "20"}, ["admin_webhook_retries", "'20'"]),
    ],
    ids=lambda value: next(iter(value)) if isinstance(value, dict) else None,
)
def test_statistics_settings_name_bad_values(overrides: dict[str, str], words: list[str]) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(ServerSettings, None, **overrides)
    for word in words:
        assert word in str(raised.value)
    # A secret is named, never shown.
    assert "short-secret" not in str(raised.value)


def test_backup_dir_defaults_to_data_dir(tmp_path: Path) -> None:
    settings = ServerSettings(data_dir=tmp_path)
    assert settings.resolved_backup_dir == tmp_path / "backups"
    assert ServerSettings(data_dir=tmp_path, backup_dir=tmp_path / "b").resolved_backup_dir == (
        tmp_path / "b"
    )
    assert settings.backup_retention == 15 * 86400
    assert settings.usage_retention == 90 * 86400


def test_misspelt_table_suggests_name(tmp_path: Path) -> None:
    config = tmp_path / "pairview.toml"
    config.write_text("[shar]\nport = 8080\n")

    with pytest.raises(ConfigError) as raised:
        load_settings(ShareSettings, config)

    message = str(raised.value)
    assert f"Unknown table in configuration file {config}" in message
    assert "'shar' is not a table of Pairview's settings. Did you mean [share]?" in message


def test_key_outside_tables_rejected(tmp_path: Path) -> None:
    config = tmp_path / "pairview.toml"
    config.write_text("port = 8080\n\n[server]\nhost = '127.0.0.1'\n")

    with pytest.raises(ConfigError) as raised:
        load_settings(ServerSettings, config)

    message = str(raised.value)
    assert "'port' is not a table of Pairview's settings." in message
    assert "Settings go in [server] or [share]." in message


def test_both_tables_accepted(tmp_path: Path) -> None:
    config = tmp_path / "pairview.toml"
    config.write_text("[server]\nport = 8081\n\n[share]\nport = 8082\n")

    assert load_settings(ServerSettings, config).port == 8081
    assert load_settings(ShareSettings, config).port == 8082
