"""The MTUs of a run of local days, each day at its own resolution, and their values as published
at a given time: the first edition, or the revised one (``habits.DayPlan`` says which day is which).

Values of coarser MTUs are the means of the finer values they cover, rounded like them; a revision
multiplies the first published values by the day's factor and rounds again, and nudges any value
that rounding left unchanged by one unit of its last decimal, so every point of a revised day
changes. A revised day re-published hourly shows the hourly means of its revised quarter hours.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from .habits import DayPlan
from .periods import Interval, mtu_starts

Fill = Callable[[np.ndarray], np.ndarray]  # epoch minutes -> values of the series


@dataclass(frozen=True)
class DayMtus:
    """MTUs of several local days in time order."""

    starts: np.ndarray  # epoch minutes (UTC) of the interval starts
    step: np.ndarray  # minutes per MTU
    day: np.ndarray  # index of each MTU's day in the DayPlan

    def select(self, keep: np.ndarray) -> DayMtus:
        return DayMtus(self.starts[keep], self.step[keep], self.day[keep])

    def runs(self, *, per_day: bool) -> list[slice]:
        """Stretches of consecutive MTUs of one resolution (and one day if ``per_day``): one
        Period each. A hole or a change of resolution ends a stretch."""
        if not self.starts.size:
            return []
        breaks = (self.starts[1:] != self.starts[:-1] + self.step[:-1]) | (self.step[1:] != self.step[:-1])
        if per_day:
            breaks |= self.day[1:] != self.day[:-1]
        bounds = [0, *(np.flatnonzero(breaks) + 1).tolist(), self.starts.size]
        return [slice(a, b) for a, b in pairwise(bounds)]


def day_mtus(days: list[Interval], steps: np.ndarray, window: Interval | None = None) -> DayMtus:
    """The MTUs of each day at its step; with ``window``, only those overlapping it."""
    parts = [
        mtu_starts(max(a, window[0]), min(b, window[1]), int(step)) if window else mtu_starts(a, b, int(step))
        for (a, b), step in zip(days, steps, strict=True)
    ]
    if not parts:
        empty = np.array([], dtype=np.int64)
        return DayMtus(empty, empty, empty)
    sizes = [p.size for p in parts]
    return DayMtus(
        np.concatenate(parts),
        np.repeat(np.asarray(steps, dtype=np.int64), sizes),
        np.repeat(np.arange(len(parts), dtype=np.int64), sizes),
    )


def published_values(
    mtus: DayMtus, plan: DayPlan, fill: Fill, *, native: int | None = None, decimals: int = 1
) -> np.ndarray:
    """The values of ``mtus`` as published at the plan's time. ``fill`` gives the values on the
    ``native`` grid (minutes; None: each day's first-publication step), rounded to ``decimals``."""
    out = np.empty(mtus.starts.size, dtype=np.float64)
    first_steps = plan.first_step[mtus.day]
    # Days of one (first, current) resolution pair share one vectorised call of ``fill``.
    for first_step, step in sorted(set(zip(plan.first_step.tolist(), plan.step.tolist(), strict=True))):
        chosen = np.flatnonzero((first_steps == first_step) & (mtus.step == step))
        if chosen.size:
            days = mtus.day[chosen]
            out[chosen] = _edition(
                fill,
                mtus.starts[chosen],
                (step, first_step, native or first_step),
                plan.factor[days],
                plan.revised[days],
                decimals,
            )
    return out


def _edition(
    fill: Fill,
    starts: np.ndarray,
    steps: tuple[int, int, int],
    factor: np.ndarray,
    revised: np.ndarray,
    decimals: int,
) -> np.ndarray:
    step, first_step, native = steps
    per_step = step // first_step  # > 1 only for a revised day re-published hourly
    per_first_step = first_step // native  # > 1 for hourly values of a quarter-hour series
    first_starts = _subdivide(starts, per_step, first_step)
    first = _means(fill(_subdivide(first_starts, per_first_step, native)), per_first_step, decimals)
    if not revised.any():
        return first
    revised_first = np.repeat(revised, per_step)
    changed = _changed(np.round(first * np.repeat(factor, per_step), decimals), first, decimals)
    values = np.where(revised_first, changed, first)
    if per_step == 1:
        return values
    current = _means(values, per_step, decimals)
    return np.where(revised, _changed(current, first[::per_step], decimals), current)


def _subdivide(starts: np.ndarray, parts: int, step: int) -> np.ndarray:
    """The starts of the ``parts`` MTUs of ``step`` minutes that make up each MTU of ``starts``."""
    if parts == 1:
        return starts
    return (starts[:, None] + step * np.arange(parts, dtype=np.int64)).ravel()


def _means(values: np.ndarray, parts: int, decimals: int) -> np.ndarray:
    if parts == 1:
        return values
    return np.round(values.reshape(-1, parts).mean(axis=1), decimals)


def _changed(new: np.ndarray, old: np.ndarray, decimals: int) -> np.ndarray:
    """``new``, nudged up by one unit of the last decimal where it still equals ``old``."""
    return np.where(new == old, np.round(new + 10.0**-decimals, decimals), new)
