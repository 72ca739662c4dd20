"""entsoe_pipeline/entsoe/chunking.py: the fewest API-sized chunks, and shrinking on "too long"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from entsoe_pipeline.entsoe.chunking import (
    MIN_SPAN,
    chunk_count,
    iso_duration_span,
    shrink_span,
    split_window,
)

# hypothesis takes naive bounds and attaches the time zone itself.
starts = st.datetimes(
    min_value=datetime(2014, 1, 1),  # noqa: DTZ001
    max_value=datetime(2030, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
).map(lambda d: d.replace(second=0, microsecond=0))
lengths = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3 * 366))
# From the client's smallest span (an hour) to beyond the longest documented one (a year).
spans = st.timedeltas(min_value=MIN_SPAN, max_value=timedelta(days=400))


@settings(deadline=None)
@given(starts, lengths, spans)
def test_chunks_are_contiguous_and_cover_the_window_exactly(start, length, span):
    end = start + length
    chunks = split_window(start, end, span)
    if length == timedelta(0):
        assert chunks == []
        return
    assert chunks[0][0] == start
    assert chunks[-1][1] == end
    for (_, previous_end), (next_start, _) in pairwise(chunks):
        assert previous_end == next_start


@settings(deadline=None)
@given(starts, lengths, spans)
def test_no_chunk_is_longer_than_the_span_or_empty(start, length, span):
    for chunk_start, chunk_end in split_window(start, start + length, span):
        assert timedelta(0) < chunk_end - chunk_start <= span


@settings(deadline=None)
@given(starts, lengths, spans)
def test_chunk_count_is_the_ceiling_of_length_over_span(start, length, span):
    chunks = split_window(start, start + length, span)
    assert len(chunks) == -(-length // span) == chunk_count(start, start + length, span)


@settings(deadline=None)
@given(starts, lengths, spans)
def test_all_chunks_but_the_last_use_the_whole_span(start, length, span):
    chunks = split_window(start, start + length, span)
    assert all(e - s == span for s, e in chunks[:-1])


def test_two_years_of_a_28_day_endpoint_take_27_requests():
    start = datetime(2024, 1, 1, tzinfo=UTC)
    assert len(split_window(start, start + timedelta(days=730), timedelta(days=28))) == 27


def test_a_non_positive_span_is_refused():
    with pytest.raises(ValueError, match="max_span must be positive"):
        split_window(datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 2, tzinfo=UTC), timedelta(0))


def test_a_window_ending_before_it_starts_is_refused():
    with pytest.raises(ValueError, match="before its start"):
        split_window(datetime(2025, 1, 2, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC), timedelta(days=1))


@pytest.mark.parametrize(
    ("hint", "span"),
    [
        ("P1M", timedelta(days=28)),
        ("P1Y", timedelta(days=365)),
        ("P3D", timedelta(days=3)),
        ("P1W", timedelta(days=7)),
        ("PT6H", timedelta(hours=6)),
        ("p2m", timedelta(days=56)),
    ],
)
def test_iso_duration_hints_become_conservative_spans(hint, span):
    assert iso_duration_span(hint) == span


@pytest.mark.parametrize("hint", [None, "", "P", "one month", "P0D", "1M"])
def test_unreadable_hints_give_no_span(hint):
    assert iso_duration_span(hint) is None


def test_shrinking_uses_the_hinted_limit_when_it_is_shorter():
    assert shrink_span(timedelta(days=365), hint="P1M") == timedelta(days=28)


def test_shrinking_halves_when_the_hint_is_not_shorter_than_the_rejected_window():
    # 'P1M' has been refused for a window the client already sized as a month (entsoe-py #546).
    assert shrink_span(timedelta(days=28), hint="P1M") == timedelta(days=14)


def test_shrinking_halves_without_a_hint():
    assert shrink_span(timedelta(days=10)) == timedelta(days=5)


def test_shrinking_follows_the_ratio_of_too_many_instances():
    text = "The number of instances (365) exceeds the allowed maximum (100) for data item ENERGY_PRICES."
    assert shrink_span(timedelta(days=365), reason_text=text) == timedelta(days=100)


def test_shrinking_stops_at_the_minimum_span():
    assert shrink_span(timedelta(minutes=90)) == MIN_SPAN
    assert shrink_span(MIN_SPAN) is None


@given(st.timedeltas(min_value=MIN_SPAN + timedelta(minutes=1), max_value=timedelta(days=800)))
def test_a_shrunk_span_is_shorter_and_whole_minutes(rejected):
    span = shrink_span(rejected)
    assert span is not None
    assert MIN_SPAN <= span < rejected
    assert span.total_seconds() % 60 == 0
