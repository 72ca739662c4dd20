"""parse_document on mutated documents (hypothesis): byte flips, truncation, elements deleted,
duplicated, swapped or moved, stray text, hostile values in the texts the parser reads.

Whatever the body, parse_document returns points or raises an EntsoeError, in bounded time, and
never a point the document does not hold: each time lies within a declared Period, each value is
finite and written as a quantity or price.amount, and each (position, value) a Period's Points are
read as is one Point's own.

Seeds are documents of the project's simulator (always available), compact and pretty-printed, and
real answers from ../shared/fixtures/entsoe when present. ENTSOE_FUZZ_EXAMPLES sets the number of
examples (default 800, a few seconds); raise it for a longer soak.
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from entsoe_pipeline.entsoe import EntsoeError, MalformedDocument, parse_document
from entsoe_pipeline.entsoe.durations import DurationError, parse_utc
from entsoe_pipeline.entsoe.placement import period_tags
from entsoe_pipeline.entsoe.points import PointError
from entsoe_pipeline.entsoe.xml_safety import parse_xml
from entsoe_pipeline.simulator import documents as simulated
from entsoe_pipeline.simulator.periods import to_minutes
from entsoe_pipeline_tests.fixtures.documents import FIXTURE_DIR, fixture_bytes
from entsoe_pipeline_tests.unit.test_parser import SOURCE, gl, iso, period, series

EXAMPLES = int(os.environ.get("ENTSOE_FUZZ_EXAMPLES", "800"))
CZ = "10YCZ-CEPS-----N"
BE = "10YBE----------2"
CREATED = datetime(2024, 1, 20, 12, tzinfo=UTC)
WINTER_DAY = datetime(2024, 1, 14, 23, tzinfo=UTC)  # a CET local day: 2024-01-15


# --- seeds ------------------------------------------------------------------------------------------


def _period(start: datetime, steps: int, resolution: str, values: list[float]) -> simulated.Period:
    minutes = {"PT15M": 15, "PT60M": 60}.get(resolution, 24 * 60)
    begin = to_minutes(start)
    return simulated.Period(begin, begin + steps * minutes, resolution, np.array(values, dtype=np.float64))


def _simulated_documents() -> list[bytes]:
    hourly = [1000.0 + 7.5 * i for i in range(24)]
    blocks = [50.0] * 6 + [80.25] * 10 + [-3.0] * 8  # A03 keeps 3 of them
    generation = simulated.market_document(
        root="GL_MarketDocument",
        document_type="A75",
        process_type="A16",
        series=[
            simulated.gl_series(
                business_type="A01",
                domain="inBiddingZone_Domain",
                eic=CZ,
                psr_type="B16",
                periods=(_period(WINTER_DAY, 24, "PT60M", hourly),),
            ),
            simulated.gl_series(
                business_type="A01",
                domain="inBiddingZone_Domain",
                eic=CZ,
                psr_type="B19",
                curve_type="A03",
                periods=(_period(WINTER_DAY + timedelta(days=1), 24, "PT60M", blocks),),
            ),
        ],
        created=CREATED,
        mrid="fuzz-generation",
    )
    week = simulated.market_document(
        root="GL_MarketDocument",
        document_type="A65",
        process_type="A31",
        series=[
            simulated.gl_series(
                business_type="A60",
                domain="outBiddingZone_Domain",
                eic=CZ,
                periods=(_period(WINTER_DAY, 7, "P1D", [6000.0 + i for i in range(7)]),),
            )
        ],
        created=CREATED,
        mrid="fuzz-week",
    )
    prices = simulated.market_document(
        root="Publication_MarketDocument",
        document_type="A44",
        process_type=None,
        series=[
            simulated.price_series(
                eic=BE,
                sequence=1,
                periods=(
                    _period(WINTER_DAY, 96, "PT15M", [round(60 + (i // 8) * 1.37, 2) for i in range(96)]),
                ),
            )
        ],
        created=CREATED,
        mrid="fuzz-prices",
    )
    return [generation, week, prices]


def _pretty(body: bytes) -> bytes:
    """The same document indented as ENTSO-E writes it (whitespace between elements)."""
    root = etree.fromstring(body)
    etree.indent(root, space="\t")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


# Small real answers of distinct shapes: A03 generation, A01 prices (namespace 7:0), P7D year-ahead.
REAL = [
    "gen_actual_A75-A16_SE4_20251020_PT60M_A03_em.xml",
    "price_A44_FR_20230507_PT60M_A01_ns70_em.xml",
    "load_yearahead_A65-A33_CZ_2015-2016_P7D_pj.xml",
]
SIMULATED = _simulated_documents()
SEEDS = SIMULATED + [_pretty(body) for body in SIMULATED]
if FIXTURE_DIR.is_dir():
    SEEDS += [fixture_bytes(name) for name in REAL]


# --- mutations ----------------------------------------------------------------------------------------

HOSTILE = [
    "NaN",
    "-nan",
    "inf",
    "-Infinity",
    "1e400",
    "-1e400",
    "1e-400",
    "1_000",
    "\uff11\uff12",  # fullwidth 12
    "0x10",
    "",
    " ",
    "1 2",
    "-1",
    "0",
    "1.5",
    "1e3",
    "9" * 30,
    "x" * 300,
    "PT0M",
    "P0D",
    "PT1S",
    "PT1M",
    "-PT15M",
    "P99999Y",
    "P200Y",
    "P999999999D",
    "PT99999999999999999999M",
    "P" + "9" * 5000 + "D",
    "P1Y1M",
    "P1DT1H",
    "9999-12-31T23:59Z",
    "0001-01-01T00:00Z",
    "0001-01-01T00:00+14:00",
    "9999-12-31T23:59-14:00",
    "2262-04-11T00:00Z",
    "1900-01-01T00:00Z",
    "2024-02-30T00:00Z",
    "2024-01-15T00:00+14:00",
    "2024-01-15",
    "\u202e",
    "]]>",
    "A01",
    "A03",
    "A02",
    "99999999999999999999",
    "-5",
    "9" * 5000,
]
# Texts the parser reads as numbers, durations, times, codes or keys.
TARGETS = frozenset(
    {
        "quantity",
        "price.amount",
        "position",
        "resolution",
        "start",
        "end",
        "revisionNumber",
        "createdDateTime",
        "curveType",
        "businessType",
        "psrType",
        "mRID",
        "type",
        "inBiddingZone_Domain.mRID",
        "outBiddingZone_Domain.mRID",
        "in_Domain.mRID",
        "out_Domain.mRID",
        "classificationSequence_AttributeInstanceComponent.position",
    }
)
_PLAIN = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)

Draw = st.DrawFn
hostile_texts = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=12))


def _elements(root: etree._Element) -> list[etree._Element]:
    return [e for e in root.iter() if isinstance(e.tag, str) and e is not root]


def _name(element: etree._Element) -> str:
    return etree.QName(element).localname


def flip_bytes(draw: Draw, body: bytes) -> bytes:
    if not body:
        return body
    data = bytearray(body)
    for _ in range(draw(st.integers(1, 4))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


def truncate(draw: Draw, body: bytes) -> bytes:
    return body[: draw(st.integers(0, max(len(body) - 1, 0)))]


def _on_tree(change: Callable[[Draw, etree._Element], None]) -> Callable[[Draw, bytes], bytes]:
    """A mutation of the element tree; bodies that no longer parse are left as they are."""

    def mutate(draw: Draw, body: bytes) -> bytes:
        try:
            root = etree.fromstring(body, _PLAIN)
        except (etree.XMLSyntaxError, ValueError):
            return body
        try:
            change(draw, root)
        except ValueError:  # a text lxml will not store (control characters)
            return body
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    return mutate


def _pick(draw: Draw, root: etree._Element, names: frozenset[str] | None = None) -> etree._Element | None:
    """An element, its name drawn first so that a header field is as likely as one of 96 Points."""
    by_name: dict[str, list[etree._Element]] = {}
    for element in _elements(root):
        if names is None or _name(element) in names:
            by_name.setdefault(_name(element), []).append(element)
    if not by_name:
        return None
    return draw(st.sampled_from(by_name[draw(st.sampled_from(sorted(by_name)))]))


@_on_tree
def delete_element(draw: Draw, root: etree._Element) -> None:
    element = _pick(draw, root)
    if element is not None:
        element.getparent().remove(element)


@_on_tree
def duplicate_element(draw: Draw, root: etree._Element) -> None:
    element = _pick(draw, root)
    if element is not None:
        element.addnext(copy.deepcopy(element))


@_on_tree
def swap_with_next(draw: Draw, root: etree._Element) -> None:
    element = _pick(draw, root)
    following = None if element is None else element.getnext()
    if following is not None:
        following.addnext(element)  # moves it (with its tail) after its next sibling


@_on_tree
def move_element(draw: Draw, root: etree._Element) -> None:
    element, target = _pick(draw, root), _pick(draw, root)
    if element is None or target is None or target is element or element in target.iterancestors():
        return
    target.insert(draw(st.integers(0, len(target))), element)


@_on_tree
def replace_text(draw: Draw, root: etree._Element) -> None:
    element = _pick(draw, root, TARGETS)
    if element is not None:
        element.text = draw(hostile_texts)


@_on_tree
def stray_text(draw: Draw, root: etree._Element) -> None:
    element = _pick(draw, root)
    if element is not None:
        text = draw(st.sampled_from(["7", " 3 ", "12.5", "NaN"]))
        if draw(st.booleans()):
            element.tail = (element.tail or "") + text
        else:
            element.text = text + (element.text or "")


MUTATIONS = [
    flip_bytes,
    truncate,
    delete_element,
    duplicate_element,
    swap_with_next,
    move_element,
    replace_text,
    stray_text,
]


@st.composite
def mutated_documents(draw: Draw) -> bytes:
    body = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 3))):
        body = draw(st.sampled_from(MUTATIONS))(draw, body)
    return body


# --- what the input holds ----------------------------------------------------------------------------


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _written_values(root: etree._Element) -> set[float]:
    """Every number written as a quantity or price.amount, read from each text node and from the
    element's whole text."""
    found: set[float] = set()
    for element in root.iter("{*}quantity", "{*}price.amount", "quantity", "price.amount"):
        for text in [*element.xpath("text()"), "".join(element.itertext())]:
            number = _number(text)
            if number is not None:
                found.add(number)
    return found


