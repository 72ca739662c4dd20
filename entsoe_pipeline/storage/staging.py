"""Checking a batch of points and encoding it for ``COPY ... (FORMAT binary)``.

The parser's DataFrame has one text column per key and provenance field, but a batch holds only a
handful of distinct (resolution, business_type, psr_type, variant, unit, document_mrid)
combinations. They go to the server once, as a small table; the rows go as fixed-width binary
tuples (combination code, series ordinal, time, value, revision) built with numpy in chunks, so
encoding costs milliseconds and memory grows with the chunk, not with a CSV string of the batch.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from .errors import InvalidPoints
from .resolution import Resolution, area_tz

COMBO_COLUMNS = (
    "resolution",
    "business_type",
    "psr_type",
    "variant",
    "unit",
    "document_mrid",
    "document_created",
)
KEY_TEXT_COLUMNS = ("business_type", "psr_type", "variant")
_DEFAULTS: dict[str, object] = {
    "business_type": "",
    "psr_type": "",
    "variant": "",
    "document_mrid": "",
    "document_created": "",
    "revision": 1,
}
_REQUIRED = ("time", "value", "resolution", "unit")

# Points outside these years are a parsing or unit bug, not ENTSO-E data (it starts in 2014 and
# forecasts reach a year or two ahead).
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)

_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in microseconds since 1970: PostgreSQL's epoch

# One binary COPY tuple: field count, then (length, value) per field, all big-endian.
ROW_DTYPE = np.dtype(
    [
        ("fields", ">i2"),
        ("series_len", ">i4"),
        ("series", ">i4"),
        ("combo_len", ">i4"),
        ("combo", ">i4"),
        ("time_len", ">i4"),
        ("time", ">i8"),
        ("value_len", ">i4"),
        ("value", ">f8"),
        ("revision_len", ">i4"),
        ("revision", ">i4"),
    ]
)
STAGING_COLUMNS = "series integer, combo integer, time timestamptz, value double precision, revision integer"
_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_TRAILER = struct.pack(">h", -1)


@dataclass
class PreparedBatch:
    """A checked, de-duplicated batch ready to stage."""

    series: np.ndarray  # int32 ordinal of (business_type, psr_type, variant) in sorted order
    combo: np.ndarray  # int32 index into combos
    time_us: np.ndarray  # int64 microseconds since 1970-01-01 UTC
    value: np.ndarray  # float64
    revision: np.ndarray  # int32
    combos: list[tuple[str, ...]]  # COMBO_COLUMNS values per code
    first: datetime | None
    last: datetime | None
    duplicates_dropped: int
    # Summary day of each row (days since 1970-01-01): the UTC day of sub-daily points, the local day
    # (area's zone) of day-long and longer ones, as entsoe.summary_day computes it.
    day: np.ndarray
    tz: str

    def __len__(self) -> int:
        return len(self.time_us)


def describe_range(first: datetime | None, last: datetime | None) -> str:
    if first is None or last is None:
        return "no points"
    return f"points from {first:%Y-%m-%dT%H:%MZ} to {last:%Y-%m-%dT%H:%MZ}"


def _time_bounds(t: pd.Series) -> tuple[datetime | None, datetime | None]:
    valid = t.dropna()
    if valid.empty:
        return None, None
    return valid.min().to_pydatetime(), valid.max().to_pydatetime()


def _text(value: object) -> str:
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float) and np.isnan(value):
        return ""
    if isinstance(value, pd.Timestamp):
        return value.isoformat()  # with its offset, so PostgreSQL reads the same instant
    return str(value)


def _combinations(points: pd.DataFrame) -> tuple[np.ndarray, list[tuple[str, ...]]]:
    """Code per row and the distinct (COMBO_COLUMNS) text tuples; a missing column is its default.

    Columns are factorized one by one and the codes combined arithmetically: factorizing the
    tuples directly costs ten times more on 700k rows.
    """
    n = len(points)
    combined = np.zeros(n, dtype="int64")
    columns: list[tuple[np.ndarray, list[str]]] = []
    for column in COMBO_COLUMNS:
        if column in points.columns:
            codes, values = pd.factorize(points[column], use_na_sentinel=False)
            texts = [_text(v) for v in values]
        else:
            codes, texts = np.zeros(n, dtype="int64"), [str(_DEFAULTS[column])]
        # Re-factorize after each column so the combined code stays small whatever the input.
        combined = pd.factorize(combined * len(texts) + codes)[0]
        columns.append((codes, texts))
    combo_codes = combined.astype("int32")
    first = np.zeros(int(combo_codes.max()) + 1 if n else 0, dtype="int64")
    first[combo_codes[::-1]] = np.arange(n - 1, -1, -1)  # first row of each combination
    combos = [tuple(texts[codes[row]] for codes, texts in columns) for row in first]
    return combo_codes, combos


def prepare(points: pd.DataFrame, endpoint: str, area: str) -> PreparedBatch:
    """Check the parser's DataFrame and turn it into arrays for staging.

    Raises ``ValueError`` when ``points.area`` names another area, ``InvalidPoints`` (a
    ``StorageError``) for anything that cannot be stored as given.
    """
    where = f"{endpoint} {area}"
    missing = [c for c in _REQUIRED if c not in points.columns]
    if missing:
        raise InvalidPoints(f"{where}: points lack the column(s) {', '.join(missing)}; nothing was stored")
    if "area" in points.columns and len(points):
        areas = set(points["area"].astype("string").fillna("").unique()) - {""}
        if areas - {area}:
            raise ValueError(
                f"{where}: points are for area {', '.join(sorted(areas))} but were written as area {area}"
            )

    times = points["time"]
    if not isinstance(times.dtype, pd.DatetimeTZDtype):
        raise InvalidPoints(
            f"{where}: column time must hold timezone-aware timestamps (UTC), got dtype {times.dtype}; "
            "nothing was stored"
        )
    times = times.dt.tz_convert("UTC")
    first, last = _time_bounds(times)
    span = describe_range(first, last)
    if times.isna().any():
        raise InvalidPoints(
            f"{where}: {int(times.isna().sum())} points have no time (NaT); nothing was stored ({span})"
        )
    if first is not None and last is not None and (first < EARLIEST or last >= LATEST):
        bad = first if first < EARLIEST else last
        raise InvalidPoints(
            f"{where}: time {bad.isoformat()} is outside {EARLIEST.year}..{LATEST.year - 1}; "
            f"nothing was stored ({span})"
        )

    values = points["value"]
    if values.dtype == bool or not pd.api.types.is_numeric_dtype(values.dtype):
        raise InvalidPoints(
            f"{where}: column value must be numeric, got dtype {values.dtype}; nothing was stored ({span})"
        )
    value = values.to_numpy(dtype="float64", na_value=np.nan)
    bad_values = ~np.isfinite(value)
    if bad_values.any():
        first_bad = times[bad_values].min()
        raise InvalidPoints(
            f"{where}: {int(bad_values.sum())} values are NaN or infinite "
            f"(first at {first_bad:%Y-%m-%dT%H:%MZ}); nothing was stored ({span})"
        )

    if "revision" in points.columns:
        rev = points["revision"]
        if rev.dtype == bool or not pd.api.types.is_numeric_dtype(rev.dtype) or rev.isna().any():
            raise InvalidPoints(
                f"{where}: column revision must hold integers, got {rev.dtype}; nothing was stored ({span})"
            )
        revision = rev.to_numpy(dtype="int64")
        if (revision < 0).any() or (revision > 2**31 - 1).any():
            raise InvalidPoints(f"{where}: revision out of range; nothing was stored ({span})")
    else:
        revision = np.ones(len(points), dtype="int64")

    if "document_created" in points.columns:
        created = points["document_created"]
        if not isinstance(created.dtype, pd.DatetimeTZDtype) and not created.isna().all():
            raise InvalidPoints(
                f"{where}: column document_created must hold timezone-aware timestamps, got dtype "
                f"{created.dtype}; nothing was stored ({span})"
            )

    combo_codes, combos = _combinations(points)
    calendar_combos = np.zeros(len(combos), dtype=bool)
    for code, combo in enumerate(combos):
        try:
            calendar_combos[code] = Resolution.parse(combo[0]).day_or_longer
        except ValueError as exc:
            raise InvalidPoints(f"{where}: bad resolution: {exc}; nothing was stored ({span})") from None
    series_of_combo = [row[1:4] for row in combos]
    # Series ordinals sorted by their key text: every writer locks rows in the same order.
    ordinal = {key: i for i, key in enumerate(sorted(set(series_of_combo)))}
    series = np.array([ordinal[k] for k in series_of_combo], dtype="int32")[combo_codes]

    time_us = pd.DatetimeIndex(times).as_unit("us").asi8
    frame = pd.DataFrame({"series": series, "time": time_us})
    # Duplicate keys in one batch: the last one wins, as in the document order of the parser.
    keep = ~frame.duplicated(["series", "time"], keep="last").to_numpy()
    dropped = int(len(keep) - keep.sum())
    order = np.lexsort((time_us[keep], series[keep]))
    sel = np.flatnonzero(keep)[order]
    tz = area_tz(area)
    return PreparedBatch(
        series=series[sel].astype("int32"),
        combo=combo_codes[sel],
        time_us=time_us[sel],
        value=value[sel],
        revision=revision[sel].astype("int32"),
        combos=combos,
        first=first,
        last=last,
        duplicates_dropped=dropped,
        day=summary_days(time_us[sel], calendar_combos[combo_codes[sel]], tz),
        tz=tz,
    )


_US_PER_DAY = 86_400_000_000


def summary_days(time_us: np.ndarray, calendar: np.ndarray, tz: str) -> np.ndarray:
    """Days since 1970-01-01 on which the summary counts each point: the UTC day, or for points of
    day-long and longer resolutions (``calendar``) the local day they start on in ``tz``."""
    days = time_us // _US_PER_DAY
    if calendar.any():
        local = pd.DatetimeIndex(time_us[calendar].astype("datetime64[us]"), tz="UTC").tz_convert(tz)
        days = days.copy()
        days[calendar] = local.tz_localize(None).as_unit("us").asi8 // _US_PER_DAY
    return days


def copy_chunks(batch: PreparedBatch, rows_per_chunk: int = 65_536) -> Iterator[bytes]:
    """The batch as PostgreSQL binary COPY data, a chunk at a time."""
    yield _HEADER
    for lo in range(0, len(batch), rows_per_chunk):
        hi = min(lo + rows_per_chunk, len(batch))
        rows = np.empty(hi - lo, dtype=ROW_DTYPE)
        rows["fields"] = 5
        rows["series_len"] = 4
        rows["series"] = batch.series[lo:hi]
        rows["combo_len"] = 4
        rows["combo"] = batch.combo[lo:hi]
        rows["time_len"] = 8
        rows["time"] = batch.time_us[lo:hi] - _PG_EPOCH_US
        rows["value_len"] = 8
        rows["value"] = batch.value[lo:hi]
        rows["revision_len"] = 4
        rows["revision"] = batch.revision[lo:hi]
        yield rows.tobytes()
    yield _TRAILER


class ChunkReader(io.RawIOBase):
    """A read-only file over an iterator of byte chunks, for ``cursor.copy_expert``."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, target: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._buffer:
            try:
                self._buffer = memoryview(next(self._chunks))
            except StopIteration:
                return 0
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n


