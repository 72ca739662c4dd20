"""ENTSO-E response body -> one row per point (see point_frame for the columns).

Reads GL_MarketDocument (load, generation, forecasts) and Publication_MarketDocument (prices),
raises the typed error of an Acknowledgement_MarketDocument, and concatenates the documents of a
ZIP body. Elements are found by local name whatever the namespace version (A44 7:0 and 7:3 both
occur). The Points of a Period are read in bulk into numpy arrays (see points.py) and placed on the
Period's time grid (placement.py): a Period that contradicts itself costs its own points, reported
as DocumentProblems, never the whole document's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from zoneinfo import ZoneInfo

import pandas as pd
from lxml import etree

from entsoe_pipeline import catalog

from . import acknowledgement
from .curves import FIXED_BLOCKS
from .durations import MAX_NS, MIN_NS, DurationError, parse_utc, to_ns
from .errors import MalformedDocument
from .placement import PeriodTags, SeriesContext, period_tags, place_period
from .placement import text_of as _text
from .point_frame import NOT_A_TIME, PointFrameBuilder, SeriesKey
from .problems import DocumentProblem, points_dropped
from .xml_safety import MAX_DOCUMENT_BYTES, is_zip, parse_xml, unzip_members

GL_ROOT = "GL_MarketDocument"
PUBLICATION_ROOT = "Publication_MarketDocument"
DATA_ROOTS = (GL_ROOT, PUBLICATION_ROOT)

# In generation documents inBiddingZone_Domain carries generation and outBiddingZone_Domain
# consumption (pumping, storage charging; fixture gen_actual_A75-A16_CZ_20160101_PT60M_pj.xml has
# both for B10). In load documents (A65, A70) outBiddingZone_Domain is the normal direction.
GENERATION_DOCUMENT_TYPES = frozenset({"A68", "A69", "A71", "A72", "A73", "A74", "A75"})
CONSUMPTION = "consumption"
# Per-unit items (A73, actual generation per generation unit): each TimeSeries is one unit, named in
# MktPSRType/PowerSystemResources/mRID. Keying by registeredResource.mRID alone let the units of one
# A73 answer overwrite each other (480 points in, 168 out).
PER_UNIT_DOCUMENT_TYPES = frozenset({"A73"})
_UNIT_MRID = "PowerSystemResources.mRID"  # our name for MktPSRType/PowerSystemResources/mRID

_REVISION = re.compile(r"[0-9]{1,18}")  # the revision column is int64
_DEFAULT_CONTRACT = "A01"  # day-ahead; A07 = intraday auctions (ES IDA1/2/3)
_DEFAULT_SEQUENCE = "1"  # DE_LU/AT: 1 = SDAC, 2 = EXAA


def parse_document(
    content: bytes, *, source: str | None = None, max_bytes: int = MAX_DOCUMENT_BYTES
) -> pd.DataFrame:
    """Parse an ENTSO-E API response body into one row per point.

    ``source`` describes the request (without its token) for error messages, e.g.
    "actual_load FR 2024-01-01T00:00Z/2024-01-02T00:00Z". Bodies (or inflated ZIP members) larger
    than ``max_bytes`` are refused.

    Raises NoMatchingData, SpanTooLong or InvalidRequest for an Acknowledgement_MarketDocument and
    MalformedDocument for a body that is not a readable document (not XML, unknown root, DTD,
    size limits, a broken ZIP, a TimeSeries without area, a per-unit TimeSeries without unit). A
    Period that cannot be placed, or only in part, is not an error: what it cost is a
    DocumentProblem.

    ``DataFrame.attrs`` holds document_type, process_type, namespace, created, root,
    time_interval, duplicates (values dropped because a later one had the same series key and
    time), problems (a tuple of DocumentProblem) and points_dropped (the points they cost).
    """
    where = source or "ENTSO-E response"
    if isinstance(content, str):  # a decoded body may have lost its declared encoding
        raise TypeError(f"{where}: parse_document reads the raw body as bytes (response.content), not text")
    content = bytes(content) if not isinstance(content, bytes) else content
    builder = PointFrameBuilder()
    problems: list[DocumentProblem] = []
    if is_zip(content):
        attrs = _parse_zip(content, where, max_bytes, builder, problems)
    else:
        root = parse_xml(content, where, max_bytes)
        if _local_name(root.tag) == acknowledgement.ROOT:
            raise acknowledgement.acknowledgement_error(root, where)
        attrs = _parse_data_document(root, where, builder, problems)
    frame = builder.build()
    frame.attrs.update(attrs)
    frame.attrs["duplicates"] = builder.duplicates
    frame.attrs["problems"] = tuple(problems)
    frame.attrs["points_dropped"] = points_dropped(problems)
    return frame


def _parse_zip(
    content: bytes, where: str, max_bytes: int, builder: PointFrameBuilder, problems: list[DocumentProblem]
) -> dict[str, object]:
    """Concatenate every document of a ZIP body; an Acknowledgement member counts as no data, and a
    ZIP of nothing but Acknowledgements raises the first one's error, as a plain answer would."""
    attrs: dict[str, object] = {}
    members = unzip_members(content, where, max_bytes)
    acknowledged = 0
    first_ack: tuple[etree._Element, str] | None = None
    for name, data in members:
        member_where = f"{where} (ZIP member {name})"
        root = parse_xml(data, member_where, max_bytes)
        if _local_name(root.tag) == acknowledgement.ROOT:
            acknowledged += 1
            first_ack = first_ack or (root, member_where)
            continue
        member_attrs = _parse_data_document(root, member_where, builder, problems)
        attrs = attrs or member_attrs  # the header of the first data document describes the frame
    if first_ack is not None and acknowledged == len(members):
        raise acknowledgement.acknowledgement_error(*first_ack)
    if not attrs:
        attrs = {
            k: "" for k in ("document_type", "process_type", "namespace", "created", "root", "time_interval")
        }
    attrs["zip_members"] = len(members)
    attrs["acknowledged_members"] = acknowledged
    return attrs


