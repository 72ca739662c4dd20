"""XML of the simulated answers, in the real schemas (entsoe-api.md §3): GL_MarketDocument 3:0,
Publication_MarketDocument 7:3 and Acknowledgement_MarketDocument 7:0. Built by string joining:
a month of quarter hours for every production type of an area is tens of thousands of Points."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from xml.sax.saxutils import escape

import numpy as np

from .periods import from_minutes

GL_NS = "urn:iec62325.351:tc57wg16:451-6:generationloaddocument:3:0"
PUBLICATION_NS = "urn:iec62325.351:tc57wg16:451-3:publicationdocument:7:3"
ACKNOWLEDGEMENT_NS = "urn:iec62325.351:tc57wg16:451-1:acknowledgementdocument:7:0"
PLATFORM_EIC = "10X1001A1001A450"  # sender and receiver of every document the platform sends


@dataclass(frozen=True)
class Period:
    start: int  # epoch minutes, UTC
    end: int  # as declared in the timeInterval: one step early in a short Period (habits.py)
    resolution: str
    values: np.ndarray  # one per position


@dataclass(frozen=True)
class Series:
    """One TimeSeries: its header elements (already XML) and Periods, and the key a reader gives
    its points (business type, production type, variant as ``parse_document`` names them)."""

    header: str
    periods: tuple[Period, ...]
    curve_type: str  # A01: every position; A03: a position only where the value changes
    value_tag: str  # quantity or price.amount
    business_type: str = ""
    psr_type: str = ""
    variant: str = ""  # 'consumption', 'sequence=2' or ''


def timestamp(minutes: int) -> str:
    return from_minutes(minutes).strftime("%Y-%m-%dT%H:%MZ")


def _created(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _participants(receiver_role: str) -> str:
    return (
        f'<sender_MarketParticipant.mRID codingScheme="A01">{PLATFORM_EIC}</sender_MarketParticipant.mRID>'
        "<sender_MarketParticipant.marketRole.type>A32</sender_MarketParticipant.marketRole.type>"
        f'<receiver_MarketParticipant.mRID codingScheme="A01">{PLATFORM_EIC}'
        "</receiver_MarketParticipant.mRID>"
        f"<receiver_MarketParticipant.marketRole.type>{receiver_role}</receiver_MarketParticipant.marketRole.type>"
    )


def gl_series(
    *,
    business_type: str,
    domain: str,
    eic: str,
    periods: tuple[Period, ...],
    curve_type: str = "A01",
    psr_type: str | None = None,
    unit: str = "MAW",
    variant: str = "",
) -> Series:
    """A GL TimeSeries; ``domain`` is inBiddingZone_Domain (generation) or outBiddingZone_Domain
    (load, and the consumption series of generation documents, whose ``variant`` is 'consumption')."""
    aggregation = "A08" if psr_type else "A01"  # per resource type vs whole area
    psr = f"<MktPSRType><psrType>{psr_type}</psrType></MktPSRType>" if psr_type else ""
    header = (
        f"<businessType>{business_type}</businessType>"
        f"<objectAggregation>{aggregation}</objectAggregation>"
        f'<{domain}.mRID codingScheme="A01">{eic}</{domain}.mRID>'
        f"<quantity_Measure_Unit.name>{unit}</quantity_Measure_Unit.name>"
        f"<curveType>{curve_type}</curveType>{psr}"
    )
    return Series(header, periods, curve_type, "quantity", business_type, psr_type or "", variant)


def price_series(*, eic: str, sequence: int, periods: tuple[Period, ...], curve_type: str = "A03") -> Series:
    """A day-ahead price TimeSeries of Publication_MarketDocument 7:3 (contract A01)."""
    header = (
        "<auction.type>A01</auction.type><businessType>A62</businessType>"
        f'<in_Domain.mRID codingScheme="A01">{eic}</in_Domain.mRID>'
        f'<out_Domain.mRID codingScheme="A01">{eic}</out_Domain.mRID>'
        "<contract_MarketAgreement.type>A01</contract_MarketAgreement.type>"
        "<currency_Unit.name>EUR</currency_Unit.name><price_Measure_Unit.name>MWH</price_Measure_Unit.name>"
        "<classificationSequence_AttributeInstanceComponent.position>"
        f"{sequence}</classificationSequence_AttributeInstanceComponent.position>"
        f"<curveType>{curve_type}</curveType>"
    )
    variant = "" if sequence == 1 else f"sequence={sequence}"
    return Series(header, periods, curve_type, "price.amount", "A62", "", variant)


def _points(period: Period, curve_type: str, tag: str) -> str:
    values = np.asarray(period.values, dtype=np.float64)
    if curve_type == "A03":
        # Variable-sized blocks: a Point only where the value differs from the previous position.
        keep = np.ones(values.size, dtype=bool)
        keep[1:] = values[1:] != values[:-1]
        positions = np.flatnonzero(keep) + 1
        values = values[keep]
    else:
        positions = np.arange(1, values.size + 1)
    return "".join(
        f"<Point><position>{p}</position><{tag}>{v:.10g}</{tag}></Point>"
        for p, v in zip(positions.tolist(), values.tolist(), strict=True)
    )


def _series_xml(number: int, series: Series) -> str:
    periods = "".join(
        f"<Period><timeInterval><start>{timestamp(p.start)}</start><end>{timestamp(p.end)}</end></timeInterval>"
        f"<resolution>{p.resolution}</resolution>{_points(p, series.curve_type, series.value_tag)}</Period>"
        for p in series.periods
    )
    return f"<TimeSeries><mRID>{number}</mRID>{series.header}{periods}</TimeSeries>"


def market_document(
    *,
    root: str,
    document_type: str,
    process_type: str | None,
    series: list[Series],
    created: datetime,
    mrid: str,
) -> bytes:
    """A GL_MarketDocument or Publication_MarketDocument; its interval is the union of the data."""
    start = min(p.start for s in series for p in s.periods)
    end = max(p.end for s in series for p in s.periods)
    publication = root == "Publication_MarketDocument"
    namespace = PUBLICATION_NS if publication else GL_NS
    process = f"<process.processType>{process_type}</process.processType>" if process_type else ""
    interval_tag = "period.timeInterval" if publication else "time_Period.timeInterval"
    body = "".join(_series_xml(n, s) for n, s in enumerate(series, start=1))
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{namespace}">'
        f"<mRID>{mrid}</mRID><revisionNumber>1</revisionNumber><type>{document_type}</type>{process}"
        f"{_participants('A33')}<createdDateTime>{_created(created)}</createdDateTime>"
        f"<{interval_tag}><start>{timestamp(start)}</start><end>{timestamp(end)}</end></{interval_tag}>"
        f"{body}</{root}>"
    ).encode()


def acknowledgement(text: str, *, created: datetime, mrid: str, code: str = "999") -> bytes:
    """An Acknowledgement_MarketDocument with one Reason (the API's answer to no data and errors)."""
    stamp = _created(created)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<Acknowledgement_MarketDocument xmlns="{ACKNOWLEDGEMENT_NS}">'
        f"<mRID>{mrid[:16]}</mRID><createdDateTime>{stamp}</createdDateTime>{_participants('A39')}"
        f"<received_MarketDocument.createdDateTime>{stamp}</received_MarketDocument.createdDateTime>"
        f"<Reason><code>{code}</code><text>{escape(text)}</text></Reason></Acknowledgement_MarketDocument>"
    ).encode()