OBSERVATION_COLUMNS = (
    "time, endpoint, area, business_type, psr_type, variant, resolution, value, unit, "
    "document_mrid, revision, fetched_at, document_created"
)


def _timestamp_us(text: str) -> int:
    """Microseconds since 1970 of an ISO timestamp with offset (a combination's document_created)."""
    return int(pd.Timestamp(text).value // 1000)


def _text_fields(prefix: str, text: str) -> tuple[list[tuple[str, str]], dict[str, object]]:
    """Binary COPY fields of one text value that is the same in every row of a run."""
    data = text.encode()
    fields: list[tuple[str, str]] = [(f"{prefix}_len", ">i4")]
    values: dict[str, object] = {f"{prefix}_len": len(data)}
    if data:  # numpy has no zero-width bytes field: an empty text is its length alone
        fields.append((prefix, f"S{len(data)}"))
        values[prefix] = data
    return fields, values


def observation_chunks(
    batch: PreparedBatch, endpoint: str, area: str, fetched_at: datetime, rows_per_chunk: int = 65_536
) -> Iterator[bytes]:
    """The batch as binary COPY rows of ``entsoe.observations`` (``OBSERVATION_COLUMNS``), in key
    order. Rows of one combination share their text, so each run of equal combinations is one
    fixed-width numpy record array."""
    fetched_us = int(fetched_at.timestamp() * 1_000_000) - _PG_EPOCH_US
    yield _HEADER
    boundaries = np.flatnonzero(np.diff(batch.combo)) + 1
    starts = np.concatenate(([0], boundaries)) if len(batch) else np.zeros(0, dtype="int64")
    ends = np.concatenate((boundaries, [len(batch)])) if len(batch) else np.zeros(0, dtype="int64")
    for run_start, run_end in zip(starts.tolist(), ends.tolist(), strict=True):
        resolution_text, business_type, psr_type, variant, unit, mrid, created = batch.combos[
            int(batch.combo[run_start])
        ]
        resolution = Resolution.parse(resolution_text)
        fields: list[tuple[str, str]] = [("fields", ">i2"), ("time_len", ">i4"), ("time", ">i8")]
        constant: dict[str, object] = {"fields": 13, "time_len": 8}
        for prefix, text in (
            ("endpoint", endpoint),
            ("area", area),
            ("business_type", business_type),
            ("psr_type", psr_type),
            ("variant", variant),
        ):
            f, v = _text_fields(prefix, text)
            fields += f
            constant.update(v)
        fields += [
            ("res_len", ">i4"),
            ("res_us", ">i8"),
            ("res_days", ">i4"),
            ("res_months", ">i4"),
            ("value_len", ">i4"),
            ("value", ">f8"),
        ]
        constant.update(
            res_len=16,
            res_us=resolution.seconds * 1_000_000,
            res_days=resolution.days,
            res_months=resolution.months,
            value_len=8,
        )
        for prefix, text in (("unit", unit), ("mrid", mrid)):
            f, v = _text_fields(prefix, text)
            fields += f
            constant.update(v)
        fields += [("revision_len", ">i4"), ("revision", ">i4"), ("fetched_len", ">i4"), ("fetched", ">i8")]
        constant.update(revision_len=4, fetched_len=8, fetched=fetched_us)
        fields.append(("created_len", ">i4"))
        if created:
            fields.append(("created", ">i8"))
            constant.update(created_len=8, created=_timestamp_us(created) - _PG_EPOCH_US)
        else:
            constant.update(created_len=-1)  # NULL: no vintage known
        dtype = np.dtype(fields)
        for lo in range(run_start, run_end, rows_per_chunk):
            hi = min(lo + rows_per_chunk, run_end)
            rows = np.empty(hi - lo, dtype=dtype)
            for name, value in constant.items():
                rows[name] = value
            rows["time"] = batch.time_us[lo:hi] - _PG_EPOCH_US
            rows["value"] = batch.value[lo:hi]
            rows["revision"] = batch.revision[lo:hi]
            yield rows.tobytes()
    yield _TRAILER
