"""entsoe_pipeline/storage/staging.py and connection.py: checking and encoding a batch, no server."""

from __future__ import annotations

import struct
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from entsoe_pipeline.storage.connection import normalize_dsn, redact
from entsoe_pipeline.storage.errors import InvalidPoints, StorageError
from entsoe_pipeline.storage.staging import copy_chunks, observation_chunks, prepare

FR = "10YFR-RTE------C"


def batch(n: int = 8, **columns: object) -> pd.DataFrame:
    base = {
        "time": pd.date_range("2024-03-01", periods=n, freq="15min", tz="UTC"),
        "value": np.arange(n, dtype="float64"),
        "resolution": "PT15M",
        "business_type": "A04",
        "psr_type": "",
        "variant": "",
        "area": FR,
        "unit": "MAW",
        "document_mrid": "m",
        "revision": 1,
    }
    base.update(columns)
    return pd.DataFrame(base)


def test_points_of_another_area_raise_value_error_naming_both_areas() -> None:
    with pytest.raises(ValueError, match=r"10YNL----------L.*10YFR-RTE------C"):
        prepare(batch(area="10YNL----------L"), "actual_load", FR)


def test_nan_is_refused_with_endpoint_area_range_and_first_bad_time() -> None:
    points = batch()
    points.loc[3, "value"] = np.nan
    with pytest.raises(InvalidPoints) as info:
        prepare(points, "actual_load", FR)
    message = str(info.value)
    for part in ("actual_load", FR, "2024-03-01T00:00Z", "2024-03-01T01:45Z", "first at 2024-03-01T00:45Z"):
        assert part in message
    assert isinstance(info.value, StorageError) and isinstance(info.value, ValueError)


def test_missing_required_columns_are_named() -> None:
    with pytest.raises(InvalidPoints, match="unit"):
        prepare(batch().drop(columns=["unit"]), "actual_load", FR)


def test_optional_columns_default_to_empty_text_and_revision_one() -> None:
    prepared = prepare(batch()[["time", "value", "resolution", "unit"]], "actual_load", FR)
    assert prepared.combos == [("PT15M", "", "", "", "MAW", "", "")]
    assert prepared.revision.tolist() == [1] * 8


def test_duplicates_keep_the_last_row_and_rows_are_sorted_by_series_then_time() -> None:
    points = pd.concat(
        [batch(4, psr_type="B02"), batch(4, psr_type="B01"), batch(2, psr_type="B02", value=[9.0, 9.0])]
    )
    prepared = prepare(points.iloc[::-1].iloc[::-1], "actual_load", FR)
    series_order = [prepared.combos[c][2] for c in prepared.combo]
    assert series_order == ["B01"] * 4 + ["B02"] * 4
    assert prepared.value.tolist() == [0.0, 1.0, 2.0, 3.0, 9.0, 9.0, 2.0, 3.0]
    assert prepared.duplicates_dropped == 2


def test_staging_rows_decode_back_to_the_batch() -> None:
    prepared = prepare(batch(3), "actual_load", FR)
    data = b"".join(copy_chunks(prepared, rows_per_chunk=2))
    assert data.startswith(b"PGCOPY\n\xff\r\n\x00") and data.endswith(struct.pack(">h", -1))
    body = data[19:-2]
    rows = [struct.unpack(">hiiiiiqidii", body[i : i + 50]) for i in range(0, len(body), 50)]
    assert len(rows) == 3
    pg_epoch = datetime(2000, 1, 1, tzinfo=UTC)
    assert [pg_epoch.timestamp() + r[6] / 1e6 for r in rows] == [t.timestamp() for t in batch(3)["time"]]
    assert [r[8] for r in rows] == [0.0, 1.0, 2.0]


def test_observation_rows_carry_text_and_interval_fields() -> None:
    prepared = prepare(batch(1, variant="consumption", resolution="P1M"), "actual_load", FR)
    data = b"".join(observation_chunks(prepared, "actual_load", FR, datetime(2024, 1, 1, tzinfo=UTC)))
    assert data.count(b"consumption") == 1 and b"actual_load" in data and FR.encode() in data
    # the interval: 0 microseconds, 0 days, 1 month
    assert struct.pack(">iqii", 16, 0, 0, 1) in data


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        ("postgresql+psycopg2://u:p@h:5432/d", "postgresql://u:p@h:5432/d"),
        ("postgres+psycopg2://u@h/d", "postgres://u@h/d"),
        ("postgresql://u:p@h/d", "postgresql://u:p@h/d"),
        ("host=h dbname=d", "host=h dbname=d"),
    ],
)
def test_driver_suffix_is_stripped(dsn: str, expected: str) -> None:
    assert normalize_dsn(dsn) == expected


def test_password_is_redacted_plain_and_url_encoded() -> None:
    dsn = "postgresql://entsoe:p%40ss%2Fword@localhost/db"
    assert redact("failed for p@ss/word and p%40ss%2Fword", dsn) == "failed for *** and ***"
    assert redact("password=hunter2 failed", "host=h password=hunter2") == "password=*** failed"