def _declared_periods(root: etree._Element) -> list[tuple[datetime, datetime]]:
    """(start, end) of every Period, from any start and end text of its timeIntervals."""
    intervals = []
    for declared in root.iter("{*}Period", "Period"):
        times: dict[str, list[datetime]] = {"start": [], "end": []}
        for interval in declared.iterchildren("{*}timeInterval", "timeInterval"):
            for child in interval.iterchildren("{*}start", "{*}end", "start", "end"):
                with contextlib.suppress(DurationError):
                    times[_name(child)].append(parse_utc(child.text or ""))
        intervals += [(s, e) for s in times["start"] for e in times["end"]]
    return intervals


def _own_points(period: etree._Element) -> set[tuple[float, float]]:
    """(position, value) of each Point of ``period`` from its own children."""
    pairs: set[tuple[float, float]] = set()
    for point in period:
        if not isinstance(point.tag, str) or _name(point) != "Point":
            continue
        children = [c for c in point if isinstance(c.tag, str)]
        positions = [_number(c.text or "") for c in children if _name(c) == "position"]
        values = [_number(c.text or "") for c in children if _name(c) in ("quantity", "price.amount")]
        pairs.update((p, v) for p in positions for v in values if p is not None and v is not None)
    return pairs


# --- the properties ---------------------------------------------------------------------------------


