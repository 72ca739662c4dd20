"""The simulator's answer to one authorised GET /api: parameter checks as the platform makes them
(texts from entsoe-api.md §1.3, §1.4, §3.10), then the document or an Acknowledgement."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

from entsoe_pipeline import catalog
from entsoe_pipeline.catalog import Area, Endpoint

from .documents import acknowledgement
from .habits import Habits
from .items import DATA_ITEMS, Query, document_for, price_sequences

XML = "text/xml"
ACK = "application/xml"

CONTRACT = "contract_MarketAgreement.type"
SEQUENCE = "classificationSequence_AttributeInstanceComponent.position"
_KNOWN_PARAMETERS = frozenset(
    {
        "securityToken",
        "documentType",
        "processType",
        "outBiddingZone_Domain",
        "in_Domain",
        "out_Domain",
        "psrType",
        "periodStart",
        "periodEnd",
        CONTRACT,
        "contract_MarketAgreement.Type",
        SEQUENCE,
        "offset",
    }
)
# A75 and A74 return the same document (Postman collection, 16.1.B&C).
_DOCUMENT_TYPE_ALIASES = MappingProxyType({"A74": "A75"})
_BY_TYPES: MappingProxyType[tuple[str, str | None], Endpoint] = MappingProxyType(
    {(e.document_type, e.process_type): e for e in catalog.ENDPOINTS.values()}
)
_BY_EIC = MappingProxyType({a.eic: a for a in catalog.AREAS.values()})


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str
    has_data: bool = False


def span_label(span: timedelta) -> str:
    """The ISO duration the platform quotes for a span limit (28 days are its 'P1M')."""
    days, seconds = span.days, span.seconds
    if seconds == 0 and days == 365:
        return "P1Y"
    if seconds == 0 and days == 28:
        return "P1M"
    if seconds == 0:
        return f"P{days}D"
    return f"PT{int(span.total_seconds() // 3600)}H"


def answer(
    params: Mapping[str, str], *, now: datetime, no_data=(), span_limits=None, habits: Habits | None = None
) -> Answer:
    """The answer to the query parameters of an authorised request (``habits``: none by default)."""
    created = now.astimezone(UTC)
    ack_id = hashlib.blake2b(repr(sorted(params.items())).encode(), digest_size=8).hexdigest()

    def reject(text: str) -> Answer:
        return Answer(400, acknowledgement(text, created=created, mrid=ack_id), ACK)

    for name in ("documentType", "periodStart", "periodEnd"):
        if not params.get(name):
            return reject(f"Mandatory parameter {name} is missing")
    for name in params:
        if name not in _KNOWN_PARAMETERS:
            return reject(f"Input parameter does not exist: {name}")

    document_type = _DOCUMENT_TYPE_ALIASES.get(params["documentType"], params["documentType"])
    process_type = params.get("processType") or None
    endpoint = _BY_TYPES.get((document_type, process_type))
    contract = params.get(CONTRACT) or params.get("contract_MarketAgreement.Type")
    if endpoint is None or (contract and contract != dict(endpoint.extra_params).get(CONTRACT)):
        combination = ", ".join(
            f"{k}={params[k]}" for k in ("documentType", "processType", CONTRACT) if params.get(k)
        )
        return reject(
            f"No data item exists for {combination}: please check you request against dependency tables"
        )

    start, end = _period(params["periodStart"]), _period(params["periodEnd"])
    for name, value in (("periodStart", start), ("periodEnd", end)):
        if value is None:
            return reject(
                f"Input parameter {name} has an invalid value {params[name]!r}: expected yyyyMMddHHmm"
            )
    assert start is not None and end is not None
    if end <= start:
        return reject(
            f"Input parameter periodEnd ({params['periodEnd']}) must be after "
            f"periodStart ({params['periodStart']})"
        )

    area, problem = _area(endpoint, params)
    if problem:
        return reject(problem)
    assert area is not None

    item = DATA_ITEMS[endpoint.name]
    limit = (span_limits or {}).get(endpoint.name, endpoint.max_span)
    if end - start > limit:
        return reject(
            f"Provided time interval ({_iso(start)} - {_iso(end)}) is larger than maximum allowed period "
            f"'{span_label(limit)}' for '{item.name}:XML' export."
        )

    psr_type = params.get("psrType") or None
    if psr_type is not None and (item.psr_types is None or psr_type not in item.psr_types(area)):
        return reject(f"psrType {psr_type} is not valid for this area ({area.eic}) and data item {item.name}")
    sequence = params.get(SEQUENCE) or None
    if sequence is not None and (not sequence.isdigit() or int(sequence) not in price_sequences(area)):
        return reject(f"Input parameter {SEQUENCE} has an invalid value {sequence!r} for {area.eic}")
    offset = params.get("offset") or "0"
    if not offset.isdigit():
        return reject(f"Input parameter offset has an invalid value {offset!r}")

    body = None
    if int(offset) == 0:  # every simulated answer fits in the first page of documents
        query = Query(
            endpoint,
            area,
            start,
            end,
            created,
            tuple(no_data),
            psr_type,
            int(sequence) if sequence else None,
            habits or Habits(),
        )
        body = document_for(query)
    if body is None:
        text = (
            f"No matching data found for Data item {item.name} [{item.article}] ({area.eic}) "
            f"and interval {_iso_ms(start)}/{_iso_ms(end)}."
        )
        return Answer(200, acknowledgement(text, created=created, mrid=ack_id), ACK)
    return Answer(200, body, XML, has_data=True)


def _area(endpoint: Endpoint, params: Mapping[str, str]) -> tuple[Area | None, str]:
    eics = []
    for name in endpoint.domain_params:
        value = params.get(name)
        if not value:
            return None, f"Mandatory parameter {name} is missing"
        eics.append(value)
    if len(set(eics)) > 1:  # prices: in_Domain and out_Domain are the same bidding zone
        joined = " and ".join(f"{n}={v}" for n, v in zip(endpoint.domain_params, eics, strict=True))
        return None, f"{joined} differ: please check you request against dependency tables"
    area = _BY_EIC.get(eics[0])
    if area is None:
        return (
            None,
            f"Input parameter {endpoint.domain_params[0]} has an invalid value {eics[0]!r}: unknown area",
        )
    return area, ""


def _period(text: str) -> datetime | None:
    if len(text) != 12 or not text.isdigit():
        return None
    try:
        return datetime.strptime(text, "%Y%m%d%H%M").replace(tzinfo=UTC)
    except ValueError:
        return None


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso_ms(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")
