"""``upsert_points``: write one batch of points (one partition) in one transaction, all or nothing.

Writers of one (endpoint, area) take turns (a transaction-level advisory lock): the summary's days
of a series are then extended by one writer at a time, and a range found empty stays empty until
the write commits. Writers of different (endpoint, area) never touch the same rows and run in
parallel. Rows are still written in key order, so a writer and a manual SQL session lock them in
the same order.

New ranges (the bulk of a backfill): when nothing is stored for the (endpoint, area) between the
batch's first and last point, the rows go straight into ``entsoe.observations`` by binary ``COPY``
(PostgreSQL inserts COPY rows in multi-row batches; ``INSERT ... SELECT`` inserts them one by one,
about 1.5 times slower on a hypertable), and ``entsoe.daily_counts`` gains the batch's counts. This
runs under a savepoint: if a manual insert stored one of the keys meanwhile (unique violation),
the savepoint is rolled back and the general path below runs instead, in the same transaction.

General path, all inside the same transaction:
1. binary ``COPY`` of the batch into a temporary staging table (``ON COMMIT DROP``), plus a small
   table of its distinct text combinations (see ``staging.py``);
2. one ``INSERT ... SELECT ... ON CONFLICT DO UPDATE`` into ``entsoe.observations`` in key order.
   Rows equal to what is stored are filtered out before the insert (an anti-join on the primary
   key), so a re-fetch that changed nothing neither rewrites nor locks a single row; the
   ``DO UPDATE ... WHERE ... IS DISTINCT FROM`` repeats the test for a row stored by plain SQL in
   between. Only value, resolution, unit and revision count as a change: ENTSO-E gives every
   answer a new document mRID, so provenance alone must not rewrite a row;
3. the rows that were inserted (``xmax = 0`` in ``RETURNING``) are counted per series and UTC day
   into ``entsoe.daily_counts`` by the same statement; inserted/updated counts are aggregated in
   SQL, so only three numbers come back.

Both paths end by giving every day of the batch's span, and between it and the days stored before,
its summary row (``entsoe.fill_days``: the summary is dense, see schema.py).

Nothing is ever deleted: points stored earlier and absent from the batch stay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import psycopg2
import psycopg2.errors
import psycopg2.extensions
import psycopg2.extras

from . import vintages
from .connection import DsnOrConnection, redact, transaction
from .errors import StorageError
from .resolution import Resolution, covered_seconds
from .staging import (
    COMBO_COLUMNS,
    OBSERVATION_COLUMNS,
    STAGING_COLUMNS,
    ChunkReader,
    PreparedBatch,
    copy_chunks,
    describe_range,
    observation_chunks,
    prepare,
)


@dataclass(frozen=True)
class UpsertCounts:
    """How the rows of a batch ended: new, changed, or equal to what was stored; and how many stored
    points of another resolution the batch's newer document superseded (moved to the history)."""

    inserted: int
    updated: int
    unchanged: int
    superseded: int = 0

    @property
    def written(self) -> int:
        return self.inserted + self.updated


_STAGE = f"""
CREATE TEMPORARY TABLE entsoe_staging ({STAGING_COLUMNS}) ON COMMIT DROP;
CREATE TEMPORARY TABLE entsoe_staging_combos (
    combo integer PRIMARY KEY, {", ".join(f"{c} text NOT NULL" for c in COMBO_COLUMNS)}
) ON COMMIT DROP;
"""

