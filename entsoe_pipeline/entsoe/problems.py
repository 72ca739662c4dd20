"""What the parser could not keep of a document, and why: one DocumentProblem per contradiction.

A Period whose timeInterval and Points disagree, or whose Points cannot be read, costs its own
points, not the whole document's (the year-ahead answer load_yearahead_A65-A33_CZ_2015-2016_P7D_pj.xml
declares 51 weeks and carries 52). ``parse_document`` lists the problems in
``DataFrame.attrs["problems"]``; ``EntsoeClient.fetch`` gathers them over its requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

#: (business_type, psr_type, variant, area) of a series, as in the parser's columns.
SeriesLabel = tuple[str, str, str, str]


@dataclass(frozen=True)
class DocumentProblem:
    """One contradiction in a document and the points it cost."""

    #: The request (without token), TimeSeries mRID and line, Period line.
    where: str
    #: One sentence: what the document says, what the parser did about it.
    what: str
    #: (business_type, psr_type, variant, area) of the series, None when not known.
    series: SeriesLabel | None = None
    #: <Point> elements whose value is not in the output (0 when every point was kept).
    dropped: int = 0
    #: The Period's declared timeInterval (UTC), when it could be read: which data it concerns.
    period: tuple[datetime, datetime] | None = None

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


def points_dropped(problems: tuple[DocumentProblem, ...] | list[DocumentProblem]) -> int:
    """The points the problems cost, together."""
    return sum(p.dropped for p in problems)


def count_points(n: int) -> str:
    """'1 Point', '3 Points': for the sentences of DocumentProblem.what."""
    return f"{n} Point" if n == 1 else f"{n} Points"
