"""The host's command console: commands, yes-or-no questions and end of input."""

from __future__ import annotations

import io

import pytest
from rich.console import Console as RichConsole

from pairview.host.console import Command, Console
from pairview.host.output import ShareOutput


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
    await console.handle_line("/frobnicate")
    await console.handle_line('/grant "unclosed')
    await console.handle_line("/")
    await console.handle_line("hello there")
    shown = text.getvalue()
    assert "Unknown command /frobnicate; type /help for the commands." in shown
    assert "Cannot read '/grant \"unclosed'" in shown
    assert "Type a command after /" in shown
    assert "Unknown input 'hello there'" in shown


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
