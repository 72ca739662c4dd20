"""Deterministic synthetic values: pure functions of (endpoint, area, series, time).

Times are int64 arrays of epoch minutes (UTC) - the start of each interval. Every function is
vectorised with numpy so that a month of quarter hours for one area takes milliseconds, and gives
the same values for the same inputs in any process (noise comes from a hash, not a random state),
so re-fetching a window yields identical values.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import pandas as pd

from entsoe_pipeline.catalog import Area

MINUTES_PER_DAY = 1440

# --- deterministic noise --------------------------------------------------------------------------


def _seed(key: str) -> np.uint64:
    return np.uint64(int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little"))


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a good 64-bit integer hash (wrap-around multiplication intended)."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def uniform(key: str, ints: np.ndarray) -> np.ndarray:
    """Values in [0, 1), one per integer, fixed by ``key``."""
    with np.errstate(over="ignore"):
        x = np.asarray(ints).astype(np.int64).view(np.uint64) + _seed(key) * np.uint64(0x9E3779B97F4A7C15)
    return (_mix(x) >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def smooth(key: str, minutes: np.ndarray, period_minutes: int) -> np.ndarray:
    """Smooth noise in [-1, 1]: hashed knots every ``period_minutes``, eased in between."""
    minutes = np.asarray(minutes, dtype=np.int64)
    knot, offset = np.divmod(minutes, period_minutes)
    frac = offset / period_minutes
    ease = frac * frac * (3 - 2 * frac)
    a = uniform(key, knot) * 2 - 1
    b = uniform(key, knot + 1) * 2 - 1
    return a + (b - a) * ease


# --- local calendar ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalTime:
    """Calendar features of UTC epoch minutes in an area's time zone."""

    hour: np.ndarray  # fractional hour of the local day, 0 <= h < 24
    weekday: np.ndarray  # Monday = 0
    day_of_year: np.ndarray  # 1..366
    day: np.ndarray  # local days since 1970-01-01 (a key for per-day noise)


def local_time(minutes: np.ndarray, tz: str) -> LocalTime:
    seconds = (np.asarray(minutes, dtype=np.int64) * 60).astype("datetime64[s]")
    local = pd.DatetimeIndex(seconds).tz_localize("UTC").tz_convert(tz)
    wall = local.tz_localize(None).as_unit("s").asi8 // 60  # local wall-clock minutes since epoch
    day, minute_of_day = np.divmod(wall, MINUTES_PER_DAY)
    dates = day.astype("datetime64[D]")
    year_start = dates.astype("datetime64[Y]").astype("datetime64[D]")
    return LocalTime(
        hour=minute_of_day / 60.0,
        weekday=(day + 3) % 7,  # 1970-01-01 was a Thursday
        day_of_year=(dates - year_start).astype(np.int64) + 1,
        day=day,
    )


# --- load -------------------------------------------------------------------------------------

# Share of the daily peak over the local day: trough before dawn, morning ramp, evening peak.
_DAY_HOURS = np.array([0, 3, 6, 9, 12, 15, 18, 20, 22, 24], dtype=np.float64)
_DAY_SHAPE = np.array([0.70, 0.62, 0.72, 0.90, 0.92, 0.86, 0.95, 0.92, 0.80, 0.70])
_WEEKDAY_FACTOR = np.array([1.0, 1.0, 1.0, 1.0, 0.98, 0.86, 0.80])  # Monday .. Sunday


def load_shape(area: Area, minutes: np.ndarray) -> np.ndarray:
    """Load as a share of the area's peak: daily, weekly and seasonal shape plus slow noise."""
    lt = local_time(minutes, area.tz)
    daily = np.interp(lt.hour, _DAY_HOURS, _DAY_SHAPE)
    seasonal = 1.0 + 0.08 * np.cos(2 * np.pi * (lt.day_of_year - 20) / 365.25)
    noise = (
        1.0
        + 0.015 * smooth(f"load|{area.name}", minutes, 60)
        + 0.004 * (uniform(f"load-white|{area.name}", minutes) * 2 - 1)
    )
    return 0.93 * daily * _WEEKDAY_FACTOR[lt.weekday] * seasonal * noise


