"""What the simulator published: the oracle that pipeline tests compare the database against.

``published`` gives exactly the points the simulator serves for a request at a given time. It is
built from the same Series and Periods that ``items.document_for`` writes as XML, not by reading the
XML back, so a short Period (habits.py) still counts every Point it carries, at its true time.
``revisions`` lists the points of a window whose value changed since their first publication.

Both take the request as the API would get it (a valid one: span limits are not checked) and see it
at ``as_of`` (default: the configuration's clock), with the configuration's habits and withheld
windows.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from entsoe_pipeline import catalog
from entsoe_pipeline.catalog import Area, Endpoint

from .config import SimulatorConfig
from .habits import revision_times
from .items import DATA_ITEMS, Query
from .periods import step_starts, to_minutes
from .series import local_time

KEY = ("business_type", "psr_type", "variant")
COLUMNS = ("time", "value", "resolution", *KEY)
REVISION_COLUMNS = ("time", *KEY, "first_value", "value", "revised_at")
# The parser's text dtype (StringDtype under pandas 3), so frames compare column by column.
_TEXT: Any = pd.api.types.pandas_dtype("str")


def published(
    config: SimulatorConfig,
    endpoint: Endpoint | str,
    area: Area | str,
    start: datetime,
    end: datetime,
    *,
    as_of: datetime | None = None,
) -> pd.DataFrame:
    """One row per point served for the request at ``as_of``: time (interval start, UTC), value,
    resolution, business_type, psr_type and variant, sorted by (business_type, psr_type, variant,
    time)."""
    return _points(_query(config, endpoint, area, start, end, as_of))


def revisions(
    config: SimulatorConfig,
    endpoint: Endpoint | str,
    area: Area | str,
    start: datetime,
    end: datetime,
    *,
    as_of: datetime | None = None,
) -> pd.DataFrame:
    """The points inside [start, end) served at ``as_of`` whose value was revised at or before it:
    time, business_type, psr_type, variant, first_value (as first published at that time), value
    and revised_at (UTC)."""
    query = _query(config, endpoint, area, start, end, as_of)
    current = _points(query)
    current = current[(current["time"] >= query.start) & (current["time"] < query.end)]
    minutes = _epoch_minutes(current["time"])
    revised_at = revision_times(
        query.habits, query.endpoint.name, query.area, local_time(minutes, query.area.tz).day
    )
    hit = revised_at <= to_minutes(query.now)
    current = current[hit].assign(revised_at=_utc_times(revised_at[hit]))
    # The first edition is the same request without revisions: revisions come only after a day is
    # out in full, so it holds every point of the revised days.
    first = _points(replace(query, habits=replace(query.habits, revision_share=0.0)))
    first = first[[*KEY, "time", "value"]].rename(columns={"value": "first_value"})
    merged = current.merge(first, on=[*KEY, "time"], how="left", validate="one_to_one")
    return merged[list(REVISION_COLUMNS)].reset_index(drop=True)


def _query(
    config: SimulatorConfig,
    endpoint: Endpoint | str,
    area: Area | str,
    start: datetime,
    end: datetime,
    as_of: datetime | None,
) -> Query:
    now = (as_of or config.current_time()).astimezone(UTC)
    return Query(
        endpoint=endpoint if isinstance(endpoint, Endpoint) else catalog.endpoint(endpoint),
        area=area if isinstance(area, Area) else catalog.area(area),
        start=start.astimezone(UTC),
        end=end.astimezone(UTC),
        now=now,
        no_data=config.no_data,
        habits=config.habits(),
    )


def _points(query: Query) -> pd.DataFrame:
    times, numbers, counts, labels = [], [], [], []
    for series in DATA_ITEMS[query.endpoint.name].build(query):
        for period in series.periods:
            count = len(period.values)
            times.append(step_starts(period.start, count, period.resolution, query.area.tz))
            numbers.append(np.asarray(period.values, dtype=np.float64))
            counts.append(count)
            labels.append((period.resolution, series.business_type, series.psr_type, series.variant))
    columns: dict[str, object] = {
        "time": _utc_times(np.concatenate(times) if times else np.array([], dtype=np.int64)),
        "value": np.concatenate(numbers) if numbers else np.array([], dtype=np.float64),
    }
    for name, texts in zip(COLUMNS[2:], zip(*labels, strict=True) if labels else [()] * 4, strict=True):
        columns[name] = pd.array(np.repeat(np.array(texts, dtype=object), counts), dtype=_TEXT)
    frame = pd.DataFrame(columns)
    return frame.sort_values([*KEY, "time"], kind="stable", ignore_index=True)


def _utc_times(minutes: np.ndarray) -> pd.DatetimeIndex:
    nanoseconds = np.asarray(minutes, dtype=np.int64) * 60_000_000_000
    return pd.DatetimeIndex(nanoseconds.view("datetime64[ns]")).tz_localize("UTC")


def _epoch_minutes(times: pd.Series) -> np.ndarray:
    return pd.DatetimeIndex(times).as_unit("ns").asi8 // 60_000_000_000
