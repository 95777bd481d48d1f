"""The time stamp that the benchmark's scene draws and the guest page reads back.

The scene draws the wall-clock time as a grid of black and white cells in
one corner of the screen. The guest page samples the brightness of each
cell in every frame it shows, and `decode` turns those brightness levels
back into the time, or into None when the frame is unreadable.

The grid holds, cell by cell in rows from the top left:

- 8 sync cells with a fixed pattern, which a frame must show exactly,
- 32 data cells: the time in ticks of 0.1 ms, modulo 2**32, most
  significant bit first,
- 16 check cells: the CRC-16/CCITT of the four data bytes.

A cell is 32 pixels square and starts on a multiple of 16 pixels, so that
it covers whole VP8 and H.264 macroblocks and survives lossy coding. A
cell that is neither clearly dark nor clearly bright (a blend of two
stamps, or a smeared block) makes the whole frame unreadable instead of
being guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

TICKS_PER_SECOND = 10_000
TICKS_MODULUS = 2**32
SYNC = (True, False, True, True, False, False, True, False)
DATA_BITS = 32
CHECK_BITS = 16
CELL_COUNT = len(SYNC) + DATA_BITS + CHECK_BITS

# Mean luma (0 to 255) at or below which a cell reads as black, and at or
# above which it reads as white. A level between the two is unreadable.
BLACK_MAX = 80.0
WHITE_MIN = 175.0


@dataclass(frozen=True, slots=True)
class StampLayout:
    """Position and cell size of the grid on the screen, in screen pixels."""

    left: int = 32
    top: int = 32
    cell: int = 32
    columns: int = 8

    @property
    def rows(self) -> int:
        return -(-CELL_COUNT // self.columns)

    @property
    def width(self) -> int:
        return self.columns * self.cell

    @property
    def height(self) -> int:
        return self.rows * self.cell

    def cell_box(self, index: int) -> tuple[int, int, int, int]:
        """Return cell `index` as (x, y, width, height) in screen pixels."""
        if not 0 <= index < CELL_COUNT:
            raise IndexError(f"cell index {index} is outside 0 to {CELL_COUNT - 1}")
        row, column = divmod(index, self.columns)
        return (self.left + column * self.cell, self.top + row * self.cell, self.cell, self.cell)

    def to_json(self) -> dict[str, int]:
        """Return the layout as the guest page's probe expects it."""
        return {
            "left": self.left,
            "top": self.top,
            "cell": self.cell,
            "columns": self.columns,
            "cells": CELL_COUNT,
            "width": self.width,
            "height": self.height,
        }


def crc16(data: bytes) -> int:
    """Return the CRC-16/CCITT-FALSE of `data` (polynomial 0x1021, initial value 0xFFFF)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def ticks_at(seconds: float) -> int:
    """Return the stamp value for a wall-clock time in seconds since the epoch."""
    return round(seconds * TICKS_PER_SECOND) % TICKS_MODULUS


def _bits(value: int, count: int) -> list[bool]:
    return [bool(value >> shift & 1) for shift in range(count - 1, -1, -1)]


def encode(ticks: int) -> list[bool]:
    """Return the colour of every cell for `ticks`, True for white."""
    if not 0 <= ticks < TICKS_MODULUS:
        raise ValueError(f"stamp value {ticks} is outside 0 to {TICKS_MODULUS - 1}")
    check = crc16(ticks.to_bytes(4, "big"))
    return [*SYNC, *_bits(ticks, DATA_BITS), *_bits(check, CHECK_BITS)]


def decode(levels: Sequence[float]) -> int | None:
    """Return the ticks that the cells' mean luma levels show, or None if unreadable."""
    if len(levels) != CELL_COUNT:
        raise ValueError(f"expected {CELL_COUNT} cell levels, got {len(levels)}")
    bits: list[bool] = []
    for level in levels:
        if level <= BLACK_MAX:
            bits.append(False)
        elif level >= WHITE_MIN:
            bits.append(True)
        else:
            return None
    if tuple(bits[: len(SYNC)]) != SYNC:
        return None
    data = bits[len(SYNC) : len(SYNC) + DATA_BITS]
    check = bits[len(SYNC) + DATA_BITS :]
    ticks = int("".join("1" if bit else "0" for bit in data), 2)
    expected = int("".join("1" if bit else "0" for bit in check), 2)
    if crc16(ticks.to_bytes(4, "big")) != expected:
        return None
    return ticks


def unwrap(ticks: int, near: float) -> float:
    """Return the wall-clock time in seconds encoded as `ticks` that is closest to `near`.

    Ticks wrap every 2**32 / 10000 s, about five days, so any reference
    time within two days of the stamp gives the one right result.
    """
    reference = round(near * TICKS_PER_SECOND)
    base = reference - reference % TICKS_MODULUS
    candidates = (base - TICKS_MODULUS + ticks, base + ticks, base + TICKS_MODULUS + ticks)
    best = min(candidates, key=lambda candidate: abs(candidate - reference))
    return best / TICKS_PER_SECOND