@dataclass
class _Document:
    """What the TimeSeries of one document share."""

    where: str
    namespace: str
    root: str
    header: dict[str, str]
    series: list[etree._Element] = field(default_factory=list)
    time_interval: str = ""

    @property
    def document_type(self) -> str:
        return self.header.get("type", "")


def _parse_data_document(
    root: etree._Element, where: str, builder: PointFrameBuilder, problems: list[DocumentProblem]
) -> dict[str, object]:
    document = _read_header(root, where)
    mrid = document.header.get("mRID", "")
    revision = _revision(document.header.get("revisionNumber", ""), where)
    created = document.header.get("createdDateTime", "")
    source = _Source(mrid, revision, _created_ns(created))
    tags = period_tags(document.namespace)
    for series in document.series:
        _parse_series(series, document, tags, builder, source, problems)
    return {
        "document_type": document.document_type,
        "process_type": document.header.get("process.processType", ""),
        "namespace": document.namespace,
        "created": created,
        "root": document.root,
        "time_interval": document.time_interval,
    }


@dataclass(frozen=True)
class _Source:
    """The document a point comes from: its mRID, revision and createdDateTime (ns, UTC)."""

    mrid: str
    revision: int
    created_ns: int


def _read_header(root: etree._Element, where: str) -> _Document:
    namespace, root_name = _split_tag(root.tag)
    if root_name not in DATA_ROOTS:
        known = ", ".join((*DATA_ROOTS, acknowledgement.ROOT))
        raise MalformedDocument(
            f"{where}: unsupported document root {root_name!r} (namespace {namespace!r}); "
            f"the parser reads {known}"
        )
    document = _Document(where, namespace, root_name, {})
    for child in root:
        name = _local_name(child.tag)
        if name == "TimeSeries":
            document.series.append(child)
        elif name.endswith("timeInterval"):  # time_Period.timeInterval (GL), period.timeInterval (A44)
            document.time_interval = "/".join(_text(c) for c in child.iterchildren("{*}start", "{*}end"))
        elif name and name not in document.header:
            document.header[name] = _text(child)
    return document


def _parse_series(
    series: etree._Element,
    document: _Document,
    tags: PeriodTags,
    builder: PointFrameBuilder,
    source: _Source,
    problems: list[DocumentProblem],
) -> None:
    fields: dict[str, str] = {}
    periods: list[etree._Element] = []
    for child in series:
        name = _local_name(child.tag)
        if name == "Period":
            periods.append(child)
        elif name == "MktPSRType":
            _read_psr(child, fields)
        elif name:
            fields.setdefault(name, _text(child))
    where = f"{document.where}: TimeSeries {fields.get('mRID', '?')} (line {series.sourceline})"
    key = _series_key(fields, document, where)
    series_id = builder.series_id(key, source.mrid, source.revision, source.created_ns)
    context = SeriesContext(
        where,
        (key.business_type, key.psr_type, key.variant, key.area),
        fields.get("curveType") or FIXED_BLOCKS,  # old documents may omit it; A01 was the rule
        _area_tz(key.area),
    )
    for period in periods:
        placed = place_period(period, tags, context, problems)
        if placed is not None:
            builder.duplicates += placed.duplicates
            builder.add(series_id, placed.resolution, placed.times_ns, placed.values)


