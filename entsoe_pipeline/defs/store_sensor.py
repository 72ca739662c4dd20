"""The store sensor: what TimescaleDB holds, turned into what the UI shows and what gets fetched.

Every tick it reads, per series, the newest stored point and the partitions that fall short, then:

* confirms each series whose data is current by materializing its companion
  ``entsoe/<endpoint>/<area>_newest`` (runless), so that the companion's freshness follows the data
  (see freshness.py);
* requests the latest partitions of each series whose data is not current, at most once per retry
  interval (15 sensor intervals for actual data: 15 minutes by default), unless a run outside any
  backfill is already working on them (targets.py);
* launches what fills the gaps in materialized partitions (see gaps.py).

Everything it launches queues behind runs users launch and ahead of the automation's (priorities.py).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, time

import dagster as dg

from entsoe_pipeline import storage
from entsoe_pipeline.ingest import local_calendar
from entsoe_pipeline.settings import Settings
from entsoe_pipeline.storage.windows import partition_clock, partition_windows

from .freshness import FreshnessCursor, SeriesFreshness, newest_end, overdue, stale_retry
from .gaps import GapCursor, find_gaps
from .priorities import REPAIR_PRIORITY
from .resources import TimescaleResource
from .targets import (
    RANGE_END,
    RANGE_START,
    STATUS_READS_PER_TICK,
    SeriesTarget,
    StatusReads,
    refresh_in_flight,
    series_targets,
)


def build_store_sensor(settings: Settings) -> dg.SensorDefinition:
    targets = series_targets(settings)
    history_start = datetime.combine(settings.history_start, time(), UTC)

    @dg.sensor(
        name="store_sensor",
        # The series: each endpoint's group, less its _newest companions (materialized without a
        # run). Run and backfill requests must stay inside the sensor's selection.
        asset_selection=dg.AssetSelection.groups(*(e.name for e in settings.endpoints)).materializable(),
        minimum_interval_seconds=settings.store_sensor_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Reads TimescaleDB: confirms the series whose data is current (their _newest "
        "companions' freshness), refills the latest partitions of those that are not, and fills the "
        "gaps in materialized partitions.",
    )
    def store_sensor(context: dg.SensorEvaluationContext, timescale: TimescaleResource) -> dg.SensorResult:
        now = settings.clock()
        raw = json.loads(context.cursor) if context.cursor else {}
        confirmed = FreshnessCursor.parse(raw.get("freshness"))
        launched = GapCursor.parse(raw.get("gaps"))
        states = series_freshness(timescale.dsn, targets, history_start, now)
        events = [e for state in states if (e := confirmed.confirmation(state, now, settings)) is not None]
        # Refills first: the freshness of the newest data matters more than old gaps.
        reads = StatusReads()
        refills = [
            (target, keys)
            for target, state in zip(targets, states, strict=True)
            if not state.current
            and reads.take()
            and (keys := refill_partitions(context.instance, target, state, now)) is not None
        ]
        requests = refill_requests(refills, now, settings)
        plan, skipped_empty = find_gaps(
            timescale.dsn, context.instance, targets, launched, now, settings, reads
        )
        requests += plan.requests()
        cursor = json.dumps({"freshness": confirmed.dump(), "gaps": launched.dump()})
        if not requests and not events:
            reason = "every series current, no gap to fill"
            if skipped_empty:
                reason += f" ({skipped_empty} windows confirmed empty by ENTSO-E are no longer asked for)"
            if reads.deferred:
                reason = (
                    f"{reads.deferred} series left for the next tick "
                    f"(at most {STATUS_READS_PER_TICK} partition-status reads a tick)"
                )
            return dg.SensorResult(skip_reason=reason, cursor=cursor)
        return dg.SensorResult(run_requests=requests, asset_events=events, cursor=cursor)

    return store_sensor


def series_freshness(
    dsn: str, targets: Sequence[SeriesTarget], history_start: datetime, now: datetime
) -> list[SeriesFreshness]:
    """How current each target's stored data is, from one read of the newest points."""
    newest: dict[tuple[str, str], list[storage.LatestPoint]] = defaultdict(list)
    for point in storage.latest_points(dsn):
        newest[(point.endpoint, point.area)].append(point)
    out = []
    for t in targets:
        reach = newest_end(newest.get((t.endpoint.name, t.area.eic), []), t.area.tz)
        out.append(
            SeriesFreshness(t.endpoint, t.area, reach, overdue(t.endpoint, t.area, history_start, reach, now))
        )
    return out


def refill_partitions(
    instance: dg.DagsterInstance, target: SeriesTarget, state: SeriesFreshness, now: datetime
) -> tuple[str, ...] | None:
    """The latest partitions of a series that is not current, from the one its data stops in (at
    most one API request's worth); None while a run outside any backfill works on one of them
    (targets.py: a backfill never holds the latest partitions back)."""
    endpoint = target.endpoint
    existing = target.partitions_def.get_partition_keys(current_time=now)
    if not existing:
        return None
    last = existing[-1]
    last_end = target.partitions_def.time_window_for_partition_key(last).end
    # Partitions of local-calendar data hold the local days they describe.
    reach = partition_clock(
        state.reach or target.partitions_def.start, local_calendar(endpoint), target.area.tz
    )
    windows = partition_windows(
        min(reach, last_end - endpoint.granularity.nominal), last_end, endpoint.granularity
    )
    keys = [start.strftime(target.partitions_def.fmt) for start, _ in windows][
        -endpoint.partitions_per_request :
    ]
    if refresh_in_flight(instance, target, keys):
        return None
    return tuple(keys)


def refill_requests(
    refills: Sequence[tuple[SeriesTarget, tuple[str, ...]]], now: datetime, settings: Settings
) -> list[dg.RunRequest]:
    """One run per endpoint and partitions for the series to refill: the areas of an endpoint that
    all fell behind (a new installation, an outage of the platform) share a run, as Dagster groups
    them in a backfill, instead of starting a run worker each."""
    groups: dict[tuple[str, tuple[str, ...]], list[SeriesTarget]] = defaultdict(list)
    for target, keys in refills:
        groups[(target.endpoint.name, keys)].append(target)
    requests = []
    for (endpoint, keys), group in groups.items():
        retry = stale_retry(group[0].endpoint, settings).total_seconds()
        tags = {"launched_by": "freshness", "dagster/priority": REPAIR_PRIORITY}
        if len(keys) > 1:
            tags.update({RANGE_START: keys[0], RANGE_END: keys[-1]})
        areas = ",".join(sorted(t.area.key for t in group))
        requests.append(
            dg.RunRequest(
                # One request per group of series and retry interval: a repeated tick asks for
                # nothing new.
                run_key=f"refill:{endpoint}:{areas}:{keys[0]}:{int(now.timestamp() // retry)}",
                asset_selection=[t.key for t in group],
                partition_key=keys[0] if len(keys) == 1 else None,
                tags=tags,
            )
        )
    return requests
