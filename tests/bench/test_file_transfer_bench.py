"""The file-transfer benchmark's CPU pinning and its sections of docs/benchmarks.md."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import file_transfer
from bench.file_transfer import END, PINNED_END, PINNED_START, START, Pinning

AFFINITY = "import os; print(sorted(os.sched_getaffinity(0)))"


def child_cpus() -> str:
    return subprocess.run(
        [sys.executable, "-c", AFFINITY], capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs to pin")
def test_pinned_side_confines_children() -> None:
    before = os.sched_getaffinity(0)

    with Pinning(True).side(file_transfer.HOST_CPU):
        inside = child_cpus()

    assert inside == f"[{file_transfer.HOST_CPU}]"
    assert os.sched_getaffinity(0) == before


def test_unpinned_side_changes_nothing() -> None:
    before = os.sched_getaffinity(0)

    with Pinning(False).side(file_transfer.HOST_CPU):
        inside = child_cpus()

    assert inside == str(sorted(before))


def test_pinned_section_follows_plain_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    document = tmp_path / "benchmarks.md"
    document.write_text(f"# Benchmarks\n\n{START}\nold run\n{END}\n\n## Next section\n")
    monkeypatch.setattr(file_transfer, "DOCUMENT", document)

    file_transfer.write_section("pinned run", pinned=True)
    first = document.read_text()
    file_transfer.write_section("second pinned run", pinned=True)
    second = document.read_text()

    assert first.index(END) < first.index(PINNED_START) < first.index("## Next section")
    assert "old run" in first
    assert "second pinned run" in second
    assert "\npinned run" not in second
    assert second.count(PINNED_START) == 1
    assert second.count(PINNED_END) == 1


def test_plain_section_keeps_pinned_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    document = tmp_path / "benchmarks.md"
    document.write_text(f"{START}\nold run\n{END}\n\n{PINNED_START}\npinned run\n{PINNED_END}\n")
    monkeypatch.setattr(file_transfer, "DOCUMENT", document)

    file_transfer.write_section("new run")
    text = document.read_text()

    assert "new run" in text
    assert "old run" not in text
    assert "pinned run" in text