_MERGE = """
WITH staged AS (
    SELECT s.series, s.time, s.value, s.revision, c.business_type, c.psr_type, c.variant,
           c.resolution::interval AS resolution, c.unit, c.document_mrid,
           nullif(c.document_created, '')::timestamptz AS document_created
    FROM entsoe_staging s JOIN entsoe_staging_combos c ON c.combo = s.combo
), upserted AS (
    INSERT INTO entsoe.observations AS o
        (time, endpoint, area, business_type, psr_type, variant, resolution, value, unit,
         document_mrid, revision, fetched_at, document_created)
    SELECT st.time, %(endpoint)s, %(area)s, st.business_type, st.psr_type, st.variant,
           st.resolution, st.value, st.unit, st.document_mrid, st.revision,
           %(fetched_at)s, st.document_created
    FROM staged st
    WHERE NOT EXISTS (
        SELECT 1 FROM entsoe.observations x
        WHERE x.endpoint = %(endpoint)s AND x.area = %(area)s
          AND x.business_type = st.business_type AND x.psr_type = st.psr_type
          AND x.variant = st.variant AND x.time = st.time
          AND x.time >= %(first)s AND x.time <= %(last)s
          AND x.value = st.value AND x.resolution = st.resolution AND x.unit = st.unit
          AND x.revision = st.revision)
    ORDER BY st.series, st.time
    ON CONFLICT (endpoint, area, business_type, psr_type, variant, time) DO UPDATE SET
        value = excluded.value, resolution = excluded.resolution, unit = excluded.unit,
        revision = excluded.revision, document_mrid = excluded.document_mrid,
        fetched_at = excluded.fetched_at, document_created = excluded.document_created
    WHERE (o.value, o.resolution, o.unit, o.revision)
          IS DISTINCT FROM (excluded.value, excluded.resolution, excluded.unit, excluded.revision)
    RETURNING (o.xmax = 0) AS inserted, o.business_type, o.psr_type, o.variant, o.time, o.resolution
), counted AS (
    INSERT INTO entsoe.daily_counts AS d
        (endpoint, area, business_type, psr_type, variant, day, points, covered, resolution)
    SELECT %(endpoint)s, %(area)s, business_type, psr_type, variant,
           entsoe.summary_day(time, resolution, %(tz)s),
           count(*), sum(entsoe.covered_seconds(resolution)), min(resolution)
    FROM upserted WHERE inserted
    GROUP BY business_type, psr_type, variant, entsoe.summary_day(time, resolution, %(tz)s)
    -- the order the other path (Python, code-point order) takes its locks in
    ORDER BY business_type COLLATE "C", psr_type COLLATE "C", variant COLLATE "C", 6
    ON CONFLICT (endpoint, area, business_type, psr_type, variant, day) DO UPDATE SET
        points = d.points + excluded.points, covered = d.covered + excluded.covered,
        resolution = CASE WHEN d.points = 0 THEN excluded.resolution
                      ELSE least(d.resolution, excluded.resolution) END
    RETURNING 1
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),
       (SELECT count(*) FROM counted)
FROM upserted
"""


_RANGE_HAS_ROWS = """
SELECT EXISTS (SELECT 1 FROM entsoe.observations
               WHERE endpoint = %s AND area = %s AND time >= %s AND time < %s)
"""

_ADD_COUNTS = """
INSERT INTO entsoe.daily_counts AS d
    (endpoint, area, business_type, psr_type, variant, day, points, covered, resolution)
VALUES %s
ON CONFLICT (endpoint, area, business_type, psr_type, variant, day) DO UPDATE SET
    points = d.points + excluded.points, covered = d.covered + excluded.covered,
    resolution = CASE WHEN d.points = 0 THEN excluded.resolution
                      ELSE least(d.resolution, excluded.resolution) END
"""

_EPOCH_DAY = date(1970, 1, 1)


def _daily_counts(endpoint: str, area: str, batch: PreparedBatch) -> list[tuple[object, ...]]:
    """Summary rows for a batch whose rows are all new, in key order (code points, like the
    merge statement's ``COLLATE "C"``)."""
    days = batch.day
    first_day = int(days.min())
    width = int(days.max()) - first_day + 1
    code = batch.combo.astype("int64") * width + (days - first_day)
    groups, counts = np.unique(code, return_counts=True)
    totals: dict[tuple[str, str, str, int], list[Any]] = {}
    for group, count in zip(groups.tolist(), counts.tolist(), strict=True):
        combo, day = divmod(group, width)
        text, business_type, psr_type, variant = batch.combos[combo][:4]
        resolution = Resolution.parse(text)
        total = totals.setdefault((business_type, psr_type, variant, first_day + day), [0, 0, resolution])
        total[0] += count
        total[1] += count * covered_seconds(resolution)
        total[2] = min(total[2], resolution)
    return [
        (endpoint, area, bt, psr, variant, _EPOCH_DAY + timedelta(days=day), points, covered, finest.pg)
        for (bt, psr, variant, day), (points, covered, finest) in sorted(totals.items())
    ]


