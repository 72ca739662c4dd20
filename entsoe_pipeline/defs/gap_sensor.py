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

import bisect
import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset

from entsoe_pipeline import storage
from entsoe_pipeline.catalog import Area, Endpoint, Granularity
from entsoe_pipeline.ingest import expected_until
from entsoe_pipeline.settings import Settings

from .in_flight import InFlight
from .observations import observation_key
from .partitions import partitions_for
from .resources import TimescaleResource

FIRST_RETRY_AFTER = timedelta(hours=1)
MAX_RETRY_AFTER = timedelta(days=1)
# Background gap filling queues behind runs users launch (the queue orders by dagster/priority).
BACKGROUND_PRIORITY = "-1"
# More small gaps than this in one asset are folded into the tick's backfill.
MAX_RUNS_PER_ASSET = 5


@dataclass
class GapCursor:
    """Per asset, what the sensor launched: runs of neighbouring partitions as
    ``[start, end, launches, last_launch]`` (epoch seconds). Partitions launched together share an
    entry, so a first tick that launches ten years of history stores one entry per asset, not one
    per partition. Partitions that are complete again drop out."""

    launched: dict[str, list[tuple[float, float, int, float]]] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str | None) -> "GapCursor":
        if not text:
            return cls()
        raw = json.loads(text)
        return cls({k: [(float(s), float(e), int(n), float(t)) for s, e, n, t in v] for k, v in raw.items()})

    def dumps(self) -> str:
        return json.dumps({k: [list(entry) for entry in v] for k, v in self.launched.items()})

    def state(self, asset: str, start: float) -> tuple[int, float]:
        """(launches, last launch) of the partition starting at ``start``; (0, 0) if never launched."""
        entries = self.launched.get(asset, [])
        i = bisect.bisect_right([e[0] for e in entries], start) - 1
        if i >= 0 and entries[i][0] <= start < entries[i][1]:
            return entries[i][2], entries[i][3]
        return 0, 0.0

    def may_launch(self, asset: str, start: float, now: float) -> bool:
        """Launch again after 1 h, 2 h, 4 h, ... up to a day: a partition the API keeps answering
        partly is retried slowly, never dropped (empty answers are counted in the database)."""
        launches, last = self.state(asset, start)
        if launches == 0:
            return True
        wait = min(FIRST_RETRY_AFTER.total_seconds() * 2 ** (launches - 1), MAX_RETRY_AFTER.total_seconds())
        return now - last >= wait

    def update(self, asset: str, gaps: Sequence["Gap"], launched: set[str], now: float) -> None:
        """Rebuild the asset's entries from its current gaps, counting the launches of this tick."""
        entries: list[tuple[float, float, int, float]] = []
        for gap in sorted(gaps, key=lambda g: g.start):
            start, end = gap.start.timestamp(), gap.end.timestamp()
            launches, last = self.state(asset, start)
            if gap.partition in launched:
                launches, last = launches + 1, now
            if launches == 0:
                continue
            if entries and entries[-1][1] == start and entries[-1][2:] == (launches, last):
                entries[-1] = (entries[-1][0], end, launches, last)
            else:
                entries.append((start, end, launches, last))
        if entries:
            self.launched[asset] = entries
        else:
            self.launched.pop(asset, None)


def contiguous_runs(gaps: Sequence["Gap"]) -> list[list["Gap"]]:
    """Split gaps into runs of neighbouring partitions (one ends where the next starts)."""
    runs: list[list[Gap]] = []
    for gap in sorted(gaps, key=lambda g: g.start):
        if runs and runs[-1][-1].end == gap.start:
            runs[-1].append(gap)
        else:
            runs.append([gap])
    return runs


@dataclass(frozen=True)
class Gap:
    """An incomplete partition whose data should already be published."""

    partition: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class _Target:
    endpoint: Endpoint
    area: Area
    key: dg.AssetKey
    partitions_def: dg.TimeWindowPartitionsDefinition


