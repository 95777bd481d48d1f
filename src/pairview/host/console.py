"""The host's command console: lines typed in the terminal running `pairview share`.

A line starting with "/" runs a command (`/help` lists them). Features add
their own commands with `add_command`. A yes-or-no question, such as a
guest asking for control, takes the next "y" or "n" line; questions wait in
turn, oldest first. Any other line goes to the text handler, if a feature
set one.

Standard input is read on a thread of its own, so that a terminal left in
blocking mode stays so for the shell after the host app exits.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import shlex
import sys
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TextIO

from pairview.host.output import ShareOutput

logger = logging.getLogger(__name__)

CommandHandler = Callable[[list[str]], Awaitable[None] | None]
TextHandler = Callable[[str], Awaitable[None] | None]
YES = frozenset({"y", "yes"})
NO = frozenset({"n", "no"})


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


class Console:
    def __init__(self, output: ShareOutput) -> None:
        self._output = output
        self._commands: dict[str, Command] = {}
        self._questions: deque[Question] = deque()
        self._text_handler: TextHandler | None = None
        self.closed = False
        self.add_command(Command("help", "/help", "list the commands", self._help))

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

    async def run(self, stream: TextIO | None = None) -> None:
        """Read and handle lines until end of input or cancellation."""
        loop = asyncio.get_running_loop()
        lines: asyncio.Queue[str | None] = asyncio.Queue()
        source = stream if stream is not None else sys.stdin

        def read() -> None:
            try:
                for line in source:
                    loop.call_soon_threadsafe(lines.put_nowait, line)
            except (OSError, ValueError) as error:
                logger.debug("console input stopped: %s", error)
            finally:
                loop.call_soon_threadsafe(lines.put_nowait, None)

        threading.Thread(target=read, name="pairview-console", daemon=True).start()
        while (line := await lines.get()) is not None:
            try:
                await self.handle_line(line)
            except Exception:
                logger.exception("console command failed")
                self._output.error("That command failed; the details are in the log.")
        self.closed = True
        for question in self._questions:
            if question.open:
                question.open = False
                question.on_answer(False)
        self._questions.clear()

    async def handle_line(self, line: str) -> None:
        text = line.strip()
        if not text:
            return
        if text.startswith("/"):
            await self._run_command(text)
            return
        self._prune()
        if self._questions and text.lower() in YES | NO:
            question = self._questions.popleft()
            question.open = False
            question.on_answer(text.lower() in YES)
            self._prune()
            if self._questions:
                self._output.question(self._questions[0].text)
            return
        if self._text_handler is not None:
            await _maybe_await(self._text_handler(text))
        elif self._questions:
            self._output.warning(f"Answer y or n to: {self._questions[0].text}")
        else:
            self._output.warning(f"Unknown input {text!r}; type /help for the commands.")

    async def _run_command(self, text: str) -> None:
        try:
            words = shlex.split(text[1:])
        except ValueError as error:
            self._output.warning(f"Cannot read {text!r}: {error}.")
            return
        if not words:
            self._output.warning("Type a command after /, such as /help.")
            return
        command = self._commands.get(words[0].lower())
        if command is None:
            self._output.warning(f"Unknown command /{words[0]}; type /help for the commands.")
            return
        await _maybe_await(command.run(words[1:]))

    def _prune(self) -> None:
        while self._questions and not self._questions[0].open:
            self._questions.popleft()

    def _help(self, _arguments: list[str]) -> None:
        rows = [(command.usage, command.summary) for command in self._commands.values()]
        self._output.table(("command", "what it does"), rows)


async def _maybe_await(result: Awaitable[None] | None) -> None:
    if inspect.isawaitable(result):
        await result
