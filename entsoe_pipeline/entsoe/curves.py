"""Decoding the Points of one Period into a curve: which positions hold which value.

curveType A01 ("sequential fixed size blocks"): one Point per position; an absent position is a gap.
curveType A03 ("variable sized blocks"): a Point only where the value changes; each value holds
until the next Point, the last one until the end of the curve. Filling never crosses Periods.
A Point whose value is not a finite number (lxml and numpy read "NaN" and "INF" as floats) holds no
value: its position, and under A03 the positions it would fill, stay empty.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FIXED_BLOCKS = "A01"
VARIABLE_BLOCKS = "A03"
CURVE_TYPES = (FIXED_BLOCKS, VARIABLE_BLOCKS)

_NO_POSITIONS = np.empty(0, dtype=np.int64)
_NO_POSITIONS.flags.writeable = False


class CurveError(ValueError):
    """Points that do not fit their Period."""


@dataclass(frozen=True)
class Curve:
    positions: np.ndarray  # int64, 1-based, strictly increasing
    values: np.ndarray  # float64, same length, all finite
    duplicates: int  # Points dropped because a later Point had the same position
    non_finite: np.ndarray  # positions of the Points dropped because their value is NaN or infinite


def decode_curve(
    positions: np.ndarray, values: np.ndarray, count: int, curve_type: str, *, ordered: bool = False
) -> Curve:
    """The positions 1..``count`` that carry a value, in order, with their values.

    Points are sorted by position (hand-edited files have them out of order); of two Points with
    the same position the later one in document order wins. Positions outside 1..count raise:
    the caller decides which Points a Period can place. ``ordered`` says the caller already knows
    that the positions increase strictly.
    """
    if curve_type not in CURVE_TYPES:
        raise CurveError(f"curveType {curve_type!r} is not supported (known: {', '.join(CURVE_TYPES)})")
    if positions.size:
        low, high = (positions[0], positions[-1]) if ordered else (positions.min(), positions.max())
        if low < 1 or high > count:
            bad = int(low if low < 1 else high)
            raise CurveError(f"Point position {bad} lies outside the Period's positions 1..{count}")
    duplicates = 0
    if not ordered and positions.size > 1 and not (positions[1:] > positions[:-1]).all():
        order = np.argsort(positions, kind="stable")
        positions, values = positions[order], values[order]
        keep = np.append(positions[1:] != positions[:-1], True)  # last of equal positions
        duplicates = int(positions.size - np.count_nonzero(keep))
        if duplicates:
            positions, values = positions[keep], values[keep]
    finite = np.isfinite(values)
    non_finite = _NO_POSITIONS
    if not finite.all():
        non_finite = positions[~finite]
        if curve_type == FIXED_BLOCKS:
            positions, values = positions[finite], values[finite]
    if curve_type == VARIABLE_BLOCKS and positions.size:
        lengths = np.empty_like(positions)
        np.subtract(positions[1:], positions[:-1], out=lengths[:-1])
        lengths[-1] = count + 1 - positions[-1]
        values = np.repeat(values, lengths)
        # Positions before the first Point stay empty: there is no earlier value to repeat.
        positions = np.arange(positions[0], count + 1, dtype=np.int64)
        if non_finite.size:  # the blocks of NaN Points are gaps, not the previous value repeated
            filled = np.isfinite(values)
            positions, values = positions[filled], values[filled]
    return Curve(positions, values, duplicates, non_finite)
