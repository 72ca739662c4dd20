"""Data-quality rules for stored ENTSO-E series, as plain functions the asset checks call.

Each rule returns a ``Finding``: whether it passed, one sentence for the UI, and figures. Nothing
here deletes or changes data: a failing rule is reported, never repaired.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from entsoe_pipeline.catalog import Area, Endpoint
from entsoe_pipeline.entsoe import DocumentProblem
from entsoe_pipeline.storage import WindowCompleteness


@dataclass(frozen=True)
class Finding:
    passed: bool
    description: str
    figures: dict[str, float | int | str] = field(default_factory=dict)


def plausible_values(points: pd.DataFrame, endpoint: Endpoint, area: Area) -> Finding:
    """Values are not negative unless the endpoint allows it (prices, margins) and stay below a
    physical bound derived from the area's peak load (storage already refuses NaN and infinity)."""
    if points.empty:
        return Finding(True, "no points written", {"points": 0})
    values = _floats(points["value"])
    problems: list[str] = []
    places = decimals_of(values)
    figures: dict[str, float | int | str] = {
        "points": len(values),
        "min": round(float(np.nanmin(values)), places),
        "max": round(float(np.nanmax(values)), places),
    }
    if not endpoint.allows_negative:
        negative = int((values < 0).sum())
        figures["negative_points"] = negative
        if negative:
            problems.append(f"{negative} negative values")
    if endpoint.max_peak_ratio is not None:
        bound = area.peak_load_mw * endpoint.max_peak_ratio
        above = int((values > bound).sum())
        figures["upper_bound"] = round(bound)
        figures["points_above_bound"] = above
        if above:
            problems.append(f"{above} values above {bound:,.0f} {endpoint.unit}")
    if problems:
        return Finding(False, f"implausible values for {area.name}: " + "; ".join(problems), figures)
    return Finding(True, f"all {len(values)} values plausible", figures)


def resolution_matches(points: pd.DataFrame, endpoint: Endpoint) -> Finding:
    """Every point's resolution is one the catalogue expects for this endpoint."""
    if points.empty:
        return Finding(True, "no points written", {"points": 0})
    seen = sorted(set(points["resolution"]))
    unexpected = [r for r in seen if r not in endpoint.resolutions]
    figures: dict[str, float | int | str] = {
        "resolutions": ", ".join(seen),
        "expected": ", ".join(endpoint.resolutions),
    }
    if unexpected:
        return Finding(False, f"unexpected resolution {', '.join(unexpected)}", figures)
    return Finding(True, f"resolution {', '.join(seen)} as expected", figures)


def points_placed(problems: Sequence[DocumentProblem], duplicates: int = 0) -> Finding:
    """Every Point of the documents was placed in time and stored. A Period that contradicts itself
    costs only the points that cannot be placed (the parser keeps the rest); those are reported
    here, never silently lost. ``duplicates``: values sent twice for one series and time."""
    dropped = sum(p.dropped for p in problems)
    figures: dict[str, float | int | str] = {
        "points_dropped": dropped,
        "document_problems": len(problems),
        "duplicate_values": duplicates,
    }
    if dropped:
        first = next(p for p in problems if p.dropped)
        return Finding(False, f"{dropped} points could not be placed; first: {first}", figures)
    if problems:
        return Finding(
            True, f"every point placed; {len(problems)} contradictions resolved: {problems[0].what}", figures
        )
    return Finding(True, "every point placed", figures)


def completeness(windows: Sequence[WindowCompleteness], max_empty_tries: int) -> Finding:
    """Stored points against the points the resolution implies, over the windows just written. A
    window ENTSO-E answered "no data" ``max_empty_tries`` times is as complete as it will get."""

    def expected(w: WindowCompleteness) -> int:
        return w.stored if w.confirmed_empty_tries >= max_empty_tries else w.expected

    short = [w for w in windows if w.stored < expected(w)]
    total_expected = sum(expected(w) for w in windows)
    stored = sum(w.stored for w in windows)
    figures: dict[str, float | int | str] = {
        "expected_points": total_expected,
        "stored_points": stored,
        "missing_points": max(0, total_expected - stored),
        "incomplete_windows": len(short),
    }
    if short:
        first = short[0]
        return Finding(
            False,
            f"{len(short)} of {len(windows)} windows incomplete, first {first.start:%Y-%m-%d %H:%M}Z: "
            f"{first.stored} of {first.expected} points",
            figures,
        )
    return Finding(True, f"{stored} of {total_expected} expected points stored", figures)


