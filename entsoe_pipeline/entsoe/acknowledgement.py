"""Acknowledgement_MarketDocument: the API's answer when it has no data or rejects the request.

The Reason text decides the error type (the code is 999 for every API error seen):
* "No matching data found ..." (guide wording and the longer R3 wording) -> NoMatchingData;
* "... is larger than maximum allowed period 'P1M' ..." -> SpanTooLong with that ISO duration;
* "The number of instances (365) exceeds the allowed maximum (100) ..." and the older "amount of
  requested data exceeds allowed limit" / "... offset parameter exceeds the allowed limit" texts
  -> SpanTooLong without a hint: a shorter window fits;
* anything else -> InvalidRequest.
"""

from __future__ import annotations

import re

from lxml import etree

from .errors import ApiError, InvalidRequest, NoMatchingData, SpanTooLong

ROOT = "Acknowledgement_MarketDocument"

_NO_DATA = re.compile(r"\s*No matching data found", re.IGNORECASE)
_MAX_PERIOD = re.compile(r"larger than maximum allowed period '([^']+)'", re.IGNORECASE)
_TOO_MANY = re.compile(
    r"number of instances \(\d+\) exceeds the allowed maximum"
    r"|amount of requested data exceeds allowed limit"
    r"|offset parameter exceeds the allowed limit",
    re.IGNORECASE,
)


def acknowledgement_error(root: etree._Element, where: str) -> ApiError:
    """The typed error an Acknowledgement stands for (returned, so the caller decides to raise)."""
    code, text = _reason(root)
    said = f"ENTSO-E answered {code or 'without a code'}: {text or '(no reason text)'}"
    if _NO_DATA.match(text):
        return NoMatchingData(f"{where}: no data published: {said}", reason_code=code, reason_text=text)
    span = _MAX_PERIOD.search(text)
    if span:
        return SpanTooLong(
            f"{where}: window too long for one request (at most {span.group(1)}): {said}",
            reason_code=code,
            reason_text=text,
            max_span_hint=span.group(1),
        )
    if _TOO_MANY.search(text):
        return SpanTooLong(
            f"{where}: window holds too many documents for one request: {said}",
            reason_code=code,
            reason_text=text,
        )
    return InvalidRequest(f"{where}: request rejected: {said}", reason_code=code, reason_text=text)


def _reason(root: etree._Element) -> tuple[str, str]:
    """Code of the first Reason and the texts of all Reasons (joined), by local name."""
    code = ""
    texts: list[str] = []
    for reason in root.iterchildren("{*}Reason"):
        for child in reason.iterchildren("{*}code", "{*}text"):
            value = " ".join((child.text or "").split())
            if etree.QName(child).localname == "code":
                code = code or value
            elif value:
                texts.append(value)
    return code, " ".join(texts)
