"""entsoe_pipeline.entsoe.parser: real ENTSO-E answers and hand-made edge cases."""

from __future__ import annotations

import io
import math
import zipfile

import numpy as np
import pandas as pd
import pytest

from entsoe_pipeline.entsoe import (
    COLUMNS,
    InvalidRequest,
    MalformedDocument,
    NoMatchingData,
    SpanTooLong,
    parse_document,
)
from entsoe_pipeline_tests.fixtures.documents import fixture_bytes, fixture_path

GL_NS = "urn:iec62325.351:tc57wg16:451-6:generationloaddocument:3:0"
PUBLICATION_NS_70 = "urn:iec62325.351:tc57wg16:451-3:publicationdocument:7:0"
PUBLICATION_NS_73 = "urn:iec62325.351:tc57wg16:451-3:publicationdocument:7:3"
ACK_NS = "urn:iec62325.351:tc57wg16:451-1:acknowledgementdocument:7:0"
CZ = "10YCZ-CEPS-----N"
DE_LU = "10Y1001A1001A82H"
SOURCE = "actual_load CZ 2024-03-30T23:00Z/2024-03-31T22:00Z"


# --- helpers -------------------------------------------------------------------------------------


def http_body(capture: bytes) -> bytes:
    """The body of a raw HTTP capture (status line and headers stripped)."""
    for separator in (b"\r\n\r\n", b"\n\n"):
        head, found, body = capture.partition(separator)
        if found and head.startswith(b"HTTP/"):
            return body
    raise ValueError("not an HTTP capture: no blank line after the headers")


def points(values: dict[int, float]) -> str:
    return "".join(
        f"<Point><position>{p}</position><quantity>{v}</quantity></Point>" for p, v in values.items()
    )


def period(start: str, end: str, resolution: str, values: dict[int, float]) -> str:
    return (
        f"<Period><timeInterval><start>{start}</start><end>{end}</end></timeInterval>"
        f"<resolution>{resolution}</resolution>{points(values)}</Period>"
    )


def series(
    *periods: str,
    curve: str = "A01",
    business_type: str = "A04",
    domain: str = "outBiddingZone_Domain",
    area: str = CZ,
    psr: str | None = None,
) -> str:
    psr_xml = f"<MktPSRType><psrType>{psr}</psrType></MktPSRType>" if psr else ""
    return (
        f"<TimeSeries><mRID>1</mRID><businessType>{business_type}</businessType>"
        f'<{domain}.mRID codingScheme="A01">{area}</{domain}.mRID>'
        f"<quantity_Measure_Unit.name>MAW</quantity_Measure_Unit.name><curveType>{curve}</curveType>"
        f"{psr_xml}{''.join(periods)}</TimeSeries>"
    )


def gl(
    *series_xml: str,
    document_type: str = "A65",
    process_type: str = "A16",
    created: str | None = "2024-04-01T10:00:00Z",
) -> bytes:
    # Without createdDateTime its line stays empty, so the lines of what follows do not move.
    created_xml = "" if created is None else f"<createdDateTime>{created}</createdDateTime>"
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<GL_MarketDocument xmlns="{GL_NS}">\n'
        f"<mRID>doc-1</mRID><revisionNumber>3</revisionNumber><type>{document_type}</type>\n"
        f"<process.processType>{process_type}</process.processType>\n"
        f"{created_xml}\n"
        f"{''.join(series_xml)}\n</GL_MarketDocument>"
    ).encode()


def ack(text: str, code: str = "999") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Acknowledgement_MarketDocument xmlns="{ACK_NS}">'
        f"<mRID>x</mRID><Reason><code>{code}</code><text>{text}</text></Reason>"
        f"</Acknowledgement_MarketDocument>"
    ).encode()


