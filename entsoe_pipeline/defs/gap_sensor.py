"""The gap sensor: reads TimescaleDB, finds partitions whose stored points fall short of what their
resolution implies, and launches what fills them.

* Large gaps (contiguous runs of at least ``backfill_threshold_partitions``) become one Dagster
  partition backfill, which follows the asset's backfill policy (API-sized runs); small ones become
  one run request per partition.
* The cursor remembers what was launched and when, so a gap in flight is never launched again, and a
  partition that stays incomplete is retried with growing pauses, at most ``max_empty_tries`` times.
* Windows ENTSO-E confirmed empty that many times are not asked for again.
* Partitions never materialized inside the automation lookback are left to the automation
  condition, and partitions a run or backfill already works on are skipped.
"""

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset

from entsoe_pipeline import storage
from entsoe_pipeline.catalog import Area, Endpoint, Granularity

from .in_flight import partitions_in_flight
from .observations import expected_until, observation_key
from .partitions import partitions_for
from .resources import TimescaleResource
from .settings import Settings

FIRST_RETRY_AFTER = timedelta(hours=1)


@dataclass
class GapCursor:
    """Per asset and partition: how often the sensor launched it and when it last did."""

    launched: dict[str, dict[str, tuple[int, float]]] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str | None) -> "GapCursor":
        if not text:
            return cls()
        raw = json.loads(text)
        return cls({k: {p: (int(v[0]), float(v[1])) for p, v in parts.items()} for k, parts in raw.items()})

    def dumps(self) -> str:
        return json.dumps({k: {p: list(v) for p, v in parts.items()} for k, parts in self.launched.items()})

    def may_launch(self, asset: str, partition: str, now: float, max_tries: int) -> bool:
        tries, last = self.launched.get(asset, {}).get(partition, (0, 0.0))
        if tries == 0:
            return True
        if tries >= max_tries:
            return False
        # 1 h, 2 h, 4 h, ... after the previous launch
        return now - last >= FIRST_RETRY_AFTER.total_seconds() * 2 ** (tries - 1)

    def record(self, asset: str, partitions: Iterable[str], now: float) -> None:
        parts = self.launched.setdefault(asset, {})
        for p in partitions:
            parts[p] = (parts.get(p, (0, 0.0))[0] + 1, now)

    def keep_only(self, asset: str, still_incomplete: set[str]) -> None:
        """Forget partitions that are complete now."""
        parts = self.launched.get(asset)
        if parts is None:
            return
        for p in [p for p in parts if p not in still_incomplete]:
            del parts[p]
        if not parts:
            del self.launched[asset]


def contiguous_runs(keys: Sequence[str], all_keys: Sequence[str]) -> list[list[str]]:
    """Split partition keys into runs of neighbours in the partitions definition's order."""
    position = {k: i for i, k in enumerate(all_keys)}
    runs: list[list[str]] = []
    for key in sorted(keys, key=position.__getitem__):
        if runs and position[key] == position[runs[-1][-1]] + 1:
            runs[-1].append(key)
        else:
            runs.append([key])
    return runs


@dataclass(frozen=True)
class _Target:
    endpoint: Endpoint
    area: Area
    key: dg.AssetKey
    partitions_def: dg.TimeWindowPartitionsDefinition


