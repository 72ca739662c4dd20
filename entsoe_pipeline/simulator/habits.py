"""The platform's habits that the simulator can imitate, all off by default.

* revisions: a share of the days of the daily items changes its values once, 1 to 30 days later;
* late days: a share of the days of actual load and generation is published only 2 or 7 days late;
* short Periods: a share of year-ahead and month-ahead blocks declares one P7D step less than it
  carries (load_yearahead_A65-A33_CZ_2015-2016_P7D_pj.xml, entsoe-api.md §3.4);
* the 15-minute go-live: quarter-hour areas publish hourly before ``resolution_switch``;
* hourly re-publication: a share of the revised days of quarter-hour areas comes back at PT60M.

Every decision is a pure function of (seed, endpoint, area, local day) through ``series.uniform``,
so two servers with the same configuration agree whatever the order of the requests. Days are
numbered as local days since 1970-01-01 (``series.LocalTime.day``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from types import MappingProxyType

import numpy as np

from entsoe_pipeline.catalog import Area

from .periods import EPOCH_DATE, local_midnights
from .series import uniform

#: revised_at / published_from of days without a revision / published on the usual schedule.
NEVER = np.iinfo(np.int64).max
ALWAYS = np.iinfo(np.int64).min

HOURLY = 60
QUARTER_HOUR = 15

_MTU_ITEMS = frozenset({"actual_load", "actual_generation", "day_ahead_load_forecast", "wind_solar_forecast"})
# Which habit touches which data item. Prices keep their own resolution history (the SDAC go-live in
# items.py), so neither MTU habit applies to them.
_ITEMS: MappingProxyType[str, frozenset[str]] = MappingProxyType(
    {
        "revision": frozenset(
            {
                "actual_load",
                "actual_generation",
                "day_ahead_load_forecast",
                "wind_solar_forecast",
                "day_ahead_prices",
            }
        ),
        "late": frozenset({"actual_load", "actual_generation"}),
        "short_period": frozenset({"year_ahead_load_forecast", "month_ahead_load_forecast"}),
        "resolution_switch": _MTU_ITEMS,
        "republish_hourly": _MTU_ITEMS,
    }
)
# A late day appears at local midnight this many days after it (D+2 or D+7).
LATE_DAYS = (2, 7)
# A revision comes on day D+1 .. D+30 (never before a late day's first publication), 2 to 22 whole
# hours after its local midnight: after the day's last actual values (out about 01:00), and within
# the day even when it is a 23-hour DST day.
LAST_REVISION_DAY = 30
REVISION_HOURS = (2, 22)
# Size of a revision: a factor 1 +/- 1..5 %.
MIN_REVISION, MAX_REVISION = 0.01, 0.05


@dataclass(frozen=True)
class Habits:
    """The habits switched on in a SimulatorConfig: shares in [0, 1] and the go-live day."""

    seed: int = 0
    revision_share: float = 0.0
    late_share: float = 0.0
    short_period_share: float = 0.0
    resolution_switch: date | None = None
    republish_hourly_share: float = 0.0


def applies(habit: str, endpoint: str) -> bool:
    return endpoint in _ITEMS[habit]


def _draw(habits: Habits, name: str, endpoint: str, area: Area, days: np.ndarray) -> np.ndarray:
    return uniform(f"{name}|{habits.seed}|{endpoint}|{area.name}", days)


def _chosen(habits: Habits, habit: str, endpoint: str, area: Area, days: np.ndarray) -> np.ndarray:
    """Whether each day (or block) of the item has ``habit``, for the share of it configured."""
    share = getattr(habits, f"{habit}_share")
    if share <= 0 or not applies(habit, endpoint):
        return np.zeros(np.shape(days), dtype=bool)
    return _draw(habits, habit, endpoint, area, days) < share


def late_delays(habits: Habits, endpoint: str, area: Area, days: np.ndarray) -> np.ndarray:
    """Days after which each day is first published in full: 0 for days on the usual schedule."""
    late = _chosen(habits, "late", endpoint, area, days)
    delay = np.where(_draw(habits, "late-days", endpoint, area, days) < 0.5, *LATE_DAYS)
    return np.where(late, delay, 0)


def published_from(habits: Habits, endpoint: str, area: Area, days: np.ndarray) -> np.ndarray:
    """Epoch minutes before which nothing of a late day is published; ALWAYS for the other days."""
    days = np.asarray(days, dtype=np.int64)
    delays = late_delays(habits, endpoint, area, days)
    out = np.full(np.shape(days), ALWAYS, dtype=np.int64)
    late = np.flatnonzero(delays)
    if late.size:
        out[late] = local_midnights(days[late] + delays[late], area.tz)
    return out


def revision_times(habits: Habits, endpoint: str, area: Area, days: np.ndarray) -> np.ndarray:
    """Epoch minutes at which each day's values are revised; NEVER for days never revised."""
    days = np.asarray(days, dtype=np.int64)
    out = np.full(days.shape, NEVER, dtype=np.int64)
    revised = np.flatnonzero(_chosen(habits, "revision", endpoint, area, days))
    if not revised.size:
        return out
    days = days[revised]
    first = np.maximum(late_delays(habits, endpoint, area, days), 1)
    offset = first + np.floor(
        _draw(habits, "revision-day", endpoint, area, days) * (LAST_REVISION_DAY + 1 - first)
    ).astype(np.int64)
    first_hour, last_hour = REVISION_HOURS
    hour = first_hour + np.floor(
        _draw(habits, "revision-hour", endpoint, area, days) * (last_hour + 1 - first_hour)
    ).astype(np.int64)
    out[revised] = local_midnights(days + offset, area.tz) + 60 * hour
    return out