def zipped(*members: tuple[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def iso(series_: pd.Series) -> list[str]:
    return [t.strftime("%Y-%m-%dT%H:%MZ") for t in series_]


# --- every real fixture ----------------------------------------------------------------------------

# (file, rows, first time, last time, exact sum of values, series, resolutions, documentType)
# Rows: A01 files = the MANIFEST's point count; A03 files = points + the MANIFEST's "missing pos."
# (SE4 329+26, ES 877+35, BE mixed 71+145, DE_LU 237+3). Rows and sums equal entsoe-py 0.8.1's
# parsers on the same bytes (parse_generation / parse_loads / parse_prices, all series stacked),
# except load_margin, which entsoe-py's parse_loads drops (it only knows A60/A61); its 2 values
# (2841 in the http capture + 656) were read off the file. The year-ahead file keeps its 52nd 2015
# week, as entsoe-py does (see the year-ahead tests below). test_parser_reference.py checks every
# row against an independent decoder. Sums use math.fsum, so they do not depend on row order.
# fmt: off
FIXTURES = [
    ("gen_actual_A75-A16_CZ_20160101_PT60M_pj.xml",
     384, "2015-12-31T23:00Z", "2016-01-01T22:00Z", 202428.0, 16, "PT60M", "A75"),
    ("gen_actual_A75-A16_FI_20230508_PT60M_em.xml",
     528, "2023-05-08T07:00Z", "2023-05-10T06:00Z", 422351.0, 11, "PT60M", "A75"),
    ("gen_actual_A75-A16_LU_20240521_PT15M_em.xml",
     2011, "2024-05-21T10:00Z", "2024-05-24T09:45Z", 32920.0, 7, "PT15M", "A75"),
    ("gen_actual_A75-A16_NO5_20230509_PT60M_em.xml",
     235, "2023-05-09T09:00Z", "2023-05-11T07:00Z", 106270.0, 5, "PT60M", "A75"),
    ("gen_actual_A75-A16_SE4_20251020_PT60M_A03_em.xml",
     355, "2025-10-20T11:00Z", "2025-10-23T09:00Z", 80195.51075, 5, "PT60M", "A75"),
    ("gen_forecast_A71-A01_CZ_20160101_PT60M_in_out_pj.xml",
     96, "2015-12-30T23:00Z", "2016-01-01T22:00Z", 343746.0, 2, "PT60M", "A71"),
    ("gen_windsolar_A69-A01_BE_20201231_PT60M_pj.xml",
     144, "2015-12-30T23:00Z", "2016-01-01T22:00Z", 46135.0, 3, "PT60M", "A69"),
    ("gen_windsolar_A69-A01_FI_20240207_PT15M_em.xml",
     576, "2024-02-07T23:00Z", "2024-02-10T22:45Z", 390242.0, 2, "PT15M", "A69"),
    ("gen_windsolar_A69-A40_BE_20201231_PT60M_pj.xml",
     144, "2020-12-30T23:00Z", "2021-01-01T22:00Z", 26450.0, 3, "PT60M", "A69"),
    ("gen_windsolar_A69-A40_FI_20240207_PT15M_em.xml",
     392, "2024-02-07T22:00Z", "2024-02-09T22:45Z", 292183.0, 2, "PT15M", "A69"),
    ("load_actual_A65-A16_CZ_2016_guide_sample_TRIMMED_hexagon.xml",
     1, "2015-12-31T23:00Z", "2015-12-31T23:00Z", 6288.0, 1, "PT60M", "A65"),
    ("load_actual_A65-A16_DK1_20231228_PT60M_em.xml",
     47, "2023-12-28T15:00Z", "2023-12-30T13:00Z", 128131.0, 1, "PT60M", "A65"),
    ("load_dayahead_A65-A01_DK2_20231228_PT60M_em.xml",
     96, "2023-12-27T23:00Z", "2023-12-31T22:00Z", 156519.0, 1, "PT60M", "A65"),
    ("load_margin_A70-A33_CZ_2015-2016_P1Y_pj.xml",
     2, "2014-12-31T23:00Z", "2015-12-31T23:00Z", 3497.0, 1, "P1Y", "A70"),
    ("load_monthahead_A65-A32_CZ_2016_P7D_pj.xml",
     112, "2015-12-06T23:00Z", "2016-12-25T23:00Z", 875966.0, 2, "P7D", "A65"),
    ("load_weekahead_A65-A31_CZ_2016_P1D_pj.xml",
     742, "2015-12-27T23:00Z", "2016-12-31T23:00Z", 5295714.0, 2, "P1D", "A65"),
    ("load_yearahead_A65-A33_CZ_2015-2016_P7D_pj.xml",
     208, "2015-01-04T23:00Z", "2016-12-25T23:00Z", 1608741.0, 2, "P7D", "A65"),
    ("price_A44-A07_ES_20250929_PT15M_IDA123_em.xml",
     912, "2025-09-28T22:00Z", "2025-10-02T21:45Z", 71664.1, 3, "PT15M", "A44"),
    ("price_A44_BE_20241006_PT15M+PT60M_mixed_hass.xml",
     216, "2024-10-05T22:00Z", "2024-10-08T21:00Z", 12452.96, 1, "PT15M,PT60M", "A44"),
    ("price_A44_BE_20241008_PT60M_hass.xml",
     24, "2024-10-07T22:00Z", "2024-10-08T21:00Z", 1691.96, 1, "PT60M", "A44"),
    ("price_A44_DE-LU_20241006_PT60M+PT15M_seq1-2_hass.xml",
     240, "2024-10-05T22:00Z", "2024-10-07T21:45Z", 17226.39, 2, "PT15M,PT60M", "A44"),
    ("price_A44_FR_20230507_PT60M_A01_ns70_em.xml",
     48, "2023-05-06T22:00Z", "2023-05-08T21:00Z", 4196.87, 1, "PT60M", "A44"),
]
# fmt: on


@pytest.mark.parametrize(
    ("name", "rows", "first", "last", "total", "n_series", "resolutions", "doc_type"), FIXTURES
)
def test_real_document_parses_to_pinned_counts_times_and_sums(
    name, rows, first, last, total, n_series, resolutions, doc_type
):
    frame = parse_document(fixture_bytes(name), source=name)
    keys = frame.groupby(["business_type", "psr_type", "variant", "area", "unit"]).ngroups
    assert len(frame) == rows
    assert iso(pd.Series([frame.time.min(), frame.time.max()])) == [first, last]
    assert math.fsum(frame.value) == pytest.approx(total, abs=1e-9)
    assert keys == n_series
    assert ",".join(sorted(set(frame.resolution))) == resolutions
    assert frame.attrs["document_type"] == doc_type
    assert frame.attrs["duplicates"] == 0
    assert frame.attrs["points_dropped"] == 0
    assert len(frame.attrs["problems"]) == (2 if name == YEAR_AHEAD else 0)  # its two 2015 Periods


ACKNOWLEDGEMENTS = [
    ("ack_999_nodata_A69-A18_CZ_pj.xml", NoMatchingData, "No matching data found for Data item Current"),
    ("ack_999_nodata_A69-A40_CZ_pj.xml", NoMatchingData, "No matching data found for Data item Intraday"),
    ("ack_999_guide_sample_hexagon.xml", NoMatchingData, "No matching data found"),
    ("ack_999_EDITED_text_rabinage.xml", InvalidRequest, "Bad request message from API"),
]
YEAR_AHEAD = "load_yearahead_A65-A33_CZ_2015-2016_P7D_pj.xml"
MARGIN_CAPTURE = "200_text-xml_GL_A70_margin_CZ.http"
NO_DATA_CAPTURE = "200_application-xml_ack_999_nodata_CZ.http"


@pytest.mark.parametrize(("name", "error", "text_start"), ACKNOWLEDGEMENTS)
def test_real_acknowledgement_raises_its_typed_error(name, error, text_start):
    with pytest.raises(error) as caught:
        parse_document(fixture_bytes(name), source=f"fixture {name}")
    assert type(caught.value) is error
    assert caught.value.reason_code == "999"
    assert caught.value.reason_text.startswith(text_start)
    assert f"fixture {name}" in str(caught.value)


def test_every_fixture_file_has_a_pinned_outcome():
    # A new file in the fixture folder must get its own expectation here.
    folder = fixture_path("MANIFEST.md").parent
    pinned = {f[0] for f in FIXTURES} | {a[0] for a in ACKNOWLEDGEMENTS}
    assert {p.name for p in folder.glob("*.xml")} == pinned
    assert {p.name for p in (folder / "http").glob("*.http")} == {MARGIN_CAPTURE, NO_DATA_CAPTURE}


def test_year_ahead_week_past_the_declared_period_end_is_kept_and_reported_naming_the_position():
    # Real answer: the 2015 Periods run 2015-01-04T23:00Z..2015-12-27T23:00Z (51 local weeks) yet
    # carry positions 1..52. Position 52 is placed one week past the declared end, as entsoe-py does.
    name = YEAR_AHEAD
    frame = parse_document(fixture_bytes(name), source=name)
    first, second = frame.attrs["problems"]
    assert name in str(first)
    assert "line 16" in first.where and "line 23" in first.where  # the first TimeSeries and Period
    assert first.what == (
        "Period declares 51 P7D steps but has Points up to position 52: "
        "position 52 placed one step past the declared end"
    )
    assert first.series == ("A60", "", "", CZ)
    assert "line 246" in second.where and second.series == ("A61", "", "", CZ)
    assert (first.dropped, second.dropped, frame.attrs["points_dropped"]) == (0, 0, 0)


def test_year_ahead_answer_keeps_52_weeks_per_period_like_entsoe_py():
    frame = parse_document(fixture_bytes(YEAR_AHEAD))
    # Where the 2016 Periods start: 2016-01-03T23:00Z, Monday 00:00 in Prague.
    in_2015 = frame.time < pd.Timestamp("2016-01-03T23:00Z")
    assert frame.groupby(["business_type", in_2015]).size().to_dict() == {
        ("A60", False): 52,
        ("A60", True): 52,
        ("A61", False): 52,
        ("A61", True): 52,
    }
    for business_type, total in (("A60", 620586.0), ("A61", 988155.0)):  # entsoe-py 0.8.1's sums
        one = frame[frame.business_type == business_type]
        assert iso(one.time.iloc[[0, 50, 51, 52, -1]]) == [
            "2015-01-04T23:00Z",
            "2015-12-20T23:00Z",
            "2015-12-27T23:00Z",  # the 52nd week of 2015 runs up to the first 2016 Period
            "2016-01-03T23:00Z",
            "2016-12-25T23:00Z",
        ]
        assert math.fsum(one.value) == total
    weeks_52 = frame[frame.time == pd.Timestamp("2015-12-27T23:00Z")]
    assert weeks_52.value.tolist() == [5885.0, 8896.0]  # position 52 of the A60 and A61 Periods


def test_http_capture_of_a_margin_document_parses_after_stripping_headers():
    frame = parse_document(http_body(fixture_bytes(f"http/{MARGIN_CAPTURE}")))
    assert frame[["business_type", "area", "resolution", "unit"]].iloc[0].tolist() == [
        "A91",
        CZ,
        "P1Y",
        "MAW",
    ]
    assert iso(frame.time) == ["2015-12-31T23:00Z"]
    assert frame.value.tolist() == [2841.0]
    assert frame.document_mrid.tolist() == ["6744a44c5adf4ec092ece6174e4a2a85"]


def test_http_capture_of_no_data_raises_no_matching_data():
    body = http_body(fixture_bytes(f"http/{NO_DATA_CAPTURE}"))
    with pytest.raises(NoMatchingData) as caught:
        parse_document(body, source="wind_solar_forecast CZ 2016")
    assert "(10YCZ-CEPS-----N)" in caught.value.reason_text


# --- what the real fixtures show ---------------------------------------------------------------------


def test_pumped_storage_consumption_is_its_own_variant_in_generation_documents():
    frame = parse_document(fixture_bytes("gen_actual_A75-A16_CZ_20160101_PT60M_pj.xml"))
    b10 = frame[frame.psr_type == "B10"]
    assert sorted(set(b10.variant)) == ["", "consumption"]
    assert b10.groupby("variant").size().tolist() == [24, 24]
    assert set(frame.variant[frame.psr_type != "B10"]) == {""}


def test_scheduled_consumption_of_a_generation_forecast_is_the_consumption_variant():
    frame = parse_document(fixture_bytes("gen_forecast_A71-A01_CZ_20160101_PT60M_in_out_pj.xml"))
    assert frame.groupby("variant").size().to_dict() == {"": 48, "consumption": 48}


def test_load_documents_read_out_bidding_zone_as_the_normal_direction():
    frame = parse_document(fixture_bytes("load_weekahead_A65-A31_CZ_2016_P1D_pj.xml"))
    assert set(frame.variant) == {""}
    assert frame.groupby("business_type").size().to_dict() == {"A60": 371, "A61": 371}


def test_month_ahead_week_across_october_dst_change_lasts_169_hours():
    frame = parse_document(fixture_bytes("load_monthahead_A65-A32_CZ_2016_P7D_pj.xml"))
    weeks = frame[(frame.business_type == "A60") & (frame.time >= "2016-10-02T22:00Z")].time[:6]
    assert iso(weeks) == [
        "2016-10-02T22:00Z",
        "2016-10-09T22:00Z",
        "2016-10-16T22:00Z",
        "2016-10-23T22:00Z",
        "2016-10-30T23:00Z",  # Monday 00:00 CET: the week before held the extra hour
        "2016-11-06T23:00Z",
    ]


def test_split_generation_series_with_equal_key_are_concatenated():
    # LU publishes each psrType as two TimeSeries, 10:00Z..03:45Z then 04:00Z..10:00Z: the quarter
    # 03:45Z-04:00Z is in neither, so one series results with exactly one 30-minute step.
    frame = parse_document(fixture_bytes("gen_actual_A75-A16_LU_20240521_PT15M_em.xml"))
    b01 = frame[frame.psr_type == "B01"]
    assert len(b01) == 287  # 3 days of PT15M minus the unpublished quarter
    steps = b01.time.diff().dropna().value_counts().to_dict()
    assert steps == {pd.Timedelta(minutes=15): 285, pd.Timedelta(minutes=30): 1}
    assert pd.Timestamp("2024-05-24T03:45Z") not in set(b01.time)


def test_a03_generation_repeats_the_previous_value_for_omitted_positions():
    frame = parse_document(fixture_bytes("gen_actual_A75-A16_SE4_20251020_PT60M_A03_em.xml"))
    assert set(frame.groupby("psr_type").size()) == {71}  # 2025-10-20T11:00Z..10-23T10:00Z for each
    b04 = frame[frame.psr_type == "B04"].set_index("time").value
    # B04 has Points at positions 7 (0.4) and 10 but none at 8 and 9 (11:00Z + 7..8 hours).
    assert b04[pd.Timestamp("2025-10-20T17:00Z")] == 0.4
    assert b04[pd.Timestamp("2025-10-20T18:00Z")] == 0.4
    assert b04[pd.Timestamp("2025-10-20T19:00Z")] == 0.4
    assert b04[pd.Timestamp("2025-10-20T20:00Z")] == 0.3  # position 10's own value
    b12 = frame[frame.psr_type == "B12"].value.tolist()
    assert b12[:2] == [90.23, 90.23]  # position 2 omitted


def test_de_lu_second_classification_sequence_is_a_separate_variant():
    frame = parse_document(fixture_bytes("price_A44_DE-LU_20241006_PT60M+PT15M_seq1-2_hass.xml"))
    sizes = frame.groupby(["variant", "resolution"]).size().to_dict()
    assert sizes == {("", "PT60M"): 48, ("sequence=2", "PT15M"): 192}
    assert set(frame.area) == {DE_LU}
    assert set(frame.unit) == {"EUR/MWH"}


def test_intraday_auction_prices_carry_contract_and_sequence_in_the_variant():
    frame = parse_document(fixture_bytes("price_A44-A07_ES_20250929_PT15M_IDA123_em.xml"))
    assert frame.groupby("variant").size().to_dict() == {
        "contract=A07": 384,
        "contract=A07,sequence=2": 384,
        "contract=A07,sequence=3": 144,  # IDA3 covers 10:00Z-22:00Z on three days only
    }


def test_one_series_may_mix_resolutions_across_periods():
    frame = parse_document(fixture_bytes("price_A44_BE_20241006_PT15M+PT60M_mixed_hass.xml"))
    assert frame.groupby("resolution").size().to_dict() == {"PT15M": 192, "PT60M": 24}
    assert frame.time.is_monotonic_increasing


def test_namespace_version_is_ignored_and_recorded():
    old = parse_document(fixture_bytes("price_A44_FR_20230507_PT60M_A01_ns70_em.xml"))
    new = parse_document(fixture_bytes("price_A44_BE_20241008_PT60M_hass.xml"))
    assert (old.attrs["namespace"], new.attrs["namespace"]) == (PUBLICATION_NS_70, PUBLICATION_NS_73)
    assert old.attrs["root"] == new.attrs["root"] == "Publication_MarketDocument"
    assert old.document_mrid.iloc[0] == ""  # electricitymaps trimmed the header of the FR file
    assert set(old.revision) == {1}


def test_header_attrs_describe_the_document():
    frame = parse_document(fixture_bytes("load_actual_A65-A16_DK1_20231228_PT60M_em.xml"))
    attrs = frame.attrs
    assert (attrs["document_type"], attrs["process_type"], attrs["root"]) == (
        "A65",
        "A16",
        "GL_MarketDocument",
    )
    assert attrs["namespace"] == GL_NS
    assert attrs["time_interval"] == "2023-12-28T15:00Z/2023-12-31T00:00Z"
    assert attrs["created"].startswith("20")


# --- generation units (A73) -------------------------------------------------------------------------

# Written by hand in the shape of a real A73 answer (actual generation per generation unit, 16.1.A):
# one TimeSeries per unit, the unit in MktPSRType/PowerSystemResources (mRID and name), the plant in
# registeredResource.mRID, which the units of one plant share. 7 plants, 20 units, one CET day.
PLANT_UNITS = {"A": 4, "B": 4, "C": 3, "D": 3, "E": 2, "F": 2, "G": 2}
UNITS = [
    (f"27W-PLANT-{plant}----", f"27W-UNIT-{plant}{n}-----")
    for plant, k in PLANT_UNITS.items()
    for n in range(1, k + 1)
]


def a73_series(number: int, plant: str | None, unit: str | None, psr: str = "B02") -> str:
    plant_xml = (
        f'<registeredResource.mRID codingScheme="A01">{plant}</registeredResource.mRID>' if plant else ""
    )
    unit_xml = (
        f'<PowerSystemResources><mRID codingScheme="A01">{unit}</mRID><name>Unit {number}</name>'
        "</PowerSystemResources>"
        if unit
        else ""
    )
    hours = {h: 100 * number + h for h in range(1, 25)}
    return (
        f"<TimeSeries><mRID>{number}</mRID><businessType>A01</businessType>"
        "<objectAggregation>A06</objectAggregation>"
        f'<inBiddingZone_Domain.mRID codingScheme="A01">{CZ}</inBiddingZone_Domain.mRID>{plant_xml}'
        "<quantity_Measure_Unit.name>MAW</quantity_Measure_Unit.name><curveType>A01</curveType>"
        f"<MktPSRType><psrType>{psr}</psrType>{unit_xml}</MktPSRType>"
        f"{period('2015-12-31T23:00Z', '2016-01-01T23:00Z', 'PT60M', hours)}</TimeSeries>"
    )


def test_every_generation_unit_of_an_a73_answer_is_its_own_series():
    body = gl(*(a73_series(i, plant, unit) for i, (plant, unit) in enumerate(UNITS, 1)), document_type="A73")
    assert body.count(b"<Point>") == 480
    frame = parse_document(body)
    assert len(frame) == 480  # keyed by registeredResource.mRID (the plant) they made 7 x 24 = 168
    assert frame.groupby("variant").size().to_dict() == {f"resource={unit}": 24 for _, unit in UNITS}
    assert set(frame.psr_type) == {"B02"} and set(frame.area) == {CZ}
    assert frame.attrs["duplicates"] == 0
    assert math.fsum(frame.value) == math.fsum(100 * i + h for i in range(1, 21) for h in range(1, 25))


def test_a73_unit_without_power_system_resource_is_keyed_by_its_registered_resource():
    body = gl(
        a73_series(1, "27W-PLANT-A----", None), a73_series(2, None, "27W-UNIT-A2-----"), document_type="A73"
    )
    frame = parse_document(body)
    assert frame.groupby("variant").size().to_dict() == {
        "resource=27W-PLANT-A----": 24,
        "resource=27W-UNIT-A2-----": 24,
    }


def test_a73_series_naming_no_unit_is_refused_rather_than_merged():
    body = gl(a73_series(1, None, "27W-UNIT-A1-----"), a73_series(2, None, None), document_type="A73")
    with pytest.raises(MalformedDocument) as caught:
        parse_document(body, source=SOURCE)
    message = str(caught.value)
    assert SOURCE in message and "TimeSeries 2 (line 6)" in message
    assert "no generation unit named" in message and "PowerSystemResources/mRID" in message


# --- output shape --------------------------------------------------------------------------------


def test_columns_and_dtypes_are_the_documented_ones():
    frame = parse_document(fixture_bytes("gen_actual_A75-A16_CZ_20160101_PT60M_pj.xml"))
    assert tuple(frame.columns) == COLUMNS
    assert str(frame.time.dtype) == "datetime64[ns, UTC]"
    assert frame.value.dtype == np.float64 and frame.revision.dtype == np.int64
    assert str(frame.document_created.dtype) == "datetime64[ns, UTC]"
    for name in ("resolution", "business_type", "psr_type", "variant", "area", "unit", "document_mrid"):
        assert pd.api.types.is_string_dtype(frame[name].dtype), name
    assert frame.index.equals(pd.RangeIndex(len(frame)))


def test_rows_are_sorted_by_business_type_psr_type_variant_and_time():
    frame = parse_document(fixture_bytes("gen_actual_A75-A16_CZ_20160101_PT60M_pj.xml"))
    keys = list(zip(frame.business_type, frame.psr_type, frame.variant, frame.time, strict=True))
    assert keys == sorted(keys)


def test_empty_gl_document_returns_an_empty_frame_with_the_columns():
    frame = parse_document(gl())
    assert frame.empty and tuple(frame.columns) == COLUMNS
    assert str(frame.time.dtype) == "datetime64[ns, UTC]" and frame.revision.dtype == np.int64
    assert str(frame.document_created.dtype) == "datetime64[ns, UTC]"
    assert frame.attrs["document_type"] == "A65"
    assert frame.attrs["problems"] == () and frame.attrs["points_dropped"] == 0


def test_document_mrid_and_revision_are_copied_to_every_row():
    frame = parse_document(
        gl(series(period("2024-01-01T00:00Z", "2024-01-01T02:00Z", "PT60M", {1: 5, 2: 6})))
    )
    assert frame.document_mrid.tolist() == ["doc-1", "doc-1"]
    assert frame.revision.tolist() == [3, 3]


def test_document_created_is_the_header_time_on_every_row():
    frame = parse_document(fixture_bytes("load_actual_A65-A16_DK1_20231228_PT60M_em.xml"))
    assert frame.attrs["created"] == "2023-12-30T15:03:18Z"
    assert set(frame.document_created) == {pd.Timestamp("2023-12-30T15:03:18Z")}
    assert tuple(frame.columns).index("document_created") == tuple(frame.columns).index("revision") + 1


@pytest.mark.parametrize("created", [None, "", "yesterday", "2024-13-45T10:00:00Z", "9999-01-01T00:00Z"])
def test_document_created_is_nat_when_the_header_lacks_it_or_it_is_unreadable(created):
    doc = gl(series(period("2024-01-01T00:00Z", "2024-01-01T02:00Z", "PT60M", {1: 5, 2: 6})), created=created)
    frame = parse_document(doc)
    assert frame.value.tolist() == [5, 6]
    assert frame.document_created.isna().all()
    assert str(frame.document_created.dtype) == "datetime64[ns, UTC]"


def test_a_later_vintage_of_a_series_wins_equal_times_and_each_row_keeps_its_own_vintage():
    older = gl(
        series(period("2024-01-01T00:00Z", "2024-01-01T02:00Z", "PT60M", {1: 1, 2: 2})),
        created="2024-01-02T08:00:00Z",
    )
    newer = gl(
        series(period("2024-01-01T01:00Z", "2024-01-01T03:00Z", "PT60M", {1: 20, 2: 30})),
        created="2024-01-03T08:00:00Z",
    )
    frame = parse_document(zipped(("001.xml", older), ("002.xml", newer)))
    assert frame.value.tolist() == [1, 20, 30]
    assert iso(frame.document_created) == ["2024-01-02T08:00Z", "2024-01-03T08:00Z", "2024-01-03T08:00Z"]
    assert frame.attrs["duplicates"] == 1


# --- curves and resolutions -------------------------------------------------------------------------


def test_a03_single_point_fills_to_the_period_end():
    # Like the DK1->DK2 A61 answer: one Point for a whole P1D Period of 40 days.
    doc = gl(series(period("2024-01-31T23:00Z", "2024-03-11T23:00Z", "P1D", {1: 700}), curve="A03"))
    frame = parse_document(doc)
    assert len(frame) == 40
    assert set(frame.value) == {700.0}
    assert iso(frame.time[[0, 39]]) == ["2024-01-31T23:00Z", "2024-03-10T23:00Z"]


def test_a03_fill_stops_at_the_period_end_and_never_crosses_periods():
    doc = gl(
        series(
            period("2024-01-01T00:00Z", "2024-01-01T04:00Z", "PT60M", {1: 1, 3: 3}),
            period("2024-01-01T06:00Z", "2024-01-01T08:00Z", "PT60M", {2: 9}),
            curve="A03",
        )
    )
    frame = parse_document(doc)
    assert iso(frame.time) == [
        "2024-01-01T00:00Z",
        "2024-01-01T01:00Z",
        "2024-01-01T02:00Z",
        "2024-01-01T03:00Z",
        "2024-01-01T07:00Z",  # position 1 of the second Period has no earlier value in its Period
    ]
    assert frame.value.tolist() == [1, 1, 3, 3, 9]


def test_a01_missing_positions_stay_gaps():
    doc = gl(series(period("2024-01-01T00:00Z", "2024-01-01T04:00Z", "PT60M", {1: 1, 4: 4})))
    frame = parse_document(doc)
    assert iso(frame.time) == ["2024-01-01T00:00Z", "2024-01-01T03:00Z"]


def test_out_of_order_points_are_sorted_by_position():
    doc = gl(series(period("2024-01-01T00:00Z", "2024-01-01T03:00Z", "PT60M", {3: 30, 1: 10, 2: 20})))
    frame = parse_document(doc)
    assert frame.value.tolist() == [10, 20, 30]
    assert iso(frame.time) == ["2024-01-01T00:00Z", "2024-01-01T01:00Z", "2024-01-01T02:00Z"]


def test_out_of_order_a03_points_fill_in_position_order():
    doc = gl(series(period("2024-01-01T00:00Z", "2024-01-01T04:00Z", "PT60M", {3: 30, 1: 10}), curve="A03"))
    assert parse_document(doc).value.tolist() == [10, 10, 30, 30]


def test_duplicate_key_and_time_keeps_the_later_value_and_counts_it():
    first = series(period("2024-01-01T00:00Z", "2024-01-01T02:00Z", "PT60M", {1: 1, 2: 2}))
    second = series(period("2024-01-01T01:00Z", "2024-01-01T03:00Z", "PT60M", {1: 20, 2: 30}))
    frame = parse_document(gl(first, second))
    assert iso(frame.time) == ["2024-01-01T00:00Z", "2024-01-01T01:00Z", "2024-01-01T02:00Z"]
    assert frame.value.tolist() == [1, 20, 30]
    assert frame.attrs["duplicates"] == 1


def test_duplicate_position_within_a_period_keeps_the_later_point():
    body = gl(series(period("2024-01-01T00:00Z", "2024-01-01T02:00Z", "PT60M", {1: 1, 2: 2})))
    body = body.replace(b"</Period>", b"<Point><position>1</position><quantity>7</quantity></Point></Period>")
    frame = parse_document(body)
    assert frame.value.tolist() == [7, 2]
    assert frame.attrs["duplicates"] == 1


def test_series_differing_in_business_type_are_not_merged():
    a60 = series(period("2024-01-01T00:00Z", "2024-01-01T01:00Z", "PT60M", {1: 1}), business_type="A60")
    a61 = series(period("2024-01-01T00:00Z", "2024-01-01T01:00Z", "PT60M", {1: 2}), business_type="A61")
    frame = parse_document(gl(a61, a60, process_type="A31"))
    assert frame.business_type.tolist() == ["A60", "A61"]
    assert frame.attrs["duplicates"] == 0


@pytest.mark.parametrize(
    ("start", "end", "rows"),
    [
        ("2024-03-30T23:00Z", "2024-03-31T22:00Z", 92),  # CET spring-forward day: 23 h
        ("2024-10-26T22:00Z", "2024-10-27T23:00Z", 100),  # CEST->CET autumn day: 25 h
        ("2024-05-01T22:00Z", "2024-05-02T22:00Z", 96),
    ],
)
def test_quarter_hours_of_a_local_day_follow_dst(start, end, rows):
    frame = parse_document(gl(series(period(start, end, "PT15M", {1: 1.5}), curve="A03")))
    assert len(frame) == rows
    assert iso(frame.time[[0, rows - 1]])[0] == start
    assert frame.time.iloc[-1] + pd.Timedelta(minutes=15) == pd.Timestamp(end)


def test_daily_resolution_steps_local_days_across_spring_dst():
    doc = gl(series(period("2024-03-29T23:00Z", "2024-04-01T22:00Z", "P1D", {1: 1, 2: 2, 3: 3})))
    frame = parse_document(doc)
    assert iso(frame.time) == ["2024-03-29T23:00Z", "2024-03-30T23:00Z", "2024-03-31T22:00Z"]


def test_monthly_resolution_steps_local_months():
    doc = gl(series(period("2023-12-31T23:00Z", "2024-04-30T22:00Z", "P1M", {1: 1, 2: 2, 3: 3, 4: 4})))
    frame = parse_document(doc)
    assert iso(frame.time) == [
        "2023-12-31T23:00Z",
        "2024-01-31T23:00Z",
        "2024-02-29T23:00Z",
        "2024-03-31T22:00Z",
    ]


def test_pt1h_is_normalised_to_pt60m():
    frame = parse_document(gl(series(period("2024-01-01T00:00Z", "2024-01-01T02:00Z", "PT1H", {1: 1, 2: 2}))))
    assert frame.resolution.tolist() == ["PT60M", "PT60M"]
    assert iso(frame.time) == ["2024-01-01T00:00Z", "2024-01-01T01:00Z"]


def test_unknown_area_uses_central_european_days():
    doc = gl(
        series(period("2024-03-30T23:00Z", "2024-04-01T22:00Z", "P1D", {1: 1, 2: 2}), area="10YXX-UNKNOWN--X")
    )
    assert iso(parse_document(doc).time) == ["2024-03-30T23:00Z", "2024-03-31T22:00Z"]


# --- Periods that contradict themselves: dropped in part or whole, and reported ----------------------


def only_problem(frame: pd.DataFrame):
    (problem,) = frame.attrs["problems"]
    assert frame.attrs["points_dropped"] == problem.dropped
    return problem


@pytest.mark.parametrize(
    ("position", "carried", "lost"),
    [(0, "from position 0", "below position 1"), (5, "up to position 5", "beyond position 4")],
)
def test_point_outside_the_period_is_dropped_and_reported(position, carried, lost):
    doc = gl(series(period("2024-01-01T00:00Z", "2024-01-01T04:00Z", "PT60M", {1: 1, position: 2, 3: 3})))
    frame = parse_document(doc, source=SOURCE)
    assert iso(frame.time) == ["2024-01-01T00:00Z", "2024-01-01T02:00Z"]
    problem = only_problem(frame)
    assert problem.what == f"Period declares 4 PT60M steps but has Points {carried}: 1 Point {lost} dropped"
    assert problem.dropped == 1
    assert SOURCE in problem.where


def test_period_that_is_not_whole_steps_keeps_the_steps_that_start_before_its_end():
    doc = gl(series(period("2024-01-01T00:00Z", "2024-01-01T01:10Z", "PT15M", {1: 1, 5: 5})))
    frame = parse_document(doc, source=SOURCE)
    assert iso(frame.time) == ["2024-01-01T00:00Z", "2024-01-01T01:00Z"]  # 01:00Z starts before 01:10Z
    problem = only_problem(frame)
    assert "not a whole number of PT15M steps (5 start before its end)" in problem.what
    assert problem.what.endswith("every Point placed") and problem.dropped == 0


def test_huge_bad_value_is_cut_in_the_message():
    doc = gl(series(period("2024-01-01T00:00Z", "2024-01-01T01:00Z", "PT60M", {1: "x" * 100_000})))  # type: ignore[dict-item]
    problem = only_problem(parse_document(doc))
    assert len(str(problem)) < 300


def test_unparseable_value_drops_its_period_naming_it():
    doc = gl(series(period("2024-01-01T00:00Z", "2024-01-01T02:00Z", "PT60M", {1: 1, 2: "n/a"})))  # type: ignore[dict-item]
    frame = parse_document(doc, source=SOURCE)
    problem = only_problem(frame)
    assert frame.empty
    assert problem.what == "'n/a' is not a Point value: Period dropped with its 2 Points"
    assert problem.dropped == 2 and SOURCE in problem.where


def test_point_without_value_drops_its_period_naming_its_line():
    doc = gl(series(period("2024-01-01T00:00Z", "2024-01-01T02:00Z", "PT60M", {1: 1})))
    doc = doc.replace(b"</Period>", b"\n<Point><position>2</position></Point></Period>")
    problem = only_problem(parse_document(doc, source=SOURCE))
    assert "Point at line 7 needs exactly one value" in problem.what
    assert problem.dropped == 2


def test_unsupported_curve_type_drops_the_period():
    doc = gl(series(period("2024-01-01T00:00Z", "2024-01-01T01:00Z", "PT60M", {1: 1}), curve="A02"))
    frame = parse_document(doc)
    assert frame.empty
    assert "curveType 'A02' is not supported" in only_problem(frame).what


# --- acknowledgements ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "No matching data found",
        "No matching data found for Data item ENERGY_PRICES and interval "
        "2025-04-04T10:00:00.000Z/2025-04-05T10:00:00.000Z",
        "No matching data found for Data item AGGREGATED_GENERATION_PER_TYPE_R3 [16.1.B&amp;C] "
        "(10YGB----------A)",
    ],
)
def test_no_matching_data_is_recognised_in_old_and_r3_wording(text):
    with pytest.raises(NoMatchingData):
        parse_document(ack(text))


