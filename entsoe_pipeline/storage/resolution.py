"""ISO 8601 resolutions (``PT15M``, ``P1D``, ``P7D``, ``P1M``, ``P1Y``) and the end of a point.

A point at ``t`` with resolution ``r`` covers ``[t, t + r)``. Sub-daily resolutions are fixed
lengths. Day, month and year parts are calendar steps in the area's own time zone, as PostgreSQL
computes ``timestamptz + interval`` with ``TimeZone`` set to that zone: ENTSO-E's P1D/P7D/P1M/P1Y
points start at local midnight (22:00Z or 23:00Z for CET areas), so a P1D point is 23 or 25 hours
long on DST days.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from entsoe_pipeline import catalog
from entsoe_pipeline.catalog import NOMINAL_RESOLUTION

_ISO = re.compile(
    r"^P(?:(?P<y>\d+)Y)?(?:(?P<mo>\d+)M)?(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<mi>\d+)M)?(?:(?P<s>\d+)S)?)?$"
)


@dataclass(frozen=True, order=True)
class Resolution:
    """A PostgreSQL-like interval: calendar months, calendar days, then exact seconds."""

    months: int = 0
    days: int = 0
    seconds: int = 0

    @classmethod
    def parse(cls, text: str) -> Resolution:
        """Parse an ISO 8601 duration as ENTSO-E and PostgreSQL's ``iso_8601`` style write it."""
        match = _ISO.match(text.strip().upper())
        if not match or text.strip().upper() in ("P", "PT"):
            raise ValueError(f"not an ISO 8601 duration: {text!r} (expected e.g. 'PT15M', 'P1D', 'P1Y')")
        part = {k: int(v) if v else 0 for k, v in match.groupdict().items()}
        resolution = cls(
            months=12 * part["y"] + part["mo"],
            days=7 * part["w"] + part["d"],
            seconds=3600 * part["h"] + 60 * part["mi"] + part["s"],
        )
        if resolution == cls():
            raise ValueError(f"zero-length resolution: {text!r}")
        return resolution

    @classmethod
    def of(cls, value: str | timedelta | Resolution) -> Resolution:
        """From an ISO string, a Resolution, or a timedelta.

        A timedelta equal to a nominal length in the catalogue stands for that resolution (30 days
        is P1M, 365 days P1Y); another whole number of days is that many calendar days.
        """
        if isinstance(value, Resolution):
            return value
        if isinstance(value, str):
            return cls.parse(value)
        for iso, nominal in NOMINAL_RESOLUTION.items():
            if value == nominal and (nominal >= timedelta(days=1)):
                return cls.parse(iso)
        if value <= timedelta(0):
            raise ValueError(f"resolution must be positive, got {value}")
        if value.microseconds:
            raise ValueError(f"resolution must be whole seconds, got {value}")
        if value.seconds == 0:
            return cls(days=value.days)
        return cls(seconds=int(value.total_seconds()))

    @property
    def is_calendar(self) -> bool:
        """Whether steps are calendar days/months (local time), not a fixed number of seconds."""
        return bool(self.months or self.days)

    @property
    def day_or_longer(self) -> bool:
        """Counted in steps per window rather than in seconds covered (PostgreSQL's
        ``r >= interval '1 day'``; see entsoe.covered_seconds)."""
        return self.is_calendar or self.seconds >= 86_400

    @property
    def step(self) -> timedelta:
        """The fixed length of a sub-daily resolution."""
        if self.is_calendar:
            raise ValueError(f"{self.iso} has no fixed length")
        return timedelta(seconds=self.seconds)

    @property
    def iso(self) -> str:
        """ENTSO-E's spelling: PT15M, PT60M, P1D, P7D, P1M, P1Y."""
        out = "P"
        years, months = divmod(self.months, 12)
        if years:
            out += f"{years}Y"
        if months:
            out += f"{months}M"
        if self.days:
            out += f"{self.days}D"
        if self.seconds:
            minutes, secs = divmod(self.seconds, 60)
            out += "T" + (f"{minutes}M" if minutes else "") + (f"{secs}S" if secs else "")
        return out

    @property
    def pg(self) -> str:
        """The interval literal PostgreSQL reads (ISO 8601 is accepted for ``::interval``)."""
        return self.iso

    def add(self, t: datetime, tz: str = "UTC", steps: int = 1) -> datetime:
        """``t + steps * self`` as PostgreSQL computes it with ``TimeZone = tz``: months then days
        in local wall-clock time (clamping the day of month), then the seconds exactly."""
        if t.tzinfo is None:
            raise ValueError("t must be timezone-aware")
        out = t
        if self.is_calendar:
            zone = ZoneInfo(tz)
            local = t.astimezone(zone).replace(tzinfo=None)
            total = local.year * 12 + (local.month - 1) + steps * self.months
            year, month0 = divmod(total, 12)
            day = min(local.day, calendar.monthrange(year, month0 + 1)[1])
            local = local.replace(year=year, month=month0 + 1, day=day) + timedelta(days=steps * self.days)
            out = local.replace(tzinfo=zone).astimezone(UTC)
        return (out + timedelta(seconds=steps * self.seconds)).astimezone(UTC)


def covered_seconds(resolution: Resolution) -> int:
    """What one point adds to the summary's ``covered``, as ``entsoe.covered_seconds`` in SQL."""
    return 0 if resolution.day_or_longer else resolution.seconds


def area_tz(eic: str) -> str:
    """The IANA zone of an area (EIC or name) for its local calendar; UTC for an area the catalogue
    does not know (as ``entsoe.area_tz`` in SQL, whose table is synced from the catalogue)."""
    try:
        return catalog.area(eic).tz
    except KeyError:
        return "UTC"