def revision_factors(habits: Habits, endpoint: str, area: Area, days: np.ndarray) -> np.ndarray:
    size = MIN_REVISION + (MAX_REVISION - MIN_REVISION) * _draw(habits, "revision-size", endpoint, area, days)
    sign = np.where(_draw(habits, "revision-sign", endpoint, area, days) < 0.5, -1.0, 1.0)
    return 1.0 + sign * size


def short_blocks(habits: Habits, endpoint: str, area: Area, first_days: np.ndarray) -> np.ndarray:
    """Whether each year-ahead or month-ahead block (by its first local day) is sent with a Period
    one step short of its Points."""
    return _chosen(habits, "short_period", endpoint, area, first_days)


@dataclass(frozen=True)
class DayPlan:
    """What the habits do to each of a run of local days of one (endpoint, area), seen at a time.

    Arrays, one element per day; ``step`` is the MTU in minutes of the day's values at that time,
    ``first_step`` that of its first publication.
    """

    published_from: np.ndarray
    revised_at: np.ndarray
    revised: np.ndarray
    factor: np.ndarray
    first_step: np.ndarray
    step: np.ndarray

    def with_steps(self, steps: np.ndarray) -> DayPlan:
        """The same days at fixed steps (prices, whose MTU follows the auction, not the habits)."""
        return DayPlan(self.published_from, self.revised_at, self.revised, self.factor, steps, steps)


def day_plan(habits: Habits, endpoint: str, area: Area, days: np.ndarray, now: int, mtu: int) -> DayPlan:
    """The habits of ``days`` (local day numbers) at ``now`` (epoch minutes); ``mtu`` is the area's
    usual MTU of the item in minutes."""
    days = np.asarray(days, dtype=np.int64)
    revised_at = revision_times(habits, endpoint, area, days)
    revised = revised_at <= now
    first_step = np.full(days.shape, mtu, dtype=np.int64)
    step = first_step
    if mtu == QUARTER_HOUR:
        if habits.resolution_switch is not None and applies("resolution_switch", endpoint):
            before = days < (habits.resolution_switch - EPOCH_DATE).days
            first_step = np.where(before, HOURLY, first_step)
        hourly = revised & _chosen(habits, "republish_hourly", endpoint, area, days)
        step = np.where(hourly, HOURLY, first_step)
    return DayPlan(
        published_from=published_from(habits, endpoint, area, days),
        revised_at=revised_at,
        revised=revised,
        factor=revision_factors(habits, endpoint, area, days),
        first_step=first_step,
        step=step,
    )
