"""The asset factory: one time-partitioned asset per enabled (endpoint, area).

A run covers one partition or a range of them (backfills). The asset fetches the whole range in
API-sized requests, then writes each partition in its own transaction, so a partition is stored all
or nothing, and reports rows, first and last point, requests and a preview.
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import pandas as pd

from entsoe_pipeline import quality, storage
from entsoe_pipeline.catalog import Area, Cadence, Endpoint
from entsoe_pipeline.entsoe import errors
from entsoe_pipeline.entsoe.client import FetchResult

from .automation import observation_condition
from .partitions import backfill_policy_for, partitions_for
from .resources import EntsoeApiResource, TimescaleResource
from .settings import Settings

POOL = "entsoe_api"
CHECKS = ("completeness", "plausible_values", "resolution_matches")

# Actual data is published about an hour after real time; leave a margin before calling it missing.
ACTUAL_PUBLICATION_LAG = timedelta(hours=2)
FORECAST_PUBLICATION_LAG = timedelta(hours=12)
# Calendar resolutions (P1D and longer) follow the area's local calendar: the week, month or year
# that starts at local midnight begins an hour or two before the UTC partition (2024-12-31T23:00Z
# for CET's 2025). Runs fetch and store from a day earlier, so that point is not lost.
LOCAL_CALENDAR_LEAD = timedelta(days=1)


def fetch_start(endpoint: Endpoint, start: datetime) -> datetime:
    return start - LOCAL_CALENDAR_LEAD if endpoint.default_resolution >= timedelta(days=1) else start


def source_key(endpoint: Endpoint) -> dg.AssetKey:
    return dg.AssetKey(["entsoe_api", endpoint.name])


def observation_key(endpoint: Endpoint, area: Area) -> dg.AssetKey:
    return dg.AssetKey(["entsoe", endpoint.name, area.key])


def source_spec(endpoint: Endpoint) -> dg.AssetSpec:
    """The ENTSO-E data item as an external asset, so lineage starts at the source."""
    return dg.AssetSpec(
        key=source_key(endpoint),
        description=f"ENTSO-E Transparency Platform: {endpoint.description}",
        group_name="entsoe_api",
        kinds={"api"},
        metadata={
            "documentType": endpoint.document_type,
            "processType": endpoint.process_type or "",
            "max_span_days": endpoint.max_span.days,
        },
    )


def expected_until(endpoint: Endpoint, now: datetime) -> datetime:
    """Until when the API should have published this endpoint's data."""
    if endpoint.cadence is Cadence.ACTUAL:
        return now - ACTUAL_PUBLICATION_LAG
    # Forecasts reach their horizon only after the day's publication (day-ahead: the noon auction),
    # and a UTC day ends inside the next local day, which is published with the next forecast.
    return now + endpoint.horizon - FORECAST_PUBLICATION_LAG


def windows_due(
    windows: Sequence[dg.TimeWindow], endpoint: Endpoint, now: datetime
) -> list[tuple[datetime, datetime]]:
    """The parts of the given partition windows whose data should already be published."""
    until = expected_until(endpoint, now)
    due = []
    for w in windows:
        if endpoint.cadence is Cadence.ACTUAL:
            end = min(w.end, until)
            if end > w.start:
                due.append((w.start, end))
        elif w.end <= until:
            due.append((w.start, w.end))
    return due


def _completeness(
    timescale: TimescaleResource,
    endpoint: Endpoint,
    area: Area,
    windows: Sequence[dg.TimeWindow],
    now: datetime,
    max_empty_tries: int,
) -> quality.Finding:
    due = windows_due(windows, endpoint, now)
    if not due:
        return quality.Finding(True, "no window is due yet", {"expected_points": 0})
    counts = storage.window_completeness(
        timescale.dsn,
        endpoint.name,
        area.eic,
        due,
        default_resolution=endpoint.default_resolution,
    )
    return quality.completeness(counts, max_empty_tries)


def _check_result(
    name: str, finding: quality.Finding, severity: dg.AssetCheckSeverity
) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=name,
        passed=finding.passed,
        severity=severity,
        description=finding.description,
        metadata=dict(finding.figures),
    )


def _store(
    timescale: TimescaleResource,
    endpoint: Endpoint,
    area: Area,
    fetched: FetchResult,
    windows: Sequence[dg.TimeWindow],
    fetched_at: datetime,
) -> storage.UpsertCounts:
    """Write each partition in its own transaction (all or nothing per partition)."""
    totals = storage.UpsertCounts(inserted=0, updated=0, unchanged=0)
    times = fetched.points["time"]
    for i, w in enumerate(windows):
        lower = fetch_start(endpoint, w.start) if i == 0 else w.start
        part = fetched.points[(times >= lower) & (times < w.end)]
        if part.empty:
            continue
        counts = storage.upsert_points(timescale.dsn, endpoint.name, area.eic, part, fetched_at=fetched_at)
        storage.forget_empty_windows(timescale.dsn, endpoint.name, area.eic, lower, w.end)
        totals = storage.UpsertCounts(
            inserted=totals.inserted + counts.inserted,
            updated=totals.updated + counts.updated,
            unchanged=totals.unchanged + counts.unchanged,
        )
    # "No data" for a window that is not due yet only means "not yet published": not worth recording.
    due_until = expected_until(endpoint, fetched_at)
    for start, end in fetched.empty_windows:
        if end <= due_until:
            storage.record_empty_window(timescale.dsn, endpoint.name, area.eic, start, end)
    return totals