def _copy_new(
    cur: psycopg2.extensions.cursor,
    endpoint: str,
    area: str,
    batch: PreparedBatch,
    runs: Runs,
    fetched_at: datetime,
) -> bool:
    """COPY a batch into a range that holds nothing (up to the end of its last point, so nothing
    is left to supersede); False (and nothing done) if that failed."""
    cur.execute(_RANGE_HAS_ROWS, (endpoint, area, batch.first, max(runs.hi)))
    row = cur.fetchone()
    if row is None or row[0]:
        return False
    cur.execute("SAVEPOINT entsoe_copy_new")
    try:
        cur.copy_expert(
            f"COPY entsoe.observations ({OBSERVATION_COLUMNS}) FROM STDIN WITH (FORMAT binary)",
            ChunkReader(observation_chunks(batch, endpoint, area, fetched_at)),
            size=1 << 20,
        )
        psycopg2.extras.execute_values(
            cur,
            _ADD_COUNTS,
            _daily_counts(endpoint, area, batch),
            template="(%s, %s, %s, %s, %s, %s, %s, %s, %s::interval)",
            page_size=10_000,
        )
    except (psycopg2.errors.UniqueViolation, psycopg2.errors.DeadlockDetected):
        # Someone stored some of these keys since the check: merge instead.
        cur.execute("ROLLBACK TO SAVEPOINT entsoe_copy_new")
        return False
    cur.execute("RELEASE SAVEPOINT entsoe_copy_new")
    return True


def _merge(
    cur: psycopg2.extensions.cursor, endpoint: str, area: str, batch: PreparedBatch, fetched_at: datetime
) -> tuple[int, int]:
    cur.execute(_STAGE)
    psycopg2.extras.execute_values(
        cur,
        f"INSERT INTO entsoe_staging_combos (combo, {', '.join(COMBO_COLUMNS)}) VALUES %s",
        [(i, *combo) for i, combo in enumerate(batch.combos)],
    )
    cur.copy_expert(
        "COPY entsoe_staging FROM STDIN WITH (FORMAT binary)", ChunkReader(copy_chunks(batch)), size=1 << 20
    )
    # Row estimates for the anti-join and the sort: without them the planner guesses 1,000 rows.
    cur.execute("ANALYZE entsoe_staging")
    cur.execute(
        _MERGE,
        {
            "endpoint": endpoint,
            "area": area,
            "fetched_at": fetched_at,
            "first": batch.first,
            "last": batch.last,
            "tz": batch.tz,
        },
    )
    row = cur.fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


@dataclass(frozen=True)
class Runs:
    """Runs of a batch: per series, consecutive points of one resolution, as the time span
    ``[lo, hi)`` they cover and the vintage of their newest document (or the fetch time)."""

    business_type: list[str]
    psr_type: list[str]
    variant: list[str]
    lo: list[datetime]
    hi: list[datetime]
    resolution: list[str]
    created: list[datetime]


