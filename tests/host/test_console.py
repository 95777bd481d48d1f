"""The host's command console: commands, yes-or-no questions and end of input."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
from collections import deque
from collections.abc import Callable, Iterator
from typing import TextIO

import pytest
from rich.console import Console as RichConsole

from pairview.host.console import Command, Console, TerminalEofLimit
from pairview.host.output import ShareOutput


class ScriptedTerminal:
    """A terminal that returns the given reads in order: "" is one Ctrl-D on an empty line."""

    def __init__(self, reads: list[str]) -> None:
        self._reads = deque(reads)

    def isatty(self) -> bool:
        return True

    def readline(self) -> str:
        if not self._reads:
            raise OSError("the scripted terminal has no more reads")
        return self._reads.popleft()

    def __iter__(self) -> Iterator[str]:
        # Like a file object: iteration stops at the first end of file.
        return iter(self.readline, "")


async def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait, polling, until `condition()` is true; fail after `timeout` seconds."""
    async with asyncio.timeout(timeout):
        # The condition turns true once the console's reader thread delivers a line.
        while not condition():  # noqa: ASYNC110 - nothing here can set an event
            await asyncio.sleep(0.01)


@pytest.fixture
def text() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def console(text: io.StringIO) -> Console:
    return Console(ShareOutput(RichConsole(file=text, width=200, highlight=False)))


async def test_commands_are_pluggable(console: Console, text: io.StringIO) -> None:
    received: list[list[str]] = []
    console.add_command(Command("send", "/send PATH", "send a file", received.append))
    await console.handle_line('/send "My File.txt"\n')
    await console.handle_line("/SEND other")
    assert received == [["My File.txt"], ["other"]]
    await console.handle_line("/help")
    assert "/send PATH" in text.getvalue()
    assert "send a file" in text.getvalue()


async def test_duplicate_command_rejected(console: Console) -> None:
    with pytest.raises(ValueError, match="/help is already defined"):
        console.add_command(Command("help", "/help", "again", lambda _: None))


async def test_unknown_and_unreadable_commands(console: Console, text: io.StringIO) -> None:
    received: list[list[str]] = []
    console.add_command(Command("send", "/send PATH", "send a file", received.append))
    await console.handle_line("/frobnicate")
    await console.handle_line('/send "unclosed')
    await console.handle_line("hello there")
    shown = text.getvalue()
    assert "Unknown command '/frobnicate'. Type /help for the commands" in shown
    assert "Cannot read '/send \"unclosed'" in shown
    assert "Unknown input 'hello there'" in shown
    assert received == []


async def test_questions_answered_in_turn(console: Console, text: io.StringIO) -> None:
    answers: list[tuple[str, bool]] = []
    console.ask("First?", lambda allow: answers.append(("first", allow)))
    console.ask("Second?", lambda allow: answers.append(("second", allow)))
    assert "First?" in text.getvalue()
    assert "Second?" not in text.getvalue()
    await console.handle_line("maybe")
    assert "Answer y or n to: First?" in text.getvalue()
    await console.handle_line("YES")
    assert "Second?" in text.getvalue()
    await console.handle_line("n")
    await console.handle_line("y")
    assert answers == [("first", True), ("second", False)]


async def test_withdrawn_question_passes_turn(console: Console, text: io.StringIO) -> None:
    answers: list[bool] = []
    first = console.ask("First?", answers.append)
    console.ask("Second?", answers.append)
    console.withdraw(first)
    assert "Second?" in text.getvalue()
    await console.handle_line("y")
    assert answers == [True]


async def test_withdrawn_last_question_announced(console: Console, text: io.StringIO) -> None:
    answers: list[bool] = []
    lines: list[str] = []
    console.set_text_handler(lines.append)
    waiting = console.ask("Accept?", answers.append)
    console.withdraw(waiting)
    console.withdraw(waiting)
    await console.handle_line("y")
    output = text.getvalue()
    assert output.count("No answer is needed any more") == 1
    assert answers == []
    assert lines == ["y"]


async def test_withdrawn_waiting_question_silent(console: Console, text: io.StringIO) -> None:
    answers: list[bool] = []
    console.ask("First?", answers.append)
    second = console.ask("Second?", answers.append)
    console.withdraw(second)
    await console.handle_line("n")
    assert "No answer is needed" not in text.getvalue()
    assert answers == [False]


