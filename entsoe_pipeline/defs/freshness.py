"""Freshness that follows the data, not the runs.

Dagster 1.13 judges a FreshnessPolicy by the asset's last materialization of *any* partition, so a
history backfill of 2025, or a refresh that stored nothing new, would keep entsoe/actual_load/de_lu
"fresh" while its newest point is hours old. The policy therefore sits on a companion asset per
series, ``entsoe/<endpoint>/<area>_newest`` (downstream of the series in the lineage), which the
store sensor materializes (runless) only while the series' newest stored point is current. Its
policy's window is a few sensor intervals: the companion shows FAIL within minutes of the data
falling behind, whatever other runs of the series do, and PASS again as soon as data arrives.

Current means: the data after the newest stored point has been due for no longer than the
endpoint's tolerance (``Endpoint.freshness``). Actual data is due continuously, two hours after
real time; forecast windows are due whole, once their publication is over (see
``ingest.expected_until``). A series that is not current gets its latest partitions requested again
on a short retry interval: the stale state is what asks for the refill, on top of the automation's
regular refresh.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import dagster as dg

from entsoe_pipeline.catalog import Area, Cadence, Endpoint
from entsoe_pipeline.ingest import expected_until, local_calendar
from entsoe_pipeline.settings import Settings
from entsoe_pipeline.storage import LatestPoint
from entsoe_pipeline.storage.resolution import Resolution
from entsoe_pipeline.storage.windows import next_window_start, partition_clock, window_start

# How many store-sensor intervals pass before the latest partitions of a series that is not current
# are requested again: 15 minutes, an hour, 6 hours at the default interval of a minute.
STALE_RETRY_INTERVALS = {Cadence.ACTUAL: 15, Cadence.FORECAST: 60, Cadence.MARGIN: 360}


def stale_retry(endpoint: Endpoint, settings: Settings) -> timedelta:
    """How often a series that is not current may have its latest partitions requested again."""
    return timedelta(seconds=STALE_RETRY_INTERVALS[endpoint.cadence] * settings.store_sensor_interval_seconds)


def newest_key(endpoint: Endpoint, area: Area) -> dg.AssetKey:
    return dg.AssetKey(["entsoe", endpoint.name, f"{area.key}_newest"])


def report_every(settings: Settings) -> timedelta:
    """How often a current series is confirmed (besides whenever new data arrives)."""
    return timedelta(seconds=4 * settings.store_sensor_interval_seconds)


def fail_window(settings: Settings) -> timedelta:
    """The companion's FreshnessPolicy window: missed confirmations before it shows FAIL."""
    return max(timedelta(minutes=1), timedelta(seconds=9 * settings.store_sensor_interval_seconds))


def newest_spec(endpoint: Endpoint, area: Area, series_key: dg.AssetKey, settings: Settings) -> dg.AssetSpec:
    return dg.AssetSpec(
        key=newest_key(endpoint, area),
        deps=[series_key],
        group_name=endpoint.name,
        description=(
            f"How current {series_key.to_user_string()} is: materialized by the store sensor while its "
            f"newest stored point is at most {_text(endpoint.freshness)} overdue, so its freshness follows "
            "the data, not the runs (a backfill of older partitions does not make it fresh)."
        ),
        kinds={"timescaledb"},
        tags={"endpoint": endpoint.name, "area": area.name},
        freshness_policy=dg.FreshnessPolicy.time_window(fail_window=fail_window(settings)),
    )


def newest_end(points: Sequence[LatestPoint], tz: str) -> datetime | None:
    """Where the stored data of a series' points reaches: the end of its newest point."""
    ends = [Resolution.parse(p.resolution).add(p.time, tz) for p in points if p.resolution]
    return max(ends, default=None)


def overdue(
    endpoint: Endpoint, area: Area, history_start: datetime, reach: datetime | None, now: datetime
) -> timedelta:
    """How long the data after ``reach`` (where the stored data ends) has been due; negative while
    it is not due yet."""
    until = expected_until(endpoint, now)
    if reach is None:
        return until - history_start
    if endpoint.cadence is Cadence.ACTUAL:
        return until - reach  # due continuously, point by point
    # Forecasts are due window by window: the one the next missing point belongs to (by its local
    # day for local-calendar data) is due once its end is within the published horizon.
    clock = partition_clock(reach, local_calendar(endpoint), area.tz)
    due_point = next_window_start(window_start(clock, endpoint.granularity), endpoint.granularity)
    return until - due_point


@dataclass
class SeriesFreshness:
    endpoint: Endpoint
    area: Area
    reach: datetime | None
    overdue: timedelta

    @property
    def current(self) -> bool:
        return self.overdue <= self.endpoint.freshness


@dataclass
class FreshnessCursor:
    """Per companion asset: the reach last confirmed and when (epoch seconds)."""

    confirmed: dict[str, tuple[float, float]] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: object) -> FreshnessCursor:
        if not isinstance(raw, dict):
            return cls()
        return cls({k: (float(r), float(t)) for k, (r, t) in raw.items()})

    def dump(self) -> dict[str, list[float]]:
        return {k: [r, t] for k, (r, t) in self.confirmed.items()}

    def confirmation(
        self, state: SeriesFreshness, now: datetime, settings: Settings
    ) -> dg.AssetMaterialization | None:
        """The companion's materialization when the series is current and has new data or has not
        been confirmed for a while; None otherwise (and the companion's freshness runs out)."""
        if not state.current or state.reach is None:
            return None
        key = newest_key(state.endpoint, state.area)
        reach, at = self.confirmed.get(key.to_user_string(), (0.0, 0.0))
        if state.reach.timestamp() <= reach and now.timestamp() - at < report_every(settings).total_seconds():
            return None
        self.confirmed[key.to_user_string()] = (state.reach.timestamp(), now.timestamp())
        late = max(state.overdue, timedelta(0))
        return dg.AssetMaterialization(
            asset_key=key,
            description=f"data up to {state.reach:%Y-%m-%d %H:%MZ}, {_text(late)} overdue",
            metadata={
                "data_until": dg.MetadataValue.timestamp(state.reach),
                "overdue_minutes": round(late.total_seconds() / 60, 1),
                "tolerance_minutes": round(state.endpoint.freshness.total_seconds() / 60),
            },
        )


def _text(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"
