"""Large synthetic ENTSO-E documents in the real schema, for benchmarks.

The layout copies the real answers in ../shared/fixtures/entsoe (element order, namespaces,
codingScheme attributes, one Point per line pair, tab indentation as the API sends it); sizes are
what one request can return: a year of quarter-hourly load, a month of generation per type, a
year of prices as one TimeSeries per day. Values are seeded random walks, so every run builds the
same bytes.

Run as a script to print what each builder produces.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

GL_NS = "urn:iec62325.351:tc57wg16:451-6:generationloaddocument:3:0"
PUBLICATION_NS = "urn:iec62325.351:tc57wg16:451-3:publicationdocument:7:3"
CZ = "10YCZ-CEPS-----N"
DE_LU = "10Y1001A1001A82H"
BE = "10YBE----------2"
_PLATFORM = "10X1001A1001A450"  # sender and receiver of every answer
CET = ZoneInfo("Europe/Brussels")
STEP = {"PT15M": timedelta(minutes=15), "PT30M": timedelta(minutes=30), "PT60M": timedelta(hours=1)}
GENERATION_PSR_TYPES: tuple[str, ...] = (
    *("B01", "B02", "B04", "B05", "B06", "B09", "B10", "B11"),
    *("B12", "B14", "B15", "B16", "B17", "B18", "B19", "B20"),
)


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime
    resolution: str
    positions: Sequence[int]
    values: Sequence[str]


def _z(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def _local_midnight(year: int, month: int = 1, day: int = 1) -> datetime:
    return datetime(year, month, day, tzinfo=CET).astimezone(UTC)


def _header(document_type: str, process_type: str | None, start: datetime, end: datetime) -> str:
    process = f"\t<process.processType>{process_type}</process.processType>\n" if process_type else ""
    interval = "time_Period.timeInterval" if process_type else "period.timeInterval"
    return (
        "\t<mRID>5fd8ea1e9a1c4cd2a0b8b2a8d7a1a9c3</mRID>\n"
        "\t<revisionNumber>1</revisionNumber>\n"
        f"\t<type>{document_type}</type>\n{process}"
        f'\t<sender_MarketParticipant.mRID codingScheme="A01">{_PLATFORM}</sender_MarketParticipant.mRID>\n'
        "\t<sender_MarketParticipant.marketRole.type>A32</sender_MarketParticipant.marketRole.type>\n"
        f'\t<receiver_MarketParticipant.mRID codingScheme="A01">{_PLATFORM}'
        "</receiver_MarketParticipant.mRID>\n"
        "\t<receiver_MarketParticipant.marketRole.type>A33</receiver_MarketParticipant.marketRole.type>\n"
        "\t<createdDateTime>2025-01-02T12:57:19Z</createdDateTime>\n"
        f"\t<{interval}>\n\t\t<start>{_z(start)}</start>\n\t\t<end>{_z(end)}</end>\n\t</{interval}>\n"
    )


def _period(period: Period, value_tag: str) -> str:
    points = "".join(
        f"\t\t\t<Point>\n\t\t\t\t<position>{p}</position>\n\t\t\t\t<{value_tag}>{v}</{value_tag}>\n\t\t\t</Point>\n"
        for p, v in zip(period.positions, period.values, strict=True)
    )
    return (
        "\t\t<Period>\n\t\t\t<timeInterval>\n"
        f"\t\t\t\t<start>{_z(period.start)}</start>\n\t\t\t\t<end>{_z(period.end)}</end>\n"
        f"\t\t\t</timeInterval>\n\t\t\t<resolution>{period.resolution}</resolution>\n{points}\t\t</Period>\n"
    )


def gl_series(
    mrid: int,
    business_type: str,
    domain: str,
    area: str,
    periods: Iterable[Period],
    *,
    psr_type: str | None = None,
    curve_type: str = "A01",
) -> str:
    """One GL TimeSeries; ``domain`` is inBiddingZone_Domain or outBiddingZone_Domain."""
    aggregation = "A08" if psr_type else "A01"
    psr = f"\t\t<MktPSRType>\n\t\t\t<psrType>{psr_type}</psrType>\n\t\t</MktPSRType>\n" if psr_type else ""
    return (
        f"\t<TimeSeries>\n\t\t<mRID>{mrid}</mRID>\n\t\t<businessType>{business_type}</businessType>\n"
        f"\t\t<objectAggregation>{aggregation}</objectAggregation>\n"
        f'\t\t<{domain}.mRID codingScheme="A01">{area}</{domain}.mRID>\n'
        "\t\t<quantity_Measure_Unit.name>MAW</quantity_Measure_Unit.name>\n"
        f"\t\t<curveType>{curve_type}</curveType>\n{psr}"
        + "".join(_period(p, "quantity") for p in periods)
        + "\t</TimeSeries>\n"
    )


def gl_document(
    document_type: str, process_type: str, start: datetime, end: datetime, series: Iterable[str]
) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<GL_MarketDocument xmlns="{GL_NS}">\n'
        + _header(document_type, process_type, start, end)
        + "".join(series)
        + "</GL_MarketDocument>"
    ).encode()


def _walk(rng: np.random.Generator, n: int, level: float, spread: float, decimals: int = 0) -> list[str]:
    """A seeded random walk around ``level`` (load-like), as the API formats numbers."""
    steps = rng.normal(0.0, spread, n).cumsum()
    daily = level * 0.15 * np.sin(np.arange(n) * 2 * np.pi / max(n / 30, 1))
    values = np.clip(level + daily + steps - steps.mean(), 0, None).round(decimals)
    return [f"{v:.{decimals}f}" if decimals else str(int(v)) for v in values]


def _full_period(start: datetime, end: datetime, resolution: str, values: list[str]) -> Period:
    return Period(start, end, resolution, range(1, len(values) + 1), values)


def _count(start: datetime, end: datetime, resolution: str) -> int:
    return (end - start) // STEP[resolution]


def actual_load_year(area: str = CZ, year: int = 2023, resolution: str = "PT15M") -> bytes:
    """Actual total load (A65/A16) for a year: one TimeSeries per local month, like CZ 2016's answer."""
    rng = np.random.default_rng(year)
    series = []
    for month in range(1, 13):
        start = _local_midnight(year, month)
        end = _local_midnight(year + (month == 12), month % 12 + 1)
        values = _walk(rng, _count(start, end, resolution), 7000, 40)
        series.append(
            gl_series(
                month, "A04", "outBiddingZone_Domain", area, [_full_period(start, end, resolution, values)]
            )
        )
    return gl_document("A65", "A16", _local_midnight(year), _local_midnight(year + 1), series)


