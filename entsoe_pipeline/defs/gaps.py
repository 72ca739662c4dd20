"""Gaps in what the store holds: partitions that were materialized but hold fewer points than their
resolution implies (rows deleted by hand, a day published in part, a late publication), and what
fills them.

Partitions never materialized, and partitions whose last run failed, are the automation
condition's to fill (``automation.py``); here only materialized partitions count, and those a run is
working on are left alone. Large gaps (contiguous runs of at least ``backfill_threshold_partitions``)
become one partition backfill, which follows each asset's backfill policy (API-sized runs); small ones
become a run per partition. The cursor remembers what was launched and when: a partition that stays
incomplete is launched again after 1 h, 2 h, 4 h, ... at most daily, never dropped (windows ENTSO-E
confirmed empty are not gaps, see ``storage.completeness``).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import dagster as dg

from entsoe_pipeline import storage
from entsoe_pipeline.catalog import Granularity
from entsoe_pipeline.ingest import expected_until
from entsoe_pipeline.settings import Settings

from .backfill_request import backfill_request
from .priorities import REPAIR_PRIORITY
from .targets import SeriesTarget, StatusReads, partition_status

FIRST_RETRY_AFTER = timedelta(hours=1)
MAX_RETRY_AFTER = timedelta(days=1)
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
    def parse(cls, raw: object) -> GapCursor:
        if not isinstance(raw, dict):
            return cls()
        return cls({k: [(float(s), float(e), int(n), float(t)) for s, e, n, t in v] for k, v in raw.items()})

    def dump(self) -> dict[str, list[list[float]]]:
        return {k: [list(entry) for entry in v] for k, v in self.launched.items()}

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

    def update(self, asset: str, gaps: Sequence[Gap], launched: set[str], now: float) -> None:
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


def contiguous_runs(gaps: Sequence[Gap]) -> list[list[Gap]]:
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


def find_gaps(
    dsn: str,
    instance: dg.DagsterInstance,
    targets: Sequence[SeriesTarget],
    cursor: GapCursor,
    now: datetime,
    settings: Settings,
    reads: StatusReads | None = None,
) -> tuple[GapPlan, int]:
    """The tick's launches for the gaps of ``targets``, and how many windows were skipped because
    ENTSO-E confirmed them empty; updates ``cursor``. An asset whose partition status ``reads`` has
    no room left for is looked at again next tick (its cursor is left as it was)."""
    reads = reads or StatusReads()
    plan = GapPlan()
    skipped_empty = 0
    by_granularity: dict[Granularity, list[SeriesTarget]] = defaultdict(list)
    for t in targets:
        by_granularity[t.endpoint.granularity].append(t)
    for granularity, group in by_granularity.items():
        found = storage.incomplete_windows(
            dsn,
            [storage.SeriesSpec(t.endpoint.name, t.area.eic, t.endpoint.default_resolution) for t in group],
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
            candidates = [g for g in gaps if cursor.may_launch(asset, g.start.timestamp(), now.timestamp())]
            launch: list[Gap] = []
            if candidates:
                if not reads.take():
                    continue
                status = partition_status(instance, t, [g.partition for g in candidates])
                launch = [
                    g for g in candidates if status.get(g.partition) == dg.AssetPartitionStatus.MATERIALIZED
                ]
            cursor.update(asset, gaps, {g.partition for g in launch}, now.timestamp())
            if launch:
                plan.add(t, launch, cursor, settings)
    return plan, skipped_empty


@dataclass
class GapPlan:
    """Gaps of one tick: large ones (and the many small ones of one asset) go into ONE backfill over
    all assets, which follows each asset's backfill policy; a few small ones become runs."""

    backfill: dict[dg.AssetKey, tuple[SeriesTarget, list[str]]] = field(default_factory=dict)
    runs: list[tuple[SeriesTarget, Gap, str, int]] = field(default_factory=list)

    def add(self, target: SeriesTarget, gaps: Sequence[Gap], cursor: GapCursor, settings: Settings) -> None:
        runs = contiguous_runs(gaps)
        small = [r for r in runs if len(r) < settings.backfill_threshold_partitions]
        large = [r for r in runs if len(r) >= settings.backfill_threshold_partitions]
        if sum(map(len, small)) > MAX_RUNS_PER_ASSET:  # scattered holes: one backfill, not a flood of runs
            large, small = runs, []
        if large:
            self.backfill[target.key] = (target, [g.partition for run in large for g in run])
        asset = target.key.to_user_string()
        for run in small:
            span = f"{run[0].partition}..{run[-1].partition}"
            self.runs.extend((target, g, span, cursor.state(asset, g.start.timestamp())[0]) for g in run)

    def requests(self) -> list[dg.RunRequest]:
        out = [
            dg.RunRequest(
                # The launch's ordinal makes a deliberate retry a new run key, and a repeated tick
                # (a lost cursor) the same one, which Dagster does not launch twice.
                run_key=f"gap:{target.key.to_user_string()}:{gap.partition}:{launch}",
                asset_selection=[target.key],
                partition_key=gap.partition,
                tags={"launched_by": "gap", "gap": span, "dagster/priority": REPAIR_PRIORITY},
            )
            for target, gap, span, launch in self.runs
        ]
        if self.backfill:
            partitions = sum(len(p) for _, p in self.backfill.values())
            out.append(
                backfill_request(
                    {key: (target.partitions_def, keys) for key, (target, keys) in self.backfill.items()},
                    tags={
                        "launched_by": "gap",
                        "dagster/priority": REPAIR_PRIORITY,
                        "gap": f"{partitions} partitions of {len(self.backfill)} assets",
                    },
                )
            )
        return out
