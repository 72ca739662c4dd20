"""Reading the Points of one Period into numpy arrays (positions, values) without a Python loop.

XPath, run in libxml2, collects the first text of each Point's first position and of its first
value (quantity or price.amount). A path step with ``[1]`` yields at most one text per Point, so
the two lists pair up Point by Point, whatever else a Point holds and in whatever order; a Point
lacking either makes its list shorter than the Point count, and the first such Point is named.
Reading the Period's text as whitespace-separated tokens would be faster but pairs by order alone:
a value written before its position, or stray text beside a number ("7<quantity>6000" reads as
76000), would pass as another Point's number.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from lxml import etree


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
        whether the positions increase strictly."""
        positions, values = self._read_exact(period, int(self.count(period)))
        ordered = positions.size < 2 or bool((positions[1:] > positions[:-1]).all())
        return positions, values, ordered

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
        positions=xpath("n:Point/n:position[1]/text()[1]"),
        quantities=xpath("n:Point/n:quantity[1]/text()[1]"),
        prices=xpath("n:Point/n:price.amount[1]/text()[1]"),
    )


def _positions(texts: list[str]) -> np.ndarray:
    try:
        return np.array(texts, dtype=np.int64)  # what ENTSO-E writes: plain integers
    except (ValueError, OverflowError):
        pass
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
