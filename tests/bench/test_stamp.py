"""The benchmark's time stamp: encoding, decoding and unwrapping, without any screen."""

from __future__ import annotations

import pytest

from bench.stamp import (
    BLACK_MAX,
    CELL_COUNT,
    SYNC,
    TICKS_MODULUS,
    TICKS_PER_SECOND,
    WHITE_MIN,
    StampLayout,
    crc16,
    decode,
    encode,
    ticks_at,
    unwrap,
)


def levels_for(cells: list[bool], white: float = 235.0, black: float = 16.0) -> list[float]:
    return [white if cell else black for cell in cells]


def test_crc16_check_value() -> None:
    # The published check value of CRC-16/CCITT-FALSE, over the ASCII digits 1 to 9.
    assert crc16(b"123456789") == 0x29B1


@pytest.mark.parametrize("ticks", [0, 1, 0x12345678, TICKS_MODULUS - 1])
def test_encode_decode_round_trip(ticks: int) -> None:
    cells = encode(ticks)
    assert len(cells) == CELL_COUNT
    assert tuple(cells[: len(SYNC)]) == SYNC
    assert decode(levels_for(cells)) == ticks


def test_decode_tolerates_compression_noise() -> None:
    cells = encode(0x0BADCAFE)
    assert decode(levels_for(cells, white=WHITE_MIN, black=BLACK_MAX)) == 0x0BADCAFE


def test_decode_rejects_grey_cell() -> None:
    levels = levels_for(encode(42))
    levels[20] = (BLACK_MAX + WHITE_MIN) / 2
    assert decode(levels) is None


def test_decode_rejects_flipped_data_bit() -> None:
    cells = encode(42)
    cells[len(SYNC) + 5] = not cells[len(SYNC) + 5]
    assert decode(levels_for(cells)) is None


def test_decode_rejects_broken_sync() -> None:
    cells = encode(42)
    cells[0] = not cells[0]
    assert decode(levels_for(cells)) is None


def test_decode_rejects_blend_of_two_stamps() -> None:
    # The top rows of one stamp over the bottom rows of the next, as a frame
    # caught halfway through a redraw would show them, across a carry so
    # that the upper data bits differ.
    first, second = encode(0x00FFFFF0), encode(0x01000005)
    half = CELL_COUNT // 2
    assert first != second
    assert decode(levels_for(first[:half] + second[half:])) is None


def test_decode_rejects_wrong_cell_count() -> None:
    with pytest.raises(ValueError, match="expected 56 cell levels, got 3"):
        decode([0.0, 0.0, 0.0])


def test_encode_rejects_out_of_range() -> None:
    with pytest.raises(ValueError, match="outside 0 to"):
        encode(TICKS_MODULUS)


def test_unwrap_recovers_time_near_reference() -> None:
    drawn = 1_790_000_000.1234
    ticks = ticks_at(drawn)
    assert unwrap(ticks, drawn + 0.080) == pytest.approx(drawn, abs=1 / TICKS_PER_SECOND)
    assert unwrap(ticks, drawn - 3600) == pytest.approx(drawn, abs=1 / TICKS_PER_SECOND)


def test_unwrap_across_the_wrap() -> None:
    period = TICKS_MODULUS / TICKS_PER_SECOND
    drawn = 5 * period - 0.010
    shown = 5 * period + 0.040
    assert ticks_at(drawn) > ticks_at(shown)
    assert unwrap(ticks_at(drawn), shown) == pytest.approx(drawn, abs=1 / TICKS_PER_SECOND)


def test_layout_cells_on_macroblock_grid() -> None:
    layout = StampLayout()
    boxes = [layout.cell_box(index) for index in range(CELL_COUNT)]
    assert all(x % 16 == 0 and y % 16 == 0 and w == h == 32 for x, y, w, h in boxes)
    assert len(set(boxes)) == CELL_COUNT
    assert layout.width == 256
    assert layout.height == 224
    with pytest.raises(IndexError):
        layout.cell_box(CELL_COUNT)