def day_ahead_load_year(area: str = CZ, year: int = 2023, resolution: str = "PT15M") -> bytes:
    """Day-ahead load forecast (A65/A01) for a year: one TimeSeries per delivery day (DK2, CZ answers)."""
    rng = np.random.default_rng(year + 1)
    series = []
    day = _local_midnight(year)
    end_of_year = _local_midnight(year + 1)
    mrid = 0
    while day < end_of_year:
        nxt = datetime(*(day.astimezone(CET) + timedelta(days=1)).timetuple()[:3], tzinfo=CET).astimezone(UTC)
        mrid += 1
        values = _walk(rng, _count(day, nxt, resolution), 7200, 30)
        series.append(
            gl_series(
                mrid, "A04", "outBiddingZone_Domain", area, [_full_period(day, nxt, resolution, values)]
            )
        )
        day = nxt
    return gl_document("A65", "A01", _local_midnight(year), end_of_year, series)


def generation_month(area: str = DE_LU, year: int = 2024, month: int = 3, resolution: str = "PT15M") -> bytes:
    """Actual generation per type (A75/A16) for a month: one TimeSeries per psrType, plus pumping."""
    rng = np.random.default_rng(year * 100 + month)
    start = _local_midnight(year, month)
    end = _local_midnight(year + (month == 12), month % 12 + 1)
    n = _count(start, end, resolution)
    series = []
    for mrid, psr in enumerate(GENERATION_PSR_TYPES, start=1):
        business = {"B16": "A94", "B18": "A93", "B19": "A93"}.get(psr, "A01")
        values = _walk(rng, n, float(rng.uniform(200, 9000)), 25, decimals=2)
        series.append(
            gl_series(
                mrid,
                business,
                "inBiddingZone_Domain",
                area,
                [_full_period(start, end, resolution, values)],
                psr_type=psr,
            )
        )
    pumping = _walk(rng, n, 800.0, 20, decimals=2)  # B10 consumption: outBiddingZone_Domain
    series.append(
        gl_series(
            99,
            "A01",
            "outBiddingZone_Domain",
            area,
            [_full_period(start, end, resolution, pumping)],
            psr_type="B10",
        )
    )
    return gl_document("A75", "A16", start, end, series)