def test_span_longer_than_allowed_carries_the_iso_limit():
    text = (
        "Provided time interval (2022-02-28T23:00:00Z - 2022-05-30T22:00:00Z) is larger than maximum "
        "allowed period 'P1M' for 'ACTUAL_TOTAL_LOAD_R3:XML' export."
    )
    with pytest.raises(SpanTooLong) as caught:
        parse_document(ack(text), source=SOURCE)
    assert caught.value.max_span_hint == "P1M"
    assert caught.value.reason_text == text and caught.value.reason_code == "999"
    assert SOURCE in str(caught.value)


def test_too_many_instances_is_a_span_too_long_without_hint():
    text = "The number of instances (365) exceeds the allowed maximum (100) for data item ENERGY_PRICES."
    with pytest.raises(SpanTooLong) as caught:
        parse_document(ack(text))
    assert caught.value.max_span_hint is None


def test_other_acknowledgement_is_an_invalid_request():
    with pytest.raises(InvalidRequest) as caught:
        parse_document(ack("Mandatory parameter Area_Domain is missing"), source=SOURCE)
    assert type(caught.value) is InvalidRequest
    assert "Mandatory parameter Area_Domain is missing" in str(caught.value)


# --- ZIP bodies ------------------------------------------------------------------------------------


def test_zip_with_two_documents_concatenates_them():
    day1 = gl(series(period("2024-01-01T00:00Z", "2024-01-01T02:00Z", "PT60M", {1: 1, 2: 2})))
    day2 = gl(series(period("2024-01-01T02:00Z", "2024-01-01T04:00Z", "PT60M", {1: 3, 2: 4})))
    frame = parse_document(zipped(("001-a.xml", day1), ("002-b.xml", day2)))
    assert frame.value.tolist() == [1, 2, 3, 4]
    assert frame.attrs["zip_members"] == 2 and frame.attrs["document_type"] == "A65"


