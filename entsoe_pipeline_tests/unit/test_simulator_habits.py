"""entsoe_pipeline/simulator/habits.py and truth.py: the platform's habits (revisions, late days,
short Periods, resolution changes) and the simulator's record of what it published."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from entsoe_pipeline import catalog
from entsoe_pipeline.entsoe.client import format_period
from entsoe_pipeline.entsoe.parser import parse_document
from entsoe_pipeline.simulator import SimulatorConfig, habits, periods, truth
from entsoe_pipeline.simulator.api import answer
from entsoe_pipeline.simulator.editions import DayMtus, published_values

NOW = datetime(2026, 1, 12, 14, 0, tzinfo=UTC)


def _params(endpoint: str, area: str, start: datetime, end: datetime) -> dict[str, str]:
    ep, ar = catalog.endpoint(endpoint), catalog.area(area)
    return {**ep.params(ar), "periodStart": format_period(start), "periodEnd": format_period(end)}


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# Answers of the simulator before it learnt any habit (sha256 prefix, length): with every habit off
# it must keep sending exactly these bytes, so that tests written against it stay valid.
_ANSWERS_WITHOUT_HABITS = [
    ("actual_load", "DE_LU", _utc(2025, 12, 1), _utc(2025, 12, 29), "f7a556d7b1be9131", 182380),
    ("actual_load", "FR", _utc(2026, 1, 10), _utc(2026, 1, 13), "4383dec3d4948b83", 5262),
    ("actual_generation", "NL", _utc(2025, 3, 29), _utc(2025, 4, 2), "bed8ff79d6c74c80", 107385),
    ("day_ahead_load_forecast", "DE_LU", _utc(2025, 10, 20), _utc(2025, 10, 30), "73420a9eb36ed6c3", 75165),
    ("wind_solar_forecast", "FR", _utc(2026, 1, 1), _utc(2026, 1, 20), "2f9d1fb58b04ab77", 67627),
    ("day_ahead_prices", "DE_LU", _utc(2025, 9, 25), _utc(2025, 10, 5), "085423beda4d976e", 136365),
    ("week_ahead_load_forecast", "NL", _utc(2025, 6, 1), _utc(2025, 8, 1), "561073a54dc612c9", 18403),
    ("month_ahead_load_forecast", "FR", _utc(2025, 1, 1), _utc(2026, 1, 1), "33776e0019da279b", 19303),
    ("year_ahead_load_forecast", "DE_LU", _utc(2025, 2, 1), _utc(2026, 1, 31), "1a53754c7b480284", 16186),
    ("year_ahead_forecast_margin", "CZ", _utc(2025, 1, 1), _utc(2026, 1, 1), "0946b318f5868c10", 1810),
]


@pytest.mark.parametrize(("endpoint", "area", "start", "end", "digest", "size"), _ANSWERS_WITHOUT_HABITS)
def test_without_habits_the_answers_are_byte_identical_to_before(endpoint, area, start, end, digest, size):
    body = answer(_params(endpoint, area, start, end), now=NOW).body
    assert (hashlib.sha256(body).hexdigest()[:16], len(body)) == (digest, size)


# --- helpers -----------------------------------------------------------------------------------------

COLUMNS = ["time", "value", "resolution", "business_type", "psr_type", "variant"]
KEY = ["business_type", "psr_type", "variant", "time"]
DAILY_ITEMS = [
    "actual_load",
    "actual_generation",
    "day_ahead_load_forecast",
    "wind_solar_forecast",
    "day_ahead_prices",
]
MINUTE = timedelta(minutes=1)


def _number(day: date) -> int:
    return (day - date(1970, 1, 1)).days


def _midnight(area: str, day: date) -> datetime:
    return periods.local_midnight(day, catalog.area(area).tz)


def _local_days(area: str, first: date, count: int) -> tuple[datetime, datetime]:
    return _midnight(area, first), _midnight(area, first + timedelta(days=count))


def _at(minutes: int) -> datetime:
    return periods.from_minutes(minutes)


def _revised_days(config: SimulatorConfig, endpoint: str, area: str, first: date, count: int = 90):
    """(local day, revision time) of the days revised among ``count`` days from ``first``."""
    numbers = np.arange(_number(first), _number(first) + count)
    times = habits.revision_times(config.habits(), endpoint, catalog.area(area), numbers)
    return [
        (date(1970, 1, 1) + timedelta(days=int(n)), _at(t))
        for n, t in zip(numbers, times, strict=True)
        if t != habits.NEVER
    ]


def _serve(
    config: SimulatorConfig, endpoint: str, area: str, start: datetime, end: datetime, as_of: datetime
):
    return answer(
        _params(endpoint, area, start, end), now=as_of, no_data=config.no_data, habits=config.habits()
    )


def _parsed(
    config: SimulatorConfig, endpoint: str, area: str, start: datetime, end: datetime, as_of: datetime
):
    body = _serve(config, endpoint, area, start, end, as_of).body
    return parse_document(body, source=f"{endpoint} {area}")[COLUMNS]


def _in(frame: pd.DataFrame, start: datetime, end: datetime) -> pd.Series:
    return (frame["time"] >= pd.Timestamp(start)) & (frame["time"] < pd.Timestamp(end))


def test_every_habit_is_off_by_default():
    assert SimulatorConfig().habits() == habits.Habits()
    assert SimulatorConfig(seed=5).habits() == habits.Habits(seed=5)


# --- revisions -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", DAILY_ITEMS)
def test_a_revision_changes_every_value_of_its_day_and_nothing_else(endpoint):
    config = SimulatorConfig(seed=7, revision_share=0.3)
    (day, revised_at), *_ = _revised_days(config, endpoint, "DE_LU", date(2025, 11, 3))
    start, end = _local_days("DE_LU", day - timedelta(days=3), 4)  # the day and three before it
    others = [t for _, t in _revised_days(config, endpoint, "DE_LU", day - timedelta(days=3), 3)]
    assert revised_at not in others  # else two days would change at once

    before = _parsed(config, endpoint, "DE_LU", start, end, revised_at - MINUTE)
    after = _parsed(config, endpoint, "DE_LU", start, end, revised_at)

    both = before.merge(after, on=[*KEY, "resolution"], suffixes=("_before", "_after"), validate="1:1")
    assert len(both) == len(before) == len(after)
    revised_day = _in(both, *_local_days("DE_LU", day, 1))
    assert revised_day.any() and (~revised_day).any()
    assert (both["value_before"] != both["value_after"])[revised_day].all()
    assert (both["value_before"] == both["value_after"])[~revised_day].all()


def test_a_revision_moves_values_by_a_few_per_cent_rounded_like_the_first_ones():
    config = SimulatorConfig(seed=2, revision_share=1.0)
    (day, revised_at), *_ = _revised_days(config, "actual_load", "FR", date(2025, 6, 2))
    start, end = _local_days("FR", day, 1)
    first = _parsed(config, "actual_load", "FR", start, end, revised_at - MINUTE)["value"]
    revised = _parsed(config, "actual_load", "FR", start, end, revised_at)["value"]
    ratio = revised / first
    assert ((ratio - 1).abs() >= 0.009).all() and ((ratio - 1).abs() <= 0.051).all()
    assert ratio.round(4).nunique() <= 3  # one factor for the day, blurred only by rounding
    assert (revised.round(1) == revised).all()


def test_revised_solar_at_night_changes_too():
    config = SimulatorConfig(seed=4, revision_share=1.0)
    (day, revised_at), *_ = _revised_days(config, "actual_generation", "DE_LU", date(2025, 12, 1))
    start, end = _local_days("DE_LU", day, 1)
    first = _parsed(config, "actual_generation", "DE_LU", start, end, revised_at - MINUTE)
    revised = _parsed(config, "actual_generation", "DE_LU", start, end, revised_at)
    night = (first["psr_type"] == "B16") & (first["value"] == 0)
    assert night.any()
    assert (revised["value"][night] > 0).all()
    assert (revised["value"] >= 0).all()


def test_revision_times_are_on_days_1_to_30_at_whole_hours_from_2_am_and_after_late_publication():
    config = SimulatorConfig(seed=9, revision_share=1.0, late_share=0.5)
    area = catalog.area("NL")
    numbers = np.arange(_number(date(2000, 1, 1)), _number(date(2030, 1, 1)))  # 60 DST days
    times = habits.revision_times(config.habits(), "actual_load", area, numbers)
    published_from = habits.published_from(config.habits(), "actual_load", area, numbers)
    offsets = set()
    for number, minutes, due in zip(numbers.tolist(), times.tolist(), published_from.tolist(), strict=True):
        day = date(1970, 1, 1) + timedelta(days=number)
        local = _at(minutes).astimezone(ZoneInfo(area.tz))
        offsets.add((local.date() - day).days)
        assert local.minute == 0 and local.hour >= 2
        assert minutes > due
    assert offsets == set(range(1, 31))


@pytest.mark.parametrize("share", [0.1, 0.5])
def test_the_revision_share_is_the_share_of_days_revised(share):
    config = SimulatorConfig(revision_share=share)
    numbers = np.arange(_number(date(2020, 1, 1)), _number(date(2026, 1, 1)))
    times = habits.revision_times(config.habits(), "day_ahead_prices", catalog.area("FR"), numbers)
    assert np.mean(times != habits.NEVER) == pytest.approx(share, abs=0.03)


def test_the_seed_picks_other_days_and_the_same_seed_the_same_ones():
    def revised(seed: int) -> list:
        return _revised_days(
            SimulatorConfig(seed=seed, revision_share=0.3), "actual_load", "DE_LU", date(2025, 1, 1), 365
        )

    assert revised(1) == revised(1)
    assert revised(1) != revised(2)


@pytest.mark.parametrize("endpoint", ["actual_generation", "wind_solar_forecast"])
def test_habits_do_not_depend_on_the_window_a_day_is_asked_in(endpoint):
    config = SimulatorConfig(
        seed=3,
        revision_share=0.5,
        late_share=0.3,
        republish_hourly_share=0.5,
        resolution_switch=date(2025, 11, 20),
    )
    as_of = datetime(2025, 12, 20, 14, tzinfo=UTC)
    start, end = _local_days("DE_LU", date(2025, 11, 10), 27)
    month = truth.published(config, endpoint, "DE_LU", start, end, as_of=as_of)
    for offset in range(0, 27, 3):
        day = _local_days("DE_LU", date(2025, 11, 10) + timedelta(days=offset), 1)
        alone = truth.published(config, endpoint, "DE_LU", *day, as_of=as_of)
        assert month[_in(month, *day)].reset_index(drop=True).equals(alone)


def test_revisions_list_each_revised_point_with_its_first_and_revised_value():
    config = SimulatorConfig(seed=7, revision_share=0.3)
    (day, revised_at), *_ = _revised_days(config, "actual_generation", "NL", date(2025, 11, 3))
    start, end = _local_days("NL", day - timedelta(days=3), 4)
    before = truth.published(config, "actual_generation", "NL", start, end, as_of=revised_at - MINUTE)
    after = truth.published(config, "actual_generation", "NL", start, end, as_of=revised_at)

    listed_before = truth.revisions(config, "actual_generation", "NL", start, end, as_of=revised_at - MINUTE)
    listed = truth.revisions(config, "actual_generation", "NL", start, end, as_of=revised_at)

    assert (listed["first_value"] != listed["value"]).all()
    assert (listed_before["revised_at"] < pd.Timestamp(revised_at)).all()
    new = listed[listed["revised_at"] == pd.Timestamp(revised_at)].reset_index(drop=True)
    assert len(listed) == len(listed_before) + len(new)
    day_points = _in(after, *_local_days("NL", day, 1))
    assert len(new) == int(day_points.sum()) > 0
    assert new["time"].equals(after[day_points]["time"].reset_index(drop=True))
    assert np.array_equal(new["first_value"], before[day_points]["value"])
    assert np.array_equal(new["value"], after[day_points]["value"])
    assert list(listed.columns) == [
        "time",
        "business_type",
        "psr_type",
        "variant",
        "first_value",
        "value",
        "revised_at",
    ]
    assert str(listed["revised_at"].dtype) == "datetime64[ns, UTC]"


def test_revisions_are_empty_without_the_habit_and_outside_the_window():
    start, end = _local_days("DE_LU", date(2025, 10, 1), 28)
    as_of = datetime(2026, 1, 1, tzinfo=UTC)
    assert truth.revisions(SimulatorConfig(), "actual_load", "DE_LU", start, end, as_of=as_of).empty
    config = SimulatorConfig(revision_share=1.0)
    listed = truth.revisions(config, "day_ahead_prices", "DE_LU", start, end, as_of=as_of)
    assert len(listed) > 0
    assert _in(listed, start, end).all()  # prices come as whole days, revisions only inside the window
    assert truth.revisions(config, "week_ahead_load_forecast", "DE_LU", start, end, as_of=as_of).empty


# --- late days -------------------------------------------------------------------------------------------


def _publication(config: SimulatorConfig, endpoint: str, area: str, first: date, count: int = 90):
    """(local day, epoch minutes from which it is published or ALWAYS) of ``count`` days from ``first``."""
    numbers = np.arange(_number(first), _number(first) + count)
    due = habits.published_from(config.habits(), endpoint, catalog.area(area), numbers)
    return [(date(1970, 1, 1) + timedelta(days=int(n)), int(m)) for n, m in zip(numbers, due, strict=True)]


def _late_day(config: SimulatorConfig, endpoint: str, area: str, first: date) -> tuple[date, datetime]:
    """A late day whose neighbours are on time, and its publication time."""
    days = _publication(config, endpoint, area, first)
    for (_, before), (day, due), (_, after) in zip(days, days[1:], days[2:], strict=False):
        if due != habits.ALWAYS and before == after == habits.ALWAYS:
            return day, _at(due)
    raise AssertionError("no late day between on-time neighbours")


@pytest.mark.parametrize("endpoint", ["actual_load", "actual_generation"])
def test_a_late_day_is_absent_until_its_publication_time_then_complete(endpoint):
    config = SimulatorConfig(seed=1, late_share=0.3)
    day, due = _late_day(config, endpoint, "DE_LU", date(2025, 10, 1))
    start, end = _local_days("DE_LU", day, 1)

    early = _serve(config, endpoint, "DE_LU", start, end, due - MINUTE)
    assert early.status == 200 and b"No matching data found" in early.body
    assert truth.published(config, endpoint, "DE_LU", start, end, as_of=due - MINUTE).empty

    on_time = _parsed(SimulatorConfig(), endpoint, "DE_LU", start, end, due)
    assert len(on_time) > 0
    assert _parsed(config, endpoint, "DE_LU", start, end, due).equals(on_time)


def test_a_late_day_is_published_at_local_midnight_two_or_seven_days_later():
    config = SimulatorConfig(seed=5, late_share=1.0)
    area = catalog.area("FR")
    numbers = np.arange(_number(date(2025, 1, 1)), _number(date(2026, 1, 1)))
    due = habits.published_from(config.habits(), "actual_load", area, numbers)
    delays = set()
    for number, minutes in zip(numbers.tolist(), due.tolist(), strict=True):
        local = _at(minutes).astimezone(ZoneInfo(area.tz))
        assert (local.hour, local.minute) == (0, 0)
        delays.add((local.date() - (date(1970, 1, 1) + timedelta(days=number))).days)
    assert delays == {2, 7}


def test_a_late_day_leaves_a_hole_between_its_published_neighbours():
    config = SimulatorConfig(seed=1, late_share=0.3)
    day, due = _late_day(config, "actual_load", "NL", date(2025, 10, 1))
    neighbours = [_local_days("NL", day + timedelta(days=d), 1) for d in (-1, 1)]
    start, end = neighbours[0][0], neighbours[1][1]
    frame = _parsed(config, "actual_load", "NL", start, end, due - MINUTE)
    assert not _in(frame, *_local_days("NL", day, 1)).any()
    (a, b), following = neighbours
    assert _in(frame, a, b).sum() == (b - a) // timedelta(minutes=15)
    assert _in(frame, *following).any()  # (in full once it has been over for an hour)
    assert _serve(config, "actual_load", "NL", start, end, due - MINUTE).body.count(b"<TimeSeries>") == 2


def test_days_on_time_keep_publishing_each_mtu_an_hour_after_its_end():
    config = SimulatorConfig(seed=1, late_share=0.3)
    day = next(
        d for d, due in _publication(config, "actual_load", "DE_LU", date(2025, 6, 1)) if due == habits.ALWAYS
    )
    start, end = _local_days("DE_LU", day, 1)
    frame = _parsed(config, "actual_load", "DE_LU", start, end, start + timedelta(hours=5, minutes=7))
    assert frame["time"].max() == pd.Timestamp(start + timedelta(hours=3, minutes=45))


# --- short Periods -----------------------------------------------------------------------------------------

_PERIOD = re.compile(
    rb"<Period><timeInterval><start>([^<]+)</start><end>([^<]+)</end></timeInterval>"
    rb"<resolution>P7D</resolution>(.*?)</Period>"
)


def _declared_periods(body: bytes, tz: str) -> list[tuple[int, int]]:
    """(weeks declared by the timeInterval, Points carried) of every P7D Period of a document."""
    out = []
    for start, end, points in _PERIOD.findall(body):
        interval = tuple(datetime.fromisoformat(t.decode().replace("Z", "+00:00")) for t in (start, end))
        weeks = periods.calendar_steps(interval, tz, 7)[0].size
        out.append((weeks, points.count(b"<Point>")))
    return out


@pytest.mark.parametrize(
    ("endpoint", "start", "end"),
    [
        ("year_ahead_load_forecast", _utc(2025, 2, 1), _utc(2026, 1, 31)),
        ("month_ahead_load_forecast", _utc(2025, 3, 1), _utc(2025, 9, 1)),
    ],
)
def test_a_short_block_declares_one_week_less_than_the_points_it_carries(endpoint, start, end):
    body = _serve(SimulatorConfig(short_period_share=1.0), endpoint, "CZ", start, end, NOW).body
    declared = _declared_periods(body, catalog.area("CZ").tz)
    assert declared and all(weeks == points - 1 for weeks, points in declared)
    assert all(points in (4, 5, 52, 53) for _, points in declared)


def test_the_share_of_short_blocks_leaves_the_others_whole():
    body = _serve(
        SimulatorConfig(seed=3, short_period_share=0.5),
        "month_ahead_load_forecast",
        "DE_LU",
        _utc(2025, 1, 1),
        _utc(2026, 1, 1),
        NOW,
    ).body
    shapes = {weeks - points for weeks, points in _declared_periods(body, catalog.area("DE_LU").tz)}
    assert shapes == {0, -1}


@pytest.mark.parametrize(
    ("endpoint", "blocks"),
    [("year_ahead_load_forecast", periods.year_weeks), ("month_ahead_load_forecast", periods.month_weeks)],
)
def test_the_record_of_a_short_block_has_every_week_at_its_true_time(endpoint, blocks):
    start, end = _utc(2025, 2, 1), _utc(2026, 1, 31)
    short = truth.published(SimulatorConfig(short_period_share=1.0), endpoint, "CZ", start, end, as_of=NOW)
    assert short.equals(truth.published(SimulatorConfig(), endpoint, "CZ", start, end, as_of=NOW))
    tz = catalog.area("CZ").tz
    chosen = [b for b in blocks(start, end, tz) if b[1] <= NOW + catalog.endpoint(endpoint).horizon]
    weeks = np.concatenate([periods.calendar_steps(block, tz, 7)[0] for block in chosen])
    for _, series in short.groupby("business_type"):
        assert pd.DatetimeIndex(series["time"]).equals(_times(weeks))
        assert set(series["resolution"]) == {"P7D"}


def _times(minutes: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex((minutes * 60_000_000_000).astype("datetime64[ns]")).tz_localize("UTC")


# --- resolution changes -------------------------------------------------------------------------------------

_MTU_ITEMS = ["actual_load", "actual_generation", "day_ahead_load_forecast", "wind_solar_forecast"]


@pytest.mark.parametrize("endpoint", _MTU_ITEMS)
def test_quarter_hour_areas_publish_hourly_means_before_the_resolution_switch(endpoint):
    config = SimulatorConfig(resolution_switch=date(2025, 12, 10))
    start, end = _local_days("DE_LU", date(2025, 12, 8), 4)
    switch = _midnight("DE_LU", date(2025, 12, 10))
    served = _parsed(config, endpoint, "DE_LU", start, end, NOW)
    quarters = truth.published(SimulatorConfig(), endpoint, "DE_LU", start, end, as_of=NOW)

    before, after = (
        served[served["time"] < pd.Timestamp(switch)],
        served[served["time"] >= pd.Timestamp(switch)],
    )
    assert set(before["resolution"]) == {"PT60M"} and set(after["resolution"]) == {"PT15M"}
    assert (before["time"].dt.minute == 0).all()
    hourly = (
        quarters[quarters["time"] < pd.Timestamp(switch)]
        .assign(time=lambda f: f["time"].dt.floor("h"))
        .groupby(["business_type", "psr_type", "variant", "time"], as_index=False)["value"]
        .mean()
    )
    # Rounded to 0.1 MW like every value (ties may go either way after summing in another order).
    assert np.abs(before["value"].to_numpy() - hourly["value"].to_numpy()).max() <= 0.05 + 1e-6
    expected_after = quarters[quarters["time"] >= pd.Timestamp(switch)].reset_index(drop=True)
    assert after.reset_index(drop=True).equals(expected_after)


_HABITS_ON = {
    "revision_share": 1.0,
    "late_share": 1.0,
    "short_period_share": 1.0,
    "resolution_switch": date(2026, 3, 1),
    "republish_hourly_share": 1.0,
}
_OTHER_ITEMS = {
    "revision_share": [
        "week_ahead_load_forecast",
        "month_ahead_load_forecast",
        "year_ahead_load_forecast",
        "year_ahead_forecast_margin",
    ],
    "late_share": [e for e in catalog.ENDPOINTS if e not in ("actual_load", "actual_generation")],
    "short_period_share": [
        e for e in catalog.ENDPOINTS if e not in ("year_ahead_load_forecast", "month_ahead_load_forecast")
    ],
    "resolution_switch": [e for e in catalog.ENDPOINTS if e not in _MTU_ITEMS],
    "republish_hourly_share": [e for e in catalog.ENDPOINTS if e not in _MTU_ITEMS],
}


@pytest.mark.parametrize(
    ("habit", "endpoint", "area"),
    [(habit, endpoint, "DE_LU") for habit, items in _OTHER_ITEMS.items() for endpoint in items]
    + [("resolution_switch", e, "FR") for e in _MTU_ITEMS]  # hourly areas have nothing to switch
    + [("republish_hourly_share", e, "FR") for e in _MTU_ITEMS],
)
def test_a_habit_leaves_the_items_and_areas_it_does_not_apply_to_unchanged(habit, endpoint, area):
    # Only revised days are re-published hourly, so that habit is compared on revised data.
    baseline = SimulatorConfig(revision_share=1.0 if habit == "republish_hourly_share" else 0.0)
    config = replace(baseline, **{habit: _HABITS_ON[habit]})
    span = (
        timedelta(days=27)
        if catalog.endpoint(endpoint).max_span < timedelta(days=60)
        else timedelta(days=360)
    )
    start = _utc(2025, 11, 20)
    as_of = start + span + timedelta(days=2, hours=14)  # late days of the window not out yet
    served = _serve(config, endpoint, area, start, start + span, as_of).body
    assert served == _serve(baseline, endpoint, area, start, start + span, as_of).body


def test_a_revised_day_republished_hourly_shows_hourly_means_of_its_revised_quarter_hours():
    config = SimulatorConfig(seed=6, revision_share=1.0, republish_hourly_share=1.0)
    same_revisions = SimulatorConfig(seed=6, revision_share=1.0)
    (day, revised_at), *_ = _revised_days(config, "actual_load", "DE_LU", date(2025, 11, 3))
    start, end = _local_days("DE_LU", day, 1)

    first = _parsed(config, "actual_load", "DE_LU", start, end, revised_at - MINUTE)
    republished = _parsed(config, "actual_load", "DE_LU", start, end, revised_at)
    revised_quarters = truth.published(same_revisions, "actual_load", "DE_LU", start, end, as_of=revised_at)

    assert set(first["resolution"]) == {"PT15M"} and set(republished["resolution"]) == {"PT60M"}
    assert len(republished) == len(first) // 4
    means = revised_quarters.groupby(revised_quarters["time"].dt.floor("h"))["value"].mean().to_numpy()
    # Rounded to 0.1 MW, and one unit more where that still equalled the first value.
    assert np.abs(republished["value"].to_numpy() - means).max() <= 0.15 + 1e-6
    first_at_hours = first.set_index("time")["value"].loc[republished["time"]]
    assert (republished["value"].to_numpy() != first_at_hours.to_numpy()).all()

    listed = truth.revisions(config, "actual_load", "DE_LU", start, end, as_of=revised_at)
    assert listed["time"].equals(republished["time"])
    assert np.array_equal(listed["first_value"], first_at_hours)
    assert np.array_equal(listed["value"], republished["value"])


def test_an_hourly_mean_that_rounds_back_to_the_first_value_is_nudged_so_the_point_still_changes():
    # One hour re-published at PT60M: its revised quarter hours (10.6, 10.5, 10.6, 9.9) average to
    # 10.4, the first value at that time, so the hour shows 10.5.
    hour = DayMtus(starts=np.array([0]), step=np.array([60]), day=np.array([0]))
    plan = habits.DayPlan(
        published_from=np.array([habits.ALWAYS]),
        revised_at=np.array([0]),
        revised=np.array([True]),
        factor=np.array([1.015]),
        first_step=np.array([15]),
        step=np.array([60]),
    )
    quarters = np.array([10.4, 10.3, 10.4, 9.8])
    assert published_values(hour, plan, lambda minutes: quarters[minutes // 15], native=15).tolist() == [10.5]


# --- the record of what was published ---------------------------------------------------------------------

_ALL_BUT_SHORT_PERIODS = SimulatorConfig(
    seed=11,
    revision_share=0.4,
    late_share=0.3,
    resolution_switch=date(2025, 12, 15),
    republish_hourly_share=0.5,
    no_data=((_utc(2025, 12, 3, 5), _utc(2025, 12, 3, 9)),),
)


@pytest.mark.parametrize("endpoint", list(catalog.ENDPOINTS))
def test_published_equals_the_parsed_answer_with_every_habit_but_short_periods(endpoint):
    long_range = catalog.endpoint(endpoint).max_span > timedelta(days=60)
    windows = [
        (_utc(2025, 11, 28, 10, 15), timedelta(days=300 if long_range else 27)),
        (_utc(2025, 12, 14, 23), timedelta(days=3)),
        (_utc(2026, 1, 9), timedelta(days=5)),
    ]
    for area in ("DE_LU", "FR", "AT"):
        for start, span in windows:
            for as_of in (datetime(2025, 12, 20, 9, 30, tzinfo=UTC), datetime(2026, 1, 12, 14, tzinfo=UTC)):
                config = _ALL_BUT_SHORT_PERIODS
                expected = truth.published(config, endpoint, area, start, start + span, as_of=as_of)
                result = _serve(config, endpoint, area, start, start + span, as_of)
                if not result.has_data:
                    assert expected.empty, (area, start, as_of)
                    continue
                served = parse_document(result.body)[COLUMNS]
                pd.testing.assert_frame_equal(served, expected, obj=f"{endpoint} {area} {start} {as_of}")


def test_published_has_the_parsers_columns_and_types_even_when_empty():
    start, end = _local_days("DE_LU", date(2026, 3, 1), 1)
    empty = truth.published(SimulatorConfig(), "actual_load", "DE_LU", start, end, as_of=NOW)
    full = truth.published(
        SimulatorConfig(), "actual_load", "DE_LU", start, end, as_of=end + timedelta(hours=2)
    )
    parsed = parse_document(
        _serve(SimulatorConfig(), "actual_load", "DE_LU", start, end, end + timedelta(hours=2)).body
    )
    for frame in (empty, full):
        assert list(frame.columns) == COLUMNS
        assert frame.dtypes.equals(parsed[COLUMNS].dtypes)
    assert empty.empty and len(full) == 96
