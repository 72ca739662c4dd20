"""What the simulator publishes for each catalogue endpoint: which TimeSeries, on which time grid,
and up to when (only data that would already be published at ``now``), with the platform's habits
of ``query.habits`` (habits.py: revisions, late days, short Periods, resolution changes).

One builder per endpoint, registered in ``DATA_ITEMS`` by catalogue name; adding an endpoint to the
simulator is one builder and one entry.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from types import MappingProxyType

import numpy as np

from entsoe_pipeline.catalog import Area, Endpoint

from . import series as values
from .documents import Period, Series, gl_series, market_document, price_series
from .editions import DayMtus, day_mtus, published_values
from .habits import DayPlan, Habits, day_plan, short_blocks
from .periods import (
    Interval,
    calendar_steps,
    day_ahead_horizon,
    day_number,
    local_date,
    local_days,
    local_years,
    month_weeks,
    to_minutes,
    weeks,
    year_weeks,
)

# MTU of load and generation per area: quarter hours for most (DE_LU, NL, ...), hours for FR.
_AREA_MTU_MINUTES = MappingProxyType({"FR": 60, "GB": 30, "IE_SEM": 30})
_DEFAULT_MTU_MINUTES = 15
# Day-ahead prices moved from hourly to quarter-hourly with the SDAC go-live on delivery day
# 2025-10-01 (entsoe-py QUARTER_MTU_SDAC_GOLIVE); the EXAA sequence 2 of DE_LU/AT was quarter-hourly
# before (price_A44_DE-LU_20241006_PT60M+PT15M_seq1-2_hass.xml).
SDAC_15MIN_GO_LIVE = date(2025, 10, 1)
_TWO_SEQUENCES = frozenset({"DE_LU", "AT"})
# Actual values appear about an hour after the end of their MTU.
ACTUAL_DELAY = timedelta(hours=1)
PRICE_DECIMALS = 2  # EUR/MWh to the cent; quantities are in MW to one decimal


def mtu_minutes(area: Area) -> int:
    return _AREA_MTU_MINUTES.get(area.name, _DEFAULT_MTU_MINUTES)


def resolution_of(minutes: int) -> str:
    return f"PT{minutes}M"


def price_sequences(area: Area) -> tuple[int, ...]:
    return (1, 2) if area.name in _TWO_SEQUENCES else (1,)


def price_mtu_minutes(day_start: datetime, area: Area, sequence: int) -> int:
    if sequence == 2 or local_date(day_start, area.tz) >= SDAC_15MIN_GO_LIVE:
        return 15
    return 60


def generation_types(area: Area) -> tuple[str, ...]:
    return tuple(values.generation_mix(area))


def forecast_types(area: Area) -> tuple[str, ...]:
    return tuple(p for p in values.WIND_SOLAR if p in values.generation_mix(area))


@dataclass(frozen=True)
class Query:
    """A validated request: what to answer, for when, as seen at ``now``."""

    endpoint: Endpoint
    area: Area
    start: datetime
    end: datetime
    now: datetime
    no_data: tuple[Interval, ...] = ()
    psr_type: str | None = None
    sequence: int | None = None
    habits: Habits = field(default_factory=Habits)


@dataclass(frozen=True)
class DataItem:
    """How the platform names an endpoint in its messages, and how the simulator fills it."""

    name: str  # R3 internal name, e.g. ACTUAL_TOTAL_LOAD_R3
    article: str  # Transparency Regulation article, e.g. 6.1.A
    build: Callable[[Query], list[Series]] = field(repr=False)
    # psrType codes the request may filter on (None: the parameter is not allowed).
    psr_types: Callable[[Area], tuple[str, ...]] | None = field(default=None, repr=False)


def _overlaps_no_data(starts: np.ndarray, ends: np.ndarray, no_data: tuple[Interval, ...]) -> np.ndarray:
    hit = np.zeros(starts.shape, dtype=bool)
    for a, b in no_data:
        hit |= (starts < to_minutes(b)) & (ends > to_minutes(a))
    return hit


def _plan(q: Query, days: list[Interval]) -> DayPlan:
    numbers = np.array([day_number(a, q.area.tz) for a, _ in days], dtype=np.int64)
    return day_plan(q.habits, q.endpoint.name, q.area, numbers, to_minutes(q.now), mtu_minutes(q.area))


def _actual_mtus(q: Query) -> tuple[DayMtus, DayPlan]:
    """MTUs overlapping the window that are published at ``now`` and not withheld: each about an
    hour after its end, or all of a late day at once when it is due. A hole splits the TimeSeries
    (``DayMtus.runs``), as in the CZ 2016 load file."""
    days = local_days(q.start, q.end, q.area.tz)
    plan = _plan(q, days)
    mtus = day_mtus(days, plan.step, (q.start, q.end))
    ends = mtus.starts + mtus.step
    keep = (
        (ends <= to_minutes(q.now - ACTUAL_DELAY))
        & (plan.published_from[mtus.day] <= to_minutes(q.now))
        & ~_overlaps_no_data(mtus.starts, ends, q.no_data)
    )
    return mtus.select(keep), plan


def _period(mtus: DayMtus, numbers: np.ndarray, run: slice) -> Period:
    starts, step = mtus.starts[run], int(mtus.step[run][0])
    return Period(int(starts[0]), int(starts[-1]) + step, resolution_of(step), numbers[run])


def _published_blocks(q: Query, blocks: list[Interval], horizon: datetime) -> list[Interval]:
    """Blocks (days, weeks, ...) that are fully published by ``horizon`` and not withheld."""
    return [(a, b) for a, b in blocks if b <= horizon and not _withheld(q, a, b)]


def _withheld(q: Query, start: datetime, end: datetime) -> bool:
    return any(a < end and b > start for a, b in q.no_data)


def _announced_blocks(q: Query, blocks: list[Interval]) -> list[Interval]:
    """Forecast blocks published by ``q.now``: those starting within the endpoint's publication lead
    (catalogue ``Endpoint.published_ahead``; month- and year-ahead blocks start on their first
    Monday, as ENTSO-E's documents do)."""
    lead = q.endpoint.published_ahead or timedelta(0)
    return [(a, b) for a, b in blocks if a <= q.now + lead and not _withheld(q, a, b)]


def _day_periods(
    days: list[Interval],
    plan: DayPlan,
    fill: Callable[[np.ndarray], np.ndarray],
    *,
    native: int | None = None,
    decimals: int = 1,
) -> list[Period]:
    """One Period per day; the values of all days come from vectorised calls over their MTUs."""
    mtus = day_mtus(days, plan.step)
    numbers = published_values(mtus, plan, fill, native=native, decimals=decimals)
    return [_period(mtus, numbers, run) for run in mtus.runs(per_day=True)]


# --- builders, one per endpoint --------------------------------------------------------------------


def _actual_load(q: Query) -> list[Series]:
    mtus, plan = _actual_mtus(q)
    numbers = published_values(mtus, plan, partial(values.actual_load, q.area), native=mtu_minutes(q.area))
    return [
        gl_series(
            business_type="A04",
            domain="outBiddingZone_Domain",
            eic=q.area.eic,
            periods=(_period(mtus, numbers, run),),
        )
        for run in mtus.runs(per_day=False)
    ]


def _actual_generation(q: Query) -> list[Series]:
    mtus, plan = _actual_mtus(q)
    runs = mtus.runs(per_day=False)
    out: list[Series] = []
    for psr in generation_types(q.area):
        if q.psr_type and psr != q.psr_type:
            continue
        # Pumped storage also publishes its pumping as an outBiddingZone (consumption) series.
        directions = (False, True) if psr == "B10" else (False,)
        for consumption in directions:
            fill = partial(values.generation, q.area, psr, consumption=consumption)
            numbers = published_values(mtus, plan, fill, native=mtu_minutes(q.area))
            out.extend(
                gl_series(
                    business_type="A01",
                    domain="outBiddingZone_Domain" if consumption else "inBiddingZone_Domain",
                    eic=q.area.eic,
                    periods=(_period(mtus, numbers, run),),
                    curve_type="A03",
                    psr_type=psr,
                    variant="consumption" if consumption else "",
                )
                for run in runs
            )
    return out


def _day_ahead_days(q: Query) -> list[Interval]:
    return _published_blocks(q, local_days(q.start, q.end, q.area.tz), day_ahead_horizon(q.now, q.area.tz))


def _day_ahead_load(q: Query) -> list[Series]:
    days = _day_ahead_days(q)
    fill = partial(values.load_forecast, q.area, endpoint=q.endpoint.name)
    return [
        gl_series(business_type="A04", domain="outBiddingZone_Domain", eic=q.area.eic, periods=(period,))
        for period in _day_periods(days, _plan(q, days), fill, native=mtu_minutes(q.area))
    ]


def _wind_solar_forecast(q: Query) -> list[Series]:
    days = _day_ahead_days(q)
    plan = _plan(q, days)
    by_type = {
        psr: _day_periods(
            days, plan, partial(values.wind_solar_forecast, q.area, psr), native=mtu_minutes(q.area)
        )
        for psr in forecast_types(q.area)
        if not q.psr_type or psr == q.psr_type
    }
    return [  # one TimeSeries per day and type, day by day, as in the FI A69 fixture
        gl_series(
            business_type="A94" if psr == "B16" else "A93",  # solar / wind
            domain="inBiddingZone_Domain",
            eic=q.area.eic,
            periods=(periods[day],),
            curve_type="A03",
            psr_type=psr,
        )
        for day in range(len(days))
        for psr, periods in by_type.items()
    ]


def _prices(q: Query) -> list[Series]:
    days = _day_ahead_days(q)
    plan = _plan(q, days)
    by_day: dict[int, list[Series]] = {day: [] for day in range(len(days))}
    for sequence in price_sequences(q.area):
        if q.sequence is not None and sequence != q.sequence:
            continue
        fill = partial(values.day_ahead_price, q.area, sequence=sequence)
        steps = np.array([price_mtu_minutes(a, q.area, sequence) for a, _ in days], dtype=np.int64)
        periods = _day_periods(days, plan.with_steps(steps), fill, decimals=PRICE_DECIMALS)
        for day, period in enumerate(periods):
            by_day[day].append(price_series(eic=q.area.eic, sequence=sequence, periods=(period,)))
    return [s for day in range(len(days)) for s in by_day[day]]


def _extremes(blocks: Callable[[datetime, datetime, str], list[Interval]], step_days: int, resolution: str):
    """Builder of min/max load forecasts (A60/A61) over local-calendar blocks of P1D or P7D steps."""

    def build(q: Query) -> list[Series]:
        chosen = _announced_blocks(q, blocks(q.start, q.end, q.area.tz))
        if not chosen:
            return []
        steps = [calendar_steps(block, q.area.tz, step_days) for block in chosen]
        starts, ends = (np.concatenate(parts) for parts in zip(*steps, strict=True))
        low, high = values.load_extremes(q.area, starts, ends, q.endpoint.name)
        splits = np.cumsum([s.size for s, _ in steps])[:-1]
        first_days = np.array([day_number(a, q.area.tz) for a, _ in chosen], dtype=np.int64)
        short = short_blocks(q.habits, q.endpoint.name, q.area, first_days)
        out = []
        for block, (block_starts, _), is_short, block_low, block_high in zip(
            chosen, steps, short, np.split(low, splits), np.split(high, splits), strict=True
        ):
            # A short block declares its end at the start of its last step but keeps all Points.
            end = int(block_starts[-1]) if is_short else to_minutes(block[1])
            for business_type, numbers in (("A60", block_low), ("A61", block_high)):
                period = Period(to_minutes(block[0]), end, resolution, numbers)
                out.append(
                    gl_series(
                        business_type=business_type,
                        domain="outBiddingZone_Domain",
                        eic=q.area.eic,
                        periods=(period,),
                    )
                )
        return out

    return build


def _forecast_margin(q: Query) -> list[Series]:
    years = _announced_blocks(q, local_years(q.start, q.end, q.area.tz))
    out = []
    for a, b in years:
        margin = values.forecast_margin(q.area, np.array([to_minutes(a)], dtype=np.int64))
        period = Period(to_minutes(a), to_minutes(b), "P1Y", margin)
        out.append(
            gl_series(business_type="A91", domain="outBiddingZone_Domain", eic=q.area.eic, periods=(period,))
        )
    return out


DATA_ITEMS: MappingProxyType[str, DataItem] = MappingProxyType(
    {
        "actual_load": DataItem("ACTUAL_TOTAL_LOAD_R3", "6.1.A", _actual_load),
        "day_ahead_load_forecast": DataItem("DAY_AHEAD_TOTAL_LOAD_FORECAST_R3", "6.1.B", _day_ahead_load),
        "week_ahead_load_forecast": DataItem(
            "WEEK_AHEAD_TOTAL_LOAD_FORECAST_R3", "6.1.C", _extremes(weeks, 1, "P1D")
        ),
        "month_ahead_load_forecast": DataItem(
            "MONTH_AHEAD_TOTAL_LOAD_FORECAST_R3", "6.1.D", _extremes(month_weeks, 7, "P7D")
        ),
        "year_ahead_load_forecast": DataItem(
            "YEAR_AHEAD_TOTAL_LOAD_FORECAST_R3", "6.1.E", _extremes(year_weeks, 7, "P7D")
        ),
        "year_ahead_forecast_margin": DataItem("YEAR_AHEAD_FORECAST_MARGIN_R3", "8.1", _forecast_margin),
        "actual_generation": DataItem(
            "AGGREGATED_GENERATION_PER_TYPE_R3", "16.1.B&C", _actual_generation, generation_types
        ),
        "wind_solar_forecast": DataItem(
            "WIND_AND_SOLAR_FORECAST_R3", "14.1.D", _wind_solar_forecast, forecast_types
        ),
        "day_ahead_prices": DataItem("ENERGY_PRICES", "12.1.D", _prices),
    }
)


def document_for(q: Query) -> bytes | None:
    """The answer document for a validated query, or None when nothing is published for it."""
    series = DATA_ITEMS[q.endpoint.name].build(q)
    if not series:
        return None
    key = f"{q.endpoint.name}|{q.area.eic}|{q.start.isoformat()}|{q.end.isoformat()}|{q.now.isoformat()}"
    return market_document(
        root=q.endpoint.document_kind.value,
        document_type=q.endpoint.document_type,
        process_type=q.endpoint.process_type,
        series=series,
        created=q.now,
        mrid=hashlib.blake2b(key.encode(), digest_size=16).hexdigest(),
    )