def test_acknowledgement_inside_a_zip_counts_as_no_data_for_that_member():
    day1 = gl(series(period("2024-01-01T00:00Z", "2024-01-01T01:00Z", "PT60M", {1: 1})))
    frame = parse_document(zipped(("001.xml", day1), ("002.xml", ack("No matching data found"))))
    assert frame.value.tolist() == [1.0]
    assert frame.attrs["acknowledged_members"] == 1


def test_a_zip_of_nothing_but_no_data_acknowledgements_raises_no_matching_data():
    with pytest.raises(NoMatchingData):
        parse_document(
            zipped(("001.xml", ack("No matching data found")), ("002.xml", ack("No matching data found")))
        )


def test_malformed_zip_member_is_named():
    with pytest.raises(MalformedDocument, match=r"ZIP member 002\.xml\).*malformed XML at line 1"):
        parse_document(zipped(("001.xml", gl()), ("002.xml", b"<GL_MarketDocument>")), source=SOURCE)


def test_zip_bomb_is_refused_by_declared_size():
    bomb = zipped(("bomb.xml", b"\0" * (65 * 1024 * 1024)))
    assert len(bomb) < 1024 * 1024
    with pytest.raises(MalformedDocument, match="inflated, more than the limit"):
        parse_document(bomb, source=SOURCE)