def check_points_are_the_documents(body: bytes, frame: pd.DataFrame) -> None:
    root = parse_xml(body, SOURCE)
    values = frame["value"].to_numpy()
    assert np.isfinite(values).all(), "a non-finite value became a point"
    written = _written_values(root)
    invented = sorted({float(v) for v in values} - written)
    assert not invented, f"values not written in the document: {invented[:5]}"
    periods = _declared_periods(root)
    for time in {t.to_pydatetime() for t in frame["time"]}:
        assert any(start <= time <= end for start, end in periods), f"{time} lies in no declared Period"
    assert frame.attrs["points_dropped"] == sum(p.dropped for p in frame.attrs["problems"])


def check_periods_pair_points(body: bytes) -> None:
    root = parse_xml(body, SOURCE)
    for element in root.iter("{*}Period", "Period"):
        reader = period_tags(etree.QName(element).namespace or "").points
        try:
            positions, values, _ = reader.read(element)
        except PointError:
            continue
        pairs = _own_points(element)
        for position, value in zip(positions.tolist(), values.tolist(), strict=True):
            if math.isnan(value):
                assert any(p == position and math.isnan(v) for p, v in pairs)
            else:
                assert (float(position), value) in pairs, f"Point ({position}, {value}) is no Point's own"


@settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=2),  # a seed parses in milliseconds: seconds means a blow-up
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutated_documents())
def test_mutated_documents_give_their_own_points_or_an_entsoe_error(body):
    check_outcome(body)