def _read_psr(psr: etree._Element, fields: dict[str, str]) -> None:
    """MktPSRType: the psrType, and the generation unit's mRID where it names one (A73)."""
    for child in psr:  # a walk over two or three children beats find() with a path
        name = _local_name(child.tag)
        if name == "psrType":
            fields["psrType"] = _text(child)
        elif name == "PowerSystemResources":
            unit = next((c for c in child if _local_name(c.tag) == "mRID"), None)
            fields[_UNIT_MRID] = _text(unit)


def _series_key(fields: dict[str, str], document: _Document, where: str) -> SeriesKey:
    variant: list[str] = []
    if document.root == PUBLICATION_ROOT:
        area = fields.get("in_Domain.mRID") or fields.get("out_Domain.mRID", "")
        contract = fields.get("contract_MarketAgreement.type", "")
        if contract and contract != _DEFAULT_CONTRACT:
            variant.append(f"contract={contract}")
        sequence = fields.get("classificationSequence_AttributeInstanceComponent.position", "")
        if sequence and sequence != _DEFAULT_SEQUENCE:
            variant.append(f"sequence={sequence}")
        out_area = fields.get("out_Domain.mRID", "")
        if out_area and out_area != area:  # flows and capacities: the direction is part of the series
            variant.append(f"out={out_area}")
        currency = fields.get("currency_Unit.name", "")
        price_unit = fields.get("price_Measure_Unit.name", "")
        unit = f"{currency}/{price_unit}" if currency else fields.get("quantity_Measure_Unit.name", "")
    else:
        generation = document.document_type in GENERATION_DOCUMENT_TYPES
        inbound = fields.get("inBiddingZone_Domain.mRID", "")
        outbound = fields.get("outBiddingZone_Domain.mRID", "")
        if generation and not inbound and outbound:
            variant.append(CONSUMPTION)
        area = (inbound or outbound) if generation else (outbound or inbound)
        unit = fields.get("quantity_Measure_Unit.name", "")
        # Per-unit items (A73): one series per generation unit; the plant's registeredResource.mRID
        # only where no unit is named.
        resource = fields.get(_UNIT_MRID) or fields.get("registeredResource.mRID", "")
        if resource:
            variant.append(f"resource={resource}")
        elif document.document_type in PER_UNIT_DOCUMENT_TYPES:
            raise MalformedDocument(
                f"{where}: no generation unit named (neither MktPSRType/PowerSystemResources/mRID nor "
                f"registeredResource.mRID); in an {document.document_type} answer only the unit keeps "
                "one unit's points from overwriting another's, so the document is refused, not merged"
            )
    if not area:
        raise MalformedDocument(f"{where}: no bidding zone or domain mRID")
    return SeriesKey(fields.get("businessType", ""), fields.get("psrType", ""), ",".join(variant), area, unit)


@lru_cache(maxsize=256)
def _area_tz(eic: str) -> ZoneInfo | None:
    """The area's zone for calendar resolutions; None when the EIC is not in the catalogue."""
    try:
        return ZoneInfo(catalog.area(eic).tz)
    except KeyError:
        return None


def _created_ns(text: str) -> int:
    """createdDateTime as ns since epoch (UTC); NOT_A_TIME when absent or unreadable: the vintage
    is information about the points, not a reason to refuse them."""
    if not text:
        return NOT_A_TIME
    try:
        created = to_ns(parse_utc(text))
    except DurationError:
        return NOT_A_TIME
    return created if MIN_NS <= created <= MAX_NS else NOT_A_TIME


def _revision(text: str, where: str) -> int:
    if not text:
        return 1
    # Plain digits only: int() also reads "1_0", "-5" and non-ASCII digits, and a number beyond
    # int64 would fail later, outside the parser's errors.
    if _REVISION.fullmatch(text) is None:
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise MalformedDocument(f"{where}: revisionNumber {shown!r} is not an integer of at most 18 digits")
    return int(text)


def _split_tag(tag: object) -> tuple[str, str]:
    if not isinstance(tag, str):  # comments and processing instructions
        return "", ""
    if tag.startswith("{"):
        namespace, _, name = tag[1:].partition("}")
        return namespace, name
    return "", tag


_LOCAL_NAMES: dict[object, str] = {}


def _local_name(tag: object) -> str:
    # A document repeats a dozen tags thousands of times; a dict beats splitting each one.
    name = _LOCAL_NAMES.get(tag)
    if name is None:
        name = _split_tag(tag)[1]
        if len(_LOCAL_NAMES) < 4096:  # tags come from untrusted documents: keep the cache bounded
            _LOCAL_NAMES[tag] = name
    return name
