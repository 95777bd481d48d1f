"""The host's command console: lines typed in the terminal running `pairview share`.

A line whose first character is "/" runs a command (`/help` lists them), and
"//" at the start sends the rest of the line, from its second "/", to the
chat. Features add their own commands with `add_command`. A yes-or-no
question, such as a guest asking for control, takes the next "y" or "n"
line; questions wait in turn, oldest first. Any other line, including one
that starts with spaces before a "/", goes to the text handler, if a feature
set one, with the spaces around it trimmed.

Standard input is read on a thread of its own, so that a terminal left in
blocking mode stays so for the shell after the host app exits. On a terminal,
Ctrl-D on an empty line reads as end of file: the console prints that Ctrl-D
does not end the room and keeps reading, and waiting questions stay waiting.
When standard input is not a terminal, its end stops the console: it prints
the reason once, and every waiting question gets the answer no.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import logging
import shlex
import sys
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from pairview.host.output import ShareOutput

logger = logging.getLogger(__name__)

CommandHandler = Callable[[list[str]], Awaitable[None] | None]
TextHandler = Callable[[str], Awaitable[None] | None]
YES = frozenset({"y", "yes"})
NO = frozenset({"n", "no"})

HELP_NOTES = (
    "Lines that do not start with / go to the chat, with the spaces around them trimmed.",
    "Start a line with // to send it to the chat with one / removed: //usr/bin sends /usr/bin.",
    "When a question is waiting, answer it with y or n.",
    'Quote a path or name that contains spaces: /send "/tmp/my file.txt".',
    "Ctrl-D does not end the room. Press Ctrl-C to end it.",
)
TERMINAL_EOF_NOTE = (
    "Ctrl-D does not end the room, and the console keeps reading. Press Ctrl-C to end the room."
)
INPUT_ENDED_NOTE = (
    "From now on the console reads no commands or chat from this terminal, and it declines "
    "file offers and control requests. Press Ctrl-C to end the room."
)


class LineSource(Protocol):
    """A text stream that the console reads lines from, such as standard input."""

    def readline(self) -> str: ...

    def isatty(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    usage: str
    summary: str
    run: CommandHandler


class Question:
    """A yes-or-no question waiting for the host's answer in the console."""

    def __init__(self, text: str, on_answer: Callable[[bool], None]) -> None:
        self.text = text
        self.on_answer = on_answer
        self.open = True


@dataclass
class TerminalEofLimit:
    """The limit on ends of file from a terminal, past which the console takes it as closed.

    Ctrl-D on an empty line makes one read return end of file, but a terminal
    whose other side is gone can return it at once on every read. The reader
    pauses `pause` seconds after each end of file, and `count` of them within
    `window` seconds, with no line between them, mean a closed terminal. With
    the defaults that takes about a second of reads.
    """

    # NOTE: a person holding Ctrl-D down, so that the key repeats, can reach
    # the limit as well, and then the console stops reading.

    count: int = 20
    window: float = 2.0
    pause: float = 0.05
    clock: Callable[[], float] = time.monotonic
    _recent: deque[float] = field(default_factory=deque, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"count must be at least 1, got {self.count}")
        if self.window <= 0:
            raise ValueError(f"window must be a positive number of seconds, got {self.window}")
        if self.pause < 0:
            raise ValueError(f"pause must be zero or more seconds, got {self.pause}")

    def record_eof(self) -> bool:
        """Record one end of file, and return True once the recent ones mean a closed terminal."""
        now = self.clock()
        self._recent.append(now)
        while self._recent and now - self._recent[0] > self.window:
            self._recent.popleft()
        return len(self._recent) >= self.count

    def record_line(self) -> None:
        self._recent.clear()


class _Signal(enum.Enum):
    """An event from the reader thread other than a line."""

    TERMINAL_EOF = enum.auto()
    END_OF_FILE = enum.auto()
    REPEATED_EOF = enum.auto()
    READ_FAILED = enum.auto()
    NO_INPUT = enum.auto()


