"""The asset factory: one time-partitioned asset per enabled (endpoint, area).

A run covers one partition or a range of them (backfills, revision sweeps). The body hands the
run's partitions to ``entsoe_pipeline.ingest``, which fetches them in API-sized requests and stores
each partition in its own transaction, then reports per partition: its own rows, first and last
point, what changed, what ENTSO-E's documents contradicted, and its own result of each check. A
partition whose answer stays unreadable fails alone: the run records the others as materialized,
with their checks, and then fails naming it.
"""

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import dagster as dg
import pandas as pd

from entsoe_pipeline import quality, storage
from entsoe_pipeline.catalog import Area, Cadence, Endpoint
from entsoe_pipeline.entsoe import errors
from entsoe_pipeline.ingest import (
    IngestResult,
    PartitionIngest,
    PartitionWindow,
    expected_until,
    ingest_partitions,
)
from entsoe_pipeline.settings import Settings

from .automation import observation_condition
from .partition_checks import partition_check_events
from .partitions import backfill_policy_for, partitions_for
from .resources import EntsoeApiResource, TimescaleResource

POOL = "entsoe_api"
# ENTSO-E's unit codes as a reader writes them.
_UNITS = {"MAW": "MW", "EUR/MWH": "EUR/MWh"}


# The columns of entsoe.observations that analysts query (storage/schema.py has their comments).
OBSERVATIONS_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("time", "timestamptz", "start of the interval the value applies to, UTC"),
        dg.TableColumn("endpoint", "text", "pipeline endpoint name, e.g. actual_load"),
        dg.TableColumn("area", "text", "EIC code of the area (entsoe.areas has names)"),
        dg.TableColumn("business_type", "text", "ENTSO-E businessType ('' when none)"),
        dg.TableColumn("psr_type", "text", "ENTSO-E psrType, production type ('' when none)"),
        dg.TableColumn("variant", "text", "consumption, sequence=2, resource=<mRID>, or '' (canonical)"),
        dg.TableColumn("resolution", "interval", "length of the interval (PT15M, P7D, ...)"),
        dg.TableColumn("value", "double precision", "the published value, in unit"),
        dg.TableColumn("unit", "text", "MAW (MW) or EUR/MWH"),
        dg.TableColumn("document_mrid", "text", "mRID of the document that last changed the value"),
        dg.TableColumn("revision", "integer", "revisionNumber of that document"),
        dg.TableColumn("document_created", "timestamptz", "vintage: createdDateTime of that document"),
        dg.TableColumn("fetched_at", "timestamptz", "when the value was fetched"),
    ],
    constraints=dg.TableConstraints(
        other=["primary key (endpoint, area, business_type, psr_type, variant, time)"]
    ),
)


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


def window_due(
    start: datetime, end: datetime, endpoint: Endpoint, until: datetime
) -> tuple[datetime, datetime] | None:
    """The part of a partition window whose data should be published by ``until``
    (``expected_until``): actual data as it happens, anything else whole or not at all."""
    if endpoint.cadence is Cadence.ACTUAL:
        return (start, min(end, until)) if min(end, until) > start else None
    return (start, end) if end <= until else None


def _completeness(
    timescale: TimescaleResource,
    endpoint: Endpoint,
    area: Area,
    parts: Sequence[PartitionIngest],
    now: datetime,
    max_empty_tries: int,
) -> dict[str, quality.Finding]:
    """Per partition: its stored points against those the published part of its window implies
    (one query for the run)."""
    until = expected_until(endpoint, now)
    due = {p.window.key: window_due(p.window.start, p.window.end, endpoint, until) for p in parts}
    windows = [w for w in due.values() if w is not None]
    counts = dict(
        zip(
            windows,
            storage.window_completeness(
                timescale.dsn,
                endpoint.name,
                area.eic,
                windows,
                default_resolution=endpoint.default_resolution,
            ),
            strict=True,
        )
    )
    return {
        partition: quality.completeness([counts[window]], max_empty_tries)
        if window
        else quality.Finding(True, "no part of the window is due yet", {"expected_points": 0})
        for partition, window in due.items()
    }


class _Check(NamedTuple):
    description: str
    severity: dg.AssetCheckSeverity
    # One result per partition (the day's own status in the UI, the blocking guard day by day), or
    # one per run. A result per partition is an event per partition (the project's Dagster storage
    # writes a run's together), so only the checks about days are per partition. The two about
    # ENTSO-E's documents, whose answers span several partitions, report per run; each partition's
    # metadata has its own points_dropped and document_problems.
    per_partition: bool
    blocking: bool = False