MAX_DECIMALS = 3


def decimals_of(values: pd.Series | np.ndarray) -> int:
    """The decimal places the values carry (0 to ``MAX_DECIMALS``): ENTSO-E publishes load in
    whole MW or to one or two places, prices to two. Figures derived from them are shown to that
    precision, not as ``728.052467105263``."""
    # numpy, not pandas: this runs for every partition of a run, hundreds of small arrays.
    finite = _floats(values)
    finite = finite[~np.isnan(finite)]
    for places in range(MAX_DECIMALS):
        scaled = finite * 10**places
        if (np.abs(scaled - np.round(scaled)) < 1e-6).all():
            return places
    return MAX_DECIMALS


def _floats(values: pd.Series | np.ndarray) -> np.ndarray:
    if isinstance(values, pd.Series):
        return values.to_numpy(dtype=float, na_value=np.nan)
    return np.asarray(values, dtype=float)


def partition_figures(points: pd.DataFrame) -> dict[str, float | int]:
    """Mean, min and max of a partition's values and its point count, as numbers Dagster plots
    across partitions. Several series (generation per production type, wind and solar) are summed
    per time first, so the figures describe the total; variants (consumption, units) are left out.
    A mean gets one decimal place more than the values carry."""
    values, times = _floats(points["value"]), points["time"].to_numpy()
    if "variant" in points:
        canonical = points["variant"].to_numpy() == ""
        values, times = values[canonical], times[canonical]
    if not len(values):
        return {"points": 0}
    distinct, position = np.unique(times, return_inverse=True)
    totals = np.bincount(position, weights=values) if len(distinct) < len(times) else values
    places = decimals_of(values)
    return {
        "mean": round(float(totals.mean()), min(places + 1, MAX_DECIMALS)),
        "min": round(float(totals.min()), places),
        "max": round(float(totals.max()), places),
        "points": len(points),
    }


def daily_summary(points: pd.DataFrame) -> pd.DataFrame:
    """Per UTC day and series: min, mean, max, count and the day's first time, in time order.
    Computed once for a run's points; each partition shows its slice (``summary_markdown``)."""
    if points.empty:
        return pd.DataFrame(columns=["day", "series", "min", "mean", "max", "count", "first"])
    series = points["business_type"] + "/" + points["psr_type"] + "/" + points["variant"]
    frame = points.assign(day=points["time"].dt.strftime("%Y-%m-%d"), series=series.str.strip("/"))
    stats = (
        frame.groupby(["day", "series"])
        .agg(
            min=("value", "min"),
            mean=("value", "mean"),
            max=("value", "max"),
            count=("value", "size"),
            first=("time", "min"),
        )
        .reset_index()
    )
    return stats.sort_values(["first", "series"], kind="stable").reset_index(drop=True)


def summary_markdown(stats: pd.DataFrame, *, max_rows: int = 31) -> str:
    """A small markdown table of ``daily_summary`` rows, for materialization metadata."""
    return markdown_table(summary_lines(stats), max_rows=max_rows)


def summary_lines(stats: pd.DataFrame) -> list[str]:
    """One markdown table row per ``daily_summary`` row: formatted once for a run's summary, then
    sliced per partition (``markdown_table``)."""
    return [
        f"| {row.day!s} | {str(row.series) or '-'} | "
        f"{row.min:,.1f} | {row.mean:,.1f} | {row.max:,.1f} | {row.count} |"
        for row in stats.itertuples(index=False)
    ]


def markdown_table(lines: Sequence[str], *, max_rows: int = 31) -> str:
    """The table of ``summary_lines`` rows: the last ``max_rows`` of them, saying so when cut."""
    if not lines:
        return "_no points_"
    table = ["| day | series | min | mean | max | points |", "|---|---|---:|---:|---:|---:|"]
    table += lines[-max_rows:]
    if len(lines) > max_rows:
        table.append(f"\n_last {max_rows} of {len(lines)} rows_")
    return "\n".join(table)