def batch_runs(batch: PreparedBatch, fetched_at: datetime) -> Runs:
    resolution_of_combo = [combo[0] for combo in batch.combos]
    resolution_code = np.array(
        [sorted(set(resolution_of_combo)).index(r) for r in resolution_of_combo], dtype=np.int64
    )[batch.combo]
    cut = (batch.series[1:] != batch.series[:-1]) | (resolution_code[1:] != resolution_code[:-1])
    starts = np.concatenate(([0], np.flatnonzero(cut) + 1)).tolist()
    ends = [*starts[1:], len(batch)]
    runs = Runs([], [], [], [], [], [], [])
    for start, end in zip(starts, ends, strict=True):
        combos = [batch.combos[c] for c in np.unique(batch.combo[start:end]).tolist()]
        text, business_type, psr_type, variant = combos[0][:4]
        resolution = Resolution.parse(text)
        created = [pd.Timestamp(c[6]).to_pydatetime() for c in combos if c[6]]
        hi = resolution.add(_utc_us(int(batch.time_us[end - 1])), batch.tz)
        if end < len(batch) and batch.series[end] == batch.series[start]:
            # Points of one series never overlap in time, so neither do its runs: a run ends
            # where the next begins, and the batch's own points lie in their own run only.
            hi = min(hi, _utc_us(int(batch.time_us[end])))
        runs.business_type.append(business_type)
        runs.psr_type.append(psr_type)
        runs.variant.append(variant)
        runs.lo.append(_utc_us(int(batch.time_us[start])))
        runs.hi.append(hi)
        runs.resolution.append(resolution.pg)
        runs.created.append(max(created, default=fetched_at))
    return runs


def _utc_us(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)


def _supersede(
    cur: psycopg2.extensions.cursor, endpoint: str, area: str, batch: PreparedBatch, runs: Runs
) -> int:
    """Move the stored points that the batch's runs re-published at another resolution to the
    history (see vintages.SUPERSEDE); returns how many."""
    width = int(batch.day.max()) - int(batch.day.min()) + 1
    first_day = int(batch.day.min())
    groups, counts = np.unique(
        batch.series.astype(np.int64) * width + (batch.day - first_day), return_counts=True
    )
    key_of_series: dict[int, tuple[str, str, str]] = {}
    for series, combo in zip(batch.series.tolist(), batch.combo.tolist(), strict=True):
        key_of_series.setdefault(series, batch.combos[combo][1:4])
    series_of_group = (groups // width).tolist()
    cur.execute(
        vintages.SUPERSEDE,
        {
            "endpoint": endpoint,
            "area": area,
            "run_bt": runs.business_type,
            "run_psr": runs.psr_type,
            "run_variant": runs.variant,
            "run_lo": runs.lo,
            "run_hi": runs.hi,
            "run_resolution": runs.resolution,
            "run_created": runs.created,
            "day_bt": [key_of_series[s][0] for s in series_of_group],
            "day_psr": [key_of_series[s][1] for s in series_of_group],
            "day_variant": [key_of_series[s][2] for s in series_of_group],
            "day": [_EPOCH_DAY + timedelta(days=first_day + int(d)) for d in (groups % width).tolist()],
            "day_points": counts.tolist(),
        },
    )
    row = cur.fetchone()
    return int(row[0]) if row else 0


_FILL = """
SELECT entsoe.fill_days(%s, %s, t.business_type, t.psr_type, t.variant, t.lo, t.hi)
FROM unnest(%s::text[], %s::text[], %s::text[], %s::date[], %s::date[])
     AS t(business_type, psr_type, variant, lo, hi)
"""


def _fill_days(cur: psycopg2.extensions.cursor, endpoint: str, area: str, batch: PreparedBatch) -> None:
    """Keep the summary dense: a row for every day of the batch's span and between it and the
    days stored before (see schema.py, migration 0005)."""
    days = batch.day
    spans: dict[tuple[str, str, str], tuple[int, int]] = {}
    for series in np.unique(batch.series).tolist():
        mask = batch.series == series
        _, business_type, psr_type, variant, *_ = batch.combos[int(batch.combo[np.argmax(mask)])]
        spans[(business_type, psr_type, variant)] = (int(days[mask].min()), int(days[mask].max()))
    keys = sorted(spans)
    cur.execute(
        _FILL,
        (
            endpoint,
            area,
            [k[0] for k in keys],
            [k[1] for k in keys],
            [k[2] for k in keys],
            [_EPOCH_DAY + timedelta(days=spans[k][0]) for k in keys],
            [_EPOCH_DAY + timedelta(days=spans[k][1]) for k in keys],
        ),
    )


def _write(
    cur: psycopg2.extensions.cursor,
    endpoint: str,
    area: str,
    batch: PreparedBatch,
    fetched_at: datetime | None,
    *,
    merge: bool = True,
) -> tuple[int, int, int] | None:
    """(inserted, updated, superseded); None, with nothing written, when ``merge`` is off and the
    batch's range already holds rows."""
    # Sorts of a 700k-row batch fit in memory; JIT compiles for longer than this query runs.
    cur.execute("SET LOCAL work_mem = '256MB'; SET LOCAL jit = off")
    cur.execute("SELECT coalesce(%s::timestamptz, now())", (fetched_at,))
    row = cur.fetchone()
    assert row is not None
    when: datetime = row[0]
    # Writers of one (endpoint, area) take turns: the summary's days of a series are extended by
    # one writer at a time (two first writes of March and May must not leave April without its
    # row), and a range found empty stays empty until this write commits.
    cur.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"entsoe.observations {endpoint} {area}",)
    )
    runs = batch_runs(batch, when)
    superseded = 0
    if _copy_new(cur, endpoint, area, batch, runs, when):
        inserted, updated = len(batch), 0
    elif not merge:
        return None
    else:
        inserted, updated = _merge(cur, endpoint, area, batch, when)
        superseded = _supersede(cur, endpoint, area, batch, runs)
    _fill_days(cur, endpoint, area, batch)
    return inserted, updated, superseded


