"""entsoe_pipeline.entsoe.points: each Point's position and value are read together, whatever the
layout of the Period (pretty-printed, compact, comments, extra elements)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from entsoe_pipeline.entsoe import parse_document
from entsoe_pipeline.entsoe.points import PointError, point_reader
from entsoe_pipeline_tests.fixtures.documents import fixture_bytes

NS = "urn:iec62325.351:tc57wg16:451-6:generationloaddocument:3:0"


def period(points_xml: str, pretty: bool = True) -> etree._Element:
    sep = "\n\t\t" if pretty else ""
    head = (
        f"<timeInterval>{sep}<start>2024-01-01T00:00Z</start>{sep}<end>2024-01-02T00:00Z</end>{sep}"
        f"</timeInterval>{sep}<resolution>PT60M</resolution>"
    )
    return etree.fromstring(f'<Period xmlns="{NS}">{sep}{head}{sep}{points_xml}{sep}</Period>')


def pts(pairs: list[tuple[object, object]], pretty: bool = True, tag: str = "quantity") -> str:
    sep = "\n\t\t\t" if pretty else ""
    return "".join(
        f"<Point>{sep}<position>{p}</position>{sep}<{tag}>{v}</{tag}>{sep}</Point>" for p, v in pairs
    )


def read(element: etree._Element) -> tuple[list[int], list[float], bool]:
    positions, values, fast = point_reader(NS).read(element)
    return positions.tolist(), values.tolist(), fast


def test_pretty_printed_period_is_read_in_one_pass():
    assert read(period(pts([(1, 10.5), (2, -3), (3, "1e3")]))) == ([1, 2, 3], [10.5, -3.0, 1000.0], True)


def test_price_points_are_read_the_same_way():
    assert read(period(pts([(1, 75), (2, 66.98)], tag="price.amount"))) == ([1, 2], [75.0, 66.98], True)


def test_compact_xml_without_whitespace_is_read_point_by_point():
    # "<position>1</position><quantity>10</quantity>" serialises to "110": no text split reads it.
    assert read(period(pts([(1, 10), (2, 20)], pretty=False), pretty=False)) == ([1, 2], [10.0, 20.0], True)


def test_out_of_order_points_are_read_as_unordered():
    assert read(period(pts([(2, 20), (1, 10)]))) == ([2, 1], [20.0, 10.0], False)


def test_extra_element_in_a_point_is_ignored():
    extra = "<Point><position>1</position> <quantity>5</quantity> <note>7</note></Point>"
    assert read(period(extra + pts([(2, 6)]))) == ([1, 2], [5.0, 6.0], True)


def test_comments_between_points_are_ignored():
    commented = pts([(1, 10)]) + "\n<!-- a note -->\n" + pts([(2, 20)])
    assert read(period(commented))[:2] == ([1, 2], [10.0, 20.0])


def test_point_missing_its_value_is_refused_by_the_exact_read():
    missing = pts([(1, 10)]) + "<Point>\n<position>2</position>\n</Point>"
    with pytest.raises(PointError, match="needs exactly one value"):
        read(period(missing))


def test_fractional_position_is_refused():
    with pytest.raises(PointError, match=r"'1\.5' is not a Point position \(a whole number\)"):
        read(period(pts([(1.5, 10)])))


def test_non_numeric_value_is_refused_naming_it():
    with pytest.raises(PointError, match="'12,5' is not a Point value"):
        read(period(pts([(1, "12,5")])))


def test_empty_period_reads_no_points():
    assert read(period("")) == ([], [], True)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 24), st.floats(-1e6, 1e6, allow_nan=False).map(lambda x: round(x, 3))),
        max_size=30,
    ),
    st.booleans(),
)
def test_fast_and_exact_reads_agree(pairs, pretty):
    element = period(pts(pairs, pretty=pretty), pretty=pretty)
    positions, values, _ = point_reader(NS).read(element)
    exact_positions, exact_values = point_reader(NS)._read_exact(element, len(pairs))
    assert np.array_equal(positions, exact_positions)
    assert np.array_equal(values, exact_values)


@pytest.mark.parametrize(
    "name",
    [
        "gen_actual_A75-A16_LU_20240521_PT15M_em.xml",
        "price_A44-A07_ES_20250929_PT15M_IDA123_em.xml",
        "load_weekahead_A65-A31_CZ_2016_P1D_pj.xml",
    ],
)
def test_real_document_parses_the_same_pretty_printed_or_compacted(name):
    content = fixture_bytes(name)
    parser = etree.XMLParser(remove_blank_text=True)
    compact = etree.tostring(etree.fromstring(content, parser), xml_declaration=True, encoding="UTF-8")
    assert b"</position><quantity>" in compact or b"</position><price.amount>" in compact
    assert parse_document(compact).equals(parse_document(content))