def _due_before(target: _Target, now: datetime) -> datetime:
    """Windows ending after this are not fully published yet (schedules keep those current)."""
    return expected_until(target.endpoint, now)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def build_gap_sensor(
    settings: Settings, keys: Sequence[dg.AssetKey], clock: Callable[[], datetime] = _utc_now
) -> dg.SensorDefinition:
    targets = [
        _Target(e, a, observation_key(e, a), partitions_for(e, settings.history_start))
        for e in settings.endpoints
        for a in settings.areas
    ]
    by_granularity: dict[Granularity, list[_Target]] = defaultdict(list)
    for t in targets:
        by_granularity[t.endpoint.granularity].append(t)

    @dg.sensor(
        name="gap_sensor",
        asset_selection=dg.AssetSelection.assets(*keys),  # backfill requests need asset_selection=
        minimum_interval_seconds=settings.gap_sensor_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Finds partitions with fewer stored points than their resolution implies and "
        "launches backfills (large gaps) or runs (small gaps) for them.",
    )
    def gap_sensor(context: dg.SensorEvaluationContext, timescale: TimescaleResource) -> dg.SensorResult:
        now = clock()
        cursor = GapCursor.parse(context.cursor)
        requests: list[dg.RunRequest] = []
        skipped_empty = 0
        for granularity, group in by_granularity.items():
            found = storage.incomplete_windows(
                timescale.dsn,
                [
                    storage.SeriesSpec(t.endpoint.name, t.area.eic, t.endpoint.default_resolution)
                    for t in group
                ],
                group[0].partitions_def.start,
                now,
                granularity,
            )
            by_series = defaultdict(list)
            for w in found:
                by_series[(w.endpoint, w.area)].append(w)
            for t in group:
                windows = by_series.get((t.endpoint.name, t.area.eic), [])
                due_before = _due_before(t, now)
                gaps = []
                for w in windows:
                    if w.end > due_before:
                        continue
                    if w.empty_tries >= settings.max_empty_tries:
                        skipped_empty += 1
                        continue
                    gaps.append(t.partitions_def.get_partition_key_for_timestamp(w.start.timestamp()))
                asset = t.key.to_user_string()
                cursor.keep_only(asset, set(gaps))
                launch = _launchable(context.instance, t, gaps, cursor, now, settings)
                if not launch:
                    continue
                cursor.record(asset, launch, now.timestamp())
                requests.extend(_requests_for(t, launch, settings, now))
        if not requests:
            reason = "no incomplete partitions to launch"
            if skipped_empty:
                reason += f" ({skipped_empty} windows confirmed empty by ENTSO-E are no longer asked for)"
            return dg.SensorResult(skip_reason=reason, cursor=cursor.dumps())
        return dg.SensorResult(run_requests=requests, cursor=cursor.dumps())

    return gap_sensor


def _launchable(
    instance: dg.DagsterInstance,
    target: _Target,
    gaps: Sequence[str],
    cursor: GapCursor,
    now: datetime,
    settings: Settings,
) -> list[str]:
    asset = target.key.to_user_string()
    candidates = [p for p in gaps if cursor.may_launch(asset, p, now.timestamp(), settings.max_empty_tries)]
    if not candidates:
        return []
    busy = partitions_in_flight(instance, target.key, target.partitions_def, candidates)
    candidates = [p for p in candidates if p not in busy]
    # Never-materialized partitions inside the automation lookback are the automation's to fill.
    lookback_start = now - settings.automation_lookback
    recent = [
        p
        for p in candidates
        if target.partitions_def.time_window_for_partition_key(p).start >= lookback_start
    ]
    if recent:
        materialized = instance.get_materialized_partitions(target.key)
        candidates = [p for p in candidates if p not in recent or p in materialized]
    return candidates


def _requests_for(
    target: _Target, keys: Sequence[str], settings: Settings, now: datetime
) -> list[dg.RunRequest]:
    all_keys = target.partitions_def.get_partition_keys(current_time=now)
    out: list[dg.RunRequest] = []
    for run in contiguous_runs(keys, all_keys):
        tags = {"launched_by": "gap_sensor", "gap": f"{run[0]}..{run[-1]}"}
        if len(run) >= settings.backfill_threshold_partitions:
            subset = target.partitions_def.empty_subset().with_partition_key_range(
                target.partitions_def, dg.PartitionKeyRange(run[0], run[-1])
            )
            out.append(
                dg.RunRequest.for_asset_graph_subset(
                    # Dagster's own constructor; its stubs miss the defaulted field.
                    AssetGraphSubset(partitions_subsets_by_asset_key={target.key: subset}),  # type: ignore[call-arg]
                    tags=tags,
                )
            )
        else:
            out.extend(
                dg.RunRequest(
                    run_key=f"gap:{target.key.to_user_string()}:{p}:{int(now.timestamp())}",
                    asset_selection=[target.key],
                    partition_key=p,
                    tags=tags,
                )
                for p in run
            )
    return out