CHECKS = {
    "completeness": _Check("stored vs expected points", dg.AssetCheckSeverity.WARN, per_partition=True),
    # Blocking: derived tables are not computed from implausible values.
    "plausible_values": _Check(
        "values within physical range", dg.AssetCheckSeverity.ERROR, per_partition=True, blocking=True
    ),
    "resolution_matches": _Check(
        "resolution as in the catalogue", dg.AssetCheckSeverity.WARN, per_partition=False
    ),
    "points_placed": _Check(
        "every Point of ENTSO-E's documents was placed in time and stored",
        dg.AssetCheckSeverity.ERROR,
        per_partition=False,
    ),
}


def _result(name: str, finding: quality.Finding) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=name,
        passed=finding.passed,
        severity=CHECKS[name].severity,
        description=finding.description,
        metadata=dict(finding.figures),
    )


def _partition_checks(
    part: PartitionIngest, completeness: quality.Finding, endpoint: Endpoint, area: Area
) -> list[dg.AssetCheckResult]:
    """The per-partition checks of one partition, on the partition's own points and figures."""
    return [
        _result("completeness", completeness),
        _result("plausible_values", quality.plausible_values(part.points, endpoint, area)),
    ]


def _run_checks(run: IngestResult, points: pd.DataFrame, endpoint: Endpoint) -> list[dg.AssetCheckResult]:
    """The per-run checks, over the documents of the whole run (``points``: all its points)."""
    # A problem of one answer may concern several of its partitions: count it once.
    problems = list(dict.fromkeys(p for part in run.partitions for p in part.problems))
    return [
        _result("resolution_matches", quality.resolution_matches(points, endpoint)),
        _result("points_placed", quality.points_placed(problems, run.duplicates)),
    ]


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
            "dagster/column_schema": OBSERVATIONS_SCHEMA,
        },
        pool=POOL,
        # No freshness policy here: Dagster would judge it by the last run of any partition. The
        # series' freshness is its _newest companion's, which follows the data (freshness.py).
        automation_condition=observation_condition(endpoint),
        retry_policy=dg.RetryPolicy(
            max_retries=2,
            delay=settings.retry_delay_seconds,
            backoff=dg.Backoff.EXPONENTIAL,
            jitter=dg.Jitter.PLUS_MINUS,
        ),
        # One result per partition and check, so that the asset's Checks tab shows each
        # partition's status and the blocking check guards derived partitions day by day.
        check_specs=[
            dg.AssetCheckSpec(
                name,
                asset=key,
                description=check.description,
                blocking=check.blocking,
                partitions_def=partitions_def if check.per_partition else None,
            )
            for name, check in CHECKS.items()
        ],
    )
    def _asset(
        context: dg.AssetExecutionContext, entsoe_api: EntsoeApiResource, timescale: TimescaleResource
    ) -> Iterator[dg.MaterializeResult | dg.AssetMaterialization | dg.Output | dg.AssetCheckEvaluation]:
        windows = [
            PartitionWindow(k, *partitions_def.time_window_for_partition_key(k))
            for k in context.partition_keys
        ]
        now = settings.clock()
        run = _ingest(entsoe_api, timescale, endpoint, area, windows, now)
        stored = _stored_rows(timescale, endpoint, area, run.stored)
        points = _all_points(run)
        previews = _Previews(quality.daily_summary(points))
        metadata = {
            p.window.key: _partition_metadata(p, stored[p.window.key], run, previews) for p in run.stored
        }
        completeness = _completeness(timescale, endpoint, area, run.stored, now, settings.max_empty_tries)
        checks = {
            p.window.key: _partition_checks(p, completeness[p.window.key], endpoint, area) for p in run.stored
        }
        context.log.info(_summary(endpoint, area, run))
        if run.failed:
            # The other partitions are stored: record them and their checks, then fail naming the
            # ones that are not (their checks stay without a result: the run failed them).
            for partition, meta in metadata.items():
                yield dg.AssetMaterialization(asset_key=key, partition=partition, metadata=meta)
            yield from partition_check_events(context, checks)
            raise dg.Failure(description=_failure_text(run.failed, len(run.partitions)), allow_retries=False)
        for partition, meta in metadata.items():
            context.add_asset_metadata(meta, partition_key=partition)
        if context.has_partition_key:  # Dagster files the results under the run's partition
            (results,) = checks.values()
            yield dg.MaterializeResult(check_results=[*results, *_run_checks(run, points, endpoint)])
        else:  # a range, even of one partition
            yield dg.MaterializeResult(check_results=_run_checks(run, points, endpoint))
            yield from partition_check_events(context, checks)

    return _asset