def _metadata(fetched: FetchResult, counts: storage.UpsertCounts, window: dg.TimeWindow) -> dict[str, Any]:
    points: pd.DataFrame = fetched.points
    meta: dict[str, Any] = {
        "dagster/row_count": len(points),
        "rows_inserted": counts.inserted,
        "rows_updated": counts.updated,
        "rows_unchanged": counts.unchanged,
        "requests": fetched.requests,
        "window_start": dg.MetadataValue.timestamp(window.start),
        "window_end": dg.MetadataValue.timestamp(window.end),
    }
    if points.empty:
        meta["note"] = dg.MetadataValue.text(
            "no data published: ENTSO-E answered 'No matching data found' for this window"
            if fetched.empty_windows
            else "no points in this window"
        )
        return meta
    meta["first_point"] = dg.MetadataValue.timestamp(points["time"].min().to_pydatetime())
    meta["last_point"] = dg.MetadataValue.timestamp(points["time"].max().to_pydatetime())
    meta["resolution"] = ", ".join(sorted(set(points["resolution"])))
    meta["series"] = int(points[["business_type", "psr_type", "variant"]].drop_duplicates().shape[0])
    meta["preview"] = dg.MetadataValue.md(quality.daily_summary_markdown(points))
    return meta


def _fetch(api: EntsoeApiResource, endpoint: Endpoint, area: Area, window: dg.TimeWindow) -> FetchResult:
    try:
        with api.client() as client:
            return client.fetch(endpoint, area, fetch_start(endpoint, window.start), window.end)
    except (errors.Unauthorized, errors.InvalidRequest, errors.MalformedDocument) as exc:
        # Retrying cannot help: say what is wrong and stop (messages never hold the token).
        raise dg.Failure(description=str(exc), allow_retries=False) from None


def build_observation_asset(endpoint: Endpoint, area: Area, settings: Settings) -> dg.AssetsDefinition:
    key = observation_key(endpoint, area)
    partitions_def = partitions_for(endpoint, settings.history_start)

    @dg.asset(
        key=key,
        deps=[source_key(endpoint)],
        group_name=endpoint.name,
        description=f"{endpoint.description}\n\nArea: {area.label} ({area.name}, EIC {area.eic}).",
        partitions_def=partitions_def,
        backfill_policy=backfill_policy_for(endpoint),
        kinds={"timescaledb"},
        owners=["team:energy-data"],
        tags={"endpoint": endpoint.name, "area": area.name, "cadence": endpoint.cadence.value},
        metadata={
            "area_eic": area.eic,
            "table": "entsoe.observations",
            "dagster/table_name": "entsoe.observations",
        },
        pool=POOL,
        freshness_policy=dg.FreshnessPolicy.time_window(
            fail_window=endpoint.freshness, warn_window=endpoint.freshness / 2
        ),
        automation_condition=observation_condition(endpoint, settings),
        retry_policy=dg.RetryPolicy(
            max_retries=2, delay=60, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
        ),
        check_specs=[
            dg.AssetCheckSpec("completeness", asset=key, description="stored vs expected points"),
            dg.AssetCheckSpec("plausible_values", asset=key, description="values within physical range"),
            dg.AssetCheckSpec("resolution_matches", asset=key, description="resolution as in the catalogue"),
        ],
    )
    def _asset(
        context: dg.AssetExecutionContext, entsoe_api: EntsoeApiResource, timescale: TimescaleResource
    ) -> dg.MaterializeResult:
        window = context.partition_time_window
        windows = [partitions_def.time_window_for_partition_key(k) for k in context.partition_keys]
        fetched = _fetch(entsoe_api, endpoint, area, window)
        now = datetime.now(UTC)
        counts = _store(timescale, endpoint, area, fetched, windows, fetched_at=now)
        context.log.info(
            f"{endpoint.name} {area.name} {window.start:%Y-%m-%d}..{window.end:%Y-%m-%d}: "
            f"{len(fetched.points)} points in {fetched.requests} requests; "
            f"{counts.inserted} inserted, {counts.updated} updated, {counts.unchanged} unchanged"
        )
        return dg.MaterializeResult(
            metadata=_metadata(fetched, counts, window),
            check_results=[
                _check_result(
                    "completeness",
                    _completeness(timescale, endpoint, area, windows, now, settings.max_empty_tries),
                    dg.AssetCheckSeverity.WARN,
                ),
                _check_result(
                    "plausible_values",
                    quality.plausible_values(fetched.points, endpoint, area),
                    dg.AssetCheckSeverity.ERROR,
                ),
                _check_result(
                    "resolution_matches",
                    quality.resolution_matches(fetched.points, endpoint),
                    dg.AssetCheckSeverity.WARN,
                ),
            ],
        )

    return _asset
