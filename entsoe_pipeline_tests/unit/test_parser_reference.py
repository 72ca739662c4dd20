"""The parser against an independent, deliberately naive decoder, on every real fixture document.

The reference below shares no code with entsoe_pipeline.entsoe: it walks the XML with the standard
library's ElementTree, steps every Period one position at a time with pandas DateOffset arithmetic
in the area's zone, fills A03 curves with a plain loop and merges with a dict. It keeps the same
rules for Periods that contradict themselves: positions whose step starts before the Period end,
plus one step past the end of a whole calendar Period; values that are not finite numbers dropped.
Agreement on every row of every fixture (and of hand-made contradicting documents) backs the
figures pinned in test_parser.py.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from typing import Any

import pandas as pd
import pytest

from entsoe_pipeline import catalog
from entsoe_pipeline.entsoe import parse_document
from entsoe_pipeline_tests.fixtures.documents import fixture_bytes
from entsoe_pipeline_tests.unit import test_parser as made

DATA_FIXTURES = [
    "gen_actual_A75-A16_CZ_20160101_PT60M_pj.xml",
    "gen_actual_A75-A16_FI_20230508_PT60M_em.xml",
    "gen_actual_A75-A16_LU_20240521_PT15M_em.xml",
    "gen_actual_A75-A16_NO5_20230509_PT60M_em.xml",
    "gen_actual_A75-A16_SE4_20251020_PT60M_A03_em.xml",
    "gen_forecast_A71-A01_CZ_20160101_PT60M_in_out_pj.xml",
    "gen_windsolar_A69-A01_BE_20201231_PT60M_pj.xml",
    "gen_windsolar_A69-A01_FI_20240207_PT15M_em.xml",
    "gen_windsolar_A69-A40_BE_20201231_PT60M_pj.xml",
    "gen_windsolar_A69-A40_FI_20240207_PT15M_em.xml",
    "load_actual_A65-A16_CZ_2016_guide_sample_TRIMMED_hexagon.xml",
    "load_actual_A65-A16_DK1_20231228_PT60M_em.xml",
    "load_dayahead_A65-A01_DK2_20231228_PT60M_em.xml",
    "load_margin_A70-A33_CZ_2015-2016_P1Y_pj.xml",
    "load_monthahead_A65-A32_CZ_2016_P7D_pj.xml",
    "load_weekahead_A65-A31_CZ_2016_P1D_pj.xml",
    "load_yearahead_A65-A33_CZ_2015-2016_P7D_pj.xml",
    "price_A44-A07_ES_20250929_PT15M_IDA123_em.xml",
    "price_A44_BE_20241006_PT15M+PT60M_mixed_hass.xml",
    "price_A44_BE_20241008_PT60M_hass.xml",
    "price_A44_DE-LU_20241006_PT60M+PT15M_seq1-2_hass.xml",
    "price_A44_FR_20230507_PT60M_A01_ns70_em.xml",
]

_STEPS: dict[str, Any] = {
    "PT15M": pd.Timedelta(minutes=15),
    "PT30M": pd.Timedelta(minutes=30),
    "PT60M": pd.Timedelta(hours=1),
    "PT1H": pd.Timedelta(hours=1),
    "P1D": pd.DateOffset(days=1),
    "P7D": pd.DateOffset(days=7),
    "P1M": pd.DateOffset(months=1),
    "P1Y": pd.DateOffset(years=1),
}
_CALENDAR = {"P1D", "P7D", "P1M", "P1Y"}
_GENERATION = {"A68", "A69", "A71", "A72", "A73", "A74", "A75"}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_texts(element: ET.Element) -> dict[str, str]:
    out: dict[str, str] = {}
    for child in element:
        if len(child) == 0:
            out.setdefault(_local(child.tag), (child.text or "").strip())
        if _local(child.tag) not in ("MktPSRType", "timeInterval"):
            continue
        for grandchild in child:  # MktPSRType/psrType, timeInterval/start|end
            out.setdefault(_local(grandchild.tag), (grandchild.text or "").strip())
            if _local(grandchild.tag) == "PowerSystemResources":  # the generation unit (A73)
                unit = next((g for g in grandchild if _local(g.tag) == "mRID"), None)
                out["unit mRID"] = "" if unit is None else (unit.text or "").strip()
    return out


def _reference_rows(content: bytes) -> list[tuple]:
    root = ET.fromstring(content)
    header = _child_texts(root)
    merged: dict[tuple, tuple] = {}
    for series in (c for c in root if _local(c.tag) == "TimeSeries"):
        f = _child_texts(series)
        if _local(root.tag) == "Publication_MarketDocument":
            area = f["in_Domain.mRID"]
            parts = []
            if f.get("contract_MarketAgreement.type", "A01") != "A01":
                parts.append("contract=" + f["contract_MarketAgreement.type"])
            if f.get("classificationSequence_AttributeInstanceComponent.position", "1") != "1":
                parts.append("sequence=" + f["classificationSequence_AttributeInstanceComponent.position"])
            variant = ",".join(parts)
            unit = f["currency_Unit.name"] + "/" + f["price_Measure_Unit.name"]
            value_tag = "price.amount"
        else:
            out = "inBiddingZone_Domain.mRID" not in f
            area = f["outBiddingZone_Domain.mRID"] if out else f["inBiddingZone_Domain.mRID"]
            variant = "consumption" if out and header["type"] in _GENERATION else ""
            resource = f.get("unit mRID") or f.get("registeredResource.mRID", "")
            variant = ",".join(v for v in (variant, f"resource={resource}" if resource else "") if v)
            unit = f["quantity_Measure_Unit.name"]
            value_tag = "quantity"
        key = (f.get("businessType", ""), f.get("psrType", ""), variant, area, unit)
        tz = catalog.area(area).tz
        for period in (c for c in series if _local(c.tag) == "Period"):
            p = _child_texts(period)
            start = pd.Timestamp(p["start"]).tz_convert(tz)
            end = pd.Timestamp(p["end"]).tz_convert(tz)
            step = _STEPS[p["resolution"]]
            starts = []
            t = start
            while t < end:
                starts.append(t)
                t = start + step * (len(starts))  # from the start, like a calendar would
            points: dict[int, float] = {}
            for point in (c for c in period if _local(c.tag) == "Point"):
                q = _child_texts(point)
                points[int(q["position"])] = float(q[value_tag])
            if t == end and p["resolution"] in _CALENDAR and len(starts) + 1 in points:
                starts.append(t)  # one step past the declared end, as entsoe-py places it
            resolution = "PT60M" if p["resolution"] == "PT1H" else p["resolution"]
            previous = None
            for position, t in enumerate(starts, start=1):
                value = points.get(position)
                if value is None and f.get("curveType") == "A03":
                    value = previous
                if value is not None and math.isfinite(value):
                    merged[(key, t.tz_convert("UTC"))] = (value, resolution)
                previous = value
    created = header.get("createdDateTime")
    rows = [
        (
            t,
            v,
            res,
            *key,
            header.get("mRID", ""),
            int(header.get("revisionNumber", "1")),
            pd.Timestamp(created) if created else pd.NaT,
        )
        for (key, t), (v, res) in merged.items()
    ]
    rows.sort(key=lambda r: (r[3], r[4], r[5], r[0], r[6], r[7]))
    return rows


@pytest.mark.parametrize("name", DATA_FIXTURES)
def test_every_row_matches_the_naive_reference_decoder(name):
    content = fixture_bytes(name)
    frame = parse_document(content, source=name)
    ours = list(frame.itertuples(index=False, name=None))
    assert ours == _reference_rows(content)


# Hand-made documents that contradict themselves, for the rules no real fixture shows.
CONTRADICTING = {
    "25 hours of points in 24": made.gl(
        made.series(
            made.period("2024-01-01T00:00Z", "2024-01-02T00:00Z", "PT60M", {p: p for p in range(1, 26)})
        )
    ),
    "days past a calendar Period": made.gl(
        made.series(made.period("2024-01-01T23:00Z", "2024-01-04T23:00Z", "P1D", {p: p for p in range(1, 6)}))
    ),
    "A03 to one day past a calendar Period": made.gl(
        made.series(made.period("2024-01-01T23:00Z", "2024-01-04T23:00Z", "P1D", {1: 7, 4: 9}), curve="A03")
    ),
    "a day and a half": made.gl(
        made.series(made.period("2024-01-01T23:00Z", "2024-01-03T11:00Z", "P1D", {1: 1, 2: 2, 3: 3}))
    ),
    "NaN in A03": made.gl(
        made.series(
            made.period("2024-01-01T00:00Z", "2024-01-01T06:00Z", "PT60M", {1: 1, 3: "NaN", 5: 5}),  # type: ignore[dict-item]
            curve="A03",
        )
    ),
    "A73 units": made.gl(
        *(made.a73_series(i, plant, unit) for i, (plant, unit) in enumerate(made.UNITS, 1)),
        document_type="A73",
    ),
}


@pytest.mark.parametrize("name", sorted(CONTRADICTING))
def test_contradicting_documents_match_the_naive_reference_decoder(name):
    content = CONTRADICTING[name]
    frame = parse_document(content, source=name)
    assert list(frame.itertuples(index=False, name=None)) == _reference_rows(content)


def test_reference_decoder_also_places_the_week_past_the_short_year_ahead_periods():
    # Both decoders agree that the 2015 Periods of this real answer hold 51 weeks
    # (2015-01-04T23:00Z..2015-12-27T23:00Z) but carry Points up to position 52, whose week starts
    # at the declared end.
    content = fixture_bytes("load_yearahead_A65-A33_CZ_2015-2016_P7D_pj.xml")
    root = ET.fromstring(content)
    first_period = next(e for e in root.iter() if _local(e.tag) == "Period")
    positions = [int(e.text or "0") for e in first_period.iter() if _local(e.tag) == "position"]
    start = pd.Timestamp("2015-01-04T23:00Z").tz_convert("Europe/Prague")
    weeks = (pd.Timestamp("2015-12-27T23:00Z").tz_convert("Europe/Prague") - start).days / 7
    assert (weeks, max(positions)) == (51, 52)
    week_52 = [row for row in _reference_rows(content) if row[0] == pd.Timestamp("2015-12-27T23:00Z")]
    assert [(row[3], row[1]) for row in week_52] == [("A60", 5885.0), ("A61", 8896.0)]