def _ingest(
    api: EntsoeApiResource,
    timescale: TimescaleResource,
    endpoint: Endpoint,
    area: Area,
    windows: Sequence[PartitionWindow],
    now: datetime,
) -> IngestResult:
    try:
        with api.client(budget_dsn=timescale.dsn) as client:
            return ingest_partitions(client, timescale.dsn, endpoint, area, windows, now=now)
    except (errors.Unauthorized, errors.InvalidRequest) as exc:
        # Retrying cannot help: say what is wrong and stop (messages never hold the token).
        raise dg.Failure(description=str(exc), allow_retries=False) from None


def _stored_rows(
    timescale: TimescaleResource, endpoint: Endpoint, area: Area, parts: Sequence[PartitionIngest]
) -> dict[str, int]:
    """Rows the store holds per partition now (more than this run brought when earlier answers
    had points a thinner one lacks)."""
    if not parts:
        return {}
    counts = storage.window_completeness(
        timescale.dsn,
        endpoint.name,
        area.eic,
        [(p.window.start, p.window.end) for p in parts],
        default_resolution=endpoint.default_resolution,
    )
    return {p.window.key: c.stored for p, c in zip(parts, counts, strict=True)}


class _Previews:
    """Each partition's preview: its rows of one summary of the run's points, formatted once and
    found by position (the summary is in time order). Hundreds of partitions do not each filter and
    format a DataFrame."""

    def __init__(self, summary: pd.DataFrame) -> None:
        self._first = summary["first"]
        self._lines = quality.summary_lines(summary)

    def of(self, part: PartitionIngest) -> str:
        begin, end = self._first.searchsorted([part.data_start, part.data_end])
        return quality.markdown_table(self._lines[begin:end])


def _partition_metadata(
    part: PartitionIngest, stored_rows: int, run: IngestResult, previews: _Previews
) -> dict[str, Any]:
    """What the UI shows for one partition: its own figures, never the run's totals."""
    counts = part.counts
    meta: dict[str, Any] = {
        "dagster/row_count": stored_rows,
        "points_fetched": len(part.points),
        "rows_inserted": counts.inserted,
        "rows_updated": counts.updated,
        "rows_unchanged": counts.unchanged,
        "rows_superseded": counts.superseded,
        "points_dropped": part.points_dropped,
        "run_requests": run.requests,
        "window_start": dg.MetadataValue.timestamp(part.window.start),
        "window_end": dg.MetadataValue.timestamp(part.window.end),
    }
    if part.problems:
        meta["document_problems"] = dg.MetadataValue.md(
            "\n".join(f"- {p.what} ({p.dropped} points dropped)" for p in part.problems[:10])
        )
    points = part.points
    if points.empty:
        meta["note"] = dg.MetadataValue.text(
            "no data published: ENTSO-E answered 'No matching data found' for this window"
            if part.no_data
            else "no points in this window"
        )
        return meta
    meta["first_point"] = dg.MetadataValue.timestamp(points["time"].min().to_pydatetime())
    meta["last_point"] = dg.MetadataValue.timestamp(points["time"].max().to_pydatetime())
    meta["resolution"] = ", ".join(sorted(set(points["resolution"])))
    kinds = (points[c].to_numpy() for c in ("business_type", "psr_type", "variant"))
    meta["series"] = len(set(zip(*kinds, strict=True)))
    # Numbers, so that the asset's Plots view charts them across partitions.
    meta.update({k: v for k, v in quality.partition_figures(points).items() if k != "points"})
    meta["unit"] = _UNITS.get(str(points["unit"].iloc[0]), str(points["unit"].iloc[0]))
    meta["preview"] = dg.MetadataValue.md(previews.of(part))
    return meta


def _all_points(run: IngestResult) -> pd.DataFrame:
    frames = [p.points for p in run.stored if len(p.points)]
    return pd.concat(frames, ignore_index=True) if frames else run.partitions[0].points


def _summary(endpoint: Endpoint, area: Area, run: IngestResult) -> str:
    parts = run.partitions
    totals = [sum(getattr(p.counts, f) for p in parts) for f in ("inserted", "updated", "superseded")]
    return (
        f"{endpoint.name} {area.name} {parts[0].window.key}..{parts[-1].window.key}: "
        f"{sum(len(p.points) for p in parts)} points in {run.requests} requests; {totals[0]} inserted, "
        f"{totals[1]} updated (revised), {totals[2]} superseded; {len(run.failed)} of {len(parts)} "
        "partitions failed"
    )


def _failure_text(failed: Sequence[PartitionIngest], total: int) -> str:
    keys = ", ".join(p.window.key for p in failed[:10])
    return (
        f"{len(failed)} of {total} partitions could not be read and were not stored ({keys}); the other "
        f"{total - len(failed)} are stored. First: {failed[0].error}"
    )