def actual_load(area: Area, minutes: np.ndarray) -> np.ndarray:
    """Actual total load in MW (A65/A16)."""
    return np.round(area.peak_load_mw * load_shape(area, minutes), 1)


def load_forecast(area: Area, minutes: np.ndarray, endpoint: str = "day_ahead_load_forecast") -> np.ndarray:
    """A load forecast in MW: the actual shape plus a few per cent of slow forecast error."""
    error = 1.0 + 0.03 * smooth(f"{endpoint}|{area.name}", minutes, 180)
    return np.round(area.peak_load_mw * load_shape(area, minutes) * error, 1)


def load_extremes(
    area: Area, starts: np.ndarray, ends: np.ndarray, endpoint: str
) -> tuple[np.ndarray, np.ndarray]:
    """Forecast minimum (A60) and maximum (A61) load in MW over each interval [start, end)."""
    starts = np.asarray(starts, dtype=np.int64)
    lengths = (np.asarray(ends, dtype=np.int64) - starts) // 60  # hourly samples per interval
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    samples = np.repeat(starts, lengths) + 60 * offsets
    values = load_forecast(area, samples, endpoint)
    bounds = np.cumsum(lengths) - lengths
    low = np.minimum.reduceat(values, bounds) * (1 - 0.02 * uniform(f"{endpoint}|min|{area.name}", starts))
    high = np.maximum.reduceat(values, bounds) * (1 + 0.02 * uniform(f"{endpoint}|max|{area.name}", starts))
    return np.round(low, 1), np.round(high, 1)


def forecast_margin(area: Area, year_starts: np.ndarray) -> np.ndarray:
    """Year-ahead forecast margin (A91) in MW: a few per cent of peak load, one value per year."""
    return np.round(area.peak_load_mw * (0.04 + 0.04 * uniform(f"margin|{area.name}", year_starts)), 1)


# --- generation ---------------------------------------------------------------------------------

# Installed capacity per production type as a share of peak load; a few areas differ from the mix
# that every area gets, enough to make the synthetic data recognisable (FR nuclear, DE lignite).
_COMMON_MIX = {"B01": 0.05, "B04": 0.25, "B10": 0.05, "B11": 0.04, "B16": 0.30, "B19": 0.30}
_AREA_MIX: dict[str, dict[str, float]] = {
    "DE_LU": {"B02": 0.22, "B05": 0.15, "B16": 0.9, "B18": 0.10, "B19": 0.75},
    "FR": {"B14": 0.65, "B16": 0.18, "B18": 0.02, "B19": 0.22, "B12": 0.10},
    "NL": {"B14": 0.02, "B16": 0.9, "B18": 0.25, "B04": 0.6},
    "BE": {"B14": 0.40, "B18": 0.15},
    "PL": {"B02": 0.30, "B05": 0.45},
    "CZ": {"B02": 0.40, "B14": 0.35},
    "DK1": {"B18": 0.6, "B19": 0.9},
    "DK2": {"B18": 0.4},
    "GB": {"B14": 0.12, "B18": 0.35},
}
for _nuclear in ("SK", "HU", "SI", "FI", "SE3", "ES", "CH", "RO", "BG"):
    _AREA_MIX.setdefault(_nuclear, {})["B14"] = 0.3

WIND_SOLAR = ("B16", "B18", "B19")


def generation_mix(area: Area) -> MappingProxyType[str, float]:
    """psrType -> installed capacity as a share of the area's peak load."""
    mix = {**_COMMON_MIX, **_AREA_MIX.get(area.name, {})}
    return MappingProxyType(dict(sorted(mix.items())))