def prices_year(area: str = BE, year: int = 2026, resolution: str = "PT15M") -> bytes:
    """Day-ahead prices (A44, 7:3) for a year: one TimeSeries per day, curveType A03 (repeats omitted)."""
    rng = np.random.default_rng(year + 2)
    start_of_year = _local_midnight(year)
    end_of_year = _local_midnight(year + 1)
    parts = [
        f'<?xml version="1.0" encoding="utf-8"?>\n<Publication_MarketDocument xmlns="{PUBLICATION_NS}">\n',
        _header("A44", None, start_of_year, end_of_year),
    ]
    day = start_of_year
    mrid = 0
    while day < end_of_year:
        nxt = datetime(*(day.astimezone(CET) + timedelta(days=1)).timetuple()[:3], tzinfo=CET).astimezone(UTC)
        mrid += 1
        n = _count(day, nxt, resolution)
        # Prices on a 5 EUR/MWh grid repeat often, so A03 omits almost half of the positions.
        full = np.round(rng.normal(0, 4, n).cumsum() + 80, 0) // 5 * 5
        keep = np.append(True, full[1:] != full[:-1])
        positions = (np.flatnonzero(keep) + 1).tolist()
        values = [f"{v:.2f}".rstrip("0").rstrip(".") for v in full[keep]]
        parts.append(
            f"\t<TimeSeries>\n\t\t<mRID>{mrid}</mRID>\n\t\t<auction.type>A01</auction.type>\n"
            "\t\t<businessType>A62</businessType>\n"
            f'\t\t<in_Domain.mRID codingScheme="A01">{area}</in_Domain.mRID>\n'
            f'\t\t<out_Domain.mRID codingScheme="A01">{area}</out_Domain.mRID>\n'
            "\t\t<contract_MarketAgreement.type>A01</contract_MarketAgreement.type>\n"
            "\t\t<currency_Unit.name>EUR</currency_Unit.name>\n"
            "\t\t<price_Measure_Unit.name>MWH</price_Measure_Unit.name>\n"
            "\t\t<curveType>A03</curveType>\n"
            + _period(Period(day, nxt, resolution, positions, values), "price.amount")
            + "\t</TimeSeries>\n"
        )
        day = nxt
    parts.append("</Publication_MarketDocument>")
    return "".join(parts).encode()


# name -> (builder, document kind for baselines: "load", "generation" or "prices", processType)
SYNTHETIC: dict[str, tuple[Callable[[], bytes], str, str | None]] = {
    "synthetic actual load CZ 2023 PT15M": (actual_load_year, "load", "A16"),
    "synthetic day-ahead load CZ 2023 PT15M (TS per day)": (day_ahead_load_year, "load", "A01"),
    "synthetic generation DE_LU 2024-03 PT15M (17 TS)": (generation_month, "generation", None),
    "synthetic prices BE 2026 PT15M A03 (TS per day)": (prices_year, "prices", None),
}


if __name__ == "__main__":
    for name, (build, kind, _) in SYNTHETIC.items():
        body = build()
        print(f"{name}: {len(body) / 1e6:.1f} MB, {body.count(b'<Point>')} Points ({kind})")