async def test_text_handler_gets_plain_lines(console: Console) -> None:
    lines: list[str] = []
    console.set_text_handler(lines.append)
    await console.handle_line("  hi all \n")
    await console.handle_line("")
    assert lines == ["hi all"]


async def test_end_of_input_declines_questions(console: Console) -> None:
    answers: list[bool] = []
    console.ask("Allow?", answers.append)
    await console.run(io.StringIO("/help\n"))
    assert console.closed
    assert answers == [False]


async def test_end_of_input_message_once(console: Console, text: io.StringIO) -> None:
    answers: list[bool] = []
    console.ask("Allow?", answers.append)
    await console.run(io.StringIO("hello\n"))
    shown = text.getvalue()
    assert shown.count("Standard input ended.") == 1
    assert "declines file offers and control requests" in shown
    assert "Ctrl-D does not end the room" not in shown
    assert answers == [False]


async def test_missing_stdin_message_once(
    console: Console, text: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", None)
    answers: list[bool] = []
    console.ask("Allow?", answers.append)
    await console.run()
    shown = text.getvalue()
    assert console.closed
    assert shown.count("The host app has no standard input.") == 1
    assert answers == [False]


async def test_terminal_eof_keeps_reading(text: io.StringIO) -> None:
    limit = TerminalEofLimit(count=3, window=60.0, pause=0.0)
    console = Console(
        ShareOutput(RichConsole(file=text, width=200, highlight=False)), eof_limit=limit
    )
    answers: list[bool] = []
    lines: list[str] = []
    console.set_text_handler(lines.append)
    console.ask("Allow?", answers.append)
    await console.run(ScriptedTerminal(["", "hello\n", "y\n", "/help\n"]))
    shown = text.getvalue()
    assert answers == [True]
    assert lines == ["hello"]
    assert shown.count("Ctrl-D does not end the room, and the console keeps reading.") == 1
    assert "Still waiting: Allow?" in shown
    assert "list the commands" in shown
    assert shown.count("Reading standard input failed") == 1


async def test_terminal_eof_burst_closes(text: io.StringIO) -> None:
    limit = TerminalEofLimit(count=3, window=60.0, pause=0.0)
    console = Console(
        ShareOutput(RichConsole(file=text, width=200, highlight=False)), eof_limit=limit
    )
    answers: list[bool] = []
    console.ask("Allow?", answers.append)
    # A line between two ends of file starts the count again.
    await console.run(ScriptedTerminal(["", "", "x\n", "", "", "", "never read\n"]))
    shown = text.getvalue()
    assert console.closed
    assert answers == [False]
    assert shown.count("Ctrl-D does not end the room, and the console keeps reading.") == 4
    assert shown.count("reported end of file 3 times within 60 s") == 1
    assert "never read" not in shown


def test_eof_limit_counts_within_window() -> None:
    now = [0.0]
    limit = TerminalEofLimit(count=3, window=2.0, pause=0.0, clock=lambda: now[0])
    results = []
    for moment in (0.0, 1.5, 3.0, 4.0, 4.5):
        now[0] = moment
        results.append(limit.record_eof())
    assert results == [False, False, False, False, True]
    limit.record_line()
    assert limit.record_eof() is False


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"count": 0}, "count must be at least 1, got 0"),
        ({"window": 0.0}, "window must be a positive number of seconds, got 0.0"),
        ({"pause": -1.0}, "pause must be zero or more seconds, got -1.0"),
    ],
)
def test_eof_limit_rejects_bad_values(arguments: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TerminalEofLimit(**arguments)  # type: ignore[arg-type]


@pytest.fixture
def pseudo_terminal() -> Iterator[tuple[int, TextIO]]:
    """A pseudo-terminal: the descriptor of the side that types, and the side a program reads."""
    if not hasattr(os, "openpty"):
        pytest.skip("this system has no pseudo-terminals")
    primary, secondary = os.openpty()
    with open(secondary, encoding="utf-8") as terminal:
        try:
            yield primary, terminal
        finally:
            with contextlib.suppress(OSError):
                os.close(primary)


async def test_real_terminal_ctrl_d(
    console: Console, text: io.StringIO, pseudo_terminal: tuple[int, TextIO]
) -> None:
    primary, terminal = pseudo_terminal
    answers: list[bool] = []
    console.ask("Allow?", answers.append)
    task = asyncio.create_task(console.run(terminal))

    os.write(primary, b"\x04")  # Ctrl-D on an empty line, in the default canonical mode
    await wait_until(lambda: "Ctrl-D does not end the room" in text.getvalue())
    assert not console.closed
    os.write(primary, b"y\n")
    await wait_until(lambda: answers != [])
    assert answers == [True]

    # Closing the typing side makes reads of the terminal fail, which ends the console.
    os.close(primary)
    await asyncio.wait_for(task, timeout=10.0)
    assert console.closed
    assert "Reading standard input failed" in text.getvalue()


@pytest.mark.parametrize(
    ("typed", "sent"),
    [
        ("//usr/bin is the path\n", "/usr/bin is the path"),
        ("//\n", "/"),
        ("// spaced \n", "/ spaced"),
        (" /usr/bin\n", "/usr/bin"),
        ("\t/help me\n", "/help me"),
    ],
)
async def test_slash_lines_go_to_chat(console: Console, typed: str, sent: str) -> None:
    lines: list[str] = []
    console.set_text_handler(lines.append)
    await console.handle_line(typed)
    assert lines == [sent]


async def test_double_slash_is_no_answer(console: Console) -> None:
    answers: list[bool] = []
    lines: list[str] = []
    console.set_text_handler(lines.append)
    console.ask("Allow?", answers.append)
    await console.handle_line("//y")
    assert lines == ["/y"]
    assert answers == []


@pytest.mark.parametrize("typed", ["/", "/ alone", "/\tusr", "/  \n"])
async def test_slash_without_name(console: Console, text: io.StringIO, typed: str) -> None:
    lines: list[str] = []
    console.set_text_handler(lines.append)
    await console.handle_line(typed)
    shown = text.getvalue()
    assert "A command name must follow the / directly, as in /help." in shown
    assert "start it with //" in shown
    assert "Unknown command" not in shown
    assert lines == []


@pytest.mark.parametrize(
    ("typed", "word"),
    [
        ("/usr/bin is the path", "'/usr/bin'"),
        ("/Frobnicate now", "'/Frobnicate'"),
        ('/"send" x', "'/\"send\"'"),
        ("/sendx\tfile", "'/sendx'"),
    ],
)
async def test_unknown_command_quotes_typed(
    console: Console, text: io.StringIO, typed: str, word: str
) -> None:
    await console.handle_line(typed)
    shown = text.getvalue()
    assert f"Unknown command {word}." in shown
    assert "start the line with // to send it to the chat" in shown


def help_console(text: io.StringIO) -> Console:
    console = Console(ShareOutput(RichConsole(file=text, width=200, highlight=False)))
    console.add_command(Command("send", "/send PATH [NAME|all]", "send a file", lambda _: None))
    console.add_command(Command("files", "/files", "list file transfers", lambda _: None))
    return console


async def test_help_explains_chat_and_answers(text: io.StringIO) -> None:
    console = help_console(text)
    await console.handle_line("/help")
    shown = text.getvalue()
    assert "/send PATH [NAME|all]" in shown
    assert "list file transfers" in shown
    assert "Lines that do not start with / go to the chat" in shown
    assert "Start a line with // to send it to the chat with one / removed" in shown
    assert "answer it with y or n" in shown
    assert '/send "/tmp/my file.txt"' in shown
    assert "Ctrl-D does not end the room. Press Ctrl-C to end it." in shown


@pytest.mark.parametrize("typed", ["/help send", "/help /SEND"])
async def test_help_for_one_command(text: io.StringIO, typed: str) -> None:
    console = help_console(text)
    await console.handle_line(typed)
    shown = text.getvalue()
    assert "/send PATH [NAME|all]" in shown
    assert "send a file" in shown
    assert "/files" not in shown
    assert "list the commands" not in shown
    assert "go to the chat" not in shown


async def test_help_unknown_name(text: io.StringIO) -> None:
    console = help_console(text)
    await console.handle_line("/help sned")
    await console.handle_line("/help send files")
    shown = text.getvalue()
    assert "Unknown command 'sned'. The commands are /help, /send, /files." in shown
    assert "/help takes one command name at most, but got 2: 'send files'." in shown
    assert "send a file" not in shown
