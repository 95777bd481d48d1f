"""The host terminal's output: progress of transfers, sizes and reasons."""

from __future__ import annotations

import io

from rich.console import Console as RichConsole

from pairview.host.output import ShareOutput, size_text, size_texts, with_reason

MB = 1000 * 1000


def output_to(text: io.StringIO, terminal: bool) -> ShareOutput:
    console = RichConsole(file=text, width=200, highlight=False, force_terminal=terminal)
    return ShareOutput(console)


def test_progress_off_terminal_is_quarter_lines() -> None:
    text = io.StringIO()
    output = output_to(text, terminal=False)
    output.progress_start("send-1", "report.pdf to Ana\x1b", 100 * MB)
    for megabytes in (10, 20, 30, 60, 70, 99, 100):
        output.progress_update("send-1", megabytes * MB)
    output.progress_stop("send-1")
    output.progress_update("send-1", 100 * MB)
    lines = text.getvalue().splitlines()
    # One line for each quarter passed, the last one before the end, and none after the stop.
    assert len(lines) == 3
    assert lines[0].endswith("report.pdf to Ana\ufffd: 30.0 MB of 100.0 MB (30%)")
    assert lines[1].endswith("report.pdf to Ana\ufffd: 60.0 MB of 100.0 MB (60%)")
    assert lines[2].endswith("report.pdf to Ana\ufffd: 99.0 MB of 100.0 MB (99%)")


def test_progress_off_terminal_skips_empty_file() -> None:
    text = io.StringIO()
    output = output_to(text, terminal=False)
    output.progress_start("send-2", "empty.txt to Ana", 0)
    output.progress_update("send-2", 0)
    output.progress_stop("send-2")
    assert text.getvalue() == ""


def test_progress_on_terminal_prints_no_lines() -> None:
    text = io.StringIO()
    output = output_to(text, terminal=True)
    output.progress_start("send-3", "report.pdf to Ana", 100 * MB)
    output.progress_update("send-3", 50 * MB)
    output.progress_stop("send-3")
    assert "50.0 MB of 100.0 MB (50%)" not in text.getvalue()


def test_size_texts_equal_rounding_in_bytes() -> None:
    """A size just over the limit, rounded as the limit is, is given in exact bytes."""
    assert size_text(5 * MB + 1) == size_text(5 * MB)
    assert size_texts(5 * MB + 1, 5 * MB) == ("5,000,001 bytes", "5,000,000 bytes")
    assert size_texts(5_049_999, 5 * MB) == ("5,049,999 bytes", "5,000,000 bytes")


def test_size_texts_keep_rounding_when_distinct() -> None:
    assert size_texts(6 * MB, 5 * MB) == ("6.0 MB", "5.0 MB")
    assert size_texts(5_060_000, 5 * MB) == ("5.1 MB", "5.0 MB")
    assert size_texts(5 * MB, 5 * MB) == ("5.0 MB", "5.0 MB")
    assert size_texts(999, 998) == ("999 bytes", "998 bytes")


def test_with_reason_omits_empty_reason() -> None:
    assert with_reason("Ana cancelled 'a.bin'", "") == "Ana cancelled 'a.bin'."
    assert with_reason("Ana cancelled 'a.bin'", "no room left") == (
        "Ana cancelled 'a.bin': no room left."
    )
    assert with_reason("Ana cancelled 'a.bin'", "Stop!") == "Ana cancelled 'a.bin': Stop!"
