"""The event loop `pairview share` runs on, chosen by a setting."""

from __future__ import annotations

import asyncio
import builtins
from typing import Any

import pytest
import uvloop

from pairview.errors import ConfigError
from pairview.loop import run_loop
from pairview.settings import ShareSettings, load_settings


async def loop_type() -> type:
    return type(asyncio.get_running_loop())


def test_uvloop_by_default() -> None:
    settings = load_settings(ShareSettings)

    assert settings.event_loop == "uvloop"
    assert run_loop(loop_type(), settings.event_loop) is uvloop.Loop


def test_asyncio_when_chosen() -> None:
    loop = run_loop(loop_type(), "asyncio")

    assert loop is not uvloop.Loop
    assert issubclass(loop, asyncio.BaseEventLoop)


def test_asyncio_when_uvloop_is_missing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real_import = builtins.__import__

    def without_uvloop(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "uvloop":
            raise ImportError("No module named 'uvloop'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_uvloop)

    loop = run_loop(loop_type(), "uvloop")

    assert loop is not uvloop.Loop
    assert "uvloop is not installed" in caplog.text


def test_unknown_loop_named_in_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAIRVIEW_SHARE_EVENT_LOOP", "trio")

    with pytest.raises(ConfigError) as raised:
        load_settings(ShareSettings)

    message = str(raised.value)
    assert "event_loop (--event-loop / PAIRVIEW_SHARE_EVENT_LOOP): 'trio'" in message
    assert "'uvloop' or 'asyncio'" in message
