from datetime import UTC, datetime, timedelta

import pandas as pd

from entsoe_pipeline import catalog, quality
from entsoe_pipeline.storage import WindowCompleteness

FR = catalog.area("FR")
ACTUAL = catalog.endpoint("actual_load")
PRICES = catalog.endpoint("day_ahead_prices")


def _points(values, resolution="PT60M"):
    start = datetime(2025, 6, 2, tzinfo=UTC)
    return pd.DataFrame(
        {
            "time": pd.to_datetime([start + timedelta(hours=i) for i in range(len(values))], utc=True),
            "value": [float(v) for v in values],
            "resolution": resolution,
            "business_type": "A04",
            "psr_type": "",
            "variant": "",
        }
    )


def test_negative_load_is_implausible_but_negative_prices_are_not():
    finding = quality.plausible_values(_points([50_000, -5, 60_000]), ACTUAL, FR)
    assert not finding.passed
    assert finding.figures["negative_points"] == 1
    assert quality.plausible_values(_points([40.0, -12.5]), PRICES, FR).passed


def test_load_far_above_the_area_peak_is_implausible():
    finding = quality.plausible_values(_points([60_000, 10 * FR.peak_load_mw]), ACTUAL, FR)
    assert not finding.passed
    assert finding.figures["points_above_bound"] == 1


def test_a_resolution_the_catalogue_does_not_expect_fails():
    assert quality.resolution_matches(_points([1, 2]), ACTUAL).passed
    finding = quality.resolution_matches(_points([1, 2], resolution="P1D"), ACTUAL)
    assert not finding.passed
    assert "P1D" in finding.description


def test_completeness_reports_the_first_short_window_and_the_missing_points():
    day = datetime(2025, 6, 2, tzinfo=UTC)
    finding = quality.completeness(
        [
            WindowCompleteness(day, day + timedelta(days=1), 96, 96, 0),
            WindowCompleteness(day + timedelta(days=1), day + timedelta(days=2), 96, 90, 0),
        ],
        max_empty_tries=3,
    )
    assert not finding.passed
    assert finding.figures["missing_points"] == 6
    assert "2025-06-03 00:00Z: 90 of 96 points" in finding.description


def test_daily_summary_lists_each_day_and_series():
    text = quality.summary_markdown(quality.daily_summary(_points(range(48))))
    assert "| 2025-06-02 | A04 |" in text and "| 2025-06-03 | A04 |" in text


def test_a_window_confirmed_empty_often_enough_counts_as_complete_but_not_before():
    day = datetime(2025, 6, 2, tzinfo=UTC)
    confirmed = WindowCompleteness(day, day + timedelta(days=1), 96, 0, 3)
    assert quality.completeness([confirmed], max_empty_tries=3).passed
    assert not quality.completeness([confirmed], max_empty_tries=4).passed


def test_figures_carry_the_precision_of_the_data_not_of_floating_point():
    assert quality.decimals_of(pd.Series([728.0, 731.0])) == 0
    assert quality.decimals_of(pd.Series([12.25, 13.1])) == 2
    assert quality.decimals_of(pd.Series([1 / 3])) == quality.MAX_DECIMALS
    figures = quality.partition_figures(_points([727, 728, 729, 730]))
    assert figures == {"mean": 728.5, "min": 727, "max": 730, "points": 4}
    # A mean of whole megawatts that does not come out even shows one place, not fifteen.
    assert quality.partition_figures(_points([728, 728, 729]))["mean"] == 728.3


def test_figures_of_several_series_describe_their_total_and_leave_variants_out():
    wind = _points([100, 200]).assign(psr_type="B19")
    solar = _points([10, 20]).assign(psr_type="B16")
    consumption = _points([5, 5]).assign(variant="consumption")
    figures = quality.partition_figures(pd.concat([wind, solar, consumption], ignore_index=True))
    assert (figures["min"], figures["max"], figures["mean"]) == (110, 220, 165.0)
    assert figures["points"] == 6


def test_implausible_value_figures_are_rounded_as_the_data_is():
    finding = quality.plausible_values(_points([50_000.25, 60_000.5]), ACTUAL, FR)
    assert (finding.figures["min"], finding.figures["max"]) == (50_000.25, 60_000.5)
    assert isinstance(finding.figures["upper_bound"], int)