def solar_profile(area: Area, minutes: np.ndarray) -> np.ndarray:
    """Solar output as a share of capacity: zero from sunset to sunrise, cloudiness per local day."""
    lt = local_time(minutes, area.tz)
    day_length = 12.0 + 4.0 * np.sin(2 * np.pi * (lt.day_of_year - 80) / 365.25)
    sunrise = 12.5 - day_length / 2
    phase = (lt.hour - sunrise) / day_length
    daylight = (phase > 0) & (phase < 1)
    clear_sky = np.where(daylight, np.sin(np.pi * np.clip(phase, 0, 1)) ** 1.5, 0.0)
    season = 0.55 + 0.45 * np.sin(2 * np.pi * (lt.day_of_year - 80) / 365.25).clip(0)
    sunshine = 0.3 + 0.7 * uniform(f"sun|{area.name}", lt.day)
    return clear_sky * season * sunshine


def wind_profile(area: Area, minutes: np.ndarray, psr_type: str) -> np.ndarray:
    """Wind output as a share of capacity: weather-like swings over hours and days."""
    key = f"wind|{area.name}|{psr_type}"
    share = 0.33 + 0.28 * smooth(key, minutes, 60 * 30) + 0.12 * smooth(key + "|fast", minutes, 60 * 5)
    return np.clip(share * (1.15 if psr_type == "B18" else 1.0), 0.02, 0.95)


def _profile(area: Area, minutes: np.ndarray, psr_type: str, load: np.ndarray, day: np.ndarray) -> np.ndarray:
    if psr_type == "B16":
        return solar_profile(area, minutes)
    if psr_type in ("B18", "B19"):
        return wind_profile(area, minutes, psr_type)
    if psr_type == "B14":
        # Baseload: one value per local day, so the A03 curve repeats it all day.
        return 0.78 + 0.12 * uniform(f"nuclear|{area.name}", day)
    if psr_type == "B10":
        return np.clip((load - 0.82) / 0.12, 0.0, 1.0)
    if psr_type in ("B01", "B11", "B12"):
        return 0.55 + 0.1 * uniform(f"steady|{area.name}|{psr_type}", day)
    # Dispatchable thermal (gas, coal, lignite) follows load.
    return np.clip(0.15 + (load - 0.55) * 1.6, 0.05, 1.0)


def generation(area: Area, psr_type: str, minutes: np.ndarray, *, consumption: bool = False) -> np.ndarray:
    """Actual generation in MW (A75/A16) of one production type; ``consumption`` gives the
    outBiddingZone series of pumped storage (B10 pumping at night)."""
    capacity = area.peak_load_mw * generation_mix(area).get(psr_type, 0.0)
    load = load_shape(area, minutes)
    if consumption:
        share = np.clip((0.66 - load) / 0.1, 0.0, 1.0) * 0.8
    else:
        share = _profile(area, minutes, psr_type, load, local_time(minutes, area.tz).day)
    return np.round(capacity * share, 1)


def wind_solar_forecast(area: Area, psr_type: str, minutes: np.ndarray) -> np.ndarray:
    """Day-ahead wind or solar forecast in MW (A69/A01): actual output with forecast error; solar
    stays exactly zero at night."""
    actual = generation(area, psr_type, minutes)
    error = 1.0 + 0.08 * smooth(f"wind_solar_forecast|{area.name}|{psr_type}", minutes, 240)
    return np.round(np.clip(actual * error, 0, None), 1)


# --- prices -----------------------------------------------------------------------------------------


def day_ahead_price(area: Area, minutes: np.ndarray, sequence: int = 1) -> np.ndarray:
    """Day-ahead price in EUR/MWh: follows load, falls with solar output, and below zero around
    midday on sunny weekends. Sequence 2 (EXAA for DE_LU/AT) differs by a few euros."""
    load = load_shape(area, minutes)
    sun = solar_profile(area, minutes)
    weekend = local_time(minutes, area.tz).weekday >= 5
    price = (
        50.0
        + 120.0 * (load - 0.6)
        - np.where(weekend, 95.0, 45.0) * sun
        - np.where(weekend, 15.0, 0.0)
        + 6.0 * smooth(f"price|{area.name}", minutes, 60 * 24)
    )
    if sequence != 1:
        price = price + 3.0 * smooth(f"price|{area.name}|seq{sequence}", minutes, 60)
    return np.round(price, 2)