def check_outcome(body: bytes) -> None:
    try:
        frame = parse_document(body, source=SOURCE)
    except EntsoeError as exc:
        assert SOURCE in str(exc)
        assert len(str(exc)) < 2000, "a refusal quotes too much of the body"
        return
    check_points_are_the_documents(body, frame)
    check_periods_pair_points(body)


def test_every_hostile_text_in_every_field_gives_points_or_an_entsoe_error():
    # The sweep the random search reaches only by luck: each field of each simulated document.
    for seed in SIMULATED:
        names = sorted({_name(e) for e in _elements(etree.fromstring(seed))} & TARGETS)
        for name in names:
            for text in HOSTILE:
                root = etree.fromstring(seed)
                next(e for e in _elements(root) if _name(e) == name).text = text
                body = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
                try:
                    check_outcome(body)
                except AssertionError as exc:
                    raise AssertionError(f"{name} = {text[:40]!r}: {exc}") from exc


def test_every_seed_parses_to_points():
    for body in SEEDS:
        frame = parse_document(body, source=SOURCE)
        assert len(frame) > 0
        check_points_are_the_documents(body, frame)
        check_periods_pair_points(body)


# --- values that are not finite numbers -----------------------------------------------------------------

NON_FINITE = ["NaN", "nan", "inf", "-inf", "Infinity", "-Infinity", "1e400", "-1e400"]


@pytest.mark.parametrize("text", NON_FINITE)
@pytest.mark.parametrize("pretty", [False, True], ids=["compact", "pretty"])
def test_non_finite_quantity_in_a_simulated_document_is_dropped_and_reported(text, pretty):
    body = SIMULATED[0]
    body = _pretty(body) if pretty else body
    reference = parse_document(body, source=SOURCE)
    hostile = body.replace(b"<quantity>1022.5</quantity>", f"<quantity>{text}</quantity>".encode(), 1)
    assert hostile != body
    frame = parse_document(hostile, source=SOURCE)
    assert np.isfinite(frame.value.to_numpy()).all()
    assert len(frame) == len(reference) - 1
    (problem,) = frame.attrs["problems"]
    assert "at position 4 is not a finite number: Point dropped" in problem.what
    assert problem.dropped == frame.attrs["points_dropped"] == 1