def test_zip_member_inflating_beyond_the_limit_is_refused_while_reading():
    # Lower the limit so that the two members pass alone but not together.
    body = zipped(("a.xml", b" " * 3000), ("b.xml", b" " * 3000))
    with pytest.raises(MalformedDocument, match="inflate"):
        parse_document(body, max_bytes=5000)


def test_zip_member_lying_about_its_size_is_refused():
    body = bytearray(zipped(("a.xml", b" " * 100_000)))
    # Patch the declared uncompressed size (central directory, offset 24) down to 10 bytes.
    central = body.rfind(b"PK\x01\x02")
    body[central + 24 : central + 28] = (10).to_bytes(4, "little")
    with pytest.raises(MalformedDocument):
        parse_document(bytes(body), max_bytes=50_000)


def test_corrupt_zip_is_refused():
    with pytest.raises(MalformedDocument, match="unreadable ZIP body"):
        parse_document(b"PK\x03\x04 not really a zip", source=SOURCE)


# --- hostile and broken bodies -------------------------------------------------------------------------


def test_malformed_xml_names_source_and_line_but_not_the_token():
    body = b'<?xml version="1.0"?>\n<GL_MarketDocument xmlns="x">\n<mRID>1</mRID>\n<type>A65</wrong>\n'
    with pytest.raises(MalformedDocument) as caught:
        parse_document(body, source=SOURCE)
    message = str(caught.value)
    assert SOURCE in message
    assert "line 4" in message
    assert "securityToken" not in message