def upsert_points(
    dsn_or_conn: DsnOrConnection,
    endpoint: str,
    area: str,
    points: pd.DataFrame,
    *,
    fetched_at: datetime | None = None,
) -> UpsertCounts:
    """Upsert the parser's points of one (endpoint, area) in one transaction.

    ``points`` has the parser's columns (time, value, resolution, business_type, psr_type,
    variant, area, unit, document_mrid, revision); ``area`` is the EIC code, and ``points.area``
    must be empty or equal to it. Duplicate keys in the batch: the last row wins. ``fetched_at``
    defaults to the transaction's start. With a connection instead of a DSN, the write commits on
    it (hand it over idle) and the connection stays open.

    Raises ``InvalidPoints`` (a ``StorageError``) for points that cannot be stored, ``StorageError``
    when the database write fails; either way nothing of the batch is stored.
    """
    written = _store(dsn_or_conn, endpoint, area, points, fetched_at, merge=True)
    assert written is not None
    return written


def insert_new_points(
    dsn_or_conn: DsnOrConnection,
    endpoint: str,
    area: str,
    points: pd.DataFrame,
    *,
    fetched_at: datetime | None = None,
) -> UpsertCounts | None:
    """``upsert_points`` for a range of the series that holds no rows yet (a history fill): one COPY
    of all the points, in one transaction. None, and nothing written, when the range holds rows:
    then store with ``upsert_points``, which merges and counts what changed."""
    return _store(dsn_or_conn, endpoint, area, points, fetched_at, merge=False)


def _store(
    dsn_or_conn: DsnOrConnection,
    endpoint: str,
    area: str,
    points: pd.DataFrame,
    fetched_at: datetime | None,
    *,
    merge: bool,
) -> UpsertCounts | None:
    batch = prepare(points, endpoint, area)
    if fetched_at is not None and fetched_at.tzinfo is None:
        raise ValueError("fetched_at must be timezone-aware")
    if len(batch) == 0:
        return UpsertCounts(0, 0, 0)
    dsn = dsn_or_conn if isinstance(dsn_or_conn, str) else None
    try:
        with transaction(dsn_or_conn) as cur:
            written = _write(cur, endpoint, area, batch, fetched_at, merge=merge)
    except psycopg2.Error as exc:
        detail = " ".join(str(exc).split())
        message = (
            f"writing {len(batch)} points of {endpoint} {area} ({describe_range(batch.first, batch.last)}) "
            f"failed and was rolled back, nothing was stored: {detail or type(exc).__name__}"
        )
        raise StorageError(redact(message, dsn)) from None
    if written is None:
        return None
    inserted, updated, superseded = written
    return UpsertCounts(inserted, updated, len(batch) - inserted - updated, superseded)
