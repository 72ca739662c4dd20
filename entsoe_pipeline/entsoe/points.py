"""Reading the Points of one Period into numpy arrays (positions, values) without a Python loop.

Two ways, same result:
* fast: libxml2 serialises the Period's text (``tostring(method="text")``), which for the layout
  every ENTSO-E answer has - timeInterval start/end, resolution, then Points of position and value
  separated by whitespace - is "start end resolution p1 v1 p2 v2 ...". One split and one numpy
  conversion read it. It is used only when the token count matches the Point count and the
  positions come out as strictly increasing integers; anything else (compact XML without
  whitespace, comments, extra elements, unordered positions) takes the exact way.
* exact: XPath collects position and value texts per Point, checks each Point has one of each and
  reports the first bad one.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from lxml import etree

# start, end (timeInterval) and resolution precede the Points in a Period.
_HEADER_TOKENS = 3


class PointError(ValueError):
    """Points that cannot be read; the message names the Point or text at fault."""


@dataclass(frozen=True)
class PointReader:
    """Compiled XPath for one namespace (documents are read by local name, any version)."""

    count: etree.XPath
    positions: etree.XPath
    quantities: etree.XPath
    prices: etree.XPath

    def read(self, period: etree._Element) -> tuple[np.ndarray, np.ndarray, bool]:
        """Positions (int64) and values (float64) of the Period's Points in document order, and
        whether the positions are known to increase strictly."""
        count = int(self.count(period))
        fast = _read_text(period, count)
        if fast is not None:
            return fast[0], fast[1], True
        positions, values = self._read_exact(period, count)
        return positions, values, False

    def _read_exact(self, period: etree._Element, count: int) -> tuple[np.ndarray, np.ndarray]:
        position_texts = self.positions(period)
        value_texts = self.quantities(period)
        if len(value_texts) != count:
            value_texts = self.prices(period)
        if not (len(position_texts) == len(value_texts) == count):
            _raise_for_bad_point(period)
        return _positions(position_texts), _values(value_texts)


@lru_cache(maxsize=32)
def point_reader(namespace: str) -> PointReader:
    # XPath with a namespace prefix runs in libxml2 and returns plain strings (smart_strings=False).
    prefix = "n:" if namespace else ""
    spaces = {"n": namespace} if namespace else None

    def xpath(expression: str) -> etree.XPath:
        return etree.XPath(expression.replace("n:", prefix), namespaces=spaces, smart_strings=False)

    return PointReader(
        count=xpath("count(n:Point)"),
        positions=xpath("n:Point/n:position/text()"),
        quantities=xpath("n:Point/n:quantity/text()"),
        prices=xpath("n:Point/n:price.amount/text()"),
    )


def _read_text(period: etree._Element, count: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The fast way, or None when the Period's text does not have the expected shape."""
    try:
        tokens = etree.tostring(period, method="text", with_tail=False).split()
    except (ValueError, etree.LxmlError):  # e.g. text that the ASCII text output cannot hold
        return None
    if len(tokens) != _HEADER_TOKENS + 2 * count:
        return None
    try:
        positions = np.array(tokens[_HEADER_TOKENS::2], dtype=np.int64)
        values = np.array(tokens[_HEADER_TOKENS + 1 :: 2], dtype=np.float64)
    except (ValueError, OverflowError):
        return None  # the exact way names the text at fault
    if count and (positions[0] < 1 or not (positions[1:] > positions[:-1]).all()):
        return None
    return positions, values


def _positions(texts: list[str]) -> np.ndarray:
    try:
        numbers = np.array(texts, dtype=np.float64)
    except ValueError:
        raise PointError(f"{_short(_first_bad(texts))} is not a Point position") from None
    with np.errstate(invalid="ignore"):
        positions = numbers.astype(np.int64)
    if not np.array_equal(positions, numbers):
        bad = texts[int(np.flatnonzero(positions != numbers)[0])]
        raise PointError(f"{_short(bad)} is not a Point position (a whole number)")
    return positions


def _values(texts: list[str]) -> np.ndarray:
    try:
        return np.array(texts, dtype=np.float64)
    except ValueError:
        raise PointError(f"{_short(_first_bad(texts))} is not a Point value") from None


def _raise_for_bad_point(period: etree._Element) -> None:
    for point in period.iterchildren("{*}Point"):
        names = [etree.QName(c).localname for c in point if isinstance(c.tag, str) and (c.text or "").strip()]
        if names.count("position") != 1:
            raise PointError(f"Point at line {point.sourceline} needs exactly one position")
        if names.count("quantity") + names.count("price.amount") != 1:
            raise PointError(
                f"Point at line {point.sourceline} needs exactly one value (quantity or price.amount)"
            )
    raise PointError("Points unreadable: each needs one position and one value, as plain text")


def _first_bad(texts: list[str]) -> str:
    for text in texts:
        try:
            float(text)
        except ValueError:
            return text
    return "?"


def _short(text: str) -> str:
    """The text quoted for a message, cut so that a forged megabyte value cannot flood a log."""
    return repr(text if len(text) <= 40 else text[:40] + "...")
