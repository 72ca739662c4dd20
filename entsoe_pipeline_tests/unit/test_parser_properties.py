"""Properties of the parser over generated documents (hypothesis)."""

from __future__ import annotations

import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from entsoe_pipeline.entsoe import parse_document
from entsoe_pipeline.entsoe.curves import decode_curve

GL_NS = "urn:iec62325.351:tc57wg16:451-6:generationloaddocument:3:0"
RESOLUTIONS = {"PT15M": 96, "PT30M": 48, "PT60M": 24}


def _document(points: list[tuple[int, float]], curve: str, resolution: str) -> bytes:
    # One CET local day in winter: 2024-01-14T23:00Z..2024-01-15T23:00Z.
    body = "".join(f"<Point><position>{p}</position><quantity>{v!r}</quantity></Point>" for p, v in points)
    return (
        f'<GL_MarketDocument xmlns="{GL_NS}"><type>A65</type><process.processType>A16</process.processType>'
        f"<TimeSeries><businessType>A04</businessType>"
        f'<outBiddingZone_Domain.mRID codingScheme="A01">10YCZ-CEPS-----N</outBiddingZone_Domain.mRID>'
        f"<quantity_Measure_Unit.name>MAW</quantity_Measure_Unit.name><curveType>{curve}</curveType>"
        f"<Period><timeInterval><start>2024-01-14T23:00Z</start><end>2024-01-15T23:00Z</end></timeInterval>"
        f"<resolution>{resolution}</resolution>{body}</Period></TimeSeries></GL_MarketDocument>"
    ).encode()


@st.composite
def step_curves(draw):
    """A full curve of N values with runs of repeats, and its resolution."""
    resolution = draw(st.sampled_from(sorted(RESOLUTIONS)))
    n = RESOLUTIONS[resolution]
    levels = draw(
        st.lists(st.floats(-500, 5000, allow_nan=False).map(lambda x: round(x, 2)), min_size=1, max_size=6)
    )
    values = draw(st.lists(st.sampled_from(levels), min_size=n, max_size=n))
    return resolution, values


@settings(max_examples=150, deadline=None)
@given(step_curves(), st.randoms(use_true_random=False))
def test_a03_compressed_curve_parses_like_the_full_a01_curve(curve, rng: random.Random):
    resolution, values = curve
    full = [(p, v) for p, v in enumerate(values, start=1)]
    # A03 keeps a Point only where the value changes (and always position 1), in any order.
    changes = [(p, v) for p, v in full if p == 1 or v != values[p - 2]]
    rng.shuffle(changes)
    a01 = parse_document(_document(full, "A01", resolution))
    a03 = parse_document(_document(changes, "A03", resolution))
    assert a03.equals(a01)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 50).flatmap(
        lambda n: st.tuples(st.just(n), st.lists(st.integers(1, n), min_size=0, max_size=2 * n))
    )
)
def test_a03_decoding_yields_every_position_from_the_first_point_to_the_end(case):
    count, positions = case
    values = np.arange(len(positions), dtype=np.float64)
    curve = decode_curve(np.array(positions, dtype=np.int64), values, count, "A03")
    if not positions:
        assert curve.positions.size == 0
        return
    assert curve.positions.tolist() == list(range(min(positions), count + 1))
    # Each position carries the value of the last Point (in document order) at or before it.
    last_at = {p: float(i) for i, p in enumerate(positions)}
    expected, current = [], None
    for p in range(min(positions), count + 1):
        current = last_at.get(p, current)
        expected.append(current)
    assert curve.values.tolist() == expected
    assert curve.duplicates == len(positions) - len(set(positions))