def build_gap_sensor(
    settings: Settings, keys: Sequence[dg.AssetKey], clock: Callable[[], datetime] | None = None
) -> dg.SensorDefinition:
    clock = clock or settings.clock
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
        "launches a backfill (large gaps) or runs (small gaps) for them.",
    )
    def gap_sensor(context: dg.SensorEvaluationContext, timescale: TimescaleResource) -> dg.SensorResult:
        now = clock()
        cursor = GapCursor.parse(context.cursor)
        plan = _LaunchPlan()
        in_flight: InFlight | None = None
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
                due_before = expected_until(t.endpoint, now)
                gaps = []
                for w in by_series.get((t.endpoint.name, t.area.eic), []):
                    if w.end > due_before:
                        continue
                    if w.empty_tries >= settings.max_empty_tries:
                        skipped_empty += 1
                        continue
                    gaps.append(Gap(w.start.strftime(t.partitions_def.fmt), w.start, w.end))
                asset = t.key.to_user_string()
                candidates = [
                    g for g in gaps if cursor.may_launch(asset, g.start.timestamp(), now.timestamp())
                ]
                launch: list[Gap] = []
                if candidates:
                    in_flight = in_flight or InFlight.load(context.instance)
                    launch = _not_in_flight_nor_automations(
                        context.instance, in_flight, t, candidates, now, settings
                    )
                cursor.update(asset, gaps, {g.partition for g in launch}, now.timestamp())
                if launch:
                    plan.add(t, launch, settings)
        requests = plan.requests(now)
        if not requests:
            reason = "no incomplete partitions to launch"
            if skipped_empty:
                reason += f" ({skipped_empty} windows confirmed empty by ENTSO-E are no longer asked for)"
            return dg.SensorResult(skip_reason=reason, cursor=cursor.dumps())
        return dg.SensorResult(run_requests=requests, cursor=cursor.dumps())

    return gap_sensor


def _not_in_flight_nor_automations(
    instance: dg.DagsterInstance,
    in_flight: InFlight,
    target: _Target,
    gaps: Sequence[Gap],
    now: datetime,
    settings: Settings,
) -> list[Gap]:
    busy = in_flight.busy(target.key, target.partitions_def, [g.partition for g in gaps])
    gaps = [g for g in gaps if g.partition not in busy]
    # Never-materialized partitions inside the automation lookback are the automation's to fill.
    lookback_start = now - settings.automation_lookback
    if any(g.start >= lookback_start for g in gaps):
        materialized = instance.get_materialized_partitions(target.key)
        gaps = [g for g in gaps if g.start < lookback_start or g.partition in materialized]
    return gaps


@dataclass
class _LaunchPlan:
    """Gaps of one tick: large ones (and the many small ones of one asset) go into ONE backfill over
    all assets, which follows each asset's backfill policy; a few small ones become runs."""

    backfill: dict[dg.AssetKey, tuple[_Target, list[str]]] = field(default_factory=dict)
    runs: list[tuple[_Target, Gap, str]] = field(default_factory=list)

    def add(self, target: _Target, gaps: Sequence[Gap], settings: Settings) -> None:
        runs = contiguous_runs(gaps)
        small = [r for r in runs if len(r) < settings.backfill_threshold_partitions]
        large = [r for r in runs if len(r) >= settings.backfill_threshold_partitions]
        if sum(map(len, small)) > MAX_RUNS_PER_ASSET:  # scattered holes: one backfill, not a flood of runs
            large, small = runs, []
        if large:
            self.backfill[target.key] = (target, [g.partition for run in large for g in run])
        for run in small:
            self.runs.extend((target, g, f"{run[0].partition}..{run[-1].partition}") for g in run)

    def requests(self, now: datetime) -> list[dg.RunRequest]:
        out = [
            dg.RunRequest(
                run_key=f"gap:{target.key.to_user_string()}:{gap.partition}:{int(now.timestamp())}",
                asset_selection=[target.key],
                partition_key=gap.partition,
                tags={"launched_by": "gap_sensor", "gap": span, "dagster/priority": BACKGROUND_PRIORITY},
            )
            for target, gap, span in self.runs
        ]
        if self.backfill:
            subsets = {
                key: target.partitions_def.subset_with_partition_keys(partitions)
                for key, (target, partitions) in self.backfill.items()
            }
            partitions = sum(len(p) for _, p in self.backfill.values())
            out.append(
                dg.RunRequest.for_asset_graph_subset(
                    # Dagster's own constructor; its stubs miss the defaulted field.
                    AssetGraphSubset(partitions_subsets_by_asset_key=subsets),  # type: ignore[call-arg]
                    tags={
                        "launched_by": "gap_sensor",
                        "dagster/priority": BACKGROUND_PRIORITY,
                        "gap": f"{partitions} partitions of {len(subsets)} assets",
                    },
                )
            )
        return out