class Console:
    def __init__(self, output: ShareOutput, *, eof_limit: TerminalEofLimit | None = None) -> None:
        self._output = output
        self._eof_limit = eof_limit if eof_limit is not None else TerminalEofLimit()
        self._commands: dict[str, Command] = {}
        self._questions: deque[Question] = deque()
        self._text_handler: TextHandler | None = None
        self.closed = False
        self._read_error = ""
        self.add_command(
            Command(
                "help", "/help [COMMAND]", "list the commands, or show how to use one", self._help
            )
        )

    def add_command(self, command: Command) -> None:
        if command.name in self._commands:
            raise ValueError(f"console command /{command.name} is already defined")
        self._commands[command.name] = command

    def set_text_handler(self, handler: TextHandler | None) -> None:
        """Send lines that are neither commands nor answers to `handler`."""
        self._text_handler = handler

    def ask(self, text: str, on_answer: Callable[[bool], None]) -> Question:
        """Ask a yes-or-no question; `on_answer` gets the host's answer unless withdrawn."""
        question = Question(text, on_answer)
        self._prune()
        self._questions.append(question)
        if len(self._questions) == 1:
            self._output.question(text)
        return question

    def withdraw(self, question: Question) -> None:
        """Stop waiting for an answer, for example when the question no longer applies."""
        was_first = bool(self._questions) and self._questions[0] is question
        question.open = False
        self._prune()
        if not was_first:
            return
        if self._questions:
            self._output.question(self._questions[0].text)
        else:
            # Otherwise a "y" typed a moment late would go to the chat unannounced.
            self._output.info("No answer is needed any more: lines you type go to the chat again.")

    async def run(self, stream: LineSource | None = None) -> None:
        """Read and handle lines until input ends for good, or until cancellation.

        End of file on a terminal (`stream.isatty()`) only prints a note,
        unless it repeats as `TerminalEofLimit` describes.
        """
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[str | _Signal] = asyncio.Queue()
        source = stream if stream is not None else sys.stdin
        if source is None:  # started with standard input closed, as by `<&-`
            self._stop_reading(_Signal.NO_INPUT)
            return
        terminal = _is_terminal(source)

        def report(event: str | _Signal) -> None:
            loop.call_soon_threadsafe(events.put_nowait, event)

        threading.Thread(
            target=self._read, args=(source, terminal, report), name="pairview-console", daemon=True
        ).start()
        while True:
            event = await events.get()
            if event is _Signal.TERMINAL_EOF:
                self._remind_after_eof()
            elif isinstance(event, _Signal):
                self._stop_reading(event)
                return
            else:
                try:
                    await self.handle_line(event)
                except Exception:
                    logger.exception("console command failed")
                    self._output.error("That command failed; the details are in the log.")

    def _read(
        self, source: LineSource, terminal: bool, report: Callable[[str | _Signal], None]
    ) -> None:
        """Pass lines from `source` to `report`, then the reason that reading stopped."""
        limit = self._eof_limit
        try:
            while True:
                line = source.readline()
                if line:
                    limit.record_line()
                    report(line)
                elif not terminal:
                    report(_Signal.END_OF_FILE)
                    return
                elif limit.record_eof():
                    report(_Signal.REPEATED_EOF)
                    return
                else:
                    report(_Signal.TERMINAL_EOF)
                    # Bounds the reads of a terminal that returns end of file at once.
                    time.sleep(limit.pause)
        except (OSError, ValueError) as error:
            logger.info("console input stopped: %s", error)
            self._read_error = str(error)
            report(_Signal.READ_FAILED)

    def _remind_after_eof(self) -> None:
        self._output.warning(TERMINAL_EOF_NOTE)
        self._prune()
        if self._questions:
            self._output.question(f"Still waiting: {self._questions[0].text}")

    def _stop_reading(self, reason: _Signal) -> None:
        """Mark the console closed, print the reason, and answer no to every waiting question."""
        if reason is _Signal.REPEATED_EOF:
            cause = (
                f"The terminal reported end of file {self._eof_limit.count} times within "
                f"{self._eof_limit.window:g} s, so the console stopped reading it."
            )
        elif reason is _Signal.READ_FAILED:
            cause = (
                f"Reading standard input failed ({self._read_error}), "
                "so the console stopped reading it."
            )
        elif reason is _Signal.NO_INPUT:
            cause = "The host app has no standard input."
        else:
            cause = "Standard input ended."
        self.closed = True
        self._output.warning(f"{cause} {INPUT_ENDED_NOTE}")
        for question in self._questions:
            if question.open:
                question.open = False
                question.on_answer(False)
        self._questions.clear()

    async def handle_line(self, line: str) -> None:
        text = line.rstrip()
        if not text.strip():
            return
        if text.startswith("//"):
            await self._send_text(text[1:])
            return
        if text.startswith("/"):
            await self._run_command(text)
            return
        text = text.strip()
        self._prune()
        if self._questions and text.lower() in YES | NO:
            question = self._questions.popleft()
            question.open = False
            question.on_answer(text.lower() in YES)
            self._prune()
            if self._questions:
                self._output.question(self._questions[0].text)
            return
        await self._send_text(text)

    async def _send_text(self, text: str) -> None:
        self._prune()
        if self._text_handler is not None:
            await _maybe_await(self._text_handler(text))
        elif self._questions:
            self._output.warning(f"Answer y or n to: {self._questions[0].text}")
        else:
            self._output.warning(f"Unknown input {text!r}; type /help for the commands.")

    async def _run_command(self, text: str) -> None:
        if text == "/" or text[1].isspace():
            self._output.warning(
                "A command name must follow the / directly, as in /help. "
                "To send a line starting with / to the chat, start it with //."
            )
            return
        parts = text.split(maxsplit=1)
        word = parts[0]
        rest = parts[1] if len(parts) > 1 else ""
        command = self._commands.get(word[1:].lower())
        if command is None:
            self._output.warning(
                f"Unknown command {word!r}. Type /help for the commands, "
                "or start the line with // to send it to the chat."
            )
            return
        try:
            arguments = shlex.split(rest)
        except ValueError as error:
            self._output.warning(f"Cannot read {text!r}: {error}.")
            return
        await _maybe_await(command.run(arguments))

    def _prune(self) -> None:
        while self._questions and not self._questions[0].open:
            self._questions.popleft()

    def _help(self, arguments: list[str]) -> None:
        if len(arguments) > 1:
            self._output.warning(
                f"/help takes one command name at most, but got {len(arguments)}: "
                f"{' '.join(arguments)!r}."
            )
            return
        if arguments:
            name = arguments[0]
            command = self._commands.get(name.removeprefix("/").lower())
            if command is None:
                names = ", ".join(f"/{known}" for known in self._commands)
                self._output.warning(f"Unknown command {name!r}. The commands are {names}.")
                return
            self._output.table(("command", "what it does"), [(command.usage, command.summary)])
            return
        rows = [(command.usage, command.summary) for command in self._commands.values()]
        self._output.table(("command", "what it does"), rows)
        for note in HELP_NOTES:
            self._output.info(note)


def _is_terminal(stream: LineSource) -> bool:
    try:
        return stream.isatty()
    except (OSError, ValueError):  # a closed or detached stream
        return False


async def _maybe_await(result: Awaitable[None] | None) -> None:
    if inspect.isawaitable(result):
        await result