def test_concatenated_documents_are_malformed():
    # electricitymaps kept a mock with two documents in one file; the second declaration is line 7.
    with pytest.raises(MalformedDocument, match="malformed XML at line 7"):
        parse_document(gl() + gl())


def test_unknown_root_is_refused_naming_it():
    body = b'<Balancing_MarketDocument xmlns="urn:x:balancingdocument:4:4"><mRID>1</mRID>'
    body += b"</Balancing_MarketDocument>"
    with pytest.raises(MalformedDocument, match="unsupported document root 'Balancing_MarketDocument'"):
        parse_document(body, source=SOURCE)


def test_billion_laughs_is_refused_without_expanding():
    laughs = (
        b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n<!ENTITY lol "lol">\n'
        + b"".join(
            b'<!ENTITY lol%d "%s">\n' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
            for i in range(1, 10)
        )
        + b"]>\n<GL_MarketDocument><mRID>&lol9;</mRID></GL_MarketDocument>"
    )
    with pytest.raises(MalformedDocument, match="DTD/entities are not allowed"):
        parse_document(laughs, source=SOURCE)


def test_external_entity_is_not_fetched():
    body = (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<GL_MarketDocument><mRID>&x;</mRID></GL_MarketDocument>"
    )
    with pytest.raises(MalformedDocument, match="DTD/entities are not allowed"):
        parse_document(body)


def test_oversize_body_is_refused_before_parsing():
    body = gl(series(period("2024-01-01T00:00Z", "2024-01-01T01:00Z", "PT60M", {1: 1})))
    with pytest.raises(MalformedDocument, match=rf"body of {len(body)} bytes exceeds the limit of 100 bytes"):
        parse_document(body, source=SOURCE, max_bytes=100)


def test_empty_body_is_malformed():
    with pytest.raises(MalformedDocument, match=SOURCE):
        parse_document(b"", source=SOURCE)


def test_html_error_page_is_malformed_not_data():
    with pytest.raises(MalformedDocument, match="unsupported document root 'html'"):
        parse_document(b"<html><body>Unauthorized. Missing or invalid security token</body></html>")