@pytest.mark.parametrize("text", NON_FINITE)
def test_non_finite_quantity_in_a_real_document_is_dropped_and_reported(text):
    body = fixture_bytes("load_actual_A65-A16_DK1_20231228_PT60M_em.xml")
    reference = parse_document(body, source=SOURCE)
    first = body.index(b"<quantity>")
    end = body.index(b"</quantity>", first)
    hostile = body[:first] + f"<quantity>{text}".encode() + body[end:]
    frame = parse_document(hostile, source=SOURCE)
    assert np.isfinite(frame.value.to_numpy()).all()
    assert frame.time.tolist() == reference.time.tolist()[1:]
    (problem,) = frame.attrs["problems"]
    assert "at position 1 is not a finite number: Point dropped" in problem.what
    assert problem.dropped == 1


# --- what the fuzzing found --------------------------------------------------------------------------


def _day(points_xml: str, resolution: str = "PT60M", revision: str = "3") -> bytes:
    """Four hours of CZ load, the Period laid out as ENTSO-E writes it (a line per element)."""
    period_xml = (
        "<Period>\n<timeInterval>\n<start>2024-01-01T00:00Z</start>\n<end>2024-01-01T04:00Z</end>\n"
        f"</timeInterval>\n<resolution>{resolution}</resolution>\n{points_xml}</Period>"
    )
    body = gl(series(period_xml))
    return body.replace(b"<revisionNumber>3<", f"<revisionNumber>{revision}<".encode())


def test_stray_text_beside_a_value_is_not_read_into_it():
    # The Period's text "... 1\n7<quantity>6000 ..." once read as position 1, value 76000.
    frame = parse_document(
        _day("<Point>\n<position>1</position>\n7<quantity>6000</quantity>\n</Point>\n"), source=SOURCE
    )
    assert frame.value.tolist() == [6000.0]


def test_value_written_before_its_position_stays_with_it():
    # Read in text order, "<quantity>7</quantity><position>3</position>" was position 7, value 3.
    frame = parse_document(_day("<Point>\n<quantity>7</quantity>\n<position>3</position>\n</Point>\n"))
    assert iso(frame.time) == ["2024-01-01T02:00Z"] and frame.value.tolist() == [7.0]


def test_a_point_without_value_does_not_borrow_the_next_points_second_value():
    points = (
        "<Point><position>1</position></Point>"
        "<Point><position>2</position><quantity>10</quantity><quantity>20</quantity></Point>"
    )
    frame = parse_document(_day(points), source=SOURCE)
    assert frame.empty
    assert "needs exactly one value" in frame.attrs["problems"][0].what


@pytest.mark.parametrize("revision", ["99999999999999999999", "1_0", "-5", "9" * 5000])
def test_revision_that_is_no_plain_int64_is_refused_naming_it_briefly(revision):
    with pytest.raises(
        MalformedDocument, match=r"revisionNumber .* is not an integer of at most 18 digits"
    ) as caught:
        parse_document(_day("<Point><position>1</position><quantity>1</quantity></Point>", revision=revision))
    assert len(str(caught.value)) < 200


@pytest.mark.parametrize(
    ("resolution", "reason"),
    [
        ("P99999Y", "is longer than 100 years"),
        ("P999999999D", "is longer than 100 years"),
        ("PT99999999999999999999M", "is not an ISO 8601 duration"),
        ("P" + "9" * 5000 + "D", "is not an ISO 8601 duration"),
    ],
)
def test_resolution_beyond_the_calendar_drops_its_period(resolution, reason):
    frame = parse_document(_day("<Point><position>1</position><quantity>1</quantity></Point>", resolution))
    (problem,) = frame.attrs["problems"]
    assert frame.empty and reason in problem.what and len(problem.what) < 200


def test_calendar_step_past_2262_drops_its_period():
    body = gl(series(period("2261-06-01T00:00Z", "2262-03-01T00:00Z", "P1Y", {1: 1})))
    (problem,) = parse_document(body).attrs["problems"]
    assert "at P1Y steps past 2262" in problem.what


def test_time_whose_offset_leaves_year_1_drops_its_period():
    body = gl(series(period("0001-01-01T00:00+14:00", "2024-01-01T01:00Z", "PT60M", {1: 1})))
    (problem,) = parse_document(body).attrs["problems"]
    assert "lies outside the years 1-9999 in UTC" in problem.what
