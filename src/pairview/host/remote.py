"""Remote control on the host: grants, permitted input, and everyone's cursors.

The host enforces every grant here, on its own machine: input from a guest
without the matching grant is counted, logged without its content and
dropped, whatever the guest's page or the signaling server claim. Permitted
input goes to the platform's injector on one worker thread, in arrival
order, so that a release always follows its press.

Every guest's pointer position is relayed to the other guests as a
labelled cursor, together with the host's own pointer, which the captured
pixels do not show.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pairview.host.capture import Region, display_closed
from pairview.host.console import Command, Console, Question
from pairview.host.grants import (
    ALL_CAPABILITIES,
    REQUEST_TIMEOUT,
    GrantChange,
    Grants,
    GuestGrants,
    describe,
)
from pairview.host.input.base import (
    Injected,
    InputInjector,
    InputUnavailable,
    MouseButton,
    PanicShortcut,
)
from pairview.host.input.keys import GuestKeyboard, Ignore, Press, Reject, Release, Type
from pairview.host.output import ShareOutput
from pairview.host.ratelimit import TokenBucket
from pairview.protocol.control import (
    CURSOR_COLOURS,
    Button,
    Capability,
    ControlReason,
    ControlRelease,
    ControlRequest,
    ControlState,
    Cursor,
    Cursors,
    GuestMessage,
    Hello,
    HostMessage,
    Key,
    PointerLeave,
    PointerMove,
    VersionError,
    Wheel,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Input events per guest: a pointer moving every frame at 120 Hz, typing and
# clicking at the same time, with room for bursts after a network stall.
INPUT_RATE = 200.0
INPUT_BURST = 400
CURSOR_INTERVAL = 1 / 30
# The host's pointer is looked up on every tick while it moves, and every
# STILL_POLL_INTERVAL once it has not moved for POINTER_STILL_AFTER. Each
# lookup is an X server round trip on the injection thread and costs the
# event loop time that a file transfer or the video could use.
POINTER_STILL_AFTER = 1.0
STILL_POLL_INTERVAL = 0.2
MAINTAIN_INTERVAL = 0.5
REJECTION_REPORT_INTERVAL = 10.0
HOST_CURSOR_ID = "host"
MAX_CURSORS_PER_MESSAGE = 64

SendToGuest = Callable[[HostMessage], None]


@dataclass
class _Guest:
    peer_id: str
    name: str
    colour: int
    bucket: TokenBucket
    keyboard: GuestKeyboard = field(default_factory=GuestKeyboard)
    buttons: set[MouseButton] = field(default_factory=set)
    send: SendToGuest | None = None
    position: tuple[float, float] | None = None
    cursor_dirty: bool = True
    rejected: Counter[str] = field(default_factory=Counter)
    reported: int = 0
    question: Question | None = None


class PointerSchedule:
    """A timetable for host pointer lookups: every tick while it moves, fewer while it is still."""

    def __init__(self) -> None:
        self._moved_at = -math.inf
        self._looked_at = -math.inf

    def due(self, now: float) -> bool:
        moving = now - self._moved_at < POINTER_STILL_AFTER
        return moving or now - self._looked_at >= STILL_POLL_INTERVAL

    def looked(self, now: float, moved: bool) -> None:
        self._looked_at = now
        if moved:
            self._moved_at = now


class RemoteControl:
    def __init__(
        self,
        output: ShareOutput,
        region: Region,
        injector_factory: Callable[[], InputInjector] | None,
        panic_factory: Callable[[], PanicShortcut] | None = None,
        allow_all: bool = False,
        host_name: str = "Host",
        request_timeout: float = REQUEST_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._output = output
        self._region = region
        self._injector_factory = injector_factory
        self._panic_factory = panic_factory
        self._host_name = host_name
        self._clock = clock
        self.grants = Grants(allow_all=allow_all, request_timeout=request_timeout)
        self._guests: dict[str, _Guest] = {}
        self._console: Console | None = None
        self._injector: InputInjector | None = None
        self._unavailable = "remote control has not started"
        self._panic: PanicShortcut | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pairview-input")
        self._failures = _FailureLog()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._key_refs: Counter[str] = Counter()
        self._button_refs: Counter[MouseButton] = Counter()
        self._host_position: tuple[float, float] | None = None
        self._host_dirty = False
        self._pointer_schedule = PointerSchedule()
        self._removed: list[str] = []
        self._next_colour = 1

    @property
    def available(self) -> bool:
        return self._injector is not None

    async def start(self, console: Console | None) -> None:
        """Open the injector and the panic shortcut, register commands and start relaying."""
        self._loop = asyncio.get_running_loop()
        self._console = console
        if console is not None:
            self._register_commands(console)

        if self._injector_factory is not None:
            try:
                self._injector = await self._loop.run_in_executor(
                    self._executor, self._injector_factory
                )
            except InputUnavailable as error:
                self._unavailable = str(error)
                self._output.warning(f"Remote control is off: {error}")
        else:
            self._unavailable = "this host app was started without input injection"

        if self._injector is not None and self._panic_factory is not None:
            await self._start_panic()
        if self.grants.allow_all and self._injector is not None:
            self._output.warning("Every guest may control your pointer and keyboard.")
        self._ticker = asyncio.create_task(self._tick())

    async def _start_panic(self) -> None:
        assert self._loop is not None
        assert self._panic_factory is not None
        loop = self._loop
        try:
            panic = self._panic_factory()
            panic.start(lambda: _call_soon(loop, self.panic))
        except InputUnavailable as error:
            self._output.warning(f"No panic shortcut: {error}")
            return
        self._panic = panic
        self._output.info(
            f"Press {panic.description} on this computer at any time to take back "
            "control from every guest."
        )

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        for guest in self._guests.values():
            self._release_input(guest, pointer=True, keyboard=True)
        if self._panic is not None:
            await asyncio.to_thread(self._panic.close)
        if self._injector is not None:
            self._submit(self._injector.close)
        self._injector = None
        await asyncio.to_thread(self._executor.shutdown, True)

    async def drained(self) -> None:
        """Wait until every input submitted so far has been injected."""
        future = self._executor.submit(lambda: None)
        await asyncio.wrap_future(future)

    # Guests

    def add_guest(self, peer_id: str, name: str) -> None:
        """A guest joined the room; it holds no grant unless the host allows everyone."""
        if peer_id in self._guests:
            return
        now = self._clock()
        colour = self._next_colour
        self._next_colour = self._next_colour % (CURSOR_COLOURS - 1) + 1
        self._guests[peer_id] = _Guest(
            peer_id, name, colour, TokenBucket(INPUT_RATE, INPUT_BURST, now)
        )
        change = self.grants.join(peer_id, name)
        if change.gained and self._injector is None:
            # Nothing can be injected: say so instead of promising control.
            self.grants.revoke(peer_id, ALL_CAPABILITIES)
        elif change.gained:
            self._announce(change)

    def remove_guest(self, peer_id: str) -> None:
        """Release what a departed guest held and forget its grants."""
        guest = self._guests.pop(peer_id, None)
        if guest is None:
            return
        self._release_input(guest, pointer=True, keyboard=True)
        self._withdraw_question(guest)
        self.grants.leave(peer_id)
        self._removed.append(peer_id)

    def channel_open(self, peer_id: str, send: SendToGuest) -> None:
        """Send a guest whose control channel opened its grants and every cursor."""
        guest = self._guests.get(peer_id)
        if guest is None:
            return
        guest.send = send
        reason = ControlReason.CURRENT if self.available else ControlReason.UNAVAILABLE
        self._send_state(guest, reason)
        snapshot = [self._cursor(other) for other in self._guests.values() if other is not guest]
        if self._host_position is not None:
            snapshot.append(self._host_cursor())
        for start in range(0, len(snapshot), MAX_CURSORS_PER_MESSAGE):
            send(Cursors(cursors=snapshot[start : start + MAX_CURSORS_PER_MESSAGE]))

    def channel_closed(self, peer_id: str) -> None:
        """Release what a disconnected guest held, keeping its grants for a reconnect."""
        guest = self._guests.get(peer_id)
        if guest is None:
            return
        guest.send = None
        self._release_input(guest, pointer=True, keyboard=True)
        if guest.position is not None:
            guest.position = None
            guest.cursor_dirty = True

    # Messages from guests

    def handle(self, peer_id: str, message: GuestMessage) -> None:
        guest = self._guests.get(peer_id)
        if guest is None:
            return
        if not guest.bucket.take(self._clock()):
            self.reject(peer_id, "rate limit exceeded")
            return
        match message:
            case PointerMove():
                self._pointer_move(guest, message)
            case PointerLeave():
                guest.position = None
                guest.cursor_dirty = True
            case Button():
                self._button(guest, message)
            case Wheel():
                self._wheel(guest, message)
            case Key():
                self._key(guest, message)
            case ControlRequest():
                self._request(guest, message)
            case ControlRelease():
                self._apply(self.grants.release(peer_id))
            case Hello() | VersionError():
                pass

    def reject(self, peer_id: str, why: str) -> None:
        """Count input that was not injected; the first of each kind is logged at once."""
        guest = self._guests.get(peer_id)
        if guest is None:
            return
        guest.rejected[why] += 1
        if guest.rejected[why] == 1:
            logger.warning(
                "peer %s: rejected input (%s); further rejections are summed up every %g s",
                peer_id,
                why,
                REJECTION_REPORT_INTERVAL,
            )

    def rejected(self, peer_id: str) -> Counter[str]:
        guest = self._guests.get(peer_id)
        return Counter(guest.rejected) if guest is not None else Counter()

    def _pointer_move(self, guest: _Guest, message: PointerMove) -> None:
        guest.position = (_clamp(message.x), _clamp(message.y))
        guest.cursor_dirty = True
        if self.grants.allows(guest.peer_id, Capability.POINTER) and self._injector is not None:
            self._submit(self._injector.move, *self._pixels(guest.position))

    def _button(self, guest: _Guest, message: Button) -> None:
        if not self._permitted(guest, Capability.POINTER):
            return
        assert self._injector is not None
        injector = self._injector
        guest.position = (_clamp(message.x), _clamp(message.y))
        guest.cursor_dirty = True
        button = MouseButton(message.button)
        if message.down == (button in guest.buttons):
            return
        # The pointer goes to this guest's position first: with two guests in
        # control, each click lands where its own guest pointed.
        self._submit(injector.move, *self._pixels(guest.position))
        if message.down:
            guest.buttons.add(button)
            self._button_refs[button] += 1
            if self._button_refs[button] == 1:
                self._submit(injector.press_button, button)
        else:
            guest.buttons.discard(button)
            self._release_button_ref(button)

    def _wheel(self, guest: _Guest, message: Wheel) -> None:
        if not self._permitted(guest, Capability.POINTER):
            return
        assert self._injector is not None
        guest.position = (_clamp(message.x), _clamp(message.y))
        guest.cursor_dirty = True
        self._submit(self._injector.move, *self._pixels(guest.position))
        if message.dx or message.dy:
            self._submit(self._injector.scroll, message.dx, message.dy)

    def _key(self, guest: _Guest, message: Key) -> None:
        if not self._permitted(guest, Capability.KEYBOARD):
            return
        assert self._injector is not None
        action = guest.keyboard.handle(message.code, message.key, message.down, message.repeat)
        match action:
            case Press(name):
                self._key_refs[name] += 1
                if self._key_refs[name] == 1:
                    self._submit_key(guest.peer_id, self._injector.press_key, name)
            case Release(name):
                self._release_key_ref(name)
            case Type(character):
                self._submit_key(guest.peer_id, self._injector.type_character, character)
            case Reject(why):
                self.reject(guest.peer_id, why)
            case Ignore():
                pass

    def _permitted(self, guest: _Guest, capability: Capability) -> bool:
        if self._injector is None or not self.grants.allows(guest.peer_id, capability):
            self.reject(guest.peer_id, f"no {capability.value} grant")
            return False
        return True

    def _request(self, guest: _Guest, message: ControlRequest) -> None:
        wanted = frozenset(
            capability
            for capability, asked in (
                (Capability.POINTER, message.pointer),
                (Capability.KEYBOARD, message.keyboard),
            )
            if asked
        )
        if not wanted:
            return
        if self._injector is None:
            self._send_state(guest, ControlReason.UNAVAILABLE)
            return
        if guest.question is not None and guest.question.open:
            self._send_state(guest, ControlReason.PENDING)
            return
        change = self.grants.request(guest.peer_id, wanted, self._clock())
        self._apply(change)
        if change.reason is not ControlReason.PENDING:
            return

        console = self._console
        if console is None or console.closed:
            self._output.warning(
                f"{guest.name} asked for control, but this terminal cannot answer: standard "
                "input is closed. Start with --allow-control to allow every guest."
            )
            self._answer(guest.peer_id, False)
            return
        timeout = self.grants.request_timeout
        guest.question = console.ask(
            f"{guest.name} (peer {guest.peer_id}) asks to control your "
            f"{describe(wanted)}. Allow? Type y or n; no answer within {timeout:g} s means no.",
            lambda allow: self._answer(guest.peer_id, allow),
        )

    def _answer(self, peer_id: str, allow: bool) -> None:
        if peer_id not in self._guests:
            return
        change = self.grants.answer(peer_id, allow)
        if change is not None:
            self._apply(change)

    # Grants

    def panic(self) -> None:
        """Take back every grant at once, as the host's panic shortcut does."""
        for change in self.grants.revoke_all(ControlReason.PANIC):
            self._apply(change)
        self._output.notice(
            "Panic shortcut: took back control from every guest. New guests need your permission."
        )

    def _apply(self, change: GrantChange) -> None:
        guest = self._guests.get(change.peer_id)
        if guest is None:
            return
        self._release_input(
            guest,
            pointer=Capability.POINTER in change.lost,
            keyboard=Capability.KEYBOARD in change.lost,
        )
        if not change.pending:
            self._withdraw_question(guest)
        guest.cursor_dirty = True
        self._send_state(guest, change.reason)
        self._announce(change)

    def _announce(self, change: GrantChange) -> None:
        who = f"{change.name} (peer {change.peer_id})"
        match change.reason:
            case ControlReason.GRANTED if change.gained:
                self._output.notice(f"{who} now controls your {describe(change.after)}.")
            case ControlReason.REVOKED | ControlReason.PANIC if change.lost:
                self._output.notice(
                    f"Took back control of your {describe(change.lost)} from {who}."
                )
            case ControlReason.DECLINED:
                self._output.info(f"Declined the request of {who}.")
            case ControlReason.TIMED_OUT:
                self._output.info(
                    f"No answer within {self.grants.request_timeout:g} s: "
                    f"declined the request of {who}."
                )
            case ControlReason.RELEASED if change.lost:
                self._output.info(f"{who} gave back control of your {describe(change.lost)}.")
            case _:
                pass

    def _send_state(self, guest: _Guest, reason: ControlReason) -> None:
        if guest.send is None:
            return
        grants = self.grants.get(guest.peer_id)
        guest.send(
            ControlState(
                pointer=Capability.POINTER in grants.granted,
                keyboard=Capability.KEYBOARD in grants.granted,
                pending=grants.pending,
                reason=reason,
            )
        )

    def _withdraw_question(self, guest: _Guest) -> None:
        if guest.question is not None and self._console is not None:
            self._console.withdraw(guest.question)
        guest.question = None

    # Injection

    def _submit(self, function: Callable[..., T], *args: Any) -> Future[T] | None:
        if self._injector is None:
            return None
        future = self._executor.submit(function, *args)
        future.add_done_callback(self._failures.log)
        return future

    def _submit_key(self, peer_id: str, function: Callable[[str], Injected], value: str) -> None:
        future = self._submit(function, value)
        loop = self._loop
        if future is None or loop is None:
            return

        def done(finished: Future[Injected]) -> None:
            if finished.cancelled() or finished.exception() is not None:
                return
            result = finished.result()
            if result is Injected.RESERVED:
                loop.call_soon_threadsafe(self.reject, peer_id, "panic shortcut keys")
            elif result is Injected.UNMAPPED:
                loop.call_soon_threadsafe(self.reject, peer_id, "key missing from the keymap")

        future.add_done_callback(done)

    def _release_input(self, guest: _Guest, pointer: bool, keyboard: bool) -> None:
        if keyboard:
            for name in guest.keyboard.release_all():
                self._release_key_ref(name)
        if pointer:
            for button in sorted(guest.buttons):
                self._release_button_ref(button)
            guest.buttons.clear()

    def _release_key_ref(self, name: str) -> None:
        if self._key_refs[name] <= 0:
            return
        self._key_refs[name] -= 1
        if self._key_refs[name] == 0 and self._injector is not None:
            del self._key_refs[name]
            self._submit(self._injector.release_key, name)

    def _release_button_ref(self, button: MouseButton) -> None:
        if self._button_refs[button] <= 0:
            return
        self._button_refs[button] -= 1
        if self._button_refs[button] == 0 and self._injector is not None:
            del self._button_refs[button]
            self._submit(self._injector.release_button, button)

    def _pixels(self, position: tuple[float, float]) -> tuple[int, int]:
        region = self._region
        x = region.left + min(region.width - 1, int(position[0] * region.width))
        y = region.top + min(region.height - 1, int(position[1] * region.height))
        return x, y

    # Cursors and housekeeping

    async def _tick(self) -> None:
        last_maintain = last_report = self._clock()
        while True:
            await asyncio.sleep(CURSOR_INTERVAL)
            now = self._clock()
            for change in self.grants.expire(now):
                self._apply(change)
            watched = any(guest.send is not None for guest in self._guests.values())
            if watched and self._pointer_schedule.due(now):
                await self._poll_host_pointer(now)
            self._flush_cursors()
            if now - last_maintain >= MAINTAIN_INTERVAL and self._injector is not None:
                self._submit(self._injector.maintain)
                last_maintain = now
            if now - last_report >= REJECTION_REPORT_INTERVAL:
                self._report_rejections()
                last_report = now

    async def _poll_host_pointer(self, now: float) -> None:
        if self._injector is None:
            return
        future = self._submit(self._injector.pointer_position)
        if future is None:
            return
        try:
            pixels = await asyncio.wrap_future(future)
        except Exception:  # logged by the future's callback
            self._pointer_schedule.looked(now, moved=False)
            return
        position = None
        region = self._region
        if pixels is not None:
            x, y = pixels[0] - region.left, pixels[1] - region.top
            if 0 <= x < region.width and 0 <= y < region.height:
                position = ((x + 0.5) / region.width, (y + 0.5) / region.height)
        moved = position != self._host_position
        self._pointer_schedule.looked(now, moved)
        if moved:
            self._host_position = position
            self._host_dirty = True

    def _flush_cursors(self) -> None:
        changed = [self._cursor(guest) for guest in self._guests.values() if guest.cursor_dirty]
        for guest in self._guests.values():
            guest.cursor_dirty = False
        if self._host_dirty:
            changed.append(self._host_cursor())
            self._host_dirty = False
        removed, self._removed = self._removed, []
        if not changed and not removed:
            return
        for guest in self._guests.values():
            if guest.send is None:
                continue
            others = [cursor for cursor in changed if cursor.id != guest.peer_id]
            if not others and not removed:
                continue
            for start in range(0, max(len(others), 1), MAX_CURSORS_PER_MESSAGE):
                guest.send(
                    Cursors(
                        cursors=others[start : start + MAX_CURSORS_PER_MESSAGE],
                        removed=removed[:MAX_CURSORS_PER_MESSAGE] if start == 0 else [],
                    )
                )

    def _cursor(self, guest: _Guest) -> Cursor:
        x, y = guest.position if guest.position is not None else (None, None)
        control = bool(self.grants.get(guest.peer_id).granted)
        return Cursor(
            id=guest.peer_id,
            name=guest.name,
            role="guest",
            colour=guest.colour,
            x=x,
            y=y,
            control=control,
        )

    def _host_cursor(self) -> Cursor:
        x, y = self._host_position if self._host_position is not None else (None, None)
        return Cursor(id=HOST_CURSOR_ID, name=self._host_name, role="host", colour=0, x=x, y=y)

    def _report_rejections(self) -> None:
        for guest in self._guests.values():
            total = sum(guest.rejected.values())
            if total > guest.reported:
                counts = ", ".join(f"{why}: {count}" for why, count in guest.rejected.items())
                logger.warning(
                    "peer %s: %d input events rejected so far (%s)", guest.peer_id, total, counts
                )
                guest.reported = total

    # Console commands

    def _register_commands(self, console: Console) -> None:
        console.add_command(
            Command("guests", "/guests", "list guests and their grants", self._cmd_guests)
        )
        console.add_command(
            Command(
                "grant",
                "/grant NAME|all [pointer|keyboard]",
                "let a guest, or every guest here, control your pointer and keyboard",
                self._cmd_grant,
            )
        )
        console.add_command(
            Command(
                "revoke",
                "/revoke NAME|all [pointer|keyboard]",
                "take control back from a guest, or from everyone",
                self._cmd_revoke,
            )
        )
        console.add_command(
            Command("deny", "/deny NAME", "decline a guest's request for control", self._cmd_deny)
        )

    def _cmd_guests(self, _arguments: list[str]) -> None:
        rows = []
        for grants in self.grants.guests():
            guest = self._guests.get(grants.peer_id)
            rejected = sum(guest.rejected.values()) if guest is not None else 0
            rows.append(
                (
                    grants.name,
                    grants.peer_id,
                    describe(grants.granted),
                    "waiting for you" if grants.pending else "",
                    str(rejected),
                )
            )
        if not rows:
            self._output.info("No guests yet.")
            return
        self._output.table(("guest", "peer", "controls", "request", "rejected input"), rows)

    def _cmd_grant(self, arguments: list[str]) -> None:
        parsed = self._parse_target(arguments, "/grant")
        if parsed is None:
            return
        targets, capabilities = parsed
        if self._injector is None:
            self._output.warning(f"Cannot grant control: {self._unavailable}")
            return
        for grants in targets:
            change = self.grants.grant(grants.peer_id, capabilities)
            self._apply(change)
            if not change.gained:
                self._output.info(f"{grants.name} already controls your {describe(change.after)}.")

    def _cmd_revoke(self, arguments: list[str]) -> None:
        if arguments[:1] == ["all"] and len(arguments) == 1:
            for change in self.grants.revoke_all():
                self._apply(change)
            self._output.notice("Took back every grant. New guests need your permission.")
            return
        parsed = self._parse_target(arguments, "/revoke")
        if parsed is None:
            return
        targets, capabilities = parsed
        for grants in targets:
            change = self.grants.revoke(grants.peer_id, capabilities)
            self._apply(change)
            if not change.lost:
                self._output.info(f"{grants.name} controls nothing of yours.")

    def _cmd_deny(self, arguments: list[str]) -> None:
        if len(arguments) != 1:
            self._output.warning("Usage: /deny NAME")
            return
        target = self._resolve(arguments[0])
        if target is None:
            return
        if not target.pending:
            self._output.info(f"{target.name} has no request waiting.")
            return
        self._answer(target.peer_id, False)

    def _parse_target(
        self, arguments: list[str], usage: str
    ) -> tuple[list[GuestGrants], frozenset[Capability]] | None:
        if not 1 <= len(arguments) <= 2:
            self._output.warning(f"Usage: {usage} NAME|all [pointer|keyboard]")
            return None
        capabilities = ALL_CAPABILITIES
        if len(arguments) == 2:
            try:
                capabilities = frozenset({Capability(arguments[1].lower())})
            except ValueError:
                self._output.warning(
                    f"Unknown capability {arguments[1]!r}; expected pointer or keyboard."
                )
                return None
        if arguments[0] == "all":
            targets = self.grants.guests()
            if not targets:
                self._output.info("No guests yet.")
            return targets, capabilities
        target = self._resolve(arguments[0])
        return ([target], capabilities) if target is not None else None

    def _resolve(self, query: str) -> GuestGrants | None:
        found = self.grants.find(query)
        if len(found) == 1:
            return found[0]
        everyone = ", ".join(f"{g.name} (peer {g.peer_id})" for g in self.grants.guests())
        if not found:
            self._output.warning(f"No guest named {query!r}. Guests: {everyone or 'none'}.")
        else:
            self._output.warning(
                f"{len(found)} guests are named {query!r}; use a peer id instead: {everyone}."
            )
        return None


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    with contextlib.suppress(RuntimeError):  # the loop closed while the host quits
        loop.call_soon_threadsafe(callback)


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


class _FailureLog:
    """The log of failed injections: a closed display once, any other error each time."""

    def __init__(self) -> None:
        self._display_closed = False

    def log(self, future: Future[Any]) -> None:
        if future.cancelled():
            return
        error = future.exception()
        if error is None:
            return
        if not display_closed(error):
            logger.error("input injection failed", exc_info=error)
        elif not self._display_closed:
            self._display_closed = True
            logger.warning("input injection stopped: the X display closed")
