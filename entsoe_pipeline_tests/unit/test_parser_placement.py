"""entsoe_pipeline.entsoe.placement through parse_document: a Period that contradicts itself costs
its own points, never the document's, and every contradiction is reported with what it cost."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from entsoe_pipeline.entsoe import DocumentProblem, parse_document
from entsoe_pipeline_tests.unit.test_parser import CZ, SOURCE, gl, iso, period, series, zipped

DAY = ("2024-01-01T00:00Z", "2024-01-02T00:00Z")


def problems(frame: pd.DataFrame) -> list[tuple[str, int]]:
    found: tuple[DocumentProblem, ...] = frame.attrs["problems"]
    assert frame.attrs["points_dropped"] == sum(p.dropped for p in found)
    return [(p.what, p.dropped) for p in found]


# --- one bad Period among good ones ------------------------------------------------------------------


def test_a_bad_period_among_good_ones_costs_only_its_own_points():
    good_1 = period("2024-01-01T00:00Z", "2024-01-01T02:00Z", "PT60M", {1: 1, 2: 2})
    bad = period("2024-01-01T02:00Z", "2024-01-01T04:00Z", "PT60M", {1: 3, 2: "n/a"})  # type: ignore[dict-item]
    good_2 = period("2024-01-01T04:00Z", "2024-01-01T06:00Z", "PT60M", {1: 5, 2: 6})
    other = series(period("2024-01-01T00:00Z", "2024-01-01T01:00Z", "PT60M", {1: 9}), business_type="A60")
    frame = parse_document(gl(series(good_1, bad, good_2), other, process_type="A31"), source=SOURCE)
    a04 = frame[frame.business_type == "A04"]
    assert a04.value.tolist() == [1, 2, 5, 6]
    assert frame[frame.business_type == "A60"].value.tolist() == [9]
    (problem,) = frame.attrs["problems"]
    assert problem == DocumentProblem(
        where=f"{SOURCE}: TimeSeries 1 (line 6) Period (line 6)",
        what="'n/a' is not a Point value: Period dropped with its 2 Points",
        series=("A04", "", "", CZ),
        dropped=2,
        period=(datetime(2024, 1, 1, 2, tzinfo=UTC), datetime(2024, 1, 1, 4, tzinfo=UTC)),
    )
    assert str(problem) == f"{problem.where}: {problem.what}"


@pytest.mark.parametrize(
    ("interval", "resolution", "reason"),
    [
        (("2024-01-01T00:00Z", ""), "PT60M", "timeInterval start/end or resolution missing"),
        (DAY, "", "timeInterval start/end or resolution missing"),
        (DAY, "PT15X", "resolution 'PT15X' is not an ISO 8601 duration"),
        (("2024-01-01T00:00Z", "soon"), "PT60M", "time 'soon' is not an ISO 8601 date-time"),
        (("2024-01-02T00:00Z", "2024-01-01T00:00Z"), "PT60M", "is not after its start"),
        (("1900-01-01T00:00Z", "2100-01-01T00:00Z"), "PT1M", "more than the 1048576 allowed"),
    ],
)
def test_a_period_that_cannot_be_placed_is_dropped_whole(interval, resolution, reason):
    bad = period(*interval, resolution, {1: 1, 2: 2, 3: 3})
    good = period("2024-01-03T00:00Z", "2024-01-03T01:00Z", "PT60M", {1: 7})
    frame = parse_document(gl(series(bad, good)))
    assert frame.value.tolist() == [7]
    ((what, dropped),) = problems(frame)
    assert reason in what and what.endswith("Period dropped with its 3 Points")
    assert dropped == 3


def test_a_fractional_position_drops_its_period():
    body = gl(series(period(*DAY, "PT60M", {1: 1, 2: 2}))).replace(b"<position>2<", b"<position>2.5<")
    frame = parse_document(body)
    assert frame.empty
    assert problems(frame) == [
        ("'2.5' is not a Point position (a whole number): Period dropped with its 2 Points", 2)
    ]


# --- Points beyond what the Period declares ----------------------------------------------------------


def test_sub_daily_period_with_25_points_in_24_hours_keeps_24_and_reports_1():
    frame = parse_document(gl(series(period(*DAY, "PT60M", {p: p for p in range(1, 26)}))))
    assert len(frame) == 24
    assert iso(frame.time.iloc[[-1]]) == ["2024-01-01T23:00Z"]
    assert problems(frame) == [
        (
            "Period declares 24 PT60M steps but has Points up to position 25: "
            "1 Point beyond position 24 dropped",
            1,
        )
    ]


def test_points_below_and_beyond_the_period_are_counted_apart():
    body = gl(series(period("2024-01-01T00:00Z", "2024-01-01T02:00Z", "PT60M", {0: 0, 1: 1, 3: 3, 4: 4})))
    frame = parse_document(body)
    assert frame.value.tolist() == [1]
    assert problems(frame) == [
        (
            "Period declares 2 PT60M steps but has Points from position 0 to 4: "
            "1 Point below position 1 and 2 Points beyond position 2 dropped",
            3,
        )
    ]


def test_calendar_period_places_one_step_past_its_declared_end_and_drops_the_rest():
    # Three Prague days declared, Points for five: day 4 is placed (as entsoe-py does), day 5 is not.
    body = gl(series(period("2024-01-01T23:00Z", "2024-01-04T23:00Z", "P1D", {p: p for p in range(1, 6)})))
    frame = parse_document(body)
    assert iso(frame.time) == [
        "2024-01-01T23:00Z",
        "2024-01-02T23:00Z",
        "2024-01-03T23:00Z",
        "2024-01-04T23:00Z",
    ]
    assert problems(frame) == [
        (
            "Period declares 3 P1D steps but has Points up to position 5: position 4 placed one step past "
            "the declared end, 1 Point beyond position 4 dropped",
            1,
        )
    ]


def test_a03_never_fills_past_the_declared_end_by_itself():
    body = gl(series(period("2024-01-01T23:00Z", "2024-01-04T23:00Z", "P1D", {1: 7}), curve="A03"))
    frame = parse_document(body)
    assert frame.value.tolist() == [7, 7, 7]
    assert frame.attrs["problems"] == ()


def test_a03_fills_up_to_a_point_one_step_past_the_declared_end():
    body = gl(series(period("2024-01-01T23:00Z", "2024-01-04T23:00Z", "P1D", {1: 7, 4: 9}), curve="A03"))
    frame = parse_document(body)
    assert frame.value.tolist() == [7, 7, 7, 9]
    assert [dropped for _, dropped in problems(frame)] == [0]


def test_calendar_period_that_is_not_whole_local_steps_keeps_the_steps_starting_before_its_end():
    # 2024-01-01T23:00Z..2024-01-03T11:00Z: one Prague day and a half; day 2 starts before the end.
    body = gl(series(period("2024-01-01T23:00Z", "2024-01-03T11:00Z", "P1D", {1: 1, 2: 2, 3: 3})))
    frame = parse_document(body)
    assert iso(frame.time) == ["2024-01-01T23:00Z", "2024-01-02T23:00Z"]
    assert problems(frame) == [
        (
            "Period 2024-01-01T23:00Z/2024-01-03T11:00Z is not a whole number of P1D steps in local time "
            "Europe/Prague (2 start before its end): 1 Point beyond position 2 dropped",
            1,
        )
    ]


def test_a03_fill_of_a_period_that_is_not_whole_steps_stops_at_its_last_placed_step():
    body = gl(series(period("2024-01-01T00:00Z", "2024-01-01T02:30Z", "PT60M", {1: 4}), curve="A03"))
    frame = parse_document(body)
    assert iso(frame.time) == ["2024-01-01T00:00Z", "2024-01-01T01:00Z", "2024-01-01T02:00Z"]
    assert [dropped for _, dropped in problems(frame)] == [0]


# --- values that are not numbers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"), [("NaN", "NaN"), ("INF", "INF"), ("-INF", "-INF"), ("nan", "NaN")]
)
def test_a_value_that_is_not_finite_is_dropped_with_its_point_and_reported(text, shown):
    body = gl(series(period("2024-01-01T00:00Z", "2024-01-01T03:00Z", "PT60M", {1: 1, 2: text, 3: 3})))  # type: ignore[dict-item]
    frame = parse_document(body, source=SOURCE)
    assert iso(frame.time) == ["2024-01-01T00:00Z", "2024-01-01T02:00Z"]
    assert frame.value.tolist() == [1, 3]
    assert problems(frame) == [(f"value {shown} at position 2 is not a finite number: Point dropped", 1)]


def test_nan_in_a03_leaves_its_block_empty_instead_of_repeating_the_previous_value():
    values = {1: 1, 3: "NaN", 5: 5}
    body = gl(series(period("2024-01-01T00:00Z", "2024-01-01T06:00Z", "PT60M", values), curve="A03"))  # type: ignore[arg-type]
    frame = parse_document(body)
    assert iso(frame.time) == [
        "2024-01-01T00:00Z",
        "2024-01-01T01:00Z",
        "2024-01-01T04:00Z",
        "2024-01-01T05:00Z",
    ]
    assert frame.value.tolist() == [1, 1, 5, 5]
    assert problems(frame) == [
        (
            "value NaN at position 3 is not a finite number: Point dropped, "
            "and the positions it would fill left empty",
            1,
        )
    ]


def test_several_values_that_are_not_finite_are_one_problem_naming_the_first():
    values = {1: "INF", 2: 2, 3: "NaN"}
    frame = parse_document(gl(series(period("2024-01-01T00:00Z", "2024-01-01T03:00Z", "PT60M", values))))  # type: ignore[arg-type]
    assert frame.value.tolist() == [2]
    assert problems(frame) == [
        ("2 values are not finite numbers, the first INF at position 1: Points dropped", 2)
    ]


# --- reporting -------------------------------------------------------------------------------------------


def test_problems_of_zip_members_are_gathered_naming_each_member():
    day = gl(series(period(*DAY, "PT60M", {p: p for p in range(1, 26)})))
    frame = parse_document(zipped(("001.xml", day), ("002.xml", day)), source=SOURCE)
    assert [p.where.split(": ")[0] for p in frame.attrs["problems"]] == [
        f"{SOURCE} (ZIP member 001.xml)",
        f"{SOURCE} (ZIP member 002.xml)",
    ]
    assert frame.attrs["points_dropped"] == 2
    assert len(frame) == 24 and frame.attrs["duplicates"] == 24


def test_a_document_without_contradictions_reports_nothing():
    frame = parse_document(gl(series(period(*DAY, "PT60M", {p: p for p in range(1, 25)}))))
    assert frame.attrs["problems"] == () and frame.attrs["points_dropped"] == 0
