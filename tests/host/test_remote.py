"""Remote control on the host with a recording injector: what is injected, and what is not."""

from __future__ import annotations

import asyncio
import io
import itertools
import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from typing import Any

import pytest
from rich.console import Console as RichConsole
from Xlib.error import ConnectionClosedError

from pairview.host.capture import Region
from pairview.host.console import Console
from pairview.host.input.base import Injected, MouseButton
from pairview.host.output import ShareOutput
from pairview.host.remote import (
    CURSOR_INTERVAL,
    INPUT_BURST,
    POINTER_STILL_AFTER,
    STILL_POLL_INTERVAL,
    PointerSchedule,
    RemoteControl,
    _FailureLog,
)
from pairview.protocol.control import (
    Button,
    Capability,
    ControlReason,
    ControlRelease,
    ControlRequest,
    ControlState,
    Cursors,
    HostMessage,
    Key,
    PointerMove,
    Wheel,
)
from tests.support.timing import seconds

REGION = Region(left=100, top=50, width=1000, height=500)


class RecordingInjector:
    """Records every call; runs on the injection thread like the real one."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.reserved: set[str] = set()

    @property
    def screen_size(self) -> tuple[int, int]:
        return (1920, 1080)

    def move(self, x: int, y: int) -> None:
        self.calls.append(("move", x, y))

    def press_button(self, button: MouseButton) -> None:
        self.calls.append(("press_button", button))

    def release_button(self, button: MouseButton) -> None:
        self.calls.append(("release_button", button))

    def scroll(self, dx: int, dy: int) -> None:
        self.calls.append(("scroll", dx, dy))

    def press_key(self, name: str) -> Injected:
        if name in self.reserved:
            return Injected.RESERVED
        self.calls.append(("press_key", name))
        return Injected.DONE

    def release_key(self, name: str) -> None:
        self.calls.append(("release_key", name))

    def type_character(self, character: str) -> Injected:
        self.calls.append(("type", character))
        return Injected.DONE

    def pointer_position(self) -> tuple[int, int] | None:
        return (600, 300)

    def maintain(self) -> None:
        pass

    def close(self) -> None:
        self.calls.append(("close",))


class Inbox:
    def __init__(self) -> None:
        self.messages: list[HostMessage] = []

    def __call__(self, message: HostMessage) -> None:
        self.messages.append(message)

    def states(self) -> list[ControlState]:
        return [message for message in self.messages if isinstance(message, ControlState)]


@pytest.fixture
def text() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def output(text: io.StringIO) -> ShareOutput:
    return ShareOutput(RichConsole(file=text, width=200, highlight=False))


@pytest.fixture
def injector() -> RecordingInjector:
    return RecordingInjector()


@pytest.fixture
def console(output: ShareOutput) -> Console:
    return Console(output)


@pytest.fixture
async def remote(
    output: ShareOutput, injector: RecordingInjector, console: Console
) -> AsyncIterator[RemoteControl]:
    control = RemoteControl(output, REGION, lambda: injector, request_timeout=0.3)
    await control.start(console)
    yield control
    await control.close()


def join(remote: RemoteControl, peer_id: str, name: str) -> Inbox:
    inbox = Inbox()
    remote.add_guest(peer_id, name)
    remote.channel_open(peer_id, inbox)
    return inbox


def click(x: float, y: float, down: bool = True) -> Button:
    return Button(button=0, down=down, x=x, y=y)


async def until(check: Callable[[], bool], what: str) -> None:
    async def loop() -> None:
        while not check():  # noqa: ASYNC110 - the check reads state that another thread sets
            await asyncio.sleep(0.02)

    try:
        await asyncio.wait_for(loop(), seconds(5))
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def test_nothing_injected_without_grant(
    remote: RemoteControl, injector: RecordingInjector
) -> None:
    inbox = join(remote, "a", "Alice")
    remote.handle("a", PointerMove(x=0.5, y=0.5))
    remote.handle("a", click(0.5, 0.5))
    remote.handle("a", Wheel(dx=0, dy=2, x=0.5, y=0.5))
    remote.handle("a", Key(code="KeyA", key="a", down=True))
    await remote.drained()
    assert injector.calls == []
    assert remote.rejected("a") == {"no pointer grant": 2, "no keyboard grant": 1}
    assert inbox.states()[0] == ControlState(
        pointer=False, keyboard=False, pending=False, reason=ControlReason.CURRENT
    )


async def test_granted_click_lands_in_region(
    remote: RemoteControl, console: Console, injector: RecordingInjector
) -> None:
    join(remote, "a", "Alice")
    await console.handle_line("/grant Alice pointer")
    remote.handle("a", click(0.25, 0.5))
    remote.handle("a", click(0.25, 0.5, down=False))
    await remote.drained()
    assert injector.calls == [
        ("move", 350, 300),
        ("press_button", MouseButton.MAIN),
        ("move", 350, 300),
        ("release_button", MouseButton.MAIN),
    ]


async def test_coordinates_clamped_to_region(
    remote: RemoteControl, console: Console, injector: RecordingInjector
) -> None:
    join(remote, "a", "Alice")
    await console.handle_line("/grant Alice")
    remote.handle("a", PointerMove(x=1.5, y=-0.75))
    remote.handle("a", PointerMove(x=1.0, y=1.0))
    await remote.drained()
    assert injector.calls == [("move", 1099, 50), ("move", 1099, 549)]


async def test_each_guest_clicks_at_own_position(
    remote: RemoteControl, console: Console, injector: RecordingInjector
) -> None:
    join(remote, "a", "Alice")
    join(remote, "b", "Bob")
    await console.handle_line("/grant all pointer")
    remote.handle("a", PointerMove(x=0.1, y=0.1))
    remote.handle("b", PointerMove(x=0.9, y=0.9))
    remote.handle("a", click(0.1, 0.1))
    await remote.drained()
    press = injector.calls.index(("press_button", MouseButton.MAIN))
    assert injector.calls[press - 1] == ("move", 200, 100)


async def test_revoke_releases_held_input(
    remote: RemoteControl, console: Console, injector: RecordingInjector, text: io.StringIO
) -> None:
    inbox = join(remote, "a", "Alice")
    await console.handle_line("/grant Alice")
    remote.handle("a", click(0.5, 0.5))
    remote.handle("a", Key(code="ShiftLeft", key="Shift", down=True))
    remote.handle("a", Key(code="ArrowLeft", key="ArrowLeft", down=True))
    await console.handle_line("/revoke Alice")
    remote.handle("a", Key(code="KeyB", key="b", down=True))
    await remote.drained()

    released = [call for call in injector.calls if call[0].startswith("release")]
    assert sorted(released, key=str) == sorted(
        [
            ("release_button", MouseButton.MAIN),
            ("release_key", "ShiftLeft"),
            ("release_key", "ArrowLeft"),
        ],
        key=str,
    )
    assert ("type", "b") not in injector.calls
    assert inbox.states()[-1].reason is ControlReason.REVOKED
    assert "Took back control of your pointer and keyboard from Alice" in text.getvalue()


async def test_key_held_by_two_guests_released_by_last(
    remote: RemoteControl, console: Console, injector: RecordingInjector
) -> None:
    join(remote, "a", "Alice")
    join(remote, "b", "Bob")
    await console.handle_line("/grant all keyboard")
    remote.handle("a", Key(code="ShiftLeft", key="Shift", down=True))
    remote.handle("b", Key(code="ShiftLeft", key="Shift", down=True))
    await console.handle_line("/revoke Alice")
    await remote.drained()
    assert injector.calls == [("press_key", "ShiftLeft")]
    remote.remove_guest("b")
    await remote.drained()
    assert injector.calls == [("press_key", "ShiftLeft"), ("release_key", "ShiftLeft")]


async def test_disconnect_releases_but_keeps_grants(
    remote: RemoteControl, console: Console, injector: RecordingInjector
) -> None:
    join(remote, "a", "Alice")
    await console.handle_line("/grant Alice")
    remote.handle("a", Key(code="ControlLeft", key="Control", down=True))
    remote.channel_closed("a")
    await remote.drained()
    assert injector.calls[-1] == ("release_key", "ControlLeft")
    assert remote.grants.get("a").granted


async def test_reserved_keys_are_counted(
    remote: RemoteControl, console: Console, injector: RecordingInjector
) -> None:
    injector.reserved.add("Escape")
    join(remote, "a", "Alice")
    await console.handle_line("/grant Alice keyboard")
    remote.handle("a", Key(code="Escape", key="Escape", down=True))
    await remote.drained()
    await until(lambda: remote.rejected("a")["panic shortcut keys"] == 1, "the rejection")


async def test_rate_is_bounded(
    remote: RemoteControl, console: Console, injector: RecordingInjector
) -> None:
    join(remote, "a", "Alice")
    await console.handle_line("/grant Alice keyboard")
    for _ in range(INPUT_BURST + 100):
        remote.handle("a", Key(code="KeyX", key="x", down=True))
    await remote.drained()
    typed = injector.calls.count(("type", "x"))
    assert INPUT_BURST <= typed < INPUT_BURST + 100
    assert remote.rejected("a")["rate limit exceeded"] == INPUT_BURST + 100 - typed


async def test_request_answered_yes(
    remote: RemoteControl, console: Console, injector: RecordingInjector, text: io.StringIO
) -> None:
    inbox = join(remote, "a", "Alice")
    remote.handle("a", ControlRequest(pointer=True, keyboard=False))
    assert inbox.states()[-1].pending
    assert "Alice (peer a) asks to control your pointer" in text.getvalue()
    await console.handle_line("y")
    assert inbox.states()[-1] == ControlState(
        pointer=True, keyboard=False, pending=False, reason=ControlReason.GRANTED
    )
    remote.handle("a", ControlRelease())
    assert inbox.states()[-1].reason is ControlReason.RELEASED
    assert not remote.grants.allows("a", Capability.POINTER)


async def test_unanswered_request_times_out(remote: RemoteControl, console: Console) -> None:
    inbox = join(remote, "a", "Alice")
    remote.handle("a", ControlRequest())
    await until(lambda: inbox.states()[-1].reason is ControlReason.TIMED_OUT, "the timeout")
    assert not inbox.states()[-1].pending
    # A late "y" answers nothing.
    await console.handle_line("y")
    assert inbox.states()[-1].reason is ControlReason.TIMED_OUT


async def test_panic_revokes_everyone(
    remote: RemoteControl, console: Console, injector: RecordingInjector
) -> None:
    first = join(remote, "a", "Alice")
    second = join(remote, "b", "Bob")
    await console.handle_line("/grant all")
    remote.handle("a", click(0.5, 0.5))
    remote.panic()
    await remote.drained()
    assert first.states()[-1].reason is ControlReason.PANIC
    assert second.states()[-1].reason is ControlReason.PANIC
    assert injector.calls[-1] == ("release_button", MouseButton.MAIN)
    assert not remote.grants.allows("b", Capability.KEYBOARD)


def intervals(times: list[float]) -> list[float]:
    return [later - earlier for earlier, later in itertools.pairwise(times)]


def test_pointer_schedule_slows_when_still() -> None:
    schedule = PointerSchedule()
    looked: list[float] = []
    tick = 0
    for tick in range(1, 200):
        now = tick * CURSOR_INTERVAL
        if schedule.due(now):
            # The pointer moves on the first lookup, then stays still.
            schedule.looked(now, moved=not looked)
            looked.append(now)
    first = looked[0]
    # While the last movement is recent: a lookup on every tick.
    moving = [at for at in looked if at < first + POINTER_STILL_AFTER - CURSOR_INTERVAL / 2]
    assert len(moving) == round(POINTER_STILL_AFTER / CURSOR_INTERVAL)
    assert moving == pytest.approx([first + n * CURSOR_INTERVAL for n in range(len(moving))])
    still = [at for at in looked if at >= first + POINTER_STILL_AFTER]
    gaps = intervals(still)
    assert gaps
    # Once still: one lookup on the first tick after each STILL_POLL_INTERVAL.
    slowest = STILL_POLL_INTERVAL + CURSOR_INTERVAL
    assert all(STILL_POLL_INTERVAL - 1e-9 <= gap <= slowest + 1e-9 for gap in gaps), gaps
    # A movement seen brings back a lookup on every tick.
    schedule.looked(still[-1], moved=True)
    assert schedule.due(still[-1] + CURSOR_INTERVAL)


class SteppingClock:
    """A clock that moves on by `step` seconds each time it is read."""

    def __init__(self, step: float) -> None:
        self.step = step
        self.now = 0.0

    def __call__(self) -> float:
        self.now += self.step
        return self.now


class MovablePointer(RecordingInjector):
    def __init__(self, clock: SteppingClock) -> None:
        super().__init__()
        self.position = (600, 300)
        self.clock = clock
        self.lookups: list[float] = []

    def pointer_position(self) -> tuple[int, int] | None:
        self.lookups.append(self.clock.now)
        return self.position


async def test_still_host_pointer_looked_up_less(output: ShareOutput) -> None:
    clock = SteppingClock(step=0.05)
    injector = MovablePointer(clock)
    remote = RemoteControl(output, REGION, lambda: injector, clock=clock)
    await remote.start(None)
    try:
        bob = join(remote, "b", "Bob")
        await until(lambda: clock.now > 2 * POINTER_STILL_AFTER, "two seconds on the clock")
        settled = [at for at in injector.lookups if at > injector.lookups[0] + POINTER_STILL_AFTER]
        gaps = intervals(settled)
        assert gaps
        assert min(gaps) >= STILL_POLL_INTERVAL - 1e-9

        injector.position = (700, 400)
        looked_before = len(injector.lookups)

        def host_moved() -> bool:
            return any(
                cursor.id == "host" and cursor.x == 0.6005
                for message in bob.messages
                if isinstance(message, Cursors)
                for cursor in message.cursors
            )

        await until(host_moved, "the host's cursor at its new place")
        # Once the movement is seen, the lookups come on every tick again.
        await until(lambda: len(injector.lookups) >= looked_before + 4, "more lookups")
        after = injector.lookups[looked_before:]
        assert after[3] - after[1] < STILL_POLL_INTERVAL
    finally:
        await remote.close()


async def test_cursors_relayed_to_others(remote: RemoteControl) -> None:
    alice = join(remote, "a", "Alice")
    bob = join(remote, "b", "Bob")
    remote.handle("a", PointerMove(x=0.25, y=0.75))

    def alice_seen_by_bob() -> bool:
        return any(
            cursor.id == "a" and (cursor.x, cursor.y) == (0.25, 0.75)
            for message in bob.messages
            if isinstance(message, Cursors)
            for cursor in message.cursors
        )

    await until(alice_seen_by_bob, "Alice's cursor on Bob's side")
    own = [
        cursor
        for message in alice.messages
        if isinstance(message, Cursors)
        for cursor in message.cursors
        if cursor.id == "a"
    ]
    assert own == []
    # The host's pointer at (600, 300) is inside the region, at its centre pixel.
    await until(
        lambda: any(
            cursor.id == "host" and cursor.x == 0.5005 and cursor.y == 0.501
            for message in bob.messages
            if isinstance(message, Cursors)
            for cursor in message.cursors
        ),
        "the host's cursor",
    )
    remote.remove_guest("a")
    await until(
        lambda: any(isinstance(m, Cursors) and "a" in m.removed for m in bob.messages),
        "Alice's cursor removed",
    )


async def test_console_rejects_bad_arguments(
    remote: RemoteControl, console: Console, text: io.StringIO
) -> None:
    join(remote, "a", "Alice")
    join(remote, "b", "alice")
    await console.handle_line("/grant Carol")
    await console.handle_line("/grant alice")
    await console.handle_line("/grant a mouse")
    await console.handle_line("/revoke")
    shown = text.getvalue()
    assert "No guest named 'Carol'" in shown
    assert "2 guests are named 'alice'; use a peer id" in shown
    assert "Unknown capability 'mouse'; expected pointer or keyboard." in shown
    assert "Usage: /revoke NAME|all [pointer|keyboard]" in shown
    assert not remote.grants.allows("a", Capability.POINTER)


async def test_without_injector_nothing_is_granted(output: ShareOutput, text: io.StringIO) -> None:
    from pairview.host.input.base import InputUnavailable

    def unavailable() -> RecordingInjector:
        raise InputUnavailable("The X server has no XTEST extension to inject input with.")

    control = RemoteControl(output, REGION, unavailable, allow_all=True)
    await control.start(None)
    try:
        inbox = join(control, "a", "Alice")
        control.handle("a", ControlRequest())
        assert inbox.states()[-1].reason is ControlReason.UNAVAILABLE
        assert not control.grants.allows("a", Capability.POINTER)
        assert "Remote control is off: The X server has no XTEST" in text.getvalue()
    finally:
        await control.close()


@pytest.mark.parametrize(
    ("error", "level", "traceback"),
    [
        (ConnectionClosedError("server"), logging.WARNING, False),
        (OSError("no such device"), logging.ERROR, True),
    ],
    ids=["display closed", "other error"],
)
def test_injection_failure_logged(
    caplog: pytest.LogCaptureFixture, error: Exception, level: int, traceback: bool
) -> None:
    caplog.set_level(logging.WARNING, logger="pairview.host.remote")
    failures = _FailureLog()
    for _ in range(2):
        injection: Future[None] = Future()
        injection.set_exception(error)
        failures.log(injection)
    # A closed display is reported once however many injections it stopped.
    records = caplog.records
    assert len(records) == (1 if level == logging.WARNING else 2)
    assert records[0].levelno == level
    assert (records[0].exc_info is not None) is traceback
